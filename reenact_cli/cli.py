"""Command-line interface: parses options and delegates to reenact_cli.tasks.

Every command turns a user error into one line on stderr and a non-zero exit
code (2 bad input, 3 no face, 4 output problem, 1 anything else such as out of
memory or a bug, 130 interrupted); never a traceback unless REENACT_DEBUG=1.
"""
from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Callable, Optional, TypeVar

import typer

from . import __version__
from .errors import ReenactError

F = TypeVar("F", bound=Callable)

app = typer.Typer(
    name="reenact",
    help=(
        "One-shot face reenactment: animate one photo (the source) with the head pose and "
        "expression of another (the driver), keeping the source's identity. "
        "Start with 'reenact demo'; then 'reenact drive SOURCE DRIVER'."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
face_model_app = typer.Typer(help="Build or inspect the linear face model (identity + expression bases).", no_args_is_help=True)
app.add_typer(face_model_app, name="face-model")


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) made one space."""
    return " ".join(str(text).split())


def _print_error(message: str) -> None:
    """``error: <message>`` on stderr, one line, the message not read as markup."""
    from rich.markup import escape

    from .tasks.console import console

    console.print(f"[red]error:[/] {escape(one_line(message))}", markup=True, highlight=False, soft_wrap=True)


def cli_errors(fn: F) -> F:
    """Run a command, turning errors into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ReenactError as exc:
            _print_error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            from .tasks.console import console

            console.print("[yellow]interrupted[/]; nothing was written under the final name")
            raise typer.Exit(130) from None
        except typer.Exit:
            raise
        except Exception as exc:  # a bug, not bad input: still one line, unless debugging
            if os.environ.get("REENACT_DEBUG"):
                raise
            if isinstance(exc, MemoryError):
                _print_error("out of memory (try a smaller image or a smaller --size)")
            elif isinstance(exc, OSError) and exc.filename is not None:
                _print_error(f"{exc.filename}: {exc.strerror or type(exc).__name__}")
            else:
                _print_error(
                    f"internal error ({type(exc).__name__}: {exc}); rerun with REENACT_DEBUG=1 for a traceback"
                )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reenact {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """reenact command-line tool."""


# Options shared by the commands that run the pipeline.
SizeOpt = Annotated[int, typer.Option("--size", min=64, max=1024, help="Working crop side in pixels (the face is cropped square at this size).")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu or cuda (the learned generator runs there; the geometric one always uses the CPU).")]
FaceModelOpt = Annotated[Optional[Path], typer.Option("--face-model", help="Face model .npz from 'reenact face-model build' (default: the one shipped in weights/).")]
FaceOpt = Annotated[int, typer.Option("--face", min=0, help="Which face when a photo has several: 0 = largest, 1 = next, ...")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace existing output files (otherwise refuse).")]
NoPasteBackOpt = Annotated[bool, typer.Option("--no-paste-back", help="Write the square face crop instead of the whole source photo.")]
CheckpointOpt = Annotated[Optional[Path], typer.Option("--checkpoint", help="Use the paper's learned generator with these trained weights (a .pt from 'reenact train'); default: the geometric generator, which needs no weights.")]


def _say(*lines: str) -> None:
    """Print result lines as plain text (paths may hold brackets), unwrapped."""
    from .tasks.console import console

    for line in lines:
        console.print(line, markup=False, soft_wrap=True)


def _config(size: int, device: str, face_model: Optional[Path], face: int = 0, checkpoint: Optional[Path] = None):
    from .errors import InputError
    from .pipeline import PipelineConfig, resolve_device

    if device != "auto":  # 'auto' needs no check, and checking it would import torch
        resolve_device(device)
    if face_model is not None and face_model.is_dir():
        raise InputError("is a directory, expected a face model (.npz)", face_model)
    if checkpoint is not None:
        from .models.checkpoint import load_checkpoint

        load_checkpoint(checkpoint)  # fail early, before any work, on a bad file
    return PipelineConfig(size=size, face_index=face, face_model=face_model, device=device, checkpoint=checkpoint)


@app.command()
@cli_errors
def drive(
    sources: Annotated[list[Path], typer.Argument(help="Photo(s) to animate: files, folders of photos, or quoted globs ('team/*.jpg').", show_default=False)],
    driver: Annotated[Path, typer.Argument(help="Photo, video (mp4, mov, avi, webm, gif, mkv) or folder of frames whose head pose and expression to copy.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Output image (.png/.jpg) for a photo driver; video (.mp4/.mov/.mkv) or, with --frames, a folder for a video driver. Default: SOURCE_by_DRIVER.png / .mp4 here, never replacing a file.")] = None,
    size: SizeOpt = 256,
    device: DeviceOpt = "auto",
    face_model: FaceModelOpt = None,
    face: FaceOpt = 0,
    no_paste_back: NoPasteBackOpt = False,
    save_stages: Annotated[Optional[Path], typer.Option("--save-stages", help="Folder for one file per stage: crops, meshes (.obj), wireframes, flow, masks, fits.json (photo drivers).")] = None,
    motion: Annotated[str, typer.Option("--motion", help="Video drivers: 'absolute' takes the driver's head rotation and expression (the paper); 'relative' adds the driver's change since the reference frame to the source's own pose and expression (for drivers not framed like the source).")] = "absolute",
    reference: Annotated[int, typer.Option("--reference", min=0, help="Video drivers: the frame motion is measured from.")] = 0,
    frames: Annotated[bool, typer.Option("--frames", help="Video drivers: write a folder of PNG frames instead of a video.")] = False,
    fps: Annotated[Optional[float], typer.Option("--fps", min=0.1, help="Frame rate of a folder-of-frames driver (default 25; videos keep their own).")] = None,
    smooth: Annotated[bool, typer.Option("--smooth/--no-smooth", help="Video drivers: steady the driver's pose and expression over time (One-Euro filter).")] = True,
    smooth_cutoff: Annotated[float, typer.Option("--smooth-cutoff", min=0.01, help="Smoothing cut-off at rest, Hz: lower is steadier but lags more.")] = 1.5,
    grid: Annotated[bool, typer.Option("--grid", help="One picture (or video): the driver on top, one row per source, source | result (the paper's Fig. 14 layout).")] = False,
    side_by_side: Annotated[bool, typer.Option("--side-by-side", help="Write source | driver | result for quick inspection.")] = False,
    checkpoint: CheckpointOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Reenact SOURCE(S) with the pose and expression of DRIVER (a photo, a video or a folder of frames).

    The source keeps its identity and background; the driver's identity is not
    used (its mesh is rebuilt with the source's face shape). A video driver
    gives a video with the driver's frame rate and audio. Examples:

        reenact drive me.jpg actor.jpg -o me_as_actor.png --save-stages stages/

        reenact drive me.jpg talk.mp4 -o me_talking.mp4

        reenact drive team/ boss.jpg --grid -o team_grid.png

        reenact drive me.jpg talk.mp4 --checkpoint runs/paper/last.pt --device cuda
    """
    from .tasks.batch import expand_sources

    config = _config(size, device, face_model, face, checkpoint)
    from .tasks.drive_video import is_sequence_driver

    paths = expand_sources(sources)
    if is_sequence_driver(driver):
        from .face.temporal import SmoothingConfig
        from .tasks.drive_video import VideoDriveOptions, run_drive_video

        opts = VideoDriveOptions(
            paths[0], driver, output, not no_paste_back, overwrite, motion, reference, frames, fps,
            SmoothingConfig(min_cutoff=smooth_cutoff, enabled=smooth),
            more_sources=tuple(paths[1:]), grid=grid, side_by_side=side_by_side,
        )
        summary = run_drive_video(opts, config)
        _say(summary.line(), *summary.notes())
        return
    if len(paths) > 1 or grid or side_by_side:
        from .tasks.drive import run_drive_batch

        batch = run_drive_batch(paths, driver, output, config, grid, side_by_side, not no_paste_back, overwrite)
        skipped = [f"{len(batch.skipped)} source(s) skipped (no face)"] if batch.skipped else []
        _say(*(f"wrote {out}" for out in batch.outputs), *skipped, *batch.notes())
        return
    source = paths[0]
    from .tasks.drive import DriveOptions, run_drive

    done = run_drive(DriveOptions(source, driver, output, not no_paste_back, save_stages, overwrite), config)
    stages = [f"stages in {save_stages}/"] if save_stages is not None else []
    _say(f"wrote {done.output}", *stages, *done.notes())


@app.command()
@cli_errors
def interpolate(
    source: Annotated[Path, typer.Argument(help="Photo to animate.")],
    driver: Annotated[Path, typer.Argument(help="Photo whose pose and/or expression to blend towards.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="A folder (no suffix), a strip image (.png/.jpg), a .gif or an .mp4. Default: SOURCE_to_DRIVER.gif here.")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", min=2, help="How many evenly spaced alphas from 0 to 1 (default 5).")] = None,
    alphas: Annotated[Optional[str], typer.Option("--alphas", help="Explicit alphas, e.g. 0,0.25,0.5,1 (values outside 0..1 are clipped).")] = None,
    what: Annotated[str, typer.Option("--what", help="What to blend: pose, expression or both.")] = "both",
    loop: Annotated[bool, typer.Option("--loop", help="Ping-pong: play forwards then back (for animations).")] = False,
    fps: Annotated[float, typer.Option("--fps", min=0.1, help="Frames per second of a .gif or .mp4.")] = 12.0,
    paste_back: Annotated[bool, typer.Option("--paste-back", help="Frames are the whole source photo instead of the face crop.")] = False,
    size: SizeOpt = 256,
    face_model: FaceModelOpt = None,
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = "auto",
    overwrite: OverwriteOpt = False,
) -> None:
    """Blend SOURCE's pose and expression towards DRIVER's, alpha from 0 (the source) to 1.

    Examples:

        reenact interpolate me.jpg actor.jpg --steps 9 --loop -o sweep.gif

        reenact interpolate me.jpg actor.jpg --alphas 0,0.5,1 --what pose -o strip.png
    """
    from .tasks.applications import parse_alphas, run_interpolate
    from .tasks.console import console

    out = run_interpolate(source, driver, output, _config(size, device, face_model, checkpoint=checkpoint), parse_alphas(steps, alphas), what, loop, fps, paste_back, overwrite)
    console.print(f"wrote {out}", markup=False, soft_wrap=True)


@app.command()
@cli_errors
def disentangle(
    source: Annotated[Path, typer.Argument(help="Photo to animate.")],
    driver: Annotated[Path, typer.Argument(help="Photo to take the pose and/or the expression from.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Output image. Default: SOURCE_TAKE_by_DRIVER.png here.")] = None,
    take: Annotated[str, typer.Option("--take", help="pose (the driver's head pose, the source's expression), expression, or both.")] = "both",
    sheet: Annotated[bool, typer.Option("--sheet", help="One labelled picture: source | driver | pose only | expression only | both.")] = False,
    no_paste_back: NoPasteBackOpt = False,
    size: SizeOpt = 256,
    face_model: FaceModelOpt = None,
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = "auto",
    overwrite: OverwriteOpt = False,
) -> None:
    """Take only the driver's head pose, only its expression, or both.

    Example:

        reenact disentangle me.jpg actor.jpg --sheet -o sheet.png
    """
    from .tasks.applications import run_disentangle
    from .tasks.console import console

    out = run_disentangle(source, driver, output, _config(size, device, face_model, checkpoint=checkpoint), take, sheet, not no_paste_back, overwrite)
    console.print(f"wrote {out}", markup=False, soft_wrap=True)


@app.command()
@cli_errors
def edit(
    source: Annotated[Path, typer.Argument(help="Photo to edit.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Output image. Default: SOURCE_edited.png here.")] = None,
    yaw: Annotated[float, typer.Option("--yaw", help="Turn the head left/right by this many degrees.")] = 0.0,
    pitch: Annotated[float, typer.Option("--pitch", help="Tilt the head up/down by this many degrees.")] = 0.0,
    roll: Annotated[float, typer.Option("--roll", help="Tilt the head sideways by this many degrees.")] = 0.0,
    expression_scale: Annotated[float, typer.Option("--expression-scale", help="Scale the source's own expression (0 = neutral, 1 = as is).")] = 1.0,
    expression: Annotated[Optional[list[str]], typer.Option("--expression", help="Named expression NAME=AMOUNT in prior standard deviations: mouth_open, smile, eyes_closed, brows_raised. Repeatable.")] = None,
    no_paste_back: NoPasteBackOpt = False,
    size: SizeOpt = 256,
    face_model: FaceModelOpt = None,
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = "auto",
    overwrite: OverwriteOpt = False,
) -> None:
    """Edit one photo with no driver: turn the head, change the expression.

    Example:

        reenact edit me.jpg --yaw 15 --expression smile=2 -o me_smiling.png
    """
    from .tasks.applications import parse_expressions, run_edit
    from .tasks.console import console

    out = run_edit(
        source, output, _config(size, device, face_model, checkpoint=checkpoint), yaw, pitch, roll, expression_scale,
        parse_expressions(expression or []), not no_paste_back, overwrite,
    )
    console.print(f"wrote {out}", markup=False, soft_wrap=True)


@app.command()
@cli_errors
def demo(
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Contact sheet PNG. Default: reenact_demo.png here, never replacing a file.")] = None,
    source: Annotated[Optional[Path], typer.Option("--source", help="Your own portrait instead of the built-in one.")] = None,
    size: SizeOpt = 256,
    face_model: FaceModelOpt = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Reenact a built-in portrait through head turns and expressions (no files needed).

    The portrait is Grace Hopper's public-domain photo that ships inside
    matplotlib. The result is one labelled contact sheet (PNG). Example:

        reenact demo -o demo.png
    """
    from .face.regress import quiet_mediapipe
    from .tasks.console import console
    from .tasks.demo import run_demo

    quiet_mediapipe()
    out = run_demo(output, source, _config(size, "cpu", face_model), overwrite)
    console.print(f"wrote {out}", markup=False, soft_wrap=True)


@app.command()
@cli_errors
def bench(
    source: Annotated[Optional[Path], typer.Option("--source", help="Source photo (default: the built-in portrait).")] = None,
    driver: Annotated[Optional[Path], typer.Option("--driver", help="Driver photo (default: the source mirrored).")] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Timed runs per stage (the median is reported).")] = 30,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed runs first.")] = 5,
    size: SizeOpt = 256,
    face_model: FaceModelOpt = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    video: Annotated[Optional[Path], typer.Option("--video", help="Instead: drive the source with this video end to end (decode, drive, encode the crop) and print frames per second and peak memory.")] = None,
    loops: Annotated[int, typer.Option("--loops", min=1, help="With --video: play it this many times (memory must not grow with length).")] = 1,
    generator: Annotated[str, typer.Option("--generator", help="geometric (no weights) or learned (the paper's; Table 5 layout).")] = "geometric",
    config: Annotated[str, typer.Option("--config", help="Learned generator without --checkpoint: build this config untrained (paper, tiny or a JSON file); timing does not depend on the weights.")] = "paper",
    checkpoint: CheckpointOpt = None,
    device: DeviceOpt = "auto",
) -> None:
    """Time each stage of a generator, in milliseconds (median of --runs).

    One driver frame at the working size goes through mesh regression, fit and
    compose, then the generator's stages: flow and render (geometric), or the
    flow prior, motion net, occlusion net, encoder and decoder (learned, the
    layout of the paper's Table 5, on --device). File I/O is excluded. The
    last line gauges the host's speed (a fixed Python loop timed between
    runs): on a shared machine every stage scales with it, so compare runs
    only at similar figures. Examples:

        reenact bench --runs 50 --json

        reenact bench --generator learned --config paper --device cpu
    """
    from rich.table import Table

    from .face.regress import quiet_mediapipe
    from .tasks.bench import STAGES, bench_notes, run_bench, run_video_bench
    from .tasks.console import console, data_console

    quiet_mediapipe()
    if generator not in ("geometric", "learned"):
        from .errors import InputError

        raise InputError(f"--generator must be geometric or learned, not '{generator}'")
    if video is not None:
        vres = run_video_bench(source, video, _config(size, device, face_model, checkpoint=checkpoint), loops)
        typer.echo(json.dumps(vres.__dict__ | {"fps": vres.fps}) if json_out else vres.line())
        return
    if generator == "learned" or checkpoint is not None:
        from .tasks.bench_learned import LEARNED_STAGES, PAPER_TABLE5_MS, run_learned_bench

        lres = run_learned_bench(source, driver, _config(size, device, face_model, checkpoint=checkpoint), config, runs, warmup)
        if json_out:
            typer.echo(lres.as_json())
            return
        where = lres.device_name + (f", {lres.threads} threads" if lres.device == "cpu" else "")
        table = Table(title=f"learned generator, {lres.config}, {lres.size}x{lres.size}, {lres.device.upper()} ({where}), median of {runs}")
        table.add_column("stage")
        table.add_column("median ms", justify="right")
        table.add_column("p90 ms", justify="right")
        table.add_column("paper, 2080 Ti", justify="right")
        for k in LEARNED_STAGES:
            paper_ms = PAPER_TABLE5_MS.get(k)
            table.add_row(k.replace("_", " "), f"{lres.median_ms[k]:.2f}", f"{lres.p90_ms[k]:.2f}", f"{paper_ms:.0f}" if paper_ms else "")
        generator_ms = sum(lres.median_ms[k] for k in ("flow_prior", "motion_net", "occlusion_net", "encoder", "decoder"))
        table.add_row("generator (prior .. decoder)", f"{generator_ms:.2f}", "", "66")
        data_console.print(table)
        for line in bench_notes(lres):
            console.print(line, markup=False, soft_wrap=True)
        return
    res = run_bench(source, driver, _config(size, "cpu", face_model), runs, warmup)
    if json_out:
        typer.echo(res.as_json())
        return
    table = Table(title=f"geometric generator, {size}x{size}, CPU ({res.threads} threads), median of {runs}")
    table.add_column("stage")
    table.add_column("median ms", justify="right")
    table.add_column("p90 ms", justify="right")
    for k in STAGES:
        table.add_row(k.replace("_", " "), f"{res.median_ms[k]:.2f}", f"{res.p90_ms[k]:.2f}")
    table.add_row("(paste back onto the source photo)", f"{res.paste_ms:.2f}", "")
    data_console.print(table)
    for line in bench_notes(res):
        console.print(line, markup=False, soft_wrap=True)


@app.command()
@cli_errors
def prepare(
    inputs: Annotated[list[Path], typer.Argument(help="Videos, folders of frames (one clip per folder), or folders holding such clips.", show_default=False)],
    output: Annotated[Path, typer.Option("-o", "--output", help="Dataset folder (created; a rerun adds to it and skips clips already done).")],
    size: SizeOpt = 256,
    every: Annotated[int, typer.Option("--every", min=1, help="Use every n-th frame of each clip.")] = 2,
    max_frames: Annotated[int, typer.Option("--max-frames", min=2, help="Store at most this many frames (with a face) per clip.")] = 200,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel processes (1 = this process).")] = 2,
    face_model: FaceModelOpt = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo clips already prepared (and, with changed settings, the whole dataset).")] = False,
) -> None:
    """Prepare a training dataset: find, crop and align the face in every frame, fit the face model.

    Each clip's aligned SIZE x SIZE crops are stored as JPEG with their meshes,
    pose and coefficients (DATASET/clips/<clip>/), listed in DATASET/manifest.json.
    Clips without a usable face are reported and skipped; an interrupted run
    resumes where it stopped. Example:

        reenact prepare ../shared/faces/train -o data/train256 --every 2 --max-frames 120
    """
    from .tasks.prepare import run_prepare
    from .train.prepare import PrepareConfig

    if face_model is not None and face_model.is_dir():
        from .errors import InputError

        raise InputError("is a directory, expected a face model (.npz)", face_model)
    run_prepare(inputs, output, PrepareConfig(size, every, max_frames, workers, face_model, overwrite))


@app.command()
@cli_errors
def train(
    dataset: Annotated[Path, typer.Argument(help="A dataset folder from 'reenact prepare'.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Run folder: last.pt, log.jsonl, samples/.")],
    config: Annotated[str, typer.Option("--config", help="paper (256 px), tiny (64 px, for smoke runs) or a config JSON file.")] = "paper",
    stage: Annotated[str, typer.Option("--stage", help="regressor (train the coefficient regressor first) or generator (motion net + reenacting module).")] = "generator",
    steps: Annotated[int, typer.Option("--steps", min=1, help="Train until this many steps (a resumed run counts on).")] = 100_000,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Per process (default: the config's).")] = None,
    device: DeviceOpt = "auto",
    regressor: Annotated[Optional[Path], typer.Option("--regressor", help="Generator stage: the trained coefficient regressor (RUN/last.pt of --stage regressor) for the coefficient loss.")] = None,
    vgg_weights: Annotated[Optional[Path], typer.Option("--vgg-weights", help="ImageNet VGG19 weights for the perceptual loss: torchvision's vgg19-dcbb9e9d.pth or any state dict with its keys. Nothing is downloaded.")] = None,
    perceptual: Annotated[str, typer.Option("--perceptual", help="vgg19 (needs --vgg-weights), or random: a random VGG, FOR TESTS ONLY.")] = "vgg19",
    no_occlusion: Annotated[bool, typer.Option("--no-occlusion", help="Ablation (Table 3): without the occlusion net.")] = False,
    no_coef_loss: Annotated[bool, typer.Option("--no-coef-loss", help="Ablation (Table 3): without the coefficient loss (needs no --regressor).")] = False,
    encoder: Annotated[str, typer.Option("--encoder", help="Motion encoder: gcn (the paper) or cnn (Table 3 ablation: a CNN over the meshes rendered as images).")] = "gcn",
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --output (step count, optimisers, RNG state).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Start over in a run folder that already holds a run.")] = False,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", min=1, help="Save last.pt every this many steps (also at the end and on Ctrl-C).")] = 500,
    sample_every: Annotated[int, typer.Option("--sample-every", min=0, help="Write a sample sheet (source | driver | output | warped source) every this many steps; 0 = only at the end.")] = 250,
    log_every: Annotated[int, typer.Option("--log-every", min=1, help="Append the losses to log.jsonl every this many steps.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the initial weights and of the pairing.")] = 0,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Data-loading processes per training process.")] = 2,
    amp: Annotated[bool, typer.Option("--amp/--no-amp", help="bfloat16 mixed precision on CUDA (ignored on CPU).")] = True,
    face_model: FaceModelOpt = None,
) -> None:
    """Train the coefficient regressor, then the generator, on a prepared dataset.

    Self-supervised: source and driver are two frames of one clip, so the
    driver frame is the target. Losses of the paper's eq. 4-8 with its weights
    (reconstruction 10, feature matching 10, coefficient 1, adversarial 1),
    Adam 2e-4. Runs on CPU or CUDA; for several processes or GPUs launch it
    with torchrun (DDP; only rank 0 writes). Examples:

        reenact train data/train256 --stage regressor -o runs/reg --steps 5000

        reenact train data/train256 -o runs/paper --regressor runs/reg/last.pt --vgg-weights vgg19-dcbb9e9d.pth

        torchrun --nproc_per_node=4 -m reenact_cli.cli train data/train256 -o runs/paper --regressor runs/reg/last.pt --vgg-weights vgg19.pth
    """
    from .tasks.train import run_train

    run_train(
        config, no_occlusion, no_coef_loss, encoder,
        dataset=dataset, run_dir=output, stage=stage, steps=steps, batch_size=batch_size, device=device,
        regressor=regressor, perceptual=perceptual, vgg_weights=vgg_weights, resume=resume, overwrite=overwrite,
        checkpoint_every=checkpoint_every, sample_every=sample_every, log_every=log_every, seed=seed,
        workers=workers, amp=amp, face_model=face_model,
    )


@app.command("eval")
@cli_errors
def eval_(
    inputs: Annotated[Optional[list[Path]], typer.Argument(help="Clips (self) or photos and clips (cross), or folders of them. Not needed with --pairs.", show_default=False)] = None,
    protocol: Annotated[str, typer.Option("--protocol", help="self: a clip's frame driven by its other frames (ground truth exists: all five metrics). cross: different people (CSIM vs the source; PRMSE, AUCON vs the driver).")] = "self",
    pairs: Annotated[Optional[Path], typer.Option("--pairs", help="CSV of pairs (protocol,source,source_frame,driver,driver_frame; paths relative to the CSV) instead of sampling.")] = None,
    per_clip: Annotated[int, typer.Option("--per-clip", min=1, help="self: driver frames sampled per clip.")] = 10,
    source_frame: Annotated[int, typer.Option("--source-frame", min=0, help="self: the clip frame used as the source.")] = 0,
    cross_pairs: Annotated[int, typer.Option("--cross-pairs", min=1, help="cross: how many (source, driver) pairs of different files to sample.")] = 24,
    seed: Annotated[int, typer.Option("--seed", help="Seed for sampling pairs (the pairs are written to OUTDIR/pairs.csv).")] = 0,
    outdir: Annotated[Optional[Path], typer.Option("-o", "--output-dir", help="Folder for the run's state (run.json, pairs.csv, samples.jsonl) and default reports. Rerunning with the same folder resumes. Default: reenact_eval_PROTOCOL here.")] = None,
    json_file: Annotated[Optional[Path], typer.Option("--json", help="Report with every sample, the aggregates, the command, package versions and fingerprints. Default: OUTDIR/results.json.")] = None,
    csv_file: Annotated[Optional[Path], typer.Option("--csv", help="One row per sample and method, then the aggregates. Default: OUTDIR/results.csv.")] = None,
    baselines: Annotated[bool, typer.Option("--baselines/--no-baselines", help="Also score source-copy (output = source crop) and driver-copy (output = driver crop), for context.")] = True,
    restart: Annotated[bool, typer.Option("--restart", help="Discard the results already in OUTDIR instead of resuming.")] = False,
    size: SizeOpt = 256,
    face_model: FaceModelOpt = None,
    face: FaceOpt = 0,
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", help="Also score the learned generator with these weights (a .pt from 'reenact train').")] = None,
    device: DeviceOpt = "auto",
    overwrite: OverwriteOpt = False,
) -> None:
    """Score reenactment with the paper's metrics: CSIM, SSIM, PSNR, PRMSE, AUCON.

    The geometric generator (and the learned one, with --checkpoint) and the
    two copy baselines are run on the same pairs; a table goes to stdout, reports to --json/--csv. In the self
    protocol PSNR and SSIM compare the output crop with the real driver frame
    cropped as the source was (the whole crop, not only the face). Identity
    (CSIM) uses dlib's face recogniser, not the paper's ArcFace; action units
    for AUCON come from landmark geometry. Rerun the same command to resume an
    interrupted run. Examples:

        reenact eval ../shared/faces/videos --protocol self --per-clip 10 -o eval_self

        reenact eval ../shared/faces/images --protocol cross --cross-pairs 24 -o eval_cross

        reenact eval --protocol cross --pairs eval_cross/pairs.csv -o eval_again
    """
    from rich.console import Console
    from rich.table import Table

    from .face.regress import quiet_mediapipe
    from .tasks.console import console
    from .tasks.evaluate import EvalOptions, metric_names, run_eval
    from .eval.report import HEADINGS, table_cells

    if protocol not in ("self", "cross"):
        from .errors import InputError

        raise InputError(f"--protocol must be self or cross, not '{protocol}'")
    quiet_mediapipe()
    opts = EvalOptions(
        tuple(inputs or ()), protocol, outdir or Path(f"reenact_eval_{protocol}"), pairs, per_clip, cross_pairs, seed,
        source_frame, baselines, json_file, csv_file, overwrite, restart, checkpoint,
    )
    rep = run_eval(opts, _config(size, device, face_model, face, checkpoint))
    metrics = metric_names(protocol)
    table = Table(title=f"{protocol} protocol: {rep.samples - rep.skipped} samples ({rep.skipped} skipped), {size}x{size}")
    table.add_column("method")
    for k in metrics:
        table.add_column(HEADINGS[k], justify="right")
    table.add_column("no face", justify="right")
    for name in rep.methods:
        a = rep.aggregates[name]
        table.add_row(name, *table_cells(a, metrics), str(a.no_face))
    Console(highlight=False).print(table)
    console.print(f"{rep.computed} samples computed in {rep.seconds:.0f} s; wrote {rep.json_path} and {rep.csv_path}", markup=False, soft_wrap=True)


@face_model_app.command("build")
@cli_errors
def face_model_build(
    inputs: Annotated[list[Path], typer.Argument(help="Videos, photos, or folders of them. Each clip or photo counts as one identity.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the model (.npz).")],
    num_id: Annotated[int, typer.Option("--num-id", min=1, help="Identity components to keep.")] = 32,
    num_exp: Annotated[int, typer.Option("--num-exp", min=1, help="Expression components to keep.")] = 40,
    stride: Annotated[int, typer.Option("--stride", min=1, help="Use every n-th video frame.")] = 2,
    max_frames: Annotated[int, typer.Option("--max-frames", min=2, help="At most this many frames per clip.")] = 200,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel processes for landmark extraction.")] = 2,
    overwrite: OverwriteOpt = False,
) -> None:
    """Build a face model from videos and photos.

    Every frame's mesh is aligned; per-clip means are identity samples and
    within-clip deviations expression samples; both are reduced by PCA, with
    the head pose's own deformation modelled apart. Example:

        reenact face-model build clips/ photos/ -o my_model.npz
    """
    from .face.build import BuildConfig
    from .tasks.console import console
    from .tasks.face_model import run_build

    run_build(inputs, output, BuildConfig(num_id, num_exp, stride, max_frames, workers), overwrite)
    console.print(f"wrote {output}", markup=False, soft_wrap=True)


@face_model_app.command("info")
@cli_errors
def face_model_info(
    path: Annotated[Optional[Path], typer.Argument(help="Model .npz (default: the shipped one).")] = None,
) -> None:
    """Print a face model's size, fingerprint and provenance."""
    from .face.model import load_face_model
    from .tasks.face_model import describe

    typer.echo(describe(load_face_model(path)))


@app.command()
@cli_errors
def info(
    checkpoint: Annotated[Optional[Path], typer.Argument(help="A checkpoint (.pt) to describe; without one, describe --config untrained.")] = None,
    config: Annotated[str, typer.Option("--config", help="paper, tiny or a config JSON file (when no checkpoint is given).")] = "paper",
    face_model: FaceModelOpt = None,
) -> None:
    """Describe the learned generator: config, provenance and parameters per module.

    Examples:

        reenact info --config tiny

        reenact info runs/paper/last.pt
    """
    from rich.table import Table

    from .tasks.console import data_console
    from .tasks.model_info import describe_model

    described = describe_model(checkpoint, config, face_model)
    data_console.print(described.title, markup=False)
    for label, value in described.facts:
        data_console.print(f"  {label:<20} {value}", markup=False, soft_wrap=True)
    table = Table(title="parameters")
    table.add_column("module")
    table.add_column("parameters", justify="right")
    for name, count in described.parameters:
        table.add_row(name, f"{count:,}")
    data_console.print(table)


def run() -> None:  # pragma: no cover - console-script shim
    app()


if __name__ == "__main__":  # pragma: no cover - `python -m reenact_cli.cli`
    sys.exit(app(prog_name="reenact"))
