"""Exact Euclidean distance transform for any torch device (private; used by the Active Boundary Loss).

``squared_distance_to_mask(mask)`` returns, for every pixel, the exact squared Euclidean distance (int64) to the
nearest ``True`` pixel of its image. It is the separable algorithm of Felzenszwalb & Huttenlocher / Meijster:

1. column pass: vertical distance ``g(i, j)`` to the nearest mask pixel in the same column, from a running
   ``cummax`` / ``cummin`` of row indices (exact, O(HW));
2. row pass: ``d²(i, j) = min_k g(i, k)² + (j − k)²``. The leftmost minimiser ``k*(j)`` is monotone in ``j`` (the cost
   matrix is Monge), so it is found by divide and conquer over the columns: each level solves up to three evenly
   spaced columns of every unsolved interval, searching only ``k ∈ [k*(left), k*(right)]`` between the interval's
   solved neighbours. The ranges of distinct intervals are disjoint up to shared ends, so a level is one flat,
   fixed-size (``≤ 3·(W + #intervals)``) gather per row plus a segmented min (segment ids by a binary search of the
   segment ends); about ``log4(W)`` levels (the few-query ones scan every column, in one first group), O(HW log W)
   work, about 20 kernels per level. The levels' index constants are made on the device once per (width, device).

Everything is dense and fixed-shape (no host sync, no data-dependent Python control flow, no loop over images or
pixels), on the input's device, and traceable by ``torch.compile``. Images without any mask pixel get
``NO_MASK_SQDIST`` everywhere (callers turn that into ``inf``).

On the CPU :func:`squared_distance_to_mask` computes the same exact distances with a compiled kernel instead (the torch
operator ``segloss::squared_distance_to_mask`` of :mod:`segloss._cpu_ops`, about 20× faster than the torch passes);
GPUs and other devices use the torch passes (:func:`squared_distance_to_mask_torch`). Both give identical values
(tested against each other and against scipy).
"""

from __future__ import annotations

import functools
import itertools

import torch
import torch.nn.functional as F

from segloss._cpu_ops import NO_MASK_SQDIST, squared_distance_to_mask_cpu
from segloss._scan import cumsum

__all__ = [
    "NO_MASK_SQDIST",
    "device_constant",
    "euclidean_distance_to_mask",
    "floor_sqrt",
    "floor_sqrt_float32",
    "squared_distance_to_mask",
    "squared_distance_to_mask_torch",
    "static_cache",
]


_KEY_SHIFT = 24  # key = d² << 24 | k  (k < 2**24 columns)
_BRUTE_FORCE_QUERIES = 4  # levels with at most this many query columns scan every column
_SPLITS = 3  # query columns per interval and level: 4-way divide and conquer (half the levels of 2-way)


def static_cache(maxsize: int):
    """``functools.lru_cache`` for pure functions of hashable settings that ``torch.compile`` traces through.

    In eager mode the result is cached; while dynamo traces, the undecorated function is called (its result is a
    graph constant anyway), so dynamo never meets the ``lru_cache`` wrapper and does not warn about it.

    Example:
        >>> @static_cache(4)
        ... def squares(n: int) -> tuple[int, ...]:
        ...     return tuple(i * i for i in range(n))
        >>> squares(4), squares.cache_info().hits
        ((0, 1, 4, 9), 0)
    """

    def decorate(fn):
        cached = functools.lru_cache(maxsize=maxsize)(fn)

        @functools.wraps(fn)
        def call(*args):
            if torch.compiler.is_compiling():
                return fn(*args)
            return cached(*args)

        call.cache_info, call.cache_clear = cached.cache_info, cached.cache_clear
        return call

    return decorate


def device_constant(values, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A small constant tensor on ``device``, read-only, made once per ``(values, dtype, device)`` and then reused.

    The first call copies it without a blocking host-to-device transfer (no stream sync on CUDA); later calls cost
    no copy and no kernel launch (while ``torch.compile`` traces, it is made in the graph instead). ``values``: a
    number or (nested) sequence of numbers. Callers never write into it.
    """
    if torch.compiler.is_compiling():
        return torch.tensor(values, dtype=dtype).to(device, non_blocking=True)
    return _cached_constant(_frozen(values), dtype, torch.device(device))


def _frozen(values):
    """``values`` as nested tuples (hashable)."""
    if isinstance(values, (list, tuple)):
        return tuple(_frozen(v) for v in values)
    return values


@functools.lru_cache(maxsize=512)
def _cached_constant(values, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    with torch.inference_mode(False):  # a normal tensor even when first asked for under inference mode
        return torch.tensor(values, dtype=dtype).to(device, non_blocking=True)


@static_cache(64)
def _schedule(width: int) -> tuple[tuple[list[int], list[int], list[int], int], ...]:
    """Static divide-and-conquer schedule: per level (query columns, left solved column, right solved column, slots).

    Every unsolved interval of a level gets up to :data:`_SPLITS` evenly spaced query columns, all bracketed by the
    interval's solved neighbours; the columns between them form the next level's intervals. Sentinels ``-1`` /
    ``width`` stand for "no solved column on this side". ``slots`` bounds the summed search-range lengths of the
    level: the ranges of distinct intervals are disjoint up to shared ends (they sum to at most
    ``width - 1 + #intervals``) and each is searched by at most ``_SPLITS`` queries.
    """
    levels = []
    intervals = [(0, width - 1)]  # unsolved closed intervals, bracketed by solved columns (or sentinels)
    while intervals:
        q, lo, hi, nxt, most = [], [], [], [], 0
        for a, b in intervals:
            length = b - a + 1
            m = min(_SPLITS, length)
            most = max(most, m)
            points = [a - 1 + (t * (length + 1) + (m + 1) // 2) // (m + 1) for t in range(1, m + 1)]
            q += points
            lo += [a - 1] * m
            hi += [b + 1] * m
            edges = [a - 1, *points, b + 1]
            nxt += [(left + 1, right - 1) for left, right in itertools.pairwise(edges) if left + 1 <= right - 1]
        levels.append((q, lo, hi, most * (width + len(intervals))))
        intervals = nxt
    return tuple(levels)


def _column_pass(mask: torch.Tensor, big: int) -> torch.Tensor:
    """Vertical distance (int64, (N, H, W)) to the nearest mask pixel in the same column; ``big`` where none.

    The r-th mask pixel of every column is located by a rank table (one ``cumsum`` + one ``scatter``); the nearest
    mask pixel at or above row i is the ``count(i)``-th, the nearest at or below is the next one (or i itself).
    """
    n, h, w = mask.shape
    rows = torch.arange(h, device=mask.device, dtype=torch.int64).view(1, h, 1).expand(n, h, w)
    count = cumsum(mask, 1)  # number of mask pixels in rows <= i
    # rank table: slot r < count_total holds the row of the r-th mask pixel; slot h is never written (sentinel);
    # the non-mask pixel of row i writes to slot h + 1 + i (distinct slots: no write contention on a GPU)
    table = torch.full((n, 2 * h + 1, w), 3 * big, dtype=torch.int64, device=mask.device)
    table.scatter_(1, torch.where(mask, count - 1, rows + (h + 1)), rows)
    above = torch.where(count > 0, table.gather(1, (count - 1).clamp_min(0)), -3 * big)
    below = torch.where(mask, rows, table.gather(1, count))
    return torch.minimum(rows - above, below - rows).clamp_max(big)


def squared_distance_to_mask(mask: torch.Tensor) -> torch.Tensor:
    """Exact squared Euclidean distance from every pixel to the nearest ``True`` pixel of the same image.

    Args:
        mask: bool tensor ``(N, H, W)``.

    Returns:
        int64 tensor ``(N, H, W)``; 0 on mask pixels; ``NO_MASK_SQDIST`` in images without mask pixels.
    """
    if mask.device.type == "cpu":
        return squared_distance_to_mask_cpu(mask)
    return squared_distance_to_mask_torch(mask)


def squared_distance_to_mask_torch(mask: torch.Tensor) -> torch.Tensor:
    """:func:`squared_distance_to_mask` by the pure torch passes (any device; used off the CPU)."""
    if mask.shape[1] < mask.shape[2]:
        # the transform is symmetric in the two axes: run the O(log W) row pass along the shorter one (fewer levels)
        return _squared_distance_rows(mask.transpose(1, 2).contiguous()).transpose(1, 2).contiguous()
    return _squared_distance_rows(mask)


def _build_level_constants(width: int, device: torch.device) -> list[tuple[torch.Tensor, ...]]:
    """Device constants of the levels of :func:`_schedule` (see :func:`_squared_distance_rows`).

    The levels with at most ``_BRUTE_FORCE_QUERIES`` queries (the first ones, and at most one at the end) scan every
    column, so they need no bracket from earlier levels: they form one first group ``(q, q + 1, shift)``; each other
    level is ``(q, q + 1, bracket columns + 1, q with a 0 appended, slots)``.
    """

    def const(values) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.int64).to(device, non_blocking=True)

    brute, levels = [], []
    for q_list, lo_list, hi_list, slots in _schedule(width):
        s = len(q_list)
        if s <= _BRUTE_FORCE_QUERIES:
            brute += q_list  # needs no bracket: solved with the other few-query levels, first
        else:
            lohi1 = const([v + 1 for v in lo_list] + [v + 1 for v in hi_list])  # kstar columns of both brackets
            q0 = const([*q_list, 0])  # query column of every segment, 0 for the tail
            e = const(list(range(slots)))  # flat slots of the level
            levels.append((const(q_list), const([v + 1 for v in q_list]), lohi1, q0, e))
    # key offsets (q − k)²·2^24 of every column k for every brute-force query q, (S, W)
    shift = const([[(v - k) ** 2 << _KEY_SHIFT for k in range(width)] for v in brute])
    return [(const(brute), const([v + 1 for v in brute]), shift), *levels]


@functools.lru_cache(maxsize=32)
def _cached_level_constants(width: int, device: torch.device) -> list[tuple[torch.Tensor, ...]]:
    with torch.inference_mode(False):  # normal tensors even when first asked for under inference mode
        return _build_level_constants(width, device)


def _level_constants(width: int, device: torch.device) -> list[tuple[torch.Tensor, ...]]:
    """:func:`_build_level_constants`, made once per (width, device) in eager mode (no copy, no launch after that)."""
    if torch.compiler.is_compiling():
        return _build_level_constants(width, device)
    return _cached_level_constants(width, device)


def _squared_distance_rows(mask: torch.Tensor) -> torch.Tensor:
    """:func:`squared_distance_to_mask` with the column pass along dim 1 and the lower-envelope pass along dim 2."""
    n, h, w = mask.shape
    if w >= 2**_KEY_SHIFT:
        raise ValueError(f"`mask` width must be < {2**_KEY_SHIFT}; got {w}")
    device = mask.device
    big = h + w + 1  # larger than any in-image distance
    g = _column_pass(mask.bool(), big)  # (N, H, W)
    a = (g * g).reshape(n * h, w)  # (R, W) int64, big² where a column has no mask pixel
    rows = a.shape[0]
    a_key = (a << _KEY_SHIFT) + torch.arange(w, dtype=torch.int64, device=device)  # key of (a_k, k)
    kstar = torch.zeros(rows, w + 2, dtype=torch.int64, device=device)  # column j+1 holds k*(j)
    kstar[:, w + 1] = w - 1
    out = torch.empty(rows, w, dtype=torch.int64, device=device)
    low_bits = (1 << _KEY_SHIFT) - 1
    levels = _level_constants(w, device)
    # the tail slots of a level (past its last range) read columns up to the level's slot count: zero-padded keys
    slots = max([w] + [consts[4].shape[0] for consts in levels if len(consts) == 5])
    a_cand = F.pad(a_key, (0, slots - w)) if slots > w else a_key
    for level, consts in enumerate(levels):
        q, q1 = consts[:2]
        s = q.shape[0]
        if len(consts) == 3:
            # the few-query levels: every column is a candidate, key = a_k·2^24 + k + (q − k)²·2^24
            shift = consts[2]  # (S, W)
            # one (R, W) temporary per query rather than an (R, S, W) one
            best = torch.stack([(a_key + shift[t]).amin(dim=1) for t in range(s)], dim=1)  # (R, S)
        else:
            lohi1, q0, e = consts[2:]
            total = e.shape[0]  # bound on the summed range lengths (see _schedule)
            lohi = kstar.gather(1, lohi1.expand(rows, 2 * s))  # (R, 2S): k* of the left and right brackets
            lo, hi = lohi[:, :s], lohi[:, s:]
            length = hi - lo + 1  # >= 1 by monotonicity of the minimiser
            ends = cumsum(length, 1)  # (R, S), strictly increasing, last <= total
            # segment id of every flat slot e in [0, total): number of segment ends <= e (slots past the end -> S)
            seg = torch.searchsorted(ends, e.expand(rows, total).contiguous(), right=True)  # (R, T) in [0, S]
            # candidate k = base[seg] + e with base = lo − (ends − length) = hi + 1 − ends; the tail slots
            # (seg = S, dropped) map to k = e − ends[-1] in [0, total)
            base = torch.cat([(hi + 1) - ends, -ends[:, -1:]], dim=1)  # (R, S + 1)
            k = base.gather(1, seg) + e
            dj = q0.expand(rows, s + 1).gather(1, seg) - k  # gather: faster than [seg]
            key = torch.add(a_cand.gather(1, k), dj * dj, alpha=1 << _KEY_SHIFT)
            # every segment has >= 1 slot, so every kept column of `best` is written (the tail one is dropped)
            best = torch.empty(rows, s + 1, dtype=torch.int64, device=device)
            best = best.scatter_reduce_(1, seg, key, reduce="amin", include_self=False)[:, :s]
        if level + 1 < len(levels):  # the last level's minimisers are never read
            kstar[:, q1] = best & low_bits
        out[:, q] = best >> _KEY_SHIFT
    out = out.view(n, h, w)
    has = mask.reshape(n, h * w).any(dim=1).view(n, 1, 1)
    return torch.where(has, out, NO_MASK_SQDIST)


def euclidean_distance_to_mask(mask: torch.Tensor) -> torch.Tensor:
    """Float32 Euclidean distance to the nearest ``True`` pixel; ``inf`` in images without mask pixels."""
    d2 = squared_distance_to_mask(mask)
    dist = d2.to(torch.float64).sqrt().to(torch.float32) if d2.device.type == "cpu" else d2.float().sqrt()
    return torch.where(d2 == NO_MASK_SQDIST, torch.full_like(dist, float("inf")), dist)


def floor_sqrt(d2: torch.Tensor) -> torch.Tensor:
    """Exact integer ``floor(sqrt(d2))`` of a non-negative int64 tensor (``d2 < 2**52``).

    On a CPU the float64 square root is exact enough on its own: for a non-square ``n < 2**52``, ``sqrt(n)`` is at
    least ``1 / (2 sqrt(n + 1)) > 2**-27`` below the next integer, more than its rounding error (``≤ 2**-28``).
    Elsewhere (float64 is slow on most GPUs): :func:`floor_sqrt_float32`.
    """
    if d2.device.type == "cpu":
        return d2.double().sqrt().floor().to(torch.int64)
    return floor_sqrt_float32(d2)


def floor_sqrt_float32(d2: torch.Tensor) -> torch.Tensor:
    """Exact integer ``floor(sqrt(d2))`` of a non-negative int64 tensor (float32 estimate + ±1 integer fix-up)."""
    s = d2.float().sqrt().floor().to(torch.int64)
    s = torch.where(s * s > d2, s - 1, s)
    s = torch.where((s + 1) * (s + 1) <= d2, s + 1, s)
    return s
