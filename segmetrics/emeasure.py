"""E-measure (enhanced-alignment measure, Fan et al., IJCAI 2018): adaptive, mean, max, curve."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from segmetrics._inputs import check_choice, prepare_pairs
from segmetrics._sod_core import THRESHOLDS, check_bool, em_adaptive, em_curve, image_stats, pysod_mean

__all__ = ["EMEASURE_COMPAT", "EMeasureResult", "emeasure"]

#: Accepted values of ``compat``.
EMEASURE_COMPAT = ("pysod", "matlab")


@dataclass(frozen=True)
class EMeasureResult:
    """E-measure of one image (scalars, ``(256,)`` curve) or a batch (leading ``N`` axis).

    Attributes:
        adaptive: E of the map binarised at ``min(2 * mean(P), 1)``.
        mean: mean of the E curve over the 256 thresholds.
        max: maximum of the E curve.
        curve: E at each threshold level ``k = 0..255`` (ascending; pysodmetrics stores it
            descending).
        thresholds: the levels ``0..255`` (int64).
    """

    adaptive: float | np.ndarray
    mean: float | np.ndarray
    max: float | np.ndarray
    curve: np.ndarray
    thresholds: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict."""
        return asdict(self)


def _em_values(st, strict: bool):
    if strict:
        hfg, hbg, tp, fp = st.strict
    else:
        hfg, hbg, tp, fp = st.hist_fg, st.hist_bg, st.tp, st.fp
    return em_adaptive(tp, fp, st.n_fg, st.n), em_curve(hfg, hbg, st.n_fg, st.n)


def _em_result(stats_list, strict: bool, batched: bool) -> EMeasureResult:
    vals = [_em_values(st, strict) for st in stats_list]
    adp = np.array([v[0] for v in vals], dtype=np.float64)
    curve = np.stack([v[1] for v in vals])
    mean = pysod_mean(curve)
    mx = curve.max(axis=-1)
    if batched:
        return EMeasureResult(adp, mean, mx, curve, THRESHOLDS)
    return EMeasureResult(float(adp[0]), float(mean[0]), float(mx[0]), curve[0], THRESHOLDS)


def emeasure(pred: Any, gt: Any, *, normalize: bool = True, compat: str = "pysod") -> EMeasureResult:
    r"""E-measure :math:`E_\phi` of a prediction map: adaptive, mean and max E plus the curve.

    For a binary map ``B`` and ground truth ``G`` with :math:`\phi_X = X - \mathrm{mean}(X)`:

    .. math::

        \xi = \frac{2\,\phi_G \phi_B}{\phi_G^2 + \phi_B^2 + \epsilon}, \qquad
        E = \frac{1}{HW - 1 + \epsilon} \sum_{x,y} \frac{(\xi + 1)^2}{4}

    with ``E = Σ(1 - B) / (HW - 1 + ε)`` for an empty and ``ΣB / (HW - 1 + ε)`` for a full GT.
    ``E`` can slightly exceed 1 (a perfect map gives ``HW / (HW - 1)``), as in the reference. A
    1-pixel map (``HW = 1``) divides by ``ε`` alone, as the reference does, giving values up to
    ``1/ε ≈ 4.5e15``: finite but meaningless, so score maps of at least 2 pixels.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        normalize: min-max normalise the prediction first (pysodmetrics default); ``False`` uses
            the map as given.
        compat: ``"pysod"`` (default) binarises with ``>=``: the curve at level ``k`` keeps
            ``trunc(255 * P̂) >= k`` and the adaptive map is ``P̂ >= min(2 * mean, 1)``,
            bit-identical to pysodmetrics 1.6 ``Emeasure``. ``"matlab"`` follows the CODToolbox
            ``main.m`` strict ``>``: the curve at level ``k`` keeps ``P̂ > k / 255`` (float64
            thresholds; MATLAB's ``1:-1/255:0`` may differ from ``k / 255`` in the last bit) and the
            adaptive map is ``P̂ > min(2 * mean, 1)``.

    Shapes:
        single pair → scalar fields and a ``(256,)`` curve; batch of ``N`` → ``(N,)`` and ``(N, 256)``.

    Returns:
        :class:`EMeasureResult`.

    Raises:
        TypeError: unsupported input type or dtype, non-bool ``normalize``.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values, unknown ``compat``.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
        >>> r = emeasure(gt.astype(np.uint8) * 255, gt)
        >>> round(r.max, 4)  # 64 / 63
        1.0159
    """
    check_choice(compat, "compat", EMEASURE_COMPAT)
    norm = check_bool(normalize, "normalize")
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    strict = compat == "matlab"
    stats = [image_stats(p, g, normalize=norm, strict=strict) for p, g in pairs]
    return _em_result(stats, strict, batched)
