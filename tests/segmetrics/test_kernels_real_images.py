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
from segmetrics._kernels.hce import pack, pack_into, packed_bbox


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
