"""Draw what HCE counts for one image, as the DIS paper's Fig. 6 does.

Four panels from :func:`segmetrics.hce_details`:

1. **Prediction vs GT**: true positives (white), false positives (red), false negatives (blue),
   GT skeleton (yellow).
2. **False negatives**: FN_N, the relaxed false negatives touching the background (blue), whose
   boundary an annotator redraws with the polygon points shown (white lines, dots = clicks); and
   FN_TP, the independent holes inside the true positives (cyan), one click each.
3. **False positives**: FP_P, the relaxed false positives touching the object (red) with their
   polygon points; and FP_TN, the independent islands in the background (magenta), one click each.
4. **All clicks**: every polygon point and one marker per independent region, with the total.

Errors removed by the γ-relaxation (thin bands along the GT boundary) are shown faintly in panel 1
only. On large images the error masks and the skeleton are dilated *for display only* (the title
says by how much) so that one-pixel structures survive the down-scaling. matplotlib and OpenCV are
imported lazily.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from segmetrics._inputs import check_bool
from segmetrics._optional import import_optional

__all__ = ["draw_hce", "save_hce_picture"]

_BG = np.array([0.08, 0.08, 0.1])


def _rgb(shape: tuple[int, int]) -> np.ndarray:
    img = np.empty((*shape, 3))
    img[:] = _BG
    return img


def _paint(img: np.ndarray, mask: np.ndarray, color: tuple[float, float, float], alpha: float = 1.0) -> None:
    if mask.any():
        img[mask] = (1 - alpha) * img[mask] + alpha * np.asarray(color)


def _thicken(mask: np.ndarray, r: int) -> np.ndarray:
    # Display only: dilate thin masks so that they survive the down-sampling of a large image.
    if r <= 0 or not mask.any():
        return mask
    import cv2

    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


def _region_centers(labels: np.ndarray, independent: np.ndarray) -> list[tuple[float, float]]:
    # One marker per counted region: the mean position of its pixels (x, y).
    lab = np.where(independent, labels, 0)
    ids = np.unique(lab)
    ids = ids[ids > 0]
    if ids.size == 0:
        return []
    ys, xs = np.nonzero(lab)
    vals = lab[ys, xs]
    order = np.argsort(vals, kind="stable")
    vals, ys, xs = vals[order], ys[order], xs[order]
    starts = np.searchsorted(vals, ids)
    ends = np.searchsorted(vals, ids, side="right")
    return [(float(xs[s:e].mean()), float(ys[s:e].mean())) for s, e in zip(starts, ends)]



def _error_panel(ax, d, th, relaxed, independent, polylines, color, indep_color, ms, title):
    """One error panel of Fig. 6: TP in grey, the dependent errors, the independent regions and the clicks."""
    img = _rgb(d.tp.shape)
    _paint(img, d.tp, (0.35, 0.35, 0.35))
    _paint(img, th(relaxed & ~independent), color)
    _paint(img, th(independent), indep_color)
    ax.imshow(img, interpolation="nearest")
    _draw_polylines(ax, polylines, "white", ms)
    ax.set_title(title, fontsize=7)

def _draw_polylines(ax: Any, polylines: list[np.ndarray], color: str, ms: float) -> None:
    for pl in polylines:
        pts = np.asarray(pl).reshape(-1, 2)
        if len(pts) == 0:
            continue
        ax.plot(pts[:, 0], pts[:, 1], "-", color=color, lw=0.8, alpha=0.9)
        ax.plot(pts[:, 0], pts[:, 1], "o", color=color, ms=ms, mec="black", mew=0.3)


def draw_hce(
    pred: Any,
    gt: Any,
    *,
    details: Any = None,
    gamma: int = 5,
    epsilon: float = 2.0,
    skeleton: Any = None,
    title: str | None = None,
    crop: bool = False,
    **hce_options: Any,
) -> tuple:
    """Draw the four Fig.-6 panels of HCE for one image (see the module docstring).

    Args:
        pred: ``(H, W)`` prediction (uint8 0..255, bool or float in ``[0, 1]``).
        gt: ``(H, W)`` ground truth.
        details: an existing :class:`segmetrics.HCEDetails` (skips recomputing; the other HCE
            arguments are then ignored).
        gamma: HCE relaxation γ (default 5).
        epsilon: HCE Douglas–Peucker tolerance (default 2.0).
        skeleton: optional precomputed GT skeleton.
        title: figure title (default: the HCE total and its four parts).
        crop: zoom every panel to the bounding box of the errors (plus a margin).
        **hce_options: other keywords of :func:`segmetrics.hce_details` (``threshold``, ``iterations``).

    Returns:
        ``(fig, axes, details)``.

    Raises:
        TypeError, ValueError: as :func:`segmetrics.hce_details`; ``TypeError`` for a non-bool ``crop``.

    Example:
        >>> import numpy as np
        >>> gt = np.zeros((32, 32), bool); gt[8:24, 8:24] = True
        >>> pred = np.zeros((32, 32), np.uint8); pred[8:24, 10:26] = 255
        >>> fig, axes, d = draw_hce(pred, gt)
        >>> d.total == d.fp_points + d.fp_regions + d.fn_points + d.fn_regions, len(axes) > 1
        (True, True)
    """
    crop = check_bool(crop, "crop")
    if details is None:
        from segmetrics import hce_details

        details = hce_details(pred, gt, gamma=gamma, epsilon=epsilon, skeleton=skeleton, **hce_options)
    d = details
    plt = import_optional("matplotlib.pyplot", "plot", "drawing HCE pictures")

    h, w = d.tp.shape
    x0, x1, y0, y1 = 0, w, 0, h
    if crop:
        err = d.fp_relaxed | d.fn_relaxed
        if err.any():
            ys, xs = np.nonzero(err)
            m = max(8, int(0.05 * max(h, w)))
            x0, x1 = max(0, xs.min() - m), min(w, xs.max() + m + 1)
            y0, y1 = max(0, ys.min() - m), min(h, ys.max() + m + 1)
    size = max(x1 - x0, y1 - y0)
    ms = 2.5 if size > 600 else 3.5
    # About 500 screen pixels per panel: thicken error masks so 1-px structures stay visible.
    r = int(np.ceil((size / 500.0 - 1.0) / 2.0)) if size > 500 else 0
    th = (lambda m: _thicken(m, r)) if r else (lambda m: m)
    aspect = min(max((x1 - x0) / (y1 - y0), 0.6), 1.8)
    fig, axes = plt.subplots(1, 4, figsize=(4 * 3.4 * aspect, 4.1), dpi=150)
    # 1: prediction vs GT
    img = _rgb((h, w))
    _paint(img, d.tp, (0.92, 0.92, 0.92))
    _paint(img, d.fp & ~d.fp_relaxed, (0.8, 0.3, 0.3), 0.45)
    _paint(img, d.fn & ~d.fn_relaxed, (0.3, 0.4, 0.8), 0.45)
    _paint(img, th(d.skeleton), (1.0, 0.85, 0.1))
    _paint(img, th(d.fp_relaxed), (0.95, 0.2, 0.2))
    _paint(img, th(d.fn_relaxed & ~d.skeleton), (0.2, 0.4, 1.0))
    axes[0].imshow(img, interpolation="nearest")
    axes[0].set_title("TP white, FP red, FN blue\n(faint: relaxed away; yellow: GT skeleton)", fontsize=7)
    # 2: false negatives, 3: false positives
    _error_panel(axes[1], d, th, d.fn_relaxed, d.fn_independent, d.fn_polylines, (0.2, 0.4, 1.0), (0.1, 0.9, 0.9), ms,
                 f"FN$_N$: {d.fn_points} polygon points (blue)\nFN$_{{TP}}$: {d.fn_regions} independent regions (cyan)")
    _error_panel(axes[2], d, th, d.fp_relaxed, d.fp_independent, d.fp_polylines, (0.95, 0.25, 0.2), (0.95, 0.2, 0.95),
                 ms, f"FP$_P$: {d.fp_points} polygon points (red)\nFP$_{{TN}}$: {d.fp_regions} independent regions "
                 "(magenta)")
    # 4: all clicks
    img = _rgb((h, w))
    gt_mask = d.tp | d.fn
    _paint(img, gt_mask, (0.3, 0.3, 0.3))
    axes[3].imshow(img, interpolation="nearest")
    _draw_polylines(axes[3], d.fn_polylines, "#4f8cff", ms)
    _draw_polylines(axes[3], d.fp_polylines, "#ff5a4a", ms)
    for (x, y), c in [(p, "#19e6e6") for p in _region_centers(d.fn_labels, d.fn_independent)] + [
        (p, "#f033f0") for p in _region_centers(d.fp_labels, d.fp_independent)
    ]:
        axes[3].plot([x], [y], marker="*", color=c, ms=ms * 2.2, mec="black", mew=0.4)
    total = d.fp_points + d.fp_regions + d.fn_points + d.fn_regions
    axes[3].set_title(f"all clicks on the GT (grey): HCE = {total}\npoints: lines + dots, regions: stars", fontsize=7)
    for ax in axes:
        ax.set_xlim(x0 - 0.5, x1 - 0.5)
        ax.set_ylim(y1 - 0.5, y0 - 0.5)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title is None:
        title = (
            f"HCE = {total} = FP points {d.fp_points} + FP regions {d.fp_regions} "
            f"+ FN points {d.fn_points} + FN regions {d.fn_regions}"
        )
        if r:
            title += f"   (error masks drawn {2 * r + 1} px wide for visibility)"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return fig, axes, d


def save_hce_picture(
    pred: Any,
    gt: Any,
    path: str | os.PathLike,
    **kwargs: Any,
) -> Any:
    """Draw :func:`draw_hce` and save it (PNG, PDF, ... by the file extension); returns the details.

    Args:
        pred: prediction map, or a path to an image file.
        gt: ground truth, or a path to an image file.
        path: output file; its extension is the format (one matplotlib writes: ``.png``, ``.pdf``, ...).
        **kwargs: keywords of :func:`draw_hce`.

    Returns:
        The :class:`segmetrics.HCEDetails` drawn.

    Raises:
        ValueError: ``path`` is a folder or has no extension matplotlib writes (checked before any file is
            read), or the inputs are invalid (see :func:`draw_hce`).
        ImageReadError: an unreadable ``pred`` / ``gt`` file.

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:24, 8:24] = 255
        >>> for d in ("gt", "pred"): (root / d).mkdir()
        >>> ok = cv2.imwrite(str(root / "gt" / "a.png"), gt), cv2.imwrite(str(root / "pred" / "a.png"), gt)
        >>> save_hce_picture(root / "pred" / "a.png", root / "gt" / "a.png", root / "hce_a.png").total
        0
        >>> (root / "hce_a.png").exists()
        True
        >>> tmp.cleanup()
    """
    plt = import_optional("matplotlib.pyplot", "plot", "drawing HCE pictures")

    from segmetrics.app.image_io import _read_map
    from segmetrics.app.plot import _check_format

    out = Path(path)
    if out.is_dir():
        raise ValueError(f"`path` must be an image file to write; got {str(out)!r}, an existing folder")
    _check_format(out.suffix[1:], "path", str(out))  # checked before drawing: matplotlib refuses only at the end

    if isinstance(pred, (str, os.PathLike)):
        pred = _read_map(pred, "gray", "the prediction ")[0]
    if isinstance(gt, (str, os.PathLike)):
        gt = _read_map(gt, "gray", "the ground truth ")[0]
    fig, _, details = draw_hce(pred, gt, **kwargs)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out)
    finally:
        plt.close(fig)
    return details
