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
    c = 1 if squeeze else v.shape[2]
    if c == 1:
        v = v.reshape(v.shape[0], v.shape[1])
    # Images are (h, w) for one channel, else (h, w, c); per-pixel weights are
    # spread over the channels for OpenCV's element-wise arithmetic (several
    # times faster than numpy's broadcasting at these sizes, same float ops).

    def spread(weight: np.ndarray) -> np.ndarray:
        return weight if c == 1 else cv2.merge([weight] * c)

    w = np.clip(known.astype(np.float32), 0.0, 1.0)
    levels = [(cv2.multiply(v, spread(w)), w)]
    while min(levels[-1][1].shape) > min_size:
        vw, ww = levels[-1]
        hh, wd = ww.shape
        size = ((wd + 1) // 2, (hh + 1) // 2)
        vw2 = cv2.pyrDown(vw, dstsize=size)
        ww2 = cv2.pyrDown(ww, dstsize=size)
        # Weighted mean, with confidence growing as coverage accumulates.
        mean = cv2.divide(vw2, spread(np.maximum(ww2, 1e-8)))
        wc = np.minimum(ww2 * 4.0, 1.0)
        levels.append((cv2.multiply(mean, spread(wc)), wc))
    vw, ww = levels[-1]
    vw3 = vw.reshape(vw.shape[0], vw.shape[1], c)
    total = ww.sum()
    fill = vw3.sum(axis=(0, 1)) / total if total > 0 else np.zeros(c, np.float32)
    filled = (vw3 + (1.0 - ww)[:, :, None] * fill.astype(np.float32)).reshape(vw.shape)
    for vw, ww in reversed(levels[:-1]):
        hh, wd = ww.shape
        up = cv2.pyrUp(filled, dstsize=(wd, hh))
        filled = cv2.add(vw, cv2.multiply(up, spread(1.0 - ww)))
    return filled if squeeze else filled.reshape(filled.shape[0], filled.shape[1], c)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Cubic ease ``3x^2 - 2x^3`` of ``x`` clipped to [0, 1]."""
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
