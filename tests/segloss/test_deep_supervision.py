from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from segloss import (
    DeepSupervisionLoss,
    deep_supervision_loss,
)
from tests.segloss.isnet_cases import load_golden, make_isnet_case


@pytest.fixture(scope="module")
def golden():
    return load_golden()


@pytest.mark.parity
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_deep_supervision_matches_authors_fusion(golden, seed):
    sides, target, _, _ = make_isnet_case(seed)
    lg = [torch.tensor(s) for s in sides]
    tg = torch.tensor(target)
    ours = deep_supervision_loss(lg, tg)
    np.testing.assert_allclose(ours.item(), golden[f"seed{seed}_fusion_loss"], rtol=1e-10)
    # probabilities path (nn.BCELoss semantics) agrees too, and (N, H, W) targets are accepted
    probs = deep_supervision_loss([torch.sigmoid(x) for x in lg], tg[:, 0], from_logits=False)
    np.testing.assert_allclose(probs.item(), golden[f"seed{seed}_fusion_loss"], rtol=1e-10)


def test_deep_supervision_gradcheck_and_resize():
    torch.manual_seed(2)
    sides = (
        torch.randn(2, 1, 6, 6, dtype=torch.float64, requires_grad=True),
        torch.randn(2, 1, 4, 5, dtype=torch.float64, requires_grad=True),
    )
    gt = (torch.rand(2, 6, 6, dtype=torch.float64) > 0.5).double()
    assert torch.autograd.gradcheck(
        lambda a, b: deep_supervision_loss([a, b], gt, weights=[1.0, 0.3], reduction="none"), sides, fast_mode=True
    )
    g1 = F.interpolate(gt[:, None], size=(4, 5), mode="bilinear", align_corners=True)
    ref = F.binary_cross_entropy_with_logits(sides[0], gt[:, None]) + 0.3 * F.binary_cross_entropy_with_logits(
        sides[1], g1
    )
    torch.testing.assert_close(DeepSupervisionLoss(weights=[1.0, 0.3])(list(sides), gt), ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_saturated_probabilities_give_finite_gradients(dtype):
    # exact 0 / 1 (a saturated sigmoid: fp32 sigmoid(17) == 1) and subnormal probabilities, right and wrong labels
    p = torch.tensor([0.0, 1.0, 0.5, 1.0, 1e-40, 1e-45, 0.3, 0.0], dtype=dtype).reshape(2, 1, 2, 2).requires_grad_()
    gt = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0], dtype=dtype).reshape(2, 1, 2, 2)
    loss = deep_supervision_loss([p], gt, from_logits=False)
    loss.backward()
    torch.testing.assert_close(loss, F.binary_cross_entropy(p.detach(), gt))  # nn.BCELoss's value, logs at -100
    assert torch.isfinite(p.grad).all(), p.grad
    torch.testing.assert_close(p.grad[0, 0, 1], torch.tensor([-0.25, -0.125], dtype=dtype))  # unsaturated as before
    # through the sigmoid of large logits, as a model returning probabilities gives them
    x = torch.tensor([-200.0, -95.0, 20.0, 40.0], dtype=dtype).reshape(1, 1, 2, 2).requires_grad_()
    deep_supervision_loss([torch.sigmoid(x)], torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=dtype).reshape(1, 1, 2, 2),
                          from_logits=False).backward()
    assert torch.isfinite(x.grad).all(), x.grad
