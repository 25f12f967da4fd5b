"""Notes after a run: large head turns are named, small ones are not."""
from __future__ import annotations

import numpy as np
import pytest

from reenact_cli.face.model import Take
from reenact_cli.face.pose import rotation_angle_deg
from reenact_cli.tasks.notices import LARGE_TURN_DEG, large_turn_note, large_turn_video_note


def test_photo_note_only_past_the_threshold():
    assert large_turn_note(LARGE_TURN_DEG - 0.5) is None
    assert large_turn_note(0.0) is None
    note = large_turn_note(46.2, "me.jpg")
    assert note.startswith("note: me.jpg: the head turns 46°") and "\n" not in note
    assert "How well it works" in note


def test_video_note_counts_frames_and_hints_relative_motion_only_when_absolute():
    turns = [5.0, 31.0, 12.0, 38.4, 29.9]
    note = large_turn_video_note(turns)
    assert "in 2 of 5 frames" in note and "up to 38°" in note and "--motion relative" in note
    assert "--motion relative" not in large_turn_video_note(turns, relative=True)
    assert large_turn_video_note([1.0, 29.0]) is None
    assert large_turn_video_note([]) is None


def test_drive_result_reports_the_turn_it_composed(reenactor, hopper_source, hopper):
    """Self-drive turns nothing; a mirrored driver turns the head by the angle
    between the two fitted rotations, and alpha 0.5 by about half of it."""
    same = reenactor.drive(hopper_source, reenactor.driver(hopper, "self"), paste_back=False)
    assert same.head_turn_deg == pytest.approx(0.0, abs=1e-3)
    mirrored = reenactor.driver(np.ascontiguousarray(hopper[:, ::-1]), "mirrored")
    full = reenactor.drive(hopper_source, mirrored, paste_back=False)
    expected = rotation_angle_deg(hopper_source.fit.pose.rotation, mirrored.fit.pose.rotation)
    assert full.head_turn_deg == pytest.approx(expected, abs=1e-6) and expected > 1.0
    half = reenactor.drive(hopper_source, mirrored, Take(alpha=0.5), paste_back=False)
    assert half.head_turn_deg == pytest.approx(expected / 2, rel=1e-3)
    still = reenactor.drive(hopper_source, mirrored, Take(pose=False), paste_back=False)
    assert still.head_turn_deg == pytest.approx(0.0, abs=1e-3)


def test_drive_command_names_a_large_turn(tmp_path, faces_dir):
    """The largest turn of the photo acceptance sheet gets the note; a pair
    posed alike does not."""
    from typer.testing import CliRunner

    from reenact_cli.cli import app

    images = faces_dir / "images"
    runner = CliRunner()
    res = runner.invoke(app, ["drive", str(images / "deep3dfacerecon_015259.jpg"), str(images / "deep3dfacerecon_vd034.png"),
                              "-o", str(tmp_path / "turned.png"), "--no-paste-back"])
    assert res.exit_code == 0, res.output
    assert "note: the head turns" in res.output
    res = runner.invoke(app, ["drive", str(images / "deep3dfacerecon_015259.jpg"), str(images / "deep3dfacerecon_015259.jpg"),
                              "-o", str(tmp_path / "same.png"), "--no-paste-back"])
    assert res.exit_code == 0, res.output
    assert "note:" not in res.output


def test_batch_and_photo_summaries_name_only_far_turns(tmp_path):
    from reenact_cli.tasks.drive import BatchSummary, DriveSummary
    from reenact_cli.tasks.drive_video import VideoDriveSummary

    batch = BatchSummary([tmp_path / "a.png", tmp_path / "b.png"], [], {"a.jpg": 12.0, "b.jpg": 41.0})
    notes = batch.notes()
    assert len(notes) == 1 and notes[0].startswith("note: b.jpg: the head turns 41°")
    assert DriveSummary(tmp_path / "x.png", 10.0).notes() == []
    assert len(DriveSummary(tmp_path / "x.png", 35.0).notes()) == 1
    video = VideoDriveSummary(tmp_path / "v.mp4", 3, 0, 1.0, 25.0, [10.0, 33.0, 40.0], relative_motion=True)
    assert video.notes() == [large_turn_video_note([10.0, 33.0, 40.0], relative=True)]
