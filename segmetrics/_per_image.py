"""Per-image evaluation used by the folder evaluator: metric registry, canonical keys, one record.

Every metric family writes *scalars* (one number per image, CSV columns) and *curves* (256-vectors,
kept in the journal and averaged into the dataset curves) under canonical, dotted keys:

=========  ==========================================================  ==============================
family     scalars                                                     curves
=========  ==========================================================  ==============================
``mae``    ``mae``                                                     -
``fm``     ``fm.adp``, ``fm.mean``, ``fm.max``                         ``fm.curve``, ``fm.precision``,
                                                                       ``fm.recall``
``em``     ``em.adp``, ``em.mean``, ``em.max``                         ``em.curve``
``sm``     ``sm``                                                      -
``wfm``    ``wfm``                                                     -
``hce``    ``hce``, ``hce.fp_points``, ``hce.fp_regions``,             -
           ``hce.fn_points``, ``hce.fn_regions``
``iou``    ``iou``, ``iou.adp``                                        ``iou.curve``
``dice``   ``dice``, ``dice.adp``                                      ``dice.curve``
``bf``     ``bf.f1``, ``bf.p1``, ``bf.r1`` (per tolerance)             -
=========  ==========================================================  ==============================

Curves are in ascending threshold order (``k = 0..255``).
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ALL_METRICS",
    "CURVE_SCORES",
    "DEFAULT_METRICS",
    "EvalSettings",
    "evaluate_pair",
    "metric_columns",
]

#: The six metrics of the DIS paper's Table 2 (the default set).
DEFAULT_METRICS: tuple[str, ...] = ("fm", "wfm", "mae", "sm", "em", "hce")
#: Every metric family the folder evaluator knows.
ALL_METRICS: tuple[str, ...] = ("fm", "wfm", "mae", "sm", "em", "hce", "iou", "dice", "bf")
#: Curves whose dataset mean curve also gives a dataset ``max`` and ``mean`` (pysod semantics).
CURVE_SCORES: tuple[str, ...] = ("fm", "em", "iou", "dice")
_FUSED_FAMILIES = ("fm", "em", "sm", "wfm", "mae", "hce")


@dataclass(frozen=True)
class EvalSettings:
    """Everything that decides the numbers of a folder evaluation (stored with the results).

    Attributes:
        metrics: metric families, a subset of :data:`ALL_METRICS`.
        resize: ``"error"`` (a size mismatch is an error row) or ``"pred-to-gt"`` (bilinear resize).
        color: how colour files become one channel, ``"gray"`` or ``"first"`` (see ``image_io``).
        hce_gamma: HCE relaxation ``gamma``.
        hce_epsilon: HCE Douglas–Peucker tolerance.
        hce_threshold: HCE binarisation, ``"official"`` (DIS script, raw ``> 128``) or ``"pysod"``.
        hce_iterations: HCE relaxation loop count, ``"code"`` (γ, DIS script) or ``"paper"`` (γ + 1).
        bf_tolerances: boundary F-score tolerances in pixels.
        threshold: fixed binarisation threshold of IoU, Dice and boundary F.
        skeleton_cache: folder of the GT skeleton cache, or ``None`` to skeletonise without caching.
    """

    metrics: tuple[str, ...] = DEFAULT_METRICS
    resize: str = "error"
    color: str = "gray"
    hce_gamma: int = 5
    hce_epsilon: float = 2.0
    hce_threshold: str = "official"
    hce_iterations: str = "code"
    bf_tolerances: tuple[int, ...] = (1, 3, 5)
    threshold: float = 0.5
    skeleton_cache: str | None = None

    def identity(self) -> dict[str, Any]:
        """The settings that change the numbers (the cache folder does not)."""
        return {
            "metrics": list(self.metrics),
            "resize": self.resize,
            "color": self.color,
            "hce_gamma": self.hce_gamma,
            "hce_epsilon": self.hce_epsilon,
            "hce_threshold": self.hce_threshold,
            "hce_iterations": self.hce_iterations,
            "bf_tolerances": list(self.bf_tolerances),
            "threshold": self.threshold,
        }


def metric_columns(settings: EvalSettings) -> list[str]:
    """The scalar CSV columns of a metric set, in a fixed order."""
    cols: list[str] = []
    for m in settings.metrics:
        if m in ("fm", "em"):
            cols += [f"{m}.adp", f"{m}.mean", f"{m}.max"]
        elif m == "hce":
            cols += ["hce", "hce.fp_points", "hce.fp_regions", "hce.fn_points", "hce.fn_regions"]
        elif m in ("iou", "dice"):
            cols += [m, f"{m}.adp"]
        elif m == "bf":
            for t in settings.bf_tolerances:
                cols += [f"bf.f{t}", f"bf.p{t}", f"bf.r{t}"]
        else:
            cols.append(m)
    return cols


@dataclass
class PairResult:
    """The per-image record the workers return (JSON-able apart from the curve arrays)."""

    name: str
    status: str = "ok"
    error: str = ""
    height: int = 0
    width: int = 0
    scalars: dict[str, float] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    #: ``{"pred": fingerprint, "gt": fingerprint}`` of the files read (see :mod:`segmetrics._fingerprint`)
    inputs: dict[str, Any] = field(default_factory=dict)


def _fused_metrics(pred: np.ndarray, gt: np.ndarray, settings: EvalSettings, out: PairResult) -> None:
    """The six DIS metrics in one fused :func:`segmetrics.compute_all` call, mapped to the canonical keys."""
    from segmetrics import compute_all

    families = tuple(m for m in settings.metrics if m in _FUSED_FAMILIES)
    skeleton = None
    if "hce" in families and settings.skeleton_cache is not None:
        from segmetrics._inputs import prepare_gt
        from segmetrics.skeleton_cache import SkeletonCache

        skeleton = SkeletonCache(settings.skeleton_cache).get(prepare_gt(gt))
    res = compute_all(
        pred,
        gt,
        metrics=families,
        hce_gamma=settings.hce_gamma,
        hce_epsilon=settings.hce_epsilon,
        hce_skeleton=skeleton,
        hce_threshold=settings.hce_threshold,
        hce_iterations=settings.hce_iterations,
    )
    s, c = out.scalars, out.curves
    for key in ("mae", "sm", "wfm"):
        if key in families:
            s[key] = float(getattr(res, key))
    if "fm" in families:
        fm = res.fm
        s["fm.adp"], s["fm.mean"], s["fm.max"] = float(fm.adaptive), float(fm.mean), float(fm.max)
        c["fm.curve"] = np.asarray(fm.curve, dtype=np.float64)
        c["fm.precision"] = np.asarray(fm.precision, dtype=np.float64)
        c["fm.recall"] = np.asarray(fm.recall, dtype=np.float64)
    if "em" in families:
        em = res.em
        s["em.adp"], s["em.mean"], s["em.max"] = float(em.adaptive), float(em.mean), float(em.max)
        c["em.curve"] = np.asarray(em.curve, dtype=np.float64)
    if "hce" in families:
        h = res.hce
        s["hce"] = float(h.total)
        s["hce.fp_points"] = float(h.fp_points)
        s["hce.fp_regions"] = float(h.fp_regions)
        s["hce.fn_points"] = float(h.fn_points)
        s["hce.fn_regions"] = float(h.fn_regions)


def compute_pair(pred: np.ndarray, gt: np.ndarray, settings: EvalSettings, out: PairResult) -> None:
    """Fill ``out`` with every metric of ``settings`` for one (pred, gt) pair of equal size."""
    if any(m in _FUSED_FAMILIES for m in settings.metrics):
        _fused_metrics(pred, gt, settings, out)
    if "iou" in settings.metrics or "dice" in settings.metrics:
        from segmetrics.region_overlap import region_overlap

        r = region_overlap(pred, gt, threshold=settings.threshold)
        for name in ("iou", "dice"):
            if name in settings.metrics:
                out.scalars[name] = getattr(r, name)
                out.scalars[f"{name}.adp"] = getattr(r, f"adaptive_{name}")
                out.curves[f"{name}.curve"] = getattr(r, f"{name}_curve")
    if "bf" in settings.metrics:
        from segmetrics.boundary_fscore import boundary_fscore

        b = boundary_fscore(pred, gt, tolerances=settings.bf_tolerances, threshold=settings.threshold)
        for i, t in enumerate(b.tolerances):
            out.scalars[f"bf.f{t}"] = float(b.fscore[i])
            out.scalars[f"bf.p{t}"] = float(b.precision[i])
            out.scalars[f"bf.r{t}"] = float(b.recall[i])
    for k, v in out.scalars.items():
        if not math.isfinite(v) and not (k == "sm" and math.isnan(v)):
            raise FloatingPointError(f"metric {k} is not finite ({v})")


def load_pair(
    pred_path: Path, gt_path: Path, settings: EvalSettings, inputs: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a pair and apply the resize policy; a size mismatch under ``"error"`` raises ``ValueError``.

    Read errors name the file's role (prediction or ground truth) and its path. With ``inputs`` (a
    dict), the fingerprints of the bytes read are stored in it under ``"pred"`` and ``"gt"``.
    """
    from segmetrics.image_io import _read_map, resize_to

    want = inputs is not None
    gt, gt_fp = _read_map(gt_path, settings.color, "the ground truth ", want)
    pred, pred_fp = _read_map(pred_path, settings.color, "the prediction ", want)
    if inputs is not None:
        inputs["pred"], inputs["gt"] = pred_fp, gt_fp
    if pred.shape != gt.shape:
        if settings.resize == "pred-to-gt":
            pred = resize_to(pred, gt.shape)
        else:
            raise ValueError(
                f"size mismatch: pred {pred.shape[1]}x{pred.shape[0]} vs gt {gt.shape[1]}x{gt.shape[0]} "
                "(W x H); pass resize='pred-to-gt' (--resize pred-to-gt) to resize predictions"
            )
    return pred, gt


def evaluate_pair(name: str, pred_path: str | Path, gt_path: str | Path, settings: EvalSettings) -> PairResult:
    """Read and evaluate one pair; any failure becomes an ``error`` record (never raises)."""
    out = PairResult(name=name)
    try:
        pred, gt = load_pair(Path(pred_path), Path(gt_path), settings, out.inputs)
        out.height, out.width = int(gt.shape[0]), int(gt.shape[1])
        compute_pair(pred, gt, settings, out)
    except Exception as exc:
        out.status = "error"
        msg = str(exc) or type(exc).__name__
        if not isinstance(exc, (OSError, ValueError, TypeError)):
            msg = f"{type(exc).__name__}: {msg} | {traceback.format_exc(limit=3).splitlines()[-1]}"
        out.error = msg
        out.scalars = {}
        out.curves = {}
        out.inputs = {}
    return out
