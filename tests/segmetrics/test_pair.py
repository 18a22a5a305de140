"""segmetrics.app.pair: settings identity, CSV columns from the metric table, one record per pair."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segmetrics import compute_all
from segmetrics.app.pair import EvalSettings, PairResult, compute_pair, evaluate_pair, metric_columns
from segmetrics.registry import FAMILIES, OPTIONS, MetricOptions, scalar_keys
from tests.segmetrics.cases import make_case


def test_identity_round_trip_and_columns():
    s = EvalSettings(metrics=("mae", "bf", "fm"), options=MetricOptions.make(("mae", "bf", "fm"), bf_tolerances=(4, 2)),
                     resize="pred-to-gt", color="first", skeleton_cache="somewhere")
    ident = s.identity()
    assert ident["metrics"] == ["mae", "bf", "fm"] and ident["bf_tolerances"] == [2, 4]
    assert set(OPTIONS) <= set(ident) and "skeleton_cache" not in ident
    back = EvalSettings.from_identity(ident)
    assert back.identity() == ident and back.options == s.options
    assert metric_columns(s) == ["mae", "bf.f2", "bf.p2", "bf.r2", "bf.f4", "bf.p4", "bf.r4",
                                 "fm.adp", "fm.mean", "fm.max"]
    assert EvalSettings.from_identity({"metrics": ["sm"]}).options == MetricOptions.make(("sm",))


def test_compute_pair_equals_compute_all_for_every_family():
    pred, gt = make_case("mixed_96x80")
    keys = tuple(k for k in FAMILIES if "image" not in FAMILIES[k].needs_for(MetricOptions.default()))  # no RGB
    s = EvalSettings(metrics=keys, options=MetricOptions.make(keys))
    out = PairResult("x")
    compute_pair(pred, gt, s, out)
    ref = compute_all(pred, gt, metrics=keys)
    assert list(out.scalars) == scalar_keys(keys)
    np.testing.assert_equal(out.scalars, {k: float(v) for k, v in ref.scalars().items()})
    for k, c in ref.curves().items():
        np.testing.assert_array_equal(out.curves[k], c)


def test_evaluate_pair_turns_failures_into_error_records(tmp_path):
    pred, gt = make_case("mixed_96x80")
    cv2.imwrite(str(tmp_path / "p.png"), pred)
    cv2.imwrite(str(tmp_path / "g.png"), np.where(gt > 128, 255, 0).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "small.png"), pred[:10, :10])
    s = EvalSettings(metrics=("mae",), options=MetricOptions.make(("mae",)))
    ok = evaluate_pair("a", tmp_path / "p.png", tmp_path / "g.png", s)
    assert ok.status == "ok" and (ok.height, ok.width) == gt.shape and set(ok.inputs) == {"pred", "gt"}
    bad = evaluate_pair("b", tmp_path / "small.png", tmp_path / "g.png", s)
    assert bad.status == "error" and "size mismatch: pred 10x10" in bad.error and bad.scalars == {}
    missing = evaluate_pair("c", tmp_path / "nope.png", tmp_path / "g.png", s)
    assert missing.status == "error" and "the prediction" in missing.error and "nope.png" in missing.error


def test_a_nan_s_measure_is_kept_other_non_finite_values_are_refused():
    pred, gt = make_case("gt_last_column")  # the reference's NaN S-measure (an empty block)
    s = EvalSettings(metrics=("sm", "mae"), options=MetricOptions.make(("sm", "mae")))
    out = PairResult("x")
    compute_pair(pred, gt, s, out)
    assert np.isnan(out.scalars["sm"]) and np.isfinite(out.scalars["mae"])
    out = PairResult("y", scalars={"wfm": float("inf")})  # e.g. a family that overflowed
    with pytest.raises(FloatingPointError, match=r"metric wfm is not finite \(inf\)"):
        compute_pair(pred, gt, s, out)


def test_a_prediction_turned_by_90_degrees_is_named_as_such(tmp_path):
    # A prediction saved from an EXIF-rotated photo (the model read it with the orientation applied, segmetrics
    # reads files as stored) has the GT's size turned by 90 degrees: the error now says so, and that
    # --resize pred-to-gt would only stretch it.
    from skimage import data as skdata

    gt = np.where(skdata.horse(), 0, 255).astype(np.uint8)[::4, ::4]
    cv2.imwrite(str(tmp_path / "g.png"), gt)
    cv2.imwrite(str(tmp_path / "p.png"), np.ascontiguousarray(gt.T))
    s = EvalSettings(metrics=("mae",), options=MetricOptions.make(("mae",)))
    bad = evaluate_pair("b", tmp_path / "p.png", tmp_path / "g.png", s)
    h, w = gt.shape
    assert f"size mismatch: pred {h}x{w} vs gt {w}x{h} (W x H)" in bad.error
    assert "turned by 90 degrees" in bad.error and "EXIF orientation" in bad.error
    # --resize pred-to-gt stretched it silently to the GT's size (a score of a distorted map): refused as well
    stretch = EvalSettings(metrics=("mae",), options=MetricOptions.make(("mae",)), resize="pred-to-gt")
    assert "turned by 90 degrees" in evaluate_pair("b", tmp_path / "p.png", tmp_path / "g.png", stretch).error
    cv2.imwrite(str(tmp_path / "small.png"), cv2.resize(gt, (w // 2, h // 2)))  # another size: still resized
    assert not evaluate_pair("s", tmp_path / "small.png", tmp_path / "g.png", stretch).error
