r"""Context measure and camouflage context measure (Wang et al., arXiv 2512.07076, 2025).

Reference: "Context-measure: contextualizing metric for camouflage".

A Gaussian kernel ``K`` shaped by the GT's spatial spread relates each pixel to its context. With
``Σ`` the covariance of the GT pixels' (row, column) coordinates (zero variances replaced by
``eps``; a GT of at most one pixel uses ``diag(1/4, 1/4)`` and a 3x3 kernel), ``K`` samples
``exp(−½ zᵀ Σ'⁻¹ z)`` on the integer offsets ``|z_r| <= round(3 σ'_r)``, ``|z_c| <= round(3 σ'_c)``
of the rescaled covariance ``Σ' = α² Σ / tr(Σ)`` (``α = 6``), normalised to sum 1. Correlating
with ``K`` (OpenCV ``filter2D``, reflected borders):

* forward inference (how relevant the prediction is): ``F = K ⋆ G`` (float32, as the reference),
  ``m_f = Σ P̂·F·[P̂ > 0] / (Σ P̂ + eps)``;
* reverse deduction (how completely the GT is covered): ``R = e/(e−1) · G · (1 − exp(−K ⋆ P̂))``,
  ``w_r = Σ R·(G + c) / (Σ G + Σ c + eps)``;
* ``CM = (1 + β²) m_f w_r / (β² m_f + w_r + eps)``.

``c`` is 0 for the context measure (``β² = 1``). The camouflage context measure (``β² = 1.2``)
weights the GT by its **camouflage degree** ``c``: 7x7 foreground patches (stride 3) are matched
to the nearest patch of the surrounding background band (a 20x20 dilation of the GT minus the GT)
in Lab colour plus scaled position (``λ = 20``, scikit-learn's exact nearest neighbour, as the
reference), the foreground is rebuilt from the matched background patches, and
``c = (exp(γ · s · G) − 1) / (e^γ − 1)`` with ``s = 1 − min(ΔE₀₀ / 100, 1)`` the CIEDE2000
similarity of the rebuilt and the true foreground (``γ = 8``). It needs the RGB image and
scikit-learn (``pip install "segloss-segmetrics[camouflage]"``).

Equal to pysodmetrics 1.6.2 ``ContextMeasure`` / ``CamouflageContextMeasure`` within 1e-10 (the
same OpenCV filters; sums compensated instead of numpy's pairwise order). The dataset value is
the mean over images.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from segmetrics._inputs import check_positive, prepare_images, prepare_pairs
from segmetrics._kernels import context as _k
from segmetrics._optional import import_optional
from segmetrics._sod_core import EPS, check_bool, image_stats, normalized_map

__all__ = ["camouflage_context_measure", "camouflage_degree", "context_measure"]

_EXP_FACTOR = math.e / (math.e - 1)
_PATCH = 7
_BAND = 20


def _context_kernel(g: np.ndarray, alpha: float) -> np.ndarray:
    """The GT-shaped Gaussian kernel ``(2 r_r + 1, 2 r_c + 1)`` (see the module docstring)."""
    h, w = g.shape
    n, sr, sc, srr, scc, src = (int(v) for v in _k.gt_moments(g.ravel(), h, w))
    if n <= 1:
        cov = np.diag([0.25, 0.25])
        dr = dc = 1
    else:
        den = n * (n - 1)  # exact integer moments, one rounding each
        cov = np.array([[(n * srr - sr * sr) / den, (n * src - sr * sc) / den],
                        [(n * src - sr * sc) / den, (n * scc - sc * sc) / den]])
        cov[0, 0] = cov[0, 0] if cov[0, 0] != 0 else EPS
        cov[1, 1] = cov[1, 1] if cov[1, 1] != 0 else EPS
        total = cov[0, 0] + cov[1, 1]
        dr = round(float(3 * (alpha * np.sqrt(cov[0, 0]) / np.sqrt(total))))
        dc = round(float(3 * (alpha * np.sqrt(cov[1, 1]) / np.sqrt(total))))
        cov = alpha**2 * cov / total
    zr, zc = np.meshgrid(np.arange(-dr, dr + 1), np.arange(-dc, dc + 1), indexing="ij")
    z = np.stack([zr, zc], axis=-1)
    q = np.einsum("...i,ij,...j->...", z, np.linalg.inv(cov), z)
    k = np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
    return k / k.sum()


def _score(pn: np.ndarray, g: np.ndarray, cd: np.ndarray, beta_sq: float, alpha: float) -> float:
    import cv2

    k = _context_kernel(g, alpha)
    fwd = cv2.filter2D(g.astype(np.float32), cv2.CV_32F, k)
    rev = cv2.filter2D(pn, -1, k)
    a, b, r, sg, sc = _k.context_sums(pn.ravel(), g.ravel(), fwd.ravel(), rev.ravel(), cd.ravel(), _EXP_FACTOR)
    mf = a / (b + EPS)
    wr = r / (sg + sc + EPS)
    return float((1 + beta_sq) * mf * wr / (beta_sq * mf + wr + EPS))


def _normalised(p: np.ndarray, g: np.ndarray, normalize: bool) -> np.ndarray:
    return np.ascontiguousarray(normalized_map(p, image_stats(p, g, normalize=normalize, fe=False)), np.float64)


def context_measure(pred: Any, gt: Any, *, beta_sq: float = 1.0, alpha: float = 6.0,
                    normalize: bool = True) -> float | np.ndarray:
    r"""Context measure of a prediction (higher is better, in ``[0, 1]``).

    See the module docstring for the definition.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        beta_sq: weight β² of the forward term (default 1), must be > 0.
        alpha: kernel scale α (default 6), must be > 0.
        normalize: min-max normalise the prediction first (pysodmetrics default).

    Shapes:
        single pair → ``float``; batch of ``N`` → ``(N,)`` float64 array.

    Returns:
        The context measure.

    Raises:
        TypeError: unsupported input type or dtype, wrongly typed option.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values, ``beta_sq`` or
            ``alpha`` not > 0.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((32, 32), bool); gt[8:24, 8:24] = True
        >>> round(context_measure(np.where(gt, 255, 0).astype(np.uint8), gt), 4)
        0.6713
    """
    b2, al = check_positive(beta_sq, "beta_sq"), check_positive(alpha, "alpha")
    norm = check_bool(normalize, "normalize")
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    vals = np.array([_score(_normalised(p, g, norm), g, np.zeros(g.shape), b2, al) for p, g in pairs])
    return vals if batched else float(vals[0])


def _patches(img: np.ndarray, mask: np.ndarray, w: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Corners and flattened values of the ``w x w`` patches (stride ``d``) lying inside ``mask``."""
    h, wd = mask.shape
    ph, pw = (d - (h - w) % d) % d, (d - (wd - w) % d) % d
    img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="reflect")
    mask = np.pad(mask, ((0, ph), (0, pw)), mode="constant")
    rows, cols = np.arange(0, img.shape[0] - w + 1, d), np.arange(0, img.shape[1] - w + 1, d)
    inside = np.lib.stride_tricks.sliding_window_view(mask > 0, (w, w))[::d, ::d].all(axis=(2, 3))
    rr, cc = np.nonzero(inside)
    corners = np.stack([rows[rr], cols[cc]], axis=1)
    win = np.lib.stride_tricks.sliding_window_view(img, (w, w, img.shape[2]))[::d, ::d, 0]
    return corners, win[rr, cc].reshape(len(rr), w * w * img.shape[2])


def camouflage_degree(image: np.ndarray, gt: np.ndarray, *, gamma: float = 8, lambda_spatial: float = 20) -> np.ndarray:
    r"""Per-pixel camouflage degree ``c`` in ``[0, 1]`` of the GT object in its image (0 outside the GT).

    Args:
        image: ``(H, W, 3)`` uint8 RGB image.
        gt: ``(H, W)`` boolean GT (validated).
        gamma: exponential scale γ.
        lambda_spatial: weight λ of the scaled patch position in the nearest-neighbour search.

    Returns:
        ``(H, W)`` float64 map; all zero when no 7x7 patch fits in the object or in its surrounding
        band (e.g. an image smaller than 7 pixels on a side).

    Raises:
        ImportError: without scikit-learn.

    Example:
        >>> import numpy as np
        >>> img = np.full((40, 40, 3), 90, np.uint8); gt = np.zeros((40, 40), bool); gt[10:30, 10:30] = True
        >>> float(camouflage_degree(img, gt)[20, 20])  # the object has the background's colour
        1.0
    """
    import cv2

    neighbors = import_optional("sklearn.neighbors", "camouflage", "the camouflage context measure")
    if min(gt.shape) < _PATCH:  # no 7x7 patch fits: nothing to match (the reference fails here)
        return np.zeros(gt.shape)
    fg = gt.astype(np.uint8)
    bg = cv2.dilate(fg, np.ones((_BAND, _BAND), np.uint8), iterations=1) - fg
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    d = _PATCH // 2
    fg_idx, fg_feat = _patches(lab * fg[:, :, None], fg, _PATCH, d)
    bg_idx, bg_feat = _patches(lab * bg[:, :, None], bg, _PATCH, d)
    if len(fg_idx) == 0 or len(bg_idx) == 0:
        return np.zeros(gt.shape)
    coords = np.vstack([bg_idx, fg_idx]).astype(np.float64)
    std = coords.std(axis=0)
    scaled = (coords - coords.mean(axis=0)) / np.where(std == 0, 1.0, std)
    x = np.hstack([bg_feat, lambda_spatial * scaled[: len(bg_idx)]]).astype(np.float32)
    q = np.hstack([fg_feat, lambda_spatial * scaled[len(bg_idx):]]).astype(np.float32)
    nn = neighbors.NearestNeighbors(n_neighbors=1, metric="euclidean").fit(x).kneighbors(q)[1][:, 0]
    acc, cnt = _k.reconstruct(image * bg[:, :, None], fg_idx, bg_idx, nn, _PATCH, *gt.shape)
    recon = np.round(acc / np.where(cnt == 0, 1.0, cnt)[:, :, None]).astype(np.uint8)
    from skimage.color import deltaE_ciede2000, rgb2lab

    sim = np.zeros(gt.shape)
    sel = gt
    de = deltaE_ciede2000(rgb2lab(recon[sel][None]), rgb2lab((image * fg[:, :, None])[sel][None]))[0]
    sim[sel] = 1 - np.clip(de / 100, 0, 1)
    return (np.exp(gamma * sim * fg) - 1) / (np.exp(gamma) - 1)


def camouflage_context_measure(
    pred: Any, gt: Any, image: Any, *, beta_sq: float = 1.2, alpha: float = 6.0, gamma: float = 8,
    lambda_spatial: float = 20, normalize: bool = True,
) -> float | np.ndarray:
    r"""Camouflage context measure: the context measure with the GT weighted by its camouflage degree.

    See the module docstring for the definition.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        image: the RGB image(s): ``(H, W, 3)`` uint8, or a list / ``(N, H, W, 3)`` batch.
        beta_sq: weight β² of the forward term (default 1.2), must be > 0.
        alpha: kernel scale α (default 6), must be > 0.
        gamma: camouflage-degree scale γ (default 8), must be > 0.
        lambda_spatial: position weight λ of the patch matching (default 20), must be >= 0.
        normalize: min-max normalise the prediction first (pysodmetrics default).

    Shapes:
        single pair → ``float``; batch of ``N`` → ``(N,)`` float64 array.

    Returns:
        The camouflage context measure (higher is better).

    Raises:
        TypeError: unsupported input type or dtype, wrongly typed option.
        ValueError: mismatched shapes, an image that is not uint8 RGB of the GT's size, invalid options.
        ImportError: without scikit-learn.

    Example:
        >>> import numpy as np
        >>> img = np.full((40, 40, 3), 90, np.uint8); gt = np.zeros((40, 40), bool); gt[10:30, 10:30] = True
        >>> round(camouflage_context_measure(np.where(gt, 255, 0).astype(np.uint8), gt, img), 4)
        0.7509
    """
    b2, al = check_positive(beta_sq, "beta_sq"), check_positive(alpha, "alpha")
    gm, lam = check_positive(gamma, "gamma"), check_positive(lambda_spatial, "lambda_spatial", allow_zero=True)
    norm = check_bool(normalize, "normalize")
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    images = prepare_images(image, pairs, batched)
    if any(im is None for im in images):
        raise ValueError("`image` must give the RGB image of every map; got None")
    vals = []
    for (p, g), im in zip(pairs, images):
        cd = camouflage_degree(im, g, gamma=gm, lambda_spatial=lam)
        vals.append(_score(_normalised(p, g, norm), g, cd, b2, al))
    return np.array(vals) if batched else float(vals[0])

