"""Writing videos and frame folders, all or nothing.

:class:`VideoWriter` encodes RGB uint8 ``(H, W, 3)`` frames to H.264 through the
ffmpeg bundled with ``imageio-ffmpeg``; :class:`FrameFolderWriter` writes
numbered PNGs. Both are context managers with the rule of
:mod:`~reenact_cli.media.atomic`: the output is built under a hidden temporary
name beside the target and moved into place only when the ``with`` block ends
cleanly. On an exception or KeyboardInterrupt inside the block the temporary
output is deleted and nothing appears under the final name (an existing file
is left untouched). Existing outputs are refused unless ``overwrite=True``.

Decisions, stated once:

* **Quality.** ``quality="high"`` (default) is x264 CRF 14 with preset
  ``veryfast``: visually lossless. Measured end to end through this class on
  150 frames of a real face clip, 2 cores: 256x256 about 500 frames/s,
  2.2 KiB/frame, PSNR 42 dB; 512x512 about 145 frames/s, 4.7 KiB/frame
  (0.9 Mbit/s at 25 fps), PSNR 46 dB. ``medium`` makes the same size with
  +1 dB at a third of the speed; ``ultrafast``/``superfast`` are 1.5-2x faster
  but 1.5-2.5x larger. Encoding runs in its own process beside the model, so a
  fast preset leaves the cores to the reenactment. Saturated colour edges are
  limited to ~31-33 dB by yuv420p's half-resolution chroma whatever the CRF.
  Other levels: ``"medium"`` (CRF 20), ``"low"`` (CRF 26), ``"lossless"``
  (CRF 0; lossless in yuv420p, not in RGB), or any CRF ``int`` 0..51.
* **Odd sizes.** yuv420p needs even width and height: an odd dimension is padded
  by one pixel that repeats the last row/column (no picture content is lost;
  the video is one pixel wider/taller than the frames).
  :attr:`VideoWriter.output_size` tells the encoded size.
* **Colour.** RGB -> YUV with BT.601 (ffmpeg's default, matching
  :mod:`~reenact_cli.media.video`), tagged ``smpte170m`` so players that read
  the tag do not assume BT.709 for HD sizes.
* **Audio.** ``audio_from``: the first audio track of that file (typically the
  driving video) is muxed in a second, fast ffmpeg pass (video stream-copied),
  trimmed to the video's duration (``frames / fps``; a copied track to the
  nearest audio packet, ~23 ms for AAC). AAC and MP3 tracks are copied as they are; anything else is encoded to AAC 192 kb/s (as is a track
  ffmpeg fails to copy). A file without audio is fine: the video is silent.
* **Containers.** ``.mp4`` / ``.m4v`` / ``.mov`` (with ``+faststart``, so it
  plays while downloading) and ``.mkv``.
"""
from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, OutputError
from .atomic import _EXISTS, _umask, atomic_output, check_output
from .video import SWS_FLAGS, _check_file, _ffmpeg_reason, ffmpeg_exe

#: Named quality levels -> x264 CRF (lower = better, 0 = lossless).
QUALITY_CRF = {"lossless": 0, "high": 14, "medium": 20, "low": 26}
#: x264 preset: best size for the speed on 2 cores (see the module notes).
DEFAULT_PRESET = "veryfast"
#: Output suffix -> ffmpeg muxer.
VIDEO_OUTPUT_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
#: Audio codecs muxed without re-encoding.
_COPY_AUDIO = {"aac", "mp3"}
AUDIO_BITRATE = "192k"
_X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class WriteResult:
    """What a writer produced: ``path``; ``frames`` written; ``size`` ``(width,
    height)`` in pixels as stored (even for a video); ``fps`` frames per second
    (None for a frame folder); ``has_audio`` whether an audio track was muxed."""

    path: Path
    frames: int
    size: tuple[int, int]
    fps: float | None
    has_audio: bool = False


def probe_audio(path: str | Path) -> str | None:
    """Codec name of a media file's first audio track, or None if it has none.

    Raises:
        InputError: missing, empty or unreadable file.
    """
    p = Path(path)
    _check_file(p)
    try:
        run = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(p)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"cannot probe it for audio ({exc})", p) from None
    log = run.stderr.decode("utf-8", "replace")
    if "Input #0" not in log:
        raise InputError(f"not a readable media file: {_ffmpeg_reason(log)}", p)
    for line in log.splitlines():
        if line.lstrip().startswith("Stream #") and " Audio: " in line:
            return line.split(" Audio: ", 1)[1].split()[0].strip(",")
    return None


def _crf(quality: str | int) -> int:
    if isinstance(quality, str):
        if quality not in QUALITY_CRF:
            raise ValueError(f"quality must be one of {sorted(QUALITY_CRF)} or a CRF 0..51, got {quality!r}")
        return QUALITY_CRF[quality]
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 51:
        raise ValueError(f"quality must be one of {sorted(QUALITY_CRF)} or a CRF 0..51, got {quality!r}")
    return quality


def fps_fraction(fps: float) -> Fraction:
    """A frame rate as an exact fraction for ffmpeg: NTSC rates printed as
    ``29.97`` etc. become ``30000/1001``; others are limited to denominators <= 1001."""
    for base in (24, 30, 48, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(fps - float(ntsc)) < 0.006:
            return ntsc
    return Fraction(fps).limit_denominator(1001)


def _even(n: int) -> int:
    return n + (n & 1)


def _check_frame(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Validate an RGB uint8 ``(H, W, 3)`` frame (and its size ``(w, h)``)."""
    a = np.asarray(frame)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"frames must be RGB uint8 (H, W, 3), got {a.dtype} {a.shape}")
    if size is not None and (a.shape[1], a.shape[0]) != tuple(size):
        raise ValueError(f"frame is {a.shape[1]}x{a.shape[0]}, expected {size[0]}x{size[1]}")
    return np.ascontiguousarray(a)


class VideoWriter:
    """Write RGB uint8 ``(H, W, 3)`` frames to an H.264 video, atomically.

    Example::

        with VideoWriter("out.mp4", fps=25.0, size=(512, 512), audio_from="driver.mp4") as vw:
            for frame in frames:
                vw.write(frame)
        print(vw.result)

    Args:
        path: target file, ``.mp4``, ``.m4v``, ``.mov`` or ``.mkv``.
        fps: frames per second (> 0).
        size: ``(width, height)`` of the frames in pixels; None takes the first
            frame's. Odd dimensions are padded to even (see module notes).
        overwrite: replace an existing file (atomically) instead of refusing.
        audio_from: a media file whose first audio track is muxed in, trimmed to
            the video length; ignored (silent video) when it has no audio.
        quality: ``"high"`` (CRF 14), ``"medium"``, ``"low"``, ``"lossless"``,
            or an x264 CRF 0..51.
        preset: x264 speed preset (default ``veryfast``).

    Raises (at construction, before any work):
        OutputError: unsupported suffix, existing file without ``overwrite``,
            unwritable folder.
        InputError: ``audio_from`` missing or unreadable.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        size: tuple[int, int] | None = None,
        overwrite: bool = False,
        audio_from: str | Path | None = None,
        quality: str | int = "high",
        preset: str = DEFAULT_PRESET,
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_OUTPUT_FORMATS:
            raise OutputError(f"unsupported video type '{suffix or '(none)'}' (use {', '.join(VIDEO_OUTPUT_FORMATS)})", self.path)
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"size must be (width, height) in pixels, got {size!r}")
        if preset not in _X264_PRESETS:
            raise ValueError(f"preset must be one of {_X264_PRESETS}, got {preset!r}")
        self.crf = _crf(quality)
        self.preset = preset
        self.fps = float(fps)
        self.size: tuple[int, int] | None = (int(size[0]), int(size[1])) if size is not None else None
        self.overwrite = overwrite
        self.format = VIDEO_OUTPUT_FORMATS[suffix]
        check_output(self.path, overwrite)
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.audio_codec = probe_audio(self.audio_from) if self.audio_from is not None else None
        self.frames_written = 0
        self.result: WriteResult | None = None
        self._stack: contextlib.ExitStack | None = None
        self._tmp: Path | None = None
        self._video_tmp: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._log = None
        self._pad: np.ndarray | None = None

    @property
    def output_size(self) -> tuple[int, int] | None:
        """``(width, height)`` of the encoded video: :attr:`size` rounded up to even."""
        return None if self.size is None else (_even(self.size[0]), _even(self.size[1]))

    # ------------------------------------------------------------ context

    def __enter__(self) -> VideoWriter:
        if self._stack is not None:
            raise RuntimeError("VideoWriter is already open")
        stack = contextlib.ExitStack()
        try:
            self._tmp = stack.enter_context(atomic_output(self.path, self.overwrite))
            if self.audio_codec is not None:
                fd, name = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".video.mp4", dir=self.path.parent)
                os.close(fd)
                self._video_tmp = Path(name)
                stack.callback(self._unlink, self._video_tmp)
            self._log = stack.enter_context(tempfile.TemporaryFile())
        except OSError as exc:
            stack.close()
            raise OutputError(f"cannot create a temporary file ({exc.strerror or exc})", self.path) from None
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        stack, self._stack = self._stack, None
        assert stack is not None
        try:
            if exc_type is None:
                self._finish()
            else:
                self._abort()
        except BaseException:
            self._abort()
            if not stack.__exit__(*sys.exc_info()):
                raise
            return False
        return bool(stack.__exit__(exc_type, exc, tb))

    # ------------------------------------------------------------ frames

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 ``(H, W, 3)`` frame of :attr:`size`."""
        if self._stack is None:
            raise RuntimeError("use VideoWriter inside a 'with' block")
        a = _check_frame(frame, self.size)
        if self.size is None:
            self.size = (a.shape[1], a.shape[0])
        if self._proc is None:
            self._start()
        w, h = self.size
        if (w | h) & 1:
            buf = self._pad
            assert buf is not None
            buf[:h, :w] = a
            if w & 1:
                buf[:h, w] = a[:, w - 1]
            if h & 1:
                buf[h] = buf[h - 1]
            a = buf
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(memoryview(a).cast("B"))
        except (BrokenPipeError, ValueError, OSError):
            raise OutputError(f"video encoder failed: {self._reason()}", self.path) from None
        self.frames_written += 1

    __call__ = write

    # ------------------------------------------------------------ internals

    def _start(self) -> None:
        assert self.size is not None and self._tmp is not None
        ow, oh = self.output_size  # type: ignore[misc]
        if (ow, oh) != self.size:
            self._pad = np.empty((oh, ow, 3), dtype=np.uint8)
        target = self._video_tmp or self._tmp
        fmt = "mp4" if self._video_tmp else self.format
        cmd = [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{ow}x{oh}", "-r", str(fps_fraction(self.fps)),
            "-i", "pipe:0", "-map", "0:v:0", "-an",
            "-sws_flags", SWS_FLAGS,
            "-c:v", "libx264", "-preset", self.preset, "-crf", str(self.crf),
            "-pix_fmt", "yuv420p", "-colorspace", "smpte170m", "-color_range", "tv",
            *self._movflags(fmt), "-f", fmt, str(target),
        ]  # fmt: skip
        try:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log, start_new_session=True)
        except OSError as exc:
            raise OutputError(f"cannot run ffmpeg ({exc.strerror or exc})", self.path) from None

    @staticmethod
    def _movflags(fmt: str) -> list[str]:
        return ["-movflags", "+faststart"] if fmt in ("mp4", "mov") else []

    def _reason(self) -> str:
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)
        if self._log is None:
            return "unknown error"
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        self._log.seek(0, os.SEEK_END)
        return _ffmpeg_reason(text, f"ffmpeg exited with code {proc.returncode if proc else '?'}")

    def _finish(self) -> None:
        proc = self._proc
        if proc is None:
            raise OutputError("no frames were written; nothing was saved", self.path)
        assert proc.stdin is not None
        try:
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        if proc.wait() != 0:
            raise OutputError(f"video encoder failed: {self._reason()}", self.path)
        self._proc = None
        has_audio = False
        if self._video_tmp is not None:
            self._mux_audio()
            has_audio = True
        assert self.output_size is not None
        self.result = WriteResult(self.path, self.frames_written, self.output_size, self.fps, has_audio)

    def _mux_audio(self) -> None:
        """Second pass: copy the video, add ``audio_from``'s audio trimmed to the video."""
        assert self._video_tmp is not None and self._tmp is not None and self.audio_from is not None
        duration = self.frames_written / float(fps_fraction(self.fps))
        codecs = (["copy"] if self.audio_codec in _COPY_AUDIO else []) + ["aac"]
        reason = ""
        for codec in codecs:
            audio_args = ["-c:a", "copy"] if codec == "copy" else ["-c:a", "aac", "-b:a", AUDIO_BITRATE]
            cmd = [
                ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
                "-i", str(self._video_tmp), "-i", str(self.audio_from),
                "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", *audio_args,
                "-t", f"{duration:.6f}", *self._movflags(self.format), "-f", self.format, str(self._tmp),
            ]  # fmt: skip
            run = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if run.returncode == 0:
                return
            reason = _ffmpeg_reason(run.stderr.decode("utf-8", "replace"))
        raise OutputError(f"could not add the audio of {self.audio_from.name}: {reason}", self.path)

    def _abort(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait()
        if proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.close()

    @staticmethod
    def _unlink(p: Path) -> None:
        with contextlib.suppress(OSError):
            p.unlink()


# ---------------------------------------------------------------------- folders


def check_folder_output(path: str | Path, overwrite: bool = False) -> Path:
    """Validate a frame-folder output before any work; changes nothing on disk.

    An existing *empty* folder counts as free (nothing would be lost).

    Raises:
        OutputError: a file is in the way, a non-empty folder exists and
            ``overwrite`` is false, or the parent cannot be written.
    """
    p = Path(path)
    try:
        if p.exists():
            if not p.is_dir():
                raise OutputError("is a file, expected a folder name", p)
            if not overwrite and any(p.iterdir()):
                raise OutputError(_EXISTS, p)
        base = next((a for a in (p.parent, *p.parent.parents) if a.exists()), Path("."))
    except OSError as exc:
        raise OutputError(f"cannot check it ({exc.strerror or exc})", p) from None
    if not base.is_dir():
        raise OutputError(f"cannot write here: {base} is a file, not a folder", p)
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputError(f"folder {base} is not writable", p)
    return p


class FrameFolderWriter:
    """Write RGB uint8 ``(H, W, 3)`` frames as ``frame_000001.png``, ... into a
    folder, all or nothing.

    Frames go into a hidden temporary folder beside the target, renamed into
    place when the ``with`` block ends cleanly; on an exception it is deleted.
    With ``overwrite`` an existing folder is swapped out (renamed aside, the new
    one renamed in, the old one deleted: the target is missing only between two
    renames, and is restored if the second one fails).
    """

    def __init__(self, folder: str | Path, overwrite: bool = False, pattern: str = "frame_{:06d}.png") -> None:
        self.path = Path(folder)
        if not re.fullmatch(r"[^/\\]*\{:0?\d*d\}[^/\\]*\.png", pattern):
            raise ValueError(f"pattern must name a .png with one integer field, got {pattern!r}")
        self.pattern = pattern
        self.overwrite = overwrite
        check_folder_output(self.path, overwrite)
        self.frames_written = 0
        self.size: tuple[int, int] | None = None
        self.result: WriteResult | None = None
        self._tmp: Path | None = None

    def __enter__(self) -> FrameFolderWriter:
        if self._tmp is not None:
            raise RuntimeError("FrameFolderWriter is already open")
        check_folder_output(self.path, self.overwrite)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent))
        except OSError as exc:
            raise OutputError(f"cannot create a temporary folder ({exc.strerror or exc})", self.path) from None
        return self

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 ``(H, W, 3)`` frame as the next numbered PNG."""
        if self._tmp is None:
            raise RuntimeError("use FrameFolderWriter inside a 'with' block")
        a = _check_frame(frame, None)
        if self.size is None:
            self.size = (a.shape[1], a.shape[0])
        ok, buf = cv2.imencode(".png", cv2.cvtColor(a, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OutputError("could not encode a PNG frame", self.path)
        name = self.pattern.format(self.frames_written + 1)
        try:
            buf.tofile(str(self._tmp / name))
        except OSError as exc:
            raise OutputError(f"cannot write {name} ({exc.strerror or exc})", self.path) from None
        self.frames_written += 1

    __call__ = write

    def __exit__(self, exc_type, exc, tb) -> bool:
        tmp, self._tmp = self._tmp, None
        assert tmp is not None
        try:
            if exc_type is None:
                if self.frames_written == 0:
                    raise OutputError("no frames were written; nothing was saved", self.path)
                os.chmod(tmp, 0o777 & ~_umask())
                self._move(tmp)
                assert self.size is not None
                self.result = WriteResult(self.path, self.frames_written, self.size, None)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return False

    def _move(self, tmp: Path) -> None:
        target = self.path
        try:
            if not target.exists() or (target.is_dir() and not any(target.iterdir())):
                os.rename(tmp, target)  # replaces an empty folder; fails on a non-empty one
                return
            if not self.overwrite:
                raise OutputError(_EXISTS, target)
            if not target.is_dir():
                raise OutputError("is a file, expected a folder name", target)
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
            os.rename(target, old)  # (onto the empty placeholder)
            try:
                os.rename(tmp, target)
            except BaseException:
                os.rename(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):  # something appeared meanwhile
                raise OutputError(_EXISTS, target) from None
            raise OutputError(f"cannot move the frames into place ({exc.strerror or exc})", target) from None


__all__ = [
    "AUDIO_BITRATE",
    "DEFAULT_PRESET",
    "FrameFolderWriter",
    "QUALITY_CRF",
    "VIDEO_OUTPUT_FORMATS",
    "VideoWriter",
    "WriteResult",
    "check_folder_output",
    "fps_fraction",
    "probe_audio",
]
