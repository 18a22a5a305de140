"""Merge :class:`~segmetrics.DatasetMetrics` accumulators across ``torch.distributed`` ranks.

Each rank of a distributed job (``torchrun``, DDP) evaluates its own share of a validation set
into a local :class:`~segmetrics.DatasetMetrics`; :func:`gather_metrics` collects the small,
picklable states and merges them with :meth:`DatasetMetrics.merge` into exactly the numbers of one
accumulator fed with all images (up to float rounding of the reordered sums, ~1e-16 relative).

Importing this module (or ``segmetrics``) does not import torch; the function does, when called.
"""

from __future__ import annotations

import copy
from typing import Any

from segmetrics.accumulator import DatasetMetrics

__all__ = ["gather_metrics"]


def gather_metrics(acc: DatasetMetrics, group: Any = None, dst: int | None = None) -> DatasetMetrics | None:
    """Gather the accumulators of all ranks and merge them, in rank order.

    A collective call: every rank of ``group`` must call it (with the same ``dst``). The states are
    exchanged with ``torch.distributed.all_gather_object`` (``dst=None``: every rank gets the
    merged result) or ``gather_object`` (only rank ``dst`` gets it, the others get ``None``), then
    merged in the order of the ranks in ``group``, so the numbers never depend on which rank
    finished first. Per-image tables (``per_image=True``) are concatenated in rank order.

    Without an initialised process group, or with a world of one process, nothing is exchanged
    and ``acc`` itself is returned. Otherwise the result is a new accumulator and ``acc`` is left
    as it was.

    Notes:
        * With the NCCL backend, ``torch.distributed`` moves the pickled states through the current
          CUDA device: call ``torch.cuda.set_device(local_rank)`` first, as usual under DDP.
        * ``torch.utils.data.DistributedSampler`` pads the dataset with repeated samples so that
          every rank gets the same count (unless ``drop_last=True``, which drops samples instead);
          both change the dataset numbers. For validation, give each rank the indices
          ``range(rank, n, world_size)`` (e.g. with ``torch.utils.data.Subset``) so every image is
          counted exactly once.
        * The per-image table of the merged result is in rank order (all of rank 0's images, then
          rank 1's, ...), not in dataset order; sort it by ``"name"`` if the order matters.

    Args:
        acc: this rank's accumulator (all ranks must use the same metrics and options).
        group: process group (default: the default group).
        dst: global rank that receives the merged result, or ``None`` for all ranks.

    Returns:
        The merged accumulator (on every rank, or on ``dst`` only; ``None`` on the other ranks), or
        ``acc`` unchanged when there is nothing to gather.

    Raises:
        TypeError: if ``acc`` is not a :class:`~segmetrics.DatasetMetrics`, or ``dst`` not an integer.
        ValueError: if ``dst`` is not a rank of ``group`` (also with one process: only 0 is), or the
            ranks' accumulators use different metrics or options (raised on every rank that merges).

    Examples:
        Outside a distributed job (or with one process) it is a no-op:

        >>> import numpy as np
        >>> from segmetrics import DatasetMetrics
        >>> from segmetrics.distributed import gather_metrics
        >>> acc = DatasetMetrics(metrics=("mae",))
        >>> acc.update(np.zeros((8, 8), np.uint8), np.ones((8, 8), bool))
        >>> gather_metrics(acc) is acc
        True

        In a training loop, after each rank evaluated its shard::

            merged = gather_metrics(acc)          # every rank gets the same numbers
            if rank == 0:
                print(merged.compute()["mae"])
    """
    if not isinstance(acc, DatasetMetrics):
        raise TypeError(f"`acc` must be a segmetrics.DatasetMetrics; got {type(acc).__name__}")
    if dst is not None:
        if isinstance(dst, bool) or not hasattr(dst, "__index__"):
            raise TypeError(f"`dst` must be an int rank or None; got {type(dst).__name__}")
        dst = int(dst.__index__())  # numpy / torch integers too

    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        if dst not in (None, 0):  # a one-process job, as with one initialised process: its only rank is 0
            raise ValueError(f"`dst` must be a global rank of the group [0] (no process group initialised); got {dst}")
        return acc
    world = dist.get_world_size(group)
    ranks = list(range(world)) if group is None else dist.get_process_group_ranks(group)
    if dst is not None and dst not in ranks:
        raise ValueError(f"`dst` must be a global rank of the group {ranks}; got {dst}")
    if world == 1:
        return acc
    if dst is None:
        states: list[Any] = [None] * world
        dist.all_gather_object(states, acc, group=group)
    else:
        is_dst = dist.get_rank() == dst
        states = [None] * world if is_dst else []
        dist.gather_object(acc, states if is_dst else None, dst=dst, group=group)
        if not is_dst:
            return None
    for rank, state in enumerate(states):
        if not isinstance(state, DatasetMetrics):
            raise TypeError(f"rank {rank} of the group sent a {type(state).__name__}, not a DatasetMetrics")
    merged = copy.deepcopy(states[0])
    for state in states[1:]:
        merged.merge(state)
    return merged
