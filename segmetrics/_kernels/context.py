"""Passes of the context measure (private; see :mod:`segmetrics.context_measure`).

Index safety: the maps are validated, same-shaped and flat; patch corners come from the patch grid
of the same (padded) image and are clipped to ``[0, H - w] x [0, W - w]`` before use.
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit
from segmetrics._kernels.summation import neumaier_add


@njit
def gt_moments(g, h, w):
    """Exact integer ``(n, Σr, Σc, Σr², Σc², Σrc)`` of the GT foreground pixels."""
    n = 0
    sr = 0
    sc = 0
    srr = 0
    scc = 0
    src = 0
    for r in range(h):
        for c in range(w):
            if g[r * w + c]:
                n += 1
                sr += r
                sc += c
                srr += r * r
                scc += c * c
                src += r * c
    return n, sr, sc, srr, scc, src


@njit
def context_sums(p, g, fwd, rev, cd, factor):
    """Compensated sums of the context measure: ``Σ P·F·[P>0]``, ``Σ P``, ``Σ R·(G + cd)``, ``Σ G``, ``Σ cd``
    with ``R = factor · G · (1 − exp(−rev))``."""
    a = 0.0
    ca = 0.0
    b = 0.0
    cb = 0.0
    r = 0.0
    cr = 0.0
    sg = 0
    s = 0.0
    cs = 0.0
    for t in range(p.size):
        v = p[t]
        if v > 0:
            a, ca = neumaier_add(a, ca, np.float64(fwd[t]) * v)
        b, cb = neumaier_add(b, cb, v)
        s, cs = neumaier_add(s, cs, cd[t])
        if g[t]:
            sg += 1
            rt = factor * (1.0 - np.exp(-rev[t]))
            r, cr = neumaier_add(r, cr, rt * (1.0 + cd[t]))
    return a + ca, b + cb, r + cr, sg, s + cs


@njit
def reconstruct(bg_rgb, fg_idx, bg_idx, nn, w, h, wd):
    """Average of the nearest background patches pasted at the foreground patch positions (rounded)."""
    acc = np.zeros((h, wd, 3), np.int64)
    cnt = np.zeros((h, wd))
    for i in range(fg_idx.shape[0]):
        fx = min(max(fg_idx[i, 0], 0), h - w)
        fy = min(max(fg_idx[i, 1], 0), wd - w)
        j = nn[i]
        bx = min(max(bg_idx[j, 0], 0), h - w)
        by = min(max(bg_idx[j, 1], 0), wd - w)
        for a in range(w):
            for b in range(w):
                cnt[fx + a, fy + b] += 1.0
                for k in range(3):
                    acc[fx + a, fy + b, k] += bg_rgb[bx + a, by + b, k]
    return acc, cnt
