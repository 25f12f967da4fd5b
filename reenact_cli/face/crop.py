"""Square face crops at the working size, and the transform back to the frame."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .mesh import Mesh

#: Crop side as a multiple of the face's bounding-box size. A face then spans
#: about half the crop, as in VoxCeleb-style crops, leaving room for hair and
#: head turns.
DEFAULT_CROP_SCALE = 1.9
#: Upward shift of the crop centre, in face-box sizes (more hair, less neck).
DEFAULT_CROP_LIFT = 0.08


@dataclass(frozen=True)
class CropTransform:
    """An axis-aligned square crop.

    ``frame_xy = crop_xy * scale + origin`` (pixel convention of conventions.py).

    Attributes:
        origin: ``(x, y)`` frame position of the crop's top-left corner, pixels.
        scale: frame pixels per crop pixel.
        size: crop side in pixels.
        frame_size: ``(width, height)`` of the frame.
    """

    origin: tuple[float, float]
    scale: float
    size: int
    frame_size: tuple[int, int]

    @property
    def crop_to_frame(self) -> np.ndarray:
        """2x3 affine matrix, crop pixels -> frame pixels."""
        s = self.scale
        return np.array([[s, 0.0, self.origin[0]], [0.0, s, self.origin[1]]], dtype=np.float64)

    @property
    def frame_to_crop(self) -> np.ndarray:
        """2x3 affine matrix, frame pixels -> crop pixels."""
        s = 1.0 / self.scale
        return np.array(
            [[s, 0.0, -self.origin[0] * s], [0.0, s, -self.origin[1] * s]], dtype=np.float64
        )

    def frame_box(self) -> tuple[int, int, int, int]:
        """Integer ``(x0, y0, x1, y1)`` of the crop in the frame, clipped to it."""
        w, h = self.frame_size
        x0 = max(0, int(np.floor(self.origin[0])))
        y0 = max(0, int(np.floor(self.origin[1])))
        x1 = min(w, int(np.ceil(self.origin[0] + self.size * self.scale)))
        y1 = min(h, int(np.ceil(self.origin[1] + self.size * self.scale)))
        return x0, y0, x1, y1


def crop_for_mesh(
    mesh: Mesh,
    size: int,
    scale: float = DEFAULT_CROP_SCALE,
    lift: float = DEFAULT_CROP_LIFT,
) -> CropTransform:
    """The square crop of side ``size`` that frames ``mesh``'s face with margin."""
    x0, y0, x1, y1 = mesh.bbox()
    face = max(x1 - x0, y1 - y0)
    side = face * scale
    cx = 0.5 * (x0 + x1)
    cy = 0.5 * (y0 + y1) - lift * face
    return CropTransform((cx - side / 2, cy - side / 2), side / size, size, mesh.image_size)


def _pixel_affine(affine: np.ndarray) -> np.ndarray:
    """Convert a continuous-coordinate affine (pixel centres at +0.5) to OpenCV's
    integer-centre convention: ``A' x = A (x + 0.5) - 0.5``."""
    a = affine.copy()
    a[:, 2] = affine[:, :2] @ np.array([0.5, 0.5]) + affine[:, 2] - 0.5
    return a


def extract_crop(image: np.ndarray, crop: CropTransform) -> np.ndarray:
    """``(S, S, C)`` crop of ``image``; outside the frame, edge pixels are replicated."""
    m = _pixel_affine(crop.frame_to_crop)
    if crop.scale > 1.5:
        # Shrinking a lot: warpAffine would alias, so area-average first. With an
        # explicit size OpenCV maps by exactly (new size / old size) per axis.
        h, w = image.shape[:2]
        dsize = (max(1, round(w / crop.scale)), max(1, round(h / crop.scale)))
        small = cv2.resize(image, dsize, interpolation=cv2.INTER_AREA)
        f2c = crop.frame_to_crop.copy()
        f2c[0, 0] *= w / dsize[0]
        f2c[1, 1] *= h / dsize[1]
        m = _pixel_affine(f2c)
        image = small
    return cv2.warpAffine(
        image, m, (crop.size, crop.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def crop_to_frame_image(crop_image: np.ndarray, crop: CropTransform, interp: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Warp a crop-sized image back onto the full frame (zeros outside the crop)."""
    m = _pixel_affine(crop.crop_to_frame)
    w, h = crop.frame_size
    return cv2.warpAffine(crop_image, m, (w, h), flags=interp, borderMode=cv2.BORDER_CONSTANT)
