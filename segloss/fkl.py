"""FKL boundary loss: the "full KL" ablation of the Active Boundary Loss paper (Wang et al., AAAI 2022, eq. 7).

Every edge ``e = (e_i, e_j)`` between a pixel and its lower or right neighbour is a binary classification of
"is there a GT boundary on this edge", with the KL divergence between the two class distributions as the logit:
``FKL = 1/N_e Σ_e BCE(σ(KL(P_ei ‖ P_ej)), [G_ei ≠ G_ej])``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from segloss._modes import CLASS_MODES, check_mode_channels
from segloss._module import LossModule
from segloss._validation import (
    REDUCTIONS,
    check_choice,
    check_ignore_index,
    check_label_dtype,
    check_logits,
    check_same_device,
    check_values,
    finite,
    label_ids,
    where_valid,
    zero_with_graph,
)
from segloss.active_boundary import _as_class_logits, _autocast_off, _validate_target

__all__ = ["FKLLoss", "fkl_loss"]


def _edge_terms(logp: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None, dim: int):
    """Per-image sums of BCE terms and of valid-edge counts along spatial ``dim`` (2 = rows, 3 = columns)."""
    size = logp.shape[dim]
    # log-probabilities that underflow to -inf (logit gaps beyond the dtype's range) are floored at the most negative
    # finite value: a vanishing probability then contributes 0 · finite = 0 to the KL, not 0 · (-inf + inf) = NaN
    logp = logp.clamp_min(torch.finfo(logp.dtype).min / 2)
    a, b = logp.narrow(dim, 0, size - 1), logp.narrow(dim, 1, size - 1)
    kl = (a.exp() * (a - b)).sum(1)  # KL(P_i ‖ P_j), (N, ·, ·)
    tdim = dim - 1
    ta, tb = target.narrow(tdim, 0, size - 1), target.narrow(tdim, 1, size - 1)
    y = ta != tb
    bce = torch.where(y, F.softplus(-kl), F.softplus(kl))  # = BCE(sigmoid(kl), y) = softplus(kl) − y·kl, no inf − inf
    if valid is None:
        return bce.flatten(1).sum(1), torch.full_like(bce[:, 0, 0], bce[0].numel())
    ok = valid.narrow(tdim, 0, size - 1) & valid.narrow(tdim, 1, size - 1)
    return where_valid(bce, ok).flatten(1).sum(1), ok.flatten(1).sum(1).to(bce.dtype)


def _check_options(mode: str, ignore_index: int | None, reduction: str) -> int | None:
    """Validate the options of :func:`fkl_loss` and :class:`FKLLoss`; return ``ignore_index`` as a Python int."""
    check_choice(mode, "mode", CLASS_MODES)
    check_choice(reduction, "reduction", REDUCTIONS)
    return check_ignore_index(ignore_index)


def fkl_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    mode: str = "multiclass",
    ignore_index: int | None = 255,
    reduction: str = "mean",
) -> torch.Tensor:
    """FKL loss of the ABL paper (eq. 7) over all horizontal and vertical pixel edges.

    ``FKL = 1/N_e Σ_e [softplus(k_e) − y_e k_e]`` with ``k_e = KL(P_ei ‖ P_ej)`` and ``y_e = [G_ei ≠ G_ej]``
    (that is ``BCE(σ(k_e), y_e)``), for the edges between each pixel and its neighbours (1, 0) and (0, 1).

    Args:
        pred: logits ``(N, C, h, w)`` (binary: ``(N, 1, h, w)``); resized bilinearly (``align_corners=True``) to the
            target size when it differs.
        target: class ids ``(N, H, W)``.
        mode: ``"multiclass"`` (softmax) or ``"binary"`` (simplex ``[1 − σ, σ]``).
        ignore_index: label of ignored pixels (default 255, as the ABL code); an edge touching one is skipped.
        reduction: ``"mean"`` (over all valid edges of the batch), ``"sum"`` (sum of per-image means) or ``"none"``
            (per-image means ``(N,)``).

    Shapes:
        pred ``(N, C, h, w)``, target ``(N, H, W)`` → 0-d or ``(N,)``.

    Returns:
        Float32 loss (float64 for float64 ``pred``); a zero with graph when no edge is valid.

    Raises:
        TypeError: for non-float ``pred`` or non-integer ``target``.
        ValueError: for bad shapes, channels, labels or options.

    Example:
        >>> loss = fkl_loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)))
    """
    ignore_index = _check_options(mode, ignore_index, reduction)
    check_logits(pred, "pred", ndim=4)
    num_classes = check_mode_channels(pred, mode)
    target = _validate_target(target, pred.shape[0], mode, channels=pred.shape[1])
    check_same_device(pred, target, "pred", "target")
    check_label_dtype(target)
    check_values(label_ids("target", target, num_classes, ignore_index), finite("pred", pred))
    target = target.long()  # uint8 / int32 class ids work like int64
    h, w = target.shape[1:]
    with _autocast_off(pred.device):
        z = _as_class_logits(pred, mode)
        if z.shape[2:] != (h, w):
            z = F.interpolate(z, size=(h, w), mode="bilinear", align_corners=True)
        logp = F.log_softmax(z, dim=1)
        valid = None if ignore_index is None else target != ignore_index
        num = torch.zeros(pred.shape[0], dtype=logp.dtype, device=logp.device)
        den = torch.zeros_like(num)
        for dim in (2, 3):  # vertical and horizontal edges
            if logp.shape[dim] > 1:
                s, k = _edge_terms(logp, target, valid, dim)
                num, den = num + s, den + k
        num = num + zero_with_graph(z)  # keep the graph when the image has no edge at all
        if reduction == "mean":
            total = den.sum()
            return num.sum() / torch.where(total > 0, total, torch.ones_like(total))
        per_image = num / torch.where(den > 0, den, torch.ones_like(den))
        return per_image.sum() if reduction == "sum" else per_image


class FKLLoss(LossModule):
    """FKL loss module (ABL paper, eq. 7); see :func:`fkl_loss`.

    Args:
        mode: ``"multiclass"`` or ``"binary"``.
        ignore_index: ignored label (default 255) or ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shapes:
        forward(pred ``(N, C, h, w)``, target ``(N, H, W)``) → 0-d or ``(N,)``.

    Example:
        >>> loss = FKLLoss()(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)))
    """

    def __init__(self, *, mode: str = "multiclass", ignore_index: int | None = 255, reduction: str = "mean") -> None:
        super().__init__()
        self.mode, self.ignore_index, self.reduction = mode, _check_options(mode, ignore_index, reduction), reduction

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Compute the loss."""
        return fkl_loss(pred, target, mode=self.mode, ignore_index=self.ignore_index, reduction=self.reduction)
