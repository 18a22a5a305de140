"""The training loss of the ABL paper (Wang et al., AAAI 2022, eq. 5): ``CE + IoU + w_a·ABL``.

``IoU`` is the Lovász-softmax loss (Berman et al.); the authors use ``w_a`` = 1.0 (ADE20K), 1.5 (Cityscapes) and say
ABL alone can diverge (active-boundary-loss issue #3), which is why it is packaged with CE and Lovász here.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F

from segloss._modes import check_mode_channels
from segloss._module import LossModule
from segloss._validation import check_class_weight, check_logits, check_number, class_weight_buffer, valid_labels
from segloss.active_boundary import _as_class_logits, _autocast_off, _validate_target, active_boundary_loss
from segloss.active_boundary import _check_options as _check_abl_options
from segloss.lovasz import batch_lovasz

ABL_OPTIONS = ("compat", "theta", "max_n_ratio", "label_smoothing", "detach")  # passed through **abl_kwargs

__all__ = ["CELovaszABLLoss", "ce_lovasz_abl_loss"]


def _check_abl_kwargs(abl_kwargs: dict) -> None:
    """Refuse options that are not :data:`ABL_OPTIONS` (a name clash, e.g. ``weight``, would fail deep inside)."""
    if "reduction" in abl_kwargs:
        raise ValueError("`reduction` is not an option of the composite loss (it returns the batch mean)")
    unknown = sorted(set(abl_kwargs) - set(ABL_OPTIONS))
    if unknown:
        hint = " (per-class weights of CE and ABL are `class_weight`)" if "weight" in unknown else ""
        raise TypeError(f"the CE + Lovász + ABL loss got unexpected keyword arguments {unknown}{hint}; its further "
                        f"ABL options are {list(ABL_OPTIONS)}")


def _check_options(
    abl_weight: float, ce_weight: float, lovasz_weight: float, mode: str, ignore_index: int | None, abl_kwargs: dict
) -> tuple[float, float, float, int | None, dict]:
    """Validate every option of :func:`ce_lovasz_abl_loss` and :class:`CELovaszABLLoss` (the ABL ones by ABL's check).

    Returns:
        ``(abl_weight, ce_weight, lovasz_weight, ignore_index, abl_kwargs)`` with Python numbers.
    """
    weights = [float(check_number(value, name, low=0.0)) for name, value in
               (("abl_weight", abl_weight), ("ce_weight", ce_weight), ("lovasz_weight", lovasz_weight))]
    _check_abl_kwargs(abl_kwargs)
    opts = {k: p.default for k, p in inspect.signature(active_boundary_loss).parameters.items() if k in ABL_OPTIONS}
    opts.update(abl_kwargs)
    theta, ratio, smoothing, ignore_index = _check_abl_options(
        mode, opts["compat"], "mean", opts["theta"], opts["max_n_ratio"], opts["label_smoothing"], ignore_index,
        opts["detach"])
    checked = dict(opts, theta=theta, max_n_ratio=ratio, label_smoothing=smoothing)
    return weights[0], weights[1], weights[2], ignore_index, {k: checked[k] for k in abl_kwargs}


def ce_lovasz_abl_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    abl_weight: float = 1.0,
    ce_weight: float = 1.0,
    lovasz_weight: float = 1.0,
    mode: str = "multiclass",
    ignore_index: int | None = 255,
    class_weight: torch.Tensor | None = None,
    dist_map: torch.Tensor | None = None,
    **abl_kwargs,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Eq. 5 of the ABL paper: ``ce_weight·CE + lovasz_weight·Lovász + abl_weight·ABL``, with its parts.

    All three terms see the logits at the target resolution (bilinear, ``align_corners=True``, when they differ).
    CE is the mean over non-ignored pixels (weighted by ``class_weight`` as :func:`torch.nn.functional.cross_entropy`;
    0 when every pixel is ignored), Lovász is Berman's default (``classes="present"``, batch level), ABL is
    :func:`segloss.active_boundary_loss` (``reduction="mean"``).

    Args:
        pred: logits ``(N, C, h, w)`` (binary: ``(N, 1, h, w)``, CE and Lovász then use the 2-class simplex).
        target: class ids ``(N, H, W)``.
        abl_weight: ``w_a`` >= 0 (default 1.0; the paper uses 1.5 on Cityscapes).
        ce_weight: weight >= 0 of the cross-entropy (default 1.0).
        lovasz_weight: weight >= 0 of the Lovász-softmax term (default 1.0).
        mode: ``"multiclass"`` or ``"binary"``.
        ignore_index: ignored label for all three terms (default 255) or ``None``.
        class_weight: optional per-class weights ``(C,)`` for CE and ABL.
        dist_map: optional precomputed :func:`segloss.abl_distance_map`.
        **abl_kwargs: further options of :func:`segloss.active_boundary_loss` (``compat``, ``theta``,
            ``max_n_ratio``, ``label_smoothing``, ``detach``).

    Shapes:
        pred ``(N, C, h, w)``, target ``(N, H, W)`` → 0-d total.

    Returns:
        ``(total, parts)``: the 0-d loss to back-propagate and a dict of detached 0-d tensors
        ``{"ce", "lovasz", "abl", "total"}`` for logging.

    Raises:
        TypeError, ValueError: as the individual losses, or for negative weights.

    Example:
        >>> total, parts = ce_lovasz_abl_loss(torch.randn(2, 3, 16, 16), torch.randint(0, 3, (2, 16, 16)))
        >>> sorted(parts)
        ['abl', 'ce', 'lovasz', 'total']
    """
    abl_weight, ce_weight, lovasz_weight, ignore_index, abl_kwargs = _check_options(
        abl_weight, ce_weight, lovasz_weight, mode, ignore_index, abl_kwargs)
    if class_weight is not None:  # checked here under its own name (ABL would call it `weight`)
        check_logits(pred, "pred", ndim=4)
        check_class_weight(class_weight, check_mode_channels(pred, mode), pred, "class_weight")
    abl = active_boundary_loss(pred, target, mode=mode, ignore_index=ignore_index, weight=class_weight,
                               dist_map=dist_map, **abl_kwargs)  # validates pred / target
    target = _validate_target(target, pred.shape[0], mode).long()
    h, w = target.shape[1:]
    with _autocast_off(pred.device):
        z = _as_class_logits(pred, mode)
        if z.shape[2:] != (h, w):
            z = F.interpolate(z, size=(h, w), mode="bilinear", align_corners=True)
        ign = -100 if ignore_index is None else ignore_index
        cw = None if class_weight is None else class_weight.to(z.dtype)
        per_px = F.cross_entropy(z, target, weight=cw, ignore_index=ign, reduction="none")
        valid = target != ign
        safe = torch.where(valid, target, torch.zeros_like(target))
        den = (cw[safe] * valid).sum() if cw is not None else valid.sum().to(z.dtype)
        ce = per_px.sum() / torch.where(den > 0, den, torch.ones_like(den))
        # Berman's default (present classes, batch level) on inputs ABL has checked: no second value check
        lov = batch_lovasz(F.softmax(z, dim=1), target, valid_labels(target, ignore_index))
        total = ce_weight * ce + lovasz_weight * lov + abl_weight * abl
    parts = {"ce": ce.detach(), "lovasz": lov.detach(), "abl": abl.detach(), "total": total.detach()}
    return total, parts


class CELovaszABLLoss(LossModule):
    """``CE + Lovász-softmax + w_a·ABL`` (ABL paper, eq. 5); see :func:`ce_lovasz_abl_loss`.

    ``forward`` returns ``(total, parts)``; ``parts`` holds detached ``ce``, ``lovasz``, ``abl`` and ``total`` for
    logging. ``abl_weight`` is a plain attribute, so a schedule (e.g. adding ABL for the last epochs, as in the
    paper's ablation) is ``criterion.abl_weight = ...``.

    Args:
        abl_weight: ``w_a`` (default 1.0).
        ce_weight: CE weight (default 1.0).
        lovasz_weight: Lovász weight (default 1.0).
        mode: ``"multiclass"`` or ``"binary"``.
        ignore_index: ignored label (default 255) or ``None``.
        class_weight: optional per-class weights ``(C,)`` (buffer).
        **abl_kwargs: options of :func:`segloss.active_boundary_loss`.

    Shapes:
        forward(pred ``(N, C, h, w)``, target ``(N, H, W)``, dist_map optional) → (0-d, dict).

    Example:
        >>> crit = CELovaszABLLoss(abl_weight=1.5)
        >>> total, parts = crit(torch.randn(2, 3, 16, 16), torch.randint(0, 3, (2, 16, 16)))
    """

    class_weight: torch.Tensor | None

    def __init__(
        self,
        *,
        abl_weight: float = 1.0,
        ce_weight: float = 1.0,
        lovasz_weight: float = 1.0,
        mode: str = "multiclass",
        ignore_index: int | None = 255,
        class_weight: torch.Tensor | None = None,
        **abl_kwargs,
    ) -> None:
        super().__init__()
        abl_weight, ce_weight, lovasz_weight, ignore_index, abl_kwargs = _check_options(
            abl_weight, ce_weight, lovasz_weight, mode, ignore_index, abl_kwargs)
        self.abl_weight, self.ce_weight, self.lovasz_weight = abl_weight, ce_weight, lovasz_weight
        self.mode, self.ignore_index, self.abl_kwargs = mode, ignore_index, dict(abl_kwargs)
        self.register_buffer("class_weight", class_weight_buffer(class_weight, "class_weight"))

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, dist_map: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Compute ``(total, parts)``."""
        return ce_lovasz_abl_loss(pred, target, abl_weight=self.abl_weight, ce_weight=self.ce_weight,
                                  lovasz_weight=self.lovasz_weight, mode=self.mode, ignore_index=self.ignore_index,
                                  class_weight=self.class_weight, dist_map=dist_map, **self.abl_kwargs)
