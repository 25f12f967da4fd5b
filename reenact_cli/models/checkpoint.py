"""Checkpoints: one file with the config, the weights, the face model's
fingerprint and the package version.

Layout (a ``torch.save`` dict of plain types and tensors, loadable with
``weights_only=True``)::

    format          "reenact-checkpoint"
    format_version  1
    package_version reenact's version that wrote it
    config          ModelConfig.to_dict()
    face_model      {"fingerprint": str, "num_id": int, "num_exp": int}
    modules         {"generator": state_dict, "critic"?: ..., "regressor"?: ...}
    training        optional: step, optimiser and RNG states (``reenact train``)

Every way loading can fail is a :class:`~reenact_cli.errors.InputError` with
one line that says what is wrong and what to do.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .. import __version__
from ..errors import InputError
from ..face.model import FaceModel
from ..media.atomic import atomic_output
from .config import ModelConfig

if TYPE_CHECKING:
    from .generator import LearnedGenerator

FORMAT = "reenact-checkpoint"
FORMAT_VERSION = 1


def tensors_fingerprint(named: Iterable[tuple[str, torch.Tensor]]) -> str:
    """16 hex digits over named tensors (names and float32 values, in name order)."""
    h = hashlib.sha256()
    for name, tensor in sorted(named, key=lambda item: item[0]):
        h.update(name.encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


@dataclass
class Checkpoint:
    """A loaded (or to-be-saved) checkpoint.

    Attributes:
        config: the model config.
        face_model_fingerprint: the face model the weights were trained with.
        num_id, num_exp: that face model's basis sizes.
        modules: state dicts by module name (``generator``, ``critic``, ``regressor``).
        package_version: the reenact version that wrote it.
        training: training state, if any.
    """

    config: ModelConfig
    face_model_fingerprint: str
    num_id: int
    num_exp: int
    modules: dict[str, dict[str, torch.Tensor]]
    package_version: str = __version__
    training: dict[str, Any] | None = None
    path: Path | None = field(default=None, compare=False)

    def fingerprint(self) -> str:
        """16 hex digits identifying the generator's weights (for eval reports)."""
        return tensors_fingerprint(self.modules.get("generator", {}).items())

    def check_face_model(self, model: FaceModel) -> None:
        """Raise if ``model`` is not the face model these weights were trained with."""
        if model.fingerprint != self.face_model_fingerprint:
            raise InputError(
                f"trained with face model {self.face_model_fingerprint}, but the face model in use is "
                f"{model.fingerprint}: pass --face-model with the model it was trained with",
                self.path,
            )

    def load_into(self, name: str, module: nn.Module) -> None:
        """Load ``modules[name]`` into ``module``; a mismatch is one line."""
        if name not in self.modules:
            raise InputError(f"holds no '{name}' weights (it has: {', '.join(sorted(self.modules)) or 'none'})", self.path)
        state = self.modules[name]
        own = module.state_dict()
        wrong = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
        if wrong:
            k = wrong[0]
            raise InputError(
                f"'{name}' weights do not match its config: {len(wrong)} with another shape "
                f"(e.g. {k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)})",
                self.path,
            )
        result = module.load_state_dict(state, strict=False)
        problems = []
        if result.missing_keys:
            problems.append(f"{len(result.missing_keys)} missing (e.g. {result.missing_keys[0]})")
        if result.unexpected_keys:
            problems.append(f"{len(result.unexpected_keys)} unexpected (e.g. {result.unexpected_keys[0]})")
        if problems:
            raise InputError(f"'{name}' weights do not match its config: {'; '.join(problems)}", self.path)


def make_checkpoint(config: ModelConfig, face_model: FaceModel, modules: dict[str, nn.Module], training: dict | None = None) -> Checkpoint:
    """Snapshot ``modules`` (copied to CPU) into a :class:`Checkpoint`."""
    states = {name: {k: v.detach().cpu().clone() for k, v in m.state_dict().items()} for name, m in modules.items()}
    return Checkpoint(config, face_model.fingerprint, face_model.num_id, face_model.num_exp, states, __version__, training)


def save_checkpoint(checkpoint: Checkpoint, path: str | Path, overwrite: bool = False) -> Path:
    """Write atomically (temporary file, then rename); refuses to replace an
    existing file unless ``overwrite``."""
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package_version": checkpoint.package_version,
        "config": checkpoint.config.to_dict(),
        "face_model": {"fingerprint": checkpoint.face_model_fingerprint, "num_id": checkpoint.num_id, "num_exp": checkpoint.num_exp},
        "modules": checkpoint.modules,
    }
    if checkpoint.training is not None:
        payload["training"] = checkpoint.training
    with atomic_output(path, overwrite=overwrite) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint (tensors on CPU)."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such checkpoint file", p)
    if p.is_dir():
        raise InputError("is a folder, not a checkpoint file", p)
    try:
        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"not a readable checkpoint ({reason[:120]})", p) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError("not a reenact checkpoint (written by something else?)", p)
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InputError(
            f"checkpoint format {version} is newer than this reenact ({__version__}) reads (format {FORMAT_VERSION}): upgrade reenact",
            p,
        )
    try:
        config = ModelConfig.from_dict(payload["config"])
        face = payload["face_model"]
        modules = payload["modules"]
        ckpt = Checkpoint(
            config, str(face["fingerprint"]), int(face["num_id"]), int(face["num_exp"]), modules,
            str(payload.get("package_version", "?")), payload.get("training"), p,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"damaged checkpoint: {exc}", p) from None
    if not ckpt.modules:
        raise InputError("holds no weights", p)
    return ckpt


def load_generator(path: str | Path, face_model: FaceModel, device: str = "cpu") -> tuple["LearnedGenerator", Checkpoint]:
    """Build the generator a checkpoint describes, load its weights, move it to
    ``device`` and switch it to eval mode."""
    from .generator import LearnedGenerator

    ckpt = load_checkpoint(path)
    if "generator" not in ckpt.modules:
        raise InputError(f"holds no generator weights (it has: {', '.join(sorted(ckpt.modules))}); pass a generator checkpoint", path)
    ckpt.check_face_model(face_model)
    try:
        generator = LearnedGenerator(ckpt.config, face_model)
    except ValueError as exc:
        raise InputError(f"its config cannot be built: {exc}", path) from None
    ckpt.load_into("generator", generator)
    return generator.to(device).eval(), ckpt
