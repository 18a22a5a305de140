"""HCEγ: golden values of the DIS script, pysodmetrics parity, a slow reference, properties, bad inputs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hce_cases import CASES, LARGE, blobs, case_hash, ellipse, make_case, scene, stamp_line
from hypothesis import given
from hypothesis import strategies as st
from scipy import ndimage
from skimage.measure import label as sk_label
from skimage.morphology import skeletonize as sk_skeletonize

from segmetrics import HCEDetails, HCEResult, hce, hce_details
from segmetrics.hce import _hce_image

GOLDEN = json.loads((Path(__file__).parent / "data" / "hce_golden_dis.json").read_text())
VARIANTS = {
    "default": {},
    "paper": {"iterations": "paper"},
    "gamma0": {"gamma": 0},
    "gamma2_eps1": {"gamma": 2, "epsilon": 1.0},
    "gamma3_eps4.5": {"gamma": 3, "epsilon": 4.5},
}
SMALL = [n for n in CASES if n not in LARGE]


def parts(r) -> list[int]:
    return [r.fp_points, r.fp_regions, r.fn_points, r.fn_regions]


# ----------------------------------------------------------------------------- a slow reference
def reference_hce(pred_fg, gt, skel, iters, epsilon=2.0, count_whole=False):
    """Straightforward HCE from the paper / the notes: scipy morphology, skimage labels, cv2 contours."""
    cross = ndimage.generate_binary_structure(2, 1)
    tp, fp, fn = pred_fg & gt, pred_fg & ~gt, gt & ~pred_fg
    union = pred_fg | gt
    eroded = ndimage.binary_erosion(union, cross, iterations=iters, border_value=1) if iters else union
    fp_r, fn_r = fp & eroded, fn & eroded
    for _ in range(iters):
        fp_r = ndimage.binary_dilation(fp_r, cross) & ~gt
        fn_r = ndimage.binary_dilation(fn_r, cross) & ~pred_fg
    fp_r &= fp
    fn_r = (fn_r & fn) | (skel & ~tp)

    def count(mask, cond):
        cond = ndimage.binary_dilation(cond, cross)
        labels, n = sk_label(mask, connectivity=2, return_num=True)
        contours = cv2.findContours(mask.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)[0]
        visited = np.zeros(mask.shape, bool)
        dependent = set()
        points = 0
        for contour in contours:
            runs, cur = [], []
            for x, y in contour.reshape(-1, 2):
                if cond[y, x] and not visited[y, x]:
                    cur.append((x, y))
                    visited[y, x] = True
                    dependent.add(labels[y, x])
                elif cur:
                    runs.append(cur)
                    cur = []
            if cur:
                runs.append(cur)
            if len(runs) > 1:
                (fx, fy), (lx, ly) = runs[0][0], runs[-1][-1]
                if max(abs(int(fx) - int(lx)), abs(int(fy) - int(ly))) == 1:
                    runs = [*runs[1:-1], runs[-1] + runs[0][::-1]]
            for run in runs:
                points += len(cv2.approxPolyDP(np.array(run, np.int32), epsilon, False))
        regions = n - len(dependent)
        if not count_whole and mask.all():
            regions = 0
        return points, regions

    return [*count(fp_r, tp | fn_r), *count(fn_r, ~(tp | fp_r | fn_r))]


# ----------------------------------------------------------------------------- golden values
def test_golden_file_provenance():
    prov = GOLDEN["provenance"]
    assert prov["reference"].startswith("xuebinqin/DIS")
    assert len(prov["commit"]) == 40
    assert set(GOLDEN["cases"]) == set(CASES)


@pytest.mark.parity
@pytest.mark.parametrize("name", list(CASES))
def test_golden_dis(name):
    rec = GOLDEN["cases"][name]
    pred, gt = make_case(name)
    assert case_hash(pred, gt) == rec["hash"], "the case generator drifted from the golden inputs"
    for variant, kwargs in VARIANTS.items():
        assert parts(hce(pred, gt, **kwargs)) == rec[variant], variant
    ske = sk_skeletonize(gt > 128)
    shifted = np.roll(ske, (3, -2), axis=(0, 1))
    assert parts(hce(pred, gt, skeleton=shifted)) == rec["shifted_skeleton"]
    # a precomputed skeleton read from a PNG (uint8, > 128) gives the computed-skeleton numbers
    ske_png = ske.astype(np.uint8) * 255
    assert parts(hce(pred, gt, skeleton=ske_png)) == rec["default"]


@pytest.mark.parity
@pytest.mark.parametrize("name", [*SMALL, "large_512x768"])
def test_pysod_parity(name):
    from py_sod_metrics import HumanCorrectionEffortMeasure

    pred, gt = make_case(name)
    m = HumanCorrectionEffortMeasure(relax=5, epsilon=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.step(pred, gt)
    ref = m.get_results()["hce"]
    assert hce(pred, gt, threshold="pysod", count_whole_image_region=True).total == ref


def test_known_convention_differences():
    # the whole-image quirk: empty GT, full prediction -> DIS 0, pysod 1
    pred, gt = make_case("empty_gt_full_pred")
    assert hce(pred, gt).total == 0
    assert hce(pred, gt, count_whole_image_region=True).to_dict() == {
        "total": 1, "fp_points": 0, "fp_regions": 1, "fn_points": 0, "fn_regions": 0,
    }  # fmt: skip
    # threshold: a map of exactly 128 is background for DIS, min-max mid-range decides for pysod
    pred, gt = make_case("low_contrast_pred")
    assert hce(pred, gt).total != hce(pred, gt, threshold="pysod").total


@pytest.mark.parity
@pytest.mark.parametrize("name", ["thin_lines_2px", "fence", "tree_b", "hair", "edge_touching", "row_1x57"])
@pytest.mark.parametrize("gamma", [0, 1, 5])
def test_reference_both_iteration_conventions(name, gamma):
    pred, gt = make_case(name)
    p, g = pred > 128, gt > 128
    skel = sk_skeletonize(g)
    assert parts(hce(pred, gt, gamma=gamma)) == reference_hce(p, g, skel, gamma)
    assert parts(hce(pred, gt, gamma=gamma, iterations="paper")) == reference_hce(p, g, skel, gamma + 1)


@pytest.mark.parity
def test_large_gamma_stops_at_the_fixed_point():
    pred, gt = make_case("islands_and_holes")
    p, g = pred > 128, gt > 128
    skel = sk_skeletonize(g)
    for gamma in (40, 300):
        assert parts(hce(pred, gt, gamma=gamma)) == reference_hce(p, g, skel, gamma)


# ----------------------------------------------------------------------------- cropping
@st.composite
def embedded_pairs(draw):
    """Small random content placed somewhere in a larger canvas (so the work region is cropped)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    h, w = draw(st.integers(1, 90)), draw(st.integers(1, 150))
    ch, cw = draw(st.integers(1, min(h, 30))), draw(st.integers(1, min(w, 40)))
    r0, c0 = draw(st.integers(0, h - ch)), draw(st.integers(0, w - cw))
    g = np.zeros((h, w), bool)
    p = np.zeros((h, w), np.uint8)
    gc = ndimage.binary_dilation(rng.random((ch, cw)) < 0.1, iterations=int(rng.integers(0, 3)))
    pc = gc ^ ndimage.binary_dilation(rng.random((ch, cw)) < 0.05, iterations=int(rng.integers(0, 3)))
    g[r0 : r0 + ch, c0 : c0 + cw] = gc
    p[r0 : r0 + ch, c0 : c0 + cw] = np.where(pc, rng.integers(129, 256, (ch, cw)), rng.integers(0, 129, (ch, cw)))
    return p, g.astype(np.uint8) * 255, draw(st.integers(0, 6)), draw(st.sampled_from(["code", "paper"]))


@pytest.mark.parity
@given(embedded_pairs())
def test_cropping_matches_uncropped_and_reference(case):
    pred, gt, gamma, iterations = case
    got = parts(hce(pred, gt, gamma=gamma, iterations=iterations))
    assert got == parts(hce_details(pred, gt, gamma=gamma, iterations=iterations))  # details: no cropping
    iters = gamma + (iterations == "paper")
    assert got == reference_hce(pred > 128, gt > 128, sk_skeletonize(gt > 128), iters)


@pytest.mark.parametrize("name", SMALL)
def test_cropped_equals_uncropped_on_cases(name):
    pred, gt = make_case(name)
    for kwargs in ({}, {"threshold": "pysod", "count_whole_image_region": True}, {"iterations": "paper"}):
        assert hce(pred, gt, **kwargs) == hce_details(pred, gt, **kwargs).result


# ----------------------------------------------------------------------------- details
def test_details_are_consistent():
    pred, gt = make_case("scene_320")
    d = hce_details(pred, gt)
    assert min(d.fp_points, d.fp_regions, d.fn_points, d.fn_regions) > 0
    assert isinstance(d, HCEDetails)
    assert d.result == hce(pred, gt)
    p, g = pred > 128, gt > 128
    np.testing.assert_array_equal(d.tp, p & g)
    np.testing.assert_array_equal(d.fp, p & ~g)
    np.testing.assert_array_equal(d.fn, g & ~p)
    np.testing.assert_array_equal(d.skeleton, sk_skeletonize(g))
    assert not (d.fp_relaxed & ~d.fp).any()
    assert not (d.fn_relaxed & ~(d.fn | (d.skeleton & ~d.tp))).any()
    assert sum(len(q) for q in d.fp_polylines) == d.fp_points
    assert sum(len(q) for q in d.fn_polylines) == d.fn_points
    assert len(d.fn_runs) == len(d.fn_polylines)
    for runs, cond, mask in ((d.fp_runs, d.fp_condition, d.fp_relaxed), (d.fn_runs, d.fn_condition, d.fn_relaxed)):
        pts = np.concatenate(runs)
        assert cond[pts[:, 1], pts[:, 0]].all() and mask[pts[:, 1], pts[:, 0]].all()
        assert len({tuple(q) for q in pts}) == len(pts)  # every boundary pixel is used once
    assert ndimage.label(d.fn_independent, np.ones((3, 3)))[1] == d.fn_regions
    assert ndimage.label(d.fp_independent, np.ones((3, 3)))[1] == d.fp_regions
    assert d.fp_labels.max() == ndimage.label(d.fp_relaxed, np.ones((3, 3)))[1]
    assert d.total == hce(pred, gt).total


def test_details_of_empty_pair():
    d = hce_details(np.zeros((5, 6), np.uint8), np.zeros((5, 6), np.uint8))
    assert d.total == 0 and d.fp_polylines == [] and not d.fn_relaxed.any()


# ----------------------------------------------------------------------------- properties
@st.composite
def soft_pairs(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 70))
    g = ndimage.binary_dilation(rng.random((h, w)) < 0.08, iterations=int(rng.integers(0, 4)))
    noise = ndimage.gaussian_filter(rng.random((h, w)), 1.0)
    pred = np.clip(ndimage.gaussian_filter(g.astype(float), 1.0) + 0.6 * (noise - 0.5), 0, 1)
    return np.rint(pred * 255).astype(np.uint8), g


@given(soft_pairs(), st.sampled_from(["official", "pysod"]), st.sampled_from(["code", "paper"]))
def test_properties(pair, threshold, iterations):
    pred, gt = pair
    kw = {"threshold": threshold, "iterations": iterations}
    r = hce(pred, gt, **kw)
    values = list(r.to_dict().values())
    assert all(isinstance(v, int) and v >= 0 for v in values)
    assert r.total == sum(parts(r))
    # uint8 and float predictions, bool and uint8 GT agree
    assert hce(pred / 255.0, gt.astype(np.uint8) * 255, **kw) == r
    assert hce(torch.from_numpy(pred), torch.from_numpy(gt), **kw) == r
    # a perfect prediction costs nothing
    assert hce(gt, gt, **kw).total == 0
    assert hce(gt.astype(np.uint8) * 255, gt, **kw).total == 0


def test_batches():
    pairs = [make_case(n) for n in ("tree", "hair", "odd_17x23", "empty_gt_full_pred")]
    singles = [hce(p, g) for p, g in pairs]
    batch = hce([p for p, _ in pairs], [g for _, g in pairs])
    assert isinstance(batch, HCEResult)
    for key in ("total", "fp_points", "fp_regions", "fn_points", "fn_regions"):
        arr = getattr(batch, key)
        assert arr.shape == (4,) and arr.dtype == np.int64
        np.testing.assert_array_equal(arr, [getattr(s, key) for s in singles])
    # stacked (N, H, W) and (N, 1, H, W) arrays and torch tensors
    p, g = make_case("thin_lines_2px")
    p2, g2 = make_case("thin_lines_1px")
    stack_p, stack_g = np.stack([p, p2]), np.stack([g, g2])
    expected = [hce(p, g).total, hce(p2, g2).total]
    np.testing.assert_array_equal(hce(stack_p, stack_g).total, expected)
    np.testing.assert_array_equal(hce(stack_p[:, None], stack_g[:, None]).total, expected)
    np.testing.assert_array_equal(hce(torch.from_numpy(stack_p), torch.from_numpy(stack_g)).total, expected)
    # per-image skeletons (None = compute)
    sk = [sk_skeletonize(g > 128), None]
    np.testing.assert_array_equal(hce(stack_p, stack_g, skeleton=sk).total, expected)
    sk_stack = np.stack([sk[0], sk_skeletonize(g2 > 128)])
    np.testing.assert_array_equal(hce(stack_p, stack_g, skeleton=sk_stack).total, expected)


def test_internal_entry_point():
    pred, gt = make_case("fence")
    out = _hce_image(pred / 255.0, gt > 128)
    assert out == tuple(parts(hce(pred, gt))) and all(type(v) is int for v in out)
    out = _hce_image(pred / 255.0, gt > 128, threshold="pysod", count_whole_image_region=True, iterations="paper")
    assert list(out) == parts(hce(pred, gt, threshold="pysod", count_whole_image_region=True, iterations="paper"))


def test_thin_structures_survive_through_the_skeleton():
    gt = np.zeros((40, 60), bool)
    stamp_line(gt, (20, 5), (20, 55), 1)
    gt |= ellipse(40, 60, 20, 30, 8, 8)
    pred = ellipse(40, 60, 20, 30, 8, 8)
    r = hce(pred, gt)
    assert r.fn_points > 0  # the 1-px line is thinner than gamma but still must be drawn
    assert hce(pred, gt, skeleton=np.zeros_like(gt)).fn_points == 0


def test_scene_generator_is_deterministic():
    a = scene(64, 80, 3)
    b = scene(64, 80, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert blobs(10, 10, np.random.default_rng(0), 2, 3).dtype == bool


# ----------------------------------------------------------------------------- bad inputs
def test_bad_inputs():
    p = np.zeros((8, 9), np.uint8)
    g = np.zeros((8, 9), bool)
    msg = r"`pred` and `gt` must have the same shape; got pred \(8, 9\) and gt \(8, 10\)"
    with pytest.raises(ValueError, match=msg):
        hce(p, np.zeros((8, 10), bool))
    with pytest.raises(ValueError, match=r"`skeleton` must have the shape of `gt` \(8, 9\); got \(8, 8\)"):
        hce(p, g, skeleton=np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match=r"`skeleton` \(item 1\) must have the shape of `gt`"):
        hce([p, p], [g, g], skeleton=[None, np.zeros((3, 3), bool)])
    with pytest.raises(ValueError, match="`skeleton` must hold 2 maps, one per image; got 1"):
        hce([p, p], [g, g], skeleton=[None])
    with pytest.raises(ValueError, match="`skeleton` must be a batch"):
        hce([p, p], [g, g], skeleton=np.zeros((8, 9), bool))
    with pytest.raises(ValueError, match="`gamma` must be an integer >= 0; got -1"):
        hce(p, g, gamma=-1)
    with pytest.raises(TypeError, match="`gamma` must be an integer >= 0; got float 2.5"):
        hce(p, g, gamma=2.5)
    with pytest.raises(ValueError, match=r"`epsilon` must be finite and > 0; got 0"):
        hce(p, g, epsilon=0)
    with pytest.raises(ValueError, match=r"`epsilon` must be finite and > 0; got -1.0"):
        hce(p, g, epsilon=-1.0)
    with pytest.raises(ValueError, match=r"`epsilon` must be < 1e30 \(OpenCV's approxPolyDP limit\); got 1e\+30"):
        hce(p, g, epsilon=1e30)
    with pytest.raises(ValueError, match=r"`epsilon` must be finite and > 0; got nan"):
        hce(p, g, epsilon=float("nan"))
    assert hce(*make_case("fence"), epsilon=1e29).total == hce(*make_case("fence"), epsilon=1e6).total
    with pytest.raises(ValueError, match=r"`threshold` must be one of \('official', 'pysod'\); got 'mid'"):
        hce(p, g, threshold="mid")
    with pytest.raises(ValueError, match=r"`iterations` must be one of \('code', 'paper'\); got 6"):
        hce(p, g, iterations=6)
    with pytest.raises(TypeError, match="`count_whole_image_region` must be a bool; got str"):
        hce(p, g, count_whole_image_region="yes")
    with pytest.raises(ValueError, match="`pred` must be finite"):
        hce(np.full((8, 9), np.nan), g)
    with pytest.raises(TypeError, match="`skeleton` must be bool, uint8"):
        hce(p, g, skeleton=np.zeros((8, 9), complex))
    with pytest.raises(ValueError, match="`hce_details` takes one"):
        hce_details([p], [g])


def test_pure_python_mode_gives_the_same_counts():
    """``SEGMETRICS_DISABLE_JIT=1`` runs the kernels as plain Python (debugging escape hatch)."""
    import os
    import subprocess
    import sys

    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from hce_cases import make_case; from segmetrics import hce;"
        "r = hce(*make_case('odd_17x23')); d = hce(*make_case('tiny_8x8'), threshold='pysod');"
        "print(json.dumps([r.fp_points, r.fp_regions, r.fn_points, r.fn_regions, d.total]))"
    )
    env = {**os.environ, "SEGMETRICS_DISABLE_JIT": "1"}
    out = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code, str(Path(__file__).parent)],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    expected = [*GOLDEN["cases"]["odd_17x23"]["default"], hce(*make_case("tiny_8x8"), threshold="pysod").total]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == expected
