"""Triangle rasterisation: which triangle covers each pixel, and where in it.

Triangles are filled far-to-near (painter's order on their mean depth, smaller
z = nearer), so the nearest surface wins, as a z-buffer would decide for a
mesh without interpenetration. Filling uses OpenCV with 4 bits of sub-pixel
precision; values are then interpolated exactly at pixel centres, through
per-triangle affine maps (:func:`linear_maps`) or barycentric coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

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
        corners: ``(T, 3, 2)`` float32 screen positions of every triangle's corners.
    """

    triangle: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    ids: np.ndarray
    corners: np.ndarray

    @cached_property
    def flat(self) -> np.ndarray:
        """``(P,)`` flat indices ``row * W + col`` of the covered pixels."""
        return self.rows * self.triangle.shape[1] + self.cols

    @property
    def mask(self) -> np.ndarray:
        """``(H, W)`` bool: pixels covered by any triangle."""
        return self.triangle >= 0

    @cached_property
    def bary(self) -> np.ndarray:
        """``(P, 3)`` float32 barycentric coordinates of each covered pixel (exact,
        so slightly outside [0, 1] for edge pixels whose centre lies just
        outside their triangle; see :func:`rasterize`)."""
        p = np.stack([self.cols + 0.5, self.rows + 0.5], axis=1).astype(np.float64)
        c = self.corners[self.ids].astype(np.float64)
        v0, v1, v2 = c[:, 1] - c[:, 0], c[:, 2] - c[:, 0], p - c[:, 0]
        den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
        den = np.where(np.abs(den) < 1e-9, 1e-9, den)
        l1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
        l2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
        return np.stack([1.0 - l1 - l2, l1, l2], axis=1).astype(np.float32)

    def interpolate(self, values: np.ndarray, triangles: np.ndarray) -> np.ndarray:
        """Barycentric interpolation of per-vertex ``values (V, C)`` at the covered
        pixels: ``(P, C)``."""
        corner = values[triangles[self.ids]]  # (P, 3, C)
        return np.einsum("pk,pkc->pc", self.bary, corner)

    def evaluate(self, maps: np.ndarray) -> np.ndarray:
        """Per-triangle affine ``maps (T, 3, C)`` (from :func:`linear_maps`) at the
        covered pixels: ``(P, C)`` float32 (a transposed view of
        :meth:`evaluate_planes`). Equivalent to :meth:`interpolate`, faster."""
        return self.evaluate_planes(maps).T

    def evaluate_planes(self, maps: np.ndarray) -> np.ndarray:
        """:meth:`evaluate` laid out as ``(C, P)`` float32: one contiguous row
        per channel (each channel is gathered and combined on its own, which
        numpy does several times faster than on interleaved ``(P, C)`` rows)."""
        planes = np.ascontiguousarray(np.moveaxis(maps, (1, 2), (0, 1)), dtype=np.float32)  # (3, C, T)
        x = self.cols.astype(np.float32) + 0.5
        y = self.rows.astype(np.float32) + 0.5
        out = np.empty((maps.shape[2], len(self.ids)), dtype=np.float32)
        for c, row in enumerate(out):
            np.multiply(np.take(planes[0, c], self.ids), x, out=row)
            row += np.take(planes[1, c], self.ids) * y
            row += np.take(planes[2, c], self.ids)
        return out


def _as_elements(a: np.ndarray) -> np.ndarray:
    """View a C-contiguous ``(N, C)`` array as ``(N,)`` elements of one row each
    (an integer type where the row is 4 or 8 bytes wide, else raw bytes)."""
    width = a.shape[1] * a.itemsize
    kind = {4: np.int32, 8: np.int64}.get(width, np.dtype((np.void, width)))
    return a.view(kind).reshape(-1)


def take_rows(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[index]`` for a C-contiguous ``(N, C)`` table, bit for bit; numpy
    copies whole rows several times faster than C separate values."""
    out = np.take(_as_elements(table), index)
    return out.view(table.dtype).reshape(len(index), table.shape[1])


def scatter_rows(table: np.ndarray, index: np.ndarray, rows: np.ndarray) -> None:
    """``table[index] = rows`` in place for a C-contiguous ``(N, C)`` table
    (``index`` without repeats), bit for bit, as :func:`take_rows` is fast."""
    elements = _as_elements(table)
    values = _as_elements(np.ascontiguousarray(rows, dtype=table.dtype).reshape(len(index), table.shape[1]))
    if elements.dtype.kind == "V":
        np.put(elements, index, values)
    else:
        elements[index] = values


def linear_maps(corners: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-triangle affine maps from screen position to interpolated values.

    Args:
        corners: ``(T, 3, 2)`` screen positions of each triangle's corners.
        values: ``(T, 3, C)`` values at those corners.

    Returns:
        ``(T, 3, C)`` float32 ``M`` with ``value(x, y) = x M[0] + y M[1] + M[2]``.
        Degenerate (zero-area) triangles map to their corners' mean.
    """
    c = corners.astype(np.float64)
    v = values.astype(np.float64)
    e1, e2 = c[:, 1] - c[:, 0], c[:, 2] - c[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(det) > 1e-6
    inv_det = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)[:, None]
    # [l1, l2] = [dx, dy] @ inv(E), E = [e1; e2]; gradient G = inv(E) @ [v1 - v0; v2 - v0],
    # inv(E) = [[e2y, -e1y], [-e2x, e1x]] / det.
    d1, d2 = v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]
    out = np.empty((len(c), 3, v.shape[2]), dtype=np.float64)
    gx, gy = out[:, 0], out[:, 1]
    gx[:] = (e2[:, 1:2] * inv_det) * d1 + (-e1[:, 1:2] * inv_det) * d2
    gy[:] = (-e2[:, 0:1] * inv_det) * d1 + (e1[:, 0:1] * inv_det) * d2
    out[:, 2] = v[:, 0] - c[:, 0, 0:1] * gx - c[:, 0, 1:2] * gy
    if not ok.all():
        out[~ok, 2] = v[~ok].mean(axis=1)
    return out.astype(np.float32)


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

    Coverage is OpenCV's: every pixel the triangle *touches*, so pixels along
    a triangle's edge whose centres lie up to ~0.7 px outside it are covered
    too (values there are linear extrapolations, continuous with the inside).

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
    polys = list(fixed[triangles])  # one view per triangle: list indexing is cheaper than numpy's
    fill = cv2.fillConvexPoly
    for t in order.tolist():
        fill(tri_img, polys[t], t, cv2.LINE_8, _SHIFT)
    flat = np.flatnonzero(tri_img >= 0)
    ids = tri_img.reshape(-1)[flat]
    rows, cols = np.divmod(flat, w)
    return Raster(tri_img, rows, cols, ids, vertices[:, :2].astype(np.float32)[triangles])
