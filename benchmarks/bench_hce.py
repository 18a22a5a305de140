"""Benchmark HCEγ (skeleton included): segmetrics vs the DIS script vs pysodmetrics, single thread.

The DIS script (xuebinqin/DIS ``IS-Net/hce_metric_main.py``: ``relax_HCE`` + skimage ``skeletonize``,
as its ``compute_hce`` does without precomputed skeletons) is not part of this repository: point
``--dis-repo`` or the environment variable ``SEGMETRICS_DIS_REPO`` at a checkout of
https://github.com/xuebinqin/DIS (or at the ``hce_metric_main.py`` file). Without it the script says
so and compares against pysodmetrics' ``HumanCorrectionEffortMeasure`` only.

Inputs: deterministic synthetic pairs (ellipses + a branching 1–6 px tree; the prediction is shifted,
perturbed, blurred and noisy) from ``tests/segmetrics/hce_cases.py``.

Times are medians of per-call process CPU time (single thread: numba, OpenCV and torch set to one
thread), after a warm-up call; wall-clock medians are printed as well.

Usage::

    python benchmarks/bench_hce.py --dis-repo PATH/TO/DIS [--sizes 320 1024 2048] [--out benchmarks/results/hce.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "segmetrics"))

REPEATS = {320: 21, 1024: 9, 2048: 5}
DIS_HOWTO = ("to compare with it, clone https://github.com/xuebinqin/DIS into a scratch folder outside this "
             "repository and pass --dis-repo PATH/TO/DIS (or set SEGMETRICS_DIS_REPO)")


def load_dis(path: str | None):
    if not path:
        return None
    p = Path(path)
    if p.is_dir():
        p = p / "IS-Net" / "hce_metric_main.py"
    if not p.is_file():
        print(f"DIS script not found at {p}; comparing against pysodmetrics only ({DIS_HOWTO})")
        return None
    try:
        spec = importlib.util.spec_from_file_location("dis_hce_metric_main", p)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    except Exception as exc:  # any import failure of the scratch copy
        print(f"import of the DIS script {p} failed ({exc!r}); comparing against pysodmetrics only")
        return None
    return mod


def timeit_round_robin(fns: dict, repeats: int) -> tuple[dict, dict, dict]:
    """Time several callables in interleaved rounds (so they share the machine's load).

    Returns per name: median CPU ms, median wall ms, and the last output.
    """
    outs = {k: fn() for k, fn in fns.items()}  # warm-up (numba compilation, caches)
    cpu = {k: [] for k in fns}
    wall = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            c0, w0 = time.process_time(), time.perf_counter()
            outs[k] = fn()
            cpu[k].append(time.process_time() - c0)
            wall[k].append(time.perf_counter() - w0)
    med = {k: float(np.median(v)) * 1e3 for k, v in cpu.items()}
    medw = {k: float(np.median(v)) * 1e3 for k, v in wall.items()}
    return med, medw, outs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dis-repo", default=os.environ.get("SEGMETRICS_DIS_REPO"))
    ap.add_argument("--sizes", type=int, nargs="+", default=[320, 1024, 2048])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the Markdown table to this file")
    args = ap.parse_args()

    import cv2
    import numba
    import skimage
    from _common import single_thread  # the benchmarks folder is sys.path[0] when run as a script
    from hce_cases import scene
    from py_sod_metrics import HumanCorrectionEffortMeasure
    from skimage.morphology import skeletonize as sk_skeletonize

    import segmetrics
    from segmetrics import hce, skeletonize

    single_thread()

    dis = load_dis(args.dis_repo)
    if dis is None:
        print(f"NOTE: no DIS script (--dis-repo / SEGMETRICS_DIS_REPO); the DIS columns are omitted ({DIS_HOWTO})")

    def pysod_hce(pred, gt):
        m = HumanCorrectionEffortMeasure()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.step(pred, gt)
        return m.get_results()["hce"]

    def measure(n: int) -> dict:
        pred, gt = scene(n, n, args.seed)
        ske = sk_skeletonize(gt > 128)
        fns = {
            "ours": lambda: hce(pred, gt),
            "ours_skel": lambda: skeletonize(gt > 128),
            "ours_noskel": lambda: hce(pred, gt, skeleton=ske),
            "pysod": lambda: pysod_hce(pred, gt),
        }
        if dis is not None:
            fns["dis"] = lambda: dis.relax_HCE(gt, pred, sk_skeletonize(gt > 128))
            fns["dis_skel"] = lambda: sk_skeletonize(gt > 128)
        med, medw, outs = timeit_round_robin(fns, REPEATS.get(n, 3))
        res = outs["ours"]
        ours_pysod = hce(pred, gt, threshold="pysod", count_whole_image_region=True).total
        assert ours_pysod == outs["pysod"], (ours_pysod, outs["pysod"])
        if dis is not None:
            d = outs["dis"]
            assert [int(v) for v in d] == [res.fp_points, res.fp_regions, res.fn_points, res.fn_regions]
        r = {"size": n, "hce": res.total, "hce_pysod": ours_pysod, **med}
        r.update({k + "_wall": v for k, v in medw.items()})
        return r

    rows = []
    for n in args.sizes:
        rows.append(measure(n))
        print(rows[-1], flush=True)

    lines = [
        "| size | HCE (DIS default) | segmetrics `hce` (ms) | of which skeleton (ms) | segmetrics, skeleton given (ms) "
        + ("| DIS `relax_HCE` + skimage skeleton (ms) | of which skeleton (ms) | **speed-up vs DIS** " if dis else "")
        + "| pysodmetrics HCE (ms) | speed-up vs pysod |",
        "|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if dis else "") + "---:|---:|",
    ]
    for r in rows:
        cells = [f"{r['size']}²", str(r["hce"]), f"{r['ours']:.1f}", f"{r['ours_skel']:.1f}", f"{r['ours_noskel']:.1f}"]
        if dis:
            cells += [f"{r['dis']:.0f}", f"{r['dis_skel']:.0f}", f"**{r['dis'] / r['ours']:.0f}×**"]
        cells += [f"{r['pysod']:.0f}", f"{r['pysod'] / r['ours']:.0f}×"]
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    info = (
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"load average {os.getloadavg()[0]:.1f} at the end; Python {platform.python_version()}, "
        f"numpy {np.__version__}, "
        f"numba {numba.__version__}, OpenCV {cv2.__version__}, scikit-image {skimage.__version__}, "
        f"segmetrics {segmetrics.__version__}. Median process CPU time per image, single thread."
    )
    print()
    print(table)
    print()
    print(info)
    if args.out:
        Path(args.out).write_text(table + "\n\n" + info + "\n")


if __name__ == "__main__":
    main()
