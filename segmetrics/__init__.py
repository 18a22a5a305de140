"""segmetrics: exact, numba-accelerated DIS / salient-object segmentation metrics.

Importing this package never imports torch, matplotlib or OpenCV; they are loaded lazily by the
functions that need them.
"""

from __future__ import annotations

from segmetrics.weighted_fmeasure import weighted_fmeasure

__version__ = "0.1.0"

__all__ = ["__version__", "weighted_fmeasure"]
