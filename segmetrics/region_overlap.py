"""IoU (Jaccard) and Dice of a binarised prediction: fixed-threshold, adaptive and 256-threshold curves.

Binarisation (the same conventions as pysodmetrics' ``FmeasureV2`` IoU / Dice handlers, so the
numbers are identical):

* the prediction is first min-max normalised (``normalize=True``, pysod's default);
* **binary** (the headline ``iou`` / ``dice``): foreground where ``p > threshold`` with
  ``threshold = 0.5`` (strict ``>``, "simulating argmax");
* **adaptive**: foreground where ``p >= min(2 * mean(p), 1)`` (the adaptive threshold of the
  F-measure);
* **curve**: for each level ``k = 0..255``, foreground where ``uint8(p * 255) >= k`` (truncation, as
  the F-measure curve); the curves are returned in *ascending* threshold order.

``IoU = TP / (TP + FP + FN)`` and ``Dice = 2 TP / (2 TP + FP + FN)``. When the denominator is zero
(empty prediction on an empty ground truth) the value is ``zero_division`` (default ``0.0``, as
pysodmetrics; pass ``1.0`` to score an empty-on-empty prediction as perfect). Dataset values are
the mean over images (sample-based).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from segmetrics._inputs import check_bool, check_threshold, check_zero_division, prepare_pairs
from segmetrics._jit import njit
from segmetrics._normalize import minmax_normalize
from segmetrics.confusion import confusion_formula  # the one place the IoU / Dice formulas are written

__all__ = ["RegionOverlap", "dice", "iou", "region_overlap"]


@njit
def _overlap_counts(pred, gt, thr_bin, thr_adp):
    # One pass: 256-bin histograms of uint8(p*255) over GT fg / bg, binary and adaptive counts.
    h, w = pred.shape
    hist_fg = np.zeros(256, np.int64)
    hist_bg = np.zeros(256, np.int64)
    tp_b = 0
    fp_b = 0
    tp_a = 0
    fp_a = 0
    n_fg = 0
    for i in range(h):
        for j in range(w):
            p = pred[i, j]
            q = np.uint8(p * 255.0)
            if gt[i, j]:
                n_fg += 1
                hist_fg[q] += 1
                if p > thr_bin:
                    tp_b += 1
                if p >= thr_adp:
                    tp_a += 1
            else:
                hist_bg[q] += 1
                if p > thr_bin:
                    fp_b += 1
                if p >= thr_adp:
                    fp_a += 1
    return hist_fg, hist_bg, n_fg, tp_b, fp_b, tp_a, fp_a


@dataclass(frozen=True)
class RegionOverlap:
    """IoU and Dice of one image (see the module docstring for the binarisation rules).

    Attributes:
        iou: IoU of ``p > threshold``.
        dice: Dice of ``p > threshold``.
        adaptive_iou: IoU of ``p >= min(2 mean(p), 1)``.
        adaptive_dice: Dice at the adaptive threshold.
        iou_curve: ``(256,)`` IoU at thresholds ``k = 0..255`` (ascending), ``uint8(p*255) >= k``.
        dice_curve: ``(256,)`` Dice at the same thresholds.
    """

    iou: float
    dice: float
    adaptive_iou: float
    adaptive_dice: float
    iou_curve: np.ndarray
    dice_curve: np.ndarray


def _one(pred: np.ndarray, gt: np.ndarray, threshold: float, normalize: bool, zero_division: float) -> RegionOverlap:
    if normalize:
        pred = minmax_normalize(pred)
    thr_adp = min(2.0 * pred.mean(), 1.0)
    hist_fg, hist_bg, n_fg, tp_b, fp_b, tp_a, fp_a = _overlap_counts(pred, gt, float(threshold), float(thr_adp))
    return overlap_from_counts(hist_fg, hist_bg, n_fg, tp_b, fp_b, tp_a, fp_a, zero_division)


def overlap_from_counts(
    hist_fg: np.ndarray, hist_bg: np.ndarray, n_fg: int, tp_b: int, fp_b: int, tp_a: int, fp_a: int,
    zero_division: float = 0.0,
) -> RegionOverlap:
    """IoU and Dice from the level histograms (GT foreground / background) and the binary / adaptive counts.

    Shared by :func:`region_overlap` and the fused pass (:func:`segmetrics.compute_all`), which
    takes the histograms and the adaptive counts from the statistics it already has.
    """
    # >= k for k = 0..255: reverse cumulative sums (ascending thresholds).
    tps = np.cumsum(hist_fg[::-1])[::-1]
    fps = np.cumsum(hist_bg[::-1])[::-1]

    def both(tp: Any, fp: Any) -> tuple[np.ndarray, np.ndarray]:  # TN is not used by IoU / Dice
        return tuple(confusion_formula(m, tp, fp, 0, n_fg - tp, zero_division=zero_division)
                     for m in ("iou", "dice"))

    iou_curve, dice_curve = both(tps, fps)
    iou_b, dice_b = both(tp_b, fp_b)
    iou_a, dice_a = both(tp_a, fp_a)
    return RegionOverlap(
        iou=float(iou_b), dice=float(dice_b), adaptive_iou=float(iou_a), adaptive_dice=float(dice_a),
        iou_curve=iou_curve, dice_curve=dice_curve,
    )


def _check_args(threshold: float, normalize: bool, zero_division: float) -> None:
    check_threshold(threshold, "threshold")
    check_bool(normalize, "normalize")
    check_zero_division(zero_division)


def region_overlap(
    pred: Any,
    gt: Any,
    *,
    threshold: float = 0.5,
    normalize: bool = True,
    zero_division: float = 0.0,
) -> RegionOverlap | list[RegionOverlap]:
    """IoU and Dice at a fixed threshold, at the adaptive threshold and over 256 thresholds.

    ``IoU = TP / (TP + FP + FN)``, ``Dice = 2 TP / (2 TP + FP + FN)``; binarisation as in the module
    docstring (pysodmetrics ``FmeasureV2`` conventions).

    Args:
        pred: prediction ``(H, W)`` (uint8 0..255, bool or float in ``[0, 1]``) or a batch.
        gt: ground truth, same structure (bool, uint8 ``> 128``, 0/1 integers or float).
        threshold: fixed binarisation threshold in ``[0, 1)``, foreground where ``p > threshold``.
        normalize: min-max normalise the prediction first (default ``True``, pysod).
        zero_division: value when ``TP + FP + FN = 0``: ``0.0`` (default, pysod) or ``1.0``.

    Shapes:
        pred, gt: ``(H, W)``, ``(N, H, W)``, ``(N, 1, H, W)`` or a list of ``(H, W)`` maps.

    Returns:
        A :class:`RegionOverlap` for one image, a list of them for a batch.

    Raises:
        TypeError: for unsupported input types or dtypes, a non-bool ``normalize`` (e.g. ``"False"``).
        ValueError: for mismatched shapes, invalid values or arguments.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
        >>> r = region_overlap(gt.astype(np.uint8) * 255, gt)
        >>> r.iou, r.dice
        (1.0, 1.0)
    """
    _check_args(threshold, normalize, zero_division)
    pairs, batched = prepare_pairs(pred, gt)
    out = [_one(p, g, threshold, normalize, zero_division) for p, g in pairs]
    return out if batched else out[0]


def iou(pred: Any, gt: Any, *, threshold: float = 0.5, normalize: bool = True, zero_division: float = 0.0) -> Any:
    """Intersection over union of ``p > threshold`` (after min-max normalisation) and the GT.

    ``IoU = TP / (TP + FP + FN)``; see :func:`region_overlap` for the arguments and conventions.

    Returns:
        A float for one image, a ``(N,)`` float64 array for a batch.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((4, 4), bool); gt[:2] = True
        >>> iou(np.where(gt, 200, 10).astype(np.uint8), gt)
        1.0
    """
    res = region_overlap(pred, gt, threshold=threshold, normalize=normalize, zero_division=zero_division)
    return np.array([r.iou for r in res]) if isinstance(res, list) else res.iou


def dice(pred: Any, gt: Any, *, threshold: float = 0.5, normalize: bool = True, zero_division: float = 0.0) -> Any:
    """Dice coefficient of ``p > threshold`` (after min-max normalisation) and the GT.

    ``Dice = 2 TP / (2 TP + FP + FN)``; see :func:`region_overlap` for the arguments and conventions.

    Returns:
        A float for one image, a ``(N,)`` float64 array for a batch.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((4, 4), bool); gt[:2] = True
        >>> dice(np.where(gt, 200, 10).astype(np.uint8), gt)
        1.0
    """
    res = region_overlap(pred, gt, threshold=threshold, normalize=normalize, zero_division=zero_division)
    return np.array([r.dice for r in res]) if isinstance(res, list) else res.dice
