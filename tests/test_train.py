"""`reenact train` on real clips (issue 5): the tiny config learns (losses
fall), checkpoints round-trip, --resume continues, Ctrl-C and NaN are handled,
torchrun with two processes keeps both ranks' weights identical, and
`drive --checkpoint` uses the result."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from reenact_cli.cli import app
from reenact_cli.errors import InputError, OutputError
from reenact_cli.models.checkpoint import load_checkpoint, load_generator
from reenact_cli.models.config import tiny
from reenact_cli.train.prepare import PrepareConfig, prepare_dataset
from reenact_cli.train.trainer import TrainingError, TrainingInterrupted, TrainOptions, train

CLIPS = ("train/lipnet_bbaf2n.mp4", "train/pcavs_00015.mp4")


@pytest.fixture(scope="module")
def dataset(faces_dir, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ds") / "tiny64"
    prepare_dataset([faces_dir / c for c in CLIPS], root, PrepareConfig(size=64, every=3, max_frames=12, workers=1))
    return root


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def loss_series(run: Path, key: str) -> list[float]:
    return [r[key] for r in records(run) if key in r]


def opts(dataset: Path, run: Path, **kw) -> TrainOptions:
    base = dict(steps=30, perceptual="random", workers=0, log_every=1, sample_every=0, checkpoint_every=1000, device="cpu")
    base.update(kw)
    return TrainOptions(dataset, run, tiny(), **base)


@pytest.fixture(scope="module")
def regressor_run(dataset, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "reg"
    train(opts(dataset, run, stage="regressor", steps=80, batch_size=8))
    return run


@pytest.fixture(scope="module")
def generator_run(dataset, regressor_run, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "gen"
    torch.manual_seed(0)
    summary = train(opts(dataset, run, steps=30, regressor=regressor_run / "last.pt", sample_every=30))
    assert summary.last_step == 30 and summary.steps_per_second > 0
    return run


def test_regressor_learns_the_fits(regressor_run):
    l1 = loss_series(regressor_run, "l1")
    assert len(l1) == 80
    assert np.mean(l1[-10:]) < 0.8 * np.mean(l1[:10]), l1
    ckpt = load_checkpoint(regressor_run / "last.pt")
    assert set(ckpt.modules) == {"regressor"} and ckpt.training["step"] == 80


def test_generator_reconstruction_loss_falls(generator_run):
    rec = loss_series(generator_run, "g_rec")
    assert len(rec) == 30
    assert np.mean(rec[-5:]) < 0.85 * np.mean(rec[:5]), rec
    assert all(np.isfinite(loss_series(generator_run, "g_coef")))
    assert loss_series(generator_run, "g_coef")[0] > 0  # the frozen regressor is in the loss
    start = records(generator_run)[0]
    assert start["event"] == "start" and start["perceptual"] == "random"  # logged loudly
    sheet = generator_run / "samples" / "step_0000030.png"
    assert sheet.is_file()


def test_checkpoint_round_trip_and_drive(generator_run, hopper_path, hopper, tmp_path):
    from reenact_cli.face.model import load_face_model
    from reenact_cli.media.image_io import read_image, write_image

    ckpt = load_checkpoint(generator_run / "last.pt")
    assert set(ckpt.modules) == {"generator", "critic"}
    assert ckpt.training["step"] == 30 and set(ckpt.training["optimisers"]) == {"generator", "critic"}
    net, _ = load_generator(generator_run / "last.pt", load_face_model())
    assert not torch.equal(net.motion_net.decoder.head.weight, torch.zeros_like(net.motion_net.decoder.head.weight))
    drv = tmp_path / "mirrored.png"
    write_image(drv, np.ascontiguousarray(hopper[:, ::-1]))
    out = tmp_path / "learned.png"
    res = CliRunner().invoke(app, ["drive", str(hopper_path), str(drv), "-o", str(out), "--checkpoint", str(generator_run / "last.pt")])
    assert res.exit_code == 0, res.stderr
    assert read_image(out).shape == hopper.shape


def test_resume_continues_the_step_count(dataset, generator_run, regressor_run, tmp_path):
    import shutil

    run = tmp_path / "resumed"
    shutil.copytree(generator_run, run)
    summary = train(opts(dataset, run, steps=36, regressor=regressor_run / "last.pt", resume=True))
    assert (summary.first_step, summary.last_step) == (30, 36)
    recs = records(run)
    resumed = [r for r in recs if r.get("event") == "resume"]
    assert resumed and resumed[0]["step"] == 30
    assert [r["step"] for r in recs if "g_rec" in r][-6:] == [31, 32, 33, 34, 35, 36]
    assert load_checkpoint(run / "last.pt").training["step"] == 36
    with pytest.raises(OutputError, match="already holds a run"):
        train(opts(dataset, run, steps=40, regressor=regressor_run / "last.pt"))
    with pytest.raises(InputError, match="not a 'regressor' training checkpoint"):
        train(opts(dataset, run, steps=40, stage="regressor", resume=True))


def test_nan_loss_stops_with_the_step(dataset, tmp_path, monkeypatch):
    from reenact_cli.train import losses

    calls = {"n": 0}
    real_forward = losses.PerceptualLoss.forward

    def poisoned(self, output, target):
        calls["n"] += 1
        value = real_forward(self, output, target)
        return value * float("nan") if calls["n"] == 3 else value

    monkeypatch.setattr(losses.PerceptualLoss, "forward", poisoned)
    run = tmp_path / "nan"
    with pytest.raises(TrainingError, match=r"step 2: loss 'rec' is nan"):
        train(replace(opts(dataset, run, steps=10), config=_no_coef()))
    assert not (run / "last.pt").exists()  # nothing saved past the last good state


def _no_coef():
    cfg = tiny()
    return replace(cfg, train=replace(cfg.train, losses=replace(cfg.train.losses, coef=0.0)))


def test_ctrl_c_saves_and_resumes(dataset, tmp_path, monkeypatch):
    from reenact_cli.train import trainer

    real_step = trainer.RegressorStage.step

    def interrupting(self, step, batch):
        if step == 4:
            raise KeyboardInterrupt
        return real_step(self, step, batch)

    monkeypatch.setattr(trainer.RegressorStage, "step", interrupting)
    run = tmp_path / "ctrlc"
    with pytest.raises(TrainingInterrupted, match="interrupted at step 4"):
        train(opts(dataset, run, stage="regressor", steps=10))
    assert load_checkpoint(run / "last.pt").training["step"] == 4
    monkeypatch.setattr(trainer.RegressorStage, "step", real_step)
    summary = train(opts(dataset, run, stage="regressor", steps=10, resume=True))
    assert (summary.first_step, summary.last_step) == (4, 10)


def test_generator_needs_the_regressor_or_no_coef_loss(dataset, tmp_path):
    with pytest.raises(InputError, match="--stage regressor"):
        train(opts(dataset, tmp_path / "r", steps=2))


def test_cli_train_without_vgg_weights_names_the_option(dataset, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    res = CliRunner().invoke(app, ["train", str(dataset), "-o", str(tmp_path / "run"), "--config", "tiny", "--no-coef-loss", "--steps", "2", "--workers", "0"])
    assert res.exit_code == 2
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--vgg-weights" in lines[0] and "Traceback" not in res.stderr


def test_cli_size_mismatch_is_one_line(dataset, tmp_path):
    res = CliRunner().invoke(app, ["train", str(dataset), "-o", str(tmp_path / "run"), "--config", "paper", "--stage", "regressor", "--steps", "2", "--workers", "0"])
    assert res.exit_code == 2
    assert "prepared at 64 px" in res.stderr and "--size 256" in res.stderr


def test_torchrun_two_processes_keep_identical_weights(dataset, tmp_path):
    run = tmp_path / "ddp"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "reenact_cli.cli",
         "train", str(dataset), "-o", str(run), "--config", "tiny", "--no-coef-loss", "--perceptual", "random",
         "--steps", "4", "--workers", "0", "--device", "cpu", "--log-every", "1", "--sample-every", "0"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    recs = records(run)
    assert recs[0]["world_size"] == 2
    end = [r for r in recs if r.get("event") == "end"][0]
    assert len(end["rank_weights"]) == 2 and end["rank_weights"][0] == end["rank_weights"][1]
    assert load_checkpoint(run / "last.pt").training["world_size"] == 2
    assert "steps/s, 2 process(es)" in proc.stderr
