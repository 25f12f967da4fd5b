"""Tracking a driver through a video: frames in, steady per-frame fits out.

Each frame's face is found with MediaPipe in tracking mode, cropped, regressed
on the crop (while the face stays well inside the previous frame's crop, only
the crop is regressed: one MediaPipe call per frame instead of two; the crop
box itself is smoothed so it does not jitter), mapped
back to *frame* pixels (so head translation and scale are
measured against the fixed frame, not a crop that follows the face) and
fitted. Fits are smoothed over time (:mod:`.temporal`). Frames without a face
are filled from their neighbours: a gap takes the last good fit; frames before
the first face take the first good fit. Nothing but fits is held, so memory
does not depend on the gap's length.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import NoFaceError
from .crop import CropTransform, crop_for_mesh, extract_crop
from .mesh import Mesh
from .model import FaceFit, FaceModel
from .regress import MeshRegressor
from .temporal import FitSmoother, OneEuroFilter, SmoothingConfig


#: A face closer than this (fraction of the crop) to the crop's edge is looked
#: for in the whole frame again.
FOLLOW_MARGIN = 0.08


@dataclass
class TrackStats:
    """Counts over a tracked video: frames seen and those without a face."""

    frames: int = 0
    missing: int = 0
    missing_frames: list[int] = field(default_factory=list)


class DriverTracker:
    """Turns a stream of driver frames into one fit per frame.

    Call it with each frame in order; it returns the fits that are ready (none
    while waiting for the first face, several when a leading gap is flushed),
    in frame order. :meth:`finish` returns what is still pending at the end.

    Args:
        model: the face model.
        fps: the driver's frame rate (for smoothing).
        size: working crop side.
        smoothing: One-Euro settings (``enabled=False`` for raw fits).
        face_index: which face when several are visible.
    """

    def __init__(
        self,
        model: FaceModel,
        fps: float,
        size: int = 256,
        smoothing: SmoothingConfig = SmoothingConfig(),
        face_index: int = 0,
    ) -> None:
        self.model = model
        self.size = size
        self.face_index = face_index
        self.stats = TrackStats()
        self._regressor = MeshRegressor(static=False, max_faces=max(1, face_index + 1))
        self._smoother = FitSmoother(fps, model.sigma_exp, smoothing)
        self._last: FaceFit | None = None
        self._pending = 0  # frames before the first face
        self._crop: CropTransform | None = None  # where the face was last
        self._last_mesh: Mesh | None = None
        self._crop_filter = OneEuroFilter(fps, SmoothingConfig(min_cutoff=1.0, beta=0.05), scale=[2.0, 2.0, 2.0])

    def close(self) -> None:
        self._regressor.close()

    def fit_frame(self, frame: np.ndarray) -> FaceFit | None:
        """The raw fit of one frame in frame pixels, or None without a face."""
        h, w = frame.shape[:2]
        in_frame = self._follow(frame) if self._crop is not None else None
        if in_frame is None:
            try:
                face = self._regressor.face_crop(frame, self.size, self.face_index)
            except NoFaceError:
                self._crop = None
                return None
            in_frame = face.mesh.transformed(face.crop.crop_to_frame, (w, h))
        self._last_mesh = in_frame
        self._crop = self._steady_crop(crop_for_mesh(in_frame, self.size))
        return self.model.fit(in_frame.vertices)

    def _steady_crop(self, crop: CropTransform) -> CropTransform:
        """The next analysis crop, its centre and size smoothed over time so the
        box does not jitter with the landmarks."""
        side = crop.scale * crop.size
        centre = np.array([crop.origin[0] + side / 2, crop.origin[1] + side / 2, side])
        cx, cy, side = self._crop_filter(centre)
        return CropTransform((cx - side / 2, cy - side / 2), side / crop.size, crop.size, crop.frame_size)

    def _follow(self, frame: np.ndarray) -> Mesh | None:
        """Regress only in last frame's crop; None if the face left it (or its
        edge band), so the caller looks in the whole frame again."""
        assert self._crop is not None
        mesh = self._regressor.detect_in_crop(extract_crop(frame, self._crop))
        if mesh is None:
            return None
        xy = mesh.vertices[:, :2]
        margin = FOLLOW_MARGIN * self.size
        if xy.min() < margin or xy.max() > self.size - margin:
            return None
        h, w = frame.shape[:2]
        return mesh.transformed(self._crop.crop_to_frame, (w, h))

    def __call__(self, frame: np.ndarray) -> list[FaceFit]:
        index = self.stats.frames
        self.stats.frames += 1
        fit = self.fit_frame(frame)
        if fit is None:
            self.stats.missing += 1
            self.stats.missing_frames.append(index)
            if self._last is None:
                self._pending += 1
                return []
            return [self._last]
        # What the fit's prior held back in the residual is part of the
        # driver's expression (compose uses it): smooth it with the rest.
        fit = self._smoother(self.model.release_held_expression(fit))
        out = [fit] * (self._pending + 1)
        self._pending = 0
        self._last = fit
        return out

    def finish(self) -> int:
        """Frames still waiting for a face at the end (the driver never showed
        one); the caller decides what to emit for them."""
        pending, self._pending = self._pending, 0
        return pending
