"""Evaluate the bundled demo predictions with all six DIS metrics and print the tables.

The smallest use of ``segmetrics.DatasetMetrics`` (the README's main job is ``train_isnet.py``): it needs
nothing but the installed package and the small demo set in ``examples/data`` (regenerate it with
``examples/make_demo_data.py``).

Run: ``python examples/evaluate_demo.py [--pred DIR --gt DIR]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2

import segmetrics

DATA = Path(__file__).resolve().parent / "data"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pred", type=Path, default=DATA / "pred", help="folder of 8-bit prediction PNGs")
    parser.add_argument("--gt", type=Path, default=DATA / "gt", help="folder of 8-bit ground-truth PNGs")
    args = parser.parse_args(argv)
    for flag, folder in (("--gt", args.gt), ("--pred", args.pred)):
        if not folder.is_dir():
            parser.error(f"argument {flag}: {folder} is not a folder")
    gt_paths = sorted(p for p in args.gt.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not gt_paths:
        parser.error(f"argument --gt: no .png file in {args.gt}")

    acc = segmetrics.DatasetMetrics(per_image=True)  # maxFβ, Fβʷ, M, Sα, Eφ, HCEγ with default conventions
    start = time.perf_counter()
    for gt_path in gt_paths:
        pred_path = args.pred / gt_path.name
        pred = cv2.imread(str(pred_path), cv2.IMREAD_GRAYSCALE)
        gt = cv2.imread(str(gt_path), cv2.IMREAD_GRAYSCALE)
        if pred is None or gt is None:
            raise SystemExit(f"could not read the pair {gt_path.name} from {args.pred} and {args.gt}")
        if pred.shape != gt.shape:
            raise SystemExit(f"{pred_path} is {pred.shape[0]}x{pred.shape[1]} but {gt_path} is "
                             f"{gt.shape[0]}x{gt.shape[1]} (H x W)")
        acc.update(pred, gt, name=gt_path.stem)
    elapsed = time.perf_counter() - start

    print(f"{'image':<12} {'maxF':>7} {'Fw':>7} {'MAE':>7} {'S':>7} {'meanE':>7} {'HCE':>5}")
    for row in acc.per_image_table():
        print(
            f"{row['name']:<12} {row['fm.max']:7.4f} {row['wfm']:7.4f} {row['mae']:7.4f} "
            f"{row['sm']:7.4f} {row['em.mean']:7.4f} {row['hce']:5.0f}"
        )
    res = acc.compute()
    print(
        f"\n{'dataset':<12} {res['fm']['max']:7.4f} {res['wfm']:7.4f} {res['mae']:7.4f} "
        f"{res['sm']:7.4f} {res['em']['mean']:7.4f} {res['hce']['total']:5.1f}"
    )
    print(f"\n{res['n_images']} images evaluated in {elapsed:.2f} s (first call includes numba compilation)")


if __name__ == "__main__":
    main()
