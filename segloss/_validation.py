"""Argument validation and small numerics helpers shared by every ``segloss`` loss (one place).

Errors are ``TypeError`` (wrong kind / dtype) or ``ValueError`` (wrong shape / value) and their
messages name the argument, what was expected and what was received, e.g.::

    `target` must have shape (N, H, W) = (2, 64, 64) matching `pred` (2, 3, 64, 64); got (2, 1, 64, 64)

Validation never synchronises with the device for shape / dtype checks. Value checks that need
the data (NaN, label range) are opt-in per call because they cost a host sync; losses run them
only outside ``torch.compile`` tracing and when ``segloss.set_value_checks(True)`` (the default)
is in force.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

__all__ = [
    "REDUCTIONS",
    "ValueRule",
    "check_bool",
    "check_choice",
    "check_class_weight",
    "check_finite",
    "check_ignore_index",
    "check_int",
    "check_label_dtype",
    "check_labels",
    "check_logits",
    "check_number",
    "check_same_device",
    "check_target_shape",
    "check_values",
    "class_weight_buffer",
    "finite",
    "float32_logits",
    "in_range",
    "is_ignored",
    "label_ids",
    "one_hot_hint",
    "reduce",
    "set_value_checks",
    "valid_labels",
    "value_checks_enabled",
    "where_valid",
    "zero_with_graph",
]

REDUCTIONS = ("mean", "sum", "none")

_VALUE_CHECKS = True


def set_value_checks(enabled: bool) -> bool:
    """Enable or disable the data-dependent input checks (NaN/Inf, label range) of every loss.

    The checks need one host synchronisation per call; turn them off in tuned training loops on
    an accelerator once the pipeline is known to be sound (e.g. after checking the first batch, as the
    example training scripts do). They are skipped automatically while ``torch.compile`` traces a loss.

    Args:
        enabled: ``True`` to run the checks (default), ``False`` to skip them.

    Returns:
        The previous setting, to restore it later.

    Raises:
        TypeError: ``enabled`` is not a bool (``"False"`` or ``0`` are refused: they read as true or false
            by accident).

    Example:
        >>> import torch, segloss
        >>> logits = torch.randn(1, 1, 4, 4)
        >>> bad = torch.full((1, 4, 4), float("nan"))
        >>> segloss.SoftJaccardLoss()(logits, bad)
        Traceback (most recent call last):
        ...
        ValueError: `target` must be finite; got NaN or Inf values
        >>> previous = segloss.set_value_checks(False)  # no scan: the NaN propagates
        >>> bool(segloss.SoftJaccardLoss()(logits, bad).isnan())
        True
        >>> segloss.set_value_checks(previous)
        False
    """
    global _VALUE_CHECKS
    check_bool(enabled, "enabled")
    previous, _VALUE_CHECKS = _VALUE_CHECKS, enabled
    return previous


def value_checks_enabled() -> bool:
    """Whether data-dependent checks should run now (enabled and not being compiled)."""
    if not _VALUE_CHECKS:
        return False
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling():
        return False
    return True


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is one of ``choices``."""
    if not isinstance(value, str if all(isinstance(c, str) for c in choices) else object) or value not in choices:
        raise ValueError(f"`{name}` must be one of {tuple(choices)}; got {value!r}")


def check_bool(value: Any, name: str) -> None:
    """Raise ``TypeError`` naming ``name`` unless ``value`` is a ``bool`` (``"False"`` or ``0`` are not)."""
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool (True or False); got {value!r}")


def _received(value: Any) -> str:
    """``"<type> <repr>"`` of a refused option value, for the messages."""
    return f"{type(value).__name__} {value!r}"


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> int | float:
    """Check that ``value`` is a real number inside the given bounds and return it as a Python ``int`` / ``float``.

    Python ``int`` / ``float`` and numpy integer / floating scalars (``np.float32(15)``, ``np.int64(3)``: any
    ``numbers.Real``) are accepted and returned as the Python number they represent exactly, so a numpy scalar gives
    the same loss as the Python number. ``bool`` (and ``np.bool_``) is refused: ``True`` is not a weight. Tensors,
    0-d included, are refused too: reading one costs a host synchronisation on an accelerator at every call (pass
    ``x.item()`` once instead).

    Raises:
        TypeError: if ``value`` is not a real number (``bool`` and tensors are rejected).
        ValueError: if it is NaN/Inf or outside ``[low, high]`` (bounds optionally exclusive).

    Examples:
        >>> import numpy as np
        >>> check_number(np.float32(15), "sigma_rgb", low=0)
        15.0
        >>> check_number(True, "eps")
        Traceback (most recent call last):
        ...
        TypeError: `eps` must be a number; got bool True
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = " (pass a Python number, e.g. `x.item()`)" if isinstance(value, torch.Tensor) else ""
        raise TypeError(f"`{name}` must be a number; got {_received(value)}{hint}")
    value = int(value) if isinstance(value, numbers.Integral) else float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"`{name}` must be finite; got {value!r}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"`{name}` must be {op} {low}; got {value!r}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        op = "<=" if high_inclusive else "<"
        raise ValueError(f"`{name}` must be {op} {high}; got {value!r}")
    return value


def check_int(value: Any, name: str, *, low: int | None = None, none_ok: bool = False, what: str = "") -> int | None:
    """Check that ``value`` is an integer (Python or numpy, not ``bool``) ``>= low`` and return it as a Python ``int``.

    ``none_ok`` lets ``None`` through (returned as is). ``what`` replaces the default expectations in both messages
    (e.g. ``"an odd int >= 3"``). A float, even ``3.0``, is refused: a count or a size is an integer.

    Raises:
        TypeError: if ``value`` is not an integer.
        ValueError: if it is below ``low``.

    Examples:
        >>> import numpy as np
        >>> check_int(np.int64(4), "chunk_size", low=1)
        4
        >>> check_int(2.0, "num_outputs", low=1)
        Traceback (most recent call last):
        ...
        TypeError: `num_outputs` must be an int; got float 2.0
    """
    if value is None and none_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        want = what or "an int" + (" or None" if none_ok else "")
        raise TypeError(f"`{name}` must be {want}; got {_received(value)}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"`{name}` must be {what or f'>= {low}'}; got {value!r}")
    return value


def check_tensor(x: Any, name: str) -> None:
    """Raise ``TypeError`` unless ``x`` is a ``torch.Tensor``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(x).__name__}")


def check_logits(pred: Any, name: str = "pred", *, ndim: int | Sequence[int] = 4, what: str = "logits") -> None:
    """Check that ``pred`` is a floating tensor with the expected number of dimensions and no empty axis.

    ``what`` says what the tensor holds, in the message of a non-floating tensor.

    Raises:
        TypeError: if ``pred`` is not a floating-point tensor.
        ValueError: if its number of dimensions is wrong or it has a zero-sized axis.
    """
    check_tensor(pred, name)
    if not pred.is_floating_point():
        raise TypeError(f"`{name}` must be a floating-point tensor ({what}); got dtype {pred.dtype}")
    ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if pred.ndim not in ndims:
        layout = {4: "(N, C, H, W)", 3: "(N, H, W)", 2: "(N, C)", 5: "(N, M, C, H, W)"}
        want = " or ".join(layout.get(d, f"{d}-D") for d in ndims)
        raise ValueError(f"`{name}` must be {want}; got shape {tuple(pred.shape)}")
    if pred.numel() == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {tuple(pred.shape)}")


def check_class_weight(weight: Any, num_classes: int, pred: torch.Tensor, name: str = "weight") -> None:
    """Check per-class weights: a float tensor of shape ``(num_classes,)`` on ``pred``'s device (values: the caller).

    Raises:
        TypeError: if ``weight`` is not a tensor.
        ValueError: if its shape or dtype is wrong, or it is on another device than ``pred``.
    """
    check_tensor(weight, name)
    if weight.shape != (num_classes,) or not weight.is_floating_point():
        raise ValueError(f"`{name}` must be a float tensor of shape ({num_classes},); got {weight.dtype} "
                         f"{tuple(weight.shape)}")
    check_same_device(pred, weight, "pred", name)


def class_weight_buffer(weight: Any, name: str = "weight") -> torch.Tensor | None:
    """A module's per-class weights as a float32 tensor (for ``register_buffer``), checked once at construction.

    ``None`` stays ``None``; a tensor or a sequence of numbers becomes a 1-D float32 tensor (the length is checked
    against the logits at the first call).

    Raises:
        TypeError: if ``weight`` is not a tensor or a sequence of numbers.
        ValueError: if it is not 1-D, or (value checks on) holds a negative, NaN or Inf weight.
    """
    if weight is None:
        return None
    try:
        t = torch.as_tensor(weight, dtype=torch.float32) if not isinstance(weight, str) else None
    except (TypeError, ValueError, RuntimeError):
        t = None
    if t is None:
        raise TypeError(f"`{name}` must be a 1-D sequence of class weights; got {_received(weight)}")
    if t.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D sequence of class weights; got shape {tuple(t.shape)}")
    check_values(in_range(name, t, 0.0, None, what="finite non-negative class weights"))
    return t


def check_ignore_index(ignore_index: Any) -> int | None:
    """Check an ``ignore_index`` (an int, numpy integers included, not a bool; or ``None``); return a Python int.

    Raises:
        TypeError: if it is not an integer or ``None``.
    """
    return check_int(ignore_index, "ignore_index", none_ok=True)


def check_same_device(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Raise ``ValueError`` if two tensors live on different devices."""
    if a.device != b.device:
        raise ValueError(f"`{name_a}` and `{name_b}` must be on the same device; got {a.device} and {b.device}")


def check_target_shape(
    target: Any, expected: Sequence[int], name: str = "target", *, ref: str = "pred", ref_shape: Sequence[int] = ()
) -> None:
    """Check that ``target`` is a tensor of exactly ``expected`` shape.

    Raises:
        TypeError: if ``target`` is not a tensor.
        ValueError: if the shape differs; the message shows both shapes.
    """
    check_tensor(target, name)
    if tuple(target.shape) != tuple(expected):
        extra = f" matching `{ref}` {tuple(ref_shape)}" if ref_shape else ""
        hint = one_hot_hint(target, ref_shape[1]) if len(ref_shape) == len(expected) + 1 == 4 else ""
        raise ValueError(f"`{name}` must have shape {tuple(expected)}{extra}; got {tuple(target.shape)}{hint}")


def one_hot_hint(target: torch.Tensor, channels: int) -> str:
    """A message tail for a ``(N, C, H, W)`` one-hot / probability target where ``(N, H, W)`` class ids are expected.

    Examples:
        >>> one_hot_hint(torch.zeros(2, 3, 4, 4), 3)
        ' (class ids are expected, not one channel per class: use `target.argmax(1)`)'
        >>> one_hot_hint(torch.zeros(2, 4, 4), 3)
        ''
    """
    if target.ndim == 4 and channels >= 2 and target.shape[1] == channels:
        return " (class ids are expected, not one channel per class: use `target.argmax(1)`)"
    return ""


def check_finite(x: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` if ``x`` holds NaN or Inf (data-dependent: skipped when checks are off)."""
    if x.is_floating_point():
        check_values(finite(name, x))


class ValueRule(NamedTuple):
    """What the values of one tensor argument must satisfy (see :func:`check_values`).

    ``low`` / ``high`` are inclusive bounds (``None``: unbounded); every rule also requires finite
    values. Elements equal to ``ignore`` (an ``ignore_index``) are exempt from the bounds. ``what``
    names the expected kind of data in the message, e.g. ``"a 0/1 or soft mask"``.
    """

    name: str
    tensor: torch.Tensor | None
    low: float | None = None
    high: float | None = None
    what: str = ""
    ignore: float | None = None
    labels: bool = False


def finite(name: str, tensor: torch.Tensor | None) -> ValueRule:
    """Rule: ``tensor`` (e.g. logits, features, an image) must hold only finite values."""
    return ValueRule(name, tensor)


def in_range(
    name: str,
    tensor: torch.Tensor | None,
    low: float | None = 0.0,
    high: float | None = 1.0,
    *,
    what: str = "",
    ignore: float | None = None,
) -> ValueRule:
    """Rule: ``tensor`` must be finite with values in ``[low, high]`` (``ignore`` exempt); default ``[0, 1]``."""
    return ValueRule(name, tensor, low, high, what, ignore)


def label_ids(name: str, tensor: torch.Tensor | None, num_classes: int, ignore_index: int | None = None) -> ValueRule:
    """Rule: integer class ids in ``[0, num_classes)`` or equal to ``ignore_index``."""
    return ValueRule(name, tensor, 0, num_classes - 1, "", ignore_index, True)


def _fmt(v: float) -> str:
    return f"{v:g}"


def check_values(*rules: ValueRule) -> dict[str, tuple[float, float]] | None:
    """Check the values of several tensor arguments with a single host synchronisation.

    The one value contract of every loss: each tensor argument is finite and, where the rule gives
    bounds, inside them (a 0/255 mask where a 0/1 mask is expected is an error, not a silently
    different loss). One ``aminmax`` per tensor (NaN propagates into it), the results stacked and
    read once. ``None`` tensors, empty tensors and bool tensors (always in ``[0, 1]``) pass.
    Skipped entirely, with no device work, when value checks are off or under ``torch.compile``.

    Returns:
        ``None`` when the checks are skipped, else ``{name: (min, max)}`` of the checked tensors
        (for callers that warn on suspicious but valid data, e.g. an image in [0, 1] units).

    Raises:
        ValueError: naming the first failing argument, the expectation and the received range, e.g.
            "`target` must hold values in [0, 1] (a 0/1 or soft mask); got values in [0, 255]".
    """
    if not value_checks_enabled():
        return None
    live = [r for r in rules if r.tensor is not None and r.tensor.numel() > 0 and r.tensor.dtype != torch.bool]
    if not live:
        return {}
    stats = []
    for r in live:
        x = r.tensor.detach()
        if x.is_complex():
            raise TypeError(f"`{r.name}` must be a real tensor; got dtype {x.dtype}")
        if r.ignore is not None:
            fill = r.low if r.low is not None else (r.high if r.high is not None else 0)
            x = x.masked_fill(is_ignored(x, r.ignore), fill if x.is_floating_point() else int(fill))
        lo, hi = torch.aminmax(x)
        stats.append(torch.stack([lo, hi]).to(torch.float32 if x.device.type == "mps" else torch.float64))
    dev = stats[0].device  # arguments are on one device (checked before); a stray one is moved, not an error here
    values = torch.stack([t.to(dev) for t in stats]).tolist()  # the one host synchronisation (one device-to-host read)
    for r, (lo, hi) in zip(live, values):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"`{r.name}` must be finite; got NaN or Inf values")
        if (r.low is not None and lo < r.low) or (r.high is not None and hi > r.high):
            if r.labels:
                t = r.tensor.detach()
                bad = (t < 0) | (t > r.high)
                if r.ignore is not None:
                    bad &= ~is_ignored(t, r.ignore)
                vals = torch.unique(t[bad])[:5].tolist()
                ign = f" or ignore_index={r.ignore}" if r.ignore is not None else ""
                raise ValueError(
                    f"`{r.name}` labels must be in [0, {int(r.high) + 1}){ign}; got out-of-range values {vals}"
                )
            want = f"[{_fmt(r.low) if r.low is not None else '-inf'}, {_fmt(r.high) if r.high is not None else 'inf'}]"
            what = f" ({r.what})" if r.what else ""
            ign = f" or ignore_index={_fmt(r.ignore)}" if r.ignore is not None else ""
            raise ValueError(
                f"`{r.name}` must hold values in {want}{what}{ign}; got values in [{_fmt(lo)}, {_fmt(hi)}]"
            )
    return {r.name: (lo, hi) for r, (lo, hi) in zip(live, values)}


def check_labels(
    target: torch.Tensor, num_classes: int, name: str = "target", *, ignore_index: int | None = None
) -> None:
    """Check class ids: integer dtype always; range ``[0, num_classes)`` (or ``ignore_index``) when checks run.

    Raises:
        TypeError: if ``target`` is not an integer tensor.
        ValueError: if a label is outside ``[0, num_classes)`` and is not ``ignore_index``.
    """
    check_label_dtype(target, name)
    check_values(label_ids(name, target, num_classes, ignore_index))


def check_label_dtype(target: torch.Tensor, name: str = "target") -> None:
    """Raise ``TypeError`` unless ``target`` is an integer tensor (class ids; any integer dtype)."""
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        hint = "" if target.is_complex() else " (a 0/1 or bool mask converts with `.long()`)"
        raise TypeError(f"`{name}` must be an integer tensor of class ids; got dtype {target.dtype}{hint}")


def float32_logits(pred: torch.Tensor) -> torch.Tensor:
    """Upcast half / bfloat16 inputs to float32 (float64 stays float64) for numerically safe maths."""
    if pred.dtype in (torch.float16, torch.bfloat16):
        return pred.float()
    return pred


def zero_with_graph(pred: torch.Tensor) -> torch.Tensor:
    """A 0-d zero that keeps ``pred``'s autograd graph (so ``backward()`` works and grads are zero).

    Each element is zeroed before the sum, so large finite logits (whose plain sum overflows to
    ``inf``, and ``inf · 0`` is NaN) still give 0, while a NaN/Inf in ``pred`` still propagates.
    """
    return (float32_logits(pred) * 0.0).sum()


def is_ignored(target: torch.Tensor, ignore_index: float) -> torch.Tensor:
    """Bool mask ``target == ignore_index``, with no wrap-around of an ``ignore_index`` the dtype cannot hold.

    torch casts a Python int to an integer tensor's dtype before comparing, so a uint8 target compares with
    ``-1`` as with 255 (and an int8 one with 255 as with -1); such an ``ignore_index`` matches nothing here.

    Examples:
        >>> is_ignored(torch.tensor([0, 255], dtype=torch.uint8), -1).tolist()
        [False, False]
        >>> is_ignored(torch.tensor([0, 255], dtype=torch.uint8), 255).tolist()
        [False, True]
    """
    if not target.is_floating_point() and not target.is_complex() and target.dtype != torch.bool:
        info = torch.iinfo(target.dtype)
        if not info.min <= ignore_index <= info.max:
            return torch.zeros_like(target, dtype=torch.bool)
    return target == ignore_index


def valid_labels(target: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    """Bool mask of the pixels that count: ``target != ignore_index``, all ``True`` when ``ignore_index`` is ``None``.

    An ``ignore_index`` that the target's integer dtype cannot hold matches no pixel (see :func:`is_ignored`).

    Examples:
        >>> valid_labels(torch.tensor([0, 255, 1]), 255).tolist()
        [True, False, True]
        >>> valid_labels(torch.tensor([0, 255]), None).tolist()
        [True, True]
    """
    if ignore_index is None:
        return torch.ones_like(target, dtype=torch.bool)
    return ~is_ignored(target, ignore_index)


def where_valid(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """``x`` where the bool mask ``valid`` holds, an exact 0 elsewhere (gradient 0 there too).

    The one way to drop ignored pixels from a per-pixel term: multiplying by a 0/1 mask turns an
    overflowing term of an ignored pixel into NaN (``inf · 0``) and the whole loss with it.
    """
    return torch.where(valid, x, torch.zeros((), dtype=x.dtype, device=x.device))


def reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply ``reduction`` (``"mean"``, ``"sum"`` or ``"none"``) to a per-sample ``(N,)`` loss."""
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    return per_sample
