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
def lut_map(lut, u):
    """``lut[u]`` for a 2-D uint8 map ``u`` (a 256-entry table: every value indexes it)."""
    out = np.empty(u.shape)
    for i in range(u.shape[0]):
        for j in range(u.shape[1]):
            out[i, j] = lut[u[i, j]]
    return out


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
def patch_grid(img, mask, w, d):
    """Corners and flattened ``(w, w, 3)`` values of the ``w x w`` patches on the stride-``d`` grid
    lying wholly inside ``mask`` (row-major grid order). Windows never leave the image."""
    h, wd = mask.shape
    ii = np.zeros((h + 1, wd + 1), np.int64)  # integral image of the mask
    for r in range(h):
        run = 0
        for c in range(wd):
            run += 1 if mask[r, c] else 0
            ii[r + 1, c + 1] = ii[r, c + 1] + run
    nr = (h - w) // d + 1 if h >= w else 0
    nc = (wd - w) // d + 1 if wd >= w else 0
    keep = np.zeros(nr * nc, np.bool_)
    n = 0
    for a in range(nr):
        r = a * d
        for b in range(nc):
            c = b * d
            if ii[r + w, c + w] - ii[r, c + w] - ii[r + w, c] + ii[r, c] == w * w:
                keep[a * nc + b] = True
                n += 1
    corners = np.empty((n, 2), np.int64)
    feat = np.empty((n, w * w * 3), np.uint8)
    t = 0
    for k in range(nr * nc):
        if keep[k]:
            r = (k // nc) * d
            c = (k % nc) * d
            corners[t, 0] = r
            corners[t, 1] = c
            u = 0
            for x in range(w):
                for y in range(w):
                    for ch in range(3):
                        feat[t, u] = img[r + x, c + y, ch]
                        u += 1
            t += 1
    return corners, feat


@njit
def rebuilt_pixels(image, fg_idx, bg_idx, nn, w, gt):
    """The foreground rebuilt from the matched background patches (mean of the pasted patches,
    rounded half to even; 0 where none is pasted) and the true colours, at the GT pixels in row-major
    order: two ``(n_gt, 3)`` uint8 arrays. Corners lie in ``[0, H - w] x [0, W - w]`` (patch grid)."""
    h, wd = gt.shape
    acc = np.zeros((h, wd, 3), np.int64)
    cnt = np.zeros((h, wd), np.int64)
    for i in range(fg_idx.shape[0]):
        fx = fg_idx[i, 0]
        fy = fg_idx[i, 1]
        bx = bg_idx[nn[i], 0]
        by = bg_idx[nn[i], 1]
        for a in range(w):
            for b in range(w):
                cnt[fx + a, fy + b] += 1
                for k in range(3):
                    acc[fx + a, fy + b, k] += image[bx + a, by + b, k]
    n = 0
    for r in range(h):
        for c in range(wd):
            if gt[r, c]:
                n += 1
    rebuilt = np.zeros((n, 3), np.uint8)
    true = np.empty((n, 3), np.uint8)
    t = 0
    for r in range(h):
        for c in range(wd):
            if gt[r, c]:
                if cnt[r, c] > 0:
                    for k in range(3):
                        rebuilt[t, k] = np.uint8(np.rint(acc[r, c, k] / cnt[r, c]))
                for k in range(3):
                    true[t, k] = image[r, c, k]
                t += 1
    return rebuilt, true


@njit
def reflect101(i, n):
    """OpenCV's ``BORDER_REFLECT_101`` index of ``i`` on an axis of length ``n`` (reflected until inside)."""
    if n == 1:
        return 0
    while i < 0 or i >= n:
        i = -i if i < 0 else 2 * (n - 1) - i
    return i


@njit
def exact_sums(p, g, cd, use_cd, q, r0, c0, dr, dc, top, bottom, left, right, factor):
    """Sums of the exact context measure from ``Q = K ⋆ P₀`` (``P`` zero-extended) and the border strips of ``R``.

    ``q[i, j]`` is ``Q`` at the extended position ``(i + r0, j + c0)``; it covers every extended
    position whose reflection is a GT pixel. ``R = K ⋆ P`` with reflected borders equals ``Q`` at
    least ``(dr, dc)`` away from the border; nearer, it is read from the strips ``top`` (rows
    ``< dr``), ``bottom`` (the last ``bottom.shape[0]`` rows), ``left`` (columns ``< dc``) and
    ``right`` (the last ``right.shape[1]`` columns), each computed where it holds GT pixels. Returns
    ``Σ P·F`` (as ``Σ_w Q(w)·G(ρ(w))``, the adjoint of ``F = K ⋆ G`` with reflected borders),
    ``Σ P``, ``Σ R'·(G + cd)`` with ``R' = factor·G·(1 − exp(−R))``, ``Σ G`` and ``Σ cd``; row sums
    are plain, the sums of rows compensated.
    """
    h, w = p.shape
    nb = h - bottom.shape[0]
    nr = w - right.shape[1]
    b = 0.0
    cb = 0.0
    s = 0.0
    cs = 0.0
    r = 0.0
    cr = 0.0
    sg = 0
    a = 0.0
    ca = 0.0
    for i in range(h):
        ra = 0.0
        rb = 0.0
        rs = 0.0
        rr = 0.0
        for j in range(w):
            rb += p[i, j]
        if use_cd:
            for j in range(w):
                rs += cd[i, j]
        strip = top if i < dr else bottom
        row = i if i < dr else i - nb
        edge_row = i < dr or i > h - 1 - dr
        for j in range(w):
            if g[i, j]:
                sg += 1
                qv = q[i - r0, j - c0]
                ra += qv
                if edge_row:
                    rev = strip[row, j]
                elif j < dc:
                    rev = left[i, j]
                elif j > w - 1 - dc:
                    rev = right[i, j - nr]
                else:
                    rev = qv
                e = 1.0 - np.exp(-rev)
                rr += e * (1.0 + cd[i, j]) if use_cd else e
        a, ca = neumaier_add(a, ca, ra)
        b, cb = neumaier_add(b, cb, rb)
        s, cs = neumaier_add(s, cs, rs)
        r, cr = neumaier_add(r, cr, factor * rr)
    # the extended positions outside the image: there Q weighs the GT pixel they reflect to
    cmap = np.empty(q.shape[1], np.int64)
    for j in range(q.shape[1]):
        cmap[j] = reflect101(j + c0, w)
    left_end = min(max(-c0, 0), q.shape[1])  # columns j < left_end lie left of the image
    right_start = max(min(w - c0, q.shape[1]), left_end)  # columns j >= right_start lie right of it
    for i in range(q.shape[0]):
        y = i + r0
        gi = reflect101(y, h)
        ra = 0.0
        if 0 <= y < h:
            for j in range(left_end):
                if g[gi, cmap[j]]:
                    ra += q[i, j]
            for j in range(right_start, q.shape[1]):
                if g[gi, cmap[j]]:
                    ra += q[i, j]
        else:
            for j in range(q.shape[1]):
                if g[gi, cmap[j]]:
                    ra += q[i, j]
        a, ca = neumaier_add(a, ca, ra)
    return a + ca, b + cb, r + cr, sg, s + cs


@njit
def patch_summaries(feat, coords, w2):
    """Per patch ``(√w2·mean, ‖residual‖)`` of each colour channel, then the scaled position (8 values).

    For two patches ``‖f − f'‖² = Σ_ch w2 (μ − μ')² + ‖r − r'‖² ≥ Σ_ch w2 (μ − μ')² + (‖r‖ − ‖r'‖)²``
    (``r``: the channel's values minus their mean), so the Euclidean distance of the summaries is a
    lower bound of the distance of the patches (their positions included).
    """
    n = feat.shape[0]
    nch = 3
    out = np.empty((n, 2 * nch + 2))
    root = np.sqrt(w2)
    for i in range(n):
        for ch in range(nch):
            s = 0
            for t in range(w2):
                s += np.int64(feat[i, t * nch + ch])
            mu = s / w2
            ss = 0.0
            for t in range(w2):
                d = feat[i, t * nch + ch] - mu
                ss += d * d
            out[i, ch] = root * mu
            out[i, nch + ch] = np.sqrt(ss)
        out[i, 2 * nch] = coords[i, 0]
        out[i, 2 * nch + 1] = coords[i, 1]
    return out


@njit
def patch_distance_sq(xf, xc, j, qf, qc, i):
    """Squared distance of background patch ``j`` and foreground patch ``i``: exact integer colour part
    plus the scaled positions'."""
    s = 0
    for t in range(xf.shape[1]):
        d = np.int64(xf[j, t]) - np.int64(qf[i, t])
        s += d * d
    d0 = xc[j, 0] - qc[i, 0]
    d1 = xc[j, 1] - qc[i, 1]
    return np.float64(s) + (d0 * d0 + d1 * d1)


@njit
def summary_tree(v, leaf):
    """A k-d tree over the rows of ``v``: median cuts of the widest column down to ``leaf`` rows.

    Returns the row order ``perm`` and per node its rows ``perm[start:end]``, its children
    (``-1``: a leaf) and its bounding box ``lo``, ``hi``; node 0 is the root.
    """
    n, m = v.shape
    perm = np.arange(n)
    cap = 2 * (n // max(leaf // 2, 1)) + 3
    start = np.zeros(cap, np.int64)
    end = np.zeros(cap, np.int64)
    left = np.full(cap, -1, np.int64)
    right = np.full(cap, -1, np.int64)
    lo = np.zeros((cap, m))
    hi = np.zeros((cap, m))
    count = 1
    end[0] = n
    todo = [0]
    while len(todo) > 0:
        node = todo.pop()
        a = start[node]
        b = end[node]
        widest = -1.0
        dim = 0
        for d in range(m):
            mn = np.inf
            mx = -np.inf
            for t in range(a, b):
                x = v[perm[t], d]
                mn = min(mn, x)
                mx = max(mx, x)
            lo[node, d] = mn
            hi[node, d] = mx
            if mx - mn > widest:
                widest = mx - mn
                dim = d
        if b - a <= leaf or widest <= 0:
            continue
        keys = np.empty(b - a)
        for t in range(a, b):
            keys[t - a] = v[perm[t], dim]
        perm[a:b] = perm[a:b][np.argsort(keys, kind="mergesort")]
        mid = (a + b) // 2
        for child, ca, cb in ((count, a, mid), (count + 1, mid, b)):
            start[child] = ca
            end[child] = cb
            todo.append(child)
        left[node] = count
        right[node] = count + 1
        count += 2
    return perm, start[:count], end[:count], left[:count], right[:count], lo[:count], hi[:count]


@njit
def _box_bound(vq, i, lo, hi, node):
    s = 0.0
    for d in range(vq.shape[1]):
        x = vq[i, d]
        if x < lo[node, d]:
            s += (lo[node, d] - x) ** 2
        elif x > hi[node, d]:
            s += (x - hi[node, d]) ** 2
    return s


@njit
def nearest_patches(xf, xc, vx, qf, qc, vq, perm, start, end, left, right, lo, hi):
    """Exact nearest background patch of every foreground patch (exact ties: the lowest index).

    Starts from the previous query's answer (neighbouring patches match alike), then descends the
    k-d tree of :func:`summary_tree`, nearer child first, pruning nodes whose box is farther than
    the best exact distance and points whose summary is (summary distances bound the patch
    distances from below, :func:`patch_summaries`; a relative margin of 1e-9 covers rounding).
    """
    nq = qf.shape[0]
    m = vq.shape[1]
    nn = np.empty(nq, np.int64)
    stack = np.empty(256, np.int64)
    bounds = np.empty(256)
    prev = perm[0]
    for i in range(nq):
        best_j = prev
        best = patch_distance_sq(xf, xc, best_j, qf, qc, i)
        stack[0] = 0
        bounds[0] = _box_bound(vq, i, lo, hi, 0)
        top = 1
        while top > 0:
            top -= 1
            node = stack[top]
            if bounds[top] > best * (1 + 1e-9):
                continue
            if left[node] < 0:
                for t in range(start[node], end[node]):
                    j = perm[t]
                    s = 0.0
                    for d in range(m):
                        s += (vq[i, d] - vx[j, d]) ** 2
                    if s > best * (1 + 1e-9):
                        continue
                    dist = patch_distance_sq(xf, xc, j, qf, qc, i)
                    if dist < best or (dist == best and j < best_j):
                        best = dist
                        best_j = j
                continue
            a = left[node]
            b = right[node]
            ba = _box_bound(vq, i, lo, hi, a)
            bb = _box_bound(vq, i, lo, hi, b)
            if ba < bb:  # push the farther child first: the nearer is visited next
                a, b = b, a
                ba, bb = bb, ba
            stack[top] = a
            bounds[top] = ba
            stack[top + 1] = b
            bounds[top + 1] = bb
            top += 2
        nn[i] = best_j
        prev = best_j
    return nn


@njit
def _srgb_linear(c):
    v = c / 255.0
    return ((v + 0.055) / 1.055) ** 2.4 if v > 0.04045 else v / 12.92


@njit
def _lab(rgb, i, lin, out):
    """CIE L*a*b* (D65, 2° observer) of the uint8 sRGB pixel ``rgb[i]`` into ``out``."""
    r = lin[rgb[i, 0]]
    g = lin[rgb[i, 1]]
    b = lin[rgb[i, 2]]
    x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.95047
    y = 0.212671 * r + 0.715160 * g + 0.072169 * b
    z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.08883
    fx = np.cbrt(x) if x > 0.008856 else 7.787 * x + 16.0 / 116.0
    fy = np.cbrt(y) if y > 0.008856 else 7.787 * y + 16.0 / 116.0
    fz = np.cbrt(z) if z > 0.008856 else 7.787 * z + 16.0 / 116.0
    out[0] = 116.0 * fy - 16.0
    out[1] = 500.0 * (fx - fy)
    out[2] = 200.0 * (fy - fz)


@njit
def _hue(a, b):
    """Hue angle in ``[0, 2π)``."""
    t = np.arctan2(b, a)
    return t + 2 * np.pi if t < 0 else t


_COS30, _SIN30 = np.cos(np.pi / 6), np.sin(np.pi / 6)
_COS6, _SIN6 = np.cos(np.pi / 30), np.sin(np.pi / 30)
_COS63, _SIN63 = np.cos(0.35 * np.pi), np.sin(0.35 * np.pi)


_LAB_SLOTS = 1 << 12
_PAIR_SLOTS = 1 << 16


@njit
def _cached_lab(rgb, i, key, lin, keys, vals, out):
    """Lab of ``rgb[i]`` (colour ``key``) into ``out`` through the direct-mapped cache ``keys``, ``vals``."""
    slot = (key ^ (key >> 12)) & (keys.size - 1)  # 24-bit colour folded to 12 bits
    if keys[slot] == key:
        out[0] = vals[slot, 0]
        out[1] = vals[slot, 1]
        out[2] = vals[slot, 2]
    else:
        _lab(rgb, i, lin, out)
        keys[slot] = key
        vals[slot, 0] = out[0]
        vals[slot, 1] = out[1]
        vals[slot, 2] = out[2]


@njit
def ciede2000_similarity(rgb1, rgb2):
    """``1 − min(ΔE₀₀ / 100, 1)`` of the uint8 sRGB pixel pairs ``rgb1[i]``, ``rgb2[i]`` (``(n, 3)`` each).

    CIEDE2000 (Sharma, Wu and Dalal 2005) with ``k_L = k_C = k_H = 1``; the hue weight's multiple
    angles from ``cos h̄``, ``sin h̄`` by the angle-sum formulas; Lab values and results are cached
    per colour and per pair (direct-mapped tables: repeated colours, e.g. of grey or flat images,
    are converted once).
    """
    lin = np.empty(256)
    for v in range(256):
        lin[v] = _srgb_linear(v)
    n = rgb1.shape[0]
    out = np.empty(n)
    l1 = np.empty(3)
    l2 = np.empty(3)
    p25 = 25.0**7
    # direct-mapped caches (exact: a hit returns what the computation gives): Lab per colour, value per pair
    lab_keys = np.full((2, _LAB_SLOTS), -1, np.int64)
    lab_vals = np.empty((2, _LAB_SLOTS, 3))
    pair_keys = np.full(_PAIR_SLOTS, -1, np.int64)
    pair_vals = np.empty(_PAIR_SLOTS)
    for i in range(n):
        k1 = (np.int64(rgb1[i, 0]) << 16) | (np.int64(rgb1[i, 1]) << 8) | np.int64(rgb1[i, 2])
        k2 = (np.int64(rgb2[i, 0]) << 16) | (np.int64(rgb2[i, 1]) << 8) | np.int64(rgb2[i, 2])
        kp = (k1 << 24) | k2
        slot = (kp ^ (kp >> 16) ^ (kp >> 32)) & (_PAIR_SLOTS - 1)  # 48-bit pair folded to 16 bits
        if pair_keys[slot] == kp:
            out[i] = pair_vals[slot]
            continue
        _cached_lab(rgb1, i, k1, lin, lab_keys[0], lab_vals[0], l1)
        _cached_lab(rgb2, i, k2, lin, lab_keys[1], lab_vals[1], l2)
        cbar = 0.5 * (np.sqrt(l1[1] * l1[1] + l1[2] * l1[2]) + np.sqrt(l2[1] * l2[1] + l2[2] * l2[2]))
        c2 = cbar * cbar
        c7 = c2 * c2 * c2 * cbar
        scale = 1 + 0.5 * (1 - np.sqrt(c7 / (c7 + p25)))
        a1 = l1[1] * scale
        a2 = l2[1] * scale
        ch1 = np.sqrt(a1 * a1 + l1[2] * l1[2])
        ch2 = np.sqrt(a2 * a2 + l2[2] * l2[2])
        h1 = _hue(a1, l1[2])
        h2 = _hue(a2, l2[2])
        lbar = 0.5 * (l1[0] + l2[0])
        tmp = (lbar - 50) * (lbar - 50)
        l_term = (l2[0] - l1[0]) / (1 + 0.015 * tmp / np.sqrt(20 + tmp))
        cbar = 0.5 * (ch1 + ch2)
        c_term = (ch2 - ch1) / (1 + 0.045 * cbar)
        h_diff = h2 - h1
        h_sum = h1 + h2
        cc = ch1 * ch2
        if cc == 0.0:
            dh = 0.0
            hbar = h_sum
        else:
            dh = h_diff
            if h_diff > np.pi:
                dh -= 2 * np.pi
            elif h_diff < -np.pi:
                dh += 2 * np.pi
            hbar = h_sum
            if abs(h_diff) > np.pi:
                hbar += 2 * np.pi if h_sum < 2 * np.pi else -2 * np.pi
            hbar *= 0.5
        co = np.cos(hbar)
        si = np.sin(hbar)
        co2 = 2 * co * co - 1
        si2 = 2 * si * co
        co3 = co * (4 * co * co - 3)
        si3 = si * (3 - 4 * si * si)
        co4 = 2 * co2 * co2 - 1
        si4 = 2 * si2 * co2
        t = (1 - 0.17 * (co * _COS30 + si * _SIN30) + 0.24 * co2 + 0.32 * (co3 * _COS6 - si3 * _SIN6)
             - 0.20 * (co4 * _COS63 + si4 * _SIN63))
        h_term = 2 * np.sqrt(cc) * np.sin(dh / 2) / (1 + 0.015 * cbar * t)
        c2 = cbar * cbar
        c7 = c2 * c2 * c2 * cbar
        rc = 2 * np.sqrt(c7 / (c7 + p25))
        e = (hbar * (180 / np.pi) - 275) / 25
        dtheta = (np.pi / 6) * np.exp(-(e * e))
        de2 = l_term * l_term + c_term * c_term + h_term * h_term - np.sin(2 * dtheta) * rc * c_term * h_term
        out[i] = 1 - min(np.sqrt(max(de2, 0.0)) / 100, 1.0)
        pair_keys[slot] = kp
        pair_vals[slot] = out[i]
    return out
