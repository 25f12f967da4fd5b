"""Pose: weighted similarity Procrustes and Euler angles.

A pose is ``[s R | t]`` (3x4), mapping face-model space to crop pixels:
``v = s R m + t``. Flattened row-major it is the paper's ``p`` in R^12.

Euler angles (degrees) follow ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` in the
camera frame of conventions.py (x right, y down, z away from the camera).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pose:
    """Similarity transform model -> crop pixels.

    Attributes:
        scale: ``s`` (crop pixels per model unit).
        rotation: ``(3, 3)`` proper rotation ``R``.
        translation: ``(3,)`` ``t`` in crop pixels.
    """

    scale: float
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Model-space ``(N, 3)`` -> crop pixels ``(N, 3)``."""
        m = (self.scale * self.rotation).astype(np.float32)
        return np.asarray(points, dtype=np.float32) @ m.T + self.translation.astype(np.float32)

    def inverse_apply(self, points: np.ndarray) -> np.ndarray:
        """Crop pixels ``(N, 3)`` -> model space ``(N, 3)``."""
        return ((points - self.translation) @ self.rotation / self.scale).astype(np.float32)

    def as_vector(self) -> np.ndarray:
        """The paper's ``p``: ``[s R | t]`` flattened row-major, ``(12,)``."""
        return np.concatenate([self.scale * self.rotation, self.translation[:, None]], axis=1).reshape(12)

    @staticmethod
    def from_vector(p: np.ndarray) -> "Pose":
        """Inverse of :meth:`as_vector`."""
        m = np.asarray(p, dtype=np.float64).reshape(3, 4)
        sr = m[:, :3]
        s = float(np.cbrt(np.linalg.det(sr)))
        return Pose(s, sr / s, m[:, 3].copy())

    def euler(self) -> np.ndarray:
        """``(yaw, pitch, roll)`` in degrees."""
        return rotation_to_euler(self.rotation)


def procrustes(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> Pose:
    """Weighted similarity (Umeyama) fit: the pose minimising
    ``sum_i w_i |s R src_i + t - dst_i|^2``.

    Args:
        src: ``(N, 3)`` points (model space).
        dst: ``(N, 3)`` points (pixels).
        weights: ``(N,)`` non-negative, or None for uniform.
    """
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s = w @ src
    mu_d = w @ dst
    a = src - mu_s
    b = dst - mu_d
    cov = (b * w[:, None]).T @ a
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    r = u @ np.diag(d) @ vt
    var_s = float(w @ (a * a).sum(axis=1))
    s = float((sig * d).sum() / var_s)
    t = mu_d - s * r @ mu_s
    return Pose(s, r, t)


def euler_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """``Rz(roll) @ Ry(yaw) @ Rx(pitch)`` from degrees."""
    y, p, r = np.radians([yaw, pitch, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def rotation_to_euler(r: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_to_rotation`: ``(yaw, pitch, roll)`` degrees."""
    yaw = np.arcsin(np.clip(-r[2, 0], -1.0, 1.0))
    pitch = np.arctan2(r[2, 1], r[2, 2])
    roll = np.arctan2(r[1, 0], r[0, 0])
    return np.degrees(np.array([yaw, pitch, roll]))


def rotation_angle_deg(r0: np.ndarray, r1: np.ndarray) -> float:
    """Geodesic angle between two rotations ``(3, 3)``, degrees in [0, 180]:
    how far a head turns (any mix of yaw, pitch and roll) to go from one to the other."""
    cos = (float(np.trace(np.asarray(r0, dtype=np.float64).T @ np.asarray(r1, dtype=np.float64))) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def slerp_rotation(r0: np.ndarray, r1: np.ndarray, alpha: float) -> np.ndarray:
    """Geodesic interpolation between two rotations (alpha 0 -> r0, 1 -> r1)."""
    if alpha <= 0.0:
        return np.asarray(r0, dtype=np.float64)
    if alpha >= 1.0:
        return np.asarray(r1, dtype=np.float64)
    from scipy.spatial.transform import Rotation, Slerp

    rots = Rotation.from_matrix(np.stack([r0, r1]))
    return Slerp([0.0, 1.0], rots)([float(alpha)]).as_matrix()[0]
