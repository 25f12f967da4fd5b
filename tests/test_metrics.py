"""PSNR and SSIM against their definitions."""
from __future__ import annotations

import numpy as np

from reenact_cli.eval.metrics import psnr, ssim


def test_identical_images(hopper):
    assert psnr(hopper, hopper) == float("inf")
    assert abs(ssim(hopper, hopper) - 1.0) < 1e-12


def test_psnr_of_a_known_error():
    a = np.full((10, 10, 3), 100, np.uint8)
    b = a + np.uint8(5)  # MSE 25
    assert abs(psnr(a, b) - 10 * np.log10(255**2 / 25)) < 1e-9
    mask = np.zeros((10, 10), bool)
    mask[:2] = True
    c = a.copy()
    c[5:] = 0
    assert psnr(a, c, mask) == float("inf")


def _ssim_brute_force(x: np.ndarray, y: np.ndarray) -> float:
    """SSIM with explicit 11x11 Gaussian windows over every valid position."""
    r = np.arange(-5, 6)
    g = np.exp(-(r**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for ch in range(x.shape[2]):
        xs = np.lib.stride_tricks.sliding_window_view(x[:, :, ch].astype(float), (11, 11))
        ys = np.lib.stride_tricks.sliding_window_view(y[:, :, ch].astype(float), (11, 11))
        mx = (xs * w).sum(axis=(2, 3))
        my = (ys * w).sum(axis=(2, 3))
        vx = (xs * xs * w).sum(axis=(2, 3)) - mx**2
        vy = (ys * ys * w).sum(axis=(2, 3)) - my**2
        cxy = (xs * ys * w).sum(axis=(2, 3)) - mx * my
        vals.append(((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return float(np.mean(vals))


def test_ssim_matches_the_definition_on_a_real_photo(hopper):
    import cv2

    x = hopper[200:260, 180:250]
    y = cv2.GaussianBlur(x, (5, 5), 1.2)
    z = np.clip(x.astype(int) + np.random.default_rng(0).integers(-20, 21, x.shape), 0, 255).astype(np.uint8)
    for other in (y, z):
        assert abs(ssim(x, other) - _ssim_brute_force(x, other)) < 1e-6
    assert ssim(x, z) < ssim(x, y) < 1.0
