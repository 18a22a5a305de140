"""numpy-identical float64 summation (``np.sum`` / ``np.add.reduce`` on a contiguous 1-D array).

numpy reduces a contiguous float64 array with a pairwise scheme: blocks of at most 128 values are
summed with eight interleaved accumulators (combined as ``((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7))``,
then the remainder added in order); runs shorter than 8 are summed left to right from 0; longer
runs are split at ``n2 = n // 2`` rounded down to a multiple of 8 and the halves added. Repeating
the same operations in the same order gives bit-identical sums, which is what lets the fused
kernels reproduce the references' totals exactly. The streaming variant below consumes values in
chunks without keeping them all in memory.
"""

from __future__ import annotations

import numpy as np

from segmetrics._jit import njit

_BLOCK = 128


@njit
def leaf_sum(a, start, n):
    """numpy's base case for ``n <= 128`` values ``a[start:start+n]``."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[start + i]
        return res
    r0 = a[start]
    r1 = a[start + 1]
    r2 = a[start + 2]
    r3 = a[start + 3]
    r4 = a[start + 4]
    r5 = a[start + 5]
    r6 = a[start + 6]
    r7 = a[start + 7]
    i = 8
    stop = n - (n % 8)
    while i < stop:
        p = start + i
        r0 += a[p]
        r1 += a[p + 1]
        r2 += a[p + 2]
        r3 += a[p + 3]
        r4 += a[p + 4]
        r5 += a[p + 5]
        r6 += a[p + 6]
        r7 += a[p + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[start + i]
        i += 1
    return res


@njit
def leaf_plan(n):
    """Sizes and tree depths, in order, of the leaves of numpy's pairwise split of ``n`` values."""
    cap = 2 * (n // 64) + 2
    sizes = np.empty(cap, np.int64)
    depths = np.empty(cap, np.int64)
    # explicit stack of (size, depth), right child pushed first so the left is processed first
    st_size = np.empty(128, np.int64)
    st_depth = np.empty(128, np.int64)
    top = 0
    st_size[0] = n
    st_depth[0] = 0
    count = 0
    while top >= 0:
        m = st_size[top]
        d = st_depth[top]
        top -= 1
        if m <= _BLOCK:
            sizes[count] = m
            depths[count] = d
            count += 1
        else:
            n2 = m // 2
            n2 -= n2 % 8
            top += 1
            st_size[top] = m - n2
            st_depth[top] = d + 1
            top += 1
            st_size[top] = n2
            st_depth[top] = d + 1
    return sizes[:count], depths[:count]


@njit
def np_sum(a):
    """``np.sum(a)`` for a contiguous 1-D float64 array, bit for bit."""
    n = a.shape[0]
    if n <= _BLOCK:
        return leaf_sum(a, 0, n)
    sizes, depths = leaf_plan(n)
    vals = np.empty(64, np.float64)
    vdep = np.empty(64, np.int64)
    top = -1
    pos = 0
    for k in range(sizes.shape[0]):
        v = leaf_sum(a, pos, sizes[k])
        pos += sizes[k]
        d = depths[k]
        while top >= 0 and vdep[top] == d:
            v = vals[top] + v
            top -= 1
            d -= 1
        top += 1
        vals[top] = v
        vdep[top] = d
    return vals[0]


@njit
def stream_new(n, chunk):
    """Create the state for streaming the numpy-identical sum of exactly ``n`` values.

    Returns ``(buf, ints, vals, vdep, sizes, depths)``: ``buf`` holds up to ``chunk + 128`` values
    not yet summed (append, then call :func:`stream_flush`), ``ints = [fill, next_leaf,
    stack_top]``, ``vals``/``vdep`` the pending partial sums and their tree depths, and
    ``sizes``/``depths`` the leaf plan of :func:`leaf_plan`.
    """
    if n <= _BLOCK:
        sizes = np.full(1, n, np.int64)
        depths = np.zeros(1, np.int64)
    else:
        sizes, depths = leaf_plan(n)
    buf = np.empty(chunk + _BLOCK, np.float64)
    ints = np.zeros(3, np.int64)
    ints[2] = -1
    vals = np.empty(64, np.float64)
    vdep = np.empty(64, np.int64)
    return buf, ints, vals, vdep, sizes, depths


@njit
def stream_flush(buf, ints, vals, vdep, sizes, depths):
    """Sum every complete leaf in ``buf`` and keep the remainder at the front."""
    fill = ints[0]
    k = ints[1]
    top = ints[2]
    pos = 0
    nleaf = sizes.shape[0]
    while k < nleaf and fill - pos >= sizes[k]:
        m = sizes[k]
        v = leaf_sum(buf, pos, m)
        pos += m
        d = depths[k]
        while top >= 0 and vdep[top] == d:
            v = vals[top] + v
            top -= 1
            d -= 1
        top += 1
        vals[top] = v
        vdep[top] = d
        k += 1
    rest = fill - pos
    for i in range(rest):
        buf[i] = buf[pos + i]
    ints[0] = rest
    ints[1] = k
    ints[2] = top


@njit
def stream_result(vals, ints):
    """The finished sum (0.0 for zero values)."""
    if ints[2] < 0:
        return 0.0
    return vals[0]
