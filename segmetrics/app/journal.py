r"""The resumable journal of a folder evaluation: ``records.jsonl`` plus its CSV view ``per_image.csv``.

The journal is a header line (the settings' identity, the sources, the shard) followed by one JSON
line per image (its scalars and its curves, base64 float64, and the fingerprints of its files). Every
line is flushed and ``fsync``-ed before the next, so an interrupted run loses at most the images in
flight; a torn last line is dropped when the journal is read back. The CSV is rewritten from the
journal when it is opened and when it is closed (one row per image, sorted by name); a name that is not
UTF-8 is written there with backslash escapes (``caf\xe9``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import json
import os
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from segmetrics.app.pair import PairResult

__all__ = [
    "BASE_COLUMNS",
    "CSV_NAME",
    "JOURNAL_NAME",
    "Journal",
    "OutDirInUseError",
    "csv_text",
    "lock_out_dir",
    "prepare_out_dir",
    "read_journal",
]

JOURNAL_NAME = "records.jsonl"
CSV_NAME = "per_image.csv"
#: The CSV columns before the metric columns.
BASE_COLUMNS = ["name", "status", "error", "height", "width"]


class OutDirInUseError(ValueError):
    """Another evaluation (another process, or another call in this one) is writing to the same ``out_dir``."""


def prepare_out_dir(out_dir: str | os.PathLike, what: str = "out_dir") -> Path:
    """Create the output folder ``out_dir`` (and its parents) and check that it can be written to.

    Raises:
        OSError: naming ``what`` and the folder, if it is a file, cannot be created or is not writable.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise FileExistsError(f"`{what}` {str(out)!r} is a file, not a folder; pass a folder") from None
    except OSError as exc:
        raise OSError(f"`{what}` {str(out)!r} cannot be created: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise PermissionError(f"`{what}` {str(out)!r} is not writable (permission denied); pass another folder")
    return out


@contextlib.contextmanager
def lock_out_dir(out_dir: Path, what: str = "out_dir") -> Iterator[None]:
    """Hold an exclusive lock on the folder ``out_dir`` while its journal, CSV and results are written.

    Two runs into one folder would otherwise both truncate, append to and rewrite the same files. The
    lock is an advisory ``flock`` on the folder itself (no lock file is left behind), released when the
    block exits, also when the process is killed. Where ``flock`` is unavailable (Windows, some network
    file systems) nothing is locked.

    Raises:
        OutDirInUseError: (a ``ValueError``) if another evaluation holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks on folders
        yield
        return
    try:
        fd = os.open(out_dir, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutDirInUseError(
                f"`{what}` {str(out_dir)!r} is being written by an evaluation that is still running; "
                "wait for it to finish, or pass another folder"
            ) from None
        except OSError:
            pass  # a file system without flock: proceed unlocked
        yield
    finally:
        os.close(fd)


def _encode(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode("ascii")


def _decode(s: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s, validate=True), dtype="<f8").copy()


def _record_to_json(r: PairResult) -> str:
    d = {
        "name": r.name,
        "status": r.status,
        "error": r.error,
        "height": r.height,
        "width": r.width,
        "scalars": r.scalars,
        "curves": {k: _encode(v) for k, v in r.curves.items()},
        "inputs": r.inputs,
    }
    return json.dumps(d, allow_nan=True, separators=(",", ":"))


def _record_from_json(d: dict[str, Any]) -> PairResult:
    return PairResult(
        name=d["name"],
        status=d["status"],
        error=d.get("error", ""),
        height=int(d.get("height", 0)),
        width=int(d.get("width", 0)),
        scalars={k: float(v) for k, v in d.get("scalars", {}).items()},
        curves={k: _decode(v) for k, v in d.get("curves", {}).items()},
        inputs=dict(d.get("inputs") or {}),
    )


def read_journal(path: Path) -> tuple[dict[str, Any] | None, dict[str, PairResult], int]:
    """Header, records by name (last wins), and the byte length of the valid prefix.

    The valid prefix ends before the first line that is torn (no newline), not JSON, or not a record;
    resuming truncates the journal there, so those images are computed again.
    """
    header = None
    records: dict[str, PairResult] = {}
    valid = 0
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            break  # torn last line: dropped
        line = data[pos:end]
        try:
            d = json.loads(line)
        except ValueError:
            break
        if header is None:
            if not isinstance(d, dict) or d.get("kind") != "header":
                raise ValueError(f"{path} is not a segmetrics journal (no header line)")
            header = d
        else:
            try:
                r = _record_from_json(d)
            except (KeyError, TypeError, ValueError, AttributeError, binascii.Error):
                break  # a damaged line: like a torn one, it and what follows are computed again
            records[r.name] = r
        pos = end + 1
        valid = pos
    return header, records, valid


class Journal:
    """Append-only JSON-lines journal plus the CSV view, both flushed per record."""

    def __init__(self, out_dir: Path, header: dict[str, Any], columns: list[str], overwrite: bool,
                 keep: Collection[str] | None = None) -> None:
        """Open the journal of ``out_dir``: resume it (``overwrite=False``), or start it with ``header``.

        Args:
            out_dir: the output folder.
            header: this run's header line (identity, sources, shard, pair count); a resumed journal must
                have the same identity, sources and shard.
            columns: the metric columns of the CSV.
            overwrite: discard a journal already there.
            keep: when resuming, the names of the images this run pairs: the rows of other images (whose
                files were removed or renamed since) are dropped from the journal and the CSV.

        A resumed journal whose header names another segmetrics ``version`` than ``header`` keeps none of
        its rows (:attr:`other_version` says which version wrote them).

        Raises:
            ValueError: if the journal there holds another evaluation, other folders or another shard.
        """
        self.path = out_dir / JOURNAL_NAME
        self.csv_path = out_dir / CSV_NAME
        self.columns = columns
        self.records: dict[str, PairResult] = {}
        #: the segmetrics version of a resumed journal written by another one (its rows were dropped), else None
        self.other_version: str | None = None
        if self.path.exists() and not overwrite:
            old, self.records, valid = read_journal(self.path)
            if old is not None and old.get("identity") != header["identity"]:
                raise ValueError(
                    f"`out_dir` {str(out_dir)!r} holds results of a different evaluation "
                    f"({settings_diff(old.get('identity'), header['identity'])}); "
                    "pass overwrite=True (--overwrite) or another folder"
                )
            if old is not None and "sources" in header and old.get("sources", header["sources"]) != header["sources"]:
                raise ValueError(
                    f"`out_dir` {str(out_dir)!r} holds results of other folders ({old.get('sources')}); "
                    "pass overwrite=True (--overwrite) or another folder"
                )
            if old is not None and old.get("shard") != header.get("shard"):
                raise ValueError(
                    f"`out_dir` {str(out_dir)!r} holds shard {shard_text(old.get('shard'))} "
                    f"and this run is shard {shard_text(header.get('shard'))}; "
                    "pass overwrite=True (--overwrite) or another folder"
                )
            if old is None:
                valid = 0
            if old is not None and "version" in header and old.get("version") != header["version"]:
                # its metrics may differ: none of its rows is reused
                self.other_version = str(old.get("version") or "of an unrecorded version")
                self.records = {}
            gone = [] if keep is None else [n for n in self.records if n not in keep]
            for name in gone:
                del self.records[name]
            if old is not None and (gone or old != header):
                # rows of images no longer paired, or a new pair count (files added or removed): rewrite it all,
                # so that a merge neither counts a removed image nor takes the folder for a finished run
                self._rewrite_journal(header)
            else:
                with open(self.path, "r+b") as f:
                    f.truncate(valid)
                self._fh = open(self.path, "a", encoding="utf-8")
                if old is None:
                    self._write_line(json.dumps(header))
        else:
            self._fh = open(self.path, "w", encoding="utf-8")
            self._write_line(json.dumps(header))
        self._rewrite_csv()

    def _rewrite_journal(self, header: dict[str, Any]) -> None:
        """Replace the journal (atomically) by ``header`` and the current records, then append to it."""
        tmp = self.path.with_suffix(".jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(header) + "\n")
            for r in self.records.values():
                f.write(_record_to_json(r) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._fh = open(self.path, "a", encoding="utf-8")

    def _write_line(self, line: str) -> None:
        self._fh.write(line + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def _row(self, r: PairResult) -> list[Any]:
        row: list[Any] = [csv_text(r.name), r.status, csv_text(r.error), r.height, r.width]
        for c in self.columns:
            v = r.scalars.get(c)
            row.append("" if v is None else repr(float(v)))
        return row

    def _rewrite_csv(self, reopen: bool = True) -> None:
        tmp = self.csv_path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(BASE_COLUMNS + self.columns)
            for name in sorted(self.records):
                w.writerow(self._row(self.records[name]))
        os.replace(tmp, self.csv_path)
        if reopen:
            self._csv = open(self.csv_path, "a", newline="", encoding="utf-8")
            self._csv_writer = csv.writer(self._csv)

    def add(self, r: PairResult) -> None:
        """Append one record to the journal (flushed and fsync-ed) and its row to the CSV."""
        self._write_line(_record_to_json(r))
        self.records[r.name] = r
        self._csv_writer.writerow(self._row(r))
        self._csv.flush()

    def close(self) -> None:
        """Close both files; the final CSV has one row per image, sorted by name."""
        self._fh.close()
        self._csv.close()
        # During a run a retried image may have two rows; the final CSV has one row per image, sorted.
        self._rewrite_csv(reopen=False)


def csv_text(text: str) -> str:
    r"""``text`` as a CSV cell that UTF-8 can hold: a file name that is not UTF-8 gets ``\xNN`` escapes.

    Python holds such names (bytes of another locale) with lone surrogates, which UTF-8 cannot encode; the
    bytes they stand for are written as escapes, so that one odd name neither stops a run nor makes the CSV
    unreadable.

    Example:
        >>> csv_text("caf\udce9"), csv_text("café")
        ('caf\\xe9', 'café')
    """
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def settings_diff(old: Any, new: Any, labels: tuple[str, str] = ("there", "now")) -> str:
    """The settings that differ between two evaluation identities: ``"key: <old> there, <new> now"`` each.

    Example:
        >>> settings_diff({"metrics": ["cm"], "cm_alpha": 6.0}, {"metrics": ["cm"], "cm_alpha": 12.0})
        'cm_alpha: 6.0 there, 12.0 now'
    """
    if not isinstance(old, dict) or not isinstance(new, dict):
        return f"{old} {labels[0]}, {new} {labels[1]}"
    unset = "unset"
    return "; ".join(f"{k}: {old.get(k, unset)!r} {labels[0]}, {new.get(k, unset)!r} {labels[1]}"
                     for k in dict.fromkeys([*old, *new]) if old.get(k, unset) != new.get(k, unset))


def shard_text(shard: Any) -> str:
    return "none (a whole run)" if not shard else f"{shard[0]}/{shard[1]}"
