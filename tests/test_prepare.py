"""`reenact prepare` and the pair dataset, on real clips from shared/faces/train."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from reenact_cli.errors import InputError, OutputError
from reenact_cli.face.model import load_face_model
from reenact_cli.train.dataset import PairDataset, done_clip_ids
from reenact_cli.train.prepare import PrepareConfig, prepare_dataset
from reenact_cli.train.store import GEOMETRY, ClipGeometry, Manifest, clip_dir, frame_path

VIDEO = "train/lipnet_bbaf2n.mp4"  # 360x288, 75 frames
FRAMES_FROM = "train/pcavs_00015.mp4"  # 224x224: written out as a folder of frames
CONFIG = PrepareConfig(size=128, every=3, max_frames=5, workers=1)


@pytest.fixture(scope="module")
def inputs(faces_dir, tmp_path_factory):
    """A video, and a folder holding a clip of frames and a file that is not a video."""
    from reenact_cli.media.video import decode_video

    coll = tmp_path_factory.mktemp("collection")
    frames = coll / "speaker_frames"
    frames.mkdir()
    for i, frame in enumerate(decode_video(faces_dir / FRAMES_FROM)):
        cv2.imwrite(str(frames / f"frame{i}.png"), frame[:, :, ::-1])
        if i == 14:
            break
    (coll / "notes.mp4").write_text("this is not a video\n")
    return [faces_dir / VIDEO, coll]


@pytest.fixture(scope="module")
def prepared(inputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "train128"
    return prepare_dataset(inputs, root, CONFIG)


def test_prepare_writes_frames_geometry_and_manifest(prepared, inputs):
    res = prepared
    assert [r.id for r in res.prepared] == ["lipnet_bbaf2n", "speaker_frames"]
    assert [r.kind for r in res.prepared] == ["video", "frames"]
    (bad,) = res.failed
    assert bad.id == "notes" and "not a readable video" in bad.reason and "\n" not in bad.reason
    assert not clip_dir(res.root, "notes").exists()

    manifest = json.loads((res.root / "manifest.json").read_text())
    assert manifest["settings"]["size"] == 128 and manifest["settings"]["face_model"] == load_face_model().fingerprint
    assert [c["status"] for c in manifest["clips"]] == ["done", "failed", "done"]  # input order
    assert manifest["totals"] == {"clips_done": 2, "frames": 10}

    model = load_face_model()
    for rec in res.prepared:
        geo = ClipGeometry.load(clip_dir(res.root, rec.id) / GEOMETRY)
        n = rec.frames
        assert n == 5 == len(geo)
        assert geo.frame_index.tolist() == [0, 3, 6, 9, 12]  # every 3rd frame, all with a face
        assert geo.vertices.shape == (n, 478, 3) and geo.vertices.dtype == np.float32
        assert geo.pose.shape == (n, 12) and geo.c_id.shape == (n, model.num_id) and geo.c_exp.shape == (n, model.num_exp)
        assert geo.residual.shape == (n, 468, 3) and geo.crop_origin.shape == (n, 2)
        # The face sits inside its crop, about half its width (crop_for_mesh's framing).
        xy = geo.vertices[:, :468, :2]
        assert xy.min() > 0 and xy.max() < 128
        width = xy[..., 0].max(axis=1) - xy[..., 0].min(axis=1)
        assert np.all((width > 0.3 * 128) & (width < 0.7 * 128))
        # The stored fit reproduces the stored mesh (what the dataset rebuilds M_s from).
        for k in (0, n - 1):
            m_s = model.source_mesh(geo.fit(k))
            assert np.abs(m_s - geo.vertices[k, :468]).max() < 1e-2
        # The crop maps the mesh back into the source frame.
        c = geo.crop(0)
        frame_xy = xy[0] @ c.crop_to_frame[:, :2].T + c.crop_to_frame[:, 2]
        w, h = geo.frame_size
        assert (w, h) == ((360, 288) if rec.kind == "video" else (224, 224))
        assert frame_xy[:, 0].min() > 0 and frame_xy[:, 0].max() < w
        img = cv2.imread(str(frame_path(clip_dir(res.root, rec.id), n - 1)))
        assert img.shape == (128, 128, 3)


def test_rerun_skips_done_clips_and_redoes_a_crashed_one(prepared, inputs, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(prepared.root, root)
    geo_a = clip_dir(root, "lipnet_bbaf2n") / GEOMETRY
    stamp = geo_a.stat().st_mtime_ns
    (clip_dir(root, "speaker_frames") / GEOMETRY).unlink()  # as if killed before the clip finished
    again = prepare_dataset(inputs, root, CONFIG)
    assert [r.id for r in again.resumed] == ["lipnet_bbaf2n"]
    assert [r.id for r in again.prepared] == ["speaker_frames"]
    assert [r.id for r in again.failed] == ["notes"]  # failures are retried, and still fail
    assert geo_a.stat().st_mtime_ns == stamp
    assert (clip_dir(root, "speaker_frames") / GEOMETRY).is_file()
    assert done_clip_ids(root) == ["lipnet_bbaf2n", "speaker_frames"]

    # Other settings into the same folder: refused, nothing touched.
    with pytest.raises(OutputError, match="was prepared with size 128.*--overwrite"):
        prepare_dataset(inputs, root, dataclasses.replace(CONFIG, size=96))
    assert geo_a.stat().st_mtime_ns == stamp
    # A missing input is an error before any work.
    with pytest.raises(InputError, match="no such file or folder"):
        prepare_dataset([tmp_path / "nope.mp4"], tmp_path / "other", CONFIG)
    assert not (tmp_path / "other").exists()


def test_pair_dataset(prepared):
    ds = PairDataset(prepared.root, seed=7)
    assert len(ds) == 10 and ds.clip_ids == ["lipnet_bbaf2n", "speaker_frames"]
    model = ds.model
    item = ds[0]
    assert item["source"].shape == item["driver"].shape == (3, 128, 128)
    assert item["source"].dtype == torch.float32 and 0.0 <= float(item["source"].min()) and float(item["source"].max()) <= 1.0
    assert item["source_mesh"].shape == item["driving_mesh"].shape == (468, 3)
    assert item["driver_pose"].shape == (12,) and item["driver_c_id"].shape == (model.num_id,)
    assert item["driver_c_exp"].shape == (model.num_exp,) and item["driver_c_exp"].dtype == torch.float32
    assert int(item["source_index"]) != int(item["driver_index"])

    # Seeded: the same pairs again, other pairs in another epoch or with another seed.
    pairs = [ds.locate(i) for i in range(len(ds))]
    assert pairs == [PairDataset(prepared.root, seed=7).locate(i) for i in range(len(ds))]
    assert sorted((c, d) for c, _, d in pairs) == [(c, d) for c in range(2) for d in range(5)]  # each frame drives once
    ds.set_epoch(1)
    assert [ds.locate(i) for i in range(len(ds))] != pairs
    ds.set_epoch(0)

    # Driver == source: M_d is M_s. A real driver: M_d lands on the driver's face.
    same = ds.pair("lipnet_bbaf2n", 2, 2)
    assert torch.allclose(same["driving_mesh"], same["source_mesh"], atol=1e-3)
    assert torch.equal(same["source"], same["driver"])
    # Same person, so M_d (source identity, driver expression and placement)
    # nearly equals the mesh seen in the driver's crop, much nearer than M_s.
    for clip in (0, 1):
        geo = ds.geometry[clip]
        moved = ds.pair(clip, 0, 4)
        seen = torch.from_numpy(geo.vertices[4, :468])
        err_d = float((moved["driving_mesh"] - seen).norm(dim=1).mean())
        err_s = float((moved["source_mesh"] - seen).norm(dim=1).mean())
        assert err_d < 0.5 * err_s and err_d < 1.5, (clip, err_d, err_s)  # crop pixels at 128
        assert torch.allclose(moved["driver_pose"], torch.from_numpy(geo.pose[4]).float())

    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4, shuffle=False)))
    assert batch["source"].shape == (4, 3, 128, 128) and batch["driving_mesh"].shape == (4, 468, 3)


def test_pair_dataset_refuses_another_face_model(prepared):
    model = load_face_model()
    other = dataclasses.replace(model, mean=model.mean + 0.01)
    with pytest.raises(InputError, match="prepared with face model"):
        PairDataset(prepared.root, face_model=other)
    with pytest.raises(InputError, match="no manifest"):
        PairDataset(prepared.root / "clips")


def _cli(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from reenact_cli.cli import app; sys.exit(app(prog_name='reenact'))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


def test_cli_prepare_in_parallel_and_missing_input(faces_dir, tmp_path):
    missing = _cli("prepare", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "ds"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.mp4'}: no such file or folder"]
    assert not (tmp_path / "ds").exists()

    clips = [str(faces_dir / "train" / n) for n in ("lipnet_lbax4n.mp4", "pcavs_00086.mp4")]
    run = _cli("prepare", *clips, "-o", str(tmp_path / "ds"), "--size", "64", "--every", "5", "--max-frames", "3", "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert "prepared 2 clip(s), 6 frames in" in run.stderr
    assert f"dataset {tmp_path / 'ds'}: 2 clip(s), 6 frames at 64x64" in run.stderr
    manifest = Manifest.load(tmp_path / "ds")
    assert [c.status for c in manifest.clips] == ["done", "done"] and manifest.settings.every == 5
    again = _cli("prepare", *clips, "-o", str(tmp_path / "ds"), "--size", "64", "--every", "5", "--max-frames", "3")
    assert again.returncode == 0 and "prepared 0 clip(s), 0 frames, 2 already done" in again.stderr
