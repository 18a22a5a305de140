"""Context measure and camouflage context measure: parity with pysodmetrics 1.6.2, errors, degenerate maps."""

from __future__ import annotations

import warnings

import numpy as np
import py_sod_metrics as psm
import pytest

from segmetrics.context_measure import camouflage_context_measure, camouflage_degree, context_measure
from tests.segmetrics.cases import CASES, make_case
from tests.segmetrics.photo_cases import PHOTO_CASES, make_photo_case, photo_rgb

_CASES = [*CASES[::5], *PHOTO_CASES[::2]]


def _case(name):
    return make_photo_case(name) if name in PHOTO_CASES else make_case(name)


@pytest.mark.parametrize("name", _CASES)
def test_context_measure_matches_pysod(name):
    pred, gt = _case(name)
    m = psm.ContextMeasure()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.step(pred, gt)
    ref = m.get_results()["cm"]
    assert context_measure(pred, gt) == pytest.approx(ref, abs=1e-12, nan_ok=True)


@pytest.mark.parametrize("name", PHOTO_CASES[::3])
def test_camouflage_context_measure_matches_pysod(name):
    pred, gt = make_photo_case(name)
    img = photo_rgb(name.rsplit("_", 1)[0])
    m = psm.CamouflageContextMeasure()
    m.step(pred, gt, img=img)
    assert camouflage_context_measure(pred, gt, img) == pytest.approx(m.get_results()["ccm"], abs=1e-12)


def test_batch_float_and_degenerate_inputs():
    pred, gt = make_photo_case("horse_blur")
    assert context_measure(pred / 255.0, gt) == pytest.approx(context_measure(pred, gt), abs=1e-15)
    both = context_measure(np.stack([pred, pred]), np.stack([gt, gt]))
    assert both.shape == (2,) and both[0] == context_measure(pred, gt)
    z = np.zeros((16, 16), np.uint8)
    for p, g in ((z, z), (z + 255, z), (z, z + 255), (z + 255, z + 255)):
        assert np.isfinite(context_measure(p, g))
    img = np.zeros((16, 16, 3), np.uint8)
    assert not camouflage_degree(img, np.zeros((16, 16), bool)).any()  # no object: no camouflage


def test_errors_name_the_argument():
    pred, gt = make_photo_case("coins_blur")
    img = photo_rgb("coins")
    with pytest.raises(ValueError, match="`image` must be a uint8 \\(H, W, 3\\) RGB image; got array of shape"):
        camouflage_context_measure(pred, gt, img[..., 0])
    with pytest.raises(ValueError, match="`image` must have the shape of `gt`"):
        camouflage_context_measure(pred, gt, img[1:])
    with pytest.raises(ValueError, match="`alpha` must be finite and > 0"):
        context_measure(pred, gt, alpha=0)
    with pytest.raises(ValueError, match="`image` must hold 2 images"):
        camouflage_context_measure(np.stack([pred, pred]), np.stack([gt, gt]), [img])


def test_images_smaller_than_a_patch_have_no_camouflage():
    rng = np.random.default_rng(5)
    for shape in ((1, 1), (3, 9), (6, 6)):
        gt = rng.random(shape) < 0.5
        img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        assert not camouflage_degree(img, gt).any()
        assert np.isfinite(camouflage_context_measure(np.where(gt, 255, 0).astype(np.uint8), gt, img))
