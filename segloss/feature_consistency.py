"""IS-Net's feature-consistency loss and frozen GT encoder.

Qin et al., *Highly Accurate Dichotomous Image Segmentation* (ECCV 2022, §4.1):

``L_fs = Σ_d λ_d ‖f_d^I − f_d^G‖²`` between the image branch's features ``f^I`` and those of a frozen *GT encoder*
applied to the mask, ``f^G`` (:class:`FeatureConsistencyLoss`). The authors' code (xuebinqin/DIS,
``IS-Net/models/isnet.py``, ``muti_loss_fusion_kl``) takes the mean over all elements of each level
(``nn.MSELoss``), all ``λ = 1``.

The authors' GT encoder is frozen only through ``requires_grad=False``: it is never put in
``eval()`` mode, so its BatchNorm layers normalise with batch statistics and keep updating their
running statistics during the main training ("drift"). :func:`freeze_gt_encoder` freezes it
properly by default and offers their behaviour as ``mode="official"``.

Deep supervision of the side outputs is :mod:`segloss.deep_supervision`; IS-Net's total loss (both sums) is
:mod:`segloss.isnet`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from segloss._levels import check_level_list, check_level_weights, sum_levels
from segloss._module import LossModule
from segloss._validation import (
    REDUCTIONS,
    ValueRule,
    check_choice,
    check_same_device,
    check_values,
    finite,
    float32_logits,
    reduce,
)

__all__ = [
    "FeatureConsistencyLoss",
    "FrozenEncoder",
    "feature_consistency_loss",
    "freeze_gt_encoder",
]

FEATURE_MODES = ("mse", "mae", "kl", "smooth_l1")
FREEZE_MODES = ("eval", "official")


def _level_feature_loss(student: torch.Tensor, teacher: torch.Tensor, mode: str) -> torch.Tensor:
    """Per-sample mean ``(N,)`` of one level's elementwise feature loss (float32 inside)."""
    s = float32_logits(student)
    t = float32_logits(teacher.detach()).to(s.dtype)
    if mode == "mse":
        elem = (s - t).square()
    elif mode == "mae":
        elem = (s - t).abs()
    elif mode == "smooth_l1":
        elem = F.smooth_l1_loss(s, t, reduction="none", beta=1.0)
    else:
        # kl: KLDivLoss(log_softmax(s), softmax(t)), element mean. Σ_c q (log q − log_softmax(s)) per
        # pixel = negative entropy of q (constant, no gradient) + soft-target cross-entropy (fused).
        with torch.no_grad():
            log_q = F.log_softmax(t, dim=1)
            neg_entropy = (log_q.exp() * log_q).flatten(1).sum(1)
            q = log_q.exp_()
        cross = F.cross_entropy(s, q, reduction="none")
        return (neg_entropy + cross.reshape(s.shape[0], -1).sum(1)) / s[0].numel()
    return elem.flatten(1).mean(1)


def feature_consistency_loss(
    student: Sequence[torch.Tensor],
    teacher: Sequence[torch.Tensor],
    *,
    weights: Sequence[float] | None = None,
    mode: str = "mse",
    reduction: str = "mean",
) -> torch.Tensor:
    """IS-Net feature-consistency loss ``L_fs = Σ_d λ_d ‖f_d^I − f_d^G‖²`` (Qin et al. 2022, §4.1).

    Each level contributes the mean over its elements (as ``nn.MSELoss`` in the authors' code),
    weighted by ``λ_d`` (all 1 by default, as the authors)::

        L_fs = Σ_d λ_d · mean((f_d^I − f_d^G)²)

    ``mode`` selects the elementwise distance of the ablation (Table 3): ``"mse"`` (L2, default),
    ``"mae"`` (L1), ``"kl"`` — the authors' ``nn.KLDivLoss`` (element mean, not batch mean) of
    ``log_softmax(f^I)`` against ``softmax(f^G)`` over the channel axis — and ``"smooth_l1"``
    (also in their code). The targets ``f^G`` are detached.

    Args:
        student: the image branch's features ``f_d^I``, one tensor per level.
        teacher: the GT encoder's features ``f_d^G``, same shapes (detached here).
        weights: ``λ_d ≥ 0`` per level, or ``None`` for all 1.
        mode: ``"mse"`` (default), ``"mae"``, ``"kl"`` or ``"smooth_l1"``.
        reduction: ``"mean"`` (default), ``"sum"`` (over samples of the per-sample values) or
            ``"none"`` (per sample ``(N,)``: level means taken per sample).

    Shapes:
        student[d], teacher[d]: ``(N, C_d, H_d, W_d)`` (any ``(N, C_d, *)``), equal per level;
        output 0-d or ``(N,)``.

    Returns:
        The loss (float32; float64 when the student features are float64).

    Raises:
        TypeError: if the inputs are not sequences of floating tensors.
        ValueError: on differing lengths, batch sizes or shapes (the message names the level),
            bad weights, ``mode`` or ``reduction``.

    Example:
        >>> f_img = [torch.randn(2, 8, 16, 16, requires_grad=True), torch.randn(2, 16, 8, 8, requires_grad=True)]
        >>> f_gt = [torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8)]
        >>> loss = feature_consistency_loss(f_img, f_gt)
        >>> loss.backward()
    """
    check_choice(reduction, "reduction", REDUCTIONS)
    student, teacher, lam, rules = _check_features(student, teacher, weights, mode, ("student", "teacher", "weights"))
    check_values(*rules)
    return reduce(sum_levels(_feature_terms(student, teacher, lam, mode)), reduction)


def _check_features(
    student: Sequence[torch.Tensor],
    teacher: Sequence[torch.Tensor],
    weights: Sequence[float] | None,
    mode: str,
    names: tuple[str, str, str],
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[float] | None, list[ValueRule]]:
    """Checked ``(student, teacher, weights, value rules)``, messages with the caller's argument ``names``.

    The caller runs the rules (one host read for all its arguments).
    """
    sn, tn, wn = names
    student = check_level_list(student, sn)
    teacher = check_level_list(teacher, tn)
    check_choice(mode, "mode", FEATURE_MODES)
    if len(student) != len(teacher):
        raise ValueError(
            f"`{sn}` and `{tn}` must have the same number of levels; got {len(student)} and {len(teacher)}"
        )
    lam = check_level_weights(weights, len(student), wn)
    n = student[0].shape[0]
    for d, (s, t) in enumerate(zip(student, teacher)):
        if s.shape != t.shape:
            raise ValueError(
                f"`{tn}[{d}]` must have the shape of `{sn}[{d}]` {tuple(s.shape)} (level {d}); "
                f"got {tuple(t.shape)}"
            )
        if s.shape[0] != n:
            raise ValueError(f"`{sn}[{d}]` must have batch size {n} like `{sn}[0]`; got {s.shape[0]}")
        check_same_device(s, t, f"{sn}[{d}]", f"{tn}[{d}]")
    rules = [finite(f"{sn}[{d}]", x) for d, x in enumerate(student)]
    rules += [finite(f"{tn}[{d}]", x) for d, x in enumerate(teacher)]
    return student, teacher, lam, rules


def _feature_terms(
    student: list[torch.Tensor], teacher: list[torch.Tensor], lam: list[float] | None, mode: str
) -> list[torch.Tensor]:
    """``λ_d · mean(ℓ(f_d^I, f_d^G))`` per level, each per sample ``(N,)``, of checked inputs."""
    terms = []
    for d, (s, t) in enumerate(zip(student, teacher)):
        term = _level_feature_loss(s, t, mode)
        terms.append(term if lam is None else term * lam[d])
    return terms


class FeatureConsistencyLoss(LossModule):
    """IS-Net feature-consistency loss; module form of :func:`feature_consistency_loss`.

    ``L_fs = Σ_d λ_d · mean((f_d^I − f_d^G)²)`` over lists of feature maps, targets detached.

    Args:
        weights: ``λ_d`` per level or ``None`` (all 1).
        mode: ``"mse"`` (default), ``"mae"``, ``"kl"`` or ``"smooth_l1"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shapes:
        ``forward(student, teacher)``: two equal-length lists of ``(N, C_d, H_d, W_d)`` tensors.

    Example:
        >>> crit = FeatureConsistencyLoss(mode="kl")
        >>> loss = crit([torch.randn(2, 4, 8, 8)], [torch.randn(2, 4, 8, 8)])
    """

    def __init__(self, *, weights: Sequence[float] | None = None, mode: str = "mse", reduction: str = "mean") -> None:
        super().__init__()
        check_choice(mode, "mode", FEATURE_MODES)
        check_choice(reduction, "reduction", REDUCTIONS)
        self.weights = check_level_weights(weights, None, "weights")
        self.mode = mode
        self.reduction = reduction

    def forward(self, student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> torch.Tensor:
        """Feature-consistency loss of the ``student`` features towards the (detached) ``teacher`` ones."""
        return feature_consistency_loss(
            student, teacher, weights=self.weights, mode=self.mode, reduction=self.reduction
        )


class FrozenEncoder(nn.Module):
    """A frozen feature extractor (IS-Net's GT encoder): parameters without gradient, forward under ``no_grad``.

    Built by :func:`freeze_gt_encoder`. With ``mode="eval"`` the wrapped module is kept in eval
    mode even when a parent model calls ``.train()`` (BatchNorm uses its running statistics and
    never updates them; dropout is off). With ``mode="official"`` it follows ``train()`` /
    ``eval()`` like any module and starts in train mode, which is what the authors' code does:
    BatchNorm then normalises with the statistics of each batch of masks and its running
    statistics drift at every call.

    Args:
        module: the trained encoder.
        mode: ``"eval"`` (default) or ``"official"``.

    Attributes:
        module: the wrapped encoder (``state_dict`` keys get a ``module.`` prefix).
        mode: the freezing mode.
    """

    def __init__(self, module: nn.Module, mode: str = "eval") -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"`module` must be a torch.nn.Module; got {type(module).__name__}")
        check_choice(mode, "mode", FREEZE_MODES)
        if isinstance(module, FrozenEncoder):  # nesting would add a second `module.` to every state_dict key
            raise ValueError(
                f"`module` must be the encoder itself, not a FrozenEncoder; got one with mode={module.mode!r} "
                f"(to freeze with mode={mode!r}, pass its `.module`)"
            )
        self.module = module
        self.mode = mode
        module.requires_grad_(False)
        self.train(True)

    def train(self, mode: bool = True) -> FrozenEncoder:
        """Set train mode; in ``mode="eval"`` the wrapped encoder stays in eval mode regardless."""
        if not isinstance(mode, bool):
            raise TypeError(f"`mode` must be a bool; got {type(mode).__name__}")
        self.training = mode
        self.module.train(mode if self.mode == "official" else False)
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the encoder without recording gradients (in ``mode="eval"``: in eval mode, whoever set it to train)."""
        if self.mode == "eval" and self.module.training:
            # a parent that holds the encoder itself (not this wrapper) ran .train() on it (and so on its root)
            self.module.train(False)
        with torch.no_grad():
            return self.module(*args, **kwargs)

    def extra_repr(self) -> str:
        """Short summary of the options for ``repr``."""
        return f"mode={self.mode!r}"


def freeze_gt_encoder(module: nn.Module, mode: str = "eval") -> FrozenEncoder:
    """Freeze IS-Net's GT encoder (or any teacher network) for the feature-consistency loss.

    Sets ``requires_grad=False`` on every parameter and wraps the module so that its forward runs
    under ``torch.no_grad()`` (saves the activation memory the authors' code spends).

    ``mode="eval"`` (default) freezes *properly*: the encoder is put in eval mode and kept there
    even if a parent calls ``.train()``, so BatchNorm uses the running statistics learned while
    the encoder was trained and its outputs are a fixed function of the mask.

    ``mode="official"`` reproduces xuebinqin/DIS: the encoder is in train mode, so BatchNorm
    normalises each batch with its own statistics and updates its running statistics at every
    call (they drift away from those of encoder training). Use it to reproduce the authors' runs.

    Args:
        module: the trained encoder; modified in place (``requires_grad`` and train/eval mode).
        mode: ``"eval"`` (default) or ``"official"``.

    Calling it again on the returned :class:`FrozenEncoder` with the same ``mode`` returns it
    unchanged. In ``mode="eval"`` the wrapper also puts the encoder back in eval mode before each
    forward, so a parent module that registers the encoder itself (rather than the wrapper) and
    calls ``.train()`` cannot switch its BatchNorm back to batch statistics.

    Returns:
        A :class:`FrozenEncoder` wrapping ``module``; call it like the module.

    Raises:
        TypeError: if ``module`` is not an ``nn.Module``.
        ValueError: on an unknown ``mode``, or a ``module`` already frozen with another ``mode``.

    Example:
        >>> enc = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4))
        >>> frozen = freeze_gt_encoder(enc)
        >>> feats = frozen(torch.rand(2, 1, 8, 8))
        >>> feats.requires_grad, enc.training
        (False, False)
    """
    if isinstance(module, FrozenEncoder) and module.mode == mode:
        return module
    return FrozenEncoder(module, mode)
