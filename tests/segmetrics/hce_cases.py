"""Deterministic generator of (pred uint8, gt uint8) pairs for HCE parity tests and golden values.

Every case is drawn with numpy / scipy only from a fixed seed, so the golden values in
``data/hce_golden_dis.json`` can be checked against freshly generated inputs (the JSON stores a
SHA-256 of each pair to detect drift of the generator).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
from scipy import ndimage

Case = tuple[np.ndarray, np.ndarray]


# ----------------------------------------------------------------------------- drawing helpers
def stamp_line(mask: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], width: int) -> None:
    """Draw a thick segment (row, col) -> (row, col) by stamping width×width squares along it."""
    h, w = mask.shape
    n = max(2, int(2 * np.hypot(p1[0] - p0[0], p1[1] - p0[1])) + 1)
    t = np.linspace(0.0, 1.0, n)
    rr = np.rint(p0[0] + t * (p1[0] - p0[0])).astype(int)
    cc = np.rint(p0[1] + t * (p1[1] - p0[1])).astype(int)
    lo = -(width // 2)
    for dr in range(lo, lo + width):
        for dc in range(lo, lo + width):
            r, c = rr + dr, cc + dc
            ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
            mask[r[ok], c[ok]] = True


def ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float, angle: float = 0.0) -> np.ndarray:
    """Filled (possibly rotated) ellipse mask."""
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    y, x = yy - cy, xx - cx
    ca, sa = np.cos(angle), np.sin(angle)
    u, v = ca * x + sa * y, -sa * x + ca * y
    return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0


def tree(h: int, w: int, rng: np.random.Generator, max_width: int = 6, depth: int = 6) -> np.ndarray:
    """A branching tree whose branch widths shrink from ``max_width`` to 1 px."""
    mask = np.zeros((h, w), bool)
    stack = [((h - 1.0, w / 2.0), -np.pi / 2, min(h, w) * 0.3, max_width, depth)]
    while stack:
        (r, c), ang, length, width, d = stack.pop()
        r1, c1 = r + length * np.sin(ang), c + length * np.cos(ang)
        stamp_line(mask, (r, c), (r1, c1), max(1, int(width)))
        if d > 0:
            for _ in range(int(rng.integers(2, 4))):
                stack.append(
                    ((r1, c1), ang + rng.uniform(-0.9, 0.9), length * rng.uniform(0.55, 0.8), width * 0.7, d - 1)
                )
    return mask


def curves(h: int, w: int, rng: np.random.Generator, n: int, width: int = 1) -> np.ndarray:
    """Hair-like wavy curves."""
    mask = np.zeros((h, w), bool)
    for _ in range(n):
        r0, c0 = rng.uniform(0, h), rng.uniform(0, w)
        ang = rng.uniform(0, 2 * np.pi)
        amp, freq = rng.uniform(2, 0.1 * min(h, w) + 2), rng.uniform(0.02, 0.15)
        length = rng.uniform(0.3, 0.9) * max(h, w)
        s = np.linspace(0, length, int(length) + 2)
        off = amp * np.sin(freq * s + rng.uniform(0, 6))
        rr = r0 + s * np.sin(ang) + off * np.cos(ang)
        cc = c0 + s * np.cos(ang) - off * np.sin(ang)
        for i in range(len(s) - 1):
            stamp_line(mask, (rr[i], cc[i]), (rr[i + 1], cc[i + 1]), width)
    return mask


def grid(h: int, w: int, step: int, width: int, angle_shift: int = 0) -> np.ndarray:
    """A fence / grid of lines."""
    mask = np.zeros((h, w), bool)
    for r in range(step // 2, h, step):
        stamp_line(mask, (r, 0), (r + angle_shift, w - 1), width)
    for c in range(step // 2, w, step):
        stamp_line(mask, (0, c), (h - 1, c + angle_shift), width)
    return mask


def blobs(h: int, w: int, rng: np.random.Generator, n: int, rmax: float) -> np.ndarray:
    """Union of random ellipses."""
    mask = np.zeros((h, w), bool)
    for _ in range(n):
        mask |= ellipse(
            h, w, rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, rmax), rng.uniform(2, rmax), rng.uniform(0, 3)
        )
    return mask


# ----------------------------------------------------------------------------- prediction helpers
def to_u8(x: np.ndarray) -> np.ndarray:
    """Float map in [0, 1] (clipped) to uint8 with rounding."""
    return np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def perturb(gt: np.ndarray, rng: np.random.Generator, *, shift: int = 1, blur: float = 1.0, noise: float = 0.1,
            add: int = 3, remove: int = 3, grow: int = 0) -> np.ndarray:  # fmt: skip
    """A plausible soft prediction of ``gt``: shifted, grown/shrunk, blobs added/removed, blurred, noisy."""
    h, w = gt.shape
    m = np.roll(gt, (int(rng.integers(-shift, shift + 1)), int(rng.integers(-shift, shift + 1))), axis=(0, 1))
    if grow > 0:
        m = ndimage.binary_dilation(m, iterations=grow)
    elif grow < 0:
        m = ndimage.binary_erosion(m, iterations=-grow)
    rmax = max(2.0, 0.08 * min(h, w))
    if add:
        m = m | blobs(h, w, rng, add, rmax)
    if remove:
        m = m & ~blobs(h, w, rng, remove, rmax)
    x = m.astype(float)
    if blur > 0:
        x = ndimage.gaussian_filter(x, blur)
    x = x + noise * rng.standard_normal((h, w))
    return to_u8(x)


def gt_u8(mask: np.ndarray) -> np.ndarray:
    """Boolean mask to a 0/255 uint8 GT."""
    return mask.astype(np.uint8) * 255


# ----------------------------------------------------------------------------- the cases
def _thin_lines(seed: int, width: int) -> Callable[[], Case]:
    def make() -> Case:
        rng = np.random.default_rng(seed)
        h, w = 96, 128
        g = np.zeros((h, w), bool)
        for _ in range(6):
            stamp_line(g, (rng.uniform(0, h), rng.uniform(0, w)), (rng.uniform(0, h), rng.uniform(0, w)), width)
        p = perturb(g, rng, shift=1, blur=0.7, noise=0.15, add=2, remove=4)
        return p, gt_u8(g)

    return make


def _simple(fn: Callable[[np.random.Generator], Case], seed: int) -> Callable[[], Case]:
    return lambda: fn(np.random.default_rng(seed))


def _fence(rng: np.random.Generator) -> Case:
    g = grid(120, 100, 14, 2, angle_shift=3)
    return perturb(g, rng, shift=1, blur=0.8, noise=0.2, add=3, remove=5), gt_u8(g)


def _grid_1px(rng: np.random.Generator) -> Case:
    g = grid(64, 64, 8, 1)
    return perturb(g, rng, shift=0, blur=0.0, noise=0.3, add=1, remove=3), gt_u8(g)


def _tree(rng: np.random.Generator) -> Case:
    g = tree(160, 140, rng)
    return perturb(g, rng, shift=1, blur=1.0, noise=0.1, add=3, remove=4), gt_u8(g)


def _tree_grown(rng: np.random.Generator) -> Case:
    g = tree(128, 128, rng, max_width=4)
    return perturb(g, rng, shift=0, blur=1.2, noise=0.05, add=0, remove=2, grow=2), gt_u8(g)


def _hair(rng: np.random.Generator) -> Case:
    g = curves(128, 160, rng, 8) | ellipse(128, 160, 64, 80, 30, 40)
    return perturb(g, rng, shift=1, blur=0.6, noise=0.2, add=2, remove=2), gt_u8(g)


def _hair_2px(rng: np.random.Generator) -> Case:
    g = curves(100, 100, rng, 5, width=2)
    return perturb(g, rng, shift=2, blur=0.5, noise=0.1, add=1, remove=1), gt_u8(g)


def _blob_holes(rng: np.random.Generator) -> Case:
    g = ellipse(120, 140, 60, 70, 50, 60) & ~blobs(120, 140, rng, 8, 8)
    return perturb(g, rng, shift=1, blur=1.5, noise=0.1, add=4, remove=4), gt_u8(g)


def _blob_holes_filled(rng: np.random.Generator) -> Case:
    g = ellipse(100, 100, 50, 50, 40, 40) & ~blobs(100, 100, rng, 6, 6)
    p = ndimage.binary_fill_holes(g) | blobs(100, 100, rng, 4, 5)
    return to_u8(p.astype(float)), gt_u8(g)


def _islands(rng: np.random.Generator) -> Case:
    g = blobs(128, 128, rng, 3, 30)
    p = g | (blobs(128, 128, rng, 12, 6) & ~ndimage.binary_dilation(g, iterations=8))
    p &= ~(blobs(128, 128, rng, 10, 5) & ndimage.binary_erosion(g, iterations=8))
    return to_u8(p.astype(float)), gt_u8(g)


def _noise_masks(rng: np.random.Generator) -> Case:
    g = rng.random((48, 64)) < 0.4
    p = rng.random((48, 64))
    return to_u8(p), gt_u8(g)


def _checker(rng: np.random.Generator) -> Case:
    yy, xx = np.mgrid[0:40, 0:40]
    g = (yy + xx) % 2 == 0
    p = ((yy // 2 + xx // 2) % 2 == 0).astype(float)
    return to_u8(p * 0.9 + 0.05 * rng.random((40, 40))), gt_u8(g)


def _edge_touching(rng: np.random.Generator) -> Case:
    h, w = 90, 110
    g = ellipse(h, w, 0, 0, 30, 40) | ellipse(h, w, h - 1, w - 1, 25, 20) | ellipse(h, w, 45, w + 5, 20, 20)
    stamp_line(g, (0, 60), (h - 1, 70), 2)
    return perturb(g, rng, shift=2, blur=1.0, noise=0.1, add=3, remove=3), gt_u8(g)


def _empty_gt_empty_pred(rng: np.random.Generator) -> Case:
    return np.zeros((32, 48), np.uint8), np.zeros((32, 48), np.uint8)


def _empty_gt_full_pred(rng: np.random.Generator) -> Case:
    return np.full((32, 48), 255, np.uint8), np.zeros((32, 48), np.uint8)


def _full_gt_empty_pred(rng: np.random.Generator) -> Case:
    return np.zeros((32, 48), np.uint8), np.full((32, 48), 255, np.uint8)


def _full_gt_full_pred(rng: np.random.Generator) -> Case:
    return np.full((32, 48), 255, np.uint8), np.full((32, 48), 255, np.uint8)


def _empty_gt_soft_pred(rng: np.random.Generator) -> Case:
    g = np.zeros((64, 64), bool)
    return perturb(blobs(64, 64, rng, 4, 10), rng, blur=1.0, noise=0.2), gt_u8(g)


def _full_gt_soft_pred(rng: np.random.Generator) -> Case:
    g = np.ones((64, 64), bool)
    x = 0.55 + 0.2 * rng.standard_normal((64, 64))
    x[20:40, 10:30] = 0.2
    return to_u8(x), gt_u8(g)


def _constant_pred(value: int) -> Callable[[np.random.Generator], Case]:
    def make(rng: np.random.Generator) -> Case:
        g = blobs(64, 80, rng, 3, 15)
        return np.full((64, 80), value, np.uint8), gt_u8(g)

    return make


def _pred_value_128(rng: np.random.Generator) -> Case:
    g = blobs(72, 72, rng, 3, 16)
    p = np.where(g, 200, 0).astype(np.uint8)
    p[ndimage.binary_dilation(g, iterations=3) & ~g] = 128
    p[10:30, 10:20] = 128
    p[50:60, 40:70] = 129
    return p, gt_u8(g)


def _low_contrast(rng: np.random.Generator) -> Case:
    g = blobs(96, 96, rng, 4, 18)
    x = ndimage.gaussian_filter(g.astype(float), 2.0)
    return np.rint(100 + 40 * x + 3 * rng.standard_normal((96, 96))).clip(0, 255).astype(np.uint8), gt_u8(g)


def _shifted_range(rng: np.random.Generator) -> Case:
    g = tree(96, 96, rng, max_width=3, depth=4)
    x = ndimage.gaussian_filter(g.astype(float), 0.8)
    return np.rint(20 + 200 * x / x.max()).astype(np.uint8), gt_u8(g)


def _row(rng: np.random.Generator) -> Case:
    g = np.zeros((1, 57), bool)
    g[0, 5:20] = g[0, 30:31] = g[0, 40:56] = True
    return to_u8(rng.random((1, 57)) * 0.4 + 0.6 * np.roll(g, 2)), gt_u8(g)


def _column(rng: np.random.Generator) -> Case:
    g = np.zeros((45, 1), bool)
    g[3:30, 0] = True
    return to_u8(rng.random((45, 1))), gt_u8(g)


def _tiny_8x8(rng: np.random.Generator) -> Case:
    g = np.zeros((8, 8), bool)
    g[2:6, 1:7] = True
    g[0, 0] = True
    return to_u8(rng.random((8, 8))), gt_u8(g)


def _odd_17x23(rng: np.random.Generator) -> Case:
    g = ellipse(17, 23, 8, 11, 6, 9) & ~ellipse(17, 23, 8, 11, 2, 3)
    return perturb(g, rng, shift=1, blur=0.5, noise=0.2, add=1, remove=1), gt_u8(g)


def _wide_31x200(rng: np.random.Generator) -> Case:
    g = curves(31, 200, rng, 3, width=2) | blobs(31, 200, rng, 2, 8)
    return perturb(g, rng, shift=1, blur=0.7, noise=0.15, add=2, remove=2), gt_u8(g)


def _tall_130x70(rng: np.random.Generator) -> Case:
    g = tree(130, 70, rng, max_width=3, depth=5)
    return perturb(g, rng, shift=1, blur=0.5, noise=0.1, add=2, remove=1, grow=1), gt_u8(g)


def _width_65(rng: np.random.Generator) -> Case:
    # 65 and 129 columns: objects across the 64-pixel word boundaries of the packed kernels
    g = grid(70, 129, 16, 1) | ellipse(70, 129, 35, 64, 20, 10)
    return perturb(g, rng, shift=1, blur=0.6, noise=0.2, add=3, remove=3), gt_u8(g)


def _scene(h: int, w: int, rng: np.random.Generator) -> Case:
    """Benchmark-like scene: ellipses plus a branching 1–6 px tree; perturbed, blurred, noisy prediction."""
    g = ellipse(h, w, 0.35 * h, 0.3 * w, 0.2 * h, 0.15 * w, 0.3) | ellipse(h, w, 0.6 * h, 0.7 * w, 0.15 * h, 0.2 * w)
    g |= tree(h, w, rng, max_width=6, depth=7)
    g &= ~blobs(h, w, rng, 6, 0.02 * min(h, w) + 2)
    return perturb(g, rng, shift=2, blur=1.5, noise=0.15, add=8, remove=8), gt_u8(g)


def scene(h: int, w: int, seed: int = 0) -> Case:
    """Public entry point for benchmarks: a deterministic synthetic (pred uint8, gt uint8) scene."""
    return _scene(h, w, np.random.default_rng(seed))


CASES: dict[str, Callable[[], Case]] = {
    "thin_lines_1px": _thin_lines(1, 1),
    "thin_lines_2px": _thin_lines(2, 2),
    "thin_lines_3px": _thin_lines(3, 3),
    "thin_lines_1px_b": _thin_lines(4, 1),
    "fence": _simple(_fence, 5),
    "grid_1px": _simple(_grid_1px, 6),
    "tree": _simple(_tree, 7),
    "tree_b": _simple(_tree, 8),
    "tree_grown_pred": _simple(_tree_grown, 9),
    "hair": _simple(_hair, 10),
    "hair_2px": _simple(_hair_2px, 11),
    "blob_holes": _simple(_blob_holes, 12),
    "blob_holes_filled": _simple(_blob_holes_filled, 13),
    "islands_and_holes": _simple(_islands, 14),
    "noise_masks": _simple(_noise_masks, 15),
    "checker_1px": _simple(_checker, 16),
    "edge_touching": _simple(_edge_touching, 17),
    "empty_gt_empty_pred": _simple(_empty_gt_empty_pred, 18),
    "empty_gt_full_pred": _simple(_empty_gt_full_pred, 19),
    "full_gt_empty_pred": _simple(_full_gt_empty_pred, 20),
    "full_gt_full_pred": _simple(_full_gt_full_pred, 21),
    "empty_gt_soft_pred": _simple(_empty_gt_soft_pred, 22),
    "full_gt_soft_pred": _simple(_full_gt_soft_pred, 23),
    "constant_pred_100": _simple(_constant_pred(100), 24),
    "constant_pred_200": _simple(_constant_pred(200), 25),
    "constant_pred_128": _simple(_constant_pred(128), 26),
    "pred_value_128": _simple(_pred_value_128, 27),
    "low_contrast_pred": _simple(_low_contrast, 28),
    "shifted_range_pred": _simple(_shifted_range, 29),
    "row_1x57": _simple(_row, 30),
    "column_45x1": _simple(_column, 31),
    "tiny_8x8": _simple(_tiny_8x8, 32),
    "odd_17x23": _simple(_odd_17x23, 33),
    "wide_31x200": _simple(_wide_31x200, 34),
    "tall_130x70": _simple(_tall_130x70, 35),
    "width_129_word_boundaries": _simple(_width_65, 36),
    "scene_320": lambda: scene(320, 320, 37),
    "scene_300x451": lambda: scene(300, 451, 38),
    "large_512x768": lambda: scene(512, 768, 39),
    "large_1024": lambda: scene(1024, 1024, 40),
}

#: Cases too large for the quick test run (still checked, but only by the golden test).
LARGE = ("large_512x768", "large_1024")


def make_case(name: str) -> Case:
    """Return the ``(pred uint8, gt uint8)`` pair of a named case."""
    pred, gt = CASES[name]()
    return np.ascontiguousarray(pred), np.ascontiguousarray(gt)


def case_hash(pred: np.ndarray, gt: np.ndarray) -> str:
    """SHA-256 of the pair (shape and bytes), to detect drift of the generator."""
    h = hashlib.sha256()
    for a in (pred, gt):
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a, dtype=np.uint8).tobytes())
    return h.hexdigest()[:16]
