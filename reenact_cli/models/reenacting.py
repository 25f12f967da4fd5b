"""The reenacting module (paper §3.3, Fig. 3): appearance encoder, occlusion
net and decoder.

The encoder turns the source crop ``I_s`` into feature maps at 1/4 of the
working side. The occlusion net (a 4-level hourglass) looks at the source
warped by the motion net's flow, ``I'_s``, and returns an occlusion map ``O``
and a flow mask ``M``, both in [0, 1]. The features are warped by the masked
flow ``M T + (1 - M) Id`` (where ``M`` is low the features stay in place),
multiplied by ``O`` and decoded to RGB.

Images are ``(B, 3, S, S)`` in [0, 1]; grids ``(B, S, S, 2)`` (conventions.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import DownBlock, ResBlock2d, UpBlock, conv_bn_relu
from .config import ReenactingConfig
from .motion_net import identity_grid

#: Initial bias of the occlusion and mask logits: an untrained occlusion net
#: trusts the flow almost everywhere (sigmoid(4) = 0.98).
TRUSTING_LOGIT = 4.0


def warp(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Backward-warp ``(B, C, H, W)`` by a grid ``(B, h, w, 2)`` (resized to
    ``H x W`` when sides differ); borders replicate."""
    if grid.shape[1:3] != image.shape[2:]:
        grid = resize_grid(grid, image.shape[2])
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)


def resize_grid(grid: torch.Tensor, side: int) -> torch.Tensor:
    """Resample a ``(B, S, S, 2)`` grid to ``(B, side, side, 2)`` (values are
    resolution-free, only the sampling changes)."""
    return F.interpolate(grid.permute(0, 3, 1, 2), size=(side, side), mode="bilinear", align_corners=False).permute(0, 2, 3, 1)


class AppearanceEncoder(nn.Module):
    """``(B, 3, S, S) -> (B, C, S/4, S/4)``: a 7x7 conv then two stride-2 blocks."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.stem = conv_bn_relu(3, channels[0], kernel=7)
        self.downs = nn.Sequential(*[DownBlock(a, b) for a, b in zip(channels[:-1], channels[1:])])

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.downs(self.stem(image * 2.0 - 1.0))


class Hourglass(nn.Module):
    """Encoder-decoder with skip connections, one level per width.

    ``(B, C_in, H, W) -> (B, channels[0] + C_in, H, W)`` (the last decoder
    output is concatenated with the input, as in FOMM's hourglass).
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.downs = nn.ModuleList()
        prev = in_channels
        for ch in channels:
            self.downs.append(DownBlock(prev, ch))
            prev = ch
        self.ups = nn.ModuleList()
        outs = list(channels[:-1])[::-1] + [channels[0]]
        skips = list(channels[:-1])[::-1] + [in_channels]
        for out_ch, skip in zip(outs, skips):
            self.ups.append(UpBlock(prev, out_ch))
            prev = out_ch + skip
        self.out_channels = prev

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for down in self.downs:
            feats.append(down(feats[-1]))
        y = feats.pop()
        for up in self.ups:
            y = torch.cat([up(y), feats.pop()], dim=1)
        return y


class OcclusionNet(nn.Module):
    """4-level hourglass over the warped source and the flow's displacement ->
    occlusion map ``O`` and flow mask ``M``.

    ``(B, 3, h, w), (B, 2, h, w) -> O (B, 1, h, w), M (B, 1, h, w)`` in [0, 1].
    """

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        self.hourglass = Hourglass(5, channels)
        self.head = nn.Conv2d(self.hourglass.out_channels, 2, 7, padding=3)
        nn.init.zeros_(self.head.weight)
        nn.init.constant_(self.head.bias, TRUSTING_LOGIT)

    def forward(self, warped_source: torch.Tensor, displacement: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.head(self.hourglass(torch.cat([warped_source * 2.0 - 1.0, displacement], dim=1)))
        maps = torch.sigmoid(logits)
        return maps[:, :1], maps[:, 1:]


class ReenactingDecoder(nn.Module):
    """``(B, C, S/4, S/4) -> (B, 3, S, S)`` in [0, 1]: residual blocks, two
    up-sampling blocks and a 3x3 conv (a 7x7 head with only 3 outputs cost
    12 ms of the 150 ms CPU budget)."""

    def __init__(self, channels: tuple[int, ...], bottleneck_blocks: int) -> None:
        super().__init__()
        self.bottleneck = nn.Sequential(*[ResBlock2d(channels[-1]) for _ in range(bottleneck_blocks)])
        rev = channels[::-1]
        self.ups = nn.Sequential(*[UpBlock(a, b) for a, b in zip(rev[:-1], rev[1:])])
        self.head = nn.Conv2d(channels[0], 3, 3, padding=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.ups(self.bottleneck(features))))


@dataclass
class ReenactOutput:
    """What the reenacting module returns.

    Attributes:
        image: ``(B, 3, S, S)`` the reenacted crop, [0, 1].
        warped_source: ``(B, 3, S, S)`` ``I'_s``.
        occlusion: ``(B, 1, h, h)`` ``O`` at the occlusion net's side
            ``h = S * occlusion_scale`` (None without the occlusion net).
        flow_mask: ``(B, 1, S, S)`` ``M`` (None without the occlusion net).
        masked_grid: ``(B, S, S, 2)`` the flow the features were warped with.
    """

    image: torch.Tensor
    warped_source: torch.Tensor
    occlusion: torch.Tensor | None
    flow_mask: torch.Tensor | None
    masked_grid: torch.Tensor


class ReenactingModule(nn.Module):
    """Encoder + occlusion net + decoder.

    Args:
        config: :class:`ReenactingConfig`.
        size: working side ``S``.
    """

    def __init__(self, config: ReenactingConfig, size: int) -> None:
        super().__init__()
        self.config = config
        self.size = size
        self.encoder = AppearanceEncoder(config.encoder_channels)
        self.occlusion_net = OcclusionNet(config.occlusion_channels) if config.occlusion else None
        self.decoder = ReenactingDecoder(config.encoder_channels, config.bottleneck_blocks)

    def encode(self, source: torch.Tensor) -> torch.Tensor:
        """Appearance features of ``I_s`` (computed once per source)."""
        return self.encoder(source)

    def occlusion(self, source: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``I'_s``, ``O`` and ``M`` (the last two None without the occlusion net)."""
        warped = warp(source, grid)
        if self.occlusion_net is None:
            return warped, None, None
        side = max(8, int(round(self.size * self.config.occlusion_scale)))
        small = F.interpolate(warped, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
        ident = identity_grid(grid.shape[0], self.size, grid.device, grid.dtype)
        disp = resize_grid(grid - ident, side).permute(0, 3, 1, 2)
        occ, mask = self.occlusion_net(small, disp)
        return warped, occ, F.interpolate(mask, size=(self.size, self.size), mode="bilinear", align_corners=False)

    def render(
        self, features: torch.Tensor, grid: torch.Tensor, occlusion: torch.Tensor | None, flow_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Warp ``features`` by the masked flow, apply ``O`` and decode;
        returns ``(image, masked grid)``."""
        if flow_mask is not None:
            ident = identity_grid(grid.shape[0], self.size, grid.device, grid.dtype)
            m = flow_mask.permute(0, 2, 3, 1)
            grid = m * grid + (1.0 - m) * ident
        warped = warp(features, grid)
        if occlusion is not None:
            if occlusion.shape[2:] != warped.shape[2:]:
                occlusion = F.interpolate(occlusion, size=warped.shape[2:], mode="bilinear", align_corners=False)
            warped = warped * occlusion
        return self.decoder(warped), grid

    def forward(self, source: torch.Tensor, grid: torch.Tensor, features: torch.Tensor | None = None) -> ReenactOutput:
        feats = self.encode(source) if features is None else features
        warped_source, occ, mask = self.occlusion(source, grid)
        image, masked = self.render(feats, grid, occ, mask)
        return ReenactOutput(image, warped_source, occ, mask, masked)
