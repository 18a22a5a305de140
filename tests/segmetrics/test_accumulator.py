import pickle
import warnings

import numpy as np
import py_sod_metrics as psm
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segmetrics import DatasetMetrics, compute_all
from tests.segmetrics.cases import make_case

NAMES = ["line_1px", "tree_3px", "hair", "blob_holes", "empty_gt", "full_gt", "const_pred_128", "two_level_pred",
         "smeasure_centroid_tie", "mixed_96x80", "checker_1px_64"]
METRICS = ("fm", "em", "sm", "wfm", "mae")


def _pysod_results(names):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ms = [psm.Fmeasure(), psm.Emeasure(), psm.Smeasure(), psm.WeightedFmeasure(), psm.MAE()]
        for n in names:
            p, g = make_case(n)
            for m in ms:
                m.step(p, g)
        out = {}
        for m in ms:
            out.update(m.get_results())
    return out


@pytest.mark.parity
def test_dataset_semantics_match_pysodmetrics():
    acc = DatasetMetrics(metrics=METRICS)
    for n in NAMES:
        acc.update(*make_case(n), name=n)
    ref = _pysod_results(NAMES)
    res = acc.compute()
    # curves: summed image by image, exactly as numpy's mean over axis 0
    np.testing.assert_array_equal(res["fm"]["curve"], ref["fm"]["curve"][::-1])
    np.testing.assert_array_equal(res["fm"]["precision"], ref["pr"]["p"][::-1])
    np.testing.assert_array_equal(res["em"]["curve"], ref["em"]["curve"][::-1])
    assert res["fm"]["max"] == ref["fm"]["curve"].max() and res["fm"]["mean"] == ref["fm"]["curve"].mean()
    assert res["em"]["max"] == ref["em"]["curve"].max() and res["em"]["mean"] == ref["em"]["curve"].mean()
    # scalar means: running sums vs numpy's pairwise sum of the per-image list
    for ours, theirs in [(res["fm"]["adaptive"], ref["fm"]["adp"]), (res["em"]["adaptive"], ref["em"]["adp"]),
                         (res["sm"], ref["sm"]), (res["wfm"], ref["wfm"]), (res["mae"], ref["mae"])]:
        assert ours == pytest.approx(theirs, rel=1e-14, abs=1e-15)
    pys = acc.to_pysod_dict()
    np.testing.assert_array_equal(pys["fm"]["curve"], ref["fm"]["curve"])
    np.testing.assert_array_equal(pys["pr"]["r"], ref["pr"]["r"])
    np.testing.assert_array_equal(pys["em"]["curve"], ref["em"]["curve"])
    assert res["n_images"] == len(NAMES) == len(acc)


def test_per_image_table_batch_names_and_hce():
    acc = DatasetMetrics(per_image=True)
    preds, gts = zip(*(make_case(n) for n in ["tree_1px", "tree_3px"]))
    acc.update(np.stack(preds), np.stack(gts), name=["a", "b"])
    acc.update(*make_case("hair"), name="c")
    rows = acc.per_image_table()
    assert [r["name"] for r in rows] == ["a", "b", "c"]
    single = compute_all(*make_case("hair")).scalars()
    assert {k: v for k, v in rows[2].items() if k != "name"} == single
    res = acc.compute()
    assert res["hce"]["total"] == pytest.approx(np.mean([r["hce"] for r in rows]))
    assert res["sm"] == pytest.approx(np.mean([r["sm"] for r in rows]), abs=1e-15)


def test_merge_pickle_reset():
    parts = [NAMES[:4], NAMES[4:7], NAMES[7:]]
    accs = []
    for names in parts:
        a = DatasetMetrics(metrics=METRICS, per_image=True)
        for n in names:
            a.update(*make_case(n), name=n)
        accs.append(pickle.loads(pickle.dumps(a)))
    one = DatasetMetrics(metrics=METRICS, per_image=True)
    for n in NAMES:
        one.update(*make_case(n), name=n)
    left = pickle.loads(pickle.dumps(accs[0])).merge(pickle.loads(pickle.dumps(accs[1]))).merge(accs[2])
    right = accs[0].merge(accs[1].merge(accs[2]))
    for merged in (left, right):
        r, o = merged.compute(), one.compute()
        assert r["n_images"] == o["n_images"]
        np.testing.assert_allclose(r["fm"]["curve"], o["fm"]["curve"], rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(r["em"]["curve"], o["em"]["curve"], rtol=1e-14, atol=1e-15)
        for k in ("sm", "wfm", "mae"):
            assert r[k] == pytest.approx(o[k], rel=1e-14)
        assert [x["name"] for x in merged.per_image_table()] == NAMES
    one.reset()
    assert len(one) == 0
    with pytest.raises(ValueError, match=r"compute\(\) needs at least one image"):
        one.compute()


@given(st.lists(st.integers(0, len(NAMES) - 1), min_size=1, max_size=6), st.integers(0, 6), st.integers(0, 6))
def test_merge_associativity_property(idx, i, j):
    i, j = sorted((min(i, len(idx)), min(j, len(idx))))
    chunks = [idx[:i], idx[i:j], idx[j:]]
    accs = []
    for c in chunks:
        a = DatasetMetrics(metrics=("fm", "em", "sm", "mae"))
        for k in c:
            a.update(*make_case(NAMES[k]))
        accs.append(a)
    one = DatasetMetrics(metrics=("fm", "em", "sm", "mae"))
    for k in idx:
        one.update(*make_case(NAMES[k]))
    merged = accs[0].merge(accs[1]).merge(accs[2])
    r, o = merged.compute(), one.compute()
    np.testing.assert_allclose(r["fm"]["curve"], o["fm"]["curve"], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(r["em"]["curve"], o["em"]["curve"], rtol=1e-14, atol=1e-15)
    assert r["sm"] == pytest.approx(o["sm"], rel=1e-14) and r["mae"] == pytest.approx(o["mae"], rel=1e-14, abs=1e-16)


def test_errors():
    acc = DatasetMetrics(metrics=("fm",))
    with pytest.raises(ValueError, match=r"per_image_table\(\) needs DatasetMetrics\(..., per_image=True\)"):
        acc.per_image_table()
    with pytest.raises(ValueError, match=r"`other` must use the same metrics and options"):
        acc.merge(DatasetMetrics(metrics=("fm",), beta_sq=1.0))
    with pytest.raises(TypeError, match=r"`other` must be a DatasetMetrics; got dict"):
        acc.merge({})
    with pytest.raises(ValueError, match=r"`name` must hold one name per image \(2\); got 1"):
        acc.update(np.zeros((2, 4, 4), np.uint8), np.zeros((2, 4, 4), bool), name=["x"])
    with pytest.raises(ValueError, match=r"`metrics` must be one of"):
        DatasetMetrics(metrics=("fm", "auc"))
    with pytest.raises(TypeError, match=r"unexpected metric option\(s\) \['foo'\]; expected some of"):
        DatasetMetrics(foo=1)


def test_results_use_the_dotted_keys_and_every_family_reduces_as_declared():
    from segmetrics.registry import FAMILIES, MetricOptions, scalars_of

    keys = tuple(k for k in FAMILIES if "image" not in FAMILIES[k].needs_for(MetricOptions.default()))  # no RGB
    acc = DatasetMetrics(metrics=keys, per_image=True)
    singles = []
    for n in ("tree_3px", "mixed_96x80", "blob_holes"):
        acc.update(*make_case(n), name=n)
        singles.append(compute_all(*make_case(n), metrics=keys))
    res, nested = acc.results(), acc.compute()
    iou_curve = np.mean([r.iou.iou_curve for r in singles], axis=0)
    np.testing.assert_allclose(res["iou.curve"], iou_curve, rtol=1e-15)
    assert res["iou.max"] == iou_curve.max() == nested["iou"]["max"]
    assert res["dice"] == pytest.approx(np.mean([r.dice.dice for r in singles]), rel=1e-15)
    assert res["bf.f3"] == pytest.approx(np.mean([r.bf.fscore[1] for r in singles]), rel=1e-15)
    assert nested["bf"]["f3"] == res["bf.f3"] and nested["hce"]["total"] == res["hce"]
    assert nested["fm"]["max"] == res["fm.max"] and nested["sm"] == res["sm"]
    assert list(nested["fm"]) == ["adaptive", "mean", "max", "curve", "precision", "recall", "thresholds"]
    pys = acc.to_pysod_dict()
    declared = {s.pysod[0] for s in scalars_of(keys) if s.pysod}
    declared |= {c.pysod[0] for k in keys for c in FAMILIES[k].curves if c.pysod}
    assert set(pys) == declared and {"fm", "pr", "em", "sm", "wfm", "mae", "hce"} <= declared
    np.testing.assert_array_equal(pys["pr"]["p"], res["fm.precision"][::-1])
    assert pys["hce"] == res["hce"] and pys["em"]["adp"] == res["em.adp"]


def test_add_image_metrics_needs_the_same_options():
    acc = DatasetMetrics(metrics=("mae", "fm"))
    pred, gt = make_case("mixed_96x80")
    acc.add_image_metrics(compute_all(pred, gt, metrics=("fm", "mae")))
    with pytest.raises(ValueError, match="`result` must use this accumulator's metrics and options"):
        acc.add_image_metrics(compute_all(pred, gt, metrics=("fm", "mae"), beta_sq=1.0))
    with pytest.raises(TypeError, match="`result` must be an ImageMetrics; got dict"):
        acc.add_image_metrics({})
    assert len(acc) == 1


def test_options_and_names_are_checked():
    # per_image="no" used to mean True (bool("no")), and name=3 failed with "'int' object is not iterable".
    with pytest.raises(TypeError, match=r"`per_image` must be a bool; got str 'no'"):
        DatasetMetrics(metrics=("iou",), per_image="no")
    acc = DatasetMetrics(metrics=("iou",), per_image=True)
    gt = np.zeros((4, 4), bool)
    with pytest.raises(TypeError, match=r"`name` must be a string or a sequence of strings \(one per image\); got 3"):
        acc.update(gt, gt, name=3)
    with pytest.raises(TypeError, match=r"`name` must be a string or a sequence of strings .*got \['a', 2\]"):
        acc.update([gt, gt], [gt, gt], name=["a", 2])
    acc.update([gt, gt], [gt, gt], name=("a", "b"))
    assert [r["name"] for r in acc.per_image_table()] == ["a", "b"]


def test_merge_into_a_per_image_accumulator_needs_the_rows():
    # Merging an accumulator without rows used to leave a per-image table shorter than n_images, silently.
    gt = np.zeros((4, 4), bool)
    gt[1:3, 1:3] = True
    with_rows, without = DatasetMetrics(metrics=("iou",), per_image=True), DatasetMetrics(metrics=("iou",))
    with_rows.update(gt, gt, name="a")
    without.update(gt, gt)
    with pytest.raises(ValueError, match=r"`other` must keep its per-image rows \(per_image=True\) to merge into an "
                                         r"accumulator with per_image=True; got per_image=False with 1 image\(s\)"):
        with_rows.merge(without)
    assert len(with_rows) == len(with_rows.per_image_table()) == 1  # unchanged by the refused merge
    with_rows.merge(DatasetMetrics(metrics=("iou",)))  # an empty one adds nothing: fine
    assert without.merge(with_rows).n_images == 2  # rows are simply not kept the other way round


def test_merging_a_per_image_accumulator_into_itself_doubles_it():
    # a.merge(a) with per_image=True extended the row list from a generator over that same list: it never ended
    # (the process grew until the OS killed it). It must count every image twice, like merging a copy.
    gt = np.zeros((16, 16), bool)
    gt[4:12, 4:12] = True
    a = DatasetMetrics(metrics=("mae", "sm"), per_image=True)
    a.update([gt, np.zeros((16, 16), np.uint8)], [gt, gt], name=["x", "y"])
    copy = pickle.loads(pickle.dumps(a))
    assert a.merge(a) is a
    expected = copy.merge(pickle.loads(pickle.dumps(copy))).compute()
    assert a.compute() == expected and expected["n_images"] == 4
    assert [r["name"] for r in a.per_image_table()] == ["x", "y", "x", "y"]


def test_a_batch_update_that_fails_adds_nothing():
    # DatasetMetrics(metrics=("mae", "ccm")).update([p, p], [g, g], image=[img, None]) raised for the second map
    # after the first had been added: n_images was 1, and retrying with the image counted that map twice.
    gt = np.zeros((20, 20), bool)
    gt[5:15, 5:15] = True
    pred, img = np.where(gt, 200, 0).astype(np.uint8), np.zeros((20, 20, 3), np.uint8)
    acc = DatasetMetrics(metrics=("mae", "ccm"), per_image=True)
    with pytest.raises(ValueError, match=r"metric\(s\) \['ccm'\] need the RGB image"):
        acc.update([pred, pred], [gt, gt], image=[img, None])
    assert acc.n_images == 0 and acc.per_image_table() == []
    acc.update([pred, pred], [gt, gt], image=[img, img])
    assert acc.compute()["n_images"] == 2


def test_add_image_metrics_of_other_metrics_leaves_the_state_alone():
    # An ImageMetrics without options (built by hand, or unpickled from elsewhere) holding fewer metrics counted
    # the image and added its MAE before failing with KeyError: 'sm'.
    from segmetrics import ImageMetrics

    gt = np.zeros((8, 8), bool)
    gt[2:6, 2:6] = True
    acc = DatasetMetrics(metrics=("mae", "sm"))
    with pytest.raises(ValueError, match=r"`result` must hold this accumulator's metrics \('mae', 'sm'\); got \('mae'"):
        acc.add_image_metrics(ImageMetrics({"mae": 0.5}))
    assert acc.n_images == 0
    acc.add_image_metrics(ImageMetrics(compute_all(gt, gt, metrics=("mae", "sm")).results))
    assert acc.compute() == pytest.approx({"n_images": 1, "mae": 0.0, "sm": 1.0}, abs=1e-12)


def test_merge_refusal_names_only_the_differing_options():
    # was: the message printed both full MetricOptions reprs (22 options each), hiding which one differed
    acc = DatasetMetrics(metrics=("fm",))
    with pytest.raises(ValueError) as info:
        acc.merge(DatasetMetrics(metrics=("fm",), beta_sq=1.0))
    msg = str(info.value)
    assert "`other` must use the same metrics and options; got beta_sq=1.0 vs 0.3" in msg and "alpha" not in msg
    with pytest.raises(ValueError, match=r"got metrics=\('sm',\) vs \('mae',\)$"):
        DatasetMetrics(metrics=("mae",)).merge(DatasetMetrics(metrics=("sm",)))


def test_add_image_metrics_refusal_names_only_the_differing_option():
    # was: the message printed both full MetricOptions reprs, hiding the one that differed
    acc = DatasetMetrics(metrics=("mae",))
    with pytest.raises(ValueError, match=r"metrics and options; got beta_sq=1.0 vs 0.3$"):
        acc.add_image_metrics(compute_all(np.zeros((4, 4)), np.zeros((4, 4), bool), metrics=("mae",), beta_sq=1.0))


def test_empty_to_pysod_dict_names_itself():
    # was: "results() needs at least one image", naming a method the caller never called
    with pytest.raises(ValueError, match=r"^to_pysod_dict\(\) needs at least one image; call update\(\) first$"):
        DatasetMetrics(metrics=("mae",)).to_pysod_dict()


def test_merge_of_a_state_with_other_keys_refuses_and_changes_nothing():
    # was: a state whose sums lack a key (e.g. pickled by another segmetrics version) raised a bare KeyError after
    # `n_images` had already been added, leaving this accumulator counting images it holds no sums for
    gt = np.zeros((8, 8), bool)
    gt[2:6, 2:6] = True
    a, b = DatasetMetrics(metrics=("fm", "mae")), DatasetMetrics(metrics=("fm", "mae"))
    a.update(gt, gt)
    b.update(gt, gt)
    del b._sums["mae"]
    with pytest.raises(ValueError, match=r"`other` must hold the state of this accumulator; its state differs: "):
        a.merge(b)
    assert a.n_images == 1 and a.compute()["mae"] == 0.0
    b = DatasetMetrics(metrics=("fm", "mae"))
    b.update(gt, gt)
    b._curves["fm.curve"] = b._curves["fm.curve"][:1]  # would broadcast silently
    with pytest.raises(ValueError, match=r"its state differs: ValueError: shape \(1,\) vs \(256,\)"):
        a.merge(b)
    assert a.n_images == 1


def test_a_shallow_copy_is_an_independent_snapshot():
    # was: copy.copy shared the sum dicts, curve arrays and row list, so updating the copy changed the original
    import copy

    gt = np.zeros((8, 8), bool)
    gt[2:6, 2:6] = True
    a = DatasetMetrics(metrics=("fm", "mae"), per_image=True)
    a.update(gt, gt, name="a")
    before = a.results()
    b = copy.copy(a)
    b.update(np.zeros((8, 8), np.uint8), gt, name="b")
    after = a.results()
    assert after["mae"] == before["mae"] and np.array_equal(after["fm.curve"], before["fm.curve"])
    assert len(a.per_image_table()) == 1 and len(b.per_image_table()) == 2 and b.n_images == 2


def test_add_image_metrics_of_unreadable_results_refuses_and_changes_nothing():
    # was: a hand-built ImageMetrics whose `fm` is not an F-measure result raised a bare AttributeError after
    # `n_images` had been incremented, leaving a count without sums
    from segmetrics.image_metrics import ImageMetrics

    acc = DatasetMetrics(metrics=("mae", "fm"))
    with pytest.raises(ValueError, match=r"`result` must hold this accumulator's per-image results; reading them "):
        acc.add_image_metrics(ImageMetrics({"mae": 0.5, "fm": None}))
    assert acc.n_images == 0
