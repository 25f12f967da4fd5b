"""Tracking a driver clip: fits per frame, gaps filled, steady (real clip)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from reenact_cli.face.model import load_face_model
from reenact_cli.face.temporal import SmoothingConfig
from reenact_cli.face.track import DriverTracker
from reenact_cli.media.video import iter_video

CLIP = "liveportrait_d0.mp4"  # 78 frames, 512 px, a nodding head


@pytest.fixture(scope="module")
def frames(faces_dir):
    path = faces_dir / "videos" / CLIP
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return list(itertools.islice(iter_video(path), 40))


def _run(frames, smoothing):
    tracker = DriverTracker(load_face_model(), fps=25.0, smoothing=smoothing)
    fits = []
    for f in frames:
        fits.extend(tracker(f))
    pending = tracker.finish()
    tracker.close()
    return tracker, fits, pending


def test_one_fit_per_frame_and_gaps_filled(frames):
    blank = np.full_like(frames[0], 127)
    with_gaps = [blank, blank] + frames[:10] + [blank] * 3 + frames[10:20]
    tracker, fits, pending = _run(with_gaps, SmoothingConfig())
    assert pending == 0
    assert len(fits) == len(with_gaps)
    assert tracker.stats.missing == 5 and tracker.stats.missing_frames == [0, 1, 12, 13, 14]
    # Leading gap takes the first good fit; a gap holds the last one.
    assert fits[0] is fits[2] and fits[1] is fits[2]
    assert fits[12] is fits[11] and fits[14] is fits[11]


def test_fits_are_in_frame_pixels_and_smoothing_steadies(frames):
    _, raw, _ = _run(frames, SmoothingConfig(enabled=False))
    _, smooth, _ = _run(frames, SmoothingConfig())
    h, w = frames[0].shape[:2]
    t = np.array([f.pose.translation[:2] for f in raw])
    assert np.all((t > 0) & (t < [w, h])), "translation is measured in the frame"
    yaw_raw = np.array([f.pose.euler()[0] for f in raw])
    yaw_smooth = np.array([f.pose.euler()[0] for f in smooth])
    jitter = lambda y: float(np.abs(np.diff(y, 2)).mean())
    assert jitter(yaw_smooth) < jitter(yaw_raw)
    assert np.abs(yaw_smooth - yaw_raw).max() < 3.0  # steadier, not lagging far behind


def test_the_held_back_expression_is_smoothed_with_the_rest(frames):
    model = load_face_model()
    _, raw, _ = _run(frames[:12], SmoothingConfig(enabled=False))
    _, smooth, _ = _run(frames[:12], SmoothingConfig())
    # The tracker hands out fits whose expression already holds what the
    # prior held back (so compose finds nothing left in the residual)...
    for fit in raw + smooth:
        np.testing.assert_allclose(model.held_expression(fit), 0.0, atol=1e-4)
    # ... and that expression is what the smoother steadies.
    strong = np.abs(np.array([f.c_exp for f in raw])[:, :2]).max(axis=0)
    assert (strong > 0).all()
    exp_jitter = lambda fits: float(np.abs(np.diff(np.array([f.c_exp[:2] for f in fits]), 2, axis=0)).mean())
    assert exp_jitter(smooth) < exp_jitter(raw)


def test_a_clip_with_no_face_at_all(frames):
    blank = np.full_like(frames[0], 127)
    tracker, fits, pending = _run([blank] * 4, SmoothingConfig())
    assert fits == [] and pending == 4 and tracker.stats.missing == 4


def test_analysis_crop_is_steadier_than_the_landmarks(frames):
    from reenact_cli.face.crop import crop_for_mesh

    tracker = DriverTracker(load_face_model(), fps=25.0)
    steady, raw = [], []
    for f in frames:
        fit = tracker.fit_frame(f)
        assert fit is not None
        steady.append(tracker._crop.origin)
        raw.append(crop_for_mesh(tracker._last_mesh, 256).origin)
    tracker.close()
    jitter = lambda xy: float(np.abs(np.diff(np.array(xy), 2, axis=0)).mean())
    assert jitter(steady) < jitter(raw)
