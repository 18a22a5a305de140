"""S-measure (structure measure, Fan et al., ICCV 2017), α = 0.5."""

from __future__ import annotations

from typing import Any

import numpy as np

from segmetrics._inputs import check_choice, check_unit_interval, prepare_pairs
from segmetrics._sod_core import check_bool, image_stats

__all__ = ["SMEASURE_COMPAT", "smeasure"]

#: Accepted values of ``compat``.
SMEASURE_COMPAT = ("pysod", "matlab")


def _check_alpha(alpha: Any) -> float:
    return check_unit_interval(alpha, "alpha")


def smeasure(
    pred: Any,
    gt: Any,
    *,
    alpha: float = 0.5,
    normalize: bool = True,
    compat: str = "pysod",
    avoid_nan: bool = False,
) -> float | np.ndarray:
    r"""S-measure :math:`S_\alpha = \max(0, \alpha S_o + (1 - \alpha) S_r)` of a prediction map.

    With ``ȳ = mean(G)``: ``S = 1 - mean(P̂)`` if ``ȳ = 0``, ``S = mean(P̂)`` if ``ȳ = 1``. Otherwise

    * object term :math:`S_o = \bar y\, O(\hat P[G]) + (1 - \bar y)\, O(1 - \hat P[\neg G])` with
      :math:`O(x) = 2\bar x / (\bar x^2 + 1 + \mathrm{std}(x) + \epsilon)` (``ddof=1``; 0 for one pixel);
    * region term :math:`S_r`: the image is split at the GT centroid into four blocks weighted by
      their area; each block scores the SSIM-like
      :math:`4\bar x \bar y \sigma_{xy} / ((\bar x^2 + \bar y^2)(\sigma_x^2 + \sigma_y^2) + \epsilon)`
      (1 if numerator and denominator are both 0, 0 if only the numerator is).

    Equals pysodmetrics 1.6 ``Smeasure``: bit for bit for a float prediction (numpy's summation
    order is reproduced); within 1e-10 (in practice ~1e-15) for a uint8 prediction, whose means and
    moments are taken from per-block 256-level histograms with compensated summation (one pass).
    Where a branch of the reference depends on the last bit of a mean (a constant block with a
    constant GT), the uint8 path falls back to the exact kernels.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        alpha: weight of the object term, in ``[0, 1]``; default 0.5.
        normalize: min-max normalise the prediction first (pysodmetrics default); ``False`` uses
            the map as given.
        compat: centroid convention. ``"pysod"`` (default): ``round_half_even(mean 0-based index) + 1``
            (numpy rounding). ``"matlab"``: ``round_half_away(mean 1-based index)`` as in the
            authors' ``S_region.m``; the two differ only when the mean index ends in exactly ``.5``.
        avoid_nan: when the centroid rounds onto the last row / column one block is empty, and
            the reference (pysodmetrics and MATLAB alike) returns NaN (``NaN * 0``). By default
            this NaN is reproduced. ``True`` skips blocks that contain no pixel (their area weight is
            zero), which gives the finite value the formula intends.

    Shapes:
        single pair → ``float``; batch of ``N`` → ``(N,)`` float64 array.

    Returns:
        The S-measure in ``[0, 1]`` (higher is better), or NaN in the case described under ``avoid_nan``.

    Raises:
        TypeError: unsupported input type or dtype, non-numeric ``alpha``, non-bool
            ``normalize`` / ``avoid_nan``.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values, ``alpha``
            outside ``[0, 1]``, unknown ``compat``.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
        >>> round(smeasure(gt.astype(np.uint8) * 255, gt), 4)
        1.0
    """
    a = _check_alpha(alpha)
    check_choice(compat, "compat", SMEASURE_COMPAT)
    norm = check_bool(normalize, "normalize")
    no_nan = check_bool(avoid_nan, "avoid_nan")
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    vals = np.array(
        [
            image_stats(
                p, g, normalize=norm, fe=False, smeasure=True, alpha=a, s_matlab=compat == "matlab",
                avoid_nan=no_nan,
            ).sm
            for p, g in pairs
        ],
        dtype=np.float64,
    )
    return vals if batched else float(vals[0])
