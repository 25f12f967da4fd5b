"""Triangle rasterisation: which triangle covers each pixel, and where in it.

Triangles are filled far-to-near (painter's order on their mean depth, smaller
z = nearer), so the nearest surface wins, as a z-buffer would decide for a
mesh without interpenetration. Filling uses OpenCV with 4 bits of sub-pixel
precision; barycentric coordinates are then computed exactly at pixel centres.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_SHIFT = 4
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class Raster:
    """Result of :func:`rasterize`.

    Attributes:
        triangle: ``(H, W)`` int32 index into the triangle list, -1 where empty.
        rows, cols: ``(P,)`` pixel indices of the P covered pixels.
        ids: ``(P,)`` triangle index of each covered pixel.
        bary: ``(P, 3)`` float32 barycentric coordinates of each covered pixel.
    """

    triangle: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    ids: np.ndarray
    bary: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """``(H, W)`` bool: pixels covered by any triangle."""
        return self.triangle >= 0

    def interpolate(self, values: np.ndarray, triangles: np.ndarray) -> np.ndarray:
        """Barycentric interpolation of per-vertex ``values (V, C)`` at the covered
        pixels: ``(P, C)``."""
        corner = values[triangles[self.ids]]  # (P, 3, C)
        return np.einsum("pk,pkc->pc", self.bary, corner)


def signed_areas(xy: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """``(T,)`` signed areas (pixels^2) of triangles over 2-D points ``xy (V, 2)``.
    Positive for clockwise-on-screen order in the y-down frame."""
    a, b, c = xy[triangles[:, 0]], xy[triangles[:, 1]], xy[triangles[:, 2]]
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def rasterize(
    vertices: np.ndarray,
    triangles: np.ndarray,
    size: tuple[int, int],
    draw: np.ndarray | None = None,
) -> Raster:
    """Rasterise triangles over ``vertices (V, 3)`` (pixels, z = depth) into an
    image of ``size = (width, height)``.

    Args:
        draw: optional ``(T,)`` bool, which triangles to draw (e.g. front-facing).
    """
    w, h = size
    tri_img = np.full((h, w), -1, dtype=np.int32)
    depth = vertices[triangles, 2].mean(axis=1)
    order = np.argsort(-depth, kind="stable")
    if draw is not None:
        order = order[draw[order]]
    # OpenCV's integer pixel centres sit at our +0.5 centres.
    fixed = np.round((vertices[:, :2] - 0.5) * _ONE).astype(np.int32)
    polys = fixed[triangles]
    fill = cv2.fillConvexPoly
    for t in order.tolist():
        fill(tri_img, polys[t], t, cv2.LINE_8, _SHIFT)
    rows, cols = np.nonzero(tri_img >= 0)
    ids = tri_img[rows, cols]
    bary = _barycentric(vertices[:, :2], triangles[ids], cols, rows)
    return Raster(tri_img, rows, cols, ids, bary)


def _barycentric(xy: np.ndarray, tris: np.ndarray, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
    p = np.stack([cols + 0.5, rows + 0.5], axis=1).astype(np.float64)
    a, b, c = xy[tris[:, 0]].astype(np.float64), xy[tris[:, 1]].astype(np.float64), xy[tris[:, 2]].astype(np.float64)
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-9, 1e-9, den)
    l1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    l2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    bary = np.stack([1.0 - l1 - l2, l1, l2], axis=1)
    # Edge pixels filled by the conservative fill may sit a hair outside.
    bary = np.clip(bary, -0.25, 1.25)
    bary /= bary.sum(axis=1, keepdims=True)
    return bary.astype(np.float32)

