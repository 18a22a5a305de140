"""Checks of the per-level inputs shared by the IS-Net losses (feature consistency, deep supervision)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from segloss._validation import (
    check_number,
    check_tensor,
)


def check_level_weights(
    weights: Sequence[float] | torch.Tensor | None, count: int | None, name: str
) -> list[float] | None:
    """One non-negative weight per level as a list of floats (``None`` stays ``None``); a tensor is read once.

    Numpy scalars and a 1-D numpy array are accepted like Python numbers and a list.

    ``count=None`` (a module's constructor, before the number of levels is known) accepts any length.
    """
    if weights is None:
        return None
    given = weights
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().tolist()
    elif isinstance(weights, np.ndarray):
        weights = weights.tolist()
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
        raise TypeError(f"`{name}` must be a sequence of numbers or None; got {type(given).__name__} {given!r}")
    if count is not None and len(weights) != count:
        raise ValueError(f"`{name}` must have one weight per level ({count}); got {len(weights)}")
    for i, w in enumerate(weights):
        check_number(w, f"{name}[{i}]", low=0.0)
    return [float(w) for w in weights]


def check_level_list(x: Any, name: str) -> list[torch.Tensor]:
    """Check a non-empty list / tuple of non-empty floating ``(N, C, *)`` tensors, one per level."""
    if isinstance(x, torch.Tensor) or not isinstance(x, Sequence) or isinstance(x, (str, bytes)):
        raise TypeError(f"`{name}` must be a list or tuple of tensors (one per level); got {type(x).__name__}")
    if len(x) == 0:
        raise ValueError(f"`{name}` must hold at least one level; got an empty sequence")
    for i, t in enumerate(x):
        check_tensor(t, f"{name}[{i}]")
        if not t.is_floating_point():
            raise TypeError(f"`{name}[{i}]` must be a floating-point tensor; got dtype {t.dtype}")
        if t.ndim < 2:
            raise ValueError(f"`{name}[{i}]` must be (N, C, *) with at least 2 dimensions; got {tuple(t.shape)}")
        if t.numel() == 0:
            raise ValueError(f"`{name}[{i}]` must not be empty; got shape {tuple(t.shape)}")
    return list(x)


def sum_levels(terms: Sequence[torch.Tensor]) -> torch.Tensor:
    """``Σ_d terms[d]`` of the per-level, per-sample ``(N,)`` losses, added in level order."""
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
