"""The one numba entry point of ``segloss`` (its compiled CPU kernels in :mod:`segloss._cpu_ops`).

Kernels are decorated with :func:`njit`, which is ``numba.njit(cache=True, nogil=True)``: compiled lazily on first
use, cached on disk, releasing the GIL. Set the environment variable ``SEGLOSS_DISABLE_JIT=1`` (read once, at import)
to run segloss's kernels as plain Python (for debugging and coverage). It is segloss's own switch: it does not
affect ``segmetrics``, whose kernels (including the exact distance transform that segloss calls through the public
:func:`segmetrics.squared_distance_transform`) follow ``SEGMETRICS_DISABLE_JIT``.

When numba finds no writable cache folder (next to the sources, ``~/.cache/numba`` or ``NUMBA_CACHE_DIR``), the
kernels are compiled without a cache, in every process, and one warning says so (as in ``segmetrics._jit``).
"""

from __future__ import annotations

import os
import warnings
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

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return numba.njit(*args, **kwargs)(func)
        except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available for file ..."
            if not kwargs["cache"] or "cannot cache" not in str(exc):
                raise
            _warn_no_cache(exc)
            return numba.njit(*args, **{**kwargs, "cache": False})(func)

    return decorate


_warned_no_cache = False


def _warn_no_cache(exc: RuntimeError) -> None:
    global _warned_no_cache
    if not _warned_no_cache:
        _warned_no_cache = True
        warnings.warn(f"segloss: numba found no writable cache folder ({exc}); its kernels are compiled in every "
                      "process. Set NUMBA_CACHE_DIR to a writable folder to keep them.", RuntimeWarning, stacklevel=3)
