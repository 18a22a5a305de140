"""Profile the Active Boundary Loss on a GPU: eager forward + backward times and where the time goes.

Prints, for ``compat="paper"`` and ``compat="official"`` at (8, 19, 256, 512) and (2, 19, 512, 1024):

* the CUDA-synchronised median wall time of forward + backward (value checks off, eager mode), and the authors'
  ``abl.py`` in the same run when ``--abl-repo`` points at a scratch copy (see ``bench_active_boundary.py``);
* the number of kernel launches (CUDA; aten operators on a CPU) and of aten operators called from Python /
  autograd (host time in eager mode) of one forward + backward;
* a ``torch.profiler`` table of the top 15 operators by device time, with their call counts, for paper mode at
  (8, 19, 256, 512) and official mode at (2, 19, 512, 1024).

About 20-40 s on one GPU. ``--device cpu --quick`` is a dry run of the logic (quarter-size inputs); add
``--torch-path`` there to profile the torch code that a GPU runs instead of the CPU kernels.

Usage::

    python benchmarks/profile_abl_gpu.py [--abl-repo DIR] [--repeats 10]
    python benchmarks/profile_abl_gpu.py --device cpu --quick --torch-path
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import median_seconds, synchronize
from bench_active_boundary import load_abl, make_inputs

import segloss
import segloss._distance as distance_module
import segloss.active_boundary as abl_module

SIZES = [(8, 19, 256, 512), (2, 19, 512, 1024)]
PROFILED = [("paper", 0), ("official", 1)]  # (compat, index into SIZES)


def fwd_bwd(loss_fn, logits: torch.Tensor, labels: torch.Tensor):
    def run():
        x = logits.detach().requires_grad_()
        out = loss_fn(x, labels)
        if out is not None:
            out.backward()
        return out

    return run


def launches(prof, device: torch.device) -> int:
    """Kernel launches (and memsets / copies) on CUDA; top-level aten operators elsewhere."""
    if device.type == "cuda":
        return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA)
    return operators(prof)


def operators(prof) -> int:
    """aten operators called from Python or autograd (each costs host time in eager mode)."""
    return sum(1 for e in prof.events() if e.name.startswith("aten::")
               and (e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::")))


def profiled(fn, device: torch.device):
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    fn()
    synchronize(device)
    with profile(activities=activities) as prof:
        fn()
        synchronize(device)
    return prof


def table(prof, device: torch.device, rows: int = 15) -> str:
    averages = prof.key_averages()
    keys = ["self_device_time_total", "self_cuda_time_total"] if device.type == "cuda" else ["self_cpu_time_total"]
    for key in keys:
        try:
            return averages.table(sort_by=key, row_limit=rows, max_name_column_width=60)
        except (AttributeError, KeyError, ValueError):
            continue
    return averages.table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=60)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="quarter-size inputs (a CPU dry run of the logic)")
    ap.add_argument("--torch-path", action="store_true",
                    help="on a CPU, run the torch code of a GPU instead of the compiled CPU kernels")
    ap.add_argument("--abl-repo", default=None,
                    help="scratch copy of the authors' abl.py (optional; default $SEGLOSS_ABL_REPO)")
    args = ap.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("profile_abl_gpu.py: no CUDA device available; pass --device cpu --quick for a dry run.",
              file=sys.stderr)
        return 2
    if args.torch_path:
        abl_module._cpu_kernels = lambda _device: False
        distance_module.squared_distance_to_mask = distance_module.squared_distance_to_mask_torch
        abl_module.squared_distance_to_mask = distance_module.squared_distance_to_mask_torch
    t_start = time.perf_counter()
    segloss.set_value_checks(False)
    warnings.filterwarnings("ignore", category=UserWarning)
    div = 4 if args.quick else 1
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}, torch {torch.__version__}, eager, value checks off, median of {args.repeats}"
          f"{' (quick: quarter size)' if args.quick else ''}{' (torch path)' if args.torch_path else ''}")
    abl_repo = args.abl_repo or os.environ.get("SEGLOSS_ABL_REPO")
    abl_cls, abl_src = load_abl(abl_repo) if abl_repo else (None, "not given (--abl-repo / SEGLOSS_ABL_REPO)")
    print(f"authors' abl.py: {abl_src if abl_cls else 'absent: ' + abl_src}\n")
    print("| (N, C, H, W) | code | ms fwd+bwd | launches | aten operators | × faster than authors |")
    print("|---|---|---:|---:|---:|---:|")
    inputs = []
    for n, c, h, w in SIZES:
        size = (n, c, h // div, w // div)
        logits, labels = make_inputs(*size)
        logits, labels = logits.to(device), labels.to(device)
        inputs.append((size, logits, labels))
        ref = None
        runs = []
        if abl_cls is not None:
            anchor = abl_cls().to(device)
            runs.append(("authors' abl.py", fwd_bwd(lambda x, t, a=anchor: a(x, t), logits, labels)))
        for compat in ("official", "paper"):
            loss = segloss.ActiveBoundaryLoss(compat=compat)
            runs.append((f"segloss compat={compat!r}", fwd_bwd(loss, logits, labels)))
        for label, run in runs:
            ms = 1e3 * median_seconds(run, device, args.repeats, warmup=3)  # allocator, cuBLAS, first launch
            prof = profiled(run, device)
            count, ops = launches(prof, device), operators(prof)
            ref = ms if label.startswith("authors") else ref
            ratio = f"{ref / ms:.1f}×" if ref is not None and not label.startswith("authors") else "—"
            print(f"| {size} | {label} | {ms:.2f} | {count} | {ops} | {ratio} |", flush=True)
    for compat, index in PROFILED:
        size, logits, labels = inputs[index]
        run = fwd_bwd(segloss.ActiveBoundaryLoss(compat=compat), logits, labels)
        prof = profiled(run, device)
        print(f"\n### compat={compat!r} at {size}: top operators by {'device' if device.type == 'cuda' else 'CPU'}"
              f" time, {launches(prof, device)} launches\n")
        print(table(prof, device))
    print(f"total {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
