"""The WGAN-GP critic (paper §3.4.4) that also hands back its intermediate
feature maps for the feature-matching loss (eq. 7)."""
from __future__ import annotations

import torch
from torch import nn

from .config import CriticConfig


class Critic(nn.Module):
    """Patch critic: stride-2 4x4 convolutions with LeakyReLU(0.2) and no
    normalisation (WGAN-GP's gradient penalty is per sample).

    ``(B, 3, S, S)`` in [0, 1] -> ``score (B,)`` and the feature maps of every
    block (list of ``(B, C_i, S / 2^i, S / 2^i)``).
    """

    def __init__(self, config: CriticConfig = CriticConfig()) -> None:
        super().__init__()
        blocks, prev = [], 3
        for ch in config.channels:
            blocks.append(nn.Sequential(nn.Conv2d(prev, ch, 4, stride=2, padding=1), nn.LeakyReLU(0.2, inplace=True)))
            prev = ch
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(prev, 1, 3, padding=1)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = image * 2.0 - 1.0
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return self.head(x).mean(dim=(1, 2, 3)), features
