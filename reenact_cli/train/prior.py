"""The geometric flow as the motion net's prior, added to training pairs.

The motion net predicts a residual on the geometric flow
(``MotionNetConfig.flow_prior``), so each pair needs the same flow the
pipeline computes at inference: :func:`reenact_cli.flow.geometric.geometric_flow`
from ``M_s`` to ``M_d`` at the crop side. It runs in the data-loader workers
(numpy, a few ms per pair).
"""
from __future__ import annotations

import torch

from ..conventions import pixels_to_grid
from ..face.model import FaceModel
from ..flow.geometric import GeometricFlowConfig, geometric_flow


class WithFlowPrior(torch.utils.data.Dataset):
    """Wraps a :class:`~reenact_cli.train.dataset.PairDataset`; items gain
    ``prior_grid``: float32 ``(S, S, 2)`` backward sampling grid (conventions.py).
    """

    def __init__(self, pairs, model: FaceModel, flow_config: GeometricFlowConfig = GeometricFlowConfig()) -> None:
        self.pairs = pairs
        self.flow_config = flow_config
        self.rigid_weights = model.skull_weights
        self.mirror = model.mirror
        self.size = pairs.size

    def __len__(self) -> int:
        return len(self.pairs)

    def set_epoch(self, epoch: int) -> None:
        self.pairs.set_epoch(epoch)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = self.pairs[i]
        flow = geometric_flow(
            item["source_mesh"].numpy(), item["driving_mesh"].numpy(), self.size, self.flow_config, self.rigid_weights, self.mirror
        )
        item["prior_grid"] = torch.from_numpy(pixels_to_grid(flow.source_xy, self.size, self.size))
        return item
