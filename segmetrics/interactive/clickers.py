"""Click simulators of interactive-segmentation evaluation: where the simulated user clicks next.

Every simulator looks at the current error of the prediction against the ground truth,

* false negatives ``FN = GT ∧ ¬pred`` and false positives ``FP = ¬GT ∧ pred``, both restricted to
  the valid (not ignored) pixels,

and places one click inside that error; the click is **positive exactly when it lies in FN**.
Pixels already clicked are never clicked again. When no unclicked error pixel is left (the mask is
perfect, or the model ignored clicks on every remaining error pixel) the simulators return ``None``.

Protocols (:data:`PROTOCOLS`):

``"ritm"`` (default; Sofiiuk et al., RITM ``isegm/inference/clicker.py``, used by most later papers)
    Pad FN and FP with a one-pixel zero border (the image border counts as a region border), take
    the exact Euclidean distance transform of each, crop back and zero it at clicked pixels. If
    ``max DT(FN) > max DT(FP)`` the click is positive at the first pixel in row-major order that
    reaches ``max DT(FN)``, otherwise negative at the first maximum of ``DT(FP)`` (ties go to the
    negative click). The first click (empty prediction) is the object pixel farthest from its
    border. Deviation: when both maxima are 0 (no unclicked error pixel) RITM would click pixel
    ``(0, 0)`` of the FP map wherever it is; here ``None`` is returned.
``"largest_region"`` (the DIOS convention, Xu et al. 2016)
    Split FN and FP into 8-connected regions, keep those with an unclicked pixel, take the one with
    the largest area (ties: FN before FP, then the region whose first pixel comes first in
    row-major order), and click its interior-most unclicked pixel (largest padded Euclidean
    distance to the region's border, first in row-major order). The latent-diversity paper's §5.1
    samples its test clicks instead (``"paper_random"``).
``"paper_random"`` (Li, Chen & Koltun 2018, §5.1, eq. 8)
    Sample the click inside the misclassified region ``O' = FN ∪ FP`` with probability
    ``P(p) = d(p, ∂O') / Σ_q d(q, ∂O')``, where ``∂O'`` are the pixels of ``O'`` with a
    4-neighbour outside ``O'`` or on the image border and ``d`` is the exact Euclidean distance
    (inside a region the geodesic and the Euclidean distance to the border agree up to
    discretisation). With an empty prediction ``O' = GT``, so the first click is positive and
    never on the object's boundary. Clicked pixels get weight 0; if every weight is 0 (an error
    region at most two pixels thick) the click is uniform over the unclicked error pixels.
    Seeded: pass a ``numpy.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import ndimage

__all__ = ["PROTOCOLS", "SEEDED_PROTOCOLS", "Click", "error_masks", "next_click"]

#: The click protocols, the default first.
PROTOCOLS: tuple[str, ...] = ("ritm", "largest_region", "paper_random")
#: The protocols whose clicks depend on the evaluator's ``seed`` (the others are deterministic).
SEEDED_PROTOCOLS: tuple[str, ...] = ("paper_random",)

_EIGHT = np.ones((3, 3), dtype=bool)


class Click(NamedTuple):
    """One click: row ``y``, column ``x`` (0-based pixel indices) and its sign.

    ``predict(image, clicks)`` receives a tuple of them, the newest last.

    Attributes:
        y: row of the clicked pixel.
        x: column of the clicked pixel.
        positive: ``True`` for a click on the object (a false negative), ``False`` on the background.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((9, 9), bool); gt[2:7, 2:7] = True
        >>> first = next_click(gt, np.zeros((9, 9), bool))  # the interior-most point of the missed object
        >>> first, first.positive
        (Click(y=4, x=4, positive=True), True)
    """

    y: int
    x: int
    positive: bool


def _bool_map(value: Any, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """A 2-D boolean map from a bool or 0/1 array; ``ValueError`` / ``TypeError`` naming ``name``."""
    arr = np.asarray(value)
    if arr.dtype == object or not (arr.dtype == bool or np.issubdtype(arr.dtype, np.number)):
        raise TypeError(f"`{name}` must be a boolean or 0/1 numeric array; got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"`{name}` must be a non-empty 2-D (H, W) array; got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise ValueError(f"`{name}` must have the ground truth's shape {shape}; got {arr.shape}")
    if arr.dtype == bool:
        return arr
    if not np.all((arr == 0) | (arr == 1)):
        bad = arr[(arr != 0) & (arr != 1)].ravel()[0].item()
        hint = f" (a 0-255 mask? pass {name} > 128)" if isinstance(bad, (int, float)) and 1 < bad <= 255 \
            and arr.min() >= 0 else ""
        raise ValueError(f"`{name}` must hold only 0 and 1 (or be boolean); got the value {bad!r}{hint}")
    return arr.astype(bool)


def error_masks(gt: Any, pred: Any, valid: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """False-negative and false-positive masks of a prediction, restricted to the valid pixels.

    ``FN = gt ∧ ¬pred ∧ valid`` and ``FP = ¬gt ∧ pred ∧ valid``.

    Args:
        gt: ground-truth mask ``(H, W)``, boolean or 0/1.
        pred: predicted mask ``(H, W)``, boolean or 0/1.
        valid: pixels that count (``None``: all).

    Returns:
        ``(fn, fp)``, two boolean ``(H, W)`` arrays.

    Raises:
        TypeError / ValueError: non-binary or mis-shaped inputs (the message names the argument).

    Example:
        >>> fn, fp = error_masks([[1, 1], [0, 0]], [[0, 1], [1, 0]])
        >>> fn.astype(int).tolist(), fp.astype(int).tolist()
        ([[1, 0], [0, 0]], [[0, 0], [1, 0]])
    """
    g = _bool_map(gt, "gt")
    p = _bool_map(pred, "pred", g.shape)
    fn = g & ~p
    fp = p & ~g
    if valid is not None:
        v = _bool_map(valid, "valid", g.shape)
        fn &= v
        fp &= v
    return fn, fp


def _padded_edt(mask: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance of each ``mask`` pixel to the nearest pixel outside it (the image border is outside)."""
    return ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]


def _first_argmax(d: np.ndarray) -> tuple[int, int]:
    """Row-major first position of the maximum (``np.argmax`` returns the first occurrence)."""
    y, x = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(y), int(x)


def _ritm(fn: np.ndarray, fp: np.ndarray, not_clicked: np.ndarray) -> Click | None:
    dfn = _padded_edt(fn) * not_clicked
    dfp = _padded_edt(fp) * not_clicked
    mfn, mfp = dfn.max(), dfp.max()
    if mfn == 0 and mfp == 0:
        return None
    if mfn > mfp:
        return Click(*_first_argmax(dfn), True)
    return Click(*_first_argmax(dfp), False)


def _largest_region(fn: np.ndarray, fp: np.ndarray, not_clicked: np.ndarray) -> Click | None:
    best: tuple[int, int, int, np.ndarray, bool] | None = None  # (-area, sign order, first pixel, mask, positive)
    for order, (err, positive) in enumerate(((fn, True), (fp, False))):
        labels, n = ndimage.label(err, structure=_EIGHT)
        if n == 0:
            continue
        flat = labels.ravel()
        area = np.bincount(flat, minlength=n + 1)
        open_px = np.bincount(flat[not_clicked.ravel()], minlength=n + 1)
        candidates = np.flatnonzero((open_px > 0) & (np.arange(n + 1) > 0))
        if candidates.size == 0:
            continue
        lab = int(candidates[np.argmax(area[candidates])])  # first label among equal areas = first in row-major order
        first = int(np.argmax(flat == lab))
        key = (-int(area[lab]), order, first)
        if best is None or key < best[:3]:
            best = (*key, labels == lab, positive)
    if best is None:
        return None
    region, positive = best[3], best[4]
    d = _padded_edt(region) * not_clicked
    return Click(*_first_argmax(d), positive)


def _paper_random(fn: np.ndarray, fp: np.ndarray, not_clicked: np.ndarray, rng: np.random.Generator) -> Click | None:
    err = fn | fp
    candidates = err & not_clicked
    if not candidates.any():
        return None
    boundary = err & ~ndimage.binary_erosion(err, border_value=0)
    d = ndimage.distance_transform_edt(~boundary)
    weights = np.where(candidates, d, 0.0).ravel()
    total = weights.sum()
    if total <= 0:
        weights = candidates.ravel().astype(np.float64)
        total = weights.sum()
    cum = np.cumsum(weights)
    u = rng.random() * cum[-1]
    idx = int(np.searchsorted(cum, u, side="right"))
    idx = min(idx, cum.size - 1)
    while weights[idx] == 0:  # u landed exactly on a boundary of the cumulative sum: step to the next weighted pixel
        idx += 1
    y, x = np.unravel_index(idx, err.shape)
    return Click(int(y), int(x), bool(fn[y, x]))


def _check_clicks(clicks: Any, shape: tuple[int, int]) -> np.ndarray:
    """``not_clicked`` map from a sequence of clicks; ``ValueError`` naming ``clicks`` for bad entries."""
    if isinstance(clicks, (str, bytes)) or not isinstance(clicks, Sequence):
        raise TypeError(f"`clicks` must be a sequence of Click(y, x, positive); got {type(clicks).__name__}")
    not_clicked = np.ones(shape, dtype=bool)
    for i, c in enumerate(clicks):
        try:
            y, x, _ = c
            y, x = int(y), int(x)
        except (TypeError, ValueError):
            raise TypeError(f"`clicks[{i}]` must be a (y, x, positive) triple; got {c!r}") from None
        if not (0 <= y < shape[0] and 0 <= x < shape[1]):
            raise ValueError(f"`clicks[{i}]` must lie inside the {shape[0]}x{shape[1]} image; got (y={y}, x={x})")
        not_clicked[y, x] = False
    return not_clicked


def next_click(
    gt: Any,
    pred: Any,
    clicks: Sequence[Click] = (),
    *,
    protocol: str = "ritm",
    rng: np.random.Generator | None = None,
    valid: Any = None,
) -> Click | None:
    """The simulated user's next click for the current prediction (see the module docstring for the protocols).

    Args:
        gt: ground-truth mask ``(H, W)``, boolean or 0/1.
        pred: current predicted mask ``(H, W)``, boolean or 0/1 (all ``False`` before the first click).
        clicks: the clicks placed so far; their pixels are not clicked again.
        protocol: ``"ritm"`` (default), ``"largest_region"`` or ``"paper_random"``.
        rng: random generator for ``"paper_random"`` (required there, ignored by the others).
        valid: pixels that count (``None``: all); ignored pixels are never clicked.

    Returns:
        The :class:`Click` (positive iff it lies in the false negatives), or ``None`` when no
        unclicked error pixel is left.

    Raises:
        TypeError / ValueError: bad masks, clicks, protocol, or ``"paper_random"`` without ``rng``.

    Example:
        >>> gt = np.zeros((7, 7), bool); gt[1:6, 1:6] = True
        >>> next_click(gt, np.zeros_like(gt))
        Click(y=3, x=3, positive=True)
        >>> pred = np.ones_like(gt)
        >>> next_click(gt, pred, protocol="largest_region")
        Click(y=0, x=0, positive=False)
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"`protocol` must be one of {PROTOCOLS}; got {protocol!r}")
    fn, fp = error_masks(gt, pred, valid)
    not_clicked = _check_clicks(clicks, fn.shape)
    if protocol == "ritm":
        return _ritm(fn, fp, not_clicked)
    if protocol == "largest_region":
        return _largest_region(fn, fp, not_clicked)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` must be a numpy.random.Generator for protocol 'paper_random'; got {type(rng).__name__}")
    return _paper_random(fn, fp, not_clicked, rng)
