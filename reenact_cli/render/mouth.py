"""Painting a mouth interior the source never showed.

Inside the driving mouth opening each pixel has local coordinates (u along the
mouth, t across it: 0 at the upper inner lip, 1 at the lower). The interior is
a dark cavity tinted by the source's lip colour, with a band of upper teeth
under the upper lip and a narrower band of lower teeth when the mouth is wide
open, both shaded darker towards the corners.
"""
from __future__ import annotations

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
        ``(rgb (H, W, 3) uint8, alpha (H, W) float32)``; alpha is 1 inside
        ``mouth`` and 0 outside.
    """
    h, w = mouth.shape
    rgb = np.zeros((h, w, 3), dtype=np.uint8)
    alpha = np.zeros((h, w), dtype=np.float32)
    if not mouth.any():
        return rgb, alpha
    rows, cols = np.nonzero(mouth)
    opening = float(rows.max() - rows.min() + 1)
    width = float(cols.max() - cols.min() + 1)
    # Edge pixels are extrapolated slightly outside the opening: clamp.
    u = np.clip(mouth_ut[rows, cols, 0], 0.0, 1.0)
    t = np.clip(mouth_ut[rows, cols, 1], 0.0, 1.0)
    centre = 1.0 - (2.0 * u - 1.0) ** 2  # 1 mid-mouth, 0 at the corners

    # Dark throat in the middle, the tongue's lip-like red rising from the lower
    # lip, a little light at the corners.
    throat = lip_rgb * 0.32
    tongue = lip_rgb * 0.75
    lower = smoothstep((t[:, None] - 0.35) / 0.6)
    colour = throat[None, :] * (0.8 + 0.4 * (1.0 - centre[:, None])) + lower * (tongue - throat)[None, :]

    upper_px = min(0.3 * opening, 0.08 * width)
    lower_px = min(0.12 * opening, 0.05 * width) if opening > 0.5 * width else 0.0
    t_up = upper_px / opening
    t_lo = lower_px / opening
    soft = 1.0 / max(opening, 1.0)
    upper = smoothstep((t_up - t) / soft) * smoothstep((centre - 0.25) / 0.35)
    lower = smoothstep((t - (1.0 - t_lo)) / soft) * smoothstep((centre - 0.35) / 0.35) if t_lo > 0 else 0.0
    shade = (0.55 + 0.45 * centre)[:, None]
    # Faint gaps between teeth: narrow dark lines at even steps along u.
    gaps = 1.0 - 0.18 * np.maximum(np.cos(np.pi * 10.0 * u), 0.0)[:, None] ** 24
    teeth = TEETH_RGB[None, :] * shade * gaps
    teeth_w = np.maximum(upper, lower)[:, None] if np.ndim(lower) else upper[:, None]
    rgb[rows, cols] = np.clip((colour * (1.0 - teeth_w) + teeth * teeth_w) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    # Opaque: under the opening the warp reads the source's closed lip line,
    # which would show through a feathered edge as a light ring.
    alpha[rows, cols] = 1.0
    return rgb, alpha
