"""Media layer for driving videos: reading (video files, frame folders), writing
(H.264 with audio, PNG folders, all or nothing) and the three-stage stream.

Synthetic clips are generated here (numpy, or the bundled ffmpeg's lavfi
sources); real clips come from ``faces_dir/videos`` and skip when it is absent.
"""
from __future__ import annotations

import csv
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reenact_cli.errors import InputError, OutputError
from reenact_cli.media.stream import PipelineStats, run_pipeline
from reenact_cli.media.video import (
    DEFAULT_FOLDER_FPS,
    DriverStream,
    ffmpeg_exe,
    iter_video,
    open_driver,
    probe_video,
    video_info,
)
from reenact_cli.media.video_writer import FrameFolderWriter, VideoWriter, probe_audio

# ---------------------------------------------------------------------- helpers


def synthetic_frames(n: int = 30, w: int = 64, h: int = 48) -> list[np.ndarray]:
    """RGB uint8 frames: a smooth colour gradient with a light square moving right."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([40 + 120 * xx / w, 60 + 100 * yy / h, 150 - 60 * xx / w], axis=-1)
    out = []
    for i in range(n):
        f = base.copy()
        x, y = 4 + (i * (w - 20)) // max(1, n - 1), h // 2 - 8
        f[y : y + 16, x : x + 16] = 225.0
        out.append(np.round(f).astype(np.uint8))
    return out


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = np.mean([np.mean((x.astype(np.float64) - y) ** 2) for x, y in zip(a, b, strict=True)])
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0, **kw) -> VideoWriter:
    with VideoWriter(path, fps, (frames[0].shape[1], frames[0].shape[0]), **kw) as vw:
        for f in frames:
            vw.write(f)
    return vw


def ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def vm_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    pytest.skip("no /proc/self/status VmRSS on this system")


def one_line(exc: BaseException, name: str) -> None:
    msg = str(exc)
    assert "\n" not in msg and name in msg, msg


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def av_clip(tmp_path_factory) -> Path:
    """2 s synthetic clip, 25 fps 96x64, with a 440 Hz AAC track (lavfi sources)."""
    p = tmp_path_factory.mktemp("av") / "av.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=2",
        "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(p),
    )  # fmt: skip
    return p


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """600 frames of 256x256 (24 s at 25 fps), cheap to encode."""
    p = tmp_path_factory.mktemp("long") / "long.mp4"
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=256x256:rate=25", "-frames:v", "600",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "32", "-pix_fmt", "yuv420p", str(p),
    )  # fmt: skip
    return p


# ---------------------------------------------------------------------- round trip


def test_round_trip_synthetic_clip(tmp_path):
    frames = synthetic_frames(30, 64, 48)
    out = tmp_path / "clip.mp4"
    vw = write_video(out, frames, 25.0)
    assert vw.result is not None and vw.result.frames == 30 and vw.result.size == (64, 48)
    assert leftovers(tmp_path) == ["clip.mp4"]

    d = open_driver(out)
    assert isinstance(d, DriverStream)
    assert (d.kind, d.fps, d.frame_count, d.frame_count_exact, d.size, d.has_audio) == ("video", 25.0, 30, True, (64, 48), False)
    assert d.duration == pytest.approx(1.2)
    back = list(d)
    assert len(back) == 30
    assert all(f.dtype == np.uint8 and f.shape == (48, 64, 3) and f.flags.c_contiguous for f in back)
    assert psnr(frames, back) > 35.0
    assert len(list(d)) == 30  # iterable again, from the start
    # The older helpers agree.
    assert video_info(out).frames == 30 and video_info(out).fps == 25.0
    assert len(list(iter_video(out, stride=2))) == 15


def test_odd_size_is_padded_by_repeating_the_edge(tmp_path):
    frames = synthetic_frames(12, 65, 47)
    vw = write_video(tmp_path / "odd.mp4", frames, 29.97)
    assert vw.output_size == (66, 48) and vw.result.size == (66, 48)
    d = open_driver(tmp_path / "odd.mp4")
    assert d.size == (66, 48) and d.frame_count == 12 and d.fps == pytest.approx(29.97)
    back = list(d)
    assert psnr(frames, [b[:47, :65] for b in back]) > 35.0
    for b in back:  # the added column/row repeat their neighbours (up to coding noise)
        assert np.abs(b[:, 65].astype(int) - b[:, 64]).mean() < 3
        assert np.abs(b[47].astype(int) - b[46]).mean() < 3


def test_quality_levels_trade_size_for_fidelity(tmp_path):
    frames = synthetic_frames(20, 96, 64)
    sizes, scores = [], []
    for q in ("lossless", "high", "low"):
        write_video(tmp_path / f"{q}.mp4", frames, quality=q)
        sizes.append((tmp_path / f"{q}.mp4").stat().st_size)
        scores.append(psnr(frames, list(open_driver(tmp_path / f"{q}.mp4"))))
    assert sizes[0] > sizes[1] > sizes[2]
    assert scores[0] > scores[1] > scores[2]
    with pytest.raises(ValueError):
        VideoWriter(tmp_path / "x.mp4", 25, quality="best")


def test_bad_frames_and_types_are_refused(tmp_path):
    with pytest.raises(OutputError) as ei:
        VideoWriter(tmp_path / "clip.avi", 25, (64, 48))
    one_line(ei.value, "clip.avi")
    with pytest.raises(ValueError):
        VideoWriter(tmp_path / "clip.mp4", 0, (64, 48))
    with pytest.raises(ValueError), VideoWriter(tmp_path / "clip.mp4", 25, (64, 48)) as vw:
        vw.write(np.zeros((48, 64, 3), np.float32))
    with pytest.raises(ValueError), VideoWriter(tmp_path / "clip.mp4", 25, (64, 48)) as vw:
        vw.write(np.zeros((50, 64, 3), np.uint8))
    with pytest.raises(OutputError):  # a clean exit without frames saves nothing
        with VideoWriter(tmp_path / "clip.mp4", 25, (64, 48)):
            pass
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------------- audio


def test_audio_is_muxed_and_trimmed_to_the_video(tmp_path, av_clip):
    assert probe_video(av_clip).has_audio and probe_audio(av_clip) == "aac"
    out = tmp_path / "with_audio.mp4"
    vw = write_video(out, synthetic_frames(30, 64, 48), 25.0, audio_from=av_clip)
    assert vw.result.has_audio
    pr = probe_video(out)
    assert pr.has_audio and pr.audio_codec == "aac"
    assert pr.frame_count == 30
    assert pr.duration == pytest.approx(1.2, abs=0.06)  # 2 s of audio cut to 30 frames at 25 fps
    assert leftovers(tmp_path) == ["with_audio.mp4"]


def test_audio_from_a_file_without_audio_gives_a_silent_video(tmp_path):
    silent = tmp_path / "silent.mp4"
    write_video(silent, synthetic_frames(10))
    vw = write_video(tmp_path / "out.mkv", synthetic_frames(10), audio_from=silent)
    assert not vw.result.has_audio and not probe_video(tmp_path / "out.mkv").has_audio
    with pytest.raises(InputError) as ei:
        VideoWriter(tmp_path / "x.mp4", 25, (64, 48), audio_from=tmp_path / "missing.mp4")
    one_line(ei.value, "missing.mp4")


def test_audio_of_a_real_clip_is_kept(tmp_path, faces_dir):
    clip = faces_dir / "videos" / "liveportrait_d12.mp4"  # AAC, 7.3 s
    assert open_driver(clip).has_audio
    out = tmp_path / "drive.mp4"
    write_video(out, synthetic_frames(20, 64, 48), 25.0, audio_from=clip)
    pr = probe_video(out)
    assert pr.has_audio and pr.frame_count == 20 and pr.duration < 1.0


# ---------------------------------------------------------------------- real clips

REAL_CLIPS = {  # name: has an audio track (checked with ffmpeg -i)
    "liveportrait_d0.mp4": False,
    "liveportrait_d12.mp4": True,
    "tpsmm_driving.mp4": True,  # audio is stream 0, video stream 1
}


@pytest.mark.parametrize("name", sorted(REAL_CLIPS))
def test_real_clip_matches_the_index(faces_dir, name):
    rows = {r["file"]: r for r in csv.DictReader((faces_dir / "index.csv").open())}
    row = rows[f"videos/{name}"]
    d = open_driver(faces_dir / "videos" / name)
    assert d.frame_count_exact and d.frame_count == int(row["frames"])
    assert d.fps == pytest.approx(float(row["fps"]))
    assert d.size == (int(row["width"]), int(row["height"]))
    assert d.has_audio is REAL_CLIPS[name]
    if name == "liveportrait_d0.mp4":  # the shortest: decode it all
        n = 0
        for f in d:
            assert f.shape == (d.size[1], d.size[0], 3) and f.dtype == np.uint8
            n += 1
        assert n == d.frame_count


@pytest.mark.parametrize(
    "ext, codec_args",
    [
        ("webm", ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k"]),
        ("avi", ["-c:v", "mpeg4"]),
        ("mov", ["-c:v", "libx264", "-preset", "ultrafast"]),
        ("mkv", ["-c:v", "libx264", "-preset", "ultrafast"]),
        ("m4v", ["-c:v", "libx264", "-preset", "ultrafast", "-f", "mp4"]),
    ],
)
def test_other_containers_are_read(tmp_path, ext, codec_args):
    clip = tmp_path / f"clip.{ext}"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=80x60:rate=15", "-frames:v", "12", *codec_args, str(clip))
    d = open_driver(clip)
    assert (d.fps, d.frame_count, d.frame_count_exact, d.size) == (15.0, 12, True, (80, 60))
    assert len(list(d)) == 12


@pytest.mark.parametrize("ext", [".mov", ".m4v", ".mkv"])
def test_other_output_containers(tmp_path, ext):
    write_video(tmp_path / f"out{ext}", synthetic_frames(8))
    assert open_driver(tmp_path / f"out{ext}").frame_count == 8


def test_rotated_clip_is_delivered_upright(tmp_path):
    plain = tmp_path / "plain.mp4"
    write_video(plain, synthetic_frames(5, 64, 48))
    rotated = tmp_path / "rotated.mp4"
    ffmpeg("-display_rotation", "90", "-i", str(plain), "-c", "copy", str(rotated))
    d = open_driver(rotated)
    assert d.size == (48, 64)
    frames = list(d)
    assert len(frames) == 5 and frames[0].shape == (64, 48, 3)


def test_gif_with_uneven_delays_uses_the_average_rate(tmp_path):
    frames = synthetic_frames(10, 64, 48)
    delays = [40, 40, 100, 100, 200, 200, 60, 60, 100, 100]  # ms, 1.0 s in all
    gif = tmp_path / "uneven.gif"
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(gif, save_all=True, append_images=ims[1:], duration=delays, loop=0)
    d = open_driver(gif)
    assert d.frame_count == 10 and d.fps == pytest.approx(10.0)  # 10 frames / 1.0 s
    back = list(d)
    assert len(back) == 10 and back[0].shape == (48, 64, 3)  # each frame once, none duplicated


# ---------------------------------------------------------------------- frame folders


def test_frame_folder_natural_order_and_fps(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in [10, 2, 1, 12, 3, 11, 4, 9, 5, 8, 6, 7]:  # created out of order
        Image.fromarray(np.full((32, 40, 3), i * 20, np.uint8)).save(folder / f"frame{i}.png")
    (folder / "notes.txt").write_text("not a frame")
    (folder / ".hidden.png").write_bytes(b"junk")
    d = open_driver(folder)
    assert (d.kind, d.frame_count, d.size, d.has_audio) == ("frames", 12, (40, 32), False)
    assert d.fps == DEFAULT_FOLDER_FPS == 25.0
    assert [int(f[0, 0, 0]) // 20 for f in d] == list(range(1, 13))  # frame2 before frame10
    assert open_driver(folder, fps=12.5).fps == 12.5


def test_frame_folder_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError) as ei:
        open_driver(empty)
    one_line(ei.value, "empty")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(np.zeros((32, 40, 3), np.uint8)).save(mixed / "f1.png")
    Image.fromarray(np.zeros((32, 40, 3), np.uint8)).save(mixed / "f2.png")
    Image.fromarray(np.zeros((36, 40, 3), np.uint8)).save(mixed / "f3.png")
    with pytest.raises(InputError) as ei:
        open_driver(mixed)
    one_line(ei.value, "f3.png")
    assert "40x36" in str(ei.value)


def test_frame_folder_writer_round_trip_and_overwrite(tmp_path):
    frames = synthetic_frames(12, 40, 32)
    out = tmp_path / "out"
    with FrameFolderWriter(out) as fw:
        for f in frames:
            fw.write(f)
    assert fw.result.frames == 12 and fw.result.size == (40, 32)
    assert sorted(p.name for p in out.iterdir())[:2] == ["frame_000001.png", "frame_000002.png"]
    assert leftovers(tmp_path) == ["out"]
    back = list(open_driver(out))
    assert all(np.array_equal(a, b) for a, b in zip(frames, back, strict=True))  # PNG: lossless

    with pytest.raises(OutputError) as ei:
        FrameFolderWriter(out)
    one_line(ei.value, "out")
    with FrameFolderWriter(out, overwrite=True) as fw:
        fw.write(frames[0])
    assert [p.name for p in out.iterdir()] == ["frame_000001.png"]
    assert leftovers(tmp_path) == ["out"]

    ready = tmp_path / "ready"  # an existing empty folder is simply filled
    ready.mkdir()
    with FrameFolderWriter(ready) as fw:
        fw.write(frames[0])
    assert len(list(ready.iterdir())) == 1


# ---------------------------------------------------------------------- all or nothing


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("kind", ["video", "video+audio", "folder"])
def test_interrupted_writing_leaves_nothing(tmp_path, av_clip, kind, error):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / ("frames" if kind == "folder" else "clip.mp4")
    if kind == "folder":
        writer = FrameFolderWriter(target)
    else:
        writer = VideoWriter(target, 25.0, (64, 48), audio_from=av_clip if kind == "video+audio" else None)
    with pytest.raises(error):
        with writer as w:
            for f in synthetic_frames(10):
                w.write(f)
            raise error("stop")
    assert leftovers(out_dir) == []  # no output and no temporary file or folder


def test_existing_output_is_refused_or_replaced_atomically(tmp_path):
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"precious")
    with pytest.raises(OutputError) as ei:
        VideoWriter(target, 25.0, (64, 48))
    one_line(ei.value, "clip.mp4")
    assert "already exists" in str(ei.value)
    # A failed replacement keeps the old file.
    with pytest.raises(RuntimeError), VideoWriter(target, 25.0, (64, 48), overwrite=True) as vw:
        vw.write(synthetic_frames(1)[0])
        raise RuntimeError("stop")
    assert target.read_bytes() == b"precious"
    write_video(target, synthetic_frames(5), overwrite=True)
    assert open_driver(target).frame_count == 5
    assert leftovers(tmp_path) == ["clip.mp4"]


# ---------------------------------------------------------------------- bad inputs


def _bad_inputs(tmp: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    (tmp / "noise.mp4").write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    (tmp / "empty.mp4").write_bytes(b"")
    (tmp / "text.mov").write_text("hello, I am not a video\n" * 100)
    (tmp / "notes.txt").write_text("hello")
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp / "still.png")
    good = tmp / "good.mp4"
    write_video(good, synthetic_frames(30))
    data = good.read_bytes()
    (tmp / "truncated.mp4").write_bytes(data[: len(data) // 2])  # (+faststart: index first)
    (tmp / "headless.mp4").write_bytes(data[len(data) // 2 :])
    return {n: tmp / n for n in ["noise.mp4", "empty.mp4", "text.mov", "notes.txt", "still.png", "truncated.mp4", "headless.mp4", "missing.mp4"]}


def test_bad_driver_inputs_give_one_line_errors(tmp_path):
    for name, path in _bad_inputs(tmp_path).items():
        with pytest.raises(InputError) as ei:
            d = open_driver(path)
            list(d)  # (should fail before this)
        one_line(ei.value, name)


# ---------------------------------------------------------------------- memory


def test_memory_stays_flat_while_iterating_a_long_video(long_clip):
    d = open_driver(long_clip)
    assert d.frame_count == 600 and d.size == (256, 256)
    it = iter(d)
    for _ in range(50):  # warm up: allocator pools, pipe buffers
        next(it)
    start = peak = vm_rss_kib()
    n = 50
    for i, f in enumerate(it):
        n += 1
        if i % 25 == 0:
            peak = max(peak, vm_rss_kib())
    assert n == 600
    # 550 more frames of 192 KiB would be 103 MiB if kept; allow 20 MiB of noise.
    assert peak - start < 20 * 1024, f"RSS grew by {(peak - start) / 1024:.1f} MiB"


def test_pipeline_decode_process_encode_end_to_end(tmp_path, long_clip):
    d = open_driver(long_clip)
    out = tmp_path / "inverted.mp4"
    rss: list[int] = []

    def progress(n: int) -> None:
        if n % 50 == 0:
            rss.append(vm_rss_kib())

    with VideoWriter(out, d.fps, d.size) as vw:
        stats = run_pipeline(d, lambda f: 255 - f, vw.write, queue_size=4, on_progress=progress)
    assert stats.items == 600
    assert max(rss) - rss[0] < 20 * 1024
    assert open_driver(out).frame_count == 600


# ---------------------------------------------------------------------- stream


def _no_hang(fn, timeout: float = 10.0):
    """Run ``fn`` in a helper thread; its result or exception, failing on a hang."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "run_pipeline hung"
    assert not [th for th in threading.enumerate() if th.name.startswith("reenact-")], "stage threads left running"
    return box


def _slow(seconds: float):
    def f(x):
        time.sleep(seconds)
        return x

    return f


def test_pipeline_keeps_order_and_memory_bounded():
    state = {"made": 0, "sunk": 0, "peak": 0}
    got: list[int] = []
    progress: list[int] = []

    def frames():
        for i in range(200):
            state["made"] += 1
            state["peak"] = max(state["peak"], state["made"] - state["sunk"])
            if i % 17 == 0:
                time.sleep(0.002)
            yield i

    def sink(x):
        if x % 13 == 0:
            time.sleep(0.002)
        got.append(x)
        state["sunk"] += 1

    box = _no_hang(lambda: run_pipeline(frames(), lambda x: x * 2, sink, queue_size=3, on_progress=progress.append))
    stats = box["value"]
    assert isinstance(stats, PipelineStats) and stats.items == 200
    assert got == [2 * i for i in range(200)]
    assert progress == list(range(1, 201))
    assert state["peak"] <= 2 * 3 + 4


class Boom(Exception):
    pass


def _infinite(closed: dict):
    try:
        i = 0
        while True:
            yield i
            i += 1
    finally:
        closed["closed"] = True


def test_pipeline_decoder_error_propagates():
    sunk: list[int] = []

    def frames():
        yield from range(5)
        raise Boom("decode failed")

    box = _no_hang(lambda: run_pipeline(frames(), _slow(0.001), sunk.append))
    assert isinstance(box.get("error"), Boom)
    assert sunk == list(range(len(sunk))) and len(sunk) <= 5


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_pipeline_process_error_propagates_and_stops_the_decoder(error):
    closed: dict = {}

    def process(x):
        if x == 20:
            raise error("process failed")
        return x

    box = _no_hang(lambda: run_pipeline(_infinite(closed), process, lambda x: None, queue_size=2))
    assert isinstance(box.get("error"), error)
    assert closed.get("closed")  # the frame generator was closed (its finally ran)


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_pipeline_sink_error_propagates(error):
    closed: dict = {}
    processed: list[int] = []

    def sink(x):
        if x == 10:
            raise error("sink failed")

    def process(x):
        processed.append(x)
        return x

    t0 = time.perf_counter()
    box = _no_hang(lambda: run_pipeline(_infinite(closed), process, sink, queue_size=2))
    assert isinstance(box.get("error"), error)
    assert closed.get("closed")
    assert len(processed) < 10 + 2 * 2 + 4  # stopped soon after the failure
    assert time.perf_counter() - t0 < 5


def test_pipeline_decoder_error_is_a_one_line_input_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 5000)
    frames = iter_video(bad)  # fails on first use, inside the decode thread
    box = _no_hang(lambda: run_pipeline(frames, lambda f: f, lambda f: None))
    assert isinstance(box.get("error"), InputError)
    one_line(box["error"], "bad.mp4")
    with pytest.raises(ValueError):
        run_pipeline([], lambda x: x, lambda x: None, queue_size=0)


def _ffmpeg_children() -> list[int]:
    """Live or zombie ffmpeg processes whose parent is this process."""
    import os

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if "ffmpeg" in comm and int(rest[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def test_ctrl_c_during_a_real_pipeline_cleans_up(tmp_path, long_clip):
    """A real Ctrl-C (SIGINT semantics, in the main thread) while decoding,
    processing and encoding: KeyboardInterrupt, no output, no temp file, no
    stage thread and no ffmpeg process left."""
    import _thread

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("needs the main thread")
    d = open_driver(long_clip)
    out = tmp_path / "out"
    out.mkdir()
    timer = threading.Timer(0.5, _thread.interrupt_main)
    # (A shell starts background jobs with SIGINT ignored; interrupt_main then does nothing.)
    old_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            with VideoWriter(out / "clip.mp4", d.fps, d.size) as vw:
                timer.start()
                run_pipeline(d, _slow(0.01), vw.write, queue_size=2)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, old_handler)
    assert time.perf_counter() - started < 5
    assert leftovers(out) == []
    assert not [th for th in threading.enumerate() if th.name.startswith("reenact-")]
    assert _ffmpeg_children() == []


def test_stopping_iteration_early_stops_ffmpeg(long_clip):
    it = iter(open_driver(long_clip))
    next(it)
    assert len(_ffmpeg_children()) == 1
    it.close()
    assert _ffmpeg_children() == []
