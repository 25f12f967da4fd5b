"""Named expression directions and driver-free edits of a fit.

A named direction is the most probable coefficient change (under the model's
Gaussian prior) that changes one landmark measurement by one model unit: for a
measurement linear in the vertices with gradient ``g`` over ``c_exp`` it is
``Sigma g / (g' Sigma g)``. Scaled to prior standard deviations it gives edits
like "open the mouth by 2 sigma" that stay plausible faces.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .model import FaceFit, FaceModel
from .pose import Pose, euler_to_rotation, rotation_to_euler

#: name -> (vertex a, vertex b, axis, sign): measurement = sign * (V[b] - V[a])[axis]
#: in model space (y down).
MEASUREMENTS: dict[str, tuple[int, int, int, float]] = {
    "mouth_open": (13, 14, 1, 1.0),  # inner lips apart
    "smile": (61, 291, 0, 1.0),  # mouth wider (plus corners up through the prior)
    "eyes_closed": (145, 159, 1, 1.0),  # upper lid down towards lower lid (right eye)
    "brows_raised": (105, 159, 1, 1.0),  # brow up away from the lid
}


def expression_direction(model: FaceModel, name: str) -> np.ndarray:
    """``(K_exp,)`` coefficient direction of one standard deviation of ``name``."""
    if name not in MEASUREMENTS:
        raise KeyError(f"unknown expression '{name}', choose from {', '.join(MEASUREMENTS)}")
    a, b, axis, sign = MEASUREMENTS[name]
    g = sign * (model.exp_basis[:, b, axis] - model.exp_basis[:, a, axis]).astype(np.float64)
    cov = model.sigma_exp.astype(np.float64) ** 2
    direction = cov * g
    # One "sigma" of the measurement: std of g'c under the prior.
    return (direction / np.sqrt(max(float(g @ direction), 1e-12))).astype(np.float32)


def edit_fit(
    model: FaceModel,
    fit: FaceFit,
    yaw: float = 0.0,
    pitch: float = 0.0,
    roll: float = 0.0,
    expression_scale: float = 1.0,
    expressions: dict[str, float] | None = None,
) -> FaceFit:
    """A driver-free 'driving fit': ``fit`` turned by the given degrees, its
    expression (with what the fit's prior held back in the residual,
    :meth:`FaceModel.release_held_expression`) scaled by ``expression_scale``
    and moved along named directions (amounts in prior standard deviations)."""
    fit = model.release_held_expression(fit)
    angles = rotation_to_euler(fit.pose.rotation) + np.array([yaw, pitch, roll])
    rotation = euler_to_rotation(*angles)
    c_exp = fit.c_exp * float(expression_scale)
    for name, amount in (expressions or {}).items():
        c_exp = c_exp + float(amount) * expression_direction(model, name)
    return replace(fit, pose=Pose(fit.pose.scale, rotation, fit.pose.translation), c_exp=c_exp.astype(np.float32))
