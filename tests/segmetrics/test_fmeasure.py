import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmetrics import FMeasureResult, fmeasure
from tests.segmetrics._pysod import assert_close, pysod
from tests.segmetrics.cases import CASES, LARGE_CASES, make_case

pytestmark = pytest.mark.parity


@pytest.mark.parametrize("name", CASES + LARGE_CASES)
def test_parity_with_pysodmetrics(name):
    pred, gt = make_case(name)
    r = fmeasure(pred, gt)
    ref = pysod(name)
    assert_close(r.curve, ref["fm"]["curve"][::-1])
    assert_close(r.precision, ref["pr"]["p"][::-1])
    assert_close(r.recall, ref["pr"]["r"][::-1])
    assert_close(r.adaptive, ref["fm"]["adp"])
    assert_close(r.max, ref["fm"]["curve"].max())
    assert_close(r.mean, ref["fm"]["curve"].mean())
    np.testing.assert_array_equal(r.thresholds, np.arange(256))


def test_result_fields_and_dict():
    pred, gt = make_case("blob_holes")
    r = fmeasure(pred, gt)
    assert isinstance(r, FMeasureResult) and isinstance(r.adaptive, float)
    d = r.to_dict()
    assert set(d) == {"adaptive", "mean", "max", "curve", "precision", "recall", "thresholds"}
    with pytest.raises(AttributeError):
        r.adaptive = 0.0  # frozen


def test_beta_sq_changes_weighting():
    pred, gt = make_case("mixed_96x80")
    r1 = fmeasure(pred, gt, beta_sq=1.0)
    p, rc = r1.precision, r1.recall
    f1 = np.where(p * rc == 0, 0, 2 * p * rc / np.where(p + rc == 0, 1, p + rc))
    np.testing.assert_allclose(r1.curve, f1, rtol=0, atol=1e-15)


def test_normalize_false_uses_map_as_given():
    gt = np.zeros((10, 10), bool)
    gt[2:6, 2:6] = True
    pred = np.where(gt, 0.4, 0.1)
    r = fmeasure(pred, gt, normalize=False)
    # q = trunc(255 * 0.4) = 102: levels above 102 select nothing
    assert r.curve[103] == 0 and r.curve[102] == pytest.approx(1.0)
    r_norm = fmeasure(pred, gt)
    assert r_norm.curve[255] == pytest.approx(1.0)


def test_batch_list_and_torch():
    names = ["line_2px", "tree_1px", "tree_3px"]
    preds, gts = zip(*(make_case(n) for n in names))
    rb = fmeasure(np.stack(preds[1:]), np.stack(gts[1:]))
    assert rb.curve.shape == (2, 256) and rb.adaptive.shape == (2,)
    rl = fmeasure(list(preds), list(gts))
    for i, (p, g) in enumerate(zip(preds, gts)):
        ri = fmeasure(p, g)
        np.testing.assert_array_equal(rl.curve[i], ri.curve)
        assert rl.max[i] == ri.max and rl.adaptive[i] == ri.adaptive
    np.testing.assert_array_equal(rb.curve[0], rl.curve[1])
    rt = fmeasure(torch.from_numpy(preds[0]), torch.from_numpy(gts[0]))
    np.testing.assert_array_equal(rt.curve, rl.curve[0])


@given(
    pred=arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12))),
    seed=st.integers(0, 2**16),
)
def test_properties(pred, seed):
    gt = np.random.default_rng(seed).random(pred.shape) > 0.5
    r = fmeasure(pred, gt)
    for v in (r.adaptive, r.mean, r.max):
        assert 0.0 <= v <= 1.0
    assert np.all((r.curve >= 0) & (r.curve <= 1))
    # uint8 and float (u8 / 255) inputs are the same prediction
    rf = fmeasure(pred / 255.0, gt)
    np.testing.assert_array_equal(r.curve, rf.curve)
    assert r.adaptive == rf.adaptive
    if gt.any():
        perfect = fmeasure(gt.astype(np.uint8) * 255, gt)
        assert perfect.max == pytest.approx(1.0) and perfect.max >= r.max


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"beta_sq": 0.0}, ValueError, r"`beta_sq` must be finite and > 0; got 0.0"),
        ({"beta_sq": "0.3"}, TypeError, r"`beta_sq` must be a number; got str"),
        ({"normalize": "yes"}, TypeError, r"`normalize` must be a bool; got str"),
    ],
)
def test_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        fmeasure(np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool), **kwargs)


@pytest.mark.parametrize(
    ("pred", "gt", "exc", "match"),
    [
        (np.zeros((4, 4)), np.zeros((4, 5), bool), ValueError, r"same shape; got pred \(4, 4\) and gt \(4, 5\)"),
        (np.zeros((2, 3, 4, 4), np.uint8), np.zeros((2, 3, 4, 4), bool), ValueError, r"one channel.*got shape"),
        (np.full((4, 4), np.inf), np.zeros((4, 4), bool), ValueError, r"`pred` must be finite"),
        (np.full((4, 4), -0.5), np.zeros((4, 4), bool), ValueError, r"`pred` of floating dtype must lie in \[0, 1\]"),
        (np.zeros((4, 4), np.int16), np.zeros((4, 4), bool), TypeError, r"`pred` must be uint8.*got dtype int16"),
        (np.zeros((4, 0)), np.zeros((4, 0), bool), ValueError, r"`pred` must not be empty"),
        (np.zeros((4, 4)), np.zeros((4, 4), np.complex64), TypeError, r"`gt` must be bool.*complex64"),
        ([np.zeros((4, 4))], [np.zeros((4, 4), bool)] * 2, ValueError, r"same number of maps; got 1 and 2"),
    ],
)
def test_bad_inputs(pred, gt, exc, match):
    with pytest.raises(exc, match=match):
        fmeasure(pred, gt)
