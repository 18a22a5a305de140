"""Numba kernels for the F-, E-, S-measure and MAE (private).

Exactness notes
---------------
pysodmetrics computes its means and sums with numpy reductions, and numpy sums float64 data with a
*pairwise* summation whose tree depends only on the number of values and on how numpy's iterator
chunks the data:

* a C-contiguous array of ``n`` values is summed as one pairwise tree over ``n`` values: leaves of
  at most 128 values summed with 8 interleaved accumulators, split at ``n/2`` rounded down to a
  multiple of 8;
* a non-contiguous 2-D view of width ``w`` (a quadrant of the image) is copied through the
  iterator's 8192-element buffer: chunks of ``max(1, 8192 // w)`` whole rows, each summed as one
  pairwise tree, the chunk results added sequentially (numpy >= 2.3).

The kernels below reproduce these trees exactly (:func:`pw_program` builds them as a list of
leaves plus the number of pending additions after each leaf), while computing the summed values on
the fly from the canonical prediction. This keeps every mean, the adaptive threshold ``2 * mean``
and the S-measure moments bit-identical to pysodmetrics without materialising image-sized
temporaries. The min-max normalised value is recomputed per pixel as ``(p - lo) / (hi - lo)``,
the reference's float64 operations.
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit

EPS = np.spacing(1.0)
_PW_LEAF = 128
_NP_BUFSIZE = 8192


@njit
def pw_program(n, seg):
    """Numpy's pairwise-summation tree for ``n`` values split into sequential chunks of ``seg``.

    Returns ``(leaves, adds, seg_end)``: the leaf lengths in order, the number of pairwise
    additions to perform after each leaf, and whether a chunk ends with that leaf.
    """
    cap = n // 32 + 2 * (n // max(seg, 1) + 1) + 8
    leaves = np.empty(cap, np.int64)
    adds = np.zeros(cap, np.int64)
    seg_end = np.zeros(cap, np.bool_)
    stack_n = np.empty(96, np.int64)
    stack_s = np.empty(96, np.int64)
    nl = 0
    start = 0
    while start < n:
        m = min(seg, n - start)
        stack_n[0] = m
        stack_s[0] = 0
        sp = 1
        while sp > 0:
            k = stack_n[sp - 1]
            if k <= _PW_LEAF:
                leaves[nl] = k
                nl += 1
                sp -= 1
                continue
            h = k // 2
            h -= h % 8
            st = stack_s[sp - 1]
            if st == 0:
                stack_s[sp - 1] = 1
                stack_n[sp] = h
                stack_s[sp] = 0
                sp += 1
            elif st == 1:
                stack_s[sp - 1] = 2
                stack_n[sp] = k - h
                stack_s[sp] = 0
                sp += 1
            else:
                adds[nl - 1] += 1
                sp -= 1
        seg_end[nl - 1] = True
        start += m
    return leaves[:nl], adds[:nl], seg_end[:nl]


@njit
def _push(res, nadd, end, stack, sp, acc):
    stack[sp] = res
    sp += 1
    for _ in range(nadd):
        stack[sp - 2] = stack[sp - 2] + stack[sp - 1]
        sp -= 1
    if end:
        acc = acc + stack[sp - 1]
        sp -= 1
    return sp, acc


@njit
def _combine8(r):
    return ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))


@njit
def _norm(x, lo, d, donorm):
    if donorm:
        return (x - lo) / d
    return x


@njit
def minmax_gt(p, g, w):
    """Min and max of ``p``; count and row/column index sums of the GT foreground (flat inputs)."""
    lo = p[0]
    hi = p[0]
    nfg = 0
    sr = 0
    sc = 0
    n = p.size
    for t in range(n):
        x = p[t]
        if x < lo:
            lo = x
        if x > hi:
            hi = x
        if g[t]:
            nfg += 1
            r = t // w
            sr += r
            sc += t - r * w
    return lo, hi, nfg, sr, sc


@njit
def full_pass(p, g, lo, d, donorm, hist_fg, hist_bg):
    """Quantised GT-fg/bg histograms plus numpy-exact ``sum(P)`` and ``sum(|P - G|)``."""
    n = p.size
    leaves, adds, seg_end = pw_program(n, n)
    st1 = np.empty(96)
    st2 = np.empty(96)
    r1 = np.empty(8)
    r2 = np.empty(8)
    sp1 = 0
    sp2 = 0
    s1 = 0.0
    s2 = 0.0
    acc1 = 0.0
    acc2 = 0.0
    t = 0
    for k in range(leaves.size):
        L = leaves[k]
        m = L - (L % 8) if L >= 8 else 0
        for i in range(L):
            v = _norm(p[t], lo, d, donorm)
            q = int(v * 255.0)
            if g[t]:
                hist_fg[q] += 1
                a = 1.0 - v
            else:
                hist_bg[q] += 1
                a = v
            t += 1
            if i < m:
                if i < 8:
                    r1[i] = v
                    r2[i] = a
                else:
                    r1[i & 7] += v
                    r2[i & 7] += a
                if i == m - 1:
                    s1 = _combine8(r1)
                    s2 = _combine8(r2)
            else:
                if i == 0:
                    s1 = 0.0
                    s2 = 0.0
                s1 += v
                s2 += a
        sp1, acc1 = _push(s1, adds[k], seg_end[k], st1, sp1, acc1)
        sp2, acc2 = _push(s2, adds[k], seg_end[k], st2, sp2, acc2)
    return acc1, acc2


@njit
def strict_hist(p, g, lo, d, donorm, hist_fg, hist_bg):
    """Histograms for ``P > k / 255`` (strict, float thresholds): bin ``b`` = largest such ``k``."""
    for t in range(p.size):
        v = _norm(p[t], lo, d, donorm)
        k = int(v * 255.0)
        while k >= 0 and not (k / 255.0 < v):
            k -= 1
        while k < 255 and (k + 1) / 255.0 < v:
            k += 1
        if k < 0:
            continue
        if g[t]:
            hist_fg[k] += 1
        else:
            hist_bg[k] += 1


@njit
def adaptive_counts(p, g, lo, d, donorm, thr, strict):
    """``(TP, FP)`` of the binary map ``P >= thr`` (or ``P > thr`` when ``strict``)."""
    tp = 0
    fp = 0
    for t in range(p.size):
        v = _norm(p[t], lo, d, donorm)
        b = v > thr if strict else v >= thr
        if b:
            if g[t]:
                tp += 1
            else:
                fp += 1
    return tp, fp


@njit
def masked_sum(p, g, lo, d, donorm, want, n, center, squared):
    """Numpy-exact sum over the pixels with ``g == want`` (row-major) of ``x`` or ``(x - center)**2``.

    ``x = P`` for the foreground and ``1 - P`` for the background (the S-measure object term);
    ``n`` is the number of such pixels.
    """
    leaves, adds, seg_end = pw_program(n, n)
    st = np.empty(96)
    r = np.empty(8)
    sp = 0
    acc = 0.0
    t = 0
    s = 0.0
    for k in range(leaves.size):
        L = leaves[k]
        m = L - (L % 8) if L >= 8 else 0
        for i in range(L):
            while g[t] != want:
                t += 1
            v = _norm(p[t], lo, d, donorm)
            t += 1
            x = v if want else 1.0 - v
            if squared:
                x = x - center
                x = x * x
            if i < m:
                if i < 8:
                    r[i] = x
                else:
                    r[i & 7] += x
                if i == m - 1:
                    s = _combine8(r)
            else:
                if i == 0:
                    s = 0.0
                s += x
        sp, acc = _push(s, adds[k], seg_end[k], st, sp, acc)
    return acc


@njit
def block_sum(p, g, w, lo, d, donorm, r0, r1, c0, c1):
    """Numpy-exact ``np.sum`` of the normalised ``P[r0:r1, c0:c1]`` view and the GT count there."""
    bw = c1 - c0
    bh = r1 - r0
    n = bw * bh
    if bh == 1 or bw == w:
        seg = n
    else:
        seg = max(1, _NP_BUFSIZE // bw) * bw
    leaves, adds, seg_end = pw_program(n, seg)
    st = np.empty(96)
    r = np.empty(8)
    sp = 0
    acc = 0.0
    row = r0
    col = c0
    cnt = 0
    s = 0.0
    for k in range(leaves.size):
        L = leaves[k]
        m = L - (L % 8) if L >= 8 else 0
        for i in range(L):
            t = row * w + col
            x = _norm(p[t], lo, d, donorm)
            if g[t]:
                cnt += 1
            col += 1
            if col == c1:
                col = c0
                row += 1
            if i < m:
                if i < 8:
                    r[i] = x
                else:
                    r[i & 7] += x
                if i == m - 1:
                    s = _combine8(r)
            else:
                if i == 0:
                    s = 0.0
                s += x
        sp, acc = _push(s, adds[k], seg_end[k], st, sp, acc)
    return acc, cnt


@njit
def block_moments(p, g, w, lo, d, donorm, r0, r1, c0, c1, x, y):
    """Numpy-exact sums of ``(P-x)**2``, ``(G-y)**2`` and ``(P-x)*(G-y)`` over a block (flat order)."""
    bw = c1 - c0
    n = bw * (r1 - r0)
    leaves, adds, seg_end = pw_program(n, n)
    sa = np.empty(96)
    sb = np.empty(96)
    sc = np.empty(96)
    ra = np.empty(8)
    rb = np.empty(8)
    rc = np.empty(8)
    sp = 0
    acc_a = 0.0
    acc_b = 0.0
    acc_c = 0.0
    row = r0
    col = c0
    gy1 = 1.0 - y
    gy0 = 0.0 - y
    s_a = 0.0
    s_b = 0.0
    s_c = 0.0
    for k in range(leaves.size):
        L = leaves[k]
        m = L - (L % 8) if L >= 8 else 0
        for i in range(L):
            t = row * w + col
            dx = _norm(p[t], lo, d, donorm) - x
            dy = gy1 if g[t] else gy0
            col += 1
            if col == c1:
                col = c0
                row += 1
            xa = dx * dx
            xb = dy * dy
            xc = dx * dy
            if i < m:
                if i < 8:
                    ra[i] = xa
                    rb[i] = xb
                    rc[i] = xc
                else:
                    ra[i & 7] += xa
                    rb[i & 7] += xb
                    rc[i & 7] += xc
                if i == m - 1:
                    s_a = _combine8(ra)
                    s_b = _combine8(rb)
                    s_c = _combine8(rc)
            else:
                if i == 0:
                    s_a = 0.0
                    s_b = 0.0
                    s_c = 0.0
                s_a += xa
                s_b += xb
                s_c += xc
        nsp, acc_a = _push(s_a, adds[k], seg_end[k], sa, sp, acc_a)
        _, acc_b = _push(s_b, adds[k], seg_end[k], sb, sp, acc_b)
        _, acc_c = _push(s_c, adds[k], seg_end[k], sc, sp, acc_c)
        sp = nsp
    return acc_a, acc_b, acc_c


@njit
def _block_ssim(p, g, w, lo, d, donorm, r0, r1, c0, c1):
    n = (r1 - r0) * (c1 - c0)
    if n == 0:
        return np.nan
    sp_, cnt = block_sum(p, g, w, lo, d, donorm, r0, r1, c0, c1)
    x = sp_ / n
    y = cnt / n
    sxx, syy, sxy = block_moments(p, g, w, lo, d, donorm, r0, r1, c0, c1, x, y)
    den = n - 1 + EPS
    sigma_x = sxx / den
    sigma_y = syy / den
    sigma_xy = sxy / den
    a = 4 * x * y * sigma_xy
    b = (x * x + y * y) * (sigma_x + sigma_y)
    if a != 0:
        return a / (b + EPS)
    if b == 0:
        return 1.0
    return 0.0


@njit
def _s_object(mean, ss, n):
    # pysod: 2 * mean / (mean ** 2 + 1 + std(ddof=1) + eps), std = 0 for a single pixel
    std = np.sqrt(ss / (n - 1)) if n > 1 else 0.0
    return 2 * mean / (mean * mean + 1 + std + EPS)


@njit
def _round_half_even(x):
    f = np.floor(x)
    diff = x - f
    if diff > 0.5:
        return f + 1.0
    if diff < 0.5:
        return f
    return f + 1.0 if f % 2.0 != 0.0 else f


@njit
def smeasure_image(p, g, h, w, lo, d, donorm, alpha, nfg, sr, sc, sum_v, matlab, avoid_nan):
    """S-measure of one image from the flat prediction / GT and the first-pass statistics."""
    n = h * w
    y = nfg / n
    if y == 0:
        return 1 - sum_v / n
    if y == 1:
        return sum_v / n
    # object term
    nbg = n - nfg
    m_fg = masked_sum(p, g, lo, d, donorm, True, nfg, 0.0, False) / nfg
    v_fg = masked_sum(p, g, lo, d, donorm, True, nfg, m_fg, True)
    m_bg = masked_sum(p, g, lo, d, donorm, False, nbg, 0.0, False) / nbg
    v_bg = masked_sum(p, g, lo, d, donorm, False, nbg, m_bg, True)
    fg_score = _s_object(m_fg, v_fg, nfg) * y
    bg_score = _s_object(m_bg, v_bg, nbg) * (1 - y)
    object_score = fg_score + bg_score
    # region term: centroid
    if matlab:
        cy = int(np.floor((sr + nfg) / nfg + 0.5))
        cx = int(np.floor((sc + nfg) / nfg + 0.5))
    else:
        cy = int(_round_half_even(sr / nfg)) + 1
        cx = int(_round_half_even(sc / nfg)) + 1
    w_lt = cx * cy / n
    w_rt = cy * (w - cx) / n
    w_lb = (h - cy) * cx / n
    w_rb = 1 - w_lt - w_rt - w_lb
    blocks = ((0, cy, 0, cx, w_lt), (0, cy, cx, w, w_rt), (cy, h, 0, cx, w_lb), (cy, h, cx, w, w_rb))
    region = 0.0
    for b in blocks:
        r0, r1, c0, c1, wt = b
        if avoid_nan and (r1 - r0) * (c1 - c0) == 0:
            continue
        region = region + _block_ssim(p, g, w, lo, d, donorm, r0, r1, c0, c1) * wt
    sm = object_score * alpha + region * (1 - alpha)
    if sm < 0:
        return 0.0
    return sm
