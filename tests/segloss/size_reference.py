"""Double-precision references of the size losses: the image-level mean prediction S̄ and the KL divergence."""

import torch


def mean_softmax(logits, roi=None):
    s = torch.softmax(logits.double(), 1)
    if roi is None:
        return s.mean((2, 3))
    r = roi.double()[:, None]
    return (s * r).sum((2, 3)) / r.sum((2, 3))


def kl(p, q):
    return torch.where(p > 0, p * (p / q).log(), torch.zeros_like(p)).sum(1)


def random_sizes(g, n, k, zeros=True):
    v = torch.rand(n, k, generator=g, dtype=torch.float64)
    if zeros:
        v[:, 0] = 0.0
    return v / v.sum(1, keepdim=True)
