"""VGG19 for the perceptual loss, written out by hand (no torchvision).

:class:`VGG19` has torchvision's layer layout: its ``features`` is an
``nn.Sequential`` with the same 37 modules at the same indices as
``torchvision.models.vgg19().features``, so a torchvision-format state dict
(``features.0.weight`` ... ``features.34.bias``; e.g. the ImageNet file
``vgg19-dcbb9e9d.pth``) loads with strict key and shape checks. The classifier
head is not built: its ``classifier.*`` keys in such a file are ignored.

Nothing is downloaded: weights come from ``--vgg-weights PATH`` (or a copy
already in torch's hub cache). ``--perceptual random`` (random initialisation,
for tests only) is allowed but warns loudly: a random VGG makes a meaningless
perceptual loss.
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError

#: torchvision's configuration "E" (VGG19): conv widths, "M" = 2x2 max-pool.
VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")

#: ImageNet statistics the torchvision weights expect (RGB, inputs in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: File name of torchvision's ImageNet VGG19 weights (looked for in torch's hub cache).
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"

#: Which perceptual networks :func:`perceptual_network` can make.
PERCEPTUAL_CHOICES = ("vgg19", "random")

_log = logging.getLogger("reenact")


def _layer_names() -> dict[str, int]:
    """``relu{block}_{k}`` / ``pool{block}`` -> index in ``features``."""
    names: dict[str, int] = {}
    block, k, i = 1, 1, 0
    for v in VGG19_CONFIG:
        if v == "M":
            names[f"pool{block}"] = i
            i += 1
            block, k = block + 1, 1
        else:
            names[f"conv{block}_{k}"] = i
            names[f"relu{block}_{k}"] = i + 1
            i += 2
            k += 1
    return names


#: ``"relu1_1" -> 1``, ``"relu2_1" -> 6``, ... ``"relu5_1" -> 29`` (torchvision indices).
LAYERS = _layer_names()


class RandomVGGWarning(UserWarning):
    """A randomly initialised VGG is in use: the perceptual loss means nothing."""


class VGG19(nn.Module):
    """VGG19's convolutional part, returning intermediate activations.

    Inputs are RGB float ``(N, 3, H, W)`` in [0, 1]; ImageNet normalisation is
    applied inside (the mean/std buffers are not part of the state dict, so
    keys match torchvision exactly). ReLUs are not in-place, so activations can
    be returned and back-propagated through.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for v in VGG19_CONFIG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(c_in, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                c_in = int(v)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor, layers: Sequence[str] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")) -> list[torch.Tensor]:
        """Activations at ``layers`` (names from :data:`LAYERS`), in the order given.

        Only the layers up to the deepest one asked for are run. A 2x2 pool needs
        a side of at least 2, so an input must be at least ``2**pools`` pixels on
        each side (16 for ``relu5_1``).
        """
        try:
            wanted = [LAYERS[name] for name in layers]
        except KeyError as exc:
            raise ValueError(f"unknown VGG19 layer {exc.args[0]!r}; choose from {', '.join(LAYERS)}") from None
        h = (x - self.mean) / self.std
        out: dict[int, torch.Tensor] = {}
        last = max(wanted)
        for i, module in enumerate(self.features):
            h = module(h)
            if i in wanted:
                out[i] = h
            if i == last:
                break
        return [out[i] for i in wanted]


def _extract_state(obj: object, where: Path) -> dict[str, torch.Tensor]:
    """The ``features.*`` tensors of a loaded file, keys as in torchvision."""
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) for k in obj):
        raise InputError("--vgg-weights: not a state dict (expected a mapping of tensor names to tensors)", where)
    state = {k.removeprefix("module."): v for k, v in obj.items()}
    if not any(k.startswith("features.") for k in state) and all(k.split(".", 1)[0].isdigit() for k in state):
        state = {f"features.{k}": v for k, v in state.items()}  # a bare vgg19().features.state_dict()
    return {k: v for k, v in state.items() if not k.startswith("classifier.")}


def load_state(model: VGG19, state: Mapping[str, torch.Tensor], where: str | Path = "--vgg-weights") -> VGG19:
    """Load torchvision-format ``state`` into ``model``, strictly (every key, every shape).

    Raises:
        InputError: naming missing, unexpected or mis-shaped keys.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s) ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s) ({', '.join(unexpected[:3])}{', ...' if len(unexpected) > 3 else ''})")
        raise InputError(f"--vgg-weights: not VGG19 weights in torchvision's layout: {'; '.join(parts)}", where)
    for k, v in expected.items():
        if not isinstance(state[k], torch.Tensor) or tuple(state[k].shape) != tuple(v.shape):
            got = tuple(state[k].shape) if isinstance(state[k], torch.Tensor) else type(state[k]).__name__
            raise InputError(f"--vgg-weights: '{k}' has shape {got}, VGG19 needs {tuple(v.shape)}", where)
    model.load_state_dict(dict(state), strict=True)
    return model


def hub_cache_file() -> Path:
    """Where torchvision would have cached its VGG19 weights (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE


def load_vgg19(weights: str | Path | None) -> VGG19:
    """A frozen VGG19 (eval mode, no gradients to its parameters) with ``weights``.

    Args:
        weights: a ``.pth`` state dict in torchvision's layout; None looks for
            torchvision's own file in torch's hub cache. Never downloads.

    Raises:
        InputError: one line naming ``--vgg-weights`` when there is no file, or it
            is not VGG19 weights.
    """
    if weights is None:
        cached = hub_cache_file()
        if not cached.is_file():
            raise InputError(
                "the perceptual loss needs ImageNet VGG19 weights and nothing is downloaded: "
                f"pass --vgg-weights PATH (torchvision's {TORCHVISION_FILE}, or any state dict with "
                "torchvision's vgg19().features keys)"
            )
        weights = cached
    p = Path(weights)
    if not p.is_file():
        raise InputError("--vgg-weights: no such file" if not p.exists() else "--vgg-weights: not a file", p)
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"--vgg-weights: cannot load it as a PyTorch state dict ({type(exc).__name__})", p) from None
    model = load_state(VGG19(), _extract_state(obj, p), p)
    return freeze(model)


def freeze(model: VGG19) -> VGG19:
    """Eval mode, ``requires_grad=False`` on every parameter (gradients still flow to inputs)."""
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


def random_vgg19(seed: int = 0) -> VGG19:
    """A randomly initialised, frozen VGG19 -- for tests only; warns loudly."""
    message = (
        "perceptual loss uses a RANDOMLY INITIALISED VGG19 (--perceptual random): "
        "fine for tests, meaningless for training; pass --vgg-weights PATH for real training"
    )
    _log.warning(message)
    warnings.warn(message, RandomVGGWarning, stacklevel=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VGG19()
    return freeze(model)


def perceptual_network(kind: str = "vgg19", weights: str | Path | None = None) -> VGG19:
    """The network behind ``--perceptual KIND --vgg-weights PATH``.

    ``vgg19`` loads ``weights`` (:func:`load_vgg19`); ``random`` is a random
    initialisation for tests (:func:`random_vgg19`, warns).
    """
    if kind == "vgg19":
        return load_vgg19(weights)
    if kind == "random":
        if weights is not None:
            raise InputError("--perceptual random takes no --vgg-weights")
        return random_vgg19()
    raise InputError(f"--perceptual must be one of {', '.join(PERCEPTUAL_CHOICES)}, got {kind!r}")
