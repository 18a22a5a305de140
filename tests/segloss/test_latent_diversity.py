"""Latent-diversity losses of Li, Chen & Koltun (CVPR 2018): clicks, hindsight, ranked diversity, selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.nn import functional as F

from segloss import (
    ClickConstraintLoss,
    HindsightLoss,
    RankedDiversityLoss,
    SelectionLoss,
    SoftJaccardLoss,
    click_constraint_loss,
    hindsight_loss,
    ranked_diversity_weights,
    selection_loss,
    selection_target,
    shuffle_outputs,
    soft_jaccard_loss,
)

# ------------------------------------------------------------------------------------- slow references


def ref_jaccard(b, a, form="min", eps=0.0):
    num = den = 0.0
    for bp, ap in zip(b.ravel(), a.ravel()):
        num += min(ap, bp) if form == "min" else ap * bp
        den += max(ap, bp)
    return 0.0 if den == 0 else 1.0 - num / (den + eps * b.size)


def ref_clicks(b, sp, sn, a=None, reference="clicks", normalization="sum"):
    total = mass = 0.0
    for bp, p, q, ap in zip(b.ravel(), sp.ravel(), sn.ravel(), (a if a is not None else b).ravel()):
        if reference == "clicks":
            if p in (0.0, 1.0) and q in (0.0, 1.0):  # eq. 4 literally, for the paper's binary maps
                total += abs(p * (p - bp)) + abs(q * (q - (1 - bp)))
            else:  # documented generalisation: soft maps act as weights
                total += p * (1 - bp) + q * bp
            mass += p + q
        else:
            w = max(p, q)
            total += w * abs(bp - ap)
            mass += w
    if normalization == "sum":
        return total
    if normalization == "mean":
        return total / b.size
    return 0.0 if mass == 0 else total / mass


def ref_hindsight(
    probs,
    target,
    sp=None,
    sn=None,
    *,
    form="min",
    eps=0.0,
    lambda_base=None,
    click_weight=1.0,
    reference="clicks",
    normalization="sum",
    placement="inside",
):
    """Explicit loops over samples and outputs, float64. Returns (per-sample loss, argmin)."""
    n, m = probs.shape[:2]
    losses, index = [], []
    for i in range(n):
        jac = [ref_jaccard(probs[i, k], target[i], form, eps) for k in range(m)]
        clk = [0.0] * m
        if sp is not None:
            clk = [
                click_weight * ref_clicks(probs[i, k], sp[i], sn[i], target[i], reference, normalization)
                for k in range(m)
            ]
        inside = [jac[k] + (clk[k] if placement == "inside" else 0.0) for k in range(m)]
        best = min(range(m), key=lambda k: (inside[k], k))
        loss = inside[best]
        if placement == "outside" and sp is not None:
            loss += sum(clk) / m
        if lambda_base is not None:
            loss += sum(lambda_base * 2 ** (m - 1 - k) * jac[k] for k in range(m))
        losses.append(loss)
        index.append(best)
    return np.array(losses), np.array(index)


def make_case(seed, n=3, m=4, h=5, w=6):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, m, h, w, generator=g, dtype=torch.float64) * 2
    target = (torch.rand(n, h, w, generator=g, dtype=torch.float64) > 0.5).double()
    pos = (torch.rand(n, h, w, generator=g, dtype=torch.float64) > 0.85).double() * target
    neg = (torch.rand(n, h, w, generator=g, dtype=torch.float64) > 0.85).double() * (1 - target)
    return logits, target, pos, neg


# ------------------------------------------------------------------------------------- click constraints


@pytest.mark.parity
@pytest.mark.parametrize("reference", ["clicks", "target"])
@pytest.mark.parametrize("normalization", ["sum", "clicks", "mean"])
def test_click_constraint_matches_reference(reference, normalization):
    logits, target, pos, neg = make_case(0)
    pred = logits[:, :1]
    soft_pos = pos * 0.7  # soft click maps act as weights
    got = click_constraint_loss(
        pred, soft_pos, neg, target=target, reference=reference, normalization=normalization, reduction="none"
    )
    probs = torch.sigmoid(pred[:, 0]).numpy()
    ref = [
        ref_clicks(probs[i], soft_pos[i].numpy(), neg[i].numpy(), target[i].numpy(), reference, normalization)
        for i in range(3)
    ]
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-12)


def test_click_constraint_no_clicks_and_module():
    pred = torch.randn(2, 1, 4, 4, requires_grad=True)
    zeros = torch.zeros(2, 4, 4)
    for norm in ("sum", "clicks", "mean"):
        out = ClickConstraintLoss(normalization=norm)(pred, zeros, zeros)
        assert out.item() == 0.0 and out.requires_grad
    out.backward()
    assert torch.isfinite(pred.grad).all()


# ------------------------------------------------------------------------------------- hindsight / diversity


def test_ranked_weights():
    torch.testing.assert_close(
        ranked_diversity_weights(6, 2.5e-3), torch.tensor([0.08, 0.04, 0.02, 0.01, 0.005, 0.0025])
    )
    torch.testing.assert_close(ranked_diversity_weights(3), torch.tensor([0.04, 0.02, 0.01]))


@pytest.mark.parity
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"clicks": True},
        {"clicks": True, "lambda_base": 1e-2},
        {"lambda_base": 2.5e-3, "form": "product", "eps": 1e-6},
        {"clicks": True, "reference": "target", "normalization": "clicks", "placement": "outside"},
        {"clicks": True, "normalization": "mean", "click_weight": 0.5, "lambda_base": 0.1},
    ],
)
def test_hindsight_matches_loop_reference(options):
    logits, target, pos, neg = make_case(1)
    opts = dict(options)
    clicks = opts.pop("clicks", False)
    kw = {
        "form": opts.get("form", "min"),
        "eps": opts.get("eps", 0.0),
        "lambda_base": opts.get("lambda_base"),
        "click_weight": opts.get("click_weight", 1.0),
        "click_reference": opts.get("reference", "clicks"),
        "click_normalization": opts.get("normalization", "sum"),
        "click_placement": opts.get("placement", "inside"),
    }
    args = (pos, neg) if clicks else ()
    got, idx = hindsight_loss(logits, target, *args, reduction="none", return_index=True, **kw)
    ref, ref_idx = ref_hindsight(
        torch.sigmoid(logits).numpy(),
        target.numpy(),
        *(a.numpy() for a in args),
        form=kw["form"],
        eps=kw["eps"],
        lambda_base=kw["lambda_base"],
        click_weight=kw["click_weight"],
        reference=kw["click_reference"],
        normalization=kw["click_normalization"],
        placement=kw["click_placement"],
    )
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(idx.numpy(), ref_idx)
    assert idx.dtype == torch.int64
    mean = hindsight_loss(logits, target, *args, **kw)
    np.testing.assert_allclose(mean.item(), ref.mean(), rtol=1e-12)


@pytest.mark.parity
def test_authors_training_loss_formula():
    """IntSeg_Train.py: tanh heads, product IoU (+1e-6 on the mean union), min + 0.0025·Σ 2^(M−m) ℓ_m, and
    ct = mean(|f − y| · mask / mean(mask)) over all M heads, mask = clicked pixels; batch 1."""
    g = torch.Generator().manual_seed(7)
    m = 6
    f = torch.tanh(torch.randn(1, m, 9, 8, generator=g, dtype=torch.float64) * 2)
    y = (torch.rand(1, 9, 8, generator=g, dtype=torch.float64) > 0.5).double()
    pos = (torch.rand(1, 9, 8, generator=g, dtype=torch.float64) > 0.9).double() * y
    neg = (torch.rand(1, 9, 8, generator=g, dtype=torch.float64) > 0.9).double() * (1 - y)
    iou = torch.stack([1 - (f[0, k] * y[0]).mean() / (torch.maximum(f[0, k], y[0]).mean() + 1e-6) for k in range(m)])
    w = torch.tensor([32.0, 16, 8, 4, 2, 1], dtype=torch.float64)
    loss_iou = iou.min() + 0.0025 * (w * iou).sum()
    mask = ((pos + neg) > 0).double().unsqueeze(1).expand(1, m, 9, 8)
    mask = mask / mask.mean()
    ct = ((f - y.unsqueeze(1)).abs() * mask).mean()
    theirs = loss_iou + ct
    crit = RankedDiversityLoss(
        lambda_base=2.5e-3,
        from_logits=False,
        form="product",
        eps=1e-6,
        click_reference="target",
        click_normalization="clicks",
        click_placement="outside",
    )
    torch.testing.assert_close(crit(f, y, pos, neg), theirs, rtol=1e-12, atol=1e-12)


def test_gradient_reaches_only_the_best_output():
    logits, target, pos, neg = make_case(2)
    logits.requires_grad_(True)
    loss, idx = HindsightLoss().forward_with_index(logits, target, pos, neg)
    loss.backward()
    grad_norm = logits.grad.flatten(2).abs().sum(2)
    for i in range(logits.shape[0]):
        for k in range(logits.shape[1]):
            assert (grad_norm[i, k] > 0) == (k == idx[i])


@pytest.mark.parametrize("lambda_base", [None, 1e-2])
def test_hindsight_gradcheck(lambda_base):
    logits, target, pos, neg = make_case(3, n=2, m=3, h=3, w=3)
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x: hindsight_loss(x, target, pos, neg, lambda_base=lambda_base, eps=1e-3, reduction="none"), (logits,)
    )


def test_custom_base_loss_folds_outputs_into_batch():
    logits, target, pos, neg = make_case(4)
    jac = hindsight_loss(logits, target, base_loss=SoftJaccardLoss(reduction="none"), lambda_base=1e-2)
    torch.testing.assert_close(jac, hindsight_loss(logits, target, lambda_base=1e-2))

    def bce(pred, tgt, sp, sn):
        assert pred.shape == (12, 1, 5, 6) and tgt.shape == (12, 5, 6) and sp.shape == (12, 5, 6)
        return F.binary_cross_entropy_with_logits(pred[:, 0], tgt, reduction="none").flatten(1).mean(1) + sp.mean(
            (1, 2)
        )

    got, idx = hindsight_loss(logits, target, pos, neg, base_loss=bce, reduction="none", return_index=True)
    per = torch.stack(
        [
            F.binary_cross_entropy_with_logits(logits[:, k], target, reduction="none").flatten(1).mean(1)
            + pos.mean((1, 2))
            for k in range(4)
        ],
        1,
    )
    torch.testing.assert_close(got, per.min(1).values)
    torch.testing.assert_close(idx, per.argmin(1))


@given(st.integers(0, 2**31 - 1), st.booleans())
def test_hindsight_not_above_any_member(seed, with_clicks):
    logits, target, pos, neg = make_case(seed % 10_000, n=2, m=5, h=4, w=4)
    args = (pos, neg) if with_clicks else ()
    got, idx = hindsight_loss(logits, target, *args, reduction="none", return_index=True)
    members = []
    for k in range(5):
        member = soft_jaccard_loss(logits[:, k : k + 1], target, reduction="none")
        if with_clicks:
            member = member + click_constraint_loss(logits[:, k : k + 1], pos, neg, reduction="none")
        members.append(member)
    members = torch.stack(members, 1)
    assert (got[:, None] <= members + 1e-12).all()
    torch.testing.assert_close(got, members.gather(1, idx[:, None])[:, 0])


def test_autocast_half_extreme_and_compile():
    logits, target, pos, neg = make_case(5)
    ref = hindsight_loss(logits.float(), target.float(), pos.float(), neg.float(), lambda_base=1e-2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = hindsight_loss(logits.bfloat16(), target.bfloat16(), pos.bfloat16(), neg.bfloat16(), lambda_base=1e-2)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=2e-2, atol=2e-2)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # float32 inputs: autocast must not lower any reduction
        out32 = hindsight_loss(logits.float(), target.float(), pos.float(), neg.float(), lambda_base=1e-2)
    torch.testing.assert_close(out32, ref, rtol=1e-6, atol=1e-6)
    half = hindsight_loss(logits.half(), target.half(), pos.half(), neg.half())
    assert half.dtype == torch.float32 and torch.isfinite(half)

    extreme = (torch.sign(logits) * 1e4).float().requires_grad_(True)
    loss = RankedDiversityLoss()(extreme, target.float(), pos.float(), neg.float())
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(extreme.grad).all()
    sel = SelectionLoss()(torch.randn(3, 4).mul(1e4).requires_grad_(True), extreme, target)
    assert torch.isfinite(sel)

    fn = torch.compile(
        lambda x, t, p, q: hindsight_loss(x, t, p, q, lambda_base=1e-2, return_index=True),
        fullgraph=True,
        backend="aot_eager",
    )
    x = logits.float().requires_grad_(True)
    got, idx = fn(x, target.float(), pos.float(), neg.float())
    got.backward()
    want, want_idx = hindsight_loss(x, target.float(), pos.float(), neg.float(), lambda_base=1e-2, return_index=True)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(idx, want_idx)


def test_ignore_index_in_default_base():
    logits, target, _, _ = make_case(6)
    target = target.clone()
    target[:, 0] = 255
    got = hindsight_loss(logits, target, ignore_index=255, reduction="none")
    ref, _ = ref_hindsight(torch.sigmoid(logits[:, :, 1:]).numpy(), target[:, 1:].numpy())
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-12)


# ------------------------------------------------------------------------------------- selection


@pytest.mark.parity
def test_selection_loss_matches_reference():
    logits, target, _, _ = make_case(8, n=4, m=5)
    scores = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    masks = logits.clone().requires_grad_(True)
    probs = torch.sigmoid(logits).numpy()
    phi = [int(np.argmin([ref_jaccard(probs[i, k], target[i].numpy()) for k in range(5)])) for i in range(4)]
    ref = [torch.logsumexp(scores[i], 0) - scores[i, phi[i]] for i in range(4)]
    got = SelectionLoss(reduction="none")(scores, masks, target)
    torch.testing.assert_close(got, torch.stack(ref))
    got.sum().backward()
    assert masks.grad is None  # target index computed without gradient
    assert torch.equal(selection_target(logits, target), torch.tensor(phi))
    assert torch.autograd.gradcheck(lambda s: selection_loss(s, logits, target, reduction="none"), (scores,))


@given(st.integers(0, 2**31 - 1))
def test_selection_target_is_argmin(seed):
    logits, target, _, _ = make_case(seed % 10_000, n=3, m=6, h=4, w=4)
    jac = torch.stack([soft_jaccard_loss(logits[:, k : k + 1], target, reduction="none") for k in range(6)], 1)
    assert torch.equal(selection_target(logits, target), jac.argmin(1))


def test_shuffle_outputs_seeded_and_consistent():
    logits, target, _, _ = make_case(9, n=5, m=6)
    a, perm = shuffle_outputs(logits, seed=123)
    b, perm2 = shuffle_outputs(logits, seed=123)
    assert torch.equal(a, b) and torch.equal(perm, perm2)
    assert torch.equal(perm.sort(1).values, torch.arange(6).expand(5, 6))
    for i in range(5):
        for j in range(6):
            assert torch.equal(a[i, j], logits[i, perm[i, j]])
    assert not torch.equal(perm, shuffle_outputs(logits, seed=124)[1])
    # selecting among the shuffled masks maps back to the original best output
    back = perm.gather(1, selection_target(a, target)[:, None])[:, 0]
    assert torch.equal(back, selection_target(logits, target))
    g = torch.Generator().manual_seed(0)
    c, _ = shuffle_outputs(logits.requires_grad_(True), generator=g)
    c.sum().backward()
    assert torch.equal(logits.grad, torch.ones_like(logits))


# ------------------------------------------------------------------------------------- bad inputs


def test_bad_inputs():
    logits, target, pos, neg = make_case(10)
    with pytest.raises(ValueError, match=r"`pred` must be \(N, C, H, W\)"):
        hindsight_loss(logits[:, 0], target)
    with pytest.raises(ValueError, match=r"`target` must have shape \(N, H, W\) = \(3, 5, 6\)"):
        hindsight_loss(logits, target[:, :4])
    with pytest.raises(ValueError, match=r"`pos_clicks` must have shape \(N, H, W\) = \(3, 5, 6\)"):
        hindsight_loss(logits, target, pos[:2], neg)
    with pytest.raises(ValueError, match="`pos_clicks` and `neg_clicks` must be given together"):
        hindsight_loss(logits, target, pos)
    with pytest.raises(TypeError, match="`base_loss` must be callable"):
        HindsightLoss(base_loss=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`base_loss` must return per-sample losses of shape \(N\*M,\) = \(12,\)"):
        hindsight_loss(logits, target, base_loss=SoftJaccardLoss())
    with pytest.raises(ValueError, match="`lambda_base` must be >= 0.0"):
        RankedDiversityLoss(lambda_base=-1.0)
    with pytest.raises(ValueError, match="`click_placement` must be one of"):
        HindsightLoss(click_placement="after")
    with pytest.raises(ValueError, match="`num_outputs` must be >= 1"):
        ranked_diversity_weights(0)
    with pytest.raises(ValueError, match="`target` is required for reference='target'"):
        click_constraint_loss(logits[:, :1], pos, neg, reference="target")
    with pytest.raises(ValueError, match=r"`neg_clicks` must have the shape of `pred` \(3, 1, 5, 6\)"):
        click_constraint_loss(logits[:, :1], pos, neg[:, :2])
    with pytest.raises(ValueError, match=r"`scores` must have shape \(N, M\) = \(3, 4\)"):
        selection_loss(torch.randn(3, 5), logits, target)
    with pytest.raises(ValueError, match=r"`masks` must have at least 2 dimensions|`masks` must be \(N, M, \*\)"):
        shuffle_outputs(torch.randn(4))


def test_all_pixels_ignored_and_no_clicks_gives_zero_with_graph():
    logits = torch.randn(2, 6, 4, 4, requires_grad=True)
    target = torch.full((2, 4, 4), 255)
    zeros = torch.zeros(2, 4, 4)
    loss = RankedDiversityLoss(ignore_index=255, click_normalization="clicks")(logits, target, zeros, zeros)
    assert loss.ndim == 0 and loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_shuffle_and_weights_arguments_are_checked():
    # shuffle_outputs(seed="a") raised int()'s bare "invalid literal for int() with base 10", generator=5 an
    # AttributeError; ranked_diversity_weights(3, dtype=torch.int64) silently returned [0, 0, 0]
    masks = torch.randn(2, 3, 4, 4)
    with pytest.raises(TypeError, match="`seed` must be an int or None; got str"):
        shuffle_outputs(masks, seed="a")
    with pytest.raises(TypeError, match="`seed` must be an int or None; got bool"):
        shuffle_outputs(masks, seed=True)
    with pytest.raises(TypeError, match="`generator` must be a torch.Generator or None; got int"):
        shuffle_outputs(masks, generator=5)
    assert shuffle_outputs(masks, seed=np.int64(3))[1].shape == (2, 3)  # numpy integers are ints
    with pytest.raises(TypeError, match="`dtype` must be a floating dtype; got torch.int64"):
        ranked_diversity_weights(3, dtype=torch.int64)
