"""Facial action units (FACS) estimated from landmark geometry, for AUCON.

MarioNETte's AUCON used OpenFace's AU classifiers, which do not install from
PyPI. Here each AU is a linear landmark measurement on the *expression part*
of a face: the face model fit of the MediaPipe mesh (pose and the pose
deformation removed, model units) with identity and residual dropped,
``V_exp = mean + B_exp c_exp``. Working on ``V_exp`` makes presence
identity-free, which cross-identity AUCON needs (the output carries the
source's face shape, the driver its own).

A measurement is a weighted sum of coordinate differences
``sum_t w_t (V[b_t] - V[a_t])[axis_t]`` (y down), signed so that it grows
with the AU. Being linear, its change from the mean face is ``g . c_exp``
with ``g`` the measurement of each expression basis vector; its spread over
the model's expression prior is ``sqrt(g' diag(sigma_exp^2) g)``. The AU
**intensity** is that change in prior standard deviations, and the AU is
**present** when the intensity exceeds :data:`PRESENCE_THRESHOLD` (1.0). The
expression prior is the spread of within-clip expression in the talking-head
clips the model was built from, so "present" means: further in that AU's
direction than about five in six frames of talking. Both eyes / both sides
are averaged, so a wink counts half.

=====  ====================  =============================================
AU     name                  measurement (MediaPipe vertex indices)
=====  ====================  =============================================
AU1    inner brow raiser     inner brow (107, 336) above inner eye corner (133, 362)
AU2    outer brow raiser     outer brow (70, 300) above outer eye corner (33, 263)
AU4    brow lowerer          lower inner brow (55, 285) down towards the inner eye corner
AU5    upper lid raiser      lid gap (159-145, 386-374) wider
AU12   lip corner puller     outer lip corners (61, 291) up towards the top of the lip (0), and mouth wider
AU15   lip corner depressor  outer lip corners down, away from the top of the lip (0)
AU18   lip pucker            mouth narrower (61-291)
AU25   lips part             inner lip gap (13-14)
AU26   jaw drop              chin (152) down from the nose tip (1)
AU43   eyes closed           lid gap (159-145, 386-374) narrower
=====  ====================  =============================================
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..face.model import FaceFit, FaceModel

#: An AU is present when its intensity exceeds this many prior standard deviations.
PRESENCE_THRESHOLD = 1.0

# (a, b, axis, weight): weight * (V[b] - V[a])[axis]; axis 0 = x, 1 = y (down).
Term = tuple[int, int, int, float]


@dataclass(frozen=True)
class ActionUnit:
    """One AU and its landmark measurement."""

    code: str
    name: str
    terms: tuple[Term, ...]


def _both(right: Term, left: Term) -> tuple[Term, ...]:
    """The same measurement on both sides, averaged."""
    return tuple((a, b, ax, w * 0.5) for a, b, ax, w in (right, left))


ACTION_UNITS: tuple[ActionUnit, ...] = (
    # brow above eye corner: eye.y - brow.y grows as the brow rises
    ActionUnit("AU1", "inner brow raiser", _both((107, 133, 1, 1.0), (336, 362, 1, 1.0))),
    ActionUnit("AU2", "outer brow raiser", _both((70, 33, 1, 1.0), (300, 263, 1, 1.0))),
    ActionUnit("AU4", "brow lowerer", _both((55, 133, 1, -1.0), (285, 362, 1, -1.0))),
    # lid gap: lower.y - upper.y
    ActionUnit("AU5", "upper lid raiser", _both((159, 145, 1, 1.0), (386, 374, 1, 1.0))),
    # corner rise: (V[0] - V[corner]).y grows as the corner moves up towards the lip top
    ActionUnit("AU12", "lip corner puller", _both((61, 0, 1, 1.0), (291, 0, 1, 1.0)) + ((61, 291, 0, 0.5),)),
    ActionUnit("AU15", "lip corner depressor", _both((61, 0, 1, -1.0), (291, 0, 1, -1.0))),
    ActionUnit("AU18", "lip pucker", ((61, 291, 0, -1.0),)),
    ActionUnit("AU25", "lips part", ((13, 14, 1, 1.0),)),
    ActionUnit("AU26", "jaw drop", ((1, 152, 1, 1.0),)),
    ActionUnit("AU43", "eyes closed", _both((159, 145, 1, -1.0), (386, 374, 1, -1.0))),
)
AU_CODES: tuple[str, ...] = tuple(au.code for au in ACTION_UNITS)


def measurement_matrix(num_vertices: int = 468) -> np.ndarray:
    """``(K, V*3)`` linear map from flattened vertices to the K AU measurements."""
    m = np.zeros((len(ACTION_UNITS), num_vertices, 3))
    for k, au in enumerate(ACTION_UNITS):
        for a, b, axis, w in au.terms:
            m[k, b, axis] += w
            m[k, a, axis] -= w
    return m.reshape(len(ACTION_UNITS), -1)


def au_directions(model: FaceModel) -> np.ndarray:
    """``(K, K_exp)``: each AU's measurement gradient over ``c_exp`` divided by its
    prior standard deviation, so ``au_directions(model) @ c_exp`` is the intensity."""
    m = measurement_matrix(model.mean.shape[0])
    g = m @ model.exp_basis.reshape(model.num_exp, -1).astype(np.float64).T  # (K, K_exp)
    spread = np.sqrt(np.maximum((g * g) @ model.sigma_exp.astype(np.float64) ** 2, 1e-18))
    return g / spread[:, None]


def au_intensities(model: FaceModel, fit: FaceFit) -> np.ndarray:
    """``(K,)`` AU intensities in prior standard deviations (0 = the mean face)."""
    return au_directions(model) @ fit.c_exp.astype(np.float64)


def au_presence(intensities: np.ndarray, threshold: float = PRESENCE_THRESHOLD) -> np.ndarray:
    """``(K,)`` bool: which AUs are present."""
    return np.asarray(intensities) > threshold
