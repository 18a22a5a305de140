"""The metric registry: how a metric family and a metric option are declared, validated and looked up.

Every fact about a metric is written once, in a declaration registered here (the built-in ones are in
:mod:`segmetrics.metric_table`), and read by every entry point: :func:`segmetrics.compute_all`,
:class:`segmetrics.DatasetMetrics`, the folder evaluation (per-image step, CSV columns, journal,
dataset aggregation), the result tables, the configuration file and the command line.

* An :class:`Option` declares a metric option once: its name (the keyword of every Python entry
  point, the key of the configuration file, the ``--flag-name`` of the command line), its default,
  its validator and its help text.
* A :class:`Family` declares a metric family once: its key (``"fm"``), the options it reads, the
  shared statistics it needs from the fused pass, its per-image computation, and the
  :class:`Scalar` and :class:`Curve` values it produces under dotted keys (``"fm.adp"``,
  ``"fm.curve"``). A scalar also declares how it reduces over a dataset (the mean of the per-image
  values, or the max / mean of the dataset mean curve), its display label, whether higher is better
  and its name in pysodmetrics' ``get_results`` (the export format of
  :meth:`segmetrics.DatasetMetrics.to_pysod_dict`).

Adding a metric family
----------------------
One edit: register it in :mod:`segmetrics.metric_table` (or in a module that ``metric_table``
imports). A worked recipe, a squared-error family ``"sqerr"`` with one new option (the same code runs
in ``tests/segmetrics/test_registry.py``)::

    from segmetrics._inputs import check_positive
    from segmetrics.registry import Family, Option, Scalar, register_family, register_option

    register_option(Option(
        "sqerr_scale", 1.0, check_positive,           # name, default, validator (value, name) -> value
        "scale of the squared error",                 # help: CLI --sqerr-scale, config key sqerr_scale
    ))

    def _sqerr(ctx):                                  # per-image result from the shared pass
        p = ctx.normalized()                          # the (min-max normalised) float prediction
        return float(((p - ctx.gt) ** 2).mean()) * ctx.options.sqerr_scale

    register_family(Family(
        key="sqerr",
        title="squared error",
        compute=_sqerr,
        scalars=(Scalar("sqerr", label="SqE", latex="SqE", higher_is_better=False, column=30),),
        options=("normalize", "sqerr_scale"),         # the options it reads
    ))

That is all: ``compute_all(..., metrics=("sqerr",))`` (``r.sqerr``), ``DatasetMetrics(metrics=("sqerr",))``,
``evaluate_folder(..., metrics=("sqerr",), sqerr_scale=2)``, the CSV column and journal key ``sqerr``,
the table column ``SqE ↓``, the config key ``sqerr_scale`` and the CLI flags
``--metrics sqerr --sqerr-scale 2`` all follow from it.

* ``compute(ctx)`` receives a :class:`PairContext`: the validated canonical pair (``ctx.pred``
  uint8 or float64 in ``[0, 1]``, ``ctx.gt`` bool), the validated options (``ctx.options``), the
  shared statistics of the fused pass (``ctx.stats``: 256-bin histograms of the quantised
  prediction over GT foreground / background, adaptive threshold and counts, sums; request them
  with ``needs``), a per-image cache (``ctx.cache``) and helpers. It returns the family's per-image
  result: a float, or any object whose attributes the scalars and curves name (``attr``).
* A :class:`Scalar` with ``dataset="mean"`` is averaged over images; ``"curve_max"`` /
  ``"curve_mean"`` are the max / mean of the dataset mean of ``curve`` (pysodmetrics' semantics);
  ``dataset=f`` computes ``f(means, curves)`` from the dataset means (e.g. a whole-dataset ratio of
  counts a family declares as curves of any ``length``). ``per_image=False`` marks a dataset-only
  value (e.g. ``iou.max``).
* ``scalars`` may be a function of the options (the boundary F-score has one column per tolerance).
* Shared statistics (``needs``): ``"hist"`` (histograms, adaptive threshold and counts),
  ``"strict"`` (the strict ``>`` histograms), ``"smeasure"``, ``"mae"``.

Keys are unique across families (checked when registering); option names too. Register at import
time of :mod:`segmetrics.metric_table`: the folder evaluation's worker processes import it afresh,
so a family registered later, at run time, exists only in the registering process (``workers=0``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "FAMILIES",
    "OPTIONS",
    "Curve",
    "Family",
    "MetricOptions",
    "Option",
    "PairContext",
    "Scalar",
    "all_metrics",
    "curve_keys",
    "default_metrics",
    "display_columns",
    "every_options",
    "family",
    "flatten",
    "integer_keys",
    "option_defaults",
    "reduce_dataset",
    "register_family",
    "register_option",
    "scalar_keys",
    "scalar_labels",
    "scalars_of",
    "validate_metrics",
    "validate_options",
]


# ------------------------------------------------------------------------------------ declarations


@dataclass(frozen=True)
class Option:
    """A metric option, declared once.

    Attributes:
        name: keyword of :func:`segmetrics.compute_all`, :class:`segmetrics.DatasetMetrics` and
            :func:`segmetrics.evaluate_folder`; key of the configuration file; ``--name-with-dashes``
            on the command line.
        default: default value.
        check: validator ``check(value, name) -> value``: returns the normalised value or raises
            ``TypeError`` / ``ValueError`` naming the argument, the expectation and the value received.
        help: one line for the command line and the docs.
        choices: the allowed values of a choice option (for the command line).
    """

    name: str
    default: Any
    check: Callable[[Any, str], Any]
    help: str
    choices: tuple[Any, ...] | None = None

    @property
    def flag(self) -> str:
        """The command-line flag, ``--name-with-dashes``."""
        return "--" + self.name.replace("_", "-")

    def cli_kwargs(self) -> dict[str, Any]:
        """``argparse.add_argument`` keywords (parsed values are validated by :attr:`check` later)."""
        import argparse

        d = self.default
        kw: dict[str, Any] = {"default": None, "help": f"{self.help} (default {_show(d)})"}
        if isinstance(d, bool):
            kw["action"] = argparse.BooleanOptionalAction
        elif self.choices is not None:
            kw["choices"] = self.choices
        elif isinstance(d, tuple):
            kw.update(type=type(d[0]) if d else str, nargs="+")
        else:
            kw["type"] = type(d)
        return kw


def _show(v: Any) -> str:
    return " ".join(map(str, v)) if isinstance(v, tuple) else str(v)


@dataclass(frozen=True)
class Scalar:
    """One number per image (and per dataset) of a family.

    Attributes:
        key: dotted key (``"fm.adp"``), unique across families.
        attr: attribute of the family's per-image result holding the value (``None``: the result is
            the value); also the name of the value in :meth:`segmetrics.DatasetMetrics.compute`.
        index: index into that attribute (arrays over option values, e.g. tolerances).
        field: name in :meth:`segmetrics.DatasetMetrics.compute` when ``attr`` is not it.
        dataset: reduction over a dataset: ``"mean"`` of the per-image values, ``"curve_max"`` /
            ``"curve_mean"`` of the dataset mean of :attr:`curve`, or a function
            ``f(means, curves) -> float`` of the dataset means of the per-image scalars and curves
            (e.g. a whole-dataset ratio of summed counts declared as curves).
        curve: key of the curve reduced by ``"curve_max"`` / ``"curve_mean"``.
        per_image: whether the value exists per image (``False``: dataset only).
        label: plain display label (``None``: not a default table column; shown under its key).
        latex: LaTeX display label.
        higher_is_better: the direction of the arrow in tables.
        column: display order of the default table columns (lower first).
        integer: printed without decimals (counts).
        pysod: path in pysodmetrics' ``get_results`` dict (``("fm", "adp")``), or ``None``.
    """

    key: str
    attr: str | None = None
    index: int | None = None
    field: str | None = None
    dataset: str | Callable[[dict[str, Any], dict[str, np.ndarray]], float] = "mean"
    curve: str | None = None
    per_image: bool = True
    label: str | None = None
    latex: str | None = None
    higher_is_better: bool = True
    column: float | None = None
    integer: bool = False
    pysod: tuple[str, ...] | None = None

    @property
    def name(self) -> str:
        """Name of the value in the nested :meth:`segmetrics.DatasetMetrics.compute` dict."""
        return self.field or self.attr or self.key


@dataclass(frozen=True)
class Curve:
    """A vector per image (by default 256 values, thresholds ``k = 0..255`` ascending), averaged over a dataset.

    Attributes:
        key: dotted key (``"fm.curve"``).
        attr: attribute of the per-image result holding it.
        pysod: path in pysodmetrics' ``get_results`` (exported in reversed order: descending thresholds).
        length: number of values.
    """

    key: str
    attr: str
    pysod: tuple[str, ...] | None = None
    length: int = 256

    @property
    def name(self) -> str:
        """Name of the mean curve in the nested :meth:`segmetrics.DatasetMetrics.compute` dict."""
        return self.attr


@dataclass(frozen=True)
class Family:
    """A metric family, declared once (see the module docstring for a worked recipe).

    Attributes:
        key: family key (``"fm"``), the name passed in ``metrics=``.
        title: human-readable name (``"F-measure"``).
        compute: ``compute(ctx: PairContext) -> result`` for one image.
        scalars: its :class:`Scalar` values, or a function of the :class:`MetricOptions` giving them.
        curves: its :class:`Curve` values.
        options: names of the options it reads.
        needs: shared statistics it reads from the fused pass (``"hist"``, ``"strict"``,
            ``"smeasure"``, ``"mae"``), or a function of the options giving them.
        default: part of the default metric set (the six DIS metrics).
        dataset_extras: constant entries of its :meth:`segmetrics.DatasetMetrics.compute` dict.
    """

    key: str
    title: str
    compute: Callable[[PairContext], Any]
    scalars: tuple[Scalar, ...] | Callable[[MetricOptions], tuple[Scalar, ...]]
    curves: tuple[Curve, ...] = ()
    options: tuple[str, ...] = ()
    needs: frozenset[str] | Callable[[MetricOptions], frozenset[str]] = frozenset()
    default: bool = False
    dataset_extras: dict[str, Any] = field(default_factory=dict)

    def scalars_for(self, options: MetricOptions | None = None) -> tuple[Scalar, ...]:
        """The scalars under ``options`` (the defaults when ``None``)."""
        if callable(self.scalars):
            return self.scalars(options if options is not None else MetricOptions.default())
        return self.scalars

    def needs_for(self, options: MetricOptions) -> frozenset[str]:
        """The shared statistics needed under ``options``."""
        return frozenset(self.needs(options) if callable(self.needs) else self.needs)


#: Registered options by name, in registration order.
OPTIONS: dict[str, Option] = {}
#: Registered families by key, in registration order (the canonical order of results).
FAMILIES: dict[str, Family] = {}
_KEYS: dict[str, str] = {}  # dotted key -> family (uniqueness)


def register_option(option: Option) -> Option:
    """Register a metric option (its name must be new); returns it.

    Raises:
        ValueError: if the name is taken, or the default does not pass the option's own validator.
    """
    if not isinstance(option, Option):
        raise TypeError(f"`option` must be an Option; got {type(option).__name__}")
    if option.name in OPTIONS or option.name in ("metrics", "per_image", "name", "hce_skeleton"):
        raise ValueError(f"`option` name {option.name!r} is already registered or reserved")
    option.check(option.default, option.name)
    OPTIONS[option.name] = option
    MetricOptions._default = None
    return option


def register_family(fam: Family) -> Family:
    """Register a metric family (its key and every one of its dotted keys must be new); returns it.

    Raises:
        ValueError: for a taken family key or dotted key, or an option that is not registered.
    """
    if not isinstance(fam, Family):
        raise TypeError(f"`family` must be a Family; got {type(fam).__name__}")
    if fam.key in FAMILIES:
        raise ValueError(f"metric family {fam.key!r} is already registered")
    unknown = [o for o in fam.options if o not in OPTIONS]
    if unknown:
        raise ValueError(f"metric family {fam.key!r} reads unregistered option(s) {unknown}")
    keys = [s.key for s in fam.scalars_for()] + [c.key for c in fam.curves]
    for k in keys:
        if k in _KEYS or keys.count(k) > 1:
            raise ValueError(f"key {k!r} of metric family {fam.key!r} is already used (by {_KEYS.get(k, fam.key)!r})")
    FAMILIES[fam.key] = fam
    for k in keys:
        _KEYS[k] = fam.key
    MetricOptions._default = None
    return fam


def family(key: str) -> Family:
    """The registered family ``key`` (``ValueError`` naming the known ones otherwise)."""
    _ensure_table()
    if key not in FAMILIES:
        raise ValueError(f"`metrics` must be one of {tuple(FAMILIES)}; got {key!r}")
    return FAMILIES[key]


def _ensure_table() -> None:
    if not FAMILIES:
        import segmetrics.metric_table  # noqa: F401  (registers the built-in families)


def default_metrics() -> tuple[str, ...]:
    """The default metric set (families declared ``default=True``), in canonical order."""
    _ensure_table()
    return tuple(k for k, f in FAMILIES.items() if f.default)


def all_metrics() -> tuple[str, ...]:
    """Every registered family key, in canonical order."""
    _ensure_table()
    return tuple(FAMILIES)


def option_defaults() -> dict[str, Any]:
    """``{name: default}`` of every registered option."""
    _ensure_table()
    return {n: o.default for n, o in OPTIONS.items()}


# ------------------------------------------------------------------------------------ validation


def validate_metrics(metrics: Any, *, canonical: bool = True) -> tuple[str, ...]:
    """Validate a metric selection (a family key or a sequence of them).

    Args:
        metrics: a family key or a sequence of family keys.
        canonical: return them in registration order (``False``: in the order given).

    Returns:
        The family keys, as a tuple.

    Raises:
        TypeError: if ``metrics`` is not a sequence of strings.
        ValueError: for an empty selection, an unknown key or a repeated one.
    """
    _ensure_table()
    if isinstance(metrics, str):
        metrics = (metrics,)
    if isinstance(metrics, (bytes, bytearray)):
        raise TypeError(f"`metrics` must be a metric name or a sequence of them; got {type(metrics).__name__} "
                        f"{metrics!r}")
    try:
        metrics = tuple(metrics)
    except TypeError:
        raise TypeError(f"`metrics` must be a sequence of metric names; got {type(metrics).__name__}") from None
    if not metrics:
        raise ValueError(f"`metrics` must name at least one of {tuple(FAMILIES)}; got an empty sequence")
    for m in metrics:
        if not isinstance(m, str):
            raise TypeError(f"`metrics` must hold metric names (strings); got {type(m).__name__} {m!r}")
        if m not in FAMILIES:
            raise ValueError(f"`metrics` must be one of {tuple(FAMILIES)}; got {m!r}")
    if len(set(metrics)) != len(metrics):
        raise ValueError(f"`metrics` must not repeat a metric; got {metrics!r}")
    return tuple(m for m in FAMILIES if m in metrics) if canonical else metrics


def validate_options(**options: Any) -> dict[str, Any]:
    """Validate metric options (every registered option, defaults filled in).

    Returns:
        ``{name: validated value}`` for every registered option, in registration order.

    Raises:
        TypeError: for an unknown option name, or a wrongly typed value.
        ValueError: for an invalid value (the message names the option).
    """
    _ensure_table()
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"unexpected metric option(s) {unknown}; expected some of {tuple(OPTIONS)}")
    return {n: o.check(options.get(n, o.default), n) for n, o in OPTIONS.items()}


class MetricOptions:
    """A validated metric selection and the value of every registered option (immutable, picklable).

    Options read as attributes (``opts.beta_sq``); ``opts.metrics`` is the family keys in canonical
    order. Two :class:`MetricOptions` are equal when both are.

    Example:
        >>> o = MetricOptions.make(("sm", "fm"), beta_sq=1.0)
        >>> o.metrics, o.beta_sq, o.alpha
        (('fm', 'sm'), 1.0, 0.5)
    """

    __slots__ = ("metrics", "values")
    _default: MetricOptions | None = None

    def __init__(self, metrics: tuple[str, ...], values: dict[str, Any]) -> None:
        object.__setattr__(self, "metrics", tuple(metrics))
        object.__setattr__(self, "values", dict(values))

    @classmethod
    def make(cls, metrics: Any = None, **options: Any) -> MetricOptions:
        """Validate ``metrics`` (default: the default set) and ``options`` into a :class:`MetricOptions`.

        Raises:
            TypeError: see :func:`validate_metrics`, :func:`validate_options`.
            ValueError: see :func:`validate_metrics`, :func:`validate_options`.
        """
        ms = default_metrics() if metrics is None else validate_metrics(metrics)
        return cls(ms, validate_options(**options))

    @classmethod
    def default(cls) -> MetricOptions:
        """The default metrics and options."""
        if cls._default is None:
            cls._default = cls.make()
        return cls._default

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return object.__getattribute__(self, "values")[name]
        except KeyError:
            raise AttributeError(f"'MetricOptions' has no option {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("MetricOptions is immutable")

    def __getstate__(self) -> tuple:
        return self.metrics, self.values

    def __setstate__(self, state: tuple) -> None:
        object.__setattr__(self, "metrics", state[0])
        object.__setattr__(self, "values", state[1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricOptions):
            return NotImplemented
        return self.metrics == other.metrics and _same(self.values, other.values)

    def __hash__(self) -> int:
        return hash((self.metrics, tuple(sorted(self.values))))

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"MetricOptions(metrics={self.metrics}, {opts})"

    def difference(self, other: MetricOptions) -> str:
        """What differs from ``other``, this one's value first: ``"metrics=('sm',) vs ('mae',), beta_sq=1.0 vs 0.3"``.

        Example:
            >>> MetricOptions.make(("fm",), beta_sq=1.0).difference(MetricOptions.make(("fm",)))
            'beta_sq=1.0 vs 0.3'
        """
        parts = [] if self.metrics == other.metrics else [f"metrics={self.metrics} vs {other.metrics}"]
        for k in dict.fromkeys([*self.values, *other.values]):
            a, b = self.values.get(k), other.values.get(k)
            if a != b:
                parts.append(f"{k}={a!r} vs {b!r}")
        return ", ".join(parts)

    def identity(self) -> dict[str, Any]:
        """JSON-able ``{option: value}`` (tuples as lists), as stored with folder results."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.values.items()}


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(a[k] == b[k] for k in a)


# ------------------------------------------------------------------------------------ per image


class PairContext:
    """What a family's ``compute`` receives for one image (see the module docstring).

    Attributes:
        pred: canonical prediction, ``(H, W)`` uint8 (0..255) or float64 in ``[0, 1]``, not normalised.
        gt: ``(H, W)`` bool ground truth.
        options: the :class:`MetricOptions`.
        stats: the shared statistics (:class:`segmetrics._sod_core.ImageStats`).
        skeleton: precomputed GT skeleton for HCE, or ``None``.
        extras: further validated per-image inputs by name (e.g. an RGB image), ``{}`` by default.
        cache: per-image scratch dict shared by the families (e.g. counts two families read).
    """

    def __init__(self, pred: np.ndarray, gt: np.ndarray, options: MetricOptions, stats: Any,
                 skeleton: np.ndarray | None = None, extras: dict[str, Any] | None = None) -> None:
        self.pred, self.gt, self.options, self.stats, self.skeleton = pred, gt, options, stats, skeleton
        self.extras: dict[str, Any] = dict(extras or {})
        self.cache: dict[str, Any] = {}

    def above(self, threshold: float) -> tuple[int, int]:
        """``(TP, FP)`` of the normalised prediction ``> threshold`` (cached)."""
        key = ("above", threshold)
        if key not in self.cache:
            from segmetrics._sod_core import counts_above

            self.cache[key] = counts_above(self.pred, self.gt, self.stats, threshold)
        return self.cache[key]

    def mask_above(self, threshold: float) -> np.ndarray:
        """Boolean map of the normalised prediction ``> threshold``."""
        from segmetrics._sod_core import mask_above

        return mask_above(self.pred, self.stats, threshold)

    def normalized(self) -> np.ndarray:
        """The prediction as a float64 map, min-max normalised if the options say so (cached)."""
        if "normalized" not in self.cache:
            st, p = self.stats, self.pred
            if p.dtype == np.uint8:
                out = st.lut[p]
            else:
                out = (p - st.lo) / st.d if st.donorm else p
            self.cache["normalized"] = out
        return self.cache["normalized"]


def scalars_of(metrics: Sequence[str], options: MetricOptions | None = None, *,
               per_image: bool | None = None) -> list[Scalar]:
    """The :class:`Scalar` declarations of ``metrics`` (in that order) under ``options``.

    Args:
        metrics: family keys.
        options: the options (default: the defaults).
        per_image: ``True``: only per-image scalars; ``False``: only dataset-only ones; ``None``: all.
    """
    out = []
    for m in metrics:
        for s in family(m).scalars_for(options):
            if per_image is None or s.per_image == per_image:
                out.append(s)
    return out


def scalar_keys(metrics: Sequence[str], options: MetricOptions | None = None, *, per_image: bool = True) -> list[str]:
    """Dotted scalar keys of ``metrics`` (per-image ones by default): the CSV columns.

    Example:
        >>> scalar_keys(("mae", "fm"))
        ['mae', 'fm.adp', 'fm.mean', 'fm.max']
    """
    return [s.key for s in scalars_of(metrics, options, per_image=per_image)]


def curve_keys(metrics: Sequence[str]) -> list[str]:
    """Dotted curve keys of ``metrics``.

    Example:
        >>> curve_keys(("fm", "em"))
        ['fm.curve', 'fm.precision', 'fm.recall', 'em.curve']
    """
    return [c.key for m in metrics for c in family(m).curves]


def _value(result: Any, s: Scalar) -> Any:
    v = result if s.attr is None else getattr(result, s.attr)
    if s.index is not None:
        v = v[s.index]
    if isinstance(v, np.floating):
        return float(v)
    return int(v) if isinstance(v, np.integer) else v


def flatten(key: str, result: Any, options: MetricOptions | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The per-image scalars and curves of family ``key`` from its result, by dotted key.

    Returns:
        ``(scalars, curves)``: ``{key: number}`` and ``{key: (256,) float64 array}``.

    Example:
        >>> from segmetrics import compute_all
        >>> import numpy as np
        >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
        >>> s, c = flatten("fm", compute_all(gt, gt, metrics=("fm",)).fm)
        >>> sorted(s), sorted(c)
        (['fm.adp', 'fm.max', 'fm.mean'], ['fm.curve', 'fm.precision', 'fm.recall'])
    """
    fam = family(key)
    scalars = {s.key: _value(result, s) for s in fam.scalars_for(options) if s.per_image}
    curves = {c.key: np.asarray(getattr(result, c.attr), dtype=np.float64) for c in fam.curves}
    return scalars, curves


def reduce_dataset(metrics: Sequence[str], options: MetricOptions | None, means: dict[str, Any],
                   curves: dict[str, np.ndarray]) -> dict[str, Any]:
    """Dataset scalars from the means of the per-image scalars and the dataset mean curves.

    ``"mean"`` scalars are taken from ``means``; ``"curve_max"`` / ``"curve_mean"`` ones are the max
    and the pysodmetrics-order mean of the mean curve. Returns ``{key: value}`` in declaration order.
    """
    from segmetrics._sod_core import pysod_mean

    out: dict[str, Any] = {}
    for s in scalars_of(metrics, options):
        if callable(s.dataset):
            out[s.key] = s.dataset(means, curves)
        elif s.dataset == "mean":
            if s.key in means:
                out[s.key] = means[s.key]
        elif s.curve in curves:
            c = curves[s.curve]
            out[s.key] = float(c.max()) if s.dataset == "curve_max" else float(pysod_mean(c))
    return out


def _display(s: Scalar) -> tuple[str, str, bool]:
    return s.label or s.key, s.latex or s.label or s.key, s.higher_is_better


def display_columns(options: MetricOptions | None = None) -> dict[str, tuple[str, str, bool]]:
    """``{key: (label, LaTeX label, higher is better)}`` of the default table columns, in display order."""
    _ensure_table()
    cols = [s for m in FAMILIES for s in family(m).scalars_for(options) if s.column is not None]
    cols.sort(key=lambda s: s.column)
    return {s.key: _display(s) for s in cols}


def every_options() -> MetricOptions:
    """Every family, with options under which the families produce every key they can (all 65 BF tolerances)."""
    _ensure_table()
    return MetricOptions.make(all_metrics(), bf_tolerances=tuple(range(65)))


def scalar_labels() -> dict[str, tuple[str, str, bool]]:
    """``{key: (label, LaTeX label, higher is better)}`` of every scalar any options can produce.

    Example:
        >>> scalar_labels()["confusion.fpr.max"], scalar_labels()["bf.f7"]
        (('maxFPR', 'maxFPR', False), ('BF@7', 'BF@7', True))
    """
    every = every_options()
    return {s.key: _display(s) for s in scalars_of(every.metrics, every)}


def integer_keys(options: MetricOptions | None = None) -> frozenset[str]:
    """Scalar keys printed without decimals (counts)."""
    _ensure_table()
    return frozenset(s.key for m in FAMILIES for s in family(m).scalars_for(options) if s.integer)
