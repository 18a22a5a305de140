"""The one numba entry point of ``segloss`` (its compiled CPU kernels in :mod:`segloss._cpu_ops`).

Kernels are decorated with :func:`njit`, which is ``numba.njit(cache=True, nogil=True)``: compiled lazily on first
use, cached on disk, releasing the GIL. Set the environment variable ``SEGLOSS_DISABLE_JIT=1`` (read once, at import)
to run segloss's kernels as plain Python (for debugging and coverage). It is segloss's own switch: it does not
affect ``segmetrics``, whose kernels (including the exact distance transform that segloss calls through the public
:func:`segmetrics.squared_distance_transform`) follow ``SEGMETRICS_DISABLE_JIT``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numba

__all__ = ["JIT_DISABLED", "njit"]

JIT_DISABLED = os.environ.get("SEGLOSS_DISABLE_JIT", "0") not in ("", "0", "false", "False")


def njit(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """``numba.njit`` with ``cache=True, nogil=True`` defaults, or the identity when ``SEGLOSS_DISABLE_JIT`` is set.

    Usable bare (``@njit``) or with options (``@njit(fastmath=True)``).
    """
    if args and callable(args[0]) and len(args) == 1 and not kwargs:
        return njit()(args[0])
    if JIT_DISABLED:
        return lambda f: f
    kwargs.setdefault("cache", True)
    kwargs.setdefault("nogil", True)
    return numba.njit(*args, **kwargs)
