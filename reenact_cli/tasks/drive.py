"""`reenact drive` for a photo driver: analyse, reenact, write, optionally dump stages."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..face.model import Take
from ..face.regress import quiet_mediapipe
from ..media.atomic import check_output
from ..media.image_io import check_image_output, read_image, write_image
from ..pipeline import DriveResult, PipelineConfig, Reenactor, SourceFace, DriverFace
from ..errors import InputError
from .console import console, free_name, progress
from .notices import large_turn_note


@dataclass(frozen=True)
class DriveOptions:
    """Options of ``reenact drive`` (see its --help)."""

    source: Path
    driver: Path
    output: Path | None = None
    paste_back: bool = True
    save_stages: Path | None = None
    overwrite: bool = False
    take: Take = Take()


def default_output(source: Path, driver: Path) -> Path:
    """``<source>_by_<driver>.png`` in the current directory, never clobbering."""
    return free_name(Path(f"{source.stem}_by_{driver.stem}.png"))


#: Largest face box (frame pixels) pasted back at the photo's own resolution.
#: Pasting costs about 100 bytes and 0.3 microseconds per box pixel, so a
#: close-up from a 48-megapixel camera would need several GB; above this the
#: source photo is shrunk first (the output is then smaller, and we say so).
PASTE_MAX_PIXELS = 3072 * 3072


@dataclass(frozen=True)
class DriveSummary:
    """What ``reenact drive`` wrote for one photo pair, and how far the head turned."""

    output: Path
    head_turn_deg: float

    def notes(self) -> list[str]:
        """Lines to print after the run (see :mod:`.notices`)."""
        note = large_turn_note(self.head_turn_deg)
        return [note] if note else []


def run_drive(opts: DriveOptions, config: PipelineConfig) -> DriveSummary:
    """Reenact one photo with one photo; returns the written path and the head turn."""
    out = opts.output if opts.output is not None else default_output(opts.source, opts.driver)
    check_image_output(out, opts.overwrite)  # fail before any work
    if opts.save_stages is not None:
        _check_stage_dir(opts.save_stages, opts.overwrite)
    src_img = read_image(opts.source)
    drv_img = read_image(opts.driver)
    quiet_mediapipe()  # before the first MediaPipe graph is built
    with console.status("finding faces and fitting the face model"):
        r = Reenactor(config)
        source = r.source(src_img, str(opts.source))
        if opts.paste_back:
            source = _fit_for_paste(r, source, str(opts.source))
        driver = r.driver(drv_img, str(opts.driver))
    with console.status("reenacting"):
        result = r.drive(source, driver, opts.take, paste_back=opts.paste_back)
    image = result.frame if opts.paste_back and result.frame is not None else result.crop
    write_image(out, image, overwrite=opts.overwrite)
    if opts.save_stages is not None:
        save_stages(opts.save_stages, source, driver, result, r, opts.overwrite)
    return DriveSummary(out, result.head_turn_deg)


def _fit_for_paste(r: Reenactor, source: SourceFace, name: str) -> SourceFace:
    """``source`` itself, or re-analysed on a shrunk photo when its face box is
    over :data:`PASTE_MAX_PIXELS` (see there)."""
    import cv2

    x0, y0, x1, y1 = source.face.crop.frame_box()
    box = max(1, (x1 - x0) * (y1 - y0))
    if box <= PASTE_MAX_PIXELS:
        return source
    h, w = source.frame.shape[:2]
    factor = (PASTE_MAX_PIXELS / box) ** 0.5
    small = cv2.resize(source.frame, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
    console.print(
        f"note: the face in {name} spans {x1 - x0}x{y1 - y0} pixels; pasting back at "
        f"{small.shape[1]}x{small.shape[0]} (use --no-paste-back for the face crop only)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return r.source(small, name)


STAGE_FILES = (
    "01_source_crop.png",
    "02_driver_crop.png",
    "03_source_mesh.obj",
    "04_driver_mesh.obj",
    "05_driving_mesh.obj",
    "06_meshes.png",
    "07_flow.png",
    "08_unseen_mask.png",
    "09_person_alpha.png",
    "10_output_crop.png",
    "fits.json",
)


def _check_stage_dir(folder: Path, overwrite: bool) -> None:
    for name in STAGE_FILES:
        check_output(folder / name, overwrite)


def save_stages(folder: Path, source: SourceFace, driver: DriverFace, result: DriveResult, r: Reenactor, overwrite: bool) -> None:
    """One file per stage: crops, meshes (.obj), wireframes, flow, masks, fits."""
    from ..face.obj import write_obj
    from ..media.visualize import contact_sheet, draw_wireframe, flow_to_rgb, mask_to_rgb

    folder.mkdir(parents=True, exist_ok=True)
    f = {name: folder / name for name in STAGE_FILES}
    write_image(f["01_source_crop.png"], source.face.image, overwrite)
    write_image(f["02_driver_crop.png"], driver.face.image, overwrite)
    write_obj(f["03_source_mesh.obj"], source.mesh, "M_s: source mesh, source crop pixels", overwrite)
    write_obj(f["04_driver_mesh.obj"], driver.face.mesh.vertices, "driver's own mesh, driver crop pixels", overwrite)
    write_obj(f["05_driving_mesh.obj"], result.driving_mesh, "M_d: source identity, driver pose+expression, source crop pixels", overwrite)
    sheet = contact_sheet(
        [[draw_wireframe(source.face.image, source.mesh), draw_wireframe(driver.face.image, driver.face.mesh.vertices), draw_wireframe(result.crop, result.driving_mesh)]],
        [["M_s on source", "driver mesh", "M_d on output"]],
    )
    write_image(f["06_meshes.png"], sheet, overwrite)
    write_image(f["07_flow.png"], flow_to_rgb(result.output.flow.displacement), overwrite)
    write_image(f["08_unseen_mask.png"], mask_to_rgb(result.output.unseen), overwrite)
    alpha = getattr(result.output.extra, "alpha", None)
    write_image(f["09_person_alpha.png"], mask_to_rgb(alpha if alpha is not None else np.ones(result.crop.shape[:2])), overwrite)
    write_image(f["10_output_crop.png"], result.crop, overwrite)
    fits = {
        "source": fit_summary(source.fit),
        "driver": fit_summary(driver.fit),
        "head_turn_deg": round(result.head_turn_deg, 2),
        "face_model": r.model.fingerprint,
    }
    from ..media.atomic import atomic_output

    with atomic_output(f["fits.json"], overwrite) as tmp:
        tmp.write_text(json.dumps(fits, indent=1))


def fit_summary(fit) -> dict:
    """JSON-friendly view of a FaceFit."""
    yaw, pitch, roll = (float(v) for v in fit.pose.euler())
    return {
        "pose_p12": [round(float(v), 5) for v in fit.pose_vector()],
        "yaw_pitch_roll_deg": [round(yaw, 2), round(pitch, 2), round(roll, 2)],
        "c_id": [round(float(v), 5) for v in fit.c_id],
        "c_exp": [round(float(v), 5) for v in fit.c_exp],
        "residual_rms": round(float(np.sqrt((fit.residual**2).sum(axis=1).mean())), 6),
    }


@dataclass(frozen=True)
class BatchSummary:
    """Outputs written and sources skipped (no face) by a batch run."""

    outputs: list[Path]
    skipped: list[str]
    head_turns_deg: dict[str, float] = field(default_factory=dict)

    def notes(self) -> list[str]:
        """One line per source whose head turned far (see :mod:`.notices`)."""
        return [n for src, turn in self.head_turns_deg.items() if (n := large_turn_note(turn, src))]


def run_drive_batch(
    sources: list[Path],
    driver: Path,
    output: Path | None,
    config: PipelineConfig,
    grid: bool = False,
    side_by_side: bool = False,
    paste_back: bool = True,
    overwrite: bool = False,
) -> BatchSummary:
    """Several sources (or a grid / side-by-side picture) with one photo driver.

    A source without a face is reported and skipped; the others go on.
    """
    from ..errors import NoFaceError
    from .batch import fit_tile, grid_image
    from .batch import side_by_side as sbs

    if grid:
        targets = [output if output is not None else free_name(Path(f"grid_by_{driver.stem}.png"))]
    elif len(sources) == 1:
        targets = [output if output is not None else default_output(sources[0], driver)]
    else:
        folder = output if output is not None else Path(".")
        if folder.exists() and not folder.is_dir():
            raise InputError("several sources need a folder for their outputs, this is a file", folder)
        folder.mkdir(parents=True, exist_ok=True)
        targets = [folder / f"{s.stem}_by_{driver.stem}.png" for s in sources]
    for t in targets:
        check_image_output(t, overwrite)
    drv_img = read_image(driver)
    quiet_mediapipe()
    r = Reenactor(config)
    drv = r.driver(drv_img, str(driver))
    driver_tile = fit_tile(drv.face.image, config.size)
    tiles, results, written, skipped = [], [], [], []
    turns: dict[str, float] = {}
    paste = paste_back and not (grid or side_by_side)
    with progress() as bar:
        task = bar.add_task("reenacting", total=len(sources))
        for i, path in enumerate(sources):
            try:
                src = r.source(read_image(path), str(path))
            except NoFaceError as exc:
                console.print(f"skipped {path}: {exc}", markup=False, soft_wrap=True)
                skipped.append(str(path))
                bar.advance(task)
                continue
            res = r.drive(src, drv, paste_back=paste)
            turns[str(path)] = res.head_turn_deg
            image = res.frame if paste else res.crop
            if grid:
                tiles.append(src.face.image)
                results.append(image)
            else:
                target = targets[0] if len(targets) == 1 else targets[i]
                write_image(target, sbs(src.face.image, driver_tile, image) if side_by_side else image, overwrite=overwrite)
                written.append(target)
            bar.advance(task)
    if grid and results:
        write_image(targets[0], grid_image(driver_tile, tiles, results), overwrite=overwrite)
        written.append(targets[0])
    if not written:
        raise NoFaceError("no face in any source photo", sources[0] if len(sources) == 1 else sources[0].parent)
    return BatchSummary(written, skipped, turns)
