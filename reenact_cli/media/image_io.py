"""Reading and writing still images.

Whatever the file holds (grayscale, RGBA, 16-bit, palette), :func:`read_image`
returns RGB ``uint8 (H, W, 3)``; every problem becomes a one-line
:class:`~reenact_cli.errors.InputError` naming the file.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, OutputError
from .atomic import atomic_output

#: Smallest side we accept: below this no face detector can work.
MIN_SIDE = 16
#: Largest pixel count we accept (about 16k x 16k).
MAX_PIXELS = 1 << 28

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jp2"}


def to_rgb8(array: np.ndarray, source: str | Path = "image") -> np.ndarray:
    """Normalise a decoded image to RGB uint8 ``(H, W, 3)``.

    Accepts ``(H, W)``, ``(H, W, 1|2|3|4)`` in uint8, uint16 or float (0..1).
    Alpha is composited over white. Channel order of a 3/4-channel input is
    assumed RGB(A).
    """
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"unsupported image shape {a.shape}", source)
    if a.dtype == np.uint8:
        f = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        f = a.astype(np.float32) / 65535.0
    elif np.issubdtype(a.dtype, np.floating):
        f = np.clip(a.astype(np.float32), 0.0, 1.0)
    elif np.issubdtype(a.dtype, np.integer):
        f = a.astype(np.float32) / max(1.0, float(np.iinfo(a.dtype).max))
    else:
        raise InputError(f"unsupported pixel type {a.dtype}", source)
    c = f.shape[2]
    if c in (2, 4):
        alpha = f[:, :, -1:]
        f = f[:, :, :-1] * alpha + (1.0 - alpha)
        c -= 1
    if c == 1:
        f = np.repeat(f, 3, axis=2)
    return np.ascontiguousarray(np.round(f * 255.0).astype(np.uint8))


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 ``(H, W, 3)``.

    Raises:
        InputError: missing file, a directory, unreadable or not an image, too small
            or too large.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", p)
    if p.is_dir():
        raise InputError("is a directory, expected an image file", p)
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})", p) from None
    if data.size == 0:
        raise InputError("file is empty", p)
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        decoded = _read_with_imageio(p)
    else:
        if decoded.ndim == 3 and decoded.shape[2] == 3:
            decoded = decoded[:, :, ::-1]
        elif decoded.ndim == 3 and decoded.shape[2] == 4:
            decoded = decoded[:, :, [2, 1, 0, 3]]
    h, w = decoded.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputError(f"image is {w}x{h} pixels, too small to hold a face (need at least {MIN_SIDE})", p)
    if h * w > MAX_PIXELS:
        raise InputError(f"image is {w}x{h} pixels, larger than this tool accepts", p)
    return to_rgb8(decoded, p)


def _read_with_imageio(p: Path) -> np.ndarray:
    import imageio.v3 as iio

    try:
        frame = iio.imread(p, index=0)
    except Exception:  # imageio raises many types for a non-image
        raise InputError("not an image file (could not decode it)", p) from None
    return np.asarray(frame)


def write_image(path: str | Path, image: np.ndarray, overwrite: bool = False) -> Path:
    """Write RGB uint8 ``image`` atomically; refuses to overwrite unless asked."""
    p = Path(path)
    suffix = p.suffix.lower() or ".png"
    if suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"unsupported image type '{suffix}' (use .png or .jpg)", p)
    bgr = np.ascontiguousarray(image[:, :, ::-1]) if image.ndim == 3 else image
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise OutputError("could not encode image", p)
    with atomic_output(p, overwrite) as tmp:
        buf.tofile(tmp)
    return p
