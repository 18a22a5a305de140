"""Multi-scale IoU kernels (private; see :mod:`segmetrics.multiscale_iou`).

Edge maps are the pixels where the integer Sobel response of a binary map (zero outside the image)
is non-zero in either direction. Level ``L`` groups pixels into cells of ``2**L`` pixels per side,
the grid padded at the top / left by ``(-H) mod 2**L`` rows and ``(-W) mod 2**L`` columns; cell
``(r, c)`` of level ``L`` holds pixel ``(i, j)`` when ``r = (i + pad_h) >> L`` and
``c = (j + pad_w) >> L``.

The 257-threshold curve is computed incrementally: lowering the binary map one level at a time
switches off only the pixels of that level, so only the edge status of their 3x3 neighbourhoods can
change; per-level cell counters of edge pixels then update the number of occupied cells that meet
the GT's. Every pixel is switched off once and every edge status is recomputed at most once per
level, so the whole curve costs a few passes instead of 257 full evaluations.

Index safety: the binary map is stored with a one-pixel zero border, so the 3x3 neighbours of an
in-image pixel are in range; cell indices are ``< (H + pad) >> L`` by construction; levels are
uint8 values indexing 257-entry arrays.
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit
from segmetrics._kernels.sod import _val


@njit
def level_geometry(h, w, n_levels):
    """Per level: padding, grid shape and offset of its cells in one flat buffer."""
    geo = np.zeros((n_levels, 5), np.int64)  # pad_h, pad_w, rows, cols, offset
    off = 0
    for lv in range(n_levels):
        c = 1 << lv
        ph = (c - h % c) % c
        pw = (c - w % c) % c
        rows = (h + ph) >> lv
        cols = (w + pw) >> lv
        geo[lv, 0] = ph
        geo[lv, 1] = pw
        geo[lv, 2] = rows
        geo[lv, 3] = cols
        geo[lv, 4] = off
        off += rows * cols
    return geo, off


@njit
def _is_edge(b, i, j):
    # b is padded: pixel (i, j) sits at (i + 1, j + 1)
    r = i + 1
    c = j + 1
    sx = (b[r + 1, c - 1] + 2 * b[r + 1, c] + b[r + 1, c + 1]) - (b[r - 1, c - 1] + 2 * b[r - 1, c] + b[r - 1, c + 1])
    if sx != 0:
        return True
    sy = (b[r - 1, c + 1] + 2 * b[r, c + 1] + b[r + 1, c + 1]) - (b[r - 1, c - 1] + 2 * b[r, c - 1] + b[r + 1, c - 1])
    return sy != 0


@njit
def gt_pyramid(g, h, w, n_levels):
    """Occupied cells of the GT edge map per level (flat uint8 buffer) and their counts."""
    b = np.zeros((h + 2, w + 2), np.int32)
    for i in range(h):
        for j in range(w):
            b[i + 1, j + 1] = 1 if g[i * w + j] else 0
    geo, total = level_geometry(h, w, n_levels)
    occ = np.zeros(total, np.uint8)
    for i in range(h):
        for j in range(w):
            if _is_edge(b, i, j):
                for lv in range(n_levels):
                    occ[geo[lv, 4] + ((i + geo[lv, 0]) >> lv) * geo[lv, 3] + ((j + geo[lv, 1]) >> lv)] = 1
    counts = np.zeros(n_levels, np.int64)
    for lv in range(n_levels):
        s = 0
        for k in range(geo[lv, 4], geo[lv, 4] + geo[lv, 2] * geo[lv, 3]):
            s += np.int64(occ[k])  # int64: without the JIT, 0 + uint8 would stay uint8 and wrap past 255
        counts[lv] = s
    return occ, counts


@njit
def _toggle(i, j, delta, geo, n_levels, cnt, gocc, inter):
    for lv in range(n_levels):
        k = geo[lv, 4] + ((i + geo[lv, 0]) >> lv) * geo[lv, 3] + ((j + geo[lv, 1]) >> lv)
        before = cnt[k]
        cnt[k] = before + delta
        if gocc[k] and ((before == 0) != (cnt[k] == 0)):
            inter[lv] += delta


@njit
def _init_state(b, h, w, geo, total, n_levels, gocc):
    edge = np.zeros((h, w), np.uint8)
    cnt = np.zeros(total, np.int32)
    inter = np.zeros(n_levels, np.int64)
    for i in range(h):
        for j in range(w):
            if _is_edge(b, i, j):
                edge[i, j] = 1
                _toggle(i, j, 1, geo, n_levels, cnt, gocc, inter)
    return edge, cnt, inter


@njit
def binary_intersections(p, pu, lut, use_lut, lo, d, donorm, thr, mode, h, w, n_levels, gocc):
    """Occupied-cell intersections per level of the edges of one binary map: ``P > thr`` (``mode`` 1),
    ``P >= thr`` (``mode`` 0) or ``trunc(255 P) >= thr`` (``mode`` 2, a curve level)."""
    b = np.zeros((h + 2, w + 2), np.int32)
    for i in range(h):
        for j in range(w):
            v = _val(p, pu, i * w + j, lut, use_lut, lo, d, donorm)
            if mode == 2:
                on = int(v * 255.0) >= thr
            elif mode == 1:
                on = v > thr
            else:
                on = v >= thr
            b[i + 1, j + 1] = 1 if on else 0
    geo, total = level_geometry(h, w, n_levels)
    _, _, inter = _init_state(b, h, w, geo, total, n_levels, gocc)
    return inter


@njit
def curve_intersections(p, pu, lut, use_lut, lo, d, donorm, h, w, n_levels, gocc):
    """``(257, n_levels)`` occupied-cell intersections of the maps ``trunc(255 P) >= t``, ``t = 0..256``."""
    n = h * w
    q = np.empty(n, np.int64)
    start = np.zeros(258, np.int64)
    for t in range(n):
        v = _val(p, pu, t, lut, use_lut, lo, d, donorm)
        q[t] = int(v * 255.0)
        start[q[t] + 1] += 1
    for k in range(256):
        start[k + 1] += start[k]
    order = np.empty(n, np.int64)
    fill = start.copy()
    for t in range(n):
        order[fill[q[t]]] = t
        fill[q[t]] += 1
    b = np.ones((h + 2, w + 2), np.int32)
    for i in range(h + 2):
        b[i, 0] = 0
        b[i, w + 1] = 0
    for j in range(w + 2):
        b[0, j] = 0
        b[h + 1, j] = 0
    geo, total = level_geometry(h, w, n_levels)
    edge, cnt, inter = _init_state(b, h, w, geo, total, n_levels, gocc)
    out = np.zeros((257, n_levels), np.int64)
    out[0, :] = inter
    stamp = np.full((h, w), -1, np.int64)
    for t in range(1, 257):
        lvl = t - 1
        a = start[lvl]
        z = start[lvl + 1]
        if a == z:
            out[t, :] = out[t - 1, :]
            continue
        for k in range(a, z):
            s = order[k]
            b[s // w + 1, s % w + 1] = 0
        for k in range(a, z):
            s = order[k]
            i0 = s // w
            j0 = s % w
            for i in range(max(i0 - 1, 0), min(i0 + 2, h)):
                for j in range(max(j0 - 1, 0), min(j0 + 2, w)):
                    if stamp[i, j] == t:
                        continue
                    stamp[i, j] = t
                    e = 1 if _is_edge(b, i, j) else 0
                    if e != edge[i, j]:
                        edge[i, j] = e
                        _toggle(i, j, 1 if e else -1, geo, n_levels, cnt, gocc, inter)
        out[t, :] = inter
    return out
