"""Shared per-image statistics for F-, E-, S-measure and MAE (private).

One call to :func:`image_stats` runs the numba passes over one validated ``(pred, gt)`` pair and
returns the small summary every metric is computed from: the two 256-bin histograms of the
quantised prediction over the GT foreground / background, the numpy-exact sums behind the mean
and the MAE, the adaptive-threshold counts and (on request) the S-measure.

The curve formulas below are written with the same float64 operations, in the same order, as
pysodmetrics 1.6, so that every value is bit-identical to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segmetrics._kernels import sod as _k

__all__ = [
    "EPS",
    "THRESHOLDS",
    "ImageStats",
    "em_adaptive",
    "em_curve",
    "fm_adaptive",
    "fm_curves",
    "image_stats",
    "pysod_mean",
]

#: MATLAB's ``eps`` as used by pysodmetrics.
EPS = float(np.spacing(1.0))
#: The 256 curve thresholds (uint8 levels), ascending: level ``k`` keeps pixels with ``trunc(255 P) >= k``.
THRESHOLDS = np.arange(256, dtype=np.int64)
THRESHOLDS.setflags(write=False)


@dataclass
class ImageStats:
    """Summary of one image shared by the metrics (all counts are exact integers)."""

    n: int
    n_fg: int
    hist_fg: np.ndarray  # (256,) int64, quantised level of GT-foreground pixels
    hist_bg: np.ndarray  # (256,) int64, quantised level of GT-background pixels
    sum_pred: float  # numpy-exact sum of the normalised prediction
    sum_abs: float  # numpy-exact sum of |P - G|
    thr: float  # adaptive threshold min(2 * mean, 1)
    tp: int  # adaptive binarisation (>=) true positives
    fp: int  # adaptive binarisation (>=) false positives
    strict: tuple | None = None  # (hist_fg, hist_bg, tp, fp) for P > t (MATLAB E-measure)
    sm: float | None = None
    lo: float = 0.0
    d: float = 1.0
    donorm: bool = False

    @property
    def mean(self) -> float:
        return self.sum_pred / self.n

    @property
    def mae(self) -> float:
        return self.sum_abs / self.n


def image_stats(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    normalize: bool = True,
    strict: bool = False,
    smeasure: bool = False,
    alpha: float = 0.5,
    s_matlab: bool = False,
    avoid_nan: bool = False,
) -> ImageStats:
    """Run the fused passes on one canonical pair (float64 pred in [0, 1], bool gt)."""
    h, w = pred.shape
    p = pred.ravel()
    g = gt.ravel()
    lo, hi, nfg, sr, sc = _k.minmax_gt(p, g, w)
    donorm = bool(normalize and hi != lo)
    d = hi - lo if donorm else 1.0
    hist_fg = np.zeros(256, np.int64)
    hist_bg = np.zeros(256, np.int64)
    sum_pred, sum_abs = _k.full_pass(p, g, lo, d, donorm, hist_fg, hist_bg)
    n = h * w
    thr = min(2 * (sum_pred / n), 1)
    tp, fp = _k.adaptive_counts(p, g, lo, d, donorm, thr, False)
    st = None
    if strict:
        sh_fg = np.zeros(256, np.int64)
        sh_bg = np.zeros(256, np.int64)
        _k.strict_hist(p, g, lo, d, donorm, sh_fg, sh_bg)
        stp, sfp = _k.adaptive_counts(p, g, lo, d, donorm, thr, True)
        st = (sh_fg, sh_bg, int(stp), int(sfp))
    sm = None
    if smeasure:
        sm = float(
            _k.smeasure_image(p, g, h, w, lo, d, donorm, float(alpha), nfg, sr, sc, sum_pred, s_matlab, avoid_nan)
        )
    return ImageStats(
        n=n, n_fg=int(nfg), hist_fg=hist_fg, hist_bg=hist_bg, sum_pred=float(sum_pred), sum_abs=float(sum_abs),
        thr=float(thr), tp=int(tp), fp=int(fp), strict=st, sm=sm, lo=float(lo), d=float(d), donorm=donorm,
    )


def _cum_ge(hist: np.ndarray) -> np.ndarray:
    """Counts of pixels at level >= k for k = 0..255 (ascending)."""
    return np.cumsum(hist[::-1])[::-1]


def fm_curves(hist_fg: np.ndarray, hist_bg: np.ndarray, n_fg: int, beta_sq: float):
    """Precision, recall and F curves (ascending thresholds), pysodmetrics' float operations."""
    tps = _cum_ge(hist_fg)
    ps = tps + _cum_ge(hist_bg)
    ps[ps == 0] = 1
    t = max(n_fg, 1)
    precision = tps / ps
    recall = tps / t
    numerator = (1 + beta_sq) * precision * recall
    denominator = np.where(numerator == 0, 1, beta_sq * precision + recall)
    return precision, recall, numerator / denominator


def fm_adaptive(tp: int, fp: int, n_fg: int, beta_sq: float) -> float:
    """Adaptive F from the counts of the binary map (0 when there is no true positive)."""
    if tp == 0:
        return 0.0
    pre = np.float64(tp) / np.float64(tp + fp)
    rec = np.float64(tp) / np.float64(n_fg)
    return float((1 + beta_sq) * pre * rec / (beta_sq * pre + rec))


def em_curve(hist_fg: np.ndarray, hist_bg: np.ndarray, n_fg: int, n: int) -> np.ndarray:
    """E-measure curve (ascending thresholds) from the two histograms (closed form of pysod)."""
    fg_fg = _cum_ge(hist_fg)
    fg_bg = _cum_ge(hist_bg)
    pred_fg = fg_fg + fg_bg
    pred_bg = n - pred_fg
    if n_fg == 0:
        total = pred_bg
    elif n_fg == n:
        total = pred_fg
    else:
        bg_fg = n_fg - fg_fg
        bg_bg = pred_bg - bg_fg
        mean_pred = pred_fg / n
        mean_gt = n_fg / n
        p1 = 1 - mean_pred
        p0 = 0 - mean_pred
        g1 = 1 - mean_gt
        g0 = 0 - mean_gt
        parts = []
        for numel, a, b in ((fg_fg, p1, g1), (fg_bg, p1, g0), (bg_fg, p0, g1), (bg_bg, p0, g0)):
            align = 2 * (a * b) / (a**2 + b**2 + EPS)
            parts.append((align + 1) ** 2 / 4 * numel)
        total = ((parts[0] + parts[1]) + parts[2]) + parts[3]
    return total / (n - 1 + EPS)


def em_adaptive(tp: int, fp: int, n_fg: int, n: int) -> float:
    """E-measure of one binary map given its TP/FP counts (pysod's scalar formula)."""
    pred_fg = tp + fp
    pred_bg = n - pred_fg
    if n_fg == 0:
        total = pred_bg
    elif n_fg == n:
        total = pred_fg
    else:
        bg_fg = n_fg - tp
        bg_bg = pred_bg - bg_fg
        mean_pred = pred_fg / n
        mean_gt = n_fg / n
        p1 = 1 - mean_pred
        p0 = 0 - mean_pred
        g1 = 1 - mean_gt
        g0 = 0 - mean_gt
        total = 0
        for numel, a, b in ((tp, p1, g1), (fp, p1, g0), (bg_fg, p0, g1), (bg_bg, p0, g0)):
            align = 2 * (a * b) / (a**2 + b**2 + EPS)
            total = total + (align + 1) ** 2 / 4 * numel
    return float(total / (n - 1 + EPS))


def pysod_mean(curve: np.ndarray) -> np.ndarray:
    """``np.mean`` over the last axis in pysodmetrics' descending-threshold memory order (same rounding)."""
    return np.ascontiguousarray(curve[..., ::-1]).mean(axis=-1)
