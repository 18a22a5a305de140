"""Slow, readable float64 reference implementations used by the parity tests (our own code).

They follow the papers' definitions pixel by pixel (no histograms, no closed forms) and are used
for the conventions pysodmetrics does not implement (MATLAB modes, NaN avoidance).
"""

from __future__ import annotations

import numpy as np

EPS = np.spacing(1.0)


def normalized(pred_u8: np.ndarray) -> np.ndarray:
    p = pred_u8 / 255.0
    if p.max() != p.min():
        p = (p - p.min()) / (p.max() - p.min())
    return p


def emeasure_binary(b: np.ndarray, g: np.ndarray) -> float:
    """E-measure of one binary map, evaluated per pixel."""
    b = b.astype(np.float64)
    gf = g.astype(np.float64)
    n = g.size
    if g.sum() == 0:
        enh = 1.0 - b
    elif g.sum() == n:
        enh = b
    else:
        pb = b - b.mean()
        pg = gf - gf.mean()
        align = 2 * pg * pb / (pg * pg + pb * pb + EPS)
        enh = (align + 1) ** 2 / 4
    return float(enh.sum() / (n - 1 + EPS))


def smeasure_ref(p: np.ndarray, g: np.ndarray, *, alpha: float = 0.5, matlab: bool = False,
                 skip_empty: bool = False) -> float:
    """S-measure with either centroid convention and optional skipping of empty blocks."""
    y = g.mean()
    if y == 0:
        return float(1 - p.mean())
    if y == 1:
        return float(p.mean())

    def s_obj(x):
        m = x.mean()
        sd = x.std(ddof=1) if x.size > 1 else 0.0
        return 2 * m / (m * m + 1 + sd + EPS)

    obj = s_obj(p[g]) * y + s_obj(1 - p[~g]) * (1 - y)
    rows, cols = np.nonzero(g)
    if matlab:
        cy = int(np.floor(np.mean(rows + 1.0) + 0.5))
        cx = int(np.floor(np.mean(cols + 1.0) + 0.5))
    else:
        cy = int(np.round(rows.mean())) + 1
        cx = int(np.round(cols.mean())) + 1
    h, w = g.shape
    reg = 0.0
    for r0, r1, c0, c1 in ((0, cy, 0, cx), (0, cy, cx, w), (cy, h, 0, cx), (cy, h, cx, w)):
        bp, bg = p[r0:r1, c0:c1], g[r0:r1, c0:c1].astype(np.float64)
        n = bp.size
        if n == 0:
            if skip_empty:
                continue
            return float("nan")
        x, yy = bp.mean(), bg.mean()
        sx = ((bp - x) ** 2).sum() / (n - 1 + EPS)
        sy = ((bg - yy) ** 2).sum() / (n - 1 + EPS)
        sxy = ((bp - x) * (bg - yy)).sum() / (n - 1 + EPS)
        a = 4 * x * yy * sxy
        b = (x * x + yy * yy) * (sx + sy)
        ssim = a / (b + EPS) if a != 0 else (1.0 if b == 0 else 0.0)
        reg += ssim * n / (h * w)
    return float(max(0.0, alpha * obj + (1 - alpha) * reg))
