"""Curves across methods from saved results: PR curves, F-measure and E-measure over thresholds.

Reads the ``results.json`` files written by :func:`segmetrics.app.folder.evaluate_folder` (schema
``segmetrics.results/1``; their ``curves`` hold the dataset mean curves over the 256 thresholds,
ascending). matplotlib is imported only when plotting (``pip install segloss-segmetrics[plot]``);
figures are drawn with whatever backend is active (use ``MPLBACKEND=Agg`` on servers; the CLI does).

* ``"pr"``: precision (y) over recall (x) from ``fm.precision`` / ``fm.recall``;
* ``"fm"``: F-measure (y) over the threshold 0..255 (x) from ``fm.curve``;
* ``"em"``: E-measure (y) over the threshold from ``em.curve``;
* ``"miou"``: mean IoU (y) over the number of clicks 1..K (x) from the ``miou`` curve of
  interactive results (:meth:`segmetrics.interactive.InteractiveEvaluator.save`).

One figure per kind and dataset, one line per method; the legend shows the curve's maximum.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segmetrics._optional import import_optional

__all__ = ["CURVE_KINDS", "plot_curves", "save_curve_plots"]

#: ``kind: (required curve keys, title, x label, y label)``.
CURVE_KINDS: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "pr": (("fm.precision", "fm.recall"), "Precision-recall", "Recall", "Precision"),
    "fm": (("fm.curve",), "F-measure", "Threshold", r"$F_\beta$"),
    "em": (("em.curve",), "E-measure", "Threshold", r"$E_\phi$"),
    "miou": (("miou",), "mIoU vs clicks", "Clicks", "mIoU"),
}


def _check_format(fmt: Any, name: str, got: Any = None) -> None:
    """``ValueError`` naming ``name`` unless matplotlib writes the file format ``fmt`` (e.g. ``"png"``)."""
    from matplotlib.backend_bases import FigureCanvasBase

    known = FigureCanvasBase.get_supported_filetypes()
    if not isinstance(fmt, str) or fmt.lower() not in known:
        raise ValueError(
            f"`{name}` must name a file format matplotlib writes ({', '.join(sorted(known))}); "
            f"got {fmt if got is None else got!r}"
        )


def _load(results: Sequence[Any]) -> list[Any]:
    from segmetrics.app.folder import FolderResult, load_results

    out = []
    for r in results:
        out.append(r if isinstance(r, FolderResult) else load_results(r))
    return out


def plot_curves(results: Sequence[Any], kind: str = "pr", *, ax: Any = None, dataset: str | None = None) -> tuple:
    """Draw one kind of curve for several results (methods) on one axes.

    Args:
        results: :class:`~segmetrics.app.folder.FolderResult` objects or paths of ``results.json`` files
            (or of their folders).
        kind: ``"pr"``, ``"fm"``, ``"em"`` or ``"miou"`` (see the module docstring).
        ax: matplotlib axes to draw on (default: a new figure).
        dataset: draw only the results of this dataset (default: all given).

    Returns:
        ``(fig, ax)``.

    Raises:
        ValueError: for an unknown ``kind``, no results, or results without the needed curves (the
            message names the method and the metric to evaluate, e.g. ``--metrics fm``).

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:24, 8:24] = 255
        >>> for d in ("gt", "pred"): (root / d).mkdir()
        >>> ok = cv2.imwrite(str(root / "gt" / "a.png"), gt), cv2.imwrite(str(root / "pred" / "a.png"), gt)
        >>> from segmetrics.app.folder import evaluate_folder
        >>> res = evaluate_folder(root / "pred", root / "gt", out_dir=root / "isnet", method="isnet", dataset="demo",
        ...                       workers=0, progress=False, skeleton_cache=False)
        >>> fig, ax = plot_curves([root / "isnet"], "pr")
        >>> ax.get_xlabel(), ax.get_ylabel()
        ('Recall', 'Precision')
        >>> tmp.cleanup()
    """
    if kind not in CURVE_KINDS:
        raise ValueError(f"`kind` must be one of {tuple(CURVE_KINDS)}; got {kind!r}")
    res = _load(results)
    if dataset is not None:
        res = [r for r in res if r.dataset == dataset]
    if not res:
        raise ValueError("`results` must hold at least one result to plot; got none")
    keys, title, xlabel, ylabel = CURVE_KINDS[kind]
    for r in res:
        if r.num_images == 0:
            raise ValueError(
                f"result {r.dataset}/{r.method} holds no evaluated image ({len(r.errors)} failed): there is no "
                "curve to plot; fix the errors listed in its results.json and evaluate it again"
            )
        lacking = [k for k in keys if k not in r.curves]
        if lacking and kind == "miou":
            raise ValueError(
                f"result {r.dataset}/{r.method} has no miou curve: mIoU-vs-clicks curves come from interactive "
                "results (segmetrics.interactive.InteractiveEvaluator.save), not from segmetrics eval"
            )
        if lacking:
            fam = keys[0].split(".")[0]
            raise ValueError(
                f"result {r.dataset}/{r.method} has no {', '.join(lacking)} curve(s): evaluate it with the "
                f"{fam!r} metric (--metrics {fam} ...) to plot {title} curves"
            )
    plt = import_optional("matplotlib.pyplot", "plot", "plotting curves")

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.0, 4.2), dpi=120)
    else:
        fig = ax.figure
    thr = np.arange(256)
    for r in res:
        if kind == "pr":
            x, y = r.curves["fm.recall"], r.curves["fm.precision"]
            best = r.metrics.get("fm.max", float(np.nanmax(r.curves["fm.curve"])) if "fm.curve" in r.curves else np.nan)
            label = f"{r.method} (maxF {best:.3f})"
        elif kind == "miou":
            y = r.curves["miou"]
            x = np.arange(1, len(y) + 1)
            label = f"{r.method} (mIoU@{len(y)} {y[-1]:.3f})"
        else:
            y = r.curves[keys[0]]
            x = thr
            label = f"{r.method} (max {np.nanmax(y):.3f})"
        ax.plot(x, y, lw=1.6, label=label, marker="o" if len(x) == 1 else None)  # one click: a point, no segment
    datasets = sorted({r.dataset for r in res})
    ax.set_title(f"{title} — {', '.join(datasets)}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if kind == "pr":
        ax.set_xlim(0, 1.0)
        ax.set_ylim(0, 1.02)
    elif kind == "miou":
        ax.set_xlim(1, max(2, *(len(r.curves["miou"]) for r in res)))  # max_clicks = 1: a width matplotlib accepts
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole clicks
        ax.set_ylim(0, 1.02)
    else:
        ax.set_xlim(0, 255)
        ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc={"pr": "lower left", "miou": "lower right"}.get(kind, "lower center"), fontsize=8, frameon=True)
    fig.tight_layout()
    return fig, ax


def save_curve_plots(
    results: Sequence[Any],
    out_dir: str | os.PathLike,
    *,
    kinds: Sequence[str] | None = None,
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path]:
    """Write ``<out_dir>/<dataset>_<kind>.<fmt>`` for every dataset, kind and format.

    Args:
        results: results or paths (see :func:`plot_curves`); several datasets are split per figure.
        out_dir: output folder (created).
        kinds: curve kinds (an error for a dataset lacking one); default ``None``: every kind of
            :data:`CURVE_KINDS` that all of a dataset's results hold (``pr``, ``fm``, ``em`` for
            folder results, ``miou`` for interactive ones).
        formats: file formats understood by matplotlib, default ``("png", "pdf")``.

    Returns:
        The written files.

    Raises:
        ValueError: see :func:`plot_curves`; a format matplotlib does not write; ``out_dir`` is a file.

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:24, 8:24] = 255
        >>> for d in ("gt", "pred"): (root / d).mkdir()
        >>> ok = cv2.imwrite(str(root / "gt" / "a.png"), gt), cv2.imwrite(str(root / "pred" / "a.png"), gt)
        >>> from segmetrics.app.folder import evaluate_folder
        >>> res = evaluate_folder(root / "pred", root / "gt", out_dir=root / "isnet", method="isnet", dataset="demo",
        ...                       workers=0, progress=False, skeleton_cache=False)
        >>> [p.name for p in save_curve_plots([root / "isnet"], root / "figures", formats=("png",))]
        ['demo_pr.png', 'demo_fm.png', 'demo_em.png']
        >>> tmp.cleanup()
    """
    res = _load(results)
    if not res:
        raise ValueError("`results` must hold at least one result to plot; got none")
    for k in kinds or ():
        if k not in CURVE_KINDS:
            raise ValueError(f"`kinds` must be a subset of {tuple(CURVE_KINDS)}; got {tuple(kinds)!r}")
    plt = import_optional("matplotlib.pyplot", "plot", "plotting curves")
    if isinstance(formats, str):
        formats = (formats,)
    for fmt in formats:
        _check_format(fmt, "formats")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"`out_dir` must be a folder; got {str(out)!r}, an existing file")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for ds in sorted({r.dataset for r in res}):
        ds_res = [r for r in res if r.dataset == ds]
        ds_kinds = kinds
        if ds_kinds is None:
            ds_kinds = [k for k, (keys, *_) in CURVE_KINDS.items() if all(c in r.curves for r in ds_res for c in keys)]
            ds_kinds = ds_kinds or ["pr"]  # nothing to draw: plot_curves names what is missing
        for k in ds_kinds:
            fig, _ = plot_curves(res, k, dataset=ds)
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in ds)
            for fmt in formats:
                p = out / f"{safe}_{k}.{fmt}"
                fig.savefig(p)
                written.append(p)
            plt.close(fig)
    return written
