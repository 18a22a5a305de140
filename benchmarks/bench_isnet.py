"""Benchmark: IS-Net training iteration and inference, ``examples/train_isnet.py`` vs the authors' loop, in one run.

Rows (each timed in this process, one after the other, on the same device and data):

* ``authors``: the authors' own training loop, ``train()`` of ``IS-Net/train_valid_inference_main.py``
  (xuebinqin/DIS), imported from a scratch copy given by ``--authors-repo`` (never part of this repository) and
  run unmodified with feature synchronisation on (``hypar["interm_sup"] = True``, their GT encoder loaded from a
  file as their ``gt_encoder_model`` option does): fp32, ``nn.BCELoss`` on sigmoid maps, GT encoder in train mode,
  ``.item()`` and a print every step. Only the harness is ours: the batches come from a plain ``DataLoader``
  yielding their sample format (``image`` normalised as theirs, ``label``) instead of their on-disk cache, and
  their ``exit()`` at ``max_ite`` ends the timing.
* ``ours eager`` / ``ours compile``: the image-branch stage of ``examples/train_isnet.py`` (``Run.train_image_branch``:
  its own DataLoader, ``segloss.ISNetLoss``, frozen GT encoder, bf16 autocast + channels_last + fused Adam on CUDA
  as ``--preset paper`` sets them; ``--compile`` adds the ``torch.compile`` row).
* ``inference``: images/s of the network alone at ``--size`` (normalisation, ``ISNetDIS``, sigmoid of ``d1``) as
  ``examples/infer_isnet.py`` runs it (bf16 autocast + channels_last on CUDA, fp32 on CPU), batch ``--infer-batch``;
  and the authors' ``Inference.py`` way (their module, fp32, one image at a time) when ``--authors-repo`` is given.

Iteration times are the mean wall time of ``--iters`` optimiser steps after ``--warmup`` untimed ones, between two
CUDA synchronisations (data loading included; the CPU may run ahead of the GPU as in real training); peak memory
is ``torch.cuda.max_memory_allocated`` over the row. Without ``--authors-repo`` only our rows run. Nothing is
downloaded; the data are random tensors.

Getting the authors' code (scratch folder, never committed)::

    git clone https://github.com/xuebinqin/DIS SCRATCH/DIS      # torchvision must be importable, or is stubbed

On a GPU, the issue's targets (#9; anchors in the notes' gpu-anchors.md, one H200: authors 206.9 ms / 19.7 GiB)::

    python benchmarks/bench_isnet.py --authors-repo SCRATCH/DIS --compile            # 1024², batch 8, width 1
    # targets: ours >= 2x the authors' iteration speed (<= ~103 ms), <= 12 GiB peak at batch 8;
    #          inference >= 250 images/s at 1024² in bf16.  torch.compile of the full model takes minutes.

A quick CPU check (slow at full width; contended-CPU numbers are only a run check)::

    python benchmarks/bench_isnet.py --authors-repo SCRATCH/DIS --size 128 --batch 2 --iters 3 --warmup 1
    python benchmarks/bench_isnet.py --quick      # seconds: our rows at 32², batch 2, width 0.0625, 1 step

``--out FILE.md`` also writes the table; ``--json FILE`` the raw numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import platform
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "examples"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


# ------------------------------------------------------------------------------------------------ timing

class _Done(Exception):
    """Raised from the step hook once enough steps were timed."""


class AnchorUnavailable(Exception):
    """The authors' code could not be imported from ``--authors-repo``: their rows are left out."""


AUTHORS_HOWTO = ("get it into a scratch folder outside this repository (git clone https://github.com/xuebinqin/DIS "
                 "SCRATCH/DIS) and pass --authors-repo SCRATCH/DIS or set ISNET_AUTHORS_REPO")


class StepClock:
    """Step hook: times steps ``warmup + 1 .. total`` between two CUDA synchronisations; stops after ``total``.

    Only the two boundary calls synchronise, so the CPU may run ahead of the GPU as in real training
    (a synchronisation after every step would expose the kernel-launch time of eager mode).
    """

    def __init__(self, device: torch.device, warmup: int, total: int, stop: bool = True) -> None:
        self.device, self.warmup, self.total, self.stop = device, warmup, total, stop
        self.count, self.t0, self.t1 = 0, float("nan"), float("nan")

    def __call__(self, *_: Any, **__: Any) -> None:
        self.count += 1
        if self.count in (self.warmup, self.total):
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            now = time.perf_counter()
            self.t0, self.t1 = (now, self.t1) if self.count == self.warmup else (self.t0, now)
        if self.stop and self.count >= self.total:
            raise _Done

    def mean_ms(self) -> float:
        """Mean wall time of the timed steps (NaN if the run ended early)."""
        return 1000 * (self.t1 - self.t0) / (self.total - self.warmup)


def _reset(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_gib(device: torch.device) -> float:
    return torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")


class RandomPairs(Dataset):
    """``n`` items cycling through a few random (image, GT) pairs, in train_isnet's item format."""

    def __init__(self, n: int, size: int, distinct: int = 4) -> None:
        g = torch.Generator().manual_seed(0)
        self.n, self.size = n, size
        self.images = torch.rand(distinct, 3, size, size, generator=g)
        smooth = torch.nn.functional.avg_pool2d(torch.rand(distinct, 1, size, size, generator=g), 9, 1, 4)
        self.gts = (smooth > 0.5).float()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        k = i % len(self.images)
        return {"image": self.images[k], "gt": self.gts[k], "name": f"r{i:05d}", "size": (self.size, self.size),
                "gt_u8": (self.gts[k, 0] * 255).to(torch.uint8).numpy()}  # validation GT at the original size


class AuthorsFormat(Dataset):
    """The same pairs as the authors' ``GOSDatasetCache`` hands them to ``train()`` (image ``x − 0.5``, label)."""

    def __init__(self, base: RandomPairs) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.base[i]
        return {"image": item["image"] - 0.5, "label": item["gt"]}


# ------------------------------------------------------------------------------------------------- ours

def bench_ours(args: argparse.Namespace, device: torch.device, compile_model: bool, tmp: Path) -> dict[str, Any]:
    """Time ``train_isnet.py``'s image-branch loop (preset paper, overridden by the benchmark's size/batch/width)."""
    import train_isnet as T
    from isnet_model import ISNetGTEncoder

    total = args.warmup + args.iters
    gt_file = tmp / "gt_encoder_ours.pt"
    torch.save(ISNetGTEncoder(width=args.width).state_dict(), gt_file)
    cfg, ctx = _our_config(args, device, compile_model, tmp, gt_file, total)
    _reset(device)
    run = T.Run(cfg, ctx)
    clock = StepClock(device, args.warmup, total)
    saved_hook = T.on_step
    T.on_step = clock
    train = RandomPairs(args.batch * (total + 2), args.size)
    val = {"bench": RandomPairs(1, args.size)}
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            run.train_image_branch(train, val)
    except _Done:
        pass
    finally:
        T.on_step = saved_hook
    out = {"ms": clock.mean_ms(), "peak_gib": _peak_gib(device), "steps": clock.count,
           "warmup_s": clock.t0 - start, "amp": str(ctx.amp_dtype), "channels_last": cfg.channels_last,
           "fused_adam": cfg.fused_adam, "compile": cfg.compile}
    del run
    return out


def _our_config(args: argparse.Namespace, device: torch.device, compile_model: bool, tmp: Path,
                gt_file: Path | None, total: int) -> tuple[Any, Any]:
    """train_isnet's config and context for ``--preset paper`` at the benchmark's size / batch / width."""
    import train_isnet as T

    argv = ["--preset", "paper", "--size", str(args.size), "--batch", str(args.batch), "--width", str(args.width),
            "--out", str(tmp / ("ours-compile" if compile_model else "ours-eager")),
            "--iters", str(total + 10), "--val-every", str(10**9), "--ckpt-every", str(10**9),
            "--log-every", "50", "--workers", str(args.workers), "--save-predictions", "none",
            "--device", device.type, "--compile" if compile_model else "--no-compile"]
    if gt_file is not None:
        argv += ["--gt-encoder", str(gt_file)]
    try:
        cfg, _ = T.resolve_config(T.build_parser().parse_args(argv))
    except ValueError as exc:  # a combination train_isnet.py refuses (e.g. --batch 1 at a small --size)
        raise SystemExit(f"bench_isnet.py: train_isnet.py refuses these settings: {exc}") from None
    return cfg, T.make_context(cfg)


def bench_loader(args: argparse.Namespace, device: torch.device, tmp: Path) -> dict[str, Any]:
    """train_isnet's training DataLoader alone (batches moved to the device, no model): is it the bottleneck?

    The warm-up skips the batches the workers prefetch (2 per worker), so the rate is the sustained one.
    """
    import train_isnet as T

    skip = args.warmup + 2 * args.workers
    total = skip + args.iters
    cfg, ctx = _our_config(args, device, False, tmp, None, total)
    loader, _ = T.train_loader(RandomPairs(args.batch * (total + 2), args.size), cfg, ctx, stage=2)
    clock = StepClock(device, skip, total, stop=False)
    for batch in loader:
        batch["image"].to(device, non_blocking=True), batch["gt"].to(device, non_blocking=True)
        clock()
        if clock.count >= total:
            break
    mb = sum(batch[k].numel() * batch[k].element_size() for k in ("image", "gt")) / 2**20
    return {"ms": clock.mean_ms(), "mib_per_batch": mb, "workers": cfg.workers}


def bench_inference(args: argparse.Namespace, device: torch.device, compile_model: bool) -> dict[str, Any]:
    """Images/s of ``ISNetDIS`` as ``examples/infer_isnet.py`` runs it (network only, random input)."""
    from infer_isnet import normalize_input, resolve_precision
    from isnet_model import ISNetDIS

    _reset(device)
    amp = resolve_precision("auto", device)
    fmt = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    model = ISNetDIS(width=args.width).to(device).eval().to(memory_format=fmt)
    net = torch.compile(model) if compile_model else model
    x8 = torch.randint(0, 256, (args.infer_batch, 3, args.size, args.size), dtype=torch.uint8, device=device)
    clock = StepClock(device, args.warmup, args.warmup + args.iters, stop=False)
    with torch.inference_mode():
        for _ in range(args.warmup + args.iters):
            x = normalize_input(x8).contiguous(memory_format=fmt)
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                d1 = net(x)[0][0]
            torch.sigmoid(d1.float())
            clock()
    ms = clock.mean_ms()
    return {"ms_per_batch": ms, "images_per_s": 1000 * args.infer_batch / ms, "peak_gib": _peak_gib(device),
            "amp": str(amp), "batch": args.infer_batch}


# ---------------------------------------------------------------------------------------------- authors

def _import_authors(repo: Path) -> types.ModuleType:
    """Import ``train_valid_inference_main`` from the scratch copy (torchvision stubbed if not installed)."""
    folder = repo / "IS-Net" if (repo / "IS-Net").is_dir() else repo
    if not (folder / "train_valid_inference_main.py").is_file():
        raise AnchorUnavailable(f"--authors-repo: no IS-Net/train_valid_inference_main.py under {repo}")
    try:
        import torchvision  # noqa: F401
    except ImportError:  # their modules import it for names the training step never calls
        def _unavailable(*_: Any, **__: Any) -> None:
            raise RuntimeError("torchvision is stubbed by bench_isnet.py (not installed)")

        tv, tr, fn, ut = (types.ModuleType(n) for n in ("torchvision", "torchvision.transforms",
                                                         "torchvision.transforms.functional", "torchvision.utils"))
        fn.normalize = _unavailable
        tr.functional, tv.transforms, tv.utils, tv.models = fn, tr, ut, types.ModuleType("torchvision.models")
        sys.modules.update({"torchvision": tv, "torchvision.transforms": tr,
                            "torchvision.transforms.functional": fn, "torchvision.utils": ut})
    sys.path.insert(0, str(folder))
    import importlib

    try:
        return importlib.import_module("train_valid_inference_main")
    except Exception as exc:  # any import failure of the scratch copy
        raise AnchorUnavailable(f"import of {folder}/train_valid_inference_main.py failed: {exc!r}") from exc


def bench_authors(args: argparse.Namespace, device: torch.device, tmp: Path) -> dict[str, Any]:
    """Time the authors' ``train()`` (their loop, unmodified) on the same random pairs."""
    A = _import_authors(Path(args.authors_repo))
    total = args.warmup + args.iters
    model_dir = tmp / "authors"
    model_dir.mkdir(exist_ok=True)
    torch.save(A.ISNetGTEncoder().state_dict(), model_dir / "gt_encoder.pth")
    hypar = {  # the keys train() and get_gt_encoder() read, at the values of their script (feature sync on)
        "interm_sup": True, "gt_encoder_model": "gt_encoder.pth", "model_path": str(model_dir), "seed": 0,
        "model_save_fre": 10**9, "max_ite": total, "batch_size_train": args.batch, "batch_size_valid": 1,
        "start_ite": 0, "max_epoch_num": 10**6, "model_digit": "full", "early_stop": 20,
    }
    _reset(device)
    torch.manual_seed(0)
    net = A.ISNetDIS()
    if torch.cuda.is_available():
        net.cuda()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-08, weight_decay=0)
    clock = StepClock(device, args.warmup, total, stop=False)
    optimizer.register_step_post_hook(clock)
    data = AuthorsFormat(RandomPairs(args.batch * (total + 2), args.size))
    loader = DataLoader(data, batch_size=args.batch, shuffle=True, num_workers=args.workers)
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            A.train(net, optimizer, [loader], [data], [], [], hypar, [], [])
    except SystemExit:  # their loop calls exit() at max_ite
        pass
    out = {"ms": clock.mean_ms(), "peak_gib": _peak_gib(device), "steps": clock.count,
           "warmup_s": clock.t0 - start}
    del net, optimizer
    return out


def bench_authors_inference(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Images/s of the authors' module as their ``Inference.py`` runs it: fp32, one image per forward."""
    A = _import_authors(Path(args.authors_repo))
    _reset(device)
    net = A.ISNetDIS().to(device).eval()
    x = torch.rand(1, 3, args.size, args.size, device=device) - 0.5
    clock = StepClock(device, args.warmup, args.warmup + args.iters, stop=False)
    saved = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False  # their script leaves it off (train_isnet.py turns it on for our rows)
    try:
        with torch.no_grad():
            for _ in range(args.warmup + args.iters):
                net(x)[0][0]
                clock()
    finally:
        torch.backends.cudnn.benchmark = saved
    ms = clock.mean_ms()
    return {"ms_per_batch": ms, "images_per_s": 1000 / ms, "peak_gib": _peak_gib(device), "batch": 1}


# ---------------------------------------------------------------------------------------------------- CLI

def _table(res: dict[str, Any], args: argparse.Namespace, device: torch.device) -> str:
    lines = [f"IS-Net width {args.width:g}, {args.size}², training batch {args.batch}, inference batch "
             f"{args.infer_batch}; {_device_name(device)}; torch {torch.__version__}; mean of {args.iters} steps "
             f"after {args.warmup} warm-up",
             "", "| training loop | ms / iteration | peak memory (GiB) | vs authors |", "|---|---|---|---|"]
    base = res.get("authors", {}).get("ms")
    labels = {"authors": "authors' `train()` (fp32, BCELoss on sigmoids, .item() every step)",
              "ours_eager": "train_isnet.py, preset paper --no-compile (bf16 + channels_last + fused Adam on CUDA)",
              "ours_compile": "train_isnet.py, preset paper (compiles on CUDA by default)"}
    for key, label in labels.items():
        if key in res:
            r = res[key]
            ratio = f"{base / r['ms']:.2f}×" if base else "–"
            lines.append(f"| {label} | {r['ms']:.1f} | {r['peak_gib']:.2f} | {ratio} |")
    if "loader" in res:
        r = res["loader"]
        lines.append(f"| train_isnet.py's DataLoader alone ({r['workers']} workers, {r['mib_per_batch']:.0f} MiB "
                     f"per batch to the device, no model) | {r['ms']:.1f} | – | – |")
    if args.width != 1.0 and "authors" in res:
        lines.append(f"(our rows at width {args.width:g}, the authors' at width 1: ratios compare different models)")
    lines += ["", "| inference | ms / batch | images/s | vs authors |", "|---|---|---|---|"]
    ib = res.get("authors_infer", {}).get("images_per_s")
    for key, label in (("authors_infer", "authors' Inference.py way (fp32, batch 1)"),
                       ("infer_eager", "infer_isnet.py way (bf16 + channels_last on CUDA)"),
                       ("infer_compile", "infer_isnet.py way + torch.compile")):
        if key in res:
            r = res[key]
            ratio = f"{r['images_per_s'] / ib:.2f}×" if ib else "–"
            lines.append(f"| {label}, batch {r['batch']} | {r['ms_per_batch']:.1f} | {r['images_per_s']:.1f} | "
                         f"{ratio} |")
    return "\n".join(lines)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--authors-repo", default=os.environ.get("ISNET_AUTHORS_REPO"),
                   help="scratch copy of xuebinqin/DIS (or its IS-Net folder); env ISNET_AUTHORS_REPO")
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--batch", type=int, default=8, help="training batch")
    p.add_argument("--width", type=float, default=1.0, help="our model's width (the authors' rows are always 1.0)")
    p.add_argument("--infer-batch", type=int, default=8)
    p.add_argument("--iters", type=int, default=8, help="timed steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (cudnn autotuning, compilation)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: 8 on CUDA, 0 on CPU)")
    p.add_argument("--compile", action="store_true", help="add the torch.compile rows (minutes at full size)")
    p.add_argument("--skip", nargs="*", default=[], choices=("authors", "ours", "loader", "inference"),
                   help="rows to leave out")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", help="also write the table (markdown) here")
    p.add_argument("--json", help="also write the raw numbers here")
    p.add_argument("--quick", action="store_true",
                   help="run check: 32², batch 2, width 0.0625, inference batch 1, 1 warm-up + 1 timed step")
    args = p.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.width, args.infer_batch, args.iters, args.warmup = 32, 2, 0.0625, 1, 1, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.workers is None:
        args.workers = 8 if device.type == "cuda" else 0
    if args.warmup < 1 or args.iters < 1:
        raise SystemExit("--warmup and --iters must be >= 1")
    res: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_isnet_") as tmpdir:
        tmp = Path(tmpdir)
        authors = bool(args.authors_repo)
        if authors:
            try:
                _import_authors(Path(args.authors_repo))
            except AnchorUnavailable as exc:
                print(f"{exc}: the authors' rows are left out ({AUTHORS_HOWTO})", flush=True)
                authors = False
        else:
            print(f"no --authors-repo: the authors' rows are left out ({AUTHORS_HOWTO})", flush=True)
        if authors and "authors" not in args.skip:
            res["authors"] = bench_authors(args, device, tmp)
            print("authors' loop:", res["authors"], flush=True)
        if "loader" not in args.skip:
            res["loader"] = bench_loader(args, device, tmp)
            print("train_isnet's DataLoader alone:", res["loader"], flush=True)
        if "ours" not in args.skip:
            res["ours_eager"] = bench_ours(args, device, False, tmp)
            print("ours, eager:", res["ours_eager"], flush=True)
            if args.compile:
                res["ours_compile"] = bench_ours(args, device, True, tmp)
                print("ours, compile:", res["ours_compile"], flush=True)
        if "inference" not in args.skip:
            if authors:
                res["authors_infer"] = bench_authors_inference(args, device)
            res["infer_eager"] = bench_inference(args, device, False)
            if args.compile:
                res["infer_compile"] = bench_inference(args, device, True)
    table = _table(res, args, device)
    print("\n" + table)
    if args.out:
        Path(args.out).write_text(table + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": res}, indent=1) + "\n")
    return res


if __name__ == "__main__":
    main()
