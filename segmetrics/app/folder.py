"""Evaluate folders of predictions against ground truths: parallel, resumable, mergeable.

:func:`evaluate_folder` pairs the files of two folders by stem (see :mod:`segmetrics.app.image_io`),
computes the chosen metrics per image in a process pool and writes, into ``out_dir``:

* ``per_image.csv`` — one row per image (``name, status, error, height, width`` and every scalar
  metric), appended and flushed as results arrive;
* ``records.jsonl`` — the journal: a header with the settings, then one JSON line per image holding
  its scalars and its 256-bin curves (base64 float64). Every line is flushed and ``fsync``-ed before
  the next, so an interrupted run loses at most the images in flight;
* ``results.json`` — the dataset results (schema ``segmetrics.results/1``): every metric and its
  parts, the mean curves for plotting, the errors, missing and extra files. It is written when the
  run ends; a run with images to compute first removes the previous run's, so an interrupted run
  leaves none (``segmetrics table`` then says so) rather than numbers of files that changed.

**Resuming.** Run the same call again: the journal is read back (a torn last line is dropped), the
images already evaluated are skipped and never computed twice, images that failed are retried, and
the CSV is rewritten from the journal so that it always matches it. Each row stores a fingerprint of
the content of each file it read (the prediction, the GT and, with ``image_dir``, the RGB image: size,
modification and change times, inode and a blake2b hash of the bytes read, see
:mod:`segmetrics.app._fingerprint`): a row one of whose files changed since is computed again, and
the result counts the rows reused and recomputed. Rows written by another segmetrics version are all
computed again (a merge refuses to mix versions). A journal written with different settings, or by
another shard, is refused unless ``overwrite=True``. A run holds a lock on ``out_dir`` (``flock``, where
the platform has it) from reading the journal to writing ``results.json``: a second run into the same
folder, or a :func:`merge_results` of a folder still being written, is refused; a shard folder whose
journal holds fewer images than its run paired (a killed run) is refused by :func:`merge_results`
until the run is resumed. Worker processes exit when their parent dies, even by ``SIGKILL``.

**Dataset semantics** (pysodmetrics'): every scalar is the mean over the successfully evaluated
images; the curves are averaged over images, and ``fm.max`` / ``fm.mean`` (and ``em``, ``iou``,
``dice``) are the maximum and the mean of the *mean curve*; ``fm.adp`` is the mean of the per-image
adaptive values. The means are taken over the images **sorted by name**, so the numbers do not
depend on the number of workers, on the order in which results arrived, or on how the dataset was
split: :func:`merge_results` over the output folders of separate shards (or distributed ranks)
gives bit-for-bit the numbers of one run over the whole dataset.

**Parallelism.** ``workers`` processes (``spawn`` start method: safe with numba and threads; called
from the top level of a script without ``if __name__ == "__main__":``, where spawned workers would
re-run the script, threads are used instead), each
single-threaded (OpenCV and numba set to one thread), are fed small chunks of file paths; at most
``2 * workers`` chunks are in flight and results are consumed in order, so memory is bounded by the
images in flight, not by the dataset. ``workers=0`` evaluates in the calling process;
``executor="thread"`` uses a thread pool instead (no start-up cost; the kernels release the GIL).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segmetrics._inputs import check_bool
from segmetrics.app._fingerprint import digest, same_content
from segmetrics.app.journal import JOURNAL_NAME, Journal, lock_out_dir, prepare_out_dir, read_journal, settings_diff
from segmetrics.app.pair import EvalSettings, PairResult, evaluate_pair, metric_columns
from segmetrics.image_metrics import options_doc
from segmetrics.registry import MetricOptions, default_metrics, family, reduce_dataset, validate_metrics

__all__ = [
    "RESULTS_SCHEMA",
    "FolderResult",
    "NoPairsError",
    "default_names",
    "default_workers",
    "evaluate_folder",
    "load_results",
    "merge_results",
]

RESULTS_SCHEMA = "segmetrics.results/1"
_RESULTS = "results.json"
_RESIZE = ("error", "pred-to-gt")


# ----------------------------------------------------------------------------------------- results


@dataclass
class FolderResult:
    """Dataset results of one prediction folder (one method on one dataset).

    Attributes:
        method: method name (default: the prediction folder's name).
        dataset: dataset name (default: the GT folder's name).
        metrics: dataset scalars by canonical key (``"fm.max"``, ``"wfm"``, ``"mae"``, ``"sm"``,
            ``"em.mean"``, ``"hce"``, ...; see :mod:`segmetrics.app.pair`), means over images.
        curves: dataset mean curves by key (``"fm.curve"``, ``"fm.precision"``, ...), ``(256,)`` each,
            ascending thresholds.
        num_images: number of images evaluated successfully.
        errors: ``{name: message}`` of the images that failed.
        missing: GT stems without a prediction.
        extra: prediction stems without a GT.
        settings: the :class:`~segmetrics.app.pair.EvalSettings` identity (what decides the numbers).
        per_image: ``{name: {scalar: value}}`` of the successful images.
        out_dir: where the files were written, if anywhere.
        reused: images whose stored row was reused when resuming (both files unchanged).
        recomputed: images evaluated again when resuming because a file changed (or its row predates
            content fingerprints).
    """

    method: str
    dataset: str
    metrics: dict[str, float]
    curves: dict[str, np.ndarray]
    num_images: int
    errors: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    per_image: dict[str, dict[str, float]] = field(default_factory=dict)
    out_dir: str | None = None
    reused: int = 0
    recomputed: int = 0

    @property
    def ok(self) -> bool:
        """``True`` when no image failed."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (schema ``segmetrics.results/1``; per-image values are in the CSV)."""
        return {
            "schema": RESULTS_SCHEMA,
            "method": self.method,
            "dataset": self.dataset,
            "num_images": self.num_images,
            "metrics": {k: _json_float(v) for k, v in self.metrics.items()},
            "curves": {
                "thresholds": list(range(256)),
                **{k: [_json_float(x) for x in v] for k, v in self.curves.items()},
            },
            "errors": [{"name": k, "error": v} for k, v in sorted(self.errors.items())],
            "missing": list(self.missing),
            "extra": list(self.extra),
            "settings": self.settings,
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` as JSON (atomically)."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=1)
        os.replace(tmp, path)


def _json_float(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def aggregate(records: Iterable[PairResult], settings: dict[str, Any], **meta: Any) -> FolderResult:
    """Dataset results from per-image records (means over the successful images sorted by name).

    The reductions are the metric table's: each scalar is the mean of its per-image values, or the
    max / mean of its family's dataset mean curve (``fm.max``, ``fm.mean``, ...).
    """
    recs = sorted(records, key=lambda r: r.name)
    ok = [r for r in recs if r.status == "ok"]
    errors = {r.name: r.error for r in recs if r.status != "ok"}
    metrics: dict[str, float] = {}
    curves: dict[str, np.ndarray] = {}
    if ok:
        means = {k: float(np.mean(np.array([r.scalars[k] for r in ok], dtype=np.float64))) for k in ok[0].scalars}
        for k in ok[0].curves:
            curves[k] = np.mean(np.stack([r.curves[k] for r in ok]), axis=0)
        ev = EvalSettings.from_identity(settings) if settings else None
        if ev is None:
            metrics = means
        else:
            metrics = {**means, **reduce_dataset(ev.metrics, ev.options, means, curves)}
    per_image = {r.name: dict(r.scalars) for r in ok}
    return FolderResult(
        metrics=metrics,
        curves=curves,
        num_images=len(ok),
        errors=errors,
        settings=settings,
        per_image=per_image,
        **meta,
    )


# ----------------------------------------------------------------------------------------- workers


def _init_worker() -> None:
    import signal

    # Ctrl-C reaches the whole process group: the parent handles it (saves, says how to resume); the
    # workers finish their chunk quietly instead of each printing a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import cv2

        cv2.setNumThreads(1)
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)  # failures become error rows
    except Exception:
        pass
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:
        pass


def _exit_with_parent() -> None:
    """End this worker process when its parent dies, even by SIGKILL (the OOM killer, a job scheduler).

    A pool's workers otherwise wait for work forever once their parent is gone, each holding its memory.
    """
    import multiprocessing as mp
    import threading

    parent = mp.parent_process()
    if parent is None:
        return

    def watch() -> None:
        from multiprocessing.connection import wait

        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="segmetrics-parent-watch", daemon=True).start()


def default_workers() -> int:
    """The number of cores this process may run on: its CPU affinity (a cluster job's cpuset, ``taskset``).

    ``os.cpu_count()`` counts the machine's cores, which a job given a few of them would oversubscribe.

    Example:
        >>> default_workers() >= 1
        True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return os.cpu_count() or 1


def _run_chunk(chunk: list[tuple[str, str, str]], settings: EvalSettings) -> list[PairResult]:
    return [evaluate_pair(name, p, g, settings) for name, p, g in chunk]


def _chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def _unguarded_main_call() -> str | None:
    """The ``__main__`` script's path if this call runs at its top level outside the ``__main__`` guard.

    Returns ``None`` when the call is inside ``if __name__ == "__main__":`` or not at a script's top level.

    Worker processes started with ``spawn`` (or ``forkserver``) import the main script again; its
    unguarded top-level code, this call included, would then run once more in every worker.
    """
    import ast

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return None  # interactive session or embedded interpreter: nothing is re-run
    frame = sys._getframe(1)
    while frame is not None and not (frame.f_globals is main.__dict__ and frame.f_code.co_name == "<module>"):
        frame = frame.f_back
    if frame is None:
        return None  # the script's top level has finished (a callback, a thread)
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return path  # cannot tell: assume the worst
    line = frame.f_lineno
    for node in tree.body:
        if node.lineno <= line <= (node.end_lineno or node.lineno):
            return None if isinstance(node, ast.If) and _is_main_guard(node.test) else path
    return path


def _is_main_guard(test: Any) -> bool:
    import ast

    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    consts = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and consts == ["__main__"]


def _choose_executor(executor: str, workers: int) -> str:
    """Resolve ``executor`` to ``"process"`` or ``"thread"``.

    ``"auto"`` takes processes unless the caller's script would re-run this call in every spawned worker
    (no ``__main__`` guard), where threads are used, with a warning.
    """
    if executor == "thread" or workers <= 0:
        return "thread"
    import multiprocessing as mp

    if getattr(mp.current_process(), "_inheriting", False):
        raise RuntimeError(
            "evaluate_folder was called while a worker process was importing the main script: put the call "
            'under `if __name__ == "__main__":` (or pass executor="thread")'
        )
    script = _unguarded_main_call()
    if script is None:
        return "process"
    if executor == "process":
        raise RuntimeError(
            f'evaluate_folder(executor="process") is called at the top level of {script} without '
            '`if __name__ == "__main__":`; worker processes import that script again and would re-run it. '
            'Put the call under that guard, or pass executor="thread"'
        )
    import warnings

    warnings.warn(
        f'evaluate_folder is called at the top level of {script} without `if __name__ == "__main__":`, '
        "so it uses threads instead of worker processes (which would re-run the script); put the call "
        "under that guard to use processes",
        RuntimeWarning,
        stacklevel=3,
    )
    return "thread"


def _warn_if_mask_in_alpha(pairs: Sequence[tuple[str, Path, Path]], first: int = 3) -> None:
    """Warn once if one of the ``first`` predictions or GTs keeps its map in the alpha channel.

    Alpha is ignored (as by OpenCV, pysodmetrics and the DIS scripts): a cut-out saved as colour channels of one
    value with the mask in alpha reads as a constant map, and every score of it is wrong.
    """
    import warnings

    import cv2

    for role, index in (("prediction", 1), ("ground truth", 2)):
        for pair in pairs[:first]:
            path = pair[index]
            try:
                im = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
            except Exception:  # the evaluation reports unreadable files in its own rows
                continue
            if im is None or im.ndim != 3 or im.shape[2] not in (2, 4):
                continue
            colour, alpha = im[..., :-1], im[..., -1]
            if np.ptp(alpha) > 0 and np.ptp(colour) == 0:
                warnings.warn(
                    f"the {role} {Path(path).name} has colour channels of one value and its map in the alpha channel, "
                    "which is ignored: it is read as a constant map; write the mask as a grey image",
                    UserWarning,
                    stacklevel=3,
                )
                return


def _warn_if_maps_read_empty(pairs: Sequence[tuple[str, Path, Path]], color: str, first: int = 3) -> None:
    """Warn if one of the ``first`` GTs (or predictions) is not blank but reads as (almost) empty.

    Once for a GT with no pixel above the foreground cut, once for a prediction with no value above 1 of 255,
    once for a colour prediction (a colour-mapped visualisation is read as grey levels that are not its map).
    A 0/1 label map (or a 16-bit file of 8-bit levels) is an empty mask under the ``> 128`` rule of
    pysodmetrics and the DIS scripts, which ``segmetrics`` keeps: every score of such a dataset is wrong.
    A 0/1 prediction mask is read, as pysodmetrics reads it, as probabilities of at most 1/255.
    """
    import warnings

    import cv2

    from segmetrics._inputs import GT_UINT8_THRESHOLD, prepare_gt
    from segmetrics.app.image_io import read_map

    for _, pred_path, _ in pairs[:first]:  # a colour-mapped visualisation is not a probability map
        try:
            rgb = cv2.imdecode(np.fromfile(pred_path, dtype=np.uint8), cv2.IMREAD_COLOR)
        except Exception:  # the evaluation reports unreadable files in its own rows
            continue
        if rgb is not None and rgb.ndim == 3 and (np.ptp(rgb.astype(np.int16), axis=2) > 8).mean() > 0.01:
            warnings.warn(
                f"the prediction {Path(pred_path).name} is a colour image (its channels differ): it is read as its "
                f"{'OpenCV grey' if color == 'gray' else 'red channel'}, which is not a probability map if the file "
                "shows one through a colour map (matplotlib's imsave applies viridis; pass cmap='gray', or write "
                "the map with OpenCV / PIL)",
                UserWarning,
                stacklevel=3,
            )
            break
    for _, pred_path, _ in pairs[:first]:  # a 0/1 prediction mask is read as probabilities <= 1/255
        try:
            pred = read_map(pred_path, color=color)
        except Exception:  # the evaluation reports unreadable files in its own rows
            continue
        top = float(pred.max()) / (255.0 if pred.dtype == np.uint8 else 1.0) if pred.size else 0.0
        if 0 < top <= 1 / 255:
            level = "" if pred.dtype == np.uint8 else f" (its maximum is {top:.4g} of 1, a 16-bit or float file)"
            warnings.warn(
                f"the prediction {Path(pred_path).name} has no value above 1 of 255{level}: it is read as a map of "
                "probabilities of at most 1/255, which MAE, S, E and every thresholded metric score as almost empty; "
                "if it is a 0/1 mask, write it as 0/255",
                UserWarning,
                stacklevel=3,
            )
            break
    for _, _, gt_path in pairs[:first]:
        try:
            gt = read_map(gt_path, color=color)
        except Exception:  # the evaluation reports unreadable files in its own rows
            continue
        top = float(gt.max()) if gt.size else 0.0
        try:
            empty = not prepare_gt(gt).any()
        except (ValueError, TypeError):  # e.g. a float file of 0/255: its row reports it
            continue
        if top > 0 and empty:
            level = f"{int(top)} of 255" if gt.dtype == np.uint8 else f"{top:.4g} of 1 (a 16-bit or float file)"
            warnings.warn(
                f"the ground truth {Path(gt_path).name} is not blank (its maximum is {level}) but no pixel is above "
                f"the foreground cut {GT_UINT8_THRESHOLD} of 255 (the rule of pysodmetrics and the DIS scripts), "
                "so it counts as an empty mask; a 0/1 label map must be written as 0/255",
                UserWarning,
                stacklevel=3,
            )
            return


def _iter_results(
    tasks: list[tuple[str, str, str]], settings: EvalSettings, workers: int, chunksize: int, executor: str
):
    """Yield per-image results in task order, with at most ``2 * workers`` chunks in flight."""
    if workers <= 0 or len(tasks) <= 1:
        for name, p, g in tasks:
            yield evaluate_pair(name, p, g, settings)
        return
    chunks = _chunks(tasks, chunksize)
    n = min(workers, len(chunks))
    if executor == "thread":
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=n)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"), initializer=_init_worker)
    ex = pool
    try:
        pending: deque = deque()
        n_returned = 0
        it = iter(chunks)
        for chunk in it:
            pending.append(ex.submit(_run_chunk, chunk, settings))
            if len(pending) >= 2 * workers:
                break
        while pending:
            fut = pending.popleft()
            try:
                results = fut.result()
            except Exception as exc:
                if type(exc).__name__ == "BrokenProcessPool":
                    if n_returned == 0:
                        raise RuntimeError(
                            "the worker processes failed at start-up, before returning any result (see the "
                            'error printed above); executor="thread" (--executor thread) or workers=0 '
                            "(--workers 0) evaluates without worker processes"
                        ) from exc
                    raise RuntimeError(
                        "a worker process died (killed by the operating system, e.g. when out of memory, or "
                        "crashed); the results so far are saved in `out_dir`: run the same evaluation again "
                        "to resume, perhaps with fewer workers"
                    ) from exc
                raise
            n_returned += 1
            nxt = next(it, None)
            if nxt is not None:
                pending.append(ex.submit(_run_chunk, nxt, settings))
            yield from results
    finally:
        # On an interruption, do not wait for (and then lose) the chunks still queued.
        ex.shutdown(wait=True, cancel_futures=True)


# ----------------------------------------------------------------------------------------- public

_GENERIC = {"gt", "gts", "mask", "masks", "label", "labels", "groundtruth", "ground_truth", "ground-truth",
            "pred", "preds", "prediction", "predictions", "sal", "saliency", "maps"}


def dataset_name(gt_dir: str | os.PathLike) -> str:
    """A GT folder's dataset name: its own, or its parent's when the name is generic (``gt``, ``masks`` ...).

    ``segmetrics eval`` labels its results and ``segmetrics stats`` its rows with it.

    Example:
        >>> dataset_name("DIS5K/DIS-VD/gt"), dataset_name("data/DUTS-TE")
        ('DIS-VD', 'DUTS-TE')
    """
    g = Path(gt_dir).resolve()
    return g.parent.name if g.name.lower() in _GENERIC and g.parent.name else g.name


def default_names(pred_dir: str | os.PathLike, gt_dir: str | os.PathLike) -> tuple[str, str]:
    """Default ``(method, dataset)`` names from the folder layout.

    The dataset is the GT folder's name, or its parent's when the name is generic (``DIS5K/DIS-VD/gt``
    gives ``DIS-VD``). The method is the prediction folder's name, or its parent's when that name is
    generic or equals the dataset (``preds/isnet/DIS-VD`` gives ``isnet``).

    Example:
        >>> default_names("preds/isnet/DIS-VD", "DIS5K/DIS-VD/gt")
        ('isnet', 'DIS-VD')
    """
    dataset, p = dataset_name(gt_dir), Path(pred_dir).resolve()
    method = p.name
    if (method.lower() in _GENERIC or method.lower() == dataset.lower()) and p.parent.name:
        method = p.parent.name
    return method, dataset



class NoPairsError(ValueError):
    """No prediction could be paired with a ground truth (an empty folder, or names that do not match)."""


def _no_pairs_message(pairing: Any, pred_dir: Any, gt_dir: Any, prefix: str, suffix: str) -> str:
    from segmetrics.app.image_io import IMAGE_EXTENSIONS, describe_affixes, suggest_affixes

    exts = " ".join(IMAGE_EXTENSIONS)
    if not pairing.missing:
        return f"`gt_dir` {str(gt_dir)!r} holds no images ({exts}); nothing to evaluate"
    if not pairing.extra:
        return f"`pred_dir` {str(pred_dir)!r} holds no images ({exts}); nothing to evaluate"
    msg = (
        f"no prediction of `pred_dir` {str(pred_dir)!r} matches a GT of `gt_dir` {str(gt_dir)!r}: "
        f"GT stems look like {pairing.missing[0]!r}, prediction stems like {pairing.extra[0]!r}"
    )
    hint = suggest_affixes(pairing.missing, pairing.extra)
    if hint is not None and hint != (prefix, suffix):
        return f"{msg}; to pair {hint[0]}<GT stem>{hint[1]} with <GT stem>, pass {describe_affixes(*hint)}"
    return f"{msg}; a prediction must be named prefix + GT stem + suffix (--prefix, --suffix)"


def _check_settings(metrics: Any, resize: str, workers: int, chunksize: int) -> tuple[str, ...]:
    metrics = validate_metrics(metrics, canonical=False)
    if resize not in _RESIZE:
        raise ValueError(f"`resize` must be one of {_RESIZE}; got {resize!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"`workers` must be an integer >= 0 (0 = in this process); got {workers!r}")
    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise ValueError(f"`chunksize` must be an integer >= 1; got {chunksize!r}")
    return metrics


def evaluate_folder(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    *,
    metrics: Sequence[str] | None = None,
    out_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    chunksize: int = 1,
    executor: str = "auto",
    resize: str = "error",
    color: str = "gray",
    prefix: str = "",
    suffix: str = "",
    skeleton_cache: str | os.PathLike | bool | None = True,
    image_dir: str | os.PathLike | None = None,
    method: str | None = None,
    dataset: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
    **options: Any,
) -> FolderResult:
    """Evaluate every prediction of ``pred_dir`` against the GT of the same stem in ``gt_dir``.

    Computes the per-image metrics in parallel, writes the per-image CSV, the resumable journal and
    the dataset JSON into ``out_dir`` (see the module docstring), and returns the dataset results.
    Inputs are only read. A failing image (unreadable, corrupt, size mismatch) becomes an error
    entry; the others are evaluated.

    Args:
        pred_dir: folder of predictions (png / jpg / bmp / tif, 8- or 16-bit, grey or colour).
        gt_dir: folder of ground-truth masks.
        metrics: family keys of the metric table (:mod:`segmetrics.metric_table`), e.g. ``("fm",
            "wfm", "mae", "sm", "em", "hce", "iou", "dice", "bf")``, in the order of the CSV columns;
            default the six of the DIS paper's Table 2.
        out_dir: output folder (created); ``None`` writes nothing and cannot resume.
        workers: worker processes; ``None`` = the cores this process may use (:func:`default_workers`),
            ``0`` = this process.
        chunksize: images per task sent to a worker (default 1; larger for many small images).
        executor: ``"process"`` (a ``spawn`` process pool, each worker pays ~1-2 s of start-up to
            import and load the cached kernels), ``"thread"`` (a thread pool: no start-up, shares
            memory; the numba kernels and OpenCV decoding release the GIL, the numpy glue does not) or
            ``"auto"`` (default): processes, unless the call sits at the top level of a script without
            ``if __name__ == "__main__":`` (spawned workers import the script again and would re-run
            it), where threads are used with a ``RuntimeWarning``. For a handful of images
            ``workers=0`` is fastest.
        resize: ``"error"`` (default: a size mismatch is an error for that image) or ``"pred-to-gt"``
            (predictions are resized to the GT size, bilinear).
        color: ``"gray"`` or ``"first"``, how colour files become one channel (see ``image_io``).
        prefix: prediction file stems are ``prefix + gt_stem + suffix``.
        suffix: see ``prefix``.
        skeleton_cache: GT skeleton cache folder for HCE; ``True`` (default) = the default folder
            (:func:`segmetrics.app.skeleton_cache.default_cache_dir`), ``False``/``None`` = no cache.
        image_dir: folder of the RGB images, one per GT with the GT's stem (any image extension);
            needed by the families that read the image (``"ccm"``), and read only for them.
        method: method name in the results (default: see :func:`default_names`).
        dataset: dataset name (default: see :func:`default_names`).
        overwrite: discard previous results in ``out_dir`` instead of resuming.
        progress: show a tqdm progress bar (rate and ETA).
        shard: ``(index, count)`` to evaluate only the images whose position in the sorted pairing is
            ``index`` modulo ``count`` (e.g. ``(rank, world_size)`` of a distributed job); the shard
            folders are then combined by :func:`merge_results` into exactly the numbers of one run.
        **options: metric options of the metric table (validated before any image is read):

    <<options>>

    Returns:
        The :class:`FolderResult` (dataset metrics, mean curves, errors, missing and extra files).

    Raises:
        FileNotFoundError: if a folder does not exist.
        NoPairsError: (a ``ValueError``) if no prediction pairs with a GT: an empty folder, or names that
            do not match (the message suggests the ``prefix`` / ``suffix`` that would pair them).
        ValueError: for invalid arguments, or an ``out_dir`` holding a different evaluation or shard.
        TypeError: for a wrongly typed argument (e.g. ``overwrite="False"``, which is not a bool).
        RuntimeError: for ``executor="process"`` called at the top level of a script without the
            ``__main__`` guard, or when worker processes fail.

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:24, 8:24] = 255
        >>> for d in ("gt", "pred"): (root / d).mkdir()
        >>> ok = cv2.imwrite(str(root / "gt" / "a.png"), gt), cv2.imwrite(str(root / "pred" / "a.png"), gt)
        >>> res = evaluate_folder(root / "pred", root / "gt", out_dir=root / "out", workers=0, progress=False,
        ...                       skeleton_cache=False)
        >>> res.num_images, res.metrics["fm.max"], res.metrics["mae"], res.metrics["hce"]
        (1, 1.0, 0.0, 0.0)
        >>> sorted(p.name for p in (root / "out").iterdir())
        ['per_image.csv', 'records.jsonl', 'results.json']
        >>> tmp.cleanup()
    """
    from segmetrics import __version__
    from segmetrics.app.image_io import ImageReadError, find_rgb, pair_files

    if workers is None:
        workers = default_workers()
    overwrite, progress = check_bool(overwrite, "overwrite"), check_bool(progress, "progress")  # "False" is true
    for name, value, kinds in (("image_dir", image_dir, (str, os.PathLike)),
                               ("skeleton_cache", skeleton_cache, (str, os.PathLike, bool))):
        if value is not None and not isinstance(value, kinds):
            raise TypeError(f"`{name}` must be a folder path{' or a bool' if bool in kinds else ''} or None; "
                            f"got {type(value).__name__} {value!r}")
    metrics = _check_settings(default_metrics() if metrics is None else metrics, resize, workers, chunksize)
    opts = MetricOptions.make(metrics, **options)
    if executor not in ("auto", "process", "thread"):
        raise ValueError(f"`executor` must be one of ('auto', 'process', 'thread'); got {executor!r}")
    from segmetrics.app.image_io import _COLOR_MODES

    if color not in _COLOR_MODES:
        raise ValueError(f"`color` must be one of {_COLOR_MODES}; got {color!r}")
    cache: str | None
    if skeleton_cache is True:
        from segmetrics.app.skeleton_cache import default_cache_dir

        cache = str(default_cache_dir())
    elif skeleton_cache is False or skeleton_cache is None:
        cache = None
    else:
        cache = str(skeleton_cache)
        if Path(cache).exists() and not Path(cache).is_dir():
            raise ValueError(f"`skeleton_cache` must be a folder (it is created if missing); {cache!r} is a file")
    needs_image = [k for k in metrics if "image" in family(k).needs_for(opts)]
    if needs_image and image_dir is None:
        raise ValueError(f"metric(s) {needs_image} need the RGB images: pass `image_dir`")
    if image_dir is not None and not Path(image_dir).is_dir():
        raise FileNotFoundError(f"`image_dir` must be an existing folder; got {str(image_dir)!r}")
    settings = EvalSettings(metrics=metrics, options=opts, resize=resize, color=color, skeleton_cache=cache,
                            image_dir=str(image_dir) if image_dir is not None and needs_image else None)
    if shard is not None:
        ok_shard = (
            isinstance(shard, (tuple, list))
            and len(shard) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in shard)
            and shard[1] >= 1
            and 0 <= shard[0] < shard[1]
        )
        if not ok_shard:
            raise ValueError(f"`shard` must be (index, count) with 0 <= index < count; got {shard!r}")
        shard = (int(shard[0]), int(shard[1]))
    pairing = pair_files(pred_dir, gt_dir, prefix=prefix, suffix=suffix)
    if not pairing.pairs:
        raise NoPairsError(_no_pairs_message(pairing, pred_dir, gt_dir, prefix, suffix))
    n_pairs = len(pairing.pairs)
    pairs_digest = digest("\n".join(n for n, _, _ in pairing.pairs).encode("utf-8", "surrogateescape"))
    if shard is not None:
        pairing.pairs = pairing.pairs[shard[0] :: shard[1]]
    _warn_if_maps_read_empty(pairing.pairs, color)
    _warn_if_mask_in_alpha(pairing.pairs)
    executor = _choose_executor(executor, workers if len(pairing.pairs) > 1 else 0)
    dataset = dataset or default_names(pred_dir, gt_dir)[1]
    method = method or default_names(pred_dir, gt_dir)[0]
    identity = settings.identity()
    columns = metric_columns(settings)

    outlock = contextlib.ExitStack()  # held from reading the journal to writing results.json
    with outlock:
        journal = None
        done: dict[str, PairResult] = {}
        if out_dir is not None:
            out = prepare_out_dir(out_dir)
            outlock.enter_context(lock_out_dir(out))
            header = {
                "kind": "header",
                "schema": "segmetrics.journal/1",
                "identity": identity,
                "sources": {"pred_dir": str(Path(pred_dir).resolve()), "gt_dir": str(Path(gt_dir).resolve()),
                            "prefix": prefix, "suffix": suffix},
                "shard": list(shard) if shard else None,
                "pairs_total": n_pairs,
                "pairs_digest": pairs_digest,  # the shards of one split must have split the same list
                "version": __version__,  # rows of another version are computed again, not reused
            }
            journal = Journal(out, header, columns, overwrite, keep={n for n, _, _ in pairing.pairs})
            done = {k: r for k, r in journal.records.items() if r.status == "ok"}
            if journal.other_version is not None and progress:
                print(f"{out_dir}: its rows were computed by segmetrics {journal.other_version}; this is "
                      f"{__version__}: computing them again", file=sys.stderr)
        # Resume: a stored row is reused only if both of its files still have the content it was computed
        # from (size, mtime, ctime and inode, else a hash of the bytes); other rows are computed again.
        tasks = []
        records: dict[str, PairResult] = {}
        reused = recomputed = 0
        for n, p, g in pairing.pairs:
            r = done.get(n)
            if r is not None:
                files: dict[str, Path | None] = {"pred": p, "gt": g}
                if settings.image_dir is not None:  # the RGB image read for the families that need it (ccm)
                    try:
                        files["image"] = find_rgb(settings.image_dir, Path(g).stem)
                    except ImageReadError:  # now ambiguous: recomputed, and its row says why
                        files["image"] = None
                fresh: dict[str, Any] = {}
                for role, path in files.items():
                    same, new = same_content(r.inputs.get(role), path) if path is not None else (False, None)
                    if not same:
                        break
                    if new:
                        fresh[role] = new
                else:
                    records[n] = r
                    reused += 1
                    if fresh and journal is not None:  # same bytes, new stat: skip the hash next time
                        r.inputs = {**r.inputs, **fresh}
                        journal.add(r)
                    continue
                recomputed += 1
            tasks.append((n, str(p), str(g)))
        if tasks and out_dir is not None:
            # the previous run's summary no longer describes the folder: an interrupted run must not leave it
            (Path(out_dir) / _RESULTS).unlink(missing_ok=True)
        if progress and (reused or recomputed):
            print(f"resuming {out_dir}: {reused} row(s) reused, {recomputed} recomputed because a file changed, "
                  f"{len(tasks) - recomputed} new", file=sys.stderr)

        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=len(pairing.pairs),
                initial=len(pairing.pairs) - len(tasks),
                desc=f"{dataset}/{method}",
                unit="img",
                dynamic_ncols=True,
                file=sys.stderr,
            )
        t0 = time.perf_counter()
        try:
            for r in _iter_results(tasks, settings, workers, chunksize, executor):
                records[r.name] = r
                if journal is not None:
                    journal.add(r)
                if bar is not None:
                    bar.update(1)
                    if r.status != "ok":
                        bar.write(f"error: {r.name}: {r.error}")
        finally:
            if bar is not None:
                bar.close()
            if journal is not None:
                journal.close()
        result = aggregate(records.values(), identity, method=method, dataset=dataset)
        result.missing = list(pairing.missing)
        result.extra = list(pairing.extra)
        result.settings = {**identity, "seconds": round(time.perf_counter() - t0, 3)}
        if shard:
            result.settings["shard"] = list(shard)
        result.reused, result.recomputed = reused, recomputed
        if out_dir is not None:
            result.out_dir = str(out_dir)
            result.save(Path(out_dir) / _RESULTS)
        return result


def load_results(path: str | os.PathLike) -> FolderResult:
    """Read a ``results.json`` (or the folder holding it) written by :func:`evaluate_folder`.

    Args:
        path: a ``results.json`` file or the output folder of :func:`evaluate_folder`.

    Returns:
        The :class:`FolderResult` (without the per-image values, which are in ``per_image.csv``).

    Raises:
        FileNotFoundError: if there is no results file.
        ValueError: if the file is not a ``segmetrics.results/1`` document.

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:24, 8:24] = 255
        >>> for d in ("gt", "pred"): (root / d).mkdir()
        >>> ok = cv2.imwrite(str(root / "gt" / "a.png"), gt), cv2.imwrite(str(root / "pred" / "a.png"), gt)
        >>> _ = evaluate_folder(root / "pred", root / "gt", out_dir=root / "out", metrics=("fm", "mae"), workers=0,
        ...                     progress=False)
        >>> res = load_results(root / "out")
        >>> res.metrics["fm.max"], res.curves["fm.curve"].shape
        (1.0, (256,))
        >>> tmp.cleanup()
    """
    p = Path(path)
    if p.is_dir():
        p = p / _RESULTS
    if not p.is_file():
        raise FileNotFoundError(f"no results file {p}: give a {_RESULTS} file or the folder holding one")
    try:
        with open(p, encoding="utf-8") as f:
            d = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p} is not a segmetrics results file (not JSON text: {exc})") from None
    schema = d.get("schema") if isinstance(d, dict) else None
    if schema != RESULTS_SCHEMA:
        raise ValueError(f"{p} is not a segmetrics results file (schema {schema!r}, want {RESULTS_SCHEMA!r})")
    try:
        curves = {k: np.array([np.nan if x is None else x for x in v], dtype=np.float64)
                  for k, v in d.get("curves", {}).items() if k != "thresholds"}
        return FolderResult(
            method=d["method"],
            dataset=d["dataset"],
            metrics={k: (np.nan if v is None else float(v)) for k, v in d["metrics"].items()},
            curves=curves,
            num_images=int(d["num_images"]),
            errors={e["name"]: e["error"] for e in d.get("errors", [])},
            missing=list(d.get("missing", [])),
            extra=list(d.get("extra", [])),
            settings=d.get("settings", {}),
            out_dir=str(p.parent),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"no {exc.args[0]!r} entry" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"{p} is a damaged segmetrics results file ({what})") from None


def _is_interactive_results(folder: Path) -> bool:
    """Whether ``folder/results.json`` was written by :meth:`segmetrics.interactive.InteractiveEvaluator.save`."""
    try:
        doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("settings"), dict) and doc["settings"].get("task") == \
        "interactive"


def merge_results(
    shard_dirs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike | None = None,
    *,
    method: str | None = None,
    dataset: str | None = None,
) -> FolderResult:
    """Merge the output folders of separate runs (shards or ranks) into the results of one run.

    The journals (``records.jsonl``) are read, each image is taken once (an image evaluated
    successfully in several shards must have identical values), and the dataset numbers are computed
    over the images sorted by name, exactly as one run over the union computes them.

    Args:
        shard_dirs: output folders of :func:`evaluate_folder` runs with the same settings.
        out_dir: where to write the merged ``per_image.csv``, ``records.jsonl`` and ``results.json``
            (``None``: write nothing).
        method: method name (default: the first shard's).
        dataset: dataset name (default: the first shard's).

    Returns:
        The merged :class:`FolderResult`.

    Raises:
        ValueError: if no folder is given, the settings differ, an image has conflicting values, the
            folders are shards of a split (``shard=(i, n)``) and some of its ``n`` shards are absent or
            they split different lists of images (the folders changed between their runs),
            a folder's run did not finish (fewer images in its journal than it paired, or no ``results.json``)
            or is still running,
            or ``out_dir`` is one of ``shard_dirs`` or holds the results of an :func:`evaluate_folder` run
            (an earlier merge's folder is fine: it is replaced).
        FileNotFoundError: if a folder has no journal (the message says how interactive results merge).

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:24, 8:24] = 255
        >>> for d in ("gt", "pred"): (root / d).mkdir()
        >>> ok = cv2.imwrite(str(root / "gt" / "a.png"), gt), cv2.imwrite(str(root / "pred" / "a.png"), gt)
        >>> ok = cv2.imwrite(str(root / "gt" / "b.png"), gt), cv2.imwrite(str(root / "pred" / "b.png"), 255 - gt)
        >>> for i in range(2):
        ...     _ = evaluate_folder(root / "pred", root / "gt", out_dir=root / f"rank{i}", metrics=("mae",),
        ...                         shard=(i, 2), workers=0, progress=False)
        >>> merged = merge_results([root / "rank0", root / "rank1"], root / "all")
        >>> merged.num_images, merged.metrics["mae"]
        (2, 0.5)
        >>> tmp.cleanup()
    """
    if not shard_dirs:
        raise ValueError("`shard_dirs` must name at least one output folder; got none")
    identity = None
    merged: dict[str, PairResult] = {}
    missing: set[str] = set()
    extra: set[str] = set()
    names: list[tuple[str, str]] = []
    shards: dict[int, set[int]] = {}  # shard count -> indices seen
    versions: list[tuple[Any, Any]] = []  # (folder, segmetrics version of its journal)
    split_lists: dict[int, tuple[Any, tuple[Any, Any]]] = {}  # shard count -> (first folder, its pair list)
    for d in shard_dirs:
        path = Path(d) / JOURNAL_NAME
        if not path.exists():
            if _is_interactive_results(Path(d)):
                raise FileNotFoundError(
                    f"`shard_dirs` entry {str(d)!r} holds interactive results (InteractiveEvaluator.save), which "
                    f"have no {JOURNAL_NAME}: merge the shards' evaluators in Python (pickle each, then "
                    "ev.merge(other)) and save the merged one"
                )
            raise FileNotFoundError(f"`shard_dirs` entry {str(d)!r} has no {JOURNAL_NAME}")
        with lock_out_dir(Path(d), "shard_dirs"):  # not a folder that a run is still writing
            header, records, _ = read_journal(path)
        if header is None:
            raise ValueError(f"`shard_dirs` entry {str(d)!r} has an empty journal")
        total = header.get("pairs_total")
        if isinstance(total, int):
            expected = len(range(header["shard"][0], total, header["shard"][1])) if header.get("shard") else total
            if len(records) < expected:
                raise ValueError(
                    f"`shard_dirs` entry {str(d)!r} holds {len(records)} of its {expected} images: its run did not "
                    "finish (interrupted or killed); run the same evaluation again, which resumes, then merge"
                )
        if versions and header.get("version") != versions[0][1]:
            raise ValueError(
                f"`shard_dirs` were written by segmetrics {versions[0][1] or 'of an unrecorded version'} and "
                f"{str(d)!r} by segmetrics {header.get('version') or 'of an unrecorded version'}: their numbers "
                "may differ; "
                "evaluate every shard with one version (a re-run with it recomputes the others' rows)"
            )
        versions.append((d, header.get("version")))
        if identity is None:
            identity = header["identity"]
        elif header["identity"] != identity:
            raise ValueError(f"`shard_dirs` must share the settings; {str(d)!r} differs from the first "
                             f"({settings_diff(identity, header['identity'], ('in the first', 'in this one'))})")
        if header.get("shard"):
            i, n = header["shard"]
            shards.setdefault(int(n), set()).add(int(i))
            total, dig = listed = (header.get("pairs_total"), header.get("pairs_digest"))
            first_dir, (first_total, first_dig) = split_lists.setdefault(int(n), (d, listed))
            if total != first_total or (None not in (dig, first_dig) and dig != first_dig):  # older: no digest
                raise ValueError(
                    f"`shard_dirs`: the shards of the {n}-way split paired different images ({first_total} in "
                    f"{str(first_dir)!r}, {total} in {str(d)!r}): the folders changed between their runs; run "
                    "each shard again (it resumes), then merge"
                )
        res_path = Path(d) / _RESULTS
        if not res_path.exists():  # written when a run ends; a re-run with work to do removes it first
            raise ValueError(
                f"`shard_dirs` entry {str(d)!r} has no {_RESULTS}: its run did not finish (interrupted, or killed "
                "while recomputing changed files); run the same evaluation again, which resumes, then merge"
            )
        prev = load_results(res_path)
        names.append((prev.method, prev.dataset))
        missing.update(prev.missing)
        extra.update(prev.extra)
        for name, r in records.items():
            old = merged.get(name)
            if old is None or old.status != "ok":
                merged[name] = r
            elif r.status == "ok" and old.scalars != r.scalars:
                raise ValueError(f"image {name!r} has different values in two shards; refusing to merge")
    if len(shards) > 1:
        raise ValueError(
            f"`shard_dirs` mixes shards of different splits ({', '.join(f'of {n}' for n in sorted(shards))}); "
            "merge the folders of one split"
        )
    for n, seen in shards.items():
        absent = [f"{i}/{n}" for i in range(n) if i not in seen]
        if absent:
            raise ValueError(
                f"`shard_dirs` lacks shard(s) {', '.join(absent)} of the {n}-way split (got "
                f"{', '.join(f'{i}/{n}' for i in sorted(seen))}): evaluate them with shard=(i, {n}) "
                f"(--shard i/{n}) and pass their output folders too"
            )
    if out_dir is not None:
        _check_merge_out(out_dir, shard_dirs)
    missing -= {n for n, r in merged.items() if r.status == "ok"}
    method = method or (names[0][0] if names else "merged")
    dataset = dataset or (names[0][1] if names else "merged")
    result = aggregate(merged.values(), identity or {}, method=method, dataset=dataset)
    result.missing = sorted(missing)
    result.extra = sorted(extra)
    if out_dir is not None:
        out = prepare_out_dir(out_dir)
        cols = _columns_from_identity(identity or {})
        with lock_out_dir(out):
            head = {"kind": "header", "schema": "segmetrics.journal/1", "identity": identity,
                    "version": versions[0][1] if versions else None}
            journal = Journal(out, head, cols, True)
            for name in sorted(merged):
                journal.add(merged[name])
            journal.close()
            result.out_dir = str(out)
            result.save(out / _RESULTS)
    return result


def _check_merge_out(out_dir: str | os.PathLike, shard_dirs: Sequence[str | os.PathLike]) -> None:
    """Refuse a merge ``out_dir`` that would replace a run's own results: a shard folder, or an evaluation's."""
    out = Path(out_dir).resolve()
    if any(Path(d).resolve() == out for d in shard_dirs):
        raise ValueError(f"`out_dir` {str(out_dir)!r} is one of `shard_dirs`: the merge would replace that run's "
                         "journal; pass another folder")
    path = out / JOURNAL_NAME
    if path.is_file():
        try:
            header = read_journal(path)[0]
        except (OSError, ValueError):
            return  # not a journal of ours: the merge replaces it as before
        sources = header.get("sources") if isinstance(header, dict) else None
        if isinstance(sources, dict):  # written by evaluate_folder, not by a merge
            raise ValueError(f"`out_dir` {str(out_dir)!r} holds the results of an evaluation of "
                             f"{sources.get('pred_dir')!r}, which the merge would replace; pass another folder")


def _columns_from_identity(identity: dict[str, Any]) -> list[str]:
    return metric_columns(EvalSettings.from_identity(identity))


if evaluate_folder.__doc__:
    evaluate_folder.__doc__ = evaluate_folder.__doc__.replace("<<options>>", options_doc(12))
