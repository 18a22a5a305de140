"""Content fingerprints of input files, so that a resumed evaluation never reuses a stale row.

A fingerprint is ``[size, mtime_ns, blake2b-128 hex digest of the bytes, ctime_ns, inode]``. The
digest is what decides; the ``stat`` fields only save re-reading a file that was not touched:

* same size, ``mtime_ns``, ``ctime_ns`` and inode as stored: unchanged (no read);
* different size: changed (no read);
* otherwise the file is hashed: the same digest means unchanged (a copy, a ``touch``), another means
  changed.

The change time and the inode are there because the modification time can be put back: a same-size
rewrite (BMP, uncompressed TIFF) by ``cp -p``, ``rsync -t``, ``touch -r`` or a tool that preserves
times keeps size and ``mtime_ns``, but the kernel sets the change time (and a replaced file has a new
inode). Fingerprints of three items (journals of earlier versions) are always checked by their hash.

The worker that evaluates a pair hashes the very bytes it decodes (:func:`fingerprint_bytes`), with
the ``stat`` taken before the read, so a file rewritten while it is read is seen as changed later.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

__all__ = ["digest", "fingerprint_bytes", "same_content"]

_DIGEST_SIZE = 16


def digest(data: bytes | memoryview) -> str:
    """Hex blake2b digest (128 bits) of ``data``."""
    return hashlib.blake2b(data, digest_size=_DIGEST_SIZE).hexdigest()


def fingerprint_bytes(st: os.stat_result, data: bytes | memoryview) -> list[Any]:
    """Fingerprint of a file from its ``stat`` (taken before reading) and the bytes read."""
    return [int(st.st_size), int(st.st_mtime_ns), digest(data), int(st.st_ctime_ns), int(st.st_ino)]


def same_content(stored: Any, path: str | os.PathLike) -> tuple[bool, list[Any] | None]:
    """Whether ``path`` still has the content fingerprinted in ``stored``.

    Args:
        stored: a fingerprint from :func:`fingerprint_bytes` (anything else counts as changed).
        path: the file now.

    Returns:
        ``(unchanged, refreshed)``: ``refreshed`` is the up-to-date fingerprint when the content is
        the same but the modification time moved (store it to skip the hash next time), else ``None``.
    """
    if not (isinstance(stored, list) and len(stored) in (3, 5)):
        return False, None
    try:
        st = os.stat(path)
    except OSError:
        return False, None
    size, dig = stored[0], stored[2]
    if st.st_size != size:
        return False, None
    now = [int(st.st_size), int(st.st_mtime_ns), dig, int(st.st_ctime_ns), int(st.st_ino)]
    if len(stored) == 5 and now == stored:
        return True, None
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False, None
    if digest(data) != dig:
        return False, None
    return True, now
