"""What the metrics need from one face image: head angles, action units and an
identity embedding, all read off the image itself.

A :class:`Measurer` regresses a MediaPipe mesh on the image (photo mode, the
largest face), fits the face model to it (angles from the fitted rotation,
AUs from the fitted expression, see :mod:`.action_units`) and embeds the face
with dlib (:mod:`.identity`). Output crops, source crops and driver crops all
go through this same path, so a method that returns the driver crop unchanged
scores PRMSE 0 and AUCON 1 exactly, and one that returns the source crop CSIM 1.
Results are cached by image content.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ..face.model import FaceModel
from ..face.regress import MeshRegressor
from .action_units import au_directions, au_presence
from .identity import FaceEmbedder


@dataclass(frozen=True)
class FaceMeasure:
    """One face image, measured.

    Attributes:
        angles: ``(3,)`` yaw, pitch, roll in degrees.
        au_intensity: ``(K,)`` AU intensities (prior standard deviations).
        au_present: ``(K,)`` bool.
        embedding: ``(128,)`` identity embedding.
    """

    angles: np.ndarray
    au_intensity: np.ndarray
    au_present: np.ndarray
    embedding: np.ndarray


class Measurer:
    """Measures face images (RGB uint8), caching the last ``cache_size`` by content."""

    def __init__(self, model: FaceModel, embedder: FaceEmbedder | None = None, cache_size: int = 64) -> None:
        self.model = model
        self.embedder = embedder or FaceEmbedder()
        self._regressor = MeshRegressor(static=True)
        self._directions = au_directions(model)
        self._cache: OrderedDict[bytes, FaceMeasure | None] = OrderedDict()
        self._cache_size = cache_size

    def measure(self, image: np.ndarray) -> FaceMeasure | None:
        """Measure the largest face in ``image``; None when no face is found."""
        img = np.ascontiguousarray(image)
        key = hashlib.sha1(img.tobytes()).digest() + repr(img.shape).encode()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        found = self._regressor.detect(img)
        result = None
        if found:
            vertices = found[0].vertices
            fit = self.model.fit(vertices)
            intensity = self._directions @ fit.c_exp.astype(np.float64)
            result = FaceMeasure(fit.pose.euler(), intensity, au_presence(intensity), self.embedder.embed(img, vertices))
        self._cache[key] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result
