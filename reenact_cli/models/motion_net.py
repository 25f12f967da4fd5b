"""The motion net (paper §3.2): an asymmetric auto-encoder from the stacked
mesh ``M* = (V_s | V_d)`` to an optical flow.

Encoder: spectral residual blocks on successively coarser meshes, flattened to
the motion feature ``F_m``. Decoder: ``F_m`` -> small spatial map -> up-sampling
residual blocks -> refinement blocks -> a 2-channel flow.

Flow format (conventions.py): a backward sampling grid ``(B, S, S, 2)`` in
[-1, 1] for ``grid_sample(align_corners=False)``. With ``flow_prior`` the
decoder predicts a residual on the geometric flow; its last layer starts at
zero, so an untrained net returns the geometric flow exactly.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks import DownBlock, ResBlock2d, UpBlock
from .config import MotionNetConfig
from .graph import GraphResBlock, MeshResample, scaled_laplacian, to_torch_sparse
from .hierarchy import MeshHierarchy


def normalise_mesh(vertices: torch.Tensor, size: int) -> torch.Tensor:
    """Crop-pixel vertices ``(B, V, 3)`` -> roughly [-1, 1]: x, y as grid
    coordinates, z in the same scale (``2 z / S``)."""
    scale = 2.0 / size
    offset = vertices.new_tensor([1.0, 1.0, 0.0])
    return vertices * scale - offset


def identity_grid(batch: int, size: int, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The grid that samples every pixel at its own centre, ``(B, S, S, 2)``."""
    ticks = (torch.arange(size, device=device, dtype=dtype) + 0.5) * (2.0 / size) - 1.0
    gy, gx = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([gx, gy], dim=-1).unsqueeze(0).expand(batch, size, size, 2)


class MeshEncoder(nn.Module):
    """Spectral residual blocks with mesh down-sampling between them.

    ``(B, V, 6) -> (B, latent_dim)``.
    """

    def __init__(self, config: MotionNetConfig, hierarchy: MeshHierarchy) -> None:
        super().__init__()
        channels = config.encoder_channels
        if len(hierarchy.levels) != len(channels):
            raise ValueError(f"{len(channels)} encoder blocks need {len(channels) - 1} down-sampling factors")
        blocks, downs = [], []
        in_ch = 6
        for level, out_ch in enumerate(channels):
            lap = to_torch_sparse(scaled_laplacian(hierarchy.levels[level].edges, hierarchy.levels[level].num_vertices))
            blocks.append(GraphResBlock(lap, in_ch, out_ch, config.cheb_k))
            if level < len(channels) - 1:
                downs.append(MeshResample(to_torch_sparse(hierarchy.down[level])))
            in_ch = out_ch
        self.blocks = nn.ModuleList(blocks)
        self.downs = nn.ModuleList(downs)
        self.to_latent = nn.Linear(hierarchy.levels[-1].num_vertices * channels[-1], config.latent_dim)

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:
        x = stacked
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.downs):
                x = self.downs[i](x)
        return torch.relu(self.to_latent(x.flatten(1)))


#: Side of the mesh images the CNN encoder (Table 3 ablation) renders.
MESH_IMAGE_SIDE = 64


def render_mesh_image(vertices: np.ndarray, triangles: np.ndarray, size: int, side: int = MESH_IMAGE_SIDE) -> np.ndarray:
    """Rasterise one mesh into a ``(4, side, side)`` float32 image: its
    normalised x, y, z (see :func:`normalise_mesh`) interpolated over the
    front-most triangle at each pixel, and a coverage mask; zeros off the mesh.

    Args:
        vertices: ``(V, 3)`` crop pixels of a crop of side ``size``.
    """
    from ..flow.raster import rasterize

    k = side / size
    raster = rasterize((vertices * k).astype(np.float32), triangles, (side, side))
    norm = vertices * (2.0 / size) - np.array([1.0, 1.0, 0.0])
    out = np.zeros((4, side * side), dtype=np.float32)
    out[:3, raster.flat] = raster.interpolate(norm, triangles).T
    out[3, raster.flat] = 1.0
    return out.reshape(4, side, side)


class MeshImageEncoder(nn.Module):
    """Table 3's "GCNs -> CNNs" ablation: the two meshes rendered as images
    (:func:`render_mesh_image`, 4 channels each) and a strided CNN instead of
    the graph convolutions. ``(B, V, 3), (B, V, 3) -> (B, latent_dim)``.
    """

    def __init__(self, config: MotionNetConfig, size: int) -> None:
        super().__init__()
        from ..face.topology import face_topology

        self.size = size
        self.triangles = face_topology().triangles
        blocks, prev = [], 8
        for ch in config.encoder_channels:
            blocks.append(DownBlock(prev, ch))
            prev = ch
        self.features = nn.Sequential(*blocks)
        side = MESH_IMAGE_SIDE // 2 ** len(config.encoder_channels)
        self.to_latent = nn.Linear(prev * side * side, config.latent_dim)

    def render(self, source_mesh: torch.Tensor, driving_mesh: torch.Tensor) -> torch.Tensor:
        """``(B, 8, 64, 64)``: ``M_s`` then ``M_d`` as mesh images (no gradient)."""
        images = []
        for ms, md in zip(source_mesh.detach().cpu().numpy(), driving_mesh.detach().cpu().numpy()):
            images.append(np.concatenate([render_mesh_image(ms, self.triangles, self.size), render_mesh_image(md, self.triangles, self.size)]))
        return torch.from_numpy(np.stack(images)).to(source_mesh.device, source_mesh.dtype)

    def forward(self, source_mesh: torch.Tensor, driving_mesh: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.to_latent(self.features(self.render(source_mesh, driving_mesh)).flatten(1)))


class FlowDecoder(nn.Module):
    """``(B, latent_dim) -> (B, 2, S, S)`` flow (or flow residual) in grid units."""

    def __init__(self, config: MotionNetConfig, size: int) -> None:
        super().__init__()
        c0 = config.decoder_channels[0]
        self.start = config.decoder_start
        self.size = size
        self.fc = nn.Linear(config.latent_dim, c0 * self.start * self.start)
        ups, in_ch = [], c0
        for out_ch in config.decoder_channels:
            ups.append(UpBlock(in_ch, out_ch))
            in_ch = out_ch
        self.ups = nn.Sequential(*ups)
        self.refine = nn.Sequential(*[ResBlock2d(in_ch) for _ in range(config.refine_blocks)])
        self.head = nn.Conv2d(in_ch, 2, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.fc(latent)).view(latent.shape[0], -1, self.start, self.start)
        flow = self.head(self.refine(self.ups(x)))
        if flow.shape[-1] != self.size:
            flow = F.interpolate(flow, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return flow


class MotionNet(nn.Module):
    """Meshes -> sampling grid.

    Args:
        config: :class:`MotionNetConfig`.
        hierarchy: the mesh hierarchy (``len(config.encoder_channels)`` levels).
        size: working side ``S`` in pixels.
    """

    def __init__(self, config: MotionNetConfig, hierarchy: MeshHierarchy, size: int) -> None:
        super().__init__()
        if config.encoder not in ("gcn", "cnn"):
            raise ValueError(f"motion encoder must be 'gcn' or 'cnn', not '{config.encoder}'")
        self.config = config
        self.size = size
        self.encoder = MeshEncoder(config, hierarchy) if config.encoder == "gcn" else MeshImageEncoder(config, size)
        self.decoder = FlowDecoder(config, size)

    def forward(
        self, source_mesh: torch.Tensor, driving_mesh: torch.Tensor, prior_grid: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Args:
            source_mesh, driving_mesh: ``(B, V, 3)`` crop pixels (``V = 468``).
            prior_grid: ``(B, S, S, 2)`` geometric flow; required with ``flow_prior``.

        Returns:
            ``(B, S, S, 2)`` backward sampling grid.
        """
        if isinstance(self.encoder, MeshImageEncoder):
            latent = self.encoder(source_mesh, driving_mesh)
        else:
            latent = self.encoder(torch.cat([normalise_mesh(source_mesh, self.size), normalise_mesh(driving_mesh, self.size)], dim=-1))
        delta = self.decoder(latent).permute(0, 2, 3, 1)
        if self.config.flow_prior:
            if prior_grid is None:
                raise ValueError("this motion net predicts a residual on the geometric flow: pass prior_grid")
            return prior_grid + delta
        return identity_grid(delta.shape[0], self.size, delta.device, delta.dtype) + delta
