from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from loss_zoo import HostSyncCounter
from torch.nn import functional as F

import segloss
from segloss import (
    DeepSupervisionLoss,
    FeatureConsistencyLoss,
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


def test_module_weights_checked_and_copied_at_construction():
    with pytest.raises(ValueError, match=r"`side_weights\[1\]` must be >= 0.0; got -1"):
        ISNetLoss(side_weights=[1.0, -1])
    with pytest.raises(TypeError, match="`feature_weights` must be a sequence of numbers or None; got float"):
        ISNetLoss(feature_weights=1.0)
    for cls in (DeepSupervisionLoss, FeatureConsistencyLoss):
        with pytest.raises(TypeError, match="`weights` must be a sequence of numbers or None; got float"):
            cls(weights=1.0)
    sides, gt, s, t = _small_case()
    weights = [1.0, 0.5]
    crit = ISNetLoss(side_weights=weights, feature_weights=torch.tensor([2.0]))
    weights[1] = 100.0  # the caller's list is copied, not shared
    total, _ = crit(sides, gt, s, t)
    torch.testing.assert_close(total, isnet_loss(sides, gt, s, t, side_weights=[1.0, 0.5], feature_weights=[2.0])[0])


def test_module_tensor_weights_no_host_sync_and_compile():
    sides, gt, s, t = _small_case()
    crit = ISNetLoss(side_weights=torch.tensor([1.0, 0.5]), feature_weights=torch.tensor([2.0]))
    segloss.set_value_checks(False)
    try:
        with HostSyncCounter() as counter:
            crit(sides, gt, s, t)[0].backward()
    finally:
        segloss.set_value_checks(True)
    assert counter.calls == []
    compiled = torch.compile(crit, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(sides, gt, s, t)[0], crit(sides, gt, s, t)[0])


def test_value_checks_cost_one_read():
    sides, gt, s, t = _small_case()
    with HostSyncCounter() as counter:
        total, parts = isnet_loss(sides, gt, s, t, side_weights=[1.0, 0.5])
    assert torch.isfinite(total)
    assert counter.calls == ["tolist"]  # deep supervision + feature consistency + "side_first": one read
    torch.testing.assert_close(parts["side_first"], F.binary_cross_entropy_with_logits(sides[0], gt[:, None]))
    meta = [x.to("meta") for x in s]
    with pytest.raises(ValueError, match=r"`student_features\[0\]` and `side_outputs\[0\]` must be on the same device"):
        isnet_loss(sides, gt, meta, [x.to("meta") for x in t])


def test_probabilities_passed_as_logits_warn():
    sides, gt, s, t = _small_case()
    probs = [torch.sigmoid(x) for x in sides]  # what the authors' ISNetDIS.forward returns
    with pytest.warns(UserWarning, match=r"`side_outputs` lie in \[0, 1\] at every level: they look like probab"):
        isnet_loss(probs, gt, s, t)
    with pytest.warns(UserWarning, match="or pass from_logits=False"):
        DeepSupervisionLoss()(probs, gt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        isnet_loss(probs, gt, s, t, from_logits=False)  # declared probabilities
        isnet_loss(sides, gt, s, t)  # logits
        deep_supervision_loss([torch.zeros(2, 1, 8, 8), torch.full((2, 1, 4, 4), 0.5)], gt)  # constant heads
        segloss.set_value_checks(False)
        try:
            isnet_loss(probs, gt, s, t)  # no data read, no warning
        finally:
            segloss.set_value_checks(True)
