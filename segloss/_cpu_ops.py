"""Compiled CPU kernels registered as torch operators (private; used by the Active Boundary Loss).

The dense per-pixel steps of the Active Boundary Loss run in pure torch as a dozen full-tensor passes plus large
gathers; on a CPU a fused, cache-friendly numba kernel does each in one sweep:

* ``segloss::squared_distance_to_mask`` — the exact squared Euclidean distance transform (the separable Voronoi /
  lower-envelope algorithm of ``segmetrics``' weighted F-measure, called through the public
  :func:`segmetrics.squared_distance_transform`, imported on first use);
* ``segloss::pair_kl_maps`` — Phase I: the KL divergences between every pixel's class distribution and its lower and
  right neighbours', and ``logsumexp`` of the logits;
* ``segloss::direction_ce`` — Phase II with detached neighbours: the cross-entropy between
  ``softmax_k KL(P_{i+Δ_k} ‖ P_i)`` and the smoothed target direction for every listed boundary pixel, with its
  gradient w.r.t. the centre pixel's logits (``(Q, C)``; the backward pass ``segloss::scatter_pixel_grad`` scales and
  scatters it). It skips the inactive slots of the fixed-size pixel list (the torch code has to process every slot),
  and reads the eight neighbours straight from the logits instead of gathering ``(8, Q, C)`` copies.

All are registered with :func:`torch.library.custom_op` (CPU implementation plus a shape-only "fake"
implementation; ``direction_ce`` also with an autograd formula), so ``torch.compile`` keeps them as opaque nodes
without a graph break. They read and write the tensors' own memory through zero-copy numpy views: no copy, no
device transfer, nothing to synchronise. Other devices use the pure torch code, which gives the same values (exactly
for the distances, to float rounding otherwise; both are tested against each other).

The kernels compile on first use (a few seconds, then cached on disk); ``SEGLOSS_DISABLE_JIT=1`` runs them as plain
Python (:mod:`segloss._jit`). They are
single-threaded: they respect ``torch.set_num_threads(1)`` set by data-parallel training loops.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from llvmlite import ir
from numba import types
from numba.extending import intrinsic, overload

from segloss._jit import njit

__all__ = [
    "HAS_CUSTOM_OP",
    "NO_MASK_SQDIST",
    "direction_ce_cpu",
    "pair_kl_maps_cpu",
    "squared_distance_to_mask_cpu",
]

NO_MASK_SQDIST = 2**62  # sentinel for images without any mask pixel


@intrinsic
def _int32_bits_as_float32(typingctx, bits):  # pragma: no cover - compile-time code generation
    """Reinterpret the bits of an int32 as a float32 (LLVM ``bitcast``; free, and vectorisable)."""
    return types.float32(types.int32), lambda context, builder, signature, args: builder.bitcast(
        args[0], ir.FloatType()
    )


def _exp_le0(x):
    """``exp(x)`` for ``x <= 0`` (a logit minus its row max or log-sum-exp). Plain Python when JIT is disabled."""
    return math.exp(x)


@overload(_exp_le0, inline="always")
def _exp_le0_jit(x):  # pragma: no cover - compile-time dispatch
    """float32: a branch-free exp that LLVM vectorises (libm's ``expf`` is a scalar call); float64: ``math.exp``.

    Cody-Waite reduction ``x = n ln 2 + r`` and the polynomial of Cephes' ``expf`` (max relative error
    6e-8 against float64, the same as ``expf`` observed); ``x`` is clamped at −87, so results below ``exp(−87)`` ≈
    1.6e-38 read as 1.6e-38 instead of underflowing — negligible next to the largest term (≥ 1) of the sums.
    """
    if x != types.float32:
        return lambda x: math.exp(x)

    def impl(x):
        x = max(x, np.float32(-87.0))
        n = math.floor(x * np.float32(1.4426950408889634) + np.float32(0.5))
        r = x - n * np.float32(0.693359375)
        r = r - n * np.float32(-2.12194440e-4)
        p = np.float32(1.9875691500e-4)
        p = p * r + np.float32(1.3981999507e-3)
        p = p * r + np.float32(8.3334519073e-3)
        p = p * r + np.float32(4.1665795894e-2)
        p = p * r + np.float32(1.6666665459e-1)
        p = p * r + np.float32(5.0000001201e-1)
        p = p * r * r + r + np.float32(1.0)
        return p * _int32_bits_as_float32((np.int32(n) + np.int32(127)) << np.int32(23))

    return impl


@njit
def _pair_kl_kernel(z, kl_down, kl_right, lse_out):  # pragma: no cover - compiled
    """Fill ``kl_down`` / ``kl_right`` and ``lse_out`` ``(N, H, W)`` from the logits ``z`` ``(N, C, H, W)``.

    Row by row, with the per-row statistics of two rows kept: ``lse = max + log Σ exp(z − max)`` and
    ``e = exp(z − max)``, so that ``p = e / Σ e`` and ``KL(P_a ‖ P_b) = Σ_c p_a (z_a − z_b) − lse_a + lse_b``.
    The KL is 0 where the neighbour is outside the image.
    """
    n, c, h, w = z.shape
    e = np.empty((2, c, w), z.dtype)
    inv_s = np.empty((2, w), z.dtype)
    lse = np.empty((2, w), z.dtype)
    acc_d = np.empty(w, z.dtype)
    acc_r = np.empty(w, z.dtype)
    for b in range(n):
        for i in range(h + 1):
            if i < h:  # statistics of row i
                cur = i % 2
                mx = lse[cur]
                s = inv_s[cur]
                zi = z[b, 0, i]
                for j in range(w):
                    mx[j] = zi[j]
                for ch in range(1, c):
                    zi = z[b, ch, i]
                    for j in range(w):
                        mx[j] = max(mx[j], zi[j])
                s[:] = 0
                for ch in range(c):
                    zi = z[b, ch, i]
                    ei = e[cur, ch]
                    for j in range(w):
                        v = _exp_le0(zi[j] - mx[j])
                        ei[j] = v
                        s[j] += v
                for j in range(w):
                    mx[j] += math.log(s[j])
                    s[j] = 1 / s[j]
                    lse_out[b, i, j] = mx[j]
            if i == 0:
                continue
            r = i - 1  # row r is complete: its own and its lower neighbour's statistics are known
            sl = r % 2
            has_down = r + 1 < h
            acc_d[:] = 0
            acc_r[:] = 0
            isr = inv_s[sl]
            for ch in range(c):
                zr = z[b, ch, r]
                er = e[sl, ch]
                if has_down:
                    zn = z[b, ch, r + 1]
                    for j in range(w):
                        acc_d[j] += er[j] * isr[j] * (zr[j] - zn[j])
                for j in range(w - 1):
                    acc_r[j] += er[j] * isr[j] * (zr[j] - zr[j + 1])
            ls = lse[sl]
            if has_down:
                ln = lse[1 - sl]
                for j in range(w):
                    kl_down[b, r, j] = acc_d[j] - ls[j] + ln[j]
            else:
                kl_down[b, r, :] = 0
            for j in range(w - 1):
                kl_right[b, r, j] = acc_r[j] - ls[j] + ls[j + 1]
            kl_right[b, r, w - 1] = 0


# (row, column) offsets of the eight directions (the order of segloss.active_boundary._DIRECTIONS)
_DI = np.array([1, -1, 0, 0, -1, 1, -1, 1], np.int64)
_DJ = np.array([0, 0, -1, 1, 1, 1, -1, -1], np.int64)


@njit
def _check_flat(flat, total):  # pragma: no cover - compiled
    """Raise unless every flat pixel index lies in ``[0, total)`` (the kernels index the logits with them)."""
    for q in range(flat.shape[0]):
        if flat[q] < 0 or flat[q] >= total:
            raise ValueError("flat pixel index out of range")


@njit
def _neighbour(f, k, h, w):  # pragma: no cover - compiled
    """Image, row, column of pixel ``f`` (flat index) and of its ``k``-th neighbour (replicate padding)."""
    b = f // (h * w)
    i = (f // w) % h
    j = f % w
    ni = min(max(i + _DI[k], 0), h - 1)
    nj = min(max(j + _DJ[k], 0), w - 1)
    return b, i, j, ni, nj


@njit
def _direction_ce_forward_kernel(z, lse, flat, active, direction, t_on, t_off, ce, grad_unit):  # pragma: no cover
    """Per slot ``q``: ``ce[q] = −Σ_k t_k log softmax_k KL(P_{i+Δ_k} ‖ P_i)`` and its gradient ``grad_unit[q]``.

    ``grad_unit[q] = ∂ce[q]/∂z_i`` (the neighbours are constants): with ``T = Σ_k t_k`` and ``s = softmax_k KL``,
    ``∂ce/∂KL_k = T·s_k − t_k``, ``∂KL_k/∂log p_i = −p_{i+Δ_k}`` and ``∂ log p_i/∂z_i = I − p_i``, so
    ``v = −Σ_k (T s_k − t_k) p_{i+Δ_k}`` and ``grad_unit = v − p_i Σ_c v_c``. Computing it here, where the
    neighbours' probabilities are at hand, leaves the backward pass a scaled scatter.
    """
    n, c, h, w = z.shape
    _check_flat(flat, n * h * w)
    logp_c = np.empty(c, z.dtype)
    p_nb = np.empty((8, c), z.dtype)
    kl = np.empty(8, z.dtype)
    total_t = t_on + 7 * t_off
    for q in range(flat.shape[0]):
        ce[q] = 0
        grad_unit[q, :] = 0
        if not active[q]:
            continue
        b, i, j, ni, nj = _neighbour(flat[q], 0, h, w)
        l0 = lse[b, i, j]
        for ch in range(c):
            logp_c[ch] = z[b, ch, i, j] - l0
        mx = -np.inf
        for k in range(8):
            b, i, j, ni, nj = _neighbour(flat[q], k, h, w)
            ln = lse[b, ni, nj]
            acc = 0.0
            for ch in range(c):
                lp = z[b, ch, ni, nj] - ln
                pk = math.exp(lp)
                p_nb[k, ch] = pk
                acc += pk * (lp - logp_c[ch])
            kl[k] = acc
            mx = max(mx, acc)
        tot = 0.0
        for k in range(8):
            tot += math.exp(kl[k] - mx)
        lsum = mx + math.log(tot)
        acc = 0.0
        g = grad_unit[q]
        for k in range(8):
            lsm = kl[k] - lsum
            t_k = t_on if k == direction[q] else t_off
            acc -= t_k * lsm
            dk = total_t * math.exp(lsm) - t_k
            for ch in range(c):
                g[ch] -= dk * p_nb[k, ch]
        ce[q] = acc
        v_sum = 0.0
        for ch in range(c):
            v_sum += g[ch]
        for ch in range(c):
            g[ch] -= math.exp(logp_c[ch]) * v_sum


@njit
def _scatter_pixel_grad_kernel(grad_ce, grad_unit, flat, active, grad_z):  # pragma: no cover - compiled
    """``grad_z[b, :, i, j] += grad_ce[q] · grad_unit[q]`` for every active slot ``q`` at pixel ``(b, i, j)``."""
    n, c, h, w = grad_z.shape
    _check_flat(flat, n * h * w)
    for q in range(flat.shape[0]):
        go = grad_ce[q]
        if not active[q] or go == 0:
            continue
        b, i, j, _, _ = _neighbour(flat[q], 0, h, w)
        for ch in range(c):
            grad_z[b, ch, i, j] += go * grad_unit[q, ch]


def _numpy(t: torch.Tensor) -> np.ndarray:
    """Zero-copy numpy view of a CPU tensor (made contiguous first if needed)."""
    return t.detach().contiguous().numpy()


def _pair_kl_maps(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n, _, h, w = z.shape
    kl_down, kl_right, lse = (torch.empty(n, h, w, dtype=z.dtype) for _ in range(3))
    if z.numel():
        _pair_kl_kernel(_numpy(z), kl_down.numpy(), kl_right.numpy(), lse.numpy())
    return kl_down, kl_right, lse


def _pair_kl_maps_fake(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n, _, h, w = z.shape
    return z.new_empty(n, h, w), z.new_empty(n, h, w), z.new_empty(n, h, w)


def _check_pixel_list(z: torch.Tensor, flat: torch.Tensor, **per_slot: tuple[torch.Tensor, tuple[int, ...]]) -> None:
    """Shapes of an operator's pixel list (``flat`` ``(Q,)`` and ``per_slot`` tensors of the given shapes)."""
    if z.ndim != 4 or flat.ndim != 1:
        raise ValueError(f"`z` must be (N, C, H, W) and `flat` (Q,); got {tuple(z.shape)} and {tuple(flat.shape)}")
    for name, (t, shape) in per_slot.items():
        if tuple(t.shape) != shape:
            raise ValueError(f"`{name}` must have shape {shape}; got {tuple(t.shape)}")


def _run_with_flat_check(kernel: Callable, flat: torch.Tensor, z: torch.Tensor, *args) -> None:
    """Call a pixel-list kernel; its range check of ``flat`` becomes a ValueError naming the valid range."""
    try:
        kernel(*args)
    except ValueError as err:
        if "flat pixel index" not in str(err):
            raise
        n, _, h, w = z.shape
        raise ValueError(f"`flat` indices must lie in [0, N·H·W) = [0, {n * h * w}); got values in "
                         f"[{int(flat.min())}, {int(flat.max())}]") from None


def _direction_ce(z: torch.Tensor, lse: torch.Tensor, flat: torch.Tensor, active: torch.Tensor,
                  direction: torch.Tensor, t_on: float, t_off: float) -> tuple[torch.Tensor, torch.Tensor]:
    q = flat.shape[0]
    _check_pixel_list(z, flat, lse=(lse, (z.shape[0], *z.shape[2:])), active=(active, (q,)),
                      direction=(direction, (q,)))
    ce = torch.empty(q, dtype=z.dtype)
    grad_unit = torch.empty(q, z.shape[1], dtype=z.dtype)
    if q:
        _run_with_flat_check(_direction_ce_forward_kernel, flat, z, _numpy(z), _numpy(lse), _numpy(flat),
                             _numpy(active), _numpy(direction), t_on, t_off, ce.numpy(), grad_unit.numpy())
    return ce, grad_unit


def _direction_ce_fake(z, lse, flat, active, direction, t_on, t_off):
    return z.new_empty(flat.shape[0]), z.new_empty(flat.shape[0], z.shape[1])


def _scatter_pixel_grad(grad_ce: torch.Tensor, grad_unit: torch.Tensor, flat: torch.Tensor, active: torch.Tensor,
                        z: torch.Tensor) -> torch.Tensor:
    q = flat.shape[0]
    _check_pixel_list(z, flat, grad_ce=(grad_ce, (q,)), grad_unit=(grad_unit, (q, z.shape[1])), active=(active, (q,)))
    grad_z = torch.zeros(z.shape, dtype=z.dtype)
    if q:
        _run_with_flat_check(_scatter_pixel_grad_kernel, flat, z, _numpy(grad_ce), _numpy(grad_unit), _numpy(flat),
                             _numpy(active), grad_z.numpy())
    return grad_z


def _scatter_pixel_grad_fake(grad_ce, grad_unit, flat, active, z):
    return torch.empty_like(z)


def _squared_distance(mask: torch.Tensor) -> torch.Tensor:
    from segmetrics import squared_distance_transform  # public; imported on first use, not with segloss

    out = torch.empty(mask.shape, dtype=torch.int64)
    if mask.numel():
        squared_distance_transform(_numpy(mask), empty=NO_MASK_SQDIST, out=out.numpy())
    return out


def _squared_distance_fake(mask: torch.Tensor) -> torch.Tensor:
    return mask.new_empty(mask.shape, dtype=torch.int64)


def _register(name: str, impl: Callable, fake: Callable) -> Callable:
    """``impl`` as the CPU implementation of the torch operator ``segloss::<name>`` (torch >= 2.4)."""
    if not HAS_CUSTOM_OP:  # pragma: no cover - old torch: eager only, graph break
        return torch.compiler.disable(impl)
    op = torch.library.custom_op(f"segloss::{name}", impl, mutates_args=(), device_types="cpu")
    op.register_fake(fake)
    return op


HAS_CUSTOM_OP = hasattr(torch.library, "custom_op")
_SQUARED_DISTANCE_OP = _register("squared_distance_to_mask", _squared_distance, _squared_distance_fake)
_PAIR_KL_OP = _register("pair_kl_maps", _pair_kl_maps, _pair_kl_maps_fake)
_SCATTER_PIXEL_GRAD_OP = _register("scatter_pixel_grad", _scatter_pixel_grad, _scatter_pixel_grad_fake)
_DIRECTION_CE_OP = _register("direction_ce", _direction_ce, _direction_ce_fake)


def _direction_ce_setup_context(ctx, inputs, output) -> None:
    z, _, flat, active, direction, t_on, t_off = inputs
    ctx.save_for_backward(z, flat, active, output[1], direction)
    ctx.targets = (t_on, t_off)


def _direction_ce_autograd_backward(ctx, grad_ce, _grad_of_grad_unit):
    z, flat, active, grad_unit, direction = ctx.saved_tensors
    if torch.is_grad_enabled():  # create_graph=True (double backward): differentiate the same formula in torch
        from segloss.active_boundary import direction_ce_reference  # imports this module: resolved at call time

        with torch.enable_grad():
            ce = direction_ce_reference(z, flat, active, direction, *ctx.targets)
        (grad_z,) = torch.autograd.grad(ce, z, grad_ce, create_graph=True)
        return grad_z, None, None, None, None, None, None
    grad_z = _SCATTER_PIXEL_GRAD_OP(grad_ce.contiguous(), grad_unit, flat, active, z)
    return grad_z, None, None, None, None, None, None


if HAS_CUSTOM_OP:
    _DIRECTION_CE_OP.register_autograd(_direction_ce_autograd_backward, setup_context=_direction_ce_setup_context)


def squared_distance_to_mask_cpu(mask: torch.Tensor) -> torch.Tensor:
    """Exact squared distance (int64 ``(N, H, W)``) to the nearest ``True`` pixel of a CPU bool mask ``(N, H, W)``.

    ``NO_MASK_SQDIST`` everywhere in an image without mask pixels.
    """
    return _SQUARED_DISTANCE_OP(mask.bool())


def pair_kl_maps_cpu(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``KL(P_i ‖ P_down)``, ``KL(P_i ‖ P_right)`` and ``logsumexp_c z`` ``(N, H, W)`` of CPU logits ``(N, C, H, W)``.

    No gradient (call it on detached logits).
    """
    return _PAIR_KL_OP(z.detach())


def direction_ce_cpu(
    z: torch.Tensor, lse: torch.Tensor, flat: torch.Tensor, active: torch.Tensor, direction: torch.Tensor,
    t_on: float, t_off: float,
) -> torch.Tensor:
    """Phase II of the Active Boundary Loss with detached neighbours, per listed pixel (CPU, differentiable in ``z``).

    For every slot ``q`` with ``active[q]`` (pixel ``flat[q]`` of the flattened ``(N, H, W)`` grid):
    ``ce[q] = −Σ_k t_k log softmax_k KL(P_{i+Δ_k} ‖ P_i)`` with ``t_k = t_on`` for ``k = direction[q]`` and
    ``t_off`` otherwise, the neighbours clamped to the image (replicate padding) and ``P = softmax(z)`` computed from
    ``lse`` = ``logsumexp_c z``; 0 for inactive slots. The gradient reaches only the centre pixels' logits.
    Needs ``HAS_CUSTOM_OP`` (torch >= 2.4) for its autograd formula; callers check it.

    Shapes:
        z ``(N, C, H, W)``, lse ``(N, H, W)``, flat / active / direction ``(Q,)`` → ``(Q,)``.
    """
    return _DIRECTION_CE_OP(z, lse.detach(), flat, active, direction, float(t_on), float(t_off))[0]
