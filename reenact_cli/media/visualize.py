"""Pictures of intermediate results: flow, masks, wireframes, labelled sheets."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..face.topology import face_topology


def flow_to_rgb(displacement: np.ndarray, max_norm: float | None = None) -> np.ndarray:
    """Colour-wheel picture of a displacement field ``(H, W, 2)`` (pixels):
    hue = direction, brightness = length (white = no motion). RGB uint8."""
    dx, dy = displacement[:, :, 0], displacement[:, :, 1]
    mag = np.sqrt(dx * dx + dy * dy)
    scale = max_norm if max_norm else max(float(np.percentile(mag, 99.5)), 1e-6)
    ang = (np.degrees(np.arctan2(-dy, -dx)) + 180.0) / 2.0  # OpenCV hue is 0..180
    hsv = np.zeros(displacement.shape[:2] + (3,), dtype=np.uint8)
    hsv[:, :, 0] = ang.astype(np.uint8)
    hsv[:, :, 1] = np.clip(mag / scale * 255.0, 0, 255).astype(np.uint8)
    hsv[:, :, 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def mask_to_rgb(mask: np.ndarray) -> np.ndarray:
    """A mask (bool or [0, 1] float) as a gray RGB uint8 image."""
    m = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    g = np.round(m * 255.0).astype(np.uint8)
    return np.repeat(g[:, :, None], 3, axis=2)


def draw_wireframe(image: np.ndarray, vertices: np.ndarray, colour: tuple[int, int, int] = (0, 255, 120)) -> np.ndarray:
    """``image`` with the mesh edges drawn over it (RGB uint8)."""
    out = image.copy()
    edges = face_topology().edges
    pts = np.round((vertices[:, :2] - 0.5) * 16).astype(np.int32)
    lines = [np.stack([pts[a], pts[b]]) for a, b in edges]
    cv2.polylines(out, lines, False, colour, 1, cv2.LINE_AA, 4)
    return out


def label(image: np.ndarray, text: str, height: int = 22) -> np.ndarray:
    """``image`` with a white caption strip underneath (RGB uint8)."""
    w = image.shape[1]
    strip = np.full((height, w, 3), 255, dtype=np.uint8)
    scale = 0.45 * height / 22
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.putText(strip, text, (max(2, (w - tw) // 2), int(height * 0.72)), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), 1, cv2.LINE_AA)
    return np.concatenate([image, strip], axis=0)


def contact_sheet(rows: Sequence[Sequence[np.ndarray]], labels: Sequence[Sequence[str]] | None = None, gap: int = 4) -> np.ndarray:
    """Grid of equally sized RGB tiles, optionally captioned, on white."""
    tiles = []
    for r, row in enumerate(rows):
        cells = []
        for c, img in enumerate(row):
            cell = label(img, labels[r][c]) if labels else img
            cells.append(cell)
            cells.append(np.full((cell.shape[0], gap, 3), 255, np.uint8))
        line = np.concatenate(cells[:-1], axis=1)
        tiles.append(line)
        tiles.append(np.full((gap, line.shape[1], 3), 255, np.uint8))
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0)), constant_values=255) for t in tiles]
    return np.concatenate(tiles[:-1], axis=0)
