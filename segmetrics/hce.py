"""HCEγ, human correction efforts (Qin et al., ECCV 2022, §5 and Algorithm 1 "Relax HCE").

HCE approximates the number of mouse clicks an annotator needs to turn a prediction into the ground
truth: one click per dominant point of the polylines along the faulty boundaries that must be
redrawn, plus one click per faulty region that can be selected as a whole.

With ``P`` the binarised prediction, ``G`` the GT, ``S`` the GT skeleton, ``k`` the 3×3 cross and
``n`` the number of iterations (``γ`` as in the DIS code, ``γ + 1`` as in the paper)::

    TP = P ∧ G,  FP = P ∧ ¬G,  FN = G ∧ ¬P,  U = erode^n(P ∨ G, k)
    FP' = FP ∧ (dilate(·, k) ∧ ¬G)^n (FP ∧ U)
    FN' = [FN ∧ (dilate(·, k) ∧ ¬P)^n (FN ∧ U)] ∨ (S ∧ ¬TP)
    HCE = points(FP', dilate(TP ∨ FN')) + regions(FP') + points(FN', dilate(¬(TP ∨ FP' ∨ FN'))) + regions(FN')

``points(M, C)``: walk every OpenCV contour of ``M`` (``findContours(RETR_TREE, CHAIN_APPROX_NONE)``);
points inside ``C`` not visited before form open runs (a contour's first run is reversed and appended
to its last run when they touch); each run is simplified by Ramer–Douglas–Peucker
(``approxPolyDP(ε, closed=False)``) and its points are counted. ``regions(M)``: 8-connected regions
of ``M`` without any such point (holes in TP, islands in TN: one click each).

Conventions (defaults reproduce the DIS repository's ``relax_HCE``):

* ``threshold="official"``: ``P = pred > 128`` on the raw 0..255 map (on a float map, its 8-bit
  level ``trunc(255 pred01) > 128``, so ``pred_u8 / 255`` in float64 or float32 binarises as
  ``pred_u8``); ``"pysod"``: min-max normalised map ``> 0.5`` (pysodmetrics 1.6).
* ``iterations="code"``: γ erosions / dilations (DIS code); ``"paper"``: γ + 1 (Algorithm 1 loops
  ``i = 0..γ``).
* Erosion and dilation use OpenCV's border semantics: nothing erodes in from the image edge.
* ``count_whole_image_region=False``: the DIS script does not count a relaxed mask that covers the
  whole image as an independent region (it sizes its flag array by the number of distinct labels);
  ``True`` counts it, as pysodmetrics does.

Implementation: masks are bit-packed (64 pixels per word) and the work is cropped to the bounding box
of GT ∪ prediction ∪ skeleton plus a margin of (iterations + 2) pixels, which cannot change the result
(erosion, the constrained dilations and the contours only see pixels within that distance). Labelling
(8-connected, run-length union-find) and the contour walk run in numba; contours stay OpenCV's
``findContours``, because its traversal order and start points decide the counts. The points that
``approxPolyDP(ε, closed=False)`` keeps are counted by a numba port of OpenCV 4's open-curve
Ramer–Douglas–Peucker (segment distances, its final clean-up sweep; tested against OpenCV on random
and real runs), in one call for all runs; the details (``hce_details``) still take OpenCV's polylines.
Components of one or two pixels are counted without tracing (every point of their contour survives
the simplification).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segmetrics._inputs import (
    above_uint8_threshold,
    check_bool,
    check_choice,
    check_epsilon,
    check_int,
    is_batch,
    prepare_pairs,
    prepare_skeletons,
)
from segmetrics._kernels.hce import (
    boundary_runs,
    label_runs,
    pack,
    pack_aligned_into,
    pack_into,
    packed_bbox,
    paint_labels,
    paint_window,
    rdp_counts,
    relax_masks,
    unpack,
)
from segmetrics.skeleton import _skeleton_crop

__all__ = ["HCEDetails", "HCEResult", "hce", "hce_details"]

_THRESHOLDS = ("official", "pysod")
_ITERATIONS = ("code", "paper")
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class HCEResult:
    """HCEγ and its four parts.

    Attributes:
        total: ``fp_points + fp_regions + fn_points + fn_regions``.
        fp_points: polygon points needed to fix false-positive regions touching the object (FP_P).
        fp_regions: false-positive regions inside the background, one click each (FP_TN).
        fn_points: polygon points needed to fix false-negative regions touching the background (FN_N).
        fn_regions: false-negative holes inside the true positives, one click each (FN_TP).

    Each attribute is an ``int`` for one image or an ``(N,)`` int64 array for a batch.
    """

    total: Any
    fp_points: Any
    fp_regions: Any
    fn_points: Any
    fn_regions: Any

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"total", "fp_points", "fp_regions", "fn_points", "fn_regions"}``."""
        return {
            "total": self.total,
            "fp_points": self.fp_points,
            "fp_regions": self.fp_regions,
            "fn_points": self.fn_points,
            "fn_regions": self.fn_regions,
        }


@dataclass(frozen=True)
class HCEDetails:
    """Everything HCE looks at for one image, to draw what it counts (the paper's Fig. 6).

    All masks are ``(H, W)`` booleans; point arrays are ``int32`` with columns ``(x, y)`` (OpenCV
    order: column, row).

    Attributes:
        tp, fp, fn: true-positive, false-positive and false-negative masks of the binarised maps.
        skeleton: the GT skeleton used (computed or given).
        fp_relaxed: FP′, the false positives left after relaxation.
        fn_relaxed: FN′, the false negatives left after relaxation, including ``skeleton ∧ ¬TP``.
        fp_condition: dilated edge condition of FP′ (``dilate(TP ∨ FN′)``): FP′ boundary points
            inside it must be redrawn.
        fn_condition: dilated edge condition of FN′ (``dilate(¬(TP ∨ FP′ ∨ FN′))``).
        fp_runs, fn_runs: the boundary runs to redraw (before simplification), one array each.
        fp_polylines, fn_polylines: the runs after Ramer–Douglas–Peucker simplification; their
            lengths sum to ``fp_points`` / ``fn_points``.
        fp_labels, fn_labels: ``int32`` 8-connected region labels of FP′ / FN′ (0 = background).
        fp_independent, fn_independent: the regions counted as one click each (FP_TN, FN_TP); the
            rest of FP′ / FN′ is corrected with polygon points (FP_P, FN_N).
        fp_points, fp_regions, fn_points, fn_regions: the four counts (as in :class:`HCEResult`).
    """

    tp: np.ndarray
    fp: np.ndarray
    fn: np.ndarray
    skeleton: np.ndarray
    fp_relaxed: np.ndarray
    fn_relaxed: np.ndarray
    fp_condition: np.ndarray
    fn_condition: np.ndarray
    fp_runs: list[np.ndarray] = field(repr=False)
    fn_runs: list[np.ndarray] = field(repr=False)
    fp_polylines: list[np.ndarray] = field(repr=False)
    fn_polylines: list[np.ndarray] = field(repr=False)
    fp_labels: np.ndarray = field(repr=False)
    fn_labels: np.ndarray = field(repr=False)
    fp_independent: np.ndarray = field(repr=False)
    fn_independent: np.ndarray = field(repr=False)
    fp_points: int = 0
    fp_regions: int = 0
    fn_points: int = 0
    fn_regions: int = 0

    @property
    def total(self) -> int:
        """HCEγ, the sum of the four counts."""
        return self.fp_points + self.fp_regions + self.fn_points + self.fn_regions

    @property
    def result(self) -> HCEResult:
        """The counts as an :class:`HCEResult`."""
        return HCEResult(self.total, self.fp_points, self.fp_regions, self.fn_points, self.fn_regions)


def _check_options(gamma: Any, epsilon: Any, threshold: Any, iterations: Any, count_whole_image_region: Any) -> None:
    check_int(gamma, "gamma")
    check_epsilon(epsilon, "epsilon")
    check_choice(threshold, "threshold", _THRESHOLDS)
    check_choice(iterations, "iterations", _ITERATIONS)
    check_bool(count_whole_image_region, "count_whole_image_region")


def _last_mask(ncols: int) -> np.uint64:
    rem = ncols % 64
    return _ALL if rem == 0 else np.uint64((1 << rem) - 1)


def _boundary_count(
    mask: np.ndarray, ncols: int, cond: np.ndarray, epsilon: float, count_whole: bool, keep: bool
) -> tuple:
    """Polygon points and independent regions of one packed relaxed mask (crop coordinates)."""
    import cv2

    row_start, run_start, run_end, root, n_comp, n_pixels = label_runs(mask, ncols)
    labels = independent = None
    if n_comp == 0:
        if keep:
            labels, independent = np.zeros((mask.shape[0], ncols), np.int32), np.zeros(1, bool)
        return 0, 0, [], [], labels, independent
    # OpenCV pads the image with background before tracing, so contours of the mask's bounding box
    # are those of the whole mask shifted (same order, same start points). Contours of different
    # components share no pixel, so tiny components can be counted without tracing them.
    rows = np.flatnonzero(np.diff(row_start))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(run_start.min()), int(run_end.max())
    window = np.empty((r1 - r0, c1 - c0), np.uint8)
    touched = np.zeros(root.size, bool)
    small = 0 if keep else 2
    small_points = paint_window(row_start, run_start, run_end, root, cond, r0, r1, c0, c1, small, window, touched)
    contours = cv2.findContours(window, cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE, offset=(c0, r0))[0]
    if len(contours):
        offsets = np.zeros(len(contours) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, contours), np.int64, len(contours)), out=offsets[1:])
        points = np.concatenate(contours).reshape(-1, 2)
        run_pts, run_off = boundary_runs(points, offsets, cond, row_start, run_start, run_end, root, touched)
    else:
        run_pts, run_off = np.zeros((0, 2), np.int32), np.zeros(1, np.int64)
    runs, polys = [], []
    if keep:
        for a, b in zip(run_off[:-1].tolist(), run_off[1:].tolist()):
            runs.append(run_pts[a:b].copy())
            polys.append(cv2.approxPolyDP(run_pts[a:b], epsilon, False).reshape(-1, 2))
        n_points = sum(len(p) for p in polys)
    else:
        lengths = np.diff(run_off)
        n_points = small_points + int(lengths[lengths <= 2].sum())  # approxPolyDP keeps 1 or 2 distinct points
        counted = rdp_counts(run_pts, run_off, float(epsilon))  # approxPolyDP's count, in one numba call
        if counted < 0:  # a run whose end points coincide (OpenCV treats it as closed): ask OpenCV
            counted = 0
            for a, b in zip(run_off[:-1][lengths > 2].tolist(), run_off[1:][lengths > 2].tolist()):
                counted += len(cv2.approxPolyDP(run_pts[a:b], epsilon, False))
        n_points += counted
    is_root = root == np.arange(root.size)
    n_regions = int(np.count_nonzero(is_root & ~touched[root]))
    whole = n_comp == 1 and n_pixels == mask.shape[0] * ncols
    if whole and not count_whole:
        n_regions = 0  # DIS quirk: a region covering the whole image is not counted
    if keep:
        labels = np.zeros((mask.shape[0], ncols), np.int32)
        lab = paint_labels(row_start, run_start, run_end, root, labels)
        independent = np.zeros(n_comp + 1, bool)
        if not (whole and not count_whole):
            independent[lab[is_root & ~touched[root]]] = True
    return n_points, n_regions, runs, polys, labels, independent


_LEVELS = np.arange(256) / 255.0


def _binarize(pred: np.ndarray, threshold: str) -> np.ndarray:
    """The binary prediction: 8-bit level ``trunc(255 P) > 128`` (official) or ``minmax(P) > 0.5`` (pysod).

    ``pred`` is the canonical float64 map in [0, 1], or the raw uint8 map (then ``P = pred / 255``
    is never materialised: the same float64 comparison is made once per level and looked up).
    """
    u8 = pred.dtype == np.uint8
    vals = _LEVELS if u8 else pred
    if threshold == "pysod":
        lo, hi = float(pred.min()), float(pred.max())
        if u8:
            lo, hi = float(_LEVELS[int(lo)]), float(_LEVELS[int(hi)])
        binary = vals > 0.5 if hi <= lo else (vals - lo) / (hi - lo) > 0.5
    else:  # the DIS script's raw > 128, at the level a float map would be saved with
        binary = above_uint8_threshold(vals)
    if not u8:
        return binary
    # the level test is monotone in the level: one uint8 comparison with the first level that passes
    if not binary.any():
        return np.zeros(pred.shape, bool)
    return pred >= np.uint8(np.argmax(binary))


def _run(
    pred01: np.ndarray,
    gt: np.ndarray,
    gamma: int,
    epsilon: float,
    skeleton: np.ndarray | None,
    threshold: str,
    iterations: str,
    count_whole_image_region: bool,
    keep: bool,
) -> tuple:
    h, w = gt.shape
    nw = (w + 63) // 64
    n_iter = gamma if iterations == "code" else gamma + 1
    p = pack(_binarize(pred01, threshold))
    g = pack(gt)
    r0, r1, c0, c1 = packed_bbox(p | g)
    s = np.zeros((h, nw), np.uint64)
    skel = skeleton
    if skeleton is None:
        crop, sr0, sc0 = _skeleton_crop(gt, 64) if (keep or r1 > r0) else (np.zeros((0, 0), bool), 0, 0)
        pack_aligned_into(crop, sr0, sc0, s)  # inside the bounding box of G, widened to whole words
        if keep:
            skel = np.zeros((h, w), bool)
            skel[sr0 : sr0 + crop.shape[0], sc0 : sc0 + crop.shape[1]] = crop
    else:
        rows = np.flatnonzero(skeleton.any(axis=1))
        if rows.size:  # a given skeleton may reach outside G: widen the work region
            cols = np.flatnonzero(skeleton[rows[0] : rows[-1] + 1].any(axis=0))
            sr0, sr1, sc0, sc1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
            pack_into(skeleton[sr0:sr1, sc0:sc1], sr0, sc0, s)
            if r1 > r0:
                r0, r1, c0, c1 = min(r0, sr0), max(r1, sr1), min(c0, sc0), max(c1, sc1)
            else:
                r0, r1, c0, c1 = sr0, sr1, sc0, sc1
    if r1 <= r0 and not keep:
        return 0, 0, 0, 0, None
    if keep:  # details are drawn on the whole image
        r0, r1, w0, w1 = 0, h, 0, nw
    else:
        margin = n_iter + 2
        r0, r1 = max(0, r0 - margin), min(h, r1 + margin)
        w0, w1 = max(0, c0 - margin) // 64, min(nw, (min(w, c1 + margin) + 63) // 64)
    last = _last_mask(w) if w1 == nw else _ALL
    ncols = min(w, 64 * w1) - 64 * w0
    crop = (slice(r0, r1), slice(w0, w1))
    tp, fp, fn, fp_rel, fn_rel, cond_fp, cond_fn = relax_masks(p[crop], g[crop], s[crop], n_iter, last)
    fp_res = _boundary_count(fp_rel, ncols, cond_fp, epsilon, count_whole_image_region, keep)
    fn_res = _boundary_count(fn_rel, ncols, cond_fn, epsilon, count_whole_image_region, keep)
    if not keep:
        return fp_res[0], fp_res[1], fn_res[0], fn_res[1], None

    def full(x: np.ndarray) -> np.ndarray:
        out = np.empty((h, w), np.uint8)
        unpack(x, w, out)
        return out.view(bool)

    def independent_mask(res: tuple) -> np.ndarray:
        return res[5][res[4]]

    details = HCEDetails(
        tp=full(tp),
        fp=full(fp),
        fn=full(fn),
        skeleton=skel.astype(bool, copy=False),
        fp_relaxed=full(fp_rel),
        fn_relaxed=full(fn_rel),
        fp_condition=full(cond_fp),
        fn_condition=full(cond_fn),
        fp_runs=fp_res[2],
        fn_runs=fn_res[2],
        fp_polylines=fp_res[3],
        fn_polylines=fn_res[3],
        fp_labels=fp_res[4],
        fn_labels=fn_res[4],
        fp_independent=independent_mask(fp_res),
        fn_independent=independent_mask(fn_res),
        fp_points=int(fp_res[0]),
        fp_regions=int(fp_res[1]),
        fn_points=int(fn_res[0]),
        fn_regions=int(fn_res[1]),
    )
    return details.fp_points, details.fp_regions, details.fn_points, details.fn_regions, details


def _hce_image(
    pred01: np.ndarray,
    gt: np.ndarray,
    *,
    gamma: int = 5,
    epsilon: float = 2.0,
    skeleton: np.ndarray | None = None,
    threshold: str = "official",
    iterations: str = "code",
    count_whole_image_region: bool = False,
) -> tuple[int, int, int, int]:
    """HCE parts of one validated image (no input checks; for the fused all-metrics call).

    Args:
        pred01: ``(H, W)`` C-contiguous float64 canonical prediction in ``[0, 1]``, not min-max
            normalised, or the raw uint8 map (read as ``pred01 / 255``).
        gt: ``(H, W)`` C-contiguous boolean ground truth.
        gamma: error tolerance γ >= 0 (see :func:`hce`).
        epsilon: RDP tolerance ε > 0.
        skeleton: ``(H, W)`` boolean GT skeleton, or ``None`` to compute it.
        threshold: ``"official"`` or ``"pysod"``.
        iterations: ``"code"`` or ``"paper"``.
        count_whole_image_region: count a relaxed mask covering the whole image (pysod).

    Returns:
        ``(fp_points, fp_regions, fn_points, fn_regions)`` as Python ints.
    """
    fpp, fpr, fnp, fnr, _ = _run(
        pred01, gt, gamma, epsilon, skeleton, threshold, iterations, count_whole_image_region, keep=False
    )
    return int(fpp), int(fpr), int(fnp), int(fnr)


def hce(
    pred: Any,
    gt: Any,
    *,
    gamma: int = 5,
    epsilon: float = 2.0,
    skeleton: Any = None,
    threshold: str = "official",
    iterations: str = "code",
    count_whole_image_region: bool = False,
) -> HCEResult:
    r"""Human correction efforts HCEγ of one prediction or a batch (DIS, ECCV 2022).

    ``HCE = fp_points + fp_regions + fn_points + fn_regions``: the polygon points (after
    Ramer–Douglas–Peucker with tolerance ``epsilon``) needed to redraw the faulty boundaries of the
    relaxed false positives / negatives, plus one click per faulty region that needs no polygon
    (see the module docstring for the full definition). Lower is better; 0 for a perfect
    prediction. The defaults give exactly the numbers of the DIS repository's ``relax_HCE`` with
    the skeleton from ``skimage.morphology.skeletonize``.

    Args:
        pred: prediction ``(H, W)``, a batch ``(N, H, W)`` / ``(N, 1, H, W)`` or a list of maps;
            uint8 0..255, bool or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure; bool, uint8 (foreground ``> 128``), 0/1 integers
            or float in ``[0, 1]``.
        gamma: error tolerance γ ≥ 0 (pixels); faulty structures thinner than about 2γ are
            forgiven. Default 5.
        epsilon: RDP tolerance ε in pixels, 0 < ε < 1e30. Default 2.0.
        skeleton: optional precomputed GT skeleton (bool, or uint8 with foreground ``> 128`` as
            the DIS script reads its PNGs), one map or a matching batch / list (``None`` items are
            computed). Default ``None``: computed with :func:`segmetrics.skeletonize`.
        threshold: ``"official"`` (default): ``pred > 128`` on the 0..255 scale
            (``trunc(255 pred01) > 128``), as the DIS script; ``"pysod"``: min-max normalised map
            ``> 0.5``, as pysodmetrics' ``HumanCorrectionEffortMeasure``.
        iterations: ``"code"`` (default): γ erosions and dilations (DIS code); ``"paper"``: γ + 1
            (Algorithm 1 loops ``i = 0..γ``).
        count_whole_image_region: count a relaxed FP′ / FN′ mask that covers the whole image as
            one independent region (pysodmetrics). Default ``False`` (DIS script).

    Shapes:
        ``pred``, ``gt``, ``skeleton``: ``(H, W)``, ``(N, H, W)``, ``(N, 1, H, W)`` or lists.

    Returns:
        :class:`HCEResult` with ``total`` and the four parts: ints for one image, ``(N,)`` int64
        arrays for a batch. The dataset value of the DIS benchmark is ``result.total.mean()``.

    Raises:
        TypeError: for unsupported types / dtypes or a non-integer ``gamma``.
        ValueError: for mismatched shapes, invalid values, ``gamma < 0``, ``epsilon`` not in
            ``(0, 1e30)`` or an unknown ``threshold`` / ``iterations``.

    Example:
        >>> import numpy as np
        >>> from segmetrics import hce
        >>> gt = np.zeros((64, 64), np.uint8)
        >>> gt[16:48, 16:48] = 255
        >>> pred = np.zeros_like(gt)
        >>> pred[16:48, 16:40] = 255
        >>> hce(pred, gt)
        HCEResult(total=4, fp_points=0, fp_regions=0, fn_points=4, fn_regions=0)
        >>> hce(gt, gt).total
        0
    """
    _check_options(gamma, epsilon, threshold, iterations, count_whole_image_region)
    pairs, batched = prepare_pairs(pred, gt)
    skeletons = prepare_skeletons(skeleton, pairs, batched)
    parts = np.array(
        [
            _hce_image(
                p,
                g,
                gamma=int(gamma),
                epsilon=float(epsilon),
                skeleton=s,
                threshold=threshold,
                iterations=iterations,
                count_whole_image_region=bool(count_whole_image_region),
            )
            for (p, g), s in zip(pairs, skeletons)
        ],
        dtype=np.int64,
    ).reshape(len(pairs), 4)
    total = parts.sum(axis=1)
    if not batched:
        return HCEResult(int(total[0]), *(int(v) for v in parts[0]))
    return HCEResult(total, parts[:, 0].copy(), parts[:, 1].copy(), parts[:, 2].copy(), parts[:, 3].copy())


def hce_details(
    pred: Any,
    gt: Any,
    *,
    gamma: int = 5,
    epsilon: float = 2.0,
    skeleton: Any = None,
    threshold: str = "official",
    iterations: str = "code",
    count_whole_image_region: bool = False,
) -> HCEDetails:
    """HCEγ of one image with every intermediate mask, run and polyline (for figures like Fig. 6).

    Same definition, arguments and counts as :func:`hce`, for a single ``(H, W)`` pair only. The
    independent regions are the paper's FP_TN / FN_TP (one click each); the remaining parts of
    ``fp_relaxed`` / ``fn_relaxed`` are FP_P / FN_N, corrected with the points of ``fp_polylines``
    / ``fn_polylines``.

    Args:
        pred: one ``(H, W)`` prediction (see :func:`hce`).
        gt: its ``(H, W)`` ground truth.
        gamma: error tolerance γ >= 0. Default 5.
        epsilon: RDP tolerance ε > 0. Default 2.0.
        skeleton: optional precomputed ``(H, W)`` GT skeleton. Default ``None``.
        threshold: ``"official"`` (default) or ``"pysod"``.
        iterations: ``"code"`` (default) or ``"paper"``.
        count_whole_image_region: as in :func:`hce`. Default ``False``.

    Shapes:
        ``pred``, ``gt``, ``skeleton``: ``(H, W)``; every mask of the result: ``(H, W)``.

    Returns:
        :class:`HCEDetails`.

    Raises:
        TypeError, ValueError: as :func:`hce`; also ``ValueError`` for a batch.

    Example:
        >>> import numpy as np
        >>> from segmetrics import hce_details
        >>> gt = np.zeros((64, 64), bool)
        >>> gt[16:48, 16:48] = True
        >>> d = hce_details(gt[:, ::-1].copy() | gt, gt)
        >>> d.total == sum(len(p) for p in d.fp_polylines) + d.fp_regions + d.fn_points + d.fn_regions
        True
    """
    _check_options(gamma, epsilon, threshold, iterations, count_whole_image_region)
    if is_batch(pred) or is_batch(gt):
        raise ValueError("`hce_details` takes one (H, W) pair; got a batch (call it per image)")
    pairs, _ = prepare_pairs(pred, gt)
    (skel,) = prepare_skeletons(skeleton, pairs, False)
    p, g = pairs[0]
    *_, details = _run(
        p, g, int(gamma), float(epsilon), skel, threshold, iterations, bool(count_whole_image_region), keep=True
    )
    return details
