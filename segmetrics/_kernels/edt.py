"""Exact 2-D Euclidean distance / feature transform with scipy-identical tie-breaking.

The transform is the separable Voronoi construction of Maurer, Qi and Raghavan (IEEE TPAMI 25(2),
2003): a 1-D pass along every column, then a Voronoi pass along every row over the column results.

Ties between equidistant nearest feature pixels are resolved exactly as
``scipy.ndimage.distance_transform_edt(..., return_indices=True)`` resolves them (verified by the
tests on many random and symmetric masks), which follows from three choices:

1. column pass: the nearest feature in the column; on a tie the one with the smaller row wins;
2. row pass, building the lower envelope: the middle of three candidate sites ``u < v < w`` is
   dropped only when ``c·vR − b·uR − a·wR − a·b·c > 0`` *strictly* (``a = v − u``, ``b = w − v``,
   ``c = a + b``, ``uR, vR, wR`` the squared row offsets of the three candidates);
3. row pass, query: walking the envelope from the left, the next site is taken only when it is
   *strictly* closer.

The query is done run by run: site ``k+1`` becomes strictly closer than site ``k`` exactly for
``x > T / (2 (s₁ − s₀))`` with ``T = h₁² − h₀² + s₁² − s₀²``, so each envelope site fills a run of
columns without a per-pixel search. All decisions use exact integer arithmetic; squared distances
are int64, so the float distance ``sqrt(float(d²))`` is bit-identical to scipy's.

The row pass only needs, per row, the nearest feature row of every column. It is produced on the
fly from ``next_row_below`` (one bottom-up pass, the only image-sized temporary) and a running
"last feature row above" vector, so that a caller can stream the transform row by row
(see :mod:`segmetrics._kernels.weighted_fmeasure`).

Input convention: ``features`` is True on feature pixels (scipy's zeros). Without any feature
pixel, :func:`feature_transform` returns ``-1`` everywhere (scipy's output is meaningless there;
the weighted F-measure never calls the transform in that case).
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit

#: :func:`row_heights` works in int32 below this ``cap`` (``46340² < 2³¹``)
_CAP32 = 46340 * 46340


@njit
def next_row_below(features, nxt):
    """Fill ``nxt`` (int16 or int32, ``(H, W)``) with the row of the first feature pixel at or below
    each pixel in its column, or -1; return the number of feature pixels.

    int16 suffices (and halves the memory traffic) for ``H <= 32767``.
    """
    h, w = features.shape
    count = 0
    if h == 0:
        return count
    frow = features[h - 1]
    out = nxt[h - 1]
    for x in range(w):
        if frow[x]:
            out[x] = h - 1
            count += 1  # not ``count += frow[x]``: a uint8 sum wraps at 256 without the JIT (see skeleton.py)
        else:
            out[x] = -1
    for y in range(h - 2, -1, -1):
        frow = features[y]
        below = nxt[y + 1]
        out = nxt[y]
        for x in range(w):
            if frow[x]:
                out[x] = y
                count += 1
            else:
                out[x] = below[x]
    return count


@njit
def row_heights(frow, nxt_row, y, last, near, hcol, cap, skip_inner):
    """Column pass of one row: the candidate of every column for the row's lower envelope.

    ``near[x]`` = row of the nearest feature in column ``x`` (ties: the upper one), -1 if the column
    has none. ``last`` (int32, in place) is the last feature row at or above ``y`` per column: call
    for ``y = 0, 1, ...`` in order with ``last`` initialised to -1. ``hcol[x]`` = the squared
    row offset of that feature, or a value ``>= cap`` (the column is left out of the envelope) when
    the column has none or the offset is ``>= cap``. Leaving those out keeps every squared distance below ``cap``
    exact (its nearest candidate is kept, and so are all equidistant ones, so the tie rule is
    unchanged); every other one comes out ``>= cap``.

    With ``skip_inner``, the inner pixels of runs of feature pixels of the row
    (``frow[x − 1] ∧ frow[x] ∧ frow[x + 1]``) are left out too, for a caller that needs the transform
    only at non-feature pixels: from any pixel outside such a run one of the run's two end pixels
    (kept) is strictly closer than any inner one, so an inner pixel is never among the nearest
    candidates there, and the query picks the leftmost of the nearest candidates that remain
    (:func:`run_ends`); results at the inner feature pixels themselves are then not ``0``.

    Written without branches so that it vectorises; in int32 arithmetic for an int16 ``nxt_row``
    (fewer than 2¹⁵ rows) and ``cap < 46340²``, else in int64. ``hcol`` is int64, or int32 when
    ``cap < 2³¹`` and the rows fit int16 (every value written is then below 2³¹).
    """
    w = frow.shape[0]
    f8 = frow.view(np.uint8)
    y32 = np.int32(y)
    if nxt_row.itemsize == 2 and cap < _CAP32:
        # int32 arithmetic (vectorises best): int16 rows, so |dy| < 2¹⁵ and dy² < 2³⁰ is exact
        cap32 = np.int32(cap)
        for x in range(w):
            a = y32 if f8[x] != 0 else last[x]
            last[x] = a
            nb = np.int32(nxt_row[x])
            # the feature below wins only if strictly closer (scipy's tie rule); a = -1: none above
            use_below = (nb >= 0) & ((a < 0) | (nb - y32 < y32 - a))
            fr = nb if use_below else a
            near[x] = fr
            dy = fr - y32
            # an offset >= cap may be written as is: the envelope leaves out every height >= cap
            hcol[x] = dy * dy if fr >= 0 else cap32
    else:
        for x in range(w):
            a = y32 if f8[x] != 0 else last[x]
            last[x] = a
            nb = np.int32(nxt_row[x])
            use_below = (nb >= 0) & ((a < 0) | (nb - y32 < y32 - a))
            fr = nb if use_below else a
            near[x] = fr
            dy = np.int64(fr - y32)  # |dy| < 2³¹: dy² is exact in int64
            dy2 = dy * dy
            hcol[x] = dy2 if (fr >= 0) & (dy2 < cap) else cap
    if skip_inner:
        for x in range(1, w - 1):
            inner = f8[x - 1] & f8[x] & f8[x + 1]
            hcol[x] = cap if inner != 0 else hcol[x]


@njit
def lower_envelope(hcol, cap, sst, hst):
    """Lower envelope of the parabolas ``(X − x)² + hcol[x]`` over the columns with ``hcol[x] < cap``.

    ``sst`` receives the site columns (left to right), ``hst`` their heights; returns their number.
    The middle of three sites is dropped only when strictly above the other two everywhere (rule 2
    of the module docstring). The top two stack entries are kept in registers.
    """
    w = hcol.shape[0]
    top = -1
    su = np.int64(0)
    ur = np.int64(0)
    sv = np.int64(0)
    vr = np.int64(0)
    for x in range(w):
        wr = np.int64(hcol[x])
        if wr >= cap:
            continue
        xx = np.int64(x)
        while top >= 1:
            da = sv - su
            db = xx - sv
            dc = da + db
            if dc * vr - db * ur - da * wr - da * db * dc <= 0:
                break
            top -= 1
            sv = su
            vr = ur
            if top >= 1:
                su = sst[top - 1]
                ur = hst[top - 1]
        top += 1
        sst[top] = xx
        hst[top] = wr
        su = sv
        ur = vr
        sv = xx
        vr = wr
    return top + 1


@njit
def run_ends(sst, hst, n, w, ends):
    """End (exclusive) of the run of columns where each envelope site may win.

    Site ``k + 1`` is strictly closer than site ``k`` exactly for ``x > t / den`` with
    ``t = h₁² − h₀² + s₁² − s₀²`` and ``den = 2 (s₁ − s₀)``, so ``ends[k] = floor(t / den) + 1``
    (clipped to ``w``; ``ends[n − 1] = w``); for adjacent sites (``den = 2``) it is ``t >> 1``. The
    float floor is exact here: ``|t| < 2^40``,
    ``den < 2^21``, so a non-integer quotient is at least ``1/den`` away from an integer.
    Walking the sites left to right, site ``k`` owns ``[x, ends[k])`` when ``ends[k] > x``, which
    reproduces scipy's query walk (advance only to a strictly closer site).
    """
    for k in range(n - 1):
        s0 = sst[k]
        s1 = sst[k + 1]
        t = hst[k + 1] - hst[k] + s1 * s1 - s0 * s0
        if s1 - s0 == 1:  # adjacent sites (the common case): floor(t / 2) is an arithmetic shift
            e = (t >> 1) + 1
        else:
            e = np.int64(np.floor(np.float64(t) / np.float64(2 * (s1 - s0)))) + 1
        ends[k] = min(e, w)
    if n > 0:
        ends[n - 1] = w


@njit
def feature_transform(features, cap):
    """Squared Euclidean distance to, and coordinates of, the nearest feature pixel.

    Args:
        features: ``(H, W)`` bool, True on feature pixels.
        cap: squared distances below ``cap`` are exact (with scipy's indices); the others come
            out ``>= cap``, or -1 in rows without any candidate below the cap (see
            :func:`row_heights`). Pass ``2**62`` for the full transform.

    Returns:
        ``(d2, rows, cols)``: int64 squared distances and int32 feature coordinates, ``(H, W)``
        each; all ``-1`` when there is no feature pixel.
    """
    h, w = features.shape
    nxt = np.empty((h, w), np.int32)
    next_row_below(features, nxt)
    d2 = np.full((h, w), -1, np.int64)
    rows = np.full((h, w), -1, np.int32)
    cols = np.full((h, w), -1, np.int32)
    last = np.full(w, -1, np.int32)
    near = np.empty(w, np.int32)
    sst = np.empty(w, np.int64)
    hst = np.empty(w, np.int64)
    ends = np.empty(w, np.int64)
    hcol = np.empty(w, np.int64)
    for y in range(h):
        row_heights(features[y], nxt[y], y, last, near, hcol, cap, False)
        n = lower_envelope(hcol, cap, sst, hst)
        fill_row(sst, hst, n, ends, near, d2[y], rows[y], cols[y])
    return d2, rows, cols


@njit
def fill_row(sst, hst, n, ends, near, d2_row, rows_row, cols_row):
    """Write one row's squared distances (and, unless ``rows_row`` is empty, the nearest feature's coordinates)
    from its ``n`` envelope sites (:func:`lower_envelope`), each over the run of columns it wins (:func:`run_ends`)."""
    w = d2_row.shape[0]
    with_indices = rows_row.shape[0] > 0
    run_ends(sst, hst, n, w, ends)
    x = 0
    for k in range(n):
        e = ends[k]
        if e <= x:
            continue
        s = sst[k]
        hh = hst[k]
        fr = near[s]
        for xi in range(x, e):
            dx = xi - s
            d2_row[xi] = hh + dx * dx
            if with_indices:
                rows_row[xi] = fr
                cols_row[xi] = s
        x = e


@njit
def squared_distance_batch(features, out, empty):
    """Exact squared Euclidean distance to the nearest feature pixel, for a batch of images.

    The distance-only form of :func:`feature_transform` (same column pass, envelope and runs), used by
    ``segloss`` as the CPU kernel of its distance transform.

    Args:
        features: ``(N, H, W)`` bool, True on feature pixels (C-contiguous).
        out: ``(N, H, W)`` int64, filled in place.
        empty: value written everywhere in an image without any feature pixel.
    """
    n, h, w = features.shape
    nxt = np.empty((h, w), np.int32)
    last = np.empty(w, np.int32)
    near = np.empty(w, np.int32)
    sst = np.empty(w, np.int64)
    hst = np.empty(w, np.int64)
    ends = np.empty(w, np.int64)
    hcol = np.empty(w, np.int64)
    no_index = np.empty(0, np.int32)
    cap = np.int64(1) << 62
    for b in range(n):
        img = features[b]
        res = out[b]
        if next_row_below(img, nxt) == 0:
            res[:, :] = empty
            continue
        last[:] = -1
        for y in range(h):
            row_heights(img[y], nxt[y], y, last, near, hcol, cap, False)
            k = lower_envelope(hcol, cap, sst, hst)
            fill_row(sst, hst, k, ends, near, res[y], no_index, no_index)
