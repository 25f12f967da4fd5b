"""Several sources in one call, grids (drivers across, sources down, like the
paper's Fig. 14) and side-by-side pictures (source | driver | result)."""
from __future__ import annotations

import glob
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..media.video import list_frames, natural_key
from ..media.visualize import contact_sheet


def expand_sources(items: list[Path]) -> list[Path]:
    """Source photos from paths, folders (their images, natural order) and
    globs (``'photos/*.jpg'``, for shells that do not expand them)."""
    found: list[Path] = []
    for item in items:
        text = str(item)
        if not item.exists() and any(ch in text for ch in "*?["):
            matches = sorted((Path(m) for m in glob.glob(text)), key=natural_key)
            if not matches:
                raise InputError("pattern matches no file", item)
            found.extend(matches)
        elif item.is_dir():
            found.extend(list_frames(item))
        else:
            found.append(item)
    return found


def fit_tile(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` letterboxed into a ``size`` square (white bars), RGB uint8."""
    h, w = image.shape[:2]
    k = size / max(h, w)
    nw, nh = max(1, round(w * k)), max(1, round(h * k))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    tile = np.full((size, size, 3), 255, dtype=np.uint8)
    y, x = (size - nh) // 2, (size - nw) // 2
    tile[y : y + nh, x : x + nw] = small
    return tile


def grid_image(driver_tile: np.ndarray, source_tiles: list[np.ndarray], results: list[np.ndarray], labels: bool = True) -> np.ndarray:
    """The paper's Fig. 14 layout for one driver: the driver on top, then one
    row per source: source | result."""
    blank = np.full_like(driver_tile, 255)
    rows = [[blank, driver_tile]] + [[s, r] for s, r in zip(source_tiles, results)]
    captions = [["", "driver"]] + [["source", "result"] for _ in source_tiles] if labels else None
    return contact_sheet(rows, captions)


def side_by_side(source_tile: np.ndarray, driver_tile: np.ndarray, result: np.ndarray) -> np.ndarray:
    """One row: source | driver | result (no captions, so video frames stay aligned)."""
    gap = np.full((result.shape[0], 4, 3), 255, dtype=np.uint8)
    return np.concatenate([source_tile, gap, driver_tile, gap, result], axis=1)
