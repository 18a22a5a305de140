"""The ``segmetrics`` command: ``eval``, ``plot``, ``stats``, ``table`` and ``hce-picture``.

Examples::

    segmetrics eval --pred preds/isnet/DIS-VD --gt DIS5K/DIS-VD/gt --out results/DIS-VD/isnet
    segmetrics eval --config eval.toml --workers 8 --format markdown
    segmetrics eval --pred P --gt G --shard 0/2 --out results/rank0   # and 1/2 into results/rank1
    segmetrics eval --merge results/rank0 results/rank1 --out results/all
    segmetrics plot results/DIS-VD/* --out figures
    segmetrics stats --gt DIS5K/DIS-VD/gt --out stats_vd.csv
    segmetrics table results/*/* --format latex
    segmetrics hce-picture --pred preds/isnet/DIS-VD/1.png --gt DIS5K/DIS-VD/gt/1.png --out hce_1.png

Exit codes: ``0`` success; ``1`` some images could not be evaluated (unreadable, corrupt, size
mismatch: they are listed), or, with ``--strict``, some predictions are missing; ``2`` bad usage or
inputs (unknown option, missing or empty folder, no prediction paired with a GT, missing shards in
``--merge``, invalid configuration, a missing optional dependency); ``130`` interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]

EXIT_OK, EXIT_IMAGE_ERRORS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _add_eval(sub: argparse._SubParsersAction) -> None:
    from segmetrics.app.image_io import _COLOR_MODES
    from segmetrics.registry import OPTIONS, all_metrics, default_metrics

    p = sub.add_parser(
        "eval",
        help="evaluate prediction folders against ground-truth folders",
        description="Evaluate --pred against --gt, or every method x dataset of --config, or merge shard outputs.",
    )
    src = p.add_argument_group("inputs (one of --pred/--gt, --config, --merge)")
    src.add_argument("--pred", help="folder of predictions")
    src.add_argument("--gt", help="folder of ground-truth masks")
    src.add_argument("--config", help="JSON or TOML file with several methods x datasets")
    src.add_argument("--merge", nargs="+", metavar="DIR", help="merge the output folders of separate runs")
    p.add_argument("--out", help="output folder (default: segmetrics_results/<dataset>/<method>)")
    p.add_argument("--image-dir", default=None, help="folder of the RGB images (GT stems), needed by --metrics ccm")
    p.add_argument("--metrics", nargs="+", choices=all_metrics(), default=None,
                   help=f"metrics to compute (default: {' '.join(default_metrics())}, or the --preset's)")
    _add_preset(p, computes=True)
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: the cores this process may use; 0: none)")
    p.add_argument("--chunksize", type=int, default=None, help="images per worker task (default 1)")
    p.add_argument("--executor", choices=("auto", "process", "thread"), default=None,
                   help="worker kind: spawn processes (auto, the default) or threads (no start-up cost)")
    p.add_argument("--resize", choices=("error", "pred-to-gt"), default=None,
                   help="size mismatch policy (default: error for that image)")
    p.add_argument("--color", choices=_COLOR_MODES, default=None,
                   help="colour files: OpenCV grey conversion (default) or the first RGB channel (DIS)")
    p.add_argument("--prefix", default="", help="prediction stem = prefix + GT stem + suffix")
    p.add_argument("--suffix", default="", help="see --prefix")
    p.add_argument("--method", help="method name (default: the --pred folder name, or its parent's if generic)")
    p.add_argument("--dataset", help="dataset name (default: the --gt folder name, or its parent's if generic)")
    opts = p.add_argument_group("metric options (the metric table's; validated before any image is read)")
    for opt in OPTIONS.values():
        opts.add_argument(opt.flag, dest=opt.name, **opt.cli_kwargs())
    cache = p.add_mutually_exclusive_group()
    cache.add_argument("--skeleton-cache", metavar="DIR", help="GT skeleton cache folder (default: user cache)")
    cache.add_argument("--no-skeleton-cache", action="store_true", help="skeletonise without caching")
    p.add_argument("--shard", metavar="I/N",
                   help="evaluate only shard I of N (e.g. rank/world size); combine the outputs with --merge")
    p.add_argument("--overwrite", action="store_true", help="discard previous results instead of resuming")
    p.add_argument("--strict", action="store_true", help="exit with 1 when predictions are missing")
    p.add_argument("--format", choices=("plain", "markdown", "latex"), default="plain", help="printed table format")
    p.add_argument("--digits", type=int, default=3, help="decimals in the printed table (default 3)")
    p.add_argument("--hce-pictures", metavar="DIR", help="draw the HCE picture of the worst images into DIR")
    p.add_argument("--hce-pictures-top", type=int, default=5, help="how many of the worst images to draw (default 5)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_preset(p: argparse.ArgumentParser, *, computes: bool) -> None:
    from segmetrics.metric_table import PRESETS

    cols = "; ".join(f"{k}: {' '.join(v)}" for k, v in PRESETS.items())
    what = ("computes their metrics unless --metrics" if computes else
            "shows those the results hold; evaluate with `segmetrics eval --preset` to have them all")
    p.add_argument("--preset", choices=tuple(PRESETS), default=None,
                   help=f"table columns as papers print them ({cols}); {what}")


def _preset_columns(a: argparse.Namespace) -> list[str] | None:
    from segmetrics.metric_table import PRESETS

    return list(PRESETS[a.preset]) if getattr(a, "preset", None) else None


def _add_plot(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plot", help="PR, F-measure and E-measure curves from saved results",
                       description="Plot curves across methods from results.json files (or their folders).")
    p.add_argument("results", nargs="+", help="results.json files or folders holding one")
    p.add_argument("--out", required=True, help="output folder for <dataset>_<kind>.<format>")
    p.add_argument("--kinds", nargs="+", choices=("pr", "fm", "em", "miou"), default=None,
                   help="curve kinds (default: every kind the results hold; miou for interactive results)")
    p.add_argument("--formats", nargs="+", default=["png", "pdf"], help="file formats (default png pdf)")


def _add_stats(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stats", help="object complexity of a GT folder (DIS Table 1: IPQ, Cnum, Pnum, H, W, D)",
                       description="Per-image and mean +- std object-complexity measures of a GT folder.")
    p.add_argument("--gt", required=True, nargs="+", help="GT folder(s); one summary row each")
    p.add_argument("--out", help="per-image CSV (with several folders: one file per folder, suffixed)")
    p.add_argument("--json", help="write the summaries as JSON")
    p.add_argument("--epsilon", type=float, default=2.0, help="Douglas-Peucker tolerance for Pnum (default 2.0)")
    p.add_argument("--workers", type=int, default=None, help="threads (default: the cores this process may use)")
    p.add_argument("--format", choices=("plain", "markdown", "latex"), default="plain")
    p.add_argument("--no-progress", action="store_true")


def _add_table(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("table", help="print the table of saved results", description="Print saved results as a table.")
    p.add_argument("results", nargs="+", help="results.json files or folders holding one")
    p.add_argument("--format", choices=("plain", "markdown", "latex"), default="plain")
    p.add_argument("--digits", type=int, default=3)
    _add_preset(p, computes=False)


def _add_picture(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("hce-picture", help="draw what HCE counts for one image (DIS Fig. 6)",
                       description="Draw the FN / FP regions, polygon points and independent regions HCE counts.")
    p.add_argument("--pred", required=True, help="prediction image file")
    p.add_argument("--gt", required=True, help="ground-truth image file")
    p.add_argument("--out", required=True, help="output file (.png, .pdf, ...)")
    from segmetrics.registry import FAMILIES, OPTIONS

    for name in FAMILIES["hce"].options:  # the HCE options, without the prefix: --gamma, --epsilon, ...
        opt, short = OPTIONS[name], name.removeprefix("hce_")
        p.add_argument("--" + short.replace("_", "-"), dest=short, **{**opt.cli_kwargs(), "default": opt.default})
    p.add_argument("--crop", action="store_true", help="zoom to the errors")


def _parser() -> argparse.ArgumentParser:
    from segmetrics import __version__

    parser = argparse.ArgumentParser(
        prog="segmetrics",
        description="Fast, exact DIS / salient-object segmentation metrics over folders.",
        epilog="Exit codes: 0 ok, 1 some images failed (or missing predictions with --strict), 2 usage or "
               "input error, 130 interrupted (Ctrl-C; re-run the same command to resume).",
    )
    parser.add_argument("--version", action="version", version=f"segmetrics {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{eval,plot,stats,table,hce-picture}")
    _add_eval(sub)
    _add_plot(sub)
    _add_stats(sub)
    _add_table(sub)
    _add_picture(sub)
    return parser


def _eval_kwargs(a: argparse.Namespace) -> dict:
    from segmetrics.registry import OPTIONS

    kw = {
        "metrics": tuple(a.metrics) if a.metrics else _preset_metrics(a),
        "workers": a.workers,
        "chunksize": a.chunksize,
        "executor": a.executor,
        "resize": a.resize,
        "color": a.color,
    }
    for name in OPTIONS:  # every metric option the command line was given
        value = getattr(a, name)
        kw[name] = tuple(value) if isinstance(value, list) else value
    if a.no_skeleton_cache:
        kw["skeleton_cache"] = False
    elif a.skeleton_cache:
        kw["skeleton_cache"] = a.skeleton_cache
    return {k: v for k, v in kw.items() if v is not None}


def _preset_metrics(a: argparse.Namespace) -> tuple[str, ...] | None:
    from segmetrics.metric_table import preset_metrics

    return preset_metrics(a.preset) if a.preset else None


def _summary(results: list, plan_skipped: Sequence = ()) -> tuple[int, int]:
    err = sys.stderr
    n_err = n_missing = 0
    for r in results:
        tag = f"{r.dataset}/{r.method}"
        if r.missing:
            n_missing += len(r.missing)
            shown = ", ".join(r.missing[:10]) + (" ..." if len(r.missing) > 10 else "")
            print(f"warning: {tag}: {len(r.missing)} GT image(s) without a prediction: {shown}", file=err)
            if r.extra:
                from segmetrics.app.image_io import suggest_affixes

                hint = suggest_affixes(r.missing, r.extra)
                if hint is not None and any(hint):
                    flags = " ".join(f"--{k} {v}" for k, v in zip(("prefix", "suffix"), hint) if v)
                    print(f"hint: predictions named {hint[0]}<GT stem>{hint[1]} pair with {flags}", file=err)
        if r.extra:
            shown = ", ".join(r.extra[:10]) + (" ..." if len(r.extra) > 10 else "")
            print(f"warning: {tag}: {len(r.extra)} prediction(s) without a GT (ignored): {shown}", file=err)
        for name, msg in sorted(r.errors.items()):
            print(f"error: {tag}: {name}: {_for_cli(msg, 'eval')}", file=err)
        n_err += len(r.errors)
    for ds, method, why in plan_skipped:
        print(f"warning: skipped {ds}/{method}: {why}", file=err)
    return n_err, n_missing


def _pictures(results: list, a: argparse.Namespace) -> None:
    from segmetrics.app.hce_picture import save_hce_picture
    from segmetrics.app.image_io import pair_files
    from segmetrics.app.pair import EvalSettings, load_pair

    for r in results:
        if "hce" not in r.metrics or not r.per_image:
            print(f"warning: {r.dataset}/{r.method}: no HCE values, no pictures drawn", file=sys.stderr)
            continue
        pairing = pair_files(a.pred, a.gt, prefix=a.prefix, suffix=a.suffix) if a.pred else None
        paths = {n: (p, g) for n, p, g in pairing.pairs} if pairing else {}
        worst = sorted(r.per_image, key=lambda n: -r.per_image[n]["hce"])[: max(0, a.hce_pictures_top)]
        for name in worst:
            if name not in paths:
                continue
            p, g = paths[name]
            out = Path(a.hce_pictures) / f"{r.dataset}_{r.method}_{name}_hce.png"
            settings = EvalSettings.from_identity(r.settings)  # what the numbers were computed with
            pred, gt = load_pair(p, g, settings)  # read as evaluated: colour mode, resize policy
            o = settings.options
            save_hce_picture(pred, gt, out, gamma=o.hce_gamma, epsilon=o.hce_epsilon, threshold=o.hce_threshold,
                             iterations=o.hce_iterations)
            print(f"wrote {out}", file=sys.stderr)


def _table_columns(results: Sequence, a: argparse.Namespace) -> list[str] | None:
    """The --preset's columns that some result holds (``None``: the default columns); warns about the others."""
    cols = _preset_columns(a)
    if cols is None:
        return None
    held = [k for k in cols if any(k in r.metrics for r in results)]
    missing = [k for k in cols if k not in held]
    if missing:
        print(f"warning: the results hold no {' '.join(missing)}: the table lacks {len(missing)} of the "
              f"{len(cols)} columns of --preset {a.preset} (evaluate with `segmetrics eval --preset {a.preset}` "
              "to compute them)", file=sys.stderr)
    return held or None


def _refuse_unused_flags(a: argparse.Namespace) -> None:
    """A usage error for flags that --config or --merge would ignore (what is evaluated, or how)."""
    from segmetrics.registry import OPTIONS

    flags = {"prefix": "--prefix", "suffix": "--suffix", "method": "--method", "dataset": "--dataset",
             "shard": "--shard", "metrics": "--metrics", "resize": "--resize", "color": "--color",
             "hce_pictures": "--hce-pictures", **{name: opt.flag for name, opt in OPTIONS.items()}}
    if a.config:  # each method x dataset of the file is one whole run, paired and named by the file
        mode, unused = "--config", ["prefix", "suffix", "method", "dataset", "shard"]
    elif a.merge:  # the shards' journals hold every number, computed with the shards' settings
        mode, unused = "--merge", [k for k in flags if k not in ("method", "dataset")]
    else:
        return
    given = [flags[k] for k in unused if getattr(a, k) not in (None, "", [])]
    if given:
        what = ("each method x dataset of the file is one run; set prefix / suffix per method in the file"
                if mode == "--config" else "the merge takes every number and setting from the shards' results")
        raise _UsageError(f"{', '.join(given)}: not used with {mode} ({what})")


def _cmd_eval(a: argparse.Namespace) -> int:
    from segmetrics._inputs import check_int
    from segmetrics.app.report import format_table

    check_int(a.digits, "digits")  # the printing options, before any image is read
    check_int(a.hce_pictures_top, "hce_pictures_top")
    modes = sum(x is not None for x in (a.config, a.merge)) + (a.pred is not None or a.gt is not None)
    if modes != 1:
        raise _UsageError("give exactly one of --pred/--gt, --config or --merge")
    _refuse_unused_flags(a)
    if a.hce_pictures and a.pred:  # a folder that cannot be written is found before the evaluation, not after it
        from segmetrics.app.journal import prepare_out_dir

        prepare_out_dir(a.hce_pictures, "hce_pictures")
    skipped: Sequence = ()
    if a.merge:
        from segmetrics.app.folder import merge_results

        if not a.out:
            raise _UsageError("--merge needs --out for the merged results")
        results = [merge_results(a.merge, a.out, method=a.method, dataset=a.dataset)]
    elif a.config:
        from segmetrics.app.config import evaluate_config

        if a.image_dir:
            raise _UsageError("with --config, give each dataset's RGB images in the file: "
                              "[datasets] NAME = { gt = ..., images = ... }")
        results, plan = evaluate_config(
            a.config, out_dir=a.out, progress=not a.no_progress, overwrite=a.overwrite, **_eval_kwargs(a)
        )
        skipped = plan.skipped
        for ds, method, why in plan.failed:
            print(f"error: {ds}/{method}: {_for_cli(why, 'eval')}", file=sys.stderr)
        if not results:
            raise ValueError("no method x dataset of `path` paired any image; nothing was evaluated")
    else:
        if not (a.pred and a.gt):
            raise _UsageError("--pred and --gt go together")
        from segmetrics.app.folder import evaluate_folder

        shard = None
        if a.shard:
            try:
                i, n = (int(v) for v in a.shard.split("/"))
            except ValueError:
                raise _UsageError(f"--shard must look like I/N (e.g. 0/4); got {a.shard!r}") from None
            shard = (i, n)
        from segmetrics.app.folder import default_names

        method, dataset = default_names(a.pred, a.gt)
        dataset = a.dataset or dataset
        method = a.method or method
        out = a.out or os.path.join("segmetrics_results", dataset, method)
        results = [
            evaluate_folder(
                a.pred,
                a.gt,
                out_dir=out,
                prefix=a.prefix,
                suffix=a.suffix,
                method=method,
                dataset=dataset,
                overwrite=a.overwrite,
                progress=not a.no_progress,
                shard=shard,
                image_dir=a.image_dir,
                **_eval_kwargs(a),
            )
        ]
    n_err, n_missing = _summary(results, skipped)
    if results:
        print(format_table(results, fmt=a.format, digits=a.digits, columns=_table_columns(results, a)))
        for r in results:
            if r.out_dir:
                resumed = (f" ({r.reused} reused from the previous run, {r.recomputed} recomputed because a file "
                           "changed)" if r.reused or r.recomputed else "")
                print(f"{r.dataset}/{r.method}: {r.num_images} images{resumed}, results in {r.out_dir}",
                      file=sys.stderr)
    if a.hce_pictures and not a.merge:
        if a.config:
            print("warning: --hce-pictures is available with --pred/--gt only", file=sys.stderr)
        else:
            _pictures(results, a)
    if n_err:
        print(f"{n_err} image(s) could not be evaluated (listed above)", file=sys.stderr)
        return EXIT_IMAGE_ERRORS
    if a.config and plan.failed:
        return EXIT_IMAGE_ERRORS
    if a.strict and (n_missing or skipped):
        return EXIT_IMAGE_ERRORS
    return EXIT_OK


def _cmd_plot(a: argparse.Namespace) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    from segmetrics.app.folder import load_results
    from segmetrics.app.plot import save_curve_plots

    results = [load_results(p) for p in a.results]
    _warn_mixed_interactive(results)
    _warn_mixed_settings(results)
    for p in save_curve_plots(results, a.out, kinds=a.kinds, formats=a.formats):
        print(p)
    return EXIT_OK


def _cmd_stats(a: argparse.Namespace) -> int:
    from segmetrics.app.folder import dataset_name
    from segmetrics.app.image_io import IMAGE_EXTENSIONS
    from segmetrics.app.journal import csv_text
    from segmetrics.app.stats import complexity_folder
    from segmetrics.complexity import COMPLEXITY_FIELDS, summarize_complexity

    for flag, path in (("--out", a.out), ("--json", a.json)):  # before any measure is computed
        if not path:
            continue
        if Path(path).is_dir() and (flag == "--json" or len(a.gt) == 1):  # with several --gt, --out is a stem
            raise ValueError(f"{flag} {path!r} is a folder; give a file name (e.g. {Path(path) / 'stats'}"
                             f"{'.csv' if flag == '--out' else '.json'})")
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OSError(f"{flag} {path!r}: its folder cannot be created ({exc.strerror or exc})") from None
    summaries = {}
    n_err = n_empty = 0
    for i, gt in enumerate(a.gt):
        name = dataset_name(gt)  # as `eval` names it: DIS5K/DIS-VD/gt is DIS-VD
        if name in summaries or sum(dataset_name(g) == name for g in a.gt) > 1:
            name = f"{Path(gt).resolve().parent.name}/{Path(gt).resolve().name}"  # e.g. A/DIS-VD, B/DIS-VD
        if name in summaries:
            name = f"{name} ({i + 1})"
        per_image, errors = complexity_folder(gt, epsilon=a.epsilon, workers=a.workers, progress=not a.no_progress)
        for k, msg in sorted(errors.items()):
            print(f"error: {name}: {k}: {msg}", file=sys.stderr)
        n_err += len(errors)
        if not per_image and not errors:
            print(f"error: --gt {gt} holds no images ({' '.join(IMAGE_EXTENSIONS)})", file=sys.stderr)
            n_empty += 1
            continue
        if not per_image:
            print(f"error: {name}: no readable mask", file=sys.stderr)
            continue
        empty = sorted(k for k, c in per_image.items() if c.area == 0)
        if empty:
            print(f"note: {name}: {len(empty)} of {len(per_image)} masks hold no object (e.g. {empty[0]}); they "
                  "count in the means with IPQ = Cnum = Pnum = 0", file=sys.stderr)
        summaries[name] = summarize_complexity(per_image.values())
        if a.out:
            out = Path(a.out)
            if len(a.gt) > 1:
                safe = re.sub(r"[^\w.-]+", "_", name).strip("_")  # "DIS-VD/gt" -> "DIS-VD_gt": one file name
                out = out.with_name(f"{out.stem}_{i}_{safe}{out.suffix or '.csv'}")
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, "w", newline="", encoding="utf-8") as f:
                fields = ["height", "width", "diagonal", "ipq", "cnum", "pnum", "perimeter", "area"]
                w = csv.writer(f)
                w.writerow(["name", *fields])
                for k, c in per_image.items():
                    d = c.to_dict()
                    w.writerow([csv_text(k), *[repr(d[x]) if isinstance(d[x], float) else d[x] for x in fields]])
            print(f"wrote {out}", file=sys.stderr)
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)  # as --out does
        Path(a.json).write_text(json.dumps(summaries, indent=1), encoding="utf-8")
    labels = {"height": "H", "width": "W", "diagonal": "D", "ipq": "IPQ", "cnum": "Cnum", "pnum": "Pnum"}
    head = ["dataset", "n", *(labels[f] for f in COMPLEXITY_FIELDS)]
    rows = [
        [ds, str(int(s["count"]["mean"])), *(f"{s[f]['mean']:.2f} ± {s[f]['std']:.2f}" for f in COMPLEXITY_FIELDS)]
        for ds, s in summaries.items()
    ]
    if rows:
        print(_simple_table(head, rows, a.format))
    if n_empty:
        return EXIT_USAGE
    return EXIT_IMAGE_ERRORS if n_err or not rows else EXIT_OK


def _simple_table(head: list[str], rows: list[list[str]], fmt: str) -> str:
    from segmetrics.app.report import _latex_escape, _markdown_escape

    if fmt == "markdown":
        return "\n".join(
            ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
            + ["| " + " | ".join(_markdown_escape(c) for c in r) + " |" for r in rows]
        )
    if fmt == "latex":
        body = [" & ".join(_latex_escape(c).replace("±", r"$\pm$") for c in r) + r" \\" for r in rows]
        top = [r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}", r"\toprule", " & ".join(head) + r" \\", r"\midrule"]
        return "\n".join([*top, *body, r"\bottomrule", r"\end{tabular}"])
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    return "\n".join(lines)


def _warn_mixed_interactive(results: Sequence) -> None:
    """Warn (stderr) when one dataset's interactive results were run with different click settings."""
    from segmetrics.interactive import SEEDED_PROTOCOLS

    by_ds: dict[str, list] = {}
    for r in results:
        if isinstance(r.settings, dict) and r.settings.get("task") == "interactive":
            by_ds.setdefault(r.dataset, []).append(r)
    for ds, rs in sorted(by_ds.items()):
        keys = sorted({k for r in rs for k in r.settings})
        diff = [k for k in keys if len({json.dumps(r.settings.get(k)) for r in rs}) > 1]
        if all(r.settings.get("protocol") not in SEEDED_PROTOCOLS for r in rs) and "seed" in diff:
            diff.remove("seed")  # the seed draws the random protocols' clicks only: the others do not use it
        if diff:
            what = "; ".join(f"{k}: " + ", ".join(f"{r.method} {r.settings.get(k)!r}" for r in rs) for k in diff)
            print(f"warning: dataset {ds}: the interactive results were run with different settings ({what}); "
                  "their NoC / NoF / mIoU do not compare", file=sys.stderr)


def _warn_mixed_settings(results: Sequence) -> None:
    """Warn (stderr) when one dataset's folder results were computed with settings that change shared columns.

    An option counts when a metric family of both results uses it (``beta_sq`` for ``fm`` ...); the resize
    policy and the colour mode always count.
    """
    from segmetrics.registry import FAMILIES

    by_ds: dict[str, list] = {}
    for r in results:
        if isinstance(r.settings, dict) and "metrics" in r.settings and r.settings.get("task") != "interactive":
            by_ds.setdefault(r.dataset, []).append(r)
    for ds, rs in sorted(by_ds.items()):
        shared = set.intersection(*(set(r.settings.get("metrics") or ()) for r in rs))
        keys = {"resize", "color"} | {o for k in shared if k in FAMILIES for o in FAMILIES[k].options}
        diff = [k for k in sorted(keys) if len({json.dumps(r.settings.get(k)) for r in rs if k in r.settings}) > 1]
        if diff:
            what = "; ".join(f"{k}: " + ", ".join(f"{r.method} {r.settings.get(k)!r}" for r in rs) for k in diff)
            print(f"warning: dataset {ds}: the results were computed with different settings ({what}); "
                  "their numbers do not compare", file=sys.stderr)


def _cmd_table(a: argparse.Namespace) -> int:
    from segmetrics.app.folder import load_results
    from segmetrics.app.report import format_table

    results = [load_results(p) for p in a.results]
    _warn_mixed_interactive(results)
    _warn_mixed_settings(results)
    print(format_table(results, fmt=a.format, digits=a.digits, columns=_table_columns(results, a)))
    return EXIT_OK


def _cmd_picture(a: argparse.Namespace) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    from segmetrics.app.hce_picture import save_hce_picture

    d = save_hce_picture(a.pred, a.gt, a.out, gamma=a.gamma, epsilon=a.epsilon, threshold=a.threshold,
                         iterations=a.iterations, crop=a.crop)
    print(
        f"HCE = {d.total} (FP points {d.fp_points}, FP regions {d.fp_regions}, "
        f"FN points {d.fn_points}, FN regions {d.fn_regions}); wrote {a.out}"
    )
    return EXIT_OK


def _discard_stdout() -> None:
    """Point stdout at the null device, so that flushing it at exit does not raise on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (stdout replaced in-process): nothing to flush there
        pass


def _quiet_opencv() -> None:
    # Corrupt files are reported once, as error rows; OpenCV's own decoder log lines would repeat them.
    try:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    except Exception:
        pass


class _UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``segmetrics`` command line and return its exit code.

    Args:
        argv: arguments without the program name (default: ``sys.argv[1:]``).

    Returns:
        ``0`` on success, ``1`` when images failed (or predictions are missing with ``--strict``),
        ``2`` for usage or input errors.

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:24, 8:24] = 255
        >>> for d in ("gt", "pred"): (root / d).mkdir()
        >>> ok = cv2.imwrite(str(root / "gt" / "a.png"), gt), cv2.imwrite(str(root / "pred" / "a.png"), gt)
        >>> main(["eval", "--pred", str(root / "pred"), "--gt", str(root / "gt"), "--out", str(root / "out"),
        ...       "--method", "isnet", "--dataset", "demo", "--metrics", "mae", "sm", "--workers", "0",
        ...       "--no-progress", "--format", "markdown"])
        | dataset | method | n | MAE ↓ | S ↑ |
        |---|---|---:|---:|---:|
        | demo | isnet | 1 | 0.000 | 1.000 |
        0
        >>> tmp.cleanup()
    """
    parser = _parser()
    a = parser.parse_args(argv)
    _quiet_opencv()
    with contextlib.suppress(AttributeError, ValueError):  # a folder name that is not UTF-8 (in a table row) is
        sys.stdout.reconfigure(errors="surrogateescape")  # printed as its bytes, as `ls` prints it, not a crash
    commands = {
        "eval": _cmd_eval,
        "plot": _cmd_plot,
        "stats": _cmd_stats,
        "table": _cmd_table,
        "hce-picture": _cmd_picture,
    }
    try:
        with warnings.catch_warnings():  # one line each, as the errors: not Python's path:line + source line
            warnings.showwarning = lambda message, *args, **kwargs: print(
                f"segmetrics {a.command}: warning: {_for_cli(str(message), a.command)}", file=sys.stderr)
            return commands[a.command](a)
    except BrokenPipeError:  # the reader stopped early (`segmetrics table out | head -1`): not an error
        _discard_stdout()
        return EXIT_OK
    except _UsageError as exc:
        parser.error(str(exc))  # exits with 2
    except (OSError, ValueError, TypeError, ImportError, RuntimeError) as exc:
        print(f"segmetrics {a.command}: error: {_for_cli(str(exc), a.command, _file_settings(a))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        again = " (finished images are saved): re-run the same command to resume" if a.command == "eval" else ""
        print(f"\nsegmetrics {a.command}: interrupted{again}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK  # pragma: no cover - parser.error exits


# Python parameter names that the command line spells differently (other names: `--name-with-dashes`).
_FLAGS = {
    "eval": {"pred_dir": "--pred", "gt_dir": "--gt", "out_dir": "--out", "shard_dirs": "--merge", "path": "--config",
             "digits": "--digits", "hce_pictures": "--hce-pictures", "hce_pictures_top": "--hce-pictures-top"},
    "stats": {"gt_dir": "--gt", "folder": "--gt"},
    "hce-picture": {"pred": "--pred", "gt": "--gt", "path": "--out"},
    "plot": {"results": "RESULTS", "out_dir": "--out"},
    "table": {"results": "RESULTS", "digits": "--digits"},
}


def _params(command: str) -> set[str]:
    import inspect

    from segmetrics.app import config, folder, hce_picture, plot, stats

    funcs = {
        "eval": (folder.evaluate_folder, folder.merge_results, config.evaluate_config),
        "stats": (stats.complexity_folder,),
        "hce-picture": (hce_picture.save_hce_picture, hce_picture.draw_hce),
        "plot": (plot.save_curve_plots, plot.plot_curves),
        "table": (folder.load_results,),
    }[command]
    from segmetrics.registry import OPTIONS

    params = {p for f in funcs for p in inspect.signature(f).parameters}
    return params | set(OPTIONS) if command == "eval" else params


def _file_settings(a: argparse.Namespace) -> dict[str, str]:
    """``{setting: file name}`` of the settings that ``eval --config`` took from the file (not from a flag)."""
    if a.command != "eval" or not getattr(a, "config", None):
        return {}
    from segmetrics.app.config import settings_keys

    given = _eval_kwargs(a)
    return {k: Path(a.config).name for k in settings_keys() if k not in given}


def _for_cli(msg: str, command: str, from_file: dict[str, str] | None = None) -> str:
    """Rewrite a library message for the command line: Python parameter names become flags.

    ``name=value (--flag value)`` keeps the flag; a backquoted parameter name becomes its flag, or, for a
    setting that came from a configuration file (``from_file``: ``{name: file}``), ``name in <file>``.
    """
    import re

    msg = re.sub(r"\b[A-Za-z_]\w*=(?:'[^']*'|\"[^\"]*\"|\([^()]*\)|[^\s(),;]+) \((--[^()]*)\)", r"\1", msg)
    special = _FLAGS.get(command, {})
    params = _params(command)

    def flag(m: re.Match) -> str:
        name = m.group(1)
        if from_file and name in from_file:
            return f"{name} in {from_file[name]}"
        if special.get(name):
            return special[name]
        if name in params and name not in special:
            return "--" + name.replace("_", "-")
        return m.group(0)

    return re.sub(r"`([A-Za-z_]\w*)`", flag, msg)
