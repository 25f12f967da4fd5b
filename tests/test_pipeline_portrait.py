"""The core path end to end on the public-domain portrait inside matplotlib
(runs everywhere, with or without ../shared/faces)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from reenact_cli.cli import app
from reenact_cli.eval.transfer import mouth_shape
from reenact_cli.face.expressions import edit_fit
from reenact_cli.face.regress import MeshRegressor
from reenact_cli.media.image_io import read_image, write_image
from reenact_cli.tasks.drive import STAGE_FILES


@pytest.fixture(scope="module")
def regressor():
    return MeshRegressor(static=True)


def test_self_drive_is_bit_identical(reenactor, hopper_source, hopper):
    driver = reenactor.driver(hopper)
    result = reenactor.drive(hopper_source, driver)
    assert np.array_equal(result.crop, hopper_source.face.image)
    assert np.array_equal(result.frame, hopper)


def test_head_turn_is_seen_on_the_output(reenactor, hopper_source, regressor):
    yaw0 = hopper_source.fit.pose.euler()[0]
    for turn in (-15.0, 15.0):
        drv = edit_fit(reenactor.model, hopper_source.fit, yaw=turn)
        out = reenactor.drive(hopper_source, drv, paste_back=False).crop
        seen = reenactor.model.fit(regressor.detect(out)[0].vertices).pose.euler()[0] - yaw0
        # A warp shows most of a turn (about 85 % at 15 degrees), never the wrong way.
        assert 0.6 * abs(turn) <= np.sign(turn) * seen <= 1.2 * abs(turn), (turn, seen)


def test_mouth_opens_on_the_output(reenactor, hopper_source, regressor):
    closed = mouth_shape(hopper_source.face.mesh.vertices, hopper_source.fit).opening
    drv = edit_fit(reenactor.model, hopper_source.fit, expressions={"mouth_open": 3.0})
    out = reenactor.drive(hopper_source, drv, paste_back=False)
    assert out.output.flow.mouth.any(), "a mouth the source never opened is painted"
    found = regressor.detect(out.crop)[0]
    opened = mouth_shape(found.vertices, reenactor.model.fit(found.vertices)).opening
    assert opened > closed + 0.1, (closed, opened)


def test_still_pixels_pass_through_and_outside_the_crop_is_untouched(reenactor, hopper_source, hopper):
    drv = edit_fit(reenactor.model, hopper_source.fit, yaw=12.0, expressions={"smile": 2.0})
    result = reenactor.drive(hopper_source, drv)
    moving = result.output.flow.moving
    assert moving.any() and not moving.all()
    assert np.array_equal(result.crop[~moving], hopper_source.face.image[~moving])
    x0, y0, x1, y1 = hopper_source.face.crop.frame_box()
    outside = np.ones(hopper.shape[:2], dtype=bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(result.frame[outside], hopper[outside])
    assert not np.array_equal(result.frame, hopper)


def test_drive_command_writes_photo_crop_and_stages(tmp_path, hopper, hopper_path):
    mirrored = tmp_path / "mirrored driver.png"
    write_image(mirrored, np.ascontiguousarray(hopper[:, ::-1]))
    runner = CliRunner()
    out = tmp_path / "out.png"
    res = runner.invoke(app, ["drive", str(hopper_path), str(mirrored), "-o", str(out), "--save-stages", str(tmp_path / "st")])
    assert res.exit_code == 0, res.output
    assert read_image(out).shape == hopper.shape
    for name in STAGE_FILES:
        assert (tmp_path / "st" / name).is_file(), name
    fits = json.loads((tmp_path / "st" / "fits.json").read_text())
    assert len(fits["source"]["pose_p12"]) == 12
    assert 0.0 < fits["head_turn_deg"] < 90.0  # the mirrored portrait turns the head
    obj = (tmp_path / "st" / "05_driving_mesh.obj").read_text().splitlines()
    assert sum(line.startswith("v ") for line in obj) == 468
    crop = tmp_path / "crop.png"
    res = runner.invoke(app, ["drive", str(hopper_path), str(mirrored), "-o", str(crop), "--no-paste-back", "--size", "192"])
    assert res.exit_code == 0, res.output
    assert read_image(crop).shape == (192, 192, 3)


def test_demo_command_writes_a_labelled_sheet(tmp_path):
    out = tmp_path / "demo.png"
    res = CliRunner().invoke(app, ["demo", "-o", str(out)])
    assert res.exit_code == 0, res.output
    sheet = read_image(out)
    # 3 x 3 tiles of 256 px, captions and gaps.
    assert sheet.shape[1] >= 3 * 256 and sheet.shape[0] >= 3 * 256
    res = CliRunner().invoke(app, ["demo", "-o", str(out)])
    assert res.exit_code == 4 and "already exists" in res.output


def test_bench_command_prints_every_stage(tmp_path, monkeypatch):
    from reenact_cli.pipeline import GeometricGenerator

    # The flow stage is timed through the pipeline's own generator (with the
    # face model's rigid weights and mirror map), not a bare geometric_flow.
    calls = []
    original = GeometricGenerator.flow

    def counted(self, *args):
        calls.append(self.mirror is not None and self.rigid_weights is not None)
        return original(self, *args)

    monkeypatch.setattr(GeometricGenerator, "flow", counted)
    res = CliRunner().invoke(app, ["bench", "--runs", "3", "--warmup", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert calls == [True] * 4
    data = json.loads(res.stdout[res.stdout.index("{") :])
    assert set(data["median_ms"]) == {"mesh_regression", "fit_compose", "flow", "render", "total"}
    assert "other_cpu" in data and "load_average" in data
    assert data["cpu_reference_ms"] > 0
    assert all(v > 0 for v in data["median_ms"].values())


def test_several_sources_grid_and_side_by_side(tmp_path, hopper):
    team = tmp_path / "team"
    team.mkdir()
    write_image(team / "a.png", hopper)
    write_image(team / "b.png", np.ascontiguousarray(hopper[:, ::-1]))
    write_image(team / "c.png", np.full((200, 200, 3), 128, np.uint8))  # no face: skipped
    driver = tmp_path / "driver.png"
    write_image(driver, np.ascontiguousarray(hopper[:, ::-1]))
    runner = CliRunner()
    res = runner.invoke(app, ["drive", str(team), str(driver), "-o", str(tmp_path / "outs")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "outs").iterdir()) == ["a_by_driver.png", "b_by_driver.png"]
    assert "skipped" in res.output
    res = runner.invoke(app, ["drive", str(team / "a.png"), str(team / "b.png"), str(driver), "--grid", "-o", str(tmp_path / "g.png")])
    assert res.exit_code == 0, res.output
    g = read_image(tmp_path / "g.png")
    assert g.shape[0] > 3 * 256 and 2 * 256 <= g.shape[1] < 3 * 256  # driver row + 2 source rows, 2 columns
    res = runner.invoke(app, ["drive", str(tmp_path / "team" / "*.png"), str(driver), "--side-by-side", "-o", str(tmp_path / "sbs")])
    assert res.exit_code == 0, res.output
    sbs = read_image(tmp_path / "sbs" / "a_by_driver.png")
    assert sbs.shape == (256, 3 * 256 + 8, 3)
