"""Size-invariant family: parity with pysodmetrics 1.6.2 SizeInvarianceFmeasureV2 / SizeInvarianceMAE."""

from __future__ import annotations

import warnings

import numpy as np
import py_sod_metrics as psm
import pytest

from segmetrics.confusion import confusion_metrics
from segmetrics.size_invariance import SizeInvariantAccumulator, size_invariant_metrics, size_invariant_objects
from tests.segmetrics.cases import CASES, make_case
from tests.segmetrics.photo_cases import PHOTO_CASES, make_photo_case

_HANDLERS = {
    "precision": psm.PrecisionHandler, "recall": psm.RecallHandler, "specificity": psm.SpecificityHandler,
    "fpr": psm.FPRHandler, "ber": psm.BERHandler, "oa": psm.OverallAccuracyHandler, "kappa": psm.KappaHandler,
    "fmeasure": psm.FmeasureHandler, "iou": psm.IOUHandler, "dice": psm.DICEHandler,
}
_CASES = [c for c in CASES[1::3] if c != "checker_1px_64"] + list(PHOTO_CASES[::2])


def _case(name):
    return make_photo_case(name) if name in PHOTO_CASES else make_case(name)


def _pysod(pairs):
    sample = psm.SizeInvarianceFmeasureV2({k: h(True, True, with_binary=True) for k, h in _HANDLERS.items()})
    overall = psm.SizeInvarianceFmeasureV2(
        {k: h(True, False, with_binary=True, sample_based=False) for k, h in _HANDLERS.items()})
    mae = psm.SizeInvarianceMAE()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p, g in pairs:
            for m in (sample, overall, mae):
                m.step(p, g)
        return sample.get_results(), overall.get_results(), mae.get_results()["si_mae"]


@pytest.mark.parametrize("name", _CASES)
def test_image_parity_with_pysod(name):
    pred, gt = _case(name)
    ref, ref_all, ref_mae = _pysod([(pred, gt)])
    r = size_invariant_metrics(pred, gt)
    for k in _HANDLERS:
        per_object = ref[k]["dynamic"][0]  # (T, 256), descending thresholds
        s = r[k]
        np.testing.assert_array_equal(s.curve, ref_all[k]["dynamic"][::-1], err_msg=k)
        assert (s.max, s.mean) == (per_object.max(-1).mean(), per_object.mean(-1).mean()), k
        want = (ref[k]["adaptive"], ref[k]["binary"], ref_all[k]["binary"])
        assert (s.adaptive, s.binary, s.binary_dataset) == want, k
    if np.isnan(ref_mae):  # pysod: 0/0 when the boxes cover the image; ours drops the empty term
        assert np.isfinite(r.mae)
    else:
        assert r.mae == pytest.approx(ref_mae, abs=1e-12)


def test_dataset_parity_and_merge():
    pairs = [_case(n) for n in _CASES[:6]]
    ref, ref_all, ref_mae = _pysod(pairs)
    results = [size_invariant_metrics(p, g) for p, g in pairs]
    acc = SizeInvariantAccumulator()
    for res in results:
        acc.add(res)
    a, b = SizeInvariantAccumulator(), SizeInvariantAccumulator()
    for res in results[:2]:
        a.add(res)
    for res in results[2:]:
        b.add(res)
    merged = a.merge(b).compute()
    d = acc.compute()
    for k in _HANDLERS:
        np.testing.assert_array_equal(d[k].curve, ref_all[k]["dynamic"][::-1], err_msg=k)
        assert d[k].binary_dataset == ref_all[k]["binary"], k
        np.testing.assert_allclose([d[k].adaptive, d[k].binary], [ref[k]["adaptive"], ref[k]["binary"]], atol=1e-12)
        assert d[k].max == pytest.approx(np.mean([x.max(-1).mean() for x in ref[k]["dynamic"]]), abs=1e-12)
        np.testing.assert_allclose(merged[k].curve, d[k].curve, rtol=0, atol=1e-12)
    if not np.isnan(ref_mae):
        assert d.mae == pytest.approx(ref_mae, abs=1e-12)


def test_objects_and_special_cases():
    gt = np.zeros((40, 40), bool)
    gt[1:9, 1:9] = True  # 64 px
    gt[20:23, 20:35] = True  # 45 px: below the default minimum area
    assert size_invariant_objects(gt).tolist() == [[1, 9, 1, 9]]
    assert size_invariant_objects(gt, min_area=40).tolist() == [[1, 9, 1, 9], [20, 23, 20, 35]]
    small = np.zeros((20, 20), bool)
    small[1:3, 1:3] = small[10:12, 10:12] = True  # none >= 50: every largest component is kept
    assert len(size_invariant_objects(small)) == 2
    # empty GT: one evaluation of the whole image, equal to the plain confusion metrics
    pred = np.arange(400, dtype=np.uint8).reshape(20, 20)
    empty = size_invariant_metrics(pred, np.zeros((20, 20), bool), metrics=("iou", "specificity"))
    plain = confusion_metrics(pred, np.zeros((20, 20), bool), metrics=("iou", "specificity"))
    assert empty.n_objects == 1 and empty["specificity"].max == plain["specificity"].max
    # full GT (pysod raises): one object whose box is the image
    full = size_invariant_metrics(pred, np.ones((20, 20), bool))
    assert full.n_objects == 1 and np.isfinite(full.mae)


def test_errors_name_the_argument():
    pred, gt = make_case(CASES[0])
    with pytest.raises(ValueError, match="`min_area` must be an integer >= 1"):
        size_invariant_metrics(pred, gt, min_area=0)
    with pytest.raises(TypeError, match="`min_area` must be an integer >= 1"):
        size_invariant_metrics(pred, gt, min_area=2.5)
    with pytest.raises(ValueError, match="`metrics` must be one of"):
        size_invariant_metrics(pred, gt, metrics=("f",))
    with pytest.raises(TypeError, match="SizeInvariantResult of one image"):
        SizeInvariantAccumulator().add(None)


def test_accumulator_refuses_results_of_another_beta_sq():
    # It used to add them: the mean of the per-image F values (beta_sq 0.3) next to curves of beta_sq 1.
    pred, gt = make_photo_case(PHOTO_CASES[0])
    acc = SizeInvariantAccumulator(metrics=("fmeasure",), beta_sq=1.0)
    with pytest.raises(ValueError, match=r"`r` must be computed with this accumulator's beta_sq=1.0; got beta_sq=0.3"):
        acc.add(size_invariant_metrics(pred, gt, metrics=("fmeasure",)))
    r = size_invariant_metrics(pred, gt, metrics=("fmeasure",), beta_sq=1.0)
    acc.add(r)
    out = acc.compute()
    assert out.beta_sq == r.beta_sq == 1.0
    assert out["fmeasure"].max == r["fmeasure"].max and out["fmeasure"].max_overall == r["fmeasure"].max_overall
