"""GPU benchmark: every segloss loss next to cross-entropy; ABL / Lovász next to the authors' code (one GPU).

Times forward + backward (value checks off, CUDA-synchronised wall time, median of ``--repeats`` after warm-up) of

* every loss of ``tests/segloss/loss_zoo.py`` at (N, C, H, W) = ``--size`` (default 8, 19, 256, 256), as a ratio to
  ``F.cross_entropy`` on the same logits (the zoo's "CrossEntropy (reference)" row);
* ``ActiveBoundaryLoss`` (paper and official mode, eager and ``torch.compile``) and ``LovaszSoftmaxLoss`` against the
  authors' ``abl.py`` and Berman's ``lovasz_softmax`` at (8, 19, 256, 512) and (2, 19, 512, 1024), with the number of
  host synchronisations of each (``torch.cuda.set_sync_debug_mode("warn")``, counted).

The authors' code is never part of this repository: point ``--abl-repo`` / ``--lovasz-repo`` at scratch copies
(the same layout as ``bench_active_boundary.py``); a missing anchor leaves its rows out. Designed to finish in under
3 minutes on one GPU (``--quick`` quarters H and W). Without CUDA it prints a message and exits with status 2;
``--device cpu --quick`` runs the logic on a CPU at small sizes.

Usage::

    python benchmarks/bench_gpu.py [--abl-repo DIR] [--lovasz-repo DIR] [--out table.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "segloss"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import median_seconds, synchronize  # noqa: E402
from bench_active_boundary import load_abl, load_lovasz, make_inputs  # noqa: E402
from loss_zoo import SMALL_ONLY, cases  # noqa: E402

import segloss  # noqa: E402

ANCHOR_SIZES = [(8, 19, 256, 512), (2, 19, 512, 1024)]


def count_syncs(fn, device: torch.device) -> int | None:
    """Host synchronisations of one ``fn()`` call (CUDA only, via the sync debug mode's warnings)."""
    if device.type != "cuda":
        return None
    fn()
    synchronize(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    return sum("synchroniz" in str(w.message) for w in caught)


def fwd_bwd(loss_fn, logits: torch.Tensor):
    def run():
        x = logits.detach().requires_grad_()
        out = loss_fn(x)
        out.backward()
        return out

    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--size", default="8,19,256,256", help="N,C,H,W of the every-loss table")
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--abl-repo", default=os.environ.get("SEGLOSS_ABL_REPO"))
    ap.add_argument("--lovasz-repo", default=os.environ.get("SEGLOSS_LOVASZ_REPO"))
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    ap.add_argument("--quick", action="store_true", help="quarter-size inputs (a CPU dry run of the logic)")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown tables here")
    args = ap.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("bench_gpu.py: no CUDA device available (torch.cuda.is_available() is False); nothing was measured. "
              "Run it on a machine with a GPU, or pass --device cpu --quick to check the script.", file=sys.stderr)
        return 2
    t_start = time.perf_counter()
    segloss.set_value_checks(False)
    warnings.filterwarnings("ignore", category=UserWarning)
    div = 4 if args.quick else 1
    n, c, h, w = (int(v) for v in args.size.split(","))
    h, w = h // div, w // div
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    lines = [f"device: {name}, torch {torch.__version__}, median of {args.repeats} after warm-up, value checks off", "",
             f"### every loss, forward + backward, (N, C, H, W) = ({n}, {c}, {h}, {w})", "",
             "| loss | ms | × cross-entropy | host syncs |", "|---|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    zoo = cases(device, n=n, c=c, h=h, w=w)
    ce_t = None
    for loss_name, (leaf, fn) in zoo.items():
        if loss_name in SMALL_ONLY:
            continue
        run = fwd_bwd(fn, leaf)
        t = median_seconds(run, device, args.repeats)
        ce_t = t if ce_t is None else ce_t  # the first row is the cross-entropy reference
        syncs = count_syncs(run, device)
        lines.append(f"| {loss_name} | {t * 1e3:.2f} | {t / ce_t:.2f} | {'—' if syncs is None else syncs} |")
        print(lines[-1], flush=True)

    abl_cls, abl_src = load_abl(args.abl_repo)
    lov_fn, lov_src = load_lovasz(args.lovasz_repo)
    lines += ["", "### ABL and Lovász-softmax vs the authors' code, forward + backward", "",
              f"ABL anchor: {abl_src if abl_cls else 'ABSENT (' + abl_src + ')'}; "
              f"Lovász anchor: {lov_src if lov_fn else 'ABSENT (' + lov_src + ')'}", "",
              "| loss | (N, C, H, W) | implementation | ms | speed-up vs authors | host syncs |",
              "|---|---|---|---:|---:|---:|"]
    print("\n".join(lines[-6:]), flush=True)
    for sn, sc, sh, sw in ANCHOR_SIZES:
        logits, labels = make_inputs(sn, sc, sh // div, sw // div)
        logits, labels = logits.to(device), labels.to(device)
        size = f"({sn}, {sc}, {sh // div}, {sw // div})"
        rows = []
        if abl_cls:
            anchor = abl_cls().to(device)
            rows.append(("ABL", "authors' abl.py", fwd_bwd(lambda x, a=anchor, t=labels: a(x, t), logits), True))
        for mode in ("official", "paper"):
            loss = segloss.ActiveBoundaryLoss(compat=mode)
            run = fwd_bwd(lambda x, f=loss, t=labels: f(x, t), logits)
            rows.append(("ABL", f"segloss compat='{mode}'", run, False))
            if not args.no_compile:
                compiled = torch.compile(loss)
                rows.append(("ABL", f"segloss compat='{mode}', torch.compile",
                             fwd_bwd(lambda x, f=compiled, t=labels: f(x, t), logits), False))
        if lov_fn:
            rows.append(("Lovász", "Berman's lovasz_softmax",
                         fwd_bwd(lambda x, t=labels: lov_fn(F.softmax(x, 1), t, ignore=255), logits), True))
        lov = segloss.LovaszSoftmaxLoss(ignore_index=255)
        rows.append(("Lovász", "segloss", fwd_bwd(lambda x, f=lov, t=labels: f(x, t), logits), False))
        ref = {}
        for loss_name, impl, run, is_anchor in rows:
            t = median_seconds(run, device, args.repeats)
            syncs = count_syncs(run, device)
            if is_anchor:
                ref[loss_name] = t
            speed = f"{ref[loss_name] / t:.1f}×" if loss_name in ref and not is_anchor else "—"
            lines.append(f"| {loss_name} | {size} | {impl} | {t * 1e3:.2f} | {speed} | "
                         f"{'—' if syncs is None else syncs} |")
            print(lines[-1], flush=True)
    lines += ["", f"total run time {time.perf_counter() - t_start:.0f} s"]
    print(lines[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
