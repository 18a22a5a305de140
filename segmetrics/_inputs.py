"""Input validation and conversion for every public ``segmetrics`` function (one place).

Conventions (documented in the README's conventions table):

* **Prediction** ``pred``: ``uint8`` in 0..255 (divided by 255, as pysodmetrics does), ``bool``
  (``True`` = 1.0) or a floating map in ``[0, 1]``. Any other integer dtype is rejected, because
  its range is ambiguous. The canonical internal form is a C-contiguous ``float64`` map in
  ``[0, 1]``; for uint8 input this is bit-identical to pysodmetrics' ``pred / 255``.
* **Ground truth** ``gt``: ``bool`` as is; ``uint8`` is foreground where ``gt > 128`` (pysodmetrics,
  DIS); other integer dtypes must be 0/1 labels; floating maps must lie in ``[0, 1]`` and are
  foreground where their 8-bit level ``trunc(255 gt)`` is ``> 128`` (so ``gt_u8 / 255``, in float64
  or float32, gives the same mask as ``gt_u8``).
* **Shapes**: one image ``(H, W)``; a batch ``(N, H, W)`` or ``(N, 1, H, W)``; or a list / tuple of
  differently sized ``(H, W)`` maps (a torch nested tensor is read as one). ``pred`` and ``gt`` must have the
  same structure and sizes.
* **Torch tensors** (CPU or CUDA) are accepted without importing torch: they are detected by
  duck typing and copied to host memory with ``.detach().cpu().numpy()`` (bfloat16, which numpy
  lacks, is read as float32: every value exactly).

Every error is a ``TypeError`` (wrong kind or dtype) or ``ValueError`` (wrong shape or values)
whose message names the argument, what was expected and what was received.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "GT_UINT8_THRESHOLD",
    "above_uint8_threshold",
    "as_numpy",
    "check_bool",
    "check_choice",
    "check_epsilon",
    "check_int",
    "check_positive",
    "check_threshold",
    "check_tolerances",
    "check_unit_interval",
    "is_batch",
    "prepare_gt",
    "prepare_pair",
    "prepare_pairs",
    "prepare_pred",
    "prepare_skeletons",
]

#: Pixels of a uint8 ground truth strictly above this value are foreground (pysodmetrics, DIS).
GT_UINT8_THRESHOLD = 128


def above_uint8_threshold(values: np.ndarray) -> np.ndarray:
    """Where a float map in ``[0, 1]`` is above :data:`GT_UINT8_THRESHOLD` at its 8-bit level ``trunc(255 v)``.

    The level of ``x / 255`` is ``x`` for every uint8 ``x``, in float64 and in float32 alike (the
    curves quantise the same way), so a uint8 map and its float conversions binarise identically;
    ``v > 128 / 255`` would not: float32(128 / 255) lies above 128 / 255.

    Example:
        >>> x = np.arange(126, 132, dtype=np.uint8)
        >>> above_uint8_threshold((x / np.float32(255)).astype(np.float64)).tolist() == (x > 128).tolist()
        True
    """
    return values * 255.0 >= GT_UINT8_THRESHOLD + 1


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__}"


def _describe_input(x: Any, name: str) -> str:
    if isinstance(x, (list, tuple)):
        return "list"
    return "nested tensor" if _is_nested(x) else _describe(as_numpy(x, name))


def as_numpy(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a numpy array; torch tensors are moved to the host without importing torch.

    Args:
        x: numpy array, torch tensor (any device; bfloat16 is read as float32) or array-like of numbers.
        name: argument name used in error messages.

    Returns:
        A numpy array (a view when ``x`` already is one).

    Raises:
        TypeError: if ``x`` is ``None``, a string, a tensor of a dtype numpy lacks (e.g. float8), or not
            convertible to a numeric array.
    """
    if isinstance(x, np.ndarray):
        return x
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"`{name}` must be a numpy array or torch tensor; got {type(x).__name__}")
    if type(x).__module__.startswith("torch") and hasattr(x, "detach"):
        if str(getattr(x, "device", "")) == "meta":  # no data to copy (torch: a bare NotImplementedError)
            raise TypeError(f"`{name}` must be a tensor holding data (not on the meta device); got a meta tensor "
                            f"of shape {tuple(x.shape)}")
        if str(getattr(x, "layout", "torch.strided")) != "torch.strided":
            raise TypeError(f"`{name}` must be a dense (strided) tensor; got layout {x.layout} (call .to_dense())")
        t = x.detach().cpu().resolve_conj().resolve_neg()  # numpy() refuses views with a conjugate / negative bit
        if str(t.dtype) == "torch.bfloat16":  # numpy has no bfloat16; float32 holds every value exactly
            t = t.float()
        try:
            return t.numpy()
        except TypeError as exc:  # a dtype numpy lacks (e.g. float8)
            raise TypeError(f"`{name}` must be a tensor of a numpy dtype; got {t.dtype}") from exc
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - defensive
        raise TypeError(f"`{name}` must be a numpy array or torch tensor; got {type(x).__name__}") from exc
    if arr.dtype == object:
        raise TypeError(f"`{name}` must be a numeric array; got an object array from {type(x).__name__}")
    return arr


def _check_2d(arr: np.ndarray, name: str) -> None:
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be a 2-D (H, W) map; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"`{name}` must not be empty; got shape {arr.shape}")


def _check_finite_range(arr: np.ndarray, name: str) -> None:
    if not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"`{name}` must be finite; got {n_bad} NaN/Inf value(s)")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"`{name}` of floating dtype must lie in [0, 1]; got values in [{lo:.6g}, {hi:.6g}] "
            + ("(logits? apply a sigmoid first)" if lo < 0.0 else "(pass uint8 0..255 maps as uint8)")
        )


def prepare_pred(pred: Any, name: str = "pred", *, keep_uint8: bool = False) -> np.ndarray:
    """Validate one prediction map and return it as C-contiguous float64 in ``[0, 1]``.

    Args:
        pred: ``(H, W)`` uint8 (0..255), bool, or float map in ``[0, 1]``.
        name: argument name used in error messages.
        keep_uint8: return uint8 maps as C-contiguous uint8 (0..255) instead of ``float64 / 255``
            (for kernels that map the 256 levels through a lookup table).

    Returns:
        ``(H, W)`` float64 array in ``[0, 1]`` (or the uint8 map, see ``keep_uint8``).

    Raises:
        TypeError: for unsupported dtypes (e.g. int32, complex).
        ValueError: for a wrong number of dimensions, an empty map, NaN/Inf or out-of-range values.
    """
    arr = as_numpy(pred, name)
    _check_2d(arr, name)
    if arr.dtype == np.uint8:
        if keep_uint8:
            return np.ascontiguousarray(arr)
        return np.ascontiguousarray(arr, dtype=np.float64) / 255.0
    if arr.dtype == np.bool_:
        return np.ascontiguousarray(arr, dtype=np.float64)
    if np.issubdtype(arr.dtype, np.floating):
        _check_finite_range(arr, name)
        return np.ascontiguousarray(arr, dtype=np.float64)
    raise TypeError(f"`{name}` must be uint8 (0..255), bool or floating in [0, 1]; got dtype {arr.dtype}")


def prepare_gt(gt: Any, name: str = "gt") -> np.ndarray:
    """Validate one ground-truth map and return it as a C-contiguous boolean mask.

    Args:
        gt: ``(H, W)`` bool, uint8 (foreground ``> 128``), integer 0/1 labels, or float in
            ``[0, 1]`` (foreground where ``trunc(255 gt) > 128``).
        name: argument name used in error messages.

    Returns:
        ``(H, W)`` boolean array.

    Raises:
        TypeError: for unsupported dtypes.
        ValueError: for a wrong number of dimensions, an empty map, NaN/Inf, out-of-range values
            or integer labels other than 0/1.
    """
    arr = as_numpy(gt, name)
    _check_2d(arr, name)
    if arr.dtype == np.bool_:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr > GT_UINT8_THRESHOLD)
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 1:
            raise ValueError(
                f"`{name}` of integer dtype {arr.dtype} must hold 0/1 labels; got values in [{lo}, {hi}] "
                "(pass 0..255 masks as uint8)"
            )
        return np.ascontiguousarray(arr == 1)
    if np.issubdtype(arr.dtype, np.floating):
        _check_finite_range(arr, name)
        return np.ascontiguousarray(above_uint8_threshold(arr.astype(np.float64)))
    raise TypeError(f"`{name}` must be bool, uint8, integer 0/1 or floating in [0, 1]; got dtype {arr.dtype}")


def prepare_pair(pred: Any, gt: Any, *, keep_uint8: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate one ``(pred, gt)`` pair of 2-D maps; see :func:`prepare_pred`, :func:`prepare_gt`.

    Raises:
        ValueError: if the shapes differ, plus the errors of the two helpers.
        TypeError: see the two helpers.
    """
    p = prepare_pred(pred, keep_uint8=keep_uint8)
    g = prepare_gt(gt)
    if p.shape != g.shape:
        raise ValueError(f"`pred` and `gt` must have the same shape; got pred {p.shape} and gt {g.shape}")
    return p, g


def _is_nested(x: Any) -> bool:
    """Whether ``x`` is a torch nested tensor (a batch of differently sized maps, read as a list of them)."""
    return type(x).__module__.startswith("torch") and getattr(x, "is_nested", False) is True


def is_batch(x: Any) -> bool:
    """Whether ``x`` is a batch (3-D/4-D array, a list/tuple of maps or a nested tensor) rather than one 2-D map."""
    if isinstance(x, (list, tuple)) or _is_nested(x):
        return True
    shape = getattr(x, "shape", None)
    if shape is None:
        return np.ndim(x) > 2
    return len(shape) > 2


def _split_batch(x: Any, name: str) -> list[Any]:
    if _is_nested(x):
        x = list(x.unbind())
    if isinstance(x, (list, tuple)):
        if len(x) == 0:
            raise ValueError(f"`{name}` must not be an empty list")
        return list(x)
    arr = as_numpy(x, name)
    if arr.ndim == 4:
        if arr.shape[1] != 1:
            raise ValueError(
                f"`{name}` as a 4-D batch must have one channel, shape (N, 1, H, W); got shape {arr.shape}"
                + (f" (channel axis last? pass `{name}[..., 0]`)" if arr.shape[3] == 1 else "")
            )
        arr = arr[:, 0]
    if arr.ndim != 3:
        raise ValueError(
            f"`{name}` must be (H, W), (N, H, W), (N, 1, H, W) or a list of (H, W) maps; got shape {arr.shape}"
        )
    if arr.shape[2] in (1, 3, 4) and min(arr.shape[:2]) >= 8:
        # an image read with its channel axis last (cv2.imread without IMREAD_GRAYSCALE, mask[..., None]) is scored
        # as a batch of H images one, three or four pixels wide: valid, so a warning, not an error
        import warnings

        warnings.warn(
            f"`{name}` of shape {arr.shape} is taken as a batch of {arr.shape[0]} images {arr.shape[2]} pixel(s) wide; "
            f"if it is one (H, W, C) image with its channel axis last, pass an (H, W) map (e.g. {name}[..., 0], or a "
            "grey conversion)",
            UserWarning,
            stacklevel=4,
        )
    if arr.shape[0] == 0:
        raise ValueError(f"`{name}` must not be an empty batch; got shape {arr.shape}")
    return list(arr)


def prepare_pairs(
    pred: Any, gt: Any, *, keep_uint8: bool = False
) -> tuple[list[tuple[np.ndarray, np.ndarray]], bool]:
    """Validate a single pair or a batch of pairs.

    Args:
        pred: one map or a batch (see the module docstring).
        gt: the matching ground truth, with the same structure.
        keep_uint8: keep uint8 predictions as uint8 (see :func:`prepare_pred`).

    Returns:
        ``(pairs, batched)``: the list of validated ``(float64 pred, bool gt)`` pairs and whether
        the input was a batch (so the caller returns per-image arrays rather than scalars).

    Raises:
        TypeError: for unsupported types or dtypes.
        ValueError: for mismatched structures, shapes or invalid values; batch errors name the
            offending index.
    """
    batched_p, batched_g = is_batch(pred), is_batch(gt)
    if batched_p != batched_g:
        raise ValueError(
            "`pred` and `gt` must both be single (H, W) maps or both batches; got "
            f"pred {_describe_input(pred, 'pred')} and gt {_describe_input(gt, 'gt')}"
        )
    if not batched_p:
        return [prepare_pair(pred, gt, keep_uint8=keep_uint8)], False
    preds, gts = _split_batch(pred, "pred"), _split_batch(gt, "gt")
    if len(preds) != len(gts):
        raise ValueError(f"`pred` and `gt` must hold the same number of maps; got {len(preds)} and {len(gts)}")
    pairs = []
    for i, (p, g) in enumerate(zip(preds, gts)):
        try:
            pairs.append(prepare_pair(p, g, keep_uint8=keep_uint8))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"item {i}: {exc}") from None
    return pairs, True


def prepare_skeletons(
    skeleton: Any, pairs: list[tuple[np.ndarray, np.ndarray]], batched: bool, name: str = "skeleton"
) -> list[np.ndarray | None]:
    """Validate optional precomputed GT skeletons against validated pairs (one per image, same shape as its GT).

    Every auxiliary map is checked here, before any kernel sees it: a skeleton larger than its GT
    would otherwise be packed past the end of the kernels' buffers.

    Args:
        skeleton: ``None``; one ``(H, W)`` map for a single pair; or, for a batch, a list / ``(N, H, W)``
            / ``(N, 1, H, W)`` array (items may be ``None``). Same dtypes as a GT (see :func:`prepare_gt`).
        pairs: the validated ``(pred, gt)`` pairs (from :func:`prepare_pairs`).
        batched: whether the pairs came from a batch.
        name: argument name used in error messages.

    Returns:
        One boolean ``(H, W)`` skeleton (or ``None``) per pair.

    Raises:
        TypeError: for unsupported types or dtypes.
        ValueError: for a wrong number of maps or a map whose shape differs from its GT's.
    """
    if skeleton is None:
        return [None] * len(pairs)
    if batched:
        if not is_batch(skeleton):
            raise ValueError(
                f"`{name}` must be a batch (a list or an (N, H, W) array) matching the batch of `gt`; "
                f"got {_describe(skeleton)}"
            )
        items = _split_batch(skeleton, name) if not isinstance(skeleton, (list, tuple)) else list(skeleton)
        if len(items) != len(pairs):
            raise ValueError(f"`{name}` must hold {len(pairs)} maps, one per image; got {len(items)}")
    else:
        items = [skeleton]
    out: list[np.ndarray | None] = []
    for i, (item, (_, g)) in enumerate(zip(items, pairs)):
        if item is None:
            out.append(None)
            continue
        arr = as_numpy(item, name)
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        where = f" (item {i})" if batched else ""
        s = prepare_gt(arr, name)
        if s.shape != g.shape:
            raise ValueError(f"`{name}`{where} must have the shape of `gt` {g.shape}; got {s.shape}")
        out.append(s)
    return out


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` as ``bool``; ``TypeError`` naming ``name`` unless it is a bool (not ``"False"``, not 0/1)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool; got {type(value).__name__} {value!r}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """Return ``value``; ``ValueError`` naming ``name`` if it is not one of ``choices``."""
    if isinstance(value, (list, dict, set, np.ndarray)) or value not in choices:  # arrays compare elementwise
        raise ValueError(f"`{name}` must be one of {tuple(choices)}; got {value!r}")
    return value


def check_positive(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` as ``float``; ``TypeError``/``ValueError`` unless it is a finite positive (or >= 0) number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a number; got {type(value).__name__}")
    f = _as_float(value)
    if not math.isfinite(f) or f < 0 or (f == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be finite and {bound}; got {value!r}")
    return f


def _as_float(value: Any) -> float:
    """``float(value)``, or ``inf`` for a Python int beyond the float range (e.g. ``10**400``)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def check_int(value: Any, name: str, *, minimum: int = 0) -> int:
    """Return ``value`` as ``int``; ``TypeError`` unless it is an integer, ``ValueError`` below ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be an integer >= {minimum}; got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}; got {value}")
    return int(value)


def check_unit_interval(value: Any, name: str) -> float:
    """Return ``value`` as ``float``; ``TypeError`` unless it is a number, ``ValueError`` outside ``[0, 1]``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a number in [0, 1]; got {type(value).__name__}")
    f = _as_float(value)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"`{name}` must lie in [0, 1]; got {value!r}")
    return f


def check_threshold(value: Any, name: str) -> float:
    """Return a binarisation threshold in ``[0, 1)`` as ``float`` (foreground where ``p > threshold``)."""
    f = check_positive(value, name, allow_zero=True)
    if f >= 1.0:
        raise ValueError(f"`{name}` must lie in [0, 1); got {value!r}")
    return f


def check_zero_division(value: Any, name: str = "zero_division") -> float:
    """Return the value of a ratio with a zero denominator: ``0.0`` or ``1.0`` (the only two accepted)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or value not in (0, 1):
        raise ValueError(f"`{name}` must be 0.0 or 1.0; got {value!r}")
    return float(value)


def check_tolerances(value: Any, name: str) -> tuple[int, ...]:
    """Return pixel tolerances (one integer or a sequence of integers in ``[0, 64]``) sorted, as a tuple."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        value = (int(value),)
    if isinstance(value, (str, bytes)):
        raise TypeError(f"`{name}` must be a sequence of integers in [0, 64] (pixels); got {value!r}")
    try:
        tols = tuple(value)
    except TypeError:
        raise TypeError(f"`{name}` must be a sequence of integers in [0, 64] (pixels); got {value!r}") from None
    if not tols:
        raise ValueError(f"`{name}` must hold at least one tolerance; got an empty sequence")
    for t in tols:
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or t < 0 or t > 64:
            raise ValueError(f"`{name}` must be integers in [0, 64] (pixels); got {value!r}")
    if len(set(tols)) != len(tols):
        raise ValueError(f"`{name}` must not repeat a tolerance; got {value!r}")
    return tuple(sorted(int(t) for t in tols))


def check_epsilon(value: Any, name: str) -> float:
    """Return a Douglas–Peucker tolerance as ``float``: finite, ``> 0`` and below OpenCV's ``1e30`` limit."""
    f = check_positive(value, name)
    if f >= 1e30:
        raise ValueError(f"`{name}` must be < 1e30 (OpenCV's approxPolyDP limit); got {value!r}")
    return f


def prepare_images(
    image: Any, pairs: list[tuple[np.ndarray, np.ndarray]], batched: bool, name: str = "image"
) -> list[np.ndarray | None]:
    """Validate optional RGB images against validated pairs (one ``(H, W, 3)`` uint8 image per pair).

    Args:
        image: ``None``; one ``(H, W, 3)`` uint8 image for a single pair; or, for a batch, a list (items
            may be ``None``) or an ``(N, H, W, 3)`` array.
        pairs: the validated ``(pred, gt)`` pairs (from :func:`prepare_pairs`).
        batched: whether the pairs came from a batch.
        name: argument name used in error messages.

    Returns:
        One C-contiguous uint8 image (or ``None``) per pair.

    Raises:
        TypeError: for a non-array image.
        ValueError: for a wrong number of images, or an image that is not uint8 RGB of its GT's size.
    """
    if image is None:
        return [None] * len(pairs)
    items = list(image) if batched else [image]
    if len(items) != len(pairs):
        raise ValueError(f"`{name}` must hold {len(pairs)} images, one per map; got {len(items)}")
    out: list[np.ndarray | None] = []
    for i, (item, (_, g)) in enumerate(zip(items, pairs)):
        if item is None:
            out.append(None)
            continue
        arr = as_numpy(item, name)
        where = f" (item {i})" if batched else ""
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"`{name}`{where} must be a uint8 (H, W, 3) RGB image; got {_describe(arr)}")
        if arr.shape[:2] != g.shape:
            raise ValueError(f"`{name}`{where} must have the shape of `gt` {g.shape} plus 3 channels; got {arr.shape}")
        out.append(np.ascontiguousarray(arr))
    return out
