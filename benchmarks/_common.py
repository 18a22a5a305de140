"""Shared set-up of the benchmark scripts (run them as ``python benchmarks/<script>.py``)."""

from __future__ import annotations


def single_thread() -> None:
    """Pin numba, OpenCV and (when installed) torch to one thread, so that timings compare like with like."""
    import cv2
    import numba

    numba.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
