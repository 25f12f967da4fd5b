"""`reenact prepare`: build a training dataset, with a progress bar and a summary."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..train.prepare import ClipOutcome, PrepareConfig, PrepareResult, prepare_dataset
from ..errors import NoFaceError
from .console import console, progress


def folder_bytes(root: Path) -> int:
    """Total size of the files under ``root``."""
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def summary_lines(result: PrepareResult) -> list[str]:
    """What the run did, for the console: one line per problem clip, then totals."""
    lines = [note for note in result.notes]
    for rec in result.skipped:
        lines.append(f"skipped {rec.source}: {rec.reason}")
    for rec in result.failed:
        lines.append(f"failed {rec.source}: {rec.reason}")
    prepared = result.prepared
    frames = sum(r.frames for r in prepared)
    no_face = sum(r.no_face for r in prepared)
    parts = [f"prepared {len(prepared)} clip(s), {frames} frames"]
    if no_face:
        parts[0] += f" ({no_face} frames without a face left out)"
    if result.resumed:
        parts.append(f"{len(result.resumed)} already done")
    if result.skipped:
        parts.append(f"{len(result.skipped)} skipped (no usable face)")
    if result.failed:
        parts.append(f"{len(result.failed)} failed")
    lines.append(", ".join(parts) + f" in {result.seconds:.1f} s")
    done = result.manifest.done()
    lines.append(
        f"dataset {result.root}: {len(done)} clip(s), {sum(r.frames for r in done)} frames at "
        f"{result.manifest.settings.size}x{result.manifest.settings.size}, {_mb(folder_bytes(result.root))}"
    )
    return lines


def run_prepare(inputs: Sequence[Path], output: Path, config: PrepareConfig) -> PrepareResult:
    """Prepare ``inputs`` into ``output`` with a progress bar; print the summary."""
    bar = progress()
    task = bar.add_task("preparing clips", total=None, start=False)

    def start(todo: int, done: int) -> None:  # inputs checked: show the bar from here
        bar.update(task, total=todo + done)
        bar.start_task(task)
        bar.start()

    def tick(outcome: ClipOutcome) -> None:
        bar.advance(task)

    try:
        result = prepare_dataset(inputs, output, config, on_start=start, on_clip=tick)
    finally:
        if bar.live.is_started:
            bar.stop()
    for line in summary_lines(result):
        console.print(line, markup=False, soft_wrap=True)
    if not result.manifest.done():
        raise NoFaceError("no clip could be prepared (see above); the dataset is empty", output)
    return result
