"""Folder evaluation throughput: ``segmetrics.evaluate_folder`` vs a pysodmetrics loop over the same files.

Generates ``--n`` (default 200) GT / prediction pairs of ``--size``² (default 2048²) PNGs for two
methods into a temporary folder (or ``--data``), then, in one run:

1. **pysodmetrics loop**: read each pair with ``cv2.imread(..., IMREAD_GRAYSCALE)`` (as
   PySODEvalToolkit does) and ``step`` the six metrics of the DIS paper (Fmeasure, WeightedFmeasure,
   MAE, Smeasure, Emeasure, HumanCorrectionEffortMeasure), single process: what users run today.
   With ``--pysod-subset K`` only the first K pairs are timed and the time is extrapolated per image
   to all ``n`` (the report says so).
2. **segmetrics**: ``evaluate_folder`` of method 1 with the six metrics, ``--workers`` processes
   (default: all cores), cold GT-skeleton cache; wall time including the pool start-up, file
   reading, the per-image CSV, the journal and the dataset JSON.
3. **skeleton cache**: HCE only, method 2 on the same GTs, with the skeleton cache warm (filled by
   step 2) vs without a cache.

Numbers are compared for equality on the subset (pysod vs segmetrics per image is covered by the
tests; here the dataset MAE / max F / weighted F are checked). Usage::

    python benchmarks/bench_eval_folder.py                     # 200 x 2048^2, writes a Markdown table
    python benchmarks/bench_eval_folder.py --n 20 --size 512   # quick
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIX = ("fm", "wfm", "mae", "sm", "em", "hce")


def _base_gts(size: int, k: int, seed: int) -> list[np.ndarray]:
    from tests.segmetrics.cases import synthetic_gt

    rng = np.random.default_rng(seed)
    return [synthetic_gt(size, size, rng, tree_width=6) for _ in range(k)]


def _pred(gt: np.ndarray, rng: np.random.Generator, shift: int, sigma: float) -> np.ndarray:
    """A smooth uint8 prediction: shifted, blurred GT plus low-frequency noise (compresses like real maps)."""
    import cv2

    h, w = gt.shape
    x = np.roll(gt.astype(np.float32), (shift, -shift), axis=(0, 1))
    x = cv2.GaussianBlur(x, (0, 0), sigma)
    low = rng.normal(0, 0.18, (h // 32 + 1, w // 32 + 1)).astype(np.float32)
    x += cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def make_data(root: Path, n: int, size: int, seed: int = 0) -> None:
    import cv2

    rng = np.random.default_rng(seed)
    bases = _base_gts(size, 8, seed)
    for d in ("gt", "m1", "m2"):
        (root / d).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        g = bases[i % len(bases)]
        # Distinct GT contents from 8 base shapes: flips, transposes and shifts.
        k = i // len(bases)
        g = np.roll(g, (7 * k, -11 * k), axis=(0, 1))
        if k % 2:
            g = g[:, ::-1]
        if (k // 2) % 2:
            g = g.T
        g = np.ascontiguousarray(g)
        name = f"img{i:04d}"
        cv2.imwrite(str(root / "gt" / f"{name}.png"), np.where(g, 255, 0).astype(np.uint8))
        cv2.imwrite(str(root / "m1" / f"{name}.png"), _pred(g, rng, 2, 2.0 + i % 3))
        cv2.imwrite(str(root / "m2" / f"{name}.png"), _pred(g, rng, 4, 4.0))


def cpu_now() -> float:
    """CPU seconds of this process (all threads) plus its terminated child processes (pool workers)."""
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def pysod_loop(root: Path, names: list[str]) -> tuple[float, dict[str, float]]:
    import cv2
    import py_sod_metrics as pysod

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ms = {
            "fm": pysod.Fmeasure(),
            "wfm": pysod.WeightedFmeasure(),
            "mae": pysod.MAE(),
            "sm": pysod.Smeasure(),
            "em": pysod.Emeasure(),
            "hce": pysod.HumanCorrectionEffortMeasure(),
        }
        t0 = time.perf_counter()
        for name in names:
            p = cv2.imread(str(root / "m1" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
            g = cv2.imread(str(root / "gt" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
            for m in ms.values():
                m.step(p, g)
        elapsed = time.perf_counter() - t0
    res = {
        "mae": float(ms["mae"].get_results()["mae"]),
        "fm.max": float(ms["fm"].get_results()["fm"]["curve"].max()),
        "wfm": float(ms["wfm"].get_results()["wfm"]),
    }
    return elapsed, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--pysod-subset", type=int, default=12, help="pairs timed for pysodmetrics (0 = all)")
    ap.add_argument("--data", help="dataset folder to (re)use instead of a temporary one")
    ap.add_argument("--out", help="also write the Markdown table to this file")
    a = ap.parse_args()

    import cv2
    import numba

    cv2.setNumThreads(1)
    numba.set_num_threads(1)
    from segmetrics.app.folder import evaluate_folder

    tmp = Path(tempfile.mkdtemp(prefix="segmetrics_bench_"))
    data = Path(a.data) if a.data else tmp / "data"
    try:
        if not (data / "gt").is_dir() or len(list((data / "gt").glob("*.png"))) < a.n:
            t = time.perf_counter()
            make_data(data, a.n, a.size)
            print(f"generated {a.n} pairs x 2 methods at {a.size}^2 in {time.perf_counter() - t:.0f} s", flush=True)
        mb = sum(f.stat().st_size for f in data.rglob("*.png")) / 2**20
        names = sorted(p.stem for p in (data / "gt").glob("*.png"))[: a.n]
        k = len(names) if a.pysod_subset <= 0 else min(a.pysod_subset, len(names))

        # Warm-up (numba cache load / compile) outside the timings, on a small pair.
        from segmetrics import compute_all

        compute_all(np.zeros((64, 64), np.uint8), np.zeros((64, 64), np.uint8))

        c = cpu_now()
        t_pysod_k, ref = pysod_loop(data, names[:k])
        per_pysod = t_pysod_k / k
        cpu_pysod = (cpu_now() - c) / k
        print(f"pysodmetrics loop: {k} pairs in {t_pysod_k:.1f} s ({per_pysod:.3f} s / pair)", flush=True)

        # segmetrics on the same subset, in-process and single-threaded (per-core speed, same files).
        sub_gt = data / "gt"
        if k < len(names):
            sub_gt = tmp / "subset_gt"
            sub_gt.mkdir(exist_ok=True)
            for nm in names[:k]:
                shutil.copy(data / "gt" / f"{nm}.png", sub_gt / f"{nm}.png")
        t, c = time.perf_counter(), cpu_now()
        sub = evaluate_folder(data / "m1", sub_gt, metrics=SIX, workers=0, skeleton_cache=False, progress=False)
        t_ours_1 = (time.perf_counter() - t) / k
        cpu_ours_1 = (cpu_now() - c) / k
        for key, v in ref.items():
            assert abs(sub.metrics[key] - v) <= 1e-12, (key, sub.metrics[key], v)
        print(f"segmetrics, 1 process, same {k} pairs: {t_ours_1:.3f} s / pair (numbers equal pysod's)", flush=True)

        cache = tmp / "skeleton_cache"
        t, c = time.perf_counter(), cpu_now()
        res = evaluate_folder(data / "m1", data / "gt", metrics=SIX, workers=a.workers, skeleton_cache=cache,
                              progress=False, out_dir=tmp / "out_m1")
        t_ours = time.perf_counter() - t
        cpu_ours = (cpu_now() - c) / len(names)
        assert res.ok and res.num_images == len(names), res.errors
        print(f"segmetrics, {a.workers} workers: {len(names)} pairs in {t_ours:.1f} s", flush=True)

        t, c = time.perf_counter(), cpu_now()
        res_t = evaluate_folder(data / "m1", data / "gt", metrics=SIX, workers=a.workers, executor="thread",
                                skeleton_cache=False, progress=False, out_dir=tmp / "out_m1_threads")
        t_threads = time.perf_counter() - t
        cpu_threads = (cpu_now() - c) / len(names)
        assert res_t.metrics == res.metrics
        print(f"segmetrics, {a.workers} threads: {len(names)} pairs in {t_threads:.1f} s", flush=True)

        t, c = time.perf_counter(), cpu_now()
        evaluate_folder(data / "m2", data / "gt", metrics=("hce",), workers=a.workers, skeleton_cache=False,
                        progress=False)
        t_hce_nocache, c_hce_nocache = time.perf_counter() - t, cpu_now() - c
        t, c = time.perf_counter(), cpu_now()
        evaluate_folder(data / "m2", data / "gt", metrics=("hce",), workers=a.workers, skeleton_cache=cache,
                        progress=False)
        t_hce_cache, c_hce_cache = time.perf_counter() - t, cpu_now() - c
        print(f"HCE of method 2: {t_hce_nocache:.1f} s without cache, {t_hce_cache:.1f} s with the warm cache "
              f"(CPU {c_hce_nocache:.1f} s vs {c_hce_cache:.1f} s)", flush=True)

        n = len(names)
        thr_pysod = 1 / per_pysod
        thr_ours = n / t_ours
        lines = [
            f"Dataset: {n} pairs at {a.size}x{a.size} (PNG, {mb:.0f} MiB for GT + 2 methods), six metrics "
            f"(maxF/meanF/adpF + curves, wF, MAE, S, E, HCE).",
            "",
            "| run | images | wall time (s) | throughput (img/s) | vs pysodmetrics loop | CPU s / image | "
            "CPU ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
            f"| pysodmetrics 1.6 loop (1 process; timed on {k} pairs, extrapolated) | {n} | "
            f"{per_pysod * n:.1f} | {thr_pysod:.3f} | 1.0× | {cpu_pysod:.3f} | 1.0× |",
            f"| segmetrics, 1 process (same {k} pairs) | {n} | {t_ours_1 * n:.1f} (extrap.) | "
            f"{1 / t_ours_1:.3f} | {per_pysod / t_ours_1:.1f}× | {cpu_ours_1:.3f} | {cpu_pysod / cpu_ours_1:.1f}× |",
            f"| segmetrics `evaluate_folder`, {a.workers} workers, cold skeleton cache | {n} | {t_ours:.1f} | "
            f"{thr_ours:.3f} | **{thr_ours / thr_pysod:.1f}×** | {cpu_ours:.3f} | {cpu_pysod / cpu_ours:.1f}× |",
            f"| segmetrics `evaluate_folder`, {a.workers} threads (`executor=\"thread\"`), no cache | {n} | "
            f"{t_threads:.1f} | {n / t_threads:.3f} | {n / t_threads / thr_pysod:.1f}× | {cpu_threads:.3f} | "
            f"{cpu_pysod / cpu_threads:.1f}× |",
            "",
            "| HCE only, method 2 on the same GTs | wall time (s) | speed-up | CPU (s) | CPU speed-up |",
            "|---|---:|---:|---:|---:|",
            f"| no skeleton cache | {t_hce_nocache:.1f} | 1.0× | {c_hce_nocache:.1f} | 1.0× |",
            f"| warm skeleton cache (filled by method 1) | {t_hce_cache:.1f} | {t_hce_nocache / t_hce_cache:.2f}× | "
            f"{c_hce_cache:.1f} | {c_hce_nocache / c_hce_cache:.2f}× |",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"numpy {np.__version__}, numba {numba.__version__}, OpenCV {cv2.__version__}.",
        ]
        table = "\n".join(lines)
        print(table)
        if a.out:
            Path(a.out).parent.mkdir(parents=True, exist_ok=True)
            Path(a.out).write_text(table + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
