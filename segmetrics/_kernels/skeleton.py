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
    """Thin ``img`` (uint8 0/1, zero 1-px border) in place; ``lut[code]`` bit 1: pass 1, bit 2: pass 2.

    While thinning, bit 0 of a pixel is its value and bit 1 marks it as listed, so that the
    re-listing of a removed pixel's neighbours reads one byte per neighbour (``== 1``: set, not
    listed); the marks are cleared before returning.
    """
    ncols = img.shape[1]
    flat = img.ravel()
    stride = ncols
    # Count with an explicit int64 increment, not ``n_fg += flat[i]``: compiled, numba types that sum
    # as int64 (int64 + uint8 -> int64), but as plain Python (SEGMETRICS_DISABLE_JIT=1) NumPy 2's
    # promotion rules (NEP 50) keep ``int + np.uint8`` a uint8, which wraps at 256 and undersizes
    # the candidate lists below.
    n_fg = 0
    for i in range(flat.size):
        if flat[i]:
            n_fg += 1
    cand = np.empty(n_fg, np.int64)
    k = 0
    for i in range(flat.size):
        if flat[i]:
            cand[k] = i
            flat[i] = 3
            k += 1
    n_cand = k
    removed = np.empty(n_fg, np.int64)
    pass_bit = 1
    idle_passes = 0
    one = np.uint8(1)
    while idle_passes < 2 and n_cand > 0:
        n_rem = 0
        kept = 0
        for t in range(n_cand):
            p = cand[t]
            up = p - stride
            dn = p + stride
            code = (
                (flat[up - 1] & one)
                | ((flat[up] & one) << 1)
                | ((flat[up + 1] & one) << 2)
                | ((flat[p + 1] & one) << 3)
                | ((flat[dn + 1] & one) << 4)
                | ((flat[dn] & one) << 5)
                | ((flat[dn - 1] & one) << 6)
                | ((flat[p - 1] & one) << 7)
            )
            v = lut[code]
            if v & pass_bit:
                removed[n_rem] = p
                n_rem += 1
                flat[p] = 1
            elif v == 0:
                flat[p] = 1
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
                if flat[q] == 1:
                    flat[q] = 3
                    cand[n_cand] = q
                    n_cand += 1
        idle_passes = idle_passes + 1 if n_rem == 0 else 0
        pass_bit = 3 - pass_bit
    for t in range(n_cand):
        flat[cand[t]] = 1
    return img
