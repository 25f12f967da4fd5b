"""Smooth extension of a field defined on part of an image to all of it.

Push-pull (a fast pyramid solution of scattered-data interpolation): averages
of the known values are pushed down a pyramid, then pulled back up, each level
filling its unknown pixels from the coarser one. Known pixels keep their values
exactly, and the fill is smooth and continuous with them.
"""
from __future__ import annotations

import cv2
import numpy as np


def push_pull(values: np.ndarray, known: np.ndarray, min_size: int = 2) -> np.ndarray:
    """Fill ``values (H, W, C)`` float32 where ``known (H, W)`` (weight in [0, 1])
    is 0, smoothly from where it is 1.

    Returns ``(H, W, C)`` float32; unchanged where ``known == 1``. Uses OpenCV's
    Gaussian pyramid (``pyrDown`` / ``pyrUp``), whose overlapping kernels keep
    the fill free of block seams.
    """
    v = values.astype(np.float32)
    squeeze = v.ndim == 2
    if squeeze:
        v = v[:, :, None]
    w = np.clip(known.astype(np.float32), 0.0, 1.0)
    levels = [(v * w[:, :, None], w)]
    while min(levels[-1][1].shape) > min_size:
        vw, ww = levels[-1]
        hh, wd = ww.shape
        size = ((wd + 1) // 2, (hh + 1) // 2)
        vw2 = cv2.pyrDown(vw, dstsize=size).reshape(size[1], size[0], -1)
        ww2 = cv2.pyrDown(ww, dstsize=size)
        # Weighted mean, with confidence growing as coverage accumulates.
        mean = vw2 / np.maximum(ww2, 1e-8)[:, :, None]
        wc = np.minimum(ww2 * 4.0, 1.0)
        levels.append((mean * wc[:, :, None], wc))
    vw, ww = levels[-1]
    total = ww.sum()
    fill = vw.sum(axis=(0, 1)) / total if total > 0 else np.zeros(vw.shape[2], np.float32)
    filled = vw + (1.0 - ww)[:, :, None] * fill.astype(np.float32)
    for vw, ww in reversed(levels[:-1]):
        hh, wd = ww.shape
        up = cv2.pyrUp(filled, dstsize=(wd, hh)).reshape(hh, wd, -1)
        filled = vw + (1.0 - ww)[:, :, None] * up
    return filled[:, :, 0] if squeeze else filled


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cubic ease ``3x^2 - 2x^3`` of ``x`` clipped to [0, 1]."""
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
