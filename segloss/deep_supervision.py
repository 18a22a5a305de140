"""Deep supervision of side outputs, ``L_sg = Σ_d λ_d BCE(side_d, G)`` (IS-Net, Qin et al., ECCV 2022, §4.1).

The authors' code (xuebinqin/DIS, ``IS-Net/models/isnet.py``, ``muti_loss_fusion_kl``) resizes the mask to each
side output bilinearly with ``align_corners=True`` when the sizes differ, and applies ``nn.BCELoss`` to sigmoided
side outputs, all ``λ = 1``. Here the side outputs are logits (numerically equal, autocast safe);
``from_logits=False`` accepts probabilities and clamps the logs at −100 like ``nn.BCELoss``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F

from segloss._levels import check_level_list, check_level_weights, sum_levels
from segloss._module import LossModule
from segloss._validation import (
    REDUCTIONS,
    ValueRule,
    check_bool,
    check_choice,
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
    "deep_supervision_loss",
]


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
        # log(p) at p = 0 (or 1/p at a subnormal p) is infinite and the clamp's zero gradient times it is NaN,
        # even where the other label's term is the one that counts: elements whose log has no finite derivative
        # keep their (clamped) value but take it from a detached log, so their gradient is 0, like the clamp's.
        ok_p = side >= torch.finfo(side.dtype).tiny
        ok_q = side < 1
        log_p = torch.where(ok_p, torch.log(torch.where(ok_p, side, 1.0)), torch.log(side.detach())).clamp_min(-100.0)
        log_q = torch.where(ok_q, torch.log1p(-torch.where(ok_q, side, 0.0)), torch.log1p(-side.detach()))
        log_q = log_q.clamp_min(-100.0)
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
    ``from_logits=False`` takes probabilities and clamps the logs at −100 like ``nn.BCELoss``; a
    probability of exactly 0 or 1 (a saturated sigmoid) gives that value and a zero gradient, never NaN.

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

    Warns:
        UserWarning: with value checks on, when ``from_logits=True`` but every side output lies in
            ``[0, 1]`` (sigmoid maps passed as logits; the authors' ``ISNetDIS`` returns those).

    Example:
        >>> sides = [torch.randn(2, 1, 32, 32, requires_grad=True), torch.randn(2, 1, 16, 16, requires_grad=True)]
        >>> gt = (torch.rand(2, 1, 32, 32) > 0.5).float()
        >>> deep_supervision_loss(sides, gt).backward()
    """
    check_choice(reduction, "reduction", REDUCTIONS)
    sides, target, lam, rules = _check_sides(side_outputs, target, weights, from_logits, "weights")
    _warn_if_probabilities(check_values(*rules), len(sides), from_logits)
    return reduce(sum_levels(_side_terms(sides, target, lam, from_logits)), reduction)


def _check_sides(
    side_outputs: Sequence[torch.Tensor],
    target: torch.Tensor,
    weights: Sequence[float] | None,
    from_logits: bool,
    weights_name: str,
) -> tuple[list[torch.Tensor], torch.Tensor, list[float] | None, list[ValueRule]]:
    """Checked ``(sides, target (N, 1, H, W), weights, value rules)``; the caller runs the rules (one read)."""
    sides = check_level_list(side_outputs, "side_outputs")
    check_bool(from_logits, "from_logits")
    lam = check_level_weights(weights, len(sides), weights_name)
    n = sides[0].shape[0]
    target = _prepare_mask(target, n)
    for d, side in enumerate(sides):
        if side.ndim != 4 or side.shape[0] != n or side.shape[1] != 1:
            raise ValueError(f"`side_outputs[{d}]` must be (N, 1, H_d, W_d) with N = {n}; got {tuple(side.shape)}")
        check_same_device(side, target, f"side_outputs[{d}]", "target")
    rules = [finite(f"side_outputs[{d}]", x) if from_logits else
             in_range(f"side_outputs[{d}]", x, what="probabilities (from_logits=False)")
             for d, x in enumerate(sides)]
    rules.append(in_range("target", target, what="a 0/1 or soft mask"))
    return sides, target, lam, rules


def _warn_if_probabilities(seen: dict[str, tuple[float, float]] | None, count: int, from_logits: bool) -> None:
    """Warn when logits are expected but every side output lies in ``[0, 1]`` (sigmoid maps, e.g. the authors' model).

    ``seen`` is what :func:`check_values` returned (``None``: checks off, no warning). Constant maps (a
    zero-initialised head) do not count as probabilities.
    """
    if not from_logits or not seen:
        return
    ranges = [seen.get(f"side_outputs[{d}]") for d in range(count)]
    if any(r is None for r in ranges):
        return
    if all(0.0 <= lo and hi <= 1.0 for lo, hi in ranges) and any(lo < hi for lo, hi in ranges):
        warnings.warn(
            "`side_outputs` lie in [0, 1] at every level: they look like probabilities (sigmoid maps, as the "
            "authors' ISNetDIS returns), but from_logits=True takes logits and would apply a second sigmoid; "
            "return the logits (ISNetDIS(...)(x) does by default) or pass from_logits=False",
            UserWarning,
            stacklevel=3,
        )


def _side_terms(
    sides: list[torch.Tensor], target: torch.Tensor, lam: list[float] | None, from_logits: bool
) -> list[torch.Tensor]:
    """``λ_d · BCE(side_d, G)`` per level, each per sample ``(N,)``, of checked inputs."""
    dtype = float32_logits(sides[0]).dtype
    gt = target.to(dtype)
    terms = []
    for d, side in enumerate(sides):
        s = float32_logits(side).to(dtype)
        g = gt
        if s.shape[2:] != g.shape[2:]:
            g = F.interpolate(gt, size=s.shape[2:], mode="bilinear", align_corners=True)
        term = _bce_per_sample(s, g, from_logits)
        terms.append(term if lam is None else term * lam[d])
    return terms


class DeepSupervisionLoss(LossModule):
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
        self.weights = check_level_weights(weights, None, "weights")
        self.from_logits = from_logits
        self.reduction = reduction

    def forward(self, side_outputs: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """Summed BCE of the side outputs against the (resized) mask."""
        return deep_supervision_loss(
            side_outputs, target, weights=self.weights, from_logits=self.from_logits, reduction=self.reduction
        )
