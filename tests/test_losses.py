"""The paper's losses (eq. 4-8) on real pictures and on critics whose answer is known."""
from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
import torch

from reenact_cli.train.losses import (
    LossWeights, PerceptualLoss, coefficient_loss, coefficient_scales, coefficient_targets, critic_loss,
    critic_scores, feature_matching_loss, generator_adversarial_loss, gradient_penalty, image_pyramid,
)  # fmt: skip
from reenact_cli.train.vgg import RandomVGGWarning, random_vgg19


@pytest.fixture(scope="module")
def vgg():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomVGGWarning)
        return random_vgg19(seed=0)


def _tensor(image: np.ndarray, side: int) -> torch.Tensor:
    small = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(small).permute(2, 0, 1).float().div(255).unsqueeze(0)


@pytest.fixture(scope="module")
def portrait(hopper) -> torch.Tensor:
    """The real portrait, square, 32 px (small: the VGG is slow on 2 cores), ``(1, 3, 32, 32)`` in [0, 1]."""
    h, w = hopper.shape[:2]
    s = min(h, w)
    return _tensor(hopper[:s, (w - s) // 2 : (w - s) // 2 + s], 32)


def test_loss_weights_are_the_papers():
    w = LossWeights()
    assert (w.rec, w.fm, w.coef, w.adv, w.gp) == (10.0, 10.0, 1.0, 1.0, 10.0)
    one = torch.tensor(1.0)
    assert float(w.generator_total(one, one, one, one)) == 22.0
    assert LossWeights.from_mapping({"rec": 1, "adv": 0.5}) == LossWeights(rec=1.0, adv=0.5)
    with pytest.raises(ValueError, match="unknown loss weight"):
        LossWeights.from_mapping({"perceptual": 1})


def test_pyramid_is_the_papers_at_256():
    x = torch.rand(2, 3, 256, 256)
    assert [tuple(p.shape[-2:]) for p in image_pyramid(x)] == [(256, 256), (128, 128), (64, 64), (32, 32)]
    # Anti-aliased: a constant image stays constant at every level.
    flat = torch.full((1, 3, 256, 256), 0.3)
    assert all(torch.allclose(p, torch.tensor(0.3)) for p in image_pyramid(flat))


def test_perceptual_zero_for_identical_and_grows_with_difference(vgg, portrait):
    loss = PerceptualLoss(vgg)
    assert loss.min_side == 16
    assert float(loss(portrait, portrait.clone())) == 0.0
    noisy = (portrait + 0.02 * torch.randn(portrait.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    shifted = torch.roll(portrait, shifts=3, dims=-1)
    small, big = float(loss(noisy, portrait)), float(loss(shifted, portrait))
    assert 0.0 < small < big
    out = shifted.clone().requires_grad_(True)
    loss(out, portrait).backward()
    assert out.grad is not None and out.grad.abs().sum() > 0
    assert not any(p.grad is not None for p in vgg.parameters())  # the VGG stays frozen


def test_perceptual_skips_levels_too_small_for_the_vgg(vgg, portrait):
    # 32 px: levels 32 and 16 only (8 and 4 cannot reach relu5_1) ...
    assert [p.shape[-1] for p in image_pyramid(portrait, min_side=16)] == [32, 16]
    # ... but all four when the deepest layer is relu2_1 (one pool: 2 px suffice).
    shallow = PerceptualLoss(vgg, layers=("relu1_1", "relu2_1"))
    assert shallow.min_side == 2
    full = float(shallow(torch.roll(portrait, 3, dims=-1), portrait))
    top = float(PerceptualLoss(vgg, layers=("relu1_1", "relu2_1"), scales=(1.0,))(torch.roll(portrait, 3, dims=-1), portrait))
    assert full > top > 0  # the coarser levels add their share
    with pytest.raises(ValueError, match="too small"):
        PerceptualLoss(vgg)(portrait[..., :8, :8], portrait[..., :8, :8])


def test_feature_matching_is_mean_abs_difference_per_layer():
    real = [torch.zeros(2, 8, 64, 64), torch.zeros(2, 16, 8, 8), torch.zeros(2, 1)]
    fake = [r + 1.0 for r in real]
    fake[1][:, :, :4] = -1.0  # still |diff| 1 everywhere
    # Each layer counts once whatever its size: 3 layers of mean |diff| 1.
    assert float(feature_matching_loss(real, fake)) == pytest.approx(3.0)
    fake[0] = fake[0].clone()
    fake[0][0] = 0.0  # half of layer 0 now matches
    assert float(feature_matching_loss(real, fake)) == pytest.approx(2.5)
    r = [t.clone().requires_grad_(True) for t in real]
    f = [t.clone().requires_grad_(True) for t in fake]
    feature_matching_loss(r, f).backward()
    assert all(t.grad is None for t in r) and all(t.grad is not None for t in f)
    with pytest.raises(ValueError):
        feature_matching_loss(real[:2], fake)


class LinearCritic(torch.nn.Module):
    """``D(x) = <w, x>`` with ``||w|| = norm``: its gradient norm is ``norm`` everywhere."""

    def __init__(self, shape, norm: float, with_features: bool = False):
        super().__init__()
        w = torch.randn(shape, generator=torch.Generator().manual_seed(0))
        self.w = torch.nn.Parameter(w * norm / w.norm())
        self.with_features = with_features

    def forward(self, x):
        score = (x * self.w).flatten(1).sum(1, keepdim=True)
        return (score, [x * 2]) if self.with_features else score


def test_gradient_penalty_zero_for_a_1_lipschitz_linear_critic(portrait):
    real = portrait.repeat(4, 1, 1, 1)
    fake = torch.rand_like(real)
    assert float(gradient_penalty(LinearCritic(real.shape[1:], 1.0), real, fake).detach()) == pytest.approx(0.0, abs=1e-8)
    assert float(gradient_penalty(LinearCritic(real.shape[1:], 2.0), real, fake).detach()) == pytest.approx(1.0, rel=1e-4)
    assert float(gradient_penalty(LinearCritic(real.shape[1:], 0.5, with_features=True), real, fake).detach()) == pytest.approx(0.25, rel=1e-4)


def test_critic_and_generator_adversarial_terms(portrait):
    real = portrait.repeat(3, 1, 1, 1)
    fake = torch.rand_like(real, requires_grad=True)
    critic = LinearCritic(real.shape[1:], 2.0, with_features=True)
    loss = critic_loss(critic, real, fake, gp_weight=10.0)
    d_fake, d_real = critic_scores(critic(fake)).mean(), critic_scores(critic(real)).mean()
    assert float(loss.wasserstein.detach()) == pytest.approx(float((d_fake - d_real).detach()), rel=1e-5)
    assert float(loss.penalty.detach()) == pytest.approx(1.0, rel=1e-4)
    assert float(loss.total.detach()) == pytest.approx(float(loss.wasserstein.detach()) + 10.0, rel=1e-4)
    loss.total.backward()
    assert critic.w.grad is not None and fake.grad is None  # the critic's step leaves the generator alone
    g = generator_adversarial_loss(critic(fake))
    assert float(g.detach()) == pytest.approx(-float(d_fake.detach()), rel=1e-5)
    g.backward()
    assert fake.grad is not None
    # A patch critic's map is averaged per image.
    assert torch.allclose(critic_scores(torch.ones(2, 1, 4, 4) * torch.tensor([1.0, 3.0]).view(2, 1, 1, 1)), torch.tensor([1.0, 3.0]))


def test_coefficient_loss(portrait):
    from reenact_cli.face.model import load_face_model

    n, k_id, k_exp = 2, 3, 4
    target = {"c_id": torch.rand(n, k_id), "c_exp": torch.rand(n, k_exp), "pose": torch.rand(n, 12)}
    images = portrait.repeat(n, 1, 1, 1)
    assert float(coefficient_loss(lambda x: dict(target), images, target)) == 0.0
    off = {**target, "c_exp": target["c_exp"] + 0.5}
    assert float(coefficient_loss(lambda x: off, images, target)) == pytest.approx(0.5)
    assert float(coefficient_loss(lambda x: off, images, target, reduction="sum")) == pytest.approx(0.5 * k_exp)
    assert float(coefficient_loss(lambda x: off, images, target, scales={"c_exp": 0.25})) == pytest.approx(2.0)
    # A flat (N, K_id + K_exp + 12) output is split as (c_id, c_exp, pose).
    flat = torch.cat([off["c_id"], off["c_exp"], off["pose"]], dim=1)
    assert float(coefficient_loss(lambda x: flat, images, target)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="values per image"):
        coefficient_loss(lambda x: flat[:, :-1], images, target)

    # Gradients reach the generated image through a frozen regressor.
    lin = torch.nn.Linear(3 * 32 * 32, k_id + k_exp + 12).requires_grad_(False)
    gen = images.clone().requires_grad_(True)
    coefficient_loss(lambda x: lin(x.flatten(1)), gen, target).backward()
    assert gen.grad is not None and gen.grad.abs().sum() > 0

    # Targets from a dataset batch: source identity, driver expression and pose.
    batch = {"source_c_id": target["c_id"], "driver_c_exp": target["c_exp"], "driver_pose": target["pose"], "driver_c_id": torch.zeros(n, k_id)}
    assert coefficient_targets(batch)["c_id"] is target["c_id"]
    model = load_face_model()
    scales = coefficient_scales(model, 256)
    assert scales["c_id"].shape == (model.num_id,) and scales["c_exp"].shape == (model.num_exp,) and float(scales["pose"]) == 256.0
