"""Boundary F-score at pixel tolerances (1, 3 and 5 px by default, as the ABL paper reports).

Definition (DAVIS-style boundary F, Perazzi et al. 2016, with fixed pixel tolerances instead of a
fraction of the diagonal):

1. **Binarise** the prediction as :mod:`segmetrics.region_overlap` does: min-max normalise
   (``normalize=True``), then foreground where ``p > threshold`` (``0.5``). The GT is binarised by
   the usual rule (uint8 ``> 128``).
2. **Boundary** of a mask ``M``: the pixels of ``M`` that have at least one 4-neighbour *inside the
   image* that is not in ``M`` (inner boundary, one pixel wide). The image border is not a
   boundary: an object cut by the frame has no contour there.
3. **Matching** at tolerance ``d``: a predicted boundary pixel is matched when a GT boundary pixel
   lies within Euclidean distance ``<= d`` (a disk of radius ``d``), and vice versa.
   ``P = matched predicted / all predicted boundary pixels``,
   ``R = matched GT / all GT boundary pixels``, ``F = 2 P R / (P + R)`` (``0`` when ``P + R = 0``).
4. **Empty boundaries**: both empty gives ``P = R = F = 1``; an empty predicted boundary gives
   ``P = 1, R = 0``; an empty GT boundary gives ``P = 0, R = 1`` (so ``F = 0``).

The distance search is an exact numba kernel over the ``(2d+1)^2`` window of each boundary pixel
(no distance transform, no dilation approximation). Dataset values are the mean over images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segmetrics._inputs import check_bool, check_threshold, check_tolerances, prepare_pairs
from segmetrics._jit import njit
from segmetrics._normalize import minmax_normalize

__all__ = ["BoundaryFScore", "boundary_fscore", "mask_boundary"]

DEFAULT_TOLERANCES: tuple[int, ...] = (1, 3, 5)


@njit
def _boundary(mask):
    h, w = mask.shape
    out = np.zeros((h, w), np.bool_)
    for i in range(h):
        for j in range(w):
            if not mask[i, j]:
                continue
            if (
                (i > 0 and not mask[i - 1, j])
                or (i < h - 1 and not mask[i + 1, j])
                or (j > 0 and not mask[i, j - 1])
                or (j < w - 1 and not mask[i, j + 1])
            ):
                out[i, j] = True
    return out


@njit
def _match_counts(a, b, radii_sq):
    # For every pixel of boundary `a`, the squared distance to the nearest pixel of `b` within the
    # largest radius; count the pixels matched at each tolerance.
    h, w = a.shape
    n_tol = radii_sq.shape[0]
    r = 0
    while (r + 1) * (r + 1) <= radii_sq[n_tol - 1]:
        r += 1
    counts = np.zeros(n_tol, np.int64)
    total = 0
    for i in range(h):
        for j in range(w):
            if not a[i, j]:
                continue
            total += 1
            best = radii_sq[n_tol - 1] + 1
            for di in range(-r, r + 1):
                ii = i + di
                if ii < 0 or ii >= h:
                    continue
                for dj in range(-r, r + 1):
                    jj = j + dj
                    if jj < 0 or jj >= w:
                        continue
                    d2 = di * di + dj * dj
                    if d2 < best and b[ii, jj]:
                        best = d2
            for k in range(n_tol):
                if best <= radii_sq[k]:
                    counts[k] += 1
    return counts, total


@dataclass(frozen=True)
class BoundaryFScore:
    """Boundary precision, recall and F-score of one image at each tolerance.

    Attributes:
        tolerances: the pixel tolerances ``d``, ascending.
        precision: ``(len(tolerances),)`` boundary precision.
        recall: ``(len(tolerances),)`` boundary recall.
        fscore: ``(len(tolerances),)`` ``2 P R / (P + R)``.
    """

    tolerances: tuple[int, ...]
    precision: np.ndarray
    recall: np.ndarray
    fscore: np.ndarray


def mask_boundary(mask: Any) -> np.ndarray:
    """Inner 4-connected boundary of a binary mask (the image border is not a boundary).

    Args:
        mask: ``(H, W)`` ground-truth-like mask (bool, uint8 ``> 128``, 0/1 integers or float).

    Returns:
        ``(H, W)`` bool: pixels of the mask with a 4-neighbour inside the image outside the mask.

    Example:
        >>> import numpy as np
        >>> m = np.zeros((5, 5), bool); m[1:4, 1:4] = True
        >>> int(mask_boundary(m).sum())
        8
    """
    from segmetrics._inputs import prepare_gt

    return _boundary(prepare_gt(mask, "mask"))


def _one(pred: np.ndarray, gt: np.ndarray, tols: tuple[int, ...], threshold: float, normalize: bool) -> BoundaryFScore:
    if normalize:
        pred = minmax_normalize(pred)
    return boundary_from_masks(pred > threshold, gt, tols)


def boundary_from_masks(pred_mask: np.ndarray, gt: np.ndarray, tols: tuple[int, ...]) -> BoundaryFScore:
    """Boundary F of a binarised prediction (shared by :func:`boundary_fscore` and the fused pass).

    Args:
        pred_mask: ``(H, W)`` bool, the binarised prediction.
        gt: ``(H, W)`` bool ground truth of the same shape.
        tols: validated, sorted tolerances.
    """
    bp = _boundary(pred_mask)
    bg = _boundary(gt)
    radii_sq = np.array([t * t for t in tols], dtype=np.int64)
    mp, n_p = _match_counts(bp, bg, radii_sq)
    mg, n_g = _match_counts(bg, bp, radii_sq)
    k = len(tols)
    if n_p == 0 and n_g == 0:
        one = np.ones(k)
        return BoundaryFScore(tols, one, one.copy(), one.copy())
    precision = mp / n_p if n_p else np.ones(k)
    recall = mg / n_g if n_g else np.ones(k)
    den = precision + recall
    f = np.zeros(k)
    np.divide(2.0 * precision * recall, den, out=f, where=den > 0)
    return BoundaryFScore(tols, precision.astype(np.float64), recall.astype(np.float64), f)


def boundary_fscore(
    pred: Any,
    gt: Any,
    *,
    tolerances: Sequence[int] = DEFAULT_TOLERANCES,
    threshold: float = 0.5,
    normalize: bool = True,
) -> BoundaryFScore | list[BoundaryFScore]:
    """Boundary F-score of the binarised prediction at one or more pixel tolerances.

    ``P_d = |{b in B_pred : dist(b, B_gt) <= d}| / |B_pred|``,
    ``R_d = |{b in B_gt : dist(b, B_pred) <= d}| / |B_gt|``, ``F_d = 2 P_d R_d / (P_d + R_d)``, with
    the boundaries, binarisation and empty-boundary rules of the module docstring.

    Args:
        pred: prediction ``(H, W)`` (uint8 0..255, bool or float in ``[0, 1]``) or a batch.
        gt: ground truth, same structure.
        tolerances: pixel tolerances ``d`` (integers in ``[0, 64]``), default ``(1, 3, 5)``.
        threshold: binarisation threshold in ``[0, 1)``, foreground where ``p > threshold``.
        normalize: min-max normalise the prediction first (default ``True``).

    Shapes:
        pred, gt: ``(H, W)``, ``(N, H, W)``, ``(N, 1, H, W)`` or a list of ``(H, W)`` maps.

    Returns:
        A :class:`BoundaryFScore` for one image (arrays over the sorted tolerances), a list for a batch.

    Raises:
        TypeError: for unsupported input types or dtypes, a non-bool ``normalize`` (e.g. ``"False"``).
        ValueError: for mismatched shapes, invalid values or arguments.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((16, 16), bool); gt[4:12, 4:12] = True
        >>> pred = np.roll(gt, 2, axis=1).astype(np.uint8) * 255
        >>> boundary_fscore(pred, gt).fscore.round(3).tolist()
        [0.571, 1.0, 1.0]
    """
    tols = check_tolerances(tolerances, "tolerances")
    check_threshold(threshold, "threshold")
    norm = check_bool(normalize, "normalize")
    pairs, batched = prepare_pairs(pred, gt)
    out = [_one(p, g, tols, float(threshold), norm) for p, g in pairs]
    return out if batched else out[0]
