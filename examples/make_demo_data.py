"""Regenerate the small bundled demo set in ``examples/data`` (deterministic, seed 0).

Each pair is a dichotomous-style ground truth (blobs with holes plus a thin branching structure)
and a plausible imperfect prediction (shifted, blurred, noisy, with missed thin parts), written as
8-bit PNGs: ``examples/data/gt/<name>.png`` and ``examples/data/pred/<name>.png``.

Run: ``python examples/make_demo_data.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

SIZE = (192, 256)  # (H, W)


def _gt(rng: np.random.Generator) -> np.ndarray:
    h, w = SIZE
    gt = np.zeros((h, w), np.uint8)
    for _ in range(rng.integers(1, 4)):
        center = (int(rng.integers(40, w - 40)), int(rng.integers(40, h - 40)))
        axes = (int(rng.integers(15, 50)), int(rng.integers(10, 40)))
        cv2.ellipse(gt, center, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
        if rng.random() < 0.6:
            cv2.circle(gt, center, int(min(axes) * 0.4), 0, -1)
    # a branching tree of thin lines, 1-4 px wide
    stack = [(w // 2, h - 5, -np.pi / 2, 60.0, 4)]
    while stack:
        x, y, ang, length, width = stack.pop()
        x2, y2 = int(x + length * np.cos(ang)), int(y + length * np.sin(ang))
        cv2.line(gt, (x, y), (x2, y2), 255, max(1, width))
        if length > 12:
            for da in (-0.5, 0.45):
                stack.append((x2, y2, ang + da + rng.uniform(-0.2, 0.2), length * 0.65, max(1, width - 1)))
    return gt


def _pred(gt: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    p = np.roll(gt, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1)).astype(np.float32)
    thin = cv2.morphologyEx(gt, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    p = np.where((gt > 0) & (thin == 0) & (rng.random(gt.shape) < 0.5), 0.0, p)
    p = cv2.GaussianBlur(p, (7, 7), 2.0) + rng.normal(0, 12, gt.shape)
    return np.clip(p, 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)  # --help, and no stray arguments
    root = Path(__file__).resolve().parent / "data"
    rng = np.random.default_rng(0)
    for sub in ("gt", "pred"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(6):
        gt = _gt(rng)
        cv2.imwrite(str(root / "gt" / f"sample_{i:02d}.png"), gt)
        cv2.imwrite(str(root / "pred" / f"sample_{i:02d}.png"), _pred(gt, rng))


if __name__ == "__main__":
    main()
