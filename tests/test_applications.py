"""Interpolation, disentangling and driver-free edits (issue: the paper's §6)."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from reenact_cli.cli import app
from reenact_cli.face.expressions import edit_fit
from reenact_cli.face.model import Take
from reenact_cli.face.regress import MeshRegressor
from reenact_cli.media.image_io import read_image, write_image
from reenact_cli.media.video import probe_video


@pytest.fixture(scope="module")
def regressor():
    return MeshRegressor(static=True)


def measured(reenactor, regressor, crop):
    return reenactor.model.fit(regressor.detect(crop)[0].vertices)


def test_alpha_zero_is_the_source_and_one_is_drive(reenactor, hopper_source, hopper):
    drv = edit_fit(reenactor.model, hopper_source.fit, yaw=15.0, expressions={"smile": 2.0})
    zero = reenactor.drive(hopper_source, drv, Take(alpha=0.0), paste_back=False).crop
    assert np.array_equal(zero, hopper_source.face.image)
    one = reenactor.drive(hopper_source, drv, Take(alpha=1.0), paste_back=False).crop
    assert np.array_equal(one, reenactor.drive(hopper_source, drv, paste_back=False).crop)


def test_yaw_edit_turns_the_head(reenactor, regressor, faces_dir):
    # The acceptance: --yaw +-20 turns the *fitted* yaw of the output
    # (mesh regression on the output + face-model fit) by 20 +- 4 degrees, as a
    # median over the shared photos (every third, for speed: about -17.4/+17.3
    # here, -18.0/+17.9 over all 28). Single photos fall short when the source
    # is already turned far the same way (down to about 10 degrees), so each is
    # only held to the right direction and at least half the turn.
    photos = sorted(p for p in (faces_dir / "images").iterdir() if p.is_file())[::3]
    for turn in (-20.0, 20.0):
        seen = []
        for p in photos:
            src = reenactor.source(read_image(p), p.name)
            out = reenactor.drive(src, edit_fit(reenactor.model, src.fit, yaw=turn), paste_back=False).crop
            seen.append(measured(reenactor, regressor, out).pose.euler()[0] - src.fit.pose.euler()[0])
        assert np.all(np.sign(seen) == np.sign(turn)) and np.all(np.abs(seen) >= 0.45 * abs(turn)), seen
        assert abs(np.median(seen) - turn) <= 4.0, (turn, np.median(seen), seen)


@pytest.fixture(scope="module")
def turned_pair(reenactor, faces_dir):
    """The first photo pair (sorted, driver 5 places on) whose yaws differ by >= 15 degrees."""
    photos = sorted(p for p in (faces_dir / "images").iterdir() if p.is_file())
    for i, s in enumerate(photos):
        d = photos[(i + 5) % len(photos)]
        src = reenactor.source(read_image(s), s.name)
        drv = reenactor.driver(read_image(d), d.name)
        if abs(drv.fit.pose.euler()[0] - src.fit.pose.euler()[0]) >= 15.0:
            return src, drv
    pytest.skip("no pair turned 15 degrees apart")


def test_sweep_yaw_is_monotonic(reenactor, regressor, turned_pair):
    src, drv = turned_pair
    yaws = [
        measured(reenactor, regressor, reenactor.drive(src, drv, Take(alpha=a), paste_back=False).crop).pose.euler()[0]
        for a in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    steps = np.diff(yaws) * np.sign(drv.fit.pose.euler()[0] - src.fit.pose.euler()[0])
    assert np.all(steps > 0), yaws


def test_pose_only_and_expression_only(reenactor, regressor, turned_pair):
    src, drv = turned_pair
    pose_only = measured(reenactor, regressor, reenactor.drive(src, drv, Take(pose=True, expression=False), paste_back=False).crop)
    err = (pose_only.pose.euler() - drv.fit.pose.euler() + 180.0) % 360.0 - 180.0
    assert np.abs(err).max() <= 5.0, err
    assert np.linalg.norm(pose_only.c_exp - src.fit.c_exp) < np.linalg.norm(pose_only.c_exp - drv.fit.c_exp)
    exp_only = measured(reenactor, regressor, reenactor.drive(src, drv, Take(pose=False, expression=True), paste_back=False).crop)
    err = (exp_only.pose.euler() - src.fit.pose.euler() + 180.0) % 360.0 - 180.0
    assert np.abs(err).max() <= 3.0, err


def test_commands_write_what_the_suffix_says(tmp_path, hopper, hopper_path):
    driver = tmp_path / "driver.png"
    write_image(driver, np.ascontiguousarray(hopper[:, ::-1]))
    run = CliRunner().invoke
    res = run(app, ["interpolate", str(hopper_path), str(driver), "--steps", "4", "-o", str(tmp_path / "s.png")])
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "s.png").shape == (256, 4 * 256 + 3 * 4, 3)
    res = run(app, ["interpolate", str(hopper_path), str(driver), "--alphas", "0,0.5,1", "--loop", "-o", str(tmp_path / "s.mp4")])
    assert res.exit_code == 0, res.output
    assert probe_video(tmp_path / "s.mp4").frame_count == 4  # 0, .5, 1, .5
    res = run(app, ["interpolate", str(hopper_path), str(driver), "--steps", "3", "--what", "pose", "-o", str(tmp_path / "frames")])
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "frames").iterdir())) == 3
    res = run(app, ["interpolate", str(hopper_path), str(driver), "--steps", "3", "-o", str(tmp_path / "a.gif")])
    assert res.exit_code == 0 and (tmp_path / "a.gif").stat().st_size > 0
    res = run(app, ["disentangle", str(hopper_path), str(driver), "--sheet", "-o", str(tmp_path / "sheet.png")])
    assert res.exit_code == 0, res.output
    assert read_image(tmp_path / "sheet.png").shape[1] >= 5 * 256
    res = run(app, ["disentangle", str(hopper_path), str(driver), "--take", "pose", "-o", str(tmp_path / "p.png")])
    assert res.exit_code == 0 and read_image(tmp_path / "p.png").shape == hopper.shape
    res = run(app, ["edit", str(hopper_path), "--yaw", "10", "--expression", "smile=2", "-o", str(tmp_path / "e.png")])
    assert res.exit_code == 0, res.output
    res = run(app, ["edit", str(hopper_path), "--expression", "frown=1", "-o", str(tmp_path / "f.png")])
    assert res.exit_code == 2 and "unknown expression" in res.output
    res = run(app, ["interpolate", str(hopper_path), str(driver), "--what", "hair", "-o", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "--what" in res.output
