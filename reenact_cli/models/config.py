"""Hyper-parameters of the learned generator, as dataclasses.

``paper()`` follows the paper (256 x 256, K = 3, four spectral residual blocks,
loss weights 10/10/1/1, Adam 2e-4) with widths chosen so that the whole
generator runs within 150 ms per frame on a 2-core CPU (the paper's Fig. 9
widths are not in the text we have). ``tiny()`` is a fast preset for tests.
A config round-trips through JSON (``to_dict`` / ``from_dict``).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError


@dataclass(frozen=True)
class MotionNetConfig:
    """Motion net (§3.2): GCN encoder over the stacked mesh, CNN decoder to a flow.

    Attributes:
        cheb_k: Chebyshev terms K.
        encoder_channels: width of each spectral residual block (one per level).
        downsample_factors: mesh reduction between consecutive blocks
            (``len(encoder_channels) - 1`` entries).
        latent_dim: size of the motion feature ``F_m``.
        decoder_start: side of the first spatial map (pixels).
        decoder_channels: width after each up-sampling block (each doubles the
            side); when the last side is below ``S`` the flow is resized
            bilinearly (the paper's default decodes 8 -> 128, then x2: a flow
            is smooth and the refinement at 128 costs a quarter of one at 256).
        refine_blocks: residual refinement blocks at the decoder's last side.
        flow_prior: predict a residual on the geometric flow (zero-initialised
            last layer: untrained == geometric) instead of the flow itself.
        encoder: ``gcn`` (the paper) or ``cnn`` (Table 3 ablation: a CNN over
            the meshes rendered as a 6-channel position image).
    """

    cheb_k: int = 3
    encoder_channels: tuple[int, ...] = (32, 64, 128, 256)
    downsample_factors: tuple[int, ...] = (4, 4, 4)
    latent_dim: int = 256
    decoder_start: int = 8
    decoder_channels: tuple[int, ...] = (128, 64, 32, 16)
    refine_blocks: int = 1
    flow_prior: bool = True
    encoder: str = "gcn"


@dataclass(frozen=True)
class ReenactingConfig:
    """Reenacting module (§3.3).

    Attributes:
        encoder_channels: first conv width, then width after each stride-2 block.
        bottleneck_blocks: residual blocks on the fused features.
        occlusion: use the occlusion net (Table 3 ablation when False).
        occlusion_channels: hourglass widths, one per level (4 levels in the paper).
        occlusion_scale: the hourglass runs on the warped source resized by this.
    """

    encoder_channels: tuple[int, ...] = (16, 32, 64)
    bottleneck_blocks: int = 2
    occlusion: bool = True
    occlusion_channels: tuple[int, ...] = (32, 64, 128, 256)
    occlusion_scale: float = 0.25


@dataclass(frozen=True)
class CriticConfig:
    """WGAN-GP critic: stride-2 convolutions, LeakyReLU, no normalisation."""

    channels: tuple[int, ...] = (64, 128, 256, 512)


@dataclass(frozen=True)
class RegressorConfig:
    """Coefficient regressor: a small CNN from the face crop to (pose, c_id, c_exp).

    Attributes:
        input_size: the crop is resized to this side first.
        channels: widths of the stride-2 conv blocks.
        lr: Adam learning rate of its own (pre-)training stage (the paper's
            2e-4 is for the GAN; a plain regression converges faster at 1e-3).
    """

    input_size: int = 128
    channels: tuple[int, ...] = (32, 64, 128, 256, 256)
    lr: float = 1e-3


@dataclass(frozen=True)
class LossWeights:
    """Weights of eq. 4 (paper §4: rec 10, FM 10, c 1, adv 1) and WGAN-GP's
    lambda (eq. 8; 10 as in Gulrajani et al.). ``coef = 0`` is the Table 3
    ablation without the coefficient loss."""

    rec: float = 10.0
    fm: float = 10.0
    coef: float = 1.0
    adv: float = 1.0
    gp: float = 10.0

    @staticmethod
    def from_mapping(values: Mapping[str, Any]) -> "LossWeights":
        """From a config mapping; unknown keys are an error (``ValueError``)."""
        known = {f.name for f in fields(LossWeights)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown loss weight(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return LossWeights(**{k: float(v) for k, v in values.items()})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def generator_total(self, rec: Any, coef: Any, fm: Any, adv: Any) -> Any:
        """Eq. 4: ``rec*L_rec + coef*L_c + fm*L_FM + adv*L_adv`` (generator side)."""
        return self.rec * rec + self.coef * coef + self.fm * fm + self.adv * adv


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (Adam 2e-4 as in the paper)."""

    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 4
    losses: LossWeights = field(default_factory=LossWeights)


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines a learned generator and its training."""

    name: str = "paper"
    size: int = 256
    motion: MotionNetConfig = field(default_factory=MotionNetConfig)
    reenacting: ReenactingConfig = field(default_factory=ReenactingConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)
    regressor: RegressorConfig = field(default_factory=RegressorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> "ModelConfig":
        return _build(ModelConfig, data)


def paper() -> ModelConfig:
    """The paper's setting at 256 x 256."""
    return ModelConfig()


def tiny() -> ModelConfig:
    """A small, fast model for tests and smoke runs (64 x 64)."""
    return ModelConfig(
        name="tiny",
        size=64,
        motion=MotionNetConfig(
            encoder_channels=(8, 16, 16, 32),
            latent_dim=32,
            decoder_start=8,
            decoder_channels=(32, 16, 8),
            refine_blocks=1,
        ),
        reenacting=ReenactingConfig(
            encoder_channels=(8, 16, 32),
            bottleneck_blocks=1,
            occlusion_channels=(8, 16, 16, 32),
            occlusion_scale=0.5,
        ),
        critic=CriticConfig(channels=(8, 16, 32)),
        regressor=RegressorConfig(input_size=64, channels=(8, 16, 32, 32)),
        train=TrainConfig(batch_size=2),
    )


PRESETS = {"paper": paper, "tiny": tiny}


def load_config(name_or_path: str | Path) -> ModelConfig:
    """A preset name (``paper``, ``tiny``) or a JSON file written by
    :meth:`ModelConfig.to_dict` (missing keys take the paper's values)."""
    key = str(name_or_path)
    if key in PRESETS:
        return PRESETS[key]()
    path = Path(key)
    if not path.exists():
        raise InputError(f"no such config preset or file (presets: {', '.join(PRESETS)})", path)
    try:
        data = json.loads(path.read_text())
        return ModelConfig.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a valid model config: {exc}", path) from None


def _build(cls: type, data: dict[str, Any]) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be a JSON object")
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise TypeError(f"unknown {cls.__name__} keys: {', '.join(sorted(unknown))}")
    kwargs = {}
    defaults = cls()
    for name, value in data.items():
        current = getattr(defaults, name)
        if is_dataclass(current):
            kwargs[name] = _build(type(current), value)
        elif isinstance(current, tuple):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)
