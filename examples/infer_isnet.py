"""IS-Net inference: write one 8-bit PNG prediction per input image, at the image's original size.

Run::

    python examples/infer_isnet.py --checkpoint runs/isnet-smoke/checkpoint.pt --input photos/ --out preds/
    python -m segmetrics eval --pred preds/ --gt DIS5K/DIS-VD/gt      # then score the predictions

``--checkpoint`` is either a checkpoint written by ``examples/train_isnet.py`` (``checkpoint.pt``, a dict
with the ``"model"`` state dict, or ``best.pt``), or the authors' released ``isnet-general-use.pth`` /
``isnet.pth`` if you have the file (a plain ``ISNetDIS`` state dict, possibly saved from
``nn.DataParallel`` with a ``module.`` prefix). Nothing is ever downloaded; files are opened with
``torch.load(weights_only=True)``. The width comes from our config (inside ``checkpoint.pt``, or the
``config.json`` beside the file) when it fits the weights, else from the weight shapes; the network
input size defaults to the training size in that config, else the authors' 1024.

What the authors' ``IS-Net/Inference.py`` does (xuebinqin/DIS), and what this script does:

1. Read the image (skimage, RGB). Grey images become 3 channels (the authors get this by
   broadcasting in ``normalize``). Here: ``seg_data.read_image`` (the training reader: RGB, grey
   repeated, alpha dropped, 16-bit scaled to 8 bit; the authors' code fails on RGBA and wraps
   16-bit values).
2. Resize to 1024×1024 in float32, bilinear, ``align_corners=False``, no antialiasing, then cast
   back to uint8 (truncation). Same here (``--size`` changes 1024), so a released model sees exactly
   the authors' inputs; ``seg_data.resize_pair`` (training) rounds instead of truncating, which
   differs by at most one grey level.
3. Divide by 255 and normalise with mean 0.5, std 1.0, i.e. ``x / 255 − 0.5``. Same here.
4. Run ``ISNetDIS`` and take the first side output ``d1`` as a sigmoid map. Same here (our model
   returns logits; the sigmoid is applied in float32).
5. Resize ``d1`` bilinearly to the original ``H × W``, min–max normalise it per image to ``[0, 1]``,
   multiply by 255 and cast to uint8 (truncation), save as PNG named after the image's stem.
   Same here with ``--normalize minmax`` (default); a constant map (max = min) is written as 0.
   ``--normalize none`` writes the probabilities themselves, ``round(255 · p)``, which keeps the
   model's confidence (an all-background image stays dark instead of being stretched).

Differences that only change speed: images are decoded and resized by DataLoader workers and
predicted in batches (all inputs have the same size after step 2, whatever their original sizes);
on a GPU the network runs under bf16 autocast (``--precision``) in channels_last memory format;
on the CPU it runs in float32. Everything runs under ``torch.inference_mode``. PNGs are written by
a small thread pool.

Unreadable inputs stop the run with an error naming the file, or, with ``--skip-unreadable``, are
reported and skipped.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from cli_args import nonnegative_int, output_dir, positive_int, torch_device
from isnet_model import FEATURE_CHANNELS, IMAGE_DECODER, IMAGE_ENCODER, ISNetDIS, ISNetGTEncoder
from seg_data import IMAGE_EXTS, read_image
from torch.nn import functional as F

#: The authors' input normalisation: ``(x / 255 - MEAN) / STD`` on every channel.
MEAN, STD = 0.5, 1.0
#: The authors' network input size.
INPUT_SIZE = 1024
NORMALIZE_MODES = ("minmax", "none")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: Plain numpy objects (the RNG state in ``train_isnet.py`` checkpoints) that ``torch.load(weights_only=True)``
#: may rebuild; nothing else beyond tensors is unpickled.
_NUMPY_GLOBALS = [np.ndarray, np.dtype, type(np.dtype(np.uint32)), type(np.dtype(np.float64)),
                  (np._core if hasattr(np, "_core") else np.core).multiarray._reconstruct]
#: Wrapper prefixes stripped from state-dict keys (``nn.DataParallel`` / DDP, ``torch.compile``).
_PREFIXES = ("module.", "_orig_mod.")


# --------------------------------------------------------------------------------------------- model

def strip_prefixes(state: Mapping[str, Any]) -> dict[str, Any]:
    """Remove ``module.`` / ``_orig_mod.`` prefixes shared by every key (DataParallel, DDP, compile)."""
    state = dict(state)
    changed = True
    while changed and state:
        changed = False
        for prefix in _PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix):]: v for k, v in state.items()}
                changed = True
    return state


def _channel_constraints(state: Mapping[str, Any]) -> list[tuple[int, int]]:
    """``(channels at width 1, channels in the file)`` for every layer that the width scales."""
    pairs = [(64, state["conv_in.weight"].shape[0])]
    stages = [(f"stage{i}", cin, mid, cout) for i, (_, cin, mid, cout) in enumerate(IMAGE_ENCODER, start=1)]
    stages += [(name, cin, mid, cout) for name, _, cin, mid, cout in IMAGE_DECODER]
    for name, _, mid, cout in stages:
        pairs.append((cout, state[f"{name}.rebnconvin.conv_s1.weight"].shape[0]))
        pairs.append((mid, state[f"{name}.rebnconv1.conv_s1.weight"].shape[0]))
    pairs += [(c, state[f"side{i}.weight"].shape[1]) for i, c in enumerate(FEATURE_CHANNELS, start=1)]
    return [(base, int(n)) for base, n in pairs]


def _fits(pairs: list[tuple[int, int]], width: float) -> bool:
    return all(max(1, round(base * width)) == n for base, n in pairs)


def architecture_from_state_dict(state: Mapping[str, Any]) -> dict[str, Any]:
    """``in_ch``, ``out_ch`` and ``width`` of the :class:`ISNetDIS` that holds ``state``.

    Every scaled layer has ``max(1, round(c · width))`` channels, so each one bounds the width to an
    interval; the width returned is the middle of their intersection (``1.0`` for the authors'
    files), which rebuilds exactly the same shapes.

    Raises:
        ValueError: if ``state`` is not an ``ISNetDIS`` state dict, or no width fits all its shapes.
    """
    try:
        pairs = _channel_constraints(state)
        in_ch, out_ch = int(state["conv_in.weight"].shape[1]), int(state["side1.weight"].shape[0])
    except (KeyError, AttributeError, IndexError):
        raise ValueError(
            "the checkpoint is not an ISNetDIS state dict: missing or malformed keys such as `conv_in.weight`, "
            f"`stage1.rebnconvin.conv_s1.weight`, `side6.weight` (first keys: {list(state)[:4]})"
        ) from None
    lo, hi = 0.0, float("inf")
    for base, n in pairs:
        lo = max(lo, (n - 0.5) / base if n > 1 else 0.0)
        hi = min(hi, (n + 0.5) / base)
    if not lo < hi:
        raise ValueError("the checkpoint's channel counts fit no single ISNetDIS width multiplier")
    width = next((w for w in (1.0, 0.5, 0.25, 0.125) if lo < w < hi), (lo + hi) / 2)
    return {"in_ch": in_ch, "out_ch": out_ch, "width": width}


_RUN_FILES = ("checkpoint.pt", "best.pt")
"""The model files ``train_isnet.py`` writes beside its ``config.json``."""


def _config_beside(path: Path) -> dict[str, Any] | None:
    """The config JSON of a checkpoint: ``<stem>.json`` beside it, or the run's ``config.json`` for a file
    that ``train_isnet.py`` writes there (``checkpoint.pt``, ``best.pt``).

    Another file in a run folder (the authors' ``isnet.pth`` copied there) does not take the run's input size.
    """
    cands = [path.parent / "config.json"] if path.name in _RUN_FILES else []
    for cand in (*cands, path.with_suffix(".json")):
        if cand.is_file():
            try:
                cfg = json.loads(cand.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(cfg, dict):
                return cfg
    return None


def _width_from_config(cfg: Mapping[str, Any] | None) -> float | None:
    if not cfg:
        return None
    width = cfg.get("width")
    return float(width) if isinstance(width, (int, float)) and not isinstance(width, bool) else None


def _warn_if_untrained(ckpt: Mapping[str, Any], path: Path) -> None:
    """Warn when a ``train_isnet.py`` checkpoint's image model has not been trained (nor loaded from ``--weights``).

    Such a file is written during stage 1 (GT-encoder training): its ``"model"`` is still the random initialisation.
    """
    progress, cfg = ckpt.get("progress"), ckpt.get("config")
    if not isinstance(progress, Mapping) or not isinstance(progress.get("image"), Mapping):
        return
    if progress["image"].get("iteration") == 0 and not (isinstance(cfg, Mapping) and cfg.get("weights")):
        stage = "in stage 1 (GT-encoder training)" if progress.get("stage") == "gt" else "before stage 2's first step"
        warnings.warn(f"--checkpoint: {path.name} was saved {stage}: its image model has not been trained yet "
                      "(image iteration 0, no --weights), so the predictions come from random weights",
                      stacklevel=3)


def _last_not_best_note(ckpt: Mapping[str, Any], path: Path) -> str | None:
    """A note when a ``train_isnet.py`` checkpoint's ``"model"`` (the last weights) is not its best validation's."""
    progress = ckpt.get("progress")
    image = progress.get("image") if isinstance(progress, Mapping) else None
    if ckpt.get("best_model") is None or not isinstance(image, Mapping):
        return None
    last, best = image.get("iteration"), image.get("best_iteration")
    if not isinstance(last, int) or not isinstance(best, int) or last == best:
        return None
    return (f"note: {path.name} holds the last weights (iteration {last}); the best validation's (iteration {best}) "
            f"are in best.pt beside it")


def load_isnet(checkpoint: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[ISNetDIS, dict[str, Any]]:
    """Build an :class:`ISNetDIS` from our checkpoint or the authors' state dict, in eval mode.

    Args:
        checkpoint: a ``train_isnet.py`` checkpoint (dict with ``"model"``) or a plain ``ISNetDIS``
            state dict (the authors' ``isnet.pth`` / ``isnet-general-use.pth``, any ``module.`` prefix).
        device: where the model goes.

    Returns:
        ``(model, info)``: ``info`` has ``format`` (``"train_isnet"`` or ``"state_dict"``),
        ``in_ch``, ``out_ch``, ``width``, ``width_source`` (``"config"`` or ``"shapes"``) and ``size`` (the
        training input size from our config, or ``None``); for ``"train_isnet"`` also ``note`` (a line saying
        that the file holds the last weights, not the best validation's of ``best.pt``, or ``None``).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it is not an IS-Net checkpoint, its weights do not fit (strict loading) or are not finite.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"--checkpoint: no such file: {path}")
    try:
        with torch.serialization.safe_globals(_NUMPY_GLOBALS):  # numpy RNG state in our checkpoints
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a bad file
        raise ValueError(f"--checkpoint: cannot load {path.name} as a weights-only torch file: it is truncated, not a "
                         f"torch file, or holds objects other than tensors ({type(exc).__name__})") from None
    if isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping):
        fmt, state = "train_isnet", obj["model"]
    elif isinstance(obj, Mapping):
        fmt, state = "state_dict", obj
    else:
        raise ValueError(f"--checkpoint: expected a state dict or a dict with 'model'; got {type(obj).__name__}")
    if fmt == "train_isnet":
        _warn_if_untrained(obj, path)
    state = strip_prefixes(state)
    try:
        arch = architecture_from_state_dict(state)
    except ValueError as exc:
        hint = ""
        if set(state) == set(ISNetGTEncoder(1, 1, 0.0625).state_dict()):  # key names do not depend on the width
            hint = ("; it is an IS-Net GT encoder (train_isnet.py's gt_encoder.pt, which encodes masks, not images): "
                    "pass the run's checkpoint.pt or best.pt")
        raise ValueError(f"--checkpoint: {path.name}: {exc}{hint}") from None
    info: dict[str, Any] = {"format": fmt, **arch, "width_source": "shapes", "size": None}
    if fmt == "train_isnet":
        info["note"] = _last_not_best_note(obj, path)
    # our config: inside the checkpoint, else the config.json beside it (e.g. for best.pt), if it fits the weights
    cfg = obj.get("config") if fmt == "train_isnet" and isinstance(obj.get("config"), Mapping) else None
    cfg = cfg or _config_beside(path)
    width = _width_from_config(cfg)
    if width is not None and _fits(_channel_constraints(state), width):
        info["width"], info["width_source"] = width, "config"
        size = cfg.get("size")  # type: ignore[union-attr]
        info["size"] = size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None
    model = ISNetDIS(in_ch=info["in_ch"], out_ch=info["out_ch"], width=info["width"])
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    fault = "; ".join(f"{len(keys)} {what} key(s) ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
                      for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys)
    if not fault:
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:  # shapes: torch lists them over several lines
            fault = " ".join(str(exc).split("state_dict for ISNetDIS:")[-1].split())
            fault = fault if len(fault) <= 300 else fault[:300] + " ..."
    if fault:
        raise ValueError(f"--checkpoint: {path.name} does not fit ISNetDIS(width={info['width']:g}): {fault}")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:  # a diverged run: every map would be NaN, written as black
        raise ValueError(f"--checkpoint: {path.name} holds non-finite (NaN / inf) weights in {len(bad)} tensor(s) "
                         f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}): the run that saved it diverged")
    return model.to(device).eval(), info


# ---------------------------------------------------------------------------------------------- data

def _images_in(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, sorted, hidden ``.*`` names left out."""
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and f.suffix.lower() in IMAGE_EXTS and not f.name.startswith("."))


def list_images(inp: str | os.PathLike) -> list[Path]:
    """The image files of a folder (sorted, not recursive, hidden ``.*`` names left out), or ``[file]``.

    Raises:
        FileNotFoundError: if ``inp`` does not exist.
        ValueError: if the folder holds no image, or two images share a stem (same output name).
    """
    p = Path(inp)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise FileNotFoundError(f"--input: no such file or folder: {p}")
    files = _images_in(p)
    if not files:
        subs = sorted(d.name for d in p.iterdir() if d.is_dir() and not d.name.startswith(".") and _images_in(d))
        hint = f"; the search is not recursive, and these subfolders hold images: {', '.join(subs)}" if subs else ""
        raise ValueError(f"--input: no image ({', '.join(IMAGE_EXTS)}) in {p}{hint}")
    stems: dict[str, Path] = {}
    for f in files:
        if f.stem in stems:
            raise ValueError(f"--input: {stems[f.stem].name} and {f.name} would both be written as {f.stem}.png")
        stems[f.stem] = f
    return files


def resize_input(img: np.ndarray, size: int = INPUT_SIZE) -> torch.Tensor:
    """The authors' input resize: ``(H, W, 3)`` uint8 → ``(3, size, size)`` uint8.

    Bilinear in float32 with ``align_corners=False`` and no antialiasing, then truncated to uint8.
    """
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float()
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)[0].to(torch.uint8)


class _Images(torch.utils.data.Dataset):
    """Decoded and resized inputs; a failure is returned (not raised) so the main process reports it."""

    def __init__(self, files: Sequence[Path], size: int) -> None:
        self.files, self.size = list(files), size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None, tuple[int, int], str]:
        try:
            img = read_image(self.files[i])
        except ValueError as exc:
            return i, None, (0, 0), str(exc)
        return i, resize_input(img, self.size), img.shape[:2], ""


def _collate(items: list[Any]) -> tuple[list[int], torch.Tensor | None, list[tuple[int, int]], list[tuple[int, str]]]:
    good = [it for it in items if it[1] is not None]
    bad = [(it[0], it[3]) for it in items if it[1] is None]
    batch = torch.stack([it[1] for it in good]) if good else None
    return [it[0] for it in good], batch, [tuple(it[2]) for it in good], bad


# ----------------------------------------------------------------------------------------- inference

def normalize_input(batch_u8: torch.Tensor) -> torch.Tensor:
    """``x / 255 − 0.5`` (the authors' ``normalize(x / 255, 0.5, 1.0)``), in float32."""
    return (batch_u8.float() / 255.0 - MEAN) / STD


def to_png_map(prob: torch.Tensor, size: tuple[int, int], normalize: str = "minmax") -> np.ndarray:
    """One probability map ``(1, S, S)`` → ``(H, W)`` uint8 at the original size.

    ``"minmax"``: the authors' ``(p − min) / (max − min) · 255`` truncated (0 for a constant map);
    ``"none"``: ``round(255 · p)``.
    """
    p = F.interpolate(prob[None].float(), size=size, mode="bilinear", align_corners=False)[0, 0]
    if normalize == "minmax":
        lo, hi = p.min(), p.max()
        p = torch.where(hi > lo, (p - lo) / (hi - lo).clamp_min(torch.finfo(p.dtype).tiny), torch.zeros_like(p))
        out = (p * 255).to(torch.uint8)
    else:
        out = (p.nan_to_num(0.0).clamp(0, 1) * 255).round().to(torch.uint8)
    return out.cpu().numpy()


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype (``None`` = float32) for ``--precision`` on ``device``."""
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {PRECISIONS}; got {precision!r}")
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def predict_files(
    model: ISNetDIS,
    files: Sequence[Path],
    out_dir: str | os.PathLike,
    *,
    batch_size: int = 8,
    size: int = INPUT_SIZE,
    normalize: str = "minmax",
    precision: str = "auto",
    channels_last: bool | None = None,
    workers: int = 0,
    skip_unreadable: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Predict every file and write ``out_dir/<stem>.png`` at the file's original size.

    Args:
        model: an :class:`ISNetDIS` (its device is used; it is put in eval mode).
        files: image files.
        out_dir: output folder (created).
        batch_size: images per forward pass.
        size: network input size (the authors: 1024).
        normalize: ``"minmax"`` (the authors) or ``"none"`` (probabilities × 255).
        precision: ``"auto"`` (bf16 autocast on CUDA, fp16 if bf16 is not supported; fp32 elsewhere),
            ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        channels_last: channels_last memory format (default: on CUDA only).
        workers: DataLoader worker processes decoding and resizing the inputs.
        skip_unreadable: report and skip unreadable files instead of raising.
        progress: show a tqdm progress bar.

    Returns:
        ``{"written": [paths], "skipped": {file: reason}, "non_finite": [files whose map held NaN / inf, a warning],
        "seconds": float, "images_per_s": float}``.

    Raises:
        ValueError: on a bad option, an output PNG that would overwrite an input file, or an unreadable file
            without ``skip_unreadable``.
    """
    for name, v in (("batch_size", batch_size), ("size", size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"`{name}` must be a positive int; got {v!r}")
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"--normalize must be one of {NORMALIZE_MODES}; got {normalize!r}")
    in_ch = model.conv_in.weight.shape[1]
    if in_ch != 3:
        raise ValueError(f"--checkpoint: the model takes {in_ch} input channel{'s' if in_ch != 1 else ''}; this "
                         "script feeds RGB images (3 channels)")
    device = next(model.parameters()).device
    amp_dtype = resolve_precision(precision, device)
    if channels_last is None:
        channels_last = device.type == "cuda"
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.eval().to(memory_format=memory_format)
    out = Path(out_dir)
    inputs = {f.resolve() for f in files}
    clash = [f for f in files if (out / f"{f.stem}.png").resolve() in inputs]
    if clash:
        raise ValueError(f"--out: writing {out / (clash[0].stem + '.png')} would overwrite the input image "
                         f"{clash[0]} ({len(clash)} input(s) in all); choose another --out")
    out.mkdir(parents=True, exist_ok=True)

    loader = torch.utils.data.DataLoader(
        _Images(files, size), batch_size=batch_size, num_workers=workers, collate_fn=_collate,
        pin_memory=device.type == "cuda", persistent_workers=False,
    )
    written: list[str] = []
    skipped: dict[str, str] = {}
    non_finite: list[str] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="img", desc="predict")
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool, torch.inference_mode():
        pending = []
        for idx, batch, sizes, bad in loader:
            for i, msg in bad:
                if not skip_unreadable:
                    raise ValueError(f"--input: {msg} (pass --skip-unreadable to skip such files)")
                skipped[str(files[i])] = msg
                warnings.warn(f"skipped: {msg}", stacklevel=2)
            if batch is not None:
                x = normalize_input(batch.to(device, non_blocking=True)).contiguous(memory_format=memory_format)
                with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                    d1 = model(x)[0][0]
                probs = torch.sigmoid(d1.float())
                finite = torch.isfinite(probs).flatten(1).all(1).tolist()  # one sync per batch; PNGs sync anyway
                non_finite += [str(files[i]) for k, i in enumerate(idx) if not finite[k]]
                for k, i in enumerate(idx):
                    target = out / f"{files[i].stem}.png"
                    pending.append((target, pool.submit(cv2.imwrite, str(target),
                                                        to_png_map(probs[k], sizes[k], normalize))))
                    written.append(str(target))
            if bar is not None:
                bar.update(len(idx) + len(bad))
        failed = [str(target) for target, f in pending if not f.result()]
        if failed:
            raise OSError(f"--out: cannot write {len(failed)} PNG(s) ({', '.join(failed[:3])}"
                          f"{', ...' if len(failed) > 3 else ''}): is --out writable, with room, and no folder of "
                          "that name in the way?")
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    if non_finite:
        warnings.warn(f"{len(non_finite)} prediction(s) hold NaN / inf ({', '.join(non_finite[:3])}"
                      f"{', ...' if len(non_finite) > 3 else ''}): their PNGs are not meaningful (NaN is written as "
                      "0); an overflow under "
                      f"{'autocast ' + str(amp_dtype).removeprefix('torch.') if amp_dtype else 'float32'}; "
                      "try --precision fp32", stacklevel=2)
    return {"written": written, "skipped": skipped, "non_finite": non_finite, "seconds": seconds,
            "images_per_s": len(written) / seconds if seconds > 0 else float("nan")}


# ------------------------------------------------------------------------------------------------ CLI

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="IS-Net inference: one 8-bit PNG per input image, at its original size (then `segmetrics eval`).",
    )
    p.add_argument("--checkpoint", required=True,
                   help="train_isnet.py checkpoint (checkpoint.pt, best.pt), or the authors' isnet.pth / "
                        "isnet-general-use.pth state dict")
    p.add_argument("--input", required=True, help="folder of images (not recursive), or one image file")
    p.add_argument("--out", required=True, type=output_dir, help="output folder for <stem>.png predictions")
    p.add_argument("--batch-size", type=positive_int, default=8, help="images per forward pass (default 8)")
    p.add_argument("--size", type=positive_int, default=None,
                   help=f"network input size (default: the training size in our checkpoint's config, else the "
                        f"authors' {INPUT_SIZE})")
    p.add_argument("--normalize", choices=NORMALIZE_MODES, default="minmax",
                   help="minmax (default): per-image min-max stretch, as the authors' Inference.py; "
                        "none: 255 x probability")
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    p.add_argument("--device", type=functools.partial(torch_device, allow_auto=False), default=default_device,
                   help=f"torch device (default {default_device})")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto (default): bf16 autocast on CUDA (fp16 if bf16 is unsupported), fp32 on CPU")
    default_workers = min(4, os.cpu_count() or 1)
    p.add_argument("--workers", type=nonnegative_int, default=default_workers,
                   help=f"DataLoader workers decoding and resizing images, 0: none (default {default_workers})")
    p.add_argument("--skip-unreadable", action="store_true", help="warn about and skip unreadable images")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        files = list_images(args.input)
        model, info = load_isnet(args.checkpoint, args.device)
        res = predict_files(
            model, files, args.out, batch_size=args.batch_size, size=args.size or info["size"] or INPUT_SIZE,
            normalize=args.normalize,
            precision=args.precision, workers=args.workers, skip_unreadable=args.skip_unreadable,
            progress=not args.no_progress,
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not res["written"]:
        print(f"error: --input: no prediction written: all {len(res['skipped'])} image(s) were unreadable",
              file=sys.stderr)
        return 2
    print(f"model: ISNetDIS(width={info['width']:g}) from {info['format']} {Path(args.checkpoint).name} "
          f"(width from {info['width_source']}); input {args.size or info['size'] or INPUT_SIZE}²; "
          f"device {args.device}, precision {args.precision}")
    if info.get("note"):
        print(info["note"])
    print(f"wrote {len(res['written'])} predictions to {args.out} in {res['seconds']:.1f} s "
          f"({res['images_per_s']:.1f} images/s, including decoding and PNG writing)"
          + (f"; skipped {len(res['skipped'])} unreadable" if res["skipped"] else ""))
    written = {Path(w).name for w in res["written"]}
    others = sorted(f.name for f in Path(args.out).glob("*.png") if f.name not in written)
    if others:  # an earlier run's predictions: `segmetrics eval --pred` would score them with this run's
        print(f"warning: --out {args.out} also holds {len(others)} other PNG(s) that this run did not write "
              f"({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}); `segmetrics eval` would score them "
              "too: remove them or use a new --out", file=sys.stderr)
    print(f"score them: python -m segmetrics eval --pred {args.out} --gt <folder of ground-truth masks>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
