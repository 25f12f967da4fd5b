"""One-Euro smoothing of driver fits."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from reenact_cli.face.model import load_face_model
from reenact_cli.face.pose import Pose, euler_to_rotation
from reenact_cli.face.temporal import (
    FitSmoother,
    OneEuroFilter,
    SmoothingConfig,
    quaternion_to_rotation,
    rotation_to_quaternion,
)


def test_constant_signal_is_unchanged():
    f = OneEuroFilter(25.0)
    for _ in range(20):
        out = f(np.array([1.0, -2.0, 3.0]))
    np.testing.assert_allclose(out, [1.0, -2.0, 3.0])


def test_jitter_is_reduced_and_steps_are_followed():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(30.0, SmoothingConfig(min_cutoff=1.0, beta=0.05))
    noisy = 0.5 * rng.standard_normal(300)
    smooth = np.array([f(np.array([v]))[0] for v in noisy])
    assert smooth[50:].std() < 0.5 * noisy[50:].std()
    f.reset()
    step = np.r_[np.zeros(30), np.full(60, 10.0)]
    out = np.array([f(np.array([v]))[0] for v in step])
    assert out[29] == 0.0 and abs(out[-1] - 10.0) < 0.1  # settles within 2 s


def test_disabled_passes_through():
    f = OneEuroFilter(25.0, SmoothingConfig(enabled=False))
    assert f(np.array([1.0]))[0] == 1.0 and f(np.array([5.0]))[0] == 5.0


def test_quaternion_round_trip_and_sign_continuity(hopper_source):
    r = euler_to_rotation(20.0, -10.0, 5.0)
    np.testing.assert_allclose(quaternion_to_rotation(rotation_to_quaternion(r)), r, atol=1e-9)
    model = load_face_model()
    fit = hopper_source.fit
    smoother = FitSmoother(25.0, model.sigma_exp)
    for _ in range(10):
        out = smoother(fit)
    np.testing.assert_allclose(out.pose.rotation, fit.pose.rotation, atol=1e-6)
    np.testing.assert_allclose(out.pose.translation, fit.pose.translation, atol=1e-6)
    np.testing.assert_allclose(out.c_exp, fit.c_exp, atol=1e-5)
    # A jittering yaw is steadied.
    rng = np.random.default_rng(1)
    yaws = []
    for _ in range(60):
        jitter = Pose(fit.pose.scale, euler_to_rotation(2.0 * rng.standard_normal(), 0.0, 0.0) @ fit.pose.rotation, fit.pose.translation)
        yaws.append(smoother(replace(fit, pose=jitter)).pose.euler()[0])
    assert np.std(yaws[10:]) < 1.2
