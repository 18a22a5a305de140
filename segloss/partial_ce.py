"""Partial cross-entropy on seed pixels (scribbles / clicks), eq. 4 of Fan, Zhang, Boykov's size-target paper."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from segloss._modes import CLASS_MODES
from segloss._module import LossModule
from segloss._size_mean import (
    check_inputs,
    check_pred,
    log_probs,
)
from segloss._validation import (
    REDUCTIONS,
    check_bool,
    check_choice,
    check_ignore_index,
    check_label_dtype,
    check_same_device,
    check_target_shape,
    label_ids,
    reduce,
    valid_labels,
    where_valid,
)

__all__ = [
    "PartialCrossEntropyLoss",
    "partial_cross_entropy",
]


def _check_options(ignore_index: int | None, mode: str, from_logits: bool, reduction: str) -> int | None:
    """Validate the options of :func:`partial_cross_entropy` and its module; return ``ignore_index`` as a Python int."""
    check_choice(mode, "mode", CLASS_MODES)
    check_bool(from_logits, "from_logits")
    check_choice(reduction, "reduction", REDUCTIONS)
    return check_ignore_index(ignore_index)


def partial_cross_entropy(
    pred: torch.Tensor,
    seeds: torch.Tensor,
    *,
    ignore_index: int | None = 255,
    mode: str = "multiclass",
    from_logits: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""Partial cross-entropy on seed pixels, eq. 4: :math:`-\sum_{p\in Seeds}\ln S_p^{y_p}`.

    Unlabelled pixels carry ``ignore_index`` (255 by default, the scribble convention of rloss).

    Args:
        pred: logits ``(N, K, H, W)`` (``(N, 1, H, W)`` with ``mode="binary"``).
        seeds: ``(N, H, W)`` int64 labels, ``ignore_index`` where unlabelled.
        ignore_index: the unlabelled value, or ``None`` (every pixel is a seed). Default 255.
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
    ignore_index = _check_options(ignore_index, mode, from_logits, reduction)
    check_pred(pred, mode)
    n, _, h, w = pred.shape
    check_target_shape(seeds, (n, h, w), "seeds", ref_shape=tuple(pred.shape))
    check_same_device(pred, seeds, "pred", "seeds")
    k = 2 if mode == "binary" else pred.shape[1]
    check_label_dtype(seeds, "seeds")
    check_inputs(pred, from_logits, None, label_ids("seeds", seeds, k, ignore_index))
    valid = valid_labels(seeds, ignore_index)
    y = torch.where(valid, seeds, torch.zeros_like(seeds)).long()
    x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
    if mode == "multiclass" and from_logits:
        nll = where_valid(F.cross_entropy(x, y, reduction="none"), valid)
    else:
        logp = log_probs(pred, mode, from_logits)
        nll = where_valid(-torch.gather(logp, 1, y[:, None])[:, 0], valid)
    per = nll.sum((1, 2))
    if reduction == "mean":
        return per.sum() / valid.sum().clamp_min(1).to(per.dtype)
    return reduce(per, reduction)


class PartialCrossEntropyLoss(LossModule):
    """Partial cross-entropy (eq. 4) as a module; see :func:`partial_cross_entropy`.

    Example:
        >>> PartialCrossEntropyLoss()(torch.randn(1, 2, 4, 4), torch.full((1, 4, 4), 255))
        tensor(...)
    """

    def __init__(
        self,
        *,
        ignore_index: int | None = 255,
        mode: str = "multiclass",
        from_logits: bool = True,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        ignore_index = _check_options(ignore_index, mode, from_logits, reduction)
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
