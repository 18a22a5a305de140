r"""Size-invariant confusion metrics and MAE (Li et al., "Size-invariance matters", ICML 2024).

Multi-object images are scored **per object**, so that small objects count as much as large ones.
The objects are the 4-connected components of the GT with at least ``min_area`` pixels (default
50); if none is that large, the largest component(s) (all of the largest area) are used. Each
object ``k`` is represented by its bounding box ``B_k``.

* **SI confusion metrics** (pysodmetrics ``SizeInvarianceFmeasureV2``): for each object, the
  prediction and the GT are restricted to ``B_k`` (set to 0 outside it) and scored on the whole
  image exactly as :mod:`segmetrics.confusion` does (256-level curves, adaptive threshold
  ``min(2 mean, 1)`` of the restricted map, binary ``> 0.5``; counts over all ``H W`` pixels, so the
  pixels outside the box are true negatives, or false positives at level 0 where every pixel is
  foreground). Per image, each value is the mean over its objects (``max`` / ``mean`` of each
  object's curve, then averaged). A GT without foreground is scored once on the whole image.
* **SI-MAE** (pysodmetrics ``SizeInvarianceMAE``): with ``T`` objects, ``U`` the pixels outside
  every box and ``ρ = |U| / (HW − |U|)``:

  .. math::

      \mathrm{SI\text{-}MAE} = \frac{1}{T + ρ}\Big(ρ \frac{\sum_U |P̂ − G|}{|U|}
          + \sum_k \frac{\sum_{B_k} |P̂ − G|}{|B_k|}\Big)

  (plain MAE for a GT without foreground).

Dataset values (:class:`SizeInvariantAccumulator`), as pysodmetrics' test suite reduces them:
*sample-based* values (``max``, ``mean``, ``adaptive``, ``binary``, ``auc_*``) are means over
images of the per-image values; *overall* values average the curves of all objects of all images
(``curve``, ``max_overall``, ``mean_overall``, ``auc_*_overall``) or pool their binary counts
(``binary_dataset``).

Differences from pysodmetrics 1.6.2 (everything else is identical: curves and counts bit for bit,
means within float rounding, SI-MAE within 1e-12 because its sums are compensated):

* a GT whose foreground fills the whole image makes pysodmetrics fail (``AssertionError`` on the
  empty background); here it is one object whose box is the image;
* when the boxes cover the whole image (``|U| = 0``) pysodmetrics' SI-MAE is NaN (0/0); here the
  ``U`` term is 0, so SI-MAE is the mean of the per-box MAEs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segmetrics._inputs import check_int, check_positive, prepare_pairs
from segmetrics._kernels import size_invariance as _k
from segmetrics._sod_core import ImageStats, check_bool, image_stats, normalized_map, pysod_mean
from segmetrics.confusion import (
    BINARY_THRESHOLD,
    CONFUSION_METRICS,
    ConfusionCounts,
    _ConfusionOptions,
    _metric_names,
    _sorted_trapezoid,
    confusion_formula,
)

__all__ = [
    "DEFAULT_MIN_AREA",
    "SizeInvariantAccumulator",
    "SizeInvariantResult",
    "SizeInvariantScores",
    "size_invariant_metrics",
    "size_invariant_objects",
]

#: Objects smaller than this many pixels are ignored (unless no object is that large).
DEFAULT_MIN_AREA = 50
_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
_DUMMY_F = np.zeros(1)
_DUMMY_U8 = np.zeros(1, np.uint8)


def size_invariant_objects(gt: np.ndarray, min_area: int = DEFAULT_MIN_AREA) -> np.ndarray:
    """Bounding boxes ``(T, 4)`` int64 rows ``(r0, r1, c0, c1)`` (half-open) of the scored GT objects.

    Objects are 4-connected components in raster order of their first pixel, kept if their area
    is ``>= min_area``, else (when none is kept) all components of the largest area.

    Args:
        gt: ``(H, W)`` boolean mask (validated).
        min_area: minimum object area in pixels.

    Returns:
        ``(T, 4)`` boxes; ``T = 0`` when the GT has no foreground.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((20, 20), bool); gt[1:9, 1:9] = True; gt[12:14, 12:19] = True
        >>> size_invariant_objects(gt).tolist()
        [[1, 9, 1, 9]]
        >>> size_invariant_objects(gt, min_area=10).tolist()
        [[1, 9, 1, 9], [12, 14, 12, 19]]
    """
    from scipy import ndimage

    labels, n = ndimage.label(gt, structure=_CROSS)
    if n == 0:
        return np.zeros((0, 4), np.int64)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    keep = areas >= min_area
    if not keep.any():
        keep = areas == areas.max()
    slices = ndimage.find_objects(labels)
    return np.array([(s[0].start, s[0].stop, s[1].start, s[1].stop) for s, k in zip(slices, keep) if k], np.int64)


@dataclass(frozen=True)
class SizeInvariantScores:
    """One SI confusion metric of one image or of a dataset.

    Attributes:
        curve: ``(256,)`` mean over objects of the per-object curves (dataset: over all objects).
        max: mean over objects of each object's curve maximum (dataset: mean over images).
        mean: mean over objects of each object's curve mean (dataset: mean over images).
        adaptive: mean over objects of the adaptive value (dataset: mean over images).
        binary: mean over objects of the ``> 0.5`` value (dataset: mean over images).
        max_overall: maximum of ``curve``.
        mean_overall: mean of ``curve``.
        binary_dataset: value of the binary counts pooled over all objects (and images).
    """

    curve: np.ndarray
    max: float
    mean: float
    adaptive: float
    binary: float
    max_overall: float
    mean_overall: float
    binary_dataset: float


@dataclass(frozen=True)
class SizeInvariantResult:
    """Size-invariant metrics of one image or a dataset: ``result["fmeasure"].max``, ``result.mae``.

    Attributes:
        scores: metric key → :class:`SizeInvariantScores` (the requested confusion metrics).
        mae: SI-MAE (dataset: mean over images).
        auc_pr: mean over objects of the per-object AUC-PR (dataset: mean over images).
        auc_roc: mean over objects of the per-object AUC-ROC (dataset: mean over images).
        auc_pr_overall: AUC-PR of the objects' mean curves.
        auc_roc_overall: AUC-ROC of the objects' mean curves.
        n_objects: number of scored objects (dataset: in total).
        objects: per-object counts (one image only; empty for a dataset).
        beta_sq: the β² of ``fmeasure`` the values were computed with.
    """

    scores: dict[str, SizeInvariantScores]
    mae: float
    auc_pr: float
    auc_roc: float
    auc_pr_overall: float
    auc_roc_overall: float
    n_objects: int
    objects: tuple[ConfusionCounts, ...] = ()
    beta_sq: float = 0.3

    def __getitem__(self, key: str) -> SizeInvariantScores:
        from segmetrics.confusion import _canonical

        return self.scores[_canonical(key)]

    def __getattr__(self, name: str) -> Any:
        """Flat access ``result.iou_max`` (``<metric>_<field>``, e.g. for the metric table)."""
        metric, _, fld = name.rpartition("_")
        scores = self.__dict__.get("scores", {})
        if metric in scores and fld in ("max", "mean", "adaptive", "binary"):
            return getattr(scores[metric], fld)
        raise AttributeError(f"'SizeInvariantResult' object has no attribute {name!r}")

    def object_curve_sum(self, metric: str, beta_sq: float) -> np.ndarray:
        """Sum over this image's objects of their ``metric`` curves (for dataset 'overall' values)."""
        return np.sum([confusion_formula(metric, *o.curve_counts(), beta_sq=beta_sq) for o in self.objects], axis=0)

    @property
    def binary_counts(self) -> np.ndarray:
        """``(TP, FP, TN, FN)`` of the binary maps summed over this image's objects, float64."""
        return np.sum([o.binary_counts() for o in self.objects], axis=0).astype(np.float64)


@dataclass(frozen=True)
class _ImageParts:
    objects: tuple[ConfusionCounts, ...]
    mae: float
    n_boxes: int


def si_parts(p: np.ndarray, g: np.ndarray, st: ImageStats, min_area: int) -> _ImageParts:
    """Per-object counts and the SI-MAE of one canonical pair (private entry of the fused pass)."""
    h, w = g.shape
    n = h * w
    boxes = size_invariant_objects(g, min_area)
    use_lut = p.dtype == np.uint8
    pf, pu = (_DUMMY_F, p.ravel()) if use_lut else (p.ravel(), _DUMMY_U8)
    lut = st.lut if st.lut is not None else _DUMMY_F
    gf = g.ravel()
    args = (pf, pu, gf, lut, use_lut, st.lo, st.d, st.donorm, w)
    if len(boxes) == 0:
        from segmetrics.confusion import counts_from_stats

        return _ImageParts((counts_from_stats(p, g, st),), st.mae, 0)
    objects = []
    box_terms = []
    covered = np.zeros((h, w), np.uint8)
    for r0, r1, c0, c1 in boxes:
        hist = np.zeros((2, 256), np.int64)
        s, a, tpb, fpb = _k.box_pass(*args, r0, r1, c0, c1, BINARY_THRESHOLD, hist)
        area = (r1 - r0) * (c1 - c0)
        hist[1, 0] += n - area  # outside the box: value 0, GT background
        thr = min(2 * (s / n), 1.0)
        tpa, fpa, tie = _k.box_adaptive(*args, r0, r1, c0, c1, thr)
        if tie:  # replay numpy's mean of the masked map to decide the tied pixels exactly
            masked = np.zeros((h, w))
            masked[r0:r1, c0:c1] = normalized_map(p, st)[r0:r1, c0:c1]
            thr = min(2 * masked.mean(), 1)
            tpa, fpa, _ = _k.box_adaptive(*args, r0, r1, c0, c1, thr)
        if thr <= 0:
            fpa += n - area  # every pixel outside the box is 0 >= 0
        objects.append(ConfusionCounts(
            n=n, n_fg=int(hist[0].sum()), tp=np.cumsum(hist[0, ::-1])[::-1], fp=np.cumsum(hist[1, ::-1])[::-1],
            tp_adaptive=int(tpa), fp_adaptive=int(fpa), tp_binary=int(tpb), fp_binary=int(fpb),
        ))
        box_terms.append(a / area)
        covered[r0:r1, c0:c1] = 1
    n_bg = n - int(covered.sum())
    t = len(boxes)
    ratio = n_bg / (n - n_bg)
    factor = 1 / (t + ratio)
    mae = 0.0
    if n_bg > 0:
        mae = ratio * _k.uncovered_abs_sum(pf, pu, gf, lut, use_lut, st.lo, st.d, st.donorm, covered.ravel()) / n_bg
        mae *= factor
    for term in box_terms:
        mae += term * factor
    return _ImageParts(tuple(objects), float(mae), t)


def _object_values(c: ConfusionCounts, m: str, beta_sq: float) -> tuple[np.ndarray, float, float]:
    curve = confusion_formula(m, *c.curve_counts(), beta_sq=beta_sq)
    return (curve, float(confusion_formula(m, *c.adaptive_counts(), beta_sq=beta_sq)),
            float(confusion_formula(m, *c.binary_counts(), beta_sq=beta_sq)))


def _aucs(objects: Sequence[ConfusionCounts]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cc = [o.curve_counts() for o in objects]
    prec = np.stack([confusion_formula("precision", *c) for c in cc])
    rec = np.stack([confusion_formula("recall", *c) for c in cc])
    fpr = np.stack([confusion_formula("fpr", *c) for c in cc])
    return prec, rec, fpr


def _image_result(parts: _ImageParts, metrics: tuple[str, ...], beta_sq: float) -> SizeInvariantResult:
    scores = {}
    objs = parts.objects
    pooled = np.sum([o.binary_counts() for o in objs], axis=0, dtype=object)
    for m in metrics:
        vals = [_object_values(o, m, beta_sq) for o in objs]
        curves = np.stack([v[0] for v in vals])
        curve = curves.mean(axis=0)
        scores[m] = SizeInvariantScores(
            curve=curve, max=float(curves.max(axis=-1).mean()), mean=float(pysod_mean(curves).mean()),
            adaptive=float(np.mean([v[1] for v in vals])), binary=float(np.mean([v[2] for v in vals])),
            max_overall=float(curve.max()), mean_overall=float(pysod_mean(curve)),
            binary_dataset=float(confusion_formula(m, *pooled, beta_sq=beta_sq)),
        )
    prec, rec, fpr = _aucs(objs)
    return SizeInvariantResult(
        scores, parts.mae, float(_sorted_trapezoid(prec, rec).mean()), float(_sorted_trapezoid(rec, fpr).mean()),
        float(_sorted_trapezoid(prec.mean(0), rec.mean(0))), float(_sorted_trapezoid(rec.mean(0), fpr.mean(0))),
        len(objs), objs, beta_sq,
    )


def size_invariant_metrics(
    pred: Any, gt: Any, *, metrics: Sequence[str] | str = CONFUSION_METRICS, beta_sq: float = 0.3,
    min_area: int = DEFAULT_MIN_AREA, normalize: bool = True,
) -> SizeInvariantResult | list[SizeInvariantResult]:
    r"""Size-invariant confusion metrics (Fβ, IoU, ...) and SI-MAE of one image or each image of a batch.

    See the module docstring for the definitions. Per image, the curves and counts equal
    pysodmetrics 1.6.2 ``SizeInvarianceFmeasureV2`` bit for bit and SI-MAE equals
    ``SizeInvarianceMAE`` within 1e-12.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        metrics: subset of :data:`segmetrics.confusion.CONFUSION_METRICS` (aliases accepted).
        beta_sq: β² of ``fmeasure`` (default 0.3), must be > 0.
        min_area: minimum object area in pixels (default 50), must be > 0.
        normalize: min-max normalise the prediction first (pysodmetrics default).

    Shapes:
        single pair → one :class:`SizeInvariantResult` (``(256,)`` curves); batch → a list.

    Returns:
        :class:`SizeInvariantResult` (or a list of them).

    Raises:
        TypeError: unsupported input type or dtype, wrongly typed option.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values, unknown metric,
            non-positive ``beta_sq`` or ``min_area``.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((32, 32), bool); gt[2:12, 2:12] = True; gt[20:28, 20:28] = True
        >>> pred = np.zeros((32, 32), np.uint8); pred[2:12, 2:12] = 255  # misses the small object
        >>> r = size_invariant_metrics(pred, gt, metrics=("recall",))
        >>> r.n_objects, r["recall"].binary, round(r.mae, 4)
        (2, 0.5, 0.138)
    """
    names = _metric_names(metrics)
    check_positive(beta_sq, "beta_sq")
    area = check_int(min_area, "min_area", minimum=1)
    norm = check_bool(normalize, "normalize")
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    out = [_image_result(si_parts(p, g, image_stats(p, g, normalize=norm), area), names, float(beta_sq))
           for p, g in pairs]
    return out if batched else out[0]


class SizeInvariantAccumulator(_ConfusionOptions):
    """Dataset state of the size-invariant family (fixed size, mergeable); see the module docstring.

    Args:
        metrics: subset of :data:`segmetrics.confusion.CONFUSION_METRICS` (aliases accepted).
        beta_sq: β² of ``fmeasure`` (default 0.3).

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((32, 32), bool); gt[2:12, 2:12] = True; gt[20:28, 20:28] = True
        >>> acc = SizeInvariantAccumulator(metrics=("iou",))
        >>> acc.add(size_invariant_metrics(gt.astype(np.uint8) * 255, gt))
        >>> r = acc.compute()
        >>> r["iou"].binary, r.n_objects
        (1.0, 2)
    """

    _SAMPLE = ("max", "mean", "adaptive", "binary")
    _summed = ("n_images", "n_objects", "_sample", "_curves", "_pooled", "_mae", "_auc")

    def reset(self) -> None:
        """Clear the state (keeps the options)."""
        self.n_images = 0
        self.n_objects = 0
        self._sample = {(m, f): 0.0 for m in self.metrics for f in self._SAMPLE}
        self._curves = {m: np.zeros(256) for m in (*self.metrics, "_p", "_r", "_f")}
        self._pooled = [0, 0, 0, 0]
        self._mae = 0.0
        self._auc = [0.0, 0.0]

    def add(self, r: SizeInvariantResult) -> None:
        """Add one image's :class:`SizeInvariantResult` (computed with the same metrics and β²).

        Raises:
            TypeError: if ``r`` is not a :class:`SizeInvariantResult` of one image.
            ValueError: if ``r`` lacks one of this accumulator's metrics, or was computed with another β².
        """
        if not isinstance(r, SizeInvariantResult) or not r.objects:
            raise TypeError(f"`r` must be the SizeInvariantResult of one image; got {type(r).__name__}")
        missing = [m for m in self.metrics if m not in r.scores]
        if missing:
            raise ValueError(f"`r` must hold the metrics {self.metrics}; missing {missing}")
        if r.beta_sq != self.beta_sq:  # its per-image F values would be mixed with curves of this beta_sq
            raise ValueError(f"`r` must be computed with this accumulator's beta_sq={self.beta_sq}; "
                             f"got beta_sq={r.beta_sq}")
        self.n_images += 1
        self.n_objects += r.n_objects
        for m in self.metrics:
            s = r.scores[m]
            for f in self._SAMPLE:
                self._sample[m, f] += getattr(s, f)
            for o in r.objects:
                self._curves[m] += confusion_formula(m, *o.curve_counts(), beta_sq=self.beta_sq)
        prec, rec, fpr = _aucs(r.objects)
        self._curves["_p"] += prec.sum(0)
        self._curves["_r"] += rec.sum(0)
        self._curves["_f"] += fpr.sum(0)
        for o in r.objects:
            for i, v in enumerate(o.binary_counts()):
                self._pooled[i] += int(v)
        self._mae += r.mae
        self._auc[0] += r.auc_pr
        self._auc[1] += r.auc_roc

    def compute(self) -> SizeInvariantResult:
        """Dataset values.

        Raises:
            ValueError: if no image was added.
        """
        n, t = self._images_added(), self.n_objects
        scores = {}
        for m in self.metrics:
            curve = self._curves[m] / t
            scores[m] = SizeInvariantScores(
                curve, *(self._sample[m, f] / n for f in self._SAMPLE), float(curve.max()),
                float(pysod_mean(curve)), float(confusion_formula(m, *self._pooled, beta_sq=self.beta_sq)),
            )
        p, r, f = (self._curves[k] / t for k in ("_p", "_r", "_f"))
        return SizeInvariantResult(scores, self._mae / n, self._auc[0] / n, self._auc[1] / n,
                                   float(_sorted_trapezoid(p, r)), float(_sorted_trapezoid(r, f)), t,
                                   beta_sq=self.beta_sq)
