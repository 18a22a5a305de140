"""Dataset accumulator: update / compute / reset / merge with the benchmarks' dataset semantics.

Its state and reductions are those the metric table declares (:mod:`segmetrics.metric_table`): a
running sum per averaged scalar and per curve, and the image count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from segmetrics._inputs import check_bool, prepare_images, prepare_pairs, prepare_skeletons
from segmetrics._mergeable import SummedState
from segmetrics.image_metrics import ImageMetrics, image_metrics, options_doc
from segmetrics.registry import MetricOptions, family, reduce_dataset, scalars_of

__all__ = ["DatasetMetrics"]


class DatasetMetrics(SummedState):
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
        metrics: family keys of the metric table (default: the six DIS metrics, see
            :func:`segmetrics.compute_all`).
        per_image: keep a per-image table of scalar values (default ``False``).
        **options: metric options of the metric table (as :func:`segmetrics.compute_all`):

    <<options>>

    Raises:
        TypeError: wrongly typed option, a non-bool ``per_image``.
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

    _summed = ("n_images", "_curves", "_sums")
    _same_options = ("options",)
    _options_label = "metrics and options"
    _show_options = True
    _add_method = "update"

    def __init__(self, metrics: Sequence[str] | None = None, *, per_image: bool = False, **options: Any) -> None:
        self.options = MetricOptions.make(metrics, **options)
        self.per_image = check_bool(per_image, "per_image")
        self.reset()

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metric keys this accumulator computes."""
        return self.options.metrics

    def reset(self) -> None:
        """Clear the state (keeps the options)."""
        self.n_images = 0
        # the declared dataset state: a running sum per per-image scalar and per curve
        self._sums: dict[str, Any] = {s.key: 0 for s in scalars_of(self.metrics, self.options, per_image=True)}
        self._curves: dict[str, np.ndarray] = {
            c.key: np.zeros(c.length) for m in self.metrics for c in family(m).curves
        }
        self._rows: list[dict[str, Any]] = []

    def _add(self, r: ImageMetrics) -> None:
        scalars, curves = r.scalars(), r.curves()  # read first: nothing changes if they cannot be read
        self.n_images += 1
        for k in self._sums:
            self._sums[k] += scalars[k]
        for k in self._curves:
            self._curves[k] += curves[k]
        if self.per_image:
            self._rows.append(scalars)

    def update(self, pred: Any, gt: Any, name: str | Sequence[str] | None = None, *, hce_skeleton: Any = None,
               image: Any = None) -> None:
        """Add one image or a batch.

        Args:
            pred: prediction map or batch (see :func:`segmetrics.compute_all`).
            gt: matching ground truth.
            name: image name (or one name per image of a batch) for the per-image table.
            hce_skeleton: optional precomputed GT skeleton(s) for HCE.
            image: the ``(H, W, 3)`` uint8 RGB image(s), needed by ``"ccm"``.

        Raises:
            TypeError: unsupported input type or dtype, a ``name`` that is not a string or strings.
            ValueError: invalid inputs, or a number of names that does not match the batch.
                A batch that raises adds none of its images.
        """
        pairs, batched = prepare_pairs(pred, gt, keep_uint8=True)
        if name is None or isinstance(name, str):
            names = [name] * len(pairs) if not batched or name is None else [f"{name}[{i}]" for i in range(len(pairs))]
        else:
            if not isinstance(name, Sequence) or not all(isinstance(n, str) for n in name):
                raise TypeError(f"`name` must be a string or a sequence of strings (one per image); got {name!r}")
            names = list(name)
            if len(names) != len(pairs):
                raise ValueError(f"`name` must hold one name per image ({len(pairs)}); got {len(names)}")
        skels = prepare_skeletons(hce_skeleton, pairs, batched, "hce_skeleton")
        images = prepare_images(image, pairs, batched)
        # every image first: a batch whose last image fails must add nothing (not a part of the batch)
        results = [image_metrics(p, g, self.options, s, nm, im)
                   for (p, g), s, nm, im in zip(pairs, skels, names, images)]
        for r in results:
            self._add(r)

    def add_image_metrics(self, result: ImageMetrics) -> None:
        """Add an :class:`ImageMetrics` computed elsewhere (e.g. in a worker) with the same options."""
        if not isinstance(result, ImageMetrics):
            raise TypeError(f"`result` must be an ImageMetrics; got {type(result).__name__}")
        if result.options is not None and result.options != self.options:
            raise ValueError("`result` must use this accumulator's metrics and options; got "
                             f"{result.options.difference(self.options)}")
        if set(result.results) != set(self.metrics):  # checked before the state changes
            raise ValueError(f"`result` must hold this accumulator's metrics {self.metrics}; got "
                             f"{tuple(result.results)}")
        try:
            missing = {*self._sums, *self._curves} - {*result.scalars(), *result.curves()}
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError("`result` must hold this accumulator's per-image results; reading them failed: "
                             f"{type(exc).__name__}: {exc}") from None
        if missing:
            raise ValueError(f"`result` must hold this accumulator's per-image results; got none for {sorted(missing)}")
        self._add(result)

    def merge(self, other: DatasetMetrics) -> DatasetMetrics:
        """Add the state of ``other`` into this accumulator and return ``self``.

        Args:
            other: an accumulator built with the same metrics and options (e.g. from another worker or rank).

        Returns:
            ``self``, as if it had been fed the images of both (up to float rounding of the sums).

        Raises:
            TypeError: if ``other`` is not a :class:`DatasetMetrics`.
            ValueError: if the two were built with different metrics or options, or if this one keeps a
                per-image table and ``other`` holds images without one (the table would miss them).

        Example:
            >>> import numpy as np
            >>> gt = np.zeros((16, 16), bool); gt[4:12, 4:12] = True
            >>> a, b = DatasetMetrics(metrics=("mae",)), DatasetMetrics(metrics=("mae",))
            >>> a.update(gt, gt)  # e.g. one worker or rank
            >>> b.update(np.zeros((16, 16), np.uint8), gt)  # another
            >>> merged = a.merge(b)
            >>> merged is a, merged.compute()
            (True, {'n_images': 2, 'mae': 0.125})
        """
        if self.per_image and isinstance(other, DatasetMetrics) and not other.per_image and other.n_images:
            raise ValueError(
                "`other` must keep its per-image rows (per_image=True) to merge into an accumulator with "
                f"per_image=True; got per_image=False with {other.n_images} image(s)"
            )
        # copied before the merge: `other` may be `self`
        rows = [dict(r) for r in other._rows] if self.per_image and isinstance(other, DatasetMetrics) else []
        super().merge(other)
        self._rows.extend(rows)
        return self

    def compute(self) -> dict[str, Any]:
        """Dataset values.

        Returns:
            ``{"n_images": int, family: value}`` for the requested families: a family with one
            scalar gives its value (``"sm"``, ``"wfm"``, ``"mae"``); the others a dict of their
            values under the names of their per-image result's fields, e.g. ``"fm": {"adaptive",
            "mean", "max", "curve", "precision", "recall", "thresholds"}``, ``"em": {"adaptive",
            "mean", "max", "curve", "thresholds"}``, ``"hce": {"total", "fp_points", "fp_regions",
            "fn_points", "fn_regions"}`` (curves in ascending threshold order; HCE parts are means).
            :meth:`results` gives the same values under the dotted keys.

        Raises:
            ValueError: if no image was added.
        """
        n = self._images_added()
        curves = {k: v / n for k, v in self._curves.items()}
        values = reduce_dataset(self.metrics, self.options, {k: v / n for k, v in self._sums.items()}, curves)
        out: dict[str, Any] = {"n_images": n}
        for m in self.metrics:
            fam = family(m)
            scalars = fam.scalars_for(self.options)
            if len(scalars) == 1 and not fam.curves and scalars[0].attr is None:
                out[m] = values[scalars[0].key]
                continue
            out[m] = {s.name: values[s.key] for s in scalars}
            out[m].update({c.name: curves[c.key] for c in fam.curves})
            out[m].update(fam.dataset_extras)
        return out

    def results(self) -> dict[str, Any]:
        """Dataset values by dotted key (the folder evaluation's keys): scalars and mean curves.

        Returns:
            ``{"n_images": int, "fm.max": float, ..., "fm.curve": (256,) array, ...}``.

        Raises:
            ValueError: if no image was added.

        Example:
            >>> import numpy as np
            >>> acc = DatasetMetrics(metrics=("mae", "em"))
            >>> gt = np.zeros((8, 8), bool); gt[2:6, 2:6] = True
            >>> acc.update(gt, gt)
            >>> sorted(acc.results())
            ['em.adp', 'em.curve', 'em.max', 'em.mean', 'mae', 'n_images']
        """
        n = self._images_added("results")
        curves = {k: v / n for k, v in self._curves.items()}
        values = reduce_dataset(self.metrics, self.options, {k: v / n for k, v in self._sums.items()}, curves)
        return {"n_images": n, **values, **curves}

    def to_pysod_dict(self) -> dict[str, Any]:
        """The dataset values shaped like pysodmetrics' ``get_results`` (curves in descending order).

        Every scalar and curve of the metric table that declares its pysodmetrics name is exported.

        Returns:
            ``{"fm": {"adp", "curve"}, "pr": {"p", "r"}, "em": {"adp", "curve"}, "sm", "wfm", "mae",
            "hce"}`` for the requested metrics.

        Example:
            >>> import numpy as np
            >>> acc = DatasetMetrics(metrics=("fm", "mae"))
            >>> gt = np.zeros((16, 16), bool); gt[4:12, 4:12] = True
            >>> acc.update(np.where(gt, 200, 20).astype(np.uint8), gt)
            >>> pysod = acc.to_pysod_dict()
            >>> sorted(pysod), sorted(pysod["fm"])
            (['fm', 'mae', 'pr'], ['adp', 'curve'])
            >>> bool(np.array_equal(pysod["fm"]["curve"], acc.compute()["fm"]["curve"][::-1]))  # descending
            True

        Raises:
            ValueError: if no image was added.
        """
        self._images_added("to_pysod_dict")
        res = self.results()
        out: dict[str, Any] = {}
        for m in self.metrics:
            fam = family(m)
            items = [(s.pysod, res[s.key]) for s in fam.scalars_for(self.options) if s.pysod]
            items += [(c.pysod, res[c.key][::-1].copy()) for c in fam.curves if c.pysod]
            for path, value in items:
                node = out
                for part in path[:-1]:
                    node = node.setdefault(part, {})
                node[path[-1]] = value
        return out

    def per_image_table(self) -> list[dict[str, Any]]:
        """Per-image scalar values, one dict per image in update order.

        Returns:
            One dict per image: ``"name"`` and the scalars under the dotted keys of the metric table
            (the columns of the folder evaluation's CSV): ``"fm.adp"``, ``"fm.mean"``, ``"fm.max"``,
            ``"wfm"``, ``"mae"``, ``"sm"``, ``"em.adp"``, ``"em.mean"``, ``"em.max"``, ``"hce"`` (the
            total) and ``"hce.fp_points"`` ... ``"hce.fn_regions"`` for the default metrics.

        Raises:
            ValueError: if the accumulator was built without ``per_image=True``.

        Example:
            >>> import numpy as np
            >>> acc = DatasetMetrics(metrics=("fm", "hce"), per_image=True)
            >>> gt = np.zeros((16, 16), bool); gt[4:12, 4:12] = True
            >>> acc.update(gt.astype(np.uint8) * 255, gt, name="perfect")
            >>> row = acc.per_image_table()[0]
            >>> row["name"], row["fm.max"], row["hce"]
            ('perfect', 1.0, 0)
            >>> list(row)[4:]
            ['hce', 'hce.fp_points', 'hce.fp_regions', 'hce.fn_points', 'hce.fn_regions']
        """
        if not self.per_image:
            raise ValueError("per_image_table() needs DatasetMetrics(..., per_image=True)")
        return [dict(r) for r in self._rows]

    def __len__(self) -> int:
        return self.n_images

    def __repr__(self) -> str:
        return f"DatasetMetrics(metrics={self.metrics}, n_images={self.n_images}, per_image={self.per_image})"


if DatasetMetrics.__doc__:
    DatasetMetrics.__doc__ = DatasetMetrics.__doc__.replace("<<options>>", options_doc(12))
