"""Real-photograph (pred, gt) cases for the parity tests of the added metric families.

scikit-image's bundled photos are resized, thresholded (Otsu) into ground-truth masks, and turned
into predictions three ways: blurred (a soft map), shifted (a misaligned soft map) and eroded
(a binary map missing thin parts). Both maps are uint8 (GT 0/255), the form pysodmetrics expects.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["PHOTO_CASES", "make_photo_case", "photo_rgb"]

_PHOTOS = ("horse", "coins", "camera", "astronaut", "coffee")
_KINDS = ("blur", "shift", "erode")
#: ``"<photo>_<kind>"`` names, 15 cases.
PHOTO_CASES: tuple[str, ...] = tuple(f"{p}_{k}" for p in _PHOTOS for k in _KINDS)
_SIZE = (72, 96)


@functools.cache
def photo_rgb(photo: str, size: tuple[int, int] = _SIZE) -> np.ndarray:
    """The photo resized to ``size`` as uint8 RGB (grey photos are repeated on 3 channels)."""
    from skimage import data, transform

    img = getattr(data, photo)()
    if photo == "horse":
        img = (~img).astype(np.uint8) * 255
    img = transform.resize(img.astype(float), size, anti_aliasing=True, preserve_range=True)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


@functools.cache
def _gt(photo: str, size: tuple[int, int]) -> np.ndarray:
    from skimage import filters

    grey = photo_rgb(photo, size).astype(float).mean(axis=2)
    return grey > filters.threshold_otsu(grey)


def make_photo_case(name: str, size: tuple[int, int] = _SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(pred_u8, gt_u8)`` for a name of :data:`PHOTO_CASES` (``size`` = ``(H, W)``)."""
    from scipy import ndimage
    from skimage import filters

    photo, kind = name.rsplit("_", 1)
    gt = _gt(photo, size)
    if kind == "blur":
        pred = filters.gaussian(gt.astype(float), sigma=2.0)
    elif kind == "shift":
        pred = np.roll(filters.gaussian(gt.astype(float), sigma=1.0), (3, -2), axis=(0, 1))
    elif kind == "erode":
        pred = ndimage.binary_erosion(gt, iterations=2).astype(float)
    else:
        raise KeyError(f"unknown photo case {name!r}")
    pred_u8 = np.clip(np.round(pred * 255), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(pred_u8), np.where(gt, 255, 0).astype(np.uint8)
