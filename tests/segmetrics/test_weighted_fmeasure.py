"""Tests of segmetrics.weighted_fmeasure and its kernels (EDT, sums).

Parity: pysodmetrics 1.6 ``WeightedFmeasure`` (within 1e-10 on every generated case: the two sums
are compensated row sums, not numpy's pairwise order; the observed differences are a few ulps) and
``scipy.ndimage.distance_transform_edt`` (distances and nearest-feature indices, including ties).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import py_sod_metrics  # the parity reference: a test dependency (README test command), not optional
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.ndimage import distance_transform_edt

from segmetrics import weighted_fmeasure
from segmetrics._kernels.edt import feature_transform, fill_row, lower_envelope, next_row_below, row_heights
from segmetrics._kernels.weighted_fmeasure import separable_factors
from segmetrics._normalize import minmax_normalize
from segmetrics.weighted_fmeasure import _gaussian_kernel, _importance_table, _weighted_fmeasure_image

ROOT = Path(__file__).resolve().parents[2]
NO_CAP = 2**62
#: parity tolerance with pysodmetrics (the issue's 1e-10)
WFM_ATOL = 1e-10


# ----------------------------------------------------------------------------- references


def pysod_wfm(pred: np.ndarray, gt: np.ndarray, normalize: bool = True) -> float:
    m = py_sod_metrics.WeightedFmeasure()
    m.step(pred, gt, normalize=normalize)
    return float(m.get_results()["wfm"])


# ----------------------------------------------------------------------------- case generator


def _u8(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 255, 0).astype(np.uint8)


def _line(mask: np.ndarray, r0: float, c0: float, r1: float, c1: float, width: int) -> None:
    h, w = mask.shape
    n = int(2 * max(abs(r1 - r0), abs(c1 - c0))) + 2
    rr, cc = np.linspace(r0, r1, n), np.linspace(c0, c1, n)
    for d in range(width):
        for e in range(width):
            r = np.clip(np.round(rr + d).astype(int), 0, h - 1)
            mask[r, np.clip(np.round(cc + e).astype(int), 0, w - 1)] = True


def _tree(mask, rng, r, c, angle, length, width, depth):
    if depth == 0 or length < 2:
        return
    r1, c1 = r + length * np.sin(angle), c + length * np.cos(angle)
    _line(mask, r, c, r1, c1, width)
    for turn in (-0.5, 0.45):
        _tree(mask, rng, r1, c1, angle + turn + rng.uniform(-0.2, 0.2), 0.7 * length, max(1, width - 1), depth - 1)


def _ellipse(h, w, cy, cx, ry, rx):
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def _blur(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1:
        return x
    y = np.pad(x, k // 2, mode="edge")
    c = np.cumsum(np.pad(y, ((0, 0), (1, 0))), axis=1)
    y = (c[:, k:] - c[:, :-k]) / k
    c = np.cumsum(np.pad(y, ((1, 0), (0, 0))), axis=0)
    return ((c[k:] - c[:-k]) / k)[: x.shape[0], : x.shape[1]]


def _pred_from(gt: np.ndarray, rng, shift=1, blur=3, noise=0.1) -> np.ndarray:
    x = np.roll(gt.astype(np.float64), (shift, -shift), axis=(0, 1))
    x = _blur(x, blur) + noise * rng.standard_normal(gt.shape)
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def _case(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(pred_u8, gt_u8) for a named case, regenerated from a seed derived from the name."""
    rng = np.random.default_rng(sum(map(ord, name)) * 7919)
    kind, _, size = name.partition("@")
    h, w = (int(v) for v in size.split("x")) if size else (48, 56)
    g = np.zeros((h, w), bool)
    if kind.startswith("line"):
        width = int(kind[-1])
        _line(g, 1, 2, h - 3, w - 4, width)
        _line(g, h - 3, 1, 2, w - 3, width)
    elif kind == "grid":
        g[::4, :] = True
        g[:, ::5] = True
    elif kind == "fence":
        g[:, 3::7] = True
        g[h // 3, :] = True
    elif kind.startswith("tree"):
        _tree(g, rng, h - 2, w / 2, -np.pi / 2, h * 0.35, int(kind[-1]), 5)
    elif kind == "blob_holes":
        g = _ellipse(h, w, h / 2, w / 2, h * 0.4, w * 0.4)
        g &= ~_ellipse(h, w, h * 0.4, w * 0.4, h * 0.1, w * 0.08)
        g &= ~_ellipse(h, w, h * 0.6, w * 0.62, h * 0.06, w * 0.12)
    elif kind == "mixed":
        g = _ellipse(h, w, h * 0.35, w * 0.3, h * 0.18, w * 0.12) | _ellipse(h, w, h * 0.7, w * 0.65, h * 0.15, w * 0.2)
        g &= ~_ellipse(h, w, h * 0.7, w * 0.65, h * 0.05, w * 0.06)
        _tree(g, rng, h * 0.95, w * 0.5, -np.pi / 2, h * 0.3, 4, 6)
    elif kind == "checker":
        g = (np.add.outer(np.arange(h), np.arange(w)) % 2) == 0
    elif kind == "diamond":  # symmetric shape: many equidistant nearest GT pixels
        yy, xx = np.mgrid[:h, :w]
        g = (np.abs(yy - h // 2) + np.abs(xx - w // 2)) % 6 == 0
    elif kind == "dots":  # isolated pixels on a lattice: ties everywhere between them
        g[1::6, 2::6] = True
    elif kind == "random":
        g = rng.random((h, w)) < 0.3
    elif kind == "corner":  # small object in a corner: distances beyond the saturation of B (265 px)
        g[2:9, 3:12] = True
        g[5, 3:40] = True
    elif kind == "single_px":
        g[h // 2, w // 3] = True
    elif kind == "full_gt":
        g[:] = True
    elif kind == "empty_gt":
        pass
    else:  # pragma: no cover
        raise KeyError(name)
    source = _ellipse(h, w, h / 2, w / 2, h / 4, w / 4) if kind in ("empty_gt", "full_gt") else g
    return _pred_from(source, rng), _u8(g)


CASES = [
    "line1", "line2", "line3", "grid", "fence", "tree1", "tree3", "blob_holes", "mixed@96x80", "checker@17x23",
    "diamond@41x41", "dots@37x29", "random@8x8", "random@1x57", "random@45x1", "random@1x1", "random@2x3",
    "single_px@9x11", "full_gt@16x16", "empty_gt@16x16", "line1@17x23", "tree2@64x40",
]  # fmt: skip
LARGE_CASES = ["mixed@512x512", "mixed@300x520", "tree1@256x256", "grid@257x300", "corner@700x60", "corner@50x720",
               "corner@400x400"]


def _pred_variants(pred: np.ndarray, gt: np.ndarray):
    yield "pred", pred
    yield "const77", np.full_like(pred, 77)
    yield "zeros", np.zeros_like(pred)
    yield "full", np.full_like(pred, 255)
    yield "exact_gt", gt.copy()
    yield "inverted", 255 - pred
    yield "binary128", np.where(pred > 100, 128, 0).astype(np.uint8)
    yield "low_contrast", (100 + pred // 12).astype(np.uint8)


# ----------------------------------------------------------------------------- parity with pysodmetrics


@pytest.mark.parity
@pytest.mark.parametrize("name", CASES)
def test_matches_pysod(name):
    pred, gt = _case(name)
    for variant, p in _pred_variants(pred, gt):
        ref = pysod_wfm(p, gt)
        ours = weighted_fmeasure(p, gt)
        assert abs(ours - ref) <= WFM_ATOL, (name, variant, ours, ref)


@pytest.mark.parity
@pytest.mark.parametrize("name", LARGE_CASES)
def test_matches_pysod_large(name):
    pred, gt = _case(name)
    assert abs(weighted_fmeasure(pred, gt) - pysod_wfm(pred, gt)) <= WFM_ATOL


@pytest.mark.parity
@pytest.mark.parametrize("name", ["mixed@96x80", "grid", "dots@37x29", "random@8x8"])
def test_normalize_false_matches_pysod(name):
    pred, gt = _case(name)
    p = pred.astype(np.float64) / 255 * 0.8 + 0.05  # a float map in [0, 1] that min-max would change
    ref = pysod_wfm(p, gt > 128, normalize=False)
    assert abs(weighted_fmeasure(p, gt, normalize=False) - ref) <= WFM_ATOL
    # normalize=True on a float map: pysod's min-max step, then the same computation
    assert abs(weighted_fmeasure(p, gt) - pysod_wfm(minmax_normalize(p), gt > 128, normalize=False)) <= WFM_ATOL


@pytest.mark.parity
def test_internal_image_function_matches_public():
    pred, gt = _case("mixed@96x80")
    pn = minmax_normalize(pred.astype(np.float64) / 255)
    g = gt > 128
    assert _weighted_fmeasure_image(pn, g) == weighted_fmeasure(pred, gt)
    assert abs(_weighted_fmeasure_image(pn, g, beta=1.0) - pysod_wfm(pn, g, normalize=False)) <= WFM_ATOL
    assert _weighted_fmeasure_image(pn, np.zeros_like(g)) == 0.0


@pytest.mark.parity
@pytest.mark.parametrize("beta", [0.3, 2.0])
def test_other_beta_matches_pysod(beta):
    pred, gt = _case("tree3")
    m = py_sod_metrics.WeightedFmeasure(beta=beta)
    m.step(pred, gt)
    assert abs(weighted_fmeasure(pred, gt, beta=beta) - float(m.get_results()["wfm"])) <= WFM_ATOL


@pytest.mark.parity
@given(
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    p_fg=st.sampled_from([0.02, 0.1, 0.4, 0.8]),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_pairs_match_pysod(h, w, p_fg, seed):
    rng = np.random.default_rng(seed)
    gt = _u8(rng.random((h, w)) < p_fg)
    pred = rng.integers(0, 256, (h, w)).astype(np.uint8)
    assert abs(weighted_fmeasure(pred, gt) - pysod_wfm(pred, gt)) <= WFM_ATOL


# ----------------------------------------------------------------------------- building blocks


def test_separable_factors_reproduce_the_gaussian_within_ulps():
    """EA is computed separably: the 7×7 kernel must be the outer product of the two factors."""
    krn = _gaussian_kernel()
    u, v = separable_factors(krn)
    np.testing.assert_allclose(np.outer(u, v), krn, rtol=4 * np.finfo(np.float64).eps, atol=0)
    np.testing.assert_array_equal(u, u[::-1])  # symmetric, like the kernel
    np.testing.assert_array_equal(v, v[::-1])


def test_gaussian_kernel_and_importance_table_match_pysod():
    np.testing.assert_array_equal(_gaussian_kernel(), py_sod_metrics.WeightedFmeasure().matlab_style_gauss2D((7, 7), 5))
    table = _importance_table()
    d2 = np.arange(3 * table.shape[0])
    d = np.sqrt(d2.astype(np.float64))
    ref = 2 - np.exp(np.log(0.5) / 5 * d)  # pysod's B on ¬G, elementwise
    ours = table[np.minimum(d2, table.shape[0] - 1)]
    np.testing.assert_array_equal(ours, ref)
    assert table[-1] == 2.0 and np.all(table[:-1] < 2.0)


def _check_edt(mask: np.ndarray) -> None:
    d2, rows, cols = feature_transform(mask, NO_CAP)
    dist, (ri, ci) = distance_transform_edt(~mask, return_indices=True)
    np.testing.assert_array_equal(rows, ri)
    np.testing.assert_array_equal(cols, ci)
    np.testing.assert_array_equal(np.sqrt(d2.astype(np.float64)), dist)


def _brute_force_feature(mask: np.ndarray):
    """Nearest feature by the rule scipy's ties follow: lexicographic min of (d², column, row)."""
    fr, fc = np.nonzero(mask)
    h, w = mask.shape
    rows = np.empty((h, w), int)
    cols = np.empty((h, w), int)
    for y in range(h):
        for x in range(w):
            d2 = (fr - y) ** 2 + (fc - x) ** 2
            k = np.lexsort((fr, fc, d2))[0]
            rows[y, x], cols[y, x] = fr[k], fc[k]
    return rows, cols


@given(
    h=st.integers(1, 16),
    w=st.integers(1, 16),
    p_fg=st.sampled_from([0.03, 0.1, 0.3, 0.7]),
    sym=st.sampled_from(["none", "h", "v", "hv", "transpose"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_edt_matches_scipy_including_ties(h, w, p_fg, sym, seed):
    rng = np.random.default_rng(seed)
    m = rng.random((h, w)) < p_fg
    if sym in ("h", "hv"):
        m |= m[:, ::-1]
    if sym in ("v", "hv"):
        m |= m[::-1]
    if sym == "transpose" and h == w:
        m |= m.T
    if not m.any():
        m[rng.integers(h), rng.integers(w)] = True
    _check_edt(m)
    rows, cols = _brute_force_feature(m)
    _, (ri, ci) = distance_transform_edt(~m, return_indices=True)
    np.testing.assert_array_equal(rows, ri)
    np.testing.assert_array_equal(cols, ci)


@pytest.mark.parametrize("step", [2, 3, 4, 6])
@pytest.mark.parametrize("shape", [(7, 7), (13, 20), (31, 17)])
def test_edt_on_lattices_and_special_masks(step, shape):
    m = np.zeros(shape, bool)
    m[::step, ::step] = True  # equidistant lattice points: ties in every cell
    _check_edt(m)
    m = np.zeros(shape, bool)
    m[shape[0] // 2, shape[1] // 2] = True  # single pixel
    _check_edt(m)
    _check_edt(np.ones(shape, bool))  # all foreground: every pixel is its own feature
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    _check_edt((np.abs(yy - shape[0] // 2) + np.abs(xx - shape[1] // 2)) % step == 0)  # diamonds


@pytest.mark.parametrize("cap", [1, 2, 5, 18, 50])
def test_edt_cap_keeps_small_distances_exact(cap):
    rng = np.random.default_rng(cap)
    m = rng.random((40, 37)) < 0.01
    m[20, 18] = True
    d2, rows, cols = feature_transform(m, cap)
    dist, (ri, ci) = distance_transform_edt(~m, return_indices=True)
    ref_d2 = np.round(dist**2).astype(np.int64)
    small = ref_d2 < cap
    np.testing.assert_array_equal(d2[small], ref_d2[small])
    np.testing.assert_array_equal(rows[small], ri[small])
    np.testing.assert_array_equal(cols[small], ci[small])
    far = d2[~small]
    assert ((far >= cap) | (far == -1)).all()  # -1: a row without any candidate below the cap


def _edt_off_features(mask: np.ndarray, cap: int, nxt_dtype, hcol_dtype):
    """The row pass weighted F runs: inner pixels of feature runs left out of every envelope."""
    h, w = mask.shape
    nxt = np.empty((h, w), nxt_dtype)
    next_row_below(mask, nxt)
    last = np.full(w, -1, np.int32)
    near = np.empty(w, np.int32)
    hcol = np.empty(w, hcol_dtype)
    sst, hst, ends = (np.empty(w, np.int64) for _ in range(3))
    d2 = np.full((h, w), -1, np.int64)
    rows = np.full((h, w), -1, np.int32)
    cols = np.full((h, w), -1, np.int32)
    for y in range(h):
        row_heights(mask[y], nxt[y], y, last, near, hcol, cap, True)
        n = lower_envelope(hcol, cap, sst, hst)
        fill_row(sst, hst, n, ends, near, d2[y], rows[y], cols[y])
    return d2, rows, cols


@given(
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    p_fg=st.sampled_from([0.05, 0.2, 0.5]),
    widen=st.integers(0, 3),
    seed=st.integers(0, 2**31 - 1),
)
def test_edt_without_inner_run_pixels_is_exact_off_the_features(h, w, p_fg, widen, seed):
    # leaving the inner pixels of each row's feature runs out of the envelope changes nothing at a
    # non-feature pixel, ties included (scipy's indices), in both arithmetic paths of row_heights
    rng = np.random.default_rng(seed)
    m = rng.random((h, w)) < p_fg
    for _ in range(widen):  # long horizontal runs (and plenty of equidistant pairs)
        m[:, 1:] |= m[:, :-1]
    if not m.any():
        m[rng.integers(h), rng.integers(w)] = True
    dist, (ri, ci) = distance_transform_edt(~m, return_indices=True)
    ref_d2 = np.round(dist**2).astype(np.int64)
    off = ~m
    paths = ((NO_CAP, np.int32, np.int64), (70226, np.int16, np.int32), (9, np.int16, np.int32))
    for cap, nxt_dtype, hcol_dtype in paths:
        d2, rows, cols = _edt_off_features(m, cap, nxt_dtype, hcol_dtype)
        sel = off & (ref_d2 < cap)
        np.testing.assert_array_equal(d2[sel], ref_d2[sel])
        np.testing.assert_array_equal(rows[sel], ri[sel])
        np.testing.assert_array_equal(cols[sel], ci[sel])
        far = d2[off & ~sel]
        assert ((far >= cap) | (far == -1)).all()


def test_edt_without_features_is_minus_one():
    d2, rows, cols = feature_transform(np.zeros((5, 6), bool), NO_CAP)
    assert (d2 == -1).all() and (rows == -1).all() and (cols == -1).all()


def test_edt_on_a_larger_mask():
    rng = np.random.default_rng(3)
    _check_edt(rng.random((300, 257)) < 0.002)


# ----------------------------------------------------------------------------- properties


@given(
    h=st.integers(2, 20),
    w=st.integers(2, 20),
    seed=st.integers(0, 2**31 - 1),
)
def test_bounds_perfect_and_empty(h, w, seed):
    rng = np.random.default_rng(seed)
    gt = rng.random((h, w)) < 0.4
    pred = rng.random((h, w))
    score = weighted_fmeasure(pred, gt)
    assert 0.0 <= score <= 1.0
    if gt.any():
        assert weighted_fmeasure(gt.astype(np.float64), gt) == pytest.approx(1.0, abs=1e-12)
        assert weighted_fmeasure(gt.astype(np.float64), gt) >= score
    assert weighted_fmeasure(pred, np.zeros((h, w), bool)) == 0.0
    assert weighted_fmeasure(np.zeros((h, w)), np.zeros((h, w), bool)) == 0.0


@given(seed=st.integers(0, 2**31 - 1), h=st.integers(1, 18), w=st.integers(1, 18))
def test_uint8_and_float_inputs_agree(seed, h, w):
    rng = np.random.default_rng(seed)
    pred = rng.integers(0, 256, (h, w)).astype(np.uint8)
    gt = _u8(rng.random((h, w)) < 0.5)
    a = weighted_fmeasure(pred, gt)
    assert weighted_fmeasure(pred / 255, gt / 255) == a
    assert weighted_fmeasure(pred.astype(np.float32) / np.float32(255), gt > 128) == pytest.approx(a, abs=1e-6)
    assert weighted_fmeasure(pred / 255, gt > 128, normalize=False) == weighted_fmeasure(pred, gt, normalize=False)


def test_batch_list_and_torch_inputs():
    pairs = [_case(n) for n in ("line2", "blob_holes", "tree3")]
    single = np.array([weighted_fmeasure(p, g) for p, g in pairs])
    preds = np.stack([p for p, _ in pairs])
    gts = np.stack([g for _, g in pairs])
    np.testing.assert_array_equal(weighted_fmeasure(preds, gts), single)
    np.testing.assert_array_equal(weighted_fmeasure(preds[:, None], gts[:, None]), single)
    np.testing.assert_array_equal(weighted_fmeasure(torch.from_numpy(preds), torch.from_numpy(gts)), single)
    assert weighted_fmeasure(torch.from_numpy(preds[0]), torch.from_numpy(gts[0])) == single[0]
    # a list of differently sized maps
    mixed = [_case("mixed@96x80"), _case("checker@17x23")]
    out = weighted_fmeasure([p for p, _ in mixed], [g for _, g in mixed])
    assert out.shape == (2,) and out.dtype == np.float64
    assert out[1] == weighted_fmeasure(*mixed[1])
    assert isinstance(weighted_fmeasure(*mixed[0]), float)


def test_float_torch_prediction_and_bool_gt():
    pred, gt = _case("tree1")
    p = torch.from_numpy(pred.astype(np.float64) / 255)
    assert weighted_fmeasure(p, torch.from_numpy(gt > 128)) == weighted_fmeasure(pred, gt)


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("pred", "gt", "exc", "match"),
    [
        (np.zeros((4, 5)), np.zeros((4, 6), bool), ValueError, r"same shape.*\(4, 5\).*\(4, 6\)"),
        (np.full((4, 4), np.nan), np.zeros((4, 4), bool), ValueError, r"`pred` must be finite"),
        (np.full((4, 4), 1.5), np.zeros((4, 4), bool), ValueError, r"`pred` .* \[0, 1\]"),
        (np.zeros((4, 4), np.int32), np.zeros((4, 4), bool), TypeError, r"`pred` must be uint8.*int32"),
        (np.zeros((0, 4)), np.zeros((0, 4), bool), ValueError, r"`pred` must not be empty"),
        (np.zeros((2, 3, 4, 4)), np.zeros((2, 3, 4, 4), bool), ValueError, r"`pred` .* one channel"),
        (np.zeros((4, 4)), np.zeros((2, 4, 4), bool), ValueError, r"both be single"),
        ("a", np.zeros((4, 4), bool), TypeError, r"`pred` must be a numpy array"),
    ],
)
def test_bad_inputs(pred, gt, exc, match):
    with pytest.raises(exc, match=match):
        weighted_fmeasure(pred, gt)


def test_bad_options():
    p, g = np.zeros((4, 4)), np.zeros((4, 4), bool)
    with pytest.raises(ValueError, match=r"`beta` must be finite and > 0; got -1"):
        weighted_fmeasure(p, g, beta=-1)
    with pytest.raises(TypeError, match=r"`beta` must be a number; got str"):
        weighted_fmeasure(p, g, beta="1")
    with pytest.raises(TypeError, match=r"`normalize` must be a bool; got int"):
        weighted_fmeasure(p, g, normalize=1)


# ----------------------------------------------------------------------------- pure-Python escape hatch


def test_kernels_run_without_jit():
    """``SEGMETRICS_DISABLE_JIT=1`` runs the kernels as plain Python with the same result."""
    pred, gt = _case("dots@37x29")
    pred, gt = pred[:12, :10], gt[:12, :10]
    code = textwrap.dedent(
        f"""
        import numpy as np
        from segmetrics import weighted_fmeasure
        pred = np.array({pred.tolist()}, np.uint8)
        gt = np.array({gt.tolist()}, np.uint8)
        print(repr(weighted_fmeasure(pred, gt)))
        """
    )
    env = {**os.environ, "SEGMETRICS_DISABLE_JIT": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert float(out.stdout.strip()) == weighted_fmeasure(pred, gt)


@pytest.mark.parity
def test_tall_image_uses_int32_column_pass():
    """More than 32767 rows: the EDT column pass switches from int16 to int32."""
    rng = np.random.default_rng(5)
    gt = np.zeros((32800, 3), np.uint8)
    gt[[10, 16000, 32790], 1] = 255
    pred = rng.integers(0, 256, gt.shape).astype(np.uint8)
    assert abs(weighted_fmeasure(pred, gt) - pysod_wfm(pred, gt)) <= WFM_ATOL
