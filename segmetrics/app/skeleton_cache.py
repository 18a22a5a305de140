"""On-disk cache of ground-truth skeletons for HCE, keyed by the content of the binary GT.

HCE needs the skeleton of the GT mask, the most expensive part of the metric (60–85 % of the DIS
script's time; its README advises precomputing them). Evaluating several methods on one dataset, or
re-running an evaluation, would skeletonise every GT again; this cache stores each skeleton once.

* **Key**: SHA-256 of a version tag, the mask's shape and its bit-packed *binary* content
  (``gt > 128`` for uint8), so two files with the same mask share one entry, whatever their format
  or name, and a changed GT never hits a stale entry.
* **Storage**: ``<cache_dir>/<key[:2]>/<key>.npz`` holding the bit-packed skeleton (``np.packbits``)
  and its shape; written to a temporary file and renamed, so concurrent workers and interrupted runs
  never leave a partial entry. A corrupt entry is recomputed and rewritten.
* **Location**: ``cache_dir`` argument, else ``$SEGMETRICS_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/segmetrics/skeletons`` (``~/.cache/segmetrics/skeletons``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["SkeletonCache", "default_cache_dir", "mask_key"]

_VERSION = b"segmetrics-skeleton-v1"


def default_cache_dir() -> Path:
    """The default skeleton cache folder (see the module docstring)."""
    env = os.environ.get("SEGMETRICS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "segmetrics" / "skeletons"


def mask_key(mask: np.ndarray) -> str:
    """Content key of a boolean mask: SHA-256 hex of a version tag, its shape and packed bits."""
    m = np.ascontiguousarray(mask, dtype=bool)
    h = hashlib.sha256(_VERSION)
    h.update(np.asarray(m.shape, dtype=np.int64).tobytes())
    h.update(np.packbits(m).tobytes())
    return h.hexdigest()


class SkeletonCache:
    """Content-keyed on-disk store of GT skeletons (see the module docstring).

    Args:
        cache_dir: folder of the cache (created on first write); ``None`` for the default.
        skeletonize: function ``(bool mask) -> bool skeleton``; default ``segmetrics.skeletonize``.

    Attributes:
        hits: number of skeletons read from the cache by this object.
        misses: number of skeletons computed (and stored) by this object.

    Example:
        >>> import tempfile, numpy as np
        >>> tmp = tempfile.TemporaryDirectory()
        >>> cache = SkeletonCache(tmp.name)
        >>> mask = np.zeros((9, 9), bool); mask[2:7, 1:8] = True
        >>> first, again = cache.get(mask), cache.get(mask)
        >>> (first == again).all(), first.dtype, cache.misses, cache.hits
        (np.True_, dtype('bool'), 1, 1)
        >>> tmp.cleanup()
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike | None = None,
        skeletonize: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._skeletonize = skeletonize
        self.hits = 0
        self.misses = 0

    def _compute(self, mask: np.ndarray) -> np.ndarray:
        fn = self._skeletonize
        if fn is None:
            from segmetrics import skeletonize as fn
        return np.ascontiguousarray(fn(mask), dtype=bool)

    def path_for(self, key: str) -> Path:
        """File of the entry with this key."""
        return self.cache_dir / key[:2] / f"{key}.npz"

    def get(self, mask: np.ndarray) -> np.ndarray:
        """Return the skeleton of a boolean mask, from the cache or computed and stored.

        Args:
            mask: ``(H, W)`` boolean GT mask.

        Returns:
            ``(H, W)`` boolean skeleton.
        """
        mask = np.ascontiguousarray(mask, dtype=bool)
        key = mask_key(mask)
        path = self.path_for(key)
        if path.exists():
            try:
                with np.load(path) as z:
                    shape = tuple(int(s) for s in z["shape"])
                    bits = z["bits"]
                if shape == mask.shape:
                    ske = np.unpackbits(bits, count=int(np.prod(shape))).reshape(shape).astype(bool)
                    self.hits += 1
                    return ske
            except Exception:
                pass
        ske = self._compute(mask)
        self.misses += 1
        self._store(path, ske)
        return ske

    def _store(self, path: Path, ske: np.ndarray) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    np.savez(f, shape=np.asarray(ske.shape, dtype=np.int64), bits=np.packbits(ske))
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        except OSError:
            # A read-only or full cache folder must not fail the evaluation: the skeleton is used anyway.
            pass
