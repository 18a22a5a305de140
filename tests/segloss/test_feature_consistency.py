"""IS-Net feature consistency, deep supervision, total loss and GT-encoder freezing."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from segloss import (
    FeatureConsistencyLoss,
    deep_supervision_loss,
    feature_consistency_loss,
    freeze_gt_encoder,
    isnet_loss,
)
from tests.segloss.isnet_cases import load_golden


@pytest.fixture(scope="module")
def golden():
    return load_golden()


def test_golden_provenance(golden):
    prov = json.loads(str(golden["provenance"]))
    assert prov["repo"] == "github.com/xuebinqin/DIS"
    assert len(prov["commit"]) == 40
    assert "muti_loss_fusion_kl" in prov["functions"][0]


@pytest.mark.filterwarnings("ignore:reduction")
def test_feature_loss_formula_and_weights():
    torch.manual_seed(0)
    s = [torch.randn(3, 4, 5, 5), torch.randn(3, 2, 3, 3)]
    t = [torch.randn(3, 4, 5, 5), torch.randn(3, 2, 3, 3)]
    ref = F.mse_loss(s[0], t[0]) * 2.0 + F.mse_loss(s[1], t[1]) * 0.5
    got = feature_consistency_loss(s, t, weights=[2.0, 0.5])
    torch.testing.assert_close(got, ref)
    per = feature_consistency_loss(s, t, weights=[2.0, 0.5], reduction="none")
    assert per.shape == (3,)
    torch.testing.assert_close(per.mean(), got)
    torch.testing.assert_close(
        feature_consistency_loss(s, t, reduction="sum"),
        per.new_tensor(0) + (feature_consistency_loss(s, t, reduction="none").sum()),
    )
    kl = feature_consistency_loss(s[:1], t[:1], mode="kl")
    torch.testing.assert_close(kl, F.kl_div(F.log_softmax(s[0], 1), F.softmax(t[0], 1), reduction="mean"))
    mae = FeatureConsistencyLoss(mode="mae")(s, t)
    torch.testing.assert_close(mae, F.l1_loss(s[0], t[0]) + F.l1_loss(s[1], t[1]))


def test_teacher_is_detached():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, requires_grad=True)
    for mode in ("mse", "kl"):
        feature_consistency_loss([s], [t], mode=mode).backward()
    assert t.grad is None
    assert s.grad is not None and torch.isfinite(s.grad).all()


@pytest.mark.parametrize("mode", ["mse", "mae", "kl", "smooth_l1"])
def test_feature_gradcheck(mode):
    torch.manual_seed(1)
    s = [
        torch.randn(2, 3, 3, 3, dtype=torch.float64, requires_grad=True),
        torch.randn(2, 2, 2, 2, dtype=torch.float64, requires_grad=True),
    ]
    t = [torch.randn(2, 3, 3, 3, dtype=torch.float64), torch.randn(2, 2, 2, 2, dtype=torch.float64)]
    assert torch.autograd.gradcheck(
        lambda a, b: feature_consistency_loss([a, b], t, mode=mode, reduction="none"), tuple(s), fast_mode=True
    )


def test_autocast_bf16_and_half_inputs():
    torch.manual_seed(3)
    sides = [torch.randn(2, 1, 8, 8), torch.randn(2, 1, 4, 4)]
    gt = (torch.rand(2, 1, 8, 8) > 0.5).float()
    s = [torch.randn(2, 4, 4, 4), torch.randn(2, 8, 2, 2)]
    t = [torch.randn(2, 4, 4, 4), torch.randn(2, 8, 2, 2)]
    ref_total, _ = isnet_loss(sides, gt, s, t)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        total, parts = isnet_loss(
            [x.bfloat16() for x in sides], gt, [x.bfloat16() for x in s], [x.bfloat16() for x in t], feature_mode="mse"
        )
    assert total.dtype == torch.float32 and torch.isfinite(total)
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in parts.values())
    torch.testing.assert_close(total, ref_total, rtol=2e-2, atol=2e-2)
    half = feature_consistency_loss([x.half() for x in s], [x.half() for x in t], mode="kl")
    assert half.dtype == torch.float32 and torch.isfinite(half)
    half_ds = deep_supervision_loss([x.half() for x in sides], gt.half())
    assert half_ds.dtype == torch.float32
    torch.testing.assert_close(half_ds, deep_supervision_loss(sides, gt), rtol=1e-2, atol=1e-2)


def test_extreme_logits_finite():
    sides = [torch.full((2, 1, 8, 8), 1e4, requires_grad=True), torch.full((2, 1, 4, 4), -1e4, requires_grad=True)]
    gt = torch.zeros(2, 8, 8)
    gt[:, :4] = 1
    s = [torch.full((2, 4, 4, 4), 1e4, requires_grad=True)]
    t = [torch.full((2, 4, 4, 4), -1e4)]
    for mode in ("mse", "mae", "kl", "smooth_l1"):
        total, parts = isnet_loss(sides, gt, s, t, feature_mode=mode)
        total.backward()
        assert torch.isfinite(total)
        assert all(torch.isfinite(v) for v in parts.values())
    assert all(torch.isfinite(x.grad).all() for x in sides + s)


def test_compile_fullgraph():
    fn = torch.compile(
        lambda a, b, c, d: isnet_loss(a, b, c, d, feature_mode="kl")[0], fullgraph=True, backend="aot_eager"
    )
    sides = [torch.randn(2, 1, 8, 8, requires_grad=True), torch.randn(2, 1, 4, 4, requires_grad=True)]
    gt = (torch.rand(2, 1, 8, 8) > 0.5).float()
    s, t = [torch.randn(2, 4, 4, 4, requires_grad=True)], [torch.randn(2, 4, 4, 4)]
    out = fn(sides, gt, s, t)
    out.backward()
    torch.testing.assert_close(out, isnet_loss(sides, gt, s, t, feature_mode="kl")[0])


@given(st.integers(0, 2**31 - 1), st.sampled_from(["mse", "mae", "kl", "smooth_l1"]))
def test_feature_loss_nonnegative_and_zero_on_identical(seed, mode):
    g = torch.Generator().manual_seed(seed)
    s = [torch.randn(2, 3, 4, 4, generator=g) * 5, torch.randn(2, 5, 2, 2, generator=g)]
    t = [torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 5, 2, 2, generator=g)]
    assert torch.allclose(feature_consistency_loss(s, s, mode=mode), torch.zeros(()), atol=1e-6)
    # different features: strictly positive, with a gradient that reaches the student (a constant 0 fails here)
    student = [x.clone().requires_grad_(True) for x in s]
    loss = feature_consistency_loss(student, t, mode=mode)
    assert loss > 1e-3
    loss.backward()
    assert all(x.grad is not None and x.grad.abs().sum() > 0 for x in student)


# ---------------------------------------------------------------------------------------------- freezing


def _encoder():
    torch.manual_seed(5)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 1))


def test_freeze_eval_keeps_running_stats_and_mode():
    enc = _encoder()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    frozen = freeze_gt_encoder(enc)
    parent = nn.ModuleDict({"gt": frozen, "head": nn.Conv2d(1, 1, 1)})
    parent.train()
    assert parent.training and frozen.training and not enc.training and not enc[1].training
    out = frozen(torch.rand(2, 1, 8, 8))
    assert not out.requires_grad and out.grad_fn is None
    assert all(not p.requires_grad for p in enc.parameters())
    for k, v in enc.state_dict().items():
        assert torch.equal(v, before[k]), k
    # deterministic function of the mask: batch composition does not matter in eval mode
    x = torch.rand(3, 1, 8, 8)
    torch.testing.assert_close(frozen(x)[:1], frozen(x[:1]))


def test_freeze_eval_holds_when_a_parent_registers_the_raw_encoder():
    enc = _encoder()
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    parent = nn.ModuleDict({"gt": enc, "head": nn.Conv2d(1, 1, 1)})  # the encoder itself, not the wrapper
    frozen = freeze_gt_encoder(parent["gt"])
    x = torch.rand(2, 1, 8, 8) + 1.0
    expect = frozen(x)
    parent.train()  # reaches the encoder directly, bypassing FrozenEncoder.train
    torch.testing.assert_close(frozen(x), expect)
    assert not enc.training and not enc[1].training
    for k, v in enc.state_dict().items():
        assert torch.equal(v, before[k]), k
    parent.train()
    compiled = torch.compile(frozen, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), expect)
    assert not enc[1].training and torch.equal(enc[1].running_mean, before["1.running_mean"])


def test_freeze_twice():
    enc = _encoder()
    frozen = freeze_gt_encoder(enc)
    assert freeze_gt_encoder(frozen) is frozen  # idempotent: no nested wrapper, state_dict keys unchanged
    assert list(frozen.state_dict()) == [f"module.{k}" for k in enc.state_dict()]
    with pytest.raises(ValueError, match=r"`module` must be the encoder itself, not a FrozenEncoder; got one with "
                                         r"mode='eval' \(to freeze with mode='official', pass its `.module`\)"):
        freeze_gt_encoder(frozen, mode="official")
    official = freeze_gt_encoder(frozen.module, mode="official")
    assert official.module is enc and enc[1].training


def test_freeze_official_reproduces_batchnorm_drift():
    enc = _encoder()
    before = enc[1].running_mean.clone()
    frozen = freeze_gt_encoder(enc, mode="official")
    assert enc.training and enc[1].training
    frozen(torch.rand(2, 1, 8, 8) + 1.0)
    assert not torch.equal(enc[1].running_mean, before)
    assert int(enc[1].num_batches_tracked) == 1
    assert all(not p.requires_grad for p in enc.parameters())
    frozen.eval()
    assert not enc.training  # official mode follows train()/eval()


def test_freeze_bad_inputs():
    with pytest.raises(TypeError, match="`module` must be a torch.nn.Module"):
        freeze_gt_encoder(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`mode` must be one of"):
        freeze_gt_encoder(_encoder(), mode="train")


# ---------------------------------------------------------------------------------------------- bad inputs


def test_bad_inputs():
    a = [torch.randn(2, 4, 4, 4), torch.randn(2, 8, 2, 2)]
    with pytest.raises(ValueError, match=r"`teacher\[1\]` must have the shape of `student\[1\]` \(2, 8, 2, 2\)"):
        feature_consistency_loss(a, [a[0], torch.randn(2, 8, 3, 3)])
    with pytest.raises(ValueError, match="same number of levels; got 2 and 1"):
        feature_consistency_loss(a, a[:1])
    with pytest.raises(ValueError, match="`student` must hold at least one level"):
        feature_consistency_loss([], [])
    with pytest.raises(TypeError, match="`student` must be a list or tuple of tensors"):
        feature_consistency_loss(a[0], a[0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"`student\[0\]` must be a floating-point tensor"):
        feature_consistency_loss([torch.ones(2, 4, dtype=torch.long)], [torch.ones(2, 4, dtype=torch.long)])
    with pytest.raises(ValueError, match=r"`weights` must have one weight per level \(2\); got 3"):
        feature_consistency_loss(a, a, weights=[1, 1, 1])
    with pytest.raises(ValueError, match=r"`weights\[0\]` must be >= 0.0"):
        feature_consistency_loss(a, a, weights=[-1, 1])
    with pytest.raises(ValueError, match="`mode` must be one of"):
        FeatureConsistencyLoss(mode="l3")
    with pytest.raises(ValueError, match=r"`student\[1\]` must have batch size 2"):
        feature_consistency_loss([a[0], a[1][:1]], [a[0], a[1][:1]])
    sides = [torch.randn(2, 1, 8, 8)]
    with pytest.raises(ValueError, match=r"`target` must be \(N, 1, H, W\) or \(N, H, W\) with N = 2"):
        deep_supervision_loss(sides, torch.ones(3, 8, 8))
    with pytest.raises(ValueError, match=r"`side_outputs\[1\]` must be \(N, 1, H_d, W_d\)"):
        deep_supervision_loss([sides[0], torch.randn(2, 2, 4, 4)], torch.ones(2, 8, 8))
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        deep_supervision_loss(sides, torch.ones(2, 8, 8), reduction="avg")
    with pytest.raises(ValueError, match="`student_features` must have the batch size of `side_outputs`"):
        isnet_loss(sides, torch.ones(2, 8, 8), [torch.randn(3, 2, 2, 2)], [torch.randn(3, 2, 2, 2)])
