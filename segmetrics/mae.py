"""Mean absolute error between a prediction map and a binary ground truth."""

from __future__ import annotations

from typing import Any

import numpy as np

from segmetrics._inputs import prepare_pairs
from segmetrics._sod_core import check_bool, image_stats

__all__ = ["mae"]


def mae(pred: Any, gt: Any, *, normalize: bool = True) -> float | np.ndarray:
    r"""Mean absolute error :math:`\mathrm{MAE} = \frac{1}{HW}\sum_{x,y} |\hat P(x,y) - G(x,y)|`.

    Equals pysodmetrics 1.6 ``MAE``: bit for bit for a float prediction (numpy's pairwise summation
    order is reproduced); within 1e-10 (in practice a few ulps) for a uint8 prediction, whose sum is
    taken from its 256-level histogram with compensated summation (one cheap pass).

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        normalize: min-max normalise the prediction first, ``(P - min) / (max - min)`` when
            ``max > min`` (pysodmetrics / MATLAB ``mapminmax``). ``False`` uses the map as given.

    Shapes:
        single pair → ``float``; batch of ``N`` → ``(N,)`` float64 array.

    Returns:
        The MAE in ``[0, 1]`` (lower is better).

    Raises:
        TypeError: unsupported input type or dtype, non-bool ``normalize``.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((4, 4), bool); gt[1:3, 1:3] = True
        >>> round(mae(gt.astype(np.uint8) * 200, gt), 6)
        0.0
    """
    norm = check_bool(normalize, "normalize")
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    vals = np.array([image_stats(p, g, normalize=norm, fe=False).mae for p, g in pairs], dtype=np.float64)
    return vals if batched else float(vals[0])
