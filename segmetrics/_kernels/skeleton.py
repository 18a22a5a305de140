"""Numba kernel of the 2-D Zhang–Suen thinning used by :func:`segmetrics.skeletonize`.

The thinning is parallel within a sub-iteration (every decision of a pass reads the image as it was
at the start of the pass), so the order in which candidates are visited does not matter. Instead of
rescanning the whole image on every pass, the kernel keeps a list of candidate pixels: a pixel whose
neighbourhood code is not removable in either pass is dropped from the list and only comes back when
one of its 8 neighbours is removed.

Every pixel's 8-neighbourhood code (bit 0 north-west, then clockwise: 1 N, 2 NE, 3 E, 4 SE, 5 S,
6 SW, 7 W) is computed once and kept up to date: at the end of a pass each removal clears one bit
in the codes of its eight neighbours. Examining a candidate then reads one byte instead of eight.
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit


@njit
def _codes(img, code):
    """``code[y, x]`` = 8-neighbourhood code of every interior pixel of the uint8 0/1 ``img``."""
    h, w = img.shape
    for y in range(1, h - 1):
        up = img[y - 1]
        row = img[y]
        dn = img[y + 1]
        out = code[y]
        for x in range(1, w - 1):
            out[x] = (
                up[x - 1]
                | (up[x] << 1)
                | (up[x + 1] << 2)
                | (row[x + 1] << 3)
                | (dn[x + 1] << 4)
                | (dn[x] << 5)
                | (dn[x - 1] << 6)
                | (row[x - 1] << 7)
            )


def thin_inplace(img, lut):
    """Thin ``img`` (uint8 0/1, zero 1-px border) in place; ``lut[code]`` bit 1: pass 1, bit 2: pass 2.

    While thinning, bit 0 of a pixel is its value and bit 1 marks it as listed, so that the
    re-listing of a removed pixel's neighbours reads one byte per neighbour (``== 1``: set, not
    listed); the marks are cleared before returning. Pixels on the 1-px border are never examined.

    Plain Python: it picks the index dtype (int32 below 2³¹ pixels, else int64) so that only the
    specialisation in use gets compiled.
    """
    idx = np.int32 if img.size < 2**31 else np.int64
    return _thin(img, lut, np.empty(0, idx))


@njit
def _thin(img, lut, idx_type):
    """The thinning of :func:`thin_inplace`; ``idx_type`` is an empty array of the index dtype."""
    h, w = img.shape
    stride = w
    code = np.zeros((h, w), np.uint8)
    _codes(img, code)
    flat = img.ravel()
    cf = code.ravel()
    # Count with an explicit int64 cast, not ``n_fg += flat[i]``: compiled, numba types that sum as
    # int64, but as plain Python (SEGMETRICS_DISABLE_JIT=1) NumPy 2's promotion rules (NEP 50) keep
    # ``int + np.uint8`` a uint8, which wraps at 256 and undersizes the candidate lists below.
    n_fg = 0
    for i in range(flat.size):
        n_fg += np.int64(flat[i])
    cand = np.empty(n_fg, idx_type.dtype)
    removed = np.empty(n_fg, idx_type.dtype)
    # only pixels removable in some pass are listed (interior pixels, code 255, are not), in raster
    # order; 8 pixels at a time are skipped when none of them is a set pixel with a code below 255
    # (byte-wise: value 0/1 times 0xFF, and-not the code). The 1-px border is 0, so never listed.
    n_cand = 0
    n = flat.size
    n8 = n // 8
    f64 = flat[: 8 * n8].view(np.uint64)
    c64 = cf[: 8 * n8].view(np.uint64)
    for j in range(n8):
        if (f64[j] * np.uint64(0xFF)) & ~c64[j]:
            for i in range(8 * j, 8 * j + 8):
                if flat[i] and lut[cf[i]]:
                    flat[i] = 3
                    cand[n_cand] = i
                    n_cand += 1
    for i in range(8 * n8, n):
        if flat[i] and lut[cf[i]]:
            flat[i] = 3
            cand[n_cand] = i
            n_cand += 1
    pass_bit = 1
    idle_passes = 0
    while idle_passes < 2 and n_cand > 0:
        n_rem = 0
        kept = 0
        # branch-free compaction: each candidate goes to the removed list, stays listed, or is
        # unlisted (both writes land at or before index t, so they never overrun)
        for t in range(n_cand):
            p = cand[t]
            v = lut[cf[p]]
            rem = (v & pass_bit) != 0
            keep = (v != 0) & (not rem)
            removed[n_rem] = p
            n_rem += rem
            cand[kept] = p
            kept += keep
            flat[p] = np.uint8(1) + np.uint8(2) * np.uint8(rem | keep)
        n_cand = kept
        # each removed pixel p is cleared, and each neighbour q loses the bit of its code that
        # points at p, and is listed again if it is set and not listed (a removed pixel not cleared
        # yet reads 3, listed, so it is never listed again)
        for t in range(n_rem):
            p = np.int64(removed[t])
            flat[p] = 0
            q = p - stride - 1
            cf[q] &= np.uint8(239)
            if flat[q] == 1:
                flat[q] = 3
                cand[n_cand] = q
                n_cand += 1
            q = p - stride
            cf[q] &= np.uint8(223)
            if flat[q] == 1:
                flat[q] = 3
                cand[n_cand] = q
                n_cand += 1
            q = p - stride + 1
            cf[q] &= np.uint8(191)
            if flat[q] == 1:
                flat[q] = 3
                cand[n_cand] = q
                n_cand += 1
            q = p + 1
            cf[q] &= np.uint8(127)
            if flat[q] == 1:
                flat[q] = 3
                cand[n_cand] = q
                n_cand += 1
            q = p + stride + 1
            cf[q] &= np.uint8(254)
            if flat[q] == 1:
                flat[q] = 3
                cand[n_cand] = q
                n_cand += 1
            q = p + stride
            cf[q] &= np.uint8(253)
            if flat[q] == 1:
                flat[q] = 3
                cand[n_cand] = q
                n_cand += 1
            q = p + stride - 1
            cf[q] &= np.uint8(251)
            if flat[q] == 1:
                flat[q] = 3
                cand[n_cand] = q
                n_cand += 1
            q = p - 1
            cf[q] &= np.uint8(247)
            if flat[q] == 1:
                flat[q] = 3
                cand[n_cand] = q
                n_cand += 1
        idle_passes = idle_passes + 1 if n_rem == 0 else 0
        pass_bit = 3 - pass_bit
    for t in range(n_cand):
        flat[cand[t]] = 1
    return img
