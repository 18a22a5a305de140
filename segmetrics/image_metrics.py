"""All metrics of one image in one fused pass: :func:`compute_all` and its result, :class:`ImageMetrics`.

The prediction is validated and min-max normalised once; one fused numba pass builds the shared
statistics (:func:`segmetrics._sod_core.image_stats`: two 256-bin histograms, sums, adaptive
threshold and counts, optionally the S-measure); every requested family of the metric table
(:mod:`segmetrics.metric_table`) then computes its per-image result from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from segmetrics._inputs import prepare_pairs, prepare_skeletons
from segmetrics._sod_core import image_stats
from segmetrics.registry import FAMILIES, OPTIONS, MetricOptions, PairContext, family, flatten

__all__ = ["ImageMetrics", "compute_all", "image_metrics", "options_doc"]


class ImageMetrics:
    """All requested metrics of one image; a family that was not requested reads as ``None``.

    Each family's result is an attribute named by its key: ``fm`` (:class:`segmetrics.FMeasureResult`),
    ``em`` (:class:`segmetrics.EMeasureResult`), ``sm``, ``wfm``, ``mae`` (floats), ``hce``
    (:class:`segmetrics.HCEResult`), ``iou`` / ``dice`` (:class:`segmetrics.RegionOverlap`), ``bf``
    (:class:`segmetrics.BoundaryFScore`), and any family registered later.

    Attributes:
        results: ``{family key: per-image result}`` of the requested families.
        name: optional image name (set by :class:`segmetrics.DatasetMetrics`).
        options: the :class:`segmetrics.registry.MetricOptions` the values were computed with.
    """

    def __init__(self, results: dict[str, Any], name: str | None = None, options: MetricOptions | None = None):
        self.results = dict(results)
        self.name = name
        self.options = options

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key in ("results", "name", "options"):
            raise AttributeError(key)
        results = self.__dict__.get("results", {})
        if key in results:
            return results[key]
        if key in FAMILIES:
            return None
        raise AttributeError(f"'ImageMetrics' object has no attribute {key!r} (not a metric family)")

    def scalars(self) -> dict[str, Any]:
        """Flat dict of the scalar values by dotted key (one row of a per-image table), after ``name``.

        Example:
            >>> import numpy as np
            >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
            >>> compute_all(gt, gt, metrics=("mae", "hce")).scalars()
            {'mae': 0.0, 'hce': 0, 'hce.fp_points': 0, 'hce.fp_regions': 0, 'hce.fn_points': 0, 'hce.fn_regions': 0}
        """
        row: dict[str, Any] = {} if self.name is None else {"name": self.name}
        for key, res in self.results.items():
            row.update(flatten(key, res, self.options)[0])
        return row

    def curves(self) -> dict[str, np.ndarray]:
        """The ``(256,)`` curves by dotted key (``"fm.curve"``, ...), ascending thresholds."""
        out: dict[str, np.ndarray] = {}
        for key, res in self.results.items():
            out.update(flatten(key, res, self.options)[1])
        return out

    def __repr__(self) -> str:
        name = "" if self.name is None else f"name={self.name!r}, "
        return f"ImageMetrics({name}metrics={tuple(self.results)}, scalars={self.scalars()})"


def image_metrics(pred: np.ndarray, gt: np.ndarray, options: MetricOptions, skeleton: np.ndarray | None = None,
                  name: str | None = None) -> ImageMetrics:
    """The fused pass over one validated canonical pair (no input checks: callers validate first).

    Args:
        pred: ``(H, W)`` uint8 or float64 in ``[0, 1]`` (C-contiguous), from ``prepare_pairs(keep_uint8=True)``.
        gt: ``(H, W)`` bool.
        options: validated options.
        skeleton: validated GT skeleton of the same shape, or ``None``.
        name: image name.
    """
    o = options
    needs: set[str] = set()
    for key in o.metrics:
        needs |= FAMILIES[key].needs_for(o)
    fe = "hist" in needs or "strict" in needs or ("mae" in needs and "smeasure" in needs)  # S-only skips MAE
    st = image_stats(pred, gt, normalize=o.normalize, fe=fe, strict="strict" in needs, smeasure="smeasure" in needs,
                     alpha=o.alpha, s_matlab=o.sm_compat == "matlab", avoid_nan=o.avoid_nan)
    ctx = PairContext(pred, gt, o, st, skeleton)
    return ImageMetrics({key: FAMILIES[key].compute(ctx) for key in o.metrics}, name, o)


def options_doc(indent: int = 8) -> str:
    """The registered options as Google-style ``Args`` lines (for docstrings)."""
    pad = " " * indent
    return "\n".join(f"{pad}{n}: {o.help} (default ``{o.default!r}``)." for n, o in OPTIONS.items())


def compute_all(
    pred: Any,
    gt: Any,
    *,
    metrics: Sequence[str] | None = None,
    hce_skeleton: Any = None,
    **options: Any,
) -> ImageMetrics | list[ImageMetrics]:
    """Compute every requested metric of each image in one call (default: F, weighted F, MAE, S, E, HCE).

    The prediction is validated and min-max normalised once; one fused numba pass builds the two
    256-bin histograms (shared by the F, E, IoU and Dice curves), the MAE and the mean for the
    adaptive threshold; the S-measure, weighted F, HCE and boundary F kernels reuse the same
    canonical arrays. Every value equals the one of the matching single-metric function
    (:func:`segmetrics.fmeasure`, :func:`segmetrics.emeasure`, :func:`segmetrics.smeasure`,
    :func:`segmetrics.weighted_fmeasure`, :func:`segmetrics.mae`, :func:`segmetrics.hce`,
    :func:`segmetrics.region_overlap`, :func:`segmetrics.boundary_fscore`) with the same options.
    For a uint8 prediction the S-measure and MAE come from 256-level histograms, and weighted F from
    compensated row sums: these equal pysodmetrics within 1e-10 (observed: 1 ulp); everything else
    (curves, adaptive and max / mean F and E, HCE) is bit-exact.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        metrics: family keys of the metric table (:mod:`segmetrics.metric_table`); default the six
            DIS metrics ``("fm", "wfm", "mae", "sm", "em", "hce")``.
        hce_skeleton: precomputed GT skeleton(s) for HCE (one map, or one per image), or ``None``.
        **options: metric options of the metric table:

    <<options>>

    Shapes:
        single pair → one :class:`ImageMetrics`; batch of ``N`` → a list of ``N``.

    Returns:
        :class:`ImageMetrics` (or a list of them).

    Raises:
        TypeError: unsupported input type or dtype, a wrongly typed or unknown option.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values, unknown metric
            names or invalid option values.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((16, 16), bool); gt[4:12, 4:12] = True
        >>> r = compute_all(gt.astype(np.uint8) * 255, gt, metrics=("fm", "sm", "mae", "iou"))
        >>> round(r.fm.max, 3), round(r.sm, 3), r.mae, r.iou.iou
        (1.0, 1.0, 0.0, 1.0)
    """
    opt = MetricOptions.make(metrics, **options)
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    skels = prepare_skeletons(hce_skeleton, pairs, batched, "hce_skeleton")
    out = [image_metrics(p, g, opt, s) for (p, g), s in zip(pairs, skels)]
    return out if batched else out[0]


def _fill_options_doc() -> None:
    family("fm")  # the metric table is registered
    if compute_all.__doc__:
        compute_all.__doc__ = compute_all.__doc__.replace("<<options>>", options_doc(12))


_fill_options_doc()
