"""segmetrics: exact, numba-accelerated DIS / salient-object segmentation metrics.

Layout:

* **metrics**, one file each (``fmeasure``, ``emeasure``, ``smeasure``, ``weighted_fmeasure``, ``mae``,
  ``hce``, ``region_overlap``, ``boundary_fscore``, ``complexity``, ...), their numba kernels in
  ``_kernels/``, input validation in ``_inputs``;
* **the metric table and the fused pass**: ``registry`` (how a metric family and an option are
  declared), ``metric_table`` (every family and option, declared once), ``image_metrics``
  (:func:`compute_all`: all requested metrics of an image from one shared pass), ``accumulator``
  (:class:`DatasetMetrics`) and ``distributed``;
* **the folder-evaluation application** in ``app/`` (the ``segmetrics`` command, configuration files,
  folder evaluation with its journal, image I/O, tables, plots, HCE pictures, skeleton cache), and
  the interactive-segmentation evaluation in ``interactive/``.

Importing this package never imports torch, matplotlib or OpenCV; they are loaded lazily by the
functions that need them.
"""

from __future__ import annotations

from typing import Any

from segmetrics.accumulator import DatasetMetrics
from segmetrics.boundary_accuracy import boundary_accuracy
from segmetrics.boundary_fscore import BoundaryFScore, boundary_fscore
from segmetrics.boundary_iou import BoundaryIoUResult, boundary_iou
from segmetrics.confusion import ConfusionAccumulator, ConfusionResult, confusion_counts, confusion_metrics
from segmetrics.context_measure import camouflage_context_measure, context_measure
from segmetrics.distance import squared_distance_transform
from segmetrics.distributed import gather_metrics
from segmetrics.emeasure import EMeasureResult, emeasure
from segmetrics.fmeasure import FMeasureResult, fmeasure
from segmetrics.hce import HCEDetails, HCEResult, hce, hce_details
from segmetrics.image_metrics import ImageMetrics, compute_all
from segmetrics.mae import mae
from segmetrics.mse import mse
from segmetrics.multiscale_iou import MSIoUResult, msiou, msiou_ground_truth
from segmetrics.region_overlap import RegionOverlap, dice, iou, region_overlap
from segmetrics.size_invariance import SizeInvariantAccumulator, SizeInvariantResult, size_invariant_metrics
from segmetrics.skeleton import skeletonize
from segmetrics.smeasure import smeasure
from segmetrics.weighted_fmeasure import weighted_fmeasure

__version__ = "0.1.0"

# Folder evaluation, plots, pictures and statistics: loaded on first use (lazy).
_LAZY = {
    "FolderResult": "segmetrics.app.folder",
    "evaluate_folder": "segmetrics.app.folder",
    "load_results": "segmetrics.app.folder",
    "merge_results": "segmetrics.app.folder",
    "evaluate_config": "segmetrics.app.config",
    "format_table": "segmetrics.app.report",
    "plot_curves": "segmetrics.app.plot",
    "save_curve_plots": "segmetrics.app.plot",
    "draw_hce": "segmetrics.app.hce_picture",
    "save_hce_picture": "segmetrics.app.hce_picture",
    "ObjectComplexity": "segmetrics.complexity",
    "object_complexity": "segmetrics.complexity",
    "summarize_complexity": "segmetrics.complexity",
    "complexity_folder": "segmetrics.app.stats",
    "SkeletonCache": "segmetrics.app.skeleton_cache",
    "read_map": "segmetrics.app.image_io",
    "InteractiveEvaluator": "segmetrics.interactive",
    "pair_files": "segmetrics.app.image_io",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'segmetrics' has no attribute {name!r}")


__all__ = [
    "BoundaryFScore",
    "BoundaryIoUResult",
    "ConfusionAccumulator",
    "ConfusionResult",
    "DatasetMetrics",
    "EMeasureResult",
    "FMeasureResult",
    "FolderResult",
    "HCEDetails",
    "HCEResult",
    "ImageMetrics",
    "InteractiveEvaluator",
    "MSIoUResult",
    "ObjectComplexity",
    "RegionOverlap",
    "SizeInvariantAccumulator",
    "SizeInvariantResult",
    "SkeletonCache",
    "__version__",
    "boundary_accuracy",
    "boundary_fscore",
    "boundary_iou",
    "camouflage_context_measure",
    "complexity_folder",
    "compute_all",
    "confusion_counts",
    "confusion_metrics",
    "context_measure",
    "dice",
    "draw_hce",
    "emeasure",
    "evaluate_config",
    "evaluate_folder",
    "fmeasure",
    "format_table",
    "gather_metrics",
    "hce",
    "hce_details",
    "iou",
    "load_results",
    "mae",
    "merge_results",
    "mse",
    "msiou",
    "msiou_ground_truth",
    "object_complexity",
    "pair_files",
    "plot_curves",
    "read_map",
    "region_overlap",
    "save_curve_plots",
    "save_hce_picture",
    "size_invariant_metrics",
    "skeletonize",
    "smeasure",
    "squared_distance_transform",
    "summarize_complexity",
    "weighted_fmeasure",
]
