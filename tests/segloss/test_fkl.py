import pytest
import torch

from segloss import FKLLoss, fkl_loss
from tests.segloss.abl_cases import abl_case


def reference_fkl(logits, target, ignore=255):
    """Float64 loop over every vertical and horizontal edge of every image (paper eq. 7)."""
    n, _, h, w = logits.shape
    p = torch.softmax(logits.double(), 1)
    per_image = []
    for b in range(n):
        terms = []
        for i in range(h):
            for j in range(w):
                for di, dj in ((1, 0), (0, 1)):
                    ii, jj = i + di, j + dj
                    if ii >= h or jj >= w or ignore in (int(target[b, i, j]), int(target[b, ii, jj])):
                        continue
                    a, c = p[b, :, i, j], p[b, :, ii, jj]
                    kl = (a * (a.log() - c.log())).sum()
                    y = float(target[b, i, j] != target[b, ii, jj])
                    s = torch.sigmoid(kl)
                    terms.append(-(y * s.log() + (1 - y) * (1 - s).log()))
        per_image.append(torch.stack(terms) if terms else None)
    return per_image


def test_fkl_matches_float64_reference_and_gradients():
    logits, labels = abl_case(2, 3, 9, 11, 21, None, True)
    x = logits.double().requires_grad_()
    y = logits.double().requires_grad_()
    terms = reference_fkl(y, labels)
    ref = torch.cat([t for t in terms if t is not None]).mean()
    got = fkl_loss(x, labels)
    ref.backward()
    got.backward()
    assert got.item() == pytest.approx(ref.item(), rel=1e-10)
    torch.testing.assert_close(x.grad, y.grad, rtol=1e-8, atol=1e-12)
    per = fkl_loss(logits.double(), labels, reduction="none")
    torch.testing.assert_close(per, torch.stack([t.mean() for t in terms]), rtol=1e-10, atol=0)
    assert fkl_loss(logits, labels, reduction="sum").item() == pytest.approx(per.sum().item(), rel=1e-6)


def test_fkl_gradcheck_binary_and_degenerate():
    logits, labels = abl_case(2, 3, 5, 6, 22, None, False)
    x = logits.double().requires_grad_()
    assert torch.autograd.gradcheck(lambda z: fkl_loss(z, labels), (x,), fast_mode=True)
    g = torch.Generator().manual_seed(1)
    xb = torch.randn(2, 1, 6, 6, generator=g)
    tb = torch.randint(0, 2, (2, 6, 6), generator=g)
    two = torch.cat([torch.zeros_like(xb), xb], 1)
    assert fkl_loss(xb, tb, mode="binary").item() == pytest.approx(fkl_loss(two, tb).item(), rel=1e-6)
    z = torch.randn(2, 3, 4, 4, requires_grad=True)
    out = FKLLoss()(z, torch.full((2, 4, 4), 255))
    assert out.shape == () and out.item() == 0.0 and out.requires_grad
    out.backward()
    one = fkl_loss(torch.randn(1, 3, 1, 1, requires_grad=True), torch.zeros(1, 1, 1, dtype=torch.long))
    assert one.item() == 0.0 and one.requires_grad
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.isfinite(fkl_loss(logits.bfloat16(), labels))
    with pytest.raises(ValueError, match="1 channel in binary mode"):
        fkl_loss(logits, labels, mode="binary")
    with pytest.raises(ValueError, match="`reduction` must be one of"):
        fkl_loss(logits, labels, reduction="mean_per_pixel")


def test_fkl_saturated_logits_give_finite_loss_not_nan():
    """Finite logits whose gaps overflow float32 (±3e38): log-probs underflow to -inf, which must not become NaN."""
    g = torch.Generator().manual_seed(0)
    sign = torch.where(torch.rand(2, 1, 6, 6, generator=g) > 0.5, 1.0, -1.0)
    pred = torch.cat([sign, -sign, torch.zeros_like(sign)], 1) * 3e38
    pred.requires_grad_(True)
    target = torch.zeros(2, 6, 6, dtype=torch.long)  # no boundary: every edge has y = 0
    same = pred.detach()[:, :, :1, :1].expand(2, 3, 6, 6).clone().requires_grad_(True)
    loss = fkl_loss(same, target)  # neighbours equal: KL = 0 on every edge, BCE = log 2
    assert torch.isclose(loss, torch.tensor(0.6931472))
    loss.backward()
    assert torch.isfinite(same.grad).all()
    loss = fkl_loss(pred, target)  # neighbours differ: a huge but not NaN loss
    assert not torch.isnan(loss)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    one_pixel = fkl_loss(pred[:, :, :1, :1], target[:, :1, :1])  # no edge at all: the zero that keeps the graph
    assert one_pixel.item() == 0.0 and one_pixel.requires_grad
