"""Context measure and camouflage context measure: the exact default against a direct float64
evaluation, parity with pysodmetrics 1.6.2 (``compat="pysod"`` identical, the default within the
reference's float32 rounding), the exact patch matching and colour difference, errors, degenerate maps."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import py_sod_metrics as psm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmetrics import DatasetMetrics, compute_all
from segmetrics._inputs import prepare_pairs
from segmetrics._kernels import context as kernels
from segmetrics.context_measure import (
    _context_kernel,
    _normalised,
    camouflage_context_measure,
    camouflage_degree,
    context_measure,
)
from tests.segmetrics.cases import CASES, make_case
from tests.segmetrics.photo_cases import PHOTO_CASES, make_photo_case, photo_rgb

_CASES = [*CASES[::5], *PHOTO_CASES[::2]]
# measured: the default differs from pysodmetrics by at most 1.3e-8 (its float32 forward map) over
# every generated and photo case
_FLOAT32_BOUND = 2e-8
_EPS = float(np.spacing(1.0))


def _case(name):
    return make_photo_case(name) if name in PHOTO_CASES else make_case(name)


def _pysod_cm(pred, gt):
    m = psm.ContextMeasure()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.step(pred, gt)
    return m.get_results()["cm"]


def _direct_cm(pred, gt, cd=None, beta_sq=1.0):
    """The definition evaluated directly in float64: both correlations tap by tap on reflect-101 padded maps."""
    (p, g), = prepare_pairs(pred, gt, keep_uint8=True)[0]
    pn = _normalised(p, g, True)
    k = _context_kernel(g, 6.0)
    dr, dc = k.shape[0] // 2, k.shape[1] // 2

    def corr(x):
        xp = np.pad(x, ((dr, dr), (dc, dc)), mode="reflect")  # numpy "reflect" = OpenCV REFLECT_101
        out = np.zeros(x.shape)
        for a in range(k.shape[0]):
            for b in range(k.shape[1]):
                out += k[a, b] * xp[a:a + x.shape[0], b:b + x.shape[1]]
        return out

    cd = np.zeros(g.shape) if cd is None else cd
    f, r = corr(g.astype(float)), corr(pn)
    mf = math.fsum((f * pn * (pn > 0)).ravel()) / (math.fsum(pn.ravel()) + _EPS)
    rev = math.e / (math.e - 1) * g * (1 - np.exp(-r))
    wr = math.fsum((rev * (g + cd)).ravel()) / (g.sum() + math.fsum(cd.ravel()) + _EPS)
    return (1 + beta_sq) * mf * wr / (beta_sq * mf + wr + _EPS)


@pytest.mark.parametrize("name", _CASES)
def test_context_measure_equals_the_direct_float64_definition_and_pysod_within_float32(name):
    pred, gt = _case(name)
    got = context_measure(pred, gt)
    assert got == pytest.approx(_direct_cm(pred, gt), abs=1e-12)
    assert got == pytest.approx(_pysod_cm(pred, gt), abs=_FLOAT32_BOUND)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1), st.floats(0.05, 0.95))
def test_exact_context_measure_is_the_definition_on_random_maps(h, w, seed, frac):
    # kernels wider than the image (reflected more than once), GT on the border, empty and full GT
    rng = np.random.default_rng(seed)
    gt = rng.random((h, w)) < frac
    if seed % 3 == 0:
        gt = np.zeros((h, w), bool)
        gt[: max(1, h // 3), w // 2:] = True
    pred = rng.integers(0, 256, (h, w), dtype=np.uint8)
    assert context_measure(pred, gt) == pytest.approx(_direct_cm(pred, gt), abs=1e-12)


@pytest.mark.parametrize("name", _CASES)
def test_compat_pysod_matches_pysod(name):
    pred, gt = _case(name)
    assert context_measure(pred, gt, compat="pysod") == pytest.approx(_pysod_cm(pred, gt), abs=1e-12, nan_ok=True)


@pytest.mark.parametrize("name", PHOTO_CASES[::3])
def test_camouflage_context_measure_matches_pysod(name):
    pred, gt = make_photo_case(name)
    img = photo_rgb(name.rsplit("_", 1)[0])
    m = psm.CamouflageContextMeasure()
    m.step(pred, gt, img=img)
    ref = m.get_results()["ccm"]
    assert camouflage_context_measure(pred, gt, img, compat="pysod") == pytest.approx(ref, abs=1e-12)
    assert camouflage_context_measure(pred, gt, img) == pytest.approx(ref, abs=_FLOAT32_BOUND)


def _patches(img, mask, w=7, d=3):
    """Corners and values of the stride-d w x w windows wholly inside mask (bottom / right padded as the reference)."""
    h, wd = mask.shape
    ph, pw = (d - (h - w) % d) % d, (d - (wd - w) % d) % d
    img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="reflect")
    mask = np.pad(mask, ((0, ph), (0, pw)))
    inside = np.lib.stride_tricks.sliding_window_view(mask > 0, (w, w))[::d, ::d].all(axis=(2, 3))
    rr, cc = np.nonzero(inside)
    win = np.lib.stride_tricks.sliding_window_view(img, (w, w, 3))[::d, ::d, 0]
    return np.stack([rr * d, cc * d], axis=1), win[rr, cc].reshape(len(rr), w * w * 3)


def _direct_camouflage_degree(img, gt):
    """Camouflage degree with numpy patches, a brute-force float64 nearest neighbour, a loop
    reconstruction and scikit-image's CIEDE2000."""
    import cv2
    from skimage.color import deltaE_ciede2000, rgb2lab

    fg = gt.astype(np.uint8)
    bg = cv2.dilate(fg, np.ones((20, 20), np.uint8)) - fg
    lab = cv2.cvtColor(img, cv2.COLOR_RGB2LAB)
    fi, ff = _patches(lab * fg[:, :, None], fg)
    bi, bf = _patches(lab * bg[:, :, None], bg)
    if len(fi) == 0 or len(bi) == 0:  # nothing to match: no camouflage
        return np.zeros(gt.shape)
    xy = np.vstack([bi, fi]).astype(float)
    sd = xy.std(0)
    xy = 20 * (xy - xy.mean(0)) / np.where(sd == 0, 1, sd)
    x, q = np.hstack([bf, xy[: len(bi)]]), np.hstack([ff, xy[len(bi):]])
    nn = np.array([np.argmin(((x - v) ** 2).sum(1)) for v in q])  # argmin: the first of exact ties
    acc, cnt = np.zeros(img.shape), np.zeros(gt.shape)
    for (r, c), j in zip(fi, nn):
        br, bc = bi[j]
        acc[r:r + 7, c:c + 7] += img[br:br + 7, bc:bc + 7]
        cnt[r:r + 7, c:c + 7] += 1
    recon = np.round(acc / np.where(cnt == 0, 1.0, cnt)[:, :, None]).astype(np.uint8)
    sim = np.zeros(gt.shape)
    sim[gt] = 1 - np.clip(deltaE_ciede2000(rgb2lab(recon[gt]), rgb2lab(img[gt])) / 100, 0, 1)
    return (np.exp(8 * sim * fg) - 1) / (np.exp(8) - 1)


def test_patch_grid_equals_the_padded_numpy_windows():
    rng = np.random.default_rng(11)
    for shape in ((72, 96), (20, 23), (7, 7), (9, 30)):
        img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        mask = (rng.random(shape) < 0.97).astype(np.uint8)
        mask[: shape[0] // 2, : shape[1] // 2] = 1
        corners, feat = kernels.patch_grid(img, mask, 7, 3)
        want_c, want_f = _patches(img * mask[:, :, None], mask)
        np.testing.assert_array_equal(corners, want_c)
        np.testing.assert_array_equal(feat, want_f)


@pytest.mark.parametrize("name", ["coins_blur", "astronaut_shift", "coffee_erode"])
def test_camouflage_degree_is_the_brute_force_definition(name):
    _, gt = make_photo_case(name)
    img = photo_rgb(name.rsplit("_", 1)[0])
    g = gt > 128
    want = _direct_camouflage_degree(img, g)
    assert np.abs(camouflage_degree(img, g) - want).max() <= 1e-12
    pred = make_photo_case(name)[0]
    assert camouflage_context_measure(pred, gt, img) == pytest.approx(_direct_cm(pred, gt, want, 1.2), abs=1e-12)


@settings(max_examples=15, deadline=None)
@given(st.integers(16, 40), st.integers(16, 40), st.integers(0, 2**32 - 1), st.sampled_from([2, 4, 256]))
def test_camouflage_degree_is_the_definition_on_random_images(h, w, seed, levels):
    # few colour levels: many equal patches, so ties in the matching
    rng = np.random.default_rng(seed)
    img = (rng.integers(0, levels, (h, w, 3)) * (255 // (levels - 1))).astype(np.uint8)
    gt = np.zeros((h, w), bool)
    r, c = rng.integers(0, h // 2), rng.integers(0, w // 2)
    gt[r:r + rng.integers(7, h - r + 1), c:c + rng.integers(7, w - c + 1)] = True
    assert np.abs(camouflage_degree(img, gt) - _direct_camouflage_degree(img, gt)).max() <= 1e-12


def test_exact_patch_search_equals_brute_force_with_ties():
    rng = np.random.default_rng(7)
    for n_x, n_q, levels in ((300, 200, 3), (50, 400, 256), (1, 5, 2)):
        xf = rng.integers(0, levels, (n_x, 147)).astype(np.uint8)
        xf[n_x // 2:] = xf[: n_x - n_x // 2]  # duplicated patches: exact ties go to the lower index
        qf = rng.integers(0, levels, (n_q, 147)).astype(np.uint8)
        xc = rng.integers(-3, 4, (n_x, 2)).astype(float) * 1.5
        xc[n_x // 2:] = xc[: n_x - n_x // 2]
        qc = rng.normal(size=(n_q, 2))
        d = ((xf[None].astype(float) - qf[:, None]) ** 2).sum(2) + ((xc[None] - qc[:, None]) ** 2).sum(2)
        vx, vq = kernels.patch_summaries(xf, xc, 49), kernels.patch_summaries(qf, qc, 49)
        for leaf in (1, 4, 8, 1000):
            got = kernels.nearest_patches(xf, xc, vx, qf, qc, vq, *kernels.summary_tree(vx, leaf))
            np.testing.assert_array_equal(got, d.argmin(1))


def test_ciede2000_similarity_equals_scikit_image():
    from skimage.color import deltaE_ciede2000, rgb2lab

    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (5000, 3), dtype=np.uint8)
    b = np.vstack([rng.integers(0, 256, (4000, 3), dtype=np.uint8), a[:500], a[:500] // 2 * 2])  # equal, near
    b[::7, :2] = 0  # grey / zero chroma: the C1·C2 = 0 branch
    a[::11] = a[::11, :1]
    a, b = np.repeat(a, 3, axis=0), np.repeat(b, 3, axis=0)  # runs of equal colours and pairs
    b[1::3] = b[::3] // 3
    want = 1 - np.clip(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)) / 100, 0, 1)
    np.testing.assert_allclose(kernels.ciede2000_similarity(a, b), want, rtol=0, atol=1e-12)


def test_compat_reaches_every_entry_point():
    pred, gt = make_photo_case("coffee_shift")
    img = photo_rgb("coffee")
    exact, pysod = context_measure(pred, gt), context_measure(pred, gt, compat="pysod")
    assert exact != pysod  # the float32 forward map moves the value
    assert compute_all(pred, gt, metrics=("cm",)).cm == exact
    assert compute_all(pred, gt, metrics=("cm",), cm_compat="pysod").cm == pysod
    acc = DatasetMetrics(metrics=("cm", "ccm"), cm_compat="pysod")
    acc.update(pred, gt, image=img)
    r = acc.compute()
    assert r["cm"] == pysod
    assert r["ccm"] == camouflage_context_measure(pred, gt, img, compat="pysod")


def test_the_exact_default_needs_no_scikit_learn(monkeypatch):
    pred, gt = make_photo_case("coins_erode")
    img = photo_rgb("coins")
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.neighbors", None)
    assert np.isfinite(camouflage_context_measure(pred, gt, img))
    with pytest.raises(ImportError, match=r'needs sklearn: pip install "segloss-segmetrics\[camouflage\]"'):
        camouflage_context_measure(pred, gt, img, compat="pysod")


def test_batch_float_and_degenerate_inputs():
    pred, gt = make_photo_case("horse_blur")
    assert context_measure(pred / 255.0, gt) == pytest.approx(context_measure(pred, gt), abs=1e-15)
    both = context_measure(np.stack([pred, pred]), np.stack([gt, gt]))
    assert both.shape == (2,) and both[0] == context_measure(pred, gt)
    z = np.zeros((16, 16), np.uint8)
    for p, g in ((z, z), (z + 255, z), (z, z + 255), (z + 255, z + 255)):
        assert np.isfinite(context_measure(p, g))
    img = np.zeros((16, 16, 3), np.uint8)
    assert not camouflage_degree(img, np.zeros((16, 16), bool)).any()  # no object: no camouflage


def test_errors_name_the_argument():
    pred, gt = make_photo_case("coins_blur")
    img = photo_rgb("coins")
    with pytest.raises(ValueError, match="`image` must be a uint8 \\(H, W, 3\\) RGB image; got array of shape"):
        camouflage_context_measure(pred, gt, img[..., 0])
    with pytest.raises(ValueError, match="`image` must have the shape of `gt`"):
        camouflage_context_measure(pred, gt, img[1:])
    with pytest.raises(ValueError, match="`alpha` must be finite and > 0"):
        context_measure(pred, gt, alpha=0)
    with pytest.raises(ValueError, match="`image` must hold 2 images"):
        camouflage_context_measure(np.stack([pred, pred]), np.stack([gt, gt]), [img])
    with pytest.raises(ValueError, match=r"`compat` must be one of \('exact', 'pysod'\); got 'float32'"):
        context_measure(pred, gt, compat="float32")
    with pytest.raises(ValueError, match=r"`compat` must be one of \('exact', 'pysod'\); got 'x'"):
        camouflage_context_measure(pred, gt, img, compat="x")


def test_images_smaller_than_a_patch_have_no_camouflage():
    rng = np.random.default_rng(5)
    for shape in ((1, 1), (3, 9), (6, 6)):
        gt = rng.random(shape) < 0.5
        img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        for compat in ("exact", "pysod"):
            assert not camouflage_degree(img, gt, compat=compat).any()
            assert np.isfinite(camouflage_context_measure(np.where(gt, 255, 0).astype(np.uint8), gt, img,
                                                          compat=compat))


def test_extreme_kernel_scales_and_camouflage_gammas():
    # alpha 1e-300 used to raise LinAlgError (singular covariance), alpha 1e8 a MemoryError (1.2 EiB kernel);
    # gamma <= 1e-16 gave 0/0 and gamma >= 710 inf/inf: NaN degrees with RuntimeWarnings.
    pred, gt = make_photo_case("coffee_blur")
    pred, gt, img = pred[:40, :50], gt[:40, :50], photo_rgb("coffee")[:40, :50]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny = context_measure(pred, gt, alpha=1e-300)
        assert tiny == context_measure(pred, gt, alpha=0.1)  # both a one-tap kernel
        assert np.isfinite(context_measure(pred, gt, alpha=100))
        base = camouflage_degree(img, gt)
        small, large = camouflage_degree(img, gt, gamma=1e-30), camouflage_degree(img, gt, gamma=1e300)
        sim = np.where(gt, np.log1p(base * math.expm1(8.0)) / 8.0, 0.0)  # the similarity s behind the default
        np.testing.assert_allclose(small, sim, rtol=0, atol=1e-12)  # the limit gamma -> 0 is s itself
        assert np.isfinite(large).all() and set(np.unique(large)) <= {0.0, 1.0}  # -> [s == 1]
        assert np.isfinite(camouflage_context_measure(pred, gt, img, gamma=1e300))
    for call in (lambda: context_measure(pred, gt, alpha=1e8),
                 lambda: compute_all(pred, gt, metrics=("cm",), cm_alpha=100.5)):
        with pytest.raises(ValueError, match=r"alpha` must be <= 100 \(the kernel spans up to 3 \* alpha pixels"):
            call()


def test_camouflage_degree_validates_its_inputs():
    # A uint8 GT used to fail deep inside with "shape mismatch: value array of shape (957,) could not be broadcast".
    _, gt = make_photo_case("coffee_blur")
    gt, img = gt[:40, :50], photo_rgb("coffee")[:40, :50]
    np.testing.assert_array_equal(camouflage_degree(img, gt), camouflage_degree(img, gt > 128))
    with pytest.raises(ValueError, match=r"`image` must have the shape of `gt` \(40, 50\) plus 3 channels; got"):
        camouflage_degree(img[1:], gt)
    with pytest.raises(TypeError, match=r"`image` must be a uint8 \(H, W, 3\) RGB image; got None"):
        camouflage_degree(None, gt)
    with pytest.raises(ValueError, match=r"`gamma` must be finite and > 0; got 0"):
        camouflage_degree(img, gt, gamma=0)
    with pytest.raises(ValueError, match=r"`gt` must be finite"):
        camouflage_degree(img, np.full((40, 50), np.nan))


def test_collinear_gt_pixels_and_disjoint_predictions():
    # A diagonal GT (singular covariance) raised LinAlgError("Singular matrix"), as pysodmetrics does; a
    # prediction disjoint from the GT scored -0.0 (a forward sum of -6e-16 from the DFT correlation).
    from segmetrics.context_measure import _context_kernel

    diag = np.eye(48, dtype=bool)
    k = _context_kernel(diag, 6.0)
    assert k.shape == (27, 27) and np.count_nonzero(k) == 27 and np.array_equal(k, k.T)
    np.testing.assert_array_equal(np.flatnonzero(k), np.flatnonzero(np.eye(27)))  # the taps along the line
    assert context_measure(diag.astype(np.uint8) * 255, diag) == pytest.approx(1.0, abs=1e-12)
    slope = np.zeros((30, 30), bool)
    slope[np.arange(10) * 2, np.arange(10)] = True  # direction (2, 1)
    assert set(zip(*np.nonzero(_context_kernel(slope, 6.0)))) == {(16 + 2 * t, 8 + t) for t in range(-8, 9)}
    for g in (diag, slope, np.eye(2, 3, dtype=bool)):
        img = np.random.default_rng(0).integers(0, 256, (*g.shape, 3), dtype=np.uint8)
        for compat in ("exact", "pysod"):
            assert 0.0 <= context_measure(np.roll(g, 1, 0).astype(np.uint8) * 255, g, compat=compat) <= 1.0
            assert 0.0 <= camouflage_context_measure(g.astype(np.uint8) * 200, g, img, compat=compat) <= 1.0
    box = np.zeros((64, 64), bool)
    box[10:20, 5:40] = True
    far = np.roll(box, 30, 0).astype(np.uint8) * 255
    assert math.copysign(1.0, context_measure(far, box)) == 1.0  # +0.0, not -0.0
