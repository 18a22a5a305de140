r"""Binary-confusion metrics: precision, recall, specificity, FPR, BER, accuracy, kappa, Fβ, IoU, Dice.

Every metric is a function of the four counts of a binarised prediction (``TP``, ``FP``, ``TN``,
``FN``), evaluated three ways from **one** set of per-image counts:

* **dynamic**: at each of the 256 levels ``k = 0..255`` the map ``trunc(255 P̂) >= k`` (the
  F-measure curve's binarisation); the counts are read off the two 256-bin histograms that the
  shared pass of :mod:`segmetrics._sod_core` already builds for the F- and E-measure, so adding
  these metrics costs no extra pass over the image. ``mean`` / ``max`` are taken over the curve.
* **adaptive**: ``P̂ >= min(2 * mean(P̂), 1)`` (the adaptive F-measure threshold; same counts).
* **binary**: ``P̂ > 0.5`` ("argmax"); one counting pass for float maps, free for uint8 maps
  (read off the 256 raw-level counts of the shared pass).

Definitions (``x / 0 := 0`` everywhere, as pysodmetrics' handlers):

=============  ==============================================================================
key            formula
=============  ==============================================================================
precision      ``TP / (TP + FP)``
recall         ``TP / (TP + FN)`` (also called sensitivity, TPR)
specificity    ``TN / (TN + FP)`` (also called TNR)
fpr            ``FP / (TN + FP)``
ber            ``1 - (TP / (TP + FN) + TN / (TN + FP)) / 2``
oa             ``(TP + TN) / N`` (overall accuracy)
kappa          ``(oa - pe) / (1 - pe)``, ``pe = ((TP+FP)(TP+FN) + (TN+FN)(TN+TP)) / N²`` (pysodmetrics)
cohen_kappa    ``(oa - pe) / (1 - pe)``, ``pe = ((TP+FP)(TP+FN) + (TN+FN)(TN+FP)) / N²`` (Cohen 1960)
fmeasure       ``(1 + β²) P R / (β² P + R)`` with ``P``, ``R`` as above (``β² = 0.3``)
iou            ``TP / (TP + FP + FN)``
dice           ``2 TP / (2 TP + FP + FN)``
=============  ==============================================================================

Note on kappa: pysodmetrics 1.6.2's ``KappaHandler`` writes the chance agreement with
``(TN + FN)(TN + TP)`` where Cohen's definition has ``(TN + FN)(TN + FP)`` (the product of the
predicted-negative and GT-negative rates). ``kappa`` reproduces pysodmetrics' numbers;
``cohen_kappa`` is the textbook value (equal to scikit-learn's ``cohen_kappa_score``).

Curves are in **ascending** threshold order (pysodmetrics stores them descending). Dataset values
(:class:`ConfusionAccumulator`) follow pysodmetrics ``FmeasureV2.get_results``: each metric's
curve is averaged over images and ``mean`` / ``max`` are taken of that mean curve; adaptive and
sample-based binary values are means of the per-image values; ``binary_dataset`` is the metric of
the counts pooled over the whole dataset (pysodmetrics' ``sample_based=False``).

**AUC**, the convention of pysodmetrics' own test suite (``examples/test_metrics.py``,
``cal_auc``; the library has no AUC function): the 256 curve points ``(x_k, y_k)`` in ascending
threshold order are stably sorted by ``x`` and integrated with the trapezoid rule, with no end
points added: ``auc_pr`` integrates precision over recall, ``auc_roc`` recall (TPR) over FPR.
A curve that does not span ``x`` from 0 to 1 (e.g. a binary map, whose points are all at one or
two ``x``) gets only the area it covers, unlike scikit-learn's curves that add ``(0, 1)`` / ``(0, 0)``.
Dataset AUCs integrate the dataset-mean curves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segmetrics._inputs import check_choice, check_positive, check_zero_division, prepare_pairs
from segmetrics._mergeable import SummedState
from segmetrics._sod_core import THRESHOLDS, ImageStats, check_bool, counts_above, image_stats, pysod_mean

__all__ = [
    "BINARY_THRESHOLD",
    "CONFUSION_ALIASES",
    "CONFUSION_METRICS",
    "ConfusionAccumulator",
    "ConfusionCounts",
    "ConfusionResult",
    "ConfusionScores",
    "confusion_counts",
    "confusion_formula",
    "confusion_metrics",
]

#: Metric keys of the confusion family, in report order.
CONFUSION_METRICS = (
    "precision", "recall", "specificity", "fpr", "ber", "oa", "kappa", "cohen_kappa", "fmeasure", "iou", "dice",
)
#: Other names accepted for the same metrics.
CONFUSION_ALIASES = {"sensitivity": "recall", "tpr": "recall", "tnr": "specificity", "accuracy": "oa"}
#: The fixed threshold of the "binary" variant (strict ``>``, simulating an argmax of two classes).
BINARY_THRESHOLD = 0.5


def _div(num: Any, den: Any, zero_division: float = 0.0) -> np.ndarray:
    """``num / den`` in float64 with ``zero_division`` (default 0) where ``den == 0``."""
    d = np.asarray(den, dtype=np.float64)
    return np.divide(num, d, out=np.full_like(d, zero_division), where=d != 0)


def confusion_formula(
    name: str, tp: Any, fp: Any, tn: Any, fn: Any, *, beta_sq: float = 0.3, zero_division: float = 0.0
) -> np.ndarray:
    r"""One confusion metric from counts (scalars or arrays of any shape; ``x / 0 := 0`` by default).

    The float operations follow pysodmetrics 1.6.2's handlers, so values are bit-identical to
    them. Counts may be Python ints (exact, any size) or integer arrays (narrower integer and bool
    counts are widened to int64 first, so that kappa's products do not overflow). This is the only place
    the formulas are written: the ``iou`` / ``dice`` families (:mod:`segmetrics.region_overlap`)
    and the size-invariant family read them from here.

    Args:
        name: one of :data:`CONFUSION_METRICS` or an alias in :data:`CONFUSION_ALIASES`.
        tp: true positives.
        fp: false positives.
        tn: true negatives.
        fn: false negatives.
        beta_sq: β² of ``fmeasure`` (default 0.3), must be > 0.
        zero_division: the value of a ratio whose denominator is 0 (default ``0.0``, pysodmetrics'
            convention; :func:`segmetrics.iou` / :func:`segmetrics.dice` offer ``1.0``).

    Returns:
        float64 array of the broadcast shape of the counts (0-d for scalars).

    Raises:
        ValueError: unknown ``name``, ``beta_sq <= 0`` or ``zero_division`` not 0 or 1.
        TypeError: non-numeric ``beta_sq``.

    Example:
        >>> float(confusion_formula("iou", 3, 1, 10, 2))
        0.5
        >>> float(confusion_formula("precision", 0, 0, 5, 1))
        0.0
        >>> float(confusion_formula("dice", 0, 0, 7, 0, zero_division=1.0))
        1.0
    """
    name = _canonical(name)
    check_positive(beta_sq, "beta_sq")
    zd = check_zero_division(zero_division)
    tp, fp, tn, fn = (_wide(c) for c in (tp, fp, tn, fn))
    if name == "precision":
        return _div(tp, tp + fp, zd)
    if name == "recall":
        return _div(tp, tp + fn, zd)
    if name == "specificity":
        return _div(tn, tn + fp, zd)
    if name == "fpr":
        return _div(fp, tn + fp, zd)
    if name == "ber":
        return 1 - 0.5 * (_div(tp, tp + fn, zd) + _div(tn, tn + fp, zd))
    if name == "oa":
        return _div(tp + tn, tp + fp + tn + fn, zd)
    if name in ("kappa", "cohen_kappa"):
        oa = _div(tp + tn, tp + fp + tn + fn, zd)
        neg = tn + tp if name == "kappa" else tn + fp
        pe = _div((tp + fp) * (tp + fn) + (tn + fn) * neg, (tp + fp + tn + fn) ** 2, zd)
        return _div(oa - pe, 1 - pe, zd)
    if name == "fmeasure":
        p = _div(tp, tp + fp, zd)
        r = _div(tp, tp + fn, zd)
        return _div((beta_sq + 1) * p * r, beta_sq * p + r, zd)
    if name == "iou":
        return _div(tp, tp + fp + fn, zd)
    return _div(2 * tp, tp + fn + tp + fp, zd)  # dice


def _wide(count: Any) -> Any:
    """A numpy count of a narrower integer (or bool) dtype as int64: the products of kappa overflow int32."""
    dt = getattr(count, "dtype", None)
    if dt is not None and (dt == np.bool_ or (np.issubdtype(dt, np.integer) and dt != np.int64)):
        return np.asarray(count, np.int64)
    return count


def _canonical(name: Any) -> str:
    if isinstance(name, str) and name in CONFUSION_ALIASES:
        return CONFUSION_ALIASES[name]
    check_choice(name, "metrics", CONFUSION_METRICS + tuple(CONFUSION_ALIASES))
    return name


def _metric_names(metrics: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(metrics, str):
        metrics = (metrics,)
    try:
        names = {_canonical(m) for m in metrics}
    except TypeError:
        raise TypeError(f"`metrics` must be a sequence of metric names; got {type(metrics).__name__}") from None
    if not names:
        raise ValueError(f"`metrics` must name at least one of {CONFUSION_METRICS}; got an empty sequence")
    return tuple(m for m in CONFUSION_METRICS if m in names)


@dataclass(frozen=True)
class ConfusionCounts:
    """The counts behind every confusion metric of one image.

    Attributes:
        n: number of pixels.
        n_fg: number of GT foreground pixels.
        tp: ``(256,)`` int64, true positives of ``trunc(255 P̂) >= k`` for ``k = 0..255``.
        fp: ``(256,)`` int64, false positives, same order.
        tp_adaptive: TP of the adaptive map ``P̂ >= min(2 mean(P̂), 1)``.
        fp_adaptive: FP of the adaptive map.
        tp_binary: TP of the binary map ``P̂ > 0.5``.
        fp_binary: FP of the binary map.
    """

    n: int
    n_fg: int
    tp: np.ndarray
    fp: np.ndarray
    tp_adaptive: int
    fp_adaptive: int
    tp_binary: int
    fp_binary: int

    def curve_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(TP, FP, TN, FN)`` curves, ``(256,)`` int64 each."""
        return self.tp, self.fp, (self.n - self.n_fg) - self.fp, self.n_fg - self.tp

    def adaptive_counts(self) -> tuple[int, int, int, int]:
        """``(TP, FP, TN, FN)`` of the adaptive map."""
        return _four(self.tp_adaptive, self.fp_adaptive, self.n, self.n_fg)

    def binary_counts(self) -> tuple[int, int, int, int]:
        """``(TP, FP, TN, FN)`` of the binary map."""
        return _four(self.tp_binary, self.fp_binary, self.n, self.n_fg)


def _four(tp: int, fp: int, n: int, n_fg: int) -> tuple[int, int, int, int]:
    return tp, fp, (n - n_fg) - fp, n_fg - tp


def _cum_ge(hist: np.ndarray) -> np.ndarray:
    return np.cumsum(hist[::-1])[::-1]


def counts_from_stats(p: np.ndarray, g: np.ndarray, st: ImageStats,
                      binary: tuple[int, int] | None = None) -> ConfusionCounts:
    """Counts of one canonical pair from its shared statistics (``image_stats(..., fe=True)``).

    The curve and adaptive counts are read off the shared histograms; the binary counts are
    ``binary`` when given (e.g. cached by the fused pass), else read off the raw-level counts of a
    uint8 map, else counted in one pass.
    """
    if binary is not None:
        tpb, fpb = binary
    elif st.raw is not None:
        above = st.lut > BINARY_THRESHOLD
        tpb, fpb = int(st.raw[0][above].sum()), int(st.raw[1][above].sum())
    else:
        tpb, fpb = counts_above(p, g, st, BINARY_THRESHOLD)
    return ConfusionCounts(
        n=st.n, n_fg=st.n_fg, tp=_cum_ge(st.hist_fg), fp=_cum_ge(st.hist_bg), tp_adaptive=int(st.tp),
        fp_adaptive=int(st.fp), tp_binary=int(tpb), fp_binary=int(fpb),
    )


def confusion_counts(pred: Any, gt: Any, *, normalize: bool = True) -> ConfusionCounts | list[ConfusionCounts]:
    """Validated TP / FP counts of one image (or each image of a batch) for every binarisation.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        normalize: min-max normalise the prediction first (pysodmetrics default).

    Shapes:
        single pair → one :class:`ConfusionCounts` (``(256,)`` curves); batch → a list of them.

    Returns:
        :class:`ConfusionCounts` (or a list of them).

    Raises:
        TypeError: unsupported input type or dtype, non-bool ``normalize``.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((4, 4), bool); gt[:2] = True
        >>> c = confusion_counts(gt.astype(np.uint8) * 255, gt)
        >>> int(c.tp[255]), int(c.fp[255]), c.tp_binary, c.fp_binary
        (8, 0, 8, 0)
    """
    norm = check_bool(normalize, "normalize")
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    out = [counts_from_stats(p, g, image_stats(p, g, normalize=norm)) for p, g in pairs]
    return out if batched else out[0]


@dataclass(frozen=True)
class ConfusionScores:
    """One confusion metric of one image or of a dataset.

    Attributes:
        curve: ``(256,)`` values at the levels ``k = 0..255`` (ascending).
        mean: mean of the curve (in pysodmetrics' summation order).
        max: maximum of the curve.
        adaptive: value at the adaptive threshold (dataset: mean over images).
        binary: value of ``P̂ > 0.5`` (dataset: mean over images, pysod ``sample_based=True``).
        binary_dataset: dataset only: value of the pooled binary counts (pysod ``sample_based=False``);
            for one image it equals ``binary``.
    """

    curve: np.ndarray
    mean: float
    max: float
    adaptive: float
    binary: float
    binary_dataset: float


@dataclass(frozen=True)
class ConfusionResult:
    """Confusion metrics of one image or a dataset: ``result["iou"].max``, ``result.auc_roc``.

    Attributes:
        scores: metric key → :class:`ConfusionScores` (only the requested metrics).
        auc_pr: area under the precision-recall curve (see the module docstring).
        auc_roc: area under the ROC curve (see the module docstring).
        counts: the image's :class:`ConfusionCounts` (``None`` for a dataset).
    """

    scores: dict[str, ConfusionScores]
    auc_pr: float
    auc_roc: float
    counts: ConfusionCounts | None = None

    def __getattr__(self, name: str) -> Any:
        """Flat access ``result.iou_max`` (``<metric>_<field>``, e.g. for the metric table)."""
        metric, _, fld = name.rpartition("_")
        scores = self.__dict__.get("scores", {})
        if metric in scores and fld in ("curve", "mean", "max", "adaptive", "binary"):
            return getattr(scores[metric], fld)
        raise AttributeError(f"'ConfusionResult' object has no attribute {name!r}")

    @property
    def binary_counts(self) -> np.ndarray | None:
        """``(TP, FP, TN, FN)`` of the binary map as float64 (one image; ``None`` for a dataset)."""
        return None if self.counts is None else np.asarray(self.counts.binary_counts(), np.float64)

    @property
    def thresholds(self) -> np.ndarray:
        """The levels ``0..255`` of the curves (read-only)."""
        return THRESHOLDS

    def __getitem__(self, key: str) -> ConfusionScores:
        return self.scores[_canonical(key)]

    def scalars(self, prefix: str = "") -> dict[str, float]:
        """Flat ``{"<prefix>iou_max": ..., "<prefix>auc_roc": ...}`` dict of every scalar."""
        row: dict[str, float] = {}
        for k, s in self.scores.items():
            row.update({f"{prefix}{k}_max": s.max, f"{prefix}{k}_mean": s.mean, f"{prefix}{k}_adp": s.adaptive,
                        f"{prefix}{k}_bin": s.binary})
        row[f"{prefix}auc_pr"] = self.auc_pr
        row[f"{prefix}auc_roc"] = self.auc_roc
        return row


def _sorted_trapezoid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, axis=-1, kind="stable")
    xs, ys = np.take_along_axis(x, order, axis=-1), np.take_along_axis(y, order, axis=-1)
    return np.trapezoid(ys, xs, axis=-1)


def auc_from_curves(precision: np.ndarray, recall: np.ndarray, fpr: np.ndarray) -> tuple[float, float]:
    """``(AUC-PR, AUC-ROC)`` from ascending-threshold ``(256,)`` curves (see the module docstring)."""
    return float(_sorted_trapezoid(precision, recall)), float(_sorted_trapezoid(recall, fpr))


def _image_result(c: ConfusionCounts, metrics: tuple[str, ...], beta_sq: float) -> ConfusionResult:
    # one formula call per metric over 258 count rows: the 256 levels, then adaptive and binary
    tp, fp, tn, fn = (np.concatenate([curve, [a, b]]) for curve, a, b in
                      zip(c.curve_counts(), c.adaptive_counts(), c.binary_counts()))
    scores, values = {}, {}
    for m in {*metrics, "precision", "recall", "fpr"}:
        values[m] = confusion_formula(m, tp, fp, tn, fn, beta_sq=beta_sq)
    for m in metrics:
        v = values[m]
        curve = v[:256]
        scores[m] = ConfusionScores(curve, float(pysod_mean(curve)), float(curve.max()), float(v[256]),
                                    float(v[257]), float(v[257]))
    auc_pr, auc_roc = auc_from_curves(values["precision"][:256], values["recall"][:256], values["fpr"][:256])
    return ConfusionResult(scores, auc_pr, auc_roc, c)


def confusion_metrics(
    pred: Any, gt: Any, *, metrics: Sequence[str] | str = CONFUSION_METRICS, beta_sq: float = 0.3,
    normalize: bool = True,
) -> ConfusionResult | list[ConfusionResult]:
    r"""Binary-confusion metrics of one image (or each image of a batch): curves, mean, max, adaptive, binary.

    See the module docstring for the formulas and binarisations. Values are bit-identical to
    pysodmetrics 1.6.2 ``FmeasureV2`` with the matching handlers (per image).

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        metrics: subset of :data:`CONFUSION_METRICS` (aliases accepted), default all.
        beta_sq: β² of ``fmeasure`` (default 0.3), must be > 0.
        normalize: min-max normalise the prediction first (pysodmetrics default).

    Shapes:
        single pair → one :class:`ConfusionResult` with ``(256,)`` curves; batch → a list of them.

    Returns:
        :class:`ConfusionResult` (or a list). For dataset values use :class:`ConfusionAccumulator`
        (or :class:`segmetrics.DatasetMetrics`).

    Raises:
        TypeError: unsupported input type or dtype, wrongly typed option.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values, unknown metric.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
        >>> r = confusion_metrics(gt.astype(np.uint8) * 255, gt, metrics=("iou", "kappa"))
        >>> r["iou"].max, r["kappa"].binary, r.auc_roc
        (1.0, 1.0, 1.0)
    """
    names = _metric_names(metrics)
    check_positive(beta_sq, "beta_sq")
    counts = confusion_counts(pred, gt, normalize=normalize)
    if isinstance(counts, list):
        return [_image_result(c, names, float(beta_sq)) for c in counts]
    return _image_result(counts, names, float(beta_sq))


class _ConfusionOptions(SummedState):
    """The options of a confusion-family accumulator (metric names, β²), checked once; state from ``reset``."""

    _same_options = ("metrics", "beta_sq")
    _options_label = "metrics and beta_sq"

    def __init__(self, metrics: Sequence[str] | str = CONFUSION_METRICS, *, beta_sq: float = 0.3) -> None:
        self.metrics = _metric_names(metrics)
        check_positive(beta_sq, "beta_sq")
        self.beta_sq = float(beta_sq)
        self.reset()

    def reset(self) -> None:
        """Clear the state (each accumulator sets its own)."""
        raise NotImplementedError


class ConfusionAccumulator(_ConfusionOptions):
    """Dataset state of the confusion family: add per-image counts, merge, compute.

    The state is the sum of each metric's per-image curve and adaptive / binary values, the pooled
    binary counts (exact Python ints) and the sums of the precision / recall / FPR curves behind
    the AUCs: fixed size, picklable, mergeable. Fed in order, the dataset curves equal
    pysodmetrics' ``get_results`` bit for bit; adaptive / binary means agree within float rounding
    (pysod sums the per-image list pairwise).

    Args:
        metrics: subset of :data:`CONFUSION_METRICS` (aliases accepted), default all.
        beta_sq: β² of ``fmeasure`` (default 0.3).

    Raises:
        TypeError: wrongly typed option.
        ValueError: unknown metric, ``beta_sq <= 0``.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
        >>> acc = ConfusionAccumulator(metrics=("dice",))
        >>> acc.add(confusion_counts(gt.astype(np.uint8) * 255, gt))
        >>> acc.add(confusion_counts(np.zeros((8, 8), np.uint8), gt))
        >>> r = acc.compute()
        >>> r["dice"].binary, r["dice"].binary_dataset
        (0.5, 0.6666666666666666)
    """

    _summed = ("n_images", "_curves", "_adp", "_bin", "_pooled")

    def reset(self) -> None:
        """Clear the state (keeps the options)."""
        self.n_images = 0
        self._curves = {m: np.zeros(256) for m in (*self.metrics, "_p", "_r", "_f")}
        self._adp = dict.fromkeys(self.metrics, 0.0)
        self._bin = dict.fromkeys(self.metrics, 0.0)
        self._pooled = [0, 0, 0, 0]

    def add(self, counts: ConfusionCounts) -> None:
        """Add the counts of one image (from :func:`confusion_counts`).

        Raises:
            TypeError: if ``counts`` is not a :class:`ConfusionCounts`.
            ValueError: if its curves are not ``(256,)``.
        """
        if not isinstance(counts, ConfusionCounts):
            raise TypeError(f"`counts` must be a ConfusionCounts; got {type(counts).__name__}")
        if np.shape(counts.tp) != (256,) or np.shape(counts.fp) != (256,):  # checked before the state changes
            raise ValueError(f"`counts` must hold (256,) tp / fp curves; got shapes {np.shape(counts.tp)} and "
                             f"{np.shape(counts.fp)}")
        self.n_images += 1
        cc, ca, cb = counts.curve_counts(), counts.adaptive_counts(), counts.binary_counts()
        for m in self.metrics:
            self._curves[m] += confusion_formula(m, *cc, beta_sq=self.beta_sq)
            self._adp[m] += float(confusion_formula(m, *ca, beta_sq=self.beta_sq))
            self._bin[m] += float(confusion_formula(m, *cb, beta_sq=self.beta_sq))
        for key, m in (("_p", "precision"), ("_r", "recall"), ("_f", "fpr")):
            self._curves[key] += confusion_formula(m, *cc)
        for i, v in enumerate(cb):
            self._pooled[i] += int(v)

    def compute(self) -> ConfusionResult:
        """Dataset values (see the class docstring).

        Raises:
            ValueError: if no image was added.
        """
        n = self._images_added()
        scores = {}
        for m in self.metrics:
            curve = self._curves[m] / n
            pooled = float(confusion_formula(m, *self._pooled, beta_sq=self.beta_sq))
            scores[m] = ConfusionScores(curve, float(pysod_mean(curve)), float(curve.max()), self._adp[m] / n,
                                        self._bin[m] / n, pooled)
        auc_pr, auc_roc = auc_from_curves(self._curves["_p"] / n, self._curves["_r"] / n, self._curves["_f"] / n)
        return ConfusionResult(scores, auc_pr, auc_roc)
