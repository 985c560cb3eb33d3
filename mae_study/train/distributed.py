"""Several processes, one training run: the helpers `fit` uses under torchrun.

    torchrun --nproc_per_node=2 my_script.py   # my_script calls init_distributed(), then fit(...)

Every process ("rank") holds a full copy of the model and computes its own slice of every
*global* batch; DistributedDataParallel averages the gradients, so the optimiser step is the one
a single process would take on the whole batch. Rank 0, the main process, writes the run's files.

Without torchrun (no ``RANK``/``WORLD_SIZE`` in the environment) every helper answers as for one
process, so the same script runs unchanged on a laptop. The backend is gloo on the CPU and NCCL
on CUDA GPUs (one GPU per process, chosen by ``LOCAL_RANK``).
"""
from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist
from timm.utils import reduce_tensor


def is_distributed() -> bool:
    """True inside an initialised process group (of any size)."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def get_local_rank() -> int:
    """This process's index on its machine (torchrun's ``LOCAL_RANK``); 0 without torchrun."""
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main_process() -> bool:
    """Rank 0: the process that writes results, checkpoints and progress bars."""
    return get_rank() == 0


def init_distributed(device: str = "cpu", backend: str | None = None, timeout_s: float = 1800.0) -> bool:
    """Join the process group that torchrun describes in the environment.

    Args:
        device: "cpu" (backend gloo) or "cuda" (backend nccl; also selects GPU ``LOCAL_RANK``).
        backend: overrides the backend chosen from ``device``.
    Returns True when running with several processes, False (and does nothing) without torchrun.
    """
    if is_distributed():
        return get_world_size() > 1
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return False
    if backend is None:
        backend = "nccl" if str(device).startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(get_local_rank())
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return get_world_size() > 1


def cleanup_distributed(failed: bool = False) -> None:
    """Leave the process group (at the end of a torchrun script). After a failure, without the
    final barrier: the other ranks may be waiting elsewhere, and would hang until the timeout."""
    if is_distributed():
        if not failed:
            dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed() and get_world_size() > 1:
        dist.barrier()


def rank_slice(global_batch_size: int, rank: int | None = None, world_size: int | None = None) -> slice:
    """The rows of a global batch that ``rank`` computes: equal, contiguous parts.

    This is the study's distributed sampler: every rank draws the same global order of the data
    (from the same data seed), cuts it into the same global batches, and keeps its part of each,
    so the ranks together see exactly the batches one process would.
    """
    rank = get_rank() if rank is None else rank
    world_size = get_world_size() if world_size is None else world_size
    if global_batch_size % world_size:
        raise ValueError(f"batch_size {global_batch_size} must be divisible by the number of processes "
                         f"{world_size}, so every rank computes an equal part of each global batch")
    part = global_batch_size // world_size
    return slice(rank * part, (rank + 1) * part)


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean over ranks of ``values`` (a copy; unchanged with one process)."""
    if not is_distributed() or get_world_size() == 1:
        return values
    return reduce_tensor(values.detach(), get_world_size())
