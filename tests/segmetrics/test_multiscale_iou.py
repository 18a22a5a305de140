"""MSIoU: parity with pysodmetrics 1.6.2 MSIoU (generated + photo cases), float16 compat, GT cache, errors."""

from __future__ import annotations

import warnings

import numpy as np
import py_sod_metrics as psm
import pytest

from segmetrics.multiscale_iou import MSIoUAccumulator, MSIoUGroundTruth, msiou, msiou_ground_truth
from tests.segmetrics.cases import CASES, make_case
from tests.segmetrics.photo_cases import PHOTO_CASES, make_photo_case

# soft maps cost pysodmetrics 257 full evaluations: a few of them, plus binary / few-level maps
_CASES = ["line_1px", "grid", "tree_1px", "empty_gt", "const_pred_128", "two_level_pred",
          "random_noise", "horse_blur", "coins_erode", "camera_erode"]
assert set(_CASES) <= set(CASES) | set(PHOTO_CASES)


def _case(name):
    return make_photo_case(name) if name in PHOTO_CASES else make_case(name)


def _pysod(pairs):
    m = psm.MSIoU(True, True, with_binary=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p, g in pairs:
            m.step(p, g)
        return m.get_results()


@pytest.mark.parametrize("name", _CASES)
def test_image_parity_with_pysod(name):
    pred, gt = _case(name)
    ref = _pysod([(pred, gt)])
    exact_too = msiou_ground_truth(gt).counts.max() < 2048  # then float16 counts are exact
    for compat in ("pysod", "exact") if exact_too else ("pysod",):
        r = msiou(pred, gt, compat=compat)
        np.testing.assert_array_equal(r.curve, ref["dynamic"])
        assert (r.adaptive, r.binary) == (ref["adaptive"], ref["binary"])


def test_float16_counts_of_pysod_and_exact_counts():
    rng = np.random.default_rng(3)
    gt = rng.random((160, 160)) > 0.6  # > 2048 GT edge pixels at the finest scale
    pred = np.where(gt, 255, 0).astype(np.uint8)  # a perfect binary map: 3 distinct thresholds for pysod
    ref = _pysod([(pred, np.where(gt, 255, 0).astype(np.uint8))])
    compat = msiou(pred, gt, compat="pysod")
    np.testing.assert_array_equal(compat.curve, ref["dynamic"])
    assert compat.binary == ref["binary"] < 1.0  # pysod rounds |G_L| + 1 in float16
    assert msiou(pred, gt).binary == 1.0  # a perfect map scores 1 with exact counts


def test_dataset_mean_and_gt_cache():
    pairs = [_case(n) for n in ("tree_1px", "camera_erode", "two_level_pred")]
    ref = _pysod(pairs)
    acc = MSIoUAccumulator()
    for p, g in pairs:
        acc.add(msiou(p, g, gt_cache=msiou_ground_truth(g)))
    r = acc.compute()
    np.testing.assert_array_equal(r.curve, ref["dynamic"])
    np.testing.assert_allclose([r.adaptive, r.binary], [ref["adaptive"], ref["binary"]], rtol=0, atol=1e-12)
    batch = msiou([p for p, _ in pairs], [g for _, g in pairs], gt_cache=[None, msiou_ground_truth(pairs[1][1]), None])
    assert [b.binary for b in batch] == [msiou(p, g).binary for p, g in pairs]


def test_float_input_and_degenerate_maps():
    pred, gt = make_photo_case("horse_blur")
    a, b = msiou(pred, gt), msiou(pred / 255.0, gt)
    np.testing.assert_array_equal(a.curve, b.curve)
    z = np.zeros((9, 7), np.uint8)
    for p, g in ((z, z), (z + 255, z), (z, z + 255), (z + 255, z + 255)):
        r = msiou(p, g)
        assert np.isfinite(r.curve).all() and 0 < r.binary <= 1


def test_errors_name_the_argument():
    pred, gt = make_case(CASES[0])
    with pytest.raises(ValueError, match="`compat` must be one of"):
        msiou(pred, gt, compat="matlab")
    with pytest.raises(ValueError, match="`gt_cache` must have the shape of `gt`"):
        msiou(pred, gt, gt_cache=msiou_ground_truth(gt[:-1]))
    with pytest.raises(TypeError, match="`gt_cache` must be an MSIoUGroundTruth"):
        msiou(pred, gt, gt_cache=gt)
    with pytest.raises(TypeError, match="`normalize` must be a bool"):
        msiou(pred, gt, normalize=1)


def test_a_forged_gt_cache_is_rejected_before_the_kernels_index_it():
    # gt_cache was checked for its shape only: a hand-built MSIoUGroundTruth with a short `occupied` buffer made
    # the numba kernels read past its end (IndexError under NUMBA_BOUNDSCHECK=1, garbage or a crash without),
    # a short `counts` failed with a numpy broadcast error, and counts that disagree with the buffer were trusted.
    gt = np.zeros((64, 64), bool)
    gt[10:40, 10:50] = True
    pred = np.where(gt, 200, 30).astype(np.uint8)
    good = msiou_ground_truth(gt)
    copy = MSIoUGroundTruth((64, 64), good.occupied.copy(), good.counts.copy(), good.digest)
    rebuilt = msiou(pred, gt, gt_cache=copy)
    np.testing.assert_array_equal(rebuilt.curve, msiou(pred, gt).curve)
    bad_counts = good.counts.copy()
    bad_counts[0] += 1
    for occ, cnt, msg in (
        (np.zeros(3, np.uint8), good.counts, r"`gt_cache` must hold a flat uint8 `occupied` buffer of 5464 cells"),
        (good.occupied[::2], good.counts, r"`gt_cache` must hold a flat uint8 `occupied` buffer of 5464 cells"),
        (good.occupied.astype(np.float64), good.counts, r"uint8 `occupied` buffer .*; got float64 of shape \(5464,\)"),
        (good.occupied, good.counts[:3], r"`gt_cache` must hold 10 `counts`, one per level; got shape \(3,\)"),
        (good.occupied, bad_counts, r"`gt_cache` `counts` must be the occupied cells of each level "
                                    r"\[280, 140, 45, 22, 10, 4, 1, 1, 1, 1\]; got \[281, 140"),
        (list(good.occupied), good.counts, r"`gt_cache` must hold numpy arrays .*; got `occupied` list and `counts` "
                                           r"ndarray"),
    ):
        with pytest.raises((TypeError, ValueError), match=msg):
            msiou(pred, gt, gt_cache=MSIoUGroundTruth((64, 64), occ, cnt, good.digest))
    with pytest.raises(ValueError, match=r"`gt_cache` \(item 1\) must hold a flat uint8 `occupied` buffer"):
        short = MSIoUGroundTruth((64, 64), good.occupied[:9], good.counts, good.digest)
        msiou([pred, pred], [gt, gt], gt_cache=[good, short])


def test_a_gt_cache_of_another_ground_truth_of_the_same_shape_is_refused():
    # The cache was checked for shape and buffer consistency only: the cache of another GT of the same size was
    # used silently and gave that GT's MSIoU (a stale result). It now carries a fingerprint of its mask.
    from skimage import data

    coins = data.coins()
    gt_a = coins > 100
    gt_b = coins > 140
    pred = coins
    cache_a = msiou_ground_truth(gt_a)
    np.testing.assert_array_equal(msiou(pred, gt_a, gt_cache=cache_a).curve, msiou(pred, gt_a).curve)  # own GT
    assert msiou(pred, gt_a.astype(np.uint8) * 255, gt_cache=cache_a).curve.shape == (257,)  # same mask, uint8
    with pytest.raises(ValueError, match=r"`gt_cache` was built from another ground truth than `gt` \(its mask "
                                         r"fingerprint differs\)"):
        msiou(pred, gt_b, gt_cache=cache_a)
    with pytest.raises(ValueError, match=r"`gt_cache` \(item 1\) was built from another ground truth"):
        msiou([pred, pred], [gt_a, gt_b], gt_cache=[cache_a, cache_a])
    one_pixel = gt_a.copy()
    one_pixel[0, 0] = not one_pixel[0, 0]
    with pytest.raises(ValueError, match="another ground truth"):
        msiou(pred, one_pixel, gt_cache=cache_a)


def test_accumulator_refuses_a_result_of_another_curve_length_before_counting_it():
    # MSIoUAccumulator.add counted the image, then failed in `_curve += r.curve` with numpy's broadcast error for
    # a result whose curve is not (257,) (e.g. a BoundaryIoUResult-like curve of 256): the state was left corrupt.
    from segmetrics.multiscale_iou import MSIoUResult

    acc = MSIoUAccumulator()
    with pytest.raises(ValueError, match=r"`r.curve` must be a \(257,\) curve; got shape \(256,\)"):
        acc.add(MSIoUResult(np.ones(256), 1.0, 1.0, 1.0, 1.0))
    assert acc.n_images == 0
    acc.add(MSIoUResult(np.ones(257), 1.0, 1.0, 1.0, 1.0))
    assert acc.compute().binary == 1.0
