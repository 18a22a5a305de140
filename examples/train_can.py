"""Train the latent-diversity CAN (Li, Chen & Koltun, CVPR 2018) and evaluate it with NoC@85/90.

``python examples/train_can.py`` (no arguments) runs a CPU smoke experiment in a few minutes. For CPU speed
the default is 32 channels (``--width 64`` is the paper's Table 1) at 48 x 48 with Table 1's dilations, so
the 513-pixel receptive field is clipped by the image (the dilation-64 and -128 layers reduce to their
centre taps); ``f`` takes 400 steps of batch 8 (Adam 1e-3; at 3e-3 most outputs saturated to all-background
or all-foreground within a few steps and never recovered), ``g`` 150 steps of batch 4 (Adam 3e-3). ``f``'s
loss adds the authors' small ranked term (``--lambda-base 2.5e-3``): with eq. 5 alone most outputs died
and one seed of three stayed in the trivial minimum.

Measured (3 seeds, 1 thread on the busy shared 2-core machine): 238 s of CPU time per run (so about 4 min on
an idle machine; 12 min wall there), ``f``'s loss 0.88-1.30 -> 0.32-0.42, mIoU@5 0.19 (untrained) -> 0.59
with ``g`` and 0.77 for the hindsight oracle (NoC@85 9.2 of 20). ``g`` does not yet select well in this
budget: its cross-entropy stays near ``ln 6`` on the default ``f`` (whose six outputs are all alive and
differ by 0.04 Jaccard between the best and the second best on average), also for 450 steps or at Adam
1e-2, and ``f + g`` (NoC@85 15.1) is close to ``f``'s first output (15.6). On an ``f`` trained with eq. 5
alone (most outputs dead) ``g`` does learn (1.73 -> 1.23 in 150 steps).

1. ``f`` (:class:`can_model.SegmentationCAN`, ``M = 6``) is trained with :class:`segloss.HindsightLoss`
   (eq. 5: min over the ``M`` outputs of the relaxed Jaccard distance plus the click soft constraints)
   on generated multi-object scenes (``examples/dis_synth.py``, ``generate_scene``, easy mode, 48 x 48),
   one object per sample, clicks drawn by the Xu et al. sampler below;
2. ``g`` (:class:`can_model.SelectionCAN`) is trained with :class:`segloss.SelectionLoss` (eq. 6) on the
   outputs of the frozen ``f``, shuffled per sample (:func:`segloss.shuffle_outputs`). ``g`` scores each
   mask with one shared body (``--g-paper-layout``: the paper's single body over ``7 + M`` channels, which
   stayed at the chance cross-entropy ``ln M`` here; see ``can_model.SelectionCAN``);
3. both are evaluated on held-out scenes with :mod:`segmetrics.interactive` (RITM clicker, 20 clicks,
   threshold 0.49), next to the untrained model, ``f``'s first output without ``g`` and the hindsight
   oracle (the output closest to the ground truth: an upper bound for ``g``, not a usable model), and the
   table (NoC@85, NoC@90, NoF, mIoU@1/3/5/10, seconds per click) is printed and written to ``--out``:
   ``table.txt``, ``summary.json`` (arguments, loss curves, every row's metrics, timings), one folder per
   row with its ``results.json`` and ``per_instance.csv`` (``segmetrics table`` reads them), ``config.json``,
   and the weights ``f.pt`` / ``g.pt``.

``--loss rdl`` trains ``f`` with the ranked diversity loss (eq. 7, :class:`segloss.RankedDiversityLoss`)
instead and evaluates its first output (no ``g``); ``--outputs 1`` is the paper's "without diversity".

Real data: ``--data ROOT`` reads a :func:`segmetrics.interactive.load_instances` folder (``images/`` +
``masks/``; ``--layout instances`` for SBD/VOC-style id maps, whose other objects then feed negative
strategy (c); ``--ignore-value`` for GrabCut's 128 band or VOC's 255 void, left out of the losses, the
clicks and the IoU); ``--val-data`` another one for the evaluation (default: every 10th image of ``--data``,
all its objects, left out of training). ``--size 0`` keeps the native resolution (then ``--batch 1``, as the
paper: Adam 1e-4, batch 1, 100 epochs over SBD). The paper's "with hypercolumns" model needs a VGG-19 you have
locally, see ``can_model.py``.

Training clicks (Xu et al. 2016, "Deep Interactive Object Selection", as the paper uses; distances in
pixels, scaled down here for the small default images): ``n ~ U{1..pos_max}`` positives uniform among
object pixels more than ``margin`` from the background and ``step`` from each other (objects thinner than
that: their innermost half); negatives from one strategy drawn uniformly among (a) ``n ~ U{1..neg_max}``
background pixels more than ``margin`` from the object, ``step`` apart; (b) ``n ~ U{1..neg_max}`` pixels in
the band ``(margin, band]`` around the object, spread by farthest-point sampling; (c) ``U{1..pos_max}``
clicks inside each other object of the scene (only when there is one). Deviation: with probability
``--no-neg`` (0.2) a sample has no negative click, so the single-click case the evaluation starts with is
seen in training. Every sample's clicks are a function of ``(seed, sample index)``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage
from torch.utils.data import DataLoader, Dataset

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from can_model import InteractiveCAN, SegmentationCAN, SelectionCAN, encode_clicks, selection_width
from cli_args import (
    int_in,
    nonnegative_float,
    nonnegative_int,
    output_dir,
    positive_float,
    positive_int,
    probability,
    threads,
    torch_device,
)
from dis_synth import MIN_SIZE, generate_scene
from run_files import atomic_save, atomic_write_text, check_writable

from segloss import (
    HindsightLoss,
    RankedDiversityLoss,
    SelectionLoss,
    ranked_diversity_weights,
    set_value_checks,
    shuffle_outputs,
)
from segmetrics.app.image_io import ImageReadError
from segmetrics.app.report import format_table
from segmetrics.interactive import InteractiveEvaluator, load_instances

VAL_OFFSET = 1_000_000  # generated validation scenes use indices from here: never a training scene
IGNORE = 2  # training-target value of the --ignore-value pixels: every loss gets it as `ignore_index`
#: The table's rows: key -> method name (each row is also saved to ``--out/<safe name>/results.json``).
ROWS = {"untrained": "untrained f, output 1", "select": "f + g (selected output)", "first": "f, output 1",
        "single": "f (M = 1)", "oracle": "f, hindsight oracle (bound)"}
TABLE_COLUMNS = ("noc@85", "noc@90", "nof@85", "nof@90", "miou@1", "miou@3", "miou@5", "miou@10", "spc")


# --------------------------------------------------------------------------------------------------------------------
# Xu et al. click sampling
# --------------------------------------------------------------------------------------------------------------------


def _spaced(rng: np.random.Generator, candidates: np.ndarray, n: int, step: float) -> list[tuple[int, int]]:
    """Up to ``n`` uniform picks among ``candidates``, each more than ``step`` from the earlier ones."""
    cand = candidates.copy()
    h, w = cand.shape
    yy, xx = np.ogrid[:h, :w]
    out = []
    for _ in range(n):
        flat = np.flatnonzero(cand)
        if flat.size == 0:
            break
        y, x = divmod(int(flat[rng.integers(flat.size)]), w)
        out.append((y, x))
        cand &= (yy - y) ** 2 + (xx - x) ** 2 > step**2
    return out


def _inside(rng: np.random.Generator, obj: np.ndarray, n: int, margin: float, step: float) -> list[tuple[int, int]]:
    d = ndimage.distance_transform_edt(np.pad(obj, 1))[1:-1, 1:-1]
    cand = d > margin
    if not cand.any():
        cand = obj & (d >= 0.5 * d.max())
    return _spaced(rng, cand, n, step)


def _farthest(rng: np.random.Generator, candidates: np.ndarray, n: int) -> list[tuple[int, int]]:
    flat = np.flatnonzero(candidates)
    if flat.size == 0:
        return []
    ys, xs = np.divmod(flat, candidates.shape[1])
    first = int(rng.integers(flat.size))
    out = [(int(ys[first]), int(xs[first]))]
    dmin = (ys - ys[first]) ** 2 + (xs - xs[first]) ** 2
    for _ in range(n - 1):
        k = int(np.argmax(dmin))
        if dmin[k] == 0:
            break
        out.append((int(ys[k]), int(xs[k])))
        dmin = np.minimum(dmin, (ys - ys[k]) ** 2 + (xs - xs[k]) ** 2)
    return out


def sample_clicks(rng: np.random.Generator, gt: np.ndarray, others: np.ndarray | None, *, pos_max: int = 5,
                  neg_max: int = 8, margin: float = 2.0, step: float = 5.0, band: float = 10.0,
                  no_neg: float = 0.2, ignore: np.ndarray | None = None
                  ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Positive and negative training clicks of one object (see the module docstring); none on ``ignore``."""
    pos = _inside(rng, gt, int(rng.integers(1, pos_max + 1)), margin, step)
    if rng.random() < no_neg:
        return pos, []
    dist_out = ndimage.distance_transform_edt(~gt)
    if ignore is not None:
        dist_out[ignore] = 0  # never a background or band candidate
    strategies = ["background", "band"] + (["objects"] if others is not None and others.any() else [])
    strategy = strategies[int(rng.integers(len(strategies)))]
    if strategy == "background":
        neg = _spaced(rng, dist_out > margin, int(rng.integers(1, neg_max + 1)), step)
    elif strategy == "band":
        neg = _farthest(rng, (dist_out > margin) & (dist_out <= band), int(rng.integers(1, neg_max + 1)))
    else:
        neg = []
        labels, n = ndimage.label(others)
        for i in range(1, n + 1):
            neg += _inside(rng, labels == i, int(rng.integers(1, pos_max + 1)), margin, step)
    return pos, neg


# --------------------------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------------------------


class _Objects:
    """Objects ``(name, image, gt, others)`` from generated scenes or a folder (indexable, deterministic)."""

    def __init__(self, args: argparse.Namespace, split: str) -> None:
        self.args, self.split = args, split
        self.folder = None
        if args.data is not None:
            flag = "--val-data" if split == "val" and args.val_data is not None else "--data"
            root = args.val_data if flag == "--val-data" else args.data
            try:
                folder = load_instances(root, layout=args.layout, images=args.images, masks=args.masks,
                                        min_area=args.min_area, ignore_value=args.ignore_value)
            except (OSError, ValueError) as exc:
                raise ValueError(f"{flag}: {exc}") from None
            if args.val_data is None:  # every 10th image held out, with all its objects (id maps: several)
                image_rank: dict[Path, int] = {}
                ranks = [image_rank.setdefault(e.image, len(image_rank)) for e in folder._entries]
                self.index = [i for i, r in enumerate(ranks) if (r % 10 == 9) == (split == "val")]
            else:
                self.index = list(range(len(folder)))
            self.flag, self.root = flag, root
            if not self.index:
                raise ValueError(f"--data: {root} has {len(folder)} instance(s) of at least --min-area "
                                 f"{args.min_area} pixels in {len({e.image for e in folder._entries})} image(s); "
                                 f"every 10th image is held out for the {split} split, so it needs at least 10 "
                                 "(or give --val-data)")
            self.folder = folder
            self.n = len(self.index)
        else:
            self.n = args.train_scenes if split == "train" else args.val_instances

    def __len__(self) -> int:
        return self.n

    def _resize(self, image: np.ndarray, *masks: np.ndarray | None) -> tuple[np.ndarray | None, ...]:
        """Image by area, masks by nearest neighbour; an object (the first mask) that the nearest-neighbour
        sampling misses keeps its best-covered pixels, so no object becomes empty."""
        size = self.args.size
        if not size or image.shape[:2] == (size, size):
            return (image, *masks)
        import cv2

        out = [cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)]
        for k, m in enumerate(masks):
            if m is None:
                out.append(None)
                continue
            r = cv2.resize(m.astype(np.uint8), (size, size), interpolation=cv2.INTER_NEAREST) > 0
            if k == 0 and not r.any() and m.any():
                cover = cv2.resize(m.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
                r = cover >= cover.max()
            out.append(r)
        return tuple(out)

    def get(self, i: int) -> tuple[str, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(name, image, gt, others, ignore)``: the other objects feed negative strategy (c); ``ignore``
        (``--ignore-value``, else ``None``) is left out of the NoC IoU and never clicked."""
        a = self.args
        if self.folder is not None:
            # load_instances reads the masks up front, the images only here: name the flag and folder of a bad one
            try:
                inst = self.folder[self.index[i % self.n]]
                others = None
                if a.layout == "instances":
                    # the other objects of the same id map: strategy (c)
                    from segmetrics.interactive.datasets import _id_map

                    e = self.folder._entries[self.index[i % self.n]]
                    ids = _id_map(e.mask)
                    others = (ids != 0) & (ids != e.instance_id)
                    if a.ignore_value is not None:
                        others &= ids != a.ignore_value  # the void band is no object
            except ImageReadError as exc:
                raise ImageReadError(f"{self.flag}: {exc} (in {self.root})") from None
            image, gt, others, ignore = self._resize(inst.image, inst.gt, others, inst.ignore)
            if ignore is not None:
                ignore = ignore & ~gt  # the resize's rescued object pixel stays an object pixel
            return inst.name, image, gt, others, ignore
        first = i % self.n + (VAL_OFFSET if self.split == "val" else 0)
        for attempt in range(100):  # a tiny scene can hide all its objects: the next one, in a range of its own
            index = first + 2 * VAL_OFFSET * attempt
            image, inst = generate_scene(index, a.size, a.seed, n_objects=a.objects)
            ids, counts = np.unique(inst[inst > 0], return_counts=True)
            if ids.size:
                break
        else:
            raise ValueError(f"--size {a.size}: 100 generated scenes in a row have no visible object")
        ok = ids[counts >= a.min_area]
        if ok.size == 0:  # every object below the minimum area: take the largest
            ok = ids[counts == counts.max()]
        rng = np.random.default_rng([a.seed, index, 7])
        k = int(ok[rng.integers(ok.size)])
        gt = inst == k
        return f"scene{index}#{k}", image, gt, (inst > 0) & ~gt, None


class ClickSamples(Dataset):
    """Training samples: sample ``i`` is object ``i mod n`` with clicks drawn from ``default_rng([seed, i])``."""

    def __init__(self, objects: _Objects, length: int, args: argparse.Namespace) -> None:
        self.objects, self.length, self.args = objects, length, args

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        a = self.args
        _, image, gt, others, ignore = self.objects.get(i)
        rng = np.random.default_rng([a.seed, i, 11])
        pos, neg = sample_clicks(rng, gt, others, pos_max=a.pos_max, neg_max=a.neg_max, margin=a.margin,
                                 step=a.step, band=a.band, no_neg=a.no_neg, ignore=ignore)
        target = gt.astype(np.float32)
        if ignore is not None:
            target[ignore] = IGNORE
        pmap = np.zeros(gt.shape, np.float32)
        nmap = np.zeros(gt.shape, np.float32)
        for y, x in pos:
            pmap[y, x] = 1
        for y, x in neg:
            nmap[y, x] = 1
        return {
            "x": torch.from_numpy(encode_clicks(image, pos, neg)),
            "gt": torch.from_numpy(target),
            "pos": torch.from_numpy(pmap),
            "neg": torch.from_numpy(nmap),
        }


def _loader(objects: _Objects, steps: int, args: argparse.Namespace, batch: int | None = None) -> DataLoader:
    batch = batch or args.batch
    ds = ClickSamples(objects, steps * batch, args)
    return DataLoader(ds, batch_size=batch, shuffle=False, num_workers=args.workers,
                      persistent_workers=args.workers > 0)


# --------------------------------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------------------------------


def _cl(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    return t.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)


def train_f(f: SegmentationCAN, objects: _Objects, args: argparse.Namespace, device: torch.device) -> list[float]:
    """Train ``f`` for ``args.steps`` steps; returns the mean loss of each logging window."""
    if args.loss == "rdl":
        crit = RankedDiversityLoss(lambda_base=args.lambda_base, click_normalization="clicks", ignore_index=IGNORE)
    else:
        crit = HindsightLoss(click_normalization="clicks", lambda_base=args.lambda_base or None, ignore_index=IGNORE)
    f.train()

    def loss_of(b: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = f(_cl(b["x"], device))
        return crit(logits, b["gt"].to(device), b["pos"].to(device), b["neg"].to(device))

    return _optimise("f", f, loss_of, _loader(objects, args.steps, args), args.steps, args.lr, args, device)


def _optimise(label: str, net: torch.nn.Module, loss_of: Callable[[dict], torch.Tensor], batches: Iterable[dict],
              total: int, lr: float, args: argparse.Namespace, device: torch.device) -> list[float]:
    """Adam on ``net`` over ``batches``; the loss is accumulated on the device and read once per logging window.

    The losses check their inputs (one host read) on the first batch only; a loss that is not finite at a
    logging step ends the run with one line naming the learning rate flag. Returns the mean loss of each
    logging window.
    """
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history, window, t0 = [], torch.zeros((), device=device), time.perf_counter()
    previous = None  # the losses' input checks read the host: they run on the first batch only
    try:
        for step, b in enumerate(batches, 1):
            loss = loss_of(b)
            if previous is None:
                previous = set_value_checks(False)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            window += loss.detach()
            if step % args.log_every == 0 or step == total:
                n = (step - 1) % args.log_every + 1
                history.append(float(window) / n)
                window.zero_()
                if not math.isfinite(history[-1]):
                    flag = "--lr" if label == "f" else "--g-lr"
                    raise SystemExit(f"{label}: the loss is not finite at step {step} ({history[-1]}); "
                                     f"lower {flag} (now {lr:g})")
                print(f"  {label} step {step:5d}/{total}  loss {history[-1]:.4f}  "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
    finally:
        if previous is not None:
            set_value_checks(previous)
    return history


def train_g(g: SelectionCAN, f: SegmentationCAN, objects: _Objects, args: argparse.Namespace,
            device: torch.device) -> list[float]:
    """Train ``g`` on the shuffled outputs of the frozen ``f``; returns the mean loss of each logging window."""
    crit = SelectionLoss(ignore_index=IGNORE)
    f.eval()
    g.train()
    gen = torch.Generator().manual_seed(args.seed)

    def loss_of(b: dict[str, torch.Tensor]) -> torch.Tensor:
        x = _cl(b["x"], device)
        with torch.no_grad():
            logits, _ = shuffle_outputs(f(x), generator=gen)
        scores = g(x, torch.sigmoid(logits).contiguous(memory_format=torch.channels_last))
        return crit(scores, logits, b["gt"].to(device))

    batches = _loader(objects, args.g_steps, args, batch=args.g_batch)
    return _optimise("g", g, loss_of, batches, args.g_steps, args.g_lr, args, device)


# --------------------------------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------------------------------


def evaluate(model: InteractiveCAN, objects: _Objects, args: argparse.Namespace) -> InteractiveEvaluator:
    """NoC / mIoU@k of ``model`` on every validation object (RITM protocol unless ``--protocol``)."""
    ev = InteractiveEvaluator(protocol=args.protocol, max_clicks=args.max_clicks, seed=args.seed)
    for i in range(len(objects)):
        name, image, gt, _, ignore = objects.get(i)
        model.gt, model.ignore = gt, ignore  # the oracle's choice, like the IoU, leaves the ignored pixels out
        ev.update(model, image, gt, name=name, ignore=ignore)
    return ev


class _Row:
    """What :func:`segmetrics.app.report.format_table` needs; prints a one-line summary when made."""

    def __init__(self, method: str, dataset: str, ev: InteractiveEvaluator) -> None:
        self.method, self.dataset, self.num_images, self.metrics = method, dataset, len(ev), ev.compute()
        m = self.metrics
        k = min(5, ev.max_clicks)
        print(f"  evaluated {method}: NoC@85 {m['noc@85']:.2f}, NoC@90 {m['noc@90']:.2f}, "
              f"mIoU@1 {m['miou@1']:.3f}, mIoU@{k} {m[f'miou@{k}']:.3f}, SPC {m['spc']:.3f} s", flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", help="instance folder (images/ + masks/) instead of the generated scenes")
    p.add_argument("--val-data", help="instance folder for the evaluation (default: every 10th image of --data)")
    p.add_argument("--layout", choices=("binary", "instances"), default="binary")
    p.add_argument("--images", default="images")
    p.add_argument("--masks", default="masks")
    p.add_argument("--ignore-value", type=nonnegative_int,
                   help="mask value of ignored pixels (GrabCut 128, VOC id maps 255): left out of the training\n"
                        "losses and the NoC IoU, and never clicked")
    p.add_argument("--size", type=nonnegative_int, default=48,
                   help="square training / evaluation size; 0 = native (batch 1)")
    p.add_argument("--objects", type=positive_int, default=3, help="objects per generated scene")
    p.add_argument("--train-scenes", type=int_in(1, VAL_OFFSET), default=2000, help="generated training scenes")
    p.add_argument("--val-instances", type=int_in(1, VAL_OFFSET), default=24, help="generated validation objects")
    p.add_argument("--min-area", type=positive_int, default=40,
                   help="smallest object (pixels) to train / evaluate on")
    p.add_argument("--outputs", type=positive_int, default=6, help="M, the number of segmentations of f")
    p.add_argument("--width", type=positive_int, default=32, help="channels of f (paper: 64)")
    p.add_argument("--g-width", type=positive_int,
                   help="channels of g (default: --width, capped at 32 for the shared g, which runs\n"
                        "its body once per mask; see can_model.selection_width)")
    p.add_argument("--loss", choices=("hindsight", "rdl"), default="hindsight",
                   help="hindsight (eq. 5) + selection network g, or the ranked diversity loss (eq. 7), no g")
    p.add_argument("--lambda-base", type=nonnegative_float,
                   help="λ_m = base·2^(M-m) of the term Σ λ_m ℓ_m added to the minimum; default:\n"
                        "2.5e-3 for hindsight (the authors' code: keeps every output alive; 0 = eq. 5\n"
                        "alone), 1e-2 for rdl (the paper)")
    p.add_argument("--steps", type=positive_int, default=400, help="training steps of f")
    p.add_argument("--g-steps", type=positive_int, default=150, help="training steps of g")
    p.add_argument("--batch", type=positive_int, default=8)
    p.add_argument("--g-batch", type=positive_int,
                   help="batch of g (default: half of --batch; g runs its body once per mask)")
    p.add_argument("--g-paper-layout", action="store_true",
                   help="g as one body over 7 + M channels (the paper's literal layout), not one shared body per mask")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate of f (paper: 1e-4 with batch 1)")
    p.add_argument("--g-lr", type=positive_float, default=3e-3, help="Adam learning rate of g")
    p.add_argument("--pos-max", type=positive_int, default=5)
    p.add_argument("--neg-max", type=positive_int, default=8)
    p.add_argument("--margin", type=nonnegative_float, default=2.0)
    p.add_argument("--step", type=nonnegative_float, default=5.0)
    p.add_argument("--band", type=nonnegative_float, default=10.0)
    p.add_argument("--no-neg", type=probability, default=0.2)
    p.add_argument("--protocol", choices=("ritm", "largest_region", "paper_random"), default="ritm")
    p.add_argument("--max-clicks", type=positive_int, default=20)
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--workers", type=nonnegative_int, default=0, help="DataLoader workers")
    p.add_argument("--threads", type=threads, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", type=torch_device, default="auto", help="cpu, cuda, or auto")
    p.add_argument("--log-every", type=positive_int, default=50)
    p.add_argument("--no-untrained", action="store_true", help="skip the untrained-model row")
    p.add_argument("--out", type=output_dir, default="runs/can", help="checkpoints, config and results")
    a = p.parse_args(argv)
    folder_only = [f"--{d.replace('_', '-')}" for d in ("val_data", "layout", "images", "masks", "ignore_value")
                   if getattr(a, d) != p.get_default(d)]
    if a.data is None and folder_only:
        verb = "needs" if len(folder_only) == 1 else "need"
        p.error(f"{', '.join(folder_only)} {verb} --data (an instance folder); the generated scenes do not use them")
    if a.size == 0 and a.batch != 1:
        p.error("--size must be > 0, or 0 (native resolution) with --batch 1")
    if a.size == 0 and a.data is None:
        p.error("--size 0 needs --data (generated scenes have a fixed size)")
    if a.data is None and a.size < MIN_SIZE:
        p.error(f"--size must be >= {MIN_SIZE} for the generated scenes (examples/dis_synth.py); got {a.size}")
    if a.lambda_base is None:
        a.lambda_base = 1e-2 if a.loss == "rdl" else 2.5e-3
    if a.g_batch is None:
        a.g_batch = max(1, a.batch // 2)
    if a.g_width is None:
        a.g_width = selection_width(a.width, shared=not a.g_paper_layout)
    if a.size == 0 and a.g_batch != 1:
        p.error("--size 0 (native resolution) needs --g-batch 1")
    try:  # λ_1 = base·2^(M−1) must stay finite: bounds M for a given base
        ranked_diversity_weights(a.outputs, a.lambda_base)
    except ValueError as exc:
        p.error(f"--outputs {a.outputs} with --lambda-base {a.lambda_base:g}: {exc}")
    return a


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the script; returns the summary dict. A folder image that cannot be read during the run (also in a
    DataLoader worker) ends it with one line naming the flag and the file (``SystemExit``), not a traceback."""
    try:
        return _main(argv)
    except ImageReadError as exc:  # a worker re-raises it with its traceback in the message: keep the last line
        line = str(exc).strip().splitlines()[-1]
        raise SystemExit(line.split(f"{type(exc).__name__}: ", 1)[-1]) from None


def _row_folder(name: str) -> str:
    """The folder of a table row's ``results.json`` inside ``--out``."""
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def _clear_earlier_run(out: Path) -> None:
    """Remove what an earlier run wrote into ``out`` (weights, table, summary, row folders): a run that writes
    fewer rows or no ``g`` (``--loss rdl``, ``--outputs 1``) must not leave the earlier run's beside its own."""
    import shutil

    for name in ("f.pt", "g.pt", "table.txt", "summary.json"):
        (out / name).unlink(missing_ok=True)
    for name in ROWS.values():
        folder = out / _row_folder(name)
        if (folder / "results.json").is_file():
            shutil.rmtree(folder)


def _main(argv: Sequence[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    torch.manual_seed(args.seed)
    try:
        train, val = _Objects(args, "train"), _Objects(args, "val")
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    out = Path(args.out)  # written once the data is known to be usable: a refused run leaves --out as it was
    check_writable(out)
    _clear_earlier_run(out)
    atomic_write_text(json.dumps(vars(args), indent=1), out / "config.json")
    # the rows' dataset: the evaluated folder's name (resolved: `--data .` has none)
    dataset = "generated" if args.data is None else (Path(args.val_data or args.data).resolve().name or "data")
    print(f"data: {dataset}, {len(train)} training objects/scenes, {len(val)} validation objects, size {args.size}")

    f = SegmentationCAN(args.outputs, args.width).to(device).to(memory_format=torch.channels_last)
    use_g = args.loss == "hindsight" and args.outputs > 1
    g = (SelectionCAN(args.outputs, args.g_width, shared=not args.g_paper_layout).to(device)
         .to(memory_format=torch.channels_last) if use_g else None)
    rows, summary = [], {"args": vars(args), "dataset": dataset}

    def record(name: str, ev: InteractiveEvaluator) -> None:  # a table row, and its results.json in --out
        rows.append(_Row(name, dataset, ev))
        ev.save(out / _row_folder(name), method=name, dataset=dataset, plot=False)

    t_start, cpu_start = time.perf_counter(), time.process_time()
    if not args.no_untrained:
        record(ROWS["untrained"], evaluate(InteractiveCAN(f, mode="first", device=device), val, args))

    t_train = time.perf_counter()
    print(f"training f (M = {args.outputs}, {args.loss} loss) for {args.steps} steps of batch {args.batch}")
    summary["f_loss"] = train_f(f, train, args, device)
    atomic_save(f.state_dict(), out / "f.pt")
    if g is not None:
        print(f"training g for {args.g_steps} steps")
        summary["g_loss"] = train_g(g, f, train, args, device)
        atomic_save(g.state_dict(), out / "g.pt")
    summary["train_seconds"] = time.perf_counter() - t_train

    variants = [(ROWS["select"], InteractiveCAN(f, g, "select", device))] if g is not None else []
    variants.append((ROWS["first" if args.outputs > 1 else "single"], InteractiveCAN(f, None, "first", device)))
    if args.outputs > 1:
        variants.append((ROWS["oracle"], InteractiveCAN(f, None, "oracle", device)))
    for name, model in variants:
        record(name, evaluate(model, val, args))
    table = format_table(rows, columns=TABLE_COLUMNS, digits=3)
    print()
    print(table)
    atomic_write_text(table + "\n", out / "table.txt")
    summary["results"] = {r.method: r.metrics for r in rows}
    summary["total_seconds"] = time.perf_counter() - t_start
    summary["cpu_seconds"] = time.process_time() - cpu_start  # all threads: compare runs on a busy machine
    atomic_write_text(json.dumps(summary, indent=1, default=float), out / "summary.json")
    print(f"\nprotocol {args.protocol}, {args.max_clicks} clicks, threshold 0.49; "
          f"{summary['total_seconds']:.0f} s in all ({summary['cpu_seconds']:.0f} s CPU); results in {out}")
    return summary


if __name__ == "__main__":
    main()
