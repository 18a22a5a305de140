"""Per-box passes of the size-invariant metrics (private; see :mod:`segmetrics.size_invariance`).

Index safety: box bounds are produced by ``scipy.ndimage.find_objects`` on a label map of the
image's shape (``0 <= r0 < r1 <= H``, ``0 <= c0 < c1 <= W``); histogram bins are ``int(255 v)`` of
normalised values in ``[0, 1]`` (see :mod:`segmetrics._kernels`).
"""

from __future__ import annotations

from segmetrics._jit import njit
from segmetrics._kernels.sod import _val
from segmetrics._kernels.summation import neumaier_add

#: a pixel this close to the adaptive threshold makes the count depend on the sum's last bits
TIE_TOL = 1e-11


@njit
def box_pass(p, pu, g, lut, use_lut, lo, d, donorm, w, r0, r1, c0, c1, bin_thr, hist):
    """One pass over a box: level histograms (``hist[0]`` GT fg, ``hist[1]`` bg), the compensated
    sums of ``P`` and ``|P - G|`` and the counts of ``P > bin_thr``."""
    s = 0.0
    cs = 0.0
    a = 0.0
    ca = 0.0
    tpb = 0
    fpb = 0
    for r in range(r0, r1):
        base = r * w
        for c in range(c0, c1):
            t = base + c
            v = _val(p, pu, t, lut, use_lut, lo, d, donorm)
            q = int(v * 255.0)
            s, cs = neumaier_add(s, cs, v)
            if g[t]:
                hist[0, q] += 1
                a, ca = neumaier_add(a, ca, 1.0 - v)
                if v > bin_thr:
                    tpb += 1
            else:
                hist[1, q] += 1
                a, ca = neumaier_add(a, ca, v)
                if v > bin_thr:
                    fpb += 1
    return s + cs, a + ca, tpb, fpb


@njit
def box_adaptive(p, pu, g, lut, use_lut, lo, d, donorm, w, r0, r1, c0, c1, thr):
    """Counts of ``P >= thr`` in a box and whether a value lies within ``TIE_TOL`` of ``thr``."""
    tp = 0
    fp = 0
    tie = False
    for r in range(r0, r1):
        base = r * w
        for c in range(c0, c1):
            t = base + c
            v = _val(p, pu, t, lut, use_lut, lo, d, donorm)
            if abs(v - thr) <= TIE_TOL:
                tie = True
            if v >= thr:
                if g[t]:
                    tp += 1
                else:
                    fp += 1
    return tp, fp, tie


@njit
def uncovered_abs_sum(p, pu, g, lut, use_lut, lo, d, donorm, covered):
    """Compensated ``sum |P - G|`` over the pixels outside every box (``covered`` is 0 there)."""
    a = 0.0
    ca = 0.0
    for t in range(g.size):
        if covered[t]:
            continue
        v = _val(p, pu, t, lut, use_lut, lo, d, donorm)
        a, ca = neumaier_add(a, ca, 1.0 - v if g[t] else v)
    return a + ca
