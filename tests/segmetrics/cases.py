"""Deterministic (pred, gt) test cases shared by the segmetrics parity tests.

Every case is regenerated from a fixed seed by numpy code only, so no image data is committed.
``pred`` and ``gt`` are uint8 0..255 maps (the form pysodmetrics and the DIS script expect); the
ground truth uses 0/255 (foreground is ``> 128``).

Usage::

    from tests.segmetrics.cases import CASES, LARGE_CASES, make_case
    for name in CASES:
        pred, gt = make_case(name)

``CASES`` holds the fast set (all sizes <= 96 px per side), ``LARGE_CASES`` a few 256-512 px
images for slower parity checks.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np

__all__ = ["CASES", "LARGE_CASES", "make_case", "make_pred", "synthetic_gt"]


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def _u8(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, 255, 0).astype(np.uint8)


def _box_blur(x: np.ndarray, k: int) -> np.ndarray:
    """Separable box blur with edge padding (float64 in, float64 out)."""
    if k <= 1:
        return x.astype(np.float64)
    pad = k // 2
    y = np.pad(x.astype(np.float64), pad, mode="edge")
    c = np.cumsum(np.pad(y, ((0, 0), (1, 0))), axis=1)
    y = (c[:, k:] - c[:, :-k]) / k
    c = np.cumsum(np.pad(y, ((1, 0), (0, 0))), axis=0)
    y = (c[k:] - c[:-k]) / k
    return y[: x.shape[0], : x.shape[1]]


def _draw_line(mask: np.ndarray, r0: float, c0: float, r1: float, c1: float, width: int) -> None:
    h, w = mask.shape
    n = int(max(abs(r1 - r0), abs(c1 - c0)) * 2) + 2
    rr = np.linspace(r0, r1, n)
    cc = np.linspace(c0, c1, n)
    half = (width - 1) / 2.0
    for dr in np.arange(-half, half + 0.5):
        for dc in np.arange(-half, half + 0.5):
            r = np.clip(np.round(rr + dr).astype(int), 0, h - 1)
            c = np.clip(np.round(cc + dc).astype(int), 0, w - 1)
            mask[r, c] = True


def _tree(mask: np.ndarray, rng: np.random.Generator, r: float, c: float, angle: float, length: float,
          width: int, depth: int) -> None:
    if depth == 0 or length < 2:
        return
    r1 = r + length * np.sin(angle)
    c1 = c + length * np.cos(angle)
    _draw_line(mask, r, c, r1, c1, width)
    for turn in (-0.5, 0.45):
        _tree(mask, rng, r1, c1, angle + turn + rng.uniform(-0.2, 0.2), length * 0.7,
              max(1, width - 1), depth - 1)


def _ellipse(h: int, w: int, cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def synthetic_gt(h: int, w: int, rng: np.random.Generator, *, tree_width: int = 3) -> np.ndarray:
    """A boolean GT with two ellipses (one with a hole) and a branching tree of 1..``tree_width`` px."""
    m = _ellipse(h, w, h * 0.35, w * 0.3, h * 0.18, w * 0.12)
    m |= _ellipse(h, w, h * 0.7, w * 0.65, h * 0.15, w * 0.2)
    m &= ~_ellipse(h, w, h * 0.7, w * 0.65, h * 0.05, w * 0.06)
    _tree(m, rng, h * 0.95, w * 0.5, -np.pi / 2, h * 0.3, tree_width, 5)
    return m


def make_pred(gt: np.ndarray, rng: np.random.Generator, *, shift: int = 1, blur: int = 3,
              noise: float = 0.08) -> np.ndarray:
    """A uint8 prediction derived from a boolean GT: shifted, box-blurred and noisy."""
    x = np.roll(gt.astype(np.float64), (shift, -shift), axis=(0, 1))
    x = _box_blur(x, blur)
    x = x + noise * rng.standard_normal(gt.shape)
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- case builders


def _lines(h: int, w: int, width: int) -> Callable[[np.random.Generator], tuple]:
    def build(rng):
        g = np.zeros((h, w), bool)
        _draw_line(g, 2, 3, h - 3, w - 5, width)
        _draw_line(g, h - 4, 2, 5, w - 3, width)
        return make_pred(g, rng, blur=1, noise=0.15), _u8(g)
    return build


def _fence(rng):
    g = np.zeros((48, 64), bool)
    g[:, 5::9] = True
    g[10:12, :] = True
    g[35, :] = True
    return make_pred(g, rng, shift=0, blur=3), _u8(g)


def _grid(rng):
    g = np.zeros((40, 40), bool)
    g[::4, :] = True
    g[:, ::4] = True
    return make_pred(g, rng, shift=1, blur=1, noise=0.2), _u8(g)


def _tree_case(width):
    def build(rng):
        g = np.zeros((64, 64), bool)
        _tree(g, rng, 62, 32, -np.pi / 2, 22, width, 5)
        return make_pred(g, rng), _u8(g)
    return build


def _hair(rng):
    g = np.zeros((64, 80), bool)
    for _ in range(6):
        r, c = rng.uniform(5, 59), rng.uniform(5, 75)
        a = rng.uniform(0, 2 * np.pi)
        for _ in range(25):
            r2, c2 = r + 2 * np.sin(a), c + 2 * np.cos(a)
            _draw_line(g, r, c, r2, c2, 1)
            r, c, a = r2, c2, a + rng.uniform(-0.5, 0.5)
    return make_pred(g, rng, shift=0, blur=1, noise=0.25), _u8(g)


def _blob_holes(rng):
    g = _ellipse(60, 70, 30, 35, 25, 30)
    g &= ~_ellipse(60, 70, 25, 25, 6, 5)
    g &= ~_ellipse(60, 70, 38, 46, 4, 8)
    return make_pred(g, rng, shift=2, blur=5), _u8(g)


def _mixed(h, w, tree_width=3, **kw):
    def build(rng):
        g = synthetic_gt(h, w, rng, tree_width=tree_width)
        return make_pred(g, rng, **kw), _u8(g)
    return build


def _const_pred(value, gt_kind="blob"):
    def build(rng):
        g = _ellipse(32, 40, 15, 20, 8, 10) if gt_kind == "blob" else np.zeros((32, 40), bool)
        return np.full((32, 40), value, np.uint8), _u8(g)
    return build


def _empty_gt(rng):
    g = np.zeros((32, 32), bool)
    return make_pred(_ellipse(32, 32, 16, 16, 6, 6), rng), _u8(g)


def _full_gt(rng):
    g = np.ones((32, 32), bool)
    return make_pred(_ellipse(32, 32, 16, 16, 12, 12), rng), _u8(g)


def _empty_empty(rng):
    return np.zeros((24, 24), np.uint8), np.zeros((24, 24), np.uint8)


def _full_full(rng):
    return np.full((24, 24), 255, np.uint8), np.full((24, 24), 255, np.uint8)


def _empty_pred_blob_gt(rng):
    return np.zeros((32, 32), np.uint8), _u8(_ellipse(32, 32, 16, 16, 8, 8))


def _full_pred_blob_gt(rng):
    return np.full((32, 32), 255, np.uint8), _u8(_ellipse(32, 32, 16, 16, 8, 8))


def _perfect(rng):
    g = synthetic_gt(48, 48, rng)
    return _u8(g), _u8(g)


def _low_contrast(rng):
    g = _ellipse(40, 48, 20, 24, 10, 14)
    p = 100 + np.round(20 * _box_blur(g.astype(float), 5) + rng.integers(0, 3, g.shape))
    return p.astype(np.uint8), _u8(g)


def _binary_128(rng):
    g = _ellipse(32, 32, 15, 15, 9, 7)
    p = np.where(np.roll(g, 2, axis=1), 128, 0).astype(np.uint8)
    return p, _u8(g)


def _gt_128(rng):
    """GT stored with the ambiguous value 128 (background under `> 128`) and 129."""
    g = np.zeros((20, 20), np.uint8)
    g[4:12, 4:12] = 128
    g[8:16, 8:16] = 129
    return make_pred(g > 0, rng), g


def _row(n):
    def build(rng):
        g = np.zeros((1, n), bool)
        g[0, n // 3: n // 2] = True
        return make_pred(g, rng, shift=0, blur=1), _u8(g)
    return build


def _col(n):
    def build(rng):
        g = np.zeros((n, 1), bool)
        g[n // 4: n // 2, 0] = True
        return make_pred(g, rng, shift=0, blur=1), _u8(g)
    return build


def _tiny(h, w):
    def build(rng):
        g = rng.random((h, w)) > 0.6
        return rng.integers(0, 256, (h, w)).astype(np.uint8), _u8(g)
    return build


def _single_px(rng):
    g = np.zeros((9, 11), bool)
    g[3, 4] = True
    p = np.zeros((9, 11), np.uint8)
    p[3, 4] = 200
    p[5, 5] = 90
    return p, _u8(g)


def _gt_last_column(rng):
    """S-measure NaN case of pysodmetrics / MATLAB: the GT centroid rounds onto the last column."""
    g = np.zeros((16, 16), bool)
    g[3:12, 15] = True
    return make_pred(g, rng, shift=0, blur=1), _u8(g)


def _gt_last_pixel(rng):
    g = np.zeros((12, 14), bool)
    g[11, 13] = True
    return make_pred(g, rng, shift=0, blur=1), _u8(g)


def _centroid_tie(rng):
    """A 2-px-wide object at columns 8-9: the mean column is 8.5 (pysod splits at 9, MATLAB at 10)."""
    g = np.zeros((20, 20), bool)
    g[4:15, 8:10] = True
    g[4:14, 8] = True
    p = np.zeros((20, 20), np.uint8)
    p[3:16, 7:11] = 180
    p[5:13, 9] = 255
    return p, _u8(g)


def _two_level(rng):
    """Prediction with two values whose adaptive threshold falls exactly on a pixel value."""
    g = _ellipse(30, 30, 15, 15, 8, 8)
    p = np.zeros((30, 30), np.uint8)
    p[:15] = 77
    return p, _u8(g)


def _checker(rng):
    yy, xx = np.mgrid[:64, :64]
    g = (yy + xx) % 2 == 0
    return make_pred(g, rng, shift=0, blur=1, noise=0.3), _u8(g)


def _random_noise(rng):
    return rng.integers(0, 256, (33, 47)).astype(np.uint8), _u8(rng.random((33, 47)) > 0.7)


_BUILDERS: dict[str, Callable[[np.random.Generator], tuple]] = {
    "line_1px": _lines(40, 50, 1),
    "line_2px": _lines(41, 37, 2),
    "line_3px": _lines(50, 45, 3),
    "fence": _fence,
    "grid": _grid,
    "tree_1px": _tree_case(1),
    "tree_3px": _tree_case(3),
    "hair": _hair,
    "blob_holes": _blob_holes,
    "mixed_96x80": _mixed(96, 80),
    "mixed_sharp": _mixed(64, 72, tree_width=2, blur=1, noise=0.02),
    "empty_gt": _empty_gt,
    "full_gt": _full_gt,
    "empty_pred_empty_gt": _empty_empty,
    "full_pred_full_gt": _full_full,
    "empty_pred_blob_gt": _empty_pred_blob_gt,
    "full_pred_blob_gt": _full_pred_blob_gt,
    "perfect": _perfect,
    "const_pred_77": _const_pred(77),
    "const_pred_128": _const_pred(128),
    "const_pred_128_empty_gt": _const_pred(128, "empty"),
    "const_pred_255_empty_gt": _const_pred(255, "empty"),
    "binary_pred_128": _binary_128,
    "gt_values_128_129": _gt_128,
    "low_contrast": _low_contrast,
    "row_1x57": _row(57),
    "col_45x1": _col(45),
    "size_1x1": _tiny(1, 1),
    "size_1x2": _tiny(1, 2),
    "size_8x8": _tiny(8, 8),
    "size_17x23": _tiny(17, 23),
    "single_px": _single_px,
    "gt_last_column": _gt_last_column,
    "gt_last_pixel": _gt_last_pixel,
    "smeasure_centroid_tie": _centroid_tie,
    "two_level_pred": _two_level,
    "checker_1px_64": _checker,
    "random_noise": _random_noise,
}

_LARGE: dict[str, Callable[[np.random.Generator], tuple]] = {
    "large_512": _mixed(512, 512, tree_width=6, shift=3, blur=7, noise=0.1),
    "large_300x520": _mixed(300, 520, tree_width=4, shift=2, blur=5, noise=0.05),
    "large_tree_256": _mixed(256, 256, tree_width=1, shift=1, blur=3, noise=0.2),
}

#: Names of the fast cases (each <= 96 px per side).
CASES: tuple[str, ...] = tuple(_BUILDERS)
#: Names of a few larger cases (256-512 px per side).
LARGE_CASES: tuple[str, ...] = tuple(_LARGE)


def make_case(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(pred_u8, gt_u8)`` for a case name from ``CASES`` or ``LARGE_CASES``."""
    builder = _BUILDERS.get(name) or _LARGE.get(name)
    if builder is None:
        raise KeyError(f"unknown case {name!r}")
    pred, gt = builder(_rng(name))
    assert pred.dtype == np.uint8 and gt.dtype == np.uint8 and pred.shape == gt.shape, name
    return np.ascontiguousarray(pred), np.ascontiguousarray(gt)
