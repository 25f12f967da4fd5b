"""`reenact drive SOURCE VIDEO`: drive a photo with every frame of a video or
a folder of frames, streaming (decode | reenact | encode), audio kept."""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError, NoFaceError
from ..face.model import FaceFit, Take
from ..face.regress import quiet_mediapipe
from ..face.temporal import SmoothingConfig
from ..face.track import DriverTracker
from ..media.atomic import check_output
from ..media.image_io import read_image
from ..media.video import DriverStream, open_driver
from ..pipeline import PipelineConfig, Reenactor
from .console import console, free_name, progress

MOTION_MODES = ("absolute", "relative")


@dataclass(frozen=True)
class VideoDriveOptions:
    """Options of ``reenact drive`` with a video or frame-folder driver.

    Attributes:
        motion: ``absolute`` (the paper: the driver's rotation and expression;
            translation and scale follow the driver's change since the
            reference frame) or ``relative`` (the source's own pose and
            expression plus the driver's change since the reference frame).
        reference: driver frame index the motion is measured from.
        frames: write a folder of PNG frames instead of a video.
        fps: frame rate for a folder-of-frames driver (videos keep their own).
        smoothing: One-Euro settings for the driver's pose and expression.
        loops: play the driver this many times over (benchmarks of long runs).
    """

    source: Path
    driver: Path
    output: Path | None = None
    paste_back: bool = True
    overwrite: bool = False
    motion: str = "absolute"
    reference: int = 0
    frames: bool = False
    fps: float | None = None
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    loops: int = 1


@dataclass(frozen=True)
class VideoDriveSummary:
    """What a video run did: frames written, frames whose driver showed no face
    (filled from neighbours), seconds taken and the output."""

    output: Path
    frames: int
    missing: int
    seconds: float
    fps: float

    def line(self) -> str:
        speed = self.frames / self.seconds if self.seconds > 0 else float("nan")
        gaps = f"; {self.missing} driver frames had no face and were filled from their neighbours" if self.missing else ""
        return f"wrote {self.output}: {self.frames} frames at {self.fps:g} fps in {self.seconds:.1f} s ({speed:.1f} frames/s){gaps}"


def is_sequence_driver(path: Path) -> bool:
    """Whether a driver path is a video file or a folder of frames."""
    from ..media.video import is_video

    return path.is_dir() or is_video(path)


def default_video_output(source: Path, driver: Path, frames: bool) -> Path:
    """``<source>_by_<driver>.mp4`` (or a folder with ``--frames``) here, never clobbering."""
    return free_name(Path(f"{source.stem}_by_{driver.stem}" + ("" if frames else ".mp4")))


def reference_fit(r: Reenactor, stream: DriverStream, index: int, smoothing: SmoothingConfig) -> FaceFit:
    """The driver's fit at frame ``index``, tracked from the start as the main
    pass will see it (so the reference and the stream agree)."""
    tracker = DriverTracker(r.model, stream.fps, r.config.size, smoothing)
    try:
        for i, frame in enumerate(stream):
            fits = tracker(frame)
            if i == index:
                if tracker.stats.missing_frames and tracker.stats.missing_frames[-1] == index:
                    raise NoFaceError(f"reference frame {index} shows no face; choose another with --reference", stream.path)
                return fits[-1]
    finally:
        tracker.close()
    raise InputError(f"reference frame {index} is past the end ({tracker.stats.frames} frames)", stream.path)


def run_drive_video(opts: VideoDriveOptions, config: PipelineConfig) -> VideoDriveSummary:
    """Reenact a photo with every frame of a video or frame folder."""
    from ..media.stream import run_pipeline
    from ..media.video_writer import FrameFolderWriter, VideoWriter

    if opts.motion not in MOTION_MODES:
        raise InputError(f"--motion must be {' or '.join(MOTION_MODES)}, not '{opts.motion}'")
    if opts.reference < 0:
        raise InputError("--reference must be a frame index (0 or more)")
    from ..media.video_writer import check_folder_output

    out = opts.output if opts.output is not None else default_video_output(opts.source, opts.driver, opts.frames)
    if opts.frames:
        check_folder_output(out, opts.overwrite)
    else:
        check_output(out, opts.overwrite)
    stream = open_driver(opts.driver, fps=opts.fps)
    src_img = read_image(opts.source)
    quiet_mediapipe()
    with console.status("analysing the source photo"):
        r = Reenactor(config)
        source = r.source(src_img, str(opts.source))
    take = Take(relative=opts.motion == "relative")
    reference = reference_fit(r, stream, opts.reference, opts.smoothing) if opts.reference > 0 else None
    tracker = DriverTracker(r.model, stream.fps, config.size, opts.smoothing)
    size = (source.frame.shape[1], source.frame.shape[0]) if opts.paste_back else (config.size, config.size)

    def render(fit: FaceFit) -> np.ndarray:
        nonlocal reference
        if reference is None:  # reference frame 0: the first fit the stream yields
            reference = fit
        result = r.drive(source, fit, take, driver_reference=reference, paste_back=opts.paste_back)
        return result.frame if opts.paste_back else result.crop

    def process(frame: np.ndarray) -> list[np.ndarray]:
        return [render(fit) for fit in tracker(frame)]

    if opts.frames:
        writer = FrameFolderWriter(out, overwrite=opts.overwrite)
    else:
        writer = VideoWriter(out, stream.fps, size, overwrite=opts.overwrite, audio_from=stream.path if stream.has_audio else None)
    start = time.perf_counter()
    try:
        with writer, progress() as bar:
            task = bar.add_task("reenacting", total=(stream.frame_count * opts.loops) or None)

            def sink(frames: list[np.ndarray]) -> None:
                for f in frames:
                    writer.write(f)

            frames = itertools.chain.from_iterable(itertools.repeat(stream, max(1, opts.loops)))
            run_pipeline(frames, process, sink, on_progress=lambda n: bar.update(task, completed=n))
            pending = tracker.finish()
            if pending:
                if tracker.stats.frames == pending:
                    raise NoFaceError("no face in any frame", opts.driver)
                # Cannot happen: a face fills every earlier gap when it appears.
                raise RuntimeError(f"{pending} frames left unfilled")
    finally:
        tracker.close()
    seconds = time.perf_counter() - start
    return VideoDriveSummary(out, tracker.stats.frames, tracker.stats.missing, seconds, stream.fps)

