"""numba kernels of the weighted F-measure (Margolin et al., CVPR 2014), pysodmetrics-exact.

Reference semantics (pysodmetrics 1.6 ``WeightedFmeasure.cal_wfm``; ``P̂`` normalised prediction,
``G`` boolean GT):

* ``E = |P̂ − G|``; ``(D, idx)`` = Euclidean distance transform of ``¬G`` with the index of the
  nearest GT pixel (scipy tie-breaking, see :mod:`segmetrics._kernels.edt`);
* ``Et = E`` with ``Et[¬G] = E[idx]``; ``EA = Et ⋆ K`` (7×7 Gaussian, σ = 5, zero padding);
* ``MIN = E`` except ``MIN[G ∧ EA < E] = EA``; ``B = 1`` on ``G`` and ``2 − exp(ln(0.5)/5·D)`` on
  ``¬G``; ``Ew = MIN·B``;
* ``TPw = |G| − Σ_G Ew``, ``FPw = Σ_¬G Ew``, ``R = 1 − Σ_G Ew / |G|``, ``P = TPw/(TPw + FPw + eps)``,
  ``Q = (1 + β)·R·P/(R + β·P + eps)``.

Bit-exactness: the 49-term correlation is summed in scipy's order (kernel rows outer, columns
inner, from 0.0; out-of-image terms contribute ``+0.0``), ``B`` is looked up in a table built with
numpy's own ``exp`` (``B == 2.0`` exactly beyond it), and both sums use numpy's pairwise order
(:mod:`segmetrics._kernels.npsum`). Everything is fused into one streaming pass over the rows:
the row Voronoi pass of the EDT produces ``D²`` and the nearest GT pixel row by row, a ring of 7
rows of ``Et`` feeds the correlation three rows behind, and the ``Ew`` values go straight into
the two streaming sums. The only image-sized temporary is the int32 column pass of the EDT.
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit
from segmetrics._kernels.edt import nearest_row_in_columns, voronoi_row
from segmetrics._kernels.npsum import stream_flush, stream_new, stream_result

EPS = float(np.spacing(1))

#: kernel half-size (7×7 window)
R = 3


@njit
def wfm_kernel(pred, gt, krn, btable, beta, eps):
    """Weighted F-measure of one image; ``gt`` must contain at least one True pixel."""
    h, w = gt.shape
    k = 2 * R + 1
    near = nearest_row_in_columns(gt)

    n_fg = 0
    for y in range(h):
        for x in range(w):
            if gt[y, x]:
                n_fg += 1
    n_bg = h * w - n_fg
    chunk = w
    sg = stream_new(n_fg, chunk)
    sb = stream_new(n_bg, chunk)
    gbuf, gints = sg[0], sg[1]
    bbuf, bints = sb[0], sb[1]

    ring = np.zeros((k, w + 2 * R), np.float64)  # Et rows, zero padded
    d2ring = np.zeros((R + 1, w), np.int64)  # D² of the rows awaiting correlation
    stack = np.empty(w, np.int64)
    ea = np.empty(w, np.float64)
    slot_of = np.empty(k, np.int64)
    nb = btable.shape[0]

    for yy in range(h + R):
        # --- stage A: EDT row pass and Et for row yy (zeros beyond the image) ---
        slot = yy % k
        if yy < h:
            row = near[yy]
            n_sites = voronoi_row(row, yy, stack)
            li = 0
            s = stack[0]
            dy = np.int64(row[s]) - yy
            et = ring[slot]
            dr = d2ring[yy % (R + 1)]
            prow = pred[yy]
            grow = gt[yy]
            for x in range(w):
                dx = s - x
                best = dy * dy + dx * dx
                while li < n_sites - 1:
                    s2 = stack[li + 1]
                    dy2 = np.int64(row[s2]) - yy
                    dx2 = s2 - x
                    cand = dy2 * dy2 + dx2 * dx2
                    if best <= cand:
                        break
                    best = cand
                    li += 1
                    s = s2
                    dy = dy2
                dr[x] = best
                if grow[x]:
                    et[x + R] = abs(prow[x] - 1.0)
                else:
                    et[x + R] = abs(pred[row[s], s] - 1.0)
        else:
            ring[slot, :] = 0.0
        # --- stage B: finish row yc = yy - R ---
        yc = yy - R
        if yc < 0:
            continue
        for i in range(k):
            yi = yc - R + i
            if yi < 0:
                slot_of[i] = -1
            else:
                slot_of[i] = yi % k
        grow = gt[yc]
        prow = pred[yc]
        _correlate_row(ring, slot_of, krn, grow, ea, w)
        dr = d2ring[yc % (R + 1)]
        gfill = gints[0]
        bfill = bints[0]
        for x in range(w):
            if grow[x]:
                e = abs(prow[x] - 1.0)
                a = ea[x]
                gbuf[gfill] = a if a < e else e
                gfill += 1
            else:
                e = abs(prow[x] - 0.0)
                d = dr[x]
                b = btable[d] if d < nb else 2.0
                bbuf[bfill] = e * b
                bfill += 1
        gints[0] = gfill
        bints[0] = bfill
        stream_flush(*sg)
        stream_flush(*sb)

    s_fg = stream_result(sg[2], gints)
    s_bg = stream_result(sb[2], bints)
    tpw = np.float64(n_fg) - s_fg
    fpw = s_bg
    rec = 1.0 - s_fg / np.float64(n_fg)
    prec = tpw / (tpw + fpw + eps)
    return (1.0 + beta) * rec * prec / (rec + beta * prec + eps)


@njit
def _correlate_row(ring, slot_of, krn, gt_row, out, w):
    """EA for the G pixels of one row: 49 products summed in scipy's order.

    ``ring[s]`` holds ``Et`` rows with ``R`` zero columns on each side; ``slot_of[i]`` is the
    ring slot of kernel row ``i`` (-1 above the image: those terms would add ``+0.0``).
    ``out[x]`` is written where ``gt_row[x]``.
    """
    for x in range(w):
        if not gt_row[x]:
            continue
        acc = 0.0
        for i in range(2 * R + 1):
            si = slot_of[i]
            if si < 0:
                continue
            src = ring[si]
            for j in range(2 * R + 1):
                acc += krn[i, j] * src[x + j]
        out[x] = acc
