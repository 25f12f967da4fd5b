"""On-disk format of a prepared training dataset (written by ``reenact prepare``).

Layout::

    DATASET/manifest.json                    settings + one record per clip
    DATASET/clips/<clip-id>/frames/000000.jpg  aligned S x S face crops (JPEG q95)
    DATASET/clips/<clip-id>/geometry.npz       per-frame geometry (:class:`ClipGeometry`)

A clip is *done* when its ``geometry.npz`` exists: it is written last and
atomically, after every frame, so a clip interrupted part-way has frames but no
geometry and is redone by the next run. The manifest is rewritten atomically
after every clip; the geometry file also carries the settings and source it was
made with, so a manifest lost in a crash is rebuilt from the clips.

All geometry follows conventions.py: vertices in crop pixels of the clip's own
per-frame crop, pose ``[sR|t]`` row-major mapping face-model space to crop pixels.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..conventions import NUM_FACE_VERTICES, NUM_IRIS_POINTS
from ..errors import InputError

FORMAT = "reenact-prepared-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CLIPS = "clips"
GEOMETRY = "geometry.npz"
FRAMES = "frames"
#: JPEG quality of the stored crops.
JPEG_QUALITY = 95

#: Clip statuses in the manifest.
DONE, SKIPPED, FAILED = "done", "skipped", "failed"


@dataclass(frozen=True)
class PrepareSettings:
    """What a prepared dataset was made with; all clips of one dataset share it.

    Attributes:
        size: crop side ``S`` in pixels.
        every: every n-th source frame was considered.
        max_frames: at most this many frames stored per clip.
        face_model: fingerprint of the face model the coefficients belong to.
        face_model_path: the model file given with ``--face-model`` (None: the shipped one).
    """

    size: int
    every: int
    max_frames: int
    face_model: str
    face_model_path: str | None = None

    def compatible(self, other: "PrepareSettings") -> bool:
        """Same crops and coefficients (the model's path may differ)."""
        return (self.size, self.every, self.max_frames, self.face_model) == (
            other.size, other.every, other.max_frames, other.face_model,
        )

    def describe(self) -> str:
        return f"size {self.size}, every {self.every}, max-frames {self.max_frames}, face model {self.face_model}"


@dataclass
class ClipRecord:
    """One input clip in the manifest.

    Attributes:
        id: folder name under ``clips/``.
        source: the input's absolute path.
        kind: ``video`` or ``frames`` (a folder of images).
        status: ``done``, ``skipped`` (too few usable faces) or ``failed`` (an error).
        frames: frames stored.
        frames_seen: frames looked at (after ``every``).
        no_face: frames looked at in which no face was found.
        reason: why a clip was skipped or failed ("" when done).
        seconds: wall time spent on the clip.
    """

    id: str
    source: str
    kind: str
    status: str
    frames: int = 0
    frames_seen: int = 0
    no_face: int = 0
    reason: str = ""
    seconds: float = 0.0


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Manifest:
    """``manifest.json``: the settings and one :class:`ClipRecord` per clip, in order."""

    settings: PrepareSettings
    clips: list[ClipRecord] = field(default_factory=list)
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    reenact_version: str = ""

    def record(self, clip_id: str) -> ClipRecord | None:
        return next((c for c in self.clips if c.id == clip_id), None)

    def put(self, rec: ClipRecord) -> None:
        """Add ``rec`` or replace the record with its id."""
        for i, c in enumerate(self.clips):
            if c.id == rec.id:
                self.clips[i] = rec
                return
        self.clips.append(rec)

    def done(self) -> list[ClipRecord]:
        return [c for c in self.clips if c.status == DONE]

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "settings": asdict(self.settings),
            "created": self.created,
            "updated": self.updated,
            "reenact_version": self.reenact_version,
            "totals": {
                "clips_done": len(self.done()),
                "frames": int(sum(c.frames for c in self.done())),
            },
            "clips": [asdict(c) for c in self.clips],
        }

    def save(self, root: str | Path) -> Path:
        """Write ``root/manifest.json`` atomically (replacing the old one)."""
        from ..media.atomic import atomic_output

        self.updated = _now()
        path = Path(root) / MANIFEST
        with atomic_output(path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n")
        return path

    @staticmethod
    def load(root: str | Path) -> "Manifest | None":
        """The manifest in ``root``, or None if there is none.

        Raises:
            InputError: the file is not a prepared-dataset manifest of this version.
        """
        path = Path(root) / MANIFEST
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the dataset manifest ({exc})", path) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InputError("not a manifest written by 'reenact prepare'", path)
        if data.get("version") != FORMAT_VERSION:
            raise InputError(f"dataset format version {data.get('version')}, this reenact reads {FORMAT_VERSION}", path)
        try:
            return Manifest(
                PrepareSettings(**data["settings"]),
                [ClipRecord(**c) for c in data["clips"]],
                data.get("created", ""),
                data.get("updated", ""),
                data.get("reenact_version", ""),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(f"damaged dataset manifest ({type(exc).__name__}: {exc})", path) from None


def clip_dir(root: str | Path, clip_id: str) -> Path:
    return Path(root) / CLIPS / clip_id


def frame_path(clip_folder: str | Path, k: int) -> Path:
    """The ``k``-th stored crop of a clip (0-based, in stored order)."""
    return Path(clip_folder) / FRAMES / f"{k:06d}.jpg"


@dataclass(frozen=True)
class ClipGeometry:
    """Per-frame geometry of one prepared clip (``N`` stored frames).

    Attributes:
        frame_index: ``(N,)`` int32 index of each stored frame in the source clip.
        vertices: ``(N, 478, 3)`` float32 MediaPipe vertices (468 face + 10 iris),
            crop pixels of that frame's crop.
        pose: ``(N, 12)`` float64 ``[sR|t]`` row-major, model space -> crop pixels.
        c_id: ``(N, K_id)`` float32 identity coefficients.
        c_exp: ``(N, K_exp)`` float32 expression coefficients.
        residual: ``(N, 468, 3)`` float32 model-space remainder of each fit.
        crop_origin: ``(N, 2)`` float64 frame position of each crop's top-left, pixels.
        crop_scale: ``(N,)`` float64 frame pixels per crop pixel.
        frame_size: ``(width, height)`` of the source frames.
        size: crop side ``S``.
        source: the input's absolute path.
        settings: the :class:`PrepareSettings` it was made with.
        frames_seen, no_face: counts over the frames looked at.
    """

    frame_index: np.ndarray
    vertices: np.ndarray
    pose: np.ndarray
    c_id: np.ndarray
    c_exp: np.ndarray
    residual: np.ndarray
    crop_origin: np.ndarray
    crop_scale: np.ndarray
    frame_size: tuple[int, int]
    size: int
    source: str
    settings: PrepareSettings
    frames_seen: int = 0
    no_face: int = 0

    def __len__(self) -> int:
        return int(len(self.frame_index))

    def fit(self, k: int):
        """The face-model fit of stored frame ``k`` (a :class:`~reenact_cli.face.model.FaceFit`)."""
        from ..face.model import FaceFit
        from ..face.pose import Pose

        return FaceFit(Pose.from_vector(self.pose[k]), self.c_id[k], self.c_exp[k], self.residual[k])

    def crop(self, k: int):
        """The :class:`~reenact_cli.face.crop.CropTransform` of stored frame ``k``."""
        from ..face.crop import CropTransform

        o = self.crop_origin[k]
        return CropTransform((float(o[0]), float(o[1])), float(self.crop_scale[k]), self.size, self.frame_size)

    def check(self, where: str | Path = "geometry") -> None:
        """Raise :class:`InputError` if the arrays disagree in length or shape."""
        n = len(self)
        shapes = {
            "vertices": (n, NUM_FACE_VERTICES + NUM_IRIS_POINTS, 3),
            "pose": (n, 12),
            "residual": (n, NUM_FACE_VERTICES, 3),
            "crop_origin": (n, 2),
            "crop_scale": (n,),
        }
        for name, shape in shapes.items():
            if getattr(self, name).shape != shape:
                raise InputError(f"geometry array '{name}' has shape {getattr(self, name).shape}, expected {shape}", where)
        if self.c_id.shape[0] != n or self.c_exp.shape[0] != n:
            raise InputError("geometry coefficient arrays disagree in length with the frames", where)

    def save(self, path: str | Path) -> Path:
        """Write atomically as compressed ``.npz`` (replacing any old file)."""
        from ..media.atomic import atomic_output

        self.check(path)
        with atomic_output(path, overwrite=True) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh,
                    format_version=np.int32(FORMAT_VERSION),
                    frame_index=self.frame_index.astype(np.int32),
                    vertices=self.vertices.astype(np.float32),
                    pose=self.pose.astype(np.float64),
                    c_id=self.c_id.astype(np.float32),
                    c_exp=self.c_exp.astype(np.float32),
                    residual=self.residual.astype(np.float32),
                    crop_origin=self.crop_origin.astype(np.float64),
                    crop_scale=self.crop_scale.astype(np.float64),
                    frame_size=np.asarray(self.frame_size, dtype=np.int32),
                    size=np.int32(self.size),
                    meta=np.array(json.dumps({
                        "source": self.source,
                        "settings": asdict(self.settings),
                        "frames_seen": self.frames_seen,
                        "no_face": self.no_face,
                    })),
                )
        return Path(path)

    @staticmethod
    def load(path: str | Path) -> "ClipGeometry":
        """Read a file written by :meth:`save`.

        Raises:
            InputError: missing, unreadable or inconsistent file.
        """
        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as z:
                a = {k: z[k] for k in z.files}
            meta = json.loads(str(a["meta"]))
            geo = ClipGeometry(
                frame_index=a["frame_index"],
                vertices=a["vertices"],
                pose=a["pose"],
                c_id=a["c_id"],
                c_exp=a["c_exp"],
                residual=a["residual"],
                crop_origin=a["crop_origin"],
                crop_scale=a["crop_scale"],
                frame_size=(int(a["frame_size"][0]), int(a["frame_size"][1])),
                size=int(a["size"]),
                source=str(meta["source"]),
                settings=PrepareSettings(**meta["settings"]),
                frames_seen=int(meta.get("frames_seen", 0)),
                no_face=int(meta.get("no_face", 0)),
            )
        except FileNotFoundError:
            raise InputError("no such clip geometry file", p) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"not a clip geometry file ({type(exc).__name__}: {exc})", p) from None
        geo.check(p)
        return geo
