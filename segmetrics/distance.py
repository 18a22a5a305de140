"""Exact squared Euclidean distance transform (public; the kernel of the weighted F-measure).

:func:`squared_distance_transform` gives, for every pixel, the exact squared Euclidean distance (int64) to the
nearest feature pixel, by the separable Voronoi / lower-envelope construction of Maurer, Qi and Raghavan
(IEEE TPAMI 25(2), 2003) in :mod:`segmetrics._kernels.edt`. ``segloss`` uses it as the CPU kernel of its distance
maps (Active Boundary Loss).
"""

from __future__ import annotations

import numpy as np

from segmetrics._kernels.edt import squared_distance_batch

__all__ = ["NO_FEATURE", "squared_distance_transform"]

NO_FEATURE = 2**62
"""Default value written everywhere in an image without any feature pixel (larger than any real squared distance)."""


def squared_distance_transform(
    features: np.ndarray, *, empty: int = NO_FEATURE, out: np.ndarray | None = None
) -> np.ndarray:
    """Exact squared Euclidean distance to the nearest ``True`` pixel, per image.

    ``d²(p) = min_{q : features[q]} ‖p − q‖²`` in pixel units (integers, so ``sqrt(d²)`` equals
    ``scipy.ndimage.distance_transform_edt(~features)`` exactly).

    Args:
        features: ``(H, W)`` or ``(N, H, W)`` array; nonzero / ``True`` marks the feature pixels. A C-contiguous
            bool array is used without a copy.
        empty: value written everywhere in an image without any feature pixel. Default :data:`NO_FEATURE` (2⁶²).
        out: optional C-contiguous int64 array of the same shape, filled in place and returned.

    Returns:
        int64 array of the shape of ``features``.

    Raises:
        TypeError: if ``features`` or ``out`` is not a numpy array, or ``empty`` is not an integer.
        ValueError: if ``features`` is not 2-D or 3-D, or ``out`` has the wrong shape, dtype or layout.

    Examples:
        >>> m = np.zeros((1, 5), bool)
        >>> m[0, 1] = True
        >>> squared_distance_transform(m)
        array([[1, 0, 1, 4, 9]])
        >>> int(squared_distance_transform(np.zeros((2, 2), bool), empty=-1)[0, 0])
        -1
    """
    if not isinstance(features, np.ndarray):
        raise TypeError(f"`features` must be a numpy array; got {type(features).__name__}")
    if features.ndim not in (2, 3):
        raise ValueError(f"`features` must be (H, W) or (N, H, W); got shape {features.shape}")
    if isinstance(empty, bool) or not isinstance(empty, (int, np.integer)):
        raise TypeError(f"`empty` must be an integer; got {type(empty).__name__}")
    if not -(2**63) <= int(empty) < 2**63:
        raise ValueError(f"`empty` must fit in int64; got {empty}")
    if features.dtype != np.bool_:
        features = features != 0
    batch = np.ascontiguousarray(features if features.ndim == 3 else features[None])
    if out is None:
        out = np.empty(features.shape, np.int64)
    elif not isinstance(out, np.ndarray):
        raise TypeError(f"`out` must be a numpy array or None; got {type(out).__name__}")
    elif out.shape != features.shape or out.dtype != np.int64 or not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(
            f"`out` must be a writeable C-contiguous int64 array of shape {features.shape}; got shape {out.shape}, "
            f"dtype {out.dtype}"
        )
    if batch.size:
        squared_distance_batch(batch, out if out.ndim == 3 else out[None], np.int64(empty))
    return out
