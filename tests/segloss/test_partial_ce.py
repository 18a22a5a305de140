import torch
import torch.nn.functional as F

from segloss import PartialCrossEntropyLoss, partial_cross_entropy


def test_partial_cross_entropy():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64)
    seeds = torch.full((2, 5, 5), 255)
    seeds[0, 1, 1], seeds[0, 2, 3], seeds[1, 4, 4] = 2, 0, 1
    torch.testing.assert_close(partial_cross_entropy(logits, seeds), F.cross_entropy(logits, seeds, ignore_index=255))
    per = F.cross_entropy(logits, seeds, ignore_index=255, reduction="none").sum((1, 2))
    torch.testing.assert_close(PartialCrossEntropyLoss(reduction="none")(logits, seeds), per)
    torch.testing.assert_close(partial_cross_entropy(logits, seeds, reduction="sum"), per.sum())
    none = torch.full((2, 5, 5), 255)
    x = logits.clone().requires_grad_(True)
    out = partial_cross_entropy(x, none)
    out.backward()
    assert out.item() == 0.0 and torch.count_nonzero(x.grad) == 0
    z = torch.randn(2, 1, 5, 5, generator=g, dtype=torch.float64)
    two = torch.cat([torch.zeros_like(z), z], 1)
    torch.testing.assert_close(
        partial_cross_entropy(z, seeds.clamp_max(1).masked_fill(seeds == 255, 255), mode="binary"),
        partial_cross_entropy(two, seeds.clamp_max(1).masked_fill(seeds == 255, 255)),
    )


def test_partial_ce_ignored_pixels_with_overflowing_loss_do_not_poison_the_loss():
    """An unlabelled pixel whose CE overflows to inf (logit gap beyond float32) is dropped, not turned into NaN."""
    g = torch.Generator().manual_seed(0)
    pred = torch.randn(2, 3, 8, 8, generator=g)
    seeds = torch.full((2, 8, 8), 255)
    seeds[:, 2:4, 2:4] = 1
    far = pred.clone()
    far[:, 0, 6:, 6:] = -3e38  # only unlabelled pixels saturate: their CE to class 0 is -(-3e38 - 3e38) = inf
    far[:, 1, 6:, 6:] = 3e38
    x = far.requires_grad_(True)
    loss = partial_cross_entropy(x, seeds)
    assert torch.allclose(loss, partial_cross_entropy(pred, seeds))
    assert torch.allclose(partial_cross_entropy(x, seeds, reduction="none"),
                          partial_cross_entropy(pred, seeds, reduction="none"))
    loss.backward()
    assert torch.isfinite(x.grad).all()


def test_partial_ce_ignore_index_none_uses_every_pixel_as_a_seed():
    # ignore_index=None (every pixel labelled, as in the other losses) crashed inside torch.where
    x = torch.randn(2, 3, 5, 6, requires_grad=True)
    y = torch.randint(0, 3, (2, 5, 6))
    loss = partial_cross_entropy(x, y, ignore_index=None)
    torch.testing.assert_close(loss, F.cross_entropy(x, y))
    loss.backward()
    assert PartialCrossEntropyLoss(ignore_index=None)(x, y).isfinite()
