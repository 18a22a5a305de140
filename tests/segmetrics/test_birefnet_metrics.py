"""MSE, boundary accuracy (mBA) and boundary IoU against golden values of BiRefNet's evaluation code.

The golden file (``data/birefnet_golden.json``) records its provenance: BiRefNet's
``evaluation/metrics.py`` was run from a scratch folder on inputs regenerated here from
``cases.py`` / ``photo_cases.py``; the sha256 of each input is stored, so a change in the input
generators (e.g. another scikit-image resize) is reported instead of a silent mismatch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from segmetrics.boundary_accuracy import boundary_accuracy
from segmetrics.boundary_iou import boundary_iou
from segmetrics.mse import mse
from tests.segmetrics.cases import make_case
from tests.segmetrics.photo_cases import make_photo_case

_GOLDEN = json.loads((Path(__file__).parent / "data" / "birefnet_golden.json").read_text())


def _inputs(case):
    if case["source"] == "case":
        pred, gt = make_case(case["name"])
    else:
        pred, gt = make_photo_case(case["name"], tuple(case["size"]))
    if hashlib.sha256(pred.tobytes()).hexdigest() != case["pred_sha256"]:
        versions = _GOLDEN["provenance"]["versions"]
        pytest.skip(f"input generator changed for {case['name']} (golden made with {versions})")
    assert hashlib.sha256(gt.tobytes()).hexdigest() == case["gt_sha256"]
    return pred, gt


def test_golden_provenance_is_recorded():
    prov = _GOLDEN["provenance"]
    assert prov["repo"].endswith("ZhengPeng7/BiRefNet") and len(prov["commit"]) == 40
    assert {"file", "functions", "date", "how", "versions"} <= set(prov)


@pytest.mark.parametrize("case", _GOLDEN["cases"], ids=lambda c: f"{c['name']}@{c['size'][0]}x{c['size'][1]}")
def test_matches_birefnet(case):
    pred, gt = _inputs(case)
    assert mse(pred, gt) == pytest.approx(case["mse"], abs=1e-12)
    b = boundary_iou(pred, gt)
    np.testing.assert_array_equal(b.curve, np.asarray(case["biou_curve_desc"])[::-1])
    assert (b.max, b.mean) == (case["biou_max"], case["biou_mean"])
    ba = boundary_accuracy(pred, gt)
    if np.isnan(case["mba"]):  # BiRefNet: 0/0 when the GT has no boundary; ours scores the empty band 1
        assert ba == 1.0
    else:
        assert ba == case["mba"]


def test_float_and_batch_inputs_agree_with_uint8():
    pred, gt = make_photo_case("coins_blur")
    assert mse(pred / 255.0, gt) == pytest.approx(mse(pred, gt), abs=1e-15)
    np.testing.assert_array_equal(boundary_iou(pred / 255.0, gt).curve, boundary_iou(pred, gt).curve)
    assert boundary_accuracy(pred / 255.0, gt) == boundary_accuracy(pred, gt)
    batch = boundary_accuracy(np.stack([pred, pred]), np.stack([gt, gt]))
    assert batch.shape == (2,) and batch[0] == boundary_accuracy(pred, gt)


def test_degenerate_inputs_are_finite():
    z = np.zeros((12, 9), np.uint8)
    for p, g in ((z, z), (z + 255, z), (z, z + 255), (z + 255, z + 255)):
        assert np.isfinite([mse(p, g), boundary_accuracy(p, g), boundary_iou(p, g).max]).all()


def test_errors_name_the_argument():
    pred, gt = make_case("blob_holes")
    with pytest.raises(ValueError, match="`pred` and `gt` must have the same shape"):
        boundary_iou(pred[1:], gt)
    with pytest.raises(TypeError, match="`normalize` must be a bool"):
        mse(pred, gt, normalize="yes")
    with pytest.raises(TypeError, match="`pred` must be uint8"):
        boundary_accuracy(pred.astype(np.int32), gt)
