"""The learned generator through the CLI (issue 4): `drive --checkpoint` with a
photo, a frame folder and a batch; `info`; `bench --generator learned`; bad
checkpoints as one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from reenact_cli.cli import app
from reenact_cli.face.model import load_face_model
from reenact_cli.media.image_io import read_image, write_image
from reenact_cli.models.checkpoint import make_checkpoint, save_checkpoint
from reenact_cli.models.config import tiny
from reenact_cli.models.generator import LearnedGenerator


def run(*args):
    res = CliRunner().invoke(app, [str(a) for a in args], env={"REENACT_DEBUG": None})
    assert "Traceback" not in (res.stdout + res.stderr), res.stderr
    return res


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = load_face_model()
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(make_checkpoint(tiny(), model, {"generator": LearnedGenerator(tiny(), model)}), path)
    return path


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory, hopper):
    path = tmp_path_factory.mktemp("drv") / "mirrored.png"
    write_image(path, np.ascontiguousarray(hopper[:, ::-1]))
    return path


def test_drive_photo_with_checkpoint(tmp_path, hopper_path, hopper, mirrored, checkpoint):
    out = tmp_path / "learned.png"
    res = run("drive", hopper_path, mirrored, "-o", out, "--checkpoint", checkpoint, "--device", "cpu")
    assert res.exit_code == 0, res.stderr
    img = read_image(out)
    assert img.shape == hopper.shape
    assert not np.array_equal(img, hopper)
    crop_out = tmp_path / "crop.png"
    res = run("drive", hopper_path, mirrored, "-o", crop_out, "--checkpoint", checkpoint, "--no-paste-back")
    assert res.exit_code == 0, res.stderr
    assert read_image(crop_out).shape == (256, 256, 3)


def test_drive_frame_folder_and_batch_with_checkpoint(tmp_path, hopper_path, hopper, mirrored, checkpoint):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        write_image(frames / f"{i:03d}.png", np.ascontiguousarray(np.roll(hopper[:, ::-1], 4 * i, axis=1)))
    out = tmp_path / "frames_out"
    res = run("drive", hopper_path, frames, "--frames", "-o", out, "--checkpoint", checkpoint, "--no-paste-back")
    assert res.exit_code == 0, res.stderr
    assert len(sorted(out.glob("*.png"))) == 3
    sheet = tmp_path / "grid.png"
    res = run("drive", hopper_path, hopper_path, mirrored, "--grid", "-o", sheet, "--checkpoint", checkpoint)
    assert res.exit_code == 0, res.stderr
    assert sheet.is_file()


def test_bad_checkpoint_is_one_line(tmp_path, hopper_path, mirrored):
    junk = tmp_path / "junk.pt"
    junk.write_text("hello")
    res = run("drive", hopper_path, mirrored, "-o", tmp_path / "x.png", "--checkpoint", junk)
    assert res.exit_code == 2
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "junk.pt" in lines[0]
    assert not (tmp_path / "x.png").exists()


def test_info_counts_parameters(checkpoint):
    res = run("info", "--config", "tiny")
    assert res.exit_code == 0, res.stderr
    assert "motion net / encoder" in res.stdout and "reenacting / occlusion_net" in res.stdout
    total = sum(p.numel() for p in LearnedGenerator(tiny(), load_face_model()).parameters())
    assert f"{total:,}" in res.stdout
    res = run("info", checkpoint)
    assert res.exit_code == 0, res.stderr
    assert "weights fingerprint" in res.stdout and "tiny config" in res.stdout


def test_bench_learned_json(checkpoint):
    res = run("bench", "--generator", "learned", "--config", "tiny", "--runs", "2", "--warmup", "1", "--json", "--device", "cpu")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    for stage in ("mesh_regression", "motion_net", "occlusion_net", "encoder", "decoder", "total"):
        assert data["median_ms"][stage] > 0
    assert data["size"] == 64 and data["device"] == "cpu"
    assert data["parameters"]["total"] > 0
    assert data["cpu_reference_ms"] > 0
    res = run("bench", "--checkpoint", checkpoint, "--runs", "1", "--warmup", "0")
    assert res.exit_code == 0, res.stderr
    assert "motion net" in res.stdout and "paper, 2080 Ti" in res.stdout
    assert "host speed: a fixed Python loop took" in res.stderr


def test_eval_scores_the_learned_generator(faces_dir, checkpoint, tmp_path):
    """`reenact eval --checkpoint` adds a 'learned' method with the weights' fingerprint."""
    from reenact_cli.models.checkpoint import load_checkpoint

    photos = sorted((faces_dir / "images").iterdir())[:3]
    report = tmp_path / "cross.json"
    res = run("eval", *photos, "--protocol", "cross", "--cross-pairs", 2, "--no-baselines", "-o", tmp_path / "cross",
              "--json", report, "--checkpoint", checkpoint, "--device", "cpu")
    assert res.exit_code == 0, res.stderr
    rep = json.loads(report.read_text())
    methods = {m["name"]: m for m in rep["methods"]}
    assert set(methods) == {"geometric", "learned"}
    assert methods["learned"]["fingerprint"] == load_checkpoint(checkpoint).fingerprint()
    assert rep["aggregate"]["learned"]["samples"] == 2
    assert "learned" in res.stdout
