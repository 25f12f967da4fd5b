"""`reenact bench`: per-stage milliseconds of the geometric pipeline (median of N)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..face.regress import MeshRegressor
from ..media.image_io import read_image
from ..pipeline import PipelineConfig, Reenactor
from ..render.geometric import paste_back, render
from .console import progress
from .demo import demo_portrait

if TYPE_CHECKING:
    from .bench_learned import LearnedBenchResult

STAGES = ("mesh_regression", "fit_compose", "flow", "render", "total")


def machine_load() -> float:
    """The 1-minute load average (0 where the OS does not say). It counts this
    process too (MediaPipe's threads alone keep it near 1), so it is only the
    fallback for :func:`load_warning` where :class:`CpuMeter` cannot read."""
    import os

    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


class CpuMeter:
    """How many cores *other* processes kept busy while a benchmark ran: the
    machine's busy CPU time (``/proc/stat``, Linux) minus this process's own
    (``os.times``), over the wall time. Timings taken while other processes
    compete for the cores are not comparable: PyTorch's threads slow down
    many times over when the cores are oversubscribed.

    ``start()`` then ``stop()``; ``stop()`` returns cores (float) or None
    where ``/proc/stat`` cannot be read.
    """

    def __init__(self) -> None:
        self._start: tuple[float, float, float] | None = None

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        import os

        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
            ticks = [int(v) for v in fields[1:]]
            hz = os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError, AttributeError):
            return None
        # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait.
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / hz
        t = os.times()
        return busy, t.user + t.system, time.monotonic()

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> float | None:
        end = self._sample()
        if self._start is None or end is None or end[2] <= self._start[2]:
            return None
        busy, own, wall = (e - s for e, s in zip(end, self._start))
        return max(busy - own, 0.0) / wall


def load_warning(load: float, threads: int, other_cpu: float | None = None) -> str | None:
    """A line to print when the machine was busy during the benchmark: other
    processes kept more than a quarter of the cores busy (``other_cpu``, from
    :class:`CpuMeter`), or, where that is unknown, the load average exceeded
    half the cores."""
    import os

    cores = os.cpu_count() or 1
    if other_cpu is not None:
        if other_cpu > 0.25 * cores:
            return (f"warning: other processes kept {other_cpu:.1f} of {cores} cores busy during the benchmark "
                    f"({threads} torch threads): these timings are not comparable; rerun on an idle machine")
        return None
    if load > 0.5 * cores:
        return (f"warning: the machine was busy (load average {load:.1f} on {cores} cores, {threads} torch threads): "
                "these timings are not comparable; rerun on an idle machine")
    return None


#: Iterations of the fixed pure-Python loop that gauges the host's speed.
REFERENCE_LOOP = 200_000


def cpu_reference_ms() -> float:
    """Milliseconds this process now takes for a fixed pure-Python loop.

    Some virtual machines switch between speeds (a busy sibling hyperthread,
    the host's frequency) that neither the load average nor ``/proc/stat``
    shows; this loop slows with them (on the development machine it reads
    about 7 ms in the fast state and 11-14 ms in the slow one), and so do the
    stages. Timings are comparable only at a similar reference."""
    t0 = time.perf_counter()
    total = 0
    for i in range(REFERENCE_LOOP):
        total += i
    return (time.perf_counter() - t0) * 1e3


#: Timed runs between two samples of :func:`cpu_reference_ms` (untimed).
REFERENCE_EVERY = 10


class HostSpeed:
    """Samples :func:`cpu_reference_ms` between timed runs (every
    :data:`REFERENCE_EVERY`-th, outside the timed span) and reports the median."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def after_run(self, run: int) -> None:
        """Call after timed run number ``run`` (0-based)."""
        if run % REFERENCE_EVERY == 0:
            self.samples.append(cpu_reference_ms())

    def median_ms(self) -> float | None:
        return float(np.median(self.samples)) if self.samples else None


def reference_line(reference_ms: float | None) -> str | None:
    """The line printed under a benchmark table about the host's speed."""
    if reference_ms is None:
        return None
    return (f"host speed: a fixed Python loop took {reference_ms:.1f} ms (median during the runs); "
            "stage times scale with it, so compare runs at a similar figure")


def bench_notes(result: "BenchResult | LearnedBenchResult") -> list[str]:
    """The lines printed under a benchmark table: the host's speed and, if
    other processes competed for the cores, a warning."""
    speed = reference_line(result.cpu_reference_ms)
    busy = load_warning(result.load_average, result.threads, result.other_cpu)
    return [line for line in (speed, busy) if line is not None]


@dataclass(frozen=True)
class BenchResult:
    """Median and 90th-percentile milliseconds per stage."""

    size: int
    runs: int
    median_ms: dict[str, float]
    p90_ms: dict[str, float]
    paste_ms: float
    threads: int
    load_average: float = 0.0
    other_cpu: float | None = None
    cpu_reference_ms: float | None = None

    def as_json(self) -> str:
        return json.dumps(self.__dict__, indent=1)


def run_bench(source: Path | None, driver: Path | None, config: PipelineConfig, runs: int, warmup: int) -> BenchResult:
    """Time one driver frame through every stage, ``runs`` times after ``warmup``.

    The driver frame is a ``size``-square image (the source mirrored when no
    driver is given, so pose and expression differ), regressed in tracking
    mode as video frames are. File I/O is excluded.
    """
    import torch

    src_img = read_image(source if source is not None else demo_portrait())
    r = Reenactor(config)
    src = r.source(src_img, "source")
    size = config.size
    if driver is not None:
        drv_full = read_image(driver)
        drv_face = r.driver(drv_full, str(driver)).face
        frame = drv_face.image
    else:
        frame = np.ascontiguousarray(src.face.image[:, ::-1])
    tracker = MeshRegressor(static=False, max_faces=1)
    samples: dict[str, list[float]] = {k: [] for k in STAGES}
    paste_samples = []
    host = HostSpeed()
    with progress() as bar:
        task = bar.add_task("benchmarking", total=warmup + runs)
        meter = CpuMeter()
        for i in range(warmup + runs):
            if i == warmup:
                meter.start()
            t0 = time.perf_counter()
            meshes = tracker.detect(frame)
            t1 = time.perf_counter()
            fit = r.model.fit(meshes[0].vertices)
            m_d = r.model.compose(src.fit, fit)
            t2 = time.perf_counter()
            flow = r.generator.flow(src.mesh, m_d, size, src.prepared.head_occluder)  # as the pipeline calls it
            t3 = time.perf_counter()
            rendered = render(src.prepared, flow)
            t4 = time.perf_counter()
            paste_back(src.frame, src.face.crop, src.prepared, flow, rendered)
            t5 = time.perf_counter()
            if i >= warmup:
                for k, v in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                    samples[k].append(v * 1e3)
                paste_samples.append((t5 - t4) * 1e3)
                host.after_run(i - warmup)
            bar.advance(task)
    med = {k: float(np.median(v)) for k, v in samples.items()}
    p90 = {k: float(np.percentile(v, 90)) for k, v in samples.items()}
    other = meter.stop()
    return BenchResult(
        size, runs, med, p90, float(np.median(paste_samples)), torch.get_num_threads(), machine_load(), other,
        host.median_ms(),
    )


@dataclass(frozen=True)
class VideoBenchResult:
    """End-to-end video throughput and the process's peak memory."""

    frames: int
    seconds: float
    peak_rss_mb: float
    video_seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("nan")

    def line(self) -> str:
        return (
            f"{self.frames} frames ({self.video_seconds:.1f} s of video): {self.fps:.1f} frames/s end to end "
            f"(decode -> drive at the working size -> H.264), peak memory {self.peak_rss_mb:.0f} MB"
        )


def run_video_bench(source: Path | None, driver: Path, config: PipelineConfig, loops: int) -> VideoBenchResult:
    """Drive the source with ``driver`` (played ``loops`` times), writing the
    face crop as H.264 to a temporary file; report frames per second and the
    peak resident memory of this process."""
    import resource
    import tempfile

    from ..media.image_io import write_image
    from .drive_video import VideoDriveOptions, run_drive_video

    with tempfile.TemporaryDirectory() as tmp:
        src = source
        if src is None:
            src = Path(tmp) / "portrait.png"
            write_image(src, read_image(demo_portrait()))
        opts = VideoDriveOptions(src, driver, Path(tmp) / "bench.mp4", paste_back=False, loops=loops)
        summary = run_drive_video(opts, config)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return VideoBenchResult(summary.frames, summary.seconds, peak, summary.frames / summary.fps)
