"""Prediction normalisation shared by all metrics (pysodmetrics / MATLAB ``mapminmax`` semantics)."""

from __future__ import annotations

import numpy as np

__all__ = ["minmax_normalize"]


def minmax_normalize(pred: np.ndarray) -> np.ndarray:
    """Min-max normalise a float64 map in ``[0, 1]`` exactly as pysodmetrics 1.6 does.

    ``p = (p - min) / (max - min)`` when ``max > min``; a constant map is returned unchanged. The
    float64 order of operations is the reference's, so results are bit-identical to
    ``py_sod_metrics.utils.prepare_data`` applied to ``pred * 255`` uint8 input.

    Args:
        pred: ``(H, W)`` float64 map in ``[0, 1]`` (``uint8 / 255`` for uint8 predictions).

    Returns:
        ``(H, W)`` float64 map in ``[0, 1]`` (a new array, or ``pred`` itself when constant).
    """
    lo = pred.min()
    hi = pred.max()
    if hi == lo:
        return pred
    return (pred - lo) / (hi - lo)
