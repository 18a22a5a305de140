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
def _ctz(x):
    """Index of the lowest set bit of a non-zero uint64 (binary search, no overflowing arithmetic)."""
    n = 0
    if (x & np.uint64(0xFFFFFFFF)) == 0:
        n += 32
        x >>= np.uint64(32)
    if (x & np.uint64(0xFFFF)) == 0:
        n += 16
        x >>= np.uint64(16)
    if (x & np.uint64(0xFF)) == 0:
        n += 8
        x >>= np.uint64(8)
    if (x & np.uint64(0xF)) == 0:
        n += 4
        x >>= np.uint64(4)
    if (x & np.uint64(0x3)) == 0:
        n += 2
        x >>= np.uint64(2)
    if (x & ONE) == 0:
        n += 1
    return n


def pack(mask):
    """Pack a boolean (H, W) mask into ``uint64`` words (H, ceil(W / 64)), pixel c at bit c % 64."""
    h, w = mask.shape
    nw = (w + 63) // 64
    buf = np.zeros((h, nw * 8), np.uint8)
    buf[:, : (w + 7) // 8] = np.packbits(mask, axis=1, bitorder="little")
    return buf.view("<u8").view(np.uint64)


@njit
def _high_bit(u):
    """Index of the highest set bit of a non-zero uint64."""
    n = 63
    if (u >> np.uint64(32)) == 0:
        n -= 32
        u <<= np.uint64(32)
    if (u >> np.uint64(48)) == 0:
        n -= 16
        u <<= np.uint64(16)
    if (u >> np.uint64(56)) == 0:
        n -= 8
        u <<= np.uint64(8)
    if (u >> np.uint64(60)) == 0:
        n -= 4
        u <<= np.uint64(4)
    if (u >> np.uint64(62)) == 0:
        n -= 2
        u <<= np.uint64(2)
    if (u >> S63) == 0:
        n -= 1
    return n


def pack_aligned_into(mask, r_off, c_off, out):
    """OR the boolean ``mask`` into packed ``out`` at ``(r_off, c_off)``; ``c_off`` a multiple of 64.

    Packs with :func:`numpy.packbits` (no per-pixel loop); ``mask`` must fit into ``out``.
    """
    h, w = mask.shape
    if h == 0 or w == 0:
        return
    if c_off % 64:
        raise ValueError(f"c_off must be a multiple of 64; got {c_off}")
    nwords = (w + 63) // 64
    buf = np.zeros((h, nwords * 8), np.uint8)
    buf[:, : (w + 7) // 8] = np.packbits(mask, axis=1, bitorder="little")
    w0 = c_off // 64
    out[r_off : r_off + h, w0 : w0 + nwords] |= buf.view("<u8").view(np.uint64)


@njit
def packed_bbox(x):
    """Bounding box ``(r0, r1, c0, c1)`` (half-open) of a packed mask; all zeros when it is empty.

    Per row only the first and the last non-zero word are examined.
    """
    h, nw = x.shape
    r0 = h
    r1 = 0
    c0 = nw * 64
    c1 = 0
    for r in range(h):
        a = 0
        while a < nw and x[r, a] == 0:
            a += 1
        if a == nw:
            continue
        r0 = min(r0, r)
        r1 = r + 1
        c0 = min(c0, a * 64 + _ctz(x[r, a]))
        b = nw - 1
        while x[r, b] == 0:
            b -= 1
        c1 = max(c1, b * 64 + _high_bit(x[r, b]) + 1)
    if r1 == 0:
        return 0, 0, 0, 0
    return r0, r1, c0, c1


@njit
def pack_into(mask, r_off, c_off, out):
    """OR the boolean ``mask`` into packed ``out`` with its top-left pixel at ``(r_off, c_off)``.

    Each output word is assembled from its (up to 64) pixels without a branch per pixel.
    """
    h, w = mask.shape
    for r in range(h):
        row = mask[r]
        orow = out[r + r_off]
        c = 0
        while c < w:
            cc = c + c_off
            wd = cc >> 6
            n = min(64 - (cc & 63), w - c)  # pixels of this row that fall into word wd
            word = np.uint64(0)
            for j in range(n):
                word |= np.uint64(row[c + j]) << np.uint64(j)
            orow[wd] |= word << np.uint64(cc & 63)
            c += n


@njit
def unpack(x, ncols, out):
    """Unpack the first ``ncols`` columns of packed ``x`` into the uint8 0/1 array ``out``."""
    for r in range(x.shape[0]):
        for wd in range(x.shape[1]):
            word = x[r, wd]
            cs = wd * 64
            ce = min(cs + 64, ncols)
            if word == 0:
                out[r, cs:ce] = 0
            else:
                for c in range(cs, ce):
                    out[r, c] = (word >> np.uint64(c - cs)) & ONE


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
    """``out`` = erosion of ``x`` by the 3×3 cross; the outside counts as foreground. Returns whether it changed."""
    h, nw = x.shape
    changed = False
    for r in range(h):
        for wd in range(nw):
            c, up, dn, left, right = _neighbours_or(x, r, wd, last_mask, ALL)
            v = c & up & dn & left & right
            if wd == nw - 1:
                v &= last_mask
            out[r, wd] = v
            changed |= v != x[r, wd]
    return changed


@njit
def dilate_cross_and(x, allowed, last_mask, out):
    """``out`` = dilation of ``x`` by the 3×3 cross (outside = background), AND ``allowed``.

    Returns whether ``out`` differs from ``x``.
    """
    h, nw = x.shape
    changed = False
    for r in range(h):
        for wd in range(nw):
            c, up, dn, left, right = _neighbours_or(x, r, wd, last_mask, np.uint64(0))
            v = (c | up | dn | left | right) & allowed[r, wd]
            if wd == nw - 1:
                v &= last_mask
            out[r, wd] = v
            changed |= v != x[r, wd]
    return changed


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
    # each loop stops early at its fixed point (a large gamma costs no more than needed)
    for _ in range(iters):
        changed = erode_cross(a, last_mask, b)
        a, b = b, a
        if not changed:
            break
    fp_rel = fp & a
    fn_rel = fn & a
    for _ in range(iters):
        changed = dilate_cross_and(fp_rel, not_g, last_mask, b)
        fp_rel, b = b, fp_rel
        if not changed:
            break
    fp_rel &= fp
    for _ in range(iters):
        changed = dilate_cross_and(fn_rel, not_p, last_mask, b)
        fn_rel, b = b, fn_rel
        if not changed:
            break
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
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:  # path compression
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@njit
def label_runs(x, ncols):
    """8-connected components of the packed mask ``x``, as horizontal runs with union-find roots.

    Returns ``(row_start (h + 1,), run_start, run_end, root, n_components, n_pixels)``: the runs of row
    ``r`` are ``row_start[r]:row_start[r + 1]``, run ``i`` covers columns ``run_start[i]:run_end[i]``
    and belongs to the component whose root run is ``root[i]``.
    """
    h, nw = x.shape
    cap = 64
    rs = np.empty(cap, np.int64)
    re = np.empty(cap, np.int64)
    row_start = np.empty(h + 1, np.int64)
    n = 0
    n_pixels = 0
    for r in range(h):
        row_start[r] = n
        in_run = False
        for wd in range(nw):
            word = x[r, wd]
            if (not in_run and word == 0) or (in_run and word == ALL):
                continue
            base = wd * 64
            pos = 0
            while pos < 64:
                sel = ALL << np.uint64(pos)
                if in_run:
                    z = ~word & sel
                    if z == 0:
                        break
                    e = _ctz(z)
                    re[n - 1] = base + e
                    n_pixels += re[n - 1] - rs[n - 1]
                    in_run = False
                    pos = e
                else:
                    o = word & sel
                    if o == 0:
                        break
                    b = _ctz(o)
                    if n == cap:
                        cap *= 2
                        rs2 = np.empty(cap, np.int64)
                        re2 = np.empty(cap, np.int64)
                        rs2[:n] = rs[:n]
                        re2[:n] = re[:n]
                        rs, re = rs2, re2
                    rs[n] = base + b
                    n += 1
                    in_run = True
                    pos = b
        if in_run:
            re[n - 1] = ncols
            n_pixels += ncols - rs[n - 1]
    row_start[h] = n
    parent = np.arange(n)
    n_comp = n
    for r in range(1, h):
        a, a_end = row_start[r - 1], row_start[r]
        b, b_end = row_start[r], row_start[r + 1]
        while a < a_end and b < b_end:
            # 8-connectivity: [s1, e1) and [s2, e2) touch when s1 <= e2 and s2 <= e1
            if rs[a] <= re[b] and rs[b] <= re[a]:
                ra = _find(parent, a)
                rb = _find(parent, b)
                if ra != rb:
                    if ra < rb:
                        parent[rb] = ra
                    else:
                        parent[ra] = rb
                    n_comp -= 1
            if re[a] < re[b]:
                a += 1
            else:
                b += 1
    root = np.empty(n, np.int64)
    for i in range(n):
        root[i] = _find(parent, i)
    return row_start, rs[:n], re[:n], root, n_comp, n_pixels


@njit
def _run_of(row_start, run_start, run_end, y, x):
    lo = row_start[y]
    hi = row_start[y + 1] - 1
    while lo < hi:  # last run with run_start <= x
        mid = (lo + hi + 1) >> 1
        if run_start[mid] <= x:
            lo = mid
        else:
            hi = mid - 1
    return lo


@njit
def paint_labels(row_start, run_start, run_end, root, out):
    """Write consecutive component labels (1, 2, ... in raster order of roots) into ``out``."""
    lab = np.zeros(root.shape[0], np.int32)
    nxt = 0
    for r in range(out.shape[0]):
        for i in range(row_start[r], row_start[r + 1]):
            k = root[i]
            if lab[k] == 0:
                nxt += 1
                lab[k] = nxt
            for c in range(run_start[i], run_end[i]):
                out[r, c] = lab[k]
    return lab


@njit
def paint_window(row_start, run_start, run_end, root, cond, r0, r1, c0, c1, small, out, touched):
    """Paint the mask's runs into the uint8 window ``out`` (rows ``r0:r1``, columns ``c0:c1``).

    Components of at most ``small`` pixels (0 disables this) are not painted but counted here: their
    contour visits each of their (1 or 2) pixels once, every run has at most 2 points and
    Ramer–Douglas–Peucker keeps them all, so they cost one point per pixel inside ``cond``; a
    component with such a pixel is marked in ``touched``. Returns the number of those points.
    """
    n = root.shape[0]
    size = np.zeros(n, np.int64)
    if small > 0:
        for i in range(n):
            size[root[i]] += run_end[i] - run_start[i]
    out[:, :] = 0
    points = 0
    for r in range(r0, r1):
        for i in range(row_start[r], row_start[r + 1]):
            if small > 0 and size[root[i]] <= small:
                for c in range(run_start[i], run_end[i]):
                    if (cond[r, c >> 6] >> np.uint64(c & 63)) & ONE:
                        points += 1
                        touched[root[i]] = True
            else:
                out[r - r0, run_start[i] - c0 : run_end[i] - c0] = 1
    return points


@njit
def boundary_runs(points, offsets, cond, row_start, run_start, run_end, root, touched):
    """Split contours into runs of points to be edited, as the DIS script does.

    A contour point (x, y) is editable when the packed ``cond`` is set there and it was not taken
    before (one visited map for all contours of the mask). Editable points form runs; when a contour
    gives more than one run and the first run's first point is 8-adjacent to the last run's last
    point, the first run is reversed and appended to the last run. The component (root run) of every
    editable point is marked as touched.

    Args: ``points`` (M, 2) int32 contour points (x, y) of all contours, ``offsets`` (K + 1,) start
    of each contour, ``cond`` packed condition, and the run labelling of the mask (:func:`label_runs`).

    ``touched`` (one flag per run of the mask) is updated in place.

    Returns: ``(run_points (R, 2) int32, run_offsets (n_runs + 1,) int64)``.
    """
    visited = np.zeros(cond.shape, np.uint64)
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
            wd = x >> 6
            bit = ONE << np.uint64(x & 63)
            ok = (cond[y, wd] & bit) != 0 and (visited[y, wd] & bit) == 0
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
            visited[y, wd] |= bit
            touched[root[_run_of(row_start, run_start, run_end, y, x)]] = True
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
    return out[:n_out], run_off[: n_runs + 1]


@njit
def _rdp_count(pts, a, b, eps, dst, stack):
    """Number of points OpenCV's ``approxPolyDP(pts[a:b], eps, closed=False)`` returns.

    Ramer–Douglas–Peucker as OpenCV 4 runs it on an open curve whose end points differ: a stack of
    index slices (left part first); the farthest point of a slice from its chord *segment* (first
    one on ties; squared distances times the squared chord length, exact in float64 for integer
    points) splits it unless that is ``≤ ε²·|chord|²``; each kept slice writes its start point, the
    last point closes the curve. A final sweep then drops a middle
    point ``p`` of three consecutive kept points ``s, p, e`` when ``dist(p, se)² ≤ ε²/2·|se|²``,
    ``se`` is neither horizontal nor vertical and ``p`` lies between them
    (``(p − s)·(e − p) ≥ 0``). ``dst`` ((n, 2) int64) and ``stack`` ((n, 2) int64) are scratch.
    Returns -1 when the end points coincide (OpenCV then treats the curve as closed).
    """
    count = b - a
    if count <= 0:
        return 0
    if pts[a, 0] == pts[b - 1, 0] and pts[a, 1] == pts[b - 1, 1]:
        return -1
    eps2 = eps * eps
    top = 0
    stack[0, 0] = 0
    stack[0, 1] = count - 1
    top = 1
    n = 0
    while top > 0:
        top -= 1
        s = stack[top, 0]
        e = stack[top, 1]
        sx = np.float64(pts[a + s, 0])
        sy = np.float64(pts[a + s, 1])
        keep = True
        split = s
        if s + 1 != e:
            ex = np.float64(pts[a + e, 0])
            ey = np.float64(pts[a + e, 1])
            dx = ex - sx
            dy = ey - sy
            seg2 = dx * dx + dy * dy
            best = 0.0
            for k in range(s + 1, e):
                qx = np.float64(pts[a + k, 0])
                qy = np.float64(pts[a + k, 1])
                proj = (qx - sx) * dx + (qy - sy) * dy
                if proj < 0:  # beyond the start: distance to the start point
                    d2 = ((qx - sx) * (qx - sx) + (qy - sy) * (qy - sy)) * seg2
                elif proj > seg2:  # beyond the end: distance to the end point
                    d2 = ((qx - ex) * (qx - ex) + (qy - ey) * (qy - ey)) * seg2
                else:
                    c = (qy - sy) * dx - (qx - sx) * dy
                    d2 = c * c
                if d2 > best:
                    best = d2
                    split = k
            keep = best <= eps2 * seg2
        if keep:
            dst[n, 0] = pts[a + s, 0]
            dst[n, 1] = pts[a + s, 1]
            n += 1
        else:  # the left part is examined first
            stack[top, 0] = split
            stack[top, 1] = e
            stack[top + 1, 0] = s
            stack[top + 1, 1] = split
            top += 2
    dst[n, 0] = pts[b - 1, 0]
    dst[n, 1] = pts[b - 1, 1]
    n += 1
    # final sweep over the kept points (open curve: the end points stay)
    total = n
    kept = n
    sx, sy = dst[0, 0], dst[0, 1]
    px, py = dst[1 % total, 0], dst[1 % total, 1]
    pos = 2 % total
    i = 1
    while i < total - 1 and kept > 2:
        ex, ey = dst[pos, 0], dst[pos, 1]
        pos = (pos + 1) % total
        dx = np.float64(ex - sx)
        dy = np.float64(ey - sy)
        d = abs(np.float64(px - sx) * dy - np.float64(py - sy) * dx)
        inner = np.float64(px - sx) * np.float64(ex - px) + np.float64(py - sy) * np.float64(ey - py)
        if d * d <= 0.5 * eps2 * (dx * dx + dy * dy) and dx != 0 and dy != 0 and inner >= 0:
            kept -= 1
            sx, sy = ex, ey
            px, py = dst[pos, 0], dst[pos, 1]
            pos = (pos + 1) % total
            i += 2
        else:
            sx, sy = px, py
            px, py = ex, ey
            i += 1
    return kept


@njit
def rdp_counts(pts, offsets, eps):
    """Total of :func:`_rdp_count` over the runs ``pts[offsets[i]:offsets[i + 1]]`` longer than 2 points.

    Returns -1 if some run has coinciding end points (the caller then uses OpenCV).
    """
    longest = 0
    for i in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[i + 1] - offsets[i])
    dst = np.empty((longest + 1, 2), np.int64)
    stack = np.empty((longest + 1, 2), np.int64)
    total = 0
    for i in range(offsets.shape[0] - 1):
        a = offsets[i]
        b = offsets[i + 1]
        if b - a <= 2:
            continue
        c = _rdp_count(pts, a, b, eps, dst, stack)
        if c < 0:
            return -1
        total += c
    return total
