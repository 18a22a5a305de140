"""Permutohedral-lattice Gaussian filtering in pure torch (Adams, Baek & Davis, Eurographics 2010).

Vectorised over the batch and the pixels: the enclosing simplex of every feature vector is found
with element-wise maths, lattice vertices are deduplicated with ``torch.unique`` on packed int64
keys (two stages: distinct simplices first, then their vertices), and splat / blur / slice are
``index_add_`` / ``index_select`` passes. The filter is a linear map ``X ↦ W X`` on ``(B, P, C)``
values with ``W ≈ exp(−‖f_p − f_q‖²/2)`` up to the lattice's well-known amplitude factor (about
0.6 for 5-D features; see :mod:`segloss.potts_crf`). Building the lattice needs data-dependent
sizes (one host synchronisation on accelerators).
"""

from __future__ import annotations

import math
import warnings

import torch

__all__ = ["PermutohedralLattice"]


class PermutohedralLattice:
    """A lattice built once from features ``(B, P, d)`` (already divided by their bandwidths).

    ``lattice.filter(values)`` applies the blur to ``values`` ``(B, P, C)``. Points of different
    batch items never interact.
    """

    def __init__(self, features: torch.Tensor) -> None:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ss]parse.*")  # "sparse CSR support is in beta"
            self._build(features.float())

    def _build(self, f: torch.Tensor) -> None:
        b, p, d = f.shape
        dev = f.device
        self.d, self.b, self.p = d, b, p
        d1 = d + 1
        npix = b * p
        # Coordinate-major layout: every step is a handful of element-wise ops on (npix,) rows.
        ft = f.reshape(npix, d).t()
        elevated = torch.empty(d1, npix, device=dev)
        sm = torch.zeros(npix, device=dev)
        for j in range(d, 0, -1):  # elevate onto the plane Σ = 0 (Adams et al., E·f)
            cf = ft[j - 1] * (math.sqrt(2.0 / 3.0) * d1 / math.sqrt(j * (j + 1.0)))
            elevated[j] = sm - j * cf
            sm = sm + cf
        elevated[0] = sm
        rd = torch.round(elevated / d1)  # nearest remainder-0 point
        rem0 = rd * d1
        diff = elevated - rem0
        # rank[i] = #{j > i: d_i < d_j} + #{j < i: d_j >= d_i} (position in decreasing order, ties by index)
        rank = torch.zeros(d1, npix, dtype=torch.long, device=dev)
        for i in range(d1):
            for j in range(i + 1, d1):
                c = diff[i] < diff[j]
                rank[i] += c
                rank[j] += ~c
        rank += rd.sum(0).long()
        low, high = rank < 0, rank > d
        shift = (low.long() - high.long()) * d1
        rank += shift
        rem0 = rem0 + shift
        v = (elevated - rem0) / d1
        bary = torch.zeros(d + 2, npix, device=dev)
        bary.scatter_add_(0, d - rank, v)
        bary.scatter_add_(0, d - rank + 1, -v)
        bary[0] += 1.0 + bary[d1]
        bary = bary[:d1].t().contiguous()  # (npix, d+1): weight of vertex r (remainder r)
        rank = rank.t().contiguous()
        rem0 = rem0.t().contiguous()

        # Stage 1: distinct simplices (rem0 point + permutation) from one sort of packed int64 codes.
        r0 = torch.round(rem0[:, :d] / d1).long()
        lo = r0.amin()
        span = int(r0.amax() - lo) + 1
        n_perm = d1**d1
        bidx = torch.arange(b, device=dev).repeat_interleave(p)
        if math.log(span) * d + math.log(n_perm) + math.log(max(b, 1)) >= math.log(2.0**62):  # pragma: no cover
            raise ValueError("permutohedral lattice: feature range too large for int64 keys; increase the sigmas")
        code = (rank * (d1 ** torch.arange(d1, device=dev))).sum(-1)
        mul = n_perm
        for k in range(d):
            code = code + (r0[:, k] - lo) * mul
            mul *= span
        code = code + bidx * mul
        sorted_code, perm = torch.sort(code)
        new = torch.ones_like(sorted_code, dtype=torch.bool)
        new[1:] = sorted_code[1:] != sorted_code[:-1]
        sid_sorted = torch.cumsum(new.long(), 0) - 1
        first = perm[new]  # one pixel per distinct simplex
        n_s = first.numel()
        inv_s = torch.empty_like(sid_sorted).scatter_(0, perm, sid_sorted)
        counts = torch.bincount(sid_sorted, minlength=n_s)
        start = torch.cumsum(counts, 0) - counts

        # Stage 2: the d+1 vertices of every distinct simplex; canonical simplex vertex r has
        # coordinate r where rank <= d - r and r - (d+1) elsewhere.
        s_rem = rem0[first][:, :d].long()
        s_rank = rank[first]
        klo = int(s_rem.amin()) - 2 * d1
        base = int(s_rem.amax()) - klo + 2 * d1 + 1
        if math.log(base) * d + math.log(max(b, 1)) >= math.log(2.0**62):  # pragma: no cover
            raise ValueError("permutohedral lattice: feature range too large for int64 keys; increase the sigmas")
        powers = base ** torch.arange(d, device=dev, dtype=torch.long)
        pw = torch.cat([powers, powers.new_zeros(1)])  # coordinate d is implicit (keys use d coordinates)
        # key_r = Σ_i (rem0_i + r − (d+1)[rank_i > d − r] − klo) pow_i; the bracket sums pow_i over the
        # coordinates of rank ≥ d − r + 1: a suffix sum over coordinates placed by rank.
        by_rank = torch.zeros(n_s, d1, dtype=torch.long, device=dev).scatter_(1, s_rank, pw.expand(n_s, d1))
        suffix = torch.cat([by_rank.flip(1).cumsum(1).flip(1), by_rank.new_zeros(n_s, 1)], 1)  # (S, d+2)
        rr = torch.arange(d1, device=dev)
        k0 = ((s_rem - klo) * powers).sum(1) + bidx[first] * base**d
        packed = (k0[:, None] + rr[None, :] * powers.sum() - d1 * suffix[:, d + 1 - rr]).reshape(-1)
        sorted_keys, order2 = torch.sort(packed)
        new2 = torch.ones_like(sorted_keys, dtype=torch.bool)
        new2[1:] = sorted_keys[1:] != sorted_keys[:-1]
        vid_sorted = torch.cumsum(new2.long(), 0) - 1
        uk = sorted_keys[new2]
        m = uk.numel()
        self.m = m
        inv_v = torch.empty_like(vid_sorted).scatter_(0, order2, vid_sorted).view(n_s, d1)
        offsets = inv_v[inv_s]  # (B*P, d+1) vertex ids

        # Slice matrix A (pixels x vertices, d+1 entries per row) and splat matrix A^T, both CSR; an extra
        # all-zero vertex row m stands for missing blur neighbours.
        self.slice_mat = torch.sparse_csr_tensor(
            torch.arange(0, npix * d1 + 1, d1, device=dev), offsets.reshape(-1), bary.reshape(-1), size=(npix, m + 1)
        )
        pair_s, pair_r = order2 // d1, order2 % d1  # (simplex, vertex slot) pairs sorted by vertex id
        rep = counts[pair_s]
        tot = int(npix * d1)
        seg_start = torch.cumsum(rep, 0) - rep
        pos = torch.repeat_interleave(start[pair_s] - seg_start, rep, output_size=tot) + torch.arange(tot, device=dev)
        cols = perm[pos]
        vals = bary[cols, torch.repeat_interleave(pair_r, rep, output_size=tot)]
        per_vertex = torch.zeros(m, dtype=torch.long, device=dev).index_add_(0, vid_sorted, rep)
        crow = torch.cat([per_vertex.new_zeros(1), torch.cumsum(per_vertex, 0), per_vertex.new_full((1,), tot)])
        self.splat_mat = torch.sparse_csr_tensor(crow, cols, vals, size=(m + 1, npix))

        # Blur neighbours along each of the d+1 lattice axes (index m = a zero row for missing ones).
        ones = powers.sum()
        self.neighbours = []
        for j in range(d1):
            step = (d1 * powers[j]) if j < d else torch.zeros((), dtype=torch.long, device=dev)
            n1 = torch.cat([_lookup(uk, uk - ones + step, m), uk.new_full((1,), m)])
            n2 = torch.cat([_lookup(uk, uk + ones - step, m), uk.new_full((1,), m)])
            self.neighbours.append((n1, n2))
        self.alpha = 1.0 / (1.0 + 2.0 ** (-d))

    def filter(self, values: torch.Tensor) -> torch.Tensor:
        """Apply the lattice Gaussian to ``values`` ``(B, P, C)`` (float32 maths); returns ``(B, P, C)``."""
        b, p, c = values.shape
        x = values.reshape(b * p, c).float().contiguous()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
            grid = self.splat_mat @ x  # (m + 1, C); row m stays 0 (its neighbours are itself)
        for n1, n2 in self.neighbours:
            grid = grid + 0.5 * (grid.index_select(0, n1) + grid.index_select(0, n2))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Ss]parse.*")
            out = self.slice_mat @ grid
        return (out * self.alpha).reshape(b, p, c).to(values.dtype)


def _lookup(sorted_keys: torch.Tensor, query: torch.Tensor, missing: int) -> torch.Tensor:
    pos = torch.searchsorted(sorted_keys, query).clamp_max(sorted_keys.numel() - 1)
    hit = sorted_keys[pos] == query
    return torch.where(hit, pos, torch.full_like(pos, missing))
