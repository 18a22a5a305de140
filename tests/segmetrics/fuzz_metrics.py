"""Hypothesis fuzz of every public per-image metric, meant to run in its own process.

``test_memory_safety.py`` runs this file with ``sys.executable`` and fails on a non-zero exit status or
a signal (a segmentation fault in a numba kernel kills only this process). Inputs cover every accepted
prediction dtype (uint8 over full and narrow level ranges, bool, float16/32/64), ground truths (bool,
uint8, 0/1 integers, floats), shapes from 1x1 to thin strips, and auxiliary inputs (HCE skeletons).
Each call must either return finite-or-NaN numbers of the documented kind or raise ``TypeError`` /
``ValueError``; anything else (an ``IndexError`` under ``NUMBA_BOUNDSCHECK=1``, a crash) fails.

Usage: ``python tests/segmetrics/fuzz_metrics.py [max_examples]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import segmetrics as sm
from segmetrics.registry import all_metrics

EVERY_FAMILY = all_metrics()  # every family of the metric table, those registered later included

SHAPES = st.tuples(st.integers(1, 24), st.integers(1, 24))


@st.composite
def pred_maps(draw, shape):
    kind = draw(st.sampled_from(["u8_full", "u8_narrow", "u8_const", "bool", "f16", "f32", "f64", "f64_narrow"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind.startswith("u8"):
        lo = draw(st.integers(0, 255))
        span = {"u8_full": 255, "u8_narrow": draw(st.integers(1, 3)), "u8_const": 0}[kind]
        hi = min(255, lo + span)
        return rng.integers(lo, hi + 1, shape).astype(np.uint8)
    if kind == "bool":
        return rng.random(shape) < draw(st.floats(0, 1))
    if kind == "f64_narrow":
        base = draw(st.floats(0, 1 - 1e-6))
        return np.clip(base + rng.random(shape) * 1e-9, 0, 1)
    dtype = {"f16": np.float16, "f32": np.float32, "f64": np.float64}[kind]
    return rng.random(shape).astype(dtype)


@st.composite
def gt_maps(draw, shape):
    kind = draw(st.sampled_from(["bool", "u8", "i64", "f32", "empty", "full"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mask = rng.random(shape) < draw(st.floats(0, 1))
    if kind == "empty":
        return np.zeros(shape, bool)
    if kind == "full":
        return np.ones(shape, bool)
    if kind == "u8":
        return mask.astype(np.uint8) * 255
    if kind == "i64":
        return mask.astype(np.int64)
    if kind == "f32":
        return mask.astype(np.float32)
    return mask


@st.composite
def cases(draw):
    shape = draw(SHAPES)
    pred = draw(pred_maps(shape))
    gt = draw(gt_maps(shape))
    # skeletons: right shape, wrong shape (must be rejected), or none
    skel_kind = draw(st.sampled_from(["none", "ok", "taller", "wider", "smaller"]))
    skel = None
    if skel_kind != "none":
        sh = {"ok": shape, "taller": (shape[0] + 3, shape[1]), "wider": (shape[0], shape[1] + 5),
              "smaller": (max(1, shape[0] - 1), max(1, shape[1] - 1))}[skel_kind]
        skel = np.ones(sh, bool)
    return pred, gt, skel


def _call(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except (TypeError, ValueError):
        return None


def _check_number(x, name):
    assert isinstance(x, (float, int, np.floating, np.integer)), (name, type(x))
    assert np.isnan(x) or np.isfinite(x), (name, x)


def run(max_examples: int) -> None:
    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def fuzz(case):
        pred, gt, skel = case
        for fn in (sm.mae, sm.smeasure, sm.weighted_fmeasure, sm.iou, sm.dice):
            r = _call(fn, pred, gt)
            if r is not None:
                _check_number(r, fn.__name__)
        for fn in (sm.fmeasure, sm.emeasure, sm.region_overlap, sm.boundary_fscore):
            _call(fn, pred, gt)
        for compat in ("pysod", "matlab"):
            _call(sm.emeasure, pred, gt, compat=compat)
            _call(sm.smeasure, pred, gt, compat=compat)
        _call(sm.fmeasure, pred, gt, normalize=False)
        image = np.random.default_rng(pred.size).integers(0, 256, (*gt.shape, 3), dtype=np.uint8)
        for fn in (sm.mse, sm.boundary_accuracy, sm.context_measure):
            r = _call(fn, pred, gt)
            if r is not None:
                _check_number(r, fn.__name__)
        r = _call(sm.camouflage_context_measure, pred, gt, image)
        if r is not None:
            _check_number(r, "camouflage_context_measure")
        for fn in (sm.confusion_metrics, sm.size_invariant_metrics, sm.msiou, sm.boundary_iou):
            _call(fn, pred, gt)
        r = _call(sm.hce, pred, gt, skeleton=skel)
        if r is not None and skel is not None:
            assert skel.shape == gt.shape, "a skeleton of the wrong shape was accepted by hce"
        _call(sm.hce_details, pred, gt, skeleton=skel)
        r = _call(sm.compute_all, pred, gt, metrics=EVERY_FAMILY, hce_skeleton=skel, image=image)
        if r is not None and skel is not None:
            assert skel.shape == gt.shape, "a skeleton of the wrong shape was accepted by compute_all"
        if r is not None:
            for key, value in r.scalars().items():
                _check_number(value, key)
        acc = sm.DatasetMetrics(metrics=EVERY_FAMILY)
        _call(acc.update, pred, gt, hce_skeleton=skel, image=image)
        _call(acc.update, pred[None], gt[None], hce_skeleton=None if skel is None else skel[None], image=image[None])
        if acc.n_images:
            acc.compute()
        _call(sm.skeletonize, gt)
        _call(sm.object_complexity, gt)

    fuzz()


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
    print("fuzz ok")
