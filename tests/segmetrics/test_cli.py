"""The ``segmetrics`` command: eval (folders, config, merge), table, plot, stats, hce-picture, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from segmetrics.app.cli import main
from segmetrics.app.folder import evaluate_folder, load_results
from tests.segmetrics.folder_data import NAMES, load_pair, make_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="module")
def evaluated(data, tmp_path_factory):
    """Both methods evaluated once through the CLI (in-process, no pool)."""
    root = tmp_path_factory.mktemp("res")
    codes = {}
    for m in ("good", "bad"):
        codes[m] = main(["eval", "--pred", str(data[m]), "--gt", str(data["gt"]), "--out", str(root / m),
                         "--workers", "0", "--no-progress", "--no-skeleton-cache", "--dataset", "toy",
                         "--metrics", "fm", "wfm", "mae", "sm", "em", "hce"])
    return root, codes


def test_eval_numbers_equal_the_python_api_and_pysod(data, evaluated):
    root, codes = evaluated
    assert codes == {"good": 0, "bad": 1}  # the corrupt file makes the exit code non-zero
    cli = load_results(root / "good")
    api = evaluate_folder(data["good"], data["gt"], workers=0, skeleton_cache=False, progress=False)
    assert cli.metrics == api.metrics and cli.method == "good" and cli.dataset == "toy"
    import py_sod_metrics as pysod

    mae = pysod.MAE()
    for n in NAMES:
        mae.step(*load_pair(data, "good", n))
    assert cli.metrics["mae"] == pytest.approx(mae.get_results()["mae"], abs=1e-15)


def test_eval_prints_table_and_lists_faults(data, tmp_path, capsys):
    code = main(["eval", "--pred", str(data["bad"]), "--gt", str(data["gt"]), "--out", str(tmp_path / "o"),
                 "--workers", "0", "--no-progress", "--metrics", "mae", "fm", "--format", "markdown"])
    out, err = capsys.readouterr()
    assert code == 1
    ds = data["gt"].parent.name  # DIS5K-like layout <dataset>/gt: the dataset is the parent's name
    assert "| dataset | method | n | maxF ↑ | MAE ↓ |" in out and f"| {ds} | bad | 4 |" in out
    assert f"error: {ds}/bad: im3: cannot decode" in err
    assert "without a prediction: im4" in err and "without a GT (ignored): zzz" in err
    assert "1 image(s) could not be evaluated" in err
    code = main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(tmp_path / "g"),
                 "--workers", "0", "--no-progress", "--metrics", "mae", "--format", "latex", "--strict"])
    out, _ = capsys.readouterr()
    assert code == 0 and r"\begin{tabular}" in out and r"$\mathcal{M}$ $\downarrow$" in out
    # --strict turns missing predictions into a failure.
    code = main(["eval", "--pred", str(data["bad"]), "--gt", str(data["gt"]), "--out", str(tmp_path / "s"),
                 "--workers", "0", "--no-progress", "--metrics", "mae", "--strict"])
    assert code == 1


def test_eval_config_toml_and_json(data, tmp_path, capsys):
    base = data["gt"].parent
    toml = tmp_path / "eval.toml"
    toml.write_text(
        f'out = "{(tmp_path / "cfg").as_posix()}"\nmetrics = ["mae", "sm"]\nworkers = 0\n'
        f'[datasets]\ntoy = "{data["gt"].as_posix()}"\nother = {{ gt = "{data["gt"].as_posix()}" }}\n'
        f'[methods]\ngood = "{(base / "good").as_posix()}"\n'
        f'ghost = "{(base / "ghost").as_posix()}/{{dataset}}"\n'
    )
    code = main(["eval", "--config", str(toml), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0 and "skipped toy/ghost" in err and "skipped other/ghost" in err
    assert "other    good" in out and "toy      good" in out
    a = load_results(tmp_path / "cfg" / "toy" / "good")
    ref = evaluate_folder(data["good"], data["gt"], metrics=("mae", "sm"), workers=0, progress=False)
    assert a.metrics == ref.metrics
    cfg = {"datasets": {"toy": str(data["gt"])}, "methods": {"good": {"pred": {"toy": str(base / "good")}}},
           "metrics": ["mae"], "workers": 0}
    js = tmp_path / "eval.json"
    js.write_text(json.dumps(cfg))
    assert main(["eval", "--config", str(js), "--out", str(tmp_path / "cj"), "--no-progress"]) == 0
    assert load_results(tmp_path / "cj" / "toy" / "good").metrics["mae"] == ref.metrics["mae"]
    js.write_text(json.dumps({**cfg, "metric": ["mae"]}))
    assert main(["eval", "--config", str(js), "--no-progress"]) == 2
    assert "unknown key(s) ['metric']" in capsys.readouterr().err


def test_eval_merge_and_table(data, evaluated, tmp_path, capsys):
    root, _ = evaluated
    code = main(["eval", "--merge", str(root / "good"), "--out", str(tmp_path / "m")])
    assert code == 0
    assert load_results(tmp_path / "m").metrics == load_results(root / "good").metrics
    shards = []
    for i in range(2):
        shards.append(str(tmp_path / f"r{i}"))
        assert main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--shard", f"{i}/2",
                     "--out", shards[-1], "--workers", "0", "--no-progress", "--no-skeleton-cache",
                     "--dataset", "toy", "--method", "good", "--metrics", "fm", "wfm", "mae", "sm", "em",
                     "hce"]) == 0
    assert main(["eval", "--merge", *shards, "--out", str(tmp_path / "m2")]) == 0
    assert load_results(tmp_path / "m2").metrics == load_results(root / "good").metrics
    capsys.readouterr()
    assert main(["table", str(root / "good"), str(root / "bad" / "results.json"), "--digits", "4"]) == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["dataset", "method", "n"] and len(lines) == 4
    assert "HCE" in lines[0]


def test_plot_writes_png_and_pdf(evaluated, tmp_path, capsys):
    root, _ = evaluated
    code = main(["plot", str(root / "good"), str(root / "bad"), "--out", str(tmp_path / "fig")])
    assert code == 0
    for kind in ("pr", "fm", "em"):
        for ext in ("png", "pdf"):
            f = tmp_path / "fig" / f"toy_{kind}.{ext}"
            assert f.exists() and f.stat().st_size > 1000
    png = (tmp_path / "fig" / "toy_pr.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_curves_is_a_clear_error(data, tmp_path, capsys):
    evaluate_folder(data["good"], data["gt"], metrics=("mae",), out_dir=tmp_path / "r", workers=0, progress=False)
    code = main(["plot", str(tmp_path / "r"), "--out", str(tmp_path / "fig")])
    err = capsys.readouterr().err
    assert code == 2 and "has no fm.precision, fm.recall curve(s)" in err and "--metrics fm" in err
    code = main(["plot", str(tmp_path / "r"), "--out", str(tmp_path / "fig"), "--kinds", "miou"])
    err = capsys.readouterr().err  # there is no `--metrics miou`: the curve comes from interactive results
    assert code == 2 and "has no miou curve: mIoU-vs-clicks curves come from interactive results" in err


def test_stats_table_and_csv(data, tmp_path, capsys):
    code = main(["stats", "--gt", str(data["gt"]), "--out", str(tmp_path / "s.csv"), "--json", str(tmp_path / "s.json"),
                 "--workers", "2", "--no-progress", "--format", "markdown"])
    out = capsys.readouterr().out
    assert code == 0 and "| dataset | n | H | W | D | IPQ | Cnum | Pnum |" in out
    from segmetrics import object_complexity, read_map

    rows = (tmp_path / "s.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + len(NAMES)
    first = object_complexity(read_map(data["gt"] / "im0.png"))
    assert rows[1].split(",")[:7] == ["im0", str(first.height), str(first.width), repr(first.diagonal),
                                      repr(first.ipq), str(first.cnum), str(first.pnum)]
    # labelled as `eval` labels it: <dataset>/gt is <dataset>
    summary = json.loads((tmp_path / "s.json").read_text())[data["gt"].parent.name]
    assert main(["stats", "--gt", str(data["gt"]), str(data["gt"]), "--no-progress", "--workers", "0"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()[2:]
    assert len(rows) == 2 and rows[0].split()[0].endswith("/gt")
    heights = [48, 40, 33, 48, 40, 36]
    assert summary["height"]["mean"] == pytest.approx(np.mean(heights))
    assert summary["height"]["std"] == pytest.approx(np.std(heights))


def test_hce_picture_and_eval_pictures(data, tmp_path, capsys):
    out = tmp_path / "pic.png"
    code = main(["hce-picture", "--pred", str(data["bad"] / "im0.png"), "--gt", str(data["gt"] / "im0.png"),
                 "--out", str(out)])
    msg = capsys.readouterr().out
    assert code == 0 and out.stat().st_size > 5000 and msg.startswith("HCE = ")
    from segmetrics import hce, read_map

    ref = hce(read_map(data["bad"] / "im0.png"), read_map(data["gt"] / "im0.png"))
    assert msg.startswith(f"HCE = {ref.total} ")
    code = main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(tmp_path / "e"),
                 "--workers", "0", "--no-progress", "--metrics", "hce", "--hce-pictures", str(tmp_path / "pics"),
                 "--hce-pictures-top", "2"])
    assert code == 0 and len(list((tmp_path / "pics").glob("*_hce.png"))) == 2


def test_usage_errors_and_module_entry_point(data, capsys):
    with pytest.raises(SystemExit) as e:
        main(["eval", "--pred", str(data["good"])])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--merge", "x"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--shard", "1of2"])
    assert e.value.code == 2
    assert main(["eval", "--pred", "/nonexistent/pred", "--gt", str(data["gt"]), "--no-progress"]) == 2
    assert "--pred must be an existing folder" in capsys.readouterr().err  # the flag, not `pred_dir` (item 8)
    proc = subprocess.run([sys.executable, "-m", "segmetrics", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("segmetrics ")
    code = (
        "import sys, segmetrics; segmetrics.evaluate_folder; segmetrics.draw_hce; segmetrics.plot_curves; "
        "print(sorted(m for m in ('cv2', 'matplotlib', 'torch', 'tqdm') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]"  # the lazy exports import nothing heavy


def test_python_plot_and_picture_api(evaluated, data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from segmetrics import draw_hce, hce_details, plot_curves, read_map

    root, _ = evaluated
    fig, ax = plot_curves([root / "good", root / "bad"], "em")
    assert [ln.get_label().split(" ")[0] for ln in ax.get_lines()] == ["good", "bad"]
    assert len(ax.get_lines()[0].get_xdata()) == 256
    plt.close(fig)
    with pytest.raises(ValueError, match="`kind` must be one of"):
        plot_curves([root / "good"], "roc")
    p, g = read_map(data["bad"] / "im1.png"), read_map(data["gt"] / "im1.png")
    d = hce_details(p, g)
    fig, axes, d2 = draw_hce(p, g, details=d, crop=True)
    assert d2 is d and len(axes) == 4 and f"HCE = {d.total} " in fig._suptitle.get_text()
    plt.close(fig)


def test_table_preset_names_the_columns_the_results_lack(evaluated, capsys):
    # `table --preset dis` on results without mBA / boundary IoU used to drop those columns silently.
    root, _ = evaluated
    capsys.readouterr()
    assert main(["table", str(root / "good"), "--preset", "dis"]) == 0
    out, err = capsys.readouterr()
    assert "HCE" in out.splitlines()[0] and "mBA" not in out
    assert ("warning: the results hold no mba biou.max biou.mean: the table lacks 3 of the 13 columns of "
            "--preset dis (evaluate with `segmetrics eval --preset dis` to compute them)") in err
    assert main(["table", str(root / "good"), "--preset", "sod"]) == 0  # every sod column is there: no warning
    assert "warning" not in capsys.readouterr().err


def test_table_into_a_closed_pipe_is_quiet(evaluated):
    # `segmetrics table out | head -1` used to end with "error: [Errno 32] Broken pipe" and exit code 2.
    import os

    root, _ = evaluated
    r, w = os.pipe()
    os.close(r)  # the reader is gone before the table is written
    try:
        proc = subprocess.run([sys.executable, "-m", "segmetrics", "table", str(root / "good")], stdout=w,
                              stderr=subprocess.PIPE, text=True)
    finally:
        os.close(w)
    assert proc.returncode == 0 and proc.stderr == ""


def test_ccm_without_images_names_the_flag_once(data, capsys):
    # Was "pass --image-dir (command line: --image-dir)".
    assert main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--metrics", "ccm",
                 "--workers", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.strip().endswith("metric(s) ['ccm'] need the RGB images: pass --image-dir")


def test_plot_table_and_picture_name_the_bad_file_and_flag(data, tmp_path, capsys):
    from segmetrics.interactive import InteractiveEvaluator

    gt = np.zeros((32, 32), bool)
    gt[8:24, 8:24] = True
    res = tmp_path / "res"
    InteractiveEvaluator(max_clicks=3).evaluate(lambda image, clicks: gt, [("sq", None, gt)]).save(res, plot=False)
    (tmp_path / "noise.png").write_bytes(b"\x89PNG garbage")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "cut.json").write_text('{"schema": "segmetrics.results/1", "dataset": "d"}')
    pic = ["hce-picture", "--pred", str(data["bad"] / "im0.png"), "--gt", str(data["gt"] / "im0.png"), "--out"]
    cases = [
        (["table", str(tmp_path / "noise.png")], r"noise.png is not a segmetrics results file \(not JSON text"),
        (["table", str(tmp_path)], r"error: no results file .*results.json: give a results.json file or the folder"),
        (["plot", str(tmp_path / "nope.json"), "--out", str(tmp_path / "f")], r"no results file .*nope.json: give"),
        (["plot", str(tmp_path / "list.json"), "--out", str(tmp_path / "f")], r"list.json is not a segmetrics results"),
        (["table", str(tmp_path / "cut.json")], r"cut.json is a damaged segmetrics results file \(no 'method' entry\)"),
        (["plot", str(res), "--out", str(tmp_path / "f"), "--formats", "xyz"],
         r"--formats must name a file format matplotlib writes \(.*png.*\); got 'xyz'"),
        (["plot", str(res), "--out", str(tmp_path / "noise.png")], r"--out must be a folder; got .*an existing file"),
        ([*pic, str(tmp_path / "pic.xyz")], r"--out must name a file format matplotlib writes .*; got '.*pic.xyz'"),
        ([*pic, str(tmp_path)], r"--out must be an image file to write; got .*, an existing folder"),
    ]
    for argv, match in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and re.search(match, err), (argv, err)
    assert not (tmp_path / "f").exists() and not list(tmp_path.glob("pic*"))


def test_stats_workers_json_folder_and_empty_masks(data, tmp_path, capsys):
    import cv2

    assert main(["stats", "--gt", str(data["gt"]), "--workers", "-3", "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == "segmetrics stats: error: --workers must be an integer >= 0; got -3"
    # --epsilon 1e30 passed the check and crashed in cv2.approxPolyDP with a traceback ("Epsilon not valid")
    assert main(["stats", "--gt", str(data["gt"]), "--epsilon", "1e30", "--workers", "0", "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == (
        "segmetrics stats: error: --epsilon must be < 1e30 (OpenCV's approxPolyDP limit); got 1e+30")
    gt = tmp_path / "gt"
    gt.mkdir()
    cv2.imwrite(str(gt / "coins.png"), np.where(data_coins() > 100, 255, 0).astype(np.uint8))
    cv2.imwrite(str(gt / "blank.png"), np.zeros((20, 30), np.uint8))
    code = main(["stats", "--gt", str(gt), "--workers", "0", "--no-progress",
                 "--json", str(tmp_path / "new" / "s.json")])
    err = capsys.readouterr().err
    name = tmp_path.name  # <tmp>/gt is labelled <tmp>, as `eval` names it
    assert code == 0 and json.loads((tmp_path / "new" / "s.json").read_text())[name]["count"]["mean"] == 2
    assert f"note: {name}: 1 of 2 masks hold no object (e.g. blank); they count in the means" in err


def data_coins():
    from skimage import data as skdata

    return skdata.coins()


def test_table_and_plot_warn_when_interactive_settings_differ(tmp_path, capsys):
    from segmetrics.interactive import InteractiveEvaluator

    gt = data_coins() > 100
    zeros = lambda image, clicks: np.zeros(gt.shape)  # noqa: E731
    for name, kw in (("a", {}), ("b", {}), ("c", {"protocol": "largest_region", "max_clicks": 3})):
        ev = InteractiveEvaluator(**{"max_clicks": 2, **kw}).evaluate(zeros, [("coins", None, gt)])
        ev.save(tmp_path / name, method=name, dataset="coins", plot=False)
    assert main(["table", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert capsys.readouterr().err == ""
    assert main(["table", str(tmp_path / "a"), str(tmp_path / "c")]) == 0
    want = ("warning: dataset coins: the interactive results were run with different settings (max_clicks: a 2, c 3; "
            "protocol: a 'ritm', c 'largest_region'); their NoC / NoF / mIoU do not compare")
    assert capsys.readouterr().err.strip() == want
    argv = ["plot", str(tmp_path / "a"), str(tmp_path / "c"), "--out", str(tmp_path / "f"), "--formats", "png"]
    assert main(argv) == 0
    assert capsys.readouterr().err.strip() == want and (tmp_path / "f" / "coins_miou.png").exists()


def test_help_texts_match_each_subcommand(capsys):
    # `table` only prints saved results: its --preset selects columns and computes nothing (README: exit codes)
    with pytest.raises(SystemExit):
        main(["table", "--help"])
    table_help = " ".join(capsys.readouterr().out.split())
    assert "computes their metrics" not in table_help and "shows those the results hold" in table_help
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "computes their metrics unless --metrics" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "130 interrupted" in " ".join(capsys.readouterr().out.split())


def test_stats_out_with_several_folders_of_the_same_name(data, tmp_path, capsys):
    # README: `segmetrics stats --gt DIS5K/DIS-VD/gt ...`; several `.../gt` folders are named by their parents
    # and each writes its own CSV (the name "A/gt" used to be taken as a path: "Invalid name", exit 2)
    import shutil

    for d in ("A", "B"):
        shutil.copytree(data["gt"], tmp_path / d / "gt")
    code = main(["stats", "--gt", str(tmp_path / "A" / "gt"), str(tmp_path / "B" / "gt"), "--out",
                 str(tmp_path / "s.csv"), "--workers", "0", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [line.split()[0] for line in out.strip().splitlines()[2:]] == ["A", "B"]  # as `eval` names them
    written = sorted(p.name for p in tmp_path.glob("s_*.csv"))
    assert written == ["s_0_A.csv", "s_1_B.csv"]
    assert len((tmp_path / "s_1_B.csv").read_text().strip().splitlines()) == 1 + len(NAMES)
    # two datasets of the same name (X/DIS-VD, Y/DIS-VD/gt) are told apart by their parents
    for d, leaf in (("X", "DIS-VD"), ("Y", "DIS-VD/gt")):
        shutil.copytree(data["gt"], tmp_path / d / leaf)
    code = main(["stats", "--gt", str(tmp_path / "X" / "DIS-VD"), str(tmp_path / "Y" / "DIS-VD" / "gt"),
                 "--workers", "0", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [line.split()[0] for line in out.strip().splitlines()[2:]] == ["X/DIS-VD", "DIS-VD/gt"]


def test_stats_and_eval_name_a_dataset_alike(data, capsys):
    from segmetrics.app.folder import default_names

    assert main(["stats", "--gt", str(data["gt"]), "--workers", "0", "--no-progress"]) == 0
    row = capsys.readouterr().out.strip().splitlines()[2]
    assert row.split()[0] == default_names(data["good"], data["gt"])[1] == data["gt"].parent.name


def test_a_skeleton_cache_that_is_a_file_is_refused_naming_the_flag(data, tmp_path, capsys):
    # it used to run without a cache, silently (every write failed and was ignored)
    f = tmp_path / "cache.txt"
    f.write_text("not a folder")
    code = main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--skeleton-cache", str(f),
                 "--workers", "0", "--no-progress", "--metrics", "hce"])
    err = capsys.readouterr().err
    assert code == 2 and "--skeleton-cache must be a folder (it is created if missing)" in err and "is a file" in err
    with pytest.raises(ValueError, match="`skeleton_cache` must be a folder"):
        evaluate_folder(data["good"], data["gt"], skeleton_cache=f, workers=0, progress=False)


def test_printing_options_name_their_flag_before_any_image_is_read(data, tmp_path, capsys):
    # README: "Error messages name the flag"; a bad --digits used to surface after the whole evaluation,
    # as the Python name `digits`
    for bad in (["--digits", "-1"], ["--hce-pictures-top", "-2"]):
        code = main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(tmp_path / "o"),
                     "--workers", "0", "--no-progress", "--no-skeleton-cache", "--metrics", "mae", *bad])
        assert code == 2
        assert capsys.readouterr().err.strip() == (
            f"segmetrics eval: error: {bad[0]} must be an integer >= 0; got {bad[1]}")
        assert not (tmp_path / "o").exists()
    main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(tmp_path / "o"),
          "--workers", "0", "--no-progress", "--metrics", "mae"])
    capsys.readouterr()
    assert main(["table", str(tmp_path / "o"), "--digits", "-1"]) == 2
    assert capsys.readouterr().err.strip() == "segmetrics table: error: --digits must be an integer >= 0; got -1"


def test_a_bad_config_setting_is_named_as_the_file_key_not_as_a_flag(data, tmp_path, capsys):
    # README: errors name what the user wrote; a value from eval.toml used to be reported as `--beta-sq`
    base = data["gt"].parent
    toml = tmp_path / "eval.toml"
    body = (f'\n[datasets]\ntoy = "{data["gt"].as_posix()}"\n[methods]\ngood = "{(base / "good").as_posix()}"\n')
    for setting, message in [("beta_sq = -2", "beta_sq in eval.toml must be finite and > 0; got -2"),
                             ("workers = -1", "workers in eval.toml must be an integer >= 0 (0 = in this process); "
                                              "got -1")]:
        toml.write_text(setting + body)
        assert main(["eval", "--config", str(toml), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
        assert capsys.readouterr().err.strip() == f"segmetrics eval: error: {message}"
    # a flag given on the command line is still named as the flag
    assert main(["eval", "--config", str(toml), "--out", str(tmp_path / "o"), "--no-progress", "--beta-sq", "-3"]) == 2
    assert capsys.readouterr().err.strip() == "segmetrics eval: error: --beta-sq must be finite and > 0; got -3.0"


@pytest.mark.skipif(sys.platform != "linux", reason="file names that are not UTF-8 need a Linux file system")
def test_file_and_folder_names_that_are_not_utf8(data, tmp_path):
    # A file name that is not UTF-8 (bytes from another locale, shown by Python as a lone surrogate) ended the
    # whole run with "'utf-8' codec can't encode character '\udcff'" (exit 2) when its CSV row was written.
    import os
    import shutil

    gt, pred = tmp_path / "gt", tmp_path / os.fsdecode(b"m\xe9thode")
    gt.mkdir()
    pred.mkdir()
    for src, name in (("im0", os.fsdecode(b"caf\xe9")), ("im1", "b")):
        shutil.copyfile(data["gt"] / f"{src}.png", gt / f"{name}.png")
        shutil.copyfile(data["good"] / f"{src}.png", pred / f"{name}.png")
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONIOENCODING", None)
    run = subprocess.run([sys.executable, "-m", "segmetrics", "eval", "--pred", str(pred), "--gt", str(gt),
                          "--out", str(tmp_path / "out"), "--metrics", "mae", "--workers", "0", "--no-progress"],
                         capture_output=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    rows = (tmp_path / "out" / "per_image.csv").read_text(encoding="utf-8").splitlines()  # valid UTF-8
    assert [r.split(",")[0] for r in rows[1:]] == ["b", "caf\\xe9"]
    assert b" m\xe9thode " in run.stdout  # the method (folder) name in the table, as its bytes
    run = subprocess.run([sys.executable, "-m", "segmetrics", "stats", "--gt", str(gt), "--out",
                          str(tmp_path / "s.csv"), "--workers", "0", "--no-progress"], capture_output=True, env=env)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    assert "caf\\xe9," in (tmp_path / "s.csv").read_text(encoding="utf-8")


def test_stats_out_or_json_naming_a_folder_is_refused_naming_the_flag(data, tmp_path, capsys):
    # `stats --out DIR` / `--json DIR` computed every measure, then failed with "[Errno 21] Is a directory: 'DIR'"
    # naming no flag; it is now refused first, naming the flag and what it wants.
    folder = tmp_path / "d"
    folder.mkdir()
    for flag in ("--out", "--json"):
        assert main(["stats", "--gt", str(data["gt"]), flag, str(folder), "--no-progress", "--workers", "0"]) == 2
        err = capsys.readouterr().err
        assert f"{flag} {str(folder)!r} is a folder; give a file name" in err and "Errno" not in err
        # a path under a file: '[Errno 17] File exists', after every measure was computed
        under = str(data["gt"] / "im0.png" / "s.csv")
        assert main(["stats", "--gt", str(data["gt"]), flag, under, "--no-progress", "--workers", "0"]) == 2
        err = capsys.readouterr().err
        assert f"{flag} {under!r}: its folder cannot be created" in err and "Errno" not in err


def test_stats_latex_and_markdown_escape_the_dataset_name(data, tmp_path, capsys):
    # stats escaped only '_' in LaTeX (a dataset folder 'HR&U' broke the table) and nothing in Markdown.
    import shutil

    gt = tmp_path / "HR&U_1|2"
    shutil.copytree(data["gt"], gt)
    assert main(["stats", "--gt", str(gt), "--format", "latex", "--no-progress", "--workers", "0"]) == 0
    assert r"HR\&U\_1|2 & 6 & " in capsys.readouterr().out
    assert main(["stats", "--gt", str(gt), "--format", "markdown", "--no-progress", "--workers", "0"]) == 0
    assert r"| HR&U_1\|2 | 6 | " in capsys.readouterr().out


def test_flags_that_a_mode_does_not_use_are_refused(data, tmp_path, capsys):
    # `eval --config FILE --shard 0/2` evaluated every pair (no shard) and `--merge A B --metrics mae --beta-sq 1`
    # merged with the shards' own settings, both without a word: flags that the mode does not use are refused.
    cfg = tmp_path / "eval.toml"
    cfg.write_text(f'[datasets]\ntoy = "{data["gt"].as_posix()}"\n[methods]\ngood = "{data["good"].as_posix()}"\n')
    merge = ["--merge", str(tmp_path / "r0"), "--metrics", "mae", "--beta-sq", "1"]
    for args, named in ((["--config", str(cfg), "--shard", "0/2", "--suffix", "_x"], "--suffix, --shard"),
                        (merge, "--metrics, --beta-sq")):
        with pytest.raises(SystemExit) as e:
            main(["eval", *args, "--out", str(tmp_path / "o"), "--no-progress"])
        mode = args[0]
        assert e.value.code == 2 and f"{named}: not used with {mode}" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_table_and_plot_warn_when_one_datasets_results_used_other_settings(data, tmp_path, capsys):
    # `segmetrics table` printed maxF of a method evaluated with --beta-sq 1 next to maxF of one with the default
    # 0.3 (or pred-to-gt resizing next to none) as if they compared; only interactive results were checked.
    kw = {"workers": 0, "progress": False, "skeleton_cache": False, "dataset": "toy"}
    evaluate_folder(data["good"], data["gt"], out_dir=tmp_path / "a", metrics=("fm", "mae"), method="a", **kw)
    evaluate_folder(data["bad"], data["gt"], out_dir=tmp_path / "b", metrics=("fm", "mae"), method="b", beta_sq=1.0,
                    resize="pred-to-gt", **kw)
    evaluate_folder(data["bad"], data["gt"], out_dir=tmp_path / "c", metrics=("mae",), method="c", beta_sq=1.0, **kw)
    assert main(["table", str(tmp_path / "a"), str(tmp_path / "c")]) == 0  # beta_sq: no column of both uses it
    assert capsys.readouterr().err == ""
    want = ("warning: dataset toy: the results were computed with different settings (beta_sq: a 0.3, b 1.0; "
            "resize: a 'error', b 'pred-to-gt'); their numbers do not compare")
    assert main(["table", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert capsys.readouterr().err.strip() == want
    plot = ["plot", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "f"), "--formats", "png"]
    assert main(plot) == 0
    assert capsys.readouterr().err.strip() == want


def test_warnings_are_one_line_without_source_paths(tmp_path, capsys):
    # The CLI printed library warnings in Python's format: '/path/to/segmetrics/app/cli.py:326: UserWarning: ...'
    # followed by the source line '  evaluate_folder(' — a path of the install and code, not a message.
    import cv2

    for d in ("gt", "pred"):
        (tmp_path / d).mkdir()
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 1  # a 0/1 label map: warned about
    cv2.imwrite(str(tmp_path / "gt" / "a.png"), mask)
    cv2.imwrite(str(tmp_path / "pred" / "a.png"), mask * 255)
    assert main(["eval", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--out", str(tmp_path / "o"),
                 "--metrics", "mae", "--workers", "0", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "segmetrics eval: warning: the ground truth a.png is not blank" in err
    assert "UserWarning" not in err and ".py:" not in err and "evaluate_folder(" not in err


def test_an_unusable_hce_pictures_folder_is_refused_before_the_evaluation(data, tmp_path, capsys):
    # --hce-pictures naming a file was found after the whole evaluation ('[Errno 17] File exists', exit 2).
    bad = data["gt"] / "im0.png"
    assert main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(tmp_path / "o"),
                 "--workers", "0", "--no-progress", "--metrics", "hce", "--hce-pictures", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"--hce-pictures {str(bad)!r} is a file, not a folder" in err and not (tmp_path / "o").exists()


def test_hce_pictures_draw_the_maps_that_were_evaluated(data, tmp_path, monkeypatch):
    # --hce-pictures re-read the files as grey at their own size: with --resize pred-to-gt a prediction of another
    # size ended the finished run with a shape error (exit 2), and with --color first the pictures showed
    # other maps (other HCE counts) than the table's.
    import csv
    import shutil

    import cv2

    import segmetrics.app.hce_picture as hp

    pred = tmp_path / "pred"
    shutil.copytree(data["good"], pred)
    im1 = cv2.imread(str(pred / "im1.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(pred / "im1.png"), cv2.resize(im1, (im1.shape[1] + 7, im1.shape[0] - 5)))
    im0 = cv2.imread(str(pred / "im0.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(pred / "im0.png"), np.dstack([im0, 255 - im0, im0 // 2]))  # colour: red != grey
    drawn = {}
    real = hp.save_hce_picture

    def spy(p, g, out, **kw):
        details = real(p, g, out, **kw)
        drawn[Path(out).name.split("_")[-2]] = details.total
        return details

    monkeypatch.setattr(hp, "save_hce_picture", spy)
    code = main(["eval", "--pred", str(pred), "--gt", str(data["gt"]), "--out", str(tmp_path / "o"), "--workers", "0",
                 "--no-progress", "--no-skeleton-cache", "--metrics", "hce", "--resize", "pred-to-gt", "--color",
                 "first", "--hce-pictures", str(tmp_path / "pics"), "--hce-pictures-top", "6"])
    assert code == 0
    with open(tmp_path / "o" / "per_image.csv") as f:
        table = {r["name"]: float(r["hce"]) for r in csv.DictReader(f)}
    assert drawn == table
