"""Preparing a training dataset: videos and frame folders -> aligned crops + geometry.

Each input clip is decoded (every ``every``-th frame), its face tracked with
MediaPipe in video mode, cropped square at the working size exactly as the
reenactment pipeline crops a source (:func:`~reenact_cli.face.crop.crop_for_mesh`),
re-regressed on the crop and fitted with the face model. Crops are stored as
JPEG and the per-frame geometry as one ``.npz`` (format: :mod:`.store`).

Clips are independent: each is prepared by :func:`prepare_clip` (in a worker
process when ``workers > 1``); a clip that fails, has no faces or too few, is
recorded with its reason and the others go on. A rerun skips clips already done
with the same settings and redoes those interrupted part-way.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..errors import InputError, NoFaceError, OutputError, ReenactError
from .store import (
    CLIPS, DONE, FAILED, GEOMETRY, JPEG_QUALITY, MANIFEST, SKIPPED,
    ClipGeometry, ClipRecord, Manifest, PrepareSettings, clip_dir, frame_path,
)  # fmt: skip

#: Fewest frames with a face a clip needs to give a (source, driver) pair.
MIN_FRAMES = 2


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of ``reenact prepare``.

    Attributes:
        size: crop side ``S`` in pixels.
        every: consider every n-th frame of a clip.
        max_frames: store at most this many frames (with a face) per clip.
        workers: processes (1 = in this process).
        face_model: face model ``.npz`` (None: the shipped one).
        overwrite: redo clips already prepared (and, if the settings changed,
            drop the dataset's other clips).
    """

    size: int = 256
    every: int = 2
    max_frames: int = 200
    workers: int = max(1, min(2, os.cpu_count() or 1))
    face_model: Path | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class ClipInput:
    """One clip to prepare: a video file or a folder of frames (``kind``)."""

    path: Path
    kind: str
    id: str


@dataclass(frozen=True)
class ClipOutcome:
    """What happened to one input in this run; ``resumed``: it was already
    prepared (or already known to have no usable face) and was not redone."""

    record: ClipRecord
    resumed: bool = False


@dataclass
class PrepareResult:
    """A run of :func:`prepare_dataset`: the outcome of each input, in input order."""

    root: Path
    outcomes: list[ClipOutcome]
    seconds: float
    manifest: Manifest
    notes: list[str] = field(default_factory=list)

    def _of(self, status: str, resumed: bool | None = None) -> list[ClipRecord]:
        return [o.record for o in self.outcomes if o.record.status == status and (resumed is None or o.resumed == resumed)]

    @property
    def prepared(self) -> list[ClipRecord]:
        return self._of(DONE, resumed=False)

    @property
    def resumed(self) -> list[ClipRecord]:
        return self._of(DONE, resumed=True)

    @property
    def skipped(self) -> list[ClipRecord]:
        return self._of(SKIPPED)

    @property
    def failed(self) -> list[ClipRecord]:
        return self._of(FAILED)


# ------------------------------------------------------------------ inputs

def _visible(folder: Path) -> list[Path]:
    from ..media.video import natural_key

    try:
        return sorted((f for f in folder.iterdir() if not f.name.startswith(".")), key=natural_key)
    except OSError as exc:
        raise InputError(f"cannot list the folder ({exc.strerror or exc})", folder) from None


def _has_images(folder: Path) -> bool:
    from ..media.video import is_image

    return any(f.is_file() and is_image(f) for f in _visible(folder))


def find_clips(inputs: Sequence[str | Path]) -> tuple[list[tuple[Path, str]], list[str]]:
    """Expand the command's INPUTS into clips ``(path, kind)`` and notes.

    A file is a video clip (whatever its suffix: one that is not a video fails
    later, as that clip only). A folder holding images and no videos or
    sub-folders of images is one clip of frames; otherwise each video and each
    sub-folder of images in it is a clip (not recursive), in natural name order.
    Duplicates are dropped.

    Raises:
        InputError: a path that does not exist, or a folder with nothing usable.
    """
    from ..media.video import is_image, is_video

    found: list[tuple[Path, str]] = []
    notes: list[str] = []
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise InputError("no such file or folder", p)
        if not p.is_dir():
            found.append((p, "video"))
            continue
        entries = _visible(p)
        kids = [(f, "video") if f.is_file() else (f, "frames") for f in entries if (f.is_file() and is_video(f)) or (f.is_dir() and _has_images(f))]
        images = [f for f in entries if f.is_file() and is_image(f)]
        if kids:
            found.extend(kids)  # in natural name order
            if images:
                notes.append(f"{p}: ignored {len(images)} loose image(s) beside its clips (a folder of frames must hold only frames)")
        elif images:
            found.append((p, "frames"))
        else:
            raise InputError("folder holds no videos, folders of frames or images", p)
    seen: set[Path] = set()
    unique = []
    for path, kind in found:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((key, kind))
    return unique, notes


def _slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")
    return s or "clip"


def assign_ids(clips: Sequence[tuple[Path, str]], manifest: Manifest | None) -> list[ClipInput]:
    """Stable folder names: a source already in the manifest keeps its id; a new
    one gets its file or folder name, with a hash of its path added when that
    name is taken by another source."""
    taken = {c.id: c.source for c in manifest.clips} if manifest else {}
    by_source = {c.source: c.id for c in manifest.clips} if manifest else {}
    out = []
    for path, kind in clips:
        src = str(path)
        cid = by_source.get(src)
        if cid is None:
            cid = _slug(path.stem if kind == "video" else path.name)
            if cid in taken and taken[cid] != src:
                cid = f"{cid}-{hashlib.sha1(src.encode()).hexdigest()[:8]}"
        taken[cid] = src
        out.append(ClipInput(path, kind, cid))
    return out


# --------------------------------------------------------------- one clip

def _frames(clip: ClipInput, every: int) -> Iterator[tuple[int, np.ndarray, tuple[int, int]]]:
    """``(source frame index, RGB uint8 frame, (w, h))`` of every ``every``-th frame."""
    from ..media.image_io import read_image
    from ..media.video import decode_video, is_image, open_driver

    if clip.kind == "video" and is_image(clip.path):
        raise InputError("is an image; prepare takes videos or folders of frames", clip.path)
    stream = open_driver(clip.path)
    if stream.kind == "frames":
        for i in range(0, len(stream.files), every):
            yield i, read_image(stream.files[i]), stream.size
        return
    with contextlib.closing(decode_video(stream.path, stream.size)) as frames:
        for i, frame in enumerate(frames):
            if i % every == 0:
                yield i, frame, stream.size


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OutputError("could not encode the crop as JPEG", path)
    try:
        buf.tofile(path)
    except OSError as exc:
        raise OutputError(f"cannot write ({exc.strerror or exc})", path) from None


def _prepare(clip: ClipInput, folder: Path, settings: PrepareSettings) -> ClipRecord:
    from ..face.model import load_face_model
    from ..face.regress import MeshRegressor

    model = load_face_model(settings.face_model_path)
    (folder / "frames").mkdir(parents=True, exist_ok=True)
    cols: dict[str, list] = {k: [] for k in ("frame_index", "vertices", "pose", "c_id", "c_exp", "residual", "crop_origin", "crop_scale")}
    seen = no_face = 0
    frame_size = (0, 0)
    with MeshRegressor(static=False, max_faces=1) as reg:
        for index, frame, frame_size in _frames(clip, settings.every):
            if len(cols["frame_index"]) >= settings.max_frames:
                break
            seen += 1
            try:
                face = reg.face_crop(frame, settings.size, 0, str(clip.path))
            except NoFaceError:
                no_face += 1
                continue
            fit = model.fit(face.mesh.vertices)
            _write_jpeg(frame_path(folder, len(cols["frame_index"])), face.image)
            cols["frame_index"].append(index)
            cols["vertices"].append(face.mesh.all_points)
            cols["pose"].append(fit.pose_vector())
            cols["c_id"].append(fit.c_id)
            cols["c_exp"].append(fit.c_exp)
            cols["residual"].append(fit.residual)
            cols["crop_origin"].append(face.crop.origin)
            cols["crop_scale"].append(face.crop.scale)
    n = len(cols["frame_index"])
    rec = ClipRecord(clip.id, str(clip.path), clip.kind, DONE, n, seen, no_face)
    if n < MIN_FRAMES:
        rec.status = SKIPPED
        rec.reason = f"{n} of {seen} frames with a face (need {MIN_FRAMES})" if seen else "no frames"
        return rec
    geo = ClipGeometry(
        frame_index=np.asarray(cols["frame_index"], dtype=np.int32),
        vertices=np.stack(cols["vertices"]).astype(np.float32),
        pose=np.stack(cols["pose"]).astype(np.float64),
        c_id=np.stack(cols["c_id"]).astype(np.float32),
        c_exp=np.stack(cols["c_exp"]).astype(np.float32),
        residual=np.stack(cols["residual"]).astype(np.float32),
        crop_origin=np.asarray(cols["crop_origin"], dtype=np.float64),
        crop_scale=np.asarray(cols["crop_scale"], dtype=np.float64),
        frame_size=(int(frame_size[0]), int(frame_size[1])),
        size=settings.size,
        source=str(clip.path),
        settings=settings,
        frames_seen=seen,
        no_face=no_face,
    )
    geo.save(folder / GEOMETRY)  # last: the clip is done once this exists
    return rec


def _reason(exc: ReenactError, path: Path) -> str:
    """The error's message on one line, without the clip's own path in front."""
    text = " ".join(str(exc).split())
    prefix = f"{path}: "
    return text[len(prefix):] if exc.path is not None and exc.path.resolve() == path and text.startswith(prefix) else text


def prepare_clip(clip: ClipInput, root: str | Path, settings: PrepareSettings) -> ClipRecord:
    """Prepare one clip into ``root/clips/<id>/`` (anything there is redone).

    Never raises for a bad clip: errors become a ``failed`` record with a
    one-line reason, too few faces a ``skipped`` one; their folder is removed.
    Picklable, so it runs in worker processes.
    """
    from ..face.regress import quiet_mediapipe

    quiet_mediapipe()
    folder = clip_dir(root, clip.id)
    start = time.perf_counter()
    shutil.rmtree(folder, ignore_errors=True)
    try:
        rec = _prepare(clip, folder, settings)
    except ReenactError as exc:
        rec = ClipRecord(clip.id, str(clip.path), clip.kind, FAILED, reason=_reason(exc, clip.path))
    except Exception as exc:  # a bug or a library failure: still only this clip
        rec = ClipRecord(clip.id, str(clip.path), clip.kind, FAILED, reason=f"internal error ({type(exc).__name__}: {exc})")
    if rec.status != DONE:
        shutil.rmtree(folder, ignore_errors=True)
    rec.seconds = round(time.perf_counter() - start, 2)
    return rec


# ---------------------------------------------------------------- resuming

def _finished(clip: ClipInput, root: Path, settings: PrepareSettings, manifest: Manifest | None) -> ClipRecord | None:
    """The record of a clip that need not be redone, else None."""
    import json

    geo_path = clip_dir(root, clip.id) / GEOMETRY
    if geo_path.is_file():
        try:
            with np.load(geo_path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                n = int(z["frame_index"].shape[0])
            same = meta["source"] == str(clip.path) and PrepareSettings(**meta["settings"]).compatible(settings)
        except Exception:
            return None  # damaged: redo
        if not same:
            return None
        old = manifest.record(clip.id) if manifest else None
        if old is not None and old.status == DONE and old.frames == n:
            return old
        return ClipRecord(clip.id, str(clip.path), clip.kind, DONE, n, int(meta.get("frames_seen", n)), int(meta.get("no_face", 0)))
    old = manifest.record(clip.id) if manifest else None
    if old is not None and old.status == SKIPPED and old.source == str(clip.path):
        return old  # no usable face last time with these settings; a failure is retried
    return None


def _open_manifest(root: Path, settings: PrepareSettings, overwrite: bool) -> Manifest:
    from .. import __version__

    if root.exists() and not root.is_dir():
        raise OutputError("is a file, expected a dataset folder", root)
    manifest = Manifest.load(root) if root.is_dir() else None
    if manifest is None and root.is_dir() and any(f.name not in (CLIPS, MANIFEST) for f in root.iterdir()):
        raise OutputError("folder exists and is not a prepared dataset (no manifest.json); choose a new or empty folder", root)
    if manifest is not None and not manifest.settings.compatible(settings):
        if not overwrite:
            raise OutputError(
                f"was prepared with {manifest.settings.describe()}, not {settings.describe()}; "
                "use another folder, or pass --overwrite to redo it with the new settings",
                root,
            )
        for rec in manifest.clips:  # they no longer match the dataset's settings
            shutil.rmtree(clip_dir(root, rec.id), ignore_errors=True)
        manifest = None
    if manifest is None:
        manifest = Manifest(settings, reenact_version=__version__)
    manifest.settings = settings
    manifest.reenact_version = __version__
    return manifest


def prepare_dataset(
    inputs: Sequence[str | Path],
    output: str | Path,
    config: PrepareConfig = PrepareConfig(),
    on_start: Callable[[int, int], None] | None = None,
    on_clip: Callable[[ClipOutcome], None] | None = None,
) -> PrepareResult:
    """Prepare every clip of ``inputs`` into the dataset folder ``output``.

    ``on_start(to_do, already_done)`` is called once the inputs are known,
    ``on_clip(outcome)`` as each clip finishes (in completion order). The
    manifest is saved after every clip.

    Raises:
        InputError: a missing input path or an unreadable face model (before any work).
        OutputError: ``output`` is not a dataset folder, or was prepared with other
            settings (without ``config.overwrite``).
    """
    from ..face.model import load_face_model

    start = time.perf_counter()
    root = Path(output)
    model = load_face_model(config.face_model)
    fm_path = str(Path(config.face_model).resolve()) if config.face_model is not None else None
    settings = PrepareSettings(config.size, config.every, config.max_frames, model.fingerprint, fm_path)
    found, notes = find_clips(inputs)
    manifest = _open_manifest(root, settings, config.overwrite)
    clips = assign_ids(found, manifest)
    order = {c.id: i for i, c in enumerate(manifest.clips)} | {c.id: len(manifest.clips) + i for i, c in enumerate(clips)}

    def save() -> None:
        manifest.clips.sort(key=lambda r: order.get(r.id, len(order)))
        manifest.save(root)

    outcomes: dict[str, ClipOutcome] = {}
    todo: list[ClipInput] = []
    for clip in clips:
        old = None if config.overwrite else _finished(clip, root, settings, manifest)
        if old is not None:
            outcomes[clip.id] = ClipOutcome(old, resumed=True)
            manifest.put(old)
        else:
            todo.append(clip)
    save()
    if on_start:
        on_start(len(todo), len(clips) - len(todo))
    for outcome in outcomes.values():
        if on_clip:
            on_clip(outcome)

    def finish(rec: ClipRecord) -> None:
        outcomes[rec.id] = ClipOutcome(rec)
        manifest.put(rec)
        save()
        if on_clip:
            on_clip(outcomes[rec.id])

    if config.workers <= 1 or len(todo) <= 1:
        for clip in todo:
            finish(prepare_clip(clip, root, settings))
    else:
        pool = ProcessPoolExecutor(max_workers=min(config.workers, len(todo)), mp_context=get_context("spawn"))
        try:
            pending = {pool.submit(prepare_clip, clip, root, settings): clip for clip in todo}
            while pending:
                ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in ready:
                    clip = pending.pop(fut)
                    try:
                        rec = fut.result()
                    except Exception as exc:  # the worker itself died (out of memory, killed)
                        rec = ClipRecord(clip.id, str(clip.path), clip.kind, FAILED, reason=f"worker failed ({type(exc).__name__}: {exc})")
                        shutil.rmtree(clip_dir(root, clip.id), ignore_errors=True)
                    finish(rec)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return PrepareResult(root, [outcomes[c.id] for c in clips], time.perf_counter() - start, manifest, notes)
