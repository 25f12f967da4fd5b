"""The benchmark's busy-machine warning counts other processes, not itself."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from reenact_cli.tasks.bench import CpuMeter, load_warning

BURN = "import time\nt = time.perf_counter()\nwhile time.perf_counter() - t < 0.8:\n    pass\n"


@pytest.mark.skipif(not Path("/proc/stat").is_file(), reason="CpuMeter reads /proc/stat (Linux)")
def test_cpu_meter_counts_other_processes_not_this_one():
    meter = CpuMeter()
    meter.start()
    exec(BURN)  # this process's own work: not counted
    own = meter.stop()
    meter.start()
    subprocess.run([sys.executable, "-c", BURN], check=True)  # another process: counted
    other = meter.stop()
    assert own is not None and other is not None
    # A core's worth more when the work was another process's (compared, not
    # absolute: whatever else runs on the machine counts in both).
    assert other - own > 0.5, (own, other)


def test_warning_follows_other_processes_when_known(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    # The load average counts the benchmark itself: with the other processes
    # measured, a high load alone is no warning, and their use is.
    assert load_warning(5.0, 2, other_cpu=0.1) is None
    line = load_warning(0.0, 2, other_cpu=1.0)
    assert line is not None and "1.0 of 2 cores" in line
    # Without a measurement, the load average decides.
    assert load_warning(1.5, 2) is not None
    assert load_warning(0.5, 2) is None


def test_cpu_reference_grows_with_the_loop(monkeypatch):
    """The host-speed gauge times real work: ten times the loop takes longer."""
    from reenact_cli.tasks import bench

    short = min(bench.cpu_reference_ms() for _ in range(3))
    monkeypatch.setattr(bench, "REFERENCE_LOOP", bench.REFERENCE_LOOP * 10)
    long = min(bench.cpu_reference_ms() for _ in range(3))
    assert short > 0 and long > 3 * short
    assert "Python loop took" in bench.reference_line(short)
    assert bench.reference_line(None) is None


def test_host_speed_samples_every_tenth_run_outside_the_timing(monkeypatch):
    """Both benchmarks sample the gauge after runs 0, 10, 20, ... and report
    the median of those samples (None before any run)."""
    from reenact_cli.tasks import bench

    calls = iter([5.0, 9.0, 7.0, 100.0])
    monkeypatch.setattr(bench, "cpu_reference_ms", lambda: next(calls))
    host = bench.HostSpeed()
    assert host.median_ms() is None
    for run in range(25):
        host.after_run(run)
    assert host.samples == [5.0, 9.0, 7.0]
    assert host.median_ms() == 7.0
