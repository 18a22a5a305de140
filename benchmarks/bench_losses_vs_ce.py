"""Forward + backward time of segloss losses next to plain cross-entropy on the same batch (CPU, one thread).

Every entry of ``ENTRIES`` is ``(name, setup)``; ``setup()`` builds its inputs and returns a
:class:`Case` with two zero-argument closures — the loss and the plain CE it is compared with —
each returning a scalar to back-propagate, plus a short description of the sizes. To add a loss,
append an entry (helpers :func:`binary_case` and :func:`multi_output_case` cover the common
layouts). Target of the segloss issue: every loss costs at most 3× CE on the same batch.

Usage::

    python benchmarks/bench_losses_vs_ce.py [--repeats 7] [--only hindsight,isnet] [--out table.md]
    python benchmarks/bench_losses_vs_ce.py --quick    # run check: N = 2, 64², 1 repeat (numbers mean nothing)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import segloss

N, H, W, M = 8, 256, 256, 6
# IS-Net feature shapes for a 1024² input, scaled to a 256² input (channels kept, strides 2..64)
ISNET_FEATURES = ((64, 128, 128), (64, 64, 64), (128, 32, 32), (256, 16, 16), (512, 8, 8), (512, 4, 4))


@dataclass
class Case:
    loss: Callable[[], torch.Tensor]
    baseline: Callable[[], torch.Tensor]
    leaves: list[torch.Tensor]
    sizes: str
    baseline_name: str


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def binary_case(loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Case:
    """A loss on ``(N, 1, H, W)`` logits and a binary target, next to BCE-with-logits on the same logits."""
    g = _gen()
    logits = torch.randn(N, 1, H, W, generator=g).requires_grad_(True)
    target = (torch.rand(N, 1, H, W, generator=g) > 0.5).float()
    return Case(
        loss=lambda: loss_fn(logits, target),
        baseline=lambda: F.binary_cross_entropy_with_logits(logits, target),
        leaves=[logits],
        sizes=f"({N}, 1, {H}, {W})",
        baseline_name="BCE-with-logits",
    )


def multi_output_case(loss_fn: Callable[..., torch.Tensor], *, clicks: bool) -> Case:
    """A loss on ``(N, M, H, W)`` logits, next to CE over the same logits read as ``M`` classes."""
    g = _gen(1)
    logits = torch.randn(N, M, H, W, generator=g).requires_grad_(True)
    target = (torch.rand(N, H, W, generator=g) > 0.5).float()
    labels = torch.randint(0, M, (N, H, W), generator=g)
    pos = (torch.rand(N, H, W, generator=g) > 0.999).float() * target
    neg = (torch.rand(N, H, W, generator=g) > 0.999).float() * (1 - target)
    extra = (pos, neg) if clicks else ()
    return Case(
        loss=lambda: loss_fn(logits, target, *extra),
        baseline=lambda: F.cross_entropy(logits, labels),
        leaves=[logits],
        sizes=f"({N}, {M}, {H}, {W})" + (" + clicks" if clicks else ""),
        baseline_name=f"CE, C={M}",
    )


def multiclass_case(loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], classes: int = 21) -> Case:
    """A loss on ``(N, C, H, W)`` logits and class ids, next to CE on the same logits."""
    g = _gen(8)
    logits = torch.randn(N, classes, H, W, generator=g).requires_grad_(True)
    labels = torch.randint(0, classes, (N, H, W), generator=g)
    return Case(
        loss=lambda: loss_fn(logits, labels),
        baseline=lambda: F.cross_entropy(logits, labels),
        leaves=[logits],
        sizes=f"({N}, {classes}, {H}, {W})",
        baseline_name=f"CE, C={classes}",
    )


def click_case() -> Case:
    g = _gen(2)
    logits = torch.randn(N, 1, H, W, generator=g).requires_grad_(True)
    target = (torch.rand(N, 1, H, W, generator=g) > 0.5).float()
    pos = (torch.rand(N, H, W, generator=g) > 0.999).float() * target[:, 0]
    neg = (torch.rand(N, H, W, generator=g) > 0.999).float() * (1 - target[:, 0])
    return Case(
        loss=lambda: segloss.click_constraint_loss(logits, pos, neg),
        baseline=lambda: F.binary_cross_entropy_with_logits(logits, target),
        leaves=[logits],
        sizes=f"({N}, 1, {H}, {W})",
        baseline_name="BCE-with-logits",
    )


def selection_case() -> Case:
    g = _gen(3)
    scores = torch.randn(N, M, generator=g).requires_grad_(True)
    masks = torch.randn(N, M, H, W, generator=g).requires_grad_(True)  # CE side back-propagates through these
    target = (torch.rand(N, H, W, generator=g) > 0.5).float()
    labels = torch.randint(0, M, (N, H, W), generator=g)
    return Case(
        loss=lambda: segloss.selection_loss(scores, masks.detach(), target),
        baseline=lambda: F.cross_entropy(masks, labels),
        leaves=[scores, masks],
        sizes=f"scores ({N}, {M}), masks ({N}, {M}, {H}, {W})",
        baseline_name=f"CE on the masks, C={M}",
    )


def _features(seed: int) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    g = _gen(seed)
    student = [torch.randn(N, *s, generator=g).requires_grad_(True) for s in ISNET_FEATURES]
    teacher = [torch.randn(N, *s, generator=g) for s in ISNET_FEATURES]
    labels = [torch.randint(0, s[0], (N, *s[1:]), generator=g) for s in ISNET_FEATURES]
    return student, teacher, labels


def feature_case(mode: str) -> Case:
    student, teacher, labels = _features(4)
    return Case(
        loss=lambda: segloss.feature_consistency_loss(student, teacher, mode=mode),
        baseline=lambda: sum(F.cross_entropy(s, y) for s, y in zip(student, labels)),
        leaves=student,
        sizes=f"6 levels, N={N}, IS-Net channels, 128²…4²",
        baseline_name="CE per level, C=channels",
    )


def _sides(seed: int, sizes: tuple[int, ...]) -> tuple[list[torch.Tensor], torch.Tensor]:
    g = _gen(seed)
    sides = [torch.randn(N, 1, s, s, generator=g).requires_grad_(True) for s in sizes]
    target = (torch.rand(N, 1, H, W, generator=g) > 0.5).float()
    return sides, target


def deep_supervision_case(sizes: tuple[int, ...]) -> Case:
    sides, target = _sides(5, sizes)
    targets = [F.interpolate(target, size=(s, s), mode="bilinear", align_corners=True) for s in sizes]
    return Case(
        loss=lambda: segloss.deep_supervision_loss(sides, target),
        baseline=lambda: sum(F.binary_cross_entropy_with_logits(x, t) for x, t in zip(sides, targets)),
        leaves=sides,
        sizes=f"6 × ({N}, 1, s, s), s = {', '.join(map(str, sorted(set(sizes), reverse=True)))}",
        baseline_name="BCE-with-logits per side (targets pre-resized)",
    )


def isnet_case() -> Case:
    sides, target = _sides(6, (H,) * 6)
    student, teacher, labels = _features(7)
    return Case(
        loss=lambda: segloss.isnet_loss(sides, target, student, teacher)[0],
        baseline=lambda: (
            sum(F.binary_cross_entropy_with_logits(x, target) for x in sides)
            + sum(F.cross_entropy(s, y) for s, y in zip(student, labels))
        ),
        leaves=sides + student,
        sizes=f"6 sides ({N}, 1, {H}, {W}) + 6 feature levels",
        baseline_name="BCE per side + CE per level",
    )


ENTRIES: list[tuple[str, Callable[[], Case]]] = [
    ("soft_jaccard (min)", lambda: binary_case(segloss.soft_jaccard_loss)),
    ("soft_jaccard (product)", lambda: binary_case(lambda x, t: segloss.soft_jaccard_loss(x, t, form="product"))),
    (
        "soft_jaccard (multiclass)",
        lambda: multiclass_case(lambda x, y: segloss.soft_jaccard_loss(x, y, mode="multiclass")),
    ),
    ("click_constraint", click_case),
    ("hindsight (Jaccard)", lambda: multi_output_case(segloss.hindsight_loss, clicks=False)),
    ("hindsight (Jaccard + clicks)", lambda: multi_output_case(segloss.hindsight_loss, clicks=True)),
    ("ranked_diversity (eq. 7)", lambda: multi_output_case(segloss.RankedDiversityLoss(), clicks=True)),
    (
        "hindsight, base=SoftJaccardLoss (folded)",
        lambda: multi_output_case(
            segloss.HindsightLoss(base_loss=segloss.SoftJaccardLoss(reduction="none")), clicks=False
        ),
    ),
    ("selection (eq. 6)", selection_case),
    ("feature_consistency (mse)", lambda: feature_case("mse")),
    ("feature_consistency (kl)", lambda: feature_case("kl")),
    ("deep_supervision (same size)", lambda: deep_supervision_case((H,) * 6)),
    ("deep_supervision (resized GT)", lambda: deep_supervision_case(tuple(H >> i for i in range(6)))),
    ("isnet_loss (BCE + MSE)", isnet_case),
]


def time_fb(fn: Callable[[], torch.Tensor], leaves: list[torch.Tensor], repeats: int) -> list[float]:
    """Times of forward + backward (``torch.autograd.grad`` into the leaves), after one warm-up."""
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        loss = fn()
        torch.autograd.grad(loss, [x for x in leaves if x.requires_grad], allow_unused=True)
        if i:
            times.append(time.perf_counter() - t0)
    return times


def run(repeats: int, only: list[str] | None) -> str:
    torch.set_num_threads(1)
    rows = []
    for name, setup in ENTRIES:
        if only and not any(o.lower() in name.lower() for o in only):
            continue
        case = setup()
        loss_t, ce_t = [], []
        for _ in range(repeats):  # interleave to spread machine noise over both
            loss_t += time_fb(case.loss, case.leaves, 1)
            ce_t += time_fb(case.baseline, case.leaves, 1)
        ours, ce = statistics.median(loss_t) * 1e3, statistics.median(ce_t) * 1e3
        ratio = ours / ce
        rows.append(
            f"| {name} | {case.sizes} | {ours:.1f} | {case.baseline_name} | {ce:.1f} | {ratio:.2f} | "
            f"{'yes' if ratio <= 3 else 'NO'} |"
        )
        print(rows[-1], flush=True)
    head = [
        f"Machine: {platform.processor() or platform.machine()}, {platform.system()}; Python "
        f"{platform.python_version()}, torch {torch.__version__}; torch.set_num_threads(1); "
        f"median of {repeats} forward+backward runs after warm-up, loss and CE interleaved.",
        "",
        "| loss | input | ours (ms) | plain CE on the same batch | CE (ms) | ratio | ≤ 3× CE |",
        "|---|---|---:|---|---:|---:|:-:|",
    ]
    return "\n".join(head + rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", type=str, default="", help="comma-separated substrings of entry names")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown table here")
    parser.add_argument("--quick", action="store_true",
                        help="run check: batch 2 at 64², 1 repeat (the numbers mean nothing)")
    args = parser.parse_args()
    if args.quick:
        global N, H, W
        N, H, W, args.repeats = 2, 64, 64, 1
    table = run(args.repeats, [s for s in args.only.split(",") if s] or None)
    print()
    print(table)
    if args.out is not None:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
