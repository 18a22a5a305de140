"""Prefix sums that compile on every backend: ``cumsum`` as short blocked scans while ``torch.compile`` traces.

Inductor turns a long scan over few rows (e.g. Lovász's ``cumsum`` over ``N·H·W`` sorted errors per class, or
ABL's compaction over all pixels) into a *split scan* on CUDA, whose code generation failed on torch 2.11 at
(4, 21, 256, 256) (``InductorError: TypeError: list indices must be integers or slices, not NoneType``). Inductor
never splits a scan of at most 32 elements, so while compiling :func:`cumsum` computes the same prefix sums as
scans of blocks of :data:`BLOCK` elements plus the (recursively scanned) block totals:
``log_32(L)`` short scans instead of one long one. Eager mode keeps the single ``torch.cumsum``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["BLOCK", "blocked_cumsum", "cumsum"]

BLOCK = 32
"""Block length; inductor's split heuristic leaves reductions / scans of at most 32 elements unsplit."""


def blocked_cumsum(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``torch.cumsum(x, dim)`` as scans of at most :data:`BLOCK` elements (bool counts as int64, like cumsum).

    Exact for integers; for floats the blocked summation order differs from a sequential scan only by rounding.
    """
    if x.dtype == torch.bool:
        x = x.long()
    y = x.movedim(dim, -1)
    length = y.shape[-1]
    if length <= BLOCK:
        return y.cumsum(-1).movedim(-1, dim)
    pad = (-length) % BLOCK
    if pad:
        y = F.pad(y, (0, pad))
    blocks = y.reshape(*y.shape[:-1], -1, BLOCK).cumsum(-1)  # (..., B, BLOCK)
    totals = blocks[..., -1]  # (..., B)
    before = blocked_cumsum(totals, -1) - totals  # exclusive prefix of the block totals
    out = (blocks + before.unsqueeze(-1)).reshape(*y.shape[:-1], -1)[..., :length]
    return out.movedim(-1, dim)


def cumsum(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``torch.cumsum(x, dim)``; the blocked form while ``torch.compile`` traces (see the module docstring)."""
    if torch.compiler.is_compiling():
        return blocked_cumsum(x, dim)
    return torch.cumsum(x, dim)
