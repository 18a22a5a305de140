"""Shared per-image statistics for F-, E-, S-measure and MAE (private).

One call to :func:`image_stats` runs the numba passes over one validated ``(pred, gt)`` pair and
returns the small summary every metric is computed from: the two 256-bin histograms of the
quantised prediction over the GT foreground / background, the sums behind the mean and the MAE,
the adaptive-threshold counts and (on request) the S-measure.

Float predictions go through kernels that replay numpy's summation order (every value
bit-identical to pysodmetrics 1.6). uint8 predictions are summarised by one pass that counts the
256 raw levels per S-measure block and GT class; the sums are then 256-term compensated sums,
within a few ulps of the reference's (1e-10 is the guaranteed parity), while the histograms,
curves and adaptive counts stay exact: a level tied with the adaptive threshold, or a constant
SSIM block, sends the image back to the numpy-order kernels (see ``lut_image_kernel``).

The curve formulas below are written with the same float64 operations, in the same order, as
pysodmetrics 1.6, so that every curve is bit-identical to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from segmetrics._inputs import check_bool
from segmetrics._kernels import sod as _k
from segmetrics._normalize import uint8_level_values

__all__ = [
    "EPS",
    "THRESHOLDS",
    "ImageStats",
    "check_bool",
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
    lo: float = 0.0  # min of the canonical prediction
    d: float = 1.0  # max - min (1 when not normalised)
    donorm: bool = False  # whether min-max normalisation was applied
    lut: np.ndarray | None = None  # normalised value of each uint8 level (uint8 input only)
    raw: np.ndarray | None = None  # (2, 256) raw-level counts (GT fg, bg) of a uint8 input (when ``fe``)

    @property
    def mean(self) -> float:
        return self.sum_pred / self.n

    @property
    def mae(self) -> float:
        return self.sum_abs / self.n


_NO_LUT = np.zeros(256)
_DUMMY_F = np.zeros(1)
_DUMMY_U8 = np.zeros(1, np.uint8)


def image_stats(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    normalize: bool = True,
    fe: bool = True,
    strict: bool = False,
    smeasure: bool = False,
    alpha: float = 0.5,
    s_matlab: bool = False,
    avoid_nan: bool = False,
) -> ImageStats:
    """Run the fused passes on one canonical pair (uint8 or float64-in-[0, 1] pred, bool gt).

    ``fe=False`` skips what only the F- / E-measure need (histograms, adaptive counts); with
    ``smeasure=False`` too, only the MAE sum is computed.
    """
    h, w = pred.shape
    p = pred.ravel()
    g = gt.ravel()
    use_lut = pred.dtype == np.uint8
    if use_lut and not smeasure:
        st = _uint8_stats(p, g, normalize, strict)
        if st is not None:
            return st
    pf, pu = (_DUMMY_F, p) if use_lut else (p, _DUMMY_U8)
    lo, hi, nfg, sr, sc = _k.scan_stats(pf, pu, use_lut, g, h, w)
    if use_lut:
        lo, hi = lo / 255.0, hi / 255.0
    lo, hi = float(lo), float(hi)
    donorm = bool(normalize and hi != lo)
    d = hi - lo if donorm else 1.0
    lut = uint8_level_values(lo, d, donorm) if use_lut else _NO_LUT
    hist = np.zeros((8, 256), np.int64)
    raw = np.zeros((2, 256), np.int64)
    hazard = False
    if use_lut:  # level histograms; falls back to the numpy-order kernels on a rounding-sensitive tie
        sum_pred, sum_abs, thr, tp, fp, sm, hazard = _k.lut_image_kernel(
            pu, g, h, w, lut, nfg, sr, sc, bool(smeasure), float(alpha), bool(s_matlab), bool(avoid_nan), hist, raw,
        )
    if not use_lut and not fe and not smeasure:
        sum_abs = _k.abs_error_sum(pf, pu, g, lut, use_lut, lo, d, donorm)
        sum_pred, thr, tp, fp, sm = np.nan, np.nan, 0, 0, np.nan
    elif not use_lut or hazard:
        sum_pred, sum_abs, thr, tp, fp, sm = _k.image_kernel(
            pf, pu, g, h, w, lut, use_lut, lo, d, donorm, nfg, sr, sc, bool(fe), bool(smeasure), float(alpha),
            bool(s_matlab), bool(avoid_nan), hist, raw,
        )
    st = None
    if strict:
        sh = np.zeros((2, 256), np.int64)
        if use_lut and fe:
            stp, sfp = _k.strict_from_raw(raw, lut, thr, sh)
        else:
            stp, sfp = _k.strict_pass(pf, pu, g, lut, use_lut, lo, d, donorm, thr, sh)
        st = (sh[0], sh[1], int(stp), int(sfp))
    return ImageStats(
        n=h * w, n_fg=int(nfg), hist_fg=hist[4:].sum(axis=0), hist_bg=hist[:4].sum(axis=0), sum_pred=float(sum_pred),
        sum_abs=float(sum_abs), thr=float(thr), tp=int(tp), fp=int(fp), strict=st,
        sm=float(sm) if smeasure else None, lo=lo, d=float(d), donorm=donorm,
        lut=lut if use_lut else None, raw=raw if use_lut and fe else None,
    )


def _uint8_stats(pu: np.ndarray, g: np.ndarray, normalize: bool, strict: bool) -> ImageStats | None:
    """Every statistic but the S-measure of a flat uint8 map from one level-histogram pass.

    Returns ``None`` when a present level ties with the adaptive threshold (the caller then runs the
    numpy-order kernels, as :func:`image_stats` does for the S-measure path).
    """
    raw = np.zeros((2, 256), np.int64)
    _k.level_hist(pu, g, raw)
    present = np.flatnonzero(raw[0] + raw[1])
    lo, hi = float(present[0]) / 255.0, float(present[-1]) / 255.0
    donorm = bool(normalize and hi != lo)
    d = hi - lo if donorm else 1.0
    lut = uint8_level_values(lo, d, donorm)
    sum_pred, sum_abs, thr, tp, fp, hazard = _k.raw_summary(raw, lut, g.size)
    if hazard:
        return None
    hist = np.zeros((8, 256), np.int64)
    _k._fold_levels(raw, lut, hist)
    st = None
    if strict:
        sh = np.zeros((2, 256), np.int64)
        stp, sfp = _k.strict_from_raw(raw, lut, thr, sh)
        st = (sh[0], sh[1], int(stp), int(sfp))
    return ImageStats(
        n=g.size, n_fg=int(raw[0].sum()), hist_fg=hist[4].copy(), hist_bg=hist[0].copy(), sum_pred=float(sum_pred),
        sum_abs=float(sum_abs), thr=float(thr), tp=int(tp), fp=int(fp), strict=st, sm=None, lo=lo, d=float(d),
        donorm=donorm, lut=lut, raw=raw,
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


def _em_score(fg_fg: Any, fg_bg: Any, n_fg: int, n: int) -> Any:
    """E-measure closed form of pysod from the predicted-foreground counts on the GT foreground / background.

    Works elementwise: numbers for one binary map, arrays (one entry per threshold) for a curve.
    """
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


def em_curve(hist_fg: np.ndarray, hist_bg: np.ndarray, n_fg: int, n: int) -> np.ndarray:
    """E-measure curve (ascending thresholds) from the two histograms (closed form of pysod)."""
    return _em_score(_cum_ge(hist_fg), _cum_ge(hist_bg), n_fg, n)


def em_adaptive(tp: int, fp: int, n_fg: int, n: int) -> float:
    """E-measure of one binary map given its TP/FP counts (pysod's scalar formula)."""
    return float(_em_score(tp, fp, n_fg, n))


def pysod_mean(curve: np.ndarray) -> np.ndarray:
    """``np.mean`` over the last axis in pysodmetrics' descending-threshold memory order (same rounding)."""
    return np.ascontiguousarray(curve[..., ::-1]).mean(axis=-1)


def _flat_args(pred: np.ndarray, gt: np.ndarray, st: ImageStats) -> tuple:
    p = pred.ravel()
    use_lut = pred.dtype == np.uint8
    pf, pu = (_DUMMY_F, p) if use_lut else (p, _DUMMY_U8)
    lut = st.lut if use_lut else _NO_LUT
    return pf, pu, gt.ravel(), lut, use_lut, st.lo, st.d, st.donorm


def counts_above(pred: np.ndarray, gt: np.ndarray, st: ImageStats, threshold: float) -> tuple[int, int]:
    """``(TP, FP)`` of the binary map ``P̂ > threshold`` (``P̂``: the prediction as normalised by ``st``).

    ``v > t`` is ``v >= nextafter(t, inf)`` for floats, so the ``>=`` counting kernel serves.
    """
    tp, fp = _k.adaptive_counts(*_flat_args(pred, gt, st), float(np.nextafter(float(threshold), np.inf)))
    return int(tp), int(fp)


def mask_above(pred: np.ndarray, st: ImageStats, threshold: float) -> np.ndarray:
    """Boolean map ``P̂ > threshold``, ``P̂`` normalised as ``st`` says (the values of ``minmax_normalize``)."""
    if pred.dtype == np.uint8:
        return (st.lut > threshold)[pred]
    if st.donorm:
        return (pred - st.lo) / st.d > threshold
    return pred > threshold


def normalized_map(pred: np.ndarray, st: ImageStats) -> np.ndarray:
    """The prediction as the float64 map ``P̂`` the statistics ``st`` describe (min-max normalised if they say so)."""
    if pred.dtype == np.uint8:
        return st.lut[pred]
    return (pred - st.lo) / st.d if st.donorm else pred
