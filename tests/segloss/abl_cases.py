"""Seeded inputs of the golden-value cases for the ABL and Lovász parity tests (shared by the tests and by the
scratch script that produced ``data/abl_official_golden.npz`` / ``data/lovasz_berman_golden.npz``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# name -> (N, C, H, W, seed, logits size or None, ignore region?, options of the authors' ABL)
ABL_CASES = {
    "c3_n2": (2, 3, 32, 48, 0, None, False, {}),
    "c3_n2_ignore": (2, 3, 32, 48, 10, None, True, {}),
    "c5_n4_ignore": (4, 5, 40, 40, 1, None, True, {}),
    "c19_n1": (1, 19, 64, 64, 2, None, False, {}),
    "c4_n3_resize": (3, 4, 32, 32, 3, (13, 11), False, {}),
    "c5_n2_resize_ignore": (2, 5, 36, 44, 4, (18, 22), True, {}),
    "c4_n3_nodetach": (3, 4, 32, 32, 5, None, True, {"isdetach": False}),
    "c3_n2_nosmooth": (2, 3, 32, 48, 6, None, False, {"label_smoothing": 0.0}),
    "c6_n2_ratio_theta": (2, 6, 48, 40, 7, None, True, {"max_N_ratio": 0.03, "max_clip_dist": 8.0}),
    "c2_n4_binaryish": (4, 2, 24, 24, 8, None, False, {}),
}


def abl_case(n: int, c: int, h: int, w: int, seed: int, logit_size=None, ignore: bool = False):
    """Smooth random logits (float32) and blocky labels (int64, 255 in a corner band when ``ignore``)."""
    g = torch.Generator().manual_seed(seed)
    lh, lw = logit_size or (h, w)
    logits = torch.randn(n, c, max(lh // 4, 2), max(lw // 4, 2), generator=g)
    logits = F.interpolate(logits, size=(lh, lw), mode="bilinear", align_corners=False).mul(3.0)
    labels = torch.randint(0, c, (n, max(h // 8, 2), max(w // 8, 2)), generator=g)
    labels = F.interpolate(labels[:, None].float(), size=(h, w), mode="nearest")[:, 0].long()
    if ignore:
        labels[:, : h // 5, : w // 3] = 255
        labels[-1, h - 3 :, :] = 255
    return logits.contiguous(), labels


# name -> (N, C, H, W, seed, classes, per_image, ignore)
LOVASZ_CASES = {
    "present_batch": (2, 4, 12, 10, 0, "present", False, False),
    "present_batch_ignore": (3, 5, 9, 11, 1, "present", False, True),
    "all_batch": (2, 3, 8, 8, 2, "all", False, True),
    "present_per_image": (3, 4, 10, 9, 3, "present", True, True),
    "all_per_image": (2, 5, 7, 12, 4, "all", True, False),
    "list_batch": (2, 6, 10, 10, 5, [0, 2, 5], False, True),
    "list_per_image": (2, 6, 10, 10, 6, [1, 3], True, False),
    "c19": (2, 19, 16, 16, 7, "present", False, True),
}


def lovasz_case(n: int, c: int, h: int, w: int, seed: int, ignore: bool):
    """Random logits (float32) and labels; with ``ignore`` a few pixels are 255 (never a whole image)."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, h, w, generator=g) * 2.0
    labels = torch.randint(0, max(c - 1, 1), (n, h, w), generator=g)  # the last class is absent
    if ignore:
        labels[torch.rand(n, h, w, generator=g) < 0.2] = 255
    return logits, labels
