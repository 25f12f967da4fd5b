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

    Returns ``(H, W, C)`` float32; unchanged where ``known == 1``.
    """
    v = values.astype(np.float32)
    if v.ndim == 2:
        v = v[:, :, None]
    w = known.astype(np.float32)
    levels = [(v * w[:, :, None], w)]
    while min(levels[-1][1].shape) > min_size:
        vw, ww = levels[-1]
        hh, wd = ww.shape
        size = ((wd + 1) // 2, (hh + 1) // 2)
        # INTER_AREA averages 2x2 blocks; times 4 gives sums.
        vw2 = cv2.resize(vw, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1) * 4.0
        ww2 = cv2.resize(ww, size, interpolation=cv2.INTER_AREA) * 4.0
        # Normalise to a weighted mean with weight clipped at 1.
        mean = vw2 / np.maximum(ww2, 1e-8)[:, :, None]
        wc = np.minimum(ww2, 1.0)
        levels.append((mean * wc[:, :, None], wc))
    vw, ww = levels[-1]
    total = ww.sum()
    filled = (vw.sum(axis=(0, 1)) / total if total > 0 else np.zeros(vw.shape[2], np.float32))
    filled = np.broadcast_to(filled, vw.shape).astype(np.float32)
    filled = vw + (1.0 - ww)[:, :, None] * filled
    for vw, ww in reversed(levels[:-1]):
        hh, wd = ww.shape
        up = cv2.resize(filled, (wd, hh), interpolation=cv2.INTER_LINEAR).reshape(hh, wd, -1)
        # vw already holds value * weight (weighted mean at coarse levels).
        filled = vw + (1.0 - ww)[:, :, None] * up
    out = filled
    return out if values.ndim == 3 else out[:, :, 0]


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cubic ease ``3x^2 - 2x^3`` of ``x`` clipped to [0, 1]."""
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
