from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from segloss import (
    ISNetLoss,
    deep_supervision_loss,
    isnet_loss,
)
from tests.segloss.isnet_cases import MODES, load_golden, make_isnet_case


@pytest.fixture(scope="module")
def golden():
    return load_golden()


@pytest.mark.parity
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("their_mode", list(MODES))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_isnet_loss_matches_authors(golden, seed, their_mode, dtype):
    sides, target, student, teacher = make_isnet_case(seed)
    lg = [torch.tensor(s, dtype=dtype, requires_grad=True) for s in sides]
    fs = [torch.tensor(s, dtype=dtype, requires_grad=True) for s in student]
    ft = [torch.tensor(s, dtype=dtype) for s in teacher]
    total, parts = isnet_loss(lg, torch.tensor(target, dtype=dtype), fs, ft, feature_mode=MODES[their_mode])
    total.backward()
    key = f"seed{seed}_{their_mode}"
    rtol = 1e-10 if dtype == torch.float64 else 1e-5
    np.testing.assert_allclose(total.item(), golden[key + "_loss"], rtol=rtol)
    np.testing.assert_allclose(parts["side_first"].item(), golden[key + "_loss0"], rtol=rtol)
    for i, x in enumerate(lg):
        ref = golden[key + f"_grad_side{i}"]
        np.testing.assert_allclose(x.grad.double().numpy(), ref, rtol=rtol, atol=rtol * np.abs(ref).max())
    for i, x in enumerate(fs):
        ref = golden[key + f"_grad_student{i}"]
        np.testing.assert_allclose(x.grad.double().numpy(), ref, rtol=rtol, atol=rtol * np.abs(ref).max())


def test_isnet_module_parts():
    torch.manual_seed(4)
    sides = [torch.randn(3, 1, 8, 8, requires_grad=True), torch.randn(3, 1, 4, 4)]
    gt = (torch.rand(3, 8, 8) > 0.5).float()
    s, t = [torch.randn(3, 4, 4, 4, requires_grad=True)], [torch.randn(3, 4, 4, 4)]
    total, parts = ISNetLoss(side_weights=[1.0, 0.5])(sides, gt, s, t)
    torch.testing.assert_close(total, parts["side"] + parts["feature"])
    torch.testing.assert_close(parts["side"], deep_supervision_loss(sides, gt, weights=[1.0, 0.5]).detach())
    torch.testing.assert_close(parts["side_first"], F.binary_cross_entropy_with_logits(sides[0], gt[:, None]))
    assert not any(v.requires_grad for v in parts.values())
    per, _ = ISNetLoss(reduction="none")(sides, gt, s, t)
    assert per.shape == (3,)


def _small_case(n=2):
    torch.manual_seed(5)
    sides = [torch.randn(n, 1, 8, 8, requires_grad=True), torch.randn(n, 1, 4, 4, requires_grad=True)]
    gt = (torch.rand(n, 8, 8) > 0.5).float()
    s, t = [torch.randn(n, 4, 4, 4, requires_grad=True)], [torch.randn(n, 4, 4, 4)]
    return sides, gt, s, t


def test_weight_errors_name_the_isnet_argument():
    sides, gt, s, t = _small_case()
    with pytest.raises(ValueError, match=r"`side_weights` must have one weight per level \(2\); got 3"):
        isnet_loss(sides, gt, s, t, side_weights=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"`feature_weights` must have one weight per level \(1\); got 2"):
        isnet_loss(sides, gt, s, t, feature_weights=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"`feature_weights\[0\]` must be >= 0.0; got -1.0"):
        isnet_loss(sides, gt, s, t, feature_weights=[-1.0])
