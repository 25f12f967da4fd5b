"""The learned generator behind the pipeline's :class:`~reenact_cli.pipeline.Generator`
interface, so ``drive``, videos, batches and paste-back work as with the
geometric one.

The pipeline's crop side ``S`` and the model's side ``s`` may differ (a
``tiny`` model works at 64): the crop and meshes are scaled to ``s`` on the way
in and the image is resized back to ``S``. The geometric flow prior is
computed at ``S`` (its masks describe the output crop) and resized for the
model.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..conventions import grid_to_pixels, pixel_centres, pixels_to_grid
from ..face.regress import FaceCrop
from ..flow.geometric import FlowField, GeometricFlowConfig, geometric_flow
from ..pipeline import GeneratorOutput
from ..render.paste import feathered_alpha, paste_crop
from .checkpoint import Checkpoint
from .generator import GeneratedFrame, LearnedGenerator
from .reenacting import resize_grid

#: Output pixels whose learned flow moves more than this (crop pixels) count as moving.
MOVING_PIXELS = 1.0 / 64.0


@dataclass(frozen=True)
class LearnedSource:
    """A source crop ready for the learned generator.

    Attributes:
        crop_image: ``(S, S, 3)`` uint8 pipeline crop.
        image: ``(1, 3, s, s)`` float tensor on the model's device, [0, 1].
        features: the appearance encoder's output for ``image``.
    """

    crop_image: np.ndarray
    image: torch.Tensor
    features: torch.Tensor


def image_to_tensor(image: np.ndarray, side: int, device: torch.device | str) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(1, 3, side, side)`` float32 in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1).unsqueeze(0).float() / 255.0
    if t.shape[-1] != side:
        t = F.interpolate(t, size=(side, side), mode="bilinear", align_corners=False, antialias=True)
    return t


def tensor_to_image(t: torch.Tensor, side: int) -> np.ndarray:
    """``(1, 3, s, s)`` in [0, 1] -> ``(side, side, 3)`` uint8."""
    if t.shape[-1] != side:
        t = F.interpolate(t, size=(side, side), mode="bilinear", align_corners=False)
    return (t[0].clamp(0, 1).permute(1, 2, 0) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()


class LearnedPipelineGenerator:
    """Adapter: :class:`LearnedGenerator` as a pipeline generator.

    Args:
        generator: the network (eval mode, on ``device``).
        device: torch device string.
        flow_config, rigid_weights, mirror: for the geometric flow prior.
        checkpoint: where the weights came from (for reports).
    """

    name = "learned"

    def __init__(
        self,
        generator: LearnedGenerator,
        device: str,
        flow_config: GeometricFlowConfig = GeometricFlowConfig(),
        rigid_weights: np.ndarray | None = None,
        mirror: np.ndarray | None = None,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.net = generator
        self.device = device
        self.flow_config = flow_config
        self.rigid_weights = rigid_weights
        self.mirror = mirror
        self.checkpoint = checkpoint
        self.model_size = generator.config.size

    @torch.no_grad()
    def prepare(self, crop_image: np.ndarray, source_mesh: np.ndarray) -> LearnedSource:
        image = image_to_tensor(crop_image, self.model_size, self.device)
        return LearnedSource(crop_image, image, self.net.reenacting.encode(image))

    def prior(self, source_mesh: np.ndarray, driving_mesh: np.ndarray, size: int) -> FlowField:
        """The geometric flow at the pipeline's side (the motion net's prior)."""
        return geometric_flow(source_mesh, driving_mesh, size, self.flow_config, self.rigid_weights, self.mirror)

    def inputs(
        self, prepared: LearnedSource, source_mesh: np.ndarray, driving_mesh: np.ndarray, prior: FlowField
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The network's inputs at its own side ``s``: the prior grid
        ``(1, s, s, 2)`` and both meshes ``(1, V, 3)`` scaled from the crop."""
        size, s = prepared.crop_image.shape[0], self.model_size
        k = s / size
        grid = torch.from_numpy(pixels_to_grid(prior.source_xy, size, size)).to(self.device).unsqueeze(0)
        if s != size:
            grid = resize_grid(grid, s)
        ms = torch.from_numpy(source_mesh[:, :3] * k).float().to(self.device).unsqueeze(0)
        md = torch.from_numpy(driving_mesh[:, :3] * k).float().to(self.device).unsqueeze(0)
        return grid, ms, md

    @torch.no_grad()
    def run(self, prepared: LearnedSource, source_mesh: np.ndarray, driving_mesh: np.ndarray, prior: FlowField) -> GeneratedFrame:
        """The network's forward pass for one driving mesh."""
        grid, ms, md = self.inputs(prepared, source_mesh, driving_mesh, prior)
        return self.net(prepared.image, ms, md, grid, prepared.features)

    def generate(self, prepared: LearnedSource, source_mesh: np.ndarray, driving_mesh: np.ndarray) -> GeneratorOutput:
        size = prepared.crop_image.shape[0]
        prior = self.prior(source_mesh, driving_mesh, size)
        out = self.run(prepared, source_mesh, driving_mesh, prior)
        crop = tensor_to_image(out.image, size)
        grid = out.grid if out.grid.shape[1] == size else resize_grid(out.grid, size)
        source_xy = grid_to_pixels(grid[0].float().cpu().numpy(), size, size)
        moving = prior.moving | (np.abs(source_xy - pixel_centres(size, size)).max(axis=-1) > MOVING_PIXELS)
        unseen = prior.unseen
        if out.occlusion is not None:
            occ = F.interpolate(out.occlusion, size=(size, size), mode="bilinear", align_corners=False)
            unseen = unseen | (occ[0, 0].cpu().numpy() < 0.5)
        flow = replace(prior, source_xy=source_xy, moving=moving, unseen=unseen)
        return GeneratorOutput(crop, flow, unseen, out)

    def paste(self, frame: np.ndarray, face: FaceCrop, prepared: Any, output: GeneratorOutput) -> np.ndarray:
        size = output.crop.shape[0]
        feather = max(2.0, size / 32.0)
        region = cv2.dilate(output.flow.moving.astype(np.uint8), np.ones((5, 5), np.uint8), iterations=max(1, int(feather // 2)))
        return paste_crop(frame, face.crop, output.crop, feathered_alpha(region > 0, feather))
