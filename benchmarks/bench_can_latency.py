"""Per-click latency of the latent-diversity CAN (f + g) at 480 x 640, as in the paper's Table 2 timing column.

The paper reports 236 ms per click for its whole pipeline (VGG-19 hypercolumns + f + g) on a Titan X.
This measures f + g without hypercolumns (the example's default) on the current device, in fp32 and with
bf16 autocast, plus the click encoding (two exact distance transforms on the CPU), which a click also costs.

    python benchmarks/bench_can_latency.py [--device cuda] [--repeats 50]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

from can_model import SegmentationCAN, SelectionCAN, encode_clicks


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--repeats", type=int, default=50)
    a = p.parse_args()
    dev = torch.device(a.device)
    f = SegmentationCAN(6).to(dev).eval().to(memory_format=torch.channels_last)
    g = SelectionCAN(6).to(dev).eval().to(memory_format=torch.channels_last)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (a.height, a.width, 3), dtype=np.uint8)
    clicks = [(int(rng.integers(a.height)), int(rng.integers(a.width))) for _ in range(6)]
    t0 = time.perf_counter()
    for _ in range(5):
        x_np = encode_clicks(image, clicks[:4], clicks[4:])
    enc = (time.perf_counter() - t0) / 5
    x = torch.from_numpy(x_np)[None].to(dev).contiguous(memory_format=torch.channels_last)

    def step() -> None:
        with torch.no_grad():
            probs = torch.sigmoid(f(x))
            g(x, probs).argmax(1)

    print(f"device {dev} ({torch.cuda.get_device_name(dev) if dev.type == 'cuda' else 'cpu'}), "
          f"{a.height}x{a.width}, click encoding on CPU {enc * 1e3:.1f} ms")
    for name, ctx in (("fp32", torch.autocast(dev.type, enabled=False)),
                      ("bf16", torch.autocast(dev.type, dtype=torch.bfloat16))):
        with ctx:
            for _ in range(5):
                step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(a.repeats):
                step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
        ms = (time.perf_counter() - t0) / a.repeats * 1e3
        print(f"  {name}: f + g {ms:.1f} ms per click; with the encoding {ms + enc * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
