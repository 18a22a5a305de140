"""Losses of Li, Chen & Koltun, *Interactive Image Segmentation with Latent Diversity* (CVPR 2018).

The segmentation network ``f`` outputs ``M`` masks ``(N, M, H, W)``; it is trained with the
*hindsight* loss (eq. 2 / 5): per sample, the minimum over the ``M`` outputs of the soft Jaccard
distance (eq. 3, :mod:`segloss.soft_jaccard`) plus the click soft constraints (eq. 4). The ranked
diversity variant (eq. 7) adds ``Σ_m λ_m ℓ_m`` so that the outputs come out ordered. The selection
network ``g`` is trained with a cross-entropy over the ``M`` scores towards the output with the
smallest Jaccard distance (eq. 6), on masks shuffled per sample.

What the authors' TensorFlow code (isl-org/Intseg) does differently, all available as options:
product instead of ``min`` in the Jaccard numerator (``form="product"``, ``eps=1e-6``), ``tanh``
outputs (pass ``torch.tanh(x)`` with ``from_logits=False``), ``λ_m = 2.5e-3·2^(M−m)`` instead of
``1e-2·2^(M−m)`` (``lambda_base=2.5e-3``), a click term that is the L1 distance to the *ground
truth* at the clicked pixels averaged over the clicks (``click_reference="target"``,
``click_normalization="clicks"``) and averaged over all ``M`` outputs *outside* the minimum
(``click_placement="outside"``). Their selection network was never released.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F

from segloss._module import LossModule
from segloss._validation import (
    REDUCTIONS,
    ValueRule,
    check_bool,
    check_choice,
    check_ignore_index,
    check_int,
    check_logits,
    check_number,
    check_same_device,
    check_tensor,
    check_values,
    finite,
    float32_logits,
    in_range,
    reduce,
    valid_labels,
)
from segloss.soft_jaccard import JACCARD_FORMS, MASK, _prepare_binary_target, _soft_jaccard_terms

__all__ = [
    "ClickConstraintLoss",
    "HindsightLoss",
    "RankedDiversityLoss",
    "SelectionLoss",
    "click_constraint_loss",
    "hindsight_loss",
    "ranked_diversity_weights",
    "selection_loss",
    "selection_target",
    "shuffle_outputs",
]

CLICK_REFERENCES = ("clicks", "target")
CLICK_NORMALIZATIONS = ("sum", "clicks", "mean")
CLICK_PLACEMENTS = ("inside", "outside")
CLICK_MAP = "a 0/1 click map or soft click weights"


# --------------------------------------------------------------------------------------------------
# click constraints (eq. 4)
# --------------------------------------------------------------------------------------------------


def _click_linear(
    pos: torch.Tensor, neg: torch.Tensor, normalization: str, num_pixels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 4 (reference ``"clicks"``) as ``const + Σ_p B·coef``: ``Σ S_p (1 − B) + Σ S_n B``, normalised.

    ``pos``/``neg`` are ``(..., P)``; returns ``const (...)`` and ``coef (..., P)``.
    """
    const = pos.sum(-1)
    coef = neg - pos
    if normalization == "mean":
        return const / num_pixels, coef / num_pixels
    if normalization == "clicks":
        mass = const + neg.sum(-1)
        inv = torch.where(mass != 0, 1.0 / torch.where(mass != 0, mass, torch.ones_like(mass)), torch.zeros_like(mass))
        return const * inv, coef * inv.unsqueeze(-1)
    return const, coef


def _click_target_terms(
    prob: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, target: torch.Tensor, normalization: str
) -> torch.Tensor:
    """Authors' click term ``Σ_p max(S_p, S_n)·|B − A|`` over the last axis, normalised."""
    weight = torch.maximum(pos, neg)
    total = (weight * (prob - target).abs()).sum(-1)
    if normalization == "sum":
        return total
    if normalization == "mean":
        return total / prob.shape[-1]
    mass = weight.sum(-1)
    inv = torch.where(mass != 0, 1.0 / torch.where(mass != 0, mass, torch.ones_like(mass)), torch.zeros_like(mass))
    return total * inv


def _checked_real(clicks: Any, name: str) -> torch.Tensor:
    """``clicks`` itself, after checking it is a real (float, integer or bool) tensor."""
    check_tensor(clicks, name)
    assert isinstance(clicks, torch.Tensor)
    if clicks.is_complex():
        raise TypeError(f"`{name}` must be a real (float, integer or bool) tensor; got dtype {clicks.dtype}")
    return clicks


def _check_click_options(from_logits: bool, reference: str, normalization: str, reduction: str) -> None:
    """Validate the options of :func:`click_constraint_loss` and :class:`ClickConstraintLoss`."""
    check_bool(from_logits, "from_logits")
    check_choice(reference, "reference", CLICK_REFERENCES)
    check_choice(normalization, "normalization", CLICK_NORMALIZATIONS)
    check_choice(reduction, "reduction", REDUCTIONS)


def click_constraint_loss(
    pred: torch.Tensor,
    pos_clicks: torch.Tensor,
    neg_clicks: torch.Tensor,
    *,
    target: torch.Tensor | None = None,
    from_logits: bool = True,
    reference: str = "clicks",
    normalization: str = "sum",
    reduction: str = "mean",
) -> torch.Tensor:
    """Click soft constraints, eq. 4 of Li, Chen & Koltun (CVPR 2018).

    With ``B = σ(pred)`` and click maps ``S_p`` (positive) and ``S_n`` (negative)::

        ℓ_c = ‖S_p ⊙ (S_p − B)‖₁ + ‖S_n ⊙ (S_n − (1 − B))‖₁

    The paper's click maps are binary, and for ``B`` in ``[0, 1]`` this is exactly
    ``Σ_p S_p (1 − B) + Σ_p S_n B``, which is what is computed (a linear function of ``B``, one
    multiply-add per pixel). Soft click maps in ``[0, 1]`` (e.g. disks with a fall-off) therefore
    act as per-pixel weights pulling ``B`` towards 1 (positive) or 0 (negative); this differs from
    the literal ``|S ⊙ (S − B)|``, which would pull ``B`` towards the map's value. With
    ``from_logits=False`` and values outside ``[0, 1]`` (e.g. ``tanh`` outputs) the linear form is
    not an absolute value either; use ``reference="target"`` there, as the authors did.
    ``reference="target"`` gives the authors' code instead: ``Σ_p max(S_p, S_n) · |B − A|``, the
    L1 distance to the ground truth ``A`` at the clicked pixels (needs ``target``).

    Normalisation of the per-sample sum (``normalization``):
        ``"sum"`` — the plain L1 norm of eq. 4 (default); ``"clicks"`` — divided by the click
        mass ``Σ (S_p + S_n)`` (``Σ max(S_p, S_n)`` for ``reference="target"``; the authors'
        choice), 0 for a sample without clicks; ``"mean"`` — divided by the number of pixels.

    Args:
        pred: logits (or soft masks with ``from_logits=False``).
        pos_clicks: positive click map, 1 at clicked pixels (soft weights in ``[0, 1]`` allowed).
        neg_clicks: negative click map, same layout.
        target: ground truth, only for ``reference="target"``.
        from_logits: apply a sigmoid to ``pred``. Default ``True``.
        reference: ``"clicks"`` (paper, default) or ``"target"`` (authors' code).
        normalization: ``"sum"`` (default), ``"clicks"`` or ``"mean"``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per-sample ``(N,)``).

    Shapes:
        pred: ``(N, 1, H, W)`` or ``(N, H, W)`` (any ``(N, *)``).
        pos_clicks, neg_clicks, target: ``pred``'s shape, or ``(N, H, W)`` for ``(N, 1, H, W)``.
        output: 0-d, or ``(N,)`` for ``reduction="none"``.

    Returns:
        The click constraint loss (float32; float64 for float64 ``pred``).

    Raises:
        TypeError: on a non-tensor or wrongly typed input.
        ValueError: on a bad shape, device or option, or ``reference="target"`` without ``target``.

    Example:
        >>> logits = torch.zeros(1, 1, 4, 4, requires_grad=True)
        >>> pos = torch.zeros(1, 4, 4); pos[0, 1, 1] = 1
        >>> neg = torch.zeros(1, 4, 4); neg[0, 3, 3] = 1
        >>> click_constraint_loss(logits, pos, neg)  # 0.5 + 0.5
        tensor(1., grad_fn=<MeanBackward0>)
    """
    check_logits(pred, "pred", ndim=(2, 3, 4, 5))
    _check_click_options(from_logits, reference, normalization, reduction)
    if reference == "target" and target is None:
        raise ValueError("`target` is required for reference='target'; got None")
    pos_raw = _prepare_binary_target(pred, _checked_real(pos_clicks, "pos_clicks"), "pos_clicks")
    neg_raw = _prepare_binary_target(pred, _checked_real(neg_clicks, "neg_clicks"), "neg_clicks")
    tgt_raw = _prepare_binary_target(pred, target) if reference == "target" else None
    check_values(finite("pred", pred), in_range("pos_clicks", pos_raw, what=CLICK_MAP),
                 in_range("neg_clicks", neg_raw, what=CLICK_MAP), in_range("target", tgt_raw, what=MASK))
    work = float32_logits(pred)
    prob = (torch.sigmoid(work) if from_logits else work).flatten(1)
    pos = pos_raw.to(prob.dtype).flatten(1)
    neg = neg_raw.to(prob.dtype).flatten(1)
    if tgt_raw is not None:
        tgt = tgt_raw.to(prob.dtype).flatten(1)
        per_sample = _click_target_terms(prob, pos, neg, tgt, normalization)
    else:
        const, coef = _click_linear(pos, neg, normalization, prob.shape[-1])
        per_sample = const + (prob * coef).sum(-1)
    return reduce(per_sample, reduction)


class ClickConstraintLoss(LossModule):
    """Module form of :func:`click_constraint_loss` (eq. 4 of Li et al. 2018).

    ``ℓ_c = ‖S_p ⊙ (S_p − B)‖₁ + ‖S_n ⊙ (S_n − (1 − B))‖₁`` per sample, ``B = σ(logits)``.

    Args:
        from_logits: apply a sigmoid to the input. Default ``True``.
        reference: ``"clicks"`` (paper) or ``"target"`` (authors' L1 to the ground truth at clicks).
        normalization: ``"sum"`` (paper L1), ``"clicks"`` or ``"mean"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shapes:
        See :func:`click_constraint_loss`; ``forward(pred, pos_clicks, neg_clicks, target=None)``.

    Example:
        >>> crit = ClickConstraintLoss(normalization="clicks")
        >>> pos = torch.zeros(2, 8, 8); pos[:, 2, 2] = 1
        >>> loss = crit(torch.randn(2, 1, 8, 8), pos, torch.zeros(2, 8, 8))
    """

    def __init__(
        self,
        *,
        from_logits: bool = True,
        reference: str = "clicks",
        normalization: str = "sum",
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        _check_click_options(from_logits, reference, normalization, reduction)
        self.from_logits = from_logits
        self.reference = reference
        self.normalization = normalization
        self.reduction = reduction

    def forward(
        self,
        pred: torch.Tensor,
        pos_clicks: torch.Tensor,
        neg_clicks: torch.Tensor,
        target: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Click constraint of ``pred`` (logits) for the given click maps."""
        return click_constraint_loss(
            pred,
            pos_clicks,
            neg_clicks,
            target=target,
            from_logits=self.from_logits,
            reference=self.reference,
            normalization=self.normalization,
            reduction=self.reduction,
        )


# --------------------------------------------------------------------------------------------------
# hindsight loss (eq. 2 / 5) and ranked diversity (eq. 7)
# --------------------------------------------------------------------------------------------------


def ranked_diversity_weights(
    num_outputs: int,
    lambda_base: float = 1e-2,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The decreasing weights of the ranked diversity loss, ``λ_m = lambda_base · 2^(M − m)``, m = 1..M.

    The paper (eq. 7) uses ``lambda_base = 1e-2``; the authors' code ``2.5e-3``
    (weights 0.08, 0.04, …, 0.0025 for M = 6).

    Args:
        num_outputs: ``M ≥ 1``.
        lambda_base: ``≥ 0``; the weight of the last output.
        device: device of the result.
        dtype: dtype of the result (default float32).

    Returns:
        ``(M,)`` tensor ``[λ_1, …, λ_M]``.

    The weights double with every output, so ``M`` is bounded by the dtype: ``λ_1`` must stay finite
    (``M ≤ 128 − log2(lambda_base)`` in float32, about 134 for ``1e-2``); a larger ``M`` raises
    instead of giving ``inf`` weights and a NaN loss.

    Raises:
        TypeError / ValueError: for a non-integer or non-positive ``num_outputs``, a bad ``lambda_base``, a
            non-floating ``dtype``, or an ``M`` whose first weight would overflow ``dtype``.

    Example:
        >>> ranked_diversity_weights(3)
        tensor([0.0400, 0.0200, 0.0100])
    """
    num_outputs = check_int(num_outputs, "num_outputs", low=1)
    lambda_base = float(check_number(lambda_base, "lambda_base", low=0.0))
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"`dtype` must be a floating dtype; got {dtype}")
    if lambda_base > 0:
        max_outputs = math.floor(math.log2(torch.finfo(dtype).max) - math.log2(lambda_base))  # λ_1 finite
        if num_outputs > max_outputs:
            raise ValueError(
                f"`num_outputs` must be <= {max_outputs} for lambda_base={lambda_base} in {dtype}: the first weight "
                f"lambda_base·2^(M−1) would overflow to inf; got {num_outputs}"
            )
    # 2^(M−m) itself overflows float32 from M = 129 on: form the product in float64 (device op, no sync)
    wide = torch.float32 if torch.device(device or "cpu").type == "mps" else torch.float64
    powers = torch.arange(num_outputs - 1, -1, -1, device=device, dtype=wide)
    return (lambda_base * torch.pow(2.0, powers)).to(dtype)


def _check_multi_output(pred: Any, target: Any, pred_name: str = "pred") -> torch.Tensor:
    """Validate ``pred (N, M, H, W)`` and ``target (N, H, W)``/``(N, 1, H, W)``; return target as ``(N, H, W)``."""
    check_logits(pred, pred_name, ndim=4)
    check_tensor(target, "target")
    n, _, h, w = pred.shape
    if target.shape == (n, 1, h, w):
        target = target[:, 0]
    if target.shape != (n, h, w):
        raise ValueError(
            f"`target` must have shape (N, H, W) = {(n, h, w)} or (N, 1, H, W) matching `{pred_name}` (N, M, H, W) "
            f"= {tuple(pred.shape)}; got {tuple(target.shape)}"
        )
    if target.is_complex():
        raise TypeError(f"`target` must be a real (float, integer or bool) tensor; got dtype {target.dtype}")
    check_same_device(pred, target, pred_name, "target")
    return target


def _multi_output_clicks(clicks: Any, name: str, pred: torch.Tensor) -> torch.Tensor:
    check_tensor(clicks, name)
    n, _, h, w = pred.shape
    if clicks.shape == (n, 1, h, w):
        clicks = clicks[:, 0]
    if clicks.shape != (n, h, w):
        raise ValueError(
            f"`{name}` must have shape (N, H, W) = {(n, h, w)} or (N, 1, H, W) matching `pred` (N, M, H, W) = "
            f"{tuple(pred.shape)}; got {tuple(clicks.shape)}"
        )
    if clicks.is_complex():
        raise TypeError(f"`{name}` must be a real (float, integer or bool) tensor; got dtype {clicks.dtype}")
    check_same_device(pred, clicks, "pred", name)
    return clicks


def _fold(x: torch.Tensor, m: int) -> torch.Tensor:
    """Repeat a per-sample tensor ``(N, *)`` over ``M`` outputs: ``(N·M, *)``, sample-major."""
    return x.unsqueeze(1).expand(x.shape[0], m, *x.shape[1:]).reshape(x.shape[0] * m, *x.shape[1:])


def _per_output_losses(
    pred: torch.Tensor,
    target: torch.Tensor,
    pos_clicks: torch.Tensor | None,
    neg_clicks: torch.Tensor | None,
    *,
    base_loss: Callable[..., torch.Tensor] | None,
    from_logits: bool,
    form: str,
    eps: float,
    click_weight: float,
    click_reference: str,
    click_normalization: str,
    ignore_index: int | None,
    target_raw: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Return ``(inside, ranked, outside)`` per-output losses ``(N, M)`` (``outside`` may be None).

    ``inside`` is minimised over M, ``ranked`` is what the diversity weights multiply, ``outside``
    (click term averaged over M, authors' placement) is handled by the caller.
    """
    n, m, h, w = pred.shape
    if base_loss is not None:
        extra = []
        if pos_clicks is not None:
            extra = [_fold(pos_clicks, m), _fold(neg_clicks, m)]  # type: ignore[arg-type]
        out = base_loss(pred.reshape(n * m, 1, h, w), _fold(target_raw, m), *extra)
        if not isinstance(out, torch.Tensor) or out.shape != (n * m,):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                "`base_loss` must return per-sample losses of shape (N*M,) = "
                f"({n * m},) (use reduction='none'); got {got}"
            )
        per = float32_logits(out).reshape(n, m)
        return per, per, None
    work = float32_logits(pred).flatten(2)  # (N, M, P)
    tgt = target.to(work.dtype).flatten(1).unsqueeze(1)  # (N, 1, P)
    valid = None
    if ignore_index is not None:
        valid = valid_labels(target, ignore_index).to(work.dtype).flatten(1).unsqueeze(1)
        tgt = tgt * valid
    const = coef = None
    if pos_clicks is not None:
        pos = pos_clicks.flatten(1).unsqueeze(1)
        neg = neg_clicks.flatten(1).unsqueeze(1)  # type: ignore[union-attr]
        if click_reference == "clicks":
            const, coef = _click_linear(pos, neg, click_normalization, work.shape[-1])
    jac, lin = _soft_jaccard_terms(work, tgt, valid, from_logits=from_logits, form=form, eps=eps, coef=coef)
    if pos_clicks is None:
        return jac, jac, None
    if lin is not None:
        clicks = const + lin  # type: ignore[operator]
    else:
        prob = torch.sigmoid(work) if from_logits else work
        clicks = _click_target_terms(prob, pos, neg, tgt, click_normalization)
    return jac, jac, click_weight * clicks


def _check_hindsight_options(
    form: str, click_reference: str, click_normalization: str, click_placement: str, reduction: str, eps: float,
    click_weight: float, lambda_base: float | None, base_loss: Any, from_logits: bool, ignore_index: int | None,
) -> tuple[float, float, float | None, int | None]:
    """Validate the options of :func:`hindsight_loss` and :class:`HindsightLoss` (and :class:`RankedDiversityLoss`).

    Returns:
        ``(eps, click_weight, lambda_base, ignore_index)`` as Python numbers (``None`` stays ``None``).
    """
    check_choice(form, "form", JACCARD_FORMS)
    check_bool(from_logits, "from_logits")
    check_choice(click_reference, "click_reference", CLICK_REFERENCES)
    check_choice(click_normalization, "click_normalization", CLICK_NORMALIZATIONS)
    check_choice(click_placement, "click_placement", CLICK_PLACEMENTS)
    check_choice(reduction, "reduction", REDUCTIONS)
    if base_loss is not None and not callable(base_loss):
        raise TypeError(f"`base_loss` must be callable (e.g. an nn.Module); got {type(base_loss).__name__} "
                        f"{base_loss!r}")
    if lambda_base is not None:
        lambda_base = float(check_number(lambda_base, "lambda_base", low=0.0))
    return (float(check_number(eps, "eps", low=0.0)), float(check_number(click_weight, "click_weight", low=0.0)),
            lambda_base, check_ignore_index(ignore_index))


def hindsight_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    pos_clicks: torch.Tensor | None = None,
    neg_clicks: torch.Tensor | None = None,
    *,
    base_loss: Callable[..., torch.Tensor] | None = None,
    from_logits: bool = True,
    form: str = "min",
    eps: float = 0.0,
    click_weight: float = 1.0,
    click_reference: str = "clicks",
    click_normalization: str = "sum",
    click_placement: str = "inside",
    lambda_base: float | None = None,
    ignore_index: int | None = None,
    reduction: str = "mean",
    return_index: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Hindsight (min-over-M) loss of eq. 2 / 5, optionally with ranked diversity (eq. 7), Li et al. 2018.

    For each sample ``i`` and output ``m`` let ``ℓ_im`` be the soft Jaccard distance (eq. 3) of
    ``σ(pred[i, m])`` to ``target[i]`` and ``c_im`` the click constraint (eq. 4)::

        L_i = min_m (ℓ_im + w_c · c_im)  +  Σ_m λ_m ℓ_im,   λ_m = lambda_base · 2^(M − m)

    The second term is present only when ``lambda_base`` is given (the paper: ``1e-2``, the
    authors' code: ``2.5e-3``); see :class:`RankedDiversityLoss`. The gradient of the minimum
    reaches only the best output of each sample (ties: the first index).

    ``click_placement="outside"`` reproduces the authors' code, which adds ``w_c · mean_m c_im``
    after the minimum instead of inside it.

    ``base_loss`` replaces ``ℓ + w_c·c`` by any per-sample loss: it is called once on the
    ``M`` outputs folded into the batch, as ``base_loss(pred (N·M, 1, H, W), target (N·M, …))``
    (plus the folded click maps ``(N·M, H, W)`` as third and fourth arguments when given), and
    must return ``(N·M,)`` (e.g. any ``segloss`` loss with ``reduction="none"``). The diversity
    term then uses that loss too. ``from_logits``, ``form``, ``eps``, ``ignore_index`` and the
    ``click_*`` options configure the default base only.

    Args:
        pred: logits of the ``M`` outputs.
        target: ground-truth mask (binary or soft; ``ignore_index`` pixels left out).
        pos_clicks: positive click map or ``None`` (no click term).
        neg_clicks: negative click map; required with ``pos_clicks``.
        base_loss: optional per-sample loss, see above.
        from_logits: sigmoid on ``pred`` (default ``True``).
        form: soft Jaccard numerator, ``"min"`` (paper) or ``"product"`` (authors' code).
        eps: soft Jaccard ``eps`` (see :func:`segloss.soft_jaccard_loss`); default 0.
        click_weight: ``w_c ≥ 0``, default 1 (the paper's unweighted sum).
        click_reference: ``"clicks"`` (eq. 4) or ``"target"`` (authors' L1 to GT at clicks).
        click_normalization: ``"sum"`` (eq. 4), ``"clicks"`` (authors) or ``"mean"``.
        click_placement: ``"inside"`` the minimum (eq. 5, default) or ``"outside"`` (authors).
        lambda_base: ``None`` (no diversity term, default) or ``≥ 0``.
        ignore_index: target value to leave out of the Jaccard sums, or ``None``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per sample ``(N,)``).
        return_index: also return the per-sample argmin ``(N,)`` int64 (the output the minimum
            picked; the selection network's target when the base is the Jaccard distance).

    Shapes:
        pred: ``(N, M, H, W)``. target, pos_clicks, neg_clicks: ``(N, H, W)`` or ``(N, 1, H, W)``.
        output: 0-d or ``(N,)``; with ``return_index`` a tuple ``(loss, index (N,))``.

    Returns:
        The loss, or ``(loss, index)`` when ``return_index=True``.

    Raises:
        TypeError / ValueError: on bad shapes, dtypes, devices or options, one click map without
        the other, or a ``base_loss`` that does not return ``(N·M,)``.

    Example:
        >>> logits = torch.randn(2, 6, 16, 16, requires_grad=True)
        >>> gt = (torch.rand(2, 16, 16) > 0.5).float()
        >>> loss, best = hindsight_loss(logits, gt, return_index=True)
        >>> loss.backward()
    """
    return _hindsight(pred, target, pos_clicks, neg_clicks, "pred", base_loss=base_loss, from_logits=from_logits,
                      form=form, eps=eps, click_weight=click_weight, click_reference=click_reference,
                      click_normalization=click_normalization, click_placement=click_placement,
                      lambda_base=lambda_base, ignore_index=ignore_index, reduction=reduction,
                      return_index=return_index)


def _hindsight(
    pred: torch.Tensor,
    target: torch.Tensor,
    pos_clicks: torch.Tensor | None,
    neg_clicks: torch.Tensor | None,
    pred_name: str,
    *,
    base_loss: Callable[..., torch.Tensor] | None,
    from_logits: bool,
    form: str,
    eps: float,
    click_weight: float,
    click_reference: str,
    click_normalization: str,
    click_placement: str,
    lambda_base: float | None,
    ignore_index: int | None,
    reduction: str,
    return_index: bool,
    extra_rules: tuple[ValueRule, ...] = (),
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """:func:`hindsight_loss` with the name its callers use for ``pred`` in messages (``masks``...).

    ``extra_rules``: value checks of the caller's own arguments, run in the same (single) host read.
    """
    target_raw = target
    target = _check_multi_output(pred, target, pred_name)
    eps, click_weight, lambda_base, ignore_index = _check_hindsight_options(
        form, click_reference, click_normalization, click_placement, reduction, eps, click_weight, lambda_base,
        base_loss, from_logits, ignore_index)
    check_bool(return_index, "return_index")
    if (pos_clicks is None) != (neg_clicks is None):
        raise ValueError("`pos_clicks` and `neg_clicks` must be given together; got only one of them")
    if pos_clicks is not None:
        pos_clicks = _multi_output_clicks(pos_clicks, "pos_clicks", pred)
        neg_clicks = _multi_output_clicks(neg_clicks, "neg_clicks", pred)
    # a base loss receives the raw target (its own contract); the Jaccard distance wants a mask in [0, 1]
    target_rule = finite("target", target) if base_loss is not None else in_range(
        "target", target, what=MASK, ignore=ignore_index)
    check_values(finite(pred_name, pred), target_rule, in_range("pos_clicks", pos_clicks, what=CLICK_MAP),
                 in_range("neg_clicks", neg_clicks, what=CLICK_MAP), *extra_rules)
    work_dtype = float32_logits(pred).dtype
    if pos_clicks is not None:
        pos_clicks = pos_clicks.to(work_dtype)
        neg_clicks = neg_clicks.to(work_dtype)
    inside, ranked, clicks = _per_output_losses(
        pred,
        target,
        pos_clicks,
        neg_clicks,
        base_loss=base_loss,
        from_logits=from_logits,
        form=form,
        eps=float(eps),
        click_weight=float(click_weight),
        click_reference=click_reference,
        click_normalization=click_normalization,
        ignore_index=ignore_index,
        target_raw=target_raw,
    )
    if clicks is not None:
        if click_placement == "inside":
            inside = inside + clicks
            clicks = None
        else:
            clicks = clicks.mean(1)
    index = inside.detach().argmin(dim=1)
    per_sample = inside.gather(1, index.unsqueeze(1)).squeeze(1)
    if clicks is not None:
        per_sample = per_sample + clicks
    if lambda_base is not None:
        lam = ranked_diversity_weights(pred.shape[1], float(lambda_base), device=pred.device, dtype=ranked.dtype)
        per_sample = per_sample + (ranked * lam).sum(1)
    loss = reduce(per_sample, reduction)
    if return_index:
        return loss, index
    return loss


class HindsightLoss(LossModule):
    """Hindsight (min-over-M) loss of Li, Chen & Koltun (eq. 2 / 5); module form of :func:`hindsight_loss`.

    ``L_i = min_m (ℓ(Y_i, σ(f_m)) + ℓ_c(S_p, S_n, σ(f_m)))`` with ``ℓ`` the soft Jaccard distance
    and ``ℓ_c`` the click constraints; ``lambda_base`` adds the ranked diversity term of eq. 7.

    ``forward`` returns the loss; :meth:`forward_with_index` also returns the per-sample index of
    the output that achieved the minimum (for logging or for training a selection network).

    Args:
        base_loss: optional per-sample loss replacing the default (see :func:`hindsight_loss`).
        from_logits, form, eps, click_weight, click_reference, click_normalization,
        click_placement, lambda_base, ignore_index, reduction: see :func:`hindsight_loss`.

    Shapes:
        pred ``(N, M, H, W)``; target and click maps ``(N, H, W)`` or ``(N, 1, H, W)``.

    Example:
        >>> crit = HindsightLoss()
        >>> pos = torch.zeros(2, 16, 16); pos[:, 8, 8] = 1
        >>> loss, best = crit.forward_with_index(torch.randn(2, 6, 16, 16), torch.ones(2, 16, 16),
        ...                                      pos, torch.zeros(2, 16, 16))
    """

    def __init__(
        self,
        base_loss: Callable[..., torch.Tensor] | None = None,
        *,
        from_logits: bool = True,
        form: str = "min",
        eps: float = 0.0,
        click_weight: float = 1.0,
        click_reference: str = "clicks",
        click_normalization: str = "sum",
        click_placement: str = "inside",
        lambda_base: float | None = None,
        ignore_index: int | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        eps, click_weight, lambda_base, ignore_index = _check_hindsight_options(
            form, click_reference, click_normalization, click_placement, reduction, eps, click_weight, lambda_base,
            base_loss, from_logits, ignore_index)
        self.base_loss = base_loss
        self.from_logits = from_logits
        self.form = form
        self.eps = eps
        self.click_weight = click_weight
        self.click_reference = click_reference
        self.click_normalization = click_normalization
        self.click_placement = click_placement
        self.lambda_base = lambda_base
        self.ignore_index = ignore_index
        self.reduction = reduction

    def _call(self, pred, target, pos_clicks, neg_clicks, return_index):
        return hindsight_loss(
            pred,
            target,
            pos_clicks,
            neg_clicks,
            base_loss=self.base_loss,
            from_logits=self.from_logits,
            form=self.form,
            eps=self.eps,
            click_weight=self.click_weight,
            click_reference=self.click_reference,
            click_normalization=self.click_normalization,
            click_placement=self.click_placement,
            lambda_base=self.lambda_base,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            return_index=return_index,
        )

    def forward(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        pos_clicks: torch.Tensor | None = None,
        neg_clicks: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The loss of ``pred (N, M, H, W)`` logits against ``target``."""
        return self._call(pred, target, pos_clicks, neg_clicks, False)

    def forward_with_index(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        pos_clicks: torch.Tensor | None = None,
        neg_clicks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, index)``: the loss and the per-sample ``(N,)`` int64 index of the best output.

        Args:
            pred: ``(N, M, H, W)`` logits (or probabilities with ``from_logits=False``), as :meth:`forward`.
            target: ``(N, H, W)`` mask, as :meth:`forward`.
            pos_clicks: optional ``(N, H, W)`` positive click maps.
            neg_clicks: optional ``(N, H, W)`` negative click maps.

        Returns:
            ``(loss, index)``: the loss of :meth:`forward` and ``(N,)`` int64 ``index[i]``, the output ``m``
            that attains the minimum of sample ``i`` (the one the gradient of the min term flows into).

        Example:
            >>> import torch
            >>> target = torch.zeros(2, 8, 8); target[:, 2:6, 2:6] = 1
            >>> good = target * 20 - 10  # logits of the right mask
            >>> pred = torch.stack([-good, good, -good], 1)  # (N, M, H, W): output 1 is right
            >>> loss, index = HindsightLoss().forward_with_index(pred, target)
            >>> index.tolist()
            [1, 1]
        """
        return self._call(pred, target, pos_clicks, neg_clicks, True)


class RankedDiversityLoss(HindsightLoss):
    """Ranked diversity loss, eq. 7 of Li, Chen & Koltun: hindsight loss + ``Σ_m λ_m ℓ_m``.

    ``L_i = min_m (ℓ_im + ℓ_c,im) + Σ_m λ_m ℓ_im`` with ``λ_m = lambda_base · 2^(M − m)``, so the
    first output is pushed hardest and the outputs come out ranked (no selection network needed:
    use output 0 at test time). The paper's ``lambda_base`` is ``1e-2`` (default); the authors'
    TensorFlow code used ``2.5e-3``.

    Args:
        base_loss: see :class:`HindsightLoss`.
        lambda_base: ``≥ 0``, default ``1e-2``.
        **kwargs: the other options of :class:`HindsightLoss`.

    Example:
        >>> crit = RankedDiversityLoss(lambda_base=2.5e-3)
        >>> loss = crit(torch.randn(2, 6, 16, 16), torch.ones(2, 16, 16))
    """

    def __init__(
        self, base_loss: Callable[..., torch.Tensor] | None = None, *, lambda_base: float = 1e-2, **kwargs: Any
    ) -> None:
        super().__init__(base_loss, lambda_base=lambda_base, **kwargs)


# --------------------------------------------------------------------------------------------------
# selection network (eq. 6)
# --------------------------------------------------------------------------------------------------


def selection_target(
    masks: torch.Tensor,
    target: torch.Tensor,
    *,
    from_logits: bool = True,
    form: str = "min",
    ignore_index: int | None = None,
) -> torch.Tensor:
    """Index ``φ_i`` of the output with the smallest soft Jaccard distance to the ground truth (no gradient).

    ``φ_i = argmin_m ℓ(Y_i, f_m)``, ties resolved to the first index.

    Args:
        masks: the ``M`` outputs (logits unless ``from_logits=False``).
        target: ground truth.
        from_logits: sigmoid on ``masks``. Default ``True``.
        form: Jaccard numerator, ``"min"`` or ``"product"``.
        ignore_index: target value to leave out, or ``None``.

    Shapes:
        masks ``(N, M, H, W)``; target ``(N, H, W)`` or ``(N, 1, H, W)``; output ``(N,)`` int64.

    Returns:
        The per-sample index of the best mask.

    Raises:
        TypeError / ValueError: on bad shapes, dtypes or options.

    Example:
        >>> gt = torch.zeros(1, 4, 4); gt[0, :2] = 1
        >>> masks = torch.stack([1 - gt, gt], 1) * 20 - 10
        >>> selection_target(masks, gt)
        tensor([1])
    """
    return _selection_index(masks, target, from_logits, form, ignore_index)


def _selection_index(
    masks: Any, target: Any, from_logits: bool, form: str, ignore_index: int | None,
    extra_rules: tuple[ValueRule, ...] = (),
) -> torch.Tensor:
    """:func:`selection_target`; ``extra_rules`` are checked in the same host read as its own inputs."""
    with torch.no_grad():
        _, index = _hindsight(
            masks.detach() if isinstance(masks, torch.Tensor) else masks,
            target,
            None,
            None,
            "masks",
            base_loss=None,
            from_logits=from_logits,
            form=form,
            eps=0.0,
            click_weight=1.0,
            click_reference="clicks",
            click_normalization="sum",
            click_placement="inside",
            lambda_base=None,
            ignore_index=ignore_index,
            reduction="none",
            return_index=True,
            extra_rules=extra_rules,
        )
    return index


def _check_selection_options(from_logits: bool, form: str, ignore_index: int | None, reduction: str) -> int | None:
    """Validate the options of :func:`selection_loss` and :class:`SelectionLoss`; ``ignore_index`` as a Python int."""
    check_bool(from_logits, "from_logits")
    check_choice(form, "form", JACCARD_FORMS)
    check_choice(reduction, "reduction", REDUCTIONS)
    return check_ignore_index(ignore_index)


def selection_loss(
    scores: torch.Tensor,
    masks: torch.Tensor,
    target: torch.Tensor,
    *,
    from_logits: bool = True,
    form: str = "min",
    ignore_index: int | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Selection-network cross-entropy, eq. 6 of Li, Chen & Koltun (CVPR 2018).

    ``L_g,i = −g_{φ_i} + log Σ_m exp(g_m)``, with ``g`` the ``M`` scores of the selection network
    and ``φ_i = argmin_m ℓ(Y_i, f_m)`` the mask with the smallest soft Jaccard distance, computed
    here without gradient (:func:`selection_target`). In training the paper shuffles the masks per
    sample before the selection network sees them: see :func:`shuffle_outputs`.

    Args:
        scores: selection logits.
        masks: the ``M`` masks in the order the scores refer to (logits unless
            ``from_logits=False``).
        target: ground truth.
        from_logits: sigmoid on ``masks``. Default ``True``.
        form: Jaccard numerator, ``"min"`` or ``"product"``.
        ignore_index: target value to leave out of the Jaccard sums, or ``None``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (per sample ``(N,)``).

    Shapes:
        scores ``(N, M)``; masks ``(N, M, H, W)``; target ``(N, H, W)`` or ``(N, 1, H, W)``.

    Returns:
        The cross-entropy (float32; float64 for float64 ``scores``).

    Raises:
        TypeError / ValueError: on bad shapes, dtypes, devices or options.

    Example:
        >>> scores = torch.randn(2, 6, requires_grad=True)
        >>> loss = selection_loss(scores, torch.randn(2, 6, 8, 8), torch.ones(2, 8, 8))
        >>> loss.backward()
    """
    check_logits(scores, "scores", ndim=2)
    check_logits(masks, "masks", ndim=4)
    ignore_index = _check_selection_options(from_logits, form, ignore_index, reduction)
    if tuple(scores.shape) != tuple(masks.shape[:2]):
        raise ValueError(
            f"`scores` must have shape (N, M) = {tuple(masks.shape[:2])} matching `masks` (N, M, H, W) = "
            f"{tuple(masks.shape)}; got {tuple(scores.shape)}"
        )
    check_same_device(scores, masks, "scores", "masks")
    index = _selection_index(masks, target, from_logits, form, ignore_index, (finite("scores", scores),))
    per_sample = F.cross_entropy(float32_logits(scores), index, reduction="none")
    return reduce(per_sample, reduction)


class SelectionLoss(LossModule):
    """Selection-network cross-entropy (eq. 6 of Li et al. 2018); module form of :func:`selection_loss`.

    ``CE(scores, argmin_m ℓ_Jaccard(target, masks_m))``, the target index computed without gradient.

    Args:
        from_logits: sigmoid on the masks. Default ``True``.
        form: Jaccard numerator, ``"min"`` or ``"product"``.
        ignore_index: target value to leave out, or ``None``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Shapes:
        ``forward(scores (N, M), masks (N, M, H, W), target (N, H, W))``.

    Example:
        >>> crit = SelectionLoss()
        >>> loss = crit(torch.randn(2, 6), torch.randn(2, 6, 8, 8), torch.ones(2, 8, 8))
    """

    def __init__(
        self,
        *,
        from_logits: bool = True,
        form: str = "min",
        ignore_index: int | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        ignore_index = _check_selection_options(from_logits, form, ignore_index, reduction)
        self.from_logits = from_logits
        self.form = form
        self.ignore_index = ignore_index
        self.reduction = reduction

    def forward(self, scores: torch.Tensor, masks: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of ``scores`` towards the best of ``masks``."""
        return selection_loss(
            scores,
            masks,
            target,
            from_logits=self.from_logits,
            form=self.form,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


def shuffle_outputs(
    masks: torch.Tensor,
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle the ``M`` outputs of every sample independently, as the paper does before the selection network.

    ``shuffled[i, j] = masks[i, perm[i, j]]``. A score ``s`` of the selection network for
    ``shuffled`` refers to the original output ``perm[i, s]``
    (``perm.gather(1, s.unsqueeze(1))``).

    Args:
        masks: ``(N, M, *)`` tensor (logits or masks; gradients flow through the gather).
        seed: seed for a fresh CPU generator (reproducible on every device); ignored when
            ``generator`` is given.
        generator: a ``torch.Generator`` on CPU or ``masks``' device; if both are ``None`` the
            global RNG is used.

    Returns:
        ``(shuffled, perm)``: the shuffled tensor (same shape) and the permutations ``(N, M)`` int64.

    Raises:
        TypeError / ValueError: if ``masks`` is not a tensor with at least 2 dimensions, ``seed`` is not an int or
            ``generator`` not a ``torch.Generator``.

    Example:
        >>> masks = torch.arange(6.0).reshape(1, 3, 2)
        >>> shuffled, perm = shuffle_outputs(masks, seed=0)
        >>> torch.equal(shuffled, masks[0, perm[0]].unsqueeze(0))
        True
    """
    check_tensor(masks, "masks")
    if masks.ndim < 2:
        raise ValueError(f"`masks` must be (N, M, *) with at least 2 dimensions; got shape {tuple(masks.shape)}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"`seed` must be an int or None; got {type(seed).__name__}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"`generator` must be a torch.Generator or None; got {type(generator).__name__}")
    n, m = masks.shape[:2]
    if generator is None and seed is not None:
        generator = torch.Generator().manual_seed(int(seed))
    gen_device = generator.device if generator is not None else masks.device
    keys = torch.rand(n, m, generator=generator, device=gen_device)
    perm = keys.argsort(dim=1).to(masks.device)
    index = perm.reshape(n, m, *([1] * (masks.ndim - 2))).expand_as(masks)
    return masks.gather(1, index), perm
