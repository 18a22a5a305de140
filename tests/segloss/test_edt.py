import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import distance_transform_edt

from segloss import abl_distance_map
from segloss._distance import (
    NO_MASK_SQDIST,
    euclidean_distance_to_mask,
    floor_sqrt,
    floor_sqrt_float32,
    squared_distance_to_mask,
    squared_distance_to_mask_torch,
)

# the CPU kernel (a registered torch op) and the pure torch passes used on other devices
IMPLEMENTATIONS = pytest.mark.parametrize(
    "sqdist", [squared_distance_to_mask, squared_distance_to_mask_torch], ids=["cpu-kernel", "torch"]
)


def scipy_sqdist(mask: np.ndarray) -> np.ndarray:
    """Squared EDT to the nearest True pixel via scipy (exact integers after rounding)."""
    return np.rint(distance_transform_edt(~mask) ** 2).astype(np.int64)


@IMPLEMENTATIONS
@settings(max_examples=25)
@given(
    n=st.integers(1, 3),
    h=st.integers(1, 23),
    w=st.integers(1, 29),
    density=st.sampled_from([0.0, 0.002, 0.02, 0.1, 0.5, 1.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_squared_distance_matches_scipy(sqdist, n, h, w, density, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((n, h, w)) < density
    if density == 0.0 and n > 1:
        mask[0, rng.integers(h), rng.integers(w)] = True  # one image with a single pixel, others empty
    got = sqdist(torch.from_numpy(mask)).numpy()
    for i in range(n):
        if mask[i].any():
            np.testing.assert_array_equal(got[i], scipy_sqdist(mask[i]))
        else:
            assert (got[i] == NO_MASK_SQDIST).all()


@IMPLEMENTATIONS
def test_edge_cases_no_mask_full_mask_single_pixel(sqdist):
    empty = torch.zeros(1, 5, 7, dtype=torch.bool)
    full = torch.ones(1, 5, 7, dtype=torch.bool)
    assert (sqdist(empty) == NO_MASK_SQDIST).all()
    assert torch.isinf(euclidean_distance_to_mask(empty)).all()
    assert (sqdist(full) == 0).all()
    assert sqdist(torch.zeros(0, 5, 7, dtype=torch.bool)).shape == (0, 5, 7)
    corner = torch.zeros(1, 40, 70, dtype=torch.bool)
    corner[0, 39, 0] = True  # far-away single pixel: long diagonals must be exact (no chamfer shortcut)
    got = euclidean_distance_to_mask(corner)[0]
    ref = torch.from_numpy(distance_transform_edt(~corner[0].numpy())).float()
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-5)
    assert got[0, 69].item() == pytest.approx(float(np.hypot(39, 69)), abs=1e-5)


@IMPLEMENTATIONS
def test_large_width_matches_scipy(sqdist):
    rng = np.random.default_rng(5)
    mask = rng.random((2, 9, 300)) < 0.003
    mask[1] = False
    mask[1, 4, 150] = True
    got = sqdist(torch.from_numpy(mask)).numpy()
    for i in range(2):
        np.testing.assert_array_equal(got[i], scipy_sqdist(mask[i]))


def test_cpu_kernel_equals_torch_passes_on_boundary_maps():
    """Label-change boundaries of blocky maps (what the loss feeds in), non-contiguous input included."""
    g = torch.Generator().manual_seed(3)
    labels = torch.randint(0, 4, (3, 12, 20), generator=g).repeat_interleave(6, 1).repeat_interleave(5, 2)
    mask = torch.zeros(labels.shape, dtype=torch.bool)
    mask[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    mask[:, :, :-1] |= labels[:, :, 1:] != labels[:, :, :-1]
    mask[1] = False  # an image without mask pixel
    assert torch.equal(squared_distance_to_mask(mask), squared_distance_to_mask_torch(mask))
    mt = mask.transpose(1, 2)  # non-contiguous view
    assert torch.equal(squared_distance_to_mask(mt), squared_distance_to_mask_torch(mt.contiguous()))


def test_cpu_kernel_is_a_torch_op_under_compile():
    """The CPU kernel is the registered op ``segloss::squared_distance_to_mask``: compiles without a graph break."""
    assert hasattr(torch.ops.segloss, "squared_distance_to_mask")
    mask = torch.rand(2, 9, 13, generator=torch.Generator().manual_seed(0)) < 0.05
    fn = torch.compile(lambda m: squared_distance_to_mask(m).float().sqrt(), backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(fn(mask), euclidean_distance_to_mask(mask), rtol=0, atol=1e-6)


def test_floor_sqrt_exact():
    s = torch.arange(0, 5000, dtype=torch.int64)
    d2 = torch.cat([s * s, s * s - 1, s * s + 1, torch.tensor([16_777_215, 16_777_216, 16_777_217, 2**40 - 1])])
    d2 = d2.clamp_min(0)

    ref = torch.tensor([math.isqrt(v) for v in d2.tolist()])
    assert torch.equal(floor_sqrt(d2), ref)  # CPU: float64 square root
    assert torch.equal(floor_sqrt_float32(d2), ref)  # other devices: float32 estimate + integer fix-up
    big = torch.tensor([2**52 - 1, (2**26 - 1) ** 2, (2**26 - 1) ** 2 - 1, 4503599493152768])
    assert torch.equal(floor_sqrt(big), torch.tensor([math.isqrt(v) for v in big.tolist()]))


def _one_sided(t, ignore):
    b = np.zeros(t.shape, bool)
    b[:-1] |= t[1:] != t[:-1]
    b[:, :-1] |= t[:, 1:] != t[:, :-1]
    return b | (t == ignore)


def _both_sided(t, ignore):
    b = np.zeros(t.shape, bool)
    valid = t != ignore
    dn = (t[1:] != t[:-1]) & valid[1:] & valid[:-1]
    rt = (t[:, 1:] != t[:, :-1]) & valid[:, 1:] & valid[:, :-1]
    b[:-1] |= dn
    b[1:] |= dn
    b[:, :-1] |= rt
    b[:, 1:] |= rt
    return b


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31 - 1), ignore=st.booleans())
def test_abl_distance_map_paper_and_official(seed, ignore):
    rng = np.random.default_rng(seed)
    t = np.repeat(np.repeat(rng.integers(0, 3, (2, 4, 5)), 4, axis=1), 5, axis=2)
    if ignore:
        t[:, :3, :6] = 255
    t[1] = 1  # an image without GT boundary
    if ignore:
        t[1, :3, :6] = 255
    tt = torch.from_numpy(t)
    paper = abl_distance_map(tt).numpy()
    official = abl_distance_map(tt, compat="official").numpy()
    b0 = _both_sided(t[0], 255)
    if b0.any():
        np.testing.assert_allclose(paper[0], distance_transform_edt(~b0), rtol=0, atol=1e-5)
    else:
        assert np.isinf(paper[0]).all()
    assert np.isinf(paper[1]).all()  # no label change between two valid pixels
    for i in range(2):
        b = _one_sided(t[i], 255)
        if b.any():
            ref = np.maximum(np.floor(distance_transform_edt(~b)) - 1, 0)
            np.testing.assert_array_equal(official[i], ref)
        else:
            assert np.isinf(official[i]).all()


def test_abl_distance_map_2d_and_errors():
    t = torch.zeros(4, 6, dtype=torch.long)
    t[:, 3:] = 1
    assert abl_distance_map(t)[0].tolist() == [2.0, 1.0, 0.0, 0.0, 1.0, 2.0]
    with pytest.raises(TypeError, match="`target` must be an integer tensor"):
        abl_distance_map(t.float())
    with pytest.raises(ValueError, match=r"`target` must be a non-empty \(N, H, W\) or \(H, W\)"):
        abl_distance_map(torch.zeros(1, 1, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="`compat` must be one of"):
        abl_distance_map(t, compat="scipy")
