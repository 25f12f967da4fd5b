"""Person segmentation: which pixels of a crop belong to the person (MediaPipe
selfie segmentation, whose model ships in the mediapipe wheel)."""
from __future__ import annotations

import threading

import cv2
import numpy as np

from .topology import face_topology


class PersonSegmenter:
    """Soft person mask ``(H, W)`` float32 in [0, 1] of an RGB uint8 image."""

    def __init__(self) -> None:
        from .regress import quiet_mediapipe

        quiet_mediapipe()
        import mediapipe as mp

        self._seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        self._lock = threading.Lock()

    def __call__(self, image: np.ndarray) -> np.ndarray:
        with self._lock:
            mask = self._seg.process(np.ascontiguousarray(image)).segmentation_mask
        return np.clip(mask.astype(np.float32), 0.0, 1.0)

    def close(self) -> None:
        self._seg.close()


def face_hull_mask(vertices: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` float32, 1 inside the face oval of ``vertices (468, 3)``."""
    w, h = size
    mask = np.zeros((h, w), dtype=np.uint8)
    oval = vertices[face_topology().oval, :2] - 0.5
    cv2.fillPoly(mask, [np.round(oval * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    return mask.astype(np.float32)
