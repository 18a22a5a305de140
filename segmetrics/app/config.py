"""Several methods × datasets from one configuration file (JSON or TOML).

Format (TOML shown; JSON has the same structure). Relative paths are relative to the file::

    out = "results"                      # results go to out/<dataset>/<method>/
    metrics = ["fm", "wfm", "mae", "sm", "em", "hce"]
    workers = 2                          # optional settings: any keyword of evaluate_folder
    resize = "error"                     # (metrics, workers, chunksize, executor, resize, color,
    hce_gamma = 5                        #  skeleton_cache) and every metric option of the metric
                                         #  table (beta_sq, alpha, wfm_beta, em_compat, hce_gamma, ...)
    [datasets]
    DIS-VD = "DIS5K/DIS-VD/gt"                      # a GT folder
    DIS-TE1 = { gt = "DIS5K/DIS-TE1/gt" }
    CAMO = { gt = "COD/CAMO/gt", images = "COD/CAMO/im" }   # RGB images, for metrics = ["ccm"]

    [methods]
    isnet = "preds/isnet/{dataset}"                 # a folder template ({dataset} is replaced)
    u2net = { pred = "preds/u2net/{dataset}", suffix = "_u2" }
    mine = { pred = { DIS-VD = "runs/vd", DIS-TE1 = "runs/te1" } }   # or one folder per dataset

A method whose folder for a dataset does not exist is skipped and reported; every other pair is
evaluated (and resumed, if its output folder already holds a partial run).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EvalPlan", "evaluate_config", "load_config"]

#: Settings of the folder evaluation itself; every metric option of the metric table is a setting too.
_APP_SETTINGS = ("metrics", "workers", "chunksize", "executor", "resize", "color", "skeleton_cache")


def settings_keys() -> tuple[str, ...]:
    """Every key a configuration may set besides ``out``, ``datasets`` and ``methods``.

    Example:
        >>> {"workers", "hce_gamma", "beta_sq", "bf_tolerances"} <= set(settings_keys())
        True
    """
    from segmetrics.registry import option_defaults

    return _APP_SETTINGS + tuple(option_defaults())
_METHOD_KEYS = ("pred", "prefix", "suffix")


@dataclass
class EvalPlan:
    """A parsed configuration: the runs to do and their common settings.

    Attributes:
        runs: ``(dataset, method, pred_dir, gt_dir, prefix, suffix)`` for each existing pair of folders.
        skipped: ``(dataset, method, reason)`` of the pairs that cannot run (missing folder).
        failed: ``(dataset, method, reason)`` of the runs in which no prediction paired with a GT
            (filled by :func:`evaluate_config`).
        settings: keyword arguments for :func:`segmetrics.app.folder.evaluate_folder`.
        out_dir: root output folder.
        images: RGB image folder of each dataset that gives one (``images = ...`` in its table).
    """

    runs: list[tuple[str, str, Path, Path, str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    out_dir: Path = Path("segmetrics_results")
    images: dict[str, Path] = field(default_factory=dict)


def _read(path: Path) -> dict[str, Any]:
    text = path.read_bytes()
    if path.suffix.lower() == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # the backport, a dependency on Python 3.10
            import tomli as tomllib

        return tomllib.loads(text.decode("utf-8"))
    if path.suffix.lower() == ".json":
        return json.loads(text)
    raise ValueError(f"`config` must be a .json or .toml file; got {path.name!r}")


def load_config(config: str | os.PathLike | dict[str, Any], *, base_dir: str | os.PathLike | None = None) -> EvalPlan:
    """Parse a configuration (a path to a JSON/TOML file, or the dict itself) into an :class:`EvalPlan`.

    Args:
        config: path of a ``.json`` / ``.toml`` file, or an already-loaded dict.
        base_dir: folder that relative paths refer to (default: the file's folder, or the CWD for a dict).

    Returns:
        The :class:`EvalPlan`.

    Raises:
        ValueError: for unknown keys, missing ``datasets`` / ``methods`` or malformed entries.
        FileNotFoundError: if the file or a dataset GT folder does not exist.

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> for d in ("gt/d1", "gt/d2", "pred/d1"): (root / d).mkdir(parents=True)
        >>> plan = load_config({"datasets": {"d1": "gt/d1", "d2": "gt/d2"}, "methods": {"m": "pred/{dataset}"},
        ...                     "hce_gamma": 3}, base_dir=root)
        >>> [(ds, m) for ds, m, *_ in plan.runs], [(ds, m) for ds, m, _ in plan.skipped], plan.settings
        ([('d1', 'm')], [('d2', 'm')], {'hce_gamma': 3})
        >>> tmp.cleanup()
    """
    if isinstance(config, dict):
        data = config
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        where = "config"
    else:
        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"`config` file {str(path)!r} does not exist")
        data = _read(path)
        base = Path(base_dir) if base_dir is not None else path.parent
        where = path.name
    allowed = {"out", "datasets", "methods", *settings_keys()}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    for key in ("datasets", "methods"):
        if not isinstance(data.get(key), dict) or not data[key]:
            raise ValueError(f"{where}: `{key}` must be a non-empty table of name = folder")

    for key in ("datasets", "methods"):
        for name in data[key]:  # each name is a folder of out/<dataset>/<method>
            if name in ("", ".", "..") or any(c in name for c in "/\\\0:"):
                raise ValueError(
                    f"{where}: {key[:-1]} name {name!r} is a folder name of the output (out/<dataset>/<method>): "
                    "it must not be empty, '.' or '..', nor hold '/', '\\', ':' or NUL"
                )

    def resolve(p: str) -> Path:
        q = Path(os.path.expanduser(str(p)))
        return q if q.is_absolute() else base / q

    plan = EvalPlan(settings={k: data[k] for k in settings_keys() if k in data})
    if isinstance(plan.settings.get("skeleton_cache"), str):
        plan.settings["skeleton_cache"] = str(resolve(plan.settings["skeleton_cache"]))
    plan.out_dir = resolve(data.get("out", "segmetrics_results"))
    datasets: dict[str, Path] = {}
    for name, entry in data["datasets"].items():
        gt = entry.get("gt") if isinstance(entry, dict) else entry
        if not isinstance(gt, str) or (isinstance(entry, dict) and set(entry) - {"gt", "images"}):
            raise ValueError(f"{where}: dataset {name!r} must be a folder or a table with `gt` (and `images`); "
                             f"got {entry!r}")
        datasets[name] = resolve(gt)
        if isinstance(entry, dict) and "images" in entry:
            plan.images[name] = resolve(str(entry["images"]))
        if not datasets[name].is_dir():
            raise FileNotFoundError(f"{where}: GT folder of dataset {name!r} does not exist: {str(datasets[name])!r}")
    for method, entry in data["methods"].items():
        if isinstance(entry, str):
            entry = {"pred": entry}
        if not isinstance(entry, dict) or "pred" not in entry or set(entry) - set(_METHOD_KEYS):
            raise ValueError(
                f"{where}: method {method!r} must be a folder template or a table with keys "
                f"{_METHOD_KEYS}; got {entry!r}"
            )
        pred = entry["pred"]
        for ds, gt_dir in datasets.items():
            if isinstance(pred, dict):
                if ds not in pred:
                    plan.skipped.append((ds, method, "no folder given for this dataset"))
                    continue
                pdir = resolve(pred[ds])
            else:
                pdir = resolve(str(pred).replace("{dataset}", ds))
            if not pdir.is_dir():
                plan.skipped.append((ds, method, f"prediction folder {str(pdir)!r} does not exist"))
                continue
            plan.runs.append((ds, method, pdir, gt_dir, entry.get("prefix", ""), entry.get("suffix", "")))
    return plan


def _check_images(plan: EvalPlan, settings: dict[str, Any]) -> None:
    """Refuse, before any run, metrics that need RGB images for datasets that give none."""
    from segmetrics.registry import MetricOptions, family, option_defaults

    opts = MetricOptions.make(settings.get("metrics"), **{k: v for k, v in settings.items() if k in option_defaults()})
    needs = [k for k in opts.metrics if "image" in family(k).needs_for(opts)]
    lacking = sorted({ds for ds, *_ in plan.runs if ds not in plan.images})
    if needs and lacking:
        raise ValueError(f"metric(s) {needs} need the RGB images: give the dataset(s) {lacking} their images in the "
                         "configuration ([datasets] NAME = { gt = ..., images = ... })")


def evaluate_config(
    config: str | os.PathLike | dict[str, Any],
    *,
    out_dir: str | os.PathLike | None = None,
    progress: bool = True,
    overwrite: bool = False,
    **overrides: Any,
) -> tuple[list[Any], EvalPlan]:
    r"""Evaluate every method × dataset of a configuration with :func:`segmetrics.app.folder.evaluate_folder`.

    Args:
        config: path of a JSON/TOML configuration, or the dict (see the module docstring).
        out_dir: root output folder (overrides the file's ``out``); results go to ``out/<dataset>/<method>``.
        progress: show a progress bar per run.
        overwrite: discard previous results instead of resuming.
        **overrides: settings that override the file's (e.g. ``workers=4``).

    Returns:
        ``(results, plan)``: the :class:`~segmetrics.app.folder.FolderResult` of every run, and the plan
        (whose ``skipped`` lists the pairs that could not run, ``failed`` those that paired no image).

    Raises:
        ValueError, FileNotFoundError: see :func:`load_config`; ``ValueError`` also for invalid settings, or
            for metrics that need RGB images (``ccm``) when a dataset gives no ``images``, before any run.

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:24, 8:24] = 255
        >>> for d in ("gt", "pred"): (root / d).mkdir()
        >>> ok = cv2.imwrite(str(root / "gt" / "a.png"), gt), cv2.imwrite(str(root / "pred" / "a.png"), gt)
        >>> cfg = root / "eval.toml"
        >>> _ = cfg.write_text('metrics = ["mae", "iou"]\n[datasets]\nd = "gt"\n[methods]\nm = "pred"\n')
        >>> results, plan = evaluate_config(cfg, out_dir=root / "out", workers=0, progress=False)
        >>> [(r.dataset, r.method, r.metrics["mae"], r.metrics["iou"]) for r in results]
        [('d', 'm', 0.0, 1.0)]
        >>> tmp.cleanup()
    """
    from segmetrics.app.folder import NoPairsError, evaluate_folder

    plan = load_config(config)
    bad = sorted(set(overrides) - set(settings_keys()))
    if bad:
        raise ValueError(f"unknown setting(s) {bad}; allowed: {list(settings_keys())}")
    if out_dir is not None:
        plan.out_dir = Path(out_dir)
    settings = {**plan.settings, **{k: v for k, v in overrides.items() if v is not None}}
    for key, value in settings.items():  # TOML / JSON arrays: the Python API takes tuples
        if isinstance(value, list):
            settings[key] = tuple(value)
    _check_images(plan, settings)
    results = []
    for ds, method, pdir, gdir, prefix, suffix in plan.runs:
        try:
            result = evaluate_folder(
                pdir,
                gdir,
                out_dir=plan.out_dir / ds / method,
                method=method,
                dataset=ds,
                prefix=prefix,
                suffix=suffix,
                image_dir=plan.images.get(ds),
                progress=progress,
                overwrite=overwrite,
                **settings,
            )
        except NoPairsError as exc:  # the other runs still go ahead; the caller reports it as a failure
            plan.failed.append((ds, method, str(exc)))
            continue
        results.append(result)
    return results, plan
