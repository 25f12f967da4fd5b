"""Per-op tests of reenact_cli.flow.extend: push-pull fill and smoothstep."""
from __future__ import annotations

import numpy as np
import pytest

from reenact_cli.flow.extend import push_pull, smoothstep


def ramp(h, w):
    """``(H, W)`` float32 linear ramp in x over pixel centres, 0..1."""
    x = (np.arange(w, dtype=np.float32) + 0.5) / w
    return np.tile(x, (h, 1))


def max_jump(a):
    return max(float(np.abs(np.diff(a, axis=0)).max()), float(np.abs(np.diff(a, axis=1)).max()))


# ---------------------------------------------------------------- shapes
@pytest.mark.parametrize("shape", [(64, 64), (37, 53), (5, 7), (1, 9), (100, 3)])
def test_shape_and_dtype(shape):
    rng = np.random.default_rng(0)
    known = rng.random(shape) < 0.3
    known.flat[0] = True
    out2 = push_pull(rng.normal(size=shape), known)
    assert out2.shape == shape and out2.dtype == np.float32
    out3 = push_pull(rng.normal(size=shape + (3,)), known)
    assert out3.shape == shape + (3,) and out3.dtype == np.float32


# ---------------------------------------------------------- known values
@pytest.mark.parametrize("density", [0.02, 0.3, 0.9])
def test_known_values_kept_exactly(density):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(50, 70, 3)).astype(np.float32) * 100
    known = rng.random((50, 70)) < density
    out = push_pull(values, known)
    np.testing.assert_array_equal(out[known], values[known])
    assert np.all(np.isfinite(out))


def test_all_known_is_identity():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(33, 47, 2)).astype(np.float32)
    np.testing.assert_array_equal(push_pull(values, np.ones((33, 47))), values)


def test_unknown_values_are_ignored():
    rng = np.random.default_rng(3)
    known = rng.random((40, 40)) < 0.2
    a = rng.normal(size=(40, 40, 2)).astype(np.float32)
    b = a.copy()
    b[~known] = rng.normal(size=(int((~known).sum()), 2)) * 1e4
    np.testing.assert_array_equal(push_pull(a, known), push_pull(b, known))


# ---------------------------------------------------------------- fill
@pytest.mark.parametrize("shape", [(64, 64), (37, 53), (256, 256)])
def test_constant_field_fills_with_constant(shape):
    rng = np.random.default_rng(4)
    known = rng.random(shape) < 0.05
    known[shape[0] // 2, shape[1] // 2] = True
    values = np.where(known[..., None], np.float32([3.5, -2.0]), np.float32(0.0))
    out = push_pull(values, known)
    np.testing.assert_allclose(out[..., 0], 3.5, atol=1e-4)
    np.testing.assert_allclose(out[..., 1], -2.0, atol=1e-4)


def test_constant_from_a_single_pixel():
    known = np.zeros((64, 48))
    known[10, 40] = 1
    out = push_pull(np.full((64, 48), 7.25, np.float32), known)
    np.testing.assert_allclose(out, 7.25, atol=1e-4)


def test_constant_from_a_block_with_fractional_weights():
    known = np.zeros((32, 32), np.float32)
    known[8:16, 8:16] = 1.0
    known[16:18, 8:16] = 0.5  # soft edge
    out = push_pull(np.full((32, 32), -1.5, np.float32), known)
    np.testing.assert_allclose(out, -1.5, atol=1e-4)


def test_nothing_known_gives_zeros():
    out = push_pull(np.ones((9, 11, 2), np.float32), np.zeros((9, 11)))
    np.testing.assert_array_equal(out, 0.0)


def test_fill_stays_within_known_range():
    rng = np.random.default_rng(5)
    known = rng.random((64, 64)) < 0.1
    values = rng.uniform(-3, 5, (64, 64)).astype(np.float32)
    out = push_pull(values, known)
    assert out.min() >= values[known].min() - 1e-5
    assert out.max() <= values[known].max() + 1e-5


@pytest.mark.parametrize("boundary", [33, 20, 45])
def test_ramp_known_on_part_is_continuous(boundary):
    """A linear ramp known left of ``boundary``: no jump between neighbouring
    pixels larger than twice the ramp's own slope (1/64 per pixel)."""
    f = ramp(64, 64)
    known = np.zeros((64, 64), np.float32)
    known[:, :boundary] = 1
    out = push_pull(f, known)
    np.testing.assert_array_equal(out[:, :boundary], f[:, :boundary])
    slope = 1.0 / 64
    print(f"boundary {boundary}: max jump {max_jump(out):.4f} (slope {slope:.4f})")
    assert max_jump(out) <= 2.0 * slope


def test_ramp_known_on_half_is_continuous():
    f = ramp(64, 64)
    known = np.zeros((64, 64), np.float32)
    known[:, :32] = 1
    out = push_pull(f, known)
    np.testing.assert_array_equal(out[:, :32], f[:, :32])
    slope = 1.0 / 64
    jump = max_jump(out)
    print(f"half: max jump {jump:.4f} (slope {slope:.4f})")
    assert jump <= 2.0 * slope


def test_ramp_fill_is_monotone_and_bounded():
    # Weaker property that holds today: the fill of a ramp does not overshoot the
    # known values, and it is constant along y (the data are).
    f = ramp(64, 64)
    known = np.zeros((64, 64), np.float32)
    known[:, :32] = 1
    out = push_pull(f, known)
    assert out.max() <= f[:, :32].max() + 1e-6 and out.min() >= f[:, :32].min() - 1e-6
    np.testing.assert_allclose(out, np.broadcast_to(out[:1], out.shape), atol=1e-6)


# ---------------------------------------------------------- smoothstep
def test_smoothstep_endpoints_and_clipping():
    x = np.array([-5.0, -1e-9, 0.0, 0.5, 1.0, 1.0 + 1e-9, 7.0])
    np.testing.assert_allclose(smoothstep(x), [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0], atol=1e-12)


def test_smoothstep_formula_and_flat_ends():
    x = np.linspace(0, 1, 101)
    np.testing.assert_allclose(smoothstep(x), 3 * x**2 - 2 * x**3, atol=1e-12)
    assert np.all(np.diff(smoothstep(x)) >= 0)
    h = 1e-4
    assert (smoothstep(np.array(h)) - smoothstep(np.array(0.0))) / h < 1e-3  # zero slope at 0
    assert (smoothstep(np.array(1.0)) - smoothstep(np.array(1 - h))) / h < 1e-3  # and at 1
    # symmetric: s(1 - x) = 1 - s(x)
    np.testing.assert_allclose(smoothstep(1 - x), 1 - smoothstep(x), atol=1e-12)


def test_smoothstep_keeps_float32():
    assert smoothstep(np.linspace(0, 1, 5, dtype=np.float32)).dtype == np.float32
