"""IS-Net's total training loss (Qin et al., ECCV 2022, §4.1): deep supervision plus feature consistency.

``L = L_sg + L_fs`` with ``L_sg`` of :mod:`segloss.deep_supervision` and ``L_fs`` of
:mod:`segloss.feature_consistency`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from segloss._levels import check_level_weights, sum_levels
from segloss._module import LossModule
from segloss._validation import (
    REDUCTIONS,
    check_bool,
    check_choice,
    check_same_device,
    check_values,
    reduce,
)
from segloss.deep_supervision import _check_sides, _side_terms, _warn_if_probabilities
from segloss.feature_consistency import FEATURE_MODES, _check_features, _feature_terms

__all__ = [
    "ISNetLoss",
    "isnet_loss",
]


def isnet_loss(
    side_outputs: Sequence[torch.Tensor],
    target: torch.Tensor,
    student_features: Sequence[torch.Tensor],
    teacher_features: Sequence[torch.Tensor],
    *,
    side_weights: Sequence[float] | None = None,
    feature_weights: Sequence[float] | None = None,
    feature_mode: str = "mse",
    from_logits: bool = True,
    reduction: str = "mean",
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """IS-Net training loss ``L_sg + L_fs`` (Qin et al. 2022, §4.1), with its parts for logging.

    ``L = Σ_d λ^sg_d BCE(side_d, G) + Σ_d λ^fs_d mean((f_d^I − f_d^G)²)``; with the defaults this
    is the authors' ``muti_loss_fusion_kl(..., mode='MSE')`` (on logits instead of probabilities).

    Args:
        side_outputs: side-output logits, one per level (IS-Net: 6, ``side_outputs[0]`` the final map).
        target: the mask ``G``.
        student_features: the image branch's features ``f^I`` (IS-Net: 6 levels).
        teacher_features: the frozen GT encoder's features ``f^G`` (detached here).
        side_weights: ``λ^sg`` or ``None`` (all 1).
        feature_weights: ``λ^fs`` or ``None`` (all 1).
        feature_mode: ``"mse"`` (default), ``"mae"``, ``"kl"`` or ``"smooth_l1"``.
        from_logits: side outputs are logits (default ``True``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per sample ``(N,)``).

    Shapes:
        See :func:`deep_supervision_loss` and :func:`feature_consistency_loss`.

    Returns:
        ``(total, parts)``: the loss to back-propagate and a dict of *detached* 0-d tensors for
        logging: ``"side"`` (``L_sg``), ``"feature"`` (``L_fs``), and ``"side_first"``, the BCE of
        the first side output alone (the authors' "tar" loss). ``parts`` are batch means whatever
        the ``reduction``.

    Raises:
        TypeError / ValueError: as the two component losses.

    Warns:
        UserWarning: on side outputs that look like probabilities, as :func:`deep_supervision_loss`.

    Example:
        >>> sides = [torch.randn(2, 1, 16, 16, requires_grad=True)]
        >>> f_img, f_gt = [torch.randn(2, 4, 8, 8, requires_grad=True)], [torch.randn(2, 4, 8, 8)]
        >>> total, parts = isnet_loss(sides, torch.ones(2, 16, 16), f_img, f_gt)
        >>> total.backward(); sorted(parts)
        ['feature', 'side', 'side_first']
    """
    check_choice(feature_mode, "feature_mode", FEATURE_MODES)
    check_choice(reduction, "reduction", REDUCTIONS)
    sides, target, side_lam, side_rules = _check_sides(side_outputs, target, side_weights, from_logits, "side_weights")
    student, teacher, feat_lam, feat_rules = _check_features(
        student_features, teacher_features, feature_weights, feature_mode,
        ("student_features", "teacher_features", "feature_weights"),
    )
    if student[0].shape[0] != sides[0].shape[0]:
        raise ValueError(
            f"`student_features` must have the batch size of `side_outputs` ({sides[0].shape[0]}); "
            f"got {student[0].shape[0]}"
        )
    check_same_device(student[0], sides[0], "student_features[0]", "side_outputs[0]")
    seen = check_values(*side_rules, *feat_rules)  # one host read for all the inputs
    _warn_if_probabilities(seen, len(sides), from_logits)
    side_terms = _side_terms(sides, target, side_lam, from_logits)
    side = sum_levels(side_terms)
    feat = sum_levels(_feature_terms(student, teacher, feat_lam, feature_mode))
    parts = {"side": side.detach().mean(), "feature": feat.detach().mean(), "side_first": side_terms[0].detach().mean()}
    return reduce(side + feat, reduction), parts


class ISNetLoss(LossModule):
    """IS-Net training loss (deep supervision + feature consistency); module form of :func:`isnet_loss`.

    ``forward(side_outputs, target, student_features, teacher_features)`` returns ``(total, parts)``
    — call ``total.backward()``; ``parts`` holds detached ``"side"``, ``"feature"`` and
    ``"side_first"`` values for logging.

    Args:
        side_weights, feature_weights, feature_mode, from_logits, reduction: see :func:`isnet_loss`.

    Example:
        >>> crit = ISNetLoss()
        >>> total, parts = crit([torch.randn(2, 1, 16, 16)], torch.ones(2, 16, 16),
        ...                     [torch.randn(2, 4, 8, 8)], [torch.randn(2, 4, 8, 8)])
    """

    def __init__(
        self,
        *,
        side_weights: Sequence[float] | None = None,
        feature_weights: Sequence[float] | None = None,
        feature_mode: str = "mse",
        from_logits: bool = True,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        check_choice(feature_mode, "feature_mode", FEATURE_MODES)
        check_choice(reduction, "reduction", REDUCTIONS)
        check_bool(from_logits, "from_logits")
        self.side_weights = check_level_weights(side_weights, None, "side_weights")
        self.feature_weights = check_level_weights(feature_weights, None, "feature_weights")
        self.feature_mode = feature_mode
        self.from_logits = from_logits
        self.reduction = reduction

    def forward(
        self,
        side_outputs: Sequence[torch.Tensor],
        target: torch.Tensor,
        student_features: Sequence[torch.Tensor],
        teacher_features: Sequence[torch.Tensor],
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(total, parts)`` of the IS-Net loss."""
        return isnet_loss(
            side_outputs,
            target,
            student_features,
            teacher_features,
            side_weights=self.side_weights,
            feature_weights=self.feature_weights,
            feature_mode=self.feature_mode,
            from_logits=self.from_logits,
            reduction=self.reduction,
        )
