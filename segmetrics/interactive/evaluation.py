"""Number-of-clicks evaluation of interactive segmentation models (NoC@85/90, NoF, mIoU@k, SPC).

The model is any callable (no framework is imported here):

``predict(image, clicks) -> output`` or, with ``feedback=True``, ``predict(image, clicks, prev) -> output``

* ``image``: the instance's image (e.g. ``(H, W, 3)`` uint8 RGB); a numpy image is copied for each call, so a
  model that edits its input in place cannot change what later clicks see (other types are passed as they are);
* ``clicks``: tuple of every :class:`~segmetrics.interactive.Click` ``(y, x, positive)`` so far, in
  order (the newest last; one more on each call, starting with one);
* ``prev``: the previous output as a float64 ``(H, W)`` map (zeros before the first click); the
  RITM models feed it back as an extra input channel;
* ``output``: a ``(H, W)`` probability map with values in ``[0, 1]`` (anything ``np.asarray``
  accepts: numpy arrays, lists, tensors — detached and copied to the host first, bfloat16 as
  float32; a batch of one, ``(1, H, W)`` or ``(1, 1, H, W)``, is accepted), binarised as
  ``output > threshold`` (default ``0.49``, RITM's ``pred_thr``; strict), or a boolean mask used
  as it is.

If ``predict`` (or an instance) raises inside :meth:`InteractiveEvaluator.evaluate`, the exception
propagates with a note naming the instance; the instances evaluated before it stay in the
evaluator, and ``evaluate(predict, instances[i:])`` goes on from the failed one.

Per instance (:func:`noc`), following RITM's ``evaluate_sample``: the prediction starts empty; for
``k = 1 … max_clicks`` the simulator (:mod:`~segmetrics.interactive.clickers`) places click ``k`` in
the current error, the model predicts, ``IoU_k`` is recorded (ignored pixels left out), and the
loop stops once ``IoU_k ≥ stop_at`` (default: the highest target) and ``k ≥ min_clicks``, or when
no unclicked error pixel is left.

Per dataset (:class:`InteractiveEvaluator`):

* ``NoC@τ`` = mean over instances of the first ``k`` with ``IoU_k ≥ τ``, or ``max_clicks`` if none
  (the papers' convention: a failure counts as the full budget);
* ``NoF@τ`` = number of instances that never reach ``τ`` (the later papers' "number of failures"; RITM's
  ``>=20@90`` counts ``NoC@τ = max_clicks``, so it also counts the instances reaching ``τ`` at the last click);
* ``mIoU@k`` = mean over instances of ``IoU_k`` for ``k = 1 … max_clicks``; an instance that
  stopped before click ``k`` keeps its last IoU (the user stops clicking and the mask stays);
* ``SPC`` = seconds per click, the time spent inside ``predict`` and reading its output (a GPU tensor
  is complete only once copied to the host) divided by the number of clicks (RITM divides the whole
  loop's wall time, data loading included).

Means are taken with :func:`math.fsum`, so the numbers do not depend on the order in which
instances were added or merged; random protocols draw from a generator seeded by ``(seed, name)``,
so sharded runs click exactly as one run does.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from segmetrics.interactive.clickers import PROTOCOLS, SEEDED_PROTOCOLS, Click, _bool_map, next_click

__all__ = [
    "DEFAULT_MAX_CLICKS",
    "DEFAULT_TARGETS",
    "DEFAULT_THRESHOLD",
    "InstanceResult",
    "InteractiveEvaluator",
    "noc",
]

#: Click budget per instance (all papers since Xu et al. 2016).
DEFAULT_MAX_CLICKS = 20
#: IoU targets reported as NoC@85 and NoC@90.
DEFAULT_TARGETS: tuple[float, ...] = (0.85, 0.90)
#: Probability threshold of RITM's ``evaluate_sample`` (``pred_thr``): mask = ``output > 0.49``.
DEFAULT_THRESHOLD = 0.49

_RESULTS_SCHEMA = "segmetrics.results/1"  # the schema of segmetrics.app.folder, so load_results / table / plot read it


def _pct(target: float) -> str:
    """``0.85 -> "85"``, ``0.875 -> "87.5"`` (the suffix of ``noc@…`` keys)."""
    return f"{target * 100:.10g}"


@dataclass(frozen=True)
class InstanceResult:
    """The clicks and IoUs of one instance.

    Attributes:
        name: instance name.
        ious: ``IoU_k`` after click ``k = 1 … len(ious)`` (at most ``max_clicks``).
        clicks: the clicks placed, in order.
        seconds: time spent inside ``predict`` and reading its output to the host (the clicker left out).
        max_clicks: the click budget the instance ran with.
    """

    name: str
    ious: tuple[float, ...]
    clicks: tuple[Click, ...]
    seconds: float
    max_clicks: int

    def noc(self, target: float) -> int:
        """Number of clicks to reach IoU ``≥ target`` (``max_clicks`` if never reached).

        Raises:
            ValueError: ``target`` is not in ``(0, 1]`` (e.g. ``85`` for ``0.85``).
        """
        target = _check_unit(target, "target", low_open=True, high_open=False)
        for k, v in enumerate(self.ious, 1):
            if v >= target:
                return k
        return self.max_clicks

    def failed(self, target: float) -> bool:
        """``True`` if no click reached IoU ``≥ target``.

        Raises:
            ValueError: ``target`` is not in ``(0, 1]`` (e.g. ``90`` for ``0.9``).
        """
        target = _check_unit(target, "target", low_open=True, high_open=False)
        return not any(v >= target for v in self.ious)

    def iou_curve(self) -> np.ndarray:
        """``(max_clicks,)`` IoU after each click, the last value carried forward after the instance stopped."""
        out = np.empty(self.max_clicks)
        n = len(self.ious)
        if n:
            out[:n] = self.ious
            out[n:] = self.ious[-1]
        else:
            out[:] = 0.0
        return out


def _check_int(value: Any, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"`{name}` must be an integer >= {lo}; got {value!r}")
    return int(value)


def _check_unit(value: Any, name: str, *, low_open: bool, high_open: bool) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = math.isfinite(v) and (v > 0 if low_open else v >= 0) and (v < 1 if high_open else v <= 1)
    if not ok:
        lo, hi = "(0" if low_open else "[0", "1)" if high_open else "1]"
        raise ValueError(f"`{name}` must be a number in {lo}, {hi}; got {value!r}")
    return float(value)


@dataclass(frozen=True)
class _Options:
    """Validated evaluation options (one place for every check and default)."""

    protocol: str = "ritm"
    max_clicks: int = DEFAULT_MAX_CLICKS
    targets: tuple[float, ...] = DEFAULT_TARGETS
    stop_at: float = max(DEFAULT_TARGETS)
    min_clicks: int = 1
    threshold: float = DEFAULT_THRESHOLD
    feedback: bool = False
    seed: int = 0

    @classmethod
    def make(
        cls,
        protocol: str = "ritm",
        max_clicks: int = DEFAULT_MAX_CLICKS,
        targets: Sequence[float] = DEFAULT_TARGETS,
        stop_at: float | None = None,
        min_clicks: int = 1,
        threshold: float = DEFAULT_THRESHOLD,
        feedback: bool = False,
        seed: int = 0,
    ) -> _Options:
        if protocol not in PROTOCOLS:
            raise ValueError(f"`protocol` must be one of {PROTOCOLS}; got {protocol!r}")
        max_clicks = _check_int(max_clicks, "max_clicks", 1)
        if isinstance(targets, (str, bytes)) or not isinstance(targets, Iterable):
            raise TypeError(f"`targets` must be a sequence of IoU values in (0, 1]; got {targets!r}")
        targets = tuple(_check_unit(t, "targets", low_open=True, high_open=False) for t in targets)
        if not targets or len(set(targets)) != len(targets):
            raise ValueError(f"`targets` must hold at least one IoU value, without repeats; got {targets!r}")
        targets = tuple(sorted(targets))
        if stop_at is None:
            stop_at = targets[-1]
        stop_at = _check_unit(stop_at, "stop_at", low_open=True, high_open=False)
        if stop_at < targets[-1]:
            raise ValueError(
                f"`stop_at` must be >= the highest target {targets[-1]} (an instance stopped earlier could not "
                f"reach it); got {stop_at}"
            )
        min_clicks = _check_int(min_clicks, "min_clicks", 1)
        if min_clicks > max_clicks:
            raise ValueError(f"`min_clicks` must be <= max_clicks ({max_clicks}); got {min_clicks}")
        threshold = _check_unit(threshold, "threshold", low_open=False, high_open=True)
        if not isinstance(feedback, (bool, np.bool_)):
            raise TypeError(f"`feedback` must be a bool; got {feedback!r}")
        seed = _check_int(seed, "seed", 0)
        return cls(protocol, max_clicks, targets, stop_at, min_clicks, threshold, bool(feedback), seed)

    def settings(self) -> dict[str, Any]:
        return {
            "task": "interactive",
            "protocol": self.protocol,
            "max_clicks": self.max_clicks,
            "targets": list(self.targets),
            "stop_at": self.stop_at,
            "min_clicks": self.min_clicks,
            "threshold": self.threshold,
            "feedback": self.feedback,
            "seed": self.seed,
        }


_OPTION_NAMES = frozenset(f.name for f in fields(_Options))


def _instance_rng(seed: int, name: str) -> np.random.Generator:
    r"""The generator of one instance: a function of the seed and the name only (shard-independent).

    ``surrogatepass``: a file name that is not UTF-8 (``"caf\udce9"`` from the bytes ``caf\xe9``) seeds too.
    """
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8", "surrogatepass"))])


def _prepare_gt(gt: Any, ignore: Any) -> tuple[np.ndarray, np.ndarray | None]:
    g = _bool_map(gt, "gt")
    valid = None if ignore is None else ~_bool_map(ignore, "ignore", g.shape)
    if not (g if valid is None else g & valid).any():
        raise ValueError("`gt` must contain at least one (not ignored) object pixel; got an empty object")
    return g, valid


def _check_image(image: Any, shape: tuple[int, int]) -> None:
    s = getattr(image, "shape", None)
    if s is not None and len(s) >= 2 and shape not in (tuple(s[:2]), tuple(s[-2:])):  # HWC, or CHW / NCHW tensors
        raise ValueError(
            f"`image` must be (H, W, ...) or (..., H, W) with the ground truth's (H, W) = {shape}; got shape {tuple(s)}"
        )


def _host_array(output: Any) -> np.ndarray:
    """``np.asarray`` of a predict output; tensors (torch: autograd, GPU, bfloat16) are detached and copied first."""
    if callable(getattr(output, "detach", None)) and callable(getattr(output, "cpu", None)):
        output = output.detach().cpu()
        if str(getattr(output, "dtype", "")) == "torch.bfloat16":  # numpy has no bfloat16
            output = output.float()
    return np.asarray(output)


def _binarise(output: Any, shape: tuple[int, int], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, prob)`` from a predict output; ``ValueError`` / ``TypeError`` naming ``predict``'s output."""
    try:
        arr = _host_array(output)
    except ValueError as exc:  # e.g. a (mask, score) pair: numpy's own message would not say whose output it is
        raise ValueError(
            f"the output of `predict` must be a real-valued or boolean (H, W) map; got a {type(output).__name__} "
            f"that numpy cannot read as one array ({exc})"
        ) from None
    if arr.dtype == object or not (arr.dtype == bool or np.issubdtype(arr.dtype, np.integer)
                                   or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(
            f"the output of `predict` must be a real-valued or boolean (H, W) map; got dtype {arr.dtype}"
            + (" (None: did predict forget to return?)" if output is None
               else f" (a {type(output).__name__})" if arr.dtype == object else "")
        )
    if arr.ndim > 2 and arr.shape[-2:] == shape and all(n == 1 for n in arr.shape[:-2]):
        arr = arr.reshape(shape)  # (1, H, W), (1, 1, H, W): a batch of one
    if arr.shape != shape:
        raise ValueError(f"the output of `predict` must have the ground truth's shape {shape}; got {arr.shape}")
    if arr.dtype == bool:
        return arr, arr.astype(np.float64)
    prob = arr.astype(np.float64)
    finite = np.isfinite(prob)
    if not finite.all() or prob.min() < 0 or prob.max() > 1:
        got = [f"values in [{prob[finite].min()}, {prob[finite].max()}]"] if finite.any() else []
        if not finite.all():
            got.append(("and " if got else "") + f"{int((~finite).sum())} non-finite values (NaN / inf)")
        elif 1 < prob.max() <= 255 and prob.min() >= 0:
            got.append("(a 0-255 map? divide it by 255 or return a boolean mask)")
        elif prob.min() < 0:
            got.append("(logits? apply a sigmoid)")
        raise ValueError(
            "the output of `predict` must be probabilities in [0, 1] (or a boolean mask); got " + " ".join(got)
        )
    return prob > threshold, prob


def _iou(gt: np.ndarray, mask: np.ndarray, valid: np.ndarray | None) -> float:
    inter = gt & mask
    union = gt | mask
    if valid is not None:
        inter &= valid
        union &= valid
    return float(np.count_nonzero(inter) / np.count_nonzero(union))


def _simulate(
    predict: Callable[..., Any], image: Any, gt: Any, ignore: Any, name: str, opt: _Options
) -> InstanceResult:
    if not callable(predict):
        raise TypeError(f"`predict` must be callable as predict(image, clicks[, prev]); got {type(predict).__name__}")
    g, valid = _prepare_gt(gt, ignore)
    _check_image(image, g.shape)
    rng = _instance_rng(opt.seed, name) if opt.protocol in SEEDED_PROTOCOLS else None
    mask = np.zeros_like(g)
    prev = np.zeros(g.shape, dtype=np.float64)
    clicks: list[Click] = []
    ious: list[float] = []
    seconds = 0.0
    for k in range(1, opt.max_clicks + 1):
        click = next_click(g, mask, clicks, protocol=opt.protocol, rng=rng, valid=valid)
        if click is None:
            break
        clicks.append(click)
        # a fresh copy per click: a model that edits its input in place must not change what later clicks see
        img = image.copy() if isinstance(image, np.ndarray) else image
        t0 = time.perf_counter()
        out = predict(img, tuple(clicks), prev) if opt.feedback else predict(img, tuple(clicks))
        # timed up to the output on the host: a CUDA tensor's kernels finish in its copy to the CPU
        mask, prev = _binarise(out, g.shape, opt.threshold)
        seconds += time.perf_counter() - t0
        ious.append(_iou(g, mask, valid))
        if ious[-1] >= opt.stop_at and k >= opt.min_clicks:
            break
    return InstanceResult(name, tuple(ious), tuple(clicks), seconds, opt.max_clicks)


def noc(
    predict: Callable[..., Any],
    image: Any,
    gt: Any,
    *,
    ignore: Any = None,
    name: str = "instance",
    protocol: str = "ritm",
    max_clicks: int = DEFAULT_MAX_CLICKS,
    targets: Sequence[float] = DEFAULT_TARGETS,
    stop_at: float | None = None,
    min_clicks: int = 1,
    threshold: float = DEFAULT_THRESHOLD,
    feedback: bool = False,
    seed: int = 0,
) -> InstanceResult:
    """Run the click loop on one instance (see the module docstring for the ``predict`` contract).

    Args:
        predict: the model, ``predict(image, clicks)`` (or ``predict(image, clicks, prev)`` with ``feedback``).
        image: passed to ``predict`` unchanged; if it has a ``shape``, its first or last two entries must be
            ``(H, W)`` (HWC arrays, CHW / NCHW tensors).
        gt: object mask ``(H, W)``, boolean or 0/1, with at least one object pixel.
        ignore: pixels left out of the IoU and never clicked (``None``: none).
        name: instance name (also seeds ``"paper_random"`` together with ``seed``).
        protocol: click simulator, ``"ritm"`` (default), ``"largest_region"`` or ``"paper_random"``.
        max_clicks: click budget (default 20).
        targets: IoU targets of ``NoC@τ`` (default ``(0.85, 0.90)``).
        stop_at: stop once the IoU reaches this (default: the highest target; ``1.0`` runs the whole
            budget unless the mask becomes perfect).
        min_clicks: never stop before this many clicks (default 1).
        threshold: mask = ``output > threshold`` for probability outputs (default 0.49, RITM).
        feedback: pass the previous output as third argument (default ``False``).
        seed: seed of the random protocol.

    Returns:
        The :class:`InstanceResult`; ``result.noc(0.9)`` and ``result.failed(0.9)`` give NoC@90 and the failure flag.

    Raises:
        TypeError / ValueError: any invalid argument or ``predict`` output (the message names it).

    Example:
        >>> gt = np.zeros((32, 32), bool); gt[8:24, 8:24] = True
        >>> oracle = lambda image, clicks: gt
        >>> r = noc(oracle, None, gt)
        >>> r.ious, r.noc(0.9), r.failed(0.9), r.clicks[0]
        ((1.0,), 1, False, Click(y=15, x=15, positive=True))
    """
    opt = _Options.make(protocol, max_clicks, targets, stop_at, min_clicks, threshold, feedback, seed)
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a str; got {type(name).__name__}")
    return _simulate(predict, image, gt, ignore, name, opt)


def _add_note(exc: BaseException, note: str) -> None:
    """Attach ``note`` to ``exc`` (shown under its traceback; Python >= 3.11, a no-op before)."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)


def _instance_fields(item: Any, i: int) -> tuple[str | None, Any, Any, Any]:
    """``(name, image, gt, ignore)`` of a dataset item: an object with ``image``/``gt`` or a tuple."""
    if hasattr(item, "gt") and hasattr(item, "image"):
        return getattr(item, "name", None), item.image, item.gt, getattr(item, "ignore", None)
    if isinstance(item, tuple) and len(item) in (2, 3):
        return (None, *item, None) if len(item) == 2 else (item[0], item[1], item[2], None)
    raise TypeError(
        f"`instances[{i}]` must have `image` and `gt` attributes or be an (image, gt) / (name, image, gt) tuple; "
        f"got {type(item).__name__}"
    )


@dataclass
class InteractiveEvaluator:
    """NoC / NoF / mIoU@k / SPC over a dataset of instances, with mergeable state.

    The state is the list of :class:`InstanceResult` (a few floats per instance); evaluators of
    shards, worker processes or ranks are pickled and combined with :meth:`merge`. Instance names
    must be unique (they seed the random protocol and key the per-instance table).

    Args:
        protocol, max_clicks, targets, stop_at, min_clicks, threshold, feedback, seed: see :func:`noc`.

    The options are fixed once the evaluator is made (its results depend on them): setting one
    afterwards raises ``AttributeError``; make a new evaluator instead.

    Raises:
        TypeError / ValueError: invalid options (the message names the option); ``results`` (given or
            assigned later) with another ``max_clicks`` or a repeated name.
        AttributeError: an option set after construction.

    Example:
        >>> gt = np.zeros((32, 32), bool); gt[8:24, 8:24] = True
        >>> ev = InteractiveEvaluator(max_clicks=5)
        >>> _ = ev.update(lambda image, clicks: gt, None, gt, name="oracle-sees-all")
        >>> _ = ev.update(lambda image, clicks: np.zeros((32, 32)), None, gt, name="never")
        >>> r = ev.compute()
        >>> r["noc@90"], r["nof@90"], r["miou@1"]
        (3.0, 1, 0.5)
    """

    protocol: str = "ritm"
    max_clicks: int = DEFAULT_MAX_CLICKS
    targets: Sequence[float] = DEFAULT_TARGETS
    stop_at: float | None = None
    min_clicks: int = 1
    threshold: float = DEFAULT_THRESHOLD
    feedback: bool = False
    seed: int = 0
    results: list[InstanceResult] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        opt = _Options.make(self.protocol, self.max_clicks, self.targets, self.stop_at, self.min_clicks,
                            self.threshold, self.feedback, self.seed)
        self.targets = opt.targets
        self.stop_at = opt.stop_at
        self._opt = opt  # from here on the options are read-only (__setattr__)
        self.results = self.results  # checked, and the names indexed, by __setattr__

    def __setattr__(self, key: str, value: Any) -> None:
        if "_opt" in self.__dict__:
            if key in _OPTION_NAMES:
                raise AttributeError(
                    f"`{key}` is fixed when the InteractiveEvaluator is made (its clicks and results depend on it); "
                    f"make a new InteractiveEvaluator({key}=...); got {key}={value!r}"
                )
            if key == "results":  # also assigned later (e.g. dropping instances to evaluate them again)
                value = list(value)
                names: set[str] = set()
                for i, r in enumerate(value):
                    if not isinstance(r, InstanceResult) or r.max_clicks != self._opt.max_clicks:
                        raise ValueError(
                            f"`results[{i}]` must be an InstanceResult run with max_clicks={self._opt.max_clicks}; "
                            "got " + (f"max_clicks={r.max_clicks}" if isinstance(r, InstanceResult)
                                      else type(r).__name__)
                        )
                    if r.name in names:
                        raise ValueError(f"instance names must be unique; `results` holds {r.name!r} twice")
                    names.add(r.name)
                super().__setattr__("_names", names)
        super().__setattr__(key, value)

    def _add(self, result: InstanceResult) -> None:
        if result.name in self._names:
            raise ValueError(f"instance names must be unique; {result.name!r} was already evaluated")
        self._names.add(result.name)
        self.results.append(result)

    def update(self, predict: Callable[..., Any], image: Any, gt: Any, *, name: str | None = None,
               ignore: Any = None) -> InstanceResult:
        """Evaluate one instance and add it (name default: ``"#<running number>"``); returns its result."""
        if name is None:
            name = f"#{len(self.results)}"
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a str; got {type(name).__name__}")
        return self._evaluate_one(predict, image, gt, name, ignore)

    def _evaluate_one(self, predict: Callable[..., Any], image: Any, gt: Any, name: str, ignore: Any,
                      resume: str = "") -> InstanceResult:
        if name in self._names:
            raise ValueError(f"instance names must be unique; {name!r} was already evaluated")
        try:
            res = _simulate(predict, image, gt, ignore, name, self._opt)
        except Exception as exc:
            _add_note(exc, f"segmetrics.interactive: raised on instance {name!r}; the {len(self.results)} instances "
                           f"evaluated before it are kept in the evaluator{resume}")
            raise
        self._add(res)
        return res

    def evaluate(self, predict: Callable[..., Any], instances: Iterable[Any], *, progress: bool = False
                 ) -> InteractiveEvaluator:
        """Evaluate every instance (items with ``name``/``image``/``gt``/``ignore``, or tuples) and return ``self``.

        Args:
            predict: the model (see the module docstring).
            instances: e.g. :func:`~segmetrics.interactive.load_instances`, or any iterable of
                :class:`~segmetrics.interactive.InteractiveInstance`, ``(image, gt)`` or ``(name, image, gt)``.
            progress: show a tqdm progress bar (needs tqdm).

        Raises:
            TypeError: ``instances`` is not iterable, or an item is not an instance (the message names it).

        Example:
            >>> gt = np.zeros((32, 32), bool); gt[8:24, 8:24] = True
            >>> data = [("square", None, gt), ("again", None, gt)]  # (name, image, gt)
            >>> ev = InteractiveEvaluator(max_clicks=3).evaluate(lambda image, clicks: gt, data)
            >>> len(ev), ev.compute()["noc@90"]
            (2, 1.0)
        """
        try:
            iter(instances)
        except TypeError:
            raise TypeError(
                "`instances` must be an iterable of instances (InteractiveInstance, (image, gt) or (name, image, gt)); "
                f"got {type(instances).__name__}"
            ) from None
        it = instances
        if progress:
            from tqdm import tqdm

            it = tqdm(instances, desc="interactive", unit="inst")
        items = iter(it)
        for i in itertools.count():
            try:
                item = next(items)
            except StopIteration:
                break
            except Exception as exc:  # e.g. an unreadable or mis-sized file of an InstanceFolder
                _add_note(exc, f"segmetrics.interactive: reading `instances[{i}]` failed; the {len(self.results)} "
                               "instances evaluated before it are kept in the evaluator (go on with "
                               f"evaluate(predict, instances[{i + 1}:]) to skip it)")
                raise
            name, image, gt, ignore = _instance_fields(item, i)
            if not isinstance(name, (str, type(None))):
                raise TypeError(f"the name of `instances[{i}]` must be a str; got {type(name).__name__}")
            self._evaluate_one(predict, image, gt, name if name is not None else f"#{len(self.results)}", ignore,
                               f" (`instances[{i}]`; go on with evaluate(predict, instances[{i}:]) once it is fixed)")
        return self

    def merge(self, other: InteractiveEvaluator) -> InteractiveEvaluator:
        """Add the instances of ``other`` (same options, disjoint names) and return ``self``.

        Args:
            other: an evaluator run with the same protocol and options on other instances (e.g. another
                shard ``data[rank::world]``).

        Returns:
            ``self``, holding the instances of both (the same numbers as one run over all of them).

        Raises:
            TypeError: ``other`` is not an :class:`InteractiveEvaluator`.
            ValueError: different options or a shared instance name.

        Example:
            >>> gt = np.zeros((32, 32), bool); gt[8:24, 8:24] = True
            >>> data = [(f"im{i}", None, gt) for i in range(4)]
            >>> def predict(image, clicks):
            ...     return gt
            >>> rank0 = InteractiveEvaluator(max_clicks=3).evaluate(predict, data[0::2])  # data[rank::world]
            >>> rank1 = InteractiveEvaluator(max_clicks=3).evaluate(predict, data[1::2])
            >>> len(rank0.merge(rank1))
            4
            >>> rank0.merge(InteractiveEvaluator(max_clicks=5))
            Traceback (most recent call last):
            ...
            ValueError: `other` must use the same options; got max_clicks=5 (here 3)
        """
        if not isinstance(other, InteractiveEvaluator):
            raise TypeError(f"`other` must be an InteractiveEvaluator; got {type(other).__name__}")
        mine, theirs = self._opt.settings(), other._opt.settings()
        if self._opt.protocol not in SEEDED_PROTOCOLS:  # the seed draws no click here: shards may differ in it
            mine.pop("seed"), theirs.pop("seed")
        if mine != theirs:
            diff = ", ".join(f"{k}={theirs[k]!r} (here {mine[k]!r})" for k in mine if mine[k] != theirs[k])
            raise ValueError(f"`other` must use the same options; got {diff}")
        shared = sorted(self._names & {r.name for r in other.results})
        if shared:
            raise ValueError(
                f"instance names must be unique; `other` holds {len(shared)} already evaluated here, e.g. "
                f"{shared[:3]!r} (nothing was merged)"
            )
        for r in other.results:
            self._add(r)
        return self

    def __len__(self) -> int:
        return len(self.results)

    def compute(self) -> dict[str, float]:
        """Dataset numbers: ``noc@85``, ``noc@90``, ``nof@85``, ``nof@90`` (per target), ``miou@1 … miou@K``, ``spc``.

        Raises:
            ValueError: if no instance was evaluated.

        Example:
            >>> gt = np.zeros((32, 32), bool); gt[8:24, 8:24] = True
            >>> ev = InteractiveEvaluator(max_clicks=2).evaluate(lambda image, clicks: ~gt, [("a", None, gt)])
            >>> {k: v for k, v in ev.compute().items() if k != "spc"}  # never reached: NoC = max_clicks
            {'noc@85': 2.0, 'noc@90': 2.0, 'nof@85': 1, 'nof@90': 1, 'miou@1': 0.0, 'miou@2': 0.0}
        """
        n = len(self.results)
        if n == 0:
            raise ValueError("compute() needs at least one instance; call update() or evaluate() first")
        out: dict[str, float] = {}
        for t in self._opt.targets:
            out[f"noc@{_pct(t)}"] = math.fsum(r.noc(t) for r in self.results) / n
        for t in self._opt.targets:
            out[f"nof@{_pct(t)}"] = sum(r.failed(t) for r in self.results)
        curves = np.stack([r.iou_curve() for r in self.results])
        for k in range(self._opt.max_clicks):
            out[f"miou@{k + 1}"] = math.fsum(curves[:, k]) / n
        n_clicks = sum(len(r.ious) for r in self.results)
        out["spc"] = math.fsum(r.seconds for r in self.results) / n_clicks if n_clicks else math.nan
        return out

    def miou_curve(self) -> np.ndarray:
        """``(max_clicks,)`` mIoU after ``k = 1 … max_clicks`` clicks."""
        r = self.compute()
        return np.array([r[f"miou@{k}"] for k in range(1, self._opt.max_clicks + 1)])

    def per_instance_table(self) -> list[dict[str, Any]]:
        """Per-instance rows: name, clicks, ``noc@τ`` / ``failed@τ`` per target, final IoU, seconds, ``iou@k``."""
        rows = []
        for r in self.results:
            row: dict[str, Any] = {"name": r.name, "clicks": len(r.ious)}
            for t in self._opt.targets:
                row[f"noc@{_pct(t)}"] = r.noc(t)
                row[f"failed@{_pct(t)}"] = int(r.failed(t))
            row["final_iou"] = r.ious[-1] if r.ious else 0.0
            row["seconds"] = r.seconds
            for k, v in enumerate(r.iou_curve(), 1):
                row[f"iou@{k}"] = float(v)
            rows.append(row)
        return rows

    def to_dict(self, *, method: str = "model", dataset: str = "dataset") -> dict[str, Any]:
        """The JSON document, schema ``segmetrics.results/1`` (read by ``segmetrics table`` / ``plot``).

        ``metrics`` holds :meth:`compute`'s numbers, ``curves["miou"]`` the mIoU-vs-clicks curve and
        ``settings`` the protocol and options.
        """
        for arg, v in (("method", method), ("dataset", dataset)):
            if not isinstance(v, str) or not v:
                raise ValueError(f"`{arg}` must be a non-empty str; got {v!r}")
        metrics = self.compute()
        k = self._opt.max_clicks
        return {
            "schema": _RESULTS_SCHEMA,
            "method": method,
            "dataset": dataset,
            "num_images": len(self.results),
            "metrics": {key: (None if isinstance(v, float) and math.isnan(v) else v) for key, v in metrics.items()},
            "curves": {"miou": [metrics[f"miou@{i}"] for i in range(1, k + 1)]},
            "errors": [],
            "missing": [],
            "extra": [],
            "settings": self._opt.settings(),
        }

    def save(self, out_dir: str | os.PathLike, *, method: str = "model", dataset: str = "dataset",
             plot: bool = True) -> list[Path]:
        """Write ``results.json`` (:meth:`to_dict`), ``per_instance.csv`` and, with ``plot``, ``miou.png``.

        An existing folder is updated: these files are replaced (a ``miou.png`` of an earlier save
        is removed when ``plot`` is off, as it would show other numbers).

        Args:
            out_dir: output folder (created if needed).
            method: method name stored in ``results.json`` (the row of ``segmetrics table``).
            dataset: dataset name stored in ``results.json``.
            plot: also draw ``miou.png`` (needs matplotlib, the ``plot`` extra).

        Returns:
            The written files.

        Raises:
            TypeError: ``out_dir`` is not a path.
            ValueError: no instance evaluated, ``out_dir`` is empty or a file, or it holds a ``segmetrics eval``
                journal (``records.jsonl``), whose ``results.json`` would be replaced.
            ImportError: ``plot`` without matplotlib (``pip install "segloss-segmetrics[plot]"``); nothing
                is written then.

        Example:
            >>> import tempfile
            >>> gt = np.zeros((32, 32), bool); gt[8:24, 8:24] = True
            >>> ev = InteractiveEvaluator(max_clicks=3).evaluate(lambda image, clicks: gt, [("a", None, gt)])
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     [p.name for p in ev.save(tmp, method="oracle", dataset="toy", plot=False)]
            ['results.json', 'per_instance.csv']
        """
        from segmetrics._optional import import_optional
        from segmetrics.app.journal import JOURNAL_NAME

        if not isinstance(out_dir, (str, os.PathLike)) or not os.fspath(out_dir):  # "" would be the working folder
            raise (ValueError if isinstance(out_dir, str) else TypeError)(
                f"`out_dir` must be a folder path; got {out_dir!r}"
            )
        doc = self.to_dict(method=method, dataset=dataset)
        # before anything is written: without matplotlib, say which extra installs it (or that plot=False skips it)
        plt = import_optional("matplotlib.pyplot", "plot", "saving miou.png (save(..., plot=False) skips it)") \
            if plot else None
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise ValueError(f"`out_dir` must be a folder; got {str(out)!r}, an existing file")
        if (out / JOURNAL_NAME).exists():
            raise ValueError(
                f"`out_dir` holds the results of a `segmetrics eval` run ({JOURNAL_NAME}); save the interactive "
                f"results into another folder; got {str(out)!r}"
            )
        out.mkdir(parents=True, exist_ok=True)
        written = []
        p = out / "results.json"
        with open(p, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1)
        written.append(p)
        rows = self.per_instance_table()
        p = out / "per_instance.csv"
        with open(p, "w", newline="", encoding="utf-8", errors="backslashreplace") as f:  # names not UTF-8
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        written.append(p)
        if plt is not None:
            from segmetrics.app.plot import plot_curves

            fig, _ = plot_curves([out], "miou")
            p = out / "miou.png"
            fig.savefig(p)
            plt.close(fig)
            written.append(p)
        elif (out / "miou.png").is_file():
            (out / "miou.png").unlink()
        return written
