"""IoU / Dice and boundary F-score: parity with pysodmetrics and with slow float64 references."""

from __future__ import annotations

import numpy as np
import py_sod_metrics as pysod
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmetrics.boundary_fscore import boundary_fscore, mask_boundary
from segmetrics.region_overlap import dice, iou, region_overlap


def _pair(seed: int, h: int, w: int, levels: int = 256) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    gt = ((yy - h / 2) ** 2 / (h / 3) ** 2 + (xx - w / 2) ** 2 / (w / 3) ** 2) < 1
    noise = rng.normal(0, 0.35, (h, w))
    pred = np.clip(gt * 0.8 + 0.1 + noise, 0, 1)
    pred = np.round(pred * (levels - 1)) / (levels - 1)
    return (pred * 255).astype(np.uint8), np.where(gt, 255, 0).astype(np.uint8)


CASES = [(0, 17, 23, 256), (1, 1, 30, 256), (2, 32, 32, 4), (3, 8, 8, 2), (4, 40, 25, 256)]


@pytest.mark.parity
@pytest.mark.parametrize(("seed", "h", "w", "levels"), CASES)
def test_region_overlap_matches_pysod_fmeasurev2(seed, h, w, levels):
    pred, gt = _pair(seed, h, w, levels)
    fm = pysod.FmeasureV2(
        metric_handlers={
            "iou": pysod.IOUHandler(with_dynamic=True, with_adaptive=True, with_binary=True),
            "dice": pysod.DICEHandler(with_dynamic=True, with_adaptive=True, with_binary=True),
        }
    )
    fm.step(pred, gt)
    ref = fm.get_results()
    r = region_overlap(pred, gt)
    assert r.iou == ref["iou"]["binary"]
    assert r.dice == ref["dice"]["binary"]
    assert r.adaptive_iou == ref["iou"]["adaptive"]
    assert r.adaptive_dice == ref["dice"]["adaptive"]
    np.testing.assert_array_equal(r.iou_curve[::-1], ref["iou"]["dynamic"])
    np.testing.assert_array_equal(r.dice_curve[::-1], ref["dice"]["dynamic"])


@pytest.mark.parity
@pytest.mark.parametrize("case", ["empty_gt", "full_gt", "constant_pred", "pred_128"])
def test_region_overlap_degenerate_matches_pysod(case):
    pred, gt = _pair(7, 12, 9)
    if case == "empty_gt":
        gt[:] = 0
    elif case == "full_gt":
        gt[:] = 255
    elif case == "constant_pred":
        pred[:] = 77
    else:
        pred[:] = 128
    fm = pysod.FmeasureV2(metric_handlers={"iou": pysod.IOUHandler(True, True, with_binary=True)})
    fm.step(pred, gt)
    ref = fm.get_results()["iou"]
    r = region_overlap(pred, gt)
    assert r.iou == ref["binary"] and r.adaptive_iou == ref["adaptive"]
    np.testing.assert_array_equal(r.iou_curve[::-1], ref["dynamic"])
    assert np.isfinite(r.iou_curve).all()


def test_iou_dice_batch_and_zero_division():
    pred, gt = _pair(5, 10, 12)
    batch = iou(np.stack([pred, pred]), np.stack([gt, gt]))
    assert batch.shape == (2,) and batch[0] == batch[1] == iou(pred, gt)
    empty = np.zeros((4, 4), np.uint8)
    assert iou(empty, empty) == 0.0 and dice(empty, empty) == 0.0
    assert iou(empty, empty, zero_division=1.0) == 1.0
    # Dice = 2 IoU / (1 + IoU) for the same binarisation.
    i, d = iou(pred, gt), dice(pred, gt)
    assert d == pytest.approx(2 * i / (1 + i), abs=1e-12)


def test_region_overlap_bad_input():
    pred, gt = _pair(1, 5, 5)
    with pytest.raises(ValueError, match="`threshold` must lie in"):
        region_overlap(pred, gt, threshold=1.0)
    with pytest.raises(ValueError, match="`zero_division` must be"):
        region_overlap(pred, gt, zero_division=0.5)
    with pytest.raises(ValueError, match="same shape"):
        region_overlap(pred, gt[:4])
    with pytest.raises(TypeError, match="dtype int32"):
        region_overlap(pred.astype(np.int32), gt)


# ------------------------------------------------------------------------------- boundary F-score


def _slow_boundary(mask: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    out = np.zeros_like(mask)
    for i in range(h):
        for j in range(w):
            if mask[i, j]:
                for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                    ii, jj = i + di, j + dj
                    if 0 <= ii < h and 0 <= jj < w and not mask[ii, jj]:
                        out[i, j] = True
    return out


def _slow_bf(pred_bin: np.ndarray, gt: np.ndarray, tol: int) -> tuple[float, float, float]:
    bp, bg = _slow_boundary(pred_bin), _slow_boundary(gt)
    P, G = np.argwhere(bp).astype(float), np.argwhere(bg).astype(float)
    if len(P) == 0 and len(G) == 0:
        return 1.0, 1.0, 1.0
    if len(P) == 0:
        return 1.0, 0.0, 0.0
    if len(G) == 0:
        return 0.0, 1.0, 0.0
    d = np.sqrt(((P[:, None, :] - G[None, :, :]) ** 2).sum(-1))
    prec = float((d.min(1) <= tol).mean())
    rec = float((d.min(0) <= tol).mean())
    f = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
    return prec, rec, f


@pytest.mark.parity
@pytest.mark.parametrize(("seed", "h", "w", "levels"), [*CASES, (9, 30, 30, 3)])
def test_boundary_fscore_matches_brute_force(seed, h, w, levels):
    pred, gt = _pair(seed, h, w, levels)
    r = boundary_fscore(pred, gt, tolerances=(0, 1, 2, 3, 5))
    p = pred / 255.0
    if p.max() > p.min():
        p = (p - p.min()) / (p.max() - p.min())
    for k, tol in enumerate(r.tolerances):
        prec, rec, f = _slow_bf(p > 0.5, gt > 128, tol)
        assert r.precision[k] == pytest.approx(prec, abs=1e-12)
        assert r.recall[k] == pytest.approx(rec, abs=1e-12)
        assert r.fscore[k] == pytest.approx(f, abs=1e-12)


@given(arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))), st.data())
def test_boundary_properties(gt, data):
    pred = data.draw(arrays(np.bool_, gt.shape))
    assert np.array_equal(mask_boundary(gt), _slow_boundary(gt))
    r = boundary_fscore(pred.astype(np.uint8) * 255, gt, tolerances=(1, 3), normalize=False)
    assert np.all((0 <= r.fscore) & (r.fscore <= 1))
    assert r.fscore[0] <= r.fscore[1] + 1e-15  # a larger tolerance never scores lower
    perfect = boundary_fscore(gt.astype(np.uint8) * 255, gt, normalize=False)
    np.testing.assert_array_equal(perfect.fscore, 1.0)


def test_boundary_fscore_known_shift_and_bad_input():
    gt = np.zeros((16, 16), bool)
    gt[4:12, 4:12] = True
    pred = np.roll(gt, 2, axis=1).astype(np.uint8) * 255
    r = boundary_fscore(pred, gt)
    assert r.tolerances == (1, 3, 5)
    np.testing.assert_allclose(r.fscore, [4 / 7, 1, 1])
    batch = boundary_fscore([pred, pred], [gt, gt])
    assert len(batch) == 2 and np.array_equal(batch[0].fscore, r.fscore)
    with pytest.raises(ValueError, match="`tolerances` must be integers"):
        boundary_fscore(pred, gt, tolerances=(1.5,))
    with pytest.raises(ValueError, match="at least one tolerance"):
        boundary_fscore(pred, gt, tolerances=())
    with pytest.raises(ValueError, match="`threshold` must lie"):
        boundary_fscore(pred, gt, threshold=2.0)


@pytest.mark.parametrize("case", ["horse_blur", "coins_shift", "astronaut_erode", "camera_blur"])
def test_iou_dice_families_and_confusion_family_agree_on_photos(case):
    """The `iou` / `dice` families and `confusion.iou` / `confusion.dice` read one formula (bit-identical)."""
    from segmetrics import compute_all
    from tests.segmetrics.photo_cases import make_photo_case

    pred, gt = make_photo_case(case)
    res = compute_all(pred, gt, metrics=("iou", "dice", "confusion"))
    r = {**res.scalars(), **res.curves()}
    for m in ("iou", "dice"):
        np.testing.assert_array_equal(r[f"{m}.curve"], r[f"confusion.{m}.curve"])
        assert r[f"{m}.adp"] == r[f"confusion.{m}.adp"]
        assert r[m] == r[f"confusion.{m}.bin"]


def test_zero_division_is_checked_once_for_both_entry_points():
    from segmetrics.confusion import confusion_formula

    for call in (lambda: iou(np.zeros((2, 2)), np.zeros((2, 2), bool), zero_division=2),
                 lambda: confusion_formula("iou", 0, 0, 4, 0, zero_division=0.5),
                 lambda: confusion_formula("dice", 0, 0, 4, 0, zero_division=True)):
        with pytest.raises(ValueError, match=r"`zero_division` must be 0\.0 or 1\.0; got"):
            call()
    assert float(confusion_formula("iou", 0, 0, 4, 0, zero_division=1)) == 1.0
