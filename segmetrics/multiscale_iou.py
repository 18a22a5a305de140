r"""Multi-scale IoU (MSIoU; Ahmadzadeh et al., ICIP 2021) of the edges of a binarised prediction.

Reference: "Multiscale IOU: a metric for evaluation of salient object detection with fine
structures".

For a binary map ``B`` and the GT ``G``, take their edge maps (pixels where the integer Sobel
response, with zeros outside the image, is non-zero along either axis), then at each of the 10
scales ``c = 2**L`` (``L = 0..9``) cover the image with ``c × c`` cells (padding the top / left so
that the cells tile it) and mark the cells that contain an edge pixel. With ``A_L`` the marked
cells of ``B``'s edges and ``G_L`` those of ``G``'s:

.. math::

    r_L = \frac{|A_L \cap G_L| + 1}{|G_L| + 1}, \qquad
    \mathrm{MSIoU} = \sum_{L=0}^{8} \frac{r_L + r_{L+1}}{2} \cdot \frac{1}{9}

(the trapezoid area under ``r`` over ``[0, 1]``). Like pysodmetrics 1.6.2 ``MSIoU``, three
binarisations are evaluated: the **curve** over the 257 thresholds ``t = 0..256`` of
``trunc(255 P̂) >= t`` (``t = 0`` keeps every pixel, ``t = 256`` none), the **adaptive** map
``P̂ >= min(2 mean(P̂), 1)`` and the **binary** map ``P̂ > 0.5``.

Compatibility: pysodmetrics counts the GT's marked cells in float16 (``|G_L| + 1`` is rounded to
float16: exact up to 2048, then rounded to a multiple of 2, 4, ...; ``inf`` beyond 65504, which makes
``r_L = 0``). ``compat="exact"`` (default) uses exact integer counts; ``compat="pysod"``
reproduces the float16 rounding (bit-identical to pysodmetrics). The two agree whenever every
level has at most 2047 GT edge cells (e.g. small images).

Dataset values are means over images (the 257-point curve is averaged per threshold).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from segmetrics._inputs import check_choice, prepare_gt, prepare_pairs
from segmetrics._kernels import msiou as _k
from segmetrics._mergeable import SummedState
from segmetrics._sod_core import ImageStats, check_bool, image_stats, pysod_mean

__all__ = ["MSIOU_COMPAT", "MSIOU_LEVELS", "MSIoUGroundTruth", "MSIoUResult", "msiou", "msiou_ground_truth"]

#: Number of scales (cell sides ``2**0 .. 2**9``), as in the original code.
MSIOU_LEVELS = 10
#: Accepted values of ``compat``.
MSIOU_COMPAT = ("exact", "pysod")
_DX = 1 / (MSIOU_LEVELS - 1)
_FEW_LEVELS = 6  # up to this many distinct levels, direct evaluations beat the incremental curve
_DUMMY_F = np.zeros(1)
_DUMMY_U8 = np.zeros(1, np.uint8)


@dataclass(frozen=True)
class MSIoUGroundTruth:
    """Precomputed multi-scale GT edges (reuse it to score several predictions of one GT).

    Attributes:
        shape: ``(H, W)`` of the GT.
        occupied: flat uint8 buffer of the marked cells of every level.
        counts: ``(10,)`` number of marked cells per level.
        digest: fingerprint of the binary GT mask it was built from; :func:`msiou` refuses the cache
            for any other GT (so a cache is never silently reused for the wrong image).
    """

    shape: tuple[int, int]
    occupied: np.ndarray
    counts: np.ndarray
    digest: bytes


def _digest(g: np.ndarray) -> bytes:
    """Fingerprint of a canonical (boolean) GT mask: shape and packed bits, BLAKE2b-128."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.asarray(g.shape, np.int64).tobytes())
    h.update(np.packbits(g, axis=None).tobytes())
    return h.digest()


def _gt_of(g: np.ndarray) -> MSIoUGroundTruth:
    h, w = g.shape
    occ, counts = _k.gt_pyramid(g.ravel(), h, w, MSIOU_LEVELS)
    return MSIoUGroundTruth((h, w), occ, counts, _digest(g))


def msiou_ground_truth(gt: Any) -> MSIoUGroundTruth:
    """Precompute the GT side of MSIoU (edges and their cells at every scale).

    Args:
        gt: ``(H, W)`` ground truth: bool, uint8 (foreground ``> 128``), integer 0/1 or float in
            ``[0, 1]``.

    Returns:
        :class:`MSIoUGroundTruth`, to pass as ``gt_cache`` to :func:`msiou`.

    Raises:
        TypeError: unsupported input type or dtype.
        ValueError: not a non-empty 2-D map, NaN/Inf or out-of-range values.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
        >>> int(msiou_ground_truth(gt).counts[0])  # edge pixels at the finest scale
        32
    """
    return _gt_of(prepare_gt(gt))


@dataclass(frozen=True)
class MSIoUResult:
    """MSIoU of one image.

    Attributes:
        curve: ``(257,)`` MSIoU of ``trunc(255 P̂) >= t`` for ``t = 0..256`` (ascending).
        mean: mean of the curve.
        max: maximum of the curve.
        adaptive: MSIoU of ``P̂ >= min(2 mean(P̂), 1)``.
        binary: MSIoU of ``P̂ > 0.5``.
    """

    curve: np.ndarray
    mean: float
    max: float
    adaptive: float
    binary: float


def _areas(inter: np.ndarray, counts: np.ndarray, compat: str) -> np.ndarray:
    """Trapezoid areas of the ratio curves, ``inter``: ``(..., 10)`` intersections, in numpy's order."""
    if compat == "pysod":
        den = (counts.astype(np.float16) + np.float16(1)).astype(np.float64)
    else:
        den = (counts + 1).astype(np.float64)
    r = (inter + 1) / den
    return (_DX * (r[..., 1:] + r[..., :-1]) / 2.0).sum(axis=-1)


def msiou_image(p: np.ndarray, g: np.ndarray, st: ImageStats, compat: str = "exact",
                gt_cache: MSIoUGroundTruth | None = None) -> MSIoUResult:
    """MSIoU of one canonical pair from its shared statistics (private entry of the fused pass)."""
    h, w = g.shape
    gc = gt_cache if gt_cache is not None else _gt_of(g)
    use_lut = p.dtype == np.uint8
    pf, pu = (_DUMMY_F, p.ravel()) if use_lut else (p.ravel(), _DUMMY_U8)
    lut = st.lut if st.lut is not None else _DUMMY_F
    args = (pf, pu, lut, use_lut, st.lo, st.d, st.donorm)
    present = np.flatnonzero(st.hist_fg + st.hist_bg)
    if len(present) <= _FEW_LEVELS:  # few distinct levels: evaluate the maps that differ directly
        inter = np.zeros((257, MSIOU_LEVELS), np.int64)
        starts = [0, *(int(k) + 1 for k in present)]  # the map changes at t = level + 1
        for a, b in zip(starts, [*starts[1:], 257]):
            inter[a:b] = _k.binary_intersections(*args, a, 2, h, w, MSIOU_LEVELS, gc.occupied)
    else:
        inter = _k.curve_intersections(*args, h, w, MSIOU_LEVELS, gc.occupied)
    curve = _areas(inter, gc.counts, compat)
    adp = _k.binary_intersections(*args, st.thr, 0, h, w, MSIOU_LEVELS, gc.occupied)
    bny = _k.binary_intersections(*args, 0.5, 1, h, w, MSIOU_LEVELS, gc.occupied)
    a, b = _areas(np.stack([adp, bny]), gc.counts, compat)
    return MSIoUResult(curve, float(pysod_mean(curve)), float(curve.max()), float(a), float(b))


def msiou(pred: Any, gt: Any, *, normalize: bool = True, compat: str = "exact",
          gt_cache: Any = None) -> MSIoUResult | list[MSIoUResult]:
    r"""Multi-scale IoU of a prediction: 257-threshold curve, mean, max, adaptive and binary values.

    See the module docstring for the definition. Equal to pysodmetrics 1.6.2 ``MSIoU`` bit for bit
    with ``compat="pysod"`` (and with the default whenever no level has more than 2047 GT edge
    cells).

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        normalize: min-max normalise the prediction first (pysodmetrics default).
        compat: ``"exact"`` (integer cell counts) or ``"pysod"`` (float16 GT counts).
        gt_cache: optional :class:`MSIoUGroundTruth` of ``gt`` (single pair) or a list of them
            (batch, items may be ``None``), from :func:`msiou_ground_truth`.

    Shapes:
        single pair → one :class:`MSIoUResult` (``(257,)`` curve); batch → a list of them.

    Returns:
        :class:`MSIoUResult` (or a list); values in ``(0, 1]`` (higher is better).

    Raises:
        TypeError: unsupported input type or dtype, non-bool ``normalize``, a ``gt_cache`` of the
            wrong type.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values, unknown
            ``compat``, a ``gt_cache`` of another shape, count or ground truth, or whose buffers are not those
            :func:`msiou_ground_truth` builds for that shape.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((16, 16), bool); gt[4:12, 4:12] = True
        >>> r = msiou(gt.astype(np.uint8) * 255, gt)
        >>> r.binary, r.max, r.curve.shape
        (1.0, 1.0, (257,))
    """
    norm = check_bool(normalize, "normalize")
    check_choice(compat, "compat", MSIOU_COMPAT)
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    caches = _check_caches(gt_cache, pairs, batched)
    out = [msiou_image(p, g, image_stats(p, g, normalize=norm), compat, c) for (p, g), c in zip(pairs, caches)]
    return out if batched else out[0]


def _check_caches(gt_cache: Any, pairs: list, batched: bool) -> list[MSIoUGroundTruth | None]:
    if gt_cache is None:
        return [None] * len(pairs)
    items = list(gt_cache) if batched and isinstance(gt_cache, (list, tuple)) else [gt_cache]
    if len(items) != len(pairs):
        raise ValueError(f"`gt_cache` must hold {len(pairs)} items, one per image; got {len(items)}")
    for i, (c, (_, g)) in enumerate(zip(items, pairs)):
        if c is None:
            continue
        if not isinstance(c, MSIoUGroundTruth):
            raise TypeError(f"`gt_cache` must be an MSIoUGroundTruth (from msiou_ground_truth); got {type(c).__name__}")
        where = f" (item {i})" if batched else ""
        if c.shape != g.shape:
            raise ValueError(f"`gt_cache`{where} must have the shape of `gt` {g.shape}; got {c.shape}")
        if c.digest != _digest(g):
            raise ValueError(f"`gt_cache`{where} was built from another ground truth than `gt`{where} (its mask "
                             f"fingerprint differs); build it with msiou_ground_truth(gt) of this GT")
        _check_cache_buffers(c, where)
    return items


def _check_cache_buffers(c: MSIoUGroundTruth, where: str) -> None:
    """Refuse a cache whose buffers are not those :func:`msiou_ground_truth` builds for ``c.shape``.

    The kernels index ``c.occupied`` by cell without checks, so its length, dtype and layout are checked
    here, and the per-level ``counts`` against it (a hand-built or altered cache is refused).
    """
    geo, total = _k.level_geometry(c.shape[0], c.shape[1], MSIOU_LEVELS)
    occ, counts = c.occupied, c.counts
    if not isinstance(occ, np.ndarray) or not isinstance(counts, np.ndarray):
        raise TypeError(f"`gt_cache`{where} must hold numpy arrays (from msiou_ground_truth); got `occupied` "
                        f"{type(occ).__name__} and `counts` {type(counts).__name__}")
    if not (occ.dtype == np.uint8 and occ.shape == (total,)
            and occ.flags.c_contiguous):
        raise ValueError(f"`gt_cache`{where} must hold a flat uint8 `occupied` buffer of {total} cells (from "
                         f"msiou_ground_truth); got {occ.dtype} of shape {occ.shape}")
    if counts.shape != (MSIOU_LEVELS,):
        raise ValueError(f"`gt_cache`{where} must hold {MSIOU_LEVELS} `counts`, one per level; "
                         f"got shape {counts.shape}")
    actual = np.add.reduceat(occ != 0, geo[:, 4]).tolist()
    if counts.tolist() != actual:
        raise ValueError(f"`gt_cache`{where} `counts` must be the occupied cells of each level {actual}; got "
                         f"{counts.tolist()}")


class MSIoUAccumulator(SummedState):
    """Dataset MSIoU: mean curve over images (then its mean / max), mean adaptive and binary values.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((16, 16), bool); gt[4:12, 4:12] = True
        >>> acc = MSIoUAccumulator()
        >>> acc.add(msiou(gt.astype(np.uint8) * 255, gt))
        >>> acc.compute().binary
        1.0
    """

    _summed = ("n_images", "_curve", "_adp", "_bin")
    _article = "an"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Clear the state."""
        self.n_images = 0
        self._curve = np.zeros(257)
        self._adp = 0.0
        self._bin = 0.0

    def add(self, r: MSIoUResult) -> None:
        """Add one image's :class:`MSIoUResult`.

        Raises:
            TypeError: if ``r`` is not an :class:`MSIoUResult`.
            ValueError: if its curve is not ``(257,)``.
        """
        if not isinstance(r, MSIoUResult):
            raise TypeError(f"`r` must be an MSIoUResult; got {type(r).__name__}")
        if np.shape(r.curve) != (257,):  # checked before the state changes
            raise ValueError(f"`r.curve` must be a (257,) curve; got shape {np.shape(r.curve)}")
        self.n_images += 1
        self._curve += r.curve
        self._adp += r.adaptive
        self._bin += r.binary

    def compute(self) -> MSIoUResult:
        """Dataset values.

        Raises:
            ValueError: if no image was added.
        """
        n = self._images_added()
        curve = self._curve / n
        return MSIoUResult(curve, float(pysod_mean(curve)), float(curve.max()), self._adp / n, self._bin / n)
