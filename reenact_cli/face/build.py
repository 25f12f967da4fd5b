"""Building the face model from real photos and talking-head clips.

Recipe (DESIGN.md): every frame's 468 vertices are similarity-aligned to a
common mean (generalised Procrustes, weighted towards vertices that move least
within a clip: forehead, nose, temples). Each clip's mean is an *identity*
sample, each frame's deviation from its clip mean an *expression* sample
(identity-free by construction). Pose leaks into expression samples through the
sliding silhouette, so the head's yaw/pitch/roll (and their squares) are
regressed out of them before PCA. The identity samples are orthogonalised
against the expression basis before their own PCA.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..conventions import NUM_FACE_VERTICES
from ..errors import InputError
from .model import FaceModel, pose_features
from .pose import procrustes
from .topology import face_topology

#: Weight of silhouette vertices (face oval and its first ring) in the
#: coefficient fit: they slide over the cheek as the head turns.
SILHOUETTE_FIT_WEIGHT = 0.15


@dataclass(frozen=True)
class BuildConfig:
    """Face-model build settings.

    Attributes:
        num_id: identity components kept (at most #identities - 1).
        num_exp: expression components kept.
        stride: use every n-th video frame.
        max_frames: at most this many frames per clip.
        workers: processes for landmark extraction.
    """

    num_id: int = 32
    num_exp: int = 40
    stride: int = 2
    max_frames: int = 200
    workers: int = max(1, min(2, os.cpu_count() or 1))


@dataclass(frozen=True)
class Group:
    """Landmarks of one identity sample: a clip or a photo. ``points``: ``(N, 468, 3)``."""

    name: str
    points: np.ndarray
    is_video: bool


def collect_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Expand folders into the videos and images they contain (not recursive)."""
    from ..media.video import is_image, is_video, natural_key

    found: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise InputError("no such file or folder", p)
        if p.is_dir():
            kids = sorted((f for f in p.iterdir() if f.is_file() and (is_video(f) or is_image(f))), key=natural_key)
            if not kids:
                raise InputError("folder holds no videos or images", p)
            found.extend(kids)
        else:
            found.append(p)
    return found


def extract_landmarks(path: Path, stride: int, max_frames: int) -> Group | None:
    """Landmarks of every (strided) frame of one input; None if no face at all."""
    from ..media.video import is_video, iter_frames
    from .regress import MeshRegressor

    video = is_video(path)
    pts = []
    with MeshRegressor(static=not video, max_faces=1) as reg:
        for frame in iter_frames(path, stride=stride if video else 1):
            meshes = reg.detect(frame)
            if meshes:
                pts.append(meshes[0].vertices)
            if len(pts) >= max_frames:
                break
    if not pts:
        return None
    return Group(path.name, np.stack(pts).astype(np.float64), video)


def _normalise(points: np.ndarray) -> np.ndarray:
    c = points - points.mean(axis=0)
    return c / np.sqrt((c**2).sum(axis=1).mean())


def generalised_procrustes(
    shapes: np.ndarray, weights: np.ndarray, iterations: int = 4
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Align ``(N, V, 3)`` shapes to their evolving mean.

    Returns ``(aligned (N, V, 3), mean (V, 3), rotations (N, 3, 3))`` where
    ``rotations[i]`` maps model space to shape i's frame.
    """
    mean = _normalise(shapes[0])
    rotations = np.zeros((len(shapes), 3, 3))
    aligned = np.zeros_like(shapes)
    for _ in range(iterations):
        for i, s in enumerate(shapes):
            pose = procrustes(mean, s, weights)
            aligned[i] = pose.inverse_apply(s)
            rotations[i] = pose.rotation
        mean = _normalise(aligned.mean(axis=0))
    return aligned, mean, rotations


def silhouette_weights() -> np.ndarray:
    """``(468,)``: low on the face oval and its first ring, 1 elsewhere."""
    topo = face_topology()
    w = np.ones(NUM_FACE_VERTICES)
    oval = set(int(v) for v in topo.oval)
    ring = {int(b) for a, b in topo.edges if a in oval} | {int(a) for a, b in topo.edges if b in oval}
    w[list(oval | ring)] = SILHOUETTE_FIT_WEIGHT
    return w


def _pca(samples: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Principal directions ``(k, D)`` and standard deviations ``(k,)`` of centred samples."""
    _, s, vt = np.linalg.svd(samples, full_matrices=False)
    k = min(k, len(s))
    return vt[:k], s[:k] / np.sqrt(max(1, len(samples) - 1))


def _pose_features(rotations: np.ndarray) -> np.ndarray:
    return np.stack([pose_features(r) for r in rotations])


def build_face_model(
    groups: Sequence[Group],
    config: BuildConfig = BuildConfig(),
    provenance: dict | None = None,
) -> FaceModel:
    """The model from landmark groups (see module docstring)."""
    if len(groups) < 3:
        raise InputError(f"need at least 3 faces (clips or photos) to build a face model, got {len(groups)}")
    all_shapes = np.concatenate([g.points for g in groups])
    owner = np.concatenate([np.full(len(g.points), i) for i, g in enumerate(groups)])

    # 1) Procrustes with uniform weights, then with inverse within-clip variance.
    weights = np.ones(NUM_FACE_VERTICES)
    for _ in range(2):
        aligned, mean, rotations = generalised_procrustes(all_shapes, weights)
        dev = np.concatenate([aligned[owner == i] - aligned[owner == i].mean(axis=0) for i in range(len(groups)) if groups[i].is_video and (owner == i).sum() > 1])
        var = (dev**2).sum(axis=2).mean(axis=0) if len(dev) else np.ones(NUM_FACE_VERTICES)
        weights = 1.0 / (var + np.percentile(var, 10))
        weights = np.minimum(weights / np.percentile(weights, 50), 4.0)
    flat_dim = NUM_FACE_VERTICES * 3

    # 2) Pose deformation: regressed within clips (where identity is fixed)
    #    from the head's rotation; then removed from every frame.
    feats_all = _pose_features(rotations)
    dev_rows, feat_rows = [], []
    for i, g in enumerate(groups):
        idx = owner == i
        if g.is_video and idx.sum() > 1:
            dev_rows.append((aligned[idx] - aligned[idx].mean(axis=0)).reshape(int(idx.sum()), -1))
            feat_rows.append(feats_all[idx] - feats_all[idx].mean(axis=0))
    if not dev_rows:
        raise InputError("need at least one video clip to learn expressions")
    pose_coef, *_ = np.linalg.lstsq(np.concatenate(feat_rows), np.concatenate(dev_rows), rcond=None)
    depose = aligned - (feats_all @ pose_coef).reshape(aligned.shape)

    # Expression samples: deviation from the clip mean, pose removed.
    exp_rows, id_rows = [], []
    for i, g in enumerate(groups):
        idx = owner == i
        clip = depose[idx]
        clip_mean = clip.mean(axis=0)
        id_rows.append(clip_mean.reshape(-1))
        if g.is_video and len(clip) > 1:
            exp_rows.append((clip - clip_mean).reshape(len(clip), -1))
    x_exp = np.concatenate(exp_rows)
    exp_dirs, exp_sigma = _pca(x_exp, config.num_exp)

    # 3) Identity samples orthogonalised against the expression subspace.
    x_id = np.stack(id_rows)
    id_mean = x_id.mean(axis=0)
    x_id = x_id - id_mean
    x_id = x_id - (x_id @ exp_dirs.T) @ exp_dirs
    id_dirs, id_sigma = _pca(x_id, min(config.num_id, len(groups) - 1))
    keep = id_sigma > 1e-6
    id_dirs, id_sigma = id_dirs[keep], id_sigma[keep]

    prov = dict(provenance or {})
    prov.update(
        {
            "identities": len(groups),
            "frames": int(len(all_shapes)),
            "expression_samples": int(len(x_exp)),
            "num_id": int(len(id_sigma)),
            "num_exp": int(len(exp_sigma)),
            "built": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(),
        }
    )
    assert id_mean.shape == (flat_dim,)
    return FaceModel(
        mean=id_mean.reshape(NUM_FACE_VERTICES, 3).astype(np.float32),
        id_basis=id_dirs.reshape(-1, NUM_FACE_VERTICES, 3).astype(np.float32),
        exp_basis=exp_dirs.reshape(-1, NUM_FACE_VERTICES, 3).astype(np.float32),
        sigma_id=id_sigma.astype(np.float32),
        sigma_exp=exp_sigma.astype(np.float32),
        pose_weights=(weights / weights.max()).astype(np.float32),
        fit_weights=silhouette_weights().astype(np.float32),
        pose_basis=pose_coef.reshape(-1, NUM_FACE_VERTICES, 3).astype(np.float32),
        provenance=prov,
    )


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def build_from_paths(
    inputs: Sequence[str | Path],
    config: BuildConfig = BuildConfig(),
    command: str = "",
    on_progress: Callable[[str, bool], None] | None = None,
) -> tuple[FaceModel, list[str]]:
    """Extract landmarks from every input (in parallel) and build the model.

    ``on_progress(name, found)`` is called as each input finishes. Returns the
    model and the names of inputs in which no face was found.
    """
    from .. import __version__

    paths = collect_inputs(inputs)
    groups: list[Group] = []
    misses: list[str] = []
    with ProcessPoolExecutor(max_workers=config.workers) as pool:
        futures = [pool.submit(extract_landmarks, p, config.stride, config.max_frames) for p in paths]
        for p, fut in zip(paths, futures):
            g = fut.result()
            if g is None:
                misses.append(p.name)
            else:
                groups.append(g)
            if on_progress:
                on_progress(p.name, g is not None)
    provenance = {
        "command": command,
        "package_version": __version__,
        "config": {"num_id": config.num_id, "num_exp": config.num_exp, "stride": config.stride, "max_frames": config.max_frames},
        "inputs": [{"name": g.name, "frames": int(len(g.points)), "video": g.is_video} for g in groups],
        "input_digests": {p.name: _file_digest(p) for p in paths},
        "no_face": misses,
    }
    return build_face_model(groups, config, provenance), misses
