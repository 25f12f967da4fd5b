"""Per-op tests of reenact_cli.face.pose: Procrustes, Euler angles, Pose, slerp."""
from __future__ import annotations

import numpy as np
import pytest

from reenact_cli.face.pose import Pose, euler_to_rotation, procrustes, rotation_to_euler, slerp_rotation


def angle_between(r0, r1):
    c = (np.trace(r0.T @ r1) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def random_pose(rng):
    yaw, pitch, roll = rng.uniform(-60, 60), rng.uniform(-40, 40), rng.uniform(-30, 30)
    return Pose(float(rng.uniform(20, 120)), euler_to_rotation(yaw, pitch, roll), rng.uniform(-50, 300, 3))


# ------------------------------------------------------------ rotations
@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 0, 0), (0, 25, 0), (0, 0, -40), (20, -15, 10), (-70, 45, 80)])
def test_euler_to_rotation_is_proper(angles):
    r = euler_to_rotation(*angles)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0, abs=1e-12)


def test_euler_composition_order():
    # R = Rz(roll) @ Ry(yaw) @ Rx(pitch)
    r = euler_to_rotation(20, 30, 40)
    expected = euler_to_rotation(0, 0, 40) @ euler_to_rotation(20, 0, 0) @ euler_to_rotation(0, 30, 0)
    np.testing.assert_allclose(r, expected, atol=1e-12)


def test_single_axis_matrices():
    y = np.radians(30)
    np.testing.assert_allclose(
        euler_to_rotation(30, 0, 0), [[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]], atol=1e-12
    )
    np.testing.assert_allclose(euler_to_rotation(0, 0, 90), [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(euler_to_rotation(0, 90, 0), [[1, 0, 0], [0, 0, -1], [0, 1, 0]], atol=1e-12)


def test_euler_round_trip_grid():
    for yaw in np.linspace(-85, 85, 9):
        for pitch in np.linspace(-80, 80, 9):
            for roll in np.linspace(-170, 170, 9):
                got = rotation_to_euler(euler_to_rotation(yaw, pitch, roll))
                np.testing.assert_allclose(got, [yaw, pitch, roll], atol=1e-9)


def test_euler_round_trip_random(rng):
    for _ in range(200):
        a = rng.uniform([-89, -179, -179], [89, 179, 179])
        np.testing.assert_allclose(rotation_to_euler(euler_to_rotation(*a)), a, atol=1e-8)


def test_rotation_to_euler_of_identity():
    np.testing.assert_allclose(rotation_to_euler(np.eye(3)), 0.0, atol=1e-12)


# -------------------------------------------------------------- Pose
def test_apply_matches_formula(rng):
    pose = random_pose(rng)
    x = rng.normal(size=(50, 3))
    expected = pose.scale * (pose.rotation @ x.T).T + pose.translation
    np.testing.assert_allclose(pose.apply(x), expected, rtol=1e-5, atol=1e-3)
    assert pose.apply(x).dtype == np.float32


def test_inverse_apply_inverts_apply(rng):
    for _ in range(5):
        pose = random_pose(rng)
        x = rng.normal(size=(100, 3))
        np.testing.assert_allclose(pose.inverse_apply(pose.apply(x)), x, atol=1e-4)
        y = rng.uniform(0, 256, size=(100, 3))
        np.testing.assert_allclose(pose.apply(pose.inverse_apply(y)), y, atol=1e-3)


def test_as_vector_layout(rng):
    pose = random_pose(rng)
    p = pose.as_vector()
    assert p.shape == (12,)
    m = p.reshape(3, 4)
    np.testing.assert_allclose(m[:, :3], pose.scale * pose.rotation)
    np.testing.assert_allclose(m[:, 3], pose.translation)


def test_vector_round_trip(rng):
    for _ in range(10):
        pose = random_pose(rng)
        back = Pose.from_vector(pose.as_vector())
        assert back.scale == pytest.approx(pose.scale, rel=1e-12)
        np.testing.assert_allclose(back.rotation, pose.rotation, atol=1e-12)
        np.testing.assert_allclose(back.translation, pose.translation, atol=1e-12)
        np.testing.assert_allclose(back.as_vector(), pose.as_vector(), atol=1e-10)


def test_pose_euler(rng):
    pose = Pose(2.0, euler_to_rotation(12, -7, 3), np.zeros(3))
    np.testing.assert_allclose(pose.euler(), [12, -7, 3], atol=1e-10)


# --------------------------------------------------------- procrustes
def _points(rng, n=60):
    return rng.normal(size=(n, 3)) * np.array([1.0, 1.3, 0.6])


def test_procrustes_exact(rng):
    for _ in range(10):
        truth = random_pose(rng)
        src = _points(rng)
        got = procrustes(src, truth.apply(src).astype(np.float64))
        assert got.scale == pytest.approx(truth.scale, rel=1e-5)
        np.testing.assert_allclose(got.rotation, truth.rotation, atol=1e-5)
        np.testing.assert_allclose(got.translation, truth.translation, atol=1e-3)


def test_procrustes_exact_weighted(rng):
    truth = random_pose(rng)
    src = _points(rng)
    dst = truth.apply(src).astype(np.float64)
    w = rng.uniform(0.0, 1.0, len(src))
    w[:10] = 0.0
    dst[:10] += rng.normal(scale=50.0, size=(10, 3))  # outliers carry zero weight
    got = procrustes(src, dst, w)
    assert got.scale == pytest.approx(truth.scale, rel=1e-5)
    np.testing.assert_allclose(got.rotation, truth.rotation, atol=1e-5)
    np.testing.assert_allclose(got.translation, truth.translation, atol=1e-3)
    # without the weights the outliers spoil it
    bad = procrustes(src, dst)
    assert angle_between(bad.rotation, truth.rotation) > 0.1


def test_procrustes_weights_scale_invariant(rng):
    truth = random_pose(rng)
    src = _points(rng)
    dst = truth.apply(src) + rng.normal(scale=0.5, size=src.shape)
    w = rng.uniform(0.1, 1.0, len(src))
    a, b = procrustes(src, dst, w), procrustes(src, dst, 7.0 * w)
    np.testing.assert_allclose(a.as_vector(), b.as_vector(), atol=1e-9)


def test_procrustes_noisy(rng):
    truth = random_pose(rng)
    src = _points(rng, 400)
    dst = truth.apply(src) + rng.normal(scale=0.01 * truth.scale, size=src.shape)
    got = procrustes(src, dst)
    assert got.scale == pytest.approx(truth.scale, rel=0.01)
    assert angle_between(got.rotation, truth.rotation) < 0.5
    np.testing.assert_allclose(got.translation, truth.translation, atol=0.05 * truth.scale)


def test_procrustes_returns_proper_rotation_for_mirrored_target(rng):
    src = _points(rng)
    dst = src * np.array([-1.0, 1.0, 1.0])  # a reflection is not reachable
    got = procrustes(src, dst)
    assert np.linalg.det(got.rotation) == pytest.approx(1.0, abs=1e-9)


def test_procrustes_minimises_weighted_error(rng):
    # Perturbing the optimum never lowers the objective.
    src = _points(rng)
    truth = random_pose(rng)
    dst = truth.apply(src) + rng.normal(scale=2.0, size=src.shape)
    w = rng.uniform(0.1, 1.0, len(src))
    best = procrustes(src, dst, w)

    def cost(p):
        return float(w @ ((p.apply(src) - dst) ** 2).sum(axis=1))

    c0 = cost(best)
    for d in ([1.01, 0, 0, 0], [1, 0.5, 0, 0], [1, 0, -0.5, 0], [1, 0, 0, 0.5]):
        r = euler_to_rotation(d[1], d[2], d[3]) @ best.rotation
        assert cost(Pose(best.scale * d[0], r, best.translation)) > c0


# --------------------------------------------------------------- slerp
def test_slerp_endpoints(rng):
    r0 = euler_to_rotation(10, -20, 5)
    r1 = euler_to_rotation(-35, 15, 25)
    np.testing.assert_allclose(slerp_rotation(r0, r1, 0.0), r0, atol=1e-9)
    np.testing.assert_allclose(slerp_rotation(r0, r1, 1.0), r1, atol=1e-9)


def test_slerp_midpoint_angle():
    r0 = euler_to_rotation(10, -20, 5)
    r1 = euler_to_rotation(-35, 15, 25)
    total = angle_between(r0, r1)
    for alpha in (0.25, 0.5, 0.8):
        mid = slerp_rotation(r0, r1, alpha)
        assert angle_between(r0, mid) == pytest.approx(alpha * total, abs=1e-6)
        assert angle_between(mid, r1) == pytest.approx((1 - alpha) * total, abs=1e-6)


def test_slerp_single_axis_is_euler_lerp():
    mid = slerp_rotation(euler_to_rotation(-20, 0, 0), euler_to_rotation(40, 0, 0), 0.5)
    np.testing.assert_allclose(rotation_to_euler(mid), [10, 0, 0], atol=1e-9)


def test_rotation_angle_is_the_geodesic_turn():
    from reenact_cli.face.pose import euler_to_rotation, rotation_angle_deg

    eye = np.eye(3)
    assert rotation_angle_deg(eye, eye) == pytest.approx(0.0, abs=1e-6)
    for axis in range(3):
        angles = [0.0, 0.0, 0.0]
        angles[axis] = 40.0
        assert rotation_angle_deg(eye, euler_to_rotation(*angles)) == pytest.approx(40.0, abs=1e-6)
    a, b = euler_to_rotation(25.0, 5.0, 0.0), euler_to_rotation(-20.0, 5.0, 0.0)
    assert rotation_angle_deg(a, b) == pytest.approx(rotation_angle_deg(b, a), abs=1e-9)
    assert 44.0 < rotation_angle_deg(a, b) <= 45.0 + 1e-6  # yaw 45 apart, at a small shared pitch
    assert rotation_angle_deg(eye, euler_to_rotation(180.0, 0.0, 0.0)) == pytest.approx(180.0, abs=1e-4)
