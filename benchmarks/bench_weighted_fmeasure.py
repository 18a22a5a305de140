"""Benchmark: segmetrics.weighted_fmeasure vs pysodmetrics WeightedFmeasure, side by side, single thread.

Usage::

    python benchmarks/bench_weighted_fmeasure.py [--sizes 320 1024 2048] [--repeats 7] [--out FILE]

For each size one synthetic pair is timed (two ellipses, one with a hole, plus a branching tree of
1-6 px wide lines; the prediction is the GT shifted, Gaussian-blurred, with noise and a spurious
blob). Both implementations get the same uint8 maps and include normalisation. Reported: median
wall time of ``repeats`` runs after a warm-up (numba compile excluded), the ratio, the absolute
difference of the scores, and the peak memory of one call (see ``_peak_memory``).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_pair(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic (pred_u8, gt_u8) of ``size``×``size``: ellipses + a 1-6 px branching tree."""
    import cv2

    rng = np.random.default_rng(seed + size)
    s = size / 1024.0
    gt = np.zeros((size, size), np.uint8)
    cv2.ellipse(gt, (int(300 * s), int(350 * s)), (int(180 * s), int(120 * s)), 20, 0, 360, 255, -1)
    cv2.ellipse(gt, (int(700 * s), int(650 * s)), (int(200 * s), int(150 * s)), -30, 0, 360, 255, -1)
    cv2.ellipse(gt, (int(700 * s), int(650 * s)), (int(60 * s), int(40 * s)), 0, 0, 360, 0, -1)

    def tree(x: float, y: float, angle: float, length: float, width: int, depth: int) -> None:
        if depth == 0 or length < 3:
            return
        x1, y1 = x + length * np.cos(angle), y + length * np.sin(angle)
        cv2.line(gt, (int(x), int(y)), (int(x1), int(y1)), 255, max(1, width))
        for turn in (-0.45, 0.5):
            tree(x1, y1, angle + turn + rng.uniform(-0.25, 0.25), length * 0.72, width - 1, depth - 1)

    tree(size * 0.5, size * 0.98, -np.pi / 2, size * 0.28, 6, 7)
    pred = np.roll(gt, (int(3 * s) + 1, -int(2 * s) - 1), axis=(0, 1)).astype(np.float32)
    pred = cv2.GaussianBlur(pred, (0, 0), 2.0 + 3 * s)
    cv2.circle(pred, (int(900 * s), int(150 * s)), int(50 * s) + 2, 160, -1)
    pred = pred + rng.normal(0, 20, pred.shape).astype(np.float32)
    return np.clip(pred, 0, 255).astype(np.uint8), gt


def _median_times(fns, repeats: int) -> list[tuple[float, float, float]]:
    """Median (process-CPU, wall) and minimum process-CPU seconds per call of each function, interleaved.

    Interleaving keeps both sides under the same machine load; CPU time is the primary figure on a
    shared machine (it excludes time spent waiting for a core), wall time is reported next to it.
    """
    for fn in fns:
        fn()  # warm-up (numba compile / caches)
    cpu = [[] for _ in fns]
    wall = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            cpu[i].append(time.process_time() - c0)
            wall[i].append(time.perf_counter() - t0)
    return [(float(np.median(c)), float(np.median(w)), float(np.min(c))) for c, w in zip(cpu, wall)]


def _peak_memory(which: str, size: int) -> tuple[float, float]:
    """Peak memory (MiB) of one call, measured in a fresh subprocess: (RSS high-water increase, tracemalloc peak).

    The subprocess builds the inputs and warms up (numba compile) on a small pair first. Then, on
    Linux, the RSS high-water mark is reset (``/proc/self/clear_refs``), the call is made, and the
    increase of ``VmHWM`` over the RSS before the call is reported: this counts every allocation,
    numba's included (tracemalloc does not see numba's allocations). tracemalloc's peak is reported
    as well (it sees numpy's allocations, i.e. everything pysodmetrics allocates). ``nan`` where
    the platform does not support the measurement.
    """
    out = subprocess.run([sys.executable, "-c", _MEM_CODE.format(root=str(ROOT), which=which, size=size)],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    rss, traced = out.stdout.strip().splitlines()[-1].split()
    return float(rss), float(traced)


_MEM_CODE = """
import re, sys, tracemalloc
import numpy as np
sys.path.insert(0, {root!r})
from benchmarks.bench_weighted_fmeasure import make_pair
which = {which!r}
small = make_pair(32)
pred, gt = make_pair({size})
if which == "ours":
    import numba; numba.set_num_threads(1)
    from segmetrics import weighted_fmeasure
    from segmetrics._inputs import prepare_pair
    from segmetrics._normalize import minmax_normalize
    from segmetrics.weighted_fmeasure import _weighted_fmeasure_image
    weighted_fmeasure(*small)
    f = lambda: weighted_fmeasure(pred, gt)
else:
    import py_sod_metrics
    py_sod_metrics.WeightedFmeasure().step(*small)
    f = lambda: py_sod_metrics.WeightedFmeasure().step(pred, gt)

def status(key):
    with open("/proc/self/status") as fh:
        return int(re.search(key + r":\\s+(\\d+)", fh.read()).group(1)) / 1024.0

try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = status("VmRSS")
    f()
    rss = status("VmHWM") - base
except OSError:
    rss = float("nan")
tracemalloc.start()
f()
traced = tracemalloc.get_traced_memory()[1] / 2**20
tracemalloc.stop()
print(rss, traced)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[320, 1024, 2048])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown table to this file")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    args = ap.parse_args()

    import numba
    import scipy
    from _common import single_thread  # the benchmarks folder is sys.path[0] when run as a script

    single_thread()
    try:
        import py_sod_metrics
    except ImportError:
        sys.exit("pysodmetrics is not installed: `pip install pysodmetrics` to run this benchmark")

    from segmetrics import weighted_fmeasure
    from segmetrics._inputs import prepare_pair
    from segmetrics._normalize import minmax_normalize
    from segmetrics.weighted_fmeasure import _weighted_fmeasure_image

    rows = []
    for size in args.sizes:
        pred, gt = make_pair(size)

        def ref(pred=pred, gt=gt):
            m = py_sod_metrics.WeightedFmeasure()
            m.step(pred, gt)
            return float(m.get_results()["wfm"])

        def ours(pred=pred, gt=gt):
            return weighted_fmeasure(pred, gt)

        p64, g64 = prepare_pair(pred, gt)
        pn = minmax_normalize(p64)

        def kernel_only(pn=pn, g=g64):  # what a fused all-metrics call pays (shared normalisation)
            return _weighted_fmeasure_image(pn, g)

        (t_ref, w_ref, b_ref), (t_ours, w_ours, b_ours), (t_kern, _, _) = _median_times(
            [ref, ours, kernel_only], args.repeats
        )
        diff = abs(ref() - ours())
        nan = (float("nan"), float("nan"))
        m_ref = nan if args.no_memory else _peak_memory("ref", size)
        m_ours = nan if args.no_memory else _peak_memory("ours", size)
        rows.append((size, t_ref, t_ours, w_ref, w_ours, diff, m_ref, m_ours, float(np.mean(gt > 128)), t_kern,
                     b_ref / b_ours))
        print(f"{size}: pysod {t_ref * 1e3:.2f} ms, ours {t_ours * 1e3:.2f} ms (CPU), x{t_ref / t_ours:.1f}; "
              f"wall x{w_ref / w_ours:.1f}; |diff| {diff:.1e}; peak RSS +{m_ref[0]:.0f} / +{m_ours[0]:.0f} MiB, "
              f"tracemalloc {m_ref[1]:.0f} / {m_ours[1]:.0f} MiB", flush=True)

    lines = [
        "| size | GT fraction | pysodmetrics CPU (ms) | segmetrics CPU (ms) | speed-up (CPU) | speed-up (wall) | "
        "speed-up (min CPU) | "
        "kernel only CPU (ms) | kernel speed-up | abs. diff | peak RSS +MiB pysod / ours | "
        "tracemalloc peak MiB pysod / ours |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, t_ref, t_ours, w_ref, w_ours, diff, m_ref, m_ours, frac, t_kern, best in rows:
        lines.append(f"| {size}² | {frac:.2f} | {t_ref * 1e3:.2f} | {t_ours * 1e3:.2f} | {t_ref / t_ours:.1f}× | "
                     f"{w_ref / w_ours:.1f}× | {best:.1f}× | {t_kern * 1e3:.2f} | {t_ref / t_kern:.1f}× | {diff:.1e} | "
                     f"{m_ref[0]:.0f} / {m_ours[0]:.0f} | {m_ref[1]:.0f} / {m_ours[1]:.0f} |")
    try:
        cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo"], capture_output=True,
                             text=True).stdout.split(":")[-1].strip()
    except OSError:  # pragma: no cover
        cpu = platform.processor()
    env = (f"{cpu}; Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
           f"numba {numba.__version__}, pysodmetrics {getattr(py_sod_metrics, '__version__', '1.6')}; "
           f"single thread; median of {args.repeats} interleaved calls after warm-up; load average "
           f"{os.getloadavg()[0]:.1f}")
    table = "\n".join(lines)
    print()
    print(table)
    print()
    print(env)
    if args.out:
        args.out.write_text(table + "\n\n" + env + "\n")


if __name__ == "__main__":
    main()
