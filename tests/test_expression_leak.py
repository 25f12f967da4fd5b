"""Does head pose leak into the expression coefficients? (real clips, ../shared/faces)

Every 3rd frame of three talking-head clips is regressed with MediaPipe in
tracking mode and fitted; within a clip whose yaw spans more than 10 degrees, no
expression coefficient should follow yaw beyond chance (see MAX_ABS_R).

About the threshold: the series are strongly autocorrelated, so even unrelated
series correlate. As a chance baseline the test also prints, per clip, the
largest |r| against yaw shifted circularly by 1/4..3/4 of the clip (median and
95th percentile over shifts): it is ~0.4-0.6 on these clips.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from reenact_cli.face.model import load_face_model
from reenact_cli.face.regress import MeshRegressor
from reenact_cli.media.video import iter_video

CLIPS = ("liveportrait_d3.mp4", "liveportrait_d12.mp4", "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4")
STRIDE = 3
MIN_YAW_RANGE = 10.0
#: Guard, not goal: with the pose-deformation basis the worst clip
#: (liveportrait_d3, 39 degrees of yaw) shows |r| = 0.72 on one component,
#: against a chance level of 0.50 (median) to 0.61 (95 %); without the basis
#: it was 0.98. A regression past 0.75 fails.
MAX_ABS_R = 0.75


def _clip(faces_dir, name):
    path = faces_dir / "videos" / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def _abs_corr(series, yaw):
    e = (series - series.mean(axis=0)) / np.maximum(series.std(axis=0), 1e-12)
    y = (yaw - yaw.mean()) / max(float(yaw.std()), 1e-12)
    return np.abs(e.T @ y / len(y))


@pytest.fixture(scope="module")
def clip_fits(faces_dir):
    """name -> (yaw (N,), c_exp (N, K)) from the clip's frames."""
    model = load_face_model()
    out = {}
    for name in CLIPS:
        path = _clip(faces_dir, name)
        yaws, exps = [], []
        with MeshRegressor(static=False, max_faces=1) as reg:
            for frame in iter_video(path, STRIDE):
                meshes = reg.detect(frame)
                if not meshes:
                    continue
                fit = model.fit(meshes[0].vertices)
                yaws.append(fit.pose.euler()[0])
                exps.append(fit.c_exp)
        out[name] = (np.array(yaws), np.array(exps))
    return out


def test_clips_are_tracked(clip_fits):
    for name, (yaw, exp) in clip_fits.items():
        assert len(yaw) >= 30, f"{name}: only {len(yaw)} frames with a face"
        assert np.all(np.isfinite(exp)) and np.all(np.isfinite(yaw))
    ranges = [float(np.ptp(y)) for y, _ in clip_fits.values()]
    assert sum(r > MIN_YAW_RANGE for r in ranges) >= 2, f"yaw ranges {ranges}: the test needs turning heads"


def test_no_expression_coefficient_follows_yaw(clip_fits):
    worst = []
    for name, (yaw, exp) in clip_fits.items():
        span = float(np.ptp(yaw))
        r = _abs_corr(exp, yaw)
        n = len(yaw)
        null = [_abs_corr(exp, np.roll(yaw, s)).max() for s in range(n // 4, 3 * n // 4)]
        k = int(np.argmax(r))
        print(
            f"{name}: {n} frames, yaw range {span:.1f} deg, max |r| = {r[k]:.3f} (c_exp[{k}]); "
            f"chance baseline median {np.median(null):.3f}, 95% {np.percentile(null, 95):.3f}"
        )
        if span > MIN_YAW_RANGE:
            worst.append((float(r[k]), name, k))
    assert worst, "no clip turned far enough to test"
    r, name, k = max(worst)
    assert r < MAX_ABS_R, f"{name}: c_exp[{k}] correlates with yaw, |r| = {r:.3f}"


# --------------------------------------------------- tracking-mode crops
TRACK_CLIP = "liveportrait_d13.mp4"  # 720x1280: the frame and the crop differ a lot
TRACK_FRAMES = 15


@pytest.fixture(scope="module")
def track_frames(faces_dir):
    return list(itertools.islice(iter_video(_clip(faces_dir, TRACK_CLIP), STRIDE), TRACK_FRAMES))


@pytest.fixture(scope="module")
def static_crops(track_frames):
    with MeshRegressor(static=True, max_faces=1) as reg:
        return [reg.face_crop(f, 256) for f in track_frames]


def test_tracking_on_crops_only_matches_static(track_frames, static_crops):
    # baseline: a tracking graph that only ever sees crops agrees with photo mode
    with MeshRegressor(static=False, max_faces=1) as reg:
        diffs = [
            np.abs(reg.detect(c.image)[0].vertices[:, :2] - c.mesh.vertices[:, :2]).mean() for c in static_crops
        ]
    print(f"tracking on crops only: mean vertex difference {np.mean(diffs):.2f} px")
    assert np.mean(diffs) < 1.0


def test_tracking_face_crop_matches_static(track_frames, static_crops):
    with MeshRegressor(static=False, max_faces=1) as reg:
        tracked = [reg.face_crop(f, 256) for f in track_frames]
    diffs = [np.abs(t.mesh.vertices[:, :2] - s.mesh.vertices[:, :2]).mean() for t, s in zip(tracked, static_crops)]
    print(f"tracking face_crop vs photo mode: mean vertex difference {np.mean(diffs):.2f} px")
    assert np.mean(diffs) < 1.0
