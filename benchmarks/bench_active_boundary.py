"""Benchmark: segloss Active Boundary Loss and Lovász-softmax vs the authors' implementations (CPU, one thread).

Times forward + backward of

* ``segloss.active_boundary_loss`` (``compat="official"`` and ``"paper"``; also with a precomputed ``dist_map`` as a
  DataLoader worker would provide it) against ``ABL`` from wangchi95/active-boundary-loss ``abl.py``;
* ``segloss.lovasz_softmax_loss`` against ``lovasz_softmax`` of bermanmaxim/LovaszSoftmax (per-class loop),

at (N=8, C=19, 256×512) and (N=2, C=19, 512×1024), and checks that the official-mode loss equals the authors' loss in
the same run. The anchors are not installable packages; point the script at scratch copies:

* ``--abl-repo`` / ``SEGLOSS_ABL_REPO``: a folder ``<dir>`` that is an importable package holding ``abl.py`` and
  ``label_smooth.py`` (CoinCheung/pytorch-loss @ af876e4) runnable on CPU (``.cuda()`` calls removed; ``torchvision``
  and the CUDA extension ``lsr_cpp`` stubbed if not installed; stubs may live in ``<dir>``);
* ``--lovasz-repo`` / ``SEGLOSS_LOVASZ_REPO``: the folder holding Berman's ``lovasz_losses.py``.

A missing anchor is reported (with where to get it) and its rows are left out. Times are process CPU seconds
(median of ``--repeats`` after one warm-up), which is robust on a shared machine; wall-clock medians are printed
too. ``--threads N`` (default 1) sets torch's intra-op threads; with N > 1 the ratios are taken on wall-clock time.

Usage::

    python benchmarks/bench_active_boundary.py --abl-repo /path/to/scratch/official \\
        --lovasz-repo /path/to/LovaszSoftmax/pytorch --out benchmarks/results/active_boundary_table.md
    python benchmarks/bench_active_boundary.py --quick   # run check: quarter-size inputs, 1 repeat
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segloss import abl_distance_map, active_boundary_loss, lovasz_softmax_loss, set_value_checks

SIZES = [(8, 19, 256, 512), (2, 19, 512, 1024)]
ABL_HOWTO = (
    "get it into a scratch folder outside this repository: wangchi95/active-boundary-loss abl.py and "
    "CoinCheung/pytorch-loss label_smooth.py (@ af876e4) in a folder DIR with an empty __init__.py (an empty "
    "lsr_cpp.py, and a torchvision stub whose transforms.Compose chains callables when torchvision is not "
    "installed; `.cuda()` calls removed for a CPU run), then pass "
    "--abl-repo DIR or set SEGLOSS_ABL_REPO"
)
LOVASZ_HOWTO = (
    "get it into a scratch folder outside this repository: git clone https://github.com/bermanmaxim/LovaszSoftmax, "
    "then pass --lovasz-repo LovaszSoftmax/pytorch or set SEGLOSS_LOVASZ_REPO"
)


def make_inputs(n, c, h, w, seed=0):
    """Smooth logits (upsampled noise, like a network output) and blocky labels with an ignored band."""
    g = torch.Generator().manual_seed(seed)
    logits = F.interpolate(torch.randn(n, c, h // 8, w // 8, generator=g), size=(h, w), mode="bilinear") * 3.0
    labels = torch.randint(0, c, (n, h // 16, w // 16), generator=g)
    labels = F.interpolate(labels[:, None].float(), size=(h, w), mode="nearest")[:, 0].long()
    labels[:, : h // 10] = 255
    return logits.contiguous(), labels


def timeit(fn, repeats):
    fn()  # warm-up
    cpu, wall = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(cpu), statistics.median(wall)


def fwd_bwd(loss_fn, logits):
    def run():
        x = logits.clone().requires_grad_()
        out = loss_fn(x)
        if out is not None:
            out.backward()
        return out

    return run


def load_abl(path):
    if not path:
        return None, f"no --abl-repo / SEGLOSS_ABL_REPO given; {ABL_HOWTO}"
    p = Path(path).resolve()
    if not (p / "abl.py").exists():
        return None, f"{p} has no abl.py; {ABL_HOWTO}"
    sys.path.insert(0, str(p))  # stubs (torchvision, lsr_cpp) may live there
    sys.path.insert(0, str(p.parent))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = importlib.import_module(f"{p.name}.abl")
    except Exception as exc:  # report any import failure of the scratch copy
        return None, f"import of {p}/abl.py failed: {exc!r}; {ABL_HOWTO}"
    try:
        mod.ABL()  # its constructor uses torchvision's transforms: an incomplete stub fails here, not mid-run
    except Exception as exc:
        return None, f"{p}/abl.py: ABL() failed: {exc!r}; {ABL_HOWTO}"
    return mod.ABL, str(p)


def load_lovasz(path):
    if not path:
        return None, f"no --lovasz-repo / SEGLOSS_LOVASZ_REPO given; {LOVASZ_HOWTO}"
    p = Path(path).resolve()
    if not (p / "lovasz_losses.py").exists():
        return None, f"{p} has no lovasz_losses.py; {LOVASZ_HOWTO}"
    sys.path.insert(0, str(p))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mod = importlib.import_module("lovasz_losses")
    except Exception as exc:  # report any import failure of the scratch copy
        return None, f"import of {p}/lovasz_losses.py failed: {exc!r}; {LOVASZ_HOWTO}"
    return mod.lovasz_softmax, str(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--abl-repo", default=os.environ.get("SEGLOSS_ABL_REPO"))
    ap.add_argument("--lovasz-repo", default=os.environ.get("SEGLOSS_LOVASZ_REPO"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-lovasz", action="store_true")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (inductor) versions of segloss ABL")
    ap.add_argument("--out", default=None, help="write the Markdown table to this file")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1); with more than one the ratios use wall-clock time")
    ap.add_argument("--quick", action="store_true",
                    help="run check: quarter-size inputs, 1 repeat (the numbers mean nothing)")
    args = ap.parse_args()
    div = 4 if args.quick else 1
    if args.quick:
        args.repeats = 1

    torch.set_num_threads(args.threads)
    key = 0 if args.threads == 1 else 1  # ratio on process CPU time (one thread) or on wall-clock time
    set_value_checks(False)  # the anchors do no input checks either
    warnings.filterwarnings("ignore")
    abl_cls, abl_src = load_abl(args.abl_repo)
    lov_fn, lov_src = load_lovasz(args.lovasz_repo)
    lines = [
        f"machine: {platform.platform()}, {platform.processor() or 'cpu'}, torch {torch.__version__}, "
        f"{args.threads} thread(s); ratios on {'process CPU' if key == 0 else 'wall-clock'} time",
        f"ABL anchor: {abl_src if abl_cls else 'ABSENT (' + abl_src + ')'}",
        f"Lovász anchor: {lov_src if lov_fn else 'ABSENT (' + lov_src + ')'}",
        "",
        "| loss | size (N, C, H, W) | implementation | fwd+bwd CPU s | wall s | speed-up vs anchor | loss |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)

    def row(loss, size, impl, t, ref, value):
        ratio = f"{ref[key] / t[key]:.2f}×" if ref else "—"
        line = f"| {loss} | {size} | {impl} | {t[0]:.3f} | {t[1]:.3f} | {ratio} | {value:.6f} |"
        lines.append(line)
        print(line, flush=True)

    for n, c, h, w in ((n, c, h // div, w // div) for n, c, h, w in SIZES):
        logits, labels = make_inputs(n, c, h, w)
        size = f"({n}, {c}, {h}, {w})"
        ref_t = None
        if abl_cls:
            anchor = abl_cls()
            ref_val = anchor(logits, labels).item()
            ref_t = timeit(fwd_bwd(lambda x, a=anchor, t=labels: a(x, t), logits), args.repeats)
            row("ABL", size, "authors' abl.py", ref_t, None, ref_val)
        dist_o = abl_distance_map(labels, compat="official")
        dist_p = abl_distance_map(labels, compat="paper")
        variants = [
            ("segloss compat='official'", {"compat": "official"}),
            ("segloss compat='official' + dist_map", {"compat": "official", "dist_map": dist_o}),
            ("segloss compat='paper'", {"compat": "paper"}),
            ("segloss compat='paper' + dist_map", {"compat": "paper", "dist_map": dist_p}),
        ]
        if args.compile:
            for compat in ("official", "paper"):
                compiled = torch.compile(lambda p, t, c=compat: active_boundary_loss(p, t, compat=c))
                variants.append((f"segloss compat='{compat}', torch.compile (inductor; compile time excluded)",
                                 {"compat": compat, "_fn": compiled}))
        for impl, kw in variants:
            if "_fn" in kw:
                fn = kw["_fn"]
                val = fn(logits, labels).item()
                t = timeit(fwd_bwd(lambda x, f=fn, t=labels: f(x, t), logits), args.repeats)
                row("ABL", size, impl, t, ref_t, val)
                if abl_cls and kw["compat"] == "official":
                    print(f"    compiled official loss vs authors: relative difference "
                          f"{abs(val - ref_val) / max(abs(ref_val), 1e-12):.2e}", flush=True)
                continue
            val = active_boundary_loss(logits, labels, **kw).item()
            t = timeit(fwd_bwd(lambda x, kw=kw, t=labels: active_boundary_loss(x, t, **kw), logits), args.repeats)
            row("ABL", size, impl, t, ref_t, val)
            if abl_cls and kw.get("compat") == "official":
                rel = abs(val - ref_val) / max(abs(ref_val), 1e-12)
                print(f"    official-mode loss vs authors: relative difference {rel:.2e}", flush=True)
        t_edt = timeit(lambda t=labels: abl_distance_map(t, compat="official"), args.repeats)
        lines.append(f"| distance map only | {size} | segloss `abl_distance_map` (GT boundary + exact EDT) | "
                     f"{t_edt[0]:.3f} | {t_edt[1]:.3f} | — | — |")
        print(lines[-1], flush=True)
        if args.skip_lovasz:
            continue
        lref_t = None
        if lov_fn:
            lref_val = lov_fn(torch.softmax(logits, 1), labels, ignore=255).item()
            berman = fwd_bwd(lambda x, t=labels: lov_fn(torch.softmax(x, 1), t, ignore=255), logits)
            lref_t = timeit(berman, args.repeats)
            row("Lovász-softmax", size, "Berman lovasz_softmax (per-class loop)", lref_t, None, lref_val)
        val = lovasz_softmax_loss(logits, labels, ignore_index=255).item()
        t = timeit(fwd_bwd(lambda x, t=labels: lovasz_softmax_loss(x, t, ignore_index=255), logits), args.repeats)
        row("Lovász-softmax", size, "segloss (one sort over (C, P))", t, lref_t, val)

    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
