"""The one numba entry point of ``segmetrics``.

Kernels are decorated with :func:`njit`, which is ``numba.njit(cache=True, nogil=True)``: compiled
lazily on first use (no eager signatures, so importing stays fast), cached on disk, and releasing
the GIL so that thread pools scale. Set the environment variable ``SEGMETRICS_DISABLE_JIT=1`` to
run every kernel as plain Python (for debugging and coverage).

numba caches next to the installed sources or, when that folder is read-only, in the user's cache folder
(``~/.cache/numba``), or in ``NUMBA_CACHE_DIR``. When none is writable (a read-only install run by a user
without a home, e.g. a container's ``nobody``) the kernels are compiled without a cache, in every process,
and one warning says so.
"""

from __future__ import annotations

import os
import warnings
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
        warnings.warn(f"segmetrics: numba found no writable cache folder ({exc}); its kernels are "
                      "compiled in every process. Set NUMBA_CACHE_DIR to a writable folder to keep them.",
                      RuntimeWarning, stacklevel=3)
