"""Forward + backward time of the CAS / CACE / size-target losses next to plain cross-entropy (CPU, 1 thread).

Same batch for every row: logits ``(N, K, H, W)`` = (8, 21, 256, 256) unless ``--size`` says otherwise
(CACE uses one foreground channel of the same spatial size, compared with BCE-with-logits on it).
Target of the segloss issue: every non-CRF loss costs at most 3× CE on the same batch.

Usage::

    python benchmarks/bench_size_cas.py [--repeats 7] [--size 8,21,256,256] [--out table.md]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import segloss


def timed(fn: Callable[[], torch.Tensor], leaves: list[torch.Tensor], repeats: int) -> float:
    def once() -> float:
        for t in leaves:
            t.grad = None
        t0 = time.process_time()
        fn().backward()
        return time.process_time() - t0

    once()  # warm-up
    return statistics.median(once() for _ in range(repeats))


def paired(
    fn: Callable[[], torch.Tensor], base: Callable[[], torch.Tensor], leaves: list[torch.Tensor], repeats: int
) -> tuple[float, float, float]:
    """Alternate loss and baseline runs (robust to a shared, fluctuating CPU): medians and median ratio."""
    ts, bs = [], []
    for i in range(repeats + 1):
        t = timed(fn, leaves, 1)
        b = timed(base, leaves, 1)
        if i:
            ts.append(t)
            bs.append(b)
    return statistics.median(ts), statistics.median(bs), statistics.median(t / b for t, b in zip(ts, bs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--size", default="8,21,256,256", help="N,K,H,W")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown table here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    n, k, h, w = (int(v) for v in args.size.split(","))
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, k, h, w, generator=g).requires_grad_(True)
    labels = torch.randint(0, k, (n, h, w), generator=g)
    # region-id map with a few arbitrary ids per image (what CAS is for)
    regions = (torch.rand(n, h // 32, w // 32, generator=g) * 6).long() * 1000 + 7
    regions = F.interpolate(regions[:, None].float(), size=(h, w), mode="nearest")[:, 0].long()
    mask = (labels < k // 3).long()
    fg = torch.randn(n, 1, h, w, generator=g).requires_grad_(True)
    sizes = segloss.size_targets_from_mask(labels, k)
    tags = sizes > 0
    seeds = torch.where(torch.rand(n, h, w, generator=g) < 0.02, labels, torch.full_like(labels, 255))

    ce = lambda: F.cross_entropy(logits, labels)  # noqa: E731
    bce = lambda: F.binary_cross_entropy_with_logits(fg[:, 0], mask.float())  # noqa: E731
    rows = [
        ("CASLoss (paper, region ids)", lambda: segloss.cas_loss(logits, regions), [logits], ce, "CE"),
        ("CASLoss (paper, ignore_index)", lambda: segloss.cas_loss(logits, labels, ignore_index=0), [logits], ce, "CE"),
        ("CASLoss (compat='official')", lambda: segloss.cas_loss(logits, mask, compat="official"), [logits], ce, "CE"),
        ("CACELoss (1 channel)", lambda: segloss.cace_loss(fg, mask), [fg], bce, "BCE"),
        ("SizeTargetLoss (forward KL)", lambda: segloss.size_target_loss(logits, sizes), [logits], ce, "CE"),
        (
            "SizeTargetLoss (reverse KL)",
            lambda: segloss.size_target_loss(logits, sizes, divergence="reverse"),
            [logits],
            ce,
            "CE",
        ),
        ("TagBarrierLoss (log + suppress)", lambda: segloss.tag_barrier_loss(logits, tags), [logits], ce, "CE"),
        (
            "TagBarrierLoss (flat, no suppress)",
            lambda: segloss.tag_barrier_loss(logits, tags, expand="flat", suppress=False),
            [logits],
            ce,
            "CE",
        ),
        (
            "QuadraticSizeBarrierLoss",
            lambda: segloss.quadratic_size_barrier_loss(logits, sizes * 0.8, absent=~tags),
            [logits],
            ce,
            "CE",
        ),
        ("PartialCrossEntropyLoss", lambda: segloss.partial_cross_entropy(logits, seeds), [logits], ce, "CE"),
    ]
    lines = [
        "Forward + backward, CPU time of the process (time.process_time; the machine is shared), 1 thread; "
        f"each loss alternated with its baseline on the same batch, "
        f"{args.repeats} pairs after a warm-up, medians (ratio = median of the paired ratios); "
        f"logits ({n}, {k}, {h}, {w}).",
        "",
        "| loss | time (ms) | baseline | baseline (ms) | ratio |",
        "|---|---:|---|---:|---:|",
    ]
    for name, fn, leaves, base, base_name in rows:
        t, b, ratio = paired(fn, base, leaves, args.repeats)
        lines.append(f"| {name} | {t * 1e3:.1f} | {base_name} | {b * 1e3:.1f} | {ratio:.2f} |")
    lines += [
        "",
        f"torch {torch.__version__}, Python {platform.python_version()}, {platform.processor() or platform.machine()}",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
