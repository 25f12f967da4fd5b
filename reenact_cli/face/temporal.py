"""Temporal smoothing of per-frame fits (video drivers).

The One-Euro filter (Casiez et al., CHI 2012) is a low-pass filter whose
cut-off rises with speed: still heads are held steady (no jitter), fast moves
pass with little lag. :class:`FitSmoother` applies it to what a driver frame
contributes to reenactment: head rotation (as a quaternion), scale,
translation and expression coefficients.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from .model import FaceFit
from .pose import Pose


@dataclass(frozen=True)
class SmoothingConfig:
    """One-Euro parameters.

    Attributes:
        min_cutoff: cut-off frequency (Hz) at rest; lower = steadier, laggier.
        beta: how fast the cut-off rises with speed (per unit of speed).
        d_cutoff: cut-off (Hz) for the speed estimate itself.
        enabled: False passes fits through unchanged.
    """

    min_cutoff: float = 1.5
    beta: float = 0.3
    d_cutoff: float = 1.0
    enabled: bool = True


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter of a vector signal ``(D,)`` sampled every ``1 / fps`` s.

    The speed term uses the norm of the derivative scaled per dimension by
    ``scale`` (so components in different units can share one filter).
    """

    def __init__(self, fps: float, config: SmoothingConfig = SmoothingConfig(), scale: np.ndarray | float = 1.0) -> None:
        self.dt = 1.0 / max(fps, 1e-6)
        self.config = config
        self.scale = np.asarray(scale, dtype=np.float64)
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def reset(self) -> None:
        self._x = self._dx = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if not self.config.enabled:
            return x
        if self._x is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x
        dx = (x - self._x) / self.dt
        a_d = _alpha(self.config.d_cutoff, self.dt)
        self._dx = self._dx + a_d * (dx - self._dx)
        speed = float(np.linalg.norm(self._dx / self.scale) / math.sqrt(max(x.size, 1)))
        cutoff = self.config.min_cutoff + self.config.beta * speed
        a = _alpha(cutoff, self.dt)
        self._x = self._x + a * (x - self._x)
        return self._x.copy()


def rotation_to_quaternion(r: np.ndarray) -> np.ndarray:
    """``(4,)`` unit quaternion ``(w, x, y, z)`` of a rotation matrix."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(r).as_quat()
    return np.array([w, x, y, z])


def quaternion_to_rotation(q: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    q = np.asarray(q, dtype=np.float64)
    q = q / max(np.linalg.norm(q), 1e-12)
    return Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix()


class FitSmoother:
    """Smooths a driver's per-frame :class:`FaceFit` over time.

    Rotation is filtered as a quaternion kept on the hemisphere of the previous
    one (so q and -q never fight); scale, translation and ``c_exp`` share one
    filter with per-component scales (pixels for translation, prior sigmas for
    expression). Identity and residual pass through: compose uses neither
    from a driver, once the tracker has moved the expression its fit's prior
    held back out of the residual (:meth:`FaceModel.release_held_expression`).
    """

    def __init__(self, fps: float, sigma_exp: np.ndarray, config: SmoothingConfig = SmoothingConfig()) -> None:
        self.config = config
        self._rot = OneEuroFilter(fps, config, scale=0.05)
        # scale (relative), tx, ty, tz (pixels), c_exp (sigmas)
        self._rest_scale = np.concatenate([[0.01, 2.0, 2.0, 2.0], np.maximum(sigma_exp, 1e-6)])
        self._rest = OneEuroFilter(fps, config, scale=self._rest_scale)
        self._q_prev: np.ndarray | None = None

    def __call__(self, fit: FaceFit) -> FaceFit:
        if not self.config.enabled:
            return fit
        q = rotation_to_quaternion(fit.pose.rotation)
        if self._q_prev is not None and float(q @ self._q_prev) < 0.0:
            q = -q
        q_s = self._rot(q)
        q_s /= max(np.linalg.norm(q_s), 1e-12)
        self._q_prev = q_s
        rest = np.concatenate([[math.log(fit.pose.scale)], fit.pose.translation, fit.c_exp])
        rest_s = self._rest(rest)
        pose = Pose(float(math.exp(rest_s[0])), quaternion_to_rotation(q_s), rest_s[1:4])
        return replace(fit, pose=pose, c_exp=rest_s[4:].astype(np.float32))
