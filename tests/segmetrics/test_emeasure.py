import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmetrics import EMeasureResult, emeasure
from tests.segmetrics._pysod import assert_close, pysod
from tests.segmetrics._reference import EPS, emeasure_binary, normalized
from tests.segmetrics.cases import CASES, LARGE_CASES, make_case

pytestmark = pytest.mark.parity


@pytest.mark.parametrize("name", CASES + LARGE_CASES)
def test_parity_with_pysodmetrics(name):
    pred, gt = make_case(name)
    r = emeasure(pred, gt)
    ref = pysod(name)["em"]
    assert_close(r.curve, ref["curve"][::-1])
    assert_close(r.adaptive, ref["adp"])
    assert_close(r.max, ref["curve"].max())
    assert_close(r.mean, ref["curve"].mean())


@pytest.mark.parametrize("name", ["mixed_96x80", "empty_pred_empty_gt", "checker_1px_64", "two_level_pred",
                                  "full_gt", "empty_gt", "binary_pred_128", "low_contrast"])
def test_matlab_strict_mode_against_pixelwise_reference(name):
    pred, gt = make_case(name)
    g = gt > 128
    p = normalized(pred)
    r = emeasure(pred, gt, compat="matlab")
    ref_curve = np.array([emeasure_binary(p > k / 255.0, g) for k in range(256)])
    np.testing.assert_allclose(r.curve, ref_curve, rtol=0, atol=1e-12)
    thr = min(2 * p.mean(), 1)
    assert r.adaptive == pytest.approx(emeasure_binary(p > thr, g), abs=1e-12)


def test_pysod_mode_against_pixelwise_reference():
    pred, gt = make_case("hair")
    g = gt > 128
    p = normalized(pred)
    q = (p * 255).astype(np.uint8)
    r = emeasure(pred, gt)
    ref_curve = np.array([emeasure_binary(q >= k, g) for k in range(256)])
    np.testing.assert_allclose(r.curve, ref_curve, rtol=0, atol=1e-12)


def test_empty_empty_adaptive_conventions():
    pred = np.zeros((24, 24), np.uint8)
    gt = np.zeros((24, 24), np.uint8)
    # pysod: threshold 0 with >= selects every pixel -> E = 0
    assert emeasure(pred, gt).adaptive == 0.0
    # MATLAB strict >: nothing selected -> E = N / (N - 1 + eps)
    assert emeasure(pred, gt, compat="matlab").adaptive == 576 / (575 + EPS)


def test_result_type_and_batch():
    names = ["tree_1px", "tree_3px"]
    preds, gts = zip(*(make_case(n) for n in names))
    rb = emeasure(np.stack(preds)[:, None], np.stack(gts)[:, None])
    assert isinstance(rb, EMeasureResult) and rb.curve.shape == (2, 256)
    for i in range(2):
        ri = emeasure(preds[i], gts[i])
        np.testing.assert_array_equal(rb.curve[i], ri.curve)
        assert rb.adaptive[i] == ri.adaptive
    rt = emeasure(torch.from_numpy(np.stack(preds)), torch.from_numpy(np.stack(gts)) > 128)
    np.testing.assert_array_equal(rt.curve, rb.curve)
    assert set(rb.to_dict()) == {"adaptive", "mean", "max", "curve", "thresholds"}


@given(
    pred=arrays(np.uint8, st.tuples(st.integers(2, 12), st.integers(1, 12))),
    seed=st.integers(0, 2**16),
    compat=st.sampled_from(["pysod", "matlab"]),
)
def test_properties(pred, seed, compat):
    gt = np.random.default_rng(seed).random(pred.shape) > 0.5
    n = gt.size
    r = emeasure(pred, gt, compat=compat)
    upper = n / (n - 1 + EPS)
    for v in (r.adaptive, r.mean, r.max):
        assert 0.0 <= v <= upper + 1e-12
    rf = emeasure(pred / 255.0, gt, compat=compat)
    np.testing.assert_array_equal(r.curve, rf.curve)
    perfect = emeasure(gt.astype(np.uint8) * 255, gt, compat=compat)
    assert perfect.max == pytest.approx(upper) and perfect.max >= r.max - 1e-12


def test_bad_options():
    with pytest.raises(ValueError, match=r"`compat` must be one of \('pysod', 'matlab'\); got 'cod'"):
        emeasure(np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool), compat="cod")
    with pytest.raises(ValueError, match=r"`gt` of integer dtype int64 must hold 0/1 labels"):
        emeasure(np.zeros((4, 4), np.uint8), np.full((4, 4), 7))
