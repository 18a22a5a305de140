"""Tests for segloss.size_target: the size-target KL, the size utilities and properties shared by all size losses."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from segloss import (
    SizeTargetLoss,
    corrupt_size_targets,
    mean_relative_error,
    partial_cross_entropy,
    quadratic_size_barrier_loss,
    relative_error,
    sigma_for_mre,
    size_target_loss,
    size_targets_from_mask,
    tag_barrier_loss,
)
from tests.segloss.size_reference import kl, mean_softmax, random_sizes


def test_forward_and_reverse_kl_match_reference():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 6, 5, generator=g, dtype=torch.float64) * 2
    roi = torch.rand(3, 6, 5, generator=g) > 0.3
    v = random_sizes(g, 3, 4)
    sbar = mean_softmax(logits, roi)
    torch.testing.assert_close(size_target_loss(logits, v, roi=roi, reduction="none"), kl(v, sbar))
    rev = (sbar * (sbar.log() - v.clamp_min(1e-8).log())).sum(1)
    got = size_target_loss(logits, v, roi=roi, divergence="reverse", reduction="none")
    torch.testing.assert_close(got, rev)
    torch.testing.assert_close(SizeTargetLoss(reduction="sum")(logits, v, roi), kl(v, sbar).sum())


def test_binary_mode_with_foreground_fractions():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(2, 1, 5, 5, generator=g, dtype=torch.float64)
    fg = torch.tensor([0.3, 0.0], dtype=torch.float64)
    two = torch.cat([torch.zeros_like(z), z], 1)
    v = torch.stack([1 - fg, fg], 1)
    torch.testing.assert_close(size_target_loss(z, fg, mode="binary"), size_target_loss(two, v))
    probs = torch.sigmoid(z)
    torch.testing.assert_close(
        size_target_loss(probs, fg, mode="binary", from_logits=False), size_target_loss(two, v), rtol=1e-6, atol=1e-9
    )


@given(st.integers(2, 5), st.integers(0, 2**31 - 1), st.booleans())
def test_size_loss_zero_iff_mean_prediction_equals_target(k, seed, zeros):
    g = torch.Generator().manual_seed(seed)
    v = random_sizes(g, 2, k, zeros=zeros)
    # S̄ = v exactly: every pixel predicts v  -> loss 0
    probs = v[:, :, None, None].expand(2, k, 3, 4).clone()
    assert size_target_loss(probs, v, from_logits=False, reduction="none").abs().max().item() < 1e-12
    # otherwise loss > 0 and Pinsker: ½‖S̄ − v‖₁² ≤ KL(v‖S̄), so loss 0 forces S̄ = v
    logits = torch.randn(2, k, 3, 4, generator=g, dtype=torch.float64) * 2
    loss = size_target_loss(logits, v, reduction="none")
    gap = (mean_softmax(logits) - v).abs().sum(1)
    assert (loss >= 0.5 * gap**2 - 1e-12).all()
    assert (loss > 0).all()


def gradcheck(fn, inputs):
    return torch.autograd.gradcheck(fn, inputs, fast_mode=True)


def test_gradcheck():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(2, 3, 2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    v = random_sizes(g, 2, 3)
    roi = torch.rand(2, 2, 3, generator=g) > 0.3
    tags = v > 0
    seeds = torch.full((2, 2, 3), 255)
    seeds[:, 0, 0] = 1
    assert gradcheck(lambda z: size_target_loss(z, v, roi=roi), (x,))
    assert gradcheck(lambda z: size_target_loss(z, v, divergence="reverse"), (x,))
    assert gradcheck(lambda z: tag_barrier_loss(z, tags, roi=roi), (x,))
    assert gradcheck(lambda z: quadratic_size_barrier_loss(z, v, absent=~tags), (x,))
    assert gradcheck(lambda z: partial_cross_entropy(z, seeds), (x,))


def test_extreme_logits_autocast_and_half():
    v = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.0, 1.0]])
    tags = v > 0
    x = (torch.randn(2, 3, 6, 6).sign() * 1e4).requires_grad_(True)
    total = (
        size_target_loss(x, v)
        + size_target_loss(x, v, divergence="reverse")
        + tag_barrier_loss(x, tags)
        + tag_barrier_loss(x, tags, expand="flat")
        + quadratic_size_barrier_loss(x, v, absent=~tags)
    )
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(x.grad).all()
    y = torch.randn(2, 3, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = size_target_loss(y, v) + tag_barrier_loss(y, tags)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    half = size_target_loss(y.half(), v)
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, size_target_loss(y.half().float(), v))


def test_empty_roi_image_contributes_zero():
    x = torch.randn(2, 2, 4, 4, requires_grad=True)
    v = torch.tensor([[0.5, 0.5], [0.2, 0.8]])
    roi = torch.ones(2, 4, 4, dtype=torch.bool)
    roi[1] = False
    per = size_target_loss(x, v, roi=roi, reduction="none")
    assert per[1].item() == 0.0 and per[0].item() > 0
    per.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.count_nonzero(x.grad[1]) == 0


def test_compile_aot_eager():
    v = torch.tensor([[0.5, 0.25, 0.25]])
    x = torch.randn(1, 3, 6, 6)
    fn = torch.compile(size_target_loss, backend="aot_eager")
    torch.testing.assert_close(fn(x, v), size_target_loss(x, v))


def test_size_utilities():
    t = torch.tensor([[[0, 1], [1, 255]]])
    torch.testing.assert_close(size_targets_from_mask(t, 3, ignore_index=255), torch.tensor([[1 / 3, 2 / 3, 0.0]]))
    v = torch.tensor([[0.5, 0.3, 0.2, 0.0]] * 2000, dtype=torch.float64)
    a = corrupt_size_targets(v, 0.05, generator=torch.Generator().manual_seed(0))
    b = corrupt_size_targets(v, 0.05, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    torch.testing.assert_close(a.sum(1), torch.ones(2000, dtype=torch.float64))
    assert (a[:, 3] == 0).all()
    # eq. 16: mRE ≈ √(2/π)·σ (renormalisation shrinks it slightly)
    mre = mean_relative_error(a, v).item()
    assert 0.8 * math.sqrt(2 / math.pi) * 0.05 < mre < 1.05 * math.sqrt(2 / math.pi) * 0.05
    assert sigma_for_mre(0.156) == pytest.approx(0.1955, abs=1e-3)  # the paper's Fig. 5 pairing
    re = relative_error(torch.tensor([[0.55, 0.45, 0.0]]), torch.tensor([[0.5, 0.5, 0.0]]))
    torch.testing.assert_close(re[:, :2], torch.tensor([[0.1, 0.1]]))
    assert torch.isnan(re[0, 2])
    assert torch.equal(corrupt_size_targets(v[:2], 0.0), v[:2])


def test_bad_inputs():
    x = torch.randn(2, 3, 4, 4)
    v = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    with pytest.raises(ValueError, match=r"`target_sizes` must have shape \(N, K\) = \(2, 3\)"):
        size_target_loss(x, v[:, :2])
    with pytest.raises(ValueError, match="sum to 1"):
        size_target_loss(x, v * 2)
    with pytest.raises(TypeError, match="`target_sizes` must be a floating tensor"):
        size_target_loss(x, (v > 0).long())
    nan = x.clone()
    nan[1, 2, 3, 3] = float("inf")
    with pytest.raises(ValueError, match="`pred` must be finite"):
        size_target_loss(nan, v)
    with pytest.raises(ValueError, match="`pred` must be finite"):
        partial_cross_entropy(nan, torch.full((2, 4, 4), 0))
    with pytest.raises(ValueError, match="`divergence` must be one of"):
        size_target_loss(x, v, divergence="js")
    with pytest.raises(ValueError, match=r"`roi` must have shape \(2, 4, 4\)"):
        size_target_loss(x, v, roi=torch.ones(2, 3, 3))
    with pytest.raises(ValueError, match="`expand` must be one of"):
        tag_barrier_loss(x, v > 0, expand="quadratic")
    with pytest.raises(ValueError, match="`epsilon` must be > 0"):
        tag_barrier_loss(x, v > 0, epsilon=0.0)
    with pytest.raises(ValueError, match=r"`lower` must have shape"):
        quadratic_size_barrier_loss(x, v[:1])
    with pytest.raises(ValueError, match=r"`seeds` labels must be in \[0, 3\)"):
        partial_cross_entropy(x, torch.full((2, 4, 4), 7))
    with pytest.raises(ValueError, match="`sigma` must be >= 0"):
        corrupt_size_targets(v, -1.0)
    with pytest.raises(ValueError, match="`num_classes` must be a positive int"):
        size_targets_from_mask(torch.zeros(1, 2, 2, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="same shape"):
        relative_error(v, v[:1])


@pytest.mark.parametrize("with_roi", [False, True])
def test_double_backward_of_log_mean_softmax(with_roi):
    """Second derivatives through the lean log-mean-softmax backward (it had only the terms through its input)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, generator=g, requires_grad=True)
    sizes = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]], dtype=torch.float64)
    roi = (torch.rand(2, 4, 4, generator=g) > 0.3).double() if with_roi else None
    assert torch.autograd.gradgradcheck(lambda z: size_target_loss(z, sizes, roi=roi), (x,))


def test_corruption_utility_checks_its_inputs():
    # NaN or negative sizes came back as NaN / negative "targets", a non-Generator `generator` raised torch's bare
    # "randn(): argument 'generator' must be torch.Generator, not int"
    v = torch.tensor([[0.5, 0.5, 0.0]])
    with pytest.raises(ValueError, match=r"`sizes` must hold values in \[0, 1\] \(class fractions"):
        corrupt_size_targets(-v, 0.1)
    with pytest.raises(ValueError, match="`sizes` must be finite"):
        corrupt_size_targets(torch.full((1, 3), float("nan")), 0.1)
    with pytest.raises(TypeError, match="`generator` must be a torch.Generator or None; got int"):
        corrupt_size_targets(v, 0.1, generator=3)
    with pytest.raises(ValueError, match="`sizes` and `exact` must be on the same device"):
        relative_error(v, v.to("meta"))
