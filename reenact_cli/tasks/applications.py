"""The paper's applications (§6): alpha sweeps between source and driver,
pose-only / expression-only reenactment, and driver-free edits of a photo."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, OutputError
from ..face.expressions import MEASUREMENTS, edit_fit
from ..face.model import FaceFit, Take
from ..face.regress import quiet_mediapipe
from ..media.atomic import atomic_output, check_output
from ..media.image_io import IMAGE_SUFFIXES, read_image, write_image
from ..media.visualize import contact_sheet
from ..pipeline import PipelineConfig, Reenactor, SourceFace
from .console import console, free_name, progress

WHAT = {"pose": Take(pose=True, expression=False), "expression": Take(pose=False, expression=True), "both": Take()}
ANIMATION_SUFFIXES = {".gif", ".mp4", ".mov", ".mkv", ".m4v"}


def parse_alphas(steps: int | None, alphas: str | None) -> list[float]:
    """``--alphas 0,0.5,1`` or ``--steps N`` (N evenly spaced values from 0 to 1)."""
    if alphas:
        try:
            values = [float(a) for a in alphas.split(",") if a.strip()]
        except ValueError:
            raise InputError(f"--alphas must be numbers separated by commas, not '{alphas}'") from None
        if not values:
            raise InputError("--alphas is empty")
        return values
    n = steps if steps is not None else 5
    if n < 2:
        raise InputError("--steps must be at least 2")
    return [float(a) for a in np.linspace(0.0, 1.0, n)]


def write_sequence(frames: list[np.ndarray], out: Path, fps: float, overwrite: bool) -> Path:
    """Write frames by the output's kind: a folder (no suffix), a strip image
    (.png/.jpg, side by side), a GIF or a video (.mp4/.mov/.mkv)."""
    suffix = out.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        gap = np.full((frames[0].shape[0], 4, 3), 255, np.uint8)
        strip = np.concatenate([x for f in frames for x in (f, gap)][:-1], axis=1)
        return write_image(out, strip, overwrite=overwrite)
    if suffix == ".gif":
        import imageio.v2 as iio2

        with atomic_output(out, overwrite) as tmp:
            iio2.mimsave(tmp, frames, format="GIF", duration=1.0 / fps, loop=0)
        return out
    if suffix in ANIMATION_SUFFIXES:
        from ..media.video_writer import VideoWriter

        with VideoWriter(out, fps, (frames[0].shape[1], frames[0].shape[0]), overwrite=overwrite) as vw:
            for f in frames:
                vw.write(f)
        return out
    if suffix:
        raise OutputError(f"unsupported output type '{suffix}' (a folder, .png/.jpg strip, .gif or .mp4)", out)
    from ..media.video_writer import FrameFolderWriter

    with FrameFolderWriter(out, overwrite=overwrite) as fw:
        for f in frames:
            fw.write(f)
    return out


def _check_sequence_output(out: Path, overwrite: bool) -> None:
    if out.suffix:
        check_output(out, overwrite)
    else:
        from ..media.video_writer import check_folder_output

        check_folder_output(out, overwrite)


@dataclass(frozen=True)
class Analysed:
    """The reenactor with a source and (optionally) a driver fit."""

    r: Reenactor
    source: SourceFace
    driver: FaceFit | None


def analyse(source: Path, driver: Path | None, config: PipelineConfig) -> Analysed:
    src_img = read_image(source)
    drv_img = read_image(driver) if driver is not None else None
    quiet_mediapipe()
    with console.status("finding faces and fitting the face model"):
        r = Reenactor(config)
        src = r.source(src_img, str(source))
        drv = r.driver(drv_img, str(driver)).fit if drv_img is not None else None
    return Analysed(r, src, drv)


def render(a: Analysed, fit: FaceFit, take: Take, paste_back: bool) -> np.ndarray:
    result = a.r.drive(a.source, fit, take, paste_back=paste_back)
    return result.frame if paste_back else result.crop


def run_interpolate(
    source: Path,
    driver: Path,
    output: Path | None,
    config: PipelineConfig,
    alphas: list[float],
    what: str = "both",
    loop: bool = False,
    fps: float = 12.0,
    paste_back: bool = False,
    overwrite: bool = False,
) -> Path:
    """Blend the source's pose and/or expression towards the driver's, one
    frame per alpha (0 = the source, 1 = ``drive``'s result)."""
    if what not in WHAT:
        raise InputError(f"--what must be one of {', '.join(WHAT)}, not '{what}'")
    out = output if output is not None else free_name(Path(f"{source.stem}_to_{driver.stem}.gif"))
    _check_sequence_output(out, overwrite)
    a = analyse(source, driver, config)
    frames = []
    with progress() as bar:
        task = bar.add_task("interpolating", total=len(alphas))
        for alpha in alphas:
            take = Take(WHAT[what].pose, WHAT[what].expression, alpha)
            frames.append(render(a, a.driver, take, paste_back))
            bar.advance(task)
    if loop and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    return write_sequence(frames, out, fps, overwrite)


def run_disentangle(
    source: Path,
    driver: Path,
    output: Path | None,
    config: PipelineConfig,
    take: str = "both",
    sheet: bool = False,
    paste_back: bool = True,
    overwrite: bool = False,
) -> Path:
    """Take only the driver's pose, only its expression, or both; ``sheet``
    writes source | driver | pose only | expression only | both, labelled."""
    if take not in WHAT:
        raise InputError(f"--take must be one of {', '.join(WHAT)}, not '{take}'")
    default = f"{source.stem}_{'sheet' if sheet else take}_by_{driver.stem}.png"
    out = output if output is not None else free_name(Path(default))
    check_output(out, overwrite)
    a = analyse(source, driver, config)
    if not sheet:
        return write_image(out, render(a, a.driver, WHAT[take], paste_back), overwrite=overwrite)
    from .batch import fit_tile

    size = config.size
    drv_img = read_image(driver)
    tiles = [a.source.face.image, fit_tile(drv_img, size)] + [render(a, a.driver, WHAT[k], False) for k in ("pose", "expression", "both")]
    labels = ["source", "driver", "pose only", "expression only", "pose + expression"]
    return write_image(out, contact_sheet([tiles], [labels]), overwrite=overwrite)


def parse_expressions(items: list[str]) -> dict[str, float]:
    """``["smile=1.5", "mouth_open=2"]`` -> amounts in prior standard deviations."""
    out: dict[str, float] = {}
    for item in items:
        name, _, amount = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in MEASUREMENTS:
            raise InputError(f"unknown expression '{name}' (choose from {', '.join(MEASUREMENTS)})")
        try:
            out[name] = float(amount) if amount else 1.0
        except ValueError:
            raise InputError(f"expression amount must be a number: '{item}'") from None
    return out


def run_edit(
    source: Path,
    output: Path | None,
    config: PipelineConfig,
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    expression_scale: float = 1.0,
    expressions: dict[str, float] | None = None,
    paste_back: bool = True,
    overwrite: bool = False,
) -> Path:
    """Turn the head and change the expression of one photo, no driver."""
    out = output if output is not None else free_name(Path(f"{source.stem}_edited.png"))
    check_output(out, overwrite)
    a = analyse(source, None, config)
    fit = edit_fit(a.r.model, a.source.fit, yaw, pitch, roll, expression_scale, expressions)
    return write_image(out, render(a, fit, Take(), paste_back), overwrite=overwrite)
