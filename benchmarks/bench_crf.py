"""Potts / dense-CRF loss: our backends against rloss's C++ permutohedral lattice (CPU, 1 thread).

Times forward + backward of ``segloss.potts_crf_loss`` for every backend at (N, K, H, W) =
(8, 21, 256, 256) with rloss's defaults (σ_rgb = 15, σ_xy = 100), at ``scale_factor`` 1 and 0.5,
next to rloss's lattice run the way its ``DenseCRFLoss`` runs it (softmax in torch, copy to numpy,
``bilateralfilter_batch`` over all classes, ``−⟨S, AS⟩/N``, gradient ``−2·AS/N`` back through the
softmax). It then measures, on maps small enough for the exact dense Gaussian, the ratio of the
bilateral-grid and lattice backends' values to the exact value (target: within 10 %).

rloss's lattice is not vendored: build its SWIG module (``pytorch/wrapper/bilateralfilter`` of
meng-tang/rloss) in a scratch folder and pass that folder with ``--rloss-bf DIR`` or the
``RLOSS_BILATERALFILTER_DIR`` environment variable; without it the rloss column is reported as absent.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_crf.py [--rloss-bf DIR] [--repeats 3] [--out table.md]
    python benchmarks/bench_crf.py --quick      # a few seconds: (2, 5, 32, 32), one accuracy row (a run check)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segloss import potts_crf_loss


def make_inputs(n: int, k: int, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A piecewise-smooth 8-bit-like image (8×8 colour cells, noise σ = 5) and smooth logits."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, 8, 8, generator=g) * 255
    img = F.interpolate(base, size=(h, w), mode="bilinear", align_corners=False)
    img = (img + torch.randn(n, 3, h, w, generator=g) * 5).clamp(0, 255).round()
    logits = F.avg_pool2d(torch.randn(n, k, h, w, generator=g), 9, 1, 4) * 15
    return img, logits


def timed(fn: Callable[[], None], repeats: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        ts.append(time.process_time() - t0)
    return statistics.median(ts)


RLOSS_HOWTO = (
    "to time it, build rloss's SWIG module in a scratch folder outside this repository: "
    "git clone https://github.com/meng-tang/rloss && cd rloss/pytorch/wrapper/bilateralfilter && "
    "swig -python -c++ bilateralfilter.i && python setup.py build_ext --inplace; then pass that folder "
    "with --rloss-bf DIR (or RLOSS_BILATERALFILTER_DIR)"
)


def load_rloss(path: str | None):
    if not path:
        print(f"rloss C++ lattice: not given, its column is left out ({RLOSS_HOWTO})", flush=True)
        return None
    sys.path.insert(0, path)
    try:
        import bilateralfilter  # rloss's SWIG module, built by the user in a scratch folder
    except ImportError as exc:  # depends on the user's build
        print(f"rloss C++ lattice: `bilateralfilter` not importable from {path} ({exc}); its column is left out "
              f"({RLOSS_HOWTO})", flush=True)
        return None
    return bilateralfilter


def rloss_step(bf, logits: torch.Tensor, img: torch.Tensor, sigma_rgb: float, sigma_xy: float, scale: float) -> None:
    """One forward + backward the way rloss's DenseCRFLoss does it (CPU tensors, weight 1)."""
    x = logits.detach().requires_grad_(True)
    s = torch.softmax(x, 1)
    si = F.interpolate(img, scale_factor=scale) if scale != 1 else img
    ss = F.interpolate(s, scale_factor=scale, mode="bilinear", align_corners=False) if scale != 1 else s
    n, k, h, w = ss.shape
    seg = ss.detach().contiguous().numpy().ravel()
    out = torch.zeros(seg.shape[0]).numpy()
    bf.bilateralfilter_batch(
        si.contiguous().numpy().ravel(), seg, out, n, k, h, w, float(sigma_rgb), float(sigma_xy * scale)
    )
    _loss = -float(seg @ out) / n
    grad = -2.0 * torch.from_numpy(out).view(n, k, h, w) / n
    ss.backward(grad)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rloss-bf", default=os.environ.get("RLOSS_BILATERALFILTER_DIR"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--size", default="8,21,256,256", help="N,K,H,W")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true",
                    help="run check: size 2,5,32,32, 1 repeat, one 32×32 accuracy row (numbers mean nothing)")
    args = ap.parse_args()
    if args.quick:
        args.size, args.repeats = "2,5,32,32", 1
    torch.set_num_threads(1)
    n, k, h, w = (int(v) for v in args.size.split(","))
    sigma_rgb, sigma_xy = 15.0, 100.0
    bf = load_rloss(args.rloss_bf)
    img, logits = make_inputs(n, k, h, w)
    labels = logits.argmax(1)

    def ours(**kw) -> Callable[[], None]:
        def run() -> None:
            x = logits.detach().requires_grad_(True)
            potts_crf_loss(x, img, sigma_rgb=sigma_rgb, sigma_xy=sigma_xy, **kw).backward()

        return run

    def ce() -> None:
        x = logits.detach().requires_grad_(True)
        F.cross_entropy(x, labels).backward()

    lines = [
        "Forward + backward, CPU time of the process (time.process_time; the machine is shared), "
        f"1 thread (torch and OpenMP), median of {args.repeats} after a warm-up; "
        f"logits ({n}, {k}, {h}, {w}), image 3×{h}×{w}, σ_rgb = {sigma_rgb:g}, σ_xy = {sigma_xy:g}.",
        "",
    ]
    t_ce = timed(ce, args.repeats)
    lines.append(f"Plain CE on the same logits: {t_ce * 1e3:.0f} ms.")
    lines.append("")
    for scale in (1.0, 0.5):
        rows = [
            ("segloss lattice (paper form)", ours(backend="lattice", scale_factor=scale)),
            ("segloss lattice (compat='rloss')", ours(backend="lattice", compat="rloss", scale_factor=scale)),
            (
                "segloss bilateral_grid (paper form; default via auto, cells (1, 1.5))",
                ours(backend="bilateral_grid", scale_factor=scale),
            ),
            (
                "segloss bilateral_grid, cells (1, 0.75) (the previous default, the fast setting)",
                ours(backend="bilateral_grid", grid_cells_per_sigma=(1.0, 0.75), scale_factor=scale),
            ),
            (
                "segloss bilateral_grid, cells (1, 1)",
                ours(backend="bilateral_grid", grid_cells_per_sigma=(1.0, 1.0), scale_factor=scale),
            ),
            ("segloss grid4", ours(backend="grid4", scale_factor=scale)),
            ("segloss grid8", ours(backend="grid8", scale_factor=scale)),
            ("segloss local 5×5", ours(backend="local", kernel_size=5, scale_factor=scale)),
            ("segloss local 5×5, dilation 3", ours(backend="local", kernel_size=5, dilation=3, scale_factor=scale)),
        ]
        t_r = timed(lambda s=scale: rloss_step(bf, logits, img, sigma_rgb, sigma_xy, s), args.repeats) if bf else None
        lines += [
            f"**scale_factor = {scale:g}** (filtered map {int(h * scale)}×{int(w * scale)})",
            "",
            "| implementation | time (ms) | × rloss lattice | × CE |",
            "|---|---:|---:|---:|",
        ]
        if t_r is not None:
            lines.append(
                f"| rloss C++ permutohedral lattice (DenseCRFLoss path) | {t_r * 1e3:.0f} | 1.00 | {t_r / t_ce:.1f} |"
            )
        else:
            lines.append("| rloss C++ lattice | absent (pass --rloss-bf DIR) | | |")
        for name, fn in rows:
            t = timed(fn, args.repeats)
            rel = f"{t / t_r:.2f}" if t_r else "n/a"
            lines.append(f"| {name} | {t * 1e3:.0f} | {rel} | {t / t_ce:.1f} |")
        lines.append("")

    lines += [
        "Fully connected approximations vs the exact dense Gaussian (value ratios, paper form unless "
        "noted; `backend='dense'` in float64 as the reference; 2 images each, same generator, K = 5, "
        "σ_rgb = 15):",
        "",
        "| map | σ_xy | scale_factor | bilateral_grid / exact | lattice / exact "
        "| raw lattice / exact (compat='rloss') |",
        "|---|---:|---:|---|---|---|",
    ]
    fmt = ", ".join
    for side in (32,) if args.quick else (48, 64, 96):
        im, lg = make_inputs(2, 5, side, side, seed=1)
        for sxy in (100.0,) if args.quick else (10.0, 50.0, 100.0):
            for scale in (1.0,) if args.quick else (1.0, 0.5):
                kw = dict(sigma_rgb=sigma_rgb, sigma_xy=sxy, reduction="none", scale_factor=scale)
                ex = potts_crf_loss(lg.double(), im.double(), backend="dense", chunk_size=4096, **kw)
                ex_r = potts_crf_loss(lg.double(), im.double(), backend="dense", compat="rloss", chunk_size=4096, **kw)
                ratios = [
                    potts_crf_loss(lg, im, backend="bilateral_grid", **kw).double() / ex,
                    potts_crf_loss(lg, im, backend="lattice", **kw).double() / ex,
                    potts_crf_loss(lg, im, backend="lattice", compat="rloss", **kw).double() / ex_r,
                ]
                cols = " | ".join(fmt(f"{v:.3f}" for v in r.tolist()) for r in ratios)
                lines.append(f"| {side}×{side} | {sxy:g} | {scale:g} | {cols} |")
    lines += ["", f"torch {torch.__version__}, Python {platform.python_version()}, {platform.machine()}"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
