import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmetrics import (
    ImageMetrics,
    boundary_fscore,
    compute_all,
    emeasure,
    fmeasure,
    hce,
    mae,
    region_overlap,
    smeasure,
    weighted_fmeasure,
)
from segmetrics.skeleton import skeletonize
from tests.segmetrics._pysod import assert_close, pysod
from tests.segmetrics.cases import CASES, make_case
from tests.segmetrics.photo_cases import make_photo_case, photo_rgb


@pytest.mark.parametrize("name", CASES)
def test_equals_single_metric_functions(name):
    pred, gt = make_case(name)
    r = compute_all(pred, gt)
    assert isinstance(r, ImageMetrics)
    f, e = fmeasure(pred, gt), emeasure(pred, gt)
    np.testing.assert_array_equal(r.fm.curve, f.curve)
    np.testing.assert_array_equal(r.fm.precision, f.precision)
    assert (r.fm.adaptive, r.fm.mean, r.fm.max) == (f.adaptive, f.mean, f.max)
    np.testing.assert_array_equal(r.em.curve, e.curve)
    assert (r.em.adaptive, r.em.mean, r.em.max) == (e.adaptive, e.mean, e.max)
    np.testing.assert_equal(r.sm, smeasure(pred, gt))
    assert r.mae == mae(pred, gt)
    assert r.wfm == weighted_fmeasure(pred, gt)
    assert r.hce == hce(pred, gt)
    assert r.hce.total == r.hce.fp_points + r.hce.fp_regions + r.hce.fn_points + r.hce.fn_regions


@pytest.mark.parity
@pytest.mark.parametrize("name", ["mixed_96x80", "gt_last_column", "const_pred_128", "two_level_pred"])
def test_parity_with_pysodmetrics(name):
    pred, gt = make_case(name)
    r = compute_all(pred, gt, metrics=("fm", "em", "sm", "mae"))
    ref = pysod(name)
    assert_close(r.fm.curve, ref["fm"]["curve"][::-1])
    assert_close(r.em.curve, ref["em"]["curve"][::-1])
    assert_close([r.fm.adaptive, r.em.adaptive, r.sm, r.mae], [ref["fm"]["adp"], ref["em"]["adp"], ref["sm"],
                                                              ref["mae"]])


def test_options_are_forwarded():
    pred, gt = make_case("smeasure_centroid_tie")
    r = compute_all(pred, gt, metrics=["sm", "em", "fm", "hce", "wfm"], sm_compat="matlab", em_compat="matlab",
                    beta_sq=1.0, wfm_beta=2.0, hce_threshold="pysod", hce_gamma=2)
    assert r.mae is None
    assert r.sm == smeasure(pred, gt, compat="matlab")
    assert r.em.adaptive == emeasure(pred, gt, compat="matlab").adaptive
    np.testing.assert_array_equal(r.fm.curve, fmeasure(pred, gt, beta_sq=1.0).curve)
    assert r.wfm == weighted_fmeasure(pred, gt, beta=2.0)
    assert r.hce == hce(pred, gt, gamma=2, threshold="pysod")
    row = r.scalars()
    assert {"fm.adp", "em.max", "sm", "wfm", "hce", "hce.fn_regions"} <= set(row) and "mae" not in row


def test_skeleton_batch_and_torch():
    names = ["tree_1px", "tree_3px"]
    preds, gts = (np.stack(x) for x in zip(*(make_case(n) for n in names)))
    skel = np.stack([skeletonize(g > 128) for g in gts])
    rb = compute_all(torch.from_numpy(preds), torch.from_numpy(gts), hce_skeleton=skel)
    assert isinstance(rb, list) and len(rb) == 2
    for i in range(2):
        ri = compute_all(preds[i], gts[i])
        assert ri.hce == rb[i].hce and ri.sm == rb[i].sm and ri.wfm == rb[i].wfm
        np.testing.assert_array_equal(ri.fm.curve, rb[i].fm.curve)


def test_skeleton_count_mismatch():
    with pytest.raises(ValueError, match=r"`hce_skeleton` must hold 2 maps, one per image; got 3"):
        compute_all(np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 4), bool), hce_skeleton=[np.zeros((4, 4))] * 3)


def test_normalize_false():
    pred, gt = make_case("low_contrast")
    p = pred / 255.0
    r = compute_all(p, gt, metrics=("fm", "em", "sm", "mae", "wfm"), normalize=False)
    assert r.mae == mae(p, gt, normalize=False)
    assert r.sm == smeasure(p, gt, normalize=False)
    assert r.wfm == weighted_fmeasure(p, gt, normalize=False)
    np.testing.assert_array_equal(r.em.curve, emeasure(p, gt, normalize=False).curve)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"metrics": ("fm", "xyz")}, ValueError, r"`metrics` must be one of \('fm', 'wfm', 'mae', .*\); got 'xyz'"),
        ({"metrics": ()}, ValueError, r"`metrics` must name at least one"),
        ({"metrics": 3}, TypeError, r"`metrics` must be a sequence of metric names; got int"),
        ({"em_compat": "x"}, ValueError, r"`em_compat` must be one of"),
        ({"sm_compat": "x"}, ValueError, r"`sm_compat` must be one of"),
        ({"wfm_beta": -1}, ValueError, r"`wfm_beta` must be finite and > 0"),
        ({"alpha": 2}, ValueError, r"`alpha` must lie in \[0, 1\]"),
        ({"normalize": 0}, TypeError, r"`normalize` must be a bool; got int"),
        ({"hce_gamma": -1}, ValueError, r"`hce_gamma` must be an integer >= 0; got -1"),
        ({"hce_threshold": "x"}, ValueError, r"`hce_threshold` must be one of \('official', 'pysod'\); got 'x'"),
        ({"hce_skeleton": [np.zeros((4, 4), bool)] * 2}, ValueError, r"`hce_skeleton` must be a 2-D \(H, W\) map"),
    ],
)
def test_bad_options(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        compute_all(np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool), **kwargs)


@pytest.mark.parametrize("metrics", [("mae",), ("sm", "mae"), ("sm",), ("fm", "mae"), ("em", "sm")])
def test_metric_subsets_share_passes_correctly(metrics):
    for name in ("mixed_96x80", "empty_gt", "gt_last_column"):
        pred, gt = make_case(name)
        r = compute_all(pred, gt, metrics=metrics)
        full = compute_all(pred, gt, metrics=("fm", "em", "sm", "mae"))
        for key in ("sm", "mae"):
            if key in metrics:
                np.testing.assert_equal(getattr(r, key), getattr(full, key))
            else:
                assert getattr(r, key) is None
        if "fm" in metrics:
            np.testing.assert_array_equal(r.fm.curve, full.fm.curve)
        if "em" in metrics:
            assert r.em.adaptive == full.em.adaptive


@given(
    preds=arrays(np.uint8, st.tuples(st.just(2), st.integers(1, 10), st.integers(1, 10))),
    seed=st.integers(0, 2**16),
)
def test_batch_single_and_torch_property(preds, seed):
    gts = np.random.default_rng(seed).random(preds.shape) > 0.6
    metrics = ("fm", "em", "sm", "mae")
    batch = compute_all(preds, gts, metrics=metrics, avoid_nan=True)
    via_torch = compute_all(torch.from_numpy(preds), torch.from_numpy(gts), metrics=metrics, avoid_nan=True)
    for i in range(2):
        single = compute_all(preds[i], gts[i], metrics=metrics, avoid_nan=True)
        for r in (batch[i], via_torch[i]):
            np.testing.assert_array_equal(r.fm.curve, single.fm.curve)
            np.testing.assert_array_equal(r.em.curve, single.em.curve)
            assert (r.fm.adaptive, r.em.adaptive, r.sm, r.mae) == (
                single.fm.adaptive, single.em.adaptive, single.sm, single.mae)
        assert 0.0 <= single.sm <= 1.0 and 0.0 <= single.mae <= 1.0


def _run_without_jit(code, *args):
    """Run ``code`` (which prints one JSON line last) in a fresh interpreter with ``SEGMETRICS_DISABLE_JIT=1``."""
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, SEGMETRICS_DISABLE_JIT="1", PYTHONPATH=root)
    res = subprocess.run([sys.executable, "-c", code, *args], cwd=root, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_pure_python_mode_matches_jit():
    """``SEGMETRICS_DISABLE_JIT=1`` runs the same kernels as plain Python with identical results."""
    code = (
        "import json, warnings; warnings.simplefilter('ignore'); import segmetrics as sm\n"
        "from tests.segmetrics.cases import make_case\n"
        "out = []\n"
        "for n in ('size_17x23', 'smeasure_centroid_tie'):\n"
        "    r = sm.compute_all(*make_case(n), metrics=('fm', 'em', 'sm', 'mae'), em_compat='matlab')\n"
        "    out.append([r.fm.max, r.fm.adaptive, r.em.mean, r.em.adaptive, r.sm, r.mae])\n"
        "print(json.dumps(out))\n"
    )
    pure = _run_without_jit(code)
    for n, vals in zip(("size_17x23", "smeasure_centroid_tie"), pure):
        r = compute_all(*make_case(n), metrics=("fm", "em", "sm", "mae"), em_compat="matlab")
        assert vals == [r.fm.max, r.fm.adaptive, r.em.mean, r.em.adaptive, r.sm, r.mae]


def _assert_overlap_equal(r, pred, gt, **kw):
    thr = kw.get("threshold", 0.5)
    ro = region_overlap(pred, gt, threshold=thr, normalize=kw.get("normalize", True))
    assert (r.iou.iou, r.iou.adaptive_iou, r.dice.dice, r.dice.adaptive_dice) == (
        ro.iou, ro.adaptive_iou, ro.dice, ro.adaptive_dice)
    np.testing.assert_array_equal(r.iou.iou_curve, ro.iou_curve)
    np.testing.assert_array_equal(r.dice.dice_curve, ro.dice_curve)
    bf = boundary_fscore(pred, gt, threshold=thr, normalize=kw.get("normalize", True),
                         tolerances=kw.get("bf_tolerances", (1, 3, 5)))
    np.testing.assert_array_equal(r.bf.fscore, bf.fscore)
    np.testing.assert_array_equal(r.bf.precision, bf.precision)
    np.testing.assert_array_equal(r.bf.recall, bf.recall)


@pytest.mark.parametrize("name", CASES)
def test_overlap_and_boundary_from_the_shared_histograms_equal_their_functions(name):
    """IoU / Dice take the fused pass' histograms and adaptive counts: bit-identical to region_overlap."""
    pred, gt = make_case(name)
    _assert_overlap_equal(compute_all(pred, gt, metrics=("iou", "dice", "bf")), pred, gt)
    p = pred / 255.0  # float input: the numpy-order kernels
    _assert_overlap_equal(compute_all(p, gt, metrics=("iou", "dice", "bf", "fm")), p, gt)


@pytest.mark.parametrize("kw", [{"threshold": 0.0}, {"threshold": 0.3, "normalize": False},
                                {"threshold": 0.7, "bf_tolerances": (0, 2)}])
def test_overlap_options_and_real_photographs(kw):
    from skimage import data as skdata

    gt = skdata.coins() > 120
    pred = np.clip(skdata.camera()[: gt.shape[0], : gt.shape[1]].astype(np.float64) / 255 * 0.6
                   + gt * 0.4, 0, 1)
    for p in (pred, np.round(pred * 255).astype(np.uint8)):
        _assert_overlap_equal(compute_all(p, gt, metrics=("iou", "dice", "bf"), **kw), p, gt, **kw)


def test_image_metrics_attributes_repr_and_pickle():
    import pickle

    pred, gt = make_case("mixed_96x80")
    r = compute_all(pred, gt, metrics=("mae", "iou"))
    assert r.fm is None and r.bf is None and r.iou.iou == region_overlap(pred, gt).iou
    with pytest.raises(AttributeError, match="no attribute 'nope' \\(not a metric family\\)"):
        _ = r.nope
    assert repr(r).startswith("ImageMetrics(metrics=('mae', 'iou'), scalars={'mae': ")
    back = pickle.loads(pickle.dumps(r))
    assert back.scalars() == r.scalars() and back.options == r.options


def test_unknown_option_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match=r"unexpected metric option\(s\) \['gamma'\]; expected some of \("):
        compute_all(np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool), gamma=3)


def test_pure_python_mode_matches_jit_for_every_family():
    """Every family of the metric table, JIT off vs on, on a real photo (48 x 64: counts above 255).

    Without the JIT, MSIoU's GT cell count summed uint8 values into a NumPy uint8 scalar that wrapped past
    255 (numba types the running sum as int64), so msiou differed from the compiled result.
    """
    from segmetrics.registry import FAMILIES

    code = (
        "import json, sys, warnings; warnings.simplefilter('ignore'); import segmetrics as sm\n"
        "from tests.segmetrics.photo_cases import make_photo_case, photo_rgb\n"
        "p, g = make_photo_case('coins_shift', (48, 64))\n"
        "r = sm.compute_all(p, g, metrics=tuple(sys.argv[1:]), image=photo_rgb('coins', (48, 64)), si_min_area=5)\n"
        "print(json.dumps({k: float(v) for k, v in r.scalars().items()}))\n"
    )
    pure = _run_without_jit(code, *FAMILIES)
    p, g = make_photo_case("coins_shift", (48, 64))
    r = compute_all(p, g, metrics=tuple(FAMILIES), image=photo_rgb("coins", (48, 64)), si_min_area=5)
    want = {k: float(v) for k, v in r.scalars().items()}
    assert set(pure) == set(want)
    assert {k: v for k, v in pure.items() if v != pytest.approx(want[k], rel=1e-12, abs=1e-12)} == {}
