"""`reenact eval`: the paper's five metrics over self- or cross-reenactment pairs,
for each method (generators and baselines) on the same samples.

The output folder holds the run's state, so an interrupted run resumes:

- ``run.json``: the settings that must not change between resumptions
  (protocol, size, face model, recogniser, methods, AU threshold, pairs);
- ``pairs.csv``: the pairs (sampled, or copied from ``--pairs``);
- ``samples.jsonl``: one line per finished sample, appended as it finishes.

A rerun skips the samples already in ``samples.jsonl``; ``--restart`` discards
them. The report (``--json``, ``--csv``; by default ``results.json`` and
``results.csv`` in the folder, rewritten every run) is built from all of them.

What is compared, per sample (see :mod:`reenact_cli.eval.metrics`):

- CSIM: output vs the source crop (both protocols).
- PRMSE, AUCON: output vs the driver's own crop (both protocols).
- PSNR, SSIM (self only): output vs the ground truth, the real driver frame
  cropped with the *source's* crop transform, i.e. the whole S x S crop (face,
  hair and background, the face spanning about half its side).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import shlex
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..errors import InputError, NoFaceError, OutputError, ReenactError
from ..eval.action_units import AU_CODES, PRESENCE_THRESHOLD
from ..eval.identity import FaceEmbedder
from ..eval.measure import FaceMeasure, Measurer
from ..eval.methods import Method, Sample, build_methods
from ..eval.metrics import angle_errors, aucon, csim, prmse, psnr, ssim
from ..eval.protocols import Pair, expand_inputs, load_frames, pairs_csv_text, read_pairs, sample_cross_pairs, sample_self_pairs
from ..eval.report import PROTOCOL_METRICS, Aggregate, aggregate, csv_text, json_value, report_json
from ..face.crop import extract_crop
from ..face.model import load_face_model
from ..face.regress import MeshRegressor
from ..media.atomic import atomic_output, check_output
from ..pipeline import PipelineConfig
from .console import progress

PACKAGES = ("reenact", "torch", "mediapipe", "numpy", "opencv-contrib-python", "dlib-bin", "face_recognition_models", "scipy")


class EvalInterrupted(ReenactError):
    """Ctrl-C during an evaluation: what is done is kept for resuming."""

    exit_code = 130


@dataclass(frozen=True)
class EvalOptions:
    """What one ``reenact eval`` run does (see the command's help)."""

    inputs: tuple[Path, ...]
    protocol: str
    outdir: Path
    pairs_file: Path | None = None
    per_clip: int = 10
    cross_pairs: int = 24
    seed: int = 0
    source_frame: int = 0
    baselines: bool = True
    json_out: Path | None = None
    csv_out: Path | None = None
    overwrite: bool = False
    restart: bool = False
    checkpoint: Path | None = None  # a learned generator's weights (see build_methods)


@dataclass(frozen=True)
class EvalReport:
    """What a run produced."""

    protocol: str
    methods: list[str]
    aggregates: dict[str, Aggregate]
    samples: int
    skipped: int
    computed: int
    seconds: float
    json_path: Path
    csv_path: Path


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages the figures depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def canonical_command(opts: EvalOptions, config: PipelineConfig) -> str:
    """The command line that reproduces this run, every setting spelled out."""
    args = ["reenact", "eval", *map(str, opts.inputs), "--protocol", opts.protocol]
    if opts.pairs_file is not None:
        args += ["--pairs", str(opts.pairs_file)]
    elif opts.protocol == "self":
        args += ["--per-clip", str(opts.per_clip), "--source-frame", str(opts.source_frame), "--seed", str(opts.seed)]
    else:
        args += ["--cross-pairs", str(opts.cross_pairs), "--seed", str(opts.seed)]
    args += ["-o", str(opts.outdir), "--size", str(config.size), "--face", str(config.face_index)]
    if config.face_model is not None:
        args += ["--face-model", str(config.face_model)]
    if opts.checkpoint is not None:
        args += ["--checkpoint", str(opts.checkpoint)]
    args.append("--baselines" if opts.baselines else "--no-baselines")
    if opts.json_out is not None:
        args += ["--json", str(opts.json_out)]
    if opts.csv_out is not None:
        args += ["--csv", str(opts.csv_out)]
    return shlex.join(args)


def _pairs(opts: EvalOptions) -> list[Pair]:
    if opts.pairs_file is not None:
        return read_pairs(opts.pairs_file, opts.protocol)
    if not opts.inputs:
        raise InputError("give INPUTS (clips, photos or folders) or --pairs FILE")
    files = expand_inputs(opts.inputs, opts.protocol)
    if opts.protocol == "self":
        return sample_self_pairs(files, opts.per_clip, opts.seed, opts.source_frame)
    return sample_cross_pairs(files, opts.cross_pairs, opts.seed)


class FrameStore:
    """Frames of the pairs' files, each file decoded once while its pairs run.

    Keeps the frames of the last ``keep`` files (a clip's frames for the self
    protocol; photos for the cross protocol are small).
    """

    def __init__(self, pairs: list[Pair], keep: int = 8) -> None:
        self._needed: dict[Path, set[int]] = {}
        for p in pairs:
            self._needed.setdefault(p.source, set()).add(p.source_frame)
            self._needed.setdefault(p.driver, set()).add(p.driver_frame)
        self._files: OrderedDict[Path, dict[int, np.ndarray]] = OrderedDict()
        self._keep = keep

    def get(self, path: Path, frame: int) -> np.ndarray:
        if path not in self._files:
            self._files[path] = load_frames(path, self._needed[path])
            if len(self._files) > self._keep:
                self._files.popitem(last=False)
        self._files.move_to_end(path)
        return self._files[path][frame]


def _state_settings(opts: EvalOptions, config: PipelineConfig, methods: list[Method], face_fp: str, rec_fp: str, pairs_text: str) -> dict:
    return {
        "protocol": opts.protocol,
        "size": config.size,
        "face_index": config.face_index,
        "face_model": face_fp,
        "recogniser": rec_fp,
        "au_codes": list(AU_CODES),
        "au_threshold": PRESENCE_THRESHOLD,
        "methods": {m.name: m.fingerprint for m in methods},
        "pairs_sha256": hashlib.sha256(pairs_text.encode()).hexdigest()[:16],
    }


def _prepare_outdir(opts: EvalOptions, settings: dict, pairs_text: str) -> dict[str, dict]:
    """Create or check the output folder; the finished samples found there."""
    out = opts.outdir
    if out.exists() and not out.is_dir():
        raise OutputError("is a file, expected a folder for the run's state (-o)", out)
    run_file, pairs_file, samples_file = out / "run.json", out / "pairs.csv", out / "samples.jsonl"
    if opts.restart:
        for f in (run_file, pairs_file, samples_file):
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
    if run_file.is_file():
        try:
            before = json.loads(run_file.read_text())
        except (OSError, ValueError):
            raise OutputError("unreadable run state; pass --restart to start again", run_file) from None
        changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
        if changed:
            raise OutputError(
                f"holds results of a run with other settings ({', '.join(changed)} differ): "
                "use another -o folder, or --restart to discard them",
                out,
            )
    else:
        with atomic_output(run_file, overwrite=True) as tmp:
            tmp.write_text(json.dumps(settings, indent=1))
        with atomic_output(pairs_file, overwrite=True) as tmp:
            tmp.write_text(pairs_text)
    return _read_done(samples_file)


def _read_done(samples_file: Path) -> dict[str, dict]:
    """Finished samples by key; a torn last line (killed mid-write) is cut off."""
    done: dict[str, dict] = {}
    if not samples_file.is_file():
        return done
    data = samples_file.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        with open(samples_file, "r+b") as fh:
            fh.truncate(len(data))
    for line in data.decode("utf-8", "replace").splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            rec = json.loads(line)
            done[rec["key"]] = rec
    return done


def _score(out: FaceMeasure | None, src: FaceMeasure, drv: FaceMeasure, output: np.ndarray, truth: np.ndarray | None, ms: float) -> dict:
    """One method's figures on one sample."""
    row: dict = {
        "csim": None, "ssim": None, "psnr": None, "prmse": None, "aucon": None,
        "angle_error": None, "aus": None, "face_found": out is not None, "ms": round(ms, 1),
    }  # fmt: skip
    if truth is not None:
        row["psnr"] = json_value(round(psnr(output, truth), 4))
        row["ssim"] = round(ssim(output, truth), 5)
    if out is not None:
        row["csim"] = round(csim(out.embedding, src.embedding), 5)
        row["prmse"] = round(prmse(out.angles, drv.angles), 4)
        row["aucon"] = round(aucon(out.au_present, drv.au_present), 4)
        row["angle_error"] = [round(float(v), 3) for v in angle_errors(out.angles, drv.angles)]
        row["aus"] = out.au_present.astype(int).tolist()
    return row


def _evaluate_pair(pair: Pair, frames: FrameStore, analysis: MeshRegressor, measurer: Measurer, methods: list[Method], config: PipelineConfig) -> dict:
    """The record of one pair (see :mod:`reenact_cli.eval.report`)."""
    rec = {
        "key": pair.key, "protocol": pair.protocol, "source": str(pair.source), "source_frame": pair.source_frame,
        "driver": str(pair.driver), "driver_frame": pair.driver_frame, "status": "ok", "driver_aus": None, "methods": {},
    }  # fmt: skip
    src_img = frames.get(pair.source, pair.source_frame)
    drv_img = frames.get(pair.driver, pair.driver_frame)
    try:
        src_crop = analysis.face_crop(src_img, config.size, config.face_index, f"{pair.source}#{pair.source_frame}")
        drv_crop = analysis.face_crop(drv_img, config.size, config.face_index, f"{pair.driver}#{pair.driver_frame}")
    except NoFaceError as exc:
        rec["status"] = f"skipped: {exc}"
        return rec
    src_m, drv_m = measurer.measure(src_crop.image), measurer.measure(drv_crop.image)
    if src_m is None or drv_m is None:
        rec["status"] = f"skipped: no face found in the {'source' if src_m is None else 'driver'} crop when measuring"
        return rec
    rec["driver_aus"] = drv_m.au_present.astype(int).tolist()
    self_protocol = pair.protocol == "self"
    truth = extract_crop(drv_img, src_crop.crop) if self_protocol else None
    sample = Sample(pair.key, f"{pair.source}#{pair.source_frame}", src_img, src_crop, drv_crop, relative=self_protocol)
    for method in methods:
        t0 = time.perf_counter()
        output = method.output(sample)
        ms = (time.perf_counter() - t0) * 1e3
        rec["methods"][method.name] = _score(measurer.measure(output), src_m, drv_m, output, truth, ms)
    return rec


def run_eval(opts: EvalOptions, config: PipelineConfig) -> EvalReport:
    """Evaluate every pair not yet done, then write the report (see module docstring)."""
    if opts.protocol not in ("self", "cross"):
        raise InputError(f"--protocol must be self or cross, not '{opts.protocol}'")
    t_start = time.perf_counter()
    json_path = opts.json_out or opts.outdir / "results.json"
    csv_path = opts.csv_out or opts.outdir / "results.csv"
    for path, explicit in ((json_path, opts.json_out), (csv_path, opts.csv_out)):
        check_output(path, opts.overwrite or explicit is None)
    pairs = _pairs(opts)
    if not pairs:
        raise InputError("no pairs to evaluate")
    model = load_face_model(config.face_model)
    embedder = FaceEmbedder()
    methods = build_methods(config, model, opts.baselines, opts.checkpoint)
    pairs_text = pairs_csv_text(pairs, opts.outdir)
    settings = _state_settings(opts, config, methods, model.fingerprint, embedder.fingerprint, pairs_text)
    done = _prepare_outdir(opts, settings, pairs_text)
    todo = [p for p in pairs if p.key not in done]
    todo.sort(key=lambda p: (str(p.source), p.source_frame))  # one source prepared once
    analysis = MeshRegressor(static=True)
    measurer = Measurer(model, embedder)
    frames = FrameStore(todo)
    samples_file = opts.outdir / "samples.jsonl"
    computed = 0
    try:
        with progress() as bar, open(samples_file, "a", encoding="utf-8") as log:
            task = bar.add_task(f"eval {opts.protocol}", total=len(todo))
            for pair in todo:
                rec = _evaluate_pair(pair, frames, analysis, measurer, methods, config)
                log.write(json.dumps(rec, allow_nan=False) + "\n")
                log.flush()
                done[pair.key] = rec
                computed += 1
                bar.advance(task)
    except KeyboardInterrupt:
        raise EvalInterrupted(
            f"interrupted after {len(pairs) - len(todo) + computed} of {len(pairs)} samples; "
            f"rerun the same command to resume (finished samples are in {samples_file})"
        ) from None
    records = [done[p.key] for p in pairs]
    names = [m.name for m in methods]
    aggregates = {n: aggregate(records, n, opts.protocol, AU_CODES) for n in names}
    seconds = time.perf_counter() - t_start
    header = {
        "command": canonical_command(opts, config),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "protocol": opts.protocol,
        "packages": package_versions(),
        "settings": {
            "size": config.size, "face_index": config.face_index, "seed": opts.seed, "per_clip": opts.per_clip,
            "cross_pairs": opts.cross_pairs, "source_frame": opts.source_frame,
            "pairs_file": str(opts.pairs_file) if opts.pairs_file else str(opts.outdir / "pairs.csv"),
            "au_codes": list(AU_CODES), "au_threshold": PRESENCE_THRESHOLD,
        },  # fmt: skip
        "face_model": model.fingerprint,
        "recogniser": {"name": embedder.name, "fingerprint": embedder.fingerprint, "note": "dlib ResNet (face_recognition_models); the paper used ArcFace"},
        "methods": [{"name": m.name, "kind": m.kind, "checkpoint": m.checkpoint, "fingerprint": m.fingerprint} for m in methods],
        "metrics": {
            "csim": "cosine similarity of dlib identity embeddings, output vs source crop",
            "prmse": "RMS of yaw/pitch/roll differences (degrees), output vs driver crop; aggregate = RMS over all angle errors",
            "aucon": "fraction of the AUs in settings.au_codes whose presence agrees, output vs driver crop",
            "psnr": "dB, output vs the real driver frame cropped with the source's crop (self only); mean of finite values",
            "ssim": "Gaussian-window SSIM, same comparison as psnr (self only)",
        },
        "samples_total": len(pairs),
        "samples_skipped": sum(1 for r in records if r["status"] != "ok"),
        "samples_computed_this_run": computed,
        "seconds_this_run": round(seconds, 1),
    }
    with atomic_output(json_path, True) as tmp:
        tmp.write_text(report_json(header, records, aggregates))
    with atomic_output(csv_path, True) as tmp:
        tmp.write_text(csv_text(records, aggregates, opts.protocol))
    return EvalReport(opts.protocol, names, aggregates, len(pairs), header["samples_skipped"], computed, seconds, json_path, csv_path)


def metric_names(protocol: str) -> tuple[str, ...]:
    """Metrics that apply to ``protocol``, in table order."""
    return PROTOCOL_METRICS[protocol]
