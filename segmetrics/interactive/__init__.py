"""Interactive segmentation evaluation: click simulators, NoC@85/90, NoF, mIoU@k, SPC, instance datasets.

Works with any model written as a function (no torch import)::

    from segmetrics.interactive import InteractiveEvaluator, load_instances

    ev = InteractiveEvaluator(protocol="ritm", max_clicks=20)
    ev.evaluate(predict, load_instances("GrabCut", images="data_GT", masks="boundary_GT", ignore_value=128))
    ev.save("results/GrabCut/mymodel", method="mymodel", dataset="GrabCut")

``predict(image, clicks)`` returns a ``(H, W)`` probability map (see
:mod:`segmetrics.interactive.evaluation` for the exact contract); the simulators are documented in
:mod:`segmetrics.interactive.clickers`, the folder layouts in :mod:`segmetrics.interactive.datasets`.
``segmetrics table`` and ``segmetrics plot`` read the saved ``results.json``.
"""

from __future__ import annotations

from segmetrics.interactive.clickers import PROTOCOLS, SEEDED_PROTOCOLS, Click, error_masks, next_click
from segmetrics.interactive.datasets import LAYOUTS, InstanceFolder, InteractiveInstance, load_instances, read_rgb
from segmetrics.interactive.evaluation import (
    DEFAULT_MAX_CLICKS,
    DEFAULT_TARGETS,
    DEFAULT_THRESHOLD,
    InstanceResult,
    InteractiveEvaluator,
    noc,
)

__all__ = [
    "DEFAULT_MAX_CLICKS",
    "DEFAULT_TARGETS",
    "DEFAULT_THRESHOLD",
    "LAYOUTS",
    "PROTOCOLS",
    "SEEDED_PROTOCOLS",
    "Click",
    "InstanceFolder",
    "InstanceResult",
    "InteractiveEvaluator",
    "InteractiveInstance",
    "error_masks",
    "load_instances",
    "next_click",
    "noc",
    "read_rgb",
]
