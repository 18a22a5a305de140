"""Memory safety of the numba kernels and validation of auxiliary inputs (issue 11, items 0a and 9).

The fuzz and the JIT-disabled checks run in subprocesses, so that a kernel that corrupts memory fails
one test (with the signal named) instead of killing the test run.
"""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from skimage import data

import segmetrics as sm

ROOT = Path(__file__).resolve().parents[2]
FUZZ = Path(__file__).with_name("fuzz_metrics.py")


def _run(args, env_extra=None, timeout=600):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        pytest.fail(f"subprocess killed by {name}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    assert proc.returncode == 0, f"exit status {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _narrow_uint8_cases():
    gt = data.horse() == 0  # the horse (True) on a white background
    gt = gt[::4, ::4]
    rng = np.random.default_rng(0)
    yield "binary 0/1", gt.astype(np.uint8), gt
    yield "three levels", (100 + rng.integers(0, 3, gt.shape)).astype(np.uint8), gt
    yield "two high levels", np.where(gt, 255, 254).astype(np.uint8), gt
    coins = data.coins()[::4, ::4]
    yield "low-contrast photo", (coins // 64 + 7).astype(np.uint8), coins > 100


NARROW = list(_narrow_uint8_cases())


@pytest.mark.parametrize(("label", "pred", "gt"), NARROW, ids=[c[0] for c in NARROW])
def test_narrow_range_uint8_matches_float_path(label, pred, gt):
    # uint8 predictions take the 256-level lookup-table path, float ones the per-pixel path: same values
    ru = sm.compute_all(pred, gt, metrics=("fm", "em", "sm", "wfm", "mae"))
    rf = sm.compute_all(pred / 255.0, gt, metrics=("fm", "em", "sm", "wfm", "mae"))
    np.testing.assert_array_equal(ru.fm.curve, rf.fm.curve)
    np.testing.assert_array_equal(ru.em.curve, rf.em.curve)
    for key in ("sm", "wfm", "mae"):
        assert abs(getattr(ru, key) - getattr(rf, key)) < 1e-10, (label, key)
    assert sm.emeasure(pred, gt, compat="matlab").adaptive == sm.emeasure(pred / 255.0, gt, compat="matlab").adaptive


def test_narrow_range_uint8_with_jit_disabled():
    # without the JIT, numpy raises on the out-of-range table index (510 for a 0/1 mask) and on the
    # skeleton's candidate list sized by a wrapped uint8 count (>= 256 foreground pixels)
    script = textwrap.dedent(
        """
        import numpy as np, segmetrics as sm
        gt = np.zeros((40, 40), bool); gt[5:30, 8:32] = True
        for pred in (gt.astype(np.uint8), np.where(gt, 101, 100).astype(np.uint8)):
            r = sm.compute_all(pred, gt)
            assert r.fm.max == 1.0 and r.mae == 0.0, r
            e8, ef = sm.emeasure(pred, gt, compat="matlab"), sm.emeasure(pred / 255, gt, compat="matlab")
            assert np.array_equal(e8.curve, ef.curve) and e8.adaptive == ef.adaptive
        print(int(sm.skeletonize(gt).sum()))
        """
    )
    out = _run(["-c", script], {"SEGMETRICS_DISABLE_JIT": "1"})
    assert int(out.split()[-1]) == int(sm.skeletonize(np.pad(np.ones((25, 24), bool), ((5, 10), (8, 8)))).sum())


def test_skeleton_jit_disabled_matches_compiled(tmp_path):
    # item 9: both paths must give the same skeleton on real masks with thousands of pixels
    masks = {"horse": data.horse() == 0, "coins": data.coins() > 100}
    for name, m in masks.items():
        np.save(tmp_path / f"{name}.npy", m)
    script = "import sys, numpy as np, segmetrics as sm\n" + "\n".join(
        f"np.save(sys.argv[1] + '/{n}_skel.npy', sm.skeletonize(np.load(sys.argv[1] + '/{n}.npy')))" for n in masks
    )
    _run(["-c", script, str(tmp_path)], {"SEGMETRICS_DISABLE_JIT": "1"})
    for name, m in masks.items():
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}_skel.npy"), sm.skeletonize(m))


@pytest.mark.parametrize("shape", [(30, 40), (33, 40), (30, 47), (20, 30)])
def test_wrong_shape_hce_skeleton_is_rejected_before_any_kernel(shape):
    gt = np.zeros((30, 40), bool)
    gt[5:20, 5:30] = True
    pred = gt.astype(np.uint8) * 255
    skel = np.ones(shape, bool)
    if shape == gt.shape:
        assert sm.compute_all(pred, gt, hce_skeleton=skel).hce.total >= 0
        return
    msg = rf"`hce_skeleton` must have the shape of `gt` \(30, 40\); got \({shape[0]}, {shape[1]}\)"
    with pytest.raises(ValueError, match=msg):
        sm.compute_all(pred, gt, hce_skeleton=skel)
    with pytest.raises(ValueError, match=msg):
        sm.compute_all(pred, gt, metrics=("fm",), hce_skeleton=skel)
    acc = sm.DatasetMetrics()
    with pytest.raises(ValueError, match=msg):
        acc.update(pred, gt, hce_skeleton=skel)
    with pytest.raises(ValueError, match=r"`hce_skeleton` \(item 0\) must have the shape of `gt`"):
        acc.update(pred[None], gt[None], hce_skeleton=skel[None])
    with pytest.raises(ValueError, match=r"`skeleton` must have the shape of `gt`"):
        sm.hce(pred, gt, skeleton=skel)
    assert acc.n_images == 0


def test_hce_skeleton_count_mismatch():
    gt = np.zeros((2, 10, 10), bool)
    with pytest.raises(ValueError, match="`hce_skeleton` must hold 2 maps, one per image; got 3"):
        sm.compute_all(gt.astype(np.uint8), gt, hce_skeleton=[np.zeros((10, 10), bool)] * 3)
    with pytest.raises(ValueError, match="`hce_skeleton` must be a batch"):
        sm.DatasetMetrics().update(gt.astype(np.uint8), gt, hce_skeleton=np.zeros((10, 10), bool))


def test_fuzz_every_public_metric_in_a_subprocess():
    # dtypes x value ranges x shapes x auxiliary inputs; fails on any signal, IndexError (with
    # NUMBA_BOUNDSCHECK=1 in CI) or other unexpected exception
    assert "fuzz ok" in _run([str(FUZZ), "60"])


def test_fuzz_with_jit_disabled():
    assert "fuzz ok" in _run([str(FUZZ), "25"], {"SEGMETRICS_DISABLE_JIT": "1"})
