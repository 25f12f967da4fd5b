"""`reenact drive` with video and frame-folder drivers (real clip, short)."""
from __future__ import annotations

import itertools
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from reenact_cli.cli import app
from reenact_cli.media.image_io import write_image
from reenact_cli.media.video import ffmpeg_exe, iter_video, probe_video

CLIP = "tpsmm_driving.mp4"  # 25 fps, has an AAC track
FRAMES = 30


@pytest.fixture(scope="module")
def short_clip(faces_dir, tmp_path_factory):
    """The first 30 frames (1.2 s) of a real clip, with its audio."""
    src = faces_dir / "videos" / CLIP
    if not src.is_file():
        pytest.skip(f"{src} not found")
    out = tmp_path_factory.mktemp("clip") / "talk 1.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-i", str(src), "-frames:v", str(FRAMES), "-t", "1.2",
         "-c:v", "libx264", "-crf", "14", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)],
        check=True,
    )
    return out


def test_video_driver_keeps_frames_fps_and_audio(tmp_path, hopper_path, hopper, short_clip):
    out = tmp_path / "out.mp4"
    res = CliRunner().invoke(app, ["drive", str(hopper_path), str(short_clip), "-o", str(out)])
    assert res.exit_code == 0, res.output
    probe = probe_video(out)
    assert probe.frame_count == FRAMES and probe.fps == 25.0
    assert probe.has_audio
    assert probe.size == (hopper.shape[1], hopper.shape[0])
    assert "30 frames at 25 fps" in res.output


def test_frame_folder_driver_with_faceless_frames(tmp_path, hopper_path, short_clip):
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = list(itertools.islice(iter_video(short_clip), 12))
    blank = np.full_like(frames[0], 90)
    sequence = frames[:6] + [blank] * 3 + frames[6:]
    for i, f in enumerate(sequence):  # natural order: frame2 before frame10
        write_image(folder / f"frame{i}.png", f)
    out = tmp_path / "out_frames"
    res = CliRunner().invoke(app, ["drive", str(hopper_path), str(folder), "-o", str(out), "--frames", "--no-paste-back", "--fps", "10"])
    assert res.exit_code == 0, res.output
    written = sorted(out.iterdir())
    assert len(written) == len(sequence)
    assert "3 driver frames had no face" in res.output


def test_relative_motion_from_a_later_reference(tmp_path, hopper_path, short_clip):
    out = tmp_path / "rel.mp4"
    res = CliRunner().invoke(app, ["drive", str(hopper_path), str(short_clip), "-o", str(out), "--motion", "relative", "--reference", "5", "--no-paste-back"])
    assert res.exit_code == 0, res.output
    assert probe_video(out).frame_count == FRAMES


def test_interrupted_run_leaves_nothing(tmp_path, hopper_path, short_clip, monkeypatch):
    from reenact_cli.pipeline import Reenactor

    calls = {"n": 0}
    real_drive = Reenactor.drive

    def drive_then_interrupt(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return real_drive(self, *args, **kwargs)

    monkeypatch.setattr(Reenactor, "drive", drive_then_interrupt)
    out = tmp_path / "out.mp4"
    res = CliRunner().invoke(app, ["drive", str(hopper_path), str(short_clip), "-o", str(out)])
    assert res.exit_code == 130
    assert list(tmp_path.iterdir()) == [], "no output and no temporary file"


def test_driver_without_any_face(tmp_path, hopper_path):
    folder = tmp_path / "blank"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"{i}.png", np.full((64, 64, 3), 128, np.uint8))
    out = tmp_path / "x.mp4"
    res = CliRunner().invoke(app, ["drive", str(hopper_path), str(folder), "-o", str(out)])
    assert res.exit_code == 3 and "no face in any frame" in res.output
    assert not out.exists()


def test_video_bench_reports_fps_and_memory(short_clip):
    import json

    res = CliRunner().invoke(app, ["bench", "--video", str(short_clip), "--loops", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout[res.stdout.index("{") :])
    assert data["frames"] == 2 * FRAMES
    assert data["fps"] > 0 and data["peak_rss_mb"] > 0


def test_grid_video_for_two_sources(tmp_path, hopper_path, hopper, short_clip):
    second = tmp_path / "second.png"
    write_image(second, np.ascontiguousarray(hopper[:, ::-1]))
    out = tmp_path / "grid.mp4"
    res = CliRunner().invoke(app, ["drive", str(hopper_path), str(second), str(short_clip), "--grid", "-o", str(out)])
    assert res.exit_code == 0, res.output
    probe = probe_video(out)
    assert probe.frame_count == FRAMES and probe.has_audio
    assert probe.size[1] > 3 * 256  # driver row + two source rows


def test_video_run_counts_frames_that_turn_far(tmp_path, hopper_path, short_clip, monkeypatch):
    """Every written frame's head turn is collected; with the threshold lowered
    below this clip's turns the summary names them, and relative motion drops
    the hint to use it."""
    from reenact_cli.tasks import notices

    monkeypatch.setattr(notices, "LARGE_TURN_DEG", 0.01)
    out = tmp_path / "turns.mp4"
    res = CliRunner().invoke(app, ["drive", str(hopper_path), str(short_clip), "-o", str(out), "--no-paste-back"])
    assert res.exit_code == 0, res.output
    assert f"of {FRAMES} frames the head turns more than 0°" in res.output and "--motion relative" in res.output
    rel = CliRunner().invoke(app, ["drive", str(hopper_path), str(short_clip), "-o", str(tmp_path / "rel.mp4"), "--no-paste-back", "--motion", "relative"])
    assert rel.exit_code == 0, rel.output
    assert "--motion relative" not in rel.output
    monkeypatch.setattr(notices, "LARGE_TURN_DEG", 179.0)
    quiet = CliRunner().invoke(app, ["drive", str(hopper_path), str(short_clip), "-o", str(tmp_path / "q.mp4"), "--no-paste-back"])
    assert quiet.exit_code == 0 and "note:" not in quiet.output
