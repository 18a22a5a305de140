r"""The metric table: every metric option and metric family of ``segmetrics``, declared once.

Each entry is read by every entry point (see :mod:`segmetrics.registry`, which also holds the recipe
for adding a family). The families, in canonical order (the order of the DIS paper's Table 2, then
the region-overlap and boundary metrics), and their dotted keys:

=========  =====================================================  ===================================
family     scalars (per image; dataset reduction)                 curves (256 thresholds, ascending)
=========  =====================================================  ===================================
``fm``     ``fm.adp`` (mean), ``fm.mean``, ``fm.max`` (of the     ``fm.curve``, ``fm.precision``,
           mean curve)                                            ``fm.recall``
``wfm``    ``wfm``                                                -
``mae``    ``mae``                                                -
``sm``     ``sm``                                                 -
``em``     ``em.adp``, ``em.mean``, ``em.max``                    ``em.curve``
``hce``    ``hce``, ``hce.fp_points``, ``hce.fp_regions``,        -
           ``hce.fn_points``, ``hce.fn_regions``
``iou``    ``iou``, ``iou.adp``; dataset ``iou.max``,             ``iou.curve``
           ``iou.mean``
``dice``   ``dice``, ``dice.adp``; dataset ``dice.max``,          ``dice.curve``
           ``dice.mean``
``bf``     ``bf.f{d}``, ``bf.p{d}``, ``bf.r{d}`` per tolerance    -
=========  =====================================================  ===================================

The first six (the DIS metrics) are the default set. Every family computes from the shared
statistics of one fused pass (:func:`segmetrics.compute_all`): the F, E, IoU and Dice curves and
adaptive values from the same two 256-bin histograms and adaptive counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segmetrics._inputs import (
    check_choice,
    check_epsilon,
    check_int,
    check_positive,
    check_threshold,
    check_tolerances,
    check_unit_interval,
)
from segmetrics._sod_core import THRESHOLDS, check_bool
from segmetrics.context_measure import check_alpha
from segmetrics.registry import (
    Curve,
    Family,
    MetricOptions,
    Option,
    PairContext,
    Scalar,
    register_family,
    register_option,
)

__all__: list[str] = []


def _choice(*choices: str):
    return lambda value, name: check_choice(value, name, choices)


# ----------------------------------------------------------------------------------------- options

for _opt in (
    Option("normalize", True, check_bool,
           "min-max normalise the prediction for every metric but HCE (pysodmetrics)"),
    Option("beta_sq", 0.3, check_positive, "beta^2 of the F-measure"),
    Option("alpha", 0.5, check_unit_interval, "S-measure weight of the object term, in [0, 1]"),
    Option("wfm_beta", 1.0, check_positive, "beta of the weighted F-measure"),
    Option("em_compat", "pysod", _choice("pysod", "matlab"), "E-measure binarisation: pysod (>=) or matlab (>)",
           choices=("pysod", "matlab")),
    Option("sm_compat", "pysod", _choice("pysod", "matlab"), "S-measure centroid rounding: pysod or matlab",
           choices=("pysod", "matlab")),
    Option("avoid_nan", False, check_bool, "S-measure: skip empty blocks instead of returning NaN"),
    Option("hce_gamma", 5, check_int, "HCE relaxation gamma (integer >= 0)"),
    Option("hce_epsilon", 2.0, check_epsilon, "HCE Douglas-Peucker epsilon"),
    Option("hce_threshold", "official", _choice("official", "pysod"),
           "HCE binarisation: DIS script (raw > 128) or pysodmetrics", choices=("official", "pysod")),
    Option("hce_iterations", "code", _choice("code", "paper"),
           "HCE relaxation steps: gamma (DIS code) or gamma + 1 (paper)", choices=("code", "paper")),
    Option("threshold", 0.5, check_threshold, "binarisation threshold of IoU, Dice and boundary F (p > threshold)"),
    Option("bf_tolerances", (1, 3, 5), check_tolerances, "boundary F-score tolerances in pixels"),
):
    register_option(_opt)


# ----------------------------------------------------------------------------------------- families


def _fm(ctx: PairContext) -> Any:
    from segmetrics.fmeasure import _fm_result

    return _fm_result([ctx.stats], ctx.options.beta_sq, False)


def _em(ctx: PairContext) -> Any:
    from segmetrics.emeasure import _em_result

    return _em_result([ctx.stats], ctx.options.em_compat == "matlab", False)


def _wfm(ctx: PairContext) -> float:
    """Weighted F reusing the shared pass' min / max and uint8 table (normalised on the fly, no copy)."""
    from segmetrics._kernels.weighted_fmeasure import EPS, wfm
    from segmetrics.weighted_fmeasure import _gaussian_kernel, _importance_table

    st = ctx.stats
    if st.n_fg == 0:
        return 0.0
    lut = st.lut if st.lut is not None else _EMPTY
    return float(wfm(ctx.pred, ctx.gt, lut, st.donorm, st.lo, st.d, _gaussian_kernel(), _importance_table(),
                     float(ctx.options.wfm_beta), EPS))


_EMPTY = np.empty(0, np.float64)


def _hce(ctx: PairContext) -> Any:
    from segmetrics.hce import HCEResult, _hce_image

    o = ctx.options
    parts = _hce_image(ctx.pred, ctx.gt, gamma=o.hce_gamma, epsilon=o.hce_epsilon, skeleton=ctx.skeleton,
                       threshold=o.hce_threshold, iterations=o.hce_iterations)
    return HCEResult(int(sum(parts)), *parts)


def _overlap(ctx: PairContext) -> Any:
    """IoU and Dice from the shared histograms and adaptive counts, plus one count at ``threshold``."""
    if "overlap" not in ctx.cache:
        from segmetrics.region_overlap import overlap_from_counts

        st = ctx.stats
        tp_b, fp_b = ctx.above(ctx.options.threshold)
        ctx.cache["overlap"] = overlap_from_counts(st.hist_fg, st.hist_bg, st.n_fg, tp_b, fp_b, st.tp, st.fp)
    return ctx.cache["overlap"]


def _bf(ctx: PairContext) -> Any:
    from segmetrics.boundary_fscore import boundary_from_masks

    return boundary_from_masks(ctx.mask_above(ctx.options.threshold), ctx.gt, ctx.options.bf_tolerances)


def _bf_scalars(o: MetricOptions) -> tuple[Scalar, ...]:
    out = []
    for i, t in enumerate(o.bf_tolerances):
        out.append(Scalar(f"bf.f{t}", "fscore", i, f"f{t}", label=f"BF@{t}", column=13 + t / 100))
        out.append(Scalar(f"bf.p{t}", "precision", i, f"p{t}"))
        out.append(Scalar(f"bf.r{t}", "recall", i, f"r{t}"))
    return tuple(out)


def _overlap_family(key: str, label: str, column: int) -> Family:
    return Family(
        key=key,
        title={"iou": "intersection over union (Jaccard)", "dice": "Dice coefficient"}[key],
        compute=_overlap,
        scalars=(
            Scalar(key, key, label=label, latex=label, column=column),
            Scalar(f"{key}.adp", f"adaptive_{key}"),
            Scalar(f"{key}.mean", field="mean", dataset="curve_mean", curve=f"{key}.curve", per_image=False),
            Scalar(f"{key}.max", field="max", dataset="curve_max", curve=f"{key}.curve", per_image=False),
        ),
        curves=(Curve(f"{key}.curve", f"{key}_curve"),),
        options=("normalize", "threshold"),
        needs=frozenset({"hist"}),
        dataset_extras={"thresholds": THRESHOLDS},
    )


for _fam in (
    Family(
        key="fm",
        title="F-measure",
        compute=_fm,
        scalars=(
            Scalar("fm.adp", "adaptive", label="adpF", latex=r"$F_\beta^{adp}$", column=8, pysod=("fm", "adp")),
            Scalar("fm.mean", "mean", dataset="curve_mean", curve="fm.curve", label="meanF",
                   latex=r"$F_\beta^{mean}$", column=7),
            Scalar("fm.max", "max", dataset="curve_max", curve="fm.curve", label="maxF", latex=r"$F_\beta^{max}$",
                   column=1),
        ),
        curves=(Curve("fm.curve", "curve", ("fm", "curve")), Curve("fm.precision", "precision", ("pr", "p")),
                Curve("fm.recall", "recall", ("pr", "r"))),
        options=("normalize", "beta_sq"),
        needs=frozenset({"hist"}),
        default=True,
        dataset_extras={"thresholds": THRESHOLDS},
    ),
    Family(
        key="wfm",
        title="weighted F-measure",
        compute=_wfm,
        scalars=(Scalar("wfm", label="wF", latex=r"$F_\beta^{w}$", column=2, pysod=("wfm",)),),
        options=("normalize", "wfm_beta"),
        default=True,
    ),
    Family(
        key="mae",
        title="mean absolute error",
        compute=lambda ctx: ctx.stats.mae,
        scalars=(Scalar("mae", label="MAE", latex=r"$\mathcal{M}$", higher_is_better=False, column=3,
                        pysod=("mae",)),),
        options=("normalize",),
        needs=frozenset({"mae"}),
        default=True,
    ),
    Family(
        key="sm",
        title="S-measure",
        compute=lambda ctx: ctx.stats.sm,
        scalars=(Scalar("sm", label="S", latex=r"$S_\alpha$", column=4, pysod=("sm",)),),
        options=("normalize", "alpha", "sm_compat", "avoid_nan"),
        needs=frozenset({"smeasure"}),
        default=True,
    ),
    Family(
        key="em",
        title="E-measure",
        compute=_em,
        scalars=(
            Scalar("em.adp", "adaptive", label="adpE", latex=r"$E_\phi^{adp}$", column=10, pysod=("em", "adp")),
            Scalar("em.mean", "mean", dataset="curve_mean", curve="em.curve", label="meanE", latex=r"$E_\phi^{m}$",
                   column=5),
            Scalar("em.max", "max", dataset="curve_max", curve="em.curve", label="maxE", latex=r"$E_\phi^{max}$",
                   column=9),
        ),
        curves=(Curve("em.curve", "curve", ("em", "curve")),),
        options=("normalize", "em_compat"),
        needs=lambda o: frozenset({"hist", "strict"} if o.em_compat == "matlab" else {"hist"}),
        default=True,
        dataset_extras={"thresholds": THRESHOLDS},
    ),
    Family(
        key="hce",
        title="human correction efforts",
        compute=_hce,
        scalars=(
            Scalar("hce", "total", label="HCE", latex=r"$HCE_\gamma$", higher_is_better=False, column=6, integer=True,
                   pysod=("hce",)),
            *(Scalar(f"hce.{part}", part, higher_is_better=False)
              for part in ("fp_points", "fp_regions", "fn_points", "fn_regions")),
        ),
        options=("hce_gamma", "hce_epsilon", "hce_threshold", "hce_iterations"),
        default=True,
    ),
    _overlap_family("iou", "IoU", 11),
    _overlap_family("dice", "Dice", 12),
    Family(
        key="bf",
        title="boundary F-score",
        compute=_bf,
        scalars=_bf_scalars,
        options=("normalize", "threshold", "bf_tolerances"),
    ),
):
    register_family(_fam)


# ------------------------------------------------------------------ families of issue 12 (pysodmetrics 1.6.2, BiRefNet)

for _opt in (
    Option("si_min_area", 50, lambda v, n: check_int(v, n, minimum=1),
           "size-invariant metrics: minimum GT object area in pixels (pysodmetrics 50)"),
    Option("msiou_compat", "exact", _choice("exact", "pysod"),
           "MSIoU GT cell counts: exact integers or pysodmetrics' float16", choices=("exact", "pysod")),
):
    register_option(_opt)


def _confusion(ctx: PairContext) -> Any:
    from segmetrics.confusion import BINARY_THRESHOLD, CONFUSION_METRICS, _image_result, counts_from_stats

    counts = counts_from_stats(ctx.pred, ctx.gt, ctx.stats, ctx.above(BINARY_THRESHOLD))
    return _image_result(counts, CONFUSION_METRICS, ctx.options.beta_sq)


def _pooled(prefix: str, metric: str, beta_sq: float) -> Any:
    """Dataset value of ``metric`` from the pooled binary counts (their mean over images: same ratios)."""
    def reduce(means: dict[str, Any], curves: dict[str, np.ndarray]) -> float:
        from segmetrics.confusion import confusion_formula

        return float(confusion_formula(metric, *curves[f"{prefix}.binary_counts"], beta_sq=beta_sq))
    return reduce


def _auc(prefix: str, which: str, kind: str = "") -> Any:
    def reduce(means: dict[str, Any], curves: dict[str, np.ndarray]) -> float:
        from segmetrics.confusion import auc_from_curves

        c = {m: curves[f"{prefix}.{m}.curve{kind}"] for m in ("precision", "recall", "fpr")}
        if kind:  # sums over objects: the shared denominator cancels in the ratio of means, not here
            n = means[f"{prefix}.n_objects"]
            c = {m: v / n for m, v in c.items()}
        pr, roc = auc_from_curves(c["precision"], c["recall"], c["fpr"])
        return pr if which == "pr" else roc
    return reduce


_CONFUSION_LABELS = {"precision": "Pre", "recall": "Rec", "specificity": "Spec", "fpr": "FPR", "ber": "BER",
                     "oa": "OA", "kappa": "Kappa", "cohen_kappa": "CohenKappa", "fmeasure": "Fm", "iou": "IoU",
                     "dice": "Dice"}
_LOWER_IS_BETTER = ("fpr", "ber")


def _confusion_scalars(o: MetricOptions) -> tuple[Scalar, ...]:
    out = []
    for m, lab in _CONFUSION_LABELS.items():
        up = m not in _LOWER_IS_BETTER
        out += [
            Scalar(f"confusion.{m}.max", f"{m}_max", dataset="curve_max", curve=f"confusion.{m}.curve",
                   label=f"max{lab}", higher_is_better=up),
            Scalar(f"confusion.{m}.mean", f"{m}_mean", dataset="curve_mean", curve=f"confusion.{m}.curve",
                   label=f"mean{lab}", higher_is_better=up),
            Scalar(f"confusion.{m}.adp", f"{m}_adaptive", label=f"adp{lab}", higher_is_better=up),
            Scalar(f"confusion.{m}.bin", f"{m}_binary", label=f"bin{lab}", higher_is_better=up),
            Scalar(f"confusion.{m}.bin_dataset", field=f"{m}_binary_dataset", per_image=False,
                   dataset=_pooled("confusion", m, o.beta_sq), label=f"overall_bin{lab}", higher_is_better=up),
        ]
    out += [Scalar("confusion.auc_pr", "auc_pr", dataset=_auc("confusion", "pr"), label="AUC-PR"),
            Scalar("confusion.auc_roc", "auc_roc", dataset=_auc("confusion", "roc"), label="AUC-ROC")]
    return tuple(out)


def _si(ctx: PairContext) -> Any:
    from segmetrics.confusion import CONFUSION_METRICS
    from segmetrics.size_invariance import _image_result, si_parts

    parts = si_parts(ctx.pred, ctx.gt, ctx.stats, ctx.options.si_min_area)
    return _SIResult(_image_result(parts, CONFUSION_METRICS, ctx.options.beta_sq), ctx.options.beta_sq)


class _SIResult:
    """The per-image :class:`segmetrics.size_invariance.SizeInvariantResult` with the per-object curve sums."""

    def __init__(self, r: Any, beta_sq: float) -> None:
        self.result, self._beta_sq = r, beta_sq

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_curve_sum"):
            return self.result.object_curve_sum(name[: -len("_curve_sum")], self._beta_sq)
        return getattr(self.result, name)


def _si_overall(m: str, how: str) -> Any:
    def reduce(means: dict[str, Any], curves: dict[str, np.ndarray]) -> float:
        from segmetrics._sod_core import pysod_mean

        c = curves[f"si.{m}.curve_sum"] / means["si.n_objects"]
        return float(c.max()) if how == "max" else float(pysod_mean(c))
    return reduce


def _si_scalars(o: MetricOptions) -> tuple[Scalar, ...]:
    out = [Scalar("si.mae", "mae", label="SI-MAE", higher_is_better=False),
           Scalar("si.n_objects", "n_objects"),
           Scalar("si.auc_pr", "auc_pr"), Scalar("si.auc_roc", "auc_roc"),
           Scalar("si.auc_pr_overall", field="auc_pr_overall", dataset=_auc("si", "pr", "_sum"), per_image=False),
           Scalar("si.auc_roc_overall", field="auc_roc_overall", dataset=_auc("si", "roc", "_sum"), per_image=False)]
    for m, lab in _CONFUSION_LABELS.items():
        up = m not in _LOWER_IS_BETTER
        out += [
            Scalar(f"si.{m}.max", f"{m}_max", label=f"SI-max{lab}", higher_is_better=up),
            Scalar(f"si.{m}.mean", f"{m}_mean", label=f"SI-mean{lab}", higher_is_better=up),
            Scalar(f"si.{m}.adp", f"{m}_adaptive", label=f"SI-adp{lab}", higher_is_better=up),
            Scalar(f"si.{m}.bin", f"{m}_binary", label=f"SI-bin{lab}", higher_is_better=up),
            Scalar(f"si.{m}.max_overall", field=f"{m}_max_overall", dataset=_si_overall(m, "max"), per_image=False,
                   higher_is_better=up),
            Scalar(f"si.{m}.mean_overall", field=f"{m}_mean_overall", dataset=_si_overall(m, "mean"),
                   per_image=False, higher_is_better=up),
            Scalar(f"si.{m}.bin_dataset", field=f"{m}_binary_dataset", dataset=_pooled("si", m, o.beta_sq),
                   per_image=False, higher_is_better=up),
        ]
    return tuple(out)


def _msiou(ctx: PairContext) -> Any:
    from segmetrics.multiscale_iou import msiou_image

    return msiou_image(ctx.pred, ctx.gt, ctx.stats, ctx.options.msiou_compat)


def _mse(ctx: PairContext) -> float:
    from segmetrics.mse import mse_image

    return mse_image(ctx.pred, ctx.gt, ctx.stats)


def _mba(ctx: PairContext) -> float:
    from segmetrics.boundary_accuracy import boundary_accuracy_image

    return boundary_accuracy_image(ctx.pred, ctx.gt)


def _biou(ctx: PairContext) -> Any:
    from segmetrics.boundary_iou import boundary_iou_image

    return boundary_iou_image(ctx.pred, ctx.gt, ctx.stats)


for _fam in (
    Family(
        key="confusion",
        title="binary-confusion metrics (pysodmetrics FmeasureV2 handlers) and AUCs",
        compute=_confusion,
        scalars=_confusion_scalars,
        curves=(*(Curve(f"confusion.{m}.curve", f"{m}_curve") for m in _CONFUSION_LABELS),
                Curve("confusion.binary_counts", "binary_counts", length=4)),
        options=("normalize", "beta_sq"),
        needs=frozenset({"hist"}),
        dataset_extras={"thresholds": THRESHOLDS},
    ),
    Family(
        key="si",
        title="size-invariant confusion metrics and MAE (per GT object)",
        compute=_si,
        scalars=_si_scalars,
        curves=(*(Curve(f"si.{m}.curve_sum", f"{m}_curve_sum") for m in _CONFUSION_LABELS),
                Curve("si.binary_counts", "binary_counts", length=4)),
        options=("normalize", "beta_sq", "si_min_area"),
        needs=frozenset({"hist"}),
    ),
    Family(
        key="msiou",
        title="multi-scale IoU",
        compute=_msiou,
        scalars=(
            Scalar("msiou.max", "max", dataset="curve_max", curve="msiou.curve", label="maxMSIoU", column=24),
            Scalar("msiou.mean", "mean", dataset="curve_mean", curve="msiou.curve", label="meanMSIoU"),
            Scalar("msiou.adp", "adaptive", label="adpMSIoU"),
            Scalar("msiou.bin", "binary", label="binMSIoU"),
        ),
        curves=(Curve("msiou.curve", "curve", length=257),),
        options=("normalize", "msiou_compat"),
        needs=frozenset({"hist"}),
    ),
    Family(
        key="mse",
        title="mean squared error",
        compute=_mse,
        scalars=(Scalar("mse", label="MSE", latex=r"MSE", higher_is_better=False, column=20),),
        options=("normalize",),
    ),
    Family(
        key="mba",
        title="mean boundary accuracy",
        compute=_mba,
        scalars=(Scalar("mba", label="mBA", latex=r"mBA", column=21),),
    ),
    Family(
        key="biou",
        title="boundary IoU",
        compute=_biou,
        scalars=(
            Scalar("biou.max", "max", dataset="curve_max", curve="biou.curve", label="maxBIoU", column=22),
            Scalar("biou.mean", "mean", dataset="curve_mean", curve="biou.curve", label="meanBIoU", column=23),
        ),
        curves=(Curve("biou.curve", "curve"),),
        options=("normalize",),
    ),
):
    register_family(_fam)


for _opt in (
    Option("cm_beta_sq", 1.0, check_positive, "context measure: weight beta^2 of the forward term"),
    Option("ccm_beta_sq", 1.2, check_positive, "camouflage context measure: weight beta^2 of the forward term"),
    Option("cm_alpha", 6.0, check_alpha, "context measures: kernel scale alpha, in (0, 100]"),
    Option("ccm_gamma", 8.0, check_positive, "camouflage context measure: camouflage-degree scale gamma"),
    Option("ccm_lambda", 20.0, lambda v, n: check_positive(v, n, allow_zero=True),
           "camouflage context measure: position weight lambda of the patch matching"),
    Option("cm_compat", "exact", _choice("exact", "pysod"),
           "context measures: exact float64 correlations and patch matching, or pysodmetrics' float32 forward map "
           "and scikit-learn's float32 search", choices=("exact", "pysod")),
):
    register_option(_opt)


def _cm(ctx: PairContext) -> float:
    from segmetrics.context_measure import _score

    o = ctx.options
    return _score(np.ascontiguousarray(ctx.normalized(), np.float64), ctx.gt, None, o.cm_beta_sq, o.cm_alpha,
                  o.cm_compat)


def _ccm(ctx: PairContext) -> float:
    from segmetrics.context_measure import _camouflage_degree, _score

    o = ctx.options
    cd = _camouflage_degree(ctx.extras["image"], ctx.gt, o.ccm_gamma, o.ccm_lambda, o.cm_compat)
    return _score(np.ascontiguousarray(ctx.normalized(), np.float64), ctx.gt, cd, o.ccm_beta_sq, o.cm_alpha,
                  o.cm_compat)


for _fam in (
    Family(
        key="cm",
        title="context measure",
        compute=_cm,
        scalars=(Scalar("cm", label="CM", latex=r"$C_\beta$", column=25),),
        options=("normalize", "cm_beta_sq", "cm_alpha", "cm_compat"),
    ),
    Family(
        key="ccm",
        title="camouflage context measure (needs the RGB image)",
        compute=_ccm,
        scalars=(Scalar("ccm", label="CCM", latex=r"$C_\beta^{cam}$", column=26),),
        options=("normalize", "ccm_beta_sq", "cm_alpha", "ccm_gamma", "ccm_lambda", "cm_compat"),
        needs=frozenset({"image"}),
    ),
):
    register_family(_fam)


# ------------------------------------------------------------------------------ table column presets

#: Result-table column presets: the metrics papers print, in the order they print them. ``dis``,
#: ``cod`` and ``hrsod`` follow BiRefNet's ``eval_existingOnes.py`` tables (DIS5K, COD, HRSOD);
#: ``sod`` is its generic order without the DIS-only HCE, mBA and boundary IoU.
PRESETS: dict[str, tuple[str, ...]] = {
    "dis": ("fm.max", "wfm", "mae", "sm", "em.mean", "hce", "em.max", "fm.mean", "em.adp", "fm.adp", "mba",
            "biou.max", "biou.mean"),
    "sod": ("sm", "mae", "em.max", "em.mean", "fm.max", "fm.mean", "wfm", "em.adp", "fm.adp"),
    "cod": ("sm", "wfm", "fm.mean", "em.mean", "em.max", "mae", "fm.max", "em.adp", "fm.adp", "hce", "mba",
            "biou.max", "biou.mean"),
    "hrsod": ("sm", "fm.max", "em.mean", "mae", "em.max", "fm.mean", "wfm", "em.adp", "fm.adp", "hce", "mba",
              "biou.max", "biou.mean"),
}


def preset_metrics(name: str) -> tuple[str, ...]:
    """The metric families a column preset needs, in canonical order.

    Raises:
        ValueError: for an unknown preset.

    Example:
        >>> preset_metrics("sod")
        ('fm', 'wfm', 'mae', 'sm', 'em')
    """
    from segmetrics.registry import _KEYS, FAMILIES

    check_choice(name, "preset", tuple(PRESETS))
    fams = {_KEYS[k] for k in PRESETS[name]}
    return tuple(k for k in FAMILIES if k in fams)
