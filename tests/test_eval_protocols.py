"""`reenact eval`: pair sampling and the pairs CSV, an end-to-end run of both
protocols on the shared clips and photos, resuming, and bad input."""
from __future__ import annotations

import json
import math
import shutil

import pytest
from typer.testing import CliRunner

from reenact_cli.cli import app
from reenact_cli.errors import InputError
from reenact_cli.eval.protocols import pairs_csv_text, read_pairs, sample_cross_pairs, sample_self_pairs
from reenact_cli.media.video import probe_video

#: Two clips with real head motion (the woman in d3 turns her head; d10 talks).
CLIPS = ("liveportrait_d3.mp4", "liveportrait_d10.mp4")
PHOTOS = ("deep3dfacerecon_000031.jpg", "facerecognition_obama.jpg", "liveportrait_d9.jpg", "sadtalker_people_0.png")


def cli(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args], env={"REENACT_DEBUG": None}, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}\n{result.stderr}")
    return result


def test_self_pairs_are_reproducible_and_valid(faces_dir):
    clips = [faces_dir / "videos" / c for c in CLIPS]
    a = sample_self_pairs(clips, 5, seed=3)
    assert a == sample_self_pairs(clips, 5, seed=3)
    assert a != sample_self_pairs(clips, 5, seed=4)
    # adding a clip does not change the frames drawn from the others
    assert sample_self_pairs(clips[:1], 5, seed=3) == a[:5]
    for clip in clips:
        mine = [p for p in a if p.source == clip]
        n = probe_video(clip).frame_count
        assert len(mine) == 5 and all(p.driver == clip and p.source_frame == 0 for p in mine)
        frames = [p.driver_frame for p in mine]
        assert frames == sorted(set(frames)) and 0 < frames[0] and frames[-1] < n


def test_cross_pairs_are_different_people(faces_dir):
    files = [faces_dir / "images" / p for p in PHOTOS] + [faces_dir / "videos" / CLIPS[0]]
    pairs = sample_cross_pairs(files, 12, seed=0)
    assert len(pairs) == 12 and len({(p.source, p.driver) for p in pairs}) == 12
    assert all(p.source != p.driver for p in pairs)
    n = probe_video(files[-1]).frame_count
    for p in pairs:
        for f, i in ((p.source, p.source_frame), (p.driver, p.driver_frame)):
            assert i == 0 if f.suffix != ".mp4" else 0 <= i < n
    assert len(sample_cross_pairs(files[:2], 10, seed=0)) == 2  # only two ordered pairs exist


def test_pairs_csv_round_trip(faces_dir, tmp_path):
    clips = [faces_dir / "videos" / c for c in CLIPS]
    pairs = sample_self_pairs(clips, 3, seed=1)
    csv_file = tmp_path / "sub" / "pairs.csv"
    csv_file.parent.mkdir()
    csv_file.write_text(pairs_csv_text(pairs, csv_file.parent))
    assert read_pairs(csv_file, "self") == pairs
    with pytest.raises(InputError, match="protocol 'self' but --protocol cross"):
        read_pairs(csv_file, "cross")
    csv_file.write_text("protocol,source,driver\nself,a.mp4,b.mp4\n")
    with pytest.raises(InputError, match="lacks column"):
        read_pairs(csv_file, "self")


@pytest.fixture(scope="module")
def runs(faces_dir, tmp_path_factory):
    """One self run (2 clips x 2 frames) and one cross run (4 pairs of photos)."""
    root = tmp_path_factory.mktemp("eval")
    clips = [faces_dir / "videos" / c for c in CLIPS]
    photos = [faces_dir / "images" / p for p in PHOTOS]
    out = {}
    for protocol, inputs, extra in (("self", clips, ["--per-clip", 2]), ("cross", photos, ["--cross-pairs", 4])):
        res = cli("eval", *inputs, "--protocol", protocol, *extra, "-o", root / protocol, "--json", root / f"{protocol}.json")
        assert res.exit_code == 0, res.stderr
        out[protocol] = (root, res, json.loads((root / f"{protocol}.json").read_text()))
    return out


@pytest.mark.parametrize("protocol", ["self", "cross"])
def test_end_to_end_report_has_every_field(runs, protocol):
    root, res, rep = runs[protocol]
    for key in ("command", "created", "protocol", "packages", "settings", "face_model", "recogniser", "methods", "metrics", "aggregate", "samples"):
        assert key in rep, key
    assert rep["command"].startswith("reenact eval ") and f"--protocol {protocol}" in rep["command"]
    for pkg in ("reenact", "torch", "mediapipe", "numpy", "dlib-bin", "face_recognition_models"):
        assert rep["packages"][pkg], pkg
    assert len(rep["face_model"]) == 16 and len(rep["recogniser"]["fingerprint"]) == 16
    assert [m["name"] for m in rep["methods"]] == ["geometric", "source-copy", "driver-copy"]
    assert all("fingerprint" in m and "checkpoint" in m for m in rep["methods"])
    assert len(rep["samples"]) == 4 and all(s["status"] == "ok" for s in rep["samples"])
    metrics = ("csim", "ssim", "psnr", "prmse", "aucon") if protocol == "self" else ("csim", "prmse", "aucon")
    for s in rep["samples"]:
        for name, m in s["methods"].items():
            assert m["face_found"], (s["key"], name)
            for k in metrics:
                assert isinstance(m[k], (float, int)) and math.isfinite(m[k]), (k, m[k])
            if protocol == "cross":
                assert m["ssim"] is None and m["psnr"] is None
    agg = rep["aggregate"]
    for name in ("geometric", "source-copy", "driver-copy"):
        assert agg[name]["samples"] == 4 and all(agg[name][k] is not None for k in metrics)
    # the baselines are what they claim to be, measured through the same path
    assert agg["source-copy"]["csim"] == pytest.approx(1.0)
    assert agg["driver-copy"]["prmse"] == 0.0 and agg["driver-copy"]["aucon"] == 1.0
    # the table on stdout lists every method
    for name in ("geometric", "source-copy", "driver-copy"):
        assert name in res.stdout
    # CSV: one row per sample and method, plus one aggregate row per method
    rows = (root / protocol / "results.csv").read_text().splitlines()
    assert len(rows) == 1 + 4 * 3 + 3


def test_self_geometric_is_closer_to_the_truth_than_repeating_the_source(runs):
    """The ground truth is the real driver frame: following the driver's motion
    (head translation and scale included) must beat standing still."""
    agg = runs["self"][2]["aggregate"]
    for k in ("psnr", "ssim", "aucon"):
        assert agg["geometric"][k] > agg["source-copy"][k], k
    assert agg["geometric"]["prmse"] < agg["source-copy"]["prmse"]


def test_cross_geometric_moves_the_head_towards_the_driver(runs):
    agg = runs["cross"][2]["aggregate"]
    assert agg["geometric"]["prmse"] < agg["source-copy"]["prmse"]
    assert agg["geometric"]["csim"] > agg["driver-copy"]["csim"]


def test_rerun_resumes_and_a_torn_line_is_recomputed(runs, faces_dir, tmp_path):
    root, _, first = runs["self"]
    folder = tmp_path / "resume"
    shutil.copytree(root / "self", folder)
    lines = (folder / "samples.jsonl").read_text().splitlines(keepends=True)
    # as if killed while writing the third sample
    (folder / "samples.jsonl").write_text("".join(lines[:2]) + lines[2][:40])
    clips = [faces_dir / "videos" / c for c in CLIPS]
    res = cli("eval", *clips, "--protocol", "self", "--per-clip", 2, "-o", folder)
    assert res.exit_code == 0, res.stderr
    assert "2 samples computed" in res.stderr
    again = json.loads((folder / "results.json").read_text())
    assert [s["key"] for s in again["samples"]] == [s["key"] for s in first["samples"]]
    for a, b in zip(again["samples"], first["samples"]):
        assert a["methods"]["geometric"]["psnr"] == pytest.approx(b["methods"]["geometric"]["psnr"])
    # different settings in the same folder: refused, one line
    res = cli("eval", *clips, "--protocol", "self", "--per-clip", 3, "-o", folder)
    assert res.exit_code == 4 and "other settings (pairs_sha256 differ)" in res.stderr
    assert len([ln for ln in res.stderr.splitlines() if ln.strip()]) == 1


def test_pairs_file_reproduces_the_run(runs, tmp_path):
    root, _, first = runs["cross"]
    res = cli("eval", "--protocol", "cross", "--pairs", root / "cross" / "pairs.csv", "-o", tmp_path / "again", "--no-baselines")
    assert res.exit_code == 0, res.stderr
    rep = json.loads((tmp_path / "again" / "results.json").read_text())
    assert [s["key"] for s in rep["samples"]] == [s["key"] for s in first["samples"]]
    assert [m["name"] for m in rep["methods"]] == ["geometric"]
    assert rep["aggregate"]["geometric"]["csim"] == pytest.approx(first["aggregate"]["geometric"]["csim"], abs=1e-4)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--protocol", "self", "--pairs", "missing.csv"], "missing.csv: no such pairs file"),
        (["--protocol", "sideways", "x.mp4"], "--protocol must be self or cross"),
        (["--protocol", "self"], "give INPUTS"),
    ],
)
def test_bad_input_is_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    res = cli("eval", *args)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == 2
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_self_protocol_refuses_a_photo(faces_dir, tmp_path):
    res = cli("eval", faces_dir / "images" / PHOTOS[0], "--protocol", "self", "-o", tmp_path / "o")
    assert res.exit_code == 2 and "--protocol self needs video clips" in res.stderr
    assert not (tmp_path / "o").exists()
