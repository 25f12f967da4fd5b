"""Evaluation protocols: which (source, driver) pairs are evaluated.

``self``
    Self-reenactment on video clips: the source is one frame of a clip
    (``source_frame``, default 0) and the drivers are other frames of the same
    clip, so the real driver frame is the ground truth. All five metrics apply.
``cross``
    Cross-identity: source and driver come from different files (photos, or a
    frame of a clip); every input file is taken to show a different person.
    CSIM against the source, PRMSE and AUCON against the driver.

Pairs are sampled with a seed, or read from a CSV with the columns
``protocol,source,source_frame,driver,driver_frame`` (:func:`write_pairs`
writes that file; paths in it are relative to the CSV's folder unless
absolute). Frame numbers count decoded frames from 0; a photo is frame 0.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..media.image_io import read_image
from ..media.video import decode_video, is_image, is_video, natural_key, probe_video

PROTOCOLS = ("self", "cross")
PAIR_COLUMNS = ("protocol", "source", "source_frame", "driver", "driver_frame")


@dataclass(frozen=True)
class Pair:
    """One evaluation sample: reenact ``source`` (frame) with ``driver`` (frame)."""

    protocol: str
    source: Path
    source_frame: int
    driver: Path
    driver_frame: int

    @property
    def key(self) -> str:
        """Stable id used in the result files: ``source#f>driver#g``."""
        return f"{self.source.name}#{self.source_frame}>{self.driver.name}#{self.driver_frame}"


def expand_inputs(items: Iterable[Path], protocol: str) -> list[Path]:
    """Files from paths and folders (a folder's images and videos, natural order).
    ``self`` keeps only videos and refuses an explicit photo."""
    out: list[Path] = []
    for item in items:
        if item.is_dir():
            files = [f for f in sorted(item.iterdir(), key=natural_key) if f.is_file() and not f.name.startswith(".")]
            files = [f for f in files if is_video(f) or (protocol == "cross" and is_image(f))]
            if not files:
                kind = "video" if protocol == "self" else "photo or video"
                raise InputError(f"folder holds no {kind}", item)
            out.extend(files)
        elif not item.exists():
            raise InputError("no such file or folder", item)
        elif protocol == "self" and not is_video(item):
            raise InputError("--protocol self needs video clips (the driver frames are the ground truth), not a photo", item)
        elif not (is_video(item) or is_image(item)):
            raise InputError("not a photo or video (by its suffix)", item)
        else:
            out.append(item)
    return out


def frame_count(path: Path) -> int:
    """Frames in a video (1 for a photo)."""
    return probe_video(path).frame_count if is_video(path) else 1


def _rng(seed: int, *names: str) -> np.random.Generator:
    """A generator for one clip or pair set, stable when other inputs are added."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def sample_self_pairs(clips: list[Path], per_clip: int, seed: int, source_frame: int = 0) -> list[Pair]:
    """``per_clip`` driver frames per clip (fewer if the clip is short), drawn
    without replacement from the frames other than ``source_frame``, sorted."""
    pairs = []
    for clip in clips:
        n = frame_count(clip)
        if source_frame >= n:
            raise InputError(f"--source-frame {source_frame} but the clip has {n} frames", clip)
        others = np.array([i for i in range(n) if i != source_frame])
        if others.size == 0:
            raise InputError("clip has a single frame: nothing to drive with", clip)
        pick = np.sort(_rng(seed, clip.name).choice(others, size=min(per_clip, others.size), replace=False))
        pairs.extend(Pair("self", clip, source_frame, clip, int(f)) for f in pick)
    return pairs


def sample_cross_pairs(files: list[Path], count: int, seed: int) -> list[Pair]:
    """``count`` ordered (source, driver) pairs of different files, drawn without
    replacement (fewer if there are not that many); a clip contributes a random
    frame."""
    if len(files) < 2:
        raise InputError("--protocol cross needs at least two inputs (different people)")
    rng = _rng(seed, "cross")
    n = len(files)
    ordered = [(i, j) for i in range(n) for j in range(n) if i != j]
    chosen = rng.choice(len(ordered), size=min(count, len(ordered)), replace=False)
    counts = {f: frame_count(f) for f in files}
    pairs = []
    for c in chosen:
        i, j = ordered[int(c)]
        s, d = files[i], files[j]
        sf = int(rng.integers(counts[s])) if counts[s] > 1 else 0
        df = int(rng.integers(counts[d])) if counts[d] > 1 else 0
        pairs.append(Pair("cross", s, sf, d, df))
    return pairs


def pairs_csv_text(pairs: list[Pair], folder: Path) -> str:
    """The pairs as CSV text: absolute paths kept, relative ones made relative to ``folder``."""

    def rel(p: Path) -> str:
        if p.is_absolute():
            return str(p)
        try:
            return os.path.relpath(p.resolve(), folder.resolve())
        except ValueError:  # another drive (Windows)
            return str(p.resolve())

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(PAIR_COLUMNS)
    for p in pairs:
        w.writerow([p.protocol, rel(p.source), p.source_frame, rel(p.driver), p.driver_frame])
    return buf.getvalue()


def read_pairs(path: Path, protocol: str) -> list[Pair]:
    """Pairs from a CSV written by :func:`pairs_csv_text` (or by hand).

    Raises:
        InputError: missing file, missing columns, a bad row, a protocol other
            than ``protocol``, or a file that does not exist.
    """
    if not path.is_file():
        raise InputError("no such pairs file" if not path.exists() else "not a file", path)
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read pairs CSV ({exc})", path) from None
    if not rows:
        raise InputError("pairs CSV has no rows", path)
    missing = [c for c in PAIR_COLUMNS if c not in rows[0]]
    if missing:
        raise InputError(f"pairs CSV lacks column(s) {', '.join(missing)} (needs {','.join(PAIR_COLUMNS)})", path)
    base = path.parent
    pairs = []
    for n, row in enumerate(rows, start=2):
        try:
            pair = Pair(row["protocol"].strip(), base / row["source"].strip(), int(row["source_frame"]), base / row["driver"].strip(), int(row["driver_frame"]))
        except (ValueError, AttributeError):
            raise InputError(f"line {n}: frame numbers must be integers", path) from None
        if pair.protocol != protocol:
            raise InputError(f"line {n}: protocol '{pair.protocol}' but --protocol {protocol}", path)
        if pair.source_frame < 0 or pair.driver_frame < 0:
            raise InputError(f"line {n}: negative frame number", path)
        for f in (pair.source, pair.driver):
            if not f.is_file():
                raise InputError(f"line {n}: no such file {f}", path)
        pairs.append(pair)
    return pairs


def load_frames(path: Path, frames: set[int]) -> dict[int, np.ndarray]:
    """The requested frames of a video (decoded once, up to the last one needed)
    or of a photo (frame 0), RGB uint8 ``(H, W, 3)``.

    Raises:
        InputError: a frame past the end of the video, or a frame > 0 of a photo.
    """
    if not is_video(path):
        if frames - {0}:
            raise InputError(f"frame {max(frames)} requested but a photo has only frame 0", path)
        return {0: read_image(path)}
    last = max(frames)
    out: dict[int, np.ndarray] = {}
    with contextlib.closing(decode_video(path)) as stream:  # closing stops ffmpeg at once
        for i, frame in enumerate(stream):
            if i in frames:
                out[i] = frame
            if i >= last:
                break
    if len(out) < len(frames):
        raise InputError(f"frame {max(set(frames) - set(out))} requested but the video has fewer frames", path)
    return out

