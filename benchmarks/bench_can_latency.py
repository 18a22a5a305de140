"""Per-click latency of the latent-diversity CAN (f + g) at 480 x 640, as in the paper's Table 2 timing column.

The paper reports 236 ms per click for its whole pipeline (VGG-19 hypercolumns + f + g) on a Titan X; the
issue's target is 25 ms per click for f + g on one H200 in bf16. This measures, per click, everything after
the click encoding: upload of the 7-channel encoding, ``f`` (Table 1, width 64, M = 6), ``g`` (one shared
body per mask: M passes, width 32 by default), the arg-max selection and the selected 480 x 640 mask back on
the host, in fp32 and with bf16 autocast. Each click is timed on its own (synchronised before and after,
CUDA-synchronised on a GPU) after a warm-up, and the median and 90th percentile are printed. The click
encoding (two exact distance transforms, on the CPU) is timed separately: a click costs it too.

    python benchmarks/bench_can_latency.py --device cuda            # GPU, about a minute with start-up
    python benchmarks/bench_can_latency.py --device cpu --quick     # dry run of the code path (small, 2 clicks)
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from can_model import SegmentationCAN, SelectionCAN, encode_clicks, selection_width
from cli_args import nonnegative_int, positive_int, torch_device


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", type=functools.partial(torch_device, allow_auto=False),
                   default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--height", type=positive_int, default=480)
    p.add_argument("--width", type=positive_int, default=640)
    p.add_argument("--channels", type=positive_int, default=64, help="width of f (Table 1: 64)")
    p.add_argument("--g-channels", type=positive_int,
                   help="width of g (default: can_model.selection_width, 32 for f at 64)")
    p.add_argument("--outputs", type=positive_int, default=6, help="M")
    p.add_argument("--repeats", type=positive_int, default=50, help="timed clicks per precision")
    p.add_argument("--warmup", type=nonnegative_int, default=10, help="untimed clicks per precision first")
    p.add_argument("--quick", action="store_true", help="dry run: 48 x 64, width 8, 1 warm-up + 2 timed clicks")
    a = p.parse_args(argv)
    if a.quick:
        a.height, a.width, a.channels, a.repeats, a.warmup = 48, 64, 8, 2, 1
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    f = SegmentationCAN(a.outputs, a.channels).to(dev).eval().to(memory_format=torch.channels_last)
    g_channels = a.g_channels or selection_width(a.channels)
    g = SelectionCAN(a.outputs, g_channels).to(dev).eval().to(memory_format=torch.channels_last)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (a.height, a.width, 3), dtype=np.uint8)
    clicks = [(int(rng.integers(a.height)), int(rng.integers(a.width))) for _ in range(6)]
    t0 = time.perf_counter()
    for _ in range(3):
        x_np = encode_clicks(image, clicks[:4], clicks[4:])
    enc = (time.perf_counter() - t0) / 3
    x_host = torch.from_numpy(x_np)[None]
    if dev.type == "cuda":
        x_host = x_host.pin_memory()

    @torch.inference_mode()
    def click() -> np.ndarray:
        x = x_host.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last)
        probs = torch.sigmoid(f(x))
        k = g(x, probs).argmax(1)  # stays on the device: no host sync before the mask is taken
        mask = probs[torch.arange(probs.shape[0], device=dev), k] > 0.49
        return mask.cpu().numpy()  # the only host transfer: the selected mask

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"device {dev} ({name}), {a.height}x{a.width}, width of f {a.channels}, of g {g_channels}, M = {a.outputs}, "
          f"click encoding on the CPU {enc * 1e3:.1f} ms")
    results = {"encode_ms": enc * 1e3}
    for label, ctx in (("fp32", nullcontext()), ("bf16", torch.autocast(dev.type, dtype=torch.bfloat16))):
        times = []
        with ctx:
            for i in range(a.warmup + a.repeats):
                _sync(dev)
                t0 = time.perf_counter()
                mask = click()
                _sync(dev)
                if i >= a.warmup:
                    times.append((time.perf_counter() - t0) * 1e3)
        assert mask.shape == (1, a.height, a.width)
        med = statistics.median(times)
        p90 = float(np.percentile(times, 90))
        results[f"{label}_ms"] = med
        print(f"  {label}: f + g {med:.1f} ms per click (median of {a.repeats}, p90 {p90:.1f}); "
              f"with the encoding {med + enc * 1e3:.1f} ms")
    if dev.type == "cuda":
        print(f"  peak GPU memory {torch.cuda.max_memory_allocated(dev) / 2**30:.2f} GiB")
    return results


if __name__ == "__main__":
    main()
