"""Confusion family: parity with pysodmetrics 1.6.2 FmeasureV2 (per image and dataset), AUCs, errors."""

from __future__ import annotations

import warnings

import numpy as np
import py_sod_metrics as psm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmetrics.confusion import (
    CONFUSION_METRICS,
    ConfusionAccumulator,
    confusion_counts,
    confusion_formula,
    confusion_metrics,
)
from tests.segmetrics.cases import CASES, make_case
from tests.segmetrics.photo_cases import PHOTO_CASES, make_photo_case

_HANDLERS = {
    "precision": psm.PrecisionHandler, "recall": psm.RecallHandler, "specificity": psm.SpecificityHandler,
    "fpr": psm.FPRHandler, "ber": psm.BERHandler, "oa": psm.OverallAccuracyHandler, "kappa": psm.KappaHandler,
    "fmeasure": psm.FmeasureHandler, "iou": psm.IOUHandler, "dice": psm.DICEHandler,
}
_CASES = [*CASES[::3], *PHOTO_CASES[::2]]


def _case(name):
    return make_photo_case(name) if name in PHOTO_CASES else make_case(name)


def _pysod(pairs, sample_based=True):
    fm = psm.FmeasureV2({k: h(True, True, with_binary=True, sample_based=sample_based) for k, h in _HANDLERS.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p, g in pairs:
            fm.step(p, g)
    return fm.get_results()


@pytest.mark.parametrize("name", _CASES)
def test_image_parity_with_pysod(name):
    pred, gt = _case(name)
    ref = _pysod([(pred, gt)])
    ours = confusion_metrics(pred, gt)
    for k in _HANDLERS:
        np.testing.assert_array_equal(ours[k].curve, ref[k]["dynamic"][::-1], err_msg=k)
        assert ours[k].adaptive == ref[k]["adaptive"], k
        assert ours[k].binary == ref[k]["binary"], k
        assert ours[k].mean == ref[k]["dynamic"].mean() and ours[k].max == ref[k]["dynamic"].max(), k


def test_float_input_matches_uint8():
    pred, gt = make_photo_case("coins_blur")
    a = confusion_metrics(pred, gt)
    b = confusion_metrics(pred / 255.0, gt)
    for k in CONFUSION_METRICS:
        np.testing.assert_array_equal(a[k].curve, b[k].curve)
        assert (a[k].adaptive, a[k].binary) == (b[k].adaptive, b[k].binary)


def test_dataset_parity_sample_based_and_pooled():
    pairs = [_case(n) for n in _CASES]
    ref = _pysod(pairs, sample_based=True)
    ref_pooled = _pysod(pairs, sample_based=False)
    acc = ConfusionAccumulator()
    for p, g in pairs:
        acc.add(confusion_counts(p, g))
    half = ConfusionAccumulator()
    for p, g in pairs[: len(pairs) // 2]:
        half.add(confusion_counts(p, g))
    rest = ConfusionAccumulator()
    for p, g in pairs[len(pairs) // 2:]:
        rest.add(confusion_counts(p, g))
    merged = half.merge(rest).compute()
    r = acc.compute()
    for k in _HANDLERS:
        np.testing.assert_array_equal(r[k].curve, ref[k]["dynamic"][::-1], err_msg=k)
        np.testing.assert_allclose(r[k].adaptive, ref[k]["adaptive"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(r[k].binary, ref[k]["binary"], rtol=0, atol=1e-12)
        assert r[k].binary_dataset == ref_pooled[k]["binary"], k
        np.testing.assert_allclose(merged[k].curve, r[k].curve, rtol=0, atol=1e-12)


def test_aliases_and_cohen_kappa_against_sklearn_formula():
    pred, gt = make_photo_case("horse_shift")
    r = confusion_metrics(pred, gt, metrics=("tpr", "tnr", "cohen_kappa"))
    assert set(r.scores) == {"recall", "specificity", "cohen_kappa"}
    np.testing.assert_array_equal(r["sensitivity"].curve, r["recall"].curve)
    tp, fp, tn, fn = confusion_counts(pred, gt).binary_counts()
    n = tp + fp + tn + fn
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (tn + fn) * (tn + fp)) / n**2
    assert r["cohen_kappa"].binary == pytest.approx((po - pe) / (1 - pe), abs=1e-14)


def _pysod_auc(y_desc, x_desc):
    """pysodmetrics' test-suite AUC: flip to ascending thresholds, stable sort by x, trapezoid."""
    y, x = y_desc[::-1], x_desc[::-1]
    order = np.argsort(x, kind="stable")
    return np.trapezoid(y[order], x[order])


def test_auc_follows_pysod_convention():
    pairs = [_case(n) for n in _CASES[:6]]
    ref = _pysod(pairs)
    acc = ConfusionAccumulator(metrics=("iou",))
    for p, g in pairs:
        acc.add(confusion_counts(p, g))
    r = acc.compute()
    assert r.auc_pr == _pysod_auc(ref["precision"]["dynamic"], ref["recall"]["dynamic"])
    assert r.auc_roc == _pysod_auc(ref["recall"]["dynamic"], ref["fpr"]["dynamic"])
    one = confusion_metrics(*pairs[0])
    ref1 = _pysod(pairs[:1])
    assert one.auc_roc == _pysod_auc(ref1["recall"]["dynamic"], ref1["fpr"]["dynamic"])
    gt = np.zeros((16, 16), bool)
    gt[4:12, 4:12] = True
    perfect = confusion_metrics(gt.astype(np.uint8) * 255, gt)
    assert (perfect.auc_roc, perfect.auc_pr) == (1.0, 0.0)  # all PR points at recall 1: no area (no end points)
    rng = np.random.default_rng(0)
    noise = confusion_metrics(rng.integers(0, 256, (64, 64), dtype=np.uint8), rng.random((64, 64)) > 0.5)
    assert abs(noise.auc_roc - 0.5) < 0.05


def test_degenerate_inputs_are_finite():
    z = np.zeros((8, 8), np.uint8)
    for pred, gt in ((z, z), (z + 255, z), (z, z + 255), (z + 255, z + 255)):
        r = confusion_metrics(pred, gt)
        assert np.isfinite([r.auc_pr, r.auc_roc]).all()
        for s in r.scores.values():
            assert np.isfinite(s.curve).all() and np.isfinite([s.mean, s.max, s.adaptive, s.binary]).all()


def test_errors_name_the_argument():
    pred, gt = make_case(CASES[0])
    with pytest.raises(ValueError, match="`metrics` must be one of"):
        confusion_metrics(pred, gt, metrics=("nope",))
    with pytest.raises(ValueError, match="`beta_sq` must be finite and > 0"):
        confusion_metrics(pred, gt, beta_sq=0)
    with pytest.raises(ValueError, match="`pred` and `gt` must have the same shape"):
        confusion_metrics(pred[:-1], gt)
    with pytest.raises(TypeError, match="`counts` must be a ConfusionCounts"):
        ConfusionAccumulator().add({"tp": 1})
    with pytest.raises(ValueError, match="at least one image"):
        ConfusionAccumulator().compute()
    assert float(confusion_formula("dice", 0, 0, 4, 0)) == 0.0


_COUNT = st.integers(0, 10**6)


@settings(max_examples=200, deadline=None)
@given(_COUNT, _COUNT, _COUNT, _COUNT, st.floats(0.01, 10))
def test_formula_properties(tp, fp, tn, fn, beta_sq):
    v = {m: float(confusion_formula(m, tp, fp, tn, fn, beta_sq=beta_sq)) for m in CONFUSION_METRICS}
    for m in ("precision", "recall", "specificity", "fpr", "ber", "oa", "fmeasure", "iou", "dice"):
        assert 0.0 <= v[m] <= 1.0, m
    assert v["iou"] <= v["dice"] + 1e-15  # IoU = D / (2 - D) <= D
    if tp + fp + fn:
        assert v["dice"] == pytest.approx(2 * v["iou"] / (1 + v["iou"]), abs=1e-12)
    if tn + fp:
        assert v["fpr"] + v["specificity"] == pytest.approx(1.0, abs=1e-12)
    if tp + fn and tn + fp:
        assert v["ber"] == pytest.approx(1 - (v["recall"] + v["specificity"]) / 2, abs=1e-12)
    if tp + fp + tn + fn:  # swapping the classes leaves Cohen's kappa unchanged
        swapped = float(confusion_formula("cohen_kappa", tn, fn, tp, fp))
        assert swapped == pytest.approx(v["cohen_kappa"], abs=1e-9)


def test_accumulator_refuses_counts_of_another_curve_length_before_counting_them():
    # ConfusionAccumulator.add counted the image and summed the first metrics, then failed with numpy's broadcast
    # error for counts whose curves are not (256,): the state was left corrupt.
    from segmetrics.confusion import ConfusionCounts

    acc = ConfusionAccumulator(metrics=("iou",))
    bad = ConfusionCounts(n=4, n_fg=2, tp=np.array([2, 1]), fp=np.array([2, 0]), tp_adaptive=1, fp_adaptive=0,
                          tp_binary=1, fp_binary=0)
    with pytest.raises(ValueError, match=r"`counts` must hold \(256,\) tp / fp curves; got shapes \(2,\) and \(2,\)"):
        acc.add(bad)
    assert acc.n_images == 0 and acc._pooled == [0, 0, 0, 0]
    gt = np.zeros((4, 4), bool)
    gt[:2] = True
    acc.add(confusion_counts(gt, gt))
    assert acc.compute()["iou"].binary == 1.0


def test_formula_widens_narrow_integer_counts():
    # int32 count arrays (e.g. from an int32 tensor, or numpy 1.x sums on Windows) overflowed in the kappa chance
    # term ((TP+FP)(TP+FN) > 2**31 from ~46k pixels) and gave kappa 2.075 silently; uint16 / bool counts wrapped too.
    from segmetrics.confusion import confusion_formula

    counts = (30000, 20000, 200000, 10000)
    exact = {m: float(confusion_formula(m, *counts)) for m in CONFUSION_METRICS}
    for dt in (np.int32, np.uint32, np.int16, np.uint16, np.int64):
        small = tuple(np.array([min(v, np.iinfo(dt).max)], dt) for v in counts)
        wide = tuple(np.array([min(v, np.iinfo(dt).max)], np.int64) for v in counts)
        for m in CONFUSION_METRICS:
            assert confusion_formula(m, *small) == confusion_formula(m, *wide), (dt, m)
    assert confusion_formula("kappa", *(np.int32(v) for v in counts)) == pytest.approx(exact["kappa"], abs=1e-15)
    assert float(confusion_formula("iou", np.array(True), np.array(True), np.array(False), np.array(True))) == 1 / 3
