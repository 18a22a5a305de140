"""The per-image step of the folder evaluation: read one pair, compute its metrics, one record.

The metrics, their options and their dotted keys come from the metric table
(:mod:`segmetrics.metric_table`): every family writes *scalars* (one number per image, the CSV
columns) and *curves* (kept in the journal and averaged into the dataset curves) under its keys,
e.g. ``fm.adp``, ``fm.mean``, ``fm.max`` and ``fm.curve``. Curves are in ascending threshold order.
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segmetrics.registry import MetricOptions, default_metrics, flatten, scalar_keys

__all__ = [
    "EvalSettings",
    "PairResult",
    "compute_pair",
    "evaluate_pair",
    "load_pair",
    "metric_columns",
]


@dataclass(frozen=True)
class EvalSettings:
    """Everything that decides the numbers of a folder evaluation (stored with the results).

    Attributes:
        metrics: metric families of the metric table, in the order of the CSV columns.
        options: the validated metric options (:class:`segmetrics.registry.MetricOptions`).
        resize: ``"error"`` (a size mismatch is an error row) or ``"pred-to-gt"`` (bilinear resize).
        color: how colour files become one channel, ``"gray"`` or ``"first"`` (see ``image_io``).
        skeleton_cache: folder of the GT skeleton cache, or ``None`` to skeletonise without caching.
        image_dir: folder of the RGB images (same stems as the GTs) for the families that need them.
    """

    metrics: tuple[str, ...] = field(default_factory=default_metrics)
    options: MetricOptions = field(default_factory=MetricOptions.default)
    resize: str = "error"
    color: str = "gray"
    skeleton_cache: str | None = None
    image_dir: str | None = None

    def identity(self) -> dict[str, Any]:
        """The settings that change the numbers (the cache folder does not): metrics, I/O, every option."""
        return {"metrics": list(self.metrics), "resize": self.resize, "color": self.color,
                **self.options.identity()}

    @classmethod
    def from_identity(cls, identity: dict[str, Any]) -> EvalSettings:
        """The settings stored by :meth:`identity` (options absent from it take their defaults)."""
        from segmetrics.registry import OPTIONS, validate_metrics

        metrics = validate_metrics(identity.get("metrics", default_metrics()), canonical=False)
        opts = {k: tuple(v) if isinstance(v, list) else v for k, v in identity.items() if k in OPTIONS}
        return cls(metrics=metrics, options=MetricOptions.make(metrics, **opts),
                   resize=identity.get("resize", "error"), color=identity.get("color", "gray"))


def metric_columns(settings: EvalSettings) -> list[str]:
    """The scalar CSV columns of a metric set, in a fixed order (the metric table's keys).

    Example:
        >>> metric_columns(EvalSettings(metrics=("mae", "iou")))
        ['mae', 'iou', 'iou.adp']
    """
    return scalar_keys(settings.metrics, settings.options)


@dataclass
class PairResult:
    """The per-image record the workers return (JSON-able apart from the curve arrays)."""

    name: str
    status: str = "ok"
    error: str = ""
    height: int = 0
    width: int = 0
    scalars: dict[str, float] = field(default_factory=dict)
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    #: ``{"pred": fingerprint, "gt": fingerprint}`` of the files read (see :mod:`segmetrics.app._fingerprint`),
    #: and ``"image"``: the RGB image's, when ``settings.image_dir`` is set
    inputs: dict[str, Any] = field(default_factory=dict)


def compute_pair(pred: np.ndarray, gt: np.ndarray, settings: EvalSettings, out: PairResult,
                 image: np.ndarray | None = None) -> None:
    """Fill ``out`` with every metric of ``settings`` for one (pred, gt) pair of equal size (one fused pass).

    Raises:
        FloatingPointError: if a metric is not finite (a NaN S-measure is allowed: the reference's).
    """
    from segmetrics._inputs import prepare_images, prepare_pairs, prepare_skeletons
    from segmetrics.image_metrics import image_metrics

    [(p, g)], _ = prepare_pairs(pred, gt, keep_uint8=True)
    [image] = prepare_images(image, [(p, g)], False)
    skeleton = None
    if "hce" in settings.metrics and settings.skeleton_cache is not None:
        from segmetrics.app.skeleton_cache import SkeletonCache

        skeleton = SkeletonCache(settings.skeleton_cache).get(g)
        skeleton = prepare_skeletons(skeleton, [(p, g)], False, "hce_skeleton")[0]
    res = image_metrics(p, g, settings.options, skeleton, image=image)
    for key in settings.metrics:
        scalars, curves = flatten(key, res.results[key], settings.options)
        out.scalars.update({k: float(v) for k, v in scalars.items()})
        out.curves.update(curves)
    for k, v in out.scalars.items():
        if not math.isfinite(v) and not (k == "sm" and math.isnan(v)):
            raise FloatingPointError(f"metric {k} is not finite ({v})")


def load_pair(
    pred_path: Path, gt_path: Path, settings: EvalSettings, inputs: dict[str, Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read a pair and apply the resize policy; a size mismatch under ``"error"`` raises ``ValueError``.

    Read errors name the file's role (prediction or ground truth) and its path. With ``inputs`` (a
    dict), the fingerprints of the bytes read are stored in it under ``"pred"`` and ``"gt"``.
    """
    from segmetrics.app.image_io import _read_map, resize_to

    want = inputs is not None
    gt, gt_fp = _read_map(gt_path, settings.color, "the ground truth ", want)
    pred, pred_fp = _read_map(pred_path, settings.color, "the prediction ", want)
    if inputs is not None:
        inputs["pred"], inputs["gt"] = pred_fp, gt_fp
    if pred.shape != gt.shape:
        if pred.shape == gt.shape[::-1]:  # also under pred-to-gt, which would stretch it without a word
            raise ValueError(
                f"size mismatch: pred {pred.shape[1]}x{pred.shape[0]} vs gt {gt.shape[1]}x{gt.shape[0]} "
                "(W x H): the prediction is the GT turned by 90 degrees, e.g. predicted from a photo whose EXIF "
                "orientation the model applied (files are read as stored); resizing would only stretch it"
            )
        if settings.resize == "pred-to-gt":
            pred = resize_to(pred, gt.shape)
        else:
            raise ValueError(
                f"size mismatch: pred {pred.shape[1]}x{pred.shape[0]} vs gt {gt.shape[1]}x{gt.shape[0]} "
                "(W x H); pass resize='pred-to-gt' (--resize pred-to-gt) to resize predictions"
            )
    return pred, gt


def evaluate_pair(name: str, pred_path: str | Path, gt_path: str | Path, settings: EvalSettings) -> PairResult:
    """Read and evaluate one pair; any failure becomes an ``error`` record (never raises)."""
    out = PairResult(name=name)
    try:
        pred, gt = load_pair(Path(pred_path), Path(gt_path), settings, out.inputs)
        out.height, out.width = int(gt.shape[0]), int(gt.shape[1])
        image = None
        if settings.image_dir is not None:
            from segmetrics.app.image_io import _read_rgb

            image, fp = _read_rgb(settings.image_dir, Path(gt_path).stem, fingerprint=True)
            out.inputs["image"] = fp
        compute_pair(pred, gt, settings, out, image)
    except Exception as exc:
        out.status = "error"
        msg = str(exc) or type(exc).__name__
        if not isinstance(exc, (OSError, ValueError, TypeError)):
            msg = f"{type(exc).__name__}: {msg} | {traceback.format_exc(limit=3).splitlines()[-1]}"
        out.error = msg
        out.scalars = {}
        out.curves = {}
        out.inputs = {}
    return out
