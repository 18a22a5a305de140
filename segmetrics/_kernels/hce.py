"""Numba kernels of HCE: bit-packed 3×3-cross morphology and the boundary-run walk.

Masks are packed 64 pixels per ``uint64`` word along rows (pixel ``c`` of a row is bit ``c % 64``
of word ``c // 64``). Bits past the right image edge ("padding bits") are kept at 0.

OpenCV border semantics: erosion sees the outside of the image as foreground (nothing erodes in
from the image edge) and dilation sees it as background.
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit

ALL = np.uint64(0xFFFFFFFFFFFFFFFF)
ONE = np.uint64(1)
S63 = np.uint64(63)


@njit
def pack_threshold(pred, gt, thr, lo, scale, use_minmax, p_out, g_out):
    """Pack ``P = pred > thr`` (optionally of ``(pred - lo) / scale``) and ``G = gt``; return the bbox of P ∪ G.

    Returns ``(r0, r1, c0, c1)`` (half-open); ``r0 == r1 == 0`` when both masks are empty.
    """
    h, w = pred.shape
    r0 = h
    r1 = 0
    c0 = w
    c1 = 0
    for r in range(h):
        row_any = False
        for wd in range(p_out.shape[1]):
            pw = np.uint64(0)
            gw = np.uint64(0)
            cs = wd * 64
            ce = min(cs + 64, w)
            for c in range(cs, ce):
                v = pred[r, c]
                if use_minmax:
                    v = (v - lo) / scale
                b = np.uint64(c - cs)
                if v > thr:
                    pw |= ONE << b
                if gt[r, c]:
                    gw |= ONE << b
            p_out[r, wd] = pw
            g_out[r, wd] = gw
            u = pw | gw
            if u:
                row_any = True
                # first and last set bit of the word
                lo_bit = 0
                while not ((u >> np.uint64(lo_bit)) & ONE):
                    lo_bit += 1
                hi_bit = 63
                while not ((u >> np.uint64(hi_bit)) & ONE):
                    hi_bit -= 1
                c0 = min(c0, cs + lo_bit)
                c1 = max(c1, cs + hi_bit + 1)
        if row_any:
            r0 = min(r0, r)
            r1 = r + 1
    if r1 == 0:
        return 0, 0, 0, 0
    return r0, r1, c0, c1


@njit
def pack_into(mask, r_off, c_off, out):
    """OR the boolean ``mask`` into packed ``out`` with its top-left pixel at ``(r_off, c_off)``."""
    h, w = mask.shape
    for r in range(h):
        for c in range(w):
            if mask[r, c]:
                cc = c + c_off
                out[r + r_off, cc >> 6] |= ONE << np.uint64(cc & 63)


@njit
def unpack(x, ncols, out):
    """Unpack the first ``ncols`` columns of packed ``x`` into the uint8 0/1 array ``out``."""
    for r in range(x.shape[0]):
        for c in range(ncols):
            out[r, c] = (x[r, c >> 6] >> np.uint64(c & 63)) & ONE


@njit
def _neighbours_or(x, r, wd, last_mask, outside):
    """Return (centre, up, down, left, right) words around word ``(r, wd)`` of ``x``.

    ``outside`` (0 or all ones) is what lies beyond the array edges (its padding bits included).
    """
    h, nw = x.shape
    pad = ~last_mask & outside
    c = x[r, wd]
    if wd == nw - 1:
        c |= pad
    if r > 0:
        up = x[r - 1, wd]
    else:
        up = outside
    if r < h - 1:
        dn = x[r + 1, wd]
    else:
        dn = outside
    if wd > 0:
        prev_hi = x[r, wd - 1] >> S63
    else:
        prev_hi = outside & ONE
    if wd < nw - 1:
        nxt = x[r, wd + 1]
        if wd + 1 == nw - 1:
            nxt |= pad
        next_lo = nxt << S63
    else:
        next_lo = outside << S63
    left = (c << ONE) | prev_hi  # bit j holds pixel j - 1
    right = (c >> ONE) | next_lo  # bit j holds pixel j + 1
    return c, up, dn, left, right


@njit
def erode_cross(x, last_mask, out):
    """``out`` = erosion of ``x`` by the 3×3 cross; the outside counts as foreground."""
    h, nw = x.shape
    for r in range(h):
        for wd in range(nw):
            c, up, dn, left, right = _neighbours_or(x, r, wd, last_mask, ALL)
            v = c & up & dn & left & right
            if wd == nw - 1:
                v &= last_mask
            out[r, wd] = v


@njit
def dilate_cross_and(x, allowed, last_mask, out):
    """``out`` = dilation of ``x`` by the 3×3 cross (outside = background), AND ``allowed``."""
    h, nw = x.shape
    for r in range(h):
        for wd in range(nw):
            c, up, dn, left, right = _neighbours_or(x, r, wd, last_mask, np.uint64(0))
            v = (c | up | dn | left | right) & allowed[r, wd]
            if wd == nw - 1:
                v &= last_mask
            out[r, wd] = v


@njit
def relax_masks(p, g, s, iters, last_mask):
    """The relaxed FP′ / FN′ masks and the two dilated edge conditions (DIS ``relax_HCE`` steps).

    Args: packed ``p`` (prediction), ``g`` (GT), ``s`` (GT skeleton), ``iters`` erosion / dilation
    iterations, ``last_mask`` valid bits of the last word.

    Returns: packed ``(tp, fp, fn, fp_rel, fn_rel, cond_fp, cond_fn)``.
    """
    nw = p.shape[1]
    tp = p & g
    fp = p & ~g
    fn = g & ~p
    not_g = ~g
    not_p = ~p
    not_g[:, nw - 1] &= last_mask
    not_p[:, nw - 1] &= last_mask
    a = p | g
    b = np.empty_like(a)
    for _ in range(iters):
        erode_cross(a, last_mask, b)
        a, b = b, a
    fp_rel = fp & a
    fn_rel = fn & a
    for _ in range(iters):
        dilate_cross_and(fp_rel, not_g, last_mask, b)
        fp_rel, b = b, fp_rel
    fp_rel &= fp
    for _ in range(iters):
        dilate_cross_and(fn_rel, not_p, last_mask, b)
        fn_rel, b = b, fn_rel
    fn_rel &= fn
    fn_rel |= s & ~tp
    ones = np.empty_like(a)
    ones[:] = ALL
    ones[:, nw - 1] = last_mask
    cond_fp = np.empty_like(a)
    dilate_cross_and(tp | fn_rel, ones, last_mask, cond_fp)
    cond_fn = np.empty_like(a)
    bg = ~(tp | fp_rel | fn_rel)
    bg[:, nw - 1] &= last_mask
    dilate_cross_and(bg, ones, last_mask, cond_fn)
    return tp, fp, fn, fp_rel, fn_rel, cond_fp, cond_fn


@njit
def boundary_runs(points, offsets, cond, labels, n_labels):
    """Split contours into runs of points to be edited, as the DIS script does.

    A contour point (x, y) is editable when the packed ``cond`` is set there and it was not taken
    before (one visited map for all contours of the mask). Editable points form runs; when a contour
    gives more than one run and the first run's first point is 8-adjacent to the last run's last
    point, the first run is reversed and appended to the last run.

    Args: ``points`` (M, 2) int32 contour points (x, y) of all contours, ``offsets`` (K + 1,) start
    of each contour, ``cond`` packed condition, ``labels`` int32 region labels of the mask,
    ``n_labels`` number of labels including the background 0.

    Returns: ``(run_points (R, 2) int32, run_offsets (n_runs + 1,) int64, touched (n_labels,) bool)``.
    """
    h = labels.shape[0]
    w = labels.shape[1]
    visited = np.zeros((h, w), np.uint8)
    touched = np.zeros(n_labels, np.bool_)
    m = points.shape[0]
    out = np.empty((m, 2), np.int32)
    run_off = np.empty(m + 1, np.int64)
    n_out = 0
    n_runs = 0
    run_off[0] = 0
    # per-contour scratch: runs as [start, end) into tmp
    tmp = np.empty((m, 2), np.int32)
    tstart = np.empty(m + 1, np.int64)
    tend = np.empty(m + 1, np.int64)
    for k in range(offsets.shape[0] - 1):
        n_tmp = 0
        n_tr = 0
        in_run = False
        for j in range(offsets[k], offsets[k + 1]):
            x = points[j, 0]
            y = points[j, 1]
            ok = ((cond[y, x >> 6] >> np.uint64(x & 63)) & ONE) != 0 and visited[y, x] == 0
            if not ok:
                if in_run:
                    tend[n_tr] = n_tmp
                    n_tr += 1
                    in_run = False
                continue
            if not in_run:
                tstart[n_tr] = n_tmp
                in_run = True
            tmp[n_tmp, 0] = x
            tmp[n_tmp, 1] = y
            n_tmp += 1
            visited[y, x] = 1
            touched[labels[y, x]] = True
        if in_run:
            tend[n_tr] = n_tmp
            n_tr += 1
        first = 0
        merge = False
        if n_tr > 1:
            fx = tmp[tstart[0], 0]
            fy = tmp[tstart[0], 1]
            lx = tmp[tend[n_tr - 1] - 1, 0]
            ly = tmp[tend[n_tr - 1] - 1, 1]
            if max(abs(fx - lx), abs(fy - ly)) == 1:
                merge = True
                first = 1
        for t in range(first, n_tr):
            for i in range(tstart[t], tend[t]):
                out[n_out, 0] = tmp[i, 0]
                out[n_out, 1] = tmp[i, 1]
                n_out += 1
            if merge and t == n_tr - 1:
                for i in range(tend[0] - 1, tstart[0] - 1, -1):
                    out[n_out, 0] = tmp[i, 0]
                    out[n_out, 1] = tmp[i, 1]
                    n_out += 1
            n_runs += 1
            run_off[n_runs] = n_out
    return out[:n_out], run_off[: n_runs + 1], touched
