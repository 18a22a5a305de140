"""The uint8 fast path (per-block level histograms) against the numpy-order kernels and pysodmetrics.

A uint8 prediction is summed from 256-level histograms; a float prediction still goes through the
kernels that replay numpy's pairwise order. Both must agree to rounding, and where a discrete
decision depends on the last bit (adaptive-threshold ties, constant SSIM blocks) the fast path must
hand over to the exact kernels.
"""

import warnings

import numpy as np
import py_sod_metrics as psm
import pytest

from segmetrics import compute_all
from segmetrics._kernels import sod as _k
from segmetrics._sod_core import image_stats
from tests.segmetrics.cases import CASES, make_case

pytestmark = pytest.mark.parity


@pytest.mark.parametrize("name", CASES)
def test_histogram_path_matches_numpy_order_path(name):
    pred, gt = make_case(name)
    g = gt > 128
    fast = image_stats(pred, g, smeasure=True, strict=True)
    exact = image_stats(pred / 255.0, g, smeasure=True, strict=True)  # float input: numpy-order kernels
    np.testing.assert_array_equal(fast.hist_fg, exact.hist_fg)
    np.testing.assert_array_equal(fast.hist_bg, exact.hist_bg)
    assert (fast.tp, fast.fp, fast.n_fg) == (exact.tp, exact.fp, exact.n_fg)
    for a, b in zip(fast.strict, exact.strict):
        np.testing.assert_array_equal(a, b)
    assert fast.thr == pytest.approx(exact.thr, rel=0, abs=1e-15)
    assert fast.mae == pytest.approx(exact.mae, rel=0, abs=1e-15)
    if np.isnan(exact.sm):
        assert np.isnan(fast.sm)
    else:
        assert fast.sm == pytest.approx(exact.sm, rel=0, abs=1e-13)


def _lut_kernel(pred, gt):
    h, w = pred.shape
    g = gt.ravel()
    lo, hi, nfg, sr, sc = _k.scan_stats(np.zeros(1), pred.ravel(), True, g, h, w)
    lut = (np.arange(256) / 255 - lo / 255.0) / (hi / 255.0 - lo / 255.0)
    hist = np.zeros((8, 256), np.int64)
    raw = np.zeros((2, 256), np.int64)
    return _k.lut_image_kernel(pred.ravel(), g, h, w, lut, nfg, sr, sc, True, 0.5, False, False, hist, raw)


def _pysod(pred, gt):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm, em, sm, mae = psm.Fmeasure(), psm.Emeasure(), psm.Smeasure(), psm.MAE()
        for m in (fm, em, sm, mae):
            m.step(pred, gt)
    return fm.get_results()["fm"]["adp"], em.get_results()["em"]["adp"], sm.get_results()["sm"]


def test_threshold_tie_falls_back_and_matches_pysod_exactly():
    # half of the pixels at 255: 2 * mean == 1.0 == the level of those pixels (a `>=` tie)
    pred = np.zeros((8, 10), np.uint8)
    pred[:, 5:] = 255
    gt = np.zeros((8, 10), np.uint8)
    gt[2:6, 3:8] = 255
    assert _lut_kernel(pred, gt > 128)[-1]  # hazard flagged
    r = compute_all(pred, gt)
    adp_f, adp_e, s = _pysod(pred, gt)
    assert (r.fm.adaptive, r.em.adaptive, r.sm) == (adp_f, adp_e, s)


def test_constant_block_with_constant_gt_falls_back_and_matches_pysod_exactly():
    # the lower-right block is all background with a constant non-zero prediction: pysod's SSIM
    # takes its `b == 0` branch or not depending on numpy's rounding of that block's mean
    rng = np.random.default_rng(3)
    pred = rng.integers(0, 256, (40, 50)).astype(np.uint8)
    gt = np.zeros((40, 50), np.uint8)
    gt[2:10, 2:41] = 255  # centroid (row, col) -> (10, 20): the lower-right block holds no GT
    gt[30:39, 2:7] = 255
    pred[10:, 20:] = 77
    assert _lut_kernel(pred, gt > 128)[-1]
    assert compute_all(pred, gt).sm == _pysod(pred, gt)[2]


@pytest.mark.parametrize("threshold", ["official", "pysod"])
def test_hce_binarisation_of_uint8_equals_float(threshold):
    from segmetrics.hce import _binarize

    rng = np.random.default_rng(11)
    for t in range(60):
        p = rng.integers(0, 256, (6, 9)).astype(np.uint8)
        if t % 3 == 0:  # narrow range: min-max stretches it
            p = np.clip(p, 100 + t, 140 + t).astype(np.uint8)
        if t % 5 == 0:  # constant maps, around the official 128
            p[:] = 126 + t % 4
        np.testing.assert_array_equal(_binarize(p, threshold), _binarize(p / 255.0, threshold))
