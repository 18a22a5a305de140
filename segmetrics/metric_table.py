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
