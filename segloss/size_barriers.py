"""Size barriers on the image-level average prediction (Fan, Zhang, Boykov, the baselines of the size-target paper).

Both act on ``S̄``, the per-image mean prediction over valid pixels (paper eq. 1, :mod:`segloss._size_mean`):

* :func:`tag_barrier_loss` — log-barrier expansion (9) ``−Σ_{k∈T} ln S̄^k``, flat barrier (11) and
  suppression (8) ``−Σ_{k∉T} ln(1 − S̄^k)`` for image tags ``T``.
* :func:`quadratic_size_barrier_loss` — thresholded quadratic barrier (17) ``Σ_k max(a_k − S̄^k, 0)²``
  (optionally an upper bound) plus the absent-class suppression ``(S̄^k)²``.

Finiteness: every logarithm is taken in the log domain from logits (``ln S̄`` by a per-class
log-sum-exp over pixels, ``ln(1 − S̄^k) = logsumexp_{j≠k} ln S̄^j``), so no barrier extension is needed for
logit inputs; probability inputs (``from_logits=False``) are clamped to ``[1e-12, 1]`` before logs.
"""

from __future__ import annotations

import math

import torch

from segloss._module import LossModule
from segloss._size_mean import (
    check_inputs,
    check_options,
    check_pred,
    class_tensor,
    finish,
    log1m_mean,
    log_mean_pred,
    mean_pred,
    roi_mask,
)
from segloss._validation import (
    check_bool,
    check_choice,
    check_number,
    check_same_device,
    in_range,
)

__all__ = [
    "QuadraticSizeBarrierLoss",
    "TagBarrierLoss",
    "quadratic_size_barrier_loss",
    "tag_barrier_loss",
]


def _check_tag_options(
    expand: str, suppress: bool, epsilon: float, mode: str, from_logits: bool, reduction: str
) -> float:
    """Validate the options of :func:`tag_barrier_loss` and :class:`TagBarrierLoss`; return ``epsilon`` as a float."""
    check_options(mode, from_logits, reduction)
    check_choice(expand, "expand", ("log", "flat", "none"))
    check_bool(suppress, "suppress")
    return float(check_number(epsilon, "epsilon", low=0.0, high=1.0, low_inclusive=False))


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
    epsilon = _check_tag_options(expand, suppress, epsilon, mode, from_logits, reduction)
    check_pred(pred, mode)
    n = pred.shape[0]
    k = 2 if mode == "binary" else pred.shape[1]
    t = class_tensor(tags, n, k, "tags", mode)
    check_same_device(pred, t, "pred", "tags")
    roi_m = roi_mask(roi, pred)
    check_inputs(pred, from_logits, roi, in_range("tags", t, what="0/1 image-level tags"))
    log_sbar, has = log_mean_pred(pred, mode, from_logits, roi_m)
    tf = (t != 0).to(log_sbar.dtype)
    per = torch.zeros_like(log_sbar[:, 0])
    if expand == "log":
        per = per - (tf * log_sbar).sum(1)
    elif expand == "flat":
        per = per - (tf * log_sbar.clamp_max(math.log(epsilon))).sum(1)
    if suppress:
        per = per - ((1.0 - tf) * log1m_mean(log_sbar)).sum(1)
    return finish(per, has, reduction)


class TagBarrierLoss(LossModule):
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
        epsilon = _check_tag_options(expand, suppress, epsilon, mode, from_logits, reduction)
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
        upper: optional upper bounds ``b`` ``(N, K)`` in ``[0, 1]``, each ``>= lower`` (checked with the values).
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
    check_options(mode, from_logits, reduction)
    check_pred(pred, mode)
    n = pred.shape[0]
    k = 2 if mode == "binary" else pred.shape[1]
    roi_m = roi_mask(roi, pred)
    a = class_tensor(lower, n, k, "lower", mode)
    b = None if upper is None else class_tensor(upper, n, k, "upper", mode)
    ab = None if absent is None else class_tensor(absent, n, k, "absent", mode)
    for name, x in (("lower", a), ("upper", b), ("absent", ab)):
        if x is not None:
            check_same_device(pred, x, "pred", name)
    # the bounds' difference in float32 (bool or integer bounds have no subtraction; rounding keeps b >= a)
    check_inputs(pred, from_logits, roi, in_range("lower", a, what="size fractions"),
                  in_range("upper", b, what="size fractions"), in_range("absent", ab, what="0/1 flags"),
                  in_range("upper - lower", None if b is None else b.float() - a.float(), 0.0, None,
                           what="each upper bound at least its lower bound"))
    sbar, has = mean_pred(pred, mode, from_logits, roi_m)
    a = a.to(sbar)
    per = (a - sbar).clamp_min(0).square().sum(1)
    if b is not None:
        per = per + (sbar - b.to(sbar)).clamp_min(0).square().sum(1)
    if ab is not None:
        per = per + ((ab != 0).to(sbar.dtype) * sbar.square()).sum(1)
    return finish(per, has, reduction)


class QuadraticSizeBarrierLoss(LossModule):
    """Thresholded quadratic size barrier (eq. 17) as a module; see :func:`quadratic_size_barrier_loss`.

    Example:
        >>> QuadraticSizeBarrierLoss()(torch.randn(1, 2, 4, 4), torch.tensor([[0.5, 0.2]]))
        tensor(...)
    """

    def __init__(self, *, mode: str = "multiclass", from_logits: bool = True, reduction: str = "mean") -> None:
        super().__init__()
        check_options(mode, from_logits, reduction)
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
