import pytest
import torch
import torch.nn.functional as F

from segloss import CELovaszABLLoss, active_boundary_loss, ce_lovasz_abl_loss, lovasz_softmax_loss
from tests.segloss.abl_cases import abl_case


def test_composite_eq5_parts_and_degenerate():
    logits, labels = abl_case(2, 4, 24, 24, 23, (12, 12), True)
    x = logits.clone().requires_grad_()
    total, parts = ce_lovasz_abl_loss(x, labels, abl_weight=1.5, max_n_ratio=0.05)
    up = F.interpolate(logits, size=(24, 24), mode="bilinear", align_corners=True)
    ce = F.cross_entropy(up, labels, ignore_index=255)
    lov = lovasz_softmax_loss(up, labels, ignore_index=255)
    abl = active_boundary_loss(logits, labels, max_n_ratio=0.05)
    assert parts["ce"].item() == pytest.approx(ce.item(), rel=1e-6)
    assert parts["lovasz"].item() == pytest.approx(lov.item(), rel=1e-6)
    assert parts["abl"].item() == pytest.approx(abl.item(), rel=1e-6) and abl.item() > 0
    assert total.item() == pytest.approx((ce + lov + 1.5 * abl).item(), rel=1e-6)
    assert not any(v.requires_grad for v in parts.values())
    total.backward()
    assert torch.isfinite(x.grad).all()
    crit = CELovaszABLLoss(abl_weight=1.5, class_weight=torch.ones(4), max_n_ratio=0.05)
    t2, _ = crit(logits, labels)
    assert t2.item() == pytest.approx(total.item(), rel=1e-6)
    z = torch.randn(2, 4, 8, 8, requires_grad=True)
    t3, p3 = crit(z, torch.full((2, 8, 8), 255))
    assert t3.item() == 0.0 and all(v.item() == 0.0 for v in p3.values())
    t3.backward()
    tb, _ = ce_lovasz_abl_loss(torch.randn(2, 1, 8, 8), torch.randint(0, 2, (2, 8, 8)), mode="binary")
    assert torch.isfinite(tb)
    with pytest.raises(ValueError, match="`abl_weight` must be >= 0"):
        CELovaszABLLoss(abl_weight=-1.0)
    with pytest.raises(ValueError, match="`reduction` is not an option"):
        ce_lovasz_abl_loss(logits, labels, reduction="none")


def test_composite_refuses_weight_and_names_class_weight_in_its_messages():
    # `weight=` (torch CE's name) failed deep inside with "got multiple values for keyword argument 'weight'";
    # a wrong `class_weight` was reported as `weight` (the ABL name)
    x, y = torch.randn(1, 3, 8, 8), torch.randint(0, 3, (1, 8, 8))
    with pytest.raises(TypeError, match=r"\['weight'\].*`class_weight`"):
        ce_lovasz_abl_loss(x, y, weight=torch.ones(3))
    with pytest.raises(TypeError, match=r"\['weight'\].*`class_weight`"):
        CELovaszABLLoss(weight=torch.ones(3))
    with pytest.raises(ValueError, match=r"`class_weight` must be a float tensor of shape \(3,\); got .*\(2,\)"):
        ce_lovasz_abl_loss(x, y, class_weight=torch.ones(2))
    total, parts = ce_lovasz_abl_loss(x, y, class_weight=torch.zeros(3), theta=10.0)
    assert total.isfinite() and parts["ce"] == 0
