"""Where a training run executes, and how the host talks to it without stalling the device.

- the device: `auto` picks cuda, mps or cpu; an explicit one (`--device cuda`) must exist, else one
  error line at once (runtime.check_device), never a silent CPU run;
- DDP under torchrun: gloo on CPU, NCCL on CUDA. Every collective's tensor lives on the training
  device: NCCL accepts CUDA tensors only, so a CPU tensor fails on the first step of a multi-GPU run
  (gloo accepts both, which is why a CPU test of a CPU-only tensor proves nothing);
- host -> device copies of the data stream go through pinned memory with non_blocking=True: a
  blocking copy from pageable memory synchronises the stream (torch.cuda.set_sync_debug_mode
  reports it), which would make the host wait for the whole previous step;
- torch.compile of the supervision step (embed + T*(n+1) recursions + heads), opt-in.
"""
from __future__ import annotations

import os

import torch
from torch import nn


def dist_setup(device: str | None) -> tuple[int, int, str]:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK: join the group (gloo on CPU, NCCL on CUDA).
    -> (rank, world, device); an explicit device that is absent raises TRMEdgeError first."""
    from ..runtime import pick_device

    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(device)
    if world == 1:
        return 0, 1, device
    import torch.distributed as dist
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank(), world, device


def any_rank(flag: bool, world: int, device: torch.device | str) -> bool:
    """True on every rank if it is True on any rank (so all ranks stop at the same step).
    One all_reduce of a tensor on the training device (NCCL-safe) and one host sync; none at world 1."""
    if world == 1:
        return flag
    import torch.distributed as dist
    t = torch.tensor([int(flag)], dtype=torch.int32, device=device)
    dist.all_reduce(t)  # SUM
    return bool(t.item())


def to_device(a, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """numpy / CPU tensor -> `device` without blocking the host: on CUDA a pinned staging copy
    (the caching host allocator keeps it alive until the asynchronous copy has run)."""
    t = torch.as_tensor(a, dtype=dtype)
    if device.type == "cuda":
        t = t.pin_memory()
    return t.to(device, non_blocking=True)


def compile_step(fwd: nn.Module, backend: str | None) -> nn.Module:
    """torch.compile the supervision step (None: eager). Shapes are fixed per run (the batch carry),
    so dynamic=False: one graph, compiled on the first step."""
    if not backend:
        return fwd
    return torch.compile(fwd, backend=backend, dynamic=False)
