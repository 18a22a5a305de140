"""Active Boundary Loss (Wang et al., "Active Boundary Loss for Semantic Segmentation", AAAI 2022).

The loss moves predicted boundaries (PDB) toward ground-truth boundaries (GTB):

* Phase I. A pixel is on the PDB when the KL divergence between its class distribution and one of its two forward
  neighbours {(1, 0), (0, 1)} exceeds an adaptive ε, chosen so that at most ``max_n_ratio`` of the pixels are PDB;
  the PDB is then dilated by one pixel. ``M`` is the distance transform of the GTB and the target direction of a PDB
  pixel ``i`` is ``D^g_i = onehot(argmin_j M_{i+Δ_j})`` over the eight neighbours
  ``Δ = [(1,0), (-1,0), (0,-1), (0,1), (-1,1), (1,1), (-1,-1), (1,-1)]`` (row, column), first index on ties.
* Phase II. ``D^p_i = softmax_k KL(P_{i+Δ_k} ‖ P_i)`` and
  ``ABL = 1/N_b Σ_i Λ(M_i) · CE(D^p_i, D^g_i)``, ``Λ(x) = min(x, θ)/θ``, with label-smoothed targets.

Two semantics are offered (``compat``):

``"paper"`` (default)
    per-image budget ``m = floor(H·W·max_n_ratio)`` (ε = the (m+1)-th largest of ``max(KL_down, KL_right)``, never
    below 1e-5; ignored pixels are never PDB), GTB on *both* sides of every label change between two non-ignored
    pixels, ``M`` = exact Euclidean distance, targets ``1 - s`` / ``s/7``, PDB pixels with ``M = 0`` or an ignored
    label are discarded, images without any GTB contribute nothing.
``"official"``
    reproduces ``abl.py`` of wangchi95/active-boundary-loss (commit 1511507): one budget for the whole batch with the
    authors' ``ε ← 1.2 ε`` schedule (solved in closed form: same ε, no loop), ``KL_down + KL_right``, one-sided GTB
    plus every ignored pixel as GTB, ``M = max(floor(EDT) − 1, 0)``, argmin over the eight neighbours *and* the centre
    (centre last; pixels whose argmin is the centre are dropped, zero-weight pixels are counted), targets
    ``1 - s`` / ``s/8``. The only deliberate difference: images without any GTB are skipped (the authors' scipy call
    returns meaningless distances there), and ``weight`` is a per-class weight here (theirs is a per-direction
    weight that only applies when ``label_smoothing=0``).

In both modes logits whose spatial size differs from the target are resized bilinearly (``align_corners=True``),
neighbours outside the image use replicate padding, and with ``detach=True`` only the centre pixel receives gradient.
The forward pass is dense and fixed-shape: no host synchronisation, no Python loop over images or thresholds, and
it runs under ``torch.compile`` and autocast (float32 inside). The predicted-boundary pixels live in a fixed-size
list of ``9·m`` slots (batch budget, official) or ``N·9·m`` slots (per-image budget, paper), the largest a dilated
budget can fill. On GPUs and other devices every step is torch code. On a CPU the three dense steps (the exact
distance transform, the KL maps of Phase I and the direction cross-entropy of Phase II with its gradient, when
``detach=True``) run as compiled single-threaded kernels registered as torch operators (``segloss._cpu_ops``); they
give the same values as the torch code (tested) and are traced by ``torch.compile`` as opaque nodes. They compile on
the first call of a session (a few seconds, then cached on disk). The distance map can also be computed once per
sample in a ``DataLoader`` worker with :func:`abl_distance_map` and passed as ``dist_map=``.

**Never train with ABL alone.** It only acts on the predicted boundary: a network trained on ABL by itself soon
predicts one class everywhere, where there is no predicted boundary, hence zero loss and zero gradient (observed
after a few steps). The paper always adds it to cross-entropy (and Lovász-softmax), eq. 5:
``L = CE + Lovász + w_a·ABL`` with ``w_a`` = 1.5 on Cityscapes; :class:`segloss.CELovaszABLLoss` computes exactly
that sum in one call.
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Any

import torch
import torch.nn.functional as F

from segloss._cpu_ops import HAS_CUSTOM_OP, direction_ce_cpu, pair_kl_maps_cpu
from segloss._distance import (
    NO_MASK_SQDIST,
    device_constant,
    euclidean_distance_to_mask,
    floor_sqrt,
    squared_distance_to_mask,
    static_cache,
)
from segloss._modes import CLASS_MODES, check_mode_channels
from segloss._module import LossModule
from segloss._scan import cumsum
from segloss._validation import (
    REDUCTIONS,
    check_bool,
    check_choice,
    check_class_weight,
    check_ignore_index,
    check_label_dtype,
    check_logits,
    check_number,
    check_same_device,
    check_tensor,
    check_values,
    class_weight_buffer,
    finite,
    float32_logits,
    in_range,
    is_ignored,
    label_ids,
    one_hot_hint,
    valid_labels,
    value_checks_enabled,
)

__all__ = ["ActiveBoundaryLoss", "abl_distance_map", "active_boundary_loss"]

COMPATS = ("paper", "official")

# (row, column) offsets of the eight directions, in the paper's / authors' order
_DIRECTIONS = ((1, 0), (-1, 0), (0, -1), (0, 1), (-1, 1), (1, 1), (-1, -1), (1, -1))
_EPS0 = 1e-5  # the authors' initial / minimum KL threshold
_EPS_GROWTH = 1.2


@static_cache(8)
def _official_eps_schedule(dtype: torch.dtype) -> tuple[float, ...]:
    """The authors' thresholds ``ε_k`` (``ε_0 = 1e-5``, ``ε_{k+1} = 1.2·ε_k`` in Python floats) rounded to ``dtype``.

    The first ``ε_k`` above the largest finite value of ``dtype`` is written as ``inf`` (what it rounds to), so every
    entry is representable: ``torch.compile(dynamic=True)`` builds the table element by element and refuses an
    overflowing float32 constant.
    """
    finfo_max = torch.finfo(dtype).max
    values, eps = [], _EPS0
    while eps <= finfo_max:
        values.append(eps)
        eps *= _EPS_GROWTH
    values.append(math.inf)
    return tuple(values)


def _autocast_off(device: torch.device) -> contextlib.AbstractContextManager:
    """Context that disables autocast on ``device`` (a no-op where autocast does not exist)."""
    try:
        return torch.autocast(device_type=device.type, enabled=False)
    except (RuntimeError, ValueError):  # pragma: no cover - device types without autocast
        return contextlib.nullcontext()


def _check_options(
    mode: str, compat: str, reduction: str, theta: float, max_n_ratio: float, label_smoothing: float,
    ignore_index: Any, detach: bool,
) -> tuple[float, float, float, int | None]:
    """Validate the options of :func:`active_boundary_loss` and :class:`ActiveBoundaryLoss` (``weight``: by each).

    Returns:
        ``(theta, max_n_ratio, label_smoothing, ignore_index)`` as Python numbers.
    """
    check_choice(mode, "mode", CLASS_MODES)
    check_choice(compat, "compat", COMPATS)
    check_choice(reduction, "reduction", REDUCTIONS)
    check_bool(detach, "detach")
    return (float(check_number(theta, "theta", low=0.0, low_inclusive=False)),
            float(check_number(max_n_ratio, "max_n_ratio", low=0.0, high=1.0)),
            float(check_number(label_smoothing, "label_smoothing", low=0.0, high=1.0, high_inclusive=False)),
            check_ignore_index(ignore_index))


def _validate_target(target: Any, n: int, mode: str, name: str = "target", channels: int = 0) -> torch.Tensor:
    """Return ``target`` as ``(N, H, W)`` (binary mode also accepts ``(N, 1, H, W)``); ``channels``: ``pred``'s C."""
    check_tensor(target, name)
    if mode == "binary" and target.ndim == 4 and target.shape[1] == 1:
        target = target[:, 0]
    if target.ndim != 3 or target.shape[0] != n:
        raise ValueError(f"`{name}` must have shape (N, H, W) with N = {n} (the batch size of `pred`); got "
                         f"{tuple(target.shape)}{one_hot_hint(target, channels)}")
    if target.shape[1] == 0 or target.shape[2] == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {tuple(target.shape)}")
    return target


def _as_class_logits(pred: torch.Tensor, mode: str) -> torch.Tensor:
    """Float logits with one channel per class; binary ``x`` becomes ``[0, x]`` whose softmax is ``[1-σ(x), σ(x)]``."""
    z = float32_logits(pred)
    if mode == "binary":
        z = torch.cat([torch.zeros_like(z), z], dim=1)
    return z


def _gt_boundary(target: torch.Tensor, ignore_index: int | None, compat: str) -> torch.Tensor:
    """GT boundary mask ``(N, H, W)`` by label inequality over the 2-neighbourhood (see the module docstring)."""
    down = target[:, 1:, :] != target[:, :-1, :]  # between rows i and i+1
    right = target[:, :, 1:] != target[:, :, :-1]  # between columns j and j+1
    if compat != "official" and ignore_index is not None:
        valid = valid_labels(target, ignore_index)
        down = down & valid[:, 1:, :] & valid[:, :-1, :]
        right = right & valid[:, :, 1:] & valid[:, :, :-1]
    # padding is done on uint8 (inductor's CPU code generation fails on padded bool masks in torch 2.13)
    down, right = down.to(torch.uint8), right.to(torch.uint8)
    if compat == "official":
        b = F.pad(down, (0, 0, 0, 1)) | F.pad(right, (0, 1))
        if ignore_index is not None:
            b = b | is_ignored(target, ignore_index).to(torch.uint8)
        return b > 0
    return (F.pad(down, (0, 0, 0, 1)) | F.pad(down, (0, 0, 1, 0)) | F.pad(right, (0, 1)) | F.pad(right, (1, 0))) > 0


def _distance_from_boundary(boundary: torch.Tensor, compat: str) -> torch.Tensor:
    """Float32 distance map from a GT boundary mask; ``inf`` in images without boundary."""
    if compat != "official":
        return euclidean_distance_to_mask(boundary)
    d2 = squared_distance_to_mask(boundary)
    none = d2 == NO_MASK_SQDIST
    dist = (floor_sqrt(torch.where(none, torch.zeros_like(d2), d2)) - 1).clamp_min(0).float()
    return torch.where(none, torch.full_like(dist, float("inf")), dist)


def abl_distance_map(
    target: torch.Tensor, *, ignore_index: int | None = 255, compat: str = "paper"
) -> torch.Tensor:
    """Distance map ``M`` to the ground-truth boundary, as used by :func:`active_boundary_loss`.

    Compute it in a ``DataLoader`` worker (on CPU) and pass it as ``dist_map=`` to move the distance transform out
    of the training step. The transform is exact (identical to scipy's) and runs on the tensor's device: a compiled
    kernel on a CPU, torch passes elsewhere.

    ``compat="paper"``: ``M`` = Euclidean distance to the nearest GT boundary pixel (both sides of every label change
    between non-ignored pixels). ``compat="official"``: ``M = max(floor(EDT) − 1, 0)`` to the one-sided GT boundary
    plus the ignored pixels (the authors' integer map).

    Args:
        target: class ids, ``(N, H, W)`` or ``(H, W)`` integer tensor.
        ignore_index: label of ignored pixels (default 255, as the authors), or ``None``.
        compat: ``"paper"`` (default) or ``"official"``.

    Shapes:
        target ``(N, H, W)`` or ``(H, W)`` → output of the same shape, float32.

    Returns:
        Float32 distances; ``inf`` everywhere in an image without any GT boundary pixel (such images are skipped by
        the loss).

    Raises:
        TypeError: if ``target`` is not an integer tensor.
        ValueError: if its shape is not ``(N, H, W)`` / ``(H, W)`` or ``compat`` is unknown.

    Example:
        >>> t = torch.zeros(1, 4, 6, dtype=torch.long); t[:, :, 3:] = 1
        >>> abl_distance_map(t)[0, 0].tolist()
        [2.0, 1.0, 0.0, 0.0, 1.0, 2.0]
    """
    check_tensor(target, "target")
    check_choice(compat, "compat", COMPATS)
    ignore_index = check_ignore_index(ignore_index)
    check_label_dtype(target)
    if target.ndim not in (2, 3) or target.numel() == 0:
        raise ValueError(f"`target` must be a non-empty (N, H, W) or (H, W) tensor; got shape {tuple(target.shape)}")
    squeeze = target.ndim == 2
    t = target[None] if squeeze else target
    with torch.no_grad():
        dist = _distance_from_boundary(_gt_boundary(t, ignore_index, compat), compat)
    return dist[0] if squeeze else dist


def _cpu_kernels(device: torch.device) -> bool:
    """Whether the fused CPU kernels of :mod:`segloss._cpu_ops` replace the torch code (CPU tensors)."""
    return device.type == "cpu" and HAS_CUSTOM_OP


def _kl_maps_torch(
    z: torch.Tensor, compat: str, channels_last: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``KL(P_i ‖ P_down)``, ``KL(P_i ‖ P_right)`` ``(N, H, W)`` (zero at the far edge), without gradient.

    With ``channels_last`` also returns the probabilities as a channels-last ``(N, H, W, C)`` tensor and the map
    ``Σ_c p log p`` ``(N, H, W)`` (for the neighbour gathers); otherwise ``None, None``. Whole-tensor torch code (any
    device); on a CPU :func:`segloss._cpu_ops.pair_kl_maps_cpu` computes the KL maps in one fused sweep instead.
    """
    logp = F.log_softmax(z, dim=1)
    # the authors take softmax() and log_softmax() separately; so does official mode
    p = F.softmax(z, dim=1) if compat == "official" else logp.exp()
    kl_down = F.pad((p[:, :, :-1] * (logp[:, :, :-1] - logp[:, :, 1:])).sum(1), (0, 0, 0, 1))
    kl_right = F.pad((p[..., :-1] * (logp[..., :-1] - logp[..., 1:])).sum(1), (0, 1))
    if not channels_last:
        return kl_down, kl_right, None, None
    return kl_down, kl_right, p.permute(0, 2, 3, 1).contiguous(), (p * logp).sum(1)


def _predicted_boundary(
    kl_down: torch.Tensor, kl_right: torch.Tensor, compat: str, max_n_ratio: float, valid: torch.Tensor | None,
    pool: bool,
) -> torch.Tensor:
    """Dilated predicted-boundary mask ``(N, H, W)`` from the KL maps of the two forward neighbours (no gradient).

    The 3×3 dilation of ``kl > ε`` is ``max_pool(kl) > ε`` (the window's maximum exceeds ε iff one of its pixels
    does): one pooling kernel with ``pool`` (GPUs), else :func:`_dilate3x3` of the thresholded mask (cheaper on a
    CPU).
    """
    n, h, w = kl_down.shape
    m = math.floor(h * w * max_n_ratio)
    if compat == "official":
        kl = kl_down + kl_right
        flat = kl.reshape(-1)
        table = device_constant(_official_eps_schedule(kl.dtype), kl.dtype, kl.device)
        if m + 1 <= flat.numel():
            v = flat.topk(m + 1).values[-1:]  # (m+1)-th largest KL of the whole batch
            k = torch.searchsorted(table, v).clamp_max(table.numel() - 1)  # first ε_k >= v
            eps = table[k]
        else:
            eps = table[:1]
        thr = eps
    else:
        kl = torch.maximum(kl_down, kl_right)
        if valid is not None:
            kl = torch.where(valid, kl, 0.0)
        flat = kl.reshape(n, -1)
        if m + 1 <= flat.shape[1]:
            v = flat.topk(m + 1, dim=1).values[:, -1].clamp_min(_EPS0)  # (m+1)-th largest per image
        else:
            v = torch.full((n,), _EPS0, dtype=kl.dtype, device=kl.device)
        thr = v.view(n, 1, 1)
    if pool:
        return F.max_pool2d(kl.unsqueeze(1), 3, 1, 1).squeeze(1) > thr
    return _dilate3x3(kl > thr)


def _dilate3x3(mask: torch.Tensor) -> torch.Tensor:
    """3×3 binary dilation of a bool mask ``(N, H, W)`` (zero outside), as two separable ORs of shifted copies.

    Equal to ``max_pool2d(mask, 3, 1, 1) > 0`` and several times cheaper than pooling a float copy on a CPU.
    """
    m = mask.to(torch.uint8)  # padding is done on uint8 (see _gt_boundary)
    rows = m | F.pad(m[:, 1:], (0, 0, 0, 1)) | F.pad(m[:, :-1], (0, 0, 1, 0))
    return (rows | F.pad(rows[..., 1:], (0, 1)) | F.pad(rows[..., :-1], (1, 0))) > 0


def _first_argmin(values: torch.Tensor) -> torch.Tensor:
    """``values.argmin(dim=0)`` for a short leading dim ``(K, Q)``, first index on ties, as K − 1 running compares.

    The same result as ``argmin`` (``inf`` compares as usual; no NaN occurs here), without a strided reduction.
    """
    best = values[0]
    index = torch.zeros(values.shape[1:], dtype=torch.int64, device=values.device)
    for k in range(1, values.shape[0]):
        better = values[k] < best
        best = torch.where(better, values[k], best)
        index = torch.where(better, torch.full_like(index, k), index)
    return index


def _compact(mask: torch.Tensor, cap: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row-major flat indices of the ``True`` entries of ``mask`` in a fixed-size buffer (no host sync).

    Returns ``(index (cap,), valid (cap,))``; ``cap <= mask.numel()``. Slot ``s`` holds the ``(s+1)``-th ``True``
    entry, found by a binary search of the running count (no scatter, so no write contention on a GPU). Unused
    slots hold distinct pixels spread evenly over the whole batch, with ``valid=False``: the (zero) gradients and
    sums that flow through them never pile up on one address (on a GPU the gradient of an indexed read walks each
    run of equal indices serially). Entries beyond ``cap`` (impossible for the caps used here) would be dropped.
    """
    count = cumsum(mask.reshape(-1), 0)  # int64, non-decreasing: number of True entries up to each pixel
    slots = torch.arange(cap, dtype=torch.int64, device=mask.device)
    ok = slots < count[-1:]
    step = mask.numel() // cap
    spread = torch.arange(0, cap * step, step, dtype=torch.int64, device=mask.device)
    return torch.where(ok, torch.searchsorted(count, slots + 1), spread), ok


def active_boundary_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    mode: str = "multiclass",
    ignore_index: int | None = 255,
    theta: float = 20.0,
    max_n_ratio: float = 0.01,
    label_smoothing: float = 0.2,
    detach: bool = True,
    weight: torch.Tensor | None = None,
    reduction: str = "mean",
    compat: str = "paper",
    dist_map: torch.Tensor | None = None,
) -> torch.Tensor:
    """Active Boundary Loss (Wang et al., AAAI 2022), eq. 1-4.

    A boundary refinement term to add to cross-entropy, never a loss on its own: trained alone the network
    collapses to one class (no predicted boundary, zero loss, zero gradient). Use
    :func:`segloss.ce_lovasz_abl_loss` / :class:`segloss.CELovaszABLLoss` for the paper's eq. 5.

    ``ABL = Σ_i w_i Λ(M_i) CE(softmax_k KL(P_{i+Δ_k} ‖ P_i), D^g_i) / Σ_i w_i`` over the (dilated) predicted-boundary
    pixels ``i`` that are kept, with ``Λ(x) = min(x, θ)/θ``, label-smoothed one-hot targets ``D^g_i`` and
    ``w_i = weight[target_i]`` (1 without ``weight``). See the module docstring for the ``"paper"`` and
    ``"official"`` semantics.

    Args:
        pred: logits ``(N, C, h, w)``; ``(N, 1, h, w)`` in binary mode. Resized bilinearly (``align_corners=True``)
            to the target size when ``(h, w) != (H, W)``. Any float dtype; maths in float32 (float64 stays float64).
        target: class ids ``(N, H, W)`` int64 (binary: ``{0, 1}``, also ``(N, 1, H, W)``).
        mode: ``"multiclass"`` (softmax over C) or ``"binary"`` (simplex ``[1 − σ, σ]``, in log space).
        ignore_index: label of ignored pixels (default 255, as the authors), or ``None``.
        theta: distance cap θ > 0 of ``Λ`` (default 20).
        max_n_ratio: predicted-boundary budget in ``[0, 1]`` as a fraction of the pixels of one image (default 0.01).
        label_smoothing: ``s`` in ``[0, 1)``: target ``1 − s`` on the direction, ``s/7`` (paper) or ``s/8``
            (official) on the others (default 0.2).
        detach: if ``True`` (default) only the centre pixel's distribution receives gradient.
        weight: optional per-class weights ``(C,)`` (binary: ``(2,)``), applied per pixel by its GT class.
        reduction: ``"mean"`` (eq. 4 over all kept pixels of the batch, as the authors), ``"sum"`` (sum of the
            per-image losses) or ``"none"`` (per-image losses ``(N,)``; 0 for images with no kept pixel).
        compat: ``"paper"`` (default) or ``"official"``.
        dist_map: optional precomputed :func:`abl_distance_map` ``(N, H, W)`` (same ``compat`` / ``ignore_index``).

    Shapes:
        pred ``(N, C, h, w)``, target ``(N, H, W)`` → 0-d tensor, or ``(N,)`` for ``reduction="none"``.

    Returns:
        Float32 (float64 for float64 ``pred``) loss. A batch without any kept pixel (no predicted boundary, no GT
        boundary, everything ignored) gives a zero that keeps the graph (gradients are zero).

    Raises:
        TypeError: for non-tensor / non-float ``pred`` or non-integer ``target``.
        ValueError: for bad shapes, out-of-range labels, non-finite logits, or out-of-range options.

    Example:
        >>> pred = torch.randn(2, 3, 32, 32, requires_grad=True)
        >>> target = torch.randint(0, 3, (2, 32, 32))
        >>> loss = active_boundary_loss(pred, target)
        >>> loss.backward()
    """
    theta, max_n_ratio, label_smoothing, ignore_index = _check_options(
        mode, compat, reduction, theta, max_n_ratio, label_smoothing, ignore_index, detach)
    check_logits(pred, "pred", ndim=4)
    n = pred.shape[0]
    num_classes = check_mode_channels(pred, mode)
    target = _validate_target(target, n, mode, channels=pred.shape[1])
    check_same_device(pred, target, "pred", "target")
    check_label_dtype(target)
    if weight is not None:
        check_class_weight(weight, num_classes, pred, "weight")
    h, w = target.shape[1:]
    dist_rule = None
    if dist_map is not None:
        check_tensor(dist_map, "dist_map")
        if tuple(dist_map.shape) != (n, h, w) or not dist_map.is_floating_point():
            raise ValueError(f"`dist_map` must be a float tensor of shape {(n, h, w)} (as `target`); got "
                             f"{dist_map.dtype} {tuple(dist_map.shape)}")
        check_same_device(pred, dist_map, "pred", "dist_map")
        if value_checks_enabled():  # distances >= 0; +inf marks an image without GT boundary (abl_distance_map)
            finite_part = torch.where(dist_map == float("inf"), 0.0, dist_map.detach())
            dist_rule = in_range("dist_map", finite_part, 0.0, None, what="distances; +inf for no GT boundary")
    check_values(label_ids("target", target, num_classes, ignore_index), finite("pred", pred),
                 in_range("weight", weight, 0.0, None, what="non-negative class weights"),
                 *(() if dist_rule is None else (dist_rule,)))
    target = target.long()

    with _autocast_off(pred.device):
        z = _as_class_logits(pred, mode)
        if z.shape[2:] != (h, w):
            z = F.interpolate(z, size=(h, w), mode="bilinear", align_corners=True)
        return _abl_core(z, target, ignore_index, theta, max_n_ratio, label_smoothing, detach, weight, reduction,
                         compat, dist_map)


def _abl_core(
    z: torch.Tensor,
    target: torch.Tensor,
    ignore_index: int | None,
    theta: float,
    max_n_ratio: float,
    label_smoothing: float,
    detach: bool,
    weight: torch.Tensor | None,
    reduction: str,
    compat: str,
    dist_map: torch.Tensor | None,
) -> torch.Tensor:
    n, _, h, w = z.shape
    dtype, device = z.dtype, z.device
    official = compat == "official"
    valid_px = None if ignore_index is None or official else target != ignore_index  # paper mode only

    with torch.no_grad():
        zd = z.detach()
        # fixed-size list of PDB pixels: the budget bounds the dilated PDB by 9 m pixels (batch or per image)
        m = math.floor(h * w * max_n_ratio)
        cap = min(9 * m, n * h * w) if official else n * min(9 * m, h * w)
        cap = max(cap, 1)
        fused = _cpu_kernels(device)
        p_cl = negent = lse = None
        if fused:
            kl_down, kl_right, lse = pair_kl_maps_cpu(zd)
        else:
            # a long list (per-image budget) reads the neighbours from a channels-last copy of the probabilities
            # (one contiguous row per neighbour); a short one gathers their logits and recomputes the softmax
            channels_last = detach and 16 * cap > n * h * w
            kl_down, kl_right, p_cl, negent = _kl_maps_torch(zd, compat, channels_last)
        pdb = _predicted_boundary(kl_down, kl_right, compat, max_n_ratio, valid_px, not fused)
        if dist_map is None:
            dist = _distance_from_boundary(_gt_boundary(target, ignore_index, compat), compat)
        else:
            dist = dist_map
        dist = dist.to(dtype)
        flat, slot_ok = _compact(pdb, cap)
        hw = h * w
        base, nb, inside = _neighbours(flat, h, w)
        dist_flat = dist.reshape(-1)
        d_nb = torch.where(inside, dist_flat[nb], float("inf"))  # distance is inf outside the image
        d_c = dist_flat[flat]
        # first index on ties: the running compares on a CPU, one reduction kernel elsewhere
        argmin = _first_argmin if fused else functools.partial(torch.argmin, dim=0)
        if official:
            direction = argmin(torch.cat([d_nb, d_c.unsqueeze(0)]))  # centre last, first index wins
            keep = slot_ok & (direction != 8) & torch.isfinite(d_c)
            direction = direction.clamp_max(7)
        else:
            direction = argmin(d_nb)
            keep = slot_ok & (d_c > 0) & torch.isfinite(d_c)
            if valid_px is not None:
                keep = keep & valid_px.reshape(-1)[flat]
        lam = torch.where(keep, d_c.clamp(max=theta) / theta, 0.0)
        others = label_smoothing / (8.0 if official else 7.0)  # label-smoothed targets: 1 − s and `others`
        if official and ignore_index is not None and 0 <= ignore_index < 8:
            # the authors pass ignore_label to their CE over the 8 directions: that direction's CE is zeroed
            lam = torch.where(direction == ignore_index, 0.0, lam)
        if weight is not None:
            lbl = target.reshape(-1)[flat]
            ok_lbl = (lbl >= 0) & (lbl < weight.numel())
            wpx = torch.where(ok_lbl, weight.to(dtype)[lbl.clamp(0, weight.numel() - 1)], 1.0)
            wpx = torch.where(keep, wpx, 0.0)
        else:
            wpx = keep.to(dtype)

    if detach and fused:
        # CPU: one kernel pass over the listed pixels, skipping those whose term is zero
        ce = direction_ce_cpu(z, lse, flat, (wpx * lam) != 0, direction, 1.0 - label_smoothing, others)
    else:
        ce = _direction_ce_torch(z, zd, flat, base, nb, direction, 1.0 - label_smoothing, others, detach, official,
                                 p_cl, negent)
    term = wpx * lam * ce
    bi = base // hw
    num = torch.zeros(n, dtype=dtype, device=device).index_add(0, bi, term)
    den = torch.zeros(n, dtype=dtype, device=device).index_add(0, bi, wpx)
    if reduction == "mean":
        total = den.sum()
        return num.sum() / torch.where(total > 0, total, 1.0)
    per_image = num / torch.where(den > 0, den, 1.0)
    return per_image.sum() if reduction == "sum" else per_image


def _neighbours(flat: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(base, nb, inside)`` for flat pixel indices ``flat`` ``(Q,)`` into ``N·H·W``.

    ``base`` ``(Q,)`` is ``b·H·W`` of each pixel's image, ``nb`` ``(8, Q)`` the flat indices of its eight neighbours
    (``_DIRECTIONS`` order) clamped to the image (replicate padding) and ``inside`` ``(8, Q)`` whether a neighbour
    lies in the image.
    """
    hw_c = flat % (h * w)  # pixel index within its image
    base = flat - hw_c
    ii, jj = hw_c // w, hw_c % w
    offs = device_constant(_DIRECTIONS, torch.int64, flat.device)  # (8, 2)
    ni, nj = ii + offs[:, :1], jj + offs[:, 1:]
    ni_c, nj_c = ni.clamp(0, h - 1), nj.clamp(0, w - 1)
    return base, base + ni_c * w + nj_c, (ni_c == ni) & (nj_c == nj)


def direction_ce_reference(z: torch.Tensor, flat: torch.Tensor, active: torch.Tensor, direction: torch.Tensor,
                           t_on: float, t_off: float) -> torch.Tensor:
    """The torch formula of :func:`segloss._cpu_ops.direction_ce_cpu` (same arguments but ``lse``), plain autograd.

    Differentiated with a graph by the CPU kernel's backward when ``create_graph=True`` (double backward).
    """
    base, nb, _ = _neighbours(flat, z.shape[2], z.shape[3])
    ce = _direction_ce_torch(z, z.detach(), flat, base, nb, direction, t_on, t_off, True, False, None, None)
    return torch.where(active, ce, torch.zeros((), dtype=ce.dtype, device=ce.device))


def _direction_ce_torch(
    z: torch.Tensor,
    zd: torch.Tensor,
    flat: torch.Tensor,
    base: torch.Tensor,
    nb: torch.Tensor,
    direction: torch.Tensor,
    t_on: float,
    t_off: float,
    detach: bool,
    official: bool,
    p_cl: torch.Tensor | None,
    negent: torch.Tensor | None,
) -> torch.Tensor:
    """Phase II in torch: ``CE(softmax_k KL(P_{i+Δ_k} ‖ P_i), t)`` per listed pixel ``(Q,)`` (any device).

    ``flat`` ``(Q,)`` and ``nb`` ``(8, Q)`` are the flat pixel indices (into ``N·H·W``) of the centre pixels and of
    their neighbours, ``base`` ``(Q,)`` is ``b·H·W`` of their image; the target is ``t_on`` on ``direction`` and
    ``t_off`` elsewhere. ``p_cl`` / ``negent`` (optional, detach only) are the channels-last probabilities and
    ``Σ p log p`` maps to read the neighbours from.
    """
    n, c, h, w = z.shape
    hw = h * w
    tgt = torch.full(nb.shape, t_off, dtype=z.dtype, device=z.device)
    tgt.scatter_(0, direction.unsqueeze(0), t_on)
    # logits are read by flat index into z (b·C·H·W + c·H·W + pixel) with torch.take, whose gradient is added back
    # by atomic adds (the gradient of advanced indexing sorts its indices on a GPU)
    zbase = base * (c - 1)  # b·C·H·W − b·H·W
    chan = device_constant(tuple(range(0, c * hw, hw)), torch.int64, z.device)  # (C,) channel offsets
    logp_c = F.log_softmax(torch.take(z, (flat + zbase).unsqueeze(1) + chan), dim=-1)  # (Q, C), gradient to centre
    # direction logits KL(P_nb ‖ P_centre) = Σ p_nb log p_nb − Σ p_nb log p_centre, (8, Q)
    if detach:
        with torch.no_grad():
            if p_cl is not None and negent is not None:
                h_nb = negent.reshape(-1)[nb]  # Σ_c p_nb log p_nb, (8, Q)
                p_nb = p_cl.reshape(n * hw, c)[nb]  # (8, Q, C)
            else:
                z_nb = torch.take(zd, (nb + zbase).unsqueeze(-1) + chan)  # (8, Q, C)
                logp_nb = F.log_softmax(z_nb, dim=-1)
                p_nb = F.softmax(z_nb, dim=-1) if official else logp_nb.exp()
                h_nb = (p_nb * logp_nb).sum(-1)
        kl = h_nb - torch.einsum("kqc,qc->kq", p_nb, logp_c)
    else:
        logp_nb = F.log_softmax(torch.take(z, (nb + zbase).unsqueeze(-1) + chan), dim=-1)
        kl = (logp_nb.exp() * (logp_nb - logp_c.unsqueeze(0))).sum(-1)
    return -(tgt * F.log_softmax(kl, dim=0)).sum(0)


class ActiveBoundaryLoss(LossModule):
    """Active Boundary Loss module; see :func:`active_boundary_loss` for the formula and arguments.

    Use it next to cross-entropy, never alone (alone, training collapses to one class with zero loss and
    gradient); :class:`segloss.CELovaszABLLoss` is the paper's ``CE + Lovász + w_a·ABL`` (eq. 5).

    Args:
        mode: ``"multiclass"`` or ``"binary"``.
        ignore_index: ignored label (default 255) or ``None``.
        theta: distance cap θ (default 20).
        max_n_ratio: predicted-boundary budget per image (default 0.01).
        label_smoothing: target smoothing ``s`` (default 0.2).
        detach: gradient only to the centre pixel (default ``True``).
        weight: optional per-class weights ``(C,)`` (registered as a buffer).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        compat: ``"paper"`` (default) or ``"official"`` (wangchi95/active-boundary-loss numbers).

    Shapes:
        forward(pred ``(N, C, h, w)``, target ``(N, H, W)``, dist_map ``(N, H, W)`` optional) → 0-d or ``(N,)``.

    Example:
        >>> crit = ActiveBoundaryLoss(compat="official")
        >>> loss = crit(torch.randn(2, 4, 16, 16), torch.randint(0, 4, (2, 16, 16)))
    """

    weight: torch.Tensor | None

    def __init__(
        self,
        *,
        mode: str = "multiclass",
        ignore_index: int | None = 255,
        theta: float = 20.0,
        max_n_ratio: float = 0.01,
        label_smoothing: float = 0.2,
        detach: bool = True,
        weight: torch.Tensor | None = None,
        reduction: str = "mean",
        compat: str = "paper",
    ) -> None:
        super().__init__()
        theta, max_n_ratio, label_smoothing, ignore_index = _check_options(
            mode, compat, reduction, theta, max_n_ratio, label_smoothing, ignore_index, detach)
        self.mode, self.ignore_index, self.theta = mode, ignore_index, theta
        self.max_n_ratio, self.label_smoothing, self.detach = max_n_ratio, label_smoothing, detach
        self.reduction, self.compat = reduction, compat
        self.register_buffer("weight", class_weight_buffer(weight, "weight"))

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, dist_map: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Compute the loss; ``dist_map`` optionally from :func:`abl_distance_map` in a DataLoader worker."""
        return active_boundary_loss(
            pred, target, mode=self.mode, ignore_index=self.ignore_index, theta=self.theta,
            max_n_ratio=self.max_n_ratio, label_smoothing=self.label_smoothing, detach=self.detach,
            weight=self.weight, reduction=self.reduction, compat=self.compat, dist_map=dist_map,
        )
