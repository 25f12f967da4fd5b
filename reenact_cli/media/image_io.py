"""Reading and writing still images.

Whatever the file holds (grayscale, RGBA, 16-bit, palette), :func:`read_image`
returns RGB ``uint8 (H, W, 3)``, turned upright by its EXIF orientation; every
problem becomes a one-line :class:`~reenact_cli.errors.InputError` naming the
file. The image's size is checked from its header before it is decoded, so a
huge or truncated file fails fast without using gigabytes of memory.
"""
from __future__ import annotations

import io
import re
import stat
import warnings
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, OutputError, native_stderr
from .atomic import atomic_output, check_output

#: Smallest side we accept: below this no face detector can work.
MIN_SIDE = 16
#: Largest pixel count we accept (120 megapixels, e.g. 12000 x 10000): a
#: decoded image of that size already needs 360 MB.
MAX_PIXELS = 120_000_000
#: Pixels converted at a time by :func:`to_rgb8` (bounds its float32 scratch memory).
_CHUNK_PIXELS = 1 << 22

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jp2"}


def to_rgb8(array: np.ndarray, source: str | Path = "image") -> np.ndarray:
    """Normalise a decoded image to RGB uint8 ``(H, W, 3)``.

    Accepts ``(H, W)``, ``(H, W, 1|2|3|4)`` in uint8, uint16 or float (0..1).
    Alpha is composited over white. Channel order of a 3/4-channel input is
    assumed RGB(A). Large images are converted in strips, so the float scratch
    memory stays small.
    """
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"unsupported image shape {a.shape}", source)
    if not (a.dtype == np.uint8 or a.dtype == np.uint16 or np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise InputError(f"unsupported pixel type {a.dtype}", source)
    if a.dtype == np.uint8 and a.shape[2] == 3:
        return np.ascontiguousarray(a)
    h, w = a.shape[:2]
    out = np.empty((h, w, 3), dtype=np.uint8)
    rows = max(1, _CHUNK_PIXELS // max(1, w))
    for y in range(0, h, rows):
        out[y : y + rows] = _rgb8_block(a[y : y + rows])
    return out


def _rgb8_block(a: np.ndarray) -> np.ndarray:
    """:func:`to_rgb8` of a validated ``(h, w, c)`` block, through float32."""
    if a.dtype == np.uint8:
        f = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        f = a.astype(np.float32) / 65535.0
    elif np.issubdtype(a.dtype, np.floating):
        f = np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0)
    else:
        f = a.astype(np.float32) / max(1.0, float(np.iinfo(a.dtype).max))
    c = f.shape[2]
    if c in (2, 4):
        alpha = f[:, :, -1:]
        f = f[:, :, :-1] * alpha + (1.0 - alpha)
        c -= 1
    if c == 1:
        f = np.repeat(f, 3, axis=2)
    return np.round(f * 255.0).astype(np.uint8)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 ``(H, W, 3)``, upright.

    Raises:
        InputError: missing file, a directory, unreadable, truncated or not an
            image, too small or too large.
    """
    p = Path(path)
    try:
        if not p.exists():
            raise InputError("no such file", p)
        if p.is_dir():
            raise InputError("is a directory, expected an image file", p)
        mode = p.stat().st_mode
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
            raise InputError("is a device, not an image file", p)
        data = np.frombuffer(p.read_bytes(), dtype=np.uint8)  # (np.fromfile fails on a pipe)
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror or exc})", p) from None
    if data.size == 0:
        raise InputError("file is empty", p)
    head = data[:16].tobytes()
    if _is_truncated(data, head):
        raise InputError("image file is truncated (it ends before the image data does)", p)
    header_size, orientation = _peek_header(data, p)
    if header_size is not None:
        _check_size(*header_size, p)
    decoded = _decode(data, p)
    if decoded is None:
        decoded = _read_with_imageio(p)
    else:
        decoded = _bgr_to_rgb(decoded)
    if decoded.ndim < 2:
        raise InputError("not an image file (could not decode it)", p)
    _check_size(decoded.shape[1], decoded.shape[0], p)
    return to_rgb8(_upright(decoded, orientation), p)


def _bgr_to_rgb(a: np.ndarray) -> np.ndarray:
    """OpenCV's BGR(A) channel order to RGB(A) (cvtColor: far faster than a
    reversed-stride copy on a big photo)."""
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        return a
    code = cv2.COLOR_BGR2RGB if a.shape[2] == 3 else cv2.COLOR_BGRA2RGBA
    if a.dtype in (np.uint8, np.uint16, np.float32):
        return cv2.cvtColor(a, code)
    return a[:, :, [2, 1, 0, 3][: a.shape[2]]]


def _check_size(w: int, h: int, p: Path) -> None:
    if min(h, w) < MIN_SIDE:
        raise InputError(f"image is {w}x{h} pixels, too small to hold a face (need at least {MIN_SIDE})", p)
    if h * w > MAX_PIXELS:
        raise InputError(f"image is {w}x{h} pixels, larger than this tool accepts ({MAX_PIXELS // 1_000_000} megapixels); shrink it first", p)


#: libjpeg warnings meaning pixels are missing or garbled. Others, such as
#: "extraneous bytes before marker 0xd9" (junk after the last pixel, common
#: from some cameras) or "libpng warning: iCCP ...", are harmless and dropped.
_CORRUPT = re.compile(r"premature end|bad huffman|bad arithmetic|instead of RST", re.IGNORECASE)


def _decode(data: np.ndarray, p: Path) -> np.ndarray | None:
    """Decode with OpenCV; its (and libjpeg's, libpng's) messages are kept off stderr.

    Raises:
        InputError: when libjpeg reports corrupt data (the picture would be garbled).
    """
    messages: list[str] = []

    def collect(captured: bytes) -> bytes:
        messages.extend(line.strip() for line in captured.decode("utf-8", "replace").splitlines() if line.strip())
        return b""

    with native_stderr(collect):
        try:
            decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        except cv2.error:
            decoded = None
    corrupt = next((m for m in messages if _CORRUPT.search(m)), None)
    if decoded is not None and corrupt is not None:
        detail = re.sub(r"^corrupt jpeg data:\s*", "", corrupt, flags=re.IGNORECASE)
        raise InputError(f"corrupt image data ({detail})", p)
    return decoded


def _is_truncated(data: np.ndarray, head: bytes) -> bool:
    """True when a JPEG or PNG certainly ends early (other formats: False)."""
    if head.startswith(b"\xff\xd8\xff"):
        return _jpeg_truncated(data.tobytes())
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return data.tobytes().rfind(b"IEND") < 0
    return False


def _jpeg_truncated(b: bytes) -> bool:
    """Walk a JPEG's segments; True if the data ends before the end-of-image
    marker. A structure we do not understand counts as not truncated (the
    decoder then judges)."""
    n, i = len(b), 2
    while i + 1 < n:
        if b[i] != 0xFF:
            return False
        marker = b[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # end of image
            return False
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            i += 2
            continue
        if i + 4 > n:
            return True
        i += 2 + int.from_bytes(b[i + 2 : i + 4], "big")
        if marker == 0xDA:  # start of scan: skip the entropy-coded data
            while True:
                j = b.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    return True
                nxt = b[j + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
                    i = j + 2
                elif nxt == 0xFF:
                    i = j + 1
                else:
                    i = j
                    break
    return True


#: Formats whose EXIF orientation Pillow reads from the header.
_EXIF_FORMATS = {"JPEG", "MPO", "TIFF", "WEBP"}


def _peek_header(data: np.ndarray, p: Path) -> tuple[tuple[int, int] | None, int]:
    """``((width, height), exif_orientation)`` from the header without decoding
    the pixels; ``(None, 1)`` when Pillow does not know the format.

    Raises:
        InputError: for a header claiming an absurd size (a decompression bomb).
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with imageio
        return None, 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DecompressionBombWarning: we check the size ourselves
        try:
            with Image.open(io.BytesIO(data.tobytes())) as im:
                size = (int(im.width), int(im.height))
                orientation = 1
                if im.format in _EXIF_FORMATS:  # (a PNG's EXIF would need a full decode)
                    try:
                        orientation = int(im.getexif().get(0x0112, 1))
                    except Exception:  # a broken EXIF block is no reason to refuse a photo
                        orientation = 1
                return size, orientation if orientation in range(1, 9) else 1
        except Image.DecompressionBombError:  # over 2 x Pillow's limit, far over ours
            raise InputError(f"image is larger than this tool accepts ({MAX_PIXELS // 1_000_000} megapixels); shrink it first", p) from None
        except Exception:
            return None, 1


def _upright(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to a decoded ``(H, W, ...)`` array
    (as Pillow's ``ImageOps.exif_transpose`` does)."""
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(a, -1)
    if orientation == 7:
        return a.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(a, 1)
    return a


def _read_with_imageio(p: Path) -> np.ndarray:
    import imageio.v3 as iio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            frame = iio.imread(p, index=0)
        except MemoryError:
            raise
        except Exception:  # imageio raises many types for a non-image
            raise InputError("not an image file (could not decode it)", p) from None
    return np.asarray(frame)


def check_image_output(path: str | Path, overwrite: bool = False) -> Path:
    """Validate an image output path before any work: a known suffix, and
    :func:`~reenact_cli.media.atomic.check_output`'s checks."""
    p = Path(path)
    suffix = p.suffix.lower() or ".png"
    if suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"unsupported image type '{suffix}' (use .png or .jpg)", p)
    return check_output(p, overwrite)


def write_image(path: str | Path, image: np.ndarray, overwrite: bool = False) -> Path:
    """Write RGB uint8 ``image`` atomically; refuses to overwrite unless asked."""
    p = check_image_output(path, overwrite)
    suffix = p.suffix.lower() or ".png"
    bgr = np.ascontiguousarray(image[:, :, ::-1]) if image.ndim == 3 else image
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else []
    try:
        ok, buf = cv2.imencode(suffix, bgr, params)
    except cv2.error:
        ok, buf = False, None
    if not ok:
        raise OutputError("could not encode image", p)
    with atomic_output(p, overwrite) as tmp:
        buf.tofile(tmp)
    return p
