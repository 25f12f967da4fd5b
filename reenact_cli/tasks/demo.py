"""`reenact demo`: a contact sheet of head turns and expressions, no user files needed."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..face.expressions import edit_fit
from ..media.atomic import check_output
from ..media.image_io import read_image, write_image
from ..media.visualize import contact_sheet
from ..pipeline import PipelineConfig, Reenactor
from .console import console, free_name, progress

#: (caption, yaw, pitch, roll, named expressions in prior standard deviations)
DEMO_EDITS: tuple[tuple[str, float, float, float, dict[str, float]], ...] = (
    ("turn left 20", -20.0, 0.0, 0.0, {}),
    ("turn right 20", 20.0, 0.0, 0.0, {}),
    ("look up 12", 0.0, -12.0, 0.0, {}),
    ("tilt 12", 0.0, 0.0, 12.0, {}),
    ("open mouth", 0.0, 0.0, 0.0, {"mouth_open": 3.0}),
    ("smile", 0.0, 0.0, 0.0, {"smile": 2.5}),
    ("close eyes", 0.0, 0.0, 0.0, {"eyes_closed": 2.5}),
    ("turn + talk", 15.0, 5.0, 0.0, {"mouth_open": 2.0}),
)


def demo_portrait() -> Path:
    """Path of the public-domain Grace Hopper portrait shipped inside matplotlib."""
    import matplotlib

    p = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not p.is_file():
        raise InputError("matplotlib's sample portrait is missing; pass --source PHOTO", p)
    return p


def run_demo(output: Path | None, source: Path | None, config: PipelineConfig, overwrite: bool) -> Path:
    """Reenact the demo portrait through the edits above; write a labelled sheet."""
    out = output if output is not None else free_name(Path("reenact_demo.png"))
    check_output(out, overwrite)
    src_path = source if source is not None else demo_portrait()
    image = read_image(src_path)
    with console.status("analysing the source portrait"):
        r = Reenactor(config)
        src = r.source(image, str(src_path))
    tiles, captions = [src.face.image], ["source"]
    with progress() as bar:
        task = bar.add_task("reenacting", total=len(DEMO_EDITS))
        for caption, yaw, pitch, roll, expr in DEMO_EDITS:
            drv = edit_fit(r.model, src.fit, yaw, pitch, roll, expressions=expr)
            tiles.append(r.drive(src, drv, paste_back=False).crop)
            captions.append(caption)
            bar.advance(task)
    cols = 3
    while len(tiles) % cols:
        tiles.append(np.full_like(tiles[0], 255))
        captions.append("")
    rows = [tiles[i : i + cols] for i in range(0, len(tiles), cols)]
    labels = [captions[i : i + cols] for i in range(0, len(captions), cols)]
    write_image(out, contact_sheet(rows, labels), overwrite=overwrite)
    return out
