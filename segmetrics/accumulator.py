"""Dataset accumulator: update / compute / reset / merge with the benchmarks' dataset semantics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from segmetrics._inputs import prepare_pairs, prepare_skeletons
from segmetrics._sod_core import THRESHOLDS, pysod_mean
from segmetrics.fused import ALL_METRICS, ImageMetrics, MetricOptions, _image_metrics

__all__ = ["DatasetMetrics"]

_HCE_PARTS = ("total", "fp_points", "fp_regions", "fn_points", "fn_regions")


class DatasetMetrics:
    """Accumulate F, E, S, weighted F, MAE and HCE over a dataset with small, mergeable state.

    Dataset semantics are those of pysodmetrics' ``get_results`` (and the SOD / COD / DIS
    benchmarks): the F, precision, recall and E **curves are averaged over images first**, then
    ``max`` and ``mean`` are taken of the mean curve; adaptive F / E, S, weighted F, MAE and HCE
    are means of the per-image values.

    The state is a few fixed-size arrays (the 256-bin curve sums) and running sums plus the image
    count, so accumulators from worker processes or distributed ranks can be pickled and merged
    with :meth:`merge`. With ``per_image=True`` the per-image scalar values are kept as well
    (:meth:`per_image_table`).

    Running sums are added image by image in float64; a single accumulator fed in order gives
    the pysodmetrics curves bit for bit. Merging reorders float additions, so merged results equal
    the one-run result up to float rounding (relative differences ~1e-16); the same holds for the
    scalar means (pysodmetrics sums the per-image list pairwise).

    Args:
        metrics: subset of ``("fm", "em", "sm", "wfm", "mae", "hce")`` (default: all six).
        per_image: keep a per-image table of scalar values (default ``False``).
        **options: metric options of :func:`segmetrics.compute_all` (``normalize``, ``beta_sq``,
            ``alpha``, ``wfm_beta``, ``em_compat``, ``sm_compat``, ``avoid_nan``, ``hce_gamma``,
            ``hce_epsilon``, ``hce_threshold``, ``hce_iterations``).

    Raises:
        TypeError: wrongly typed option.
        ValueError: unknown metric name or option value.

    Example:
        >>> import numpy as np
        >>> acc = DatasetMetrics(metrics=("fm", "sm", "mae"), per_image=True)
        >>> gt = np.zeros((16, 16), bool); gt[4:12, 4:12] = True
        >>> acc.update(gt.astype(np.uint8) * 255, gt, name="a")
        >>> acc.update(np.zeros((16, 16), np.uint8), gt, name="b")
        >>> res = acc.compute()
        >>> res["n_images"], round(res["mae"], 4)
        (2, 0.125)
    """

    def __init__(self, metrics: Sequence[str] = ALL_METRICS, *, per_image: bool = False, **options: Any) -> None:
        self.options = MetricOptions.make(metrics, **options)
        self.per_image = bool(per_image)
        self.reset()

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric keys this accumulator computes."""
        return self.options.metrics

    def reset(self) -> None:
        """Clear the state (keeps the options)."""
        self.n_images = 0
        self._curves: dict[str, np.ndarray] = {}
        self._sums: dict[str, float] = {}
        ms = self.metrics
        if "fm" in ms:
            for k in ("fm_curve", "fm_precision", "fm_recall"):
                self._curves[k] = np.zeros(256)
            self._sums["fm_adaptive"] = 0.0
        if "em" in ms:
            self._curves["em_curve"] = np.zeros(256)
            self._sums["em_adaptive"] = 0.0
        for k in ("sm", "wfm", "mae"):
            if k in ms:
                self._sums[k] = 0.0
        if "hce" in ms:
            for part in _HCE_PARTS:
                self._sums["hce_" + part] = 0
        self._rows: list[dict[str, Any]] = []

    def _add(self, r: ImageMetrics) -> None:
        self.n_images += 1
        s, c = self._sums, self._curves
        if r.fm is not None:
            c["fm_curve"] += r.fm.curve
            c["fm_precision"] += r.fm.precision
            c["fm_recall"] += r.fm.recall
            s["fm_adaptive"] += r.fm.adaptive
        if r.em is not None:
            c["em_curve"] += r.em.curve
            s["em_adaptive"] += r.em.adaptive
        for k in ("sm", "wfm", "mae"):
            if getattr(r, k) is not None:
                s[k] += getattr(r, k)
        if r.hce is not None:
            for part in _HCE_PARTS:
                s["hce_" + part] += int(getattr(r.hce, part))
        if self.per_image:
            self._rows.append(r.scalars())

    def update(self, pred: Any, gt: Any, name: str | Sequence[str] | None = None, *, hce_skeleton: Any = None) -> None:
        """Add one image or a batch.

        Args:
            pred: prediction map or batch (see :func:`segmetrics.compute_all`).
            gt: matching ground truth.
            name: image name (or one name per image of a batch) for the per-image table.
            hce_skeleton: optional precomputed GT skeleton(s) for HCE.

        Raises:
            TypeError: unsupported input type or dtype.
            ValueError: invalid inputs, or a number of names that does not match the batch.
        """
        pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
        if name is None or isinstance(name, str):
            names = [name] * len(pairs) if not batched or name is None else [f"{name}[{i}]" for i in range(len(pairs))]
        else:
            names = list(name)
            if len(names) != len(pairs):
                raise ValueError(f"`name` must hold one name per image ({len(pairs)}); got {len(names)}")
        skels = prepare_skeletons(hce_skeleton, pairs, batched, "hce_skeleton")
        for (p, g), s, nm in zip(pairs, skels, names):
            self._add(_image_metrics(p, g, self.options, s, nm)[0])

    def add_image_metrics(self, result: ImageMetrics) -> None:
        """Add an :class:`ImageMetrics` computed elsewhere (e.g. in a worker) with the same options."""
        if not isinstance(result, ImageMetrics):
            raise TypeError(f"`result` must be an ImageMetrics; got {type(result).__name__}")
        self._add(result)

    def merge(self, other: DatasetMetrics) -> DatasetMetrics:
        """Add the state of ``other`` into this accumulator and return ``self``.

        Raises:
            TypeError: if ``other`` is not a :class:`DatasetMetrics`.
            ValueError: if the two were built with different metrics or options.
        """
        if not isinstance(other, DatasetMetrics):
            raise TypeError(f"`other` must be a DatasetMetrics; got {type(other).__name__}")
        if other.options != self.options:
            raise ValueError(f"`other` must use the same metrics and options; got {other.options} vs {self.options}")
        self.n_images += other.n_images
        for k, v in other._curves.items():
            self._curves[k] = self._curves[k] + v
        for k, v in other._sums.items():
            self._sums[k] = self._sums[k] + v
        if self.per_image:
            self._rows.extend(dict(r) for r in other._rows)
        return self

    def compute(self) -> dict[str, Any]:
        """Dataset values.

        Returns:
            ``{"n_images": int, "fm": {"adaptive", "mean", "max", "curve", "precision", "recall",
            "thresholds"}, "em": {"adaptive", "mean", "max", "curve", "thresholds"}, "sm", "wfm",
            "mae", "hce": {"total", "fp_points", "fp_regions", "fn_points", "fn_regions"}}`` for the
            requested metrics (curves in ascending threshold order; HCE parts are means).

        Raises:
            ValueError: if no image was added.
        """
        n = self.n_images
        if n == 0:
            raise ValueError("compute() needs at least one image; call update() first")
        out: dict[str, Any] = {"n_images": n}
        s, c = self._sums, self._curves
        if "fm" in self.metrics:
            curve = c["fm_curve"] / n
            out["fm"] = {
                "adaptive": s["fm_adaptive"] / n, "mean": float(pysod_mean(curve)), "max": float(curve.max()),
                "curve": curve, "precision": c["fm_precision"] / n, "recall": c["fm_recall"] / n,
                "thresholds": THRESHOLDS,
            }
        if "em" in self.metrics:
            curve = c["em_curve"] / n
            out["em"] = {"adaptive": s["em_adaptive"] / n, "mean": float(pysod_mean(curve)),
                         "max": float(curve.max()), "curve": curve, "thresholds": THRESHOLDS}
        for k in ("sm", "wfm", "mae"):
            if k in self.metrics:
                out[k] = s[k] / n
        if "hce" in self.metrics:
            out["hce"] = {part: s["hce_" + part] / n for part in _HCE_PARTS}
        return out

    def to_pysod_dict(self) -> dict[str, Any]:
        """The dataset values shaped like pysodmetrics' ``get_results`` (curves in descending order).

        Returns:
            ``{"fm": {"adp", "curve"}, "pr": {"p", "r"}, "em": {"adp", "curve"}, "sm", "wfm", "mae",
            "hce"}`` for the requested metrics.
        """
        r = self.compute()
        out: dict[str, Any] = {}
        if "fm" in r:
            out["fm"] = {"adp": r["fm"]["adaptive"], "curve": r["fm"]["curve"][::-1].copy()}
            out["pr"] = {"p": r["fm"]["precision"][::-1].copy(), "r": r["fm"]["recall"][::-1].copy()}
        if "em" in r:
            out["em"] = {"adp": r["em"]["adaptive"], "curve": r["em"]["curve"][::-1].copy()}
        for k in ("sm", "wfm", "mae"):
            if k in r:
                out[k] = r[k]
        if "hce" in r:
            out["hce"] = r["hce"]["total"]
        return out

    def per_image_table(self) -> list[dict[str, Any]]:
        """Per-image scalar values, one dict per image in update order.

        Raises:
            ValueError: if the accumulator was built without ``per_image=True``.
        """
        if not self.per_image:
            raise ValueError("per_image_table() needs DatasetMetrics(..., per_image=True)")
        return [dict(r) for r in self._rows]

    def __len__(self) -> int:
        return self.n_images

    def __repr__(self) -> str:
        return f"DatasetMetrics(metrics={self.metrics}, n_images={self.n_images}, per_image={self.per_image})"
