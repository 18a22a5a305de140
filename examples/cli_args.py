"""argparse value types shared by the example and benchmark scripts.

Each function converts one command-line string and raises :class:`argparse.ArgumentTypeError` when the value is
out of range, so a bad flag ends in argparse's usage error naming the flag (exit status 2), e.g.
``train_isnet.py: error: argument --lr: must be a finite number > 0; got 'nan'``, instead of a traceback deep
inside torch or numpy.

    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--batch", type=positive_int)
    >>> p.parse_args(["--batch", "4"]).batch
    4
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 1; got '0'
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path


def int_in(low: int, high: float = math.inf) -> Callable[[str], int]:
    """Type of an integer flag in ``[low, high]`` (``high`` infinite: ``>= low``)."""
    expect = f"an integer >= {low}" if high == math.inf else f"an integer in [{low}, {high}]"

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {expect}; got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {expect}; got {text!r}")
        return value

    # argparse names the type in "invalid ... value" messages
    convert.__name__ = f"int >= {low}" if high == math.inf else expect
    return convert


def int_at_least(low: int) -> Callable[[str], int]:
    """Type of an integer flag ``>= low``."""
    return int_in(low)


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)


def float_in(low: float, high: float = math.inf, *, low_open: bool = False,
             high_open: bool = False) -> Callable[[str], float]:
    """Type of a finite float flag in the interval from ``low`` to ``high`` (closed ends unless ``*_open``)."""
    left, right = "(" if low_open else "[", ")" if high_open or high == math.inf else "]"
    if low == 0 and low_open and high == math.inf:
        expect = "a finite number > 0"
    elif low == 0 and high == math.inf:
        expect = "a finite number >= 0"
    else:
        expect = f"a number in {left}{low:g}, {high:g}{right}"

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {expect}; got {text!r}") from None
        ok = (math.isfinite(value) and (value > low if low_open else value >= low)
              and (value < high if high_open else value <= high))
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {expect}; got {text!r}")
        return value

    convert.__name__ = expect
    return convert


positive_float = float_in(0.0, low_open=True)
nonnegative_float = float_in(0.0)
probability = float_in(0.0, 1.0)
beta = float_in(0.0, 1.0, high_open=True)


def threads(text: str) -> int:
    """CPU threads for torch: 0 (automatic) up to the machine's CPU count (more crashes OpenMP's pool)."""
    value = nonnegative_int(text)
    cores = os.cpu_count() or 1
    if value > cores:
        raise argparse.ArgumentTypeError(f"must be 0 (auto) to {cores} (this machine's CPU count); got {text!r}")
    return value


def torch_device(text: str, *, allow_auto: bool = True) -> str:
    """A torch device string (``cpu``, ``cuda``, ``cuda:1``, ..., or ``auto``) that exists on this machine."""
    import torch

    if allow_auto and text == "auto":
        return text
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"not a torch device (cpu, cuda, cuda:N{', auto' if allow_auto else ''}); "
                                         f"got {text!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"{text!r}: no CUDA device is available")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"{text!r}: only {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise argparse.ArgumentTypeError(f"only cpu and cuda devices are supported; got {text!r}")
    return text


def output_dir(text: str) -> str:
    """An output folder: it may exist as a folder or not exist yet, but must not be a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"{parent} (in {text}) is not a folder")
            break
    return text
