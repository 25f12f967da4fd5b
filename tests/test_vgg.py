"""The hand-written VGG19: torchvision's layout, strict loading, no silent downloads."""
from __future__ import annotations

import logging

import pytest
import torch

from reenact_cli.errors import InputError
from reenact_cli.train.vgg import (
    LAYERS, VGG19, RandomVGGWarning, load_vgg19, perceptual_network, random_vgg19,
)  # fmt: skip

#: torchvision.models.vgg19().features: the conv layers sit at these indices.
TORCHVISION_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


def _random(seed: int = 0) -> VGG19:
    with pytest.warns(RandomVGGWarning):
        return random_vgg19(seed)


def test_layout_matches_torchvision():
    model = VGG19()
    assert len(model.features) == 37
    expected = [f"features.{i}.{p}" for i in TORCHVISION_CONV_INDICES for p in ("weight", "bias")]
    assert list(model.state_dict()) == expected  # normalisation buffers are not in the state dict
    assert (LAYERS["relu1_1"], LAYERS["relu2_1"], LAYERS["relu3_1"], LAYERS["relu4_1"], LAYERS["relu5_1"]) == (1, 6, 11, 20, 29)
    assert model.state_dict()["features.28.weight"].shape == (512, 512, 3, 3)


def test_missing_weights_is_one_line_error_naming_the_option(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached torchvision file there
    with pytest.raises(InputError) as err:
        load_vgg19(None)
    msg = str(err.value)
    assert "--vgg-weights" in msg and "\n" not in msg
    with pytest.raises(InputError, match="--vgg-weights"):
        perceptual_network("vgg19", None)
    with pytest.raises(InputError, match="--vgg-weights: no such file"):
        load_vgg19(tmp_path / "nope.pth")


def test_random_init_warns_loudly(caplog):
    with caplog.at_level(logging.WARNING, logger="reenact"):
        with pytest.warns(RandomVGGWarning, match="RANDOMLY INITIALISED"):
            model = perceptual_network("random")
    assert any("RANDOMLY INITIALISED" in r.message for r in caplog.records)
    assert not any(p.requires_grad for p in model.parameters())


def test_state_dict_round_trip_strict(tmp_path):
    model = _random(seed=3)
    path = tmp_path / "vgg19.pth"
    torch.save(model.state_dict(), path)
    loaded = load_vgg19(path)
    for (ka, a), (kb, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert ka == kb and torch.equal(a, b)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    x = torch.rand(1, 3, 32, 32)
    for fa, fb in zip(model(x), loaded(x)):
        assert torch.equal(fa, fb)

    # A torchvision file also holds the classifier head: ignored, features still strict.
    full = dict(model.state_dict()) | {"classifier.0.weight": torch.zeros(8, 4), "classifier.6.bias": torch.zeros(8)}
    torch.save(full, tmp_path / "full.pth")
    assert torch.equal(load_vgg19(tmp_path / "full.pth").state_dict()["features.34.bias"], model.state_dict()["features.34.bias"])


def test_strict_keys_and_shapes(tmp_path):
    state = dict(_random().state_dict())
    missing = {k: v for k, v in state.items() if k != "features.10.weight"}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(InputError, match="missing 1 key.*features.10.weight"):
        load_vgg19(tmp_path / "missing.pth")
    extra = state | {"features.37.weight": torch.zeros(1)}
    torch.save(extra, tmp_path / "extra.pth")
    with pytest.raises(InputError, match="unexpected 1 key"):
        load_vgg19(tmp_path / "extra.pth")
    bad = state | {"features.0.weight": torch.zeros(64, 1, 3, 3)}
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(InputError, match=r"features.0.weight' has shape \(64, 1, 3, 3\)"):
        load_vgg19(tmp_path / "bad.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="--vgg-weights: cannot load"):
        load_vgg19(tmp_path / "junk.pth")


def test_activations_and_gradients_to_the_input():
    model = _random()
    x = torch.rand(2, 3, 48, 48, requires_grad=True)
    feats = model(x, ("relu1_1", "relu3_1", "relu5_1"))
    assert [tuple(f.shape) for f in feats] == [(2, 64, 48, 48), (2, 256, 12, 12), (2, 512, 3, 3)]
    sum(f.mean() for f in feats).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        model(x, ("relu9_9",))
