"""`segmetrics.skeletonize` must equal `skimage.morphology.skeletonize` pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest
from hce_cases import CASES, LARGE, blobs, curves, ellipse, grid, make_case, tree
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage
from skimage.morphology import skeletonize as sk_skeletonize

from segmetrics import skeletonize
from segmetrics.skeleton import _TABLE, _skeleton_crop


def _check(mask: np.ndarray) -> None:
    ours = skeletonize(mask)
    assert ours.dtype == bool and ours.shape == mask.shape
    np.testing.assert_array_equal(ours, sk_skeletonize(mask.astype(bool)))


@pytest.mark.parity
@given(arrays(np.bool_, st.tuples(st.integers(1, 24), st.integers(1, 24))))
def test_random_masks(mask):
    _check(mask)


@pytest.mark.parity
@given(
    st.integers(0, 2**32 - 1),
    st.integers(3, 48),
    st.integers(3, 48),
    st.floats(0.05, 0.95),
    st.integers(0, 3),
)
def test_random_dilated_masks(seed, h, w, density, grow):
    rng = np.random.default_rng(seed)
    mask = rng.random((h, w)) < density * 0.3
    if grow:
        mask = ndimage.binary_dilation(mask, iterations=grow)
    _check(mask)


@pytest.mark.parity
@pytest.mark.parametrize("name", [n for n in CASES if n not in LARGE])
def test_case_gts(name):
    pred, gt = make_case(name)
    _check(gt > 128)
    _check(pred > 128)


@pytest.mark.parity
def test_structured_shapes():
    rng = np.random.default_rng(0)
    shapes = [
        ellipse(90, 120, 45, 60, 40, 55, 0.4),
        ellipse(64, 64, 32, 32, 31, 31) & ~ellipse(64, 64, 32, 32, 10, 12),
        grid(80, 80, 9, 2, angle_shift=5),
        grid(50, 70, 6, 3),
        tree(150, 150, rng),
        curves(100, 130, rng, 6, width=3),
        blobs(200, 150, rng, 12, 25),
        np.ones((37, 29), bool),
        np.ones((1, 40), bool),
        np.ones((40, 2), bool),
    ]
    for mask in shapes:
        _check(mask)


def test_table_is_a_removal_table():
    # an isolated pixel, an interior pixel and a line end are never removed
    assert _TABLE[0] == 0 and _TABLE[255] == 0
    assert set(np.unique(_TABLE)) <= {0, 1, 2, 3}


def test_dtypes_and_torch():
    import torch

    mask = ellipse(30, 40, 15, 20, 10, 15)
    ref = sk_skeletonize(mask)
    np.testing.assert_array_equal(skeletonize(mask.astype(np.uint8) * 255), ref)
    np.testing.assert_array_equal(skeletonize(mask.astype(np.float32)), ref)
    np.testing.assert_array_equal(skeletonize(torch.from_numpy(mask)), ref)


def test_empty_and_crop():
    assert not skeletonize(np.zeros((5, 7), bool)).any()
    crop, r0, c0 = _skeleton_crop(np.zeros((5, 7), bool))
    assert crop.shape == (0, 0) and (r0, c0) == (0, 0)
    mask = np.zeros((50, 60), bool)
    mask[10:20, 30:55] = True
    crop, r0, c0 = _skeleton_crop(mask)
    assert (r0, c0) == (10, 30) and crop.shape == (10, 25)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"`mask` must be a 2-D \(H, W\) array; got shape \(2, 3, 4\)"):
        skeletonize(np.zeros((2, 3, 4), bool))
    with pytest.raises(ValueError, match="`mask` must not contain NaN"):
        skeletonize(np.full((3, 3), np.nan))
    with pytest.raises(TypeError, match="`mask` must be a bool or real numeric array; got dtype complex128"):
        skeletonize(np.zeros((3, 3), complex))
    with pytest.raises(TypeError, match="`mask` must be a numpy array or torch tensor; got str"):
        skeletonize("mask")
