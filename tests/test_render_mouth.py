"""The painted mouth interior (render.mouth.paint_mouth): lit like the lips, not a dark hole."""
from __future__ import annotations

import numpy as np

from reenact_cli.render.mouth import interior_colour, paint_mouth

LIP = np.array([0.65, 0.39, 0.38], dtype=np.float32)


def _ellipse(height: int, width: int = 60, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """An elliptic opening ``height`` x ``width`` pixels with its (u, t) coordinates."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32) + 0.5
    cx, cy, a, b = size / 2, size / 2, width / 2, height / 2
    mouth = ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 < 1.0
    ut = np.stack([(xx - (cx - a)) / (2 * a), (yy - (cy - b)) / (2 * b)], axis=-1)
    return mouth, ut.astype(np.float32)


def test_interior_is_near_the_lip_colour_and_opaque():
    mouth, ut = _ellipse(18)
    rgb, alpha = paint_mouth(mouth, ut, LIP)
    assert np.all(alpha[mouth] == 1.0) and np.all(alpha[~mouth] == 0.0)
    median = np.median(rgb[mouth].astype(np.float32), axis=0) / 255.0
    assert np.all(median > 0.7 * LIP) and np.all(median < 1.15 * LIP), median / LIP  # the old dark cavity: ~0.5x


def test_interior_darker_at_the_corners_and_in_wide_openings():
    u = np.array([0.5, 0.05], dtype=np.float32)
    t = np.full(2, 0.5, dtype=np.float32)
    mid, corner = interior_colour(u, t, 0.2, LIP)
    assert np.all(corner < mid)
    wide = interior_colour(u, t, 0.6, LIP)[0]
    assert np.all(wide < 0.8 * mid)


def test_teeth_are_lit_like_the_lips():
    """The upper teeth band is lighter than the interior below it, and scales
    with the lips' brightness (a dim video gets dim teeth)."""
    mouth, ut = _ellipse(30)
    bright = paint_mouth(mouth, ut, LIP)[0].astype(np.float32)
    dim = paint_mouth(mouth, ut, 0.5 * LIP)[0].astype(np.float32)
    col = 48  # mid-mouth column
    rows = np.flatnonzero(mouth[:, col])
    top, middle = rows[1], rows[len(rows) // 2]
    assert bright[top, col].sum() > bright[middle, col].sum()
    assert np.allclose(dim[top, col], 0.5 * bright[top, col], atol=2.0)
