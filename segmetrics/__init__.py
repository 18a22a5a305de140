"""segmetrics: exact, numba-accelerated DIS / salient-object segmentation metrics.

Importing this package never imports torch, matplotlib or OpenCV; they are loaded lazily by the
functions that need them.
"""

from __future__ import annotations

from segmetrics.accumulator import DatasetMetrics
from segmetrics.emeasure import EMeasureResult, emeasure
from segmetrics.fmeasure import FMeasureResult, fmeasure
from segmetrics.fused import ImageMetrics, compute_all
from segmetrics.hce import HCEDetails, HCEResult, hce, hce_details
from segmetrics.mae import mae
from segmetrics.skeleton import skeletonize
from segmetrics.smeasure import smeasure
from segmetrics.weighted_fmeasure import weighted_fmeasure

__version__ = "0.1.0"

__all__ = [
    "DatasetMetrics",
    "EMeasureResult",
    "FMeasureResult",
    "HCEDetails",
    "HCEResult",
    "ImageMetrics",
    "__version__",
    "compute_all",
    "emeasure",
    "fmeasure",
    "hce",
    "hce_details",
    "mae",
    "skeletonize",
    "smeasure",
    "weighted_fmeasure",
]
