"""Procedural DIS-like data: thin structures with soft-edged masks over cluttered backgrounds, no downloads.

Every sample is a pure function of ``(seed, index)``: it draws from its own
``np.random.default_rng([seed, index])``, so samples do not depend on the order in which they are made
nor on which DataLoader worker makes them.

What a sample holds (the default, "DIS-like" mode):

- 1–2 structures from: thin wires and cables (cubic Béziers 0.6–5 px wide), fences and meshes
  (square or diamond lattices, perspective-warped, in a frame), branching trees, spoked wheels (alone or
  as a bicycle-like pair with a frame), and objects with holes and jagged outlines (perforated plates,
  rough blobs);
- a textured, cluttered background: a random colour-jittered crop of one of scikit-image's bundled photos
  or textures, or fractal noise between two colours, with defocused distractor lines and blobs that are
  not in the mask (hard negatives);
- a foreground that is a shaded colour or another photo crop;
- the mask drawn at 4× resolution and area-downsampled, so the GT (alpha·255, uint8) has the soft,
  anti-aliased edges of DIS5K's GT; the image is the alpha composite, then optionally blurred, noised
  and JPEG re-encoded.

``easy=True`` gives solid-coloured blobs, ellipses and polygons (some with holes) over smooth noise: the
kind of data a small interactive-segmentation model learns in minutes. :func:`generate_scene` returns
several objects with an instance-id map.

The backgrounds use the photos bundled in scikit-image's wheel (no download): ``astronaut``, ``coffee``,
``chelsea``, ``rocket``, ``camera``, ``hubble_deep_field`` and the ``grass``, ``gravel`` and ``brick``
textures, all public domain or CC0 per scikit-image's ``skimage.data`` documentation (credit: the
scikit-image developers and the photos' authors named there).

Run ``python examples/dis_synth.py OUT_DIR -n 300 --size 256`` to write a DIS5K-like folder
(``OUT_DIR/im/0000.jpg``, ``OUT_DIR/gt/0000.png``).
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

SUPERSAMPLE = 4
#: Smallest side (pixels) of a generated sample.
MIN_SIZE = 16
"""The mask is drawn at this many times the output resolution, then area-downsampled (soft edges)."""

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "hubble_deep_field")
TEXTURES = ("grass", "gravel", "brick")
FG_FRACTION = (0.01, 0.40)
"""Accepted foreground fraction (mean alpha) of a sample; a draw outside it is redrawn."""

Size = int | tuple[int, int]


# --------------------------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------------------------


def _hw(size: Size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        h = w = int(size)
    elif isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(s, (int, np.integer)) for s in size):
        h, w = int(size[0]), int(size[1])
    else:
        raise TypeError(f"size must be an int or a (height, width) pair of ints, got {size!r}")
    if h < MIN_SIZE or w < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE} pixels per side, got {(h, w)}")
    return h, w


@functools.cache
def _bundled(name: str) -> np.ndarray:
    """One of scikit-image's bundled images as RGB uint8 (grey textures repeated to 3 channels)."""
    from skimage import data

    im = np.asarray(getattr(data, name)())
    if im.ndim == 2:
        im = np.repeat(im[..., None], 3, axis=2)
    return np.ascontiguousarray(im[..., :3].astype(np.uint8))


def _crop(rng: np.random.Generator, src: np.ndarray, h: int, w: int) -> np.ndarray:
    """A random crop of ``src`` with the aspect of (h, w), random scale and flip, resized to (h, w)."""
    sh, sw = src.shape[:2]
    aspect = w / h
    ch = min(sh, sw / aspect) * rng.uniform(0.35, 1.0)
    cw = ch * aspect
    y0 = rng.uniform(0, sh - ch)
    x0 = rng.uniform(0, sw - cw)
    patch = src[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
    out = cv2.resize(patch, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.flip(out, 1) if rng.random() < 0.5 else out


def _jitter(rng: np.random.Generator, im: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Colour jitter as one per-channel affine map: tint (grey sources), permutation, contrast, brightness, gains."""
    src = im[..., rng.permutation(3)] if rng.random() < 0.3 * strength else im
    probe = src[::8, ::8].reshape(-1, 3).astype(np.float32)
    tint = np.ones(3, np.float32)
    if np.ptp(probe.mean(axis=0)) < 1.0 or rng.random() < 0.3:  # grey source: tint it
        tint = rng.uniform(0.5, 1.3, size=3).astype(np.float32)
    gains = rng.uniform(1 - 0.25 * strength, 1 + 0.25 * strength, size=3).astype(np.float32)
    mean = float((probe * tint).mean())
    contrast = rng.uniform(1 - 0.4 * strength, 1 + 0.3 * strength)
    bright = rng.uniform(1 - 0.3 * strength, 1 + 0.3 * strength)
    scale = (tint * contrast * gains).astype(np.float32)
    offset = (mean * (bright - contrast) * gains).astype(np.float32)
    return np.clip(src * scale + offset, 0, 255)


def _fractal(rng: np.random.Generator, h: int, w: int, octaves: int = 5, persistence: float = 0.55) -> np.ndarray:
    """Fractal value noise in [0, 1], shape (h, w), float32 (built at most 256 pixels wide, then resized)."""
    f = min(1.0, 256.0 / max(h, w))
    sh, sw = max(8, round(h * f)), max(8, round(w * f))
    out = np.zeros((sh, sw), np.float32)
    amp, total = 1.0, 0.0
    base = int(rng.integers(2, 5))
    for o in range(octaves):
        cells = base * 2**o
        small = rng.random((cells + 1, cells + 1), dtype=np.float32)
        out += amp * cv2.resize(small, (sw, sh), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    lo, hi = out.min(), out.max()
    out = (out - lo) / max(hi - lo, 1e-6)
    return out if (sh, sw) == (h, w) else cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)


def _colour(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array([[[rng.integers(0, 180), rng.integers(40, 256), rng.integers(40, 256)]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _noise_background(rng: np.random.Generator, h: int, w: int, smooth: bool = False) -> np.ndarray:
    t = _fractal(rng, h, w, octaves=2 if smooth else 6, persistence=0.5 if smooth else 0.6)[..., None]
    c0, c1 = _colour(rng), _colour(rng)
    return c0 * (1 - t) + c1 * t


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    r = rng.random()
    if r < 0.55:
        bg = _jitter(rng, _crop(rng, _bundled(PHOTOS[rng.integers(len(PHOTOS))]), h, w))
    elif r < 0.8:
        bg = _jitter(rng, _crop(rng, _bundled(TEXTURES[rng.integers(len(TEXTURES))]), h, w))
    else:
        bg = _noise_background(rng, h, w)
    return bg.astype(np.float32)


def _foreground(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A shaded solid colour (gradient + low-frequency shading) or a jittered photo crop."""
    if rng.random() < 0.3:
        return _jitter(rng, _crop(rng, _bundled(PHOTOS[rng.integers(len(PHOTOS))]), h, w))
    base = _colour(rng)
    sh, sw = max(8, h // 8), max(8, w // 8)  # shading is smooth: build it small
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    grad = np.cos(ang) * xx / sw + np.sin(ang) * yy / sh
    shade = 0.75 + 0.5 * (grad - grad.mean()) + 0.3 * (_fractal(rng, sh, sw, octaves=3) - 0.5)
    shade = cv2.resize(shade.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(shade[..., None] * base, 0, 255)


def _contrast_fix(rng: np.random.Generator, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Push the foreground away from the background's mean luminance under the mask, most of the time."""
    m = alpha > 0.5
    if not m.any() or rng.random() < 0.15:  # some low-contrast (camouflaged) samples stay as drawn
        return fg
    lf = fg[m].mean()
    lb = bg[m].mean()
    need = rng.uniform(35, 90)
    if abs(lf - lb) >= need:
        return fg
    shift = need - abs(lf - lb)
    direction = 1.0 if (lf > lb and lb + need < 255) or lb - need < 0 else -1.0
    return np.clip(fg + direction * shift, 0, 255)


def _bezier(rng: np.random.Generator, h: int, w: int, n: int = 48, span: float = 1.2) -> np.ndarray:
    """Points (n, 2) (x, y) of a random cubic Bézier across the frame (may leave it)."""
    p = np.empty((4, 2))
    side = rng.integers(4)
    start = rng.uniform(0, 1, 2)
    end = rng.uniform(0, 1, 2)
    if side == 0:
        start[0], end[0] = -0.1, 1.1
    elif side == 1:
        start[1], end[1] = -0.1, 1.1
    p[0], p[3] = start, end
    p[1] = rng.uniform(-0.2 * span, 1 + 0.2 * span, 2)
    p[2] = rng.uniform(-0.2 * span, 1 + 0.2 * span, 2)
    t = np.linspace(0, 1, n)[:, None]
    pts = (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t**2 * p[2] + t**3 * p[3]
    return pts * np.array([w, h])


# --------------------------------------------------------------------------------------------------------------------
# structures: each draws 255 into a supersampled canvas; coordinates are given in output pixels
# --------------------------------------------------------------------------------------------------------------------


class _Canvas:
    """A supersampled uint8 mask; drawing calls take output-pixel coordinates and widths."""

    def __init__(self, h: int, w: int, s: int = SUPERSAMPLE):
        self.h, self.w, self.s = h, w, s
        self.m = np.zeros((h * s, w * s), np.uint8)

    def _pts(self, pts: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(pts, np.float64) * self.s).astype(np.int32).reshape(-1, 1, 2)

    def _t(self, width: float) -> int:
        return max(1, round(width * self.s))

    def polyline(self, pts, width: float, value: int = 255, closed: bool = False) -> None:
        cv2.polylines(self.m, [self._pts(pts)], closed, value, self._t(width), cv2.LINE_8)

    def polylines(self, paths: np.ndarray, width: float, value: int = 255) -> None:
        """Several open polylines of one width: ``paths`` is (n, points, 2)."""
        arr = np.round(np.asarray(paths, np.float64) * self.s).astype(np.int32)
        cv2.polylines(self.m, list(arr), False, value, self._t(width), cv2.LINE_8)

    def line(self, p0, p1, width: float, value: int = 255) -> None:
        a, b = self._pts([p0, p1]).reshape(2, 2)
        cv2.line(self.m, tuple(int(v) for v in a), tuple(int(v) for v in b), value, self._t(width), cv2.LINE_8)

    def fill(self, pts, value: int = 255) -> None:
        cv2.fillPoly(self.m, [self._pts(pts)], value, cv2.LINE_8)

    def circle(self, c, r: float, value: int = 255, width: float | None = None) -> None:
        cc = tuple(int(v) for v in self._pts([c]).reshape(2))
        cv2.circle(self.m, cc, max(1, round(r * self.s)), value, -1 if width is None else self._t(width), cv2.LINE_8)

    def alpha(self) -> np.ndarray:
        """Area-downsampled coverage in [0, 1], float32 (h, w)."""
        return cv2.resize(self.m, (self.w, self.h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def _scale(h: int, w: int) -> float:
    """Width scale: widths are given for a 256-pixel image and grow in proportion to the size.

    Proportional widths make a sample at any size the same drawing (IPQ and Cnum do not depend on the size).
    """
    return min(h, w) / 256.0


def _wires(rng: np.random.Generator, cv: _Canvas) -> None:
    k = _scale(cv.h, cv.w)
    n = int(rng.integers(2, 9))
    bundle = rng.random() < 0.4  # parallel cables hung together
    base = _bezier(rng, cv.h, cv.w)
    for i in range(n):
        width = float(np.exp(rng.uniform(np.log(0.6), np.log(5.0)))) * k
        if bundle:
            off = (i - n / 2) * rng.uniform(3, 9) * k
            sag = np.sin(np.linspace(0, np.pi, len(base)))[:, None] * rng.uniform(0, 12) * k
            pts = base + np.array([0.0, off]) + np.array([0.0, 1.0]) * sag
        else:
            pts = _bezier(rng, cv.h, cv.w)
        cv.polyline(pts, width)


def _homography(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A perspective map from the unit square to a random convex quad covering part of the frame."""
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
    sx, sy = rng.uniform(0.3, 0.65) * w, rng.uniform(0.3, 0.65) * h
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * np.array([sx, sy], np.float32)
    corners *= rng.uniform(0.6, 1.1, size=(4, 1)).astype(np.float32)  # perspective: uneven corners
    rot = rng.uniform(-0.6, 0.6)
    r = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]], np.float32)
    dst = corners @ r.T + np.array([cx, cy], np.float32)
    src = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float32)
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32))


def _warp(hmat: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(np.asarray(pts, np.float32).reshape(-1, 1, 2), hmat).reshape(-1, 2)


def _fence(rng: np.random.Generator, cv: _Canvas) -> None:
    k = _scale(cv.h, cv.w)
    hm = _homography(rng, cv.h, cv.w)
    n = int(rng.integers(4, 16))
    width = float(rng.uniform(1.0, 4.0)) * k
    diamond = rng.random() < 0.5
    t = np.linspace(0, 1, n + 1)
    segs = []
    if diamond:  # diagonal lines x + y = c and x - y = d, clipped to the unit square
        for c in np.linspace(0, 2, 2 * n + 1)[1:-1]:
            a, b = max(0.0, c - 1), min(1.0, c)
            segs.append(((a, c - a), (b, c - b)))
        for d in np.linspace(-1, 1, 2 * n + 1)[1:-1]:
            a, b = max(0.0, d), min(1.0, 1 + d)
            segs.append(((a, a - d), (b, b - d)))
    else:
        for v in t:
            segs.append(((v, 0.0), (v, 1.0)))
            segs.append(((0.0, v), (1.0, v)))
    cv.polylines(_warp(hm, np.array(segs, np.float32).reshape(-1, 2)).reshape(-1, 2, 2), width)
    if rng.random() < 0.7:  # frame and posts
        frame = _warp(hm, np.array([[0, 0], [1, 0], [1, 1], [0, 1]]))
        cv.polyline(frame, width * rng.uniform(2, 4), closed=True)
        if rng.random() < 0.5:
            for x in (0.0, 1.0):
                q = _warp(hm, np.array([[x, 0.0], [x, 1.6]]))
                cv.line(q[0], q[1], width * rng.uniform(2.5, 5))


def _tree(rng: np.random.Generator, cv: _Canvas) -> None:
    k = _scale(cv.h, cv.w)
    h, w = cv.h, cv.w
    depth = int(rng.integers(5, 9))
    length = rng.uniform(0.18, 0.32) * min(h, w)
    width = rng.uniform(4, 10) * k
    spread = rng.uniform(0.3, 0.7) * 1.6
    leaves = rng.random() < 0.3
    # breadth-first, one level at a time, vectorised; each branch is bent once (two segments)
    x = np.array([rng.uniform(0.25, 0.75) * w])
    y = np.array([rng.uniform(0.85, 1.05) * h])
    ang = np.array([-np.pi / 2 + rng.uniform(-0.3, 0.3)])
    ln = np.array([length])
    for level in range(depth):
        n = len(x)
        mid = ang + rng.uniform(-0.25, 0.25, n)
        xm, ym = x + 0.5 * ln * np.cos(mid), y + 0.5 * ln * np.sin(mid)
        x2, y2 = xm + 0.5 * ln * np.cos(ang), ym + 0.5 * ln * np.sin(ang)
        paths = np.stack([np.stack([x, xm, x2], 1), np.stack([y, ym, y2], 1)], axis=2)
        cv.polylines(paths, max(width * 0.7**level, 0.6 * k))
        if level == depth - 1:
            if leaves:
                for px, py in zip(x2, y2):
                    cv.circle((px, py), rng.uniform(1.5, 4) * k)
            break
        kids = np.where(rng.random(n) < 0.25, 3, 2)
        if n > 160:  # keep the crown bounded: the outer levels branch less
            kids = np.where(rng.random(n) < 0.5, 1, 2)
        rep = np.repeat(np.arange(n), kids)
        m = len(rep)
        x, y = x2[rep], y2[rep]
        ang = ang[rep] + rng.uniform(-spread, spread, m)
        ln = ln[rep] * rng.uniform(0.6, 0.8, m)


def _wheel_points(rng, cx, cy, r, squash, rot, n_spokes, k):
    """Rim polyline and spoke segments of a wheel, in output pixels."""
    th = np.linspace(0, 2 * np.pi, 97)
    ca, sa = np.cos(rot), np.sin(rot)

    def tf(x, y):
        x, y = x, y * squash
        return np.stack([cx + ca * x - sa * y, cy + sa * x + ca * y], axis=-1)

    rim = tf(r * np.cos(th), r * np.sin(th))
    phase = rng.uniform(0, 2 * np.pi)
    sp = phase + np.arange(n_spokes) * 2 * np.pi / n_spokes
    hub_r = r * rng.uniform(0.06, 0.15)
    inner = tf(hub_r * np.cos(sp), hub_r * np.sin(sp))
    cross = rng.random() < 0.5  # tangent-laced spokes
    outer_ang = sp + (rng.uniform(0.3, 0.8) if cross else 0.0) * np.where(np.arange(n_spokes) % 2, 1, -1)
    outer = tf(r * np.cos(outer_ang), r * np.sin(outer_ang))
    return rim, inner, outer, tf(0.0, 0.0), hub_r


def _wheel(rng: np.random.Generator, cv: _Canvas) -> None:
    k = _scale(cv.h, cv.w)
    h, w = cv.h, cv.w
    squash = rng.uniform(0.55, 1.0)
    rot = rng.uniform(0, np.pi)
    bike = rng.random() < 0.45
    r = rng.uniform(0.15, 0.24 if bike else 0.42) * min(h, w)
    centres = [(rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h)]
    if bike:
        d = r * rng.uniform(2.2, 2.6)
        cx, cy = w / 2 + rng.uniform(-0.05, 0.05) * w, rng.uniform(0.45, 0.65) * h
        centres = [(cx - d / 2, cy), (cx + d / 2, cy)]
        rot, squash = rng.uniform(-0.1, 0.1), rng.uniform(0.85, 1.0)
    rim_w = rng.uniform(2.0, 5.0) * k
    spoke_w = rng.uniform(0.6, 1.6) * k
    n_spokes = int(rng.integers(8, 37))
    for cx, cy in centres:
        rim, inner, outer, hub, hub_r = _wheel_points(rng, cx, cy, r, squash, rot, n_spokes, k)
        cv.polyline(rim, rim_w, closed=True)
        if rng.random() < 0.5:  # tyre: a second ring
            cv.polyline((rim - hub) * 1.05 + hub, rim_w * 0.8, closed=True)
        cv.polylines(np.stack([inner, outer], axis=1), spoke_w)
        cv.circle(hub.reshape(2), hub_r)
    if bike:  # frame: a triangle, a seat post, handlebars
        (ax, ay), (bx, by) = centres
        top_y = ay - r * rng.uniform(0.9, 1.2)
        pedal = ((ax + bx) / 2 - 0.1 * r, ay + 0.1 * r)
        seat = (ax + 0.35 * (bx - ax), top_y)
        head = (bx - 0.2 * (bx - ax), top_y + 0.05 * r)
        fw = rng.uniform(2.5, 5.0) * k
        for p, q in [((ax, ay), pedal), ((ax, ay), seat), (pedal, seat), (seat, head), (pedal, head), (head, (bx, by))]:
            cv.line(p, q, fw)
        cv.line(seat, (seat[0] - 0.05 * r, seat[1] - 0.25 * r), fw)
        cv.line((seat[0] - 0.25 * r, seat[1] - 0.25 * r), (seat[0] + 0.15 * r, seat[1] - 0.27 * r), fw * 1.6)
        cv.line(head, (head[0] - 0.05 * r, head[1] - 0.3 * r), fw)
        cv.line((head[0] - 0.2 * r, head[1] - 0.32 * r), (head[0] + 0.15 * r, head[1] - 0.28 * r), fw)


def _blob(rng: np.random.Generator, cx, cy, r, jag: float = 0.0, n: int = 180) -> np.ndarray:
    """A smooth Fourier blob outline, optionally with jagged (high-frequency, spiky) edges."""
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rad = np.ones(n)
    for f in range(2, 7):
        rad += rng.uniform(0, 0.25 / f * 2) * np.cos(f * th + rng.uniform(0, 2 * np.pi))
    if jag > 0:
        spikes = rng.random(n) ** 3 * jag
        rad = rad * (1 + spikes - jag * 0.15 * rng.random(n))
    rad = np.clip(rad, 0.3, None) * r
    return np.stack([cx + rad * np.cos(th), cy + rad * np.sin(th) * rng.uniform(0.6, 1.0)], axis=-1)


def _holey(rng: np.random.Generator, cv: _Canvas) -> None:
    """Objects with holes and jagged outlines: perforated plates, lace-like rings, spiky leaves."""
    h, w = cv.h, cv.w
    r = rng.uniform(0.18, 0.38) * min(h, w)
    cx, cy = rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h
    kind = rng.integers(3)
    if kind == 0:  # perforated plate: a rough outline with a grid of holes
        cv.fill(_blob(rng, cx, cy, r, jag=rng.uniform(0.0, 0.5)))
        step = r * rng.uniform(0.12, 0.3)
        hole = step * rng.uniform(0.2, 0.42)
        ys = np.arange(cy - r, cy + r, step)
        xs = np.arange(cx - r, cx + r, step)
        for j, y in enumerate(ys):
            for x in xs + (step / 2 if j % 2 else 0):
                cv.circle((x, y), hole, value=0)
    elif kind == 1:  # a ring of jagged blobs connected by a thin rim (lace / wreath)
        n = int(rng.integers(5, 14))
        k = _scale(h, w)
        ring = _blob(rng, cx, cy, r, n=90)
        cv.polyline(ring, rng.uniform(1.0, 3.0) * k, closed=True)
        for p in ring[:: max(1, 90 // n)]:
            cv.fill(_blob(rng, p[0], p[1], r * rng.uniform(0.08, 0.18), jag=rng.uniform(0.3, 1.0), n=60))
            if rng.random() < 0.5:
                cv.circle(p, r * rng.uniform(0.02, 0.05), value=0)
    else:  # a spiky leaf or gear with holes
        cv.fill(_blob(rng, cx, cy, r, jag=rng.uniform(0.5, 1.5), n=240))
        for _ in range(int(rng.integers(1, 6))):
            a, d = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.5) * r
            cv.fill(_blob(rng, cx + d * np.cos(a), cy + d * np.sin(a), r * rng.uniform(0.06, 0.18)), value=0)


def _body(rng: np.random.Generator, cv: _Canvas) -> None:
    """A solid body with thin parts: legs, antennae, handles and a stand (chairs, insects, lamps, bags)."""
    h, w = cv.h, cv.w
    k = _scale(h, w)
    r = rng.uniform(0.08, 0.2) * min(h, w)
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.3, 0.6) * h
    if rng.random() < 0.5:
        outline = _blob(rng, cx, cy, r, jag=rng.choice([0.0, 0.0, 0.3]))
    else:  # rounded box
        bw, bh = r * rng.uniform(0.8, 1.6), r * rng.uniform(0.4, 1.0)
        t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
        e = 2 / rng.uniform(4, 10)
        x = bw * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** e
        y = bh * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** e
        outline = np.stack([cx + x, cy + y], axis=-1)
    cv.fill(outline)
    n_legs = int(rng.integers(2, 9))
    leg_w = rng.uniform(0.8, 4.0) * k
    down = rng.random() < 0.6  # legs below (furniture, stands) or all around (insects)
    for i in range(n_legs):
        if down:
            ang = np.pi / 2 + (i - (n_legs - 1) / 2) * rng.uniform(0.15, 0.35)
        else:
            ang = 2 * np.pi * (i + rng.uniform(-0.3, 0.3)) / n_legs
        start = outline[int(np.argmax(np.cos(ang) * (outline[:, 0] - cx) + np.sin(ang) * (outline[:, 1] - cy)))]
        pts = [start]
        seg = rng.uniform(0.5, 1.3) * r
        a = ang
        for _ in range(int(rng.integers(1, 4))):
            a += rng.uniform(-0.6, 0.6)
            pts.append(pts[-1] + seg * np.array([np.cos(a), np.sin(a)]))
        cv.polyline(np.array(pts), leg_w * rng.uniform(0.7, 1.3))
        if rng.random() < 0.3:  # feet / claws
            cv.circle(pts[-1], leg_w * rng.uniform(0.8, 2.0))
    if rng.random() < 0.5:  # a handle or antennae: Bézier arcs from the top
        for _ in range(int(rng.integers(1, 3))):
            top = outline[int(np.argmin(outline[:, 1] + rng.uniform(-0.5, 0.5) * r * np.abs(outline[:, 0] - cx) / r))]
            p0, p3 = top, top + np.array([rng.uniform(-1.2, 1.2) * r, rng.uniform(-0.2, 0.4) * r])
            p1 = p0 + np.array([rng.uniform(-0.8, 0.8) * r, -rng.uniform(0.6, 1.5) * r])
            p2 = p3 + np.array([rng.uniform(-0.8, 0.8) * r, -rng.uniform(0.6, 1.5) * r])
            t = np.linspace(0, 1, 40)[:, None]
            arc = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
            cv.polyline(arc, rng.uniform(0.6, 3.0) * k)


STRUCTURES: dict[str, Callable[[np.random.Generator, _Canvas], None]] = {
    "wires": _wires,
    "fence": _fence,
    "tree": _tree,
    "wheel": _wheel,
    "holes": _holey,
    "body": _body,
}
"""The structure kinds of the DIS-like mode, by name."""
WEIGHTS: dict[str, float] = {"wires": 0.14, "fence": 0.1, "tree": 0.14, "wheel": 0.1, "holes": 0.17, "body": 0.35}
"""How often each structure kind is drawn."""
_WEIGHTS = np.array([WEIGHTS[k] for k in STRUCTURES]) / sum(WEIGHTS.values())


def _easy_shape(rng: np.random.Generator, cv: _Canvas) -> None:
    """A solid blob, ellipse or polygon, sometimes with a hole."""
    h, w = cv.h, cv.w
    r = rng.uniform(0.1, 0.28) * min(h, w)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    kind = rng.integers(3)
    if kind == 0:
        cv.fill(_blob(rng, cx, cy, r))
    elif kind == 1:
        th = np.linspace(0, 2 * np.pi, 120, endpoint=False)
        a, b, rot = r, r * rng.uniform(0.4, 1.0), rng.uniform(0, np.pi)
        x, y = a * np.cos(th), b * np.sin(th)
        cv.fill(np.stack([cx + x * np.cos(rot) - y * np.sin(rot), cy + x * np.sin(rot) + y * np.cos(rot)], -1))
    else:
        n = int(rng.integers(3, 8))
        th = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = r * rng.uniform(0.6, 1.2, n)
        cv.fill(np.stack([cx + rad * np.cos(th), cy + rad * np.sin(th)], -1))
    if rng.random() < 0.3:
        cv.circle((cx, cy), r * rng.uniform(0.15, 0.35), value=0)


# --------------------------------------------------------------------------------------------------------------------
# compositing
# --------------------------------------------------------------------------------------------------------------------


def _distractors(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Defocused lines and blobs drawn into the background only (hard negatives).

    Each layer is drawn and blurred at a reduced resolution (the blur removes the detail anyway), then
    resized up.
    """
    h, w = img.shape[:2]
    k = _scale(h, w)
    for _ in range(int(rng.integers(1, 5))):
        sigma = rng.uniform(1.5, 5.0) * k
        r = max(1, int(sigma // 1.5))
        lh, lw = max(8, h // r), max(8, w // r)
        f = np.array([lw / w, lh / h])
        layer = np.zeros((lh, lw), np.float32)
        if rng.random() < 0.7:
            pts = np.round(_bezier(rng, h, w) * f).astype(np.int32).reshape(-1, 1, 2)
            cv2.polylines(layer, [pts], False, 1.0, max(1, round(rng.uniform(1, 6) * k / r)), cv2.LINE_AA)
        else:
            pts = _blob(rng, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.05, 0.2) * min(h, w)) * f
            cv2.fillPoly(layer, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], 1.0, cv2.LINE_AA)
        layer = cv2.GaussianBlur(layer, (0, 0), sigma / r)
        if r > 1:
            layer = cv2.resize(layer, (w, h), interpolation=cv2.INTER_LINEAR)
        layer = layer[..., None] * np.float32(rng.uniform(0.3, 0.8))
        img = img + layer * (_colour(rng) - img)
    return img


def _degrade(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Optional blur, noise and JPEG re-encoding; returns uint8 RGB."""
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.9))
    if rng.random() < 0.6:
        sigma = np.float32(rng.uniform(1, 6))  # luminance noise (one channel, broadcast: cheap)
        img = img + rng.standard_normal(img.shape[:2], dtype=np.float32)[..., None] * sigma
    out = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 96))])
        if ok:
            out = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return out


def _draw_mask(rng: np.random.Generator, h: int, w: int, easy: bool) -> np.ndarray:
    """Draw structures until the foreground fraction lies in FG_FRACTION (a few tries), return alpha."""
    alpha = None
    for _ in range(6):
        cv = _Canvas(h, w)
        if easy:
            for _ in range(int(rng.integers(1, 3))):
                _easy_shape(rng, cv)
        else:
            names = list(STRUCTURES)
            n = 1 if rng.random() < 0.6 else 2
            for i in rng.choice(len(names), size=n, replace=False, p=_WEIGHTS):
                STRUCTURES[names[i]](rng, cv)
        alpha = cv.alpha()
        if FG_FRACTION[0] <= float(alpha.mean()) <= FG_FRACTION[1]:
            break
    return alpha


def generate_sample(
    index: int, size: int | tuple[int, int] = 256, seed: int = 0, *, easy: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Generate one DIS-like sample, a pure function of ``(seed, index)``.

    Args:
        index: sample index (>= 0); each index has its own random stream ``default_rng([seed, index])``.
        size: output size, an int (square) or ``(height, width)``; at least 16 pixels per side.
        seed: dataset seed (>= 0).
        easy: solid-coloured blobs, ellipses and polygons over smooth noise instead of thin structures
            over cluttered photos.

    Returns:
        ``(image, gt)``: image (H, W, 3) uint8 RGB, gt (H, W) uint8 in 0..255 with soft (anti-aliased) edges.

    Raises:
        TypeError: ``size`` is not an int or a pair of ints.
        ValueError: ``index`` or ``seed`` is negative, or ``size`` is below 16.

    Examples:
        >>> image, gt = generate_sample(3, 64, seed=1)
        >>> image.shape, image.dtype, gt.shape, gt.dtype
        ((64, 64, 3), dtype('uint8'), (64, 64), dtype('uint8'))
        >>> bool((generate_sample(3, 64, seed=1)[1] == gt).all())
        True
    """
    if int(index) < 0 or int(seed) < 0:
        raise ValueError(f"index and seed must be >= 0, got index={index}, seed={seed}")
    h, w = _hw(size)
    rng = np.random.default_rng([int(seed), int(index)])
    alpha = _draw_mask(rng, h, w, easy)
    if easy:
        bg = _noise_background(rng, h, w, smooth=True)
        fg = np.broadcast_to(_colour(rng), (h, w, 3)).astype(np.float32)
        fg = _contrast_fix(rng, fg, bg, alpha) if rng.random() < 0.95 else fg
        a = alpha[..., None]
        img = np.clip(bg * (1 - a) + fg * a + 0.5, 0, 255).astype(np.uint8)
    else:
        bg = _background(rng, h, w)
        if rng.random() < 0.7:
            bg = _distractors(rng, bg)
        fg = _contrast_fix(rng, _foreground(rng, h, w), bg, alpha)
        a = alpha[..., None]
        img = _degrade(rng, bg + a * (fg - bg))
    gt = np.clip(alpha * 255 + 0.5, 0, 255).astype(np.uint8)
    return img, gt


def generate_scene(
    index: int, size: int | tuple[int, int] = 256, seed: int = 0, n_objects: int = 3, *, easy: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a scene of several objects with an instance-id map (for interactive segmentation).

    Objects are drawn in order, later ones occluding earlier ones; each has its own colour. Instance ``k``
    (1-based) owns the pixels where its visible coverage is at least 0.5; 0 is background. An object hidden
    completely by later ones may have no pixel.

    Args:
        index: scene index (>= 0); random stream ``default_rng([seed, index, 1])``.
        size: output size, an int (square) or ``(height, width)``.
        seed: dataset seed (>= 0).
        n_objects: number of objects (>= 1).
        easy: solid shapes on smooth noise (default); ``False`` draws the DIS-like structures on photos.

    Returns:
        ``(image, instances)``: image (H, W, 3) uint8 RGB, instances (H, W) int32 in 0..n_objects.

    Raises:
        TypeError: ``size`` is not an int or a pair of ints.
        ValueError: negative ``index``/``seed`` or ``n_objects`` < 1.

    Examples:
        >>> image, inst = generate_scene(0, 64, n_objects=3)
        >>> image.shape, inst.dtype.name, int(inst.max()) <= 3
        ((64, 64, 3), 'int32', True)
    """
    if int(index) < 0 or int(seed) < 0:
        raise ValueError(f"index and seed must be >= 0, got index={index}, seed={seed}")
    if int(n_objects) < 1:
        raise ValueError(f"n_objects must be >= 1, got {n_objects}")
    h, w = _hw(size)
    rng = np.random.default_rng([int(seed), int(index), 1])
    if easy:
        img = _noise_background(rng, h, w, smooth=True)
    else:
        img = _background(rng, h, w)
        img = _distractors(rng, img) if rng.random() < 0.5 else img
    visible = np.zeros((n_objects, h, w), np.float32)
    names = list(STRUCTURES)
    for k in range(n_objects):
        cv = _Canvas(h, w)
        if easy:
            _easy_shape(rng, cv)
        else:
            STRUCTURES[names[rng.choice(len(names), p=_WEIGHTS)]](rng, cv)
        a = cv.alpha()
        visible[:k] *= 1 - a
        visible[k] = a
        fg = np.broadcast_to(_colour(rng), (h, w, 3)) if easy else _foreground(rng, h, w)
        fg = _contrast_fix(rng, np.asarray(fg, np.float32), img, a)
        img = img * (1 - a[..., None]) + fg * a[..., None]
    best = visible.argmax(axis=0)
    inst = np.where(visible.max(axis=0) >= 0.5, best + 1, 0).astype(np.int32)
    out = np.clip(img + 0.5, 0, 255).astype(np.uint8) if easy else _degrade(rng, img)
    return out, inst


def write_dataset(
    out_dir: str | Path, n: int, size: int | tuple[int, int] = 256, seed: int = 0, split_name: str | None = None
) -> Path:
    """Write ``n`` samples as a DIS5K-like folder: ``im/NNNN.jpg`` (quality 95) and ``gt/NNNN.png``.

    Args:
        out_dir: output folder (created); with ``split_name`` the files go to ``out_dir/split_name``.
        n: number of samples (>= 0); sample ``i`` is ``generate_sample(i, size, seed)``.
        size: output size, an int or ``(height, width)``.
        seed: dataset seed.
        split_name: optional sub-folder name, e.g. ``"DIS-TR"``.

    Returns:
        The folder holding ``im/`` and ``gt/``.

    Raises:
        ValueError: negative ``n``.
        OSError: a file could not be written (OpenCV reports a failed write only by its return value).

    Examples:
        >>> import tempfile
        >>> root = write_dataset(tempfile.mkdtemp(), 2, size=32)
        >>> sorted(p.name for p in (root / "gt").iterdir())
        ['0000.png', '0001.png']
    """
    if int(n) < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    root = Path(out_dir) / split_name if split_name else Path(out_dir)
    (root / "im").mkdir(parents=True, exist_ok=True)
    (root / "gt").mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(max(int(n) - 1, 0))))
    for i in range(int(n)):
        img, gt = generate_sample(i, size, seed)
        name = f"{i:0{digits}d}"
        for path, data, params in ((root / "im" / f"{name}.jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95]),
                                   (root / "gt" / f"{name}.png", gt, [])):
            if not cv2.imwrite(str(path), data, params):
                raise OSError(f"could not write {path} (disk full, or a path OpenCV cannot write?)")
    return root


def contact_sheet(n: int = 12, size: int = 256, seed: int = 0, cols: int = 4, easy: bool = False) -> np.ndarray:
    """Image and GT side by side for ``n`` samples, tiled ``cols`` pairs per row (RGB uint8)."""
    tiles = []
    for i in range(n):
        img, gt = generate_sample(i, size, seed, easy=easy)
        tiles.append(np.concatenate([img, np.repeat(gt[..., None], 3, axis=2)], axis=1))
    blank = np.zeros_like(tiles[0])
    rows = []
    for r in range(0, n, cols):
        row = tiles[r : r + cols] + [blank] * (cols - len(tiles[r : r + cols]))
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in row], axis=1))
    return np.concatenate(rows, axis=0)


def write_contact_sheet(path: str | Path, n: int = 12, tile: int = 160, seed: int = 0, easy: bool = False) -> Path:
    """Write :func:`contact_sheet` as a compact 256-colour PNG (Pillow's quantizer), e.g. for a README."""
    from PIL import Image

    sheet = contact_sheet(n, tile, seed, easy=easy)
    Image.fromarray(sheet).quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True
    )
    return Path(path)


def main(argv: list[str] | None = None) -> None:
    from cli_args import int_at_least, nonnegative_int, output_dir, positive_int  # the examples' argparse types

    ap = argparse.ArgumentParser(description="Write a procedural DIS-like dataset (im/*.jpg, gt/*.png).")
    ap.add_argument("out", type=output_dir, help="output folder")
    ap.add_argument("-n", type=positive_int, default=300, help="number of samples (default 300)")
    ap.add_argument("--size", type=int_at_least(MIN_SIZE), default=256,
                    help=f"square side in pixels, at least {MIN_SIZE} (default 256)")
    ap.add_argument("--seed", type=nonnegative_int, default=0)
    ap.add_argument("--sheet", metavar="PNG", help="also write a contact sheet of 12 samples (160 px) to this file")
    args = ap.parse_args(argv)
    if args.sheet is not None:
        if Path(args.sheet).suffix.lower() != ".png":
            ap.error(f"argument --sheet: must name a .png file; got {args.sheet!r}")
        if Path(args.sheet).is_dir():
            ap.error(f"argument --sheet: {args.sheet} is a folder; give a .png file name")
        try:
            output_dir(str(Path(args.sheet).parent))  # its folder: existing or creatable, not under a file
        except argparse.ArgumentTypeError as exc:
            ap.error(f"argument --sheet: {exc}")
        Path(args.sheet).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    root = write_dataset(args.out, args.n, args.size, args.seed)
    dt = time.perf_counter() - t0
    print(f"wrote {args.n} samples to {root} in {dt:.1f} s ({1000 * dt / max(args.n, 1):.1f} ms per sample)")
    held = sum(1 for p in (root / "im").iterdir() if not p.name.startswith("."))
    if held > args.n:
        print(f"warning: {root / 'im'} now holds {held} images: {args.n} written now, {held - args.n} from an earlier "
              "run (a dataset read from this folder mixes both; write into an empty folder)", file=sys.stderr)
    if args.sheet:
        print(f"contact sheet: {write_contact_sheet(args.sheet, seed=args.seed)}")


if __name__ == "__main__":
    main()
