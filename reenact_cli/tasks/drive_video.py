"""`reenact drive SOURCE VIDEO`: drive a photo with every frame of a video or
a folder of frames, streaming (decode | reenact | encode), audio kept."""
from __future__ import annotations

import contextlib
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
from .notices import large_turn_video_note

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
        more_sources: further source photos driven by the same video.
        grid: one video, the driver on top and one row per source
            (source | result), like the paper's Fig. 14.
        side_by_side: each output frame is source | driver | result.
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
    more_sources: tuple[Path, ...] = ()
    grid: bool = False
    side_by_side: bool = False


@dataclass(frozen=True)
class VideoDriveSummary:
    """What a video run did: frames written, frames whose driver showed no face
    (filled from neighbours), seconds taken, the output, and each output
    frame's head turn from the source's pose (degrees; the largest over the
    sources)."""

    output: Path
    frames: int
    missing: int
    seconds: float
    fps: float
    head_turns_deg: list[float] = field(default_factory=list)
    relative_motion: bool = False

    def notes(self) -> list[str]:
        """Lines to print after the run (see :mod:`.notices`)."""
        note = large_turn_video_note(self.head_turns_deg, self.relative_motion)
        return [note] if note else []

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
    frames = iter(stream)
    try:
        for i, frame in enumerate(frames):
            fits = tracker(frame)
            if i == index:
                if tracker.stats.missing_frames and tracker.stats.missing_frames[-1] == index:
                    raise NoFaceError(f"reference frame {index} shows no face; choose another with --reference", stream.path)
                return fits[-1]
    finally:
        if hasattr(frames, "close"):
            frames.close()  # stops the decoder (an ffmpeg process) at once
        tracker.close()
    raise InputError(f"reference frame {index} is past the end ({tracker.stats.frames} frames)", stream.path)


def _looped(stream: DriverStream, loops: int):
    """The stream's frames ``loops`` times over. Closing this generator closes
    the decoder under it (``yield from`` passes ``close`` on), so an error or
    Ctrl-C leaves no ffmpeg process behind."""
    for _ in range(max(1, loops)):
        yield from stream


def _outputs(opts: VideoDriveOptions, sources: list[Path]) -> list[Path]:
    """Where each output goes: one path (one source, or a grid), else one per
    source inside the ``-o`` folder (default: here)."""
    if len(sources) == 1 or opts.grid:
        if opts.output is not None:
            return [opts.output]
        stem = f"{sources[0].stem}_by_{opts.driver.stem}" if len(sources) == 1 else f"grid_by_{opts.driver.stem}"
        return [free_name(Path(stem + ("" if opts.frames else ".mp4")))]
    folder = opts.output if opts.output is not None else Path(".")
    if folder.exists() and not folder.is_dir():
        raise InputError("several sources need a folder for their outputs, this is a file", folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [folder / f"{s.stem}_by_{opts.driver.stem}{'' if opts.frames else '.mp4'}" for s in sources]


def run_drive_video(opts: VideoDriveOptions, config: PipelineConfig) -> VideoDriveSummary:
    """Reenact one or more photos with every frame of a video or frame folder."""
    from ..media.stream import run_pipeline
    from ..media.video_writer import FrameFolderWriter, VideoWriter, check_folder_output
    from .batch import fit_tile, grid_image, side_by_side

    if opts.motion not in MOTION_MODES:
        raise InputError(f"--motion must be {' or '.join(MOTION_MODES)}, not '{opts.motion}'")
    if opts.reference < 0:
        raise InputError("--reference must be a frame index (0 or more)")
    source_paths = [opts.source, *opts.more_sources]
    outputs = _outputs(opts, source_paths)
    for out in outputs:
        if opts.frames:
            check_folder_output(out, opts.overwrite)
        else:
            check_output(out, opts.overwrite)
    stream = open_driver(opts.driver, fps=opts.fps)
    images = [read_image(p) for p in source_paths]
    quiet_mediapipe()
    with console.status("analysing the source photos"):
        r = Reenactor(config)
        sources = [r.source(img, str(p)) for img, p in zip(images, source_paths)]
    take = Take(relative=opts.motion == "relative")
    reference = reference_fit(r, stream, opts.reference, opts.smoothing) if opts.reference > 0 else None
    tracker = DriverTracker(r.model, stream.fps, config.size, opts.smoothing)
    tiles = [s.face.image for s in sources]
    paste = opts.paste_back and not (opts.grid or opts.side_by_side)
    head_turns: list[float] = []  # per output frame, the largest over the sources

    def render(fit: FaceFit, driver_frame: np.ndarray) -> list[np.ndarray]:
        """One frame for each output."""
        nonlocal reference
        if reference is None:  # reference frame 0: the first fit the stream yields
            reference = fit
        results = [r.drive(s, fit, take, driver_reference=reference, paste_back=paste) for s in sources]
        head_turns.append(max(res.head_turn_deg for res in results))
        images = [res.frame if paste else res.crop for res in results]
        if opts.grid or opts.side_by_side:
            driver_tile = fit_tile(driver_frame, config.size)
            if opts.grid:
                return [grid_image(driver_tile, tiles, images)]
            return [side_by_side(t, driver_tile, im) for t, im in zip(tiles, images)]
        return images

    def process(frame: np.ndarray) -> list[list[np.ndarray]]:
        return [render(fit, frame) for fit in tracker(frame)]

    first = render_shape(sources, config.size, opts, paste)
    writers = [
        FrameFolderWriter(out, overwrite=opts.overwrite)
        if opts.frames
        else VideoWriter(out, stream.fps, size, overwrite=opts.overwrite, audio_from=stream.path if stream.has_audio else None)
        for out, size in zip(outputs, first)
    ]
    start = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack, progress() as bar:
            for w in writers:
                stack.enter_context(w)
            task = bar.add_task("reenacting", total=(stream.frame_count * opts.loops) or None)

            def sink(batches: list[list[np.ndarray]]) -> None:
                for per_output in batches:
                    for w, f in zip(writers, per_output):
                        w.write(f)

            run_pipeline(_looped(stream, opts.loops), process, sink, on_progress=lambda n: bar.update(task, completed=n))
            pending = tracker.finish()
            if pending:
                if tracker.stats.frames == pending:
                    raise NoFaceError("no face in any frame", opts.driver)
                # Cannot happen: a face fills every earlier gap when it appears.
                raise RuntimeError(f"{pending} frames left unfilled")
    finally:
        tracker.close()
    seconds = time.perf_counter() - start
    out = outputs[0] if len(outputs) == 1 else outputs[0].parent
    return VideoDriveSummary(out, tracker.stats.frames, tracker.stats.missing, seconds, stream.fps, head_turns, take.relative)


def render_shape(sources: list, size: int, opts: VideoDriveOptions, paste: bool) -> list[tuple[int, int]]:
    """``(width, height)`` of each output's frames."""
    from .batch import grid_image, side_by_side

    tile = np.zeros((size, size, 3), dtype=np.uint8)
    if opts.grid:
        g = grid_image(tile, [tile] * len(sources), [tile] * len(sources))
        return [(g.shape[1], g.shape[0])]
    if opts.side_by_side:
        sbs = side_by_side(tile, tile, tile)
        return [(sbs.shape[1], sbs.shape[0])] * len(sources)
    if paste:
        return [(s.frame.shape[1], s.frame.shape[0]) for s in sources]
    return [(size, size)] * len(sources)
