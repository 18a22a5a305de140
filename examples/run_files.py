"""Writing a run's files safely, shared by the example training scripts.

A kill (Ctrl-C, SIGTERM, a node going down) during a write must never leave a half-written checkpoint or JSON
in place of the last good one, so every file is written to ``NAME.tmp`` and then renamed over ``NAME``
(``os.replace`` is atomic on one file system). An output folder that cannot be written is refused before any
training, with one line naming ``--out``.

    >>> import json, tempfile
    >>> from pathlib import Path
    >>> run = Path(tempfile.mkdtemp()) / "run"
    >>> check_writable(run)  # creates it
    >>> atomic_write_text(json.dumps({"seed": 0}), run / "config.json")
    >>> sorted(p.name for p in run.iterdir())
    ['config.json']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["atomic_save", "atomic_write_text", "check_writable"]


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path.tmp`` then ``os.replace``: a kill during the write never corrupts ``path``."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_text(text: str, path: Path) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (temporary file + ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():  # interrupted: leave no stray file
            tmp.unlink()


def check_writable(out: Path) -> None:
    """Create ``out`` and write (then remove) a file in it, or exit with one line naming ``--out``.

    Raises:
        SystemExit: ``out`` cannot be created or written (the message names ``--out`` and the reason).
    """
    probe = out / f".write-test-{os.getpid()}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SystemExit(f"--out: cannot write to {out}: {exc.strerror or exc}") from None
