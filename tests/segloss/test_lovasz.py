from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from segloss import LovaszSoftmaxLoss, lovasz_softmax_loss
from tests.segloss.abl_cases import LOVASZ_CASES, lovasz_case

DATA = Path(__file__).parent / "data"


def reference_lovasz_flat(probs, labels, classes="present"):
    """Float64 per-class loop reading of Berman's Alg. 1 (probs (P, C), labels (P,))."""
    c = probs.shape[1]
    losses = []
    for k in range(c) if isinstance(classes, str) else classes:
        fg = (labels == k).double()
        if classes == "present" and fg.sum() == 0:
            continue
        errors = (fg - probs[:, k]).abs()
        order = torch.argsort(errors, descending=True, stable=True)
        e, g = errors[order], fg[order]
        inter = g.sum() - g.cumsum(0)
        union = g.sum() + (1 - g).cumsum(0)
        jac = 1 - inter / union
        grad = torch.cat([jac[:1], jac[1:] - jac[:-1]])
        losses.append((e * grad).sum())
    return torch.stack(losses).mean() if losses else probs.sum() * 0


@pytest.fixture(scope="module")
def golden():
    return np.load(DATA / "lovasz_berman_golden.npz")


@pytest.mark.parity
@pytest.mark.parametrize("name", list(LOVASZ_CASES))
def test_matches_berman_code(golden, name):
    n, c, h, w, seed, classes, per_image, ignore = LOVASZ_CASES[name]
    logits, labels = lovasz_case(n, c, h, w, seed, ignore)
    x = logits.clone().requires_grad_()
    loss = lovasz_softmax_loss(x, labels, classes=classes, per_image=per_image, ignore_index=255 if ignore else None)
    loss.backward()
    ref_grad = torch.from_numpy(golden[f"{name}/grad"])
    assert loss.item() == pytest.approx(float(golden[f"{name}/loss"]), rel=1e-5)
    torch.testing.assert_close(x.grad, ref_grad, rtol=1e-5, atol=1e-5 * ref_grad.abs().max().item())
    assert "bermanmaxim/LovaszSoftmax" in str(golden["provenance"])


@settings(max_examples=25)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 3),
    c=st.integers(2, 5),
    p_ignore=st.sampled_from([0.0, 0.3, 0.9]),
    classes=st.sampled_from(["present", "all"]),
)
def test_matches_float64_reference_batch_and_per_image(seed, n, c, p_ignore, classes):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, 5, 6, generator=g, dtype=torch.float64) * 3
    labels = torch.randint(0, c, (n, 5, 6), generator=g)
    labels[torch.rand(n, 5, 6, generator=g, dtype=torch.float64) < p_ignore] = 255
    probs = logits.softmax(1)
    flat_p = probs.permute(0, 2, 3, 1).reshape(-1, c)
    flat_t = labels.reshape(-1)
    keep = flat_t != 255
    ref = reference_lovasz_flat(flat_p[keep], flat_t[keep], classes)
    got = lovasz_softmax_loss(logits, labels, classes=classes, ignore_index=255)
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(ref.item(), rel=1e-10, abs=1e-12)
    per = []
    for i in range(n):
        pi = probs[i].permute(1, 2, 0).reshape(-1, c)
        ti = labels[i].reshape(-1)
        per.append(reference_lovasz_flat(pi[ti != 255], ti[ti != 255], classes) if (ti != 255).any() else 0.0 * ref)
    got_per = lovasz_softmax_loss(logits, labels, classes=classes, ignore_index=255, per_image=True, reduction="none")
    torch.testing.assert_close(got_per, torch.stack(per), rtol=1e-10, atol=1e-12)
    assert 0.0 <= got.item() <= 1.0


def test_reference_failures_are_fixed():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    all_ignored = torch.full((2, 4, 4), 255)
    loss = lovasz_softmax_loss(logits, all_ignored, ignore_index=255)
    assert loss.shape == () and loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert (logits.grad == 0).all()
    one = torch.full((2, 4, 4), 255)
    one[1, 2, 3] = 1  # exactly one valid pixel (Berman: IndexError)
    x = logits.detach().clone().requires_grad_()
    out = lovasz_softmax_loss(x, one, ignore_index=255)
    p = x.detach().softmax(1)[1, 1, 2, 3]
    assert out.item() == pytest.approx(1 - p.item(), rel=1e-6)
    out.backward()
    assert torch.count_nonzero(x.grad.abs().sum(1)) == 1
    x64 = logits.detach().double().requires_grad_()  # float64 (Berman: torch.dot dtype error)
    assert torch.autograd.gradcheck(
        lambda z: lovasz_softmax_loss(z, torch.randint(0, 3, (2, 4, 4), generator=torch.Generator().manual_seed(0))),
        (x64,),
        fast_mode=True,
    )


def test_per_image_reductions_and_module():
    logits, labels = lovasz_case(3, 4, 6, 7, 11, True)
    per = lovasz_softmax_loss(logits, labels, per_image=True, ignore_index=255, reduction="none")
    assert per.shape == (3,)
    mod = LovaszSoftmaxLoss(per_image=True, ignore_index=255)
    assert mod(logits, labels).item() == pytest.approx(per.mean().item(), rel=1e-6)
    s = lovasz_softmax_loss(logits, labels, per_image=True, ignore_index=255, reduction="sum")
    assert s.item() == pytest.approx(per.sum().item(), rel=1e-6)
    probs = logits.softmax(1)
    a = lovasz_softmax_loss(probs, labels, from_logits=False, ignore_index=255)
    b = lovasz_softmax_loss(logits, labels, ignore_index=255)
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    perfect = torch.nn.functional.one_hot(labels.clamp(0, 3), 4).permute(0, 3, 1, 2).float() * 50
    assert lovasz_softmax_loss(perfect, labels, ignore_index=255).item() < 1e-6


def test_half_inputs_and_autocast_are_float32():
    logits, labels = lovasz_case(2, 3, 6, 6, 12, False)
    for dtype in (torch.float16, torch.bfloat16):
        out = lovasz_softmax_loss(logits.to(dtype), labels)
        assert out.dtype == torch.float32 and torch.isfinite(out)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = lovasz_softmax_loss(logits, labels)
    assert out.dtype == torch.float32
    assert out.item() == pytest.approx(lovasz_softmax_loss(logits, labels).item(), rel=1e-6)


@pytest.mark.slow
def test_torch_compile():
    logits, labels = lovasz_case(2, 3, 6, 6, 13, True)
    fn = torch.compile(lambda p, t: lovasz_softmax_loss(p, t, ignore_index=255, per_image=True), backend="aot_eager",
                       fullgraph=True)
    assert fn(logits, labels).item() == pytest.approx(
        lovasz_softmax_loss(logits, labels, ignore_index=255, per_image=True).item(), rel=1e-6
    )


def test_bad_inputs():
    logits, labels = lovasz_case(2, 3, 4, 4, 14, False)
    with pytest.raises(ValueError, match="C >= 2 channels"):
        lovasz_softmax_loss(logits[:, :1], labels)
    with pytest.raises(ValueError, match=r"`target` must have shape \(2, 4, 4\)"):
        lovasz_softmax_loss(logits, labels[:, :3])
    with pytest.raises(ValueError, match="`classes` must be one of"):
        lovasz_softmax_loss(logits, labels, classes="some")
    with pytest.raises(ValueError, match=r"`classes` entries must be ints in \[0, 3\); got 5"):
        lovasz_softmax_loss(logits, labels, classes=[0, 5])
    with pytest.raises(ValueError, match="`classes` must not be an empty sequence"):
        lovasz_softmax_loss(logits, labels, classes=[])
    with pytest.raises(ValueError, match="'mean' or 'sum' when per_image=False"):
        lovasz_softmax_loss(logits, labels, reduction="none")
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        lovasz_softmax_loss(logits, labels + 3)


def test_numpy_class_ids_are_accepted():
    # list(np.unique(labels)) holds numpy integers: they were refused as "entries must be ints in [0, 3); got 2"
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, 3, 5, 5, generator=g)
    y = torch.randint(0, 3, (2, 5, 5), generator=g)
    ref = lovasz_softmax_loss(x, y, classes=[0, 2])
    torch.testing.assert_close(lovasz_softmax_loss(x, y, classes=list(np.array([0, 2]))), ref)
    torch.testing.assert_close(lovasz_softmax_loss(x, y, classes=(np.int32(0), 2)), ref)
    with pytest.raises(ValueError, match=r"`classes` entries must be ints in \[0, 3\); got 3"):
        lovasz_softmax_loss(x, y, classes=[np.int64(3)])
    with pytest.raises(ValueError, match=r"`classes` entries must be ints in \[0, 3\); got True"):
        lovasz_softmax_loss(x, y, classes=[True])


def test_float32_gradient_matches_float64_on_large_batches():
    # issue (adversarial layout pass): J_k − J_{k−1} was taken as the difference of two float32 Jaccard values near
    # 0.5 whose spacing (~1/P) is a few ulps, so the per-pixel gradient was quantised: 4 % of the largest gradient
    # off at 2·512² pixels, growing with P; and float32 cumulative counts stop at 2**24 (a CUDA float32 cumsum then
    # stalls, giving the last pixels no gradient). The increments are now closed forms of exact integer counts.
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 512, 512, generator=g)
    t = torch.randint(0, 2, (2, 512, 512), generator=g)
    x32, x64 = x.clone().requires_grad_(), x.double().requires_grad_()
    lovasz_softmax_loss(x32, t).backward()
    lovasz_softmax_loss(x64, t).backward()
    err = (x32.grad.double() - x64.grad).abs().max() / x64.grad.abs().max()
    assert err < 1e-4, float(err)
