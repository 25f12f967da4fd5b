"""The coefficient regressor (paper §3.1 and §3.4.2): a small CNN from a face
crop to our face model's pose ``p`` (12), ``c_id`` and ``c_exp``.

The paper pre-trains a 3DMM regressor [53] and freezes it for the coefficient
loss; ours is trained on prepared data (``reenact train --stage regressor``)
against the MediaPipe + face-model fits. Targets are standardised with
per-output mean and std stored in the module (buffers saved with it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import DownBlock
from .config import RegressorConfig

POSE_DIM = 12


class CoefficientRegressor(nn.Module):
    """``(B, 3, S, S)`` in [0, 1] -> ``{"pose": (B, 12), "c_id": (B, K_id), "c_exp": (B, K_exp)}``
    in the face model's units (pose maps model space to crop pixels of side ``S``).
    """

    def __init__(self, config: RegressorConfig, num_id: int, num_exp: int) -> None:
        super().__init__()
        self.config = config
        self.num_id, self.num_exp = num_id, num_exp
        blocks, prev = [], 3
        for ch in config.channels:
            blocks.append(DownBlock(prev, ch))
            prev = ch
        self.features = nn.Sequential(*blocks)
        out = POSE_DIM + num_id + num_exp
        self.head = nn.Linear(prev, out)
        self.register_buffer("target_mean", torch.zeros(out))
        self.register_buffer("target_std", torch.ones(out))

    def set_target_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Standardise targets with these ``(12 + K_id + K_exp,)`` statistics."""
        self.target_mean.copy_(mean)
        self.target_std.copy_(std.clamp_min(1e-6))

    def standardised(self, image: torch.Tensor) -> torch.Tensor:
        """Raw network output ``(B, 12 + K_id + K_exp)`` in standard units."""
        side = self.config.input_size
        if image.shape[-1] != side:
            image = F.interpolate(image, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
        x = self.features(image * 2.0 - 1.0).mean(dim=(2, 3))
        return self.head(x)

    def split(self, packed: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, 12 + K_id + K_exp)`` -> the three named parts."""
        return {
            "pose": packed[:, :POSE_DIM],
            "c_id": packed[:, POSE_DIM : POSE_DIM + self.num_id],
            "c_exp": packed[:, POSE_DIM + self.num_id :],
        }

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.split(self.standardised(image) * self.target_std + self.target_mean)
