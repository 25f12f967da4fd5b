"""One process or many: PyTorch's own distributed engine (``torchrun`` + DDP).

Run alone (``reenact train ...``) and this is a world of one. Under
``torchrun --nproc_per_node=N -m reenact_cli.cli train ...`` the usual
environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``...) are set and the process group starts with NCCL on GPUs and
gloo on CPUs. Only rank 0 logs and writes files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import ReenactError


@dataclass(frozen=True)
class DistContext:
    """Where this process stands.

    Attributes:
        rank, world_size, local_rank: as torchrun sets them (0, 1, 0 alone).
        device: the torch device this process trains on.
    """

    rank: int
    world_size: int
    local_rank: int
    device: str

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def start(device: str) -> DistContext:
    """Join the process group when launched by torchrun; resolve the device.

    ``device`` is ``auto``, ``cpu`` or ``cuda``; under torchrun with CUDA each
    process takes GPU ``LOCAL_RANK``.
    """
    from ..pipeline import resolve_device

    resolved = resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(0, 1, 0, resolved)
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if resolved == "cuda":
        if local >= torch.cuda.device_count():
            raise ReenactError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s)")
        torch.cuda.set_device(local)
        resolved = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if resolved.startswith("cuda") else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), local, resolved)


def stop(ctx: DistContext) -> None:
    """Leave the process group (no-op alone)."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def mean_over_ranks(ctx: DistContext, values: dict[str, float]) -> dict[str, float]:
    """Average scalar logs over ranks (for honest logging)."""
    if not ctx.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=ctx.device if ctx.device.startswith("cuda") else "cpu")
    dist.all_reduce(t)
    t /= ctx.world_size
    return dict(zip(keys, t.tolist()))
