"""Soft (relaxed) Jaccard distance, eq. 3 of Li, Chen & Koltun (CVPR 2018)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from segloss import SoftJaccardLoss, soft_jaccard_loss


def ref_jaccard(pred, target, *, form="min", eps=0.0, ignore_index=None):
    """Slow float64 reference: explicit loops over samples and pixels."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    out = []
    for n in range(pred.shape[0]):
        num = den = count = 0.0
        for b, a in zip(pred[n].ravel(), target[n].ravel()):
            if ignore_index is not None and a == ignore_index:
                continue
            num += min(a, b) if form == "min" else a * b
            den += max(a, b)
            count += 1
        out.append(0.0 if den == 0 else 1.0 - num / (den + eps * count))
    return np.array(out)


def _case(seed, n=3, h=6, w=5, soft=False):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 1, h, w, generator=g, dtype=torch.float64) * 2
    target = torch.rand(n, 1, h, w, generator=g, dtype=torch.float64)
    if not soft:
        target = (target > 0.5).double()
    return logits, target


@pytest.mark.parity
@pytest.mark.parametrize("form", ["min", "product"])
@pytest.mark.parametrize("eps", [0.0, 1e-6, 0.1])
@pytest.mark.parametrize("soft", [False, True])
def test_matches_loop_reference(form, eps, soft):
    logits, target = _case(0, soft=soft)
    got = soft_jaccard_loss(logits, target, form=form, eps=eps, reduction="none")
    ref = ref_jaccard(torch.sigmoid(logits).numpy(), target.numpy(), form=form, eps=eps)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(soft_jaccard_loss(logits, target, form=form, eps=eps).item(), ref.mean(), rtol=1e-12)
    np.testing.assert_allclose(
        soft_jaccard_loss(logits, target, form=form, eps=eps, reduction="sum").item(), ref.sum(), rtol=1e-12
    )


@pytest.mark.parity
def test_ignore_index_matches_reference():
    logits, target = _case(1)
    target = target.clone()
    target[:, :, :2] = 255
    got = SoftJaccardLoss(ignore_index=255, reduction="none")(logits, target[:, 0])  # (N, H, W) target
    ref = ref_jaccard(torch.sigmoid(logits).numpy(), target.numpy(), ignore_index=255)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)
    # ignored pixels get no gradient
    logits.requires_grad_(True)
    soft_jaccard_loss(logits, target, ignore_index=255).backward()
    assert torch.count_nonzero(logits.grad[:, :, :2]) == 0


@pytest.mark.parity
def test_authors_formula_with_tanh_outputs():
    """isl-org/Intseg IntSeg_Train.py: 1 - mean(f*y) / (mean(max(f, y)) + 1e-6) on tanh outputs."""
    g = torch.Generator().manual_seed(2)
    f = torch.tanh(torch.randn(1, 1, 7, 9, generator=g, dtype=torch.float64) * 2)
    y = (torch.rand(1, 1, 7, 9, generator=g, dtype=torch.float64) > 0.4).double()
    theirs = 1 - (f * y).mean() / (torch.maximum(f, y).mean() + 1e-6)
    ours = soft_jaccard_loss(f, y, from_logits=False, form="product", eps=1e-6)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


def test_gradcheck():
    logits, target = _case(3, n=2, h=3, w=4, soft=True)
    logits.requires_grad_(True)
    for form in ("min", "product"):
        assert torch.autograd.gradcheck(
            lambda x, f=form: soft_jaccard_loss(x, target, form=f, eps=1e-3, reduction="none"), (logits,)
        )


def test_empty_masks_are_zero_with_graph():
    logits = torch.full((2, 1, 4, 4), -1e4, requires_grad=True)
    loss = soft_jaccard_loss(logits, torch.zeros(2, 4, 4), eps=1e-6)
    assert loss.ndim == 0 and loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert soft_jaccard_loss(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4), from_logits=False).item() == 0.0


def test_extreme_logits_finite():
    logits = torch.tensor([1e4, -1e4, 1e4, -1e4]).reshape(1, 1, 2, 2).repeat(2, 1, 1, 1).requires_grad_(True)
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).expand(2, 1, 2, 2)
    loss = soft_jaccard_loss(logits, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    np.testing.assert_allclose(loss.item(), 1 - 1 / 3, rtol=1e-6)


def test_autocast_and_half():
    logits, target = _case(4, soft=True)
    ref = soft_jaccard_loss(logits.float(), target.float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = soft_jaccard_loss(logits.bfloat16(), target.bfloat16())
    assert out.dtype == torch.float32 and torch.isfinite(out)
    torch.testing.assert_close(out, ref, rtol=2e-2, atol=2e-2)
    half = soft_jaccard_loss(logits.half(), target.half(), form="product")
    assert half.dtype == torch.float32
    torch.testing.assert_close(
        half, soft_jaccard_loss(logits.float(), target.float(), form="product"), rtol=1e-2, atol=1e-2
    )


def test_compile_fullgraph():
    fn = torch.compile(
        lambda x, t: soft_jaccard_loss(x, t, eps=1e-6, ignore_index=255), fullgraph=True, backend="aot_eager"
    )
    logits = torch.randn(2, 1, 8, 8, requires_grad=True)
    target = (torch.rand(2, 1, 8, 8) > 0.5).float()
    out = fn(logits, target)
    out.backward()
    torch.testing.assert_close(out, soft_jaccard_loss(logits, target, eps=1e-6, ignore_index=255))


@given(st.integers(0, 2**31 - 1), st.sampled_from(["min", "product"]))
def test_zero_for_identical_binary_masks(seed, form):
    g = torch.Generator().manual_seed(seed)
    mask = (torch.rand(3, 5, 5, generator=g) > torch.rand((), generator=g)).float()
    out = soft_jaccard_loss(mask, mask, from_logits=False, form=form, reduction="none")
    assert torch.equal(out, torch.zeros(3))


@given(st.integers(0, 2**31 - 1), st.sampled_from(["min", "product"]), st.booleans())
def test_in_unit_interval(seed, form, soft):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(4, 1, 5, 5, generator=g) * 4
    target = torch.rand(4, 5, 5, generator=g)
    if not soft:
        target = (target > 0.5).float()
    out = soft_jaccard_loss(logits, target, form=form, reduction="none")
    assert ((out >= 0) & (out <= 1 + 1e-6)).all()
    if form == "min":  # symmetric in its two arguments
        p = torch.sigmoid(logits[:, 0])
        torch.testing.assert_close(out, soft_jaccard_loss(target, p, from_logits=False, reduction="none"))


def test_bad_inputs():
    x = torch.randn(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"`target` must have the shape of `pred` \(2, 1, 4, 4\)"):
        soft_jaccard_loss(x, torch.ones(2, 4, 5))
    with pytest.raises(TypeError, match="`pred` must be a floating-point tensor"):
        soft_jaccard_loss(torch.ones(2, 1, 4, 4, dtype=torch.long), torch.ones(2, 4, 4))
    with pytest.raises(TypeError, match="`target` must be a torch.Tensor; got list"):
        soft_jaccard_loss(x, [1, 0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`form` must be one of"):
        soft_jaccard_loss(x, torch.ones(2, 4, 4), form="max")
    with pytest.raises(ValueError, match="`eps` must be >= 0.0"):
        SoftJaccardLoss(eps=-1.0)
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        SoftJaccardLoss(reduction="batchmean")
    with pytest.raises(ValueError, match="`pred` must not be empty"):
        soft_jaccard_loss(torch.randn(0, 1, 4, 4), torch.ones(0, 4, 4))


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("form", ["min", "product"])
def test_fused_backward_matches_plain_autograd(from_logits, form):
    """The hand-written backward equals autograd's (used when the target itself needs a gradient)."""
    logits, target = _case(5, soft=True)
    target = target.clone()
    target[:, :, 0] = 255
    x = logits if from_logits else torch.sigmoid(logits)
    kw = {"from_logits": from_logits, "form": form, "eps": 0.01, "ignore_index": 255, "reduction": "none"}
    x1 = x.clone().requires_grad_(True)
    w = torch.arange(1.0, 4.0, dtype=torch.float64)
    (soft_jaccard_loss(x1, target, **kw) * w).sum().backward()
    x2 = x.clone().requires_grad_(True)
    (soft_jaccard_loss(x2, target.clone().requires_grad_(True), **kw) * w).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-10, atol=1e-12)
    small = x1.detach()[:2, :, :3, :3].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: soft_jaccard_loss(a, target[:2, :, :3, :3], **kw), (small,))


def test_all_pixels_ignored_gives_zero_with_graph():
    logits = torch.randn(2, 1, 4, 4, requires_grad=True)
    target = torch.full((2, 4, 4), 255.0)
    loss = soft_jaccard_loss(logits, target, ignore_index=255, eps=1e-6)
    assert loss.ndim == 0 and loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


@pytest.mark.parity
@pytest.mark.parametrize("classes", ["all", "present"])
def test_multilabel_is_mean_of_per_channel_binary(classes):
    g = torch.Generator().manual_seed(11)
    logits = torch.randn(3, 4, 5, 5, generator=g, dtype=torch.float64)
    target = (torch.rand(3, 4, 5, 5, generator=g, dtype=torch.float64) > 0.6).double()
    target[0, 2] = 0  # a channel absent from sample 0
    target[1, :, 0] = 255
    got = soft_jaccard_loss(logits, target, mode="multilabel", classes=classes, ignore_index=255, reduction="none")
    probs = torch.sigmoid(logits).numpy()
    ref = []
    for n in range(3):
        per = [ref_jaccard(probs[n : n + 1, c], target[n : n + 1, c].numpy(), ignore_index=255)[0] for c in range(4)]
        keep = [c for c in range(4) if classes == "all" or ((target[n, c] == 1).any())]
        ref.append(np.mean([per[c] for c in keep]))
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)


@pytest.mark.parity
@pytest.mark.parametrize("classes", ["all", "present"])
@pytest.mark.parametrize("form", ["min", "product"])
def test_multiclass_matches_one_hot_reference(classes, form):
    g = torch.Generator().manual_seed(12)
    logits = torch.randn(2, 4, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.randint(0, 3, (2, 5, 6), generator=g)  # class 3 never present
    labels[0, 0] = 255
    got = SoftJaccardLoss(mode="multiclass", classes=classes, form=form, ignore_index=255, reduction="none")(
        logits, labels
    )
    probs = torch.softmax(logits, 1).detach().numpy()
    ref = []
    for n in range(2):
        keep_pix = labels[n].numpy() != 255
        per = []
        for c in range(4):
            onehot = (labels[n].numpy() == c).astype(np.float64)[keep_pix]
            per.append(ref_jaccard(probs[n, c][keep_pix][None], onehot[None], form=form)[0])
        use = [c for c in range(4) if classes == "all" or (labels[n] == c).any()]
        ref.append(np.mean([per[c] for c in use]))
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-12)
    if classes == "present":
        small = logits.detach()[:, :, :3, :3].clone().requires_grad_(True)
        assert torch.autograd.gradcheck(
            lambda x: soft_jaccard_loss(
                x, labels[:, :3, :3], mode="multiclass", form=form, classes=classes, ignore_index=255
            ),
            (small,),
            fast_mode=True,
        )


def test_multiclass_bad_inputs():
    logits = torch.randn(2, 3, 4, 4)
    with pytest.raises(TypeError, match="`target` must be an integer tensor of class ids"):
        soft_jaccard_loss(logits, torch.zeros(2, 4, 4), mode="multiclass")
    with pytest.raises(ValueError, match=r"`target` labels must be in \[0, 3\)"):
        soft_jaccard_loss(logits, torch.full((2, 4, 4), 7), mode="multiclass")
    with pytest.raises(ValueError, match=r"`target` must have shape \(N, \*spatial\) = \(2, 4, 4\)"):
        soft_jaccard_loss(logits, torch.zeros(2, 1, 4, 4, dtype=torch.long), mode="multiclass")
    with pytest.raises(ValueError, match="`mode` must be one of"):
        soft_jaccard_loss(logits, torch.zeros(2, 4, 4, dtype=torch.long), mode="multi")
    with pytest.raises(ValueError, match="`classes` must be one of"):
        SoftJaccardLoss(classes="some")
    with pytest.raises(ValueError, match=r"`pred` must be"):
        soft_jaccard_loss(torch.randn(2, 4), torch.zeros(2, 4), mode="multilabel")


@pytest.mark.parametrize("form", ["min", "product"])
def test_double_backward_of_fused_path(form):
    """create_graph=True through the fused backward: the gradient has a graph and second derivatives are right.

    The hand-written backward was once-differentiable: its gradient had no graph, so a gradient penalty
    raised (or silently dropped this loss's term).
    """
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 1, 5, 5, dtype=torch.float64, generator=g, requires_grad=True)
    t = (torch.rand(2, 5, 5, generator=g, dtype=torch.float64) > 0.5).double()
    (grad,) = torch.autograd.grad(soft_jaccard_loss(x, t, form=form), x, create_graph=True)
    assert grad.requires_grad
    (hv,) = torch.autograd.grad(grad.square().sum(), x)
    plain_t = t.clone().requires_grad_(True)  # a target needing grad takes the plain-autograd path
    (grad_ref,) = torch.autograd.grad(soft_jaccard_loss(x, plain_t, form=form), x, create_graph=True)
    (hv_ref,) = torch.autograd.grad(grad_ref.square().sum(), x)
    torch.testing.assert_close(grad, grad_ref)
    torch.testing.assert_close(hv, hv_ref)
    if form == "product":  # smooth: a full numerical check of the second derivatives
        assert torch.autograd.gradgradcheck(lambda z: soft_jaccard_loss(z, t, form=form), (x,))


def test_multiclass_with_one_channel_is_refused_like_the_other_losses():
    # mode="multiclass" with C = 1 returned 0 with a zero gradient (softmax over one channel is 1): it never trained
    with pytest.raises(ValueError, match=r"`pred` must have C >= 2 channels in multiclass mode \(use mode='binary'\)"):
        soft_jaccard_loss(torch.randn(2, 1, 8, 8), torch.zeros(2, 8, 8, dtype=torch.long), mode="multiclass")
