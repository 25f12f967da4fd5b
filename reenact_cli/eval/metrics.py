"""The five reenactment metrics of the paper's §5.2 (after MarioNETte).

- **PSNR** on 8-bit images (peak 255), dB; ``inf`` for identical images.
- **SSIM**, the standard definition (Wang et al. 2004): an 11-tap Gaussian
  window with sigma 1.5, K1 = 0.01, K2 = 0.03, computed per channel and
  averaged over the windows that lie wholly inside the image, on images in
  [0, 255].
- **CSIM**: cosine similarity of two identity embeddings (here dlib's ResNet,
  :mod:`.identity`; the paper used ArcFace, so values are not comparable with
  its tables).
- **PRMSE**: root mean square of the yaw, pitch and roll differences in
  degrees (each wrapped to [-180, 180)).
- **AUCON**: the fraction of facial action units whose presence agrees
  (:mod:`.action_units` estimates them from landmark geometry).

Each takes what one sample needs; :mod:`.measure` gets embeddings, angles and
action units from images.
"""
from __future__ import annotations

import cv2
import numpy as np


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images ``(H, W[, C])``;
    ``inf`` when identical. ``mask (H, W)`` restricts it to some pixels."""
    d = a.astype(np.float64) - b.astype(np.float64)
    if mask is not None:
        d = d[mask]
    mse = float(np.mean(d * d)) if d.size else 0.0
    return float("inf") if mse == 0.0 else 10.0 * float(np.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean structural similarity of two uint8 images ``(H, W[, C])``
    (Gaussian window, sigma 1.5); ``mask (H, W)`` averages the SSIM map over
    some pixels only."""
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    if x.ndim == 2:
        x, y = x[:, :, None], y[:, :, None]
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    maps = []
    for ch in range(x.shape[2]):
        xc, yc = x[:, :, ch], y[:, :, ch]
        mx, my = blur(xc), blur(yc)
        sxx = blur(xc * xc) - mx * mx
        syy = blur(yc * yc) - my * my
        sxy = blur(xc * yc) - mx * my
        num = (2 * mx * my + c1) * (2 * sxy + c2)
        den = (mx * mx + my * my + c1) * (sxx + syy + c2)
        maps.append(num / den)
    # As in the reference implementation, only windows wholly inside the image count.
    m = np.mean(maps, axis=0)[5:-5, 5:-5]
    if mask is not None:
        return float(m[mask[5:-5, 5:-5]].mean())
    return float(m.mean())


def csim(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two identity embeddings ``(D,)``; 1 = same direction."""
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    den = float(np.linalg.norm(x) * np.linalg.norm(y))
    if den == 0.0:
        raise ValueError("csim of a zero embedding")
    return float(np.clip(x @ y / den, -1.0, 1.0))


def angle_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a - b`` for ``(..., 3)`` yaw/pitch/roll in degrees, wrapped to [-180, 180)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return (d + 180.0) % 360.0 - 180.0


def prmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean square of the yaw, pitch and roll errors in degrees between poses
    ``a`` and ``b`` (``(3,)`` one pose, or ``(N, 3)`` many: the RMS over all ``3N``
    angle errors)."""
    d = angle_errors(a, b)
    return float(np.sqrt(np.mean(d * d)))


def aucon(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of action units whose presence agrees: ``a``, ``b`` are ``(K,)``
    (or ``(N, K)``) booleans over the same AU list."""
    x = np.asarray(a, dtype=bool)
    y = np.asarray(b, dtype=bool)
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"aucon needs two equal, non-empty AU vectors, got {x.shape} and {y.shape}")
    return float(np.mean(x == y))
