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
the reference's float64 operations. These kernels serve float predictions and the rare uint8
images the fast path below hands back (``lut_image_kernel``); uint8 predictions otherwise take the
level-histogram path, which is several times faster and within a few ulps (not bit for bit).
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit
from segmetrics._kernels.summation import neumaier_add

EPS = np.spacing(1.0)
_PW_LEAF = 128
_NP_BUFSIZE = 8192


@njit
def _pw_cap(n, seg):
    return n // 32 + 2 * (n // max(seg, 1) + 1) + 8


@njit
def _pw_fill(n, seg, leaves, adds, seg_end, nl):
    """Append numpy's pairwise-summation tree for ``n`` values, split into sequential chunks of
    ``seg``, to ``leaves`` / ``adds`` / ``seg_end`` from index ``nl``; returns the new length.

    ``leaves`` are the leaf lengths in order, ``adds`` the number of pairwise additions to perform
    after each leaf, ``seg_end`` whether a chunk ends with that leaf.
    """
    stack_n = np.empty(96, np.int64)
    stack_s = np.empty(96, np.int64)
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
                adds[nl] = 0
                seg_end[nl] = False
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
    return nl


@njit
def pw_program(n, seg):
    """Numpy's pairwise tree for ``n`` values in chunks of ``seg``: ``(leaves, adds, seg_end)``."""
    cap = _pw_cap(n, seg)
    leaves = np.empty(cap, np.int64)
    adds = np.zeros(cap, np.int64)
    seg_end = np.zeros(cap, np.bool_)
    nl = _pw_fill(n, seg, leaves, adds, seg_end, 0)
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
def _val(p, pu, t, lut, use_lut, lo, d, donorm):
    """Normalised prediction value of pixel ``t``: ``lut[pu]`` for uint8 maps, else ``(p - lo) / d``.

    Every kernel takes both a float64 map ``p`` and a uint8 map ``pu`` (the unused one is a
    1-element dummy), so that each kernel is compiled once for both input kinds.
    """
    if use_lut:
        return lut[pu[t]]
    x = p[t]
    if donorm:
        return (x - lo) / d
    return x


@njit
def scan_stats(p, pu, use_lut, g, h, w):
    """Min / max of the prediction (raw levels for uint8) and the GT count and row / column index
    sums (flat inputs)."""
    lo = 0.0
    hi = 0.0
    if use_lut:
        ulo = 255
        uhi = 0
        for t in range(g.size):
            x = pu[t]
            ulo = min(ulo, x)
            uhi = max(uhi, x)
        lo = float(ulo)
        hi = float(uhi)
    else:
        lo = p[0]
        hi = p[0]
        for t in range(g.size):
            x = p[t]
            lo = min(lo, x)
            hi = max(hi, x)
    nfg = 0
    sr = 0
    sc = 0
    for r in range(h):
        base = r * w
        cnt = 0
        csum = 0
        for c in range(w):
            if g[base + c]:
                cnt += 1
                csum += c
        nfg += cnt
        sr += cnt * r
        sc += csum
    return lo, hi, nfg, sr, sc


@njit
def full_pass(p, pu, g, lut, use_lut, lo, d, donorm, hist):
    """Quantised histograms (4 interleaved copies per GT class) plus numpy-exact ``sum P`` and
    ``sum |P - G|`` in one pass over the image, following numpy's pairwise tree leaf by leaf."""
    n = g.size
    leaves, adds, seg_end = pw_program(n, n)
    st1 = np.empty(96)
    st2 = np.empty(96)
    r1 = np.empty(8)
    r2 = np.empty(8)
    sp1 = 0
    sp2 = 0
    acc1 = 0.0
    acc2 = 0.0
    s1 = 0.0
    s2 = 0.0
    t = 0
    for k in range(leaves.size):
        L = leaves[k]
        m = L - (L % 8) if L >= 8 else 0
        for i in range(L):
            v = _val(p, pu, t, lut, use_lut, lo, d, donorm)
            q = np.int64(pu[t]) if use_lut else int(v * 255.0)
            if g[t]:
                hist[4 + (t & 3), q] += 1
                a = 1.0 - v
            else:
                hist[t & 3, q] += 1
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
def strict_pass(p, pu, g, lut, use_lut, lo, d, donorm, thr, hist):
    """MATLAB E-measure conventions: histograms for ``P > k / 255`` (bin = largest such ``k``) and the
    strict adaptive counts ``P > thr``."""
    tp = 0
    fp = 0
    for t in range(g.size):
        v = _val(p, pu, t, lut, use_lut, lo, d, donorm)
        gi = g[t]
        if v > thr:
            if gi:
                tp += 1
            else:
                fp += 1
        k = int(v * 255.0)
        while k >= 0 and not (k / 255.0 < v):
            k -= 1
        while k < 255 and (k + 1) / 255.0 < v:
            k += 1
        if k < 0:
            continue
        if gi:
            hist[0, k] += 1
        else:
            hist[1, k] += 1
    return tp, fp


@njit
def adaptive_counts(p, pu, g, lut, use_lut, lo, d, donorm, thr):
    """``(TP, FP)`` of the binary map ``P >= thr``."""
    tp = 0
    fp = 0
    for t in range(g.size):
        v = _val(p, pu, t, lut, use_lut, lo, d, donorm)
        if v >= thr:
            if g[t]:
                tp += 1
            else:
                fp += 1
    return tp, fp


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


# --------------------------------------------------------------------------- fused streaming passes
#
# A "stream" is one numpy-exact pairwise sum whose program is known in advance from the number of
# values; values are fed in runs (row segments).  The S-measure needs eight sums over pixel
# subsets (fg, bg, four blocks) and their second moments; feeding them from two row-by-row passes
# replaces the eight passes a direct translation needs.

_STACK = 64


@njit
def _programs(sizes, segs):
    """Concatenate the pairwise programs of several streams; ``ist`` holds each stream's state."""
    k = sizes.size
    cap = 1
    for j in range(k):
        cap += _pw_cap(sizes[j], segs[j])
    LV = np.zeros(cap, np.int64)
    AD = np.zeros(cap, np.int64)
    SE = np.zeros(cap, np.bool_)
    ist = np.zeros((k, 6), np.int64)
    o = 0
    for j in range(k):
        o2 = _pw_fill(sizes[j], segs[j], LV, AD, SE, o)
        ist[j, 0] = o
        ist[j, 5] = o2
        if o2 > o:
            L = LV[o]
            ist[j, 2] = L
            ist[j, 3] = L - (L % 8) if L >= 8 else 0
        o = o2
    return LV, AD, SE, ist


@njit
def _feed_run(j, buf, r0, ncomp, a, b, ist, R, S, ST, ACC, LV, AD, SE):
    """Feed ``buf[r0:r0 + ncomp, a:b]`` (``ncomp`` parallel sums, one value per column) into stream ``j``."""
    k = ist[j, 0]
    i = ist[j, 1]
    L = ist[j, 2]
    m = ist[j, 3]
    sp = ist[j, 4]
    pos = a
    while True:
        if i == L and L > 0:
            for c in range(ncomp):
                s_ = sp
                ST[j, c, s_] = S[j, c]
                s_ += 1
                for _ in range(AD[k]):
                    ST[j, c, s_ - 2] = ST[j, c, s_ - 2] + ST[j, c, s_ - 1]
                    s_ -= 1
                if SE[k]:
                    ACC[j, c] = ACC[j, c] + ST[j, c, s_ - 1]
                    s_ -= 1
                if c == ncomp - 1:
                    sp = s_
            k += 1
            i = 0
            L = LV[k]
            m = L - (L % 8) if L >= 8 else 0
            continue
        if pos >= b:
            break
        if i < m:
            e = min(m - i, b - pos)
            stop = pos + e
            for c in range(ncomp):
                row = r0 + c
                ii = i
                q = pos
                while ii < 8 and q < stop:
                    R[j, c, ii] = buf[row, q]
                    ii += 1
                    q += 1
                while (ii & 7) != 0 and q < stop:
                    R[j, c, ii & 7] += buf[row, q]
                    ii += 1
                    q += 1
                if q + 8 <= stop:
                    # aligned blocks of 8 with the accumulators in registers
                    a0 = R[j, c, 0]
                    a1 = R[j, c, 1]
                    a2 = R[j, c, 2]
                    a3 = R[j, c, 3]
                    a4 = R[j, c, 4]
                    a5 = R[j, c, 5]
                    a6 = R[j, c, 6]
                    a7 = R[j, c, 7]
                    while q + 8 <= stop:
                        a0 += buf[row, q]
                        a1 += buf[row, q + 1]
                        a2 += buf[row, q + 2]
                        a3 += buf[row, q + 3]
                        a4 += buf[row, q + 4]
                        a5 += buf[row, q + 5]
                        a6 += buf[row, q + 6]
                        a7 += buf[row, q + 7]
                        q += 8
                        ii += 8
                    R[j, c, 0] = a0
                    R[j, c, 1] = a1
                    R[j, c, 2] = a2
                    R[j, c, 3] = a3
                    R[j, c, 4] = a4
                    R[j, c, 5] = a5
                    R[j, c, 6] = a6
                    R[j, c, 7] = a7
                while q < stop:
                    R[j, c, ii & 7] += buf[row, q]
                    ii += 1
                    q += 1
            i += e
            pos += e
            if i == m:
                for c in range(ncomp):
                    S[j, c] = ((R[j, c, 0] + R[j, c, 1]) + (R[j, c, 2] + R[j, c, 3])) + (
                        (R[j, c, 4] + R[j, c, 5]) + (R[j, c, 6] + R[j, c, 7]))
        else:
            if i == 0:
                for c in range(ncomp):
                    S[j, c] = 0.0
            e = min(L - i, b - pos)
            for c in range(ncomp):
                acc = S[j, c]
                for q in range(pos, pos + e):
                    acc += buf[r0 + c, q]
                S[j, c] = acc
            i += e
            pos += e
    ist[j, 0] = k
    ist[j, 1] = i
    ist[j, 2] = L
    ist[j, 3] = m
    ist[j, 4] = sp


@njit
def _block_seg(bh, bw, w):
    n = bh * bw
    if n == 0:
        return 1
    if bh == 1 or bw == w:
        return n
    return max(1, _NP_BUFSIZE // bw) * bw


@njit
def _stream_sizes(h, w, nfg, cy, cx, block_chunks):
    n = h * w
    sizes = np.zeros(6, np.int64)
    segs = np.ones(6, np.int64)
    sizes[0] = nfg
    sizes[1] = n - nfg
    segs[0] = max(nfg, 1)
    segs[1] = max(n - nfg, 1)
    dims = ((cy, cx), (cy, w - cx), (h - cy, cx), (h - cy, w - cx))
    for b in range(4):
        bh, bw = dims[b]
        sizes[2 + b] = bh * bw
        segs[2 + b] = _block_seg(bh, bw, w) if block_chunks else max(bh * bw, 1)
    return sizes, segs


@njit
def fused_first(p, pu, g, h, w, lut, use_lut, lo, d, donorm, nfg, cy, cx, want_fe, hist):
    """Pass 1, row by row: histograms (4 interleaved copies per GT class), numpy-exact ``sum P`` and
    ``sum |P - G|`` and, for the S-measure, the fg / bg object sums and the four block sums."""
    n = h * w
    # stream 6 = whole image (P, |P - G|); 0 = fg (P); 1 = bg (1 - P); 2..5 = blocks lt, rt, lb, rb
    sizes = np.zeros(7, np.int64)
    segs = np.ones(7, np.int64)
    s6, g6 = _stream_sizes(h, w, nfg, cy, cx, True)
    sizes[:6] = s6
    segs[:6] = g6
    sizes[6] = n
    segs[6] = n
    LV, AD, SE, ist = _programs(sizes, segs)
    R = np.zeros((7, 2, 8))
    S = np.zeros((7, 2))
    ST = np.zeros((7, 2, _STACK))
    ACC = np.zeros((7, 2))
    # row buffers: 0 = P, 1 = |P - G|, 2 = P over the fg pixels, 3 = 1 - P over the bg pixels
    buf = np.empty((4, w))
    plan = np.zeros((5, 5), np.int64)  # per run: stream, first buffer row, components, start, stop
    gcnt = np.zeros(4, np.int64)
    for row in range(h):
        base = row * w
        nf = 0
        nb = 0
        for col in range(w):
            t = base + col
            v = _val(p, pu, t, lut, use_lut, lo, d, donorm)
            buf[0, col] = v
            if want_fe:
                q = np.int64(pu[t]) if use_lut else int(v * 255.0)
                hist[(4 if g[t] else 0) + (col & 3), q] += 1
            if g[t]:
                buf[1, col] = 1.0 - v
                buf[2, nf] = v
                nf += 1
            else:
                buf[1, col] = v
                buf[3, nb] = 1.0 - v
                nb += 1
        top = 0 if row < cy else 2
        plan[0, 0], plan[0, 1], plan[0, 2], plan[0, 3], plan[0, 4] = 6, 0, 2, 0, w
        plan[1, 0], plan[1, 1], plan[1, 2], plan[1, 3], plan[1, 4] = 0, 2, 1, 0, nf
        plan[2, 0], plan[2, 1], plan[2, 2], plan[2, 3], plan[2, 4] = 1, 3, 1, 0, nb
        plan[3, 0], plan[3, 1], plan[3, 2], plan[3, 3], plan[3, 4] = 2 + top, 0, 1, 0, cx
        plan[4, 0], plan[4, 1], plan[4, 2], plan[4, 3], plan[4, 4] = 3 + top, 0, 1, cx, w
        for e in range(0 if want_fe else 1, 5):
            _feed_run(plan[e, 0], buf, plan[e, 1], plan[e, 2], plan[e, 3], plan[e, 4], ist, R, S, ST, ACC, LV, AD, SE)
        cl = 0
        for col in range(cx):
            if g[base + col]:
                cl += 1
        gcnt[top] += cl
        gcnt[top + 1] += nf - cl
    sums = np.zeros(6)
    for j in range(6):
        sums[j] = ACC[j, 0]
    return ACC[6, 0], ACC[6, 1], sums, gcnt


@njit
def fused_second(p, pu, g, h, w, lut, use_lut, lo, d, donorm, thr, want_fe, nfg, cy, cx, m_fg, m_bg, bx, by):
    """Pass 2, row by row: adaptive TP / FP and, for the S-measure, the object deviations and the
    block moments (numpy-exact)."""
    tp = 0
    fp = 0
    sizes, segs = _stream_sizes(h, w, nfg, cy, cx, False)
    LV, AD, SE, ist = _programs(sizes, segs)
    R = np.zeros((6, 3, 8))
    S = np.zeros((6, 3))
    ST = np.zeros((6, 3, _STACK))
    ACC = np.zeros((6, 3))
    # row buffers: 0..2 = block moments (dx², dy², dx·dy), 3 = fg deviations², 4 = bg deviations²
    buf = np.empty((5, w))
    plan = np.zeros((4, 5), np.int64)
    for row in range(h):
        base = row * w
        top = 0 if row < cy else 2
        nf = 0
        nb = 0
        for half in range(2):
            c0 = 0 if half == 0 else cx
            c1 = cx if half == 0 else w
            bxv = bx[top + half]
            dy1 = 1.0 - by[top + half]
            dy0 = 0.0 - by[top + half]
            dy1sq = dy1 * dy1
            dy0sq = dy0 * dy0
            for col in range(c0, c1):
                t = base + col
                v = _val(p, pu, t, lut, use_lut, lo, d, donorm)
                gi = g[t]
                if want_fe and v >= thr:
                    if gi:
                        tp += 1
                    else:
                        fp += 1
                dx = v - bxv
                buf[0, col] = dx * dx
                if gi:
                    x = v - m_fg
                    buf[3, nf] = x * x
                    nf += 1
                    buf[1, col] = dy1sq
                    buf[2, col] = dx * dy1
                else:
                    x = (1.0 - v) - m_bg
                    buf[4, nb] = x * x
                    nb += 1
                    buf[1, col] = dy0sq
                    buf[2, col] = dx * dy0
        plan[0, 0], plan[0, 1], plan[0, 2], plan[0, 3], plan[0, 4] = 0, 3, 1, 0, nf
        plan[1, 0], plan[1, 1], plan[1, 2], plan[1, 3], plan[1, 4] = 1, 4, 1, 0, nb
        plan[2, 0], plan[2, 1], plan[2, 2], plan[2, 3], plan[2, 4] = 2 + top, 0, 3, 0, cx
        plan[3, 0], plan[3, 1], plan[3, 2], plan[3, 3], plan[3, 4] = 3 + top, 0, 3, cx, w
        for e in range(4):
            _feed_run(plan[e, 0], buf, plan[e, 1], plan[e, 2], plan[e, 3], plan[e, 4], ist, R, S, ST, ACC, LV, AD, SE)
    return tp, fp, ACC


@njit
def _ssim_from(x, y, sxx, syy, sxy, n):
    if n == 0:
        return np.nan
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
def centroid(nfg, sr, sc, matlab):
    if matlab:
        return int(np.floor((sr + nfg) / nfg + 0.5)), int(np.floor((sc + nfg) / nfg + 0.5))
    return int(_round_half_even(sr / nfg)) + 1, int(_round_half_even(sc / nfg)) + 1


@njit
def image_kernel(p, pu, g, h, w, lut, use_lut, lo, d, donorm, nfg, sr, sc, want_fe, want_s, alpha, s_matlab, avoid_nan,
                 hist, raw):
    """F / E / MAE statistics of one image and, if ``want_s``, its S-measure.

    ``hist`` ((8, 256) int64, zeroed) receives the interleaved histograms of the quantised levels
    ``trunc(255 P)``; for uint8 maps the passes count the raw levels instead, ``raw`` ((2, 256):
    GT foreground, background) receives them, the adaptive counts are read off them and ``hist`` is
    folded to quantised levels at the end (no adaptive pass). Returns
    ``(sum P, sum |P - G|, thr, TP, FP, S)``. With ``want_fe=False`` (S-measure only) the
    histograms, sums and adaptive counts may be skipped (left at zero).
    """
    n = h * w
    s_region = want_s and 0 < nfg < n
    cy = 0
    cx = 0
    sums = np.zeros(6)
    gcnt = np.zeros(4, np.int64)
    if s_region:
        cy, cx = centroid(nfg, sr, sc, s_matlab)
        sum_v, sum_abs, sums, gcnt = fused_first(p, pu, g, h, w, lut, use_lut, lo, d, donorm, nfg, cy, cx, want_fe,
                                                   hist)
    else:
        sum_v, sum_abs = full_pass(p, pu, g, lut, use_lut, lo, d, donorm, hist)
    thr = min(2 * (sum_v / n), 1.0)
    sm = np.nan
    lut_counts = use_lut and want_fe
    tp = 0
    fp = 0
    if lut_counts:
        for u in range(256):
            raw[0, u] = hist[4, u] + hist[5, u] + hist[6, u] + hist[7, u]
            raw[1, u] = hist[0, u] + hist[1, u] + hist[2, u] + hist[3, u]
            if lut[u] >= thr:
                tp += raw[0, u]
                fp += raw[1, u]
        for r in range(8):
            for u in range(256):
                hist[r, u] = 0
        _fold_levels(raw, lut, hist)
    if not s_region:
        if not lut_counts:
            tp, fp = adaptive_counts(p, pu, g, lut, use_lut, lo, d, donorm, thr)
        if want_s:
            sm = 1 - sum_v / n if nfg == 0 else sum_v / n
        return sum_v, sum_abs, thr, tp, fp, sm
    m_fg = sums[0] / nfg
    m_bg = sums[1] / (n - nfg)
    dims = ((cy, cx), (cy, w - cx), (h - cy, cx), (h - cy, w - cx))
    bx = np.zeros(4)
    by = np.zeros(4)
    bn = np.zeros(4, np.int64)
    for b in range(4):
        bh, bw = dims[b]
        bn[b] = bh * bw
        if bn[b] > 0:
            bx[b] = sums[2 + b] / bn[b]
            by[b] = gcnt[b] / bn[b]
    tp2, fp2, acc = fused_second(p, pu, g, h, w, lut, use_lut, lo, d, donorm, thr, want_fe and not lut_counts, nfg,
                                  cy, cx, m_fg, m_bg, bx, by)
    if not lut_counts:
        tp, fp = tp2, fp2
    y = nfg / n
    nbg = n - nfg
    fg_score = _s_object(m_fg, acc[0, 0], nfg) * y
    bg_score = _s_object(m_bg, acc[1, 0], nbg) * (1 - y)
    object_score = fg_score + bg_score
    w_lt = cx * cy / n
    w_rt = cy * (w - cx) / n
    w_lb = (h - cy) * cx / n
    w_rb = 1 - w_lt - w_rt - w_lb
    wts = (w_lt, w_rt, w_lb, w_rb)
    region = 0.0
    for b in range(4):
        if avoid_nan and bn[b] == 0:
            continue
        region = region + _ssim_from(bx[b], by[b], acc[2 + b, 0], acc[2 + b, 1], acc[2 + b, 2], bn[b]) * wts[b]
    sm = object_score * alpha + region * (1 - alpha)
    if sm < 0:
        sm = 0.0
    return sum_v, sum_abs, thr, tp, fp, sm


@njit
def abs_error_sum(p, pu, g, lut, use_lut, lo, d, donorm):
    """numpy-exact ``sum |P - G|`` alone (the MAE), one pass."""
    n = g.size
    leaves, adds, seg_end = pw_program(n, n)
    st = np.empty(96)
    sp = 0
    acc = 0.0
    t = 0
    for k in range(leaves.size):
        L = leaves[k]
        if L >= 8:
            m = L - (L % 8)
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            a3 = 0.0
            a4 = 0.0
            a5 = 0.0
            a6 = 0.0
            a7 = 0.0
            for i in range(0, m, 8):
                tt = t + i
                v0 = _val(p, pu, tt, lut, use_lut, lo, d, donorm)
                v1 = _val(p, pu, tt + 1, lut, use_lut, lo, d, donorm)
                v2 = _val(p, pu, tt + 2, lut, use_lut, lo, d, donorm)
                v3 = _val(p, pu, tt + 3, lut, use_lut, lo, d, donorm)
                v4 = _val(p, pu, tt + 4, lut, use_lut, lo, d, donorm)
                v5 = _val(p, pu, tt + 5, lut, use_lut, lo, d, donorm)
                v6 = _val(p, pu, tt + 6, lut, use_lut, lo, d, donorm)
                v7 = _val(p, pu, tt + 7, lut, use_lut, lo, d, donorm)
                x0 = (1.0 - v0) if g[tt] else v0
                x1 = (1.0 - v1) if g[tt + 1] else v1
                x2 = (1.0 - v2) if g[tt + 2] else v2
                x3 = (1.0 - v3) if g[tt + 3] else v3
                x4 = (1.0 - v4) if g[tt + 4] else v4
                x5 = (1.0 - v5) if g[tt + 5] else v5
                x6 = (1.0 - v6) if g[tt + 6] else v6
                x7 = (1.0 - v7) if g[tt + 7] else v7
                if i == 0:
                    a0, a1, a2, a3, a4, a5, a6, a7 = x0, x1, x2, x3, x4, x5, x6, x7
                else:
                    a0 += x0
                    a1 += x1
                    a2 += x2
                    a3 += x3
                    a4 += x4
                    a5 += x5
                    a6 += x6
                    a7 += x7
            s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
        else:
            m = 0
            s = 0.0
        for i in range(m, L):
            v = _val(p, pu, t + i, lut, use_lut, lo, d, donorm)
            s += (1.0 - v) if g[t + i] else v
        t += L
        sp, acc = _push(s, adds[k], seg_end[k], st, sp, acc)
    return acc


@njit
def _fold_levels(raw, lut, hist):
    """Fold the raw-level counts ``raw`` (fg, bg) into the quantised-level histograms ``hist[4]`` (fg)
    and ``hist[0]`` (bg). Only levels present in the map are visited; their ``lut`` values lie in
    ``[0, 1]`` (see ``segmetrics._normalize.uint8_level_values``), so ``q`` is in ``0..255``."""
    for u in range(256):
        if raw[0, u] + raw[1, u] == 0:
            continue
        q = int(lut[u] * 255.0)
        hist[4, q] += raw[0, u]
        hist[0, q] += raw[1, u]


@njit
def strict_from_raw(raw, lut, thr, hist):
    """MATLAB E-measure counts for a uint8 map from its raw level histograms ``raw`` (fg, bg)."""
    tp = 0
    fp = 0
    for u in range(256):
        if raw[0, u] + raw[1, u] == 0:
            continue
        v = lut[u]
        if v > thr:
            tp += raw[0, u]
            fp += raw[1, u]
        k = int(v * 255.0)
        while k >= 0 and not (k / 255.0 < v):
            k -= 1
        while k < 255 and (k + 1) / 255.0 < v:
            k += 1
        if k >= 0:
            hist[0, k] += raw[0, u]
            hist[1, k] += raw[1, u]
    return tp, fp


# --------------------------------------------------------------------------- uint8 fast path
#
# A uint8 prediction takes at most 256 distinct values ``lut[u]``. One pass counts, for each of the
# four S-measure blocks and each GT class, how many pixels sit at each raw level; every sum the
# metrics need (the mean, the MAE, the object means and deviations, the block moments) is then a
# 256-term sum of ``count * f(lut[u])``, added with Neumaier compensation. The results are the
# exact values to within a few ulps, not numpy's pairwise rounding, so they agree with
# pysodmetrics to ~1e-15 instead of bit for bit. The discrete decisions that could depend on that
# last-bit rounding are detected and sent back to the numpy-order kernels (``hazard``):
# a level within ``_TIE_TOL`` of the adaptive threshold, and a block with a constant non-zero
# prediction and a constant GT (where pysod's SSIM branch ``b == 0`` depends on whether numpy's
# mean of the constant rounds back to it).

_TIE_TOL = 1e-11


@njit
def block_level_hist(pu, g, h, w, cy, cx, cnt):
    """``cnt[2 * b + k, u]`` += number of pixels of block ``b`` (lt, rt, lb, rb split at
    ``(cy, cx)``), GT class ``k`` (0 = bg, 1 = fg) and raw level ``u``.

    Counted in four interleaved int32 copies (column ``mod 4``, to shorten the store-to-load chains
    on runs of one level) in one flat table indexed by bit fields (``copy << 11 | class << 8 | u``,
    every field in range by construction), added into the int64 ``cnt`` every ``rows_per_flush``
    rows so that no int32 count can exceed ``rows_per_flush · ⌈w / 4⌉ < 2³¹``.
    """
    loc = np.zeros(4 * 8 * 256, np.int32)
    rows_per_flush = max(1, (2**31 - 1) // ((w + 3) // 4))
    for r0 in range(0, h, rows_per_flush):
        _level_hist_rows(pu, g.view(np.uint8), r0, min(h, r0 + rows_per_flush), w, cy, cx, loc)
        for c in range(4):
            for r in range(8):
                for u in range(256):
                    i = (c << 11) | (r << 8) | u
                    cnt[r, u] += loc[i]
                    loc[i] = 0


@njit
def _level_hist_rows(pu, g8, r0, r1, w, cy, cx, loc):
    """The counting of :func:`block_level_hist` for rows ``r0 ≤ row < r1`` into ``loc``."""
    for row in range(r0, r1):
        base = row * w
        b0 = np.uint64(0 if row < cy else 4)
        for col in range(cx):
            t = base + col
            k = b0 + (np.uint64(g8[t]) & np.uint64(1))
            loc[(np.uint64(col & 3) << np.uint64(11)) | (k << np.uint64(8)) | np.uint64(pu[t])] += 1
        b1 = b0 + np.uint64(2)
        for col in range(cx, w):
            t = base + col
            k = b1 + (np.uint64(g8[t]) & np.uint64(1))
            loc[(np.uint64(col & 3) << np.uint64(11)) | (k << np.uint64(8)) | np.uint64(pu[t])] += 1


@njit
def _nsum(vals, n):
    """Neumaier-compensated sum of ``vals[:n]``."""
    s = 0.0
    c = 0.0
    for i in range(n):
        s, c = neumaier_add(s, c, vals[i])
    return s + c


@njit
def level_hist(pu, g, raw):
    """``raw[0 / 1, u]`` += number of GT-foreground / background pixels at raw level ``u`` (one pass;
    eight interleaved copies shorten the store-to-load chains of runs of one level)."""
    cnt = np.zeros((8, 512), np.int64)  # [copy, 256 * is_fg + level]
    n = g.size
    m = n - n % 8
    for t in range(0, m, 8):
        for k in range(8):
            cnt[k, (np.int64(g[t + k]) << 8) + pu[t + k]] += 1
    for t in range(m, n):
        cnt[0, (np.int64(g[t]) << 8) + pu[t]] += 1
    for u in range(256):
        fg = 0
        bg = 0
        for k in range(8):
            fg += cnt[k, 256 + u]
            bg += cnt[k, u]
        raw[0, u] += fg
        raw[1, u] += bg


@njit
def raw_summary(raw, lut, n):
    """From the raw-level counts of a uint8 map: compensated ``sum P``, ``sum |P - G|``, the adaptive
    threshold and its ``(TP, FP)``, and whether a present level ties with the threshold (``hazard``:
    the caller must then use the numpy-order kernels)."""
    tmp = np.empty(512)
    for u in range(256):
        tmp[u] = (raw[0, u] + raw[1, u]) * lut[u]
    sum_v = _nsum(tmp, 256)
    for u in range(256):
        tmp[u] = raw[1, u] * lut[u]
        tmp[256 + u] = raw[0, u] * (1.0 - lut[u])
    sum_abs = _nsum(tmp, 512)
    thr2 = 2 * (sum_v / n)
    thr = min(thr2, 1.0)
    tp = 0
    fp = 0
    for u in range(256):
        if raw[0, u] + raw[1, u] == 0:
            continue
        if abs(lut[u] - thr2) <= _TIE_TOL:
            return sum_v, sum_abs, thr, tp, fp, True
        if lut[u] >= thr:
            tp += raw[0, u]
            fp += raw[1, u]
    return sum_v, sum_abs, thr, tp, fp, False


@njit
def lut_image_kernel(pu, g, h, w, lut, nfg, sr, sc, want_s, alpha, s_matlab, avoid_nan, hist, raw):
    """:func:`image_kernel` for a uint8 map from level histograms (see the section notes).

    Returns ``(sum P, sum |P - G|, thr, TP, FP, S, hazard)``; when ``hazard`` is True the other
    values must be discarded and :func:`image_kernel` run instead (``hist`` / ``raw`` are left
    zeroed in that case).
    """
    n = h * w
    s_region = want_s and 0 < nfg < n
    cy = 0
    cx = 0
    if s_region:
        cy, cx = centroid(nfg, sr, sc, s_matlab)
    cnt = np.zeros((8, 256), np.int64)  # [2 * block + class, level]
    block_level_hist(pu, g, h, w, cy, cx, cnt)
    for u in range(256):
        raw[0, u] = cnt[1, u] + cnt[3, u] + cnt[5, u] + cnt[7, u]
        raw[1, u] = cnt[0, u] + cnt[2, u] + cnt[4, u] + cnt[6, u]
    sum_v, sum_abs, thr, tp, fp, hazard = raw_summary(raw, lut, n)
    sm = np.nan
    if hazard:
        raw[:, :] = 0
        return sum_v, sum_abs, thr, tp, fp, sm, True
    tmp = np.empty(512)
    if not s_region:
        if want_s:
            sm = 1 - sum_v / n if nfg == 0 else sum_v / n
    else:
        # object term: fg values P, bg values 1 - P
        nbg = n - nfg
        for u in range(256):
            tmp[u] = raw[0, u] * lut[u]
        m_fg = _nsum(tmp, 256) / nfg
        for u in range(256):
            tmp[u] = raw[1, u] * (1.0 - lut[u])
        m_bg = _nsum(tmp, 256) / nbg
        for u in range(256):
            x = lut[u] - m_fg
            tmp[u] = raw[0, u] * (x * x)
        ss_fg = _nsum(tmp, 256)
        for u in range(256):
            x = (1.0 - lut[u]) - m_bg
            tmp[u] = raw[1, u] * (x * x)
        ss_bg = _nsum(tmp, 256)
        y = nfg / n
        object_score = _s_object(m_fg, ss_fg, nfg) * y + _s_object(m_bg, ss_bg, nbg) * (1 - y)
        # region term: four blocks
        dims = ((cy, cx), (cy, w - cx), (h - cy, cx), (h - cy, w - cx))
        w_lt = cx * cy / n
        w_rt = cy * (w - cx) / n
        w_lb = (h - cy) * cx / n
        wts = (w_lt, w_rt, w_lb, 1 - w_lt - w_rt - w_lb)
        region = 0.0
        for b in range(4):
            bh, bw = dims[b]
            nb = bh * bw
            if avoid_nan and nb == 0:
                continue
            if nb == 0:
                region = region + np.nan * wts[b]
                continue
            c0 = cnt[2 * b]
            c1 = cnt[2 * b + 1]
            n1 = 0
            levels = 0
            for u in range(256):
                tmp[u] = (c0[u] + c1[u]) * lut[u]
                n1 += c1[u]
                if c0[u] + c1[u] > 0:
                    levels += 1
            x = _nsum(tmp, 256) / nb
            yb = n1 / nb
            if (n1 == 0 or n1 == nb) and levels == 1 and x != 0.0:
                raw[:, :] = 0
                return sum_v, sum_abs, thr, 0, 0, sm, True
            dy1 = 1.0 - yb
            dy0 = 0.0 - yb
            for u in range(256):
                dx = lut[u] - x
                tmp[u] = (c0[u] + c1[u]) * (dx * dx)
                tmp[256 + u] = dx * (c1[u] * dy1 + c0[u] * dy0)
            sxx = _nsum(tmp, 256)
            sxy = _nsum(tmp[256:], 256)
            syy = n1 * (dy1 * dy1) + (nb - n1) * (dy0 * dy0)
            region = region + _ssim_from(x, yb, sxx, syy, sxy, nb) * wts[b]
        sm = object_score * alpha + region * (1 - alpha)
        if sm < 0:
            sm = 0.0
    _fold_levels(raw, lut, hist)
    return sum_v, sum_abs, thr, tp, fp, sm, False
