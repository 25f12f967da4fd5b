"""Painting a mouth interior the source never showed.

Inside the driving mouth opening each pixel has local coordinates (u along the
mouth, t across it: 0 at the upper inner lip, 1 at the lower). The interior is
a dark cavity tinted by the source's lip colour, with a band of upper teeth
under the upper lip and a narrower band of lower teeth when the mouth is wide
open, both shaded darker towards the corners.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..flow.extend import smoothstep

TEETH_RGB = np.array([0.93, 0.90, 0.84], dtype=np.float32)


def paint_mouth(mouth: np.ndarray, mouth_ut: np.ndarray, lip_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Colour and alpha of a painted interior.

    Args:
        mouth: ``(H, W)`` bool, pixels to paint.
        mouth_ut: ``(H, W, 2)`` local coordinates (see module docstring).
        lip_rgb: ``(3,)`` float32 mean lip colour of the source in [0, 1].

    Returns:
        ``(rgb (H, W, 3) uint8, alpha (H, W) float32)``; alpha is 0 outside
        ``mouth`` and feathered by one pixel at its edge.
    """
    h, w = mouth.shape
    rgb = np.zeros((h, w, 3), dtype=np.uint8)
    alpha = np.zeros((h, w), dtype=np.float32)
    if not mouth.any():
        return rgb, alpha
    rows, cols = np.nonzero(mouth)
    opening = float(rows.max() - rows.min() + 1)
    width = float(cols.max() - cols.min() + 1)
    u = mouth_ut[rows, cols, 0]
    t = mouth_ut[rows, cols, 1]
    centre = 1.0 - (2.0 * u - 1.0) ** 2  # 1 mid-mouth, 0 at the corners

    cavity = lip_rgb * 0.28
    depth = 0.45 + 0.55 * (1.0 - centre[:, None]) * 0.5 + 0.35 * smoothstep((t[:, None] - 0.55) / 0.45)
    colour = cavity[None, :] * depth  # darker at the back, lip-tinted towards the tongue

    upper_px = min(0.42 * opening, 0.11 * width)
    lower_px = max(0.0, min(0.25 * opening - 0.04 * width, 0.07 * width))
    t_up = upper_px / opening
    t_lo = lower_px / opening
    soft = 1.0 / max(opening, 1.0)
    upper = smoothstep((t_up - t) / soft) * smoothstep((centre - 0.05) / 0.3)
    lower = smoothstep((t - (1.0 - t_lo)) / soft) * smoothstep((centre - 0.25) / 0.3) if t_lo > 0 else 0.0
    shade = (0.55 + 0.45 * centre)[:, None]
    # Faint gaps between teeth: narrow dark lines at even steps along u.
    gaps = 1.0 - 0.18 * np.maximum(np.cos(np.pi * 10.0 * u), 0.0)[:, None] ** 24
    teeth = TEETH_RGB[None, :] * shade * gaps
    teeth_w = np.maximum(upper, lower)[:, None] if np.ndim(lower) else upper[:, None]
    rgb[rows, cols] = np.clip((colour * (1.0 - teeth_w) + teeth * teeth_w) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    # Feather one pixel inside the opening's edge (computed on its box only).
    r0, r1, c0, c1 = max(0, rows.min() - 1), rows.max() + 2, max(0, cols.min() - 1), cols.max() + 2
    inside = mouth[r0:r1, c0:c1].astype(np.float32)
    alpha[r0:r1, c0:c1] = np.where(inside > 0, np.maximum(cv2.GaussianBlur(inside, (3, 3), 0.7), 0.6), 0.0)
    return rgb, alpha
