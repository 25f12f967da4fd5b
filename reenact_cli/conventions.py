"""Conventions shared by every stage. Stated once here; every module follows them.

Images
    On disk: anything OpenCV/imageio reads. In memory: RGB ``uint8 (H, W, 3)``.
    Tensors: ``float32 (N, 3, H, W)`` in [0, 1]. Working size ``S`` = 256 by default.

Pixel coordinates
    Continuous, in pixels of the image they belong to: x right, y down; the *edge*
    of the image is 0 and pixel ``(row i, col j)`` has its centre at
    ``(x, y) = (j + 0.5, i + 0.5)``. MediaPipe's normalised landmarks times the
    image size land in this frame directly.

Vertices
    ``(V, 3)`` float32 in pixel units of the crop they belong to; z in the same
    pixel scale as x, smaller = nearer the camera (MediaPipe's convention). The
    frame (x right, y down, z away) is right-handed, so rotations are proper.

Flow
    A *backward* sampling grid ``(N, H, W, 2)`` in [-1, 1] for
    ``torch.nn.functional.grid_sample(..., align_corners=False)``: for each output
    pixel, where to read in the source. With the pixel convention above,
    ``grid = 2 * xy / size - 1`` exactly (see :func:`pixels_to_grid`).

Pose
    ``p`` in R^12: the 3x4 matrix ``[s R | t]`` flattened row-major, mapping face
    model space to crop pixels: ``v_pix = s R v_model + t``.
    Euler angles in degrees, ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``; with y down
    and z away from the camera, positive yaw turns the face towards image left,
    positive pitch tilts the chin down... only *differences* between two poses are
    ever compared, so the signs matter only for consistency (see face/pose.py).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Default working resolution (square crop side, pixels).
DEFAULT_SIZE = 256

#: MediaPipe Face Mesh: 468 face vertices followed by 10 iris points.
NUM_FACE_VERTICES = 468
NUM_IRIS_POINTS = 10


def pixels_to_grid(xy: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel coordinates ``(..., 2)`` -> ``grid_sample`` coordinates in [-1, 1]."""
    scale = np.array([2.0 / width, 2.0 / height], dtype=np.float32)
    return xy.astype(np.float32) * scale - 1.0


def grid_to_pixels(grid: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inverse of :func:`pixels_to_grid`."""
    scale = np.array([width / 2.0, height / 2.0], dtype=np.float32)
    return (grid.astype(np.float32) + 1.0) * scale


@lru_cache(maxsize=8)
def pixel_centres(width: int, height: int) -> np.ndarray:
    """``(H, W, 2)`` float32 pixel-centre coordinates ``(x, y)`` (cached, read-only:
    copy before writing)."""
    xs = np.arange(width, dtype=np.float32) + 0.5
    ys = np.arange(height, dtype=np.float32) + 0.5
    gx, gy = np.meshgrid(xs, ys)
    out = np.stack([gx, gy], axis=-1)
    out.flags.writeable = False
    return out
