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


def synchronize(device) -> None:
    """Wait for the device's queued work (CUDA); nothing to wait for on a CPU."""
    if device.type == "cuda":
        import torch

        torch.cuda.synchronize(device)


def median_seconds(fn, device, repeats: int, warmup: int = 2) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` calls, each synchronised, after ``warmup`` calls."""
    import statistics
    import time

    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
