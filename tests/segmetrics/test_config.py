"""segmetrics.app.config: parsing JSON / TOML plans, their errors, and evaluating every run of a plan."""

from __future__ import annotations

import json

import pytest

from segmetrics.app.config import evaluate_config, load_config, settings_keys
from segmetrics.registry import OPTIONS
from tests.segmetrics.folder_data import make_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("cfg"))


def test_settings_are_the_app_settings_and_every_metric_option():
    keys = settings_keys()
    assert {"metrics", "workers", "chunksize", "executor", "resize", "color", "skeleton_cache"} <= set(keys)
    assert set(OPTIONS) <= set(keys) and len(set(keys)) == len(keys)


def test_toml_and_json_give_the_same_plan_with_paths_relative_to_the_file(data, tmp_path):
    root = data["gt"].parent
    toml = root / "plan.toml"
    toml.write_text('out = "res"\nhce_gamma = 3\nbf_tolerances = [2]\nskeleton_cache = "cache"\n'
                    '[datasets]\nds = "gt"\n[methods]\ngood = "good"\n'
                    'bad = { pred = { ds = "bad" }, suffix = "" }\nnone = "missing/{dataset}"\n')
    js = root / "plan.json"
    js.write_text(json.dumps({"out": "res", "hce_gamma": 3, "bf_tolerances": [2], "skeleton_cache": "cache",
                              "datasets": {"ds": {"gt": "gt"}},
                              "methods": {"good": "good", "bad": {"pred": {"ds": "bad"}, "suffix": ""},
                                          "none": "missing/{dataset}"}}))
    a, b = load_config(toml), load_config(js)
    for plan in (a, b):
        assert plan.out_dir == root / "res"
        assert [(ds, m, p.name, g.name) for ds, m, p, g, _, _ in plan.runs] == [("ds", "good", "good", "gt"),
                                                                                 ("ds", "bad", "bad", "gt")]
        assert [(ds, m) for ds, m, _ in plan.skipped] == [("ds", "none")]
        assert plan.settings == {"hce_gamma": 3, "bf_tolerances": [2], "skeleton_cache": str(root / "cache")}


@pytest.mark.parametrize(
    ("config", "exc", "match"),
    [
        ({"datasets": {"d": "gt"}, "methods": {"m": "good"}, "gama": 3}, ValueError,
         r"config: unknown key\(s\) \['gama'\]"),
        ({"methods": {"m": "good"}}, ValueError, r"config: `datasets` must be a non-empty table of name = folder"),
        ({"datasets": {"d": "gt"}, "methods": {}}, ValueError, r"`methods` must be a non-empty table"),
        ({"datasets": {"d": 3}, "methods": {"m": "good"}}, ValueError, r"dataset 'd' must be a folder or a table"),
        ({"datasets": {"d": "nowhere"}, "methods": {"m": "good"}}, FileNotFoundError,
         r"GT folder of dataset 'd' does not exist"),
        ({"datasets": {"d": "gt"}, "methods": {"m": {"folder": "good"}}}, ValueError,
         r"method 'm' must be a folder template or a table with keys \('pred', 'prefix', 'suffix'\)"),
        ({"datasets": {"/elsewhere": "gt"}, "methods": {"m": "good"}}, ValueError,  # out / "/elsewhere" = /elsewhere
         r"dataset name '/elsewhere' is a folder name of the output \(out/<dataset>/<method>\)"),
        ({"datasets": {"d": "gt"}, "methods": {"..": "good"}}, ValueError, r"method name '\.\.' is a folder name"),
    ],
)
def test_malformed_plans_are_refused_with_what_is_wrong(data, config, exc, match):
    with pytest.raises(exc, match=match):
        load_config(config, base_dir=data["gt"].parent)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"`config` file '.*nope.toml' does not exist"):
        load_config(tmp_path / "nope.toml")
    (tmp_path / "plan.yaml").write_text("a: 1")
    with pytest.raises(ValueError, match=r"`config` must be a .json or .toml file; got 'plan.yaml'"):
        load_config(tmp_path / "plan.yaml")


def test_evaluate_config_runs_every_pair_with_overrides(data, tmp_path):
    cfg = {"datasets": {"ds": str(data["gt"])}, "methods": {"good": str(data["good"]), "bad": str(data["bad"])},
           "metrics": ["mae", "fm"], "beta_sq": 0.5}
    results, plan = evaluate_config(cfg, out_dir=tmp_path / "out", progress=False, workers=0, threshold=0.25)
    assert sorted(r.method for r in results) == ["bad", "good"] and not plan.skipped and not plan.failed
    for r in results:
        assert r.settings["beta_sq"] == 0.5 and r.settings["threshold"] == 0.25
        assert r.settings["metrics"] == ["mae", "fm"]
        assert (tmp_path / "out" / "ds" / r.method / "results.json").exists()
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['gama'\]"):
        evaluate_config(cfg, gama=3)


def test_image_metrics_need_images_for_every_dataset_before_any_run(data, tmp_path):
    # A dataset without `images` used to fail the whole configuration with "pass --image-dir", a flag that
    # --config refuses.
    cfg = {"datasets": {"with": {"gt": str(data["gt"]), "images": str(data["gt"])}, "without": str(data["gt"])},
           "methods": {"good": str(data["good"])}, "metrics": ["cm", "ccm"]}
    with pytest.raises(ValueError, match=r"metric\(s\) \['ccm'\] need the RGB images: give the dataset\(s\) "
                                         r"\['without'\] their images in the configuration \(\[datasets\] NAME = "):
        evaluate_config(cfg, out_dir=tmp_path / "out", progress=False, workers=0)
    assert not (tmp_path / "out").exists()  # refused before any run
    with pytest.raises(ValueError, match=r"`cm_alpha` must be <= 100"):  # options are checked first too
        evaluate_config({**cfg, "metrics": ["cm"], "cm_alpha": 500.0}, out_dir=tmp_path / "out", workers=0)
