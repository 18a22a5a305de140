r"""Mean squared error between a prediction map and a binary ground truth (BiRefNet's ``MSE``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from segmetrics._inputs import prepare_pairs
from segmetrics._kernels.pixel_passes import squared_error_sum, table_sum
from segmetrics._normalize import uint8_table
from segmetrics._sod_core import ImageStats, check_bool, image_stats

__all__ = ["mse"]

_DUMMY_F = np.zeros(1)
_DUMMY_U8 = np.zeros(1, np.uint8)


def mse_image(p: np.ndarray, g: np.ndarray, st: ImageStats) -> float:
    """MSE of one canonical pair from its shared statistics (private entry of the fused pass).

    A uint8 map is summed from the raw-level counts of the shared pass (no pass over the image).
    """
    if st.raw is not None:
        err = np.concatenate([(st.lut - 1.0) ** 2, st.lut**2])
        cnt = np.concatenate([st.raw[0], st.raw[1]]).astype(np.float64)
        return float(np.sum(np.sort(err * cnt)) / st.n)  # 512 exact-ish terms, small first
    use_lut = p.dtype == np.uint8
    pf, pu = (_DUMMY_F, p.ravel()) if use_lut else (p.ravel(), _DUMMY_U8)
    lut = st.lut if st.lut is not None else _DUMMY_F
    return float(squared_error_sum(pf, pu, g.ravel(), lut, use_lut, st.lo, st.d, st.donorm) / st.n)


def mse(pred: Any, gt: Any, *, normalize: bool = True) -> float | np.ndarray:
    r"""Mean squared error :math:`\mathrm{MSE} = \frac{1}{HW}\sum_{x,y} (\hat P(x,y) - G(x,y))^2`.

    The prediction is normalised as for the MAE (``pred / 255``, then min-max when ``normalize``),
    as BiRefNet's evaluation (``evaluation/metrics.py``, ``MSEMeasure``) does; the dataset value is
    the mean over images. Equal to BiRefNet's value within 1e-12 (the sum is taken in another
    order: from the 256-level counts or eight partial sums for uint8 maps, compensated for float maps).

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        normalize: min-max normalise the prediction first (default, as BiRefNet and pysodmetrics).

    Shapes:
        single pair → ``float``; batch of ``N`` → ``(N,)`` float64 array.

    Returns:
        The MSE in ``[0, 1]`` (lower is better).

    Raises:
        TypeError: unsupported input type or dtype, non-bool ``normalize``.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((4, 4), bool); gt[1:3, 1:3] = True
        >>> pred = np.where(gt, 255, 0).astype(np.uint8); pred[0, 0] = 255
        >>> mse(pred, gt)
        0.0625
    """
    norm = check_bool(normalize, "normalize")
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    vals = np.array([_uint8_mse(p, g, norm) if p.dtype == np.uint8 else
                     mse_image(p, g, image_stats(p, g, normalize=norm)) for p, g in pairs], dtype=np.float64)
    return vals if batched else float(vals[0])


def _uint8_mse(p: np.ndarray, g: np.ndarray, normalize: bool) -> float:
    """MSE of a uint8 map alone: min / max, then one pass summing a 512-entry table of squared errors."""
    lut = uint8_table(p, normalize)
    return float(table_sum(p.ravel(), g.ravel(), np.concatenate([lut**2, (lut - 1.0) ** 2])) / g.size)
