"""The one numba entry point of ``segmetrics``.

Kernels are decorated with :func:`njit`, which is ``numba.njit(cache=True, nogil=True)``: compiled
lazily on first use (no eager signatures, so importing stays fast), cached on disk, and releasing
the GIL so that thread pools scale. Set the environment variable ``SEGMETRICS_DISABLE_JIT=1`` to
run every kernel as plain Python (for debugging and coverage).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numba

__all__ = ["JIT_DISABLED", "njit", "prange"]

JIT_DISABLED = os.environ.get("SEGMETRICS_DISABLE_JIT", "0") not in ("", "0", "false", "False")

prange = range if JIT_DISABLED else numba.prange


def njit(*args: Any, **kwargs: Any) -> Callable[..., Any]:
    """``numba.njit`` with ``cache=True, nogil=True`` defaults, or the identity when JIT is disabled.

    Usable bare (``@njit``) or with options (``@njit(parallel=True)``).
    """
    if args and callable(args[0]) and len(args) == 1 and not kwargs:
        return njit()(args[0])
    if JIT_DISABLED:
        return lambda f: f
    kwargs.setdefault("cache", True)
    kwargs.setdefault("nogil", True)
    return numba.njit(*args, **kwargs)
