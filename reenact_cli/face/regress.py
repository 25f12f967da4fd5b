"""Mesh regression stage: image -> :class:`Mesh` via MediaPipe Face Mesh.

MediaPipe's legacy ``solutions.face_mesh`` graph ships inside the 0.10.x wheel,
so nothing is downloaded. Static mode (photos) runs the detector on every call;
tracking mode (video frames) reuses the previous frame's face box.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from dataclasses import dataclass

import numpy as np

from ..conventions import NUM_FACE_VERTICES
from ..errors import NoFaceError, native_stderr
from .crop import CropTransform, crop_for_mesh, extract_crop
from .mesh import Mesh

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: Images larger than this (longest side, pixels) are shrunk for *detection*
#: only; landmarks are then refined on the full-resolution crop.
DETECTION_MAX_SIDE = 1600

#: MediaPipe 0.10's C++ side logs through absl (before ``absl::InitializeLog``,
#: so straight to stderr; GLOG_minloglevel / TF_CPP_MIN_LOG_LEVEL no longer
#: apply) and TFLite prints its own INFO line; none of it can be switched off
#: from Python. These lines are dropped; anything else is passed on.
_NATIVE_NOISE = re.compile(
    rb"INFO: Created TensorFlow Lite [^\n]*\n?"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR\n?"
    rb"|[IW]\d{4} \d\d:\d\d:\d\d?[\d.]* +\d+ [\w.+-]+:\d+\] [^\n]*\n?"
)


def _drop_noise(captured: bytes) -> bytes:
    return _NATIVE_NOISE.sub(b"", captured)


def quiet_native_stderr() -> contextlib.AbstractContextManager[None]:
    """A block in which MediaPipe's C++ INFO/WARNING log lines are dropped from
    stderr; anything else written there (real errors) is passed on when it ends.
    Set ``REENACT_NATIVE_LOGS=1`` to see the raw output."""
    if os.environ.get("REENACT_NATIVE_LOGS"):
        return contextlib.nullcontext()
    return native_stderr(_drop_noise)


def quiet_mediapipe() -> None:
    """Keep MediaPipe's C++ log lines off stderr from now on (idempotent).

    Every MediaPipe solution (this module's face mesh, the person segmenter, ...)
    logs while its graph starts, on the graph's own threads, and on its first
    ``process``. Both are wrapped in :func:`quiet_native_stderr`; construction
    also waits until the new graph is idle, so its start-up lines are caught
    too. Call this before the first solution is built (it imports mediapipe).
    """
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with mediapipe
        pass
    try:
        from mediapipe.python.solution_base import SolutionBase
    except ImportError:  # pragma: no cover - another MediaPipe layout
        return
    if getattr(SolutionBase, "_reenact_quiet", False):
        return
    original_init, original_process = SolutionBase.__init__, SolutionBase.process

    @functools.wraps(original_init)
    def __init__(self, *args, **kwargs):
        with quiet_native_stderr():
            original_init(self, *args, **kwargs)
            graph = getattr(self, "_graph", None)
            if graph is not None:
                with contextlib.suppress(Exception):
                    graph.wait_until_idle()

    @functools.wraps(original_process)
    def process(self, *args, **kwargs):
        # Only the first call of a graph logs; later ones (every video frame)
        # run uncaptured, with no per-frame cost and no process-wide lock.
        if getattr(self, "_reenact_warm", False):
            return original_process(self, *args, **kwargs)
        with quiet_native_stderr():
            result = original_process(self, *args, **kwargs)
        self._reenact_warm = True
        return result

    SolutionBase.__init__ = __init__
    SolutionBase.process = process
    SolutionBase._reenact_quiet = True


@dataclass(frozen=True)
class FaceCrop:
    """A face found in a frame, with its working-size crop.

    Attributes:
        frame_mesh: the face in frame pixels.
        crop: the square crop transform.
        image: ``(S, S, 3)`` uint8 RGB crop.
        mesh: the face in crop pixels (re-regressed on the crop).
    """

    frame_mesh: Mesh
    crop: CropTransform
    image: np.ndarray
    mesh: Mesh


#: One landmark of a serialised ``NormalizedLandmarkList`` holding x, y, z
#: only: field 1 (a landmark, 15 bytes long), then fields 1-3 as fixed32 floats.
_LANDMARK_RECORD = np.dtype(
    [("tag", "u1"), ("length", "u1"), ("tx", "u1"), ("x", "<f4"), ("ty", "u1"), ("y", "<f4"), ("tz", "u1"), ("z", "<f4")]
)
_LANDMARK_TAGS = np.array([0x0A, 15, 0x0D, 0x15, 0x1D], dtype=np.uint8)  # bytes 0, 1, 2, 7, 12


def landmark_array(landmarks) -> np.ndarray:
    """``(N, 3)`` float32 (x, y, z) of a MediaPipe ``NormalizedLandmarkList``.

    Reads the serialised message as fixed-size records (about 20x faster than
    reading 478 x 3 protobuf attributes in Python); falls back to the
    attributes when the message holds anything else (visibility, presence)."""
    data = landmarks.SerializeToString()
    n = len(landmarks.landmark)
    if len(data) == n * _LANDMARK_RECORD.itemsize:
        rec = np.frombuffer(data, dtype=_LANDMARK_RECORD)
        tags = np.frombuffer(data, dtype=np.uint8).reshape(n, -1)[:, [0, 1, 2, 7, 12]]
        if np.array_equal(tags, np.broadcast_to(_LANDMARK_TAGS, tags.shape)):
            return np.stack([rec["x"], rec["y"], rec["z"]], axis=1)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32)


class MeshRegressor:
    """MediaPipe Face Mesh with iris refinement.

    Args:
        static: detect on every call (photos) rather than track (video).
        max_faces: how many faces to look for.
        min_confidence: detection threshold.
    """

    def __init__(self, static: bool = True, max_faces: int = 4, min_confidence: float = 0.5) -> None:
        quiet_mediapipe()
        import mediapipe as mp

        self.static = static
        self.max_faces = max_faces

        def graph(faces: int):
            return mp.solutions.face_mesh.FaceMesh(
                static_image_mode=static,
                max_num_faces=faces,
                refine_landmarks=True,
                min_detection_confidence=min_confidence,
                min_tracking_confidence=0.5,
            )

        self._mesh = graph(max_faces)
        # A tracking graph must see one image stream: frames and crops differ,
        # so in video mode the crops get a graph of their own.
        self._crop_mesh = self._mesh if static else graph(1)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._mesh.close()
        if self._crop_mesh is not self._mesh:
            self._crop_mesh.close()

    def __enter__(self) -> "MeshRegressor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, image: np.ndarray) -> list[Mesh]:
        """All faces in an RGB uint8 image, largest first (frame pixels)."""
        return self._detect(self._mesh, image)

    def _detect(self, graph, image: np.ndarray) -> list[Mesh]:
        h, w = image.shape[:2]
        work = image
        factor = 1.0
        if max(h, w) > DETECTION_MAX_SIDE:
            import cv2

            factor = DETECTION_MAX_SIDE / max(h, w)
            work = cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)
        with self._lock:
            result = graph.process(np.ascontiguousarray(work))
        if not result.multi_face_landmarks:
            return []
        meshes = []
        for face in result.multi_face_landmarks:
            pts = landmark_array(face)
            pts *= np.array([w, h, w], dtype=np.float32)  # normalised -> frame pixels
            meshes.append(Mesh(pts[:NUM_FACE_VERTICES], pts[NUM_FACE_VERTICES:], (w, h)))
        return sorted(meshes, key=_face_area, reverse=True)

    def regress(self, image: np.ndarray, face_index: int = 0, source: str = "image") -> Mesh:
        """The ``face_index``-th largest face in ``image`` (frame pixels).

        Raises:
            NoFaceError: naming ``source`` when there is no such face.
        """
        meshes = self.detect(image)
        if not meshes:
            raise NoFaceError("no face found", source)
        if face_index >= len(meshes):
            raise NoFaceError(f"face {face_index} requested but only {len(meshes)} found", source)
        return meshes[face_index]

    def face_crop(self, image: np.ndarray, size: int, face_index: int = 0, source: str = "image") -> FaceCrop:
        """Find a face, crop it square at ``size`` and regress its mesh on the crop."""
        frame_mesh = self.regress(image, face_index, source)
        crop = crop_for_mesh(frame_mesh, size)
        crop_image = extract_crop(image, crop)
        mesh = self.refine_on_crop(crop_image, frame_mesh, crop)
        return FaceCrop(frame_mesh, crop, crop_image, mesh)

    def detect_in_crop(self, crop_image: np.ndarray) -> Mesh | None:
        """The face in a crop (crop pixels), using the crop graph; None if none."""
        found = self._detect(self._crop_mesh, crop_image)
        return found[0] if found else None

    def refine_on_crop(self, crop_image: np.ndarray, frame_mesh: Mesh, crop: CropTransform) -> Mesh:
        """Regress again on the crop (landmarks at the working size); if that finds
        nothing, fall back to the frame mesh mapped into the crop."""
        mapped = frame_mesh.transformed(crop.frame_to_crop, (crop.size, crop.size))
        found = self._detect(self._crop_mesh, crop_image)
        if not found:
            return mapped
        # Take the crop face nearest the one we framed.
        centre = mapped.vertices[:, :2].mean(axis=0)
        return min(found, key=lambda m: float(np.linalg.norm(m.vertices[:, :2].mean(axis=0) - centre)))


def _face_area(mesh: Mesh) -> float:
    x0, y0, x1, y1 = mesh.bbox()
    return (x1 - x0) * (y1 - y0)
