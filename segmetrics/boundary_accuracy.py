r"""Mean boundary accuracy (mBA), as reported by BiRefNet (from CascadePSP's evaluation).

The prediction is binarised with ``pred > 128`` on the 0..255 scale (``trunc(255 P) > 128`` for
float maps; no min-max normalisation), the GT with ``> 128``. For five radii
``r_i = 1 + trunc((R - 1) / 5 · i)``, ``i = 0..4``, ``R = (H + W) / 300``, the boundary band
``B_i`` is the morphological gradient of the GT with OpenCV's elliptic structuring element of
size ``2 r_i + 1`` (pixels whose neighbourhood, clipped to the image, holds both classes), and

.. math::

    \mathrm{BA} = \frac{1}{5} \sum_{i=0}^{4} \frac{|\{x \in B_i : P(x) = G(x)\}|}{|B_i|}

(the fraction of band pixels classified correctly). The dataset value (mBA) is the mean over
images. Equal to BiRefNet's ``MBAMeasure`` bit for bit, except that a band without pixels
(a GT with no boundary: empty or full) scores 1 here, where BiRefNet divides 0 by 0 (NaN).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segmetrics._inputs import prepare_pairs
from segmetrics._kernels.pixel_passes import band_agreement

__all__ = ["boundary_accuracy"]

_STEPS = 5


def _radii(h: int, w: int) -> list[int]:
    top = (w + h) / 300
    return [1 + int((top - 1) / _STEPS * i) for i in range(_STEPS)]


def boundary_accuracy_image(p: np.ndarray, g: np.ndarray) -> float:
    """Boundary accuracy of one canonical pair (private entry of the fused pass)."""
    import cv2

    from segmetrics.hce import _binarize

    pb = _binarize(p, "official").ravel()
    g8 = g.astype(np.uint8)
    gf = g.ravel()
    accs: dict[int, float] = {}
    for r in set(_radii(*g.shape)):
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        grad = cv2.morphologyEx(g8, cv2.MORPH_GRADIENT, kernel)
        n, good = band_agreement(grad.ravel(), pb, gf)
        accs[r] = np.float64(good) / np.float64(n) if n else np.float64(1.0)
    return float(sum(accs[r] for r in _radii(*g.shape)) / _STEPS)


def boundary_accuracy(pred: Any, gt: Any) -> float | np.ndarray:
    r"""Boundary accuracy of a prediction (the per-image term of BiRefNet's mBA).

    See the module docstring for the definition.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255, bool, or float in ``[0, 1]``; numpy or torch. Binarised with
            ``> 128`` on the 0..255 scale.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.

    Shapes:
        single pair → ``float``; batch of ``N`` → ``(N,)`` float64 array.

    Returns:
        Boundary accuracy in ``[0, 1]`` (higher is better); mBA is its mean over a dataset.

    Raises:
        TypeError: unsupported input type or dtype.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((32, 32), bool); gt[8:24, 8:24] = True
        >>> boundary_accuracy(np.where(gt, 255, 0).astype(np.uint8), gt)
        1.0
        >>> round(boundary_accuracy(np.zeros((32, 32), np.uint8), gt), 4)  # the band's background half is right
        0.5161
    """
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    vals = np.array([boundary_accuracy_image(p, g) for p, g in pairs], dtype=np.float64)
    return vals if batched else float(vals[0])
