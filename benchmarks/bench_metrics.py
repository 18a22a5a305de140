"""Per-image speed and peak memory of segmetrics vs pysodmetrics (F, E, S, weighted F, MAE, HCE).

Run from the repository root::

    python benchmarks/bench_metrics.py                       # 320², 1024², 2048²
    python benchmarks/bench_metrics.py --sizes 320 1024 --repeats 5 --no-memory
    python benchmarks/bench_metrics.py --out benchmarks/results/metrics.md

Everything runs single-threaded (numba, OpenCV, BLAS) on the same synthetic pairs: two ellipses
(one with a hole) plus a branching tree of 1-6 px wide lines as the GT; the prediction is the GT
shifted, Gaussian-blurred, with a false-positive blob and noise (uint8, as read from PNG files).

Timing: warm-up call first (numba compilation, caches), then the median of ``--repeats`` calls.
Both CPU time of the calling thread (``time.thread_time``; robust when other processes share the
machine) and wall time are recorded; ratios use CPU time. Each pysodmetrics class is timed through
its public ``step`` on a fresh instance, our functions through their public API (input validation
included). "all six" compares the sum of the six pysod classes with one ``compute_all`` call.

Peak memory (Linux): for each metric, a fresh subprocess builds the 2048² pair and warms up on a
small image, resets its peak-RSS mark (``/proc/self/clear_refs``), then runs one full-size call; the
reported value is the peak resident set during that call minus the resident set before it, i.e.
the extra memory the metric needs beyond its inputs (numba's allocations included, which
``tracemalloc`` would miss).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from _common import single_thread  # noqa: E402

METRICS = ("fm", "em", "sm", "wfm", "mae", "hce")


def make_pair(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic uint8 (pred, gt) of ``size``² pixels (deterministic)."""
    import cv2

    rng = np.random.default_rng(seed)
    s = size
    gt = np.zeros((s, s), np.uint8)
    cv2.ellipse(gt, (int(s * 0.3), int(s * 0.35)), (int(s * 0.12), int(s * 0.18)), 15, 0, 360, 255, -1)
    cv2.ellipse(gt, (int(s * 0.65), int(s * 0.7)), (int(s * 0.2), int(s * 0.15)), -20, 0, 360, 255, -1)
    cv2.ellipse(gt, (int(s * 0.65), int(s * 0.7)), (int(s * 0.06), int(s * 0.05)), 0, 0, 360, 0, -1)

    def branch(x, y, angle, length, width, depth):
        if depth == 0 or length < 3:
            return
        x2 = x + length * np.cos(angle)
        y2 = y + length * np.sin(angle)
        cv2.line(gt, (int(x), int(y)), (int(x2), int(y2)), 255, max(1, int(width)))
        for turn in (-0.5, 0.45):
            branch(x2, y2, angle + turn + rng.uniform(-0.2, 0.2), length * 0.72, width * 0.7, depth - 1)

    branch(s * 0.5, s * 0.98, -np.pi / 2, s * 0.28, 6, 7)
    shift = max(1, s // 256)
    pred = np.roll(gt, (shift, -shift), axis=(0, 1)).astype(np.float32)
    cv2.circle(pred, (int(s * 0.85), int(s * 0.2)), max(2, s // 40), 200, -1)
    k = 2 * max(1, s // 200) + 1
    pred = cv2.GaussianBlur(pred, (k, k), 0)
    pred += rng.normal(0, 12, pred.shape).astype(np.float32)
    return np.clip(pred, 0, 255).astype(np.uint8), gt


def _pysod_step(key: str):
    import py_sod_metrics as psm

    cls = {
        "fm": psm.Fmeasure,
        "em": psm.Emeasure,
        "sm": psm.Smeasure,
        "wfm": psm.WeightedFmeasure,
        "mae": psm.MAE,
        "hce": psm.HumanCorrectionEffortMeasure,
    }[key]

    def run(pred, gt):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cls().step(pred, gt)

    return run


def _ours(key: str):
    import segmetrics as sm

    if key == "all":
        return lambda p, g: sm.compute_all(p, g)
    fn = {"fm": sm.fmeasure, "em": sm.emeasure, "sm": sm.smeasure, "wfm": sm.weighted_fmeasure, "mae": sm.mae,
          "hce": sm.hce}[key]
    return lambda p, g: fn(p, g)


def _time(fn, pred, gt, repeats: int) -> tuple[float, float]:
    fn(pred, gt)  # warm-up
    cpu, wall = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn(pred, gt)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(cpu), statistics.median(wall)


def run_speed(sizes, repeats):
    single_thread()
    rows = []
    for size in sizes:
        pred, gt = make_pair(size)
        reps = repeats if size <= 1024 else max(3, repeats // 2)
        tot_ref = 0.0
        for key in METRICS:
            ref_cpu, ref_wall = _time(_pysod_step(key), pred, gt, reps)
            our_cpu, our_wall = _time(_ours(key), pred, gt, reps)
            tot_ref += ref_cpu
            rows.append(dict(size=size, metric=key, pysod_ms=1e3 * ref_cpu, ours_ms=1e3 * our_cpu,
                             pysod_wall_ms=1e3 * ref_wall, ours_wall_ms=1e3 * our_wall, ratio=ref_cpu / our_cpu))
            print(f"{size:5d} {key:4s} pysod {1e3 * ref_cpu:9.2f} ms  ours {1e3 * our_cpu:8.2f} ms  "
                  f"x{ref_cpu / our_cpu:6.1f}", flush=True)
        our_cpu, our_wall = _time(_ours("all"), pred, gt, reps)
        rows.append(dict(size=size, metric="all six", pysod_ms=1e3 * tot_ref, ours_ms=1e3 * our_cpu,
                         pysod_wall_ms=float("nan"), ours_wall_ms=1e3 * our_wall, ratio=tot_ref / our_cpu))
        print(f"{size:5d} all six: pysod (sum of classes) {1e3 * tot_ref:9.2f} ms  compute_all {1e3 * our_cpu:8.2f} ms"
              f"  x{tot_ref / our_cpu:6.1f}", flush=True)
    return rows


_MEM_CHILD = r"""
import gc, json, os, sys
sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "benchmarks"))
from bench_metrics import make_pair, _pysod_step, _ours
from _common import single_thread

def status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])

single_thread()
impl, key, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
fn = _pysod_step(key) if impl == "pysod" else _ours(key)
sp, sg = make_pair(64)
fn(sp, sg)
pred, gt = make_pair(size)
gc.collect()
with open("/proc/self/clear_refs", "w") as fh:  # reset the peak-RSS mark (VmHWM)
    fh.write("5")
before = status("VmRSS")
fn(pred, gt)
print(json.dumps({"delta_kib": status("VmHWM") - before}))
"""


def run_memory(size: int):
    rows = []
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for key in (*METRICS, "all"):
        rec = {"metric": "all six" if key == "all" else key}
        for impl in ("pysod", "ours"):
            if impl == "pysod" and key == "all":
                continue
            out = subprocess.run([sys.executable, "-c", _MEM_CHILD, impl, key, str(size)], cwd=root,
                                 capture_output=True, text=True, check=True)
            rec[impl + "_mib"] = json.loads(out.stdout.strip().splitlines()[-1])["delta_kib"] / 1024
        print(f"mem {size} {rec}", flush=True)
        rows.append(rec)
    return rows


def _versions() -> dict:
    import cv2
    import numba
    import py_sod_metrics
    import scipy
    import skimage

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scipy": scipy.__version__,
        "scikit-image": skimage.__version__,
        "opencv": cv2.__version__,
        "pysodmetrics": getattr(py_sod_metrics, "__version__", "1.6.x"),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }


def to_markdown(speed, memory, versions) -> str:
    lines = ["| size | metric | pysodmetrics (ms) | segmetrics (ms) | speed-up |", "|---:|---|---:|---:|---:|"]
    for r in speed:
        lines.append(f"| {r['size']}² | {r['metric']} | {r['pysod_ms']:.2f} | {r['ours_ms']:.2f} | {r['ratio']:.1f}× |")
    if memory:
        lines += ["", "| metric | pysodmetrics peak extra RSS (MiB) | segmetrics peak extra RSS (MiB) |",
                  "|---|---:|---:|"]
        worst = max((r["pysod_mib"] for r in memory if "pysod_mib" in r), default=float("nan"))
        for r in memory:
            ref = f"{r['pysod_mib']:.1f}" if "pysod_mib" in r else f"{worst:.1f} (max of the six, run in turn)"
            lines.append(f"| {r['metric']} | {ref} | {r['ours_mib']:.1f} |")
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[320, 1024, 2048])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--memory-size", type=int, default=2048)
    ap.add_argument("--out", help="write the Markdown table to this file")
    ap.add_argument("--json", help="write raw results as JSON to this file")
    args = ap.parse_args(argv)
    speed = run_speed(args.sizes, args.repeats)
    memory = [] if args.no_memory else run_memory(args.memory_size)
    versions = _versions()
    md = to_markdown(speed, memory, versions)
    print(md)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(md)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"metadata": versions, "speed": speed, "memory": memory}, fh, indent=1)


if __name__ == "__main__":
    main()
