"""Counts of a fixed-threshold binarisation (private kernel of :mod:`segmetrics.confusion`).

The inputs are the canonical flat maps of :mod:`segmetrics._sod_core` (validated before this runs);
the kernel reads each pixel once and indexes only the 256-entry level table with uint8 values.
"""

from __future__ import annotations

from segmetrics._jit import njit
from segmetrics._kernels.sod import _val


@njit
def above_counts(p, pu, g, lut, use_lut, lo, d, donorm, thr):
    """``(TP, FP)`` of the binary map ``P > thr`` (strict) on the normalised prediction."""
    tp = 0
    fp = 0
    for t in range(g.size):
        if _val(p, pu, t, lut, use_lut, lo, d, donorm) > thr:
            if g[t]:
                tp += 1
            else:
                fp += 1
    return tp, fp
