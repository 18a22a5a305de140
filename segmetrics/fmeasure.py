"""F-measure (Achanta et al., CVPR 2009) with β² = 0.3: adaptive, mean, max and the curves."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from segmetrics._inputs import check_positive, prepare_pairs
from segmetrics._sod_core import THRESHOLDS, check_bool, fm_adaptive, fm_curves, image_stats, pysod_mean

__all__ = ["FMeasureResult", "fmeasure"]


@dataclass(frozen=True)
class FMeasureResult:
    """F-measure of one image (scalars, ``(256,)`` curves) or a batch (leading ``N`` axis).

    Attributes:
        adaptive: F at the adaptive threshold ``min(2 * mean(P), 1)`` (``P >= thr``).
        mean: mean of the F curve over the 256 thresholds.
        max: maximum of the F curve.
        curve: F at each threshold level ``k = 0..255`` (ascending; level ``k`` keeps the pixels
            with ``trunc(255 * P) >= k``). pysodmetrics stores the same values in descending order.
        precision: precision curve, same order.
        recall: recall curve, same order.
        thresholds: the levels ``0..255`` (int64), shared by all images.
    """

    adaptive: float | np.ndarray
    mean: float | np.ndarray
    max: float | np.ndarray
    curve: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (arrays as numpy arrays)."""
        return asdict(self)


def _fm_result(stats_list, beta_sq: float, batched: bool) -> FMeasureResult:
    adp, curves, precs, recs = [], [], [], []
    for st in stats_list:
        p, r, f = fm_curves(st.hist_fg, st.hist_bg, st.n_fg, beta_sq)
        adp.append(fm_adaptive(st.tp, st.fp, st.n_fg, beta_sq))
        curves.append(f)
        precs.append(p)
        recs.append(r)
    curve = np.stack(curves)
    mean = pysod_mean(curve)
    mx = curve.max(axis=-1)
    if batched:
        return FMeasureResult(np.array(adp), mean, mx, curve, np.stack(precs), np.stack(recs), THRESHOLDS)
    return FMeasureResult(float(adp[0]), float(mean[0]), float(mx[0]), curve[0], precs[0], recs[0], THRESHOLDS)


def fmeasure(pred: Any, gt: Any, *, beta_sq: float = 0.3, normalize: bool = True) -> FMeasureResult:
    r"""F-measure :math:`F_\beta` of a prediction map: adaptive, mean and max F plus the curves.

    .. math::

        F_\beta = \frac{(1 + \beta^2)\,\mathrm{P}\,\mathrm{R}}{\beta^2 \mathrm{P} + \mathrm{R}}

    with precision ``P = TP / max(|B|, 1)`` and recall ``R = TP / max(|G|, 1)`` of the binary map
    ``B``; ``F = 0`` when ``P R = 0``. Curves binarise the quantised map ``trunc(255 * P̂) >= k``
    for the 256 levels ``k``; the adaptive value binarises the float map at
    ``min(2 * mean(P̂), 1)``. Bit-identical to pysodmetrics 1.6 ``Fmeasure`` / ``FmeasureV2``.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        beta_sq: :math:`\beta^2` (pysodmetrics calls it ``beta``), default 0.3, must be > 0.
        normalize: min-max normalise the prediction first (pysodmetrics default); ``False`` uses
            the map as given.

    Shapes:
        single pair → scalar fields and ``(256,)`` curves; batch of ``N`` → ``(N,)`` and
        ``(N, 256)``.

    Returns:
        :class:`FMeasureResult`. For a dataset score use :class:`segmetrics.DatasetMetrics`, which
        averages the curves over images before taking max / mean (the benchmark protocol).

    Raises:
        TypeError: unsupported input type or dtype, non-numeric ``beta_sq``, non-bool ``normalize``.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values, ``beta_sq <= 0``.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
        >>> r = fmeasure(gt.astype(np.uint8) * 255, gt)
        >>> round(r.max, 4), r.curve.shape
        (1.0, (256,))
    """
    check_positive(beta_sq, "beta_sq")
    norm = check_bool(normalize, "normalize")
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    stats = [image_stats(p, g, normalize=norm) for p, g in pairs]
    return _fm_result(stats, float(beta_sq), batched)
