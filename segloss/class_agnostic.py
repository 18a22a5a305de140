"""Class-agnostic segmentation (CAS) loss and the class-agnostic cross-entropy baseline (Sharma et al.).

The CAS loss (paper eq. 1) needs no consistent class labels: a region-id map only says which pixels
belong together. For every image, with softmax descriptors ``s(x)`` and region means
``ŝ(r) = mean_{x∈r} s(x)``::

    CAS = α Σ_i (1/|r_i|) Σ_{x∈r_i} ‖s(x) − ŝ(r_i)‖²  −  (1 − α) Σ_i Σ_{j≠i} ‖ŝ(r_i) − ŝ(r_j)‖²

(uniformer minus discriminator, the discriminator over ordered pairs as the equation is written).
Region ids are arbitrary integers per image; they are remapped to dense indices with one sort per
image, and all region statistics are scatter reductions (no loop over regions or images, no host
synchronisation).

``compat="official"`` reproduces the authors' ``cas.py`` (sofmonk/class_agnostic_loss_saliency):
foreground-only uniformer with soft masks ``mask + 3e-5``, the discriminator counted once
(foreground vs background), ``α = 0.5`` and the batch sum divided by a constant batch size (40 in
their ``config.py``).

Also here: :func:`cace_loss` (class-agnostic BCE, paper §4.2) and the two helpers of the paper's
saliency pipeline (:class:`SaliencyChannelSelector` and :func:`adaptive_binarize`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from segloss._autograd import graph_backward, save, saved
from segloss._modes import CLASS_MODES, check_mode_channels
from segloss._module import LossModule
from segloss._scan import cumsum
from segloss._validation import (
    REDUCTIONS,
    check_bool,
    check_choice,
    check_ignore_index,
    check_int,
    check_logits,
    check_number,
    check_same_device,
    check_target_shape,
    check_tensor,
    check_values,
    finite,
    in_range,
    reduce,
    valid_labels,
    where_valid,
)

__all__ = [
    "CACELoss",
    "CASLoss",
    "SaliencyChannelSelector",
    "adaptive_binarize",
    "cace_loss",
    "cas_loss",
    "select_saliency_channel",
]

_OFFICIAL_EPS = 3e-5  # ``eps`` of the authors' cas.py
_ONEHOT_MAX_REGIONS = 16  # up to this many regions per image, region sums use a one-hot bmm
_COMPATS = ("paper", "official")


_MAPS = "maps in [0, 1]; a uint8 map converts with `.float() / 255`"  # what `probs` / `saliency` hold

def _descriptors(pred: torch.Tensor, mode: str, from_logits: bool) -> torch.Tensor:
    """Float32 (or float64) probability descriptors ``(N, C, H, W)`` from logits or probabilities."""
    x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
    if mode == "binary":
        if from_logits:
            return torch.cat([torch.sigmoid(-x), torch.sigmoid(x)], dim=1)
        return torch.cat([1.0 - x, x], dim=1)
    return torch.softmax(x, dim=1) if from_logits else x


def _check_pred(pred: torch.Tensor, mode: str) -> None:
    check_logits(pred, "pred", ndim=4)
    check_mode_channels(pred, mode)


def dense_region_index(region_ids: torch.Tensor) -> torch.Tensor:
    """Remap arbitrary integer ids per row to dense indices ``0..R_n-1`` (sorted order), vectorised.

    Args:
        region_ids: ``(N, P)`` integer tensor.

    Returns:
        ``(N, P)`` int64 tensor; equal ids in a row get the same index, different ids different ones.
    """
    ids = region_ids.long()
    srt, perm = torch.sort(ids, dim=1)
    new = torch.ones_like(srt, dtype=torch.long)
    new[:, 1:] = (srt[:, 1:] != srt[:, :-1]).long()
    rank = cumsum(new, 1) - 1
    return torch.empty_like(rank).scatter_(1, perm, rank)


def _region_capacity(idx: torch.Tensor, max_regions: int | None) -> int:
    """Static size of the region axis.

    ``max_regions`` if given (checked against ``idx`` with the other values in :func:`cas_loss`), else the true
    maximum (one host read in eager mode) or ``H·W`` while compiling.
    """
    if max_regions is not None:
        return max_regions
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and compiler.is_compiling():
        return idx.shape[1]
    return int(idx.max()) + 1


class _CASPaper(torch.autograd.Function):
    """Per-image paper CAS from descriptors ``s`` ``(N, C, P)`` and dense region indices, lean backward.

    With ``μ_r`` the region means, ``M = Σ_r μ_r`` and ``R`` the number of regions:
    ``∂CAS/∂s_p = (2α (s_p − μ_r) − (1 − α)(4R μ_r − 4M)) / |r|`` for ``p ∈ r``.
    """

    @staticmethod
    def forward(ctx, s, idx, w, alpha: float, cap: int, all_valid: bool):  # type: ignore[override]
        ctx.all_valid = all_valid
        n, c, p = s.shape
        dt = s.dtype
        counts = torch.zeros(n, cap, dtype=dt, device=s.device).scatter_add_(1, idx, w)
        has_w = not bool(ctx.all_valid)
        q = torch.linalg.vector_norm(s, dim=1).square()  # ‖s(x)‖²
        q, sw = (q * w, s * w[:, None]) if has_w else (q, s)
        if cap <= _ONEHOT_MAX_REGIONS:  # few regions: region sums as one batched matmul with a one-hot map
            onehot = torch.zeros(n, p, cap, dtype=dt, device=s.device).scatter_(2, idx[..., None], 1.0)
            sums = torch.bmm(sw, onehot)
            sq = torch.bmm(q[:, None], onehot)[:, 0]
        else:
            onehot = None
            sums = torch.zeros(n, c, cap, dtype=dt, device=s.device).scatter_add_(2, idx[:, None].expand(n, c, p), sw)
            sq = torch.zeros(n, cap, dtype=dt, device=s.device).scatter_add_(1, idx, q)
        present = counts > 0
        inv = torch.where(present, 1.0 / counts.clamp_min(1.0), torch.zeros_like(counts))
        mu = sums * inv[:, None]  # (N, C, R); empty slots 0
        musq = mu.square().sum(1)
        uniformer = torch.where(present, (sq * inv - musq).clamp_min(0.0), torch.zeros_like(musq)).sum(1)
        r = present.to(dt).sum(1)
        tot = mu.sum(2)  # M (N, C)
        disc = (2.0 * r * musq.sum(1) - 2.0 * tot.square().sum(1)).clamp_min(0.0)
        save(ctx, (s, idx, w, alpha, cap, all_valid), s, idx, w, mu, inv, r, tot,
             onehot if onehot is not None else torch.empty(0))
        ctx.alpha, ctx.use_onehot = alpha, onehot is not None
        return alpha * uniformer - (1.0 - alpha) * disc

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        if torch.is_grad_enabled():  # create_graph=True (double backward): differentiate the forward's plain ops
            return graph_backward(_CASPaper, ctx, (g,))
        s, idx, w, mu, inv, r, tot, onehot = saved(ctx)
        a = ctx.alpha
        # per region: b_r = (−2α μ_r − (1−α)(4R μ_r − 4M)) / |r| ; per pixel: (2α s_p / |r| + b_r) · w_p
        b = (-2.0 * a * mu - (1.0 - a) * (4.0 * r[:, None, None] * mu - 4.0 * tot[..., None])) * inv[:, None]
        b = b * g[:, None, None]
        scale = (2.0 * a) * inv * g[:, None]  # (N, R)
        if ctx.use_onehot:
            bg = torch.bmm(b, onehot.transpose(1, 2))
            sc = torch.bmm(scale[:, None], onehot.transpose(1, 2))[:, 0]
        else:
            n, c, p = s.shape
            bg = torch.gather(b, 2, idx[:, None].expand(n, c, p))
            sc = torch.gather(scale, 1, idx)
        grad = torch.addcmul(bg, s, sc[:, None])
        return (grad if ctx.all_valid else grad * w[:, None]), None, None, None, None, None


def _cas_paper(
    s: torch.Tensor, idx: torch.Tensor, valid: torch.Tensor | None, alpha: float, max_regions: int | None
) -> torch.Tensor:
    n, c = s.shape[:2]
    s = s.reshape(n, c, -1)
    p = s.shape[2]
    cap = _region_capacity(idx, max_regions)
    if valid is None:
        w = torch.ones(n, p, dtype=s.dtype, device=s.device)
    else:
        w = valid.reshape(n, p).to(s.dtype)
    return _CASPaper.apply(s, idx, w, alpha, cap, valid is None)


def _cas_official(s: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None, alpha: float) -> torch.Tensor:
    n, c = s.shape[:2]
    fg = target.to(s.dtype) if target.is_floating_point() else (target != 0).to(s.dtype)
    fg = fg.reshape(n, -1)
    g = fg + _OFFICIAL_EPS  # the authors' soft masks, one copy per channel in their code
    gc = 1.0 - fg + _OFFICIAL_EPS
    if valid is not None:
        v = valid.reshape(n, -1).to(s.dtype)
        g, gc = g * v, gc * v
    sf = s.reshape(n, c, -1)
    m = torch.bmm(sf, torch.stack([g, gc], 2))  # (N, C, 2): Σ s g, Σ s g'
    gs, gcs = g.sum(1, keepdim=True), gc.sum(1, keepdim=True)
    # an image whose pixels are all ignored has zero mass (0/0): its means are set to 0, so its loss is an exact 0
    mu = m[..., 0] / torch.where(gs > 0, gs, torch.ones_like(gs))
    mu_c = m[..., 1] / torch.where(gcs > 0, gcs, torch.ones_like(gcs))
    term2 = (mu - mu_c).square().sum(1)
    # Σ g² (s − μ)² summed from the centred values, as the authors do. The expanded form
    # Σ g²s² − 2μ Σ g²s + μ² Σ g² cancels catastrophically in float32 (relative error up to 1.7e-5
    # against the authors' float32 at 256², vs ≤ 8e-8 for theirs); this costs one more pass.
    u = ((sf - mu[..., None]) * g[:, None, :]).square().sum(2)
    term1 = (u / (gs + _OFFICIAL_EPS)).sum(1)
    return alpha * term1 - (1.0 - alpha) * term2


def _check_cas_options(
    alpha: float | None,
    mode: str,
    from_logits: bool,
    ignore_index: int | None,
    reduction: str,
    compat: str,
    batch_size: int | None,
    max_regions: int | None,
) -> tuple[float | None, int | None, int | None, int | None]:
    """Validate the options of :func:`cas_loss` and :class:`CASLoss`; the numbers come back as Python numbers."""
    check_choice(mode, "mode", CLASS_MODES)
    check_choice(reduction, "reduction", REDUCTIONS)
    check_choice(compat, "compat", _COMPATS)
    check_bool(from_logits, "from_logits")
    if alpha is not None:
        alpha = float(check_number(alpha, "alpha", low=0.0, high=1.0))
    sizes = [check_int(v, name, low=1, none_ok=True, what="a positive int or None")
             for name, v in (("batch_size", batch_size), ("max_regions", max_regions))]
    return alpha, check_ignore_index(ignore_index), sizes[0], sizes[1]


def cas_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    alpha: float | None = None,
    mode: str = "multiclass",
    from_logits: bool = True,
    ignore_index: int | None = None,
    reduction: str = "mean",
    compat: str = "paper",
    batch_size: int | None = None,
    max_regions: int | None = None,
) -> torch.Tensor:
    r"""Class-agnostic segmentation loss (Sharma et al., eq. 1).

    Per image, with descriptors ``s = softmax(pred)`` and region means ``ŝ(r)``:

    .. math::
        \mathrm{CAS} = \alpha\sum_i \frac{1}{|r_i|}\sum_{x\in r_i}\|s(x)-\hat s(r_i)\|^2
        - (1-\alpha)\sum_i\sum_{j\neq i}\|\hat s(r_i)-\hat s(r_j)\|^2

    Bounds (per image with ``R`` regions, derived for descriptors on the simplex): the uniformer is
    in ``[0, α·R)`` and the discriminator in ``[0, 2R(R−1)]`` (the maximum is reached by distinct
    one-hot region means), so ``−2(1−α)R(R−1) ≤ CAS < αR``. The paper states ``(αR, −(1−α)R]``,
    which assumes each pair distance is at most 1; squared distances between simplex points reach 2.

    Args:
        pred: logits ``(N, C, H, W)`` (``C ≥ 2``), or ``(N, 1, H, W)`` with ``mode="binary"``
            (descriptors ``[1−σ, σ]``). Probabilities when ``from_logits=False``.
        target: region-id map ``(N, H, W)``, any integer ids (ids need not agree across images; any
            number of regions). With ``compat="official"`` the saliency mask (integer/bool: foreground
            where ``!= 0``; float: used as soft mask in ``[0, 1]``).
        alpha: uniformer weight in ``[0, 1]``; default 0.1 (paper) or 0.5 (``compat="official"``).
        mode: ``"multiclass"`` (softmax over C) or ``"binary"`` (one logit channel).
        from_logits: ``pred`` holds logits (default) or probabilities.
        ignore_index: region id (official: mask value, also in a float mask) whose pixels are excluded (no
            loss, no gradient). Default ``None``.
        reduction: ``"mean"`` over images, ``"sum"``, or ``"none"`` (per image ``(N,)``).
        compat: ``"paper"`` (default) or ``"official"`` (the authors' ``cas.py``; the ``"mean"``
            reduction divides the batch sum by ``batch_size``). In float32 it agrees with the
            authors' float32 output to ≤ 3e-7 relative (float64: ≤ 1e-13).
        batch_size: divisor of ``"mean"`` for ``compat="official"``; default ``N``. The authors use
            a constant ``BATCH_SIZE = 40``; pass it to reproduce their numbers.
        max_regions: static upper bound on the number of distinct ids per image (ignored pixels'
            id included). Default ``None``: the true maximum, read once from the device in eager
            mode (one host synchronisation, shared with the value checks when they are on), or ``H·W`` under
            ``torch.compile``. Give it to avoid the synchronisation; a batch with more regions raises (when value
            checks are on).

    Shapes:
        pred ``(N, C, H, W)``, target ``(N, H, W)`` → 0-d (or ``(N,)`` with ``reduction="none"``).

    Returns:
        The loss, float32 (float64 for float64 input).

    Raises:
        TypeError: non-tensor input, non-floating ``pred``, floating ``target`` in paper mode.
        ValueError: wrong shapes, unknown ``mode`` / ``reduction`` / ``compat``, bad ``alpha``.

    Example:
        >>> logits = torch.randn(2, 4, 16, 16, requires_grad=True)
        >>> regions = torch.randint(0, 3, (2, 16, 16)) * 7  # arbitrary ids
        >>> cas_loss(logits, regions).backward()
    """
    alpha, ignore_index, batch_size, max_regions = _check_cas_options(
        alpha, mode, from_logits, ignore_index, reduction, compat, batch_size, max_regions)
    if alpha is None:
        alpha = 0.5 if compat == "official" else 0.1
    _check_pred(pred, mode)
    n, _, h, w = pred.shape
    check_target_shape(target, (n, h, w), ref_shape=tuple(pred.shape))
    check_same_device(pred, target, "pred", "target")
    if compat == "paper" and (target.is_floating_point() or target.is_complex()):
        raise TypeError(f"`target` must be an integer region-id map for compat='paper'; got dtype {target.dtype}")
    pred_rule = finite("pred", pred) if from_logits else in_range("pred", pred, what="probabilities")
    soft_mask = compat == "official" and target.is_floating_point()
    idx = dense_region_index(target.reshape(n, h * w)) if compat == "paper" else None
    # the number of regions is read in the same host read as the values (checked against max_regions, or the
    # capacity of the region axis when max_regions is None)
    seen = check_values(pred_rule, in_range("target", target if soft_mask else None, what="a soft saliency mask",
                                            ignore=ignore_index), finite("max_regions", idx))
    found = int(seen["max_regions"][1]) + 1 if seen and "max_regions" in seen else None
    if max_regions is not None and found is not None and found > max_regions:
        raise ValueError(
            f"`max_regions` must be >= the number of regions in every image; got {max_regions}, found {found}"
        )
    s = _descriptors(pred, mode, from_logits)
    valid = valid_labels(target, ignore_index) if ignore_index is not None else None
    if compat == "paper":
        per = _cas_paper(s, idx, valid, float(alpha), max_regions if max_regions is not None else found)
        out = reduce(per, reduction)
    else:
        per = _cas_official(s, target, valid, float(alpha))
        out = per.sum() / float(batch_size or n) if reduction == "mean" else reduce(per, reduction)
    return out


class CASLoss(LossModule):
    """Class-agnostic segmentation loss as a module; see :func:`cas_loss` for the formula and arguments.

    Example:
        >>> loss = CASLoss(alpha=0.1)
        >>> loss(torch.randn(2, 2, 8, 8), torch.randint(0, 2, (2, 8, 8)))
        tensor(...)
    """

    def __init__(
        self,
        alpha: float | None = None,
        *,
        mode: str = "multiclass",
        from_logits: bool = True,
        ignore_index: int | None = None,
        reduction: str = "mean",
        compat: str = "paper",
        batch_size: int | None = None,
        max_regions: int | None = None,
    ) -> None:
        super().__init__()
        alpha, ignore_index, batch_size, max_regions = _check_cas_options(
            alpha, mode, from_logits, ignore_index, reduction, compat, batch_size, max_regions)
        self.alpha, self.mode, self.from_logits = alpha, mode, from_logits
        self.ignore_index, self.reduction, self.compat, self.batch_size = ignore_index, reduction, compat, batch_size
        self.max_regions = max_regions

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss; see :func:`cas_loss`."""
        return cas_loss(
            pred,
            target,
            alpha=self.alpha,
            mode=self.mode,
            from_logits=self.from_logits,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            compat=self.compat,
            batch_size=self.batch_size,
            max_regions=self.max_regions,
        )


def _binary_logit(pred: torch.Tensor, from_logits: bool) -> torch.Tensor:
    """Foreground logit ``(N, H, W)`` from ``(N, H, W)``, ``(N, 1, H, W)`` or 2-channel ``(N, 2, H, W)`` input."""
    x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
    if x.ndim == 4:
        if x.shape[1] == 2:
            if from_logits:
                return x[:, 1] - x[:, 0]
            x = x[:, 1]
        elif x.shape[1] == 1:
            x = x[:, 0]
        else:
            raise ValueError(f"`pred` must have 1 or 2 channels for CACE; got shape {tuple(pred.shape)}")
    if from_logits:
        return x
    p = x.clamp(1e-7, 1.0 - 1e-7)
    return torch.log(p) - torch.log1p(-p)


def _check_cace_options(from_logits: bool, ignore_index: int | None, reduction: str) -> int | None:
    """Validate the options of :func:`cace_loss` and :class:`CACELoss`; return ``ignore_index`` as a Python int."""
    check_bool(from_logits, "from_logits")
    check_choice(reduction, "reduction", REDUCTIONS)
    return check_ignore_index(ignore_index)


def cace_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    from_logits: bool = True,
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Class-agnostic binary cross-entropy (Sharma et al. §4.2): BCE under the better label assignment.

    Per image ``n``: :math:`\min(\mathrm{BCE}(p_n, y_n), \mathrm{BCE}(p_n, 1 - y_n))`, each BCE the mean
    over the image's valid pixels. The paper writes ``min(−y log p, −(1−y) log p)`` per example; read
    as the CE with foreground/background swapped, taken per image (notes §9).

    Args:
        pred: foreground logits ``(N, H, W)`` / ``(N, 1, H, W)``, or 2-class logits ``(N, 2, H, W)``
            (foreground = channel 1). Probabilities when ``from_logits=False`` (clamped to
            ``[1e-7, 1 − 1e-7]``).
        target: binary mask ``(N, H, W)`` (``{0, 1}`` integers/bool, or soft floats in ``[0, 1]``).
        from_logits: ``pred`` holds logits (default) or probabilities.
        ignore_index: label excluded from the loss (integer ids, or that value in a float mask). Default ``None``.
        reduction: ``"mean"`` over images, ``"sum"``, or ``"none"`` (``(N,)``).

    Returns:
        The loss (float32 for half inputs). Images without valid pixels give 0.

    Raises:
        TypeError: non-tensor or non-floating ``pred``.
        ValueError: wrong shapes or unknown ``reduction``.

    Example:
        >>> cace_loss(torch.randn(2, 1, 8, 8), torch.randint(0, 2, (2, 8, 8)))
        tensor(...)
    """
    ignore_index = _check_cace_options(from_logits, ignore_index, reduction)
    check_logits(pred, "pred", ndim=(3, 4))
    n, h, w = pred.shape[0], pred.shape[-2], pred.shape[-1]
    check_target_shape(target, (n, h, w), ref_shape=tuple(pred.shape))
    check_same_device(pred, target, "pred", "target")
    pred_rule = finite("pred", pred) if from_logits else in_range("pred", pred, what="probabilities")
    check_values(pred_rule, in_range("target", target, what="a 0/1 or soft mask", ignore=ignore_index))
    z = _binary_logit(pred, from_logits)
    valid = valid_labels(target, ignore_index)  # a soft (float) mask may mark unlabelled pixels too
    if target.is_floating_point():
        y = where_valid(target.to(z.dtype), valid)
    else:
        y = ((target != 0) & valid).to(z.dtype)
    cnt = valid.sum((1, 2)).clamp_min(1).to(z.dtype)
    b1 = where_valid(F.binary_cross_entropy_with_logits(z, y, reduction="none"), valid).sum((1, 2)) / cnt
    b2 = where_valid(F.binary_cross_entropy_with_logits(z, 1.0 - y, reduction="none"), valid).sum((1, 2)) / cnt
    per = torch.minimum(b1, b2)
    return reduce(per, reduction)


class CACELoss(LossModule):
    """Class-agnostic binary cross-entropy as a module; see :func:`cace_loss`.

    Example:
        >>> CACELoss()(torch.randn(2, 1, 8, 8), torch.randint(0, 2, (2, 8, 8)))
        tensor(...)
    """

    def __init__(self, *, from_logits: bool = True, ignore_index: int | None = None, reduction: str = "mean") -> None:
        super().__init__()
        ignore_index = _check_cace_options(from_logits, ignore_index, reduction)
        self.from_logits, self.ignore_index, self.reduction = from_logits, ignore_index, reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss; see :func:`cace_loss`."""
        return cace_loss(
            pred, target, from_logits=self.from_logits, ignore_index=self.ignore_index, reduction=self.reduction
        )


class SaliencyChannelSelector:
    """Pick the output channel that is the saliency map: maximum Pearson correlation with GT (paper §4.1).

    A CAS-trained network's channels carry no fixed meaning; the paper selects the channel whose
    values correlate best with the GT saliency masks over the validation set. Feed batches with
    :meth:`update` (streaming sums, float64) and read :meth:`best`.

    Example:
        >>> sel = SaliencyChannelSelector()
        >>> probs = torch.rand(2, 2, 8, 8)
        >>> sel.update(probs, (probs[:, 1] > 0.5).long())
        >>> sel.best()
        1
    """

    def __init__(self) -> None:
        self._stats: torch.Tensor | None = None  # (C, 5): Σx, Σx², Σxy, Σy, Σy² ; plus count
        self._count = 0

    def update(self, probs: torch.Tensor, gt: torch.Tensor) -> None:
        """Accumulate a batch: ``probs`` ``(N, C, H, W)`` channel maps, ``gt`` ``(N, H, W)`` masks (>0 = salient).

        Raises:
            ValueError: on shape or device mismatch, NaN/Inf values (value checks on) or a channel count different
                from earlier batches.
        """
        check_logits(probs, "probs", ndim=4, what=_MAPS)
        n, c, h, w = probs.shape
        check_target_shape(gt, (n, h, w), "gt", ref="probs", ref_shape=tuple(probs.shape))
        check_same_device(probs, gt, "probs", "gt")
        check_values(finite("probs", probs), finite("gt", gt))  # a NaN would read as "no correlation" (0)
        x = probs.detach().double().transpose(0, 1).reshape(c, -1)
        y = gt.detach().double() if gt.is_floating_point() else (gt.detach() > 0).double()
        y = y.reshape(1, -1)
        stats = torch.stack(
            [x.sum(1), x.square().sum(1), (x * y).sum(1), y.sum(1).expand(c), y.square().sum(1).expand(c)], 1
        ).cpu()
        if self._stats is None:
            self._stats = stats
        elif self._stats.shape[0] != c:
            raise ValueError(f"`probs` must keep {self._stats.shape[0]} channels across updates; got {c}")
        else:
            self._stats = self._stats + stats
        self._count += x.shape[1]

    def correlations(self) -> torch.Tensor:
        """Pearson correlation of every channel with the GT so far, ``(C,)`` float64 (0 where undefined).

        Raises:
            ValueError: if :meth:`update` was never called.
        """
        if self._stats is None:
            raise ValueError("`SaliencyChannelSelector` has no data; call update(probs, gt) first")
        sx, sxx, sxy, sy, syy = self._stats.unbind(1)
        m = float(self._count)
        cov = sxy - sx * sy / m
        var = (sxx - sx * sx / m).clamp_min(0) * (syy - sy * sy / m).clamp_min(0)
        return torch.where(var > 0, cov / var.clamp_min(1e-300).sqrt(), torch.zeros_like(cov))

    def best(self) -> int:
        """Index of the channel with the largest correlation (first on ties)."""
        return int(torch.argmax(self.correlations()))


def select_saliency_channel(probs: torch.Tensor, gt: torch.Tensor) -> int:
    """One-shot :class:`SaliencyChannelSelector`: the channel of ``probs`` ``(N, C, H, W)`` best correlated with ``gt``.

    Example:
        >>> p = torch.rand(3, 2, 8, 8)
        >>> select_saliency_channel(p, (p[:, 0] > 0.5).long())
        0
    """
    sel = SaliencyChannelSelector()
    sel.update(probs, gt)
    return sel.best()


def adaptive_binarize(saliency: torch.Tensor, factor: float = 2.0) -> torch.Tensor:
    """Binarise saliency maps with the adaptive threshold ``T = factor · mean(S)`` per map (paper §4.1).

    ``B = S > T``. With ``factor = 2`` this is Achanta et al.'s threshold used by the paper.

    Args:
        saliency: ``(H, W)``, ``(N, H, W)`` or ``(N, 1, H, W)`` maps in ``[0, 1]``.
        factor: multiple of the mean, > 0. Default 2.

    Returns:
        A bool tensor of the same shape.

    Raises:
        TypeError: if ``saliency`` is not a floating tensor.
        ValueError: on a bad shape or ``factor``.

    Example:
        >>> adaptive_binarize(torch.tensor([[0.1, 0.9], [0.0, 0.2]]))
        tensor([[False,  True],
                [False, False]])
    """
    check_tensor(saliency, "saliency")
    check_logits(saliency, "saliency", ndim=(2, 3, 4), what=_MAPS)
    factor = check_number(factor, "factor", low=0.0, low_inclusive=False)
    s = saliency.float() if saliency.dtype in (torch.float16, torch.bfloat16) else saliency
    t = factor * s.mean(dim=(-2, -1), keepdim=True)
    return s > t
