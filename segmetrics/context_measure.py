r"""Context measure and camouflage context measure (Wang et al., arXiv 2512.07076, 2025).

Reference: "Context-measure: contextualizing metric for camouflage".

A Gaussian kernel ``K`` shaped by the GT's spatial spread relates each pixel to its context. With
``Σ`` the covariance of the GT pixels' (row, column) coordinates (zero variances replaced by
``eps``; a GT of at most one pixel uses ``diag(1/4, 1/4)`` and a 3x3 kernel; collinear pixels off the
axes, a singular ``Σ`` where pysodmetrics raises ``LinAlgError``, give the limit: ``K`` on the
offsets along the line only), ``K`` samples
``exp(−½ zᵀ Σ'⁻¹ z)`` on the integer offsets ``|z_r| <= round(3 σ'_r)``, ``|z_c| <= round(3 σ'_c)``
of the rescaled covariance ``Σ' = α² Σ / tr(Σ)`` (``α = 6``), normalised to sum 1. Correlating
with ``K`` (``⋆``, reflected borders as OpenCV's ``BORDER_REFLECT_101``):

* forward inference (how relevant the prediction is): ``F = K ⋆ G``,
  ``m_f = Σ P̂·F·[P̂ > 0] / (Σ P̂ + eps)``;
* reverse deduction (how completely the GT is covered): ``R = e/(e−1) · G · (1 − exp(−K ⋆ P̂))``,
  ``w_r = Σ R·(G + c) / (Σ G + Σ c + eps)``;
* ``CM = (1 + β²) m_f w_r / (β² m_f + w_r + eps)``.

``c`` is 0 for the context measure (``β² = 1``). The camouflage context measure (``β² = 1.2``)
weights the GT by its **camouflage degree** ``c``: 7x7 foreground patches (stride 3) are matched
to the nearest patch of the surrounding background band (a 20x20 dilation of the GT minus the GT)
in Lab colour (OpenCV's uint8 Lab) plus standardised position times ``λ = 20``, the foreground is
rebuilt from the matched background patches, and ``c = (exp(γ · s · G) − 1) / (e^γ − 1)`` with
``s = 1 − min(ΔE₀₀ / 100, 1)`` the CIEDE2000 similarity of the rebuilt and the true foreground
(``γ = 8``). It needs the RGB image.

``compat="exact"`` (default) evaluates this in float64. ``K`` is not separable (a tilted
Gaussian: its numerical rank at 1e-14 is 10 to 25 on real masks), so one correlation of the
prediction by OpenCV's DFT ``filter2D`` gives ``Q = K ⋆ P̂₀`` (``P̂`` zero-extended, on the GT's
bounding box widened by the kernel): ``R = Q`` inside the image's ``(r_r, r_c)`` border and, on
border strips holding GT pixels, a reflected-border correlation of the strip; the forward sum
needs no second correlation: since ``K`` is symmetric, ``Σ P̂·F = Σ_w Q(w)·G(ρ(w))`` over the
extended positions ``w`` (``ρ``: the border reflection). The patch matching is exact: a k-d tree
over 8-value patch summaries (mean and residual norm per channel, position), whose distance bounds
the patch distance from below, prunes the search; distances in exact integer Lab plus float64
positions; exact ties go to the lowest background index. CIEDE2000 is computed in float64 (same
formula and constants as scikit-image's ``rgb2lab`` / ``deltaE_ciede2000``, within 1e-12). Equal
to a direct float64 evaluation within 1e-14; to pysodmetrics 1.6.2 within its float32 forward
map's rounding (≤ 2e-8 measured on the test cases; more only where its float32 features make
scikit-learn pick another of two near-equidistant patches).

``compat="pysod"`` reproduces pysodmetrics 1.6.2 ``ContextMeasure`` / ``CamouflageContextMeasure``
(within 1e-15: sums compensated instead of numpy's pairwise order): forward map by a float32
``filter2D``, patch features in float32 matched by scikit-learn's ``NearestNeighbors``
(``pip install "segloss-segmetrics[camouflage]"``), colour difference by scikit-image. The dataset
value is the mean over images.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from segmetrics._inputs import check_choice, check_positive, prepare_gt, prepare_images, prepare_pairs
from segmetrics._kernels import context as _k
from segmetrics._normalize import uint8_level_values
from segmetrics._optional import import_optional
from segmetrics._sod_core import EPS, check_bool, image_stats, normalized_map

__all__ = [
    "CM_COMPAT",
    "MAX_ALPHA",
    "camouflage_context_measure",
    "camouflage_degree",
    "check_alpha",
    "context_measure",
]

#: Accepted values of ``compat``.
CM_COMPAT = ("exact", "pysod")
#: Largest kernel scale α: the kernel spans up to ``round(3 α)`` pixels on each side of its centre
#: (601 x 601 at 100, about 0.2 GB and 2 s per image; ~4 GB and 30 s at 1000).
MAX_ALPHA = 100.0


def check_alpha(value: Any, name: str) -> float:
    """Return the kernel scale α as ``float``: a number in ``(0, MAX_ALPHA]`` (the kernel grows as α²)."""
    alpha = check_positive(value, name)
    if alpha > MAX_ALPHA:
        raise ValueError(f"`{name}` must be <= {MAX_ALPHA:g} (the kernel spans up to 3 * alpha pixels on each side "
                         f"of its centre; pysodmetrics uses 6); got {value!r}")
    return alpha

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
        a, b, c = n * srr - sr * sr, n * src - sr * sc, n * scc - sc * sc
        if a > 0 and c > 0 and a * c == b * b:  # collinear pixels, off the axes: a singular covariance
            return _line_kernel(a, b, c, alpha)
        cov = np.array([[(n * srr - sr * sr) / den, (n * src - sr * sc) / den],
                        [(n * src - sr * sc) / den, (n * scc - sc * sc) / den]])
        cov[0, 0] = cov[0, 0] if cov[0, 0] != 0 else EPS
        cov[1, 1] = cov[1, 1] if cov[1, 1] != 0 else EPS
        total = cov[0, 0] + cov[1, 1]
        dr = round(float(3 * (alpha * np.sqrt(cov[0, 0]) / np.sqrt(total))))
        dc = round(float(3 * (alpha * np.sqrt(cov[1, 1]) / np.sqrt(total))))
        cov = alpha**2 * cov / total
    if dr == 0 and dc == 0:  # one tap, whatever the covariance (which underflows for a tiny alpha)
        return np.ones((1, 1))
    zr, zc = np.meshgrid(np.arange(-dr, dr + 1), np.arange(-dc, dc + 1), indexing="ij")
    z = np.stack([zr, zc], axis=-1)
    q = np.einsum("...i,ij,...j->...", z, np.linalg.inv(cov), z)
    k = np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
    return k / k.sum()


def _line_kernel(a: int, b: int, c: int, alpha: float) -> np.ndarray:
    """The kernel of collinear GT pixels (scaled covariance ``α² u uᵀ``, ``u`` the line's direction).

    ``a, b, c`` are the exact integer covariance numerators (``a c = b²``). The Gaussian of a rank-one
    covariance lives on the line: ``exp(−|z|² / (2 α²))`` on the offsets ``z ∥ u``, 0 elsewhere (the
    limit of the ``eps`` rule of axis-aligned lines; pysodmetrics raises ``LinAlgError`` here).
    """
    g = math.gcd(a, b)
    ur, uc = a // g, b // g  # (a, b) is parallel to u, in lowest terms
    total = a + c
    dr = round(float(3 * (alpha * math.sqrt(a / total))))
    dc = round(float(3 * (alpha * math.sqrt(c / total))))
    zr, zc = np.meshgrid(np.arange(-dr, dr + 1), np.arange(-dc, dc + 1), indexing="ij")
    k = np.where(zr * uc == zc * ur, np.exp(-0.5 * (zr * zr + zc * zc) / alpha**2), 0.0)
    return k / k.sum()


def _q_region(lo: int, hi: int, n: int, d: int) -> tuple[int, int]:
    """Extended positions ``[a, b]`` (``-d <= a``, ``b <= n - 1 + d``) whose reflections cover ``[lo, hi]``."""
    return (-d if lo <= d else lo - d), (n - 1 + d if hi >= n - 1 - d else hi + d)


def _sums_exact(pn: np.ndarray, g: np.ndarray, cd: np.ndarray | None, k: np.ndarray) -> tuple:
    """The five sums of :func:`_score` in float64, from one correlation of the prediction (module docstring)."""
    import cv2

    h, w = g.shape
    dr, dc = k.shape[0] // 2, k.shape[1] // 2
    rows, cols = np.flatnonzero(g.any(axis=1)), np.flatnonzero(g.any(axis=0))
    if rows.size == 0:  # no GT: Σ P·F = Σ R·G = 0
        q, r0, c0 = np.zeros((0, 0)), 0, 0
    else:
        r0, r1 = _q_region(int(rows[0]), int(rows[-1]), h, dr)
        c0, c1 = _q_region(int(cols[0]), int(cols[-1]), w, dc)
        i0, i1, j0, j1 = max(0, r0 - dr), min(h - 1, r1 + dr), max(0, c0 - dc), min(w - 1, c1 + dc)
        src = pn[i0:i1 + 1, j0:j1 + 1]
        pads = (i0 - (r0 - dr), r1 + dr - i1, j0 - (c0 - dc), c1 + dc - j1)
        if any(pads):
            src = cv2.copyMakeBorder(src, *pads, cv2.BORDER_CONSTANT, value=0)
        q = cv2.filter2D(src, cv2.CV_64F, k, borderType=cv2.BORDER_CONSTANT)[dr:dr + r1 - r0 + 1, dc:dc + c1 - c0 + 1]
    # R = K ⋆ P with reflected borders, within (dr, dc) of the border where GT pixels lie there
    strips = []
    for lo_r, hi_r, lo_c, hi_c, i0, i1, j0, j1 in (
        (0, dr, 0, w, 0, 2 * dr, 0, w), (h - dr, h, 0, w, h - 2 * dr, h, 0, w),
        (0, h, 0, dc, 0, h, 0, 2 * dc), (0, h, w - dc, w, 0, h, w - 2 * dc, w),
    ):
        lo_r, lo_c, i0, j0 = max(lo_r, 0), max(lo_c, 0), max(i0, 0), max(j0, 0)
        if g[lo_r:hi_r, lo_c:hi_c].any():
            band = cv2.filter2D(pn[i0:i1, j0:j1], cv2.CV_64F, k, borderType=cv2.BORDER_REFLECT_101)
            strips.append(np.ascontiguousarray(band[lo_r - i0:hi_r - i0, lo_c - j0:hi_c - j0]))
        else:
            strips.append(_NO_STRIP)
    use_cd = cd is not None
    return _k.exact_sums(pn, g, cd if use_cd else _NO_CD, use_cd, q, r0, c0, dr, dc, *strips,
                         _EXP_FACTOR)


_NO_CD = np.zeros((1, 1))
_NO_STRIP = np.zeros((0, 0))


def _sums_pysod(pn: np.ndarray, g: np.ndarray, cd: np.ndarray | None, k: np.ndarray) -> tuple:
    """The five sums of :func:`_score` from pysodmetrics' two ``filter2D`` calls (forward map in float32)."""
    import cv2

    cd = np.zeros(g.shape) if cd is None else cd
    fwd = cv2.filter2D(g.astype(np.float32), cv2.CV_32F, k)
    rev = cv2.filter2D(pn, -1, k)
    return _k.context_sums(pn.ravel(), g.ravel(), fwd.ravel(), rev.ravel(), cd.ravel(), _EXP_FACTOR)


def _score(pn: np.ndarray, g: np.ndarray, cd: np.ndarray | None, beta_sq: float, alpha: float,
           compat: str = "exact") -> float:
    """Context measure of the normalised float64 map ``pn`` (``cd``: camouflage degree, ``None`` for 0)."""
    k = _context_kernel(g, alpha)
    a, b, r, sg, sc = (_sums_exact if compat == "exact" else _sums_pysod)(pn, g, cd, k)
    # sums of non-negative terms; the DFT correlation can leave ~1e-16 below 0 where they are 0 (CM -0.0)
    mf = max(a, 0.0) / (b + EPS)
    wr = max(r, 0.0) / (sg + sc + EPS)
    return float((1 + beta_sq) * mf * wr / (beta_sq * mf + wr + EPS))


def _normalised(p: np.ndarray, g: np.ndarray, normalize: bool) -> np.ndarray:
    """``P̂`` as the shared pass normalises it (for uint8 maps the same level table, from the min and max only)."""
    if p.dtype == np.uint8:
        lo, hi = float(p.min()) / 255.0, float(p.max()) / 255.0
        donorm = bool(normalize and hi != lo)
        return _k.lut_map(uint8_level_values(lo, hi - lo if donorm else 1.0, donorm), p)
    return np.ascontiguousarray(normalized_map(p, image_stats(p, g, normalize=normalize, fe=False)), np.float64)


def context_measure(pred: Any, gt: Any, *, beta_sq: float = 1.0, alpha: float = 6.0,
                    normalize: bool = True, compat: str = "exact") -> float | np.ndarray:
    r"""Context measure of a prediction (higher is better, in ``[0, 1]``).

    See the module docstring for the definition.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        beta_sq: weight β² of the forward term (default 1), must be > 0.
        alpha: kernel scale α (default 6), in ``(0, 100]``.
        normalize: min-max normalise the prediction first (pysodmetrics default).
        compat: ``"exact"`` (both correlations in float64) or ``"pysod"`` (pysodmetrics' float32
            forward map: identical to ``ContextMeasure``).

    Shapes:
        single pair → ``float``; batch of ``N`` → ``(N,)`` float64 array.

    Returns:
        The context measure.

    Raises:
        TypeError: unsupported input type or dtype, wrongly typed option.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values, ``beta_sq`` not > 0,
            ``alpha`` not in ``(0, 100]``, unknown ``compat``.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((32, 32), bool); gt[8:24, 8:24] = True
        >>> round(context_measure(np.where(gt, 255, 0).astype(np.uint8), gt), 4)
        0.6713
    """
    b2, al = check_positive(beta_sq, "beta_sq"), check_alpha(alpha, "alpha")
    norm = check_bool(normalize, "normalize")
    check_choice(compat, "compat", CM_COMPAT)
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    vals = np.array([_score(_normalised(p, g, norm), g, None, b2, al, compat) for p, g in pairs])
    return vals if batched else float(vals[0])


def _nearest_exact(xf: np.ndarray, xc: np.ndarray, qf: np.ndarray, qc: np.ndarray) -> np.ndarray:
    """Exact nearest background patch (rows of ``xf``/``xc``) of every foreground patch (``qf``/``qc``).

    A k-d tree over 8-value patch summaries whose distances bound the patch distances from below
    (:func:`segmetrics._kernels.context.patch_summaries`) prunes every node and patch whose bound
    exceeds the best exact distance found.
    """
    vx, vq = _k.patch_summaries(xf, xc, _PATCH * _PATCH), _k.patch_summaries(qf, qc, _PATCH * _PATCH)
    return _k.nearest_patches(xf, xc, vx, qf, qc, vq, *_k.summary_tree(vx, _LEAF))


_LEAF = 16


def camouflage_degree(image: Any, gt: Any, *, gamma: float = 8, lambda_spatial: float = 20,
                      compat: str = "exact") -> np.ndarray:
    r"""Per-pixel camouflage degree ``c`` in ``[0, 1]`` of the GT object in its image (0 outside the GT).

    ``c = (exp(γ · s · G) − 1) / (e^γ − 1)`` with ``s = 1 − min(ΔE₀₀ / 100, 1)`` the CIEDE2000
    similarity of the foreground rebuilt from its nearest background patches and the true one (see
    the module docstring).

    Args:
        image: ``(H, W, 3)`` uint8 RGB image.
        gt: ``(H, W)`` ground truth: bool, uint8 (foreground ``> 128``), integer 0/1 or float in ``[0, 1]``.
        gamma: exponential scale γ, > 0.
        lambda_spatial: weight λ of the scaled patch position in the nearest-neighbour search, >= 0.
        compat: ``"exact"`` (float64 features, exact nearest neighbours, CIEDE2000 in float64) or
            ``"pysod"`` (pysodmetrics' float32 features and scikit-learn's search, scikit-image's
            colour difference).

    Returns:
        ``(H, W)`` float64 map; all zero when no 7x7 patch fits in the object or in its surrounding
        band (e.g. an image smaller than 7 pixels on a side).

    Raises:
        TypeError: unsupported type or dtype of ``gt`` or ``image``, wrongly typed option.
        ValueError: an image that is not uint8 RGB of the GT's size, invalid GT values, invalid options.
        ImportError: ``compat="pysod"`` without scikit-learn.

    Example:
        >>> import numpy as np
        >>> img = np.full((40, 40, 3), 90, np.uint8); gt = np.zeros((40, 40), bool); gt[10:30, 10:30] = True
        >>> float(camouflage_degree(img, gt)[20, 20])  # the object has the background's colour
        1.0
    """
    g = prepare_gt(gt)
    if image is None:
        raise TypeError("`image` must be a uint8 (H, W, 3) RGB image; got None")
    (im,) = prepare_images(image, [(g, g)], False)
    gm, lam = check_positive(gamma, "gamma"), check_positive(lambda_spatial, "lambda_spatial", allow_zero=True)
    check_choice(compat, "compat", CM_COMPAT)
    return _camouflage_degree(im, g, gm, lam, compat)


def _camouflage_degree(image: np.ndarray, gt: np.ndarray, gamma: float, lambda_spatial: float,
                       compat: str) -> np.ndarray:
    """:func:`camouflage_degree` of a validated uint8 RGB image and boolean GT (validated options)."""
    import cv2

    neighbors = None
    if compat == "pysod":
        neighbors = import_optional("sklearn.neighbors", "camouflage",
                                    'the camouflage context measure with compat="pysod"')
    if min(gt.shape) < _PATCH:  # no 7x7 patch fits: nothing to match (the reference fails here)
        return np.zeros(gt.shape)
    fg = gt.astype(np.uint8)
    bg = cv2.dilate(fg, np.ones((_BAND, _BAND), np.uint8), iterations=1) - fg
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    fg_idx, fg_feat = _k.patch_grid(lab, fg, _PATCH, _PATCH // 2)
    bg_idx, bg_feat = _k.patch_grid(lab, bg, _PATCH, _PATCH // 2)
    if len(fg_idx) == 0 or len(bg_idx) == 0:
        return np.zeros(gt.shape)
    coords = np.vstack([bg_idx, fg_idx]).astype(np.float64)
    std = coords.std(axis=0)
    scaled = lambda_spatial * ((coords - coords.mean(axis=0)) / np.where(std == 0, 1.0, std))
    nb = len(bg_idx)
    if neighbors is not None:
        x = np.hstack([bg_feat, scaled[:nb]]).astype(np.float32)
        q = np.hstack([fg_feat, scaled[nb:]]).astype(np.float32)
        nn = neighbors.NearestNeighbors(n_neighbors=1, metric="euclidean").fit(x).kneighbors(q)[1][:, 0]
    else:
        nn = _nearest_exact(bg_feat, scaled[:nb], fg_feat, scaled[nb:])
    rebuilt, true = _k.rebuilt_pixels(image, fg_idx, bg_idx, nn, _PATCH, gt)
    sim = np.zeros(gt.shape)
    if neighbors is not None:
        from skimage.color import deltaE_ciede2000, rgb2lab

        sim[gt] = 1 - np.clip(deltaE_ciede2000(rgb2lab(rebuilt[None]), rgb2lab(true[None]))[0] / 100, 0, 1)
    else:
        sim[gt] = _k.ciede2000_similarity(rebuilt, true)
    # (exp(γ s G) − 1) / (e^γ − 1), written exp(x − γ) · expm1(−x) / expm1(−γ) with x = γ s G: the same
    # value without overflow for a large γ (inf / inf) or cancellation for a tiny one (0 / 0)
    x = gamma * sim * fg
    return np.exp(x - gamma) * (np.expm1(-x) / np.expm1(-gamma))


def camouflage_context_measure(
    pred: Any, gt: Any, image: Any, *, beta_sq: float = 1.2, alpha: float = 6.0, gamma: float = 8,
    lambda_spatial: float = 20, normalize: bool = True, compat: str = "exact",
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
        alpha: kernel scale α (default 6), in ``(0, 100]``.
        gamma: camouflage-degree scale γ (default 8), must be > 0.
        lambda_spatial: position weight λ of the patch matching (default 20), must be >= 0.
        normalize: min-max normalise the prediction first (pysodmetrics default).
        compat: ``"exact"`` (float64 correlations, exact patch matching, no scikit-learn) or
            ``"pysod"`` (identical to ``CamouflageContextMeasure``: float32 forward map and patch
            features, scikit-learn's search).

    Shapes:
        single pair → ``float``; batch of ``N`` → ``(N,)`` float64 array.

    Returns:
        The camouflage context measure (higher is better).

    Raises:
        TypeError: unsupported input type or dtype, wrongly typed option.
        ValueError: mismatched shapes, an image that is not uint8 RGB of the GT's size, invalid options.
        ImportError: ``compat="pysod"`` without scikit-learn.

    Example:
        >>> import numpy as np
        >>> img = np.full((40, 40, 3), 90, np.uint8); gt = np.zeros((40, 40), bool); gt[10:30, 10:30] = True
        >>> round(camouflage_context_measure(np.where(gt, 255, 0).astype(np.uint8), gt, img), 4)
        0.7509
    """
    b2, al = check_positive(beta_sq, "beta_sq"), check_alpha(alpha, "alpha")
    gm, lam = check_positive(gamma, "gamma"), check_positive(lambda_spatial, "lambda_spatial", allow_zero=True)
    norm = check_bool(normalize, "normalize")
    check_choice(compat, "compat", CM_COMPAT)
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    images = prepare_images(image, pairs, batched)
    if any(im is None for im in images):
        raise ValueError("`image` must give the RGB image of every map; got None")
    vals = []
    for (p, g), im in zip(pairs, images):
        cd = _camouflage_degree(im, g, gm, lam, compat)
        vals.append(_score(_normalised(p, g, norm), g, cd, b2, al, compat))
    return np.array(vals) if batched else float(vals[0])

