"""The result of mesh regression: one face's vertices in one image frame."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..conventions import NUM_FACE_VERTICES


@dataclass(frozen=True)
class Mesh:
    """One face as MediaPipe sees it.

    Attributes:
        vertices: ``(468, 3)`` float32, pixel units of ``image_size`` (see conventions).
        iris: ``(10, 3)`` float32 iris points in the same frame (5 per eye:
            centre then 4 on the rim; right eye first).
        image_size: ``(width, height)`` of the image the coordinates refer to.
        confidence: detection score in [0, 1] (1.0 when the tracker gave none).
    """

    vertices: np.ndarray
    iris: np.ndarray
    image_size: tuple[int, int]
    confidence: float = 1.0

    def __post_init__(self) -> None:
        if self.vertices.shape != (NUM_FACE_VERTICES, 3):
            raise ValueError(f"vertices must be (468, 3), got {self.vertices.shape}")

    @property
    def all_points(self) -> np.ndarray:
        """``(478, 3)``: face vertices then iris points."""
        return np.concatenate([self.vertices, self.iris], axis=0)

    def bbox(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of the face vertices, pixels."""
        xy = self.vertices[:, :2]
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    def transformed(self, affine: np.ndarray, size: tuple[int, int]) -> "Mesh":
        """Apply a 2x3 *similarity* ``affine`` (x, y) to this mesh; z scales with it."""
        scale = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))

        def tf(p: np.ndarray) -> np.ndarray:
            xy = p[:, :2] @ affine[:, :2].T + affine[:, 2]
            return np.concatenate([xy, p[:, 2:3] * scale], axis=1).astype(np.float32)

        return replace(self, vertices=tf(self.vertices), iris=tf(self.iris), image_size=size)
