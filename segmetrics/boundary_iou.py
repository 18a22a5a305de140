r"""Boundary IoU (Cheng et al., CVPR 2021) over 256 thresholds, as BiRefNet evaluates it.

With ``d = max(round(0.02 · sqrt(H² + W²)), 1)`` and ``ε_d(X)`` the erosion of a map by a
``(2d + 1) × (2d + 1)`` square with zeros outside the image:

* GT band: ``G_d = G ∧ ¬ε_d(G)`` (GT pixels within ``d`` of the background or the image border);
* prediction band map: ``Q_d = q − ε_d(q)`` on the quantised prediction ``q = trunc(255 P̂)``
  (min-max normalised like the F-measure), a grey map that is large near the prediction's edges.

For each level ``k = 0..255``, with ``A_k = {Q_d >= k}``:

.. math::

    \mathrm{BIoU}_k = \frac{|A_k \cap G_d|}{\max(|G_d|, 1) + |A_k \setminus G_d|}

``max`` / ``mean`` are taken over the curve; the dataset curve is the mean of the per-image
curves (BiRefNet's ``maxBIoU`` / ``meanBIoU``). Equal to BiRefNet's ``BIoUMeasure`` bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from segmetrics._inputs import prepare_pairs
from segmetrics._kernels.pixel_passes import boundary_level_hist, quantise
from segmetrics._normalize import uint8_table
from segmetrics._sod_core import ImageStats, check_bool, image_stats, pysod_mean

__all__ = ["BoundaryIoUResult", "boundary_iou"]

_DILATION_RATIO = 0.02
_DUMMY_F = np.zeros(1)
_DUMMY_U8 = np.zeros(1, np.uint8)


@dataclass(frozen=True)
class BoundaryIoUResult:
    """Boundary IoU of one image (or of a dataset: the mean curve).

    Attributes:
        curve: ``(256,)`` BIoU at the levels ``k = 0..255`` (ascending; BiRefNet stores it descending).
        max: maximum of the curve (``maxBIoU``).
        mean: mean of the curve (``meanBIoU``).
    """

    curve: np.ndarray
    max: float
    mean: float

    @classmethod
    def from_curve(cls, curve: np.ndarray) -> BoundaryIoUResult:
        """Wrap a curve with its max and mean (mean in BiRefNet's summation order)."""
        return cls(curve, float(curve.max()), float(pysod_mean(curve)))


def _erode(m: np.ndarray, d: int) -> np.ndarray:
    import cv2

    padded = cv2.copyMakeBorder(m, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    return cv2.erode(padded, np.ones((2 * d + 1, 2 * d + 1), np.uint8))[1:-1, 1:-1]


def boundary_iou_image(p: np.ndarray, g: np.ndarray, st: ImageStats | None,
                       normalize: bool = True) -> BoundaryIoUResult:
    """Boundary IoU of one canonical pair, from its shared statistics when given (private entry of the fused pass)."""
    h, w = g.shape
    d = max(round(float(_DILATION_RATIO * np.sqrt(h**2 + w**2))), 1)
    if p.dtype == np.uint8:  # the quantised level of each raw level, then one lookup
        lut = st.lut if st is not None else uint8_table(p, normalize)
        import cv2

        q = cv2.LUT(p, (lut * 255.0).astype(np.uint8))
    else:
        if st is None:
            st = image_stats(p, g, normalize=normalize, fe=False)
        q = np.empty((h, w), np.uint8)
        quantise(p.ravel(), _DUMMY_U8, _DUMMY_F, False, st.lo, st.d, st.donorm, q.ravel())
    g8 = g.view(np.uint8)
    band = (g8 > _erode(g8, d)).ravel()
    hist = np.zeros((2, 256), np.int64)
    boundary_level_hist(q.ravel(), _erode(q, d).ravel(), band, hist)
    tp = np.cumsum(hist[0, ::-1])[::-1]
    fp = np.cumsum(hist[1, ::-1])[::-1]
    return BoundaryIoUResult.from_curve(tp / (max(int(hist[0].sum()), 1) + fp))


def boundary_iou(pred: Any, gt: Any, *, normalize: bool = True) -> BoundaryIoUResult | list[BoundaryIoUResult]:
    r"""Boundary IoU curve of a prediction over 256 thresholds, with its max and mean.

    See the module docstring for the definition.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        normalize: min-max normalise the prediction first (default, as BiRefNet).

    Shapes:
        single pair → one :class:`BoundaryIoUResult` (``(256,)`` curve); batch → a list.

    Returns:
        :class:`BoundaryIoUResult` (or a list of them); values in ``[0, 1]`` (higher is better).

    Raises:
        TypeError: unsupported input type or dtype, non-bool ``normalize``.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((64, 64), bool); gt[16:48, 16:48] = True
        >>> r = boundary_iou(np.where(gt, 255, 0).astype(np.uint8), gt)
        >>> r.max, r.curve.shape
        (1.0, (256,))
    """
    norm = check_bool(normalize, "normalize")
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    out = [boundary_iou_image(p, g, None, norm) for p, g in pairs]
    return out if batched else out[0]
