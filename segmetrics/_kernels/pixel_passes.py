"""Small per-pixel passes of the MSE and boundary-IoU metrics (private).

The inputs are the canonical flat maps of :mod:`segmetrics._sod_core` (validated before this runs);
each kernel reads each pixel once and indexes only the 256-entry level table with uint8 values.
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit
from segmetrics._kernels.sod import _val
from segmetrics._kernels.summation import neumaier_add


@njit
def quantise(p, pu, lut, use_lut, lo, d, donorm, out):
    """``out[t] = trunc(255 P[t])`` (uint8) for the normalised prediction, the curves' binarisation level."""
    for t in range(out.size):
        out[t] = np.uint8(int(_val(p, pu, t, lut, use_lut, lo, d, donorm) * 255.0))


@njit
def squared_error_sum(p, pu, g, lut, use_lut, lo, d, donorm):
    """Compensated (Neumaier) ``sum (P - G)**2`` over the image."""
    s = 0.0
    c = 0.0
    for t in range(g.size):
        v = _val(p, pu, t, lut, use_lut, lo, d, donorm)
        e = v - 1.0 if g[t] else v
        s, c = neumaier_add(s, c, e * e)
    return s + c


@njit
def boundary_level_hist(q, eroded, gt_band, hist):
    """``hist[0 / 1, q - eroded]`` += 1 for pixels inside / outside the GT boundary band (``eroded <= q``).

    Flat pixels (``q == eroded``, most of an image) are only counted; the others are histogrammed.
    """
    n_in = 0
    for t in range(q.size):
        if gt_band[t]:
            n_in += 1
        k = np.int64(q[t]) - np.int64(eroded[t])
        if k != 0:
            hist[1 - np.int64(gt_band[t]), k] += 1
    hist[0, 0] += n_in - hist[0, 1:].sum()
    hist[1, 0] += (q.size - n_in) - hist[1, 1:].sum()


@njit
def table_sum(pu, g, table):
    """``sum table[256 * g + pu]`` over the image in eight partial sums (a uint8 map's squared errors)."""
    acc = np.zeros(8)
    n = g.size
    m = n - n % 8
    for t in range(0, m, 8):
        for k in range(8):
            acc[k] += table[(np.int64(g[t + k]) << 8) + pu[t + k]]
    for t in range(m, n):
        acc[0] += table[(np.int64(g[t]) << 8) + pu[t]]
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


@njit
def band_agreement(grad, pb, g):
    """``(|band|, |band ∩ {pb == g}|)`` with ``band = grad > 0``."""
    n = 0
    good = 0
    for t in range(g.size):
        if grad[t] > 0:
            n += 1
            if pb[t] == g[t]:
                good += 1
    return n, good
