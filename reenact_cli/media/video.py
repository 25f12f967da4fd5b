"""Reading video files and frame folders as streams of RGB uint8 frames."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .image_io import IMAGE_SUFFIXES, read_image

VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".webm", ".mkv", ".gif", ".m4v"}


def natural_key(path: Path) -> list:
    """Sort key: 'frame2' before 'frame10'."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def list_frames(folder: str | Path) -> list[Path]:
    """Image files in a folder, in natural order."""
    p = Path(folder)
    frames = sorted((f for f in p.iterdir() if f.is_file() and is_image(f)), key=natural_key)
    if not frames:
        raise InputError("folder holds no image files", p)
    return frames


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header says: ``fps`` (frames per second), ``size`` (w, h),
    ``frames`` (count, estimated from duration when the header lacks it)."""

    fps: float
    size: tuple[int, int]
    frames: int


def video_info(path: str | Path) -> VideoInfo:
    import imageio.v2 as iio2

    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", p)
    try:
        reader = iio2.get_reader(str(p), format="FFMPEG")
    except Exception:
        raise InputError("not a readable video", p) from None
    try:
        meta = reader.get_meta_data()
        fps = float(meta.get("fps") or 25.0)
        size = tuple(int(v) for v in meta.get("size", (0, 0)))
        n = reader.count_frames()
    finally:
        reader.close()
    return VideoInfo(fps, size, int(n))


def iter_video(path: str | Path, stride: int = 1) -> Iterator[np.ndarray]:
    """Decode a video's frames as RGB uint8 ``(H, W, 3)``, every ``stride``-th."""
    import imageio.v2 as iio2

    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", p)
    try:
        reader = iio2.get_reader(str(p), format="FFMPEG")
    except Exception:
        raise InputError("not a readable video", p) from None
    try:
        for i, frame in enumerate(reader):
            if i % stride == 0:
                yield np.ascontiguousarray(frame[:, :, :3])
    finally:
        reader.close()


def iter_frames(path: str | Path, stride: int = 1) -> Iterator[np.ndarray]:
    """Frames of a video file, a folder of images, or a single image."""
    p = Path(path)
    if p.is_dir():
        for f in list_frames(p)[::stride]:
            yield read_image(f)
    elif is_video(p):
        yield from iter_video(p, stride)
    else:
        yield read_image(p)
