"""numba kernels of the weighted F-measure (Margolin et al., CVPR 2014), pysodmetrics parity (1e-10).

Reference semantics (pysodmetrics 1.6 ``WeightedFmeasure.cal_wfm``; ``P̂`` normalised prediction,
``G`` boolean GT):

* ``E = |P̂ − G|``; ``(D, idx)`` = Euclidean distance transform of ``¬G`` with the index of the
  nearest GT pixel (scipy tie-breaking, see :mod:`segmetrics._kernels.edt`);
* ``Et = E`` with ``Et[¬G] = E[idx]``; ``EA = Et ⋆ K`` (7×7 Gaussian, σ = 5, zero padding);
* ``MIN = E`` except ``MIN[G ∧ EA < E] = EA``; ``B = 1`` on ``G`` and ``2 − exp(ln(0.5)/5·D)`` on
  ``¬G``; ``Ew = MIN·B``;
* ``TPw = |G| − Σ_G Ew``, ``FPw = Σ_¬G Ew``, ``R = 1 − Σ_G Ew / |G|``, ``P = TPw/(TPw + FPw + eps)``,
  ``Q = (1 + β)·R·P/(R + β·P + eps)``.

Exactness: ``D``, the nearest GT pixel, ``E``, ``Et`` and ``B`` are bit-identical to the
reference's (``B`` is looked up in a table built with numpy's own ``exp``, ``B == 2.0`` exactly
beyond it). The 7×7 Gaussian is an outer product up to rounding, so ``EA`` is computed separably
(:func:`separable_factors`: a 7-row column sum, then a 7-tap row filter, 14 products per pixel
instead of 49); it can differ from scipy's 49-term sum in its last bits, so ``MIN`` can too,
which moves the result by about 1e-16 relative. The two sums ``Σ_G Ew`` and ``Σ_¬G Ew`` are not
taken in numpy's pairwise order (that streaming bookkeeping cost about a fifth of the kernel):
each row is summed left to right and the row sums are added with Neumaier compensation, so the result agrees with
pysodmetrics within 1e-10 (observed: a few ulps), not always bit for bit. Everything is fused
into one streaming pass over the rows: the row Voronoi pass of the EDT produces ``D²`` and the
nearest GT pixel row by row, a ring of 7 rows of ``Et`` feeds the correlation three rows behind,
and the ``Ew`` values go straight into the two sums. Per row: a branch-free column pass
(:func:`~segmetrics._kernels.edt.row_heights`, which leaves the inner pixels of G runs out of the
envelope: they are never the nearest GT pixel of a ¬G pixel), the lower envelope, one pass over
its sites (:func:`_site_pass`) and one branch-free pass over the pixels (:func:`_pixel_pass`).
Where ``E = 0`` on G (``P̂ = 1``, the inside of a confident prediction) ``MIN = 0`` whatever ``EA``
is (a sum of non-negative products), so the correlation is skipped over such stretches; nearby
stretches share one correlation call. The only image-sized temporary is the column pass of the EDT
(int16, or int32 above 32767 rows); a uint8 prediction is read directly.
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit
from segmetrics._kernels.edt import lower_envelope, next_row_below, row_heights
from segmetrics._kernels.summation import neumaier_add

EPS = float(np.spacing(1))

#: kernel half-size (7×7 window)
R = 3
K = 2 * R + 1
#: ¬G pixels farther than this (squared) from G lie in no G pixel's 7×7 window (Chebyshev 3 ⇒ d² ≤ 18)
NEAR_D2 = 2 * R * R
#: shortest stretch of G pixels with E == 0 for which the correlation is skipped
_SKIP = 32


@njit(fastmath=True)
def min_max(a):
    """``(a.min(), a.max())`` of a C-contiguous float64 (H, W) array in one pass.

    The input is validated finite, so fast-math only lets the two reductions vectorise; min and max
    are exact whatever the order.
    """
    flat = a.reshape(-1)
    lo = flat[0]
    hi = flat[0]
    for i in range(flat.shape[0]):
        v = flat[i]
        lo = min(lo, v)
        hi = max(hi, v)
    return lo, hi


@njit
def _pn_value(v, lut, norm, lo, scale):
    """One value of ``P̂``: ``lut[v]`` for uint8 input (``lut`` given), else ``v`` or ``(v − lo) / scale``."""
    if lut.shape[0] == 256:
        return lut[np.intp(v)]
    if norm:
        return (np.float64(v) - lo) / scale
    return np.float64(v)


@njit
def _normalized_row(prow, lut, norm, lo, scale, out):
    """Write the row of ``P̂`` into ``out``.

    uint8 input: ``out = lut[prow]`` with ``lut[u] = (u / 255 − lo) / scale`` (or ``u / 255``)
    precomputed with numpy, i.e. the float64 operations of ``prepare_pred`` and
    ``minmax_normalize``, without a division per pixel. Float input: ``(p − lo) / scale`` when
    ``norm``, else ``p``. ``lut`` has 256 entries for uint8 input, 0 otherwise.
    """
    if lut.shape[0] == 256:
        for x in range(prow.shape[0]):
            out[x] = lut[np.intp(prow[x])]
    elif norm:
        for x in range(prow.shape[0]):
            out[x] = (np.float64(prow[x]) - lo) / scale
    else:
        for x in range(prow.shape[0]):
            out[x] = np.float64(prow[x])
    return out


@njit
def _site_pass(sst, hst, n, w, near, pred, lut, norm, lo, scale, frow, mark, ev_site, run_a, run_b):
    """Per envelope site of one row: where its run of columns starts, its ``Et`` value, the G runs.

    Site ``k`` wins the columns ``[x, ends_k)`` left by the sites before it (:func:`run_ends`'s rule,
    inlined): ``mark[x] = k`` is written for every site, the later one overwriting an empty run's,
    so that the running maximum of ``mark`` over the row is the winning site of each column
    (``mark`` has ``w + 1`` entries: ``x`` reaches ``w`` after the last non-empty run). ``ev_site[k]``
    = ``E`` at the site's nearest GT pixel, only for ``hst[k] <= NEAR_D2`` (the only ``Et`` values
    read). Sites with ``hst == 0`` are the first and last pixels of the row's G runs (the inner ones
    are not sites, :func:`row_heights`): ``run_a``, ``run_b`` receive the runs; returns their number.
    """
    for x in range(w + 1):
        mark[x] = -1
    x = np.int64(0)
    nr = 0
    open_run = False
    for k in range(n):
        s0 = sst[k]
        e = np.int64(w)
        if k + 1 < n:
            s1 = sst[k + 1]
            t = hst[k + 1] - hst[k] + s1 * s1 - s0 * s0
            if s1 - s0 == 1:  # adjacent sites (the common case): floor(t / 2) is an arithmetic shift
                e = min((t >> 1) + 1, e)
            else:
                e = min(np.int64(np.floor(np.float64(t) / np.float64(2 * (s1 - s0)))) + 1, e)
        mark[x] = k
        x = max(x, e)
        hh = hst[k]
        if hh <= NEAR_D2:
            ev_site[k] = abs(_pn_value(pred[near[s0], s0], lut, norm, lo, scale) - 1.0)
            if hh == 0:  # a G pixel: first or last pixel of a G run
                if open_run:
                    run_b[nr - 1] = s0 + 1
                    open_run = False
                else:
                    run_a[nr] = s0
                    run_b[nr] = s0 + 1
                    nr += 1
                    open_run = s0 + 1 < w and frow[s0 + 1]
    return nr


@njit
def _pixel_pass(pnrow, frow, mark, sst, hst, ev_site, et, btable):
    """One row: ``Σ_¬G P̂·B(D²)`` left to right, and ``Et`` into ``et`` (``R`` columns of padding).

    The winning site ``o`` of column ``x`` is the running maximum of ``mark`` (:func:`_site_pass`);
    ``D² = hst[o] + (x − sst[o])²``, clamped to the last entry of ``btable`` (``B = 2.0`` from there
    on). G pixels add ``+0.0`` and get ``Et = E = |P̂ − 1|``; ``¬G`` pixels get their site's value
    (only meaningful, and only read, where ``D² <= NEAR_D2``). No branch per pixel.
    """
    w = pnrow.shape[0]
    f8 = frow.view(np.uint8)
    last = np.int64(btable.shape[0] - 1)
    o = np.int64(0)
    acc = 0.0
    for x in range(w):
        o = max(o, mark[x])
        dx = x - sst[o]
        t = pnrow[x] * btable[min(hst[o] + dx * dx, last)]
        fg = f8[x] != 0
        acc += 0.0 if fg else t
        et[x + R] = abs(pnrow[x] - 1.0) if fg else ev_site[o]
    return acc


@njit
def separable_factors(krn):
    """``(u, v)`` with ``krn[i, j] ≈ u[i]·v[j]``: ``u`` the middle column, ``v`` the middle row / centre.

    The Gaussian is an outer product ``g_i·g_j / S`` up to rounding, so ``u[i]·v[j]`` differs from
    ``krn[i, j]`` by a few ulps.
    """
    u = np.empty(K, np.float64)
    v = np.empty(K, np.float64)
    for i in range(K):
        u[i] = krn[i, R]
        v[i] = krn[R, i] / krn[R, R]
    return u, v


@njit
def _correlate_run(acc, col, ring, slot_of, u, v, a, b):
    """``acc[0:b−a]`` = EA at columns ``a ≤ x < b``, separably: column sums, then a 7-tap row filter.

    ``ring`` rows are ``Et`` with ``R`` zero columns on each side; kernel rows outside the image
    (``slot_of[i] == K``) are left out (their terms are ``+0.0``). ``col`` receives the column sums
    ``Σ_i u[i]·Et[y − R + i]`` over ``[a − R, b + R)``; 14 products per pixel instead of 49, so
    ``EA`` can differ from the 49-term sum in its last bits (the weighted F-measure by ~1e-16
    relative).
    """
    n = b - a
    m = n + 2 * R
    r0 = ring[slot_of[0]][a : a + m]
    r1 = ring[slot_of[1]][a : a + m]
    r2 = ring[slot_of[2]][a : a + m]
    r3 = ring[slot_of[3]][a : a + m]
    r4 = ring[slot_of[4]][a : a + m]
    r5 = ring[slot_of[5]][a : a + m]
    r6 = ring[slot_of[6]][a : a + m]
    u0 = u[0]
    u1 = u[1]
    u2 = u[2]
    u3 = u[3]
    u4 = u[4]
    u5 = u[5]
    u6 = u[6]
    for t in range(m):
        col[t] = u0 * r0[t] + u1 * r1[t] + u2 * r2[t] + u3 * r3[t] + u4 * r4[t] + u5 * r5[t] + u6 * r6[t]
    v0 = v[0]
    v1 = v[1]
    v2 = v[2]
    v3 = v[3]
    v4 = v[4]
    v5 = v[5]
    v6 = v[6]
    for t in range(n):
        acc[t] = (
            v0 * col[t]
            + v1 * col[t + 1]
            + v2 * col[t + 2]
            + v3 * col[t + 3]
            + v4 * col[t + 4]
            + v5 * col[t + 5]
            + v6 * col[t + 6]
        )


@njit
def _add_stretches(rg, acc, col, ring, slot_of, u, v, pnrow, pend_a, pend_b, npend):
    """``rg`` plus ``min(EA, E)`` of every pixel of the ``npend`` stretches, in order.

    EA is correlated once over ``[pend_a[0], pend_b[npend − 1])`` (the stretches are left to right,
    disjoint); the pixels between the stretches are computed but not added.
    """
    a0 = pend_a[0]
    _correlate_run(acc, col, ring, slot_of, u, v, a0, pend_b[npend - 1])
    for k in range(npend):
        for x in range(pend_a[k], pend_b[k]):
            e = abs(pnrow[x] - 1.0)
            ea = acc[x - a0]
            rg += ea if ea < e else e
    return rg


def wfm(pred, gt, lut, norm, lo, scale, krn, btable, beta, eps):
    """Weighted F-measure of one image; ``gt`` must contain at least one True pixel.

    ``pred`` is the float64 prediction in [0, 1], min-max normalised on the fly as
    ``(p − lo) / scale`` when ``norm`` (``scale = max − min > 0``, bit-identical to
    ``minmax_normalize``), with an empty ``lut``; or the uint8 map with the 256-entry ``lut`` of
    its ``P̂`` values (see :func:`_normalized_row`).

    Plain Python: it picks the column-pass dtype (int16 up to 32767 rows, else int32), so that only
    the specialisation in use gets compiled.
    """
    h, w = gt.shape
    nxt = np.empty((h, w), np.int16 if h <= 32767 else np.int32)
    n_fg = next_row_below(gt, nxt)
    return _wfm_rows(pred, gt, nxt, n_fg, lut, norm, lo, scale, krn, btable, beta, eps)


@njit
def _wfm_rows(pred, gt, nxt, n_fg, lut, norm, lo, scale, krn, btable, beta, eps):
    """The streaming pass of :func:`wfm` (``nxt`` filled by :func:`next_row_below`)."""
    h, w = gt.shape
    s_fg = 0.0
    c_fg = 0.0
    s_bg = 0.0
    c_bg = 0.0

    ring = np.zeros((K + 1, w + 2 * R), np.float64)  # Et rows (R zero columns each side) + a zero row
    last = np.full(w, -1, np.int32)
    near = np.empty(w, np.int32)
    hcol = np.empty(w, np.int32)
    sst = np.empty(w, np.int64)
    hst = np.empty(w, np.int64)
    mark = np.empty(w + 1, np.int64)
    ev_site = np.zeros(w, np.float64)
    acc = np.empty(w, np.float64)
    col = np.empty(w + 2 * R, np.float64)  # column sums of the separable correlation
    u, v = separable_factors(krn)
    pnbuf = np.empty((R + 1, w), np.float64)  # rows yy − R .. yy of P̂
    # runs of G pixels of rows yy − R .. yy: [starts, ends) and count
    run_a = np.empty((R + 1, w), np.int64)
    run_b = np.empty((R + 1, w), np.int64)
    n_runs = np.zeros(R + 1, np.int64)
    slot_of = np.empty(K, np.int64)
    pend_a = np.empty(w, np.int64)  # stretches of G pixels waiting for one correlation call
    pend_b = np.empty(w, np.int64)
    cap = np.int64(btable.shape[0] - 1)  # btable[cap] == 2.0 == B for every D² >= cap

    for yy in range(h + R):
        # ---- stage A, row yy: EDT row pass; ¬G values go to their sum now, Et to the ring ----
        if yy < h:
            grow = gt[yy]
            pnrow = _normalized_row(pred[yy], lut, norm, lo, scale, pnbuf[yy % (R + 1)])
            # candidates at D² >= cap only ever give B == 2.0, inner pixels of G runs are never the
            # nearest GT pixel of a ¬G pixel: both are left out of the envelope
            row_heights(grow, nxt[yy], yy, last, near, hcol, cap, True)
            n = lower_envelope(hcol, cap, sst, hst)
            if n == 0:  # no G within sqrt(cap) of this row: one site that gives D² >= cap everywhere
                sst[0] = 0
                hst[0] = cap
                n = 1
            slot = yy % (R + 1)
            n_runs[slot] = _site_pass(sst, hst, n, w, near, pred, lut, norm, lo, scale, grow, mark, ev_site,
                                      run_a[slot], run_b[slot])
            rs = _pixel_pass(pnrow, grow, mark, sst, hst, ev_site, ring[yy % K], btable)
            s_bg, c_bg = neumaier_add(s_bg, c_bg, rs)
        # ---- stage B, row yc = yy − R (its 7×7 neighbourhood of Et is complete) ----
        yc = yy - R
        if yc < 0:
            continue
        for i in range(K):
            yi = yc - R + i
            slot_of[i] = yi % K if 0 <= yi < h else K
        pnrow = pnbuf[yc % (R + 1)]
        ra = run_a[yc % (R + 1)]
        rb = run_b[yc % (R + 1)]
        rg = 0.0
        npend = 0
        for r in range(n_runs[yc % (R + 1)]):
            # MIN = E where E == 0 (P̂ == 1): EA, a sum of non-negative products, is never below 0,
            # and those terms add exactly +0.0, so EA is not computed over stretches of E == 0 at
            # least _SKIP long (the common inside of a confident prediction).
            a = ra[r]
            b = rb[r]
            while a < b:
                while a < b and pnrow[a] == 1.0:
                    a += 1
                if a == b:
                    break
                c = a + 1  # extend over E > 0 and over gaps of E == 0 shorter than _SKIP
                z = a + 1
                while c < b and c - z < _SKIP:
                    if pnrow[c] != 1.0:
                        z = c + 1
                    c += 1
                c = z
                # stretches less than _SKIP apart (short G runs: thin strokes, text) share one
                # correlation call; their pixels are still added one by one, in order
                if npend > 0 and a - pend_b[npend - 1] >= _SKIP:
                    rg = _add_stretches(rg, acc, col, ring, slot_of, u, v, pnrow, pend_a, pend_b, npend)
                    npend = 0
                pend_a[npend] = a
                pend_b[npend] = c
                npend += 1
                a = c
        if npend > 0:
            rg = _add_stretches(rg, acc, col, ring, slot_of, u, v, pnrow, pend_a, pend_b, npend)
        s_fg, c_fg = neumaier_add(s_fg, c_fg, rg)

    s_fg += c_fg
    s_bg += c_bg
    tpw = np.float64(n_fg) - s_fg
    fpw = s_bg
    rec = 1.0 - s_fg / np.float64(n_fg)
    prec = tpw / (tpw + fpw + eps)
    return (1.0 + beta) * rec * prec / (rec + beta * prec + eps)
