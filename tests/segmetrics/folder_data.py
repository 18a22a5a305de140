"""A small generated dataset on disk for the folder / CLI tests (regenerated from seeds, nothing stored).

Layout under ``root``::

    gt/    im0..im5.png (im5 is a 3-channel grey PNG, as DIS5K ships some masks)
    good/  a complete method: every GT has a prediction (im2 as a 16-bit PNG)
    bad/   a method with a corrupt file (im3), a missing file (im4) and an extra file (zzz)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tests.segmetrics.cases import make_pred, synthetic_gt

SIZES = [(48, 40), (40, 56), (33, 47), (48, 48), (40, 40), (36, 44)]
NAMES = [f"im{i}" for i in range(len(SIZES))]


def make_dataset(root: Path) -> dict[str, Path]:
    rng = np.random.default_rng(1234)
    dirs = {k: root / k for k in ("gt", "good", "bad")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    for i, (name, (h, w)) in enumerate(zip(NAMES, SIZES)):
        gt = np.where(synthetic_gt(h, w, rng, tree_width=2), 255, 0).astype(np.uint8)
        if name == "im5":
            cv2.imwrite(str(dirs["gt"] / f"{name}.png"), np.dstack([gt, gt, gt]))
        else:
            cv2.imwrite(str(dirs["gt"] / f"{name}.png"), gt)
        good = make_pred(gt > 128, rng, shift=1, blur=3, noise=0.1)
        bad = make_pred(gt > 128, rng, shift=2 + i % 2, blur=5, noise=0.2)
        if name == "im2":
            cv2.imwrite(str(dirs["good"] / f"{name}.png"), good.astype(np.uint16) * 257)  # 16-bit, same values
        else:
            cv2.imwrite(str(dirs["good"] / f"{name}.png"), good)
        if name == "im3":
            (dirs["bad"] / f"{name}.png").write_bytes(b"\x89PNG\r\n\x1a\n corrupt")
        elif name != "im4":
            cv2.imwrite(str(dirs["bad"] / f"{name}.png"), bad)
    cv2.imwrite(str(dirs["bad"] / "zzz.png"), np.zeros((8, 8), np.uint8))
    return dirs


def load_pair(dirs: dict[str, Path], method: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The (uint8 pred, uint8 gt) pair as pysodmetrics users read it (grey, 8-bit)."""
    g = cv2.imread(str(dirs["gt"] / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    p = cv2.imread(str(dirs[method] / f"{name}.png"), cv2.IMREAD_UNCHANGED)
    if p.dtype == np.uint16:
        p = (p // 257).astype(np.uint8)
    return p, g
