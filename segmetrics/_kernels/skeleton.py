"""Numba kernel of the 2-D Zhang–Suen thinning used by :func:`segmetrics.skeletonize`.

The thinning is parallel within a sub-iteration (every decision of a pass reads the image as it was
at the start of the pass), so the order in which candidates are visited does not matter. Instead of
rescanning the whole image on every pass, the kernel keeps a list of candidate pixels: a pixel whose
neighbourhood code is not removable in either pass is dropped from the list and only comes back when
one of its 8 neighbours is removed.
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit


@njit
def thin_inplace(img, lut):
    """Thin ``img`` (uint8 0/1, zero 1-px border) in place; ``lut[code]`` bit 1: pass 1, bit 2: pass 2."""
    ncols = img.shape[1]
    flat = img.ravel()
    stride = ncols
    n_fg = 0
    for i in range(flat.size):
        if flat[i]:
            n_fg += 1
    cand = np.empty(n_fg, np.int64)
    inlist = np.zeros(flat.size, np.uint8)
    k = 0
    for i in range(flat.size):
        if flat[i]:
            cand[k] = i
            inlist[i] = 1
            k += 1
    n_cand = k
    removed = np.empty(n_fg, np.int64)
    pass_bit = 1
    idle_passes = 0
    while idle_passes < 2 and n_cand > 0:
        n_rem = 0
        kept = 0
        for t in range(n_cand):
            p = cand[t]
            up = p - stride
            dn = p + stride
            code = (
                flat[up - 1]
                + 2 * flat[up]
                + 4 * flat[up + 1]
                + 8 * flat[p + 1]
                + 16 * flat[dn + 1]
                + 32 * flat[dn]
                + 64 * flat[dn - 1]
                + 128 * flat[p - 1]
            )
            v = lut[code]
            if v & pass_bit:
                removed[n_rem] = p
                n_rem += 1
                inlist[p] = 0
            elif v == 0:
                inlist[p] = 0
            else:
                cand[kept] = p
                kept += 1
        n_cand = kept
        for t in range(n_rem):
            flat[removed[t]] = 0
        for t in range(n_rem):
            p = removed[t]
            for q in (
                p - stride - 1,
                p - stride,
                p - stride + 1,
                p - 1,
                p + 1,
                p + stride - 1,
                p + stride,
                p + stride + 1,
            ):
                if flat[q] and not inlist[q]:
                    inlist[q] = 1
                    cand[n_cand] = q
                    n_cand += 1
        idle_passes = idle_passes + 1 if n_rem == 0 else 0
        pass_bit = 3 - pass_bit
    return img
