"""Speed and peak memory of segmetrics vs pysodmetrics 1.6 (F, E, S, weighted F, MAE, HCE) over a set of images.

Run from the repository root::

    python benchmarks/bench_metrics.py                          # the full set at 1024² and 2048²
    python benchmarks/bench_metrics.py --quick                  # 4 images at 1024², no memory
    python benchmarks/bench_metrics.py --out benchmarks/results/metrics.md --json metrics.json

The set (:func:`make_cases`): masks from scikit-image's bundled photographs (camera, coins, astronaut,
coffee and page thresholded; the edges of camera and astronaut dilated into thin structures; the horse
silhouette), thin-structure masks drawn by ``examples/dis_synth.py`` (wires, a fence, a tree, holes)
and blobs, each resized / drawn at 1024² and 2048². Each ground truth gets one prediction, in turn
blurred, noised or shifted (uint8, as read from PNG files), all deterministic.

Everything runs single-threaded (numba, OpenCV and BLAS) on the same inputs, both libraries side by
side in one process. Timing: one warm-up call (numba compilation, caches), then the median of
``--repeats`` calls; CPU time of the calling thread (``time.thread_time``, robust when other
processes share the machine). Each pysodmetrics class is timed through its public ``step`` on a fresh
instance, ours through the public functions (validation included); "all six" compares the sum of the
six pysodmetrics classes with one ``segmetrics.compute_all`` call. The summary gives, per size, the
median and the worst (smallest) ratio over the set.

Peak memory (Linux, ``--memory-size``): one subprocess per library runs the set at that size; before
each image it resets the process' peak-RSS mark (``/proc/self/clear_refs``), and reports the peak
resident set during the image's calls minus the resident set before them, i.e. the extra memory the
metrics need beyond their inputs (numba's allocations included, which ``tracemalloc`` would miss). For
pysodmetrics that is the six classes run in turn (the largest of them); for us one ``compute_all``.
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
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "benchmarks", ROOT / "examples"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from _common import single_thread  # noqa: E402

METRICS = ("fm", "em", "sm", "wfm", "mae", "hce")
#: image name -> prediction kind; the order of the set
CASES = {
    "camera": "blur",
    "coins": "noise",
    "astronaut": "shift",
    "coffee": "blur",
    "page": "noise",
    "camera-edges": "shift",
    "astronaut-edges": "blur",
    "horse": "noise",
    "wires": "blur",
    "fence": "shift",
    "tree": "noise",
    "holes": "blur",
    "blobs": "shift",
}
QUICK = ("camera", "camera-edges", "wires", "blobs")


def _gray(name: str) -> np.ndarray:
    import cv2
    from skimage import data

    im = np.asarray(getattr(data, name)())
    return cv2.cvtColor(im, cv2.COLOR_RGB2GRAY) if im.ndim == 3 else im


def _photo_mask(name: str, size: int) -> np.ndarray:
    """A bundled photograph resized to ``size``² and thresholded (Otsu) into a mask (bool)."""
    import cv2

    g = cv2.resize(_gray(name), (size, size), interpolation=cv2.INTER_LINEAR)
    t, _ = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    dark = {"camera": True, "coins": False, "astronaut": False, "coffee": True, "page": True}[name]
    if name == "page":  # text: darker than its neighbourhood
        m = g < cv2.GaussianBlur(g, (0, 0), size / 64) - 12
    else:
        m = g <= t if dark else g > t
    return m


def _edge_mask(name: str, size: int) -> np.ndarray:
    """Canny edges of a photograph at ``size``², dilated into 2–4 px thin structures."""
    import cv2

    g = cv2.resize(_gray(name), (size, size), interpolation=cv2.INTER_LINEAR)
    e = cv2.Canny(cv2.GaussianBlur(g, (0, 0), 1.5 * size / 1024), 40, 100)
    k = max(1, size // 1024)
    return cv2.dilate(e, np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0


def _horse(size: int) -> np.ndarray:
    import cv2
    from skimage import data

    m = (~data.horse()).astype(np.uint8) * 255  # the horse is the dark (False) part
    return cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR) > 128


def _drawn(kind: str, size: int, seed: int) -> np.ndarray:
    """A thin-structure or blob mask drawn by the DIS-like generator of ``examples/dis_synth.py``."""
    import dis_synth

    rng = np.random.default_rng([seed, size])
    cv = dis_synth._Canvas(size, size)
    if kind == "blobs":
        for _ in range(3):
            dis_synth._easy_shape(rng, cv)
    elif kind == "wires":
        for _ in range(3):
            dis_synth.STRUCTURES["wires"](rng, cv)
    else:
        dis_synth.STRUCTURES[kind](rng, cv)
    return cv.alpha() > 0.5


def gt_mask(name: str, size: int) -> np.ndarray:
    """The ground truth (bool ``size``²) of one image of the set."""
    if name.endswith("-edges"):
        return _edge_mask(name[: -len("-edges")], size)
    if name == "horse":
        return _horse(size)
    if name in ("wires", "fence", "tree", "holes", "blobs"):
        return _drawn(name, size, seed=list(CASES).index(name))
    return _photo_mask(name, size)


def degrade(gt: np.ndarray, kind: str, seed: int) -> np.ndarray:
    """A uint8 prediction from a bool GT: ``blur``, ``noise`` or ``shift`` (scaled with the size)."""
    import cv2

    rng = np.random.default_rng(seed)
    s = gt.shape[0] / 1024
    p = gt.astype(np.float32) * 255
    if kind == "blur":
        p = cv2.GaussianBlur(p, (0, 0), 3.0 * s)
    elif kind == "noise":
        p = cv2.GaussianBlur(p, (0, 0), 1.5 * s) * 0.9 + 12
        p += rng.normal(0, 20, p.shape).astype(np.float32)
    elif kind == "shift":
        d = max(1, round(4 * s))
        p = np.roll(p, (d, -d), axis=(0, 1))
        cv2.circle(p, (int(p.shape[1] * 0.85), int(p.shape[0] * 0.15)), int(40 * s) + 2, 200, -1)  # a false blob
        p = cv2.GaussianBlur(p, (0, 0), 1.0 * s)
    else:
        raise ValueError(f"unknown prediction kind {kind!r}")
    return np.clip(p + 0.5, 0, 255).astype(np.uint8)


def make_case(name: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pred_u8, gt_u8)`` of one image of the set at ``size``²."""
    gt = gt_mask(name, size)
    pred = degrade(gt, CASES[name], seed=list(CASES).index(name) * 7919 + size)
    return pred, gt.astype(np.uint8) * 255


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


def _pysod_all(pred, gt):
    for key in METRICS:
        _pysod_step(key)(pred, gt)


def _ours(key: str):
    import segmetrics as sm

    if key == "all":
        return lambda p, g: sm.compute_all(p, g)
    fn = {"fm": sm.fmeasure, "em": sm.emeasure, "sm": sm.smeasure, "wfm": sm.weighted_fmeasure, "mae": sm.mae,
          "hce": sm.hce}[key]
    return lambda p, g: fn(p, g)


def _time(fn, pred, gt, repeats: int, warm: bool = True) -> float:
    if warm:
        fn(pred, gt)
    cpu = []
    for _ in range(repeats):
        c0 = time.thread_time()
        fn(pred, gt)
        cpu.append(time.thread_time() - c0)
    return statistics.median(cpu)


def run_speed(names, sizes, repeats):
    single_thread()
    rows = []
    for size in sizes:
        reps = repeats if size <= 1024 else max(1, (repeats + 1) // 2)
        for name in names:
            pred, gt = make_case(name, size)
            rec = dict(size=size, image=name, pred=CASES[name], fg=float((gt > 0).mean()))
            tot = 0.0
            for key in METRICS:
                # pysodmetrics has no JIT: a warm-up only at 1024² and below (it costs seconds at 2048²)
                ref = _time(_pysod_step(key), pred, gt, reps, warm=size <= 1024)
                ours = _time(_ours(key), pred, gt, reps)
                tot += ref
                rec[key] = (1e3 * ref, 1e3 * ours)
            rec["all"] = (1e3 * tot, 1e3 * _time(_ours("all"), pred, gt, reps))
            rows.append(rec)
            print(f"{size:5d} {name:16s} " + "  ".join(
                f"{k} {rec[k][0] / rec[k][1]:5.1f}x" for k in (*METRICS, "all")) +
                f"   all: pysod {rec['all'][0]:8.1f} ms, ours {rec['all'][1]:7.2f} ms", flush=True)
    return rows


_MEM_CHILD = r"""
import gc, json, sys
sys.argv = sys.argv[:1] + sys.argv[1:]
impl, size, names = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
import bench_metrics as b

def status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])

b.single_thread()
fn = b._pysod_all if impl == "pysod" else b._ours("all")
sp, sg = b.make_case("camera", 64)
fn(sp, sg)
out = {}
for name in names:
    pred, gt = b.make_case(name, size)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as fh:  # reset the peak-RSS mark (VmHWM)
        fh.write("5")
    before = status("VmRSS")
    fn(pred, gt)
    out[name] = (status("VmHWM") - before) / 1024
    del pred, gt
print(json.dumps(out))
"""


def run_memory(names, size: int):
    res = {}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "examples")]))
    for impl in ("pysod", "ours"):
        out = subprocess.run([sys.executable, "-c", _MEM_CHILD, impl, str(size), ",".join(names)], cwd=ROOT,
                             capture_output=True, text=True, check=True, env=env)
        res[impl] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"mem {size} {impl} {res[impl]}", flush=True)
    return [dict(image=n, pysod_mib=res["pysod"][n], ours_mib=res["ours"][n]) for n in names]


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


def summary(rows) -> list[dict]:
    """Per size and metric: median and worst (smallest) ratio over the set."""
    out = []
    for size in sorted({r["size"] for r in rows}):
        sel = [r for r in rows if r["size"] == size]
        for key in (*METRICS, "all"):
            ratios = [r[key][0] / r[key][1] for r in sel]
            worst = min(range(len(sel)), key=lambda i: ratios[i])
            out.append(dict(size=size, metric=key, median=statistics.median(ratios), worst=ratios[worst],
                            worst_image=sel[worst]["image"], n=len(sel)))
    return out


def to_markdown(rows, memory, versions) -> str:
    lines = ["### Summary: speed-up over the set (pysodmetrics CPU time / segmetrics CPU time)", "",
             "| size | metric | median | worst (image) | images |", "|---:|---|---:|---|---:|"]
    for s in summary(rows):
        label = "**all six**" if s["metric"] == "all" else s["metric"]
        lines.append(f"| {s['size']}² | {label} | {s['median']:.1f}× | {s['worst']:.1f}× ({s['worst_image']}) "
                     f"| {s['n']} |")
    for size in sorted({r["size"] for r in rows}):
        lines += ["", f"### {size}²: per image (ratio per metric; all six: pysodmetrics ms / segmetrics ms)", "",
                  "| image | prediction | GT fg | " + " | ".join(METRICS) + " | all six | pysod ms | ours ms |",
                  "|---|---|---:|" + "---:|" * (len(METRICS) + 3)]
        for r in (r for r in rows if r["size"] == size):
            cells = " | ".join(f"{r[k][0] / r[k][1]:.1f}×" for k in METRICS)
            lines.append(f"| {r['image']} | {r['pred']} | {100 * r['fg']:.1f} % | {cells} | "
                         f"**{r['all'][0] / r['all'][1]:.1f}×** | {r['all'][0]:.0f} | {r['all'][1]:.1f} |")
    if memory:
        lines += ["", "### Peak extra memory per image (MiB; pysodmetrics: its six classes in turn, "
                  "segmetrics: one `compute_all`)", "", "| image | pysodmetrics | segmetrics |", "|---|---:|---:|"]
        for r in memory:
            lines.append(f"| {r['image']} | {r['pysod_mib']:.1f} | {r['ours_mib']:.1f} |")
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    ap.add_argument("--images", nargs="+", choices=list(CASES), help="a subset of the set (default: all)")
    ap.add_argument("--quick", action="store_true", help=f"images {', '.join(QUICK)} at 1024², 3 repeats, no memory")
    ap.add_argument("--repeats", type=int, default=5, help="timed calls per metric at 1024² (half at 2048²)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--memory-size", type=int, default=2048)
    ap.add_argument("--out", help="write the Markdown tables to this file")
    ap.add_argument("--json", help="write raw results as JSON to this file")
    args = ap.parse_args(argv)
    names = list(args.images or CASES)
    if args.quick:
        names, args.sizes, args.repeats, args.no_memory = list(args.images or QUICK), [1024], 3, True
    rows = run_speed(names, args.sizes, args.repeats)
    memory = [] if args.no_memory else run_memory(names, args.memory_size)
    versions = _versions()
    md = to_markdown(rows, memory, versions)
    print(md)
    if args.out:
        Path(args.out).write_text(md)
    if args.json:
        Path(args.json).write_text(json.dumps({"metadata": versions, "speed": rows, "memory": memory}, indent=1))


if __name__ == "__main__":
    main()
