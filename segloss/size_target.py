"""Size-target loss (Fan, Zhang, Boykov: "Approximate size targets are sufficient ...", eq. 2 and 7) and its utilities.

The loss acts on the image-level average prediction (paper eq. 1, :mod:`segloss._size_mean`)::

    S̄ = (1/|Ω|) Σ_{p∈Ω} S_p            (Ω = valid pixels: ROI, ignore excluded)

* :func:`size_target_loss` — eq. 2, forward ``KL(v ‖ S̄)`` (zero-avoiding); ``divergence="reverse"``
  gives the balance loss of eq. 7, ``KL(S̄ ‖ v)``, with ``v`` floored at ``eps`` (zeros in ``v`` make it
  infinite otherwise, the instability the paper points out).
* Utilities: :func:`size_targets_from_mask`, :func:`corrupt_size_targets` (eq. 15),
  :func:`relative_error` / :func:`mean_relative_error` (eq. 14), :func:`sigma_for_mre` (eq. 16).

The size barriers the paper compares live in :mod:`segloss.size_barriers`, the partial cross-entropy on seeds in
:mod:`segloss.partial_ce`.
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
    log_mean_pred,
    roi_mask,
)
from segloss._validation import (
    check_choice,
    check_ignore_index,
    check_int,
    check_number,
    check_same_device,
    check_target_shape,
    check_tensor,
    check_values,
    in_range,
    valid_labels,
)

__all__ = [
    "SizeTargetLoss",
    "corrupt_size_targets",
    "mean_relative_error",
    "relative_error",
    "sigma_for_mre",
    "size_target_loss",
    "size_targets_from_mask",
]


def _check_options(mode: str, from_logits: bool, divergence: str, eps: float, reduction: str) -> float:
    """Validate the options of :func:`size_target_loss` and :class:`SizeTargetLoss`; return ``eps`` as a float."""
    check_options(mode, from_logits, reduction)
    check_choice(divergence, "divergence", ("forward", "reverse"))
    return float(check_number(eps, "eps", low=0.0, low_inclusive=False))


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
    eps = _check_options(mode, from_logits, divergence, eps, reduction)
    check_pred(pred, mode)
    n = pred.shape[0]
    k = 2 if mode == "binary" else pred.shape[1]
    v = class_tensor(target_sizes, n, k, "target_sizes", mode, is_size=True)
    if not v.is_floating_point():
        raise TypeError(f"`target_sizes` must be a floating tensor; got dtype {v.dtype}")
    check_same_device(pred, v, "pred", "target_sizes")
    roi_m = roi_mask(roi, pred)
    check_inputs(pred, from_logits, roi,
                  in_range("target_sizes", v, what="class fractions: rows non-negative and sum to 1"),
                  in_range("target_sizes", v.sum(1), 1.0 - 1e-3, 1.0 + 1e-3,
                           what="row sums: each row a size distribution, must sum to 1"))
    log_sbar, has = log_mean_pred(pred, mode, from_logits, roi_m)
    v = v.to(log_sbar.dtype)
    if divergence == "forward":
        per = (torch.xlogy(v, v) - v * log_sbar).sum(1)
    else:
        per = (log_sbar.exp() * (log_sbar - torch.log(v.clamp_min(eps)))).sum(1)
    return finish(per, has, reduction)


class SizeTargetLoss(LossModule):
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
        eps = _check_options(mode, from_logits, divergence, eps, reduction)
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

    ignore_index = check_ignore_index(ignore_index)
    check_tensor(target, "target")
    if target.ndim != 3:
        raise ValueError(f"`target` must be (N, H, W); got shape {tuple(target.shape)}")
    num_classes = check_int(num_classes, "num_classes", low=1, what="a positive int")
    check_labels(target, num_classes, "target", ignore_index=ignore_index)
    valid = valid_labels(target, ignore_index)
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

    Raises:
        TypeError: non-tensor ``sizes``, non-Generator ``generator``.
        ValueError: ``sizes`` not a floating ``(N, K)`` tensor, a negative ``sigma``, or (value checks on) sizes
            outside ``[0, 1]`` or NaN/Inf.

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
    sigma = check_number(sigma, "sigma", low=0.0)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None; got {type(generator).__name__}")
    check_values(in_range("sizes", sizes, what="class fractions"))
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
    check_same_device(sizes, exact, "sizes", "exact")
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
    mre = check_number(mre, "mre", low=0.0)
    return float(mre) * math.sqrt(math.pi / 2.0)
