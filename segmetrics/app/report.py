"""Result tables (plain text, Markdown, LaTeX) in the layout of the DIS paper's Table 2.

The default columns are the six metrics of Table 2, ``maxFβ ↑, Fwβ ↑, M ↓, Sα ↑, Emφ ↑, HCEγ ↓``
(``fm.max, wfm, mae, sm, em.mean, hce``), followed by whichever of the other dataset metrics are
present (mean / adaptive F and E, IoU, Dice, boundary F): the labels, directions and order are the
metric table's (:mod:`segmetrics.metric_table`). Interactive results
(:mod:`segmetrics.interactive`) show ``NoC@85/90 ↓, NoF@85/90 ↓, mIoU@1/3/5/10 ↑, SPC ↓``. HCE and
NoF are printed with no decimals (counts), the others with ``digits`` decimals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from segmetrics.registry import display_columns, every_options, integer_keys, scalar_labels

__all__ = ["columns", "format_table"]

#: Interactive segmentation (:mod:`segmetrics.interactive`): clicks, failures, mIoU after k clicks,
#: seconds per click.
_INTERACTIVE: dict[str, tuple[str, str, bool]] = {
    "noc@85": ("NoC@85", "NoC@85", False),
    "noc@90": ("NoC@90", "NoC@90", False),
    "nof@85": ("NoF@85", "NoF@85", False),
    "nof@90": ("NoF@90", "NoF@90", False),
    "miou@1": ("mIoU@1", "mIoU@1", True),
    "miou@3": ("mIoU@3", "mIoU@3", True),
    "miou@5": ("mIoU@5", "mIoU@5", True),
    "miou@10": ("mIoU@10", "mIoU@10", True),
    "spc": ("SPC", "SPC (s)", False),
}


def columns() -> dict[str, tuple[str, str, bool]]:
    """``{key: (plain label, LaTeX label, higher is better)}`` in display order.

    The metric table's columns (:func:`segmetrics.registry.display_columns`), then the interactive ones.

    Example:
        >>> list(columns())[:6]
        ['fm.max', 'wfm', 'mae', 'sm', 'em.mean', 'hce']
    """
    return {**display_columns(), **_INTERACTIVE}


def _integer_keys() -> frozenset[str]:
    return integer_keys() | {"nof@85", "nof@90"}


def _interactive_columns(results: Sequence[Any]) -> dict[str, tuple[str, str, bool]]:
    """The interactive columns, with ``NoC@τ`` / ``NoF@τ`` for every target ``τ`` a result holds."""
    targets = {"noc": set(), "nof": set()}
    for r in results:
        for k in r.metrics:
            kind, _, pct = k.partition("@")
            if kind in targets and pct.replace(".", "", 1).isdigit():
                targets[kind].add(pct)
    out: dict[str, tuple[str, str, bool]] = {}
    for kind, label in (("noc", "NoC"), ("nof", "NoF")):
        for pct in sorted(targets[kind] | {"85", "90"}, key=float):
            out[f"{kind}@{pct}"] = (f"{label}@{pct}", f"{label}@{pct}", False)
    return {**out, **{k: v for k, v in _INTERACTIVE.items() if not k.startswith(("noc@", "nof@"))}}


_all_columns = columns  # `format_table` has an argument named `columns`


_FORMATS = ("plain", "markdown", "latex")


def _fmt(key: str, v: float | None, digits: int, integer: frozenset[str]) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.0f}" if key in integer else f"{v:.{digits}f}"


_LATEX_WORDS = {"\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _latex_escape(s: str) -> str:
    """``s`` as LaTeX text: every character LaTeX reads as syntax is escaped."""
    return "".join(_LATEX_WORDS.get(c) or ("\\" + c if c in "_&%$#{}" else c) for c in s)


def _markdown_escape(s: str) -> str:
    """``s`` as a Markdown table cell: a ``|`` would end the cell."""
    return s.replace("|", r"\|")


def format_table(
    results: Sequence[Any],
    *,
    fmt: str = "plain",
    digits: int = 3,
    columns: Sequence[str] | None = None,
) -> str:
    """Format dataset results as a table, one row per (dataset, method).

    Args:
        results: :class:`~segmetrics.app.folder.FolderResult` objects (anything with ``method``,
            ``dataset``, ``num_images`` and a ``metrics`` dict).
        fmt: ``"plain"`` (aligned text), ``"markdown"`` (GitHub table) or ``"latex"`` (booktabs).
        digits: decimals of every metric but HCE (``>= 0``).
        columns: metric keys to show, each labelled as the metric table declares it (default: those of
            :func:`columns` present in any result).

    Returns:
        The table as a string (no trailing newline).

    Raises:
        TypeError: for a result without ``method``, ``dataset``, ``num_images`` and ``metrics``.
        ValueError: for an unknown ``fmt``, a negative ``digits``, no results, or a column that is
            neither a scalar of the metric table nor held by a result.

    Example:
        >>> from types import SimpleNamespace as R
        >>> print(format_table([R(method="a", dataset="d", num_images=2, metrics={"mae": 0.05})], fmt="markdown"))
        | dataset | method | n | MAE ↓ |
        |---|---|---:|---:|
        | d | a | 2 | 0.050 |
    """
    if fmt not in _FORMATS:
        raise ValueError(f"`fmt` must be one of {_FORMATS}; got {fmt!r}")
    if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
        raise ValueError(f"`digits` must be an integer >= 0; got {digits!r}")
    results = list(results)
    if not results:
        raise ValueError("`results` must hold at least one result; got none")
    for r in results:
        if not all(hasattr(r, a) for a in ("method", "dataset", "num_images", "metrics")):
            raise TypeError("`results` must hold results with `method`, `dataset`, `num_images` and `metrics` "
                            f"(FolderResult, from evaluate_folder or load_results); got {type(r).__name__}")
    interactive = _interactive_columns(results)
    table = {**_all_columns(), **interactive}
    integer = _integer_keys() | {k for k in interactive if k.startswith("nof@")}
    if columns is None:  # every display column a result holds, whatever its options (e.g. BF@2 and BF@7)
        shown = {**display_columns(every_options()), **interactive}
        columns = [k for k in shown if any(k in r.metrics for r in results)]
    columns = [columns] if isinstance(columns, str) else list(columns)
    known = {**scalar_labels(), **table}  # every scalar's declared label and direction
    unknown = [k for k in columns if k not in known and not any(k in r.metrics for r in results)]
    if unknown:
        raise ValueError(f"`columns` must name scalars of the metric table or of the results; got unknown {unknown} "
                         f"(e.g. {', '.join(list(table)[:6])}; curves are not columns)")
    labels = []
    for k in columns:
        plain, tex, up = known.get(k, (k, _latex_escape(k), True))
        if fmt == "latex":
            labels.append(tex + (r" $\uparrow$" if up else r" $\downarrow$"))
        else:
            labels.append(plain + (" ↑" if up else " ↓"))
    rows = []
    for r in sorted(results, key=lambda r: (r.dataset, r.method)):
        values = [_fmt(k, r.metrics.get(k), digits, integer) for k in columns]
        rows.append([r.dataset, r.method, str(r.num_images), *values])
    head = ["dataset", "method", "n", *labels]
    if fmt == "markdown":
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
        lines += ["| " + " | ".join(_markdown_escape(c) for c in row) + " |" for row in rows]
        return "\n".join(lines)
    if fmt == "latex":
        lines = [
            r"\begin{tabular}{ll" + "r" * (len(head) - 2) + "}",
            r"\toprule",
            " & ".join(head) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(_latex_escape(c) for c in row) + r" \\" for row in rows]
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) if i < 2 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    out.append("  ".join("-" * w for w in widths))
    for row in rows:
        out.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(out)
