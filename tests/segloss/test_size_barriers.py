import pytest
import torch

from segloss import QuadraticSizeBarrierLoss, TagBarrierLoss, quadratic_size_barrier_loss, tag_barrier_loss
from tests.segloss.size_reference import kl, mean_softmax


def test_tag_barriers_match_reference():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 4, 5, 5, generator=g, dtype=torch.float64)
    tags = torch.tensor([[True, False, True, False], [True, True, True, True]])
    sbar = mean_softmax(logits)
    t = tags.double()
    expand = -(t * sbar.log()).sum(1)
    suppress = -((1 - t) * (1 - sbar).log()).sum(1)
    torch.testing.assert_close(tag_barrier_loss(logits, tags, reduction="none"), expand + suppress)
    torch.testing.assert_close(tag_barrier_loss(logits, tags, suppress=False, reduction="none"), expand)
    torch.testing.assert_close(tag_barrier_loss(logits, tags, expand="none", reduction="none"), suppress)
    flat = -(t * sbar.clamp_max(0.2).log()).sum(1)
    got = TagBarrierLoss(expand="flat", epsilon=0.2, suppress=False, reduction="none")(logits, tags)
    torch.testing.assert_close(got, flat)
    # the expansion barrier on u_T equals KL(u_T || S̄) up to a constant (paper eq. 10)
    u = t / t.sum(1, keepdim=True)
    const = tag_barrier_loss(logits, tags, suppress=False, reduction="none") / t.sum(1) - kl(u, sbar)
    torch.testing.assert_close(const, t.sum(1).log())


def test_flat_barrier_has_no_pull_above_epsilon():
    logits = torch.zeros(1, 2, 4, 4, requires_grad=True)  # S̄ = (0.5, 0.5)
    tag_barrier_loss(logits, torch.tensor([[1, 1]]), expand="flat", epsilon=0.3, suppress=False).backward()
    assert torch.count_nonzero(logits.grad) == 0


def test_quadratic_barrier_matches_reference():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 5, 6, generator=g, dtype=torch.float64)
    a = torch.tensor([[0.6, 0.1, 0.0], [0.2, 0.2, 0.2]], dtype=torch.float64)
    b = torch.tensor([[0.9, 0.2, 1.0], [0.3, 0.3, 0.3]], dtype=torch.float64)
    absent = torch.tensor([[False, False, True], [False, False, False]])
    sbar = mean_softmax(logits)
    ref = (a - sbar).clamp_min(0).square().sum(1) + (sbar - b).clamp_min(0).square().sum(1)
    ref = ref + (absent.double() * sbar**2).sum(1)
    got = quadratic_size_barrier_loss(logits, a, upper=b, absent=absent, reduction="none")
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(QuadraticSizeBarrierLoss(reduction="none")(logits, a, b, absent), ref)


def test_quadratic_barrier_refuses_an_upper_bound_below_its_lower_bound():
    # lower > upper (e.g. swapped columns when porting pixel-count bounds) was silently accepted
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"`upper - lower` must hold values in \[0, inf\] \(each upper bound"):
        quadratic_size_barrier_loss(x, torch.full((2, 3), 0.5), upper=torch.full((2, 3), 0.2))
    ok = quadratic_size_barrier_loss(x, torch.full((2, 3), 0.2), upper=torch.full((2, 3), 0.2))
    assert ok.isfinite()


def test_quadratic_barrier_accepts_bool_bounds():
    # bool bounds (0/1 fractions) passed the value checks, then `upper - lower` raised torch's bare "Subtraction,
    # the `-` operator, with two bool tensors is not supported"
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    a, b = torch.tensor([[True, False, False]]), torch.tensor([[True, True, False]])
    got = quadratic_size_barrier_loss(x, a, upper=b)
    torch.testing.assert_close(got, quadratic_size_barrier_loss(x, a.double(), upper=b.double()))
    with pytest.raises(ValueError, match=r"`upper - lower` must hold values in \[0, inf\]"):
        quadratic_size_barrier_loss(x, b, upper=a)
