"""Painting a mouth interior the source never showed.

Inside the driving mouth opening each pixel has local coordinates (u along the
mouth, t across it: 0 at the upper inner lip, 1 at the lower). The interior is
tinted by the source's lip colour: in a frontally lit face the tongue, gums
and palate are lit, nearly lip-coloured (not a dark hole); it is shaded towards
the corners, lighter over the tongue rising from the lower lip, and
darker the wider the mouth opens (more of the cavity shows). A band of upper
teeth runs under the upper lip and a narrower band of lower teeth shows when
the mouth is wide open, lit like the lips and shaded towards the corners.

The colours are multiples of the lip colour measured on the real open mouths
of the shared clips (the source's closed first frame driven by its clip; the
mean real colour over the painted pixels of eight clips is 0.7-1.0 times the
lip colour, darker at the corners and in wide openings).
"""
from __future__ import annotations

import numpy as np

from ..flow.extend import smoothstep

TEETH_RGB = np.array([0.93, 0.90, 0.84], dtype=np.float32)
#: Teeth brightness relative to the lips' brightest channel (they are lit like
#: the lips, in the mouth's shade), so a dim video gets dim teeth.
TEETH_GAIN = 0.75
#: Interior colour / lip colour mid-mouth under the upper lip; towards the
#: corners it is darker by up to :data:`CORNER_SHADE`, and over the tongue
#: (rising from the lower lip) lighter by :data:`TONGUE_LIFT`.
INTERIOR_GAIN = 0.9
CORNER_SHADE = 0.33
TONGUE_LIFT = 0.25
#: The interior darkens by up to :data:`OPEN_SHADE` as the opening (height /
#: width of the painted region) grows from ``OPEN_SHADE_FROM`` to ``OPEN_SHADE_TO``.
OPEN_SHADE = 0.3
OPEN_SHADE_FROM = 0.2
OPEN_SHADE_TO = 0.5


def interior_colour(u: np.ndarray, t: np.ndarray, aspect: float, lip_rgb: np.ndarray) -> np.ndarray:
    """``(N, 3)`` float32 interior colour in [0, 1] (teeth not included).

    Args:
        u, t: ``(N,)`` local coordinates in [0, 1] (see module docstring).
        aspect: height / width of the painted opening.
        lip_rgb: ``(3,)`` mean lip colour in [0, 1].
    """
    centre = 1.0 - (2.0 * u - 1.0) ** 2  # 1 mid-mouth, 0 at the corners
    tongue = smoothstep((t - 0.35) / 0.6)
    gain = INTERIOR_GAIN * (1.0 - CORNER_SHADE * (1.0 - centre)) + TONGUE_LIFT * tongue
    gain *= 1.0 - OPEN_SHADE * smoothstep((aspect - OPEN_SHADE_FROM) / (OPEN_SHADE_TO - OPEN_SHADE_FROM))
    return (gain[:, None] * lip_rgb[None, :]).astype(np.float32)


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
    colour = interior_colour(u, t, opening / width, lip_rgb)

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
    teeth = TEETH_RGB[None, :] * (TEETH_GAIN * float(lip_rgb.max()) / float(TEETH_RGB.max())) * shade * gaps
    teeth_w = np.maximum(upper, lower)[:, None] if np.ndim(lower) else upper[:, None]
    rgb[rows, cols] = np.clip((colour * (1.0 - teeth_w) + teeth * teeth_w) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    # Opaque: under the opening the warp reads the source's closed lip line,
    # which would show through a feathered edge as a light ring.
    alpha[rows, cols] = 1.0
    return rgb, alpha
