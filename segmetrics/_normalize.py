"""Prediction normalisation shared by all metrics (pysodmetrics / MATLAB ``mapminmax`` semantics)."""

from __future__ import annotations

import numpy as np

__all__ = ["minmax_normalize", "uint8_level_values"]


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


def uint8_level_values(lo: float, scale: float, normalize: bool) -> np.ndarray:
    """Normalised value of each of the 256 uint8 levels: ``(u / 255 - lo) / scale``, or ``u / 255``.

    The float64 operations are those of :func:`minmax_normalize` applied to ``uint8 / 255``, so the
    table entry of every level present in the map is bit-identical to the normalised pixel. Levels
    outside the map's ``[min, max]`` never occur in it; their entries are clipped to ``[0, 1]`` so
    that every entry ``v``, and every histogram bin ``int(255 * v)`` computed from it, is in range.
    Clipping leaves the present levels unchanged: for ``min <= u / 255 <= max`` the rounded
    ``u / 255 - lo`` lies in ``[0, max - lo]`` (rounding is monotone), hence the quotient in ``[0, 1]``.

    Args:
        lo: minimum of the map divided by 255 (``int(u8.min()) / 255``).
        scale: ``max - min`` of the map divided by 255 (used only when ``normalize``).
        normalize: whether min-max normalisation applies (``max > min`` and requested).

    Returns:
        ``(256,)`` float64 table with values in ``[0, 1]``.

    Example:
        >>> uint8_level_values(1 / 255, 1 / 255, True)[:4].tolist()
        [0.0, 0.0, 1.0, 1.0]
    """
    lut = np.arange(256, dtype=np.float64) / 255.0
    if normalize:
        lut = (lut - lo) / scale
    return np.clip(lut, 0.0, 1.0)


def uint8_table(pred: np.ndarray, normalize: bool) -> np.ndarray:
    """The normalised value of each of the 256 levels of a uint8 map (its min / max decide the scaling).

    Equal to the table :func:`segmetrics._sod_core.image_stats` builds, without the statistics pass.
    """
    lo, hi = float(pred.min()) / 255.0, float(pred.max()) / 255.0
    donorm = bool(normalize and hi != lo)
    return uint8_level_values(lo, hi - lo if donorm else 1.0, donorm)
