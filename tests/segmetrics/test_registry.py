"""The metric table: declarations are consistent, and every entry point reads every family and option.

The tests are parametrised over the registry, so a family or option registered later is covered
without editing them.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import segmetrics
from segmetrics import DatasetMetrics, compute_all, registry
from segmetrics.app import cli, config
from segmetrics.app.folder import evaluate_folder
from segmetrics.registry import FAMILIES, OPTIONS, MetricOptions, Option, Scalar
from tests.segmetrics.cases import make_case

ALL_FAMILY_KEYS = list(FAMILIES)
#: the families computed from the maps alone (those that read the RGB image are tested in test_added_families)
FAMILY_KEYS = [k for k in FAMILIES if "image" not in FAMILIES[k].needs_for(registry.MetricOptions.default())]
OPTION_NAMES = list(OPTIONS)


def _alternative(opt: Option):
    """A valid value other than the default."""
    d = opt.default
    if isinstance(d, bool):
        return not d
    if opt.choices:
        return next(c for c in opt.choices if c != d)
    if isinstance(d, int):
        return d + 1
    if isinstance(d, float):
        return d / 2
    if isinstance(d, tuple):
        return (2,)
    raise AssertionError(f"no alternative value for option {opt.name}")


def _bad(opt: Option):
    """An invalid value, and the exception type it must raise."""
    d = opt.default
    if isinstance(d, bool):
        return 1, TypeError
    if opt.choices:
        return "nope", ValueError
    if isinstance(d, (int, float)):
        return -1, ValueError
    if isinstance(d, tuple):
        return (1.5,), ValueError
    raise AssertionError(f"no bad value for option {opt.name}")


def _cli_args(opt: Option, value) -> list[str]:
    if isinstance(value, bool):
        return [opt.flag if value else "--no-" + opt.flag[2:]]
    if isinstance(value, tuple):
        return [opt.flag, *map(str, value)]
    return [opt.flag, str(value)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("reg")
    for d in ("pred", "gt"):
        (root / d).mkdir()
    for i, name in enumerate(("mixed_96x80", "tree_3px")):
        pred, gt = make_case(name)
        cv2.imwrite(str(root / "pred" / f"im{i}.png"), pred)
        cv2.imwrite(str(root / "gt" / f"im{i}.png"), np.where(gt > 128, 255, 0).astype(np.uint8))
    return root


# ----------------------------------------------------------------------------------- declarations


def test_keys_are_unique_and_dotted_under_their_family():
    seen: dict[str, str] = {}
    for key, fam in FAMILIES.items():
        assert fam.key == key
        keys = [s.key for s in fam.scalars_for()] + [c.key for c in fam.curves]
        for k in keys:
            assert k not in seen, f"{k} of {key} already used by {seen.get(k)}"
            assert k == key or k.startswith(key + "."), k
            seen[k] = key
        for c in fam.curves:
            assert c.key.endswith(".curve") or c.attr, c


@pytest.mark.parametrize("name", OPTION_NAMES)
def test_every_option_has_a_default_its_validator_accepts_and_a_help(name):
    opt = OPTIONS[name]
    assert opt.check(opt.default, name) == opt.default
    assert opt.help and opt.flag == "--" + name.replace("_", "-")
    alt = _alternative(opt)
    assert opt.check(alt, name) == alt


@pytest.mark.parametrize("name", OPTION_NAMES)
def test_every_validator_names_the_option_the_expectation_and_the_value(name):
    opt = OPTIONS[name]
    bad, exc = _bad(opt)
    with pytest.raises(exc, match=rf"^`{name}` must .*; got") as info:
        opt.check(bad, name)
    assert repr(bad) in str(info.value) or type(bad).__name__ in str(info.value)


@pytest.mark.parametrize("key", ALL_FAMILY_KEYS)
def test_every_family_declares_known_options_labels_and_reductions(key):
    fam = FAMILIES[key]
    assert fam.title and callable(fam.compute)
    assert set(fam.options) <= set(OPTIONS)
    curves = {c.key for c in fam.curves}
    for s in fam.scalars_for():
        assert callable(s.dataset) or s.dataset in ("mean", "curve_max", "curve_mean"), s
        if s.dataset in ("curve_max", "curve_mean"):
            assert s.curve in curves, s
        assert s.per_image or s.dataset != "mean", s
        assert s.column is None or s.label, s


def test_registering_a_taken_key_or_an_unknown_option_is_refused():
    fam = FAMILIES["mae"]
    with pytest.raises(ValueError, match="metric family 'mae' is already registered"):
        registry.register_family(fam)
    clash = registry.Family("mae2", "clash", lambda ctx: 0.0, (Scalar("fm.adp"),))
    with pytest.raises(ValueError, match=r"key 'fm.adp' of metric family 'mae2' is already used \(by 'fm'\)"):
        registry.register_family(clash)
    unknown = registry.Family("mae3", "x", lambda ctx: 0.0, (Scalar("mae3"),), options=("nope",))
    with pytest.raises(ValueError, match=r"metric family 'mae3' reads unregistered option\(s\) \['nope'\]"):
        registry.register_family(unknown)
    with pytest.raises(ValueError, match="`option` name 'alpha' is already registered or reserved"):
        registry.register_option(OPTIONS["alpha"])
    assert "mae2" not in FAMILIES and "mae3" not in FAMILIES


# ----------------------------------------------------------------------------------- entry points


def test_compute_all_and_dataset_metrics_compute_every_family():
    pred, gt = make_case("mixed_96x80")
    r = compute_all(pred, gt, metrics=FAMILY_KEYS)
    acc = DatasetMetrics(metrics=FAMILY_KEYS, per_image=True)
    acc.update(pred, gt)
    row = acc.per_image_table()[0]
    assert set(r.scalars()) == set(registry.scalar_keys(FAMILY_KEYS)) == set(row)
    assert set(r.curves()) == set(registry.curve_keys(FAMILY_KEYS))
    res = acc.results()
    for s in registry.scalars_of(FAMILY_KEYS):
        assert s.key in res
        if s.per_image and s.dataset == "mean":
            assert res[s.key] == pytest.approx(row[s.key], nan_ok=True)
    nested = acc.compute()
    assert set(nested) == {"n_images", *FAMILY_KEYS}


@pytest.mark.parametrize("name", OPTION_NAMES)
def test_compute_all_and_dataset_metrics_accept_every_option(name):
    opt = OPTIONS[name]
    alt = _alternative(opt)
    pred, gt = make_case("mixed_96x80")
    r = compute_all(pred, gt, metrics=FAMILY_KEYS, **{name: alt})
    assert getattr(r.options, name) == alt
    acc = DatasetMetrics(metrics=FAMILY_KEYS, **{name: alt})
    assert getattr(acc.options, name) == alt
    bad, exc = _bad(opt)
    with pytest.raises(exc, match=f"`{name}`"):
        compute_all(pred, gt, metrics=("mae",), **{name: bad})
    with pytest.raises(exc, match=f"`{name}`"):
        DatasetMetrics(**{name: bad})


@pytest.mark.parametrize("name", OPTION_NAMES)
def test_evaluate_folder_accepts_every_option_and_records_it(folder, name):
    alt = _alternative(OPTIONS[name])
    res = evaluate_folder(folder / "pred", folder / "gt", metrics=FAMILY_KEYS, workers=0, progress=False,
                          skeleton_cache=False, **{name: alt})
    assert res.ok and res.num_images == 2
    stored = res.settings[name]
    assert (tuple(stored) if isinstance(stored, list) else stored) == alt
    expected = compute_all(segmetrics.read_map(folder / "pred" / "im0.png"),
                           segmetrics.read_map(folder / "gt" / "im0.png"), metrics=FAMILY_KEYS, **{name: alt})
    for k, v in expected.scalars().items():
        np.testing.assert_equal(res.per_image["im0"][k], float(v))


@pytest.mark.parametrize("name", OPTION_NAMES)
def test_evaluate_folder_validates_every_option_before_reading_anything(tmp_path, name):
    bad, exc = _bad(OPTIONS[name])
    with pytest.raises(exc, match=f"`{name}`"):  # the folders do not exist: validation comes first
        evaluate_folder(tmp_path / "nowhere", tmp_path / "nothing", out_dir=tmp_path / "out", **{name: bad})
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", OPTION_NAMES)
def test_config_and_cli_accept_every_option(folder, tmp_path, name):
    opt = OPTIONS[name]
    alt = _alternative(opt)
    assert name in config.settings_keys()
    value = list(alt) if isinstance(alt, tuple) else alt
    plan = config.load_config({"datasets": {"d": str(folder / "gt")}, "methods": {"m": str(folder / "pred")},
                               name: value})
    assert plan.settings[name] == value
    a = cli._parser().parse_args(["eval", "--pred", "P", "--gt", "G", *_cli_args(opt, alt)])
    assert cli._eval_kwargs(a)[name] == alt


def test_cli_and_config_runs_carry_the_options_into_the_results(folder, tmp_path, capsys):
    args = ["eval", "--pred", str(folder / "pred"), "--gt", str(folder / "gt"), "--out", str(tmp_path / "a"),
            "--workers", "0", "--no-progress", "--no-skeleton-cache", "--metrics", "fm", "sm", "bf",
            "--beta-sq", "1", "--alpha", "0.25", "--sm-compat", "matlab", "--bf-tolerances", "2", "4", "--no-normalize"]
    assert cli.main(args) == 0
    saved = json.loads((tmp_path / "a" / "results.json").read_text())
    assert saved["settings"]["beta_sq"] == 1.0 and saved["settings"]["alpha"] == 0.25
    assert saved["settings"]["normalize"] is False and saved["settings"]["bf_tolerances"] == [2, 4]
    assert {"bf.f2", "bf.f4"} <= set(saved["metrics"])
    cfg = tmp_path / "eval.toml"
    cfg.write_text(f'out = "{tmp_path / "b"}"\nmetrics = ["wfm", "em"]\nwfm_beta = 2.0\nem_compat = "matlab"\n'
                   f'[datasets]\nd = "{folder / "gt"}"\n[methods]\nm = "{folder / "pred"}"\n')
    assert cli.main(["eval", "--config", str(cfg), "--workers", "0", "--no-progress"]) == 0
    saved = json.loads((tmp_path / "b" / "d" / "m" / "results.json").read_text())
    assert saved["settings"]["wfm_beta"] == 2.0 and saved["settings"]["em_compat"] == "matlab"
    capsys.readouterr()


# ----------------------------------------------------------------------------------- hce_gamma (issue 13)


def test_hce_gamma_is_validated_not_cast_in_the_folder_path(folder, tmp_path):
    with pytest.raises(TypeError, match=r"`hce_gamma` must be an integer >= 0; got float 2.7"):
        evaluate_folder(folder / "pred", folder / "gt", hce_gamma=2.7, workers=0, progress=False)
    with pytest.raises(ValueError, match=r"`hce_gamma` must be an integer >= 0; got -1"):
        evaluate_folder(folder / "pred", folder / "gt", hce_gamma=-1, workers=0, progress=False)


def test_bad_hce_gamma_is_a_usage_error_on_the_command_line(folder, tmp_path, capsys):
    base = ["eval", "--pred", str(folder / "pred"), "--gt", str(folder / "gt"), "--out", str(tmp_path / "o"),
            "--workers", "0", "--no-progress"]
    assert cli.main([*base, "--hce-gamma", "-1"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--hce-gamma must be an integer >= 0; got -1" in err and "error: im" not in err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as info:  # not an integer: argparse's usage error
        cli.main([*base, "--hce-gamma", "2.7"])
    assert info.value.code == cli.EXIT_USAGE and "invalid int value: '2.7'" in capsys.readouterr().err
    cfg = tmp_path / "eval.json"
    cfg.write_text(json.dumps({"hce_gamma": 2.7, "datasets": {"d": str(folder / "gt")},
                               "methods": {"m": str(folder / "pred")}, "out": str(tmp_path / "c")}))
    assert cli.main(["eval", "--config", str(cfg), "--workers", "0", "--no-progress"]) == cli.EXIT_USAGE
    assert "hce_gamma in eval.json must be an integer >= 0; got float 2.7" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- the recipe


@pytest.fixture
def restore_registry():
    fams, opts, keys = dict(FAMILIES), dict(OPTIONS), dict(registry._KEYS)
    yield
    for d, saved in ((FAMILIES, fams), (OPTIONS, opts), (registry._KEYS, keys)):
        d.clear()
        d.update(saved)
    MetricOptions._default = None


def test_the_docstring_recipe_adds_a_family_everywhere_in_one_registration(folder, tmp_path, restore_registry,
                                                                           capsys):
    from segmetrics._inputs import check_positive
    from segmetrics.registry import Family, register_family, register_option

    register_option(Option("sqerr_scale", 1.0, check_positive, "scale of the squared error"))

    def _sqerr(ctx):
        p = ctx.normalized()
        return float(((p - ctx.gt) ** 2).mean()) * ctx.options.sqerr_scale

    register_family(Family(
        key="sqerr", title="squared error", compute=_sqerr,
        scalars=(Scalar("sqerr", label="SqE", latex="SqE", higher_is_better=False, column=30),),
        options=("normalize", "sqerr_scale"),
    ))
    pred, gt = make_case("mixed_96x80")
    p01 = pred / 255.0
    p01 = (p01 - p01.min()) / (p01.max() - p01.min())
    want = float(((p01 - (gt > 128)) ** 2).mean())
    assert compute_all(pred, gt, metrics=("sqerr",)).sqerr == pytest.approx(want, rel=1e-12)
    assert compute_all(pred, gt, metrics=("sqerr",), sqerr_scale=2.0).sqerr == pytest.approx(2 * want, rel=1e-12)
    acc = DatasetMetrics(metrics=("sqerr", "mae"))
    acc.update(pred, gt)
    assert acc.compute()["sqerr"] == pytest.approx(want, rel=1e-12)
    out = tmp_path / "o"
    assert cli.main(["eval", "--pred", str(folder / "pred"), "--gt", str(folder / "gt"), "--out", str(out),
                     "--workers", "0", "--no-progress", "--metrics", "sqerr", "--sqerr-scale", "3"]) == 0
    printed = capsys.readouterr().out
    assert "SqE ↓" in printed
    header = (out / "per_image.csv").read_text().splitlines()[0]
    assert header.endswith(",sqerr")
    assert json.loads((out / "results.json").read_text())["settings"]["sqerr_scale"] == 3.0
    assert "sqerr_scale" in config.settings_keys()


# The single-metric functions name some options differently (their own module says which metric);
# their defaults must be the metric table's.
_FUNCTION_PARAMETERS = {
    "normalize": [("fmeasure", "normalize"), ("emeasure", "normalize"), ("smeasure", "normalize"),
                  ("weighted_fmeasure", "normalize"), ("mae", "normalize"), ("region_overlap", "normalize"),
                  ("boundary_fscore", "normalize")],
    "beta_sq": [("fmeasure", "beta_sq")],
    "alpha": [("smeasure", "alpha")],
    "wfm_beta": [("weighted_fmeasure", "beta")],
    "em_compat": [("emeasure", "compat")],
    "sm_compat": [("smeasure", "compat")],
    "avoid_nan": [("smeasure", "avoid_nan")],
    "hce_gamma": [("hce", "gamma"), ("hce_details", "gamma")],
    "hce_epsilon": [("hce", "epsilon"), ("hce_details", "epsilon")],
    "hce_threshold": [("hce", "threshold"), ("hce_details", "threshold")],
    "hce_iterations": [("hce", "iterations"), ("hce_details", "iterations")],
    "threshold": [("region_overlap", "threshold"), ("boundary_fscore", "threshold")],
    "bf_tolerances": [("boundary_fscore", "tolerances")],
    "cm_compat": [("context_measure", "compat"), ("camouflage_context_measure", "compat")],
}


@pytest.mark.parametrize("name", sorted(_FUNCTION_PARAMETERS))
def test_single_metric_functions_default_to_the_metric_table(name):
    import inspect

    for func, param in _FUNCTION_PARAMETERS[name]:
        default = inspect.signature(getattr(segmetrics, func)).parameters[param].default
        assert default == OPTIONS[name].default, (func, param)


@pytest.mark.parametrize("name", FAMILIES["hce"].options)
def test_hce_picture_takes_every_hce_option_without_the_prefix(name):
    opt = OPTIONS[name]
    short = name.removeprefix("hce_")
    alt = _alternative(opt)
    a = cli._parser().parse_args(["hce-picture", "--pred", "p", "--gt", "g", "--out", "o",
                                  "--" + short.replace("_", "-"), str(alt)])
    assert getattr(a, short) == alt
    assert getattr(cli._parser().parse_args(["hce-picture", "--pred", "p", "--gt", "g", "--out", "o"]),
                   short) == opt.default


def test_metrics_given_as_bytes_or_non_strings_is_a_type_error():
    # was: b"fm" was read as the integers 102, 109 ("got 102"); a non-string name was a ValueError
    from segmetrics.registry import validate_metrics

    with pytest.raises(TypeError, match=r"^`metrics` must be a metric name or a sequence of them; got bytes b'fm'$"):
        validate_metrics(b"fm")
    with pytest.raises(TypeError, match=r"^`metrics` must hold metric names \(strings\); got int 3$"):
        validate_metrics(["fm", 3])
