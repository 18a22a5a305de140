"""Size-target loss (Fan, Zhang, Boykov: "Approximate size targets are sufficient ...") and the size losses it compares.

All losses act on the image-level average prediction (paper eq. 1)::

    S̄ = (1/|Ω|) Σ_{p∈Ω} S_p            (Ω = valid pixels: ROI, ignore excluded)

computed in the log domain for stability: ``log S̄ = logsumexp_p log_softmax(pred)_p − log|Ω|`` (float32
under autocast), so ``−log S̄`` stays finite even for logits of ±1e4.

* :func:`size_target_loss` — eq. 2, forward ``KL(v ‖ S̄)`` (zero-avoiding); ``divergence="reverse"``
  gives the balance loss of eq. 7, ``KL(S̄ ‖ v)``, with ``v`` floored at ``eps`` (zeros in ``v`` make it
  infinite otherwise, the instability the paper points out).
* :func:`tag_barrier_loss` — log-barrier expansion (9) ``−Σ_{k∈T} ln S̄^k``, flat barrier (11) and
  suppression (8) ``−Σ_{k∉T} ln(1 − S̄^k)`` for image tags ``T``.
* :func:`quadratic_size_barrier_loss` — thresholded quadratic barrier (17) ``Σ_k max(a_k − S̄^k, 0)²``
  (optionally an upper bound) plus the absent-class suppression ``(S̄^k)²``.
* :func:`partial_cross_entropy` — eq. 4, CE on seed pixels only.
* Utilities: :func:`size_targets_from_mask`, :func:`corrupt_size_targets` (eq. 15),
  :func:`relative_error` / :func:`mean_relative_error` (eq. 14), :func:`sigma_for_mre` (eq. 16).

Finiteness: every logarithm is taken in the log domain from logits (``ln S̄`` by a per-class
log-sum-exp over pixels with a hand-written backward, ``ln(1 − S̄^k) = logsumexp_{j≠k} ln S̄^j``), so
no barrier extension is needed for logit inputs: the values stay finite (large) even for logits of
±1e4; probability inputs (``from_logits=False``) are clamped to ``[1e-12, 1]`` before logs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from segloss._validation import (
    REDUCTIONS,
    ValueRule,
    check_bool,
    check_choice,
    check_ignore_index,
    check_label_dtype,
    check_logits,
    check_number,
    check_same_device,
    check_target_shape,
    check_tensor,
    check_values,
    finite,
    in_range,
    label_ids,
    reduce,
)

__all__ = [
    "PartialCrossEntropyLoss",
    "QuadraticSizeBarrierLoss",
    "SizeTargetLoss",
    "TagBarrierLoss",
    "corrupt_size_targets",
    "mean_relative_error",
    "partial_cross_entropy",
    "quadratic_size_barrier_loss",
    "relative_error",
    "sigma_for_mre",
    "size_target_loss",
    "size_targets_from_mask",
    "tag_barrier_loss",
]

_MODES = ("multiclass", "binary")
_TINY = 1e-12


def _check_pred(pred: torch.Tensor, mode: str) -> None:
    check_choice(mode, "mode", _MODES)
    check_logits(pred, "pred", ndim=4)
    if mode == "binary" and pred.shape[1] != 1:
        raise ValueError(f"`pred` must have 1 channel when mode='binary'; got shape {tuple(pred.shape)}")
    if mode == "multiclass" and pred.shape[1] < 2:
        raise ValueError(
            f"`pred` must have at least 2 channels when mode='multiclass' (use mode='binary' for 1 channel); "
            f"got shape {tuple(pred.shape)}"
        )


def _check_inputs(pred: torch.Tensor, from_logits: bool, roi: torch.Tensor | None, *rules: ValueRule) -> None:
    """The value contract of every size loss: finite logits (probabilities in [0, 1]), a 0/1 ROI, ``rules``."""
    check_bool(from_logits, "from_logits")
    pred_rule = finite("pred", pred) if from_logits else in_range("pred", pred, what="probabilities")
    check_values(pred_rule, in_range("roi", roi, what="a 0/1 mask of valid pixels"), *rules)


def _roi_mask(roi: torch.Tensor | None, pred: torch.Tensor) -> torch.Tensor | None:
    if roi is None:
        return None
    n, _, h, w = pred.shape
    check_tensor(roi, "roi")
    if roi.ndim == 4 and roi.shape[1] == 1:
        roi = roi[:, 0]
    check_target_shape(roi, (n, h, w), "roi", ref_shape=tuple(pred.shape))
    check_same_device(pred, roi, "pred", "roi")
    return roi.bool() if roi.dtype == torch.bool else roi > 0


def _log_probs(pred: torch.Tensor, mode: str, from_logits: bool) -> torch.Tensor:
    x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
    if mode == "binary":
        if from_logits:
            return torch.cat([F.logsigmoid(-x), F.logsigmoid(x)], 1)
        x = torch.cat([1.0 - x, x], 1)
    elif from_logits:
        return torch.log_softmax(x, 1)
    return torch.log(x.clamp(_TINY, 1.0))


class _LogMeanSoftmax(torch.autograd.Function):
    """``log S̄`` ``(N, K)`` from logits ``(N, K, P)`` and an optional 0/1 mask ``(N, 1, P)``, lean backward.

    ``∂ log S̄_k / ∂x_pj = w_pk (δ_kj − S_pj)`` with ``w_pk = r_p S_pk / Σ_q r_q S_qk`` (≤ 1, stable).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, r: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        a = torch.log_softmax(x, 1)
        am = a if r is None else a.masked_fill(r == 0, float("-inf"))
        m = am.amax(2, keepdim=True)
        e = torch.exp(am - m)  # r_p S_pk / max_q S_qk, in (0, 1]
        sum_e = e.sum(2, keepdim=True)
        log_sum = m + torch.log(sum_e)  # log Σ_p r_p S_pk
        # a Python count stays a Python number: no host-to-device copy (and no sync) per call
        log_cnt = math.log(x.shape[2]) if r is None else torch.log(r.sum(2))
        ctx.save_for_backward(a, e, sum_e)
        return log_sum[..., 0] - log_cnt

    @staticmethod
    def backward(ctx, g: torch.Tensor):  # type: ignore[override]
        a, e, sum_e = ctx.saved_tensors
        gw = e * (g[..., None] / sum_e)  # g_k w_pk
        return gw - torch.exp(a) * gw.sum(1, keepdim=True), None


def _log_mean_pred(
    pred: torch.Tensor, mode: str, from_logits: bool, roi: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(log S̄ (N, K), has_valid (N,))`` for any input kind; images without valid pixels use all pixels."""
    if mode == "multiclass" and from_logits:
        x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
        n, k = x.shape[:2]
        x = x.reshape(n, k, -1)
        if roi is None:
            return _LogMeanSoftmax.apply(x, None), torch.ones(n, dtype=torch.bool, device=x.device)
        m = roi.reshape(n, 1, -1)
        has = m.any(-1)
        m = (m | ~has[:, :, None]).to(x.dtype)
        return _LogMeanSoftmax.apply(x, m), has[:, 0]
    return _log_mean(_log_probs(pred, mode, from_logits), roi)


def _log1m_mean(log_sbar: torch.Tensor) -> torch.Tensor:
    """``log(1 − S̄_k) = logsumexp_{j≠k} log S̄_j`` (exact in the log domain, ``(N, K, K)`` work only)."""
    k = log_sbar.shape[1]
    eye = torch.eye(k, dtype=torch.bool, device=log_sbar.device)
    return torch.logsumexp(log_sbar[:, None, :].masked_fill(eye, float("-inf")), dim=2)


def _log_mean(logp: torch.Tensor, roi: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``log`` of the per-image mean over valid pixels of ``exp(logp)`` → ``((N, K), has_valid (N,))``."""
    n, k = logp.shape[:2]
    lp = logp.reshape(n, k, -1)
    if roi is None:
        cnt = torch.full((n,), lp.shape[-1], dtype=lp.dtype, device=lp.device)
        return torch.logsumexp(lp, -1) - torch.log(cnt)[:, None], torch.ones(n, dtype=torch.bool, device=lp.device)
    m = roi.reshape(n, 1, -1)
    has = m.any(-1)  # (N, 1)
    m = m | ~has[:, :, None]  # images without valid pixels: use all (their loss is zeroed later)
    cnt = m.sum(-1).to(lp.dtype)  # (N, 1)
    return torch.logsumexp(lp.masked_fill(~m, float("-inf")), -1) - torch.log(cnt), has[:, 0]


def _mean_pred(
    pred: torch.Tensor, mode: str, from_logits: bool, roi: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S̄ (N, K), has_valid (N,))`` directly in the probability domain (enough for polynomial losses)."""
    x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
    if mode == "binary":
        p = torch.sigmoid(x) if from_logits else x
        s = torch.cat([1.0 - p, p], 1)
    else:
        s = torch.softmax(x, 1) if from_logits else x
    n, k = s.shape[:2]
    s = s.reshape(n, k, -1)
    if roi is None:
        return s.mean(2), torch.ones(n, dtype=torch.bool, device=s.device)
    m = roi.reshape(n, 1, -1)
    has = m.any(-1)
    m = (m | ~has[:, :, None]).to(s.dtype)
    return (s * m).sum(2) / m.sum(2), has[:, 0]


def _class_tensor(x: torch.Tensor, n: int, k: int, name: str, mode: str, *, is_size: bool = False) -> torch.Tensor:
    check_tensor(x, name)
    if mode == "binary" and is_size and (x.shape == (n,) or x.shape == (n, 1)):
        fg = x.reshape(n, 1)
        x = torch.cat([1 - fg, fg], 1)
    if tuple(x.shape) != (n, k):
        extra = " (or (N,) foreground fractions with mode='binary')" if is_size else ""
        raise ValueError(f"`{name}` must have shape (N, K) = {(n, k)}{extra}; got {tuple(x.shape)}")
    return x


def _finish(per: torch.Tensor, has: torch.Tensor, reduction: str) -> torch.Tensor:
    per = torch.where(has, per, torch.zeros_like(per))
    return reduce(per, reduction)


def size_target_loss(
    pred: torch.Tensor,
    target_sizes: torch.Tensor,
    *,
    roi: torch.Tensor | None = None,
    mode: str = "multiclass",
    from_logits: bool = True,
    divergence: str = "forward",
    eps: float = 1e-8,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Size-target loss, eq. 2: :math:`KL(v\,\|\,\bar S)=\sum_k v_k \ln(v_k/\bar S^k)` per image.

    ``S̄`` is the mean softmax over the image's valid pixels. Terms with ``v_k = 0`` vanish
    (``xlogy``), so absent classes are suppressed only through the normalisation of ``S̄``. With
    ``divergence="reverse"`` the balance loss of eq. 7, :math:`KL(\bar S\,\|\,v)`, with ``v`` floored
    at ``eps`` (finite, but large when a class with ``v_k = 0`` is predicted).

    Args:
        pred: logits ``(N, K, H, W)`` (``(N, 1, H, W)`` with ``mode="binary"``); probabilities if
            ``from_logits=False``.
        target_sizes: ``v`` ``(N, K)``, rows on the simplex (non-negative, sum 1); ``(N,)``
            foreground fractions allowed with ``mode="binary"``.
        roi: optional ``(N, H, W)`` mask of valid pixels (bool or 0/1); the rest is excluded from Ω.
        mode: ``"multiclass"`` or ``"binary"``.
        from_logits: logits (default) or probabilities.
        divergence: ``"forward"`` (eq. 2, default) or ``"reverse"`` (eq. 7).
        eps: floor on ``v`` for the reverse divergence, > 0.
        reduction: ``"mean"`` over images, ``"sum"`` or ``"none"`` (``(N,)``). Images without a valid
            pixel contribute 0.

    Returns:
        The loss (float32 for half inputs); 0 exactly iff ``S̄ = v`` (for images with valid pixels).

    Raises:
        TypeError: non-tensor inputs, non-floating ``pred``.
        ValueError: bad shapes/choices, or (when value checks are on) ``v`` not on the simplex.

    Example:
        >>> logits = torch.randn(2, 3, 8, 8, requires_grad=True)
        >>> v = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
        >>> size_target_loss(logits, v).backward()
    """
    check_choice(reduction, "reduction", REDUCTIONS)
    check_choice(divergence, "divergence", ("forward", "reverse"))
    check_number(eps, "eps", low=0.0, low_inclusive=False)
    _check_pred(pred, mode)
    n = pred.shape[0]
    k = 2 if mode == "binary" else pred.shape[1]
    v = _class_tensor(target_sizes, n, k, "target_sizes", mode, is_size=True)
    if not v.is_floating_point():
        raise TypeError(f"`target_sizes` must be a floating tensor; got dtype {v.dtype}")
    check_same_device(pred, v, "pred", "target_sizes")
    roi_m = _roi_mask(roi, pred)
    _check_inputs(pred, from_logits, roi,
                  in_range("target_sizes", v, what="class fractions: rows non-negative and sum to 1"),
                  in_range("target_sizes", v.sum(1), 1.0 - 1e-3, 1.0 + 1e-3,
                           what="row sums: each row a size distribution, must sum to 1"))
    log_sbar, has = _log_mean_pred(pred, mode, from_logits, roi_m)
    v = v.to(log_sbar.dtype)
    if divergence == "forward":
        per = (torch.xlogy(v, v) - v * log_sbar).sum(1)
    else:
        per = (log_sbar.exp() * (log_sbar - torch.log(v.clamp_min(eps)))).sum(1)
    return _finish(per, has, reduction)


class SizeTargetLoss(nn.Module):
    """Size-target loss (eq. 2) as a module; see :func:`size_target_loss`.

    Example:
        >>> SizeTargetLoss()(torch.randn(1, 2, 4, 4), torch.tensor([[0.25, 0.75]]))
        tensor(...)
    """

    def __init__(
        self,
        *,
        mode: str = "multiclass",
        from_logits: bool = True,
        divergence: str = "forward",
        eps: float = 1e-8,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        check_choice(mode, "mode", _MODES)
        check_choice(divergence, "divergence", ("forward", "reverse"))
        check_choice(reduction, "reduction", REDUCTIONS)
        self.mode, self.from_logits, self.divergence, self.eps, self.reduction = (
            mode,
            from_logits,
            divergence,
            eps,
            reduction,
        )

    def forward(self, pred: torch.Tensor, target_sizes: torch.Tensor, roi: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the loss; see :func:`size_target_loss`."""
        return size_target_loss(
            pred,
            target_sizes,
            roi=roi,
            mode=self.mode,
            from_logits=self.from_logits,
            divergence=self.divergence,
            eps=self.eps,
            reduction=self.reduction,
        )


def tag_barrier_loss(
    pred: torch.Tensor,
    tags: torch.Tensor,
    *,
    expand: str = "log",
    suppress: bool = True,
    epsilon: float = 0.05,
    roi: torch.Tensor | None = None,
    mode: str = "multiclass",
    from_logits: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Tag-level size barriers on ``S̄``: expansion (eq. 9 / 11) plus suppression (eq. 8).

    * ``expand="log"``: :math:`-\sum_{k\in T}\ln\bar S^k` (eq. 9, Kolesnikov & Lampert's expansion).
    * ``expand="flat"``: :math:`-\sum_{k\in T}\ln\min\{\bar S^k,\epsilon\}` — the flat-bottomed barrier
      of eq. 11. The paper typesets ``max``, but its text asks for a flat *bottom* (no pull once a tag
      class has size ``≥ ε``), which is the ``min`` form; we implement that reading.
    * ``expand="none"``: no expansion term.
    * ``suppress=True`` adds :math:`-\sum_{k\notin T}\ln(1-\bar S^k)` (eq. 8).

    Args:
        pred: logits ``(N, K, H, W)`` (``(N, 1, H, W)`` with ``mode="binary"``).
        tags: ``(N, K)`` bool / 0-1: the classes present in each image (``T``).
        expand: ``"log"``, ``"flat"`` or ``"none"``.
        suppress: add the suppression term for non-tag classes.
        epsilon: size threshold of the flat barrier, in ``(0, 1]``.
        roi: optional ``(N, H, W)`` valid-pixel mask.
        mode: ``"multiclass"`` or ``"binary"``.
        from_logits: logits (default) or probabilities.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss (finite for any finite logits).

    Raises:
        TypeError / ValueError: on bad inputs, as the other losses.

    Example:
        >>> tags = torch.tensor([[True, False, True]])
        >>> tag_barrier_loss(torch.randn(1, 3, 8, 8), tags)
        tensor(...)
    """
    check_choice(reduction, "reduction", REDUCTIONS)
    check_choice(expand, "expand", ("log", "flat", "none"))
    check_number(epsilon, "epsilon", low=0.0, high=1.0, low_inclusive=False)
    _check_pred(pred, mode)
    n = pred.shape[0]
    k = 2 if mode == "binary" else pred.shape[1]
    t = _class_tensor(tags, n, k, "tags", mode)
    check_same_device(pred, t, "pred", "tags")
    check_bool(suppress, "suppress")
    roi_m = _roi_mask(roi, pred)
    _check_inputs(pred, from_logits, roi, in_range("tags", t, what="0/1 image-level tags"))
    log_sbar, has = _log_mean_pred(pred, mode, from_logits, roi_m)
    tf = (t != 0).to(log_sbar.dtype)
    per = torch.zeros_like(log_sbar[:, 0])
    if expand == "log":
        per = per - (tf * log_sbar).sum(1)
    elif expand == "flat":
        per = per - (tf * log_sbar.clamp_max(math.log(epsilon))).sum(1)
    if suppress:
        per = per - ((1.0 - tf) * _log1m_mean(log_sbar)).sum(1)
    return _finish(per, has, reduction)


class TagBarrierLoss(nn.Module):
    """Tag-level expansion/suppression barriers as a module; see :func:`tag_barrier_loss`.

    Example:
        >>> TagBarrierLoss(expand="flat")(torch.randn(1, 2, 4, 4), torch.tensor([[1, 1]]))
        tensor(...)
    """

    def __init__(
        self,
        *,
        expand: str = "log",
        suppress: bool = True,
        epsilon: float = 0.05,
        mode: str = "multiclass",
        from_logits: bool = True,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        check_choice(expand, "expand", ("log", "flat", "none"))
        check_choice(reduction, "reduction", REDUCTIONS)
        check_number(epsilon, "epsilon", low=0.0, high=1.0, low_inclusive=False)
        self.expand, self.suppress, self.epsilon = expand, suppress, epsilon
        self.mode, self.from_logits, self.reduction = mode, from_logits, reduction

    def forward(self, pred: torch.Tensor, tags: torch.Tensor, roi: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the loss; see :func:`tag_barrier_loss`."""
        return tag_barrier_loss(
            pred,
            tags,
            expand=self.expand,
            suppress=self.suppress,
            epsilon=self.epsilon,
            roi=roi,
            mode=self.mode,
            from_logits=self.from_logits,
            reduction=self.reduction,
        )


def quadratic_size_barrier_loss(
    pred: torch.Tensor,
    lower: torch.Tensor,
    *,
    upper: torch.Tensor | None = None,
    absent: torch.Tensor | None = None,
    roi: torch.Tensor | None = None,
    mode: str = "multiclass",
    from_logits: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Thresholded quadratic size barrier, eq. 17 (Kervadec et al.), with absent-class suppression.

    .. math::
        \sum_k \max\{a_k-\bar S^k,0\}^2 \;+\; \sum_k \max\{\bar S^k-b_k,0\}^2 \;+\;
        \sum_{k\,\mathrm{absent}} (\bar S^k)^2

    Sizes are fractions of the valid pixels (Kervadec et al. count pixels; divide their bounds by
    ``|Ω|``). The upper-bound term is only used when ``upper`` is given. The last term is the paper's
    ``L_sup = (S̄^obj)²`` for images where the object is absent.

    Args:
        pred: logits ``(N, K, H, W)`` (``(N, 1, H, W)`` with ``mode="binary"``, K = 2 classes).
        lower: lower size bounds ``a`` ``(N, K)`` in ``[0, 1]``.
        upper: optional upper bounds ``b`` ``(N, K)``.
        absent: optional ``(N, K)`` bool: classes to suppress.
        roi: optional ``(N, H, W)`` valid-pixel mask.
        mode: ``"multiclass"`` or ``"binary"``.
        from_logits: logits (default) or probabilities.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Returns:
        The loss.

    Raises:
        TypeError / ValueError: on bad inputs.

    Example:
        >>> a = torch.tensor([[0.5, 0.1]])
        >>> quadratic_size_barrier_loss(torch.randn(1, 2, 8, 8), a, absent=torch.tensor([[False, True]]))
        tensor(...)
    """
    check_choice(reduction, "reduction", REDUCTIONS)
    _check_pred(pred, mode)
    n = pred.shape[0]
    k = 2 if mode == "binary" else pred.shape[1]
    roi_m = _roi_mask(roi, pred)
    a = _class_tensor(lower, n, k, "lower", mode)
    b = None if upper is None else _class_tensor(upper, n, k, "upper", mode)
    ab = None if absent is None else _class_tensor(absent, n, k, "absent", mode)
    for name, x in (("lower", a), ("upper", b), ("absent", ab)):
        if x is not None:
            check_same_device(pred, x, "pred", name)
    _check_inputs(pred, from_logits, roi, in_range("lower", a, what="size fractions"),
                  in_range("upper", b, what="size fractions"), in_range("absent", ab, what="0/1 flags"))
    sbar, has = _mean_pred(pred, mode, from_logits, roi_m)
    a = a.to(sbar)
    per = (a - sbar).clamp_min(0).square().sum(1)
    if b is not None:
        per = per + (sbar - b.to(sbar)).clamp_min(0).square().sum(1)
    if ab is not None:
        per = per + ((ab != 0).to(sbar.dtype) * sbar.square()).sum(1)
    return _finish(per, has, reduction)


class QuadraticSizeBarrierLoss(nn.Module):
    """Thresholded quadratic size barrier (eq. 17) as a module; see :func:`quadratic_size_barrier_loss`.

    Example:
        >>> QuadraticSizeBarrierLoss()(torch.randn(1, 2, 4, 4), torch.tensor([[0.5, 0.2]]))
        tensor(...)
    """

    def __init__(self, *, mode: str = "multiclass", from_logits: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        check_choice(reduction, "reduction", REDUCTIONS)
        self.mode, self.from_logits, self.reduction = mode, from_logits, reduction

    def forward(
        self,
        pred: torch.Tensor,
        lower: torch.Tensor,
        upper: torch.Tensor | None = None,
        absent: torch.Tensor | None = None,
        roi: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Compute the loss; see :func:`quadratic_size_barrier_loss`."""
        return quadratic_size_barrier_loss(
            pred,
            lower,
            upper=upper,
            absent=absent,
            roi=roi,
            mode=self.mode,
            from_logits=self.from_logits,
            reduction=self.reduction,
        )


def partial_cross_entropy(
    pred: torch.Tensor,
    seeds: torch.Tensor,
    *,
    ignore_index: int = 255,
    mode: str = "multiclass",
    from_logits: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Partial cross-entropy on seed pixels, eq. 4: :math:`-\sum_{p\in Seeds}\ln S_p^{y_p}`.

    Unlabelled pixels carry ``ignore_index`` (255 by default, the scribble convention of rloss).

    Args:
        pred: logits ``(N, K, H, W)`` (``(N, 1, H, W)`` with ``mode="binary"``).
        seeds: ``(N, H, W)`` int64 labels, ``ignore_index`` where unlabelled.
        ignore_index: the unlabelled value. Default 255.
        mode: ``"multiclass"`` or ``"binary"``.
        from_logits: logits (default) or probabilities.
        reduction: ``"mean"`` — mean over all seed pixels of the batch (torch's CE with
            ``ignore_index``; what rloss trains with); ``"sum"`` — eq. 4 summed over the batch;
            ``"none"`` — eq. 4 per image ``(N,)``.

    Returns:
        The loss; 0 (with graph) when there is no seed.

    Raises:
        TypeError / ValueError: on bad inputs (labels out of range when value checks are on).

    Example:
        >>> seeds = torch.full((1, 8, 8), 255); seeds[0, 2, 2] = 1
        >>> partial_cross_entropy(torch.randn(1, 3, 8, 8), seeds)
        tensor(...)
    """
    check_choice(reduction, "reduction", REDUCTIONS)
    check_ignore_index(ignore_index)
    _check_pred(pred, mode)
    n, _, h, w = pred.shape
    check_target_shape(seeds, (n, h, w), "seeds", ref_shape=tuple(pred.shape))
    check_same_device(pred, seeds, "pred", "seeds")
    k = 2 if mode == "binary" else pred.shape[1]
    check_label_dtype(seeds, "seeds")
    _check_inputs(pred, from_logits, None, label_ids("seeds", seeds, k, ignore_index))
    valid = seeds != ignore_index
    y = torch.where(valid, seeds, torch.zeros_like(seeds)).long()
    x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
    if mode == "multiclass" and from_logits:
        nll = F.cross_entropy(x, y, reduction="none") * valid.to(x.dtype)
    else:
        logp = _log_probs(pred, mode, from_logits)
        nll = -torch.gather(logp, 1, y[:, None])[:, 0] * valid.to(logp.dtype)
    per = nll.sum((1, 2))
    if reduction == "mean":
        return per.sum() / valid.sum().clamp_min(1).to(per.dtype)
    return reduce(per, reduction)


class PartialCrossEntropyLoss(nn.Module):
    """Partial cross-entropy (eq. 4) as a module; see :func:`partial_cross_entropy`.

    Example:
        >>> PartialCrossEntropyLoss()(torch.randn(1, 2, 4, 4), torch.full((1, 4, 4), 255))
        tensor(...)
    """

    def __init__(
        self, *, ignore_index: int = 255, mode: str = "multiclass", from_logits: bool = True, reduction: str = "mean"
    ) -> None:
        super().__init__()
        check_choice(reduction, "reduction", REDUCTIONS)
        self.ignore_index, self.mode, self.from_logits, self.reduction = ignore_index, mode, from_logits, reduction

    def forward(self, pred: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
        """Compute the loss; see :func:`partial_cross_entropy`."""
        return partial_cross_entropy(
            pred,
            seeds,
            ignore_index=self.ignore_index,
            mode=self.mode,
            from_logits=self.from_logits,
            reduction=self.reduction,
        )


def size_targets_from_mask(
    target: torch.Tensor, num_classes: int, *, ignore_index: int | None = None, roi: torch.Tensor | None = None
) -> torch.Tensor:
    """Exact size targets ``v̂`` ``(N, K)``: the fraction of each image's valid pixels in each class.

    Args:
        target: ``(N, H, W)`` integer labels.
        num_classes: ``K`` ≥ 1.
        ignore_index: label excluded from the counts.
        roi: optional ``(N, H, W)`` valid-pixel mask.

    Returns:
        float32 ``(N, K)``; rows sum to 1 (all-zero for images without valid pixels).

    Raises:
        TypeError: non-integer ``target``.
        ValueError: bad shapes or labels out of range (when value checks are on).

    Example:
        >>> size_targets_from_mask(torch.tensor([[[0, 1], [1, 1]]]), 2)
        tensor([[0.2500, 0.7500]])
    """
    from segloss._validation import check_labels

    check_ignore_index(ignore_index)
    check_tensor(target, "target")
    if target.ndim != 3:
        raise ValueError(f"`target` must be (N, H, W); got shape {tuple(target.shape)}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"`num_classes` must be a positive int; got {num_classes!r}")
    check_labels(target, num_classes, "target", ignore_index=ignore_index)
    valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    if roi is not None:
        check_target_shape(roi, tuple(target.shape), "roi", ref="target", ref_shape=tuple(target.shape))
        check_same_device(target, roi, "target", "roi")
        check_values(in_range("roi", roi, what="a 0/1 mask of valid pixels"))
        valid = valid & (roi > 0 if roi.dtype != torch.bool else roi)
    y = torch.where(valid, target, torch.zeros_like(target)).long().flatten(1)  # (N, H·W), N = 0 allowed
    counts = torch.zeros(target.shape[0], num_classes, device=target.device).scatter_add_(
        1, y, valid.flatten(1).float()
    )
    return counts / counts.sum(1, keepdim=True).clamp_min(1.0)


def corrupt_size_targets(
    sizes: torch.Tensor, sigma: float, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Synthetic approximate size targets, eq. 15: :math:`v_k \leftarrow (1+\epsilon_k)\hat v_k`, renormalised.

    ``ε_k ~ N(0, σ²)`` independently per image and class. Factors ``1 + ε`` below 0 are clamped to 0
    (the paper does not say; a negative size is meaningless). A row whose corrupted sizes all vanish
    keeps its exact sizes.

    Args:
        sizes: exact targets ``v̂`` ``(N, K)`` (rows sum to 1).
        sigma: noise standard deviation ≥ 0 (see :func:`sigma_for_mre`).
        generator: optional ``torch.Generator`` for reproducibility (on ``sizes.device``).

    Returns:
        Corrupted targets ``(N, K)``, rows summing to 1.

    Example:
        >>> v = torch.tensor([[0.7, 0.3, 0.0]])
        >>> corrupt_size_targets(v, 0.1, generator=torch.Generator().manual_seed(0)).sum(1)
        tensor([1.])
    """
    check_tensor(sizes, "sizes")
    if sizes.ndim != 2 or not sizes.is_floating_point():
        raise ValueError(
            f"`sizes` must be a floating (N, K) tensor; got shape {tuple(sizes.shape)}, dtype {sizes.dtype}"
        )
    check_number(sigma, "sigma", low=0.0)
    eps = torch.randn(sizes.shape, generator=generator, device=sizes.device, dtype=sizes.dtype) * sigma
    v = (1.0 + eps).clamp_min(0.0) * sizes
    tot = v.sum(1, keepdim=True)
    return torch.where(tot > 0, v / tot.clamp_min(torch.finfo(v.dtype).tiny), sizes)


def relative_error(sizes: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """Relative size errors, eq. 14: ``|v_k − v̂_k| / v̂_k``; NaN where ``v̂_k = 0`` (undefined).

    Example:
        >>> relative_error(torch.tensor([[0.55, 0.45]]), torch.tensor([[0.5, 0.5]]))
        tensor([[0.1000, 0.1000]])
    """
    check_tensor(sizes, "sizes")
    check_tensor(exact, "exact")
    if sizes.shape != exact.shape:
        raise ValueError(
            f"`sizes` and `exact` must have the same shape; got {tuple(sizes.shape)} and {tuple(exact.shape)}"
        )
    re = (sizes - exact).abs() / exact
    return torch.where(exact > 0, re, torch.full_like(re, float("nan")))


def mean_relative_error(sizes: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """Mean relative error mRE (eq. 14 averaged over all images and all present classes ``v̂_k > 0``); 0-d tensor.

    Example:
        >>> mean_relative_error(torch.tensor([[0.55, 0.45, 0.0]]), torch.tensor([[0.5, 0.5, 0.0]]))
        tensor(0.1000)
    """
    re = relative_error(sizes, exact)
    m = exact > 0
    return torch.where(m, re, torch.zeros_like(re)).sum() / m.sum().clamp_min(1)


def sigma_for_mre(mre: float) -> float:
    """Noise level for a wanted mean relative error, eq. 16: ``mRE ≈ √(2/π)·σ`` ⇒ ``σ = mRE·√(π/2)``.

    Example:
        >>> round(sigma_for_mre(0.08), 4)
        0.1003
    """
    check_number(mre, "mre", low=0.0)
    return float(mre) * math.sqrt(math.pi / 2.0)
