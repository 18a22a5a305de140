"""Train IS-Net (Qin et al., ECCV 2022) with ``segloss`` and evaluate it with ``segmetrics``.

With no arguments this runs a short, real training on a 2-core CPU (preset ``smoke``): the
procedural DIS-like data of ``examples/dis_synth.py``, stage 1 the GT encoder, stage 2 the image
branch with feature synchronisation, a validation table after each epoch (maxFβ, Fwβ, MAE, Sα,
Emφ, HCEγ — the columns of the DIS paper's Table 2), checkpoints, predictions as PNG and a final
summary that compares the model with two trivial predictors.

    python examples/train_isnet.py                                   # CPU smoke run (~6-10 min)
    python examples/train_isnet.py --preset paper --data PATH/DIS5K  # the authors' recipe
    torchrun --nproc_per_node=8 examples/train_isnet.py --preset paper --data PATH/DIS5K
    python examples/train_isnet.py --resume                          # continue a killed run exactly

Recipe (preset ``paper``, the authors' ``train_valid_inference_main.py`` with the GT encoder on):
1024², batch 8 per process, Adam lr 1e-3 betas (0.9, 0.999) eps 1e-8, no weight decay, no
schedule, horizontal flip only, input ``x − 0.5``; stage 1 trains the GT encoder with BCE on its
six side outputs until maxF of its first output on the training set exceeds 0.99 (here: or an
iteration cap, then a message instead of the authors' ``exit()``); it is then frozen with
:func:`segloss.freeze_gt_encoder` (eval mode; ``--gt-encoder-mode official`` keeps the authors'
train-mode BatchNorm); stage 2 trains the image branch with :class:`segloss.ISNetLoss` (six BCE
terms on logits + feature MSE, λ = 1), validating every 2000 iterations and stopping after 20
validations without improvement.

Resume is exact: the checkpoint holds the model(s), optimiser, scaler, counters, sampler position
and RNG states, and augmentation is a pure function of (seed, stage, epoch, sample position), so
``N`` iterations in one go and ``N/2`` + ``--resume`` + ``N/2`` give bit-identical parameters.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import copy
import dataclasses
import json
import math
import os
import random
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F
from torch.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler, Subset

_HERE = Path(__file__).resolve().parent
for _p in (_HERE, _HERE.parent):  # the examples and the checkout's segloss / segmetrics
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from cli_args import (  # noqa: E402
    beta,
    float_in,
    nonnegative_float,
    nonnegative_int,
    output_dir,
    positive_float,
    positive_int,
    probability,
    threads,
)
from dis_synth import MIN_SIZE  # noqa: E402
from infer_isnet import to_png_map  # noqa: E402
from isnet_model import DEEPEST_STRIDE, ISNetDIS, ISNetGTEncoder, count_parameters  # noqa: E402
from run_files import atomic_save, atomic_write_text, check_writable  # noqa: E402

import segloss  # noqa: E402
from segmetrics import DatasetMetrics  # noqa: E402

# --------------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------------

#: Columns of the DIS paper's Table 2: label -> key of :func:`summarize`.
COLUMNS = (("maxFβ", "maxF"), ("Fwβ", "wF"), ("MAE", "MAE"), ("Sα", "Sm"), ("Emφ", "Em"), ("HCEγ", "HCE"))


@dataclasses.dataclass
class Config:
    """Every setting of a run (a preset fills them, command-line flags override)."""

    preset: str = "smoke"
    data: list[str] = dataclasses.field(default_factory=list)
    val: list[str] = dataclasses.field(default_factory=list)
    out: str = ""
    seed: int = 0
    # model / data
    width: float = 0.25
    size: int = 256
    input_size: int = 0
    batch: int = 4
    val_batch: int = 8
    train_samples: int = 256
    val_samples: int = 32
    val_fraction: float = 0.1
    cache_dir: str = ""
    skip_bad: bool = False
    workers: int = 0
    # optimiser (the authors': Adam 1e-3, (0.9, 0.999), 1e-8, no weight decay, no schedule)
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    lr_schedule: str = "constant"
    # stage 1: GT encoder
    feature_sync: bool = True
    gt_encoder: str = ""
    gt_encoder_mode: str = "eval"
    gt_threshold: float = 0.95
    gt_iters: int = 300
    gt_val_every: int = 50
    gt_val_samples: int = 64
    # stage 2: image branch
    weights: str = ""
    iters: int = 960
    val_every: int = 0
    patience: int = 0
    ckpt_every: int = 200
    log_every: int = 10
    save_predictions: str = "final"
    # speed
    device: str = "auto"
    threads: int = 0
    amp: str = "auto"
    channels_last: bool = False
    compile: bool = False
    fused_adam: str = "auto"


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": {
        "width": 0.25, "size": 256, "batch": 4, "train_samples": 256, "val_samples": 32,
        "gt_threshold": 0.95, "gt_iters": 300, "gt_val_every": 50, "gt_val_samples": 64,
        "iters": 960, "val_every": 0, "patience": 0, "ckpt_every": 200, "log_every": 10, "workers": 0,
    },
    "paper": {
        "width": 1.0, "size": 1024, "batch": 8, "val_batch": 1, "gt_threshold": 0.99, "gt_iters": 20000,
        "gt_val_every": 2000, "gt_val_samples": 0, "iters": 0, "val_every": 2000, "patience": 20,
        "ckpt_every": 2000, "log_every": 50, "workers": 8, "channels_last": True, "compile": True,
    },
    "tiny": {  # for tests and a quick look: a few seconds
        "width": 0.0625, "size": 64, "batch": 2, "val_batch": 4, "train_samples": 8, "val_samples": 4,
        "gt_threshold": 0.99, "gt_iters": 4, "gt_val_every": 2, "gt_val_samples": 4,
        "iters": 6, "val_every": 3, "patience": 0, "ckpt_every": 3, "log_every": 2, "workers": 0,
    },
}

PRESET_HELP = {
    "smoke": "CPU default: 1/4 width, 256², batch 4, generated data; about 6-10 min on 2 cores",
    "paper": "the authors' recipe: full width, 1024², batch 8 per process, early stop after 20 validations",
    "tiny": "a few seconds: 1/16 width, 64², for tests",
}

#: Learning-rate schedules (``--lr-schedule``); see :func:`scheduled_lr`.
LR_SCHEDULES = ("constant", "cosine")

#: Flags that may change when resuming (everything else comes from the checkpoint's config).
RESUME_OVERRIDABLE = ("iters", "patience", "workers", "log_every", "save_predictions", "ckpt_every", "device",
                      "threads", "skip_bad")


def _presets_text() -> str:
    lines = ["presets (flags given on the command line override them):"]
    for name, values in PRESETS.items():
        lines.append(f"  {name}: {PRESET_HELP[name]}")
        lines.append("    " + ", ".join(f"{k}={v}" for k, v in values.items()))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (every default is the preset's; see ``--help``)."""
    p = argparse.ArgumentParser(
        prog="train_isnet.py",
        description=(__doc__ or "").split("\n\n")[0],
        epilog=_presets_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a = p.add_argument
    a("--preset", choices=sorted(PRESETS), default=None, help="settings bundle (default: smoke)")
    a("--data", action="append", metavar="PATH",
      help="DIS5K root (DIS-TR train, DIS-VD validation, DIS-TE1-4 tests) or a folder with im/ + gt/; "
           "repeat for several training sets (default: generated data)")
    a("--val", action="append", metavar="PATH",
      help="validation folder(s) with im/ + gt/ (default: DIS-VD of a DIS5K root and a held-out part of each "
           "plain --data folder)")
    a("--val-fraction", type=float_in(0.0, 1.0, low_open=True, high_open=True),
      help="held-out part of each plain --data folder unless --val is given (0.1; a DIS5K root validates on DIS-VD)")
    a("--out", type=output_dir, help="output folder (default: runs/isnet-<preset>)")
    a("--seed", type=nonnegative_int, help="seed of initialisation, data order and augmentation (0)")
    g = p.add_argument_group("model and data")
    g.add_argument("--width", type=positive_float, help="channel multiplier; 1.0 is the authors' model")
    g.add_argument("--size", type=positive_int,
                   help="data size (square): folder images are resized to it, generated samples drawn at it; "
                        "validation metrics are computed at each image's original size")
    g.add_argument("--input-size", type=nonnegative_int,
                   help="model input size (square; 0: --size): images, and the GTs the losses compare with, are "
                        "resized to it bilinearly, as the authors resize everything to 1024²; predictions are "
                        "resized back to the original size for validation")
    g.add_argument("--batch", type=positive_int, help="batch size per process")
    g.add_argument("--val-batch", type=positive_int, help="validation batch size")
    g.add_argument("--train-samples", type=positive_int, help="generated training samples (no --data)")
    g.add_argument("--val-samples", type=positive_int, help="generated validation samples (no --data)")
    g.add_argument("--cache-dir", type=output_dir, help="on-disk cache of resized tensors for folder datasets")
    g.add_argument("--skip-bad", action="store_true", default=None,
                   help="folder datasets: leave out unpaired / unreadable pairs with a warning instead of stopping")
    g.add_argument("--workers", type=nonnegative_int, help="DataLoader worker processes")
    g = p.add_argument_group("optimiser (Adam)")
    g.add_argument("--lr", type=positive_float, help="learning rate (1e-3)")
    g.add_argument("--beta1", type=beta, help="Adam beta1 (0.9)")
    g.add_argument("--beta2", type=beta, help="Adam beta2 (0.999)")
    g.add_argument("--eps", type=nonnegative_float, help="Adam eps (1e-8)")
    g.add_argument("--weight-decay", type=nonnegative_float, help="weight decay (0)")
    g.add_argument("--lr-schedule", choices=LR_SCHEDULES,
                   help="stage 2: constant (the authors') or cosine: lr · ½(1 + cos(π·t/T)) over the iteration cap "
                        "T = --iters (constant when --iters is 0); stage 1 always runs at a constant lr")
    g = p.add_argument_group("stage 1: GT encoder")
    g.add_argument("--no-feature-sync", dest="feature_sync", action="store_false", default=None,
                   help="train the image branch with the six BCE terms only (the authors' released default); "
                        "skips stage 1")
    g.add_argument("--gt-encoder", metavar="PATH", help="load a trained GT encoder (state dict) and skip stage 1")
    g.add_argument("--gt-encoder-mode", choices=("eval", "official"),
                   help="freezing: eval (BatchNorm running statistics, default) or official "
                        "(the authors' train-mode BatchNorm)")
    g.add_argument("--gt-threshold", type=probability, help="stage 1 ends when train maxF of side 1 exceeds this")
    g.add_argument("--gt-iters", type=nonnegative_int, help="stage 1 iteration cap")
    g.add_argument("--gt-val-every", type=positive_int, help="stage 1: check train maxF every N iterations")
    g.add_argument("--gt-val-samples", type=nonnegative_int,
                   help="stage 1: training images used for the check (0: all)")
    g = p.add_argument_group("stage 2: image branch")
    g.add_argument("--weights", metavar="PATH",
                   help="initialise the image branch from a state dict (ours or the authors' isnet.pth)")
    g.add_argument("--iters", type=nonnegative_int, help="stage 2 iterations (0: until early stop)")
    g.add_argument("--val-every", type=nonnegative_int, help="validate every N iterations (0: after each epoch)")
    g.add_argument("--patience", type=nonnegative_int, help="stop after N validations without better maxF (0: never)")
    g.add_argument("--ckpt-every", type=positive_int, help="checkpoint every N iterations (and at the end)")
    g.add_argument("--log-every", type=positive_int, help="update the loss shown every N steps")
    g.add_argument("--save-predictions", choices=("final", "every", "none"),
                   help="write validation predictions as PNG at the end (final), at every validation, or never")
    g.add_argument("--resume", nargs="?", const="auto", metavar="CKPT",
                   help="continue exactly from CKPT (default: <out>/checkpoint.pt)")
    g.add_argument("--eval-only", action="store_true",
                   help="only validate (the checkpoint of --resume, or --weights) and write predictions")
    g = p.add_argument_group("speed (GPU)")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), help="auto: cuda when available")
    g.add_argument("--threads", type=threads,
                   help="CPU threads for torch (0: auto, one per core that other processes do not keep busy when the "
                        "run starts; torch's threads spin while descheduled, so a thread per busy core can make a "
                        "step 10x slower; on CUDA, 0 leaves torch's default)")
    g.add_argument("--amp", choices=("auto", "off", "bf16", "fp16"),
                   help="autocast: auto = bf16 on CUDA, off on CPU; fp16 uses a gradient scaler")
    g.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels_last memory format")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile the model")
    g.add_argument("--fused-adam", choices=("auto", "on", "off"), help="fused Adam kernel (auto: on CUDA)")
    return p


def resolve_config(args: argparse.Namespace, base: Config | None = None) -> tuple[Config, set[str]]:
    """Config from a preset (or ``base``, a resumed run's) plus the flags given; returns (config, flags given)."""
    given = {k for k, v in vars(args).items() if v is not None and k not in ("resume", "eval_only")}
    if base is None:
        cfg = Config(preset=args.preset or "smoke")
        for k, v in PRESETS[cfg.preset].items():
            setattr(cfg, k, v)
        allowed = given
    else:
        cfg = dataclasses.replace(base)
        allowed = {k for k in given if k in RESUME_OVERRIDABLE or k == "out"}
    for k in allowed:
        if k == "preset":
            continue
        setattr(cfg, k, getattr(args, k))
    if not cfg.out:
        cfg.out = str(Path("runs") / f"isnet-{cfg.preset}")
    _check_config(cfg)
    return cfg, given


def _check_config(cfg: Config) -> None:
    """Checks across flags (each flag's own range is checked by its argparse type, see ``cli_args``).

    Raises:
        ValueError: naming the flags, caught by :func:`main` and shown as a usage error.
    """
    if cfg.iters == 0 and cfg.patience == 0:
        raise ValueError("--iters 0 (until early stop) needs --patience > 0")
    side = cfg.input_size or cfg.size
    if cfg.batch * math.ceil(side / DEEPEST_STRIDE) ** 2 < 2:
        raise ValueError(f"--batch 1 needs a model input side > {DEEPEST_STRIDE} (--input-size, else --size; got "
                         f"{side}): the deepest BatchNorm layers would see one value per channel")
    if not cfg.data and cfg.size < MIN_SIZE:
        raise ValueError(f"--size must be >= {MIN_SIZE} for the generated data (examples/dis_synth.py); got {cfg.size}")


# --------------------------------------------------------------------------------------------------
# run context: device, distributed, output
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Context:
    """Where and how the run executes."""

    device: torch.device
    rank: int = 0
    world: int = 1
    amp_dtype: torch.dtype | None = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def log(self, *msg: Any) -> None:
        if self.main:
            _write(" ".join(str(m) for m in msg))


def sum_over_ranks(t: torch.Tensor, ctx: Context) -> torch.Tensor:
    """``t`` summed over the processes of a distributed run (a copy; ``t`` itself with one process).

    Every process must call it at the same point (an ``all_reduce``).
    """
    if ctx.world == 1 or not dist.is_initialized():
        return t
    total = t.detach().clone()
    dist.all_reduce(total)
    return total


def _write(text: str) -> None:
    try:
        from tqdm.auto import tqdm

        tqdm.write(text)
    except ImportError:  # pragma: no cover
        print(text, flush=True)


def _proc_stat_times() -> tuple[int, int]:
    """``(total, idle + iowait)`` CPU time of the machine from ``/proc/stat`` (Linux)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values), values[3] + (values[4] if len(values) > 4 else 0)


def auto_threads(sample_s: float = 0.2, samples: int = 3, read: Any = None) -> int:
    """CPU threads for torch: one per core that other processes keep busy *now* (at least one).

    Measured from ``samples`` intervals of ``sample_s`` between reads of ``/proc/stat`` (Linux); elsewhere
    torch's default. A core counts as free if it was idle in any interval, so that a moment's activity (a
    process that is just ending) does not halve the run's threads for its whole length. On an oversubscribed
    machine torch's OpenMP threads spin while descheduled: a thread per busy core was measured 10-40x slower
    per step than one thread on the 2-core development machine. (The load average is no guide: it still
    counts processes that ended a minute ago.)
    """
    cores = torch.get_num_threads()
    n = os.cpu_count() or cores
    read = read or _proc_stat_times
    free = None
    try:
        prev = read()
        for _ in range(samples):
            time.sleep(sample_s)
            cur = read()
            if cur[0] > prev[0]:
                busy = (1.0 - (cur[1] - prev[1]) / (cur[0] - prev[0])) * n
                free = max(free or 0, n - int(busy + 0.5))
            prev = cur
    except (OSError, ValueError, IndexError):
        return cores
    return cores if free is None else max(1, min(cores, free))


def make_context(cfg: Config) -> Context:
    """Device, process group (``torchrun`` sets ``WORLD_SIZE``: gloo on CPU, nccl on CUDA) and autocast dtype."""
    cuda = torch.cuda.is_available() if cfg.device == "auto" else cfg.device == "cuda"
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    if cfg.threads or not cuda:  # on CUDA only when given: the host side (loading, metrics) uses them too
        torch.set_num_threads(cfg.threads or auto_threads())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = 0, 0
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")
        rank, local = dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        device = torch.device("cpu")
    amp = cfg.amp if cfg.amp != "auto" else ("bf16" if cuda else "off")
    dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    return Context(device=device, rank=rank, world=world, amp_dtype=dtype)


def _barrier(ctx: Context) -> None:
    if ctx.world > 1:
        dist.barrier()


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------


def flip_decision(seed: int, key: tuple[int, int, int]) -> bool:
    """Horizontal flip (p = 0.5) as a pure function of (seed, stage, epoch, position): resume-exact."""
    return bool(np.random.default_rng((seed, *key)).random() < 0.5)


class Augmented(Dataset):
    """Training view of a dataset: indexed by ``(index, (stage, epoch, position))``, random horizontal flip."""

    def __init__(self, base: Dataset, seed: int) -> None:
        self.base, self.seed = base, seed

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, tuple[int, int, int]]) -> dict[str, torch.Tensor]:
        index, aug = key
        item = self.base[index]
        image, gt = item["image"], item["gt"]
        if flip_decision(self.seed, aug):
            image, gt = image.flip(-1), gt.flip(-1)
        return {"image": image, "gt": gt}


class ResumableSampler(DistributedSampler):
    """:class:`DistributedSampler` (shuffled by seed + epoch) that can start mid-epoch and tags each index.

    Yields ``(index, (stage, epoch, global_position))``; ``start`` skips this rank's first samples
    (set from the checkpoint's step counter when resuming).
    """

    def __init__(self, dataset: Dataset, world: int, rank: int, seed: int, stage: int) -> None:
        super().__init__(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=False)
        self.stage, self.start = stage, 0

    def __iter__(self) -> Iterator[tuple[int, tuple[int, int, int]]]:  # type: ignore[override]
        for pos, index in enumerate(super().__iter__()):
            if pos >= self.start:
                yield index, (self.stage, self.epoch, pos * self.num_replicas + self.rank)

    def __len__(self) -> int:
        return self.num_samples - self.start


def _pair_name(ds: Dataset, i: int) -> str | None:
    """The name of pair ``i`` of a folder dataset (or of a concatenation of them); None for generated data.

    A folder dataset under ``--skip-bad`` returns the next readable pair in place of an unreadable one, so an item
    whose name is not this one is a replacement: evaluation leaves it out instead of scoring that pair twice."""
    import seg_data

    if isinstance(ds, torch.utils.data.ConcatDataset):
        k = bisect.bisect_right(ds.cumulative_sizes, i)
        return _pair_name(ds.datasets[k], i - (ds.cumulative_sizes[k - 1] if k else 0))
    return ds.names[i] if isinstance(ds, seg_data.FolderDataset) else None


class SkipReplaced(Dataset):
    """A dataset whose replaced items (see :func:`_pair_name`) are marked ``skip`` for :func:`_collate_eval`."""

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = self.base[i]
        expected = _pair_name(self.base, i)
        return {"skip": True, "name": expected} if expected is not None and item["name"] != expected else item


class EvalView(SkipReplaced):
    """Validation view of a dataset: adds ``gt_u8``, the ground truth at the original size as uint8.

    For folder datasets the GT file is read again at its original resolution (the DIS benchmark
    evaluates there); for generated data the item's GT is already at its original size. With ``skip_bad`` a
    folder dataset replaces an unreadable pair by the next one; here such an item is marked ``skip`` (and
    dropped by the collate function), so the other image is not scored twice.
    """

    def __getitem__(self, i: int) -> dict[str, Any]:
        import seg_data

        item = super().__getitem__(i)
        if item.get("skip"):
            return item
        item = dict(item)
        size = tuple(int(v) for v in item["size"])
        if isinstance(self.base, seg_data.FolderDataset) and tuple(item["gt"].shape[-2:]) != size:
            pair = self.base.pairs[self.base.names.index(item["name"])]
            item["gt_u8"] = seg_data.read_gt(pair[2])
        else:
            item["gt_u8"] = _to_u8(item["gt"].reshape(item["gt"].shape[-2:]))
        item["size"] = size
        return item


def build_data(cfg: Config, ctx: Context) -> tuple[Dataset, dict[str, Dataset], dict[str, Dataset]]:
    """Training set, validation sets and test sets (name -> dataset); see ``seg_data.find_datasets``."""
    import seg_data

    if not cfg.data:
        ctx.log(f"generating {cfg.train_samples} training and {cfg.val_samples} validation samples "
                f"({cfg.size}², examples/dis_synth.py, seed {cfg.seed})")
        train = seg_data.SyntheticDIS(cfg.train_samples, cfg.size, cfg.seed, split="train")
        val = seg_data.SyntheticDIS(cfg.val_samples, cfg.size, cfg.seed, split="val")
        return train, {"synthetic-val": EvalView(val)}, {}
    cache = cfg.cache_dir or None
    try:
        splits = seg_data.find_datasets(cfg.data, 0.0 if cfg.val else cfg.val_fraction, cfg.seed)
        labels = [s.label for s in splits["val"] + splits["test"]] + [Path(v).name for v in cfg.val]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:  # results are keyed by name: one set would silently replace the other
            raise ValueError(f"two evaluation sets are both named {twice[0]!r} (the same folder given twice, or "
                             "folders with the same name): give each one once, under a distinct name")
        trains = [s.dataset(cfg.size, cache, cfg.skip_bad) for s in splits["train"]]
        vals = {s.label: EvalView(s.dataset(cfg.size, cache, cfg.skip_bad)) for s in splits["val"]}
        tests = {s.label: EvalView(s.dataset(cfg.size, cache, cfg.skip_bad)) for s in splits["test"]}
    except ValueError as exc:
        hint = isinstance(exc, seg_data.BadPairError) and not cfg.skip_bad  # the one error --skip-bad helps with
        raise SystemExit(f"--data: {exc}" + (" (--skip-bad leaves such pairs out)" if hint else "")) from None
    try:  # --val folders: named by their own flag when they are bad
        for v in cfg.val:
            base = seg_data._dis5k_root(Path(v))
            if base is not None and not (Path(v) / "im").is_dir():
                raise ValueError(f"{v} is a DIS5K root; --val takes a folder with im/ + gt/, e.g. {base / 'DIS-VD'} "
                                 "(a DIS5K root given to --data validates on its DIS-VD already)")
            split = seg_data.Split(Path(v), Path(v).name)
            vals[split.label] = EvalView(split.dataset(cfg.size, cache, cfg.skip_bad))
    except ValueError as exc:
        raise SystemExit(f"--val: {exc}") from None
    if not vals:
        raise SystemExit("no validation set: give --val PATH, a DIS5K root, or folders with at least two pairs")
    train = trains[0] if len(trains) == 1 else torch.utils.data.ConcatDataset(trains)
    ctx.log(f"data: train {len(train)} images ({', '.join(s.label for s in splits['train'])}), "  # type: ignore[arg-type]
            + ", ".join(f"{k} {len(v)}" for k, v in {**vals, **tests}.items()))
    return train, vals, tests


def _collate_eval(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A validation batch; items marked ``skip`` (unreadable, see :class:`EvalView`) are left out, and a batch of
    only such items has ``image`` None."""
    items = [i for i in items if not i.get("skip")]
    if not items:
        return {"image": None, "gt": [], "gt_u8": [], "name": [], "size": []}
    return {"image": torch.stack([i["image"] for i in items]), "gt": [i["gt"] for i in items],
            "gt_u8": [i.get("gt_u8") for i in items], "name": [i["name"] for i in items],
            "size": [tuple(int(s) for s in i["size"]) for i in items]}


def train_loader(ds: Dataset, cfg: Config, ctx: Context, stage: int) -> tuple[DataLoader, ResumableSampler]:
    """Shuffled, flipped, drop-last batches of ``cfg.batch`` per process (epoch and start set by the caller)."""
    sampler = ResumableSampler(ds, ctx.world, ctx.rank, cfg.seed + 1000 * stage, stage)
    if len(sampler) < cfg.batch:
        raise SystemExit(f"the training set has {len(ds)} samples: too few for --batch {cfg.batch} "  # type: ignore[arg-type]
                         f"on {ctx.world} process(es)")
    loader = DataLoader(
        Augmented(ds, cfg.seed), batch_sampler=BatchSampler(sampler, cfg.batch, drop_last=True),
        num_workers=cfg.workers, pin_memory=ctx.device.type == "cuda", persistent_workers=cfg.workers > 0,
    )
    return loader, sampler


def eval_loader(ds: Dataset, cfg: Config, ctx: Context, limit: int = 0) -> DataLoader:
    """This rank's share ``range(rank, n, world)`` of a dataset (every image counted exactly once)."""
    n = len(ds)  # type: ignore[arg-type]
    if limit:
        n = min(n, limit)
    return DataLoader(Subset(ds, range(ctx.rank, n, ctx.world)), batch_size=cfg.val_batch, shuffle=False,
                      num_workers=cfg.workers, collate_fn=_collate_eval, pin_memory=ctx.device.type == "cuda",
                      persistent_workers=cfg.workers > 0)


# --------------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------------


def gather_metrics(acc: DatasetMetrics, ctx: Context) -> DatasetMetrics:
    """Merge the ranks' accumulators (``segmetrics.distributed`` when available, else all_gather_object)."""
    if ctx.world == 1:
        return acc
    try:
        from segmetrics.distributed import gather_metrics as gather
    except ImportError:
        states: list[Any] = [None] * ctx.world
        dist.all_gather_object(states, acc)
        merged = copy.deepcopy(states[0])
        for s in states[1:]:
            merged.merge(s)
        return merged
    return gather(acc)


def summarize(result: dict[str, Any]) -> dict[str, float]:
    """The DIS Table 2 numbers of a :meth:`DatasetMetrics.compute` result."""
    out = {"n": int(result["n_images"])}
    if "fm" in result:
        out["maxF"] = float(result["fm"]["max"])
    if "wfm" in result:
        out["wF"] = float(result["wfm"])
    if "mae" in result:
        out["MAE"] = float(result["mae"])
    if "sm" in result:
        out["Sm"] = float(result["sm"])
    if "em" in result:
        out["Em"] = float(result["em"]["mean"])
    if "hce" in result:
        out["HCE"] = float(result["hce"]["total"])
    return out


def format_rows(rows: Sequence[tuple[str, dict[str, float]]]) -> str:
    """Aligned text table of ``(label, summary)`` rows with the Table 2 columns."""
    width = max([len("")] + [len(r[0]) for r in rows])
    head = " " * width + " | " + " ".join(f"{c:>7}" for c, _ in COLUMNS)
    lines = [head, "-" * len(head)]
    for label, s in rows:
        cells = []
        for _, k in COLUMNS:
            v = s.get(k)
            cells.append(f"{'-':>7}" if v is None else f"{v:7.1f}" if k == "HCE" else f"{v:7.4f}")
        lines.append(f"{label:<{width}} | " + " ".join(cells))
    return "\n".join(lines)


def _to_u8(x: torch.Tensor) -> np.ndarray:
    return (x.float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def otsu_prediction(image: torch.Tensor) -> np.ndarray:
    """Trivial GT-free baseline: Otsu threshold of the grey image, the smaller class as foreground (uint8 0/255)."""
    from skimage.filters import threshold_otsu

    grey = image.float().mean(0).numpy()
    if grey.max() == grey.min():
        return np.zeros(grey.shape, np.uint8)
    mask = grey > threshold_otsu(grey)
    if mask.mean() > 0.5:
        mask = ~mask
    return mask.astype(np.uint8) * 255


def baselines(val_sets: dict[str, Dataset], cfg: Config, ctx: Context) -> dict[str, dict[str, dict[str, float]]]:
    """All-zero and Otsu predictors on the validation sets (same metrics, same sharding)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, ds in val_sets.items():
        zero, otsu = DatasetMetrics(), DatasetMetrics()
        for batch in eval_loader(ds, cfg, ctx):
            if batch["image"] is None:
                continue
            for image, g in zip(batch["image"], batch["gt_u8"]):
                zero.update(np.zeros_like(g), g)
                o = otsu_prediction(image)
                if o.shape != g.shape:
                    o = _to_u8(F.interpolate(torch.from_numpy(o)[None, None].float() / 255, size=g.shape,
                                             mode="bilinear", align_corners=False)[0, 0])
                otsu.update(o, g)
        out[name] = {"all-zero": summarize(gather_metrics(zero, ctx).compute()),
                     "Otsu (grey)": summarize(gather_metrics(otsu, ctx).compute())}
    return out


def _prepare(x: torch.Tensor, cfg: Config, ctx: Context, offset: float = 0.0) -> torch.Tensor:
    """A batch on the device, plus ``offset`` (the images' ``- 0.5``), bilinearly resized to the model input size
    (``--input-size``), in the memory format.

    The batch is copied as it comes from the loader and ``offset`` added on the device: adding it on the host made a
    new, unpinned tensor (a pass over the batch on the CPU, then a copy from pageable memory that the host waits for).
    """
    x = x.to(ctx.device, non_blocking=True)
    if offset:
        x = x + offset
    if cfg.input_size and tuple(x.shape[-2:]) != (cfg.input_size, cfg.input_size):
        x = F.interpolate(x, size=(cfg.input_size, cfg.input_size), mode="bilinear", align_corners=False)
    return x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x


def sync_buffers(module: nn.Module, ctx: Context) -> None:
    """Give every rank rank 0's buffers (BatchNorm running statistics drift apart between DDP ranks)."""
    if ctx.world > 1:
        for b in module.buffers():
            dist.broadcast(b, 0)


@torch.no_grad()
def validate(model: nn.Module, val_sets: dict[str, Dataset], cfg: Config, ctx: Context,
             write_dir: Path | None = None) -> dict[str, dict[str, float]]:
    """Validate the image branch as the authors do: ``sigmoid(d1)`` resized to each image's original size, min-max
    normalised per image to 0..255 (``infer_isnet.to_png_map``, as their ``valid()`` and ``Inference.py``), as uint8
    (exactly what the PNGs hold, so ``segmetrics eval`` on them gives the same numbers)."""
    was_training = model.training
    sync_buffers(model, ctx)
    model.eval()
    if write_dir is not None:  # an earlier run's PNGs in the same folder would be scored with these
        _clear_pngs([write_dir / name for name in val_sets], ctx)
    results = {}
    for name, ds in val_sets.items():
        acc = DatasetMetrics()
        for batch in eval_loader(ds, cfg, ctx):
            if batch["image"] is None:
                continue
            with ctx.autocast():
                d1 = model(_prepare(batch["image"], cfg, ctx, -0.5))[0][0]
            prob = torch.sigmoid(d1.float())
            for p, g, nm, size in zip(prob, batch["gt_u8"], batch["name"], batch["size"]):
                pred = to_png_map(p, tuple(size), normalize="minmax")
                if g.shape != pred.shape:
                    raise ValueError(f"{name}/{nm}: ground truth {g.shape} does not match the original size {size}")
                acc.update(pred, g, name=nm)
                if write_dir is not None:
                    _write_png(write_dir / name / f"{nm}.png", pred)
        results[name] = summarize(gather_metrics(acc, ctx).compute())
    model.train(was_training)
    return results


def _clear_pngs(folders: Sequence[Path], ctx: Context) -> None:
    """Remove the PNGs an earlier run left in ``folders`` (rank 0; every rank waits)."""
    if ctx.main:
        for folder in folders:
            for png in folder.glob("*.png"):
                png.unlink()
    _barrier(ctx)


def _write_png(path: Path, array: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), array):
        raise OSError(f"could not write {path}")


@torch.no_grad()
def gt_encoder_maxf(encoder: nn.Module, ds: Dataset, cfg: Config, ctx: Context) -> float:
    """maxF of the GT encoder's first side output on (part of) the training set, no augmentation."""
    was_training = encoder.training
    sync_buffers(encoder, ctx)
    encoder.eval()
    acc = DatasetMetrics(metrics=("fm",))
    for batch in eval_loader(SkipReplaced(ds), cfg, ctx, limit=cfg.gt_val_samples):  # each pair counted once
        if batch["image"] is None:
            continue
        gts = _prepare(torch.stack(batch["gt"]), cfg, ctx)  # at the model input size, as in training
        with ctx.autocast():
            d1 = encoder(gts)[0][0]
        prob = torch.sigmoid(d1.float())
        acc.update(_to_u8(prob[:, 0]), _to_u8(gts[:, 0]))
    encoder.train(was_training)
    return summarize(gather_metrics(acc, ctx).compute())["maxF"]


# --------------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """All RNG states of this process."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(),  # noqa: NPY002
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)


def scheduled_lr(cfg: Config, iteration: int, cap: int) -> float:
    """Learning rate of stage 2's step after ``iteration`` steps, ``cap`` = ``--iters`` (0: no cap).

    ``constant``: ``cfg.lr``; ``cosine``: ``cfg.lr · ½(1 + cos(π · iteration / cap))``, a pure function of the
    iteration, so a resumed run follows the same schedule.
    """
    if cfg.lr_schedule == "constant" or cap <= 0:
        return cfg.lr
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(iteration, cap) / cap))


def make_optimizer(model: nn.Module, cfg: Config, ctx: Context) -> torch.optim.Optimizer:
    """Adam with the configured hyper-parameters (fused on CUDA by default)."""
    fused = cfg.fused_adam == "on" or (cfg.fused_adam == "auto" and ctx.device.type == "cuda")
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                            weight_decay=cfg.weight_decay, **({"fused": True} if fused else {}))


def _bar(total: int | None, desc: str, initial: int, ctx: Context) -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        return None
    return tqdm(total=total or None, desc=desc, initial=initial, disable=not ctx.main, dynamic_ncols=True,
                unit="it", smoothing=0.1)


def early_stopped(progress: dict[str, Any], cfg: Config) -> bool:
    """Whether stage 2 has had ``--patience`` validations in a row without a better maxF."""
    return bool(cfg.patience) and progress["image"]["bad"] >= cfg.patience


def on_step(stage: str, iteration: int) -> None:
    """Hook called after every optimiser step (tests replace it to simulate a kill)."""


class Run:
    """State of one training run: models, optimiser, counters, history, output paths."""

    def __init__(self, cfg: Config, ctx: Context, resuming: bool = False) -> None:
        self.cfg, self.ctx = cfg, ctx
        self.out = Path(cfg.out)
        seed_everything(cfg.seed)
        self.model = ISNetDIS(3, 1, cfg.width)
        self.gt_encoder = ISNetGTEncoder(1, 1, cfg.width)
        # --weights / --gt-encoder initialise a new run; a resumed one takes both networks from its checkpoint
        if cfg.weights and not resuming:
            _load_into(self.model, _load_state(cfg.weights, "model", "--weights"), "--weights", cfg.weights)
        if cfg.gt_encoder and not resuming:
            _load_into(self.gt_encoder, _load_state(cfg.gt_encoder, "gt_encoder", "--gt-encoder"), "--gt-encoder",
                       cfg.gt_encoder)
        self.model.to(ctx.device)
        self.gt_encoder.to(ctx.device)
        if cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
            self.gt_encoder.to(memory_format=torch.channels_last)
        skip_gt = not cfg.feature_sync or bool(cfg.gt_encoder)
        self.progress: dict[str, Any] = {
            "stage": "image" if skip_gt else "gt",
            "gt": {"iteration": 0, "epoch": 0, "step": 0, "maxf": [], "reached": None},
            "image": {"iteration": 0, "epoch": 0, "step": 0, "best": -1.0, "best_iteration": 0, "bad": 0},
        }
        self.history: list[dict[str, Any]] = []  # one row per validation
        self.loss_log: list[dict[str, Any]] = []  # one row per logging interval
        self.optimizer: torch.optim.Optimizer | None = None
        self.scaler = torch.amp.GradScaler(ctx.device.type, enabled=ctx.amp_dtype == torch.float16)
        self.resumed_from: str | None = None
        self.saved: str | None = None  # where the last checkpoint of this run stands (for a Ctrl-C note)
        self._pending_optimizer: dict[str, Any] | None = None  # a resumed optimiser state, for the next _loop
        # the weights of the best validation so far (rank 0, on the CPU): saved in each checkpoint, so that a resumed
        # run's best.pt is the checkpoint's best, never a later one from the iterations a kill lost
        self.best_state: dict[str, torch.Tensor] | None = None
        self._has_best = False  # whether the resumed checkpoint says which best.pt goes with it

    # ---- checkpoints ----
    def state(self) -> dict[str, Any]:
        return {
            "format": 1, "config": dataclasses.asdict(self.cfg), "progress": self.progress,
            "model": self.model.state_dict(), "gt_encoder": self.gt_encoder.state_dict(),
            "optimizer": None if self.optimizer is None else self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(), "rng": rng_state(), "history": self.history,
            "loss_log": self.loss_log, "best_model": self.best_state,
        }

    def save(self) -> None:
        """Checkpoint (atomic) + config dump beside it; rank 0 writes, all ranks wait."""
        if self.ctx.main:
            atomic_save(self.state(), self.out / "checkpoint.pt")
            self.saved = self._position()
            atomic_write_text(json.dumps(dataclasses.asdict(self.cfg), indent=2) + "\n", self.out / "config.json")
        _barrier(self.ctx)
        self.saved = self._position()

    def _position(self) -> str:
        stage = self.progress["stage"]
        if stage == "gt":
            return f"stage 1, iteration {self.progress['gt']['iteration']}"
        return f"stage 2, iteration {self.progress['image']['iteration']}"

    def interrupted_note(self) -> str:
        """What a Ctrl-C leaves: the checkpoint a ``--resume`` continues from, if this run wrote or read one."""
        if self.saved is None:
            return "interrupted before this run's first checkpoint: there is nothing to resume"
        return (f"interrupted: the same command with --resume continues from {self.out / 'checkpoint.pt'} "
                f"({self.saved}); the iterations after it are lost")

    def load(self, path: Path) -> None:
        ckpt = load_checkpoint(path)
        _load_into(self.model, ckpt["model"], "--resume", path)
        _load_into(self.gt_encoder, ckpt["gt_encoder"], "--resume", path)
        self.progress, self.history, self.loss_log = ckpt["progress"], ckpt["history"], ckpt["loss_log"]
        self._pending_optimizer = ckpt["optimizer"]
        self.best_state = ckpt.get("best_model")
        self._has_best = "best_model" in ckpt  # checkpoints of earlier versions do not say which best.pt they had
        self.scaler.load_state_dict(ckpt["scaler"])
        set_rng_state(ckpt["rng"])
        self.resumed_from = str(path)
        self.saved = self._position()

    def restore_best(self) -> None:
        """Make ``best.pt`` the resumed checkpoint's best model (rank 0).

        A run killed after a validation that improved (best.pt written) but before the next checkpoint left a
        best.pt that the resumed run may never reach again (e.g. with other flags); the summary would then name one
        iteration and best.pt hold another.
        """
        if not self.ctx.main or not self._has_best:
            return
        path = self.out / "best.pt"
        if self.best_state is not None:
            atomic_save(self.best_state, path)
        elif path.is_file():
            path.unlink()  # no validation before the checkpoint: the file is from the lost iterations

    def _optimizer_for(self, module: nn.Module) -> torch.optim.Optimizer:
        opt = make_optimizer(module, self.cfg, self.ctx)
        if self._pending_optimizer is not None:
            opt.load_state_dict(self._pending_optimizer)
            self._pending_optimizer = None
        self.optimizer = opt
        return opt

    def _wrap(self, module: nn.Module) -> nn.Module:
        net = module
        if self.cfg.compile:
            net = torch.compile(net)
        if self.ctx.world > 1:
            ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            net = nn.parallel.DistributedDataParallel(net, device_ids=ids)
        return net

    # ---- the generic loop ----
    def _loop(self, stage: str, net: nn.Module, loss_fn: Any, ds: Dataset, cap: int,
              every: int, on_validate: Any) -> None:
        """Train ``net`` until ``cap`` iterations (0: unbounded) or ``on_validate`` returns True.

        The losses' input checks (NaN/Inf, value range: one host read per call) run on this loop's first batch
        only, so that the steps after it make no host sync; the setting is restored when the loop ends.
        """
        previous: list[bool] = []

        def checked_first(net: nn.Module, opt: torch.optim.Optimizer, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            out = loss_fn(net, opt, batch)
            if not previous:
                previous.append(segloss.set_value_checks(False))
            return out

        try:
            self._train_until(stage, net, checked_first, ds, cap, every, on_validate)
        finally:
            if previous:
                segloss.set_value_checks(previous[0])

    def _train_until(self, stage: str, net: nn.Module, loss_fn: Any, ds: Dataset, cap: int,
                     every: int, on_validate: Any) -> None:
        cfg, ctx, prog = self.cfg, self.ctx, self.progress[stage]
        opt = self._optimizer_for(net)
        loader, sampler = train_loader(ds, cfg, ctx, stage=1 if stage == "gt" else 2)
        per_epoch = sampler.num_samples // cfg.batch
        shape = [len(ds), ctx.world]  # type: ignore[arg-type]
        if prog.setdefault("samples", shape) != shape:
            # files added or removed (or --skip-bad) since the checkpoint: the saved position means nothing here, and
            # one past the new epoch's end would make every epoch empty (a hang)
            ctx.log(f"warning: the training set has {shape[0]} samples on {shape[1]} process(es), the checkpoint's "
                    f"run had {prog['samples'][0]} on {prog['samples'][1]}: the run cannot continue exactly; epoch "
                    f"{prog['epoch']} restarts from its first batch")
            prog["samples"], prog["step"] = shape, 0
        every = every or per_epoch
        bar = _bar(cap, "stage 1 GT encoder" if stage == "gt" else "stage 2 image branch", prog["iteration"], ctx)
        # the loss summed since the last log (saved with each checkpoint, so a resumed run logs the same means);
        # the saved sum is over all processes, so rank 0 takes it back and the others start from zero
        saved = prog.get("loss_sum", [0.0, 0.0, 0.0]) if ctx.main else [0.0, 0.0, 0.0]
        running = torch.tensor(saved, dtype=torch.float32, device=ctx.device)
        count = prog.get("loss_count", 0)
        stop = False
        net.train()
        while not stop and (cap == 0 or prog["iteration"] < cap):
            sampler.set_epoch(prog["epoch"])
            sampler.start = prog["step"] * cfg.batch
            for batch in loader:
                if stage == "image" and cfg.lr_schedule != "constant":
                    for group in opt.param_groups:
                        group["lr"] = scheduled_lr(cfg, prog["iteration"], cap)
                running += loss_fn(net, opt, batch)
                count += 1
                prog["iteration"] += 1
                prog["step"] += 1
                it = prog["iteration"]
                end_of_epoch = prog["step"] >= per_epoch
                if end_of_epoch:
                    prog["epoch"] += 1
                    prog["step"] = 0
                if bar is not None:
                    bar.update(1)
                if it % cfg.log_every == 0 or (cap and it == cap):
                    # the mean over every process's steps; a host sync (and a collective), at log steps only
                    vals = (sum_over_ranks(running, ctx) / (count * ctx.world)).tolist()
                    self.loss_log.append({"stage": stage, "iteration": it, "loss": vals[0],
                                          "side": vals[1], "feature": vals[2]})
                    if bar is not None:
                        post = {"loss": f"{vals[0]:.4f}"}
                        if stage == "image" and cfg.feature_sync:
                            post.update(bce=f"{vals[1]:.4f}", fs=f"{vals[2]:.4f}")
                        bar.set_postfix(post, refresh=False)
                    running.zero_()
                    count = 0
                done = bool(cap) and it >= cap
                if it % every == 0 or done:
                    stop = on_validate(it) or done
                if it % cfg.ckpt_every == 0 or stop:
                    # a host sync (and a collective), at checkpoints only
                    prog.update(loss_sum=sum_over_ranks(running, ctx).tolist(), loss_count=count)
                    self.save()
                on_step(stage, it)
                if stop or end_of_epoch:
                    break
        if bar is not None:
            bar.close()

    # ---- stage 1 ----
    def train_gt_encoder(self, train: Dataset) -> None:
        cfg, ctx, prog = self.cfg, self.ctx, self.progress["gt"]
        net = self._wrap(self.gt_encoder)

        def step(net: nn.Module, opt: torch.optim.Optimizer, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            gt = _prepare(batch["gt"], cfg, ctx)
            with ctx.autocast():
                sides, _ = net(gt)
            loss = segloss.deep_supervision_loss(sides, gt)
            opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
            d = loss.detach()
            return torch.stack([d, d, torch.zeros_like(d)])

        def check(it: int) -> bool:
            maxf = gt_encoder_maxf(self.gt_encoder, train, cfg, ctx)
            prog["maxf"].append([it, maxf])
            ctx.log(f"stage 1 iteration {it}: GT encoder train maxF(side 1) = {maxf:.4f} "
                    f"(threshold {cfg.gt_threshold})")
            if maxf > cfg.gt_threshold:
                prog["reached"] = it
                return True
            return False

        ctx.log(f"stage 1: GT encoder ({count_parameters(self.gt_encoder):,} parameters), BCE on 6 side outputs, "
                f"until train maxF > {cfg.gt_threshold} or {cfg.gt_iters} iterations")
        if cfg.gt_iters > 0 and prog["reached"] is None:  # a resume from the checkpoint of the passing check: done
            self._loop("gt", net, step, train, cfg.gt_iters, cfg.gt_val_every, check)
        if prog["reached"] is None:
            last = prog["maxf"][-1][1] if prog["maxf"] else float("nan")
            ctx.log(f"stage 1: the GT encoder did NOT reach train maxF > {cfg.gt_threshold} within {cfg.gt_iters} "
                    f"iterations (last {last:.4f}); continuing with it — its features are weaker targets. "
                    f"Raise --gt-iters or lower --gt-threshold to change this.")
        else:
            ctx.log(f"stage 1: done at iteration {prog['reached']} (train maxF > {cfg.gt_threshold})")
        if ctx.main:
            atomic_save(self.gt_encoder.state_dict(), self.out / "gt_encoder.pt")
        self.progress["stage"] = "image"
        self.optimizer = self._pending_optimizer = None  # stage 1's Adam state (also one resumed but unused)
        self.save()

    # ---- stage 2 ----
    def train_image_branch(self, train: Dataset, val_sets: dict[str, Dataset]) -> None:
        cfg, ctx, prog = self.cfg, self.ctx, self.progress["image"]
        net = self._wrap(self.model)
        frozen = segloss.freeze_gt_encoder(self.gt_encoder, cfg.gt_encoder_mode) if cfg.feature_sync else None
        criterion = segloss.ISNetLoss() if cfg.feature_sync else segloss.DeepSupervisionLoss()

        def step(net: nn.Module, opt: torch.optim.Optimizer, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            x = _prepare(batch["image"], cfg, ctx, -0.5)
            gt = _prepare(batch["gt"], cfg, ctx)
            with ctx.autocast():
                sides, feats = net(x)
                if frozen is not None:
                    teacher = frozen(gt)[1]
            if frozen is not None:
                loss, parts = criterion(sides, gt, feats, teacher)
                logged = torch.stack([loss.detach(), parts["side"], parts["feature"]])
            else:
                loss = criterion(sides, gt)
                d = loss.detach()
                logged = torch.stack([d, d, torch.zeros_like(d)])
            opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
            self.scaler.update()
            return logged

        def check(it: int) -> bool:
            write = self.out / "predictions" / f"iter{it:06d}" if cfg.save_predictions == "every" else None
            res = validate(self.model, val_sets, cfg, ctx, write)
            self.record(it, prog["epoch"], res)
            first = next(iter(res.values()))
            if first["maxF"] > prog["best"]:
                prog.update(best=first["maxF"], best_iteration=it, bad=0)
                if ctx.main:
                    self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
                    atomic_save(self.best_state, self.out / "best.pt")
            else:
                prog["bad"] += 1
            if early_stopped(self.progress, cfg):
                ctx.log(f"early stop: {prog['bad']} validations without a better maxF (best {prog['best']:.4f} "
                        f"at iteration {prog['best_iteration']})")
                return True
            return False

        loss_name = "ISNetLoss (6 BCE + feature MSE)" if cfg.feature_sync else "6 BCE (no feature sync)"
        ctx.log(f"stage 2: image branch ({count_parameters(self.model):,} parameters), {loss_name}"
                + (f", GT encoder frozen ({cfg.gt_encoder_mode})" if cfg.feature_sync else ""))
        if not self.history:  # the untrained (or --weights) model, for the learning table
            self.record(0, 0, validate(self.model, val_sets, cfg, ctx))
        if early_stopped(self.progress, cfg):  # a resume from the checkpoint of the stopping validation: done
            ctx.log(f"early stop already reached: {prog['bad']} validations without a better maxF (--patience "
                    f"{cfg.patience}); resume with a larger --patience to train on")
        else:
            self._loop("image", net, step, train, cfg.iters, cfg.val_every, check)
        self.progress["stage"] = "done"
        self.save()

    def record(self, it: int, epoch: int, res: dict[str, dict[str, float]]) -> None:
        self.history.append({"iteration": it, "epoch": epoch, "results": res})
        rows = [(f"{name} it {it} ep {epoch}", s) for name, s in res.items()]
        self.ctx.log(format_rows(rows))


def load_file(path: str | os.PathLike, flag: str) -> Any:
    """``torch.load`` a file named by ``flag``; a missing, truncated or foreign file exits with one line naming both."""
    p = Path(path)
    if not p.is_file():
        raise SystemExit(f"{flag}: no such file: {p}")
    try:
        return torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch / pickle raise many types for a damaged file
        first = (str(exc).strip().splitlines() or [""])[0]
        raise SystemExit(f"{flag}: cannot read {p} (truncated, or not a torch file?): {type(exc).__name__}: {first}") \
            from None


#: Keys of a ``train_isnet.py`` checkpoint that ``--resume`` needs (see :meth:`Run.state`).
CHECKPOINT_KEYS = ("config", "progress", "model", "gt_encoder", "optimizer", "scaler", "rng", "history", "loss_log")


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A full training checkpoint (``checkpoint.pt``) for ``--resume``, or exit with a line saying what it is."""
    ckpt = load_file(path, "--resume")
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        hint = (" (a model state dict such as best.pt or gt_encoder.pt: pass it to --weights or --gt-encoder)"
                if isinstance(ckpt, dict) and ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()) else "")
        raise SystemExit(f"--resume: {path} is not a train_isnet.py checkpoint: no {', '.join(missing[:3])}{hint}")
    unknown = sorted(set(ckpt["config"]) - {f.name for f in dataclasses.fields(Config)})
    if unknown:
        raise SystemExit(f"--resume: {path} was written by another version of train_isnet.py (unknown settings "
                         f"{unknown[:3]})")
    return ckpt


def _load_state(path: str, key: str, flag: str) -> dict[str, torch.Tensor]:
    obj = load_file(path, flag)
    if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
        obj = obj[key]
    if not isinstance(obj, dict):
        raise SystemExit(f"{flag}: {path}: expected a state dict (or one of our checkpoints); got {type(obj).__name__}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _load_into(module: nn.Module, state: dict[str, Any], flag: str, path: str | os.PathLike) -> None:
    """``load_state_dict(strict=True)``, or exit with one line: how the file's keys and shapes differ."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and tuple(getattr(state[k], "shape", ())) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        first = (f"first: {missing[0]!r} missing" if missing else f"first: {unexpected[0]!r} unexpected" if unexpected
                 else f"first: {shapes[0]!r} {tuple(state[shapes[0]].shape)} vs {tuple(own[shapes[0]].shape)}")
        width = getattr(module, "width", None)
        raise SystemExit(f"{flag}: {path} does not fit {type(module).__name__}"
                         + (f"(width={width:g})" if isinstance(width, float) else "")
                         + f": {len(missing)} missing keys, {len(unexpected)} unexpected, {len(shapes)} of another "
                         f"shape ({first}); is it the other network's weights, or another --width?")
    module.load_state_dict(state, strict=True)


def save_curve(history: list[dict[str, Any]], loss_log: list[dict[str, Any]], path: Path,
               baselines: dict[str, dict[str, dict[str, float]]] | None = None) -> bool:
    """Validation maxFβ / HCEγ and the training loss against the iteration, as a small PNG.

    ``baselines`` (of :func:`baselines`) adds the trivial predictors' maxFβ and HCEγ as dashed lines. Returns
    ``False`` (nothing drawn) without matplotlib, which is the ``plot`` extra: a plain ``pip install .`` runs.
    """
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return False
    name = next(iter(history[0]["results"]))
    its = [h["iteration"] for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.8), dpi=90)
    for label, key in (("maxFβ", "maxF"), ("Fwβ", "wF"), ("Sα", "Sm"), ("Emφ", "Em")):
        axes[0].plot(its, [h["results"][name][key] for h in history], marker="o", ms=3, label=label)
    axes[0].set_title(f"validation ({name})")
    axes[1].plot(its, [h["results"][name]["HCE"] for h in history], marker="o", ms=3, color="C3")
    axes[1].set_title("HCEγ (lower is better)")
    for i, (label, b) in enumerate((baselines or {}).get(name, {}).items()):
        style = {"color": "grey", "ls": "--" if i == 0 else ":", "lw": 1}
        axes[0].axhline(b["maxF"], label=f"maxFβ {label}", **style)
        axes[1].axhline(b["HCE"], label=label, **style)
    if baselines:
        axes[1].legend(fontsize=7)
    axes[0].legend(fontsize=6, ncol=2)
    img = [r for r in loss_log if r["stage"] == "image"]
    if img:
        axes[2].plot([r["iteration"] for r in img], [r["loss"] for r in img], lw=1, label="total")
        axes[2].plot([r["iteration"] for r in img], [r["side"] for r in img], lw=1, label="6 × BCE")
        axes[2].legend(fontsize=7)
    axes[2].set_title("training loss")
    axes[2].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return True


# --------------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the script; returns a summary dict (paths, final metrics, baselines).

    A folder-dataset file that cannot be read during the run (also in a DataLoader worker) ends the run with one
    line naming it (``SystemExit``), not a traceback.
    """
    import seg_data

    try:
        return _main(argv)
    except seg_data.BadPairError as exc:
        # a worker re-raises it with its traceback in the message: keep the last line, the reader's own message
        line = str(exc).strip().splitlines()[-1]
        line = line.split(f"{type(exc).__name__}: ", 1)[-1]
        raise SystemExit(f"--data: {line} (--skip-bad: use the next readable pair instead)") from None


def _main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.eval_only and not (args.resume or args.weights):
        parser.error("--eval-only needs --resume [CKPT] or --weights PATH (else it would score an untrained model)")
    resume_path: Path | None = None
    base = None
    try:
        if args.resume:
            probe, _ = resolve_config(args)
            resume_path = Path(probe.out) / "checkpoint.pt" if args.resume == "auto" else Path(args.resume)
            if not resume_path.is_file():
                raise SystemExit(f"--resume: no checkpoint at {resume_path}")
            base = Config(**load_checkpoint(resume_path)["config"])
            fixed = [k for k in vars(args) if k not in (*RESUME_OVERRIDABLE, "out", "resume", "eval_only")
                     and getattr(args, k) is not None and getattr(args, k) != getattr(base, k)]
            if fixed:
                flags = ", ".join(f"--{k.replace('_', '-')} {getattr(args, k)} (saved: {getattr(base, k)})"
                                  for k in fixed)
                parser.error(f"--resume continues the saved run's settings; these cannot change: {flags} "
                             f"(changeable: {', '.join('--' + k.replace('_', '-') for k in RESUME_OVERRIDABLE)})")
        cfg, given = resolve_config(args, base)
    except ValueError as exc:
        parser.error(str(exc))
    ctx = make_context(cfg)
    if cfg.compile and ctx.device.type != "cuda" and "compile" not in given:
        # The paper preset compiles on GPUs (2.17x the authors' loop on an H200 vs 1.84x eager, 10.8 vs 12.5 GiB);
        # on a CPU, where that preset is only a run check, compiling costs minutes and needs a C++ toolchain.
        cfg.compile = False
        ctx.log("--compile (paper preset) is for CUDA; off on this CPU run (pass --compile to force it)")
    started = time.perf_counter()
    shown = f"{cfg.size}²" + (f" data, {cfg.input_size}² model input" if cfg.input_size else "")
    amp = str(ctx.amp_dtype).removeprefix("torch.") if ctx.amp_dtype else "off"
    ctx.log(f"IS-Net, preset {cfg.preset!r}: width {cfg.width}, {shown}, batch {cfg.batch} × {ctx.world} "
            f"process(es), device {ctx.device}, amp {amp}, output {cfg.out}")
    if ctx.main:  # an unwritable --out failed with a traceback at the first checkpoint, after minutes of training
        check_writable(Path(cfg.out))
    if resume_path is None and not args.eval_only and (Path(cfg.out) / "checkpoint.pt").is_file():
        ctx.log(f"warning: {cfg.out} holds the checkpoint of an earlier run; this new run replaces it at its first "
                "checkpoint (--resume continues the earlier run instead)")
    run = Run(cfg, ctx, resuming=resume_path is not None)
    if resume_path is not None:
        run.load(resume_path)
        if not args.eval_only:
            run.restore_best()
        if (run.progress["stage"] == "done" and (cfg.iters == 0 or cfg.iters > run.progress["image"]["iteration"])
                and not early_stopped(run.progress, cfg)):
            run.progress["stage"] = "image"  # a finished run resumed with more --iters (or --patience) continues
        stage = run.progress["stage"]
        it = run.progress["image" if stage == "done" else stage]["iteration"]
        ctx.log(f"resumed from {resume_path}: stage {stage}, iteration {it}")
        done_it = run.progress["image"]["iteration"]
        if (base is not None and cfg.lr_schedule == "cosine" and cfg.iters != base.iters and done_it > 0
                and stage == "image" and not args.eval_only):
            ctx.log(f"warning: --iters {base.iters} -> {cfg.iters} with --lr-schedule cosine: the schedule now runs "
                    f"over the new cap, so the learning rate at iteration {done_it} jumps from "
                    f"{scheduled_lr(cfg, done_it, base.iters):.3g} to {scheduled_lr(cfg, done_it, cfg.iters):.3g}")
    train, val_sets, test_sets = build_data(cfg, ctx)
    summary: dict[str, Any] = {"out": str(run.out), "config": str(run.out / "config.json")}

    if args.eval_only:
        write = run.out / "predictions" / "eval"
        res = validate(run.model, {**val_sets, **test_sets}, cfg, ctx, write)
        ctx.log(format_rows(list(res.items())))
        if ctx.main:
            atomic_write_text(json.dumps(res, indent=1) + "\n", run.out / "eval.json")
        summary.update(results=res, predictions=str(write))
        _finish(ctx)
        return summary

    try:
        if run.progress["stage"] == "gt":
            run.train_gt_encoder(train)
        if run.progress["stage"] == "image":
            run.train_image_branch(train, val_sets)
    except KeyboardInterrupt:
        ctx.log("\n" + run.interrupted_note())
        raise

    # final evaluation, predictions, baselines, curve
    last_it = run.progress["image"]["iteration"]
    write = run.out / "predictions" / "final" if cfg.save_predictions != "none" else None
    final = validate(run.model, val_sets, cfg, ctx, write)
    if not run.history or run.history[-1]["iteration"] != last_it:
        run.record(last_it, run.progress["image"]["epoch"], final)
    tests = validate(run.model, test_sets, cfg, ctx, write) if test_sets else {}
    base_res = baselines(val_sets, cfg, ctx)
    if ctx.main:
        if not save_curve(run.history, run.loss_log, run.out / "curve.png", base_res):
            (run.out / "curve.png").unlink(missing_ok=True)  # never list the curve of an earlier run
            ctx.log('note: curve.png not drawn: it needs matplotlib (pip install "segloss-segmetrics[plot]")')
        atomic_write_text(json.dumps({"history": run.history, "loss": run.loss_log, "baselines": base_res,
                                      "tests": tests, "progress": run.progress}, indent=1) + "\n",
                          run.out / "metrics.json")
    elapsed = time.perf_counter() - started
    first = run.history[0]
    rows = []
    for name in val_sets:
        start = "untrained" if not cfg.weights else "--weights"  # a run from --weights starts from those
        rows += [(f"{name}: {start} (it {first['iteration']})", first["results"][name]),
                 (f"{name}: final (it {last_it})", final[name])]
        rows += [(f"{name}: {k}", v) for k, v in base_res[name].items()]
    rows += [(f"{name}: final", s) for name, s in tests.items()]
    gt_prog = run.progress["gt"]
    ctx.log("\n" + "=" * 78)
    ctx.log(f"done in {elapsed / 60:.1f} min" + (f" (resumed from {run.resumed_from})" if run.resumed_from else ""))
    if cfg.feature_sync and not cfg.gt_encoder:
        reached = gt_prog["reached"]
        ctx.log(f"stage 1 GT encoder: {gt_prog['iteration']} iterations, "
                + (f"train maxF > {cfg.gt_threshold} at iteration {reached}" if reached
                   else f"threshold {cfg.gt_threshold} NOT reached"))
    img = run.progress["image"]
    best = (f"best maxF {img['best']:.4f} at iteration {img['best_iteration']}" if img["best"] >= 0
            else "no validation yet, so no best model")  # (a resume with --iters at or below its iteration)
    ctx.log(f"stage 2 image branch: {last_it} iterations, {best}")
    ctx.log(format_rows(rows))
    trained_gt = cfg.feature_sync and not cfg.gt_encoder  # else gt_encoder.pt, if any, is an earlier run's
    paths = {"checkpoint": run.out / "checkpoint.pt", "config": run.out / "config.json",
             "best model": run.out / "best.pt", "GT encoder": run.out / "gt_encoder.pt" if trained_gt else None,
             "metrics": run.out / "metrics.json", "curve": run.out / "curve.png", "predictions": write}
    for label, p in paths.items():
        if p is not None and p.exists():
            ctx.log(f"  {label:<12} {p}")
    if write is not None:
        name = next(iter(val_sets))
        gt_dir = "<its ground-truth folder>"
        if not cfg.data and ctx.main:  # generated data have no GT folder on disk: write the validation GTs once
            gt_dir = write / f"{name}-gt"
            for png in gt_dir.glob("*.png"):  # an earlier run's
                png.unlink()
            for item in val_sets[name]:
                _write_png(gt_dir / f"{item['name']}.png", item["gt_u8"])
        ctx.log(f"evaluate the PNGs again with: python -m segmetrics eval --pred {write / name} --gt {gt_dir}")
    summary.update(final=final, tests=tests, baselines=base_res, history=run.history, elapsed_s=elapsed,
                   predictions=None if write is None else str(write), progress=run.progress)
    _finish(ctx)
    return summary


def _finish(ctx: Context) -> None:
    if ctx.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler's stop, ``kill``), raised in the main thread so that it ends the run as Ctrl-C does:
    the run says which checkpoint ``--resume`` continues from, and the script exits with 143 (128 + 15)."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(f"signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _raise_terminated)  # the default action killed the run without a word
    try:
        main()
    except Terminated:
        sys.exit(128 + signal.SIGTERM)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
