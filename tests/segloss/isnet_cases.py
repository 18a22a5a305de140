"""Inputs and golden values of the authors' IS-Net loss fusion (xuebinqin/DIS), shared by the IS-Net loss tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "isnet_multi_loss_fusion.npz"
SIDE_SIZES = (16, 16, 8, 6, 4, 3)
FEAT_SHAPES = ((4, 8, 8), (4, 4, 4), (8, 2, 2), (8, 2, 2), (8, 1, 1), (8, 1, 1))
MODES = {"MSE": "mse", "KL": "kl", "MAE": "mae", "SmoothL1": "smooth_l1"}


def make_isnet_case(seed: int, n: int = 2, size: int = 16):
    """Inputs of the golden file, regenerated exactly as its provenance describes."""
    rng = np.random.default_rng(seed)
    sides = [rng.normal(0.0, 2.0, size=(n, 1, s, s)) for s in SIDE_SIZES]
    target = (rng.random((n, 1, size, size)) > 0.5).astype(np.float64)
    student = [rng.normal(0.0, 1.0, size=(n, *sh)) for sh in FEAT_SHAPES]
    teacher = [rng.normal(0.0, 1.0, size=(n, *sh)) for sh in FEAT_SHAPES]
    return sides, target, student, teacher


def load_golden():
    return np.load(DATA)
