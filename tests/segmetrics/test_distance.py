"""segmetrics.squared_distance_transform: the public exact EDT (also the CPU distance kernel of segloss)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage
from skimage import data

from segmetrics import squared_distance_transform
from segmetrics.distance import NO_FEATURE


def scipy_sq(features: np.ndarray) -> np.ndarray:
    return np.rint(ndimage.distance_transform_edt(~features) ** 2).astype(np.int64)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.floats(0.02, 0.9), st.integers(0, 2**31 - 1))
def test_matches_scipy_on_random_masks(h, w, density, seed):
    m = np.random.default_rng(seed).random((h, w)) < density
    if not m.any():
        m[h // 2, w // 2] = True
    np.testing.assert_array_equal(squared_distance_transform(m), scipy_sq(m))


def test_real_image_batch_and_empty_images():
    horse = ~data.horse()[::4, ::4]  # True on the horse
    batch = np.stack([horse, np.zeros_like(horse), ~horse])
    out = np.empty(batch.shape, np.int64)
    got = squared_distance_transform(batch, out=out)
    assert got is out
    np.testing.assert_array_equal(got[0], scipy_sq(horse))
    np.testing.assert_array_equal(got[2], scipy_sq(~horse))
    assert (got[1] == NO_FEATURE).all()
    assert (squared_distance_transform(batch[1], empty=-1) == -1).all()
    # nonzero of any dtype marks features, like True
    np.testing.assert_array_equal(squared_distance_transform(horse.astype(np.uint8) * 7), got[0])


def test_bad_inputs():
    m = np.zeros((3, 4), bool)
    with pytest.raises(TypeError, match="`features` must be a numpy array; got list"):
        squared_distance_transform([[True]])
    with pytest.raises(ValueError, match=r"`features` must be \(H, W\) or \(N, H, W\); got shape \(4,\)"):
        squared_distance_transform(np.zeros(4, bool))
    with pytest.raises(TypeError, match="`empty` must be an integer; got float"):
        squared_distance_transform(m, empty=1.5)
    with pytest.raises(ValueError, match=r"`out` must be a writeable C-contiguous int64 array of shape \(3, 4\)"):
        squared_distance_transform(m, out=np.empty((4, 3), np.int64))
    with pytest.raises(ValueError, match="dtype int32"):
        squared_distance_transform(m, out=np.empty((3, 4), np.int32))
    assert squared_distance_transform(np.zeros((0, 5), bool)).shape == (0, 5)
