"""Benchmark the metric families of issue 12 against their anchors, side by side, single thread.

Families and anchors (same inputs, same run):

* ``confusion`` (:func:`segmetrics.confusion_metrics`, all 11 metrics) vs pysodmetrics ``FmeasureV2``
  with the 10 handlers (dynamic, adaptive and binary);
* ``si`` (:func:`segmetrics.size_invariant_metrics`) vs ``SizeInvarianceFmeasureV2`` (10 handlers)
  plus ``SizeInvarianceMAE``;
* ``msiou`` (:func:`segmetrics.msiou`) vs ``MSIoU`` (dynamic, adaptive, binary), at ``--msiou-size``
  (pysodmetrics takes tens of seconds per soft 1024² map);
* ``cm`` / ``ccm`` (:func:`segmetrics.context_measure`, :func:`segmetrics.camouflage_context_measure`,
  exact float64 default) vs ``ContextMeasure`` / ``CamouflageContextMeasure`` (``ccm`` at
  ``--msiou-size`` as well); ``cm_pysod`` / ``ccm_pysod``: the same with ``compat="pysod"``
  (pysodmetrics' float32 forward map and scikit-learn's search, identical values);
* ``mse``, ``mba``, ``biou`` vs BiRefNet's ``MSEMeasure``, ``MBAMeasure``, ``BIoUMeasure`` when
  ``--birefnet`` points at BiRefNet's ``evaluation/metrics.py`` (not part of this repository).

Inputs: scikit-image photos thresholded into masks (horse, coins, camera) with blurred / shifted /
eroded predictions, and generated thin-structure masks (ellipses + branching trees, shifted, blurred,
noisy predictions), at ``--size`` (default 1024). Times are medians of per-call process CPU time
after a warm-up call (numba, OpenCV and torch pinned to one thread); the table gives the median and
the worst (smallest) ratio anchor / segmetrics over the inputs.

Usage::

    python benchmarks/bench_metric_families.py [--size 1024] [--msiou-size 512] [--repeats 3]
        [--birefnet PATH/TO/evaluation/metrics.py] [--out benchmarks/results/metric_families.md]
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import single_thread  # noqa: E402

BIREFNET_HOWTO = ("to compare with BiRefNet's code, clone https://github.com/ZhengPeng7/BiRefNet into a scratch "
                  "folder outside this repository and pass --birefnet PATH/TO/BiRefNet/evaluation/metrics.py")
HANDLERS = ("PrecisionHandler", "RecallHandler", "SpecificityHandler", "FPRHandler", "BERHandler",
            "OverallAccuracyHandler", "KappaHandler", "FmeasureHandler", "IOUHandler", "DICEHandler")


def inputs(size: int) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """``(name, pred_u8, gt_u8, rgb)`` pairs at ``size``²."""
    from tests.segmetrics.cases import make_pred, synthetic_gt
    from tests.segmetrics.photo_cases import make_photo_case, photo_rgb

    out = []
    for name in ("horse_blur", "coins_shift", "camera_erode"):
        p, g = make_photo_case(name, (size, size))
        out.append((name, p, g, photo_rgb(name.split("_")[0], (size, size))))
    for i, width in enumerate((2, 6)):
        rng = np.random.default_rng(100 + i)
        gt = synthetic_gt(size, size, rng, tree_width=width)
        pred = make_pred(gt, rng, shift=2, blur=5, noise=0.1)
        grey = np.where(gt, 200, 60).astype(np.uint8)
        out.append((f"thin_tree_{width}px", pred, np.where(gt, 255, 0).astype(np.uint8), np.dstack([grey] * 3)))
    return out


def cpu_median(fn, args: tuple, repeats: int) -> float:
    fn(*args)  # warm-up (JIT, caches)
    times = []
    for _ in range(repeats):
        t = time.process_time()
        fn(*args)
        times.append(time.process_time() - t)
    return float(np.median(times))


def anchors(birefnet: str | None):
    import py_sod_metrics as psm

    def fmv2(p, g, _):
        m = psm.FmeasureV2({h: getattr(psm, h)(True, True, with_binary=True) for h in HANDLERS})
        m.step(p, g)
        return m.get_results()

    def si(p, g, _):
        m = psm.SizeInvarianceFmeasureV2({h: getattr(psm, h)(True, True, with_binary=True) for h in HANDLERS})
        m.step(p, g)
        e = psm.SizeInvarianceMAE()
        e.step(p, g)
        return m.get_results(), e.get_results()

    def ms(p, g, _):
        m = psm.MSIoU(True, True, with_binary=True)
        m.step(p, g)
        return m.get_results()

    def cm(p, g, _):
        m = psm.ContextMeasure()
        m.step(p, g)
        return m.get_results()

    def ccm(p, g, img):
        m = psm.CamouflageContextMeasure()
        m.step(p, g, img=img)
        return m.get_results()

    out = {"confusion": fmv2, "si": si, "msiou": ms, "cm": cm, "cm_pysod": cm, "ccm": ccm, "ccm_pysod": ccm}
    if not birefnet:
        print(f"no --birefnet: the mse, mba and biou rows are left out ({BIREFNET_HOWTO})", flush=True)
        return out
    try:
        if not Path(birefnet).is_file():
            raise FileNotFoundError(f"no such file: {birefnet}")
        spec = importlib.util.spec_from_file_location("birefnet_metrics", birefnet)
        bm = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bm)
    except Exception as exc:  # any import failure of the scratch copy
        print(f"--birefnet {birefnet} could not be loaded ({exc!r}): the mse, mba and biou rows are left out "
              f"({BIREFNET_HOWTO})", flush=True)
    else:
        def one(cls):
            def run(p, g, _):
                m = cls()
                m.step(pred=p, gt=g)
                return m.get_results()
            return run

        out.update(mse=one(bm.MSEMeasure), mba=one(bm.MBAMeasure), biou=one(bm.BIoUMeasure))
    return out


def ours():
    import segmetrics as sm

    return {
        "confusion": lambda p, g, _: sm.confusion_metrics(p, g),
        "si": lambda p, g, _: sm.size_invariant_metrics(p, g),
        "msiou": lambda p, g, _: sm.msiou(p, g),
        "cm": lambda p, g, _: sm.context_measure(p, g),
        "ccm": lambda p, g, img: sm.camouflage_context_measure(p, g, img),
        "cm_pysod": lambda p, g, _: sm.context_measure(p, g, compat="pysod"),
        "ccm_pysod": lambda p, g, img: sm.camouflage_context_measure(p, g, img, compat="pysod"),
        "mse": lambda p, g, _: sm.mse(p, g),
        "mba": lambda p, g, _: sm.boundary_accuracy(p, g),
        "biou": lambda p, g, _: sm.boundary_iou(p, g),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--msiou-size", type=int, default=512, help="size for msiou and ccm (slow anchors)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--families", nargs="+", default=None)
    ap.add_argument("--birefnet", default=None, help="BiRefNet's evaluation/metrics.py (for mse, mba, biou)")
    ap.add_argument("--out", default=None, help="write the markdown table here")
    a = ap.parse_args()
    single_thread()
    warnings.simplefilter("ignore")
    ref, mine = anchors(a.birefnet), ours()
    fams = a.families or list(ref)
    unknown = [f for f in fams if f not in mine]
    if unknown:
        ap.error(f"--families: unknown {', '.join(unknown)}; choose from {', '.join(mine)}")
    missing = [f for f in fams if f not in ref]
    if missing:
        print(f"no anchor for {', '.join(missing)} (they need --birefnet): left out", flush=True)
        fams = [f for f in fams if f in ref]
    sets = {a.size: inputs(a.size)}
    if a.msiou_size != a.size:
        sets[a.msiou_size] = inputs(a.msiou_size)
    rows = []
    for fam in fams:
        size = a.msiou_size if fam in ("msiou", "ccm", "ccm_pysod") else a.size
        ratios = []
        for name, p, g, img in sets[size]:
            t_ref = cpu_median(ref[fam], (p, g, img), 1 if fam == "msiou" else a.repeats)
            t_our = cpu_median(mine[fam], (p, g, img), a.repeats)
            ratios.append(t_ref / t_our)
            print(f"{fam:9s} {size}² {name:16s} anchor {t_ref * 1e3:9.1f} ms  segmetrics {t_our * 1e3:8.1f} ms  "
                  f"x{t_ref / t_our:6.1f}", flush=True)
        rows.append((fam, size, float(np.median(ratios)), float(np.min(ratios))))
    table = ["| family | size | median ratio | worst ratio |", "|---|---:|---:|---:|"]
    table += [f"| {f} | {s}² | {m:.1f}× | {w:.1f}× |" for f, s, m, w in rows]
    text = (f"Anchor / segmetrics CPU-time ratios, single thread, {platform.processor() or platform.machine()}, "
            f"median of {a.repeats} calls per input (msiou anchor: 1 call).\n\n" + "\n".join(table))
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
