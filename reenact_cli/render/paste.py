"""Paste a reenacted crop back into its frame with a feathered alpha."""
from __future__ import annotations

import cv2
import numpy as np

from ..face.crop import CropTransform, _pixel_affine


def feathered_alpha(mask: np.ndarray, feather: float) -> np.ndarray:
    """``(S, S)`` float32 in [0, 1]: ``mask`` blurred by ``feather`` pixels and
    faded to zero at the crop border (so the crop edge never shows)."""
    s = mask.shape[0]
    alpha = mask.astype(np.float32)
    if feather > 0:
        k = int(2 * round(2 * feather) + 1)
        alpha = cv2.GaussianBlur(alpha, (k, k), feather)
    ramp = np.clip(np.minimum(np.arange(s) + 0.5, s - 0.5 - np.arange(s)) / max(feather, 1.0), 0.0, 1.0).astype(np.float32)
    return alpha * np.minimum(ramp[:, None], ramp[None, :])


def paste_crop(frame: np.ndarray, crop: CropTransform, crop_image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Blend ``crop_image`` ``(S, S, 3)`` uint8 into a copy of ``frame`` with
    ``alpha`` ``(S, S)`` in [0, 1]; only the crop's frame box is touched."""
    out = frame.copy()
    x0, y0, x1, y1 = crop.frame_box()
    if x1 <= x0 or y1 <= y0:
        return out
    m = crop.crop_to_frame.copy()
    m[0, 2] -= x0
    m[1, 2] -= y0
    m = _pixel_affine(m)
    size = (x1 - x0, y1 - y0)
    img = cv2.warpAffine(crop_image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpAffine(alpha.astype(np.float32), m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    region = out[y0:y1, x0:x1]
    out[y0:y1, x0:x1] = cv2.blendLinear(img, region, a, 1.0 - a)
    return out
