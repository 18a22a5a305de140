"""The issue-12 families through the metric table: DatasetMetrics equals the family accumulators and
pysodmetrics' dataset values; the CLI computes and prints them, with the paper column presets."""

from __future__ import annotations

import warnings

import cv2
import numpy as np
import py_sod_metrics as psm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segmetrics import DatasetMetrics, compute_all
from segmetrics.app.cli import main
from segmetrics.boundary_iou import boundary_iou
from segmetrics.metric_table import PRESETS, preset_metrics
from segmetrics.multiscale_iou import msiou
from tests.segmetrics.cases import make_case
from tests.segmetrics.photo_cases import make_photo_case

_ADDED = ("confusion", "si", "msiou", "mse", "mba", "biou")
_PAIRS = [make_photo_case(n) for n in ("coins_shift", "camera_erode")] + [make_case("tree_3px")]


def test_dataset_metrics_match_pysod_and_the_family_functions():
    acc = DatasetMetrics(metrics=_ADDED, msiou_compat="pysod")
    for p, g in _PAIRS:
        acc.update(p, g)
    r = acc.compute()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm = psm.FmeasureV2({"iou": psm.IOUHandler(True, True, with_binary=True, sample_based=False),
                             "fmeasure": psm.FmeasureHandler(True, True, with_binary=True)})
        si = psm.SizeInvarianceFmeasureV2({"dice": psm.DICEHandler(True, True, with_binary=True)})
        ms = psm.MSIoU(True, True, with_binary=True)
        for p, g in _PAIRS:
            for m in (fm, si, ms):
                m.step(p, g)
    ref, ref_si, ref_ms = fm.get_results(), si.get_results(), ms.get_results()
    c = r["confusion"]
    assert c["iou_max"] == ref["iou"]["dynamic"].max()
    assert c["fmeasure_mean"] == pytest.approx(ref["fmeasure"]["dynamic"].mean(), abs=1e-12)
    assert c["iou_binary_dataset"] == pytest.approx(ref["iou"]["binary"], abs=1e-12)
    assert c["fmeasure_adaptive"] == pytest.approx(ref["fmeasure"]["adaptive"], abs=1e-12)
    assert r["si"]["dice_max"] == pytest.approx(np.mean([x.max(-1).mean() for x in ref_si["dice"]["dynamic"]]),
                                                abs=1e-12)
    assert r["si"]["dice_adaptive"] == pytest.approx(ref_si["dice"]["adaptive"], abs=1e-12)
    assert r["msiou"]["max"] == ref_ms["dynamic"].max()
    assert r["msiou"]["binary"] == pytest.approx(ref_ms["binary"], abs=1e-12)
    mean_biou = np.mean([boundary_iou(p, g).curve for p, g in _PAIRS], axis=0)
    assert r["biou"]["max"] == mean_biou.max()


def test_compute_all_values_equal_the_family_functions():
    pred, gt = _PAIRS[1]
    r = compute_all(pred, gt, metrics=_ADDED)
    assert r.msiou.max == msiou(pred, gt).max
    s = r.scalars()
    assert s["confusion.iou.bin"] == r.confusion["iou"].binary
    assert s["biou.max"] == boundary_iou(pred, gt).max
    assert {"mse", "mba", "si.mae", "msiou.adp", "confusion.auc_roc"} <= set(s)


def test_presets_name_known_columns():
    assert PRESETS["dis"][:6] == ("fm.max", "wfm", "mae", "sm", "em.mean", "hce")
    assert preset_metrics("dis") == ("fm", "wfm", "mae", "sm", "em", "hce", "mba", "biou")
    with pytest.raises(ValueError, match="`preset` must be one of"):
        preset_metrics("voc")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("fam")
    for d in ("pred", "gt"):
        (root / d).mkdir()
    for i, (p, g) in enumerate(_PAIRS[:3]):
        cv2.imwrite(str(root / "pred" / f"im{i}.png"), p)
        cv2.imwrite(str(root / "gt" / f"im{i}.png"), g)
    return root


def test_cli_metrics_subset_and_dis_preset(folder, tmp_path, capsys):
    base = ["eval", "--pred", str(folder / "pred"), "--gt", str(folder / "gt"), "--workers", "0", "--no-progress",
            "--no-skeleton-cache"]
    assert main([*base, "--out", str(tmp_path / "a"), "--metrics", "mse", "biou", "confusion"]) == 0
    out = capsys.readouterr().out
    assert "MSE" in out and "maxBIoU" in out
    assert main([*base, "--out", str(tmp_path / "b"), "--preset", "dis", "--format", "markdown"]) == 0
    head = capsys.readouterr().out.splitlines()[0]
    labels = [c.strip() for c in head.strip("|").split("|")][3:]
    assert [lab.split()[0] for lab in labels] == ["maxF", "wF", "MAE", "S", "meanE", "HCE", "maxE", "meanF",
                                                  "adpE", "adpF", "mBA", "maxBIoU", "meanBIoU"]
    assert main(["table", str(tmp_path / "a"), "--preset", "sod"]) == 0  # no preset column computed: default ones
    assert "MSE" in capsys.readouterr().out


def test_camouflage_context_measure_reads_the_rgb_image_everywhere(tmp_path, capsys):
    from segmetrics.app.folder import evaluate_folder
    from segmetrics.context_measure import camouflage_context_measure
    from tests.segmetrics.photo_cases import photo_rgb

    names = ("horse_blur", "coins_shift")
    pairs = [make_photo_case(n) for n in names]
    images = [photo_rgb(n.rsplit("_", 1)[0]) for n in names]
    want = [camouflage_context_measure(p, g, im) for (p, g), im in zip(pairs, images)]
    assert [r.ccm for r in compute_all([p for p, _ in pairs], [g for _, g in pairs], metrics=("ccm",),
                                       image=images)] == want
    acc = DatasetMetrics(metrics=("cm", "ccm"))
    for (p, g), im in zip(pairs, images):
        acc.update(p, g, image=im)
    assert acc.results()["ccm"] == pytest.approx(np.mean(want), abs=1e-15)
    with pytest.raises(ValueError, match=r"metric\(s\) \['ccm'\] need the RGB image: pass `image`"):
        compute_all(*pairs[0], metrics=("ccm",))
    for d in ("pred", "gt", "im"):
        (tmp_path / d).mkdir()
    for i, ((p, g), im) in enumerate(zip(pairs, images)):
        cv2.imwrite(str(tmp_path / "pred" / f"s{i}.png"), p)
        cv2.imwrite(str(tmp_path / "gt" / f"s{i}.png"), g)
        cv2.imwrite(str(tmp_path / "im" / f"s{i}.jpg"), im[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100])
    with pytest.raises(ValueError, match="need the RGB images: pass `image_dir`"):
        evaluate_folder(tmp_path / "pred", tmp_path / "gt", metrics=("ccm",), workers=0, progress=False)
    args = ["eval", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--image-dir",
            str(tmp_path / "im"), "--metrics", "cm", "ccm", "--workers", "0", "--no-progress", "--out",
            str(tmp_path / "o")]
    assert main(args) == 0
    assert "CCM" in capsys.readouterr().out
    res = evaluate_folder(tmp_path / "pred", tmp_path / "gt", metrics=("ccm",), image_dir=tmp_path / "im",
                          workers=0, progress=False)
    jpeg = [camouflage_context_measure(p, g, cv2.imread(str(tmp_path / "im" / f"s{i}.jpg"))[:, :, ::-1])
            for i, (p, g) in enumerate(pairs)]
    assert res.metrics["ccm"] == pytest.approx(np.mean(jpeg), abs=1e-12)
    cfg = tmp_path / "eval.toml"
    cfg.write_text(f'out = "{tmp_path / "c"}"\nmetrics = ["ccm"]\n[datasets]\n'
                   f'd = {{ gt = "{tmp_path / "gt"}", images = "{tmp_path / "im"}" }}\n'
                   f'[methods]\nm = "{tmp_path / "pred"}"\n')
    assert main(["eval", "--config", str(cfg), "--workers", "0", "--no-progress"]) == 0
    assert "CCM" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:  # images are given per dataset in a configuration
        main(["eval", "--config", str(cfg), "--image-dir", str(tmp_path / "im")])
    assert info.value.code == 2 and "images = ..." in capsys.readouterr().err


_EVERY = ("iou", "dice", "bf", "confusion", "si", "msiou", "mse", "mba", "biou", "cm", "ccm", "hce")


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), seed=st.integers(0, 2**16), kind=st.sampled_from(
    ("random", "zero", "full", "single", "levels")))
def test_degenerate_shapes_give_finite_values_that_agree_across_dtypes(h, w, seed, kind):
    """1x1, 1xN, empty / full / one-pixel GTs: finite values, no warning, and uint8 == float64 == float32 == bool."""
    rng = np.random.default_rng(seed)
    gt = {"random": rng.random((h, w)) > 0.5, "zero": np.zeros((h, w), bool), "full": np.ones((h, w), bool),
          "single": np.zeros((h, w), bool), "levels": rng.random((h, w)) > 0.3}[kind]
    gt[h // 2, w // 2] |= kind == "single"
    pred = rng.choice(np.array([0, 127, 128, 129, 255], np.uint8), (h, w)) if kind == "levels" else \
        rng.integers(0, 256, (h, w), dtype=np.uint8)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = compute_all(pred, gt, metrics=_EVERY, image=image, si_min_area=1)
        want = ref.scalars() | ref.curves()
        assert all(np.isfinite(v).all() for v in want.values())
        got = compute_all(pred / 255.0, gt, metrics=_EVERY, image=image, si_min_area=1)
        got = got.scalars() | got.curves()
        assert {k for k in want if not np.allclose(got[k], want[k], rtol=1e-12, atol=1e-12)} == set()
        # float32 x / 255 is x / 255 rounded: min-max normalised levels may land a hair below a level, but the
        # raw "> 128" rules (HCE, mBA) and the GT see the uint8 map exactly
        f32 = compute_all(pred / np.float32(255), gt.astype(np.float32), metrics=("hce", "mba"))
        assert (f32.hce.total, f32.mba) == (ref.hce.total, ref.mba)
    b = pred > 128  # a bool prediction reads as 0 / 255
    one = compute_all(b, gt, metrics=_EVERY, image=image, si_min_area=1).scalars()
    assert one == compute_all(b.astype(np.uint8) * 255, gt, metrics=_EVERY, image=image, si_min_area=1).scalars()
