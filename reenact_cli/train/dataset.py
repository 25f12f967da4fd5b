"""Self-supervised training pairs from a prepared dataset (``reenact prepare``).

Each item is a source frame and a driver frame of the *same* clip (so the same
person, paper §3.4), with the two meshes the generator needs and the
coefficients the coefficient loss compares against. No MediaPipe runs here:
everything comes from the stored crops and geometry.

* ``M_s``: the source fit reproduced exactly (:meth:`FaceModel.source_mesh`),
  source crop pixels.
* ``M_d``: source identity + residual, the driver's expression, placed where
  the driver's face is in the *driver's* crop:
  ``model.compose(src_fit, drv_fit, Take(), driver_reference=src_fit)`` (with
  the source as the reference frame the scale and head pivot become exactly
  the driver's). So ``M_d == M_s`` when driver and source are the same frame.

Pairs are random but reproducible: in epoch ``e`` item ``i``'s driver is entry
``i`` of a permutation of all frames seeded by ``(seed, e)`` and its source a
random other frame of the same clip, seeded by ``(seed, e, i)``; the same item
comes back whatever the worker or the order of access.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..conventions import NUM_FACE_VERTICES
from ..errors import InputError
from .store import DONE, GEOMETRY, ClipGeometry, Manifest, clip_dir, frame_path


def read_crop(path: Path) -> torch.Tensor:
    """A stored crop as float32 ``(3, S, S)`` in [0, 1] (RGB)."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError("cannot read the stored crop", path)
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    return torch.from_numpy(rgb).permute(2, 0, 1).float().div_(255.0)


class PairDataset(torch.utils.data.Dataset):
    """(source, driver) pairs from the done clips of a prepared dataset.

    Args:
        root: the dataset folder (holds ``manifest.json``).
        face_model: the face model the dataset was prepared with (a
            :class:`~reenact_cli.face.model.FaceModel` or a path); None loads the
            one the manifest names. Its fingerprint must match the manifest's.
        pairs_per_epoch: items per epoch (default: the number of frames, so each
            frame drives once per epoch).
        seed: base seed of the pairing.
        clips: only these clip ids (e.g. a train/validation split); default all done clips.

    Items are dicts of tensors (``S`` the crop size, ``K_id``/``K_exp`` the
    model's component counts):

    ========================  ===================  ====================================
    ``source``, ``driver``    float32 (3, S, S)    crops in [0, 1]
    ``source_mesh``           float32 (468, 3)     ``M_s``, source crop pixels
    ``driving_mesh``          float32 (468, 3)     ``M_d``, driver crop pixels
    ``driver_pose``           float32 (12,)        driver's ``[sR|t]`` (crop pixels)
    ``driver_c_id``           float32 (K_id,)      driver's identity coefficients
    ``driver_c_exp``          float32 (K_exp,)     driver's expression coefficients
    ``source_pose`` ...       likewise             the source's (``c_id`` for eq. 6)
    ``clip``                  int64 ()             clip number (see :attr:`clip_ids`)
    ``source_index``,         int64 ()             stored frame numbers in the clip
    ``driver_index``
    ========================  ===================  ====================================
    """

    def __init__(
        self,
        root: str | Path,
        face_model=None,
        pairs_per_epoch: int | None = None,
        seed: int = 0,
        clips: Sequence[str] | None = None,
    ) -> None:
        from ..face.model import FaceModel, load_face_model

        self.root = Path(root)
        manifest = Manifest.load(self.root)
        if manifest is None:
            raise InputError("not a prepared dataset (no manifest.json; make one with 'reenact prepare')", self.root)
        self.settings = manifest.settings
        if isinstance(face_model, FaceModel):
            model = face_model
        else:
            model = load_face_model(face_model if face_model is not None else self.settings.face_model_path)
        if model.fingerprint != self.settings.face_model:
            raise InputError(
                f"dataset was prepared with face model {self.settings.face_model}, "
                f"but the model given has fingerprint {model.fingerprint}",
                self.root,
            )
        self.model = model
        done = [c.id for c in manifest.done()]
        if clips is not None:
            unknown = sorted(set(clips) - set(done))
            if unknown:
                raise InputError(f"no prepared clip named {', '.join(unknown[:5])}", self.root)
            done = [c for c in done if c in set(clips)]
        if not done:
            raise InputError("the dataset holds no prepared clips", self.root)
        self.clip_ids: list[str] = done
        self.geometry: list[ClipGeometry] = [ClipGeometry.load(clip_dir(self.root, c) / GEOMETRY) for c in done]
        counts = np.array([len(g) for g in self.geometry])
        if (counts < 2).any():
            raise InputError("a prepared clip holds fewer than 2 frames", self.root)
        self.size = int(self.settings.size)
        self._starts = np.concatenate([[0], np.cumsum(counts)])
        self.num_frames = int(self._starts[-1])
        self.pairs_per_epoch = int(pairs_per_epoch) if pairs_per_epoch else self.num_frames
        self.seed = int(seed)
        self.epoch = 0
        self._perm: np.ndarray | None = None

    def __len__(self) -> int:
        return self.pairs_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s pairing (call before each epoch, like a DistributedSampler)."""
        self.epoch = int(epoch)
        self._perm = None

    def _permutation(self) -> np.ndarray:
        if self._perm is None:
            self._perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.num_frames)
        return self._perm

    def locate(self, i: int) -> tuple[int, int, int]:
        """Item ``i`` of the current epoch as ``(clip, source frame, driver frame)``."""
        if not 0 <= i < len(self):
            raise IndexError(f"item {i} of {len(self)}")
        flat = int(self._permutation()[i % self.num_frames])
        clip = int(np.searchsorted(self._starts, flat, side="right") - 1)
        driver = flat - int(self._starts[clip])
        n = len(self.geometry[clip])
        rng = np.random.default_rng([self.seed, self.epoch, i])
        source = int(rng.integers(n - 1))
        source += source >= driver  # any frame but the driver's
        return clip, source, driver

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.pair(*self.locate(i))

    def pair(self, clip: int | str, source: int, driver: int) -> dict[str, torch.Tensor]:
        """The item for an explicit pair: clip (number or id), stored frame numbers."""
        from ..face.model import Take

        c = self.clip_ids.index(clip) if isinstance(clip, str) else int(clip)
        geo = self.geometry[c]
        folder = clip_dir(self.root, self.clip_ids[c])
        src_fit, drv_fit = geo.fit(source), geo.fit(driver)
        m_s = self.model.source_mesh(src_fit)
        m_d = self.model.compose(src_fit, drv_fit, Take(), driver_reference=src_fit)
        assert m_s.shape == (NUM_FACE_VERTICES, 3) and m_d.shape == (NUM_FACE_VERTICES, 3)

        def f32(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        return {
            "source": read_crop(frame_path(folder, source)),
            "driver": read_crop(frame_path(folder, driver)),
            "source_mesh": f32(m_s),
            "driving_mesh": f32(m_d),
            "driver_pose": f32(geo.pose[driver]),
            "driver_c_id": f32(geo.c_id[driver]),
            "driver_c_exp": f32(geo.c_exp[driver]),
            "source_pose": f32(geo.pose[source]),
            "source_c_id": f32(geo.c_id[source]),
            "source_c_exp": f32(geo.c_exp[source]),
            "clip": torch.tensor(c, dtype=torch.int64),
            "source_index": torch.tensor(source, dtype=torch.int64),
            "driver_index": torch.tensor(driver, dtype=torch.int64),
        }


def done_clip_ids(root: str | Path) -> list[str]:
    """Ids of the prepared clips of a dataset, in manifest order (for splits)."""
    manifest = Manifest.load(root)
    if manifest is None:
        raise InputError("not a prepared dataset (no manifest.json)", root)
    return [c.id for c in manifest.clips if c.status == DONE]
