"""The paper's generator (Fig. 2): motion net + reenacting module.

``LearnedGenerator`` is the trainable ``nn.Module``; the pipeline adapter that
plugs it into :class:`reenact_cli.pipeline.Reenactor` is
:class:`reenact_cli.models.adapter.LearnedPipelineGenerator`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..face.model import FaceModel
from .config import ModelConfig
from .hierarchy import face_hierarchy
from .motion_net import MotionNet
from .reenacting import ReenactingModule


@dataclass
class GeneratedFrame:
    """One forward pass.

    Attributes:
        image: ``(B, 3, S, S)`` reenacted crop in [0, 1].
        grid: ``(B, S, S, 2)`` the motion net's flow ``T*``.
        warped_source: ``(B, 3, S, S)`` the source warped by ``T*``.
        occlusion: ``(B, 1, h, h)`` at the occlusion net's side, or None.
        flow_mask: ``(B, 1, S, S)`` or None.
    """

    image: torch.Tensor
    grid: torch.Tensor
    warped_source: torch.Tensor
    occlusion: torch.Tensor | None
    flow_mask: torch.Tensor | None


class LearnedGenerator(nn.Module):
    """Motion net and reenacting module, trained jointly end to end.

    Args:
        config: the model config (``paper()`` or ``tiny()``).
        face_model: defines the mesh hierarchy (its mean shape and topology).
    """

    def __init__(self, config: ModelConfig, face_model: FaceModel) -> None:
        super().__init__()
        self.config = config
        hierarchy = face_hierarchy(face_model, config.motion.downsample_factors)
        self.motion_net = MotionNet(config.motion, hierarchy, config.size)
        self.reenacting = ReenactingModule(config.reenacting, config.size)

    def forward(
        self,
        source: torch.Tensor,
        source_mesh: torch.Tensor,
        driving_mesh: torch.Tensor,
        prior_grid: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
    ) -> GeneratedFrame:
        """Args:
            source: ``(B, 3, S, S)`` ``I_s`` in [0, 1].
            source_mesh, driving_mesh: ``(B, 468, 3)`` ``M_s``, ``M_d`` in crop pixels.
            prior_grid: ``(B, S, S, 2)`` geometric flow (needed with ``flow_prior``).
            features: precomputed ``reenacting.encode(source)`` (video: once per source).
        """
        grid = self.motion_net(source_mesh, driving_mesh, prior_grid)
        out = self.reenacting(source, grid, features)
        return GeneratedFrame(out.image, grid, out.warped_source, out.occlusion, out.flow_mask)


def parameter_counts(module: nn.Module) -> dict[str, int]:
    """Trainable parameters of each direct child and of the whole module."""
    counts = {name: sum(p.numel() for p in child.parameters()) for name, child in module.named_children()}
    counts["total"] = sum(p.numel() for p in module.parameters())
    return counts
