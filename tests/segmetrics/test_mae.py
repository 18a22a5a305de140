import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmetrics import mae
from tests.segmetrics._pysod import SUM_ATOL, assert_close, pysod
from tests.segmetrics.cases import CASES, LARGE_CASES, make_case

pytestmark = pytest.mark.parity


@pytest.mark.parametrize("name", CASES + LARGE_CASES)
def test_parity_with_pysodmetrics(name):
    pred, gt = make_case(name)
    assert_close(mae(pred, gt), pysod(name)["mae"], SUM_ATOL)


def test_normalize_false_and_linearity():
    g = np.zeros((5, 7), bool)
    g[1:3] = True
    x = np.full((5, 7), 0.25)
    # no min-max on a float map used as given: |0.25 - G| averaged
    assert mae(x, g, normalize=False) == pytest.approx((14 * 0.75 + 21 * 0.25) / 35)
    # a constant map is left unchanged by min-max too
    assert mae(x, g) == mae(x, g, normalize=False)


def test_batch_torch_and_list():
    preds, gts = zip(*(make_case(n) for n in ["line_1px", "hair", "size_17x23"]))
    v = mae(list(preds), list(gts))
    assert v.shape == (3,) and all(v[i] == mae(preds[i], gts[i]) for i in range(3))
    assert mae(torch.from_numpy(preds[1]), torch.from_numpy(gts[1])) == v[1]


@given(
    pred=arrays(np.uint8, st.tuples(st.integers(1, 10), st.integers(1, 10))),
    seed=st.integers(0, 2**16),
)
def test_properties(pred, seed):
    gt = np.random.default_rng(seed).random(pred.shape) > 0.5
    v = mae(pred, gt)
    assert 0.0 <= v <= 1.0
    assert v == pytest.approx(mae(pred / 255.0, gt), rel=0, abs=1e-12)  # uint8: histogram sums
    assert mae(gt, gt) == 0.0
    # complement symmetry: MAE(1 - P, 1 - G) == MAE(P, G) without normalisation
    p = pred / 255.0
    assert mae(1.0 - p, ~gt, normalize=False) == pytest.approx(mae(p, gt, normalize=False), abs=1e-15)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"`pred` and `gt` must both be single \(H, W\) maps or both batches"):
        mae(np.zeros((2, 4, 4)), np.zeros((4, 4), bool))
    with pytest.raises(TypeError, match=r"`pred` must be a numpy array or torch tensor; got str"):
        mae("pred.png", np.zeros((4, 4), bool))
    with pytest.raises(TypeError, match=r"`normalize` must be a bool; got str"):
        mae(np.zeros((4, 4)), np.zeros((4, 4), bool), normalize="no")
