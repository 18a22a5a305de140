"""IS-Net intermediate supervision of Qin et al., *Highly Accurate Dichotomous Image Segmentation* (ECCV 2022, §4.1).

IS-Net trains the segmentation network with two sums over its ``D = 6`` decoder stages:

* the feature-consistency loss ``L_fs = Σ_d λ_d ‖f_d^I − f_d^G‖²`` between the image branch's
  features ``f^I`` and those of a frozen *GT encoder* applied to the mask, ``f^G``
  (:class:`FeatureConsistencyLoss`);
* deep supervision of the side outputs, ``L_sg = Σ_d λ_d BCE(side_d, G)``
  (:class:`DeepSupervisionLoss`).

The authors' code (xuebinqin/DIS, ``IS-Net/models/isnet.py``, ``muti_loss_fusion_kl``) takes the
mean over all elements of each level (``nn.MSELoss``), all ``λ = 1``, resizes the mask to each
side output bilinearly with ``align_corners=True`` when the sizes differ, and applies ``nn.BCELoss``
to sigmoided side outputs. Here the side outputs are logits (numerically equal, autocast safe);
``from_logits=False`` accepts probabilities and clamps the logs at −100 like ``nn.BCELoss``.

The authors' GT encoder is frozen only through ``requires_grad=False``: it is never put in
``eval()`` mode, so its BatchNorm layers normalise with batch statistics and keep updating their
running statistics during the main training ("drift"). :func:`freeze_gt_encoder` freezes it
properly by default and offers their behaviour as ``mode="official"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from segloss._validation import (
    REDUCTIONS,
    check_bool,
    check_choice,
    check_number,
    check_same_device,
    check_tensor,
    check_values,
    finite,
    float32_logits,
    in_range,
    reduce,
)

__all__ = [
    "DeepSupervisionLoss",
    "FeatureConsistencyLoss",
    "FrozenEncoder",
    "ISNetLoss",
    "deep_supervision_loss",
    "feature_consistency_loss",
    "freeze_gt_encoder",
    "isnet_loss",
]

FEATURE_MODES = ("mse", "mae", "kl", "smooth_l1")
FREEZE_MODES = ("eval", "official")


def _check_weights(weights: Sequence[float] | torch.Tensor | None, count: int, name: str) -> list[float] | None:
    if weights is None:
        return None
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().tolist()
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence):
        raise TypeError(f"`{name}` must be a sequence of numbers or None; got {type(weights).__name__}")
    if len(weights) != count:
        raise ValueError(f"`{name}` must have one weight per level ({count}); got {len(weights)}")
    for i, w in enumerate(weights):
        check_number(w, f"{name}[{i}]", low=0.0)
    return [float(w) for w in weights]


def _check_list(x: Any, name: str) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor) or not isinstance(x, Sequence) or isinstance(x, (str, bytes)):
        raise TypeError(f"`{name}` must be a list or tuple of tensors (one per level); got {type(x).__name__}")
    if len(x) == 0:
        raise ValueError(f"`{name}` must hold at least one level; got an empty sequence")
    for i, t in enumerate(x):
        check_tensor(t, f"{name}[{i}]")
        if not t.is_floating_point():
            raise TypeError(f"`{name}[{i}]` must be a floating-point tensor; got dtype {t.dtype}")
        if t.ndim < 2:
            raise ValueError(f"`{name}[{i}]` must be (N, C, *) with at least 2 dimensions; got {tuple(t.shape)}")
        if t.numel() == 0:
            raise ValueError(f"`{name}[{i}]` must not be empty; got shape {tuple(t.shape)}")
    return list(x)


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
    return _feature_consistency(student, teacher, weights, mode, reduction, ("student", "teacher"))


def _feature_consistency(
    student: Sequence[torch.Tensor],
    teacher: Sequence[torch.Tensor],
    weights: Sequence[float] | None,
    mode: str,
    reduction: str,
    names: tuple[str, str],
) -> torch.Tensor:
    """:func:`feature_consistency_loss` with the argument names its caller uses in messages."""
    sn, tn = names
    student = _check_list(student, sn)
    teacher = _check_list(teacher, tn)
    check_choice(mode, "mode", FEATURE_MODES)
    check_choice(reduction, "reduction", REDUCTIONS)
    if len(student) != len(teacher):
        raise ValueError(
            f"`{sn}` and `{tn}` must have the same number of levels; got {len(student)} and {len(teacher)}"
        )
    lam = _check_weights(weights, len(student), "weights")
    n = student[0].shape[0]
    total = None
    for d, (s, t) in enumerate(zip(student, teacher)):
        if s.shape != t.shape:
            raise ValueError(
                f"`{tn}[{d}]` must have the shape of `{sn}[{d}]` {tuple(s.shape)} (level {d}); "
                f"got {tuple(t.shape)}"
            )
        if s.shape[0] != n:
            raise ValueError(f"`{sn}[{d}]` must have batch size {n} like `{sn}[0]`; got {s.shape[0]}")
        check_same_device(s, t, f"{sn}[{d}]", f"{tn}[{d}]")
    check_values(*(finite(f"{sn}[{d}]", x) for d, x in enumerate(student)),
                 *(finite(f"{tn}[{d}]", x) for d, x in enumerate(teacher)))
    for d, (s, t) in enumerate(zip(student, teacher)):
        term = _level_feature_loss(s, t, mode)
        if lam is not None:
            term = term * lam[d]
        total = term if total is None else total + term
    assert total is not None
    return reduce(total, reduction)


class FeatureConsistencyLoss(nn.Module):
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
        self.weights = None if weights is None else _check_weights(weights, len(weights), "weights")
        self.mode = mode
        self.reduction = reduction

    def forward(self, student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor]) -> torch.Tensor:
        """Feature-consistency loss of the ``student`` features towards the (detached) ``teacher`` ones."""
        return feature_consistency_loss(
            student, teacher, weights=self.weights, mode=self.mode, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        """Short summary of the options for ``repr``."""
        return f"mode={self.mode!r}, weights={self.weights}, reduction={self.reduction!r}"


# --------------------------------------------------------------------------------------------------
# deep supervision of the side outputs
# --------------------------------------------------------------------------------------------------


def _prepare_mask(target: Any, n: int) -> torch.Tensor:
    check_tensor(target, "target")
    if target.is_complex():
        raise TypeError(f"`target` must be a real (float, integer or bool) tensor; got dtype {target.dtype}")
    if target.ndim == 3:
        target = target.unsqueeze(1)
    if target.ndim != 4 or target.shape[1] != 1 or target.shape[0] != n:
        raise ValueError(
            f"`target` must be (N, 1, H, W) or (N, H, W) with N = {n} like the side outputs; got {tuple(target.shape)}"
        )
    return target


def _bce_per_sample(side: torch.Tensor, target: torch.Tensor, from_logits: bool) -> torch.Tensor:
    if from_logits:
        elem = F.binary_cross_entropy_with_logits(side, target, reduction="none")
    else:  # nn.BCELoss semantics: logs clamped at -100
        log_p = torch.log(side).clamp_min(-100.0)
        log_q = torch.log1p(-side).clamp_min(-100.0)
        elem = -(target * log_p + (1.0 - target) * log_q)
    return elem.flatten(1).mean(1)


def deep_supervision_loss(
    side_outputs: Sequence[torch.Tensor],
    target: torch.Tensor,
    *,
    weights: Sequence[float] | None = None,
    from_logits: bool = True,
    reduction: str = "mean",
) -> torch.Tensor:
    """Deep supervision of side outputs ``L_sg = Σ_d λ_d BCE(side_d, G)`` (IS-Net / U²-Net).

    Each level contributes the mean binary cross-entropy over its elements. When a side output's
    size differs from the mask's, the mask is resized to it bilinearly with ``align_corners=True``
    (as the authors' ``muti_loss_fusion``). The BCE is computed from logits
    (``binary_cross_entropy_with_logits``), in float32, which is safe under autocast;
    ``from_logits=False`` takes probabilities and clamps the logs at −100 like ``nn.BCELoss``.

    Args:
        side_outputs: the side outputs, one tensor per level (logits by default).
        target: the ground-truth mask in ``[0, 1]`` (any real dtype; ``uint8`` 0/1 fine).
        weights: ``λ_d ≥ 0`` per level, or ``None`` (all 1, as the authors).
        from_logits: side outputs are logits (default ``True``).
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per sample ``(N,)``).

    Shapes:
        side_outputs[d]: ``(N, 1, H_d, W_d)``; target: ``(N, 1, H, W)`` or ``(N, H, W)``;
        output 0-d or ``(N,)``.

    Returns:
        The summed BCE (float32; float64 for float64 side outputs).

    Raises:
        TypeError / ValueError: on non-tensors, shapes (naming the level), devices or options.

    Example:
        >>> sides = [torch.randn(2, 1, 32, 32, requires_grad=True), torch.randn(2, 1, 16, 16, requires_grad=True)]
        >>> gt = (torch.rand(2, 1, 32, 32) > 0.5).float()
        >>> deep_supervision_loss(sides, gt).backward()
    """
    sides = _check_list(side_outputs, "side_outputs")
    check_choice(reduction, "reduction", REDUCTIONS)
    check_bool(from_logits, "from_logits")
    lam = _check_weights(weights, len(sides), "weights")
    n = sides[0].shape[0]
    target = _prepare_mask(target, n)
    for d, side in enumerate(sides):
        if side.ndim != 4 or side.shape[0] != n or side.shape[1] != 1:
            raise ValueError(f"`side_outputs[{d}]` must be (N, 1, H_d, W_d) with N = {n}; got {tuple(side.shape)}")
        check_same_device(side, target, f"side_outputs[{d}]", "target")
    side_rules = (finite(f"side_outputs[{d}]", x) if from_logits else
                  in_range(f"side_outputs[{d}]", x, what="probabilities (from_logits=False)")
                  for d, x in enumerate(sides))
    check_values(*side_rules, in_range("target", target, what="a 0/1 or soft mask"))
    dtype = float32_logits(sides[0]).dtype
    gt = target.to(dtype)
    total = None
    for d, side in enumerate(sides):
        s = float32_logits(side).to(dtype)
        g = gt
        if s.shape[2:] != g.shape[2:]:
            g = F.interpolate(gt, size=s.shape[2:], mode="bilinear", align_corners=True)
        term = _bce_per_sample(s, g, from_logits)
        if lam is not None:
            term = term * lam[d]
        total = term if total is None else total + term
    assert total is not None
    return reduce(total, reduction)


class DeepSupervisionLoss(nn.Module):
    """Deep supervision ``Σ_d λ_d BCE(side_d, G)`` on logits; module form of :func:`deep_supervision_loss`.

    Args:
        weights: ``λ_d`` per level or ``None`` (all 1).
        from_logits: side outputs are logits (default ``True``).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shapes:
        ``forward(side_outputs, target)``: list of ``(N, 1, H_d, W_d)``; target ``(N, 1, H, W)`` / ``(N, H, W)``.

    Example:
        >>> crit = DeepSupervisionLoss()
        >>> loss = crit([torch.randn(2, 1, 16, 16), torch.randn(2, 1, 8, 8)], torch.ones(2, 16, 16))
    """

    def __init__(
        self, *, weights: Sequence[float] | None = None, from_logits: bool = True, reduction: str = "mean"
    ) -> None:
        super().__init__()
        check_choice(reduction, "reduction", REDUCTIONS)
        check_bool(from_logits, "from_logits")
        self.weights = None if weights is None else _check_weights(weights, len(weights), "weights")
        self.from_logits = from_logits
        self.reduction = reduction

    def forward(self, side_outputs: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Summed BCE of the side outputs against the (resized) mask."""
        return deep_supervision_loss(
            side_outputs, target, weights=self.weights, from_logits=self.from_logits, reduction=self.reduction
        )


# --------------------------------------------------------------------------------------------------
# IS-Net total loss
# --------------------------------------------------------------------------------------------------


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

    Example:
        >>> sides = [torch.randn(2, 1, 16, 16, requires_grad=True)]
        >>> f_img, f_gt = [torch.randn(2, 4, 8, 8, requires_grad=True)], [torch.randn(2, 4, 8, 8)]
        >>> total, parts = isnet_loss(sides, torch.ones(2, 16, 16), f_img, f_gt)
        >>> total.backward(); sorted(parts)
        ['feature', 'side', 'side_first']
    """
    check_choice(feature_mode, "feature_mode", FEATURE_MODES)
    check_choice(reduction, "reduction", REDUCTIONS)
    side = deep_supervision_loss(side_outputs, target, weights=side_weights, from_logits=from_logits, reduction="none")
    feat = _feature_consistency(student_features, teacher_features, feature_weights, feature_mode, "none",
                                ("student_features", "teacher_features"))
    if feat.shape != side.shape:
        raise ValueError(
            f"`student_features` must have the batch size of `side_outputs` ({side.shape[0]}); got {feat.shape[0]}"
        )
    with torch.no_grad():
        first_weight = None if side_weights is None else [float(side_weights[0])]
        first = deep_supervision_loss(
            [side_outputs[0]], target, weights=first_weight, from_logits=from_logits, reduction="mean"
        )
        parts = {"side": side.detach().mean(), "feature": feat.detach().mean(), "side_first": first}
    return reduce(side + feat, reduction), parts


class ISNetLoss(nn.Module):
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
        self.side_weights = side_weights
        self.feature_weights = feature_weights
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


# --------------------------------------------------------------------------------------------------
# frozen GT encoder
# --------------------------------------------------------------------------------------------------


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
        """Run the encoder without recording gradients."""
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

    Returns:
        A :class:`FrozenEncoder` wrapping ``module``; call it like the module.

    Raises:
        TypeError: if ``module`` is not an ``nn.Module``.
        ValueError: on an unknown ``mode``.

    Example:
        >>> enc = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4))
        >>> frozen = freeze_gt_encoder(enc)
        >>> feats = frozen(torch.rand(2, 1, 8, 8))
        >>> feats.requires_grad, enc.training
        (False, False)
    """
    return FrozenEncoder(module, mode)
