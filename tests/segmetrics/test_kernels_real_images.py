"""The thinning, bit-packing and weighted-F kernels on masks from real photographs (scikit-image's images).

The Zhang–Suen kernel keeps every pixel's neighbourhood code up to date instead of re-reading the
neighbours, and lists only removable pixels at the start; ``pack_into`` and ``packed_bbox`` build and
scan packed words without a branch per pixel; weighted F skips the 7×7 correlation where the
prediction is 1 on G. Each must give exactly what the straightforward definition gives (weighted F:
pysodmetrics within 1e-10).
"""

from __future__ import annotations

import cv2
import numpy as np
import py_sod_metrics
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage import data
from skimage.morphology import skeletonize as sk_skeletonize

import segmetrics as sm
from segmetrics._kernels.hce import pack, pack_into, packed_bbox, rdp_counts


def _gray(name: str) -> np.ndarray:
    im = np.asarray(getattr(data, name)())
    return cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) if im.ndim == 3 else im


def _masks() -> dict[str, np.ndarray]:
    out = {}
    for name in ("camera", "coins", "astronaut", "coffee", "page"):
        g = _gray(name)
        t, _ = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        out[name] = g > t
        out[name + "-dark"] = g <= t
    edges = cv2.Canny(_gray("camera"), 40, 100)
    out["camera-edges"] = cv2.dilate(edges, np.ones((3, 3), np.uint8)) > 0
    out["horse"] = ~data.horse()
    horse = (~data.horse()).astype(np.uint8)
    out["horse-upscaled"] = cv2.resize(horse, (700, 640), interpolation=cv2.INTER_NEAREST) > 0
    return out


MASKS = _masks()


@pytest.mark.parity
@pytest.mark.parametrize("name", sorted(MASKS))
def test_skeleton_of_real_masks_equals_skimage(name):
    m = MASKS[name]
    np.testing.assert_array_equal(sm.skeletonize(m), sk_skeletonize(m))


@pytest.mark.parity
@pytest.mark.parametrize("name", ["camera", "coins-dark", "camera-edges", "horse"])
def test_hce_of_real_masks_with_and_without_a_given_skeleton(name):
    gt = MASKS[name]
    pred = np.roll(gt, (3, -2), axis=(0, 1)).astype(np.uint8) * 200
    given_skel = sk_skeletonize(gt)
    assert sm.hce(pred, gt) == sm.hce(pred, gt, skeleton=given_skel)


def _pack_reference(mask: np.ndarray, r_off: int, c_off: int, shape: tuple[int, int]) -> np.ndarray:
    full = np.zeros((shape[0], shape[1] * 64), bool)
    full[r_off : r_off + mask.shape[0], c_off : c_off + mask.shape[1]] = mask
    return pack(full)


@given(
    arrays(np.bool_, st.tuples(st.integers(1, 20), st.integers(1, 150))),
    st.integers(0, 5),
    st.integers(0, 130),
)
def test_pack_into_equals_packing_the_placed_mask(mask, r_off, c_off):
    shape = (mask.shape[0] + r_off, (mask.shape[1] + c_off + 63) // 64)
    out = np.zeros(shape, np.uint64)
    pack_into(mask, r_off, c_off, out)
    np.testing.assert_array_equal(out, _pack_reference(mask, r_off, c_off, shape))


@given(arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 200))))
def test_packed_bbox_equals_the_mask_bbox(mask):
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    want = (0, 0, 0, 0) if rows.size == 0 else (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
    assert tuple(int(v) for v in packed_bbox(pack(mask))) == tuple(int(v) for v in want)


def test_packed_bbox_on_full_and_single_bit_words():
    m = np.zeros((4, 192), bool)
    m[1, 63] = m[2, 64] = m[2, 191] = True
    assert packed_bbox(pack(m)) == (1, 3, 63, 192)
    assert packed_bbox(pack(np.ones((3, 128), bool))) == (0, 3, 0, 128)


def _predictions(gt: np.ndarray) -> dict[str, np.ndarray]:
    """Predictions with long stretches of 255 on G and short gaps (blur, shift, speckle, saturation)."""
    rng = np.random.default_rng(0)
    g = gt.astype(np.float32) * 255
    speckle = g.copy()
    speckle[rng.random(g.shape) < 0.02] = 180  # isolated E > 0 pixels inside runs of E == 0
    return {
        "binary": g.astype(np.uint8),
        "blur": np.clip(cv2.GaussianBlur(g, (0, 0), 2.0) + 0.5, 0, 255).astype(np.uint8),
        "shift": np.roll(g, (3, -2), axis=(0, 1)).astype(np.uint8),
        "speckle": speckle.astype(np.uint8),
        "noise": np.clip(g * 0.9 + 12 + rng.normal(0, 20, g.shape), 0, 255).astype(np.uint8),
    }


@pytest.mark.parity
@pytest.mark.parametrize("name", ["camera", "coins", "page-dark", "camera-edges", "horse"])
def test_weighted_fmeasure_of_real_masks_matches_pysod(name):
    gt = MASKS[name]
    for kind, pred in _predictions(gt).items():
        m = py_sod_metrics.WeightedFmeasure()
        m.step(pred, gt.astype(np.uint8) * 255)
        ref = float(m.get_results()["wfm"])
        assert abs(sm.weighted_fmeasure(pred, gt) - ref) <= 1e-10, (name, kind)
        assert abs(sm.weighted_fmeasure(pred.astype(np.float64) / 255, gt) - ref) <= 1e-10, (name, kind)


_STEPS = np.array([(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)])


@given(st.integers(0, 2**32 - 1), st.integers(3, 80), st.sampled_from([0.5, 1.0, 2.0, 3.0, 7.5]))
def test_rdp_count_equals_opencv_on_random_8_connected_runs(seed, length, eps):
    rng = np.random.default_rng(seed)
    pts, seen, d = [(100, 100)], {(100, 100)}, int(rng.integers(8))
    for _ in range(length - 1):  # a self-avoiding 8-connected walk with some momentum, like a contour run
        for _try in range(10):
            d = (d + int(rng.choice([-1, 0, 0, 0, 1, 2, -2]))) % 8
            q = (pts[-1][0] + int(_STEPS[d][0]), pts[-1][1] + int(_STEPS[d][1]))
            if q not in seen:
                break
        else:
            break
        pts.append(q)
        seen.add(q)
    run = np.array(pts, np.int32)
    offsets = np.array([0, len(run)], np.int64)
    want = len(cv2.approxPolyDP(run.reshape(-1, 1, 2), eps, False)) if len(run) > 2 else 0
    assert rdp_counts(run, offsets, eps) == want


@pytest.mark.parametrize("name", ["camera", "coins", "camera-edges", "horse"])
def test_rdp_counts_equal_opencv_on_the_contours_of_real_masks(name):
    contours = cv2.findContours(MASKS[name].astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)[0]
    rng = np.random.default_rng(1)
    runs = []
    for c in contours:  # open runs: random slices of every contour
        c = c.reshape(-1, 2)
        if len(c) > 3:
            a = int(rng.integers(0, len(c) - 3))
            b = int(rng.integers(a + 3, len(c) + 1))
            if not (c[a] == c[b - 1]).all():
                runs.append(np.ascontiguousarray(c[a:b]))
    assert runs
    offsets = np.zeros(len(runs) + 1, np.int64)
    np.cumsum([len(r) for r in runs], out=offsets[1:])
    pts = np.concatenate(runs).astype(np.int32)
    for eps in (1.0, 2.0):
        assert rdp_counts(pts, offsets, eps) == sum(len(cv2.approxPolyDP(r, eps, False)) for r in runs)


def test_rdp_counts_reports_runs_with_coinciding_end_points():
    run = np.array([(0, 0), (1, 0), (1, 1), (0, 0)], np.int32)
    assert rdp_counts(run, np.array([0, 4], np.int64), 2.0) == -1
