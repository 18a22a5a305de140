"""Lovász-softmax loss (Berman, Rannen Triki, Blaschko, CVPR 2018), vectorised over classes and images.

For class ``c`` with errors ``e_c = |1[y = c] − p_c|`` over the (non-ignored) pixels sorted in decreasing order, the
loss is ``⟨e_c sorted, ∇Δ_J(fg_c sorted)⟩`` with the Lovász extension gradient of the Jaccard loss
``g_k = J_k − J_{k−1}``, ``J_k = 1 − (G − cumsum(fg)_k) / (G + cumsum(1 − fg)_k)`` (computed in closed form from exact
integer counts, so float32 gradients match float64 on batches of any size); the result is averaged over the
selected classes. Same definitions and defaults as bermanmaxim/LovaszSoftmax ``lovasz_softmax`` (``classes="present"``,
``per_image=False``), but the softmax is taken inside (``from_logits=True``), all classes (and, with
``per_image=True``, all images) are handled by one sort of a ``(groups, pixels)`` tensor without per-class host
syncs, and the reference's failures are fixed: all pixels ignored → 0-d zero with graph (not an empty tensor),
exactly one valid pixel works, float64 works.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from segloss._distance import device_constant
from segloss._module import LossModule
from segloss._scan import cumsum
from segloss._validation import (
    REDUCTIONS,
    check_bool,
    check_choice,
    check_ignore_index,
    check_label_dtype,
    check_logits,
    check_same_device,
    check_target_shape,
    check_values,
    finite,
    float32_logits,
    in_range,
    label_ids,
    valid_labels,
)

__all__ = ["LovaszSoftmaxLoss", "lovasz_softmax_loss"]


def _check_classes(classes: Any, num_classes: int | None = None) -> str | tuple[int, ...]:
    """``classes`` as ``"present"`` / ``"all"`` or a tuple of Python ints in ``[0, num_classes)``.

    No upper bound when ``num_classes`` is ``None`` (at construction). Numpy integers (e.g. from ``np.unique``), a
    numpy array or a tensor of ids work like a list of ints.
    """
    if isinstance(classes, str):
        check_choice(classes, "classes", ("present", "all"))
        return classes
    if isinstance(classes, (torch.Tensor, np.ndarray)):
        classes = classes.tolist()
    if not isinstance(classes, Sequence) or isinstance(classes, (bytes, bytearray)):
        raise TypeError(f"`classes` must be 'present', 'all' or a sequence of class ids; got "
                        f"{type(classes).__name__} {classes!r}")
    ids = list(classes)
    if not ids:
        raise ValueError("`classes` must not be an empty sequence; got []")
    upper = "" if num_classes is None else f"{num_classes}"
    for c in ids:
        is_int = isinstance(c, numbers.Integral) and not isinstance(c, (bool, np.bool_))
        if not is_int or c < 0 or (num_classes is not None and c >= num_classes):
            raise ValueError(f"`classes` entries must be ints in [0, {upper or 'C'}); got {int(c) if is_int else c!r}")
    return tuple(int(c) for c in ids)


def _check_options(
    classes: Any, per_image: bool, ignore_index: int | None, from_logits: bool, reduction: str,
    num_classes: int | None = None,
) -> tuple[str | tuple[int, ...], int | None]:
    """Validate the options of :func:`lovasz_softmax_loss` and its module; ``(classes, ignore_index)`` normalised.

    ``num_classes`` (the functional form, which knows C) bounds the class ids; the module checks them against C at
    its first call.
    """
    check_choice(reduction, "reduction", REDUCTIONS)
    check_bool(per_image, "per_image")
    if not per_image and reduction == "none":
        raise ValueError("`reduction` must be 'mean' or 'sum' when per_image=False (one loss for the batch); got "
                         "'none'")
    check_bool(from_logits, "from_logits")
    return _check_classes(classes, num_classes), check_ignore_index(ignore_index)


def _class_selection(classes: Any, num_classes: int, device: torch.device) -> torch.Tensor | None:
    """``None`` for ``"present"``, else a bool ``(C,)`` mask of the classes to average."""
    classes = _check_classes(classes, num_classes)
    if classes == "present":
        return None
    if classes == "all":
        return torch.ones(num_classes, dtype=torch.bool, device=device)
    ids = list(classes)
    mask = torch.zeros(num_classes, dtype=torch.bool, device=device)
    mask[device_constant(ids, torch.long, device)] = True
    return mask


def _jaccard_increments(fg_sorted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``g_k = J_k − J_{k−1}`` (``J_0 = 0``) of 0/1 rows ``(R, P)`` sorted by error, and the counts ``G`` ``(R, 1)``.

    With exact integer counts ``F_k = Σ_{i≤k} fg_i``, ``I_k = G − F_k`` and ``U_k = G + k − F_k``, the increment is
    ``1 / U_k`` at a foreground pixel (``I`` drops by one, ``U`` stays) and ``I_k / (U_{k−1} U_k)`` at a background
    one (``U`` grows by one; ``U_0 = G``, and ``g_1 = 1`` when ``G = 0``). Closed forms of integer counts: no
    difference of two float Jaccard values (whose spacing, about ``1 / P``, is a few float32 ulps on large batches)
    and no float cumulative count (exact only up to ``2**24`` in float32).
    """
    p = fg_sorted.shape[1]
    is_fg = fg_sorted > 0
    counts = cumsum(is_fg, 1)  # int64 F_k (no gradient: updated in place below to keep one int64 buffer)
    gts = counts[:, -1:].clone()
    k = torch.arange(1, p + 1, device=fg_sorted.device, dtype=counts.dtype)
    inter = (gts - counts).to(fg_sorted.dtype)
    union = counts.neg_().add_(k).add_(gts).to(fg_sorted.dtype)  # U_k = G + k − F_k >= k >= 1
    prev = union - 1.0  # U_{k−1} at a background pixel; 0 only at k = 1 when G = 0
    one = torch.ones((), dtype=fg_sorted.dtype, device=fg_sorted.device)
    at_bg = torch.where(prev > 0, inter / (prev * union).clamp_min(1.0), one)
    return torch.where(is_fg, 1.0 / union, at_bg), gts.to(fg_sorted.dtype)


def _lovasz_per_group(probs: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, select: torch.Tensor | None):
    """Lovász-softmax of each group.

    Args:
        probs: ``(G, C, P)`` class probabilities.
        labels: ``(G, P)`` labels (any value where not valid).
        valid: ``(G, P)`` bool.
        select: ``None`` (present classes) or bool ``(C,)``.

    Returns:
        ``(G,)`` losses (0 for a group with no selected class).
    """
    g, c, p = probs.shape
    classes = torch.arange(c, device=probs.device).view(1, c, 1)
    fg = ((labels.unsqueeze(1) == classes) & valid.unsqueeze(1)).to(probs.dtype)  # (G, C, P)
    errors = (fg - probs).abs()
    # ignored pixels get error -1 so that they sort after every real error (errors are in [0, 1])
    errors = torch.where(valid.unsqueeze(1), errors, torch.full_like(errors, -1.0))
    errors_sorted, perm = torch.sort(errors.reshape(g * c, p), dim=1, descending=True)
    fg_sorted = fg.reshape(g * c, p).gather(1, perm)
    grad, gts = _jaccard_increments(fg_sorted)
    per_class = (errors_sorted.clamp_min(0.0) * grad).sum(dim=1).view(g, c)
    chosen = (gts.view(g, c) > 0) if select is None else select.view(1, c).expand(g, c)
    chosen = chosen.to(per_class.dtype)
    count = chosen.sum(dim=1)
    return (per_class * chosen).sum(dim=1) / count.clamp_min(1.0)


def lovasz_softmax_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    classes: str | Sequence[int] = "present",
    per_image: bool = False,
    ignore_index: int | None = None,
    from_logits: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    """Lovász-softmax loss, a convex surrogate of the mean Jaccard (IoU) loss.

    ``L = 1/|K| Σ_{c ∈ K} Σ_k e_c,(k) · (J_c,k − J_c,k−1)`` with ``e_c = |1[y = c] − softmax(pred)_c|`` sorted in
    decreasing order and ``J_c,k`` the Jaccard loss of the ``k`` pixels with the largest errors.

    Args:
        pred: logits ``(N, C, H, W)`` (probabilities when ``from_logits=False``), C >= 2.
        target: class ids ``(N, H, W)``.
        classes: ``"present"`` (default: classes present in the labels of the batch, or of each image with
            ``per_image``), ``"all"``, or a sequence of class ids to average over.
        per_image: compute the loss per image and average over images (default ``False``: one loss over the batch).
        ignore_index: label of ignored pixels (default ``None``).
        from_logits: ``True`` (default) to apply a softmax over C inside; ``False`` if ``pred`` holds probabilities.
        reduction: with ``per_image=True``: ``"mean"`` (as Berman), ``"sum"`` or ``"none"`` (``(N,)``); with
            ``per_image=False`` only ``"mean"`` / ``"sum"`` (both return the single batch loss).

    Shapes:
        pred ``(N, C, H, W)``, target ``(N, H, W)`` → 0-d, or ``(N,)`` for ``per_image=True, reduction="none"``.

    Returns:
        Float32 loss (float64 for float64 ``pred``). No selected class / every pixel ignored → a zero that keeps the
        graph. An image without any valid pixel or selected class counts as 0 in the per-image mean (as Berman).

    Raises:
        TypeError: for non-tensor / non-float ``pred``, non-integer ``target`` or a bad ``classes`` type.
        ValueError: for bad shapes, ``C < 2``, out-of-range labels or classes, or ``reduction="none"`` without
            ``per_image``.

    Example:
        >>> pred = torch.randn(2, 4, 8, 8, requires_grad=True)
        >>> loss = lovasz_softmax_loss(pred, torch.randint(0, 4, (2, 8, 8)))
        >>> loss.backward()
    """
    check_logits(pred, "pred", ndim=4)
    n, c, h, w = pred.shape
    classes, ignore_index = _check_options(classes, per_image, ignore_index, from_logits, reduction, c)
    if c < 2:
        raise ValueError(f"`pred` must have C >= 2 channels (use 2 channels for binary); got {tuple(pred.shape)}")
    check_target_shape(target, (n, h, w), ref_shape=tuple(pred.shape))
    check_same_device(pred, target, "pred", "target")
    check_label_dtype(target)
    pred_rule = finite("pred", pred) if from_logits else in_range("pred", pred, what="probabilities")
    check_values(label_ids("target", target, c, ignore_index), pred_rule)
    target = target.long()  # uint8 / int32 class ids work like int64
    select = _class_selection(classes, c, pred.device)

    x = float32_logits(pred)
    probs = F.softmax(x, dim=1) if from_logits else x
    valid = valid_labels(target, ignore_index)
    if per_image:
        losses = _lovasz_per_group(probs.reshape(n, c, h * w), target.reshape(n, h * w), valid.reshape(n, h * w),
                                   select)
        if reduction == "mean":
            return losses.mean()
        return losses.sum() if reduction == "sum" else losses
    return batch_lovasz(probs, target, valid, select)


def batch_lovasz(
    probs: torch.Tensor, target: torch.Tensor, valid: torch.Tensor, select: torch.Tensor | None = None
) -> torch.Tensor:
    """Berman's batch-level loss (``per_image=False``) of already checked inputs.

    ``probs`` ``(N, C, H, W)``, labels and a bool valid mask ``(N, H, W)``; ``select`` as in
    :func:`_lovasz_per_group` (``None``: the present classes).
    """
    c = probs.shape[1]
    flat = probs.transpose(0, 1).reshape(1, c, -1)
    return _lovasz_per_group(flat, target.reshape(1, -1), valid.reshape(1, -1), select)[0]


class LovaszSoftmaxLoss(LossModule):
    """Lovász-softmax loss module; see :func:`lovasz_softmax_loss` for the formula and arguments.

    Args:
        classes: ``"present"`` (default), ``"all"`` or a sequence of class ids.
        per_image: per-image losses averaged over the batch (default ``False``).
        ignore_index: ignored label (default ``None``).
        from_logits: softmax inside (default ``True``).
        reduction: ``"mean"``, ``"sum"`` or (with ``per_image``) ``"none"``.

    Shapes:
        forward(pred ``(N, C, H, W)``, target ``(N, H, W)``) → 0-d or ``(N,)``.

    Example:
        >>> crit = LovaszSoftmaxLoss(ignore_index=255)
        >>> loss = crit(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)))
    """

    def __init__(
        self,
        *,
        classes: str | Sequence[int] = "present",
        per_image: bool = False,
        ignore_index: int | None = None,
        from_logits: bool = True,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        classes, ignore_index = _check_options(classes, per_image, ignore_index, from_logits, reduction)
        self.classes, self.per_image, self.ignore_index = classes, per_image, ignore_index
        self.from_logits, self.reduction = from_logits, reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss."""
        return lovasz_softmax_loss(pred, target, classes=self.classes, per_image=self.per_image,
                                   ignore_index=self.ignore_index, from_logits=self.from_logits,
                                   reduction=self.reduction)
