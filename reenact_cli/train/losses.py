"""The paper's training losses (§3.4, eq. 4-8) as small, model-independent pieces.

Images are float32 ``(N, 3, H, W)`` in [0, 1] (conventions.py). Every loss
returns a scalar tensor averaged over the batch. ``I_d`` is the real driver
frame, ``Î_d`` the generator's output.

* :class:`PerceptualLoss` -- eq. 5, ``L_rec``: L1 between VGG19 activations over
  an image pyramid (256/128/64/32 for 256-pixel inputs).
* :func:`coefficient_loss` -- eq. 6, ``L_c``: L1 between the coefficients a
  frozen regressor reads from ``Î_d`` and the targets (source identity,
  driver expression and pose).
* :func:`feature_matching_loss` -- eq. 7, ``L_FM``: per critic layer, the mean
  absolute difference (sum of |.| divided by the element count).
* :func:`critic_loss`, :func:`gradient_penalty`, :func:`generator_adversarial_loss`
  -- eq. 8, WGAN-GP.
* :class:`LossWeights` -- eq. 4's weights, §4's values by default.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..models.config import LossWeights  # noqa: F401  (eq. 4's weights live with the model config)
from .vgg import VGG19

#: The VGG19 activations compared by the perceptual loss (as in FOMM, the
#: paper's reference [37]).
PERCEPTUAL_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: Pyramid scales relative to the input: 256, 128, 64, 32 for a 256-pixel input (eq. 5).
PYRAMID_SCALES = (1.0, 0.5, 0.25, 0.125)


# ------------------------------------------------------------------ eq. 5

def image_pyramid(x: torch.Tensor, scales: Sequence[float] = PYRAMID_SCALES, min_side: int = 1) -> list[torch.Tensor]:
    """``x`` ``(N, C, H, W)`` resized by each scale (anti-aliased bilinear;
    scale 1 is ``x`` itself). Levels whose shorter side would fall below
    ``min_side`` are left out."""
    h, w = x.shape[-2:]
    out = []
    for s in scales:
        size = (max(1, round(h * s)), max(1, round(w * s)))
        if min(size) < min_side:
            continue
        out.append(x if size == (h, w) else F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True))
    return out


class PerceptualLoss(nn.Module):
    """Eq. 5: ``sum_p sum_i w_i * mean|F_i(Î_d^p) - F_i(I_d^p)|``.

    ``p`` runs over the pyramid levels (:data:`PYRAMID_SCALES`: 256/128/64/32 for a
    256-pixel input), ``i`` over VGG19 activations (:data:`PERCEPTUAL_LAYERS`),
    the inputs ImageNet-normalised inside the VGG. The per-layer norm is the mean
    absolute difference (L1 divided by the element count), so layers and levels
    of different sizes weigh alike. Target features carry no gradient. Pyramid
    levels smaller than 2**pools pixels (16 for ``relu5_1``) cannot go through the
    VGG and are left out (so a 64-pixel input uses 64/32/16).

    Args:
        vgg: a frozen :class:`~reenact_cli.train.vgg.VGG19` (see :func:`~reenact_cli.train.vgg.perceptual_network`).
        layers: activation names.
        scales: pyramid scales relative to the input.
        layer_weights: ``w_i`` per layer (default 1 each).
    """

    def __init__(
        self,
        vgg: VGG19,
        layers: Sequence[str] = PERCEPTUAL_LAYERS,
        scales: Sequence[float] = PYRAMID_SCALES,
        layer_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.vgg = vgg
        self.layers = tuple(layers)
        self.scales = tuple(scales)
        self.layer_weights = tuple(layer_weights) if layer_weights is not None else (1.0,) * len(self.layers)
        if len(self.layer_weights) != len(self.layers):
            raise ValueError("layer_weights needs one weight per layer")
        from .vgg import LAYERS

        pools = sum(1 for name, i in LAYERS.items() if name.startswith("pool") and i < max(LAYERS[n] for n in self.layers))
        self.min_side = 2**pools

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``output``, ``target``: ``(N, 3, H, W)`` in [0, 1]; returns a scalar."""
        if output.shape != target.shape:
            raise ValueError(f"output {tuple(output.shape)} and target {tuple(target.shape)} differ in shape")
        out_levels = image_pyramid(output, self.scales, self.min_side)
        if not out_levels:
            raise ValueError(f"images of {tuple(output.shape[-2:])} are too small for the VGG layers {self.layers} (need {self.min_side} px)")
        with torch.no_grad():
            tgt_levels = image_pyramid(target, self.scales, self.min_side)
        total = output.new_zeros(())
        for o, t in zip(out_levels, tgt_levels):
            with torch.no_grad():
                t_feats = self.vgg(t, self.layers)
            o_feats = self.vgg(o, self.layers)
            for w, fo, ft in zip(self.layer_weights, o_feats, t_feats):
                total = total + w * (fo - ft).abs().mean()
        return total


# ------------------------------------------------------------------ eq. 6

#: Keys of a coefficient dict and the order of a flat coefficient vector (paper: c = (c_i, c_e, p)).
COEFFICIENT_KEYS = ("c_id", "c_exp", "pose")


def coefficient_targets(batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Eq. 6's targets from a :class:`~reenact_cli.train.dataset.PairDataset` batch:
    the *source's* identity, the *driver's* expression and pose."""
    return {"c_id": batch["source_c_id"], "c_exp": batch["driver_c_exp"], "pose": batch["driver_pose"]}


def coefficient_scales(model, size: int) -> dict[str, torch.Tensor]:
    """Divisors that make each coefficient group O(1): identity and expression
    by the face model's prior standard deviations, pose by the crop size
    (``[sR|t]`` is in crop pixels). ``model`` is a :class:`~reenact_cli.face.model.FaceModel`."""
    return {
        "c_id": torch.as_tensor(model.sigma_id, dtype=torch.float32).clamp_min(1e-6),
        "c_exp": torch.as_tensor(model.sigma_exp, dtype=torch.float32).clamp_min(1e-6),
        "pose": torch.tensor(float(size)),
    }


def _split(pred: torch.Tensor | Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    if isinstance(pred, Mapping):
        return pred
    if not isinstance(pred, torch.Tensor) or pred.dim() != 2:
        raise TypeError("the regressor must return a dict of (N, K) tensors or one (N, K_id + K_exp + 12) tensor")
    sizes = [target[k].shape[-1] for k in COEFFICIENT_KEYS]
    if pred.shape[1] != sum(sizes):
        raise ValueError(f"regressor output has {pred.shape[1]} values per image, the targets {sum(sizes)} ({'+'.join(map(str, sizes))})")
    return dict(zip(COEFFICIENT_KEYS, torch.split(pred, sizes, dim=1)))


def coefficient_loss(
    regressor: Callable[[torch.Tensor], torch.Tensor | Mapping[str, torch.Tensor]],
    generated: torch.Tensor,
    target: Mapping[str, torch.Tensor],
    scales: Mapping[str, torch.Tensor | float] | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Eq. 6: L1 between the coefficients of the generated image and the targets.

    Args:
        regressor: ``images (N, 3, S, S) in [0, 1] -> {"c_id": (N, K_id),
            "c_exp": (N, K_exp), "pose": (N, 12)}``, or one ``(N, K_id+K_exp+12)``
            tensor in that order. Freeze it yourself (``requires_grad_(False)``,
            ``eval()``); gradients flow through it to ``generated``.
        generated: ``Î_d`` ``(N, 3, S, S)``.
        target: the same keys, ``(N, K)`` each (:func:`coefficient_targets`).
        scales: optional divisor per key (scalar or ``(K,)``), e.g. :func:`coefficient_scales`.
        reduction: per group, ``"mean"`` over components (each group O(1)
            whatever its length) or ``"sum"`` over components (eq. 6 literally);
            always averaged over the batch, then summed over the three groups.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError("reduction must be 'mean' or 'sum'")
    pred = _split(regressor(generated), target)
    total = generated.new_zeros(())
    for key in COEFFICIENT_KEYS:
        if key not in pred:
            raise KeyError(f"the regressor's output lacks '{key}'")
        diff = (pred[key] - target[key].to(pred[key])).abs()
        if scales is not None and key in scales:
            diff = diff / torch.as_tensor(scales[key]).to(diff)
        per_image = diff.mean(dim=1) if reduction == "mean" else diff.sum(dim=1)
        total = total + per_image.mean()
    return total


# ------------------------------------------------------------------ eq. 7

def feature_matching_loss(real_features: Sequence[torch.Tensor], fake_features: Sequence[torch.Tensor]) -> torch.Tensor:
    """Eq. 7: ``sum_i mean|D_i(I_d) - D_i(Î_d)|`` over the critic's layers.

    Each term is the L1 norm divided by the layer's element count (``N_i``),
    i.e. the mean absolute difference; real features are detached.
    Args: two equally long lists of ``(N, C_i, H_i, W_i)`` (any shape, matching pairwise).
    """
    if len(real_features) != len(fake_features) or not real_features:
        raise ValueError(f"need matching non-empty feature lists, got {len(real_features)} and {len(fake_features)}")
    total = fake_features[0].new_zeros(())
    for r, f in zip(real_features, fake_features):
        if r.shape != f.shape:
            raise ValueError(f"feature shapes differ: {tuple(r.shape)} vs {tuple(f.shape)}")
        total = total + (r.detach() - f).abs().mean()
    return total


# ------------------------------------------------------------------ eq. 8

def critic_scores(output: Any) -> torch.Tensor:
    """``(N,)`` scores from a critic's output: a tensor ``(N, ...)`` (a patch
    critic's map is averaged per image), or a ``(scores, features)`` tuple/list."""
    scores = output[0] if isinstance(output, (tuple, list)) else output
    if not isinstance(scores, torch.Tensor):
        raise TypeError("a critic must return a tensor of scores or a (scores, features) pair")
    return scores.reshape(scores.shape[0], -1).mean(dim=1)


def gradient_penalty(critic: Callable[[torch.Tensor], Any], real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP's ``E[(||grad_x D(x)||_2 - 1)^2]`` at ``x = e*real + (1-e)*fake``,
    ``e ~ U[0, 1]`` per image. Differentiable (create_graph) for the critic's step.

    Args: ``real``, ``fake`` ``(N, ...)`` of one shape (``fake`` is detached here).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real {tuple(real.shape)} and fake {tuple(fake.shape)} differ in shape")
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=real.dtype, generator=generator)
    x = (eps * real.detach() + (1.0 - eps) * fake.detach()).requires_grad_(True)
    scores = critic_scores(critic(x))
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    norm = grad.reshape(grad.shape[0], -1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()


@dataclass(frozen=True)
class CriticLoss:
    """The critic's objective (eq. 8) and its parts, scalar tensors.

    ``total = wasserstein + gp_weight * penalty`` where
    ``wasserstein = E[D(Î_d)] - E[D(I_d)]`` (minimised by the critic)."""

    total: torch.Tensor
    wasserstein: torch.Tensor
    penalty: torch.Tensor


def critic_loss(
    critic: Callable[[torch.Tensor], Any],
    real: torch.Tensor,
    fake: torch.Tensor,
    gp_weight: float = 10.0,
    generator: torch.Generator | None = None,
) -> CriticLoss:
    """Eq. 8 for the critic's step; ``fake`` is detached (no gradient to the generator)."""
    fake = fake.detach()
    w = critic_scores(critic(fake)).mean() - critic_scores(critic(real)).mean()
    gp = gradient_penalty(critic, real, fake, generator)
    return CriticLoss(w + gp_weight * gp, w, gp)


def generator_adversarial_loss(fake_scores: torch.Tensor | Any) -> torch.Tensor:
    """The generator's side of eq. 8: ``-E[D(Î_d)]``. Takes the critic's output on
    the generated images (scores or a ``(scores, features)`` pair)."""
    return -critic_scores(fake_scores).mean()
