"""Identity embeddings for CSIM: dlib's face-recognition ResNet.

The network (``dlib_face_recognition_resnet_model_v1.dat``, 128-D embeddings,
99.38 % on LFW) and its 5-point landmark model ship in the PyPI package
``face_recognition_models``; dlib itself comes from ``dlib-bin`` (a prebuilt
wheel). Nothing is downloaded. The paper measured CSIM with ArcFace, which has
no pip-installable pretrained weights; dlib's figures are therefore not
comparable with the paper's tables, only between methods measured here.

dlib's own face detector is not used: our MediaPipe mesh gives the face box,
shaped like dlib's HOG detector box (a square of 0.96 x the mesh's larger
side, centred on the mesh box and 3.6 % of its height higher: the medians over
the 28 shared photos, where the two boxes then give embeddings with cosine
0.9994-1.0). dlib's 5-point model then finds the eye corners and nose in that
box, and the chip is aligned from them exactly as ``face_recognition`` does.
"""
from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ReenactError

RECOGNISER_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
#: dlib-box from mesh box: side = BOX_SIDE x max(w, h); centre y raised by BOX_LIFT x h.
BOX_SIDE = 0.96
BOX_LIFT = 0.036
#: ``compute_face_descriptor``'s chip padding (face_recognition's default).
CHIP_PADDING = 0.25


class RecogniserMissing(ReenactError):
    """dlib or the recogniser's weights are not installed."""


def model_dir() -> Path:
    """The ``models/`` folder inside the installed ``face_recognition_models``
    package, found without importing it (its ``__init__`` needs
    ``pkg_resources``, which new setuptools no longer has)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RecogniserMissing(
            "CSIM needs the face recogniser: pip install face_recognition_models dlib-bin (listed in pyproject.toml)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    for name in (RECOGNISER_FILE, SHAPE_FILE):
        if not (folder / name).is_file():
            raise RecogniserMissing(f"face_recognition_models is installed but {name} is missing from {folder}")
    return folder


@lru_cache(maxsize=1)
def recogniser_fingerprint() -> str:
    """Short SHA-256 of the recogniser's weight file (for reports)."""
    h = hashlib.sha256()
    with open(model_dir() / RECOGNISER_FILE, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def dlib_box(vertices: np.ndarray) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` integer pixels of a dlib-style face box for
    mesh ``vertices (468, 3)`` (pixels of the image they belong to)."""
    x0, y0 = np.min(vertices[:, :2], axis=0)
    x1, y1 = np.max(vertices[:, :2], axis=0)
    w, h = float(x1 - x0), float(y1 - y0)
    side = BOX_SIDE * max(w, h)
    cx, cy = 0.5 * float(x0 + x1), 0.5 * float(y0 + y1) - BOX_LIFT * h
    return round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2)


class FaceEmbedder:
    """128-D dlib identity embeddings of faces located by a MediaPipe mesh."""

    name = "dlib_face_recognition_resnet_model_v1"

    def __init__(self) -> None:
        folder = model_dir()
        try:
            import dlib
        except ImportError:
            raise RecogniserMissing("CSIM needs dlib: pip install dlib-bin (listed in pyproject.toml)") from None
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(folder / SHAPE_FILE))
        self._net = dlib.face_recognition_model_v1(str(folder / RECOGNISER_FILE))

    @property
    def fingerprint(self) -> str:
        return recogniser_fingerprint()

    def embed(self, image: np.ndarray, vertices: np.ndarray) -> np.ndarray:
        """Embedding ``(128,)`` float64 of the face whose mesh is ``vertices`` in
        the RGB uint8 ``image``."""
        rect = self._dlib.rectangle(*dlib_box(vertices))
        img = np.ascontiguousarray(image)
        shape = self._shape(img, rect)
        return np.asarray(self._net.compute_face_descriptor(img, shape, 0, CHIP_PADDING), dtype=np.float64)
