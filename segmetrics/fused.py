"""All six metrics of one image in a single call, sharing normalisation and histograms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segmetrics._inputs import check_choice, check_positive, prepare_pairs, prepare_skeletons
from segmetrics._sod_core import ImageStats, check_bool, image_stats
from segmetrics.emeasure import EMEASURE_COMPAT, EMeasureResult, _em_result
from segmetrics.fmeasure import FMeasureResult, _fm_result
from segmetrics.smeasure import SMEASURE_COMPAT, _check_alpha

__all__ = ["ALL_METRICS", "ImageMetrics", "MetricOptions", "compute_all"]

#: Metric keys understood by :func:`compute_all` and :class:`segmetrics.DatasetMetrics`.
ALL_METRICS = ("fm", "em", "sm", "wfm", "mae", "hce")


@dataclass(frozen=True)
class MetricOptions:
    """Validated options shared by :func:`compute_all` and :class:`segmetrics.DatasetMetrics`."""

    metrics: tuple[str, ...] = ALL_METRICS
    normalize: bool = True
    beta_sq: float = 0.3
    alpha: float = 0.5
    wfm_beta: float = 1.0
    em_compat: str = "pysod"
    sm_compat: str = "pysod"
    avoid_nan: bool = False
    hce_gamma: int = 5
    hce_epsilon: float = 2.0
    hce_threshold: str = "official"
    hce_iterations: str = "code"

    @classmethod
    def make(cls, metrics: Sequence[str] | str = ALL_METRICS, **kw: Any) -> MetricOptions:
        """Validate and build the options (raises ``TypeError`` / ``ValueError`` naming the argument)."""
        unknown = sorted(set(kw) - {f for f in cls.__dataclass_fields__ if f != "metrics"})
        if unknown:
            allowed = tuple(f for f in cls.__dataclass_fields__ if f != "metrics")
            raise TypeError(f"unexpected metric option(s) {unknown}; expected some of {allowed}")
        if isinstance(metrics, str):
            metrics = (metrics,)
        try:
            metrics = tuple(metrics)
        except TypeError:
            raise TypeError(f"`metrics` must be a sequence of metric names; got {type(metrics).__name__}") from None
        if not metrics:
            raise ValueError(f"`metrics` must name at least one of {ALL_METRICS}; got an empty sequence")
        for m in metrics:
            check_choice(m, "metrics", ALL_METRICS)
        metrics = tuple(m for m in ALL_METRICS if m in metrics)
        kw["normalize"] = check_bool(kw.get("normalize", True), "normalize")
        kw["avoid_nan"] = check_bool(kw.get("avoid_nan", False), "avoid_nan")
        check_positive(kw.get("beta_sq", 0.3), "beta_sq")
        check_positive(kw.get("wfm_beta", 1.0), "wfm_beta")
        kw["alpha"] = _check_alpha(kw.get("alpha", 0.5))
        check_choice(kw.get("em_compat", "pysod"), "em_compat", EMEASURE_COMPAT)
        check_choice(kw.get("sm_compat", "pysod"), "sm_compat", SMEASURE_COMPAT)
        if "hce" in metrics:
            from segmetrics.hce import _check_options

            try:
                _check_options(kw.get("hce_gamma", 5), kw.get("hce_epsilon", 2.0), kw.get("hce_threshold", "official"),
                               kw.get("hce_iterations", "code"), False)
            except (TypeError, ValueError) as exc:  # name the arguments as this API spells them
                msg = str(exc)
                for name in ("gamma", "epsilon", "threshold", "iterations"):
                    msg = msg.replace(f"`{name}`", f"`hce_{name}`")
                raise type(exc)(msg) from None
        return cls(metrics=metrics, **kw)


@dataclass(frozen=True)
class ImageMetrics:
    """All requested metrics of one image (``None`` for metrics that were not requested).

    Attributes:
        fm: :class:`segmetrics.FMeasureResult` (adaptive / mean / max F, P/R/F curves).
        em: :class:`segmetrics.EMeasureResult` (adaptive / mean / max E, curve).
        sm: S-measure.
        wfm: weighted F-measure.
        mae: mean absolute error.
        hce: :class:`segmetrics.HCEResult` (total and its four parts).
        name: optional image name (set by :class:`segmetrics.DatasetMetrics`).
    """

    fm: FMeasureResult | None = None
    em: EMeasureResult | None = None
    sm: float | None = None
    wfm: float | None = None
    mae: float | None = None
    hce: Any = None
    name: str | None = field(default=None, compare=False)

    def scalars(self) -> dict[str, Any]:
        """Flat dict of the scalar values (one row of a per-image table)."""
        row: dict[str, Any] = {}
        if self.name is not None:
            row["name"] = self.name
        if self.fm is not None:
            row.update(adpF=self.fm.adaptive, meanF=self.fm.mean, maxF=self.fm.max)
        if self.em is not None:
            row.update(adpE=self.em.adaptive, meanE=self.em.mean, maxE=self.em.max)
        for key in ("sm", "wfm", "mae"):
            if getattr(self, key) is not None:
                row[key] = getattr(self, key)
        if self.hce is not None:
            row.update(hce=self.hce.total, hce_fp_points=self.hce.fp_points, hce_fp_regions=self.hce.fp_regions,
                       hce_fn_points=self.hce.fn_points, hce_fn_regions=self.hce.fn_regions)
        return row


def _image_metrics(p: np.ndarray, g: np.ndarray, opt: MetricOptions, skeleton: np.ndarray | None = None,
                   name: str | None = None) -> tuple[ImageMetrics, ImageStats]:
    ms = opt.metrics
    strict = "em" in ms and opt.em_compat == "matlab"
    fe = "fm" in ms or "em" in ms or ("mae" in ms and "sm" in ms)  # the S-only passes skip the MAE sum
    st = image_stats(p, g, normalize=opt.normalize, fe=fe, strict=strict, smeasure="sm" in ms, alpha=opt.alpha,
                     s_matlab=opt.sm_compat == "matlab", avoid_nan=opt.avoid_nan)
    out: dict[str, Any] = {"name": name}
    if "fm" in ms:
        out["fm"] = _fm_result([st], opt.beta_sq, False)
    if "em" in ms:
        out["em"] = _em_result([st], strict, False)
    if "sm" in ms:
        out["sm"] = st.sm
    if "mae" in ms:
        out["mae"] = st.mae
    if "wfm" in ms:
        out["wfm"] = _wfm(p, g, st, opt.wfm_beta)
    if "hce" in ms:
        from segmetrics.hce import HCEResult, _hce_image

        parts = _hce_image(p, g, gamma=opt.hce_gamma, epsilon=opt.hce_epsilon, skeleton=skeleton,
                           threshold=opt.hce_threshold, iterations=opt.hce_iterations)
        out["hce"] = HCEResult(int(sum(parts)), *parts)
    return ImageMetrics(**out), st


def _wfm(p: np.ndarray, g: np.ndarray, st: ImageStats, beta: float) -> float:
    """Weighted F of one canonical pair, reusing the shared first pass' min / max and uint8 table.

    The weighted-F kernel normalises on the fly, so no normalised copy of the image is made.
    """
    from segmetrics._kernels.weighted_fmeasure import EPS, wfm
    from segmetrics.weighted_fmeasure import _gaussian_kernel, _importance_table

    if st.n_fg == 0:
        return 0.0
    lut = st.lut if st.lut is not None else _EMPTY
    return float(wfm(p, g, lut, st.donorm, st.lo, st.d, _gaussian_kernel(), _importance_table(), float(beta), EPS))


_EMPTY = np.empty(0, np.float64)


def compute_all(
    pred: Any,
    gt: Any,
    *,
    metrics: Sequence[str] = ALL_METRICS,
    normalize: bool = True,
    beta_sq: float = 0.3,
    alpha: float = 0.5,
    wfm_beta: float = 1.0,
    em_compat: str = "pysod",
    sm_compat: str = "pysod",
    avoid_nan: bool = False,
    hce_gamma: int = 5,
    hce_epsilon: float = 2.0,
    hce_skeleton: Any = None,
    hce_threshold: str = "official",
    hce_iterations: str = "code",
) -> ImageMetrics | list[ImageMetrics]:
    """Compute F, E, S, weighted F, MAE and HCE of each image in one call.

    The prediction is validated and min-max normalised once; one fused numba pass builds the two
    256-bin histograms (shared by the F and E curves), the MAE and the mean for the adaptive
    threshold; the S-measure, weighted F and HCE kernels reuse the same canonical arrays. Every
    value equals the one of the matching single-metric function (:func:`segmetrics.fmeasure`,
    :func:`segmetrics.emeasure`, :func:`segmetrics.smeasure`, :func:`segmetrics.weighted_fmeasure`,
    :func:`segmetrics.mae`, :func:`segmetrics.hce`) with the same options. For a uint8 prediction
    the S-measure and MAE come from 256-level histograms, and weighted F from compensated row sums:
    these equal pysodmetrics within 1e-10 (observed: 1 ulp); everything else (curves, adaptive and
    max / mean F and E, HCE) is bit-exact.

    Args:
        pred: prediction, ``(H, W)`` map or a batch (``(N, H, W)``, ``(N, 1, H, W)`` or a list of
            maps): uint8 0..255 (divided by 255), bool, or float in ``[0, 1]``; numpy or torch.
        gt: ground truth of the same structure: bool, uint8 (foreground ``> 128``), integer 0/1
            or float in ``[0, 1]``.
        metrics: subset of ``("fm", "em", "sm", "wfm", "mae", "hce")`` (default: all six).
        normalize: min-max normalise the prediction for F, E, S, weighted F and MAE (pysod
            default). HCE always binarises the un-normalised map (see ``hce_threshold``).
        beta_sq: β² of the F-measure (default 0.3).
        alpha: S-measure weight of the object term (default 0.5).
        wfm_beta: β of the weighted F-measure (default 1).
        em_compat: ``"pysod"`` or ``"matlab"`` (strict ``>``), see :func:`segmetrics.emeasure`.
        sm_compat: ``"pysod"`` or ``"matlab"`` (centroid rounding), see :func:`segmetrics.smeasure`.
        avoid_nan: S-measure option, see :func:`segmetrics.smeasure`.
        hce_gamma: HCE tolerance γ (default 5).
        hce_epsilon: HCE RDP tolerance ε (default 2.0).
        hce_skeleton: precomputed GT skeleton(s) for HCE (one map, or one per image), or ``None``.
        hce_threshold: ``"official"`` (raw ``> 128``, DIS script) or ``"pysod"``.
        hce_iterations: ``"code"`` (γ iterations, DIS script) or ``"paper"`` (γ + 1, Algorithm 1).

    Shapes:
        single pair → one :class:`ImageMetrics`; batch of ``N`` → a list of ``N``.

    Returns:
        :class:`ImageMetrics` (or a list of them).

    Raises:
        TypeError: unsupported input type or dtype, or a wrongly typed option.
        ValueError: mismatched shapes, empty maps, NaN/Inf or out-of-range values, unknown metric
            names or options.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((16, 16), bool); gt[4:12, 4:12] = True
        >>> r = compute_all(gt.astype(np.uint8) * 255, gt, metrics=("fm", "sm", "mae"))
        >>> round(r.fm.max, 3), round(r.sm, 3), r.mae
        (1.0, 1.0, 0.0)
    """
    opt = MetricOptions.make(
        metrics, normalize=normalize, beta_sq=beta_sq, alpha=alpha, wfm_beta=wfm_beta, em_compat=em_compat,
        sm_compat=sm_compat, avoid_nan=avoid_nan, hce_gamma=hce_gamma, hce_epsilon=hce_epsilon,
        hce_threshold=hce_threshold, hce_iterations=hce_iterations,
    )
    pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
    skels = prepare_skeletons(hce_skeleton, pairs, batched, "hce_skeleton")
    out = [_image_metrics(p, g, opt, s)[0] for (p, g), s in zip(pairs, skels)]
    return out if batched else out[0]
