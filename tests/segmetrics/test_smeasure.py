import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmetrics import smeasure
from tests.segmetrics._pysod import SUM_ATOL, assert_close, pysod
from tests.segmetrics._reference import normalized, smeasure_ref
from tests.segmetrics.cases import CASES, LARGE_CASES, make_case

pytestmark = pytest.mark.parity


@pytest.mark.parametrize("name", CASES + LARGE_CASES)
def test_parity_with_pysodmetrics(name):
    pred, gt = make_case(name)
    assert_close(smeasure(pred, gt), pysod(name)["sm"], SUM_ATOL)


@pytest.mark.parametrize("name", ["mixed_96x80", "blob_holes", "smeasure_centroid_tie", "gt_last_column", "hair"])
@pytest.mark.parametrize("compat", ["pysod", "matlab"])
def test_against_slow_reference(name, compat):
    pred, gt = make_case(name)
    p, g = normalized(pred), gt > 128
    for avoid in (False, True):
        ours = smeasure(pred, gt, compat=compat, avoid_nan=avoid)
        ref = smeasure_ref(p, g, matlab=compat == "matlab", skip_empty=avoid)
        if math.isnan(ref):
            assert math.isnan(ours)
        else:
            assert ours == pytest.approx(ref, abs=1e-12)


def test_nan_case_reproduced_and_avoidable():
    pred, gt = make_case("gt_last_column")
    assert math.isnan(pysod("gt_last_column")["sm"])
    assert math.isnan(smeasure(pred, gt))
    v = smeasure(pred, gt, avoid_nan=True)
    assert math.isfinite(v) and 0.0 <= v <= 1.0
    pred, gt = make_case("gt_last_pixel")
    assert math.isnan(smeasure(pred, gt)) and math.isfinite(smeasure(pred, gt, avoid_nan=True))


def test_centroid_tie_matlab_differs():
    pred, gt = make_case("smeasure_centroid_tie")
    s_py, s_ml = smeasure(pred, gt), smeasure(pred, gt, compat="matlab")
    assert s_py == pysod("smeasure_centroid_tie")["sm"]
    assert abs(s_py - s_ml) > 1e-3


def test_alpha_extremes_and_normalize_false():
    pred, gt = make_case("blob_holes")
    p, g = normalized(pred), gt > 128
    assert smeasure(pred, gt, alpha=1.0) == pytest.approx(smeasure_ref(p, g, alpha=1.0), abs=1e-12)
    assert smeasure(pred, gt, alpha=0.0) == pytest.approx(smeasure_ref(p, g, alpha=0.0), abs=1e-12)
    raw = pred / 255.0
    assert smeasure(raw, g, normalize=False) == pytest.approx(smeasure_ref(raw, g), abs=1e-12)


def test_batch_and_torch():
    preds, gts = zip(*(make_case(n) for n in ["tree_1px", "tree_3px"]))
    vb = smeasure(np.stack(preds), np.stack(gts))
    assert vb.shape == (2,)
    assert vb[1] == smeasure(preds[1], gts[1])
    vt = smeasure(torch.from_numpy(np.stack(preds)).float() / 255, torch.from_numpy(np.stack(gts)))
    np.testing.assert_allclose(vt, vb, rtol=0, atol=1e-7)  # float32 rounding of the tensor input


@given(
    pred=arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12))),
    seed=st.integers(0, 2**16),
)
def test_properties(pred, seed):
    gt = np.random.default_rng(seed).random(pred.shape) > 0.5
    s = smeasure(pred, gt, avoid_nan=True)
    assert 0.0 <= s <= 1.0 + 1e-12
    assert s == pytest.approx(smeasure(pred / 255.0, gt, avoid_nan=True), rel=0, abs=1e-12)  # uint8: histogram sums
    perfect = smeasure(gt.astype(np.uint8) * 255, gt, avoid_nan=True)
    assert perfect >= s - 1e-12


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"alpha": 1.5}, ValueError, r"`alpha` must lie in \[0, 1\]; got 1.5"),
        ({"alpha": None}, TypeError, r"`alpha` must be a number in \[0, 1\]; got NoneType"),
        ({"avoid_nan": 1}, TypeError, r"`avoid_nan` must be a bool; got int"),
        ({"normalize": None}, TypeError, r"`normalize` must be a bool; got NoneType"),
        ({"compat": "x"}, ValueError, r"`compat` must be one of \('pysod', 'matlab'\); got 'x'"),
    ],
)
def test_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        smeasure(np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool), **kwargs)
