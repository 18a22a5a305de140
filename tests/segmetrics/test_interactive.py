"""segmetrics.interactive: click simulators, the NoC loop, the evaluator, folder datasets, table and plot."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage
from skimage import data, filters, measure

from segmetrics.interactive import (
    PROTOCOLS,
    Click,
    InteractiveEvaluator,
    error_masks,
    load_instances,
    next_click,
    noc,
)


def _square(n=32, a=8, b=24):
    gt = np.zeros((n, n), bool)
    gt[a:b, a:b] = True
    return gt


def _horse():
    return data.horse() == 0


def _coins():
    img = data.coins()
    return img, ndimage.binary_opening(img > filters.threshold_otsu(img), iterations=2)


def _rng(protocol, seed=0):
    return np.random.default_rng(seed) if protocol == "paper_random" else None


# ------------------------------------------------------------------------------------------------
# clicker contracts
# ------------------------------------------------------------------------------------------------

masks = hnp.arrays(bool, st.tuples(st.integers(1, 12), st.integers(1, 12)))


@given(gt=masks, data=st.data(), protocol=st.sampled_from(PROTOCOLS), seed=st.integers(0, 2**16))
def test_click_is_in_the_current_error_and_positive_iff_false_negative(gt, data, protocol, seed):
    pred = data.draw(hnp.arrays(bool, gt.shape))
    clicked = data.draw(hnp.arrays(bool, gt.shape))
    clicks = [Click(int(y), int(x), True) for y, x in zip(*np.nonzero(clicked))]
    fn, fp = error_masks(gt, pred)
    click = next_click(gt, pred, clicks, protocol=protocol, rng=np.random.default_rng(seed))
    open_err = (fn | fp) & ~clicked
    if not open_err.any():
        assert click is None
        return
    assert click is not None
    assert open_err[click.y, click.x]
    assert click.positive == bool(fn[click.y, click.x])


@given(gt=masks, data=st.data(), protocol=st.sampled_from(PROTOCOLS))
def test_ignored_pixels_are_never_clicked(gt, data, protocol):
    pred = data.draw(hnp.arrays(bool, gt.shape))
    ignore = data.draw(hnp.arrays(bool, gt.shape))
    click = next_click(gt, pred, protocol=protocol, rng=np.random.default_rng(0), valid=~ignore)
    if click is None:
        assert not ((gt ^ pred) & ~ignore).any()
    else:
        assert not ignore[click.y, click.x]


@pytest.mark.parity
def test_ritm_clicks_match_the_reference_clicker_on_real_masks():
    # Golden clicks from RITM's isegm/inference/clicker.py (run outside the repository) on the same inputs.
    gt = _horse()
    preds = [np.zeros_like(gt), np.roll(gt, 7, axis=1), np.roll(gt, -5, axis=0),
             gt & (np.arange(gt.shape[1]) < 200)[None]]
    clicks: list[Click] = []
    for p in preds:
        clicks.append(next_click(gt, p, clicks))
    assert [tuple(c) for c in clicks] == [(136, 254, True), (86, 392, False), (16, 333, False), (136, 255, True)]
    coins = data.coins()
    g2 = coins > filters.threshold_otsu(coins)
    clicks = []
    for p in (np.zeros_like(g2), np.ones_like(g2), np.roll(g2, 3, axis=0)):
        clicks.append(next_click(g2, p, clicks))
    assert [tuple(c) for c in clicks] == [(51, 155, True), (90, 311, False), (17, 252, False)]


def test_ritm_first_click_is_the_object_centre_and_ties_go_negative():
    gt = _square(9, 2, 7)
    assert next_click(gt, np.zeros_like(gt)) == Click(4, 4, True)
    # FN and FP of the same thickness: RITM clicks the false positive.
    gt = np.zeros((5, 8), bool)
    gt[1:4, 1:4] = True
    pred = np.zeros_like(gt)
    pred[1:4, 5:8] = True
    assert next_click(gt, pred) == Click(2, 6, False)


def test_largest_region_prefers_area_where_ritm_prefers_thickness():
    gt = np.zeros((40, 40), bool)
    gt[2:5, 1:39] = True  # thin, 114 pixels
    gt[20:28, 20:28] = True  # thick, 64 pixels
    empty = np.zeros_like(gt)
    assert next_click(gt, empty, protocol="ritm") == Click(23, 23, True)
    c = next_click(gt, empty, protocol="largest_region")
    assert c.positive and 2 <= c.y < 5 and c.y == 3


def test_paper_random_first_click_is_never_on_the_boundary():
    gt = _horse()
    boundary = gt & ~ndimage.binary_erosion(gt, border_value=0)
    rng = np.random.default_rng(1)
    for _ in range(40):
        c = next_click(gt, np.zeros_like(gt), protocol="paper_random", rng=rng)
        assert c.positive and gt[c.y, c.x] and not boundary[c.y, c.x]


@given(gt=hnp.arrays(bool, st.tuples(st.integers(3, 12), st.integers(3, 12))), seed=st.integers(0, 2**16))
def test_paper_random_first_click_avoids_the_boundary_whenever_there_is_an_interior(gt, seed):
    boundary = gt & ~ndimage.binary_erosion(gt, border_value=0)
    c = next_click(gt, np.zeros_like(gt), protocol="paper_random", rng=np.random.default_rng(seed))
    if not gt.any():
        assert c is None
    elif (gt & ~boundary).any():
        assert not boundary[c.y, c.x]
    else:  # no interior: uniform over the object
        assert gt[c.y, c.x]


def test_paper_random_samples_proportionally_to_the_distance_to_the_boundary():
    gt = np.zeros((9, 11), bool)
    gt[1:8, 1:10] = True
    boundary = gt & ~ndimage.binary_erosion(gt, border_value=0)
    d = np.where(gt, ndimage.distance_transform_edt(~boundary), 0.0)
    p = d / d.sum()
    rng = np.random.default_rng(0)
    counts = np.zeros(gt.shape)
    n = 4000
    for _ in range(n):
        c = next_click(gt, np.zeros_like(gt), protocol="paper_random", rng=rng)
        counts[c.y, c.x] += 1
    assert counts[p == 0].sum() == 0
    np.testing.assert_allclose(counts / n, p, atol=0.015)


@pytest.mark.parametrize("protocol", ["ritm", "largest_region"])
def test_deterministic_protocols_repeat(protocol):
    gt = _horse()
    pred = np.roll(gt, 9, axis=0)
    assert next_click(gt, pred, protocol=protocol) == next_click(gt.copy(), pred.copy(), protocol=protocol)


def test_paper_random_repeats_with_the_seed():
    gt = _horse()
    draw = [next_click(gt, np.zeros_like(gt), protocol="paper_random", rng=np.random.default_rng(s)) for s in (5, 5, 6)]
    assert draw[0] == draw[1] != draw[2]


# ------------------------------------------------------------------------------------------------
# the click loop
# ------------------------------------------------------------------------------------------------


def _after(k, gt):
    """A predictor that is empty until click k, then exact."""
    return lambda image, clicks: gt if len(clicks) >= k else np.zeros(gt.shape)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_noc_of_an_oracle_is_one(protocol):
    gt = _horse()
    r = noc(lambda image, clicks: gt.astype(np.float32), data.horse(), gt, protocol=protocol)
    assert r.ious == (1.0,) and r.noc(0.85) == r.noc(0.9) == 1 and not r.failed(0.9)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_noc_of_a_predictor_that_never_improves_is_the_budget_and_a_failure(protocol):
    gt = _square()
    r = noc(lambda image, clicks: np.zeros((32, 32)), None, gt, protocol=protocol, max_clicks=7)
    assert len(r.ious) == 7 and r.ious == (0.0,) * 7
    assert r.noc(0.85) == r.noc(0.9) == 7 and r.failed(0.85) and r.failed(0.9)
    assert len(set(r.clicks)) == 7  # never the same pixel twice


@pytest.mark.parametrize("k", [1, 2, 5, 20])
def test_noc_of_a_predictor_reaching_the_target_after_k_clicks_is_k(k):
    gt = _coins()[1]
    r = noc(_after(k, gt), data.coins(), gt)
    assert r.noc(0.9) == k and len(r.ious) == k and not r.failed(0.9)


def test_threshold_is_strict_and_feedback_passes_the_previous_output():
    gt = _square()
    seen = []

    def predict(image, clicks, prev):
        seen.append(prev.copy())
        return np.where(gt, 0.5, 0.49)

    r = noc(predict, None, gt, feedback=True)
    assert r.ious == (1.0,)
    assert seen[0].shape == gt.shape and not seen[0].any()
    r = noc(lambda image, clicks: np.where(gt, 0.49, 0.0), None, gt, max_clicks=2)
    assert r.ious == (0.0, 0.0)


def test_ignored_pixels_leave_the_iou():
    gt = _square()
    ignore = np.zeros_like(gt)
    ignore[:, :8] = True
    pred = gt | ignore  # wrong only on ignored pixels
    r = noc(lambda image, clicks: pred, None, gt, ignore=ignore)
    assert r.ious == (1.0,)


def test_stop_at_one_runs_until_perfect_and_mIoU_carries_the_last_value():
    gt = _square()
    steps = [np.zeros_like(gt), gt & (np.arange(32) < 16)[None], gt]
    r = noc(lambda image, clicks: steps[min(len(clicks), 2)], None, gt, stop_at=1.0, max_clicks=5)
    assert r.ious == (0.5, 1.0)
    np.testing.assert_array_equal(r.iou_curve(), [0.5, 1.0, 1.0, 1.0, 1.0])


# ------------------------------------------------------------------------------------------------
# evaluator: dataset numbers, merge, files
# ------------------------------------------------------------------------------------------------


def _instances():
    img, coins = _coins()
    labels = measure.label(coins)
    out = [(f"coin{i}", img, labels == i) for i in range(1, labels.max() + 1) if (labels == i).sum() > 200][:5]
    out.append(("horse", data.horse()[::2, ::2], _horse()[::2, ::2]))
    return out


def _disc_predictor(radius=12):
    def predict(image, clicks):
        h, w = image.shape[:2]
        m = np.zeros((h, w))
        for c in clicks:
            disc = np.zeros((h, w), bool)
            y0, x0 = max(c.y - radius, 0), max(c.x - radius, 0)
            yy, xx = np.mgrid[y0 : c.y + radius + 1, x0 : c.x + radius + 1]
            disc[y0 : c.y + radius + 1, x0 : c.x + radius + 1] = (yy - c.y) ** 2 + (xx - c.x) ** 2 <= radius**2
            m = np.maximum(m, disc * 0.9) if c.positive else np.where(disc, 0.0, m)
        return m

    return predict


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_merge_of_two_halves_equals_one_run(protocol):
    items = _instances()
    predict = _disc_predictor()
    one = InteractiveEvaluator(protocol=protocol, max_clicks=6, seed=3).evaluate(predict, items)
    a = InteractiveEvaluator(protocol=protocol, max_clicks=6, seed=3).evaluate(predict, items[1::2])
    b = InteractiveEvaluator(protocol=protocol, max_clicks=6, seed=3).evaluate(predict, items[0::2])
    merged = pickle.loads(pickle.dumps(a)).merge(b)
    r1, r2 = one.compute(), merged.compute()
    r1.pop("spc"), r2.pop("spc")
    assert r1 == r2
    strip = lambda rows: sorted((dict(r, seconds=0) for r in rows), key=lambda r: r["name"])  # noqa: E731
    assert strip(one.per_instance_table()) == strip(merged.per_instance_table())
    assert 0 < r1["miou@1"] <= r1["miou@6"] <= 1


def test_dataset_numbers_by_hand():
    gt = _square()
    ev = InteractiveEvaluator(max_clicks=4)
    ev.update(_after(1, gt), None, gt, name="a")
    ev.update(_after(3, gt), None, gt, name="b")
    ev.update(_after(9, gt), None, gt, name="c")
    r = ev.compute()
    assert r["noc@85"] == r["noc@90"] == (1 + 3 + 4) / 3
    assert r["nof@85"] == r["nof@90"] == 1
    assert [r[f"miou@{k}"] for k in (1, 2, 3, 4)] == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert r["spc"] >= 0
    # reaching the target at the last click is no failure (RITM's >=20@90 would count it: NoC == max_clicks)
    last = InteractiveEvaluator(max_clicks=4)
    last.update(_after(4, gt), None, gt, name="d")
    assert last.compute()["noc@90"] == 4 and last.compute()["nof@90"] == 0
    with pytest.raises(ValueError, match="unique"):
        ev.update(_after(1, gt), None, gt, name="a")


def test_save_table_and_plot(tmp_path, capsys):
    from segmetrics import format_table, load_results
    from segmetrics.app.plot import save_curve_plots

    ev = InteractiveEvaluator(max_clicks=5).evaluate(_disc_predictor(), _instances()[:3])
    files = ev.save(tmp_path / "disc", method="disc", dataset="coins", plot=False)
    assert [f.name for f in files] == ["results.json", "per_instance.csv"]
    doc = json.loads((tmp_path / "disc" / "results.json").read_text())
    assert doc["settings"]["protocol"] == "ritm" and doc["settings"]["threshold"] == 0.49
    res = load_results(tmp_path / "disc")
    assert res.num_images == 3 and res.curves["miou"].shape == (5,)
    table = format_table([res], fmt="markdown")
    assert "NoC@85 ↓" in table and "NoF@90 ↓" in table and "mIoU@5 ↑" in table and "SPC ↓" in table
    assert table.splitlines()[2].split(" | ")[5] == str(int(doc["metrics"]["nof@85"]))
    written = save_curve_plots([tmp_path / "disc"], tmp_path / "fig", formats=["png"])
    assert [p.name for p in written] == ["coins_miou.png"]
    from segmetrics.app.cli import main

    assert main(["plot", str(tmp_path / "disc"), "--out", str(tmp_path / "cli"), "--formats", "png"]) == 0
    assert (tmp_path / "cli" / "coins_miou.png").exists()
    assert main(["table", str(tmp_path / "disc")]) == 0
    assert "NoC@90 ↓" in capsys.readouterr().out


def test_save_without_matplotlib_names_the_extra_and_writes_nothing(tmp_path, monkeypatch):
    # README: matplotlib is the `plot` extra and a command that needs it says how to install it
    import sys

    ev = InteractiveEvaluator(max_clicks=2).evaluate(_disc_predictor(), _instances()[:1])
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'saving miou.png \(save\(\.\.\., plot=False\) skips it\) needs '
                                          r'matplotlib: pip install "segloss-segmetrics\[plot\]"'):
        ev.save(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [f.name for f in ev.save(tmp_path / "out", plot=False)] == ["results.json", "per_instance.csv"]


# ------------------------------------------------------------------------------------------------
# folder datasets
# ------------------------------------------------------------------------------------------------


def _write(path, arr):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_binary_folder_with_ignore_band_and_min_area(tmp_path):
    img = data.astronaut()[:64, :80]
    m = np.zeros((64, 80), np.uint8)
    m[10:40, 10:50] = 255
    m[9, 10:50] = 128  # GrabCut's unknown band
    _write(tmp_path / "images" / "a.jpg", img)
    _write(tmp_path / "masks" / "a.png", m)
    _write(tmp_path / "images" / "b.png", img)
    _write(tmp_path / "masks" / "b.png", (m > 200).astype(np.uint8))  # a 0/1 mask
    tiny = np.zeros_like(m)
    tiny[0, 0] = 255
    _write(tmp_path / "images" / "c.png", img)
    _write(tmp_path / "masks" / "c.png", tiny)
    _write(tmp_path / "masks" / "orphan.png", m)
    ds = load_instances(tmp_path, ignore_value=128, min_area=10)
    assert ds.names == ["a", "b"] and list(ds.skipped) == ["c"] and ds.missing == ["orphan"]
    a = ds[0]
    assert a.image.shape == (64, 80, 3) and a.image.dtype == np.uint8 and a.gt.sum() == 30 * 40
    assert a.ignore.sum() == 40 and ds[1].ignore is None and ds[1].gt.sum() == 30 * 40
    assert len(ds[1:]) == 1 and ds[1:][0].name == "b"
    r = InteractiveEvaluator(max_clicks=3).evaluate(lambda image, clicks: np.zeros(image.shape[:2]), ds).compute()
    assert r["nof@90"] == 2


def test_instance_id_folder_splits_instances(tmp_path):
    from PIL import Image

    img, coins = _coins()
    labels = measure.label(coins).astype(np.uint8)
    labels[0, :] = 255  # VOC-style void
    pal = Image.fromarray(labels, mode="P")
    pal.putpalette(list(np.random.default_rng(0).integers(0, 256, 768)))
    (tmp_path / "masks").mkdir()
    pal.save(tmp_path / "masks" / "coins.png")
    _write(tmp_path / "images" / "coins.png", img)
    ds = load_instances(tmp_path, layout="instances", ignore_value=255, min_area=300)
    areas = {i: int((labels == i).sum()) for i in range(1, labels.max()) if i != 255}
    keep = sorted(i for i, a in areas.items() if a >= 300)
    assert ds.names == [f"coins#{i}" for i in keep]
    assert set(ds.skipped) == {f"coins#{i}" for i, a in areas.items() if 0 < a < 300}
    inst = ds[0]
    assert inst.image.shape == (*labels.shape, 3)
    np.testing.assert_array_equal(inst.gt, labels == keep[0])
    assert inst.ignore[0].all()
    r = noc(lambda image, clicks: inst.gt, inst.image, inst.gt, ignore=inst.ignore)
    assert r.noc(0.9) == 1
    with pytest.warns(UserWarning, match=r"1 id maps \(e.g. 'coins'\) have 255 as their largest id, Pascal VOC's void"):
        forgot = load_instances(tmp_path, layout="instances", min_area=300)  # without ignore_value=255
    assert forgot.names[-1] == "coins#255"


# ------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"protocol": "dios"}, ValueError, "`protocol` must be one of"),
        ({"max_clicks": 0}, ValueError, "`max_clicks` must be an integer >= 1; got 0"),
        ({"max_clicks": 2.0}, ValueError, "`max_clicks`"),
        ({"targets": (0.85, 1.5)}, ValueError, r"`targets` must be a number in \(0, 1\]"),
        ({"targets": ()}, ValueError, "`targets` must hold at least one"),
        ({"targets": 0.9}, TypeError, "`targets` must be a sequence"),
        ({"stop_at": 0.8}, ValueError, "`stop_at` must be >= the highest target"),
        ({"min_clicks": 30}, ValueError, "`min_clicks` must be <= max_clicks"),
        ({"threshold": 1.0}, ValueError, r"`threshold` must be a number in \[0, 1\)"),
        ({"feedback": "yes"}, TypeError, "`feedback` must be a bool"),
        ({"seed": -1}, ValueError, "`seed` must be an integer >= 0"),
    ],
)
def test_options_are_validated(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        InteractiveEvaluator(**kwargs)
    with pytest.raises(exc, match=match):
        noc(lambda image, clicks: None, None, _square(), **kwargs)


def test_inputs_and_outputs_are_validated(tmp_path):
    gt = _square()
    ok = lambda image, clicks: gt  # noqa: E731
    with pytest.raises(ValueError, match="`gt` must contain at least one"):
        noc(ok, None, np.zeros((4, 4), bool))
    # the value read np.uint8(255), without a hint
    with pytest.raises(ValueError, match=r"`gt` must hold only 0 and 1 \(or be boolean\); got the value 255 \(a 0-255 "
                                         r"mask\? pass gt > 128\)$"):
        noc(ok, None, gt.astype(np.uint8) * 255)
    with pytest.raises(ValueError, match=r"`gt` must hold only 0 and 1 \(or be boolean\); got the value \(2\+0j\)$"):
        noc(ok, None, gt * (2 + 0j))
    with pytest.raises(ValueError, match=r"`ignore` must hold only 0 and 1 \(or be boolean\); got the value 0.5$"):
        noc(ok, None, gt, ignore=np.full(gt.shape, 0.5))
    with pytest.raises(ValueError, match=r"`image` must be \(H, W, ...\) or \(..., H, W\) .* got shape \(10, 10, 3\)"):
        noc(ok, np.zeros((10, 10, 3)), gt)
    assert noc(ok, np.zeros((1, 3, *gt.shape)), gt).ious == (1.0,)  # an NCHW tensor-like image is passed through
    with pytest.raises(ValueError, match="`ignore` must have the ground truth's shape"):
        noc(ok, None, gt, ignore=np.zeros((3, 3), bool))
    with pytest.raises(TypeError, match="`predict` must be callable"):
        noc(None, None, gt)
    with pytest.raises(ValueError, match=r"output of `predict` must be probabilities in \[0, 1\]"):
        noc(lambda image, clicks: gt * 255.0, None, gt)
    with pytest.raises(ValueError, match="output of `predict` must have the ground truth's shape"):
        noc(lambda image, clicks: np.zeros((3, 3)), None, gt)
    with pytest.raises(TypeError, match="`rng` must be a numpy.random.Generator"):
        next_click(gt, gt, protocol="paper_random")
    with pytest.raises(ValueError, match=r"`clicks\[0\]` must lie inside"):
        next_click(gt, gt, [Click(40, 0, True)])
    with pytest.raises(ValueError, match="compute\\(\\) needs at least one instance"):
        InteractiveEvaluator().compute()
    with pytest.raises(TypeError, match="`other` must be an InteractiveEvaluator"):
        InteractiveEvaluator().merge(object())
    with pytest.raises(ValueError, match="`other` must use the same options"):
        InteractiveEvaluator().merge(InteractiveEvaluator(max_clicks=5))
    with pytest.raises(TypeError, match=r"`instances\[0\]` must have `image` and `gt`"):
        InteractiveEvaluator().evaluate(ok, [gt])
    with pytest.raises(ValueError, match="`layout` must be one of"):
        load_instances(tmp_path, layout="coco")
    with pytest.raises(ValueError, match="`min_area` must be an integer >= 1"):
        load_instances(tmp_path, min_area=0)
    with pytest.raises(FileNotFoundError, match="`images` must be an existing folder"):
        load_instances(tmp_path)


def test_a_failing_predict_names_the_instance_and_keeps_the_results_so_far():
    gt = _horse()
    calls = []

    def flaky(image, clicks):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("CUDA out of memory")
        return gt

    data_ = [(f"horse{i}", None, gt) for i in range(4)]
    ev = InteractiveEvaluator(max_clicks=3)
    with pytest.raises(RuntimeError, match="CUDA out of memory") as info:
        ev.evaluate(flaky, data_)
    note = " ".join(getattr(info.value, "__notes__", []))
    assert "'horse2'" in note and "2 instances evaluated before it are kept" in note and "instances[2:]" in note
    assert [r.name for r in ev.results] == ["horse0", "horse1"]
    ev.evaluate(flaky, data_[2:])  # resume as the note says
    assert len(ev) == 4


def test_tensor_outputs_are_detached_and_batches_of_one_accepted():
    torch = pytest.importorskip("torch")
    gt = _square()
    t = torch.from_numpy(gt.astype(np.float32))
    for out in (t.requires_grad_(), t.detach().bfloat16(), t.detach()[None, None]):
        assert noc(lambda image, clicks, out=out: out, None, gt).ious == (1.0,)


@pytest.mark.parametrize(
    ("output", "exc", "match"),
    [
        (None, TypeError, r"real-valued or boolean \(H, W\) map; got dtype object \(None: did predict forget"),
        (np.ones((32, 32), complex), TypeError, "real-valued or boolean .* got dtype complex128"),
        (np.full((32, 32), np.nan), ValueError, r"got 1024 non-finite values \(NaN / inf\)$"),
        (np.where(_square(), np.inf, 0.25), ValueError, r"got values in \[0.25, 0.25\] and 256 non-finite"),
        (_square() * 255.0, ValueError, r"got values in \[0.0, 255.0\] \(a 0-255 map\? divide it by 255 or return a"),
        (np.where(_square(), 4.0, -3.5), ValueError, r"got values in \[-3.5, 4.0\] \(logits\? apply a sigmoid\)$"),
        # a (mask, score) pair or a dict used to raise numpy's own error (or 'got dtype object') without naming them
        ((np.zeros((32, 32)), 0.5), ValueError, r"boolean \(H, W\) map; got a tuple that numpy cannot read as one "
                                                r"array \(setting an array element"),
        ({"mask": np.zeros((32, 32))}, TypeError, r"boolean \(H, W\) map; got dtype object \(a dict\)$"),
    ],
)
def test_bad_predict_outputs_are_named(output, exc, match):
    with pytest.raises(exc, match=match):
        noc(lambda image, clicks: output, None, _square())


def test_merge_is_all_or_nothing_and_names_the_differing_options():
    gt = _square()
    ok = lambda image, clicks: gt  # noqa: E731
    a = InteractiveEvaluator(max_clicks=3)
    a.update(ok, None, gt, name="x")
    b = InteractiveEvaluator(max_clicks=3)
    for n in ("p", "q", "x", "r"):
        b.update(ok, None, gt, name=n)
    with pytest.raises(ValueError, match=r"holds 1 already evaluated here, e.g. \[.x.\] \(nothing was merged\)"):
        a.merge(b)
    assert [r.name for r in a.results] == ["x"]
    with pytest.raises(ValueError, match=r"same options; got protocol='largest_region' \(here 'ritm'\), max_clicks=4"):
        a.merge(InteractiveEvaluator(protocol="largest_region", max_clicks=4))
    with pytest.raises(ValueError, match=r"`results\[0\]` must be an InstanceResult run with max_clicks=20; got "
                                         r"max_clicks=3"):
        InteractiveEvaluator(results=list(a.results))
    with pytest.raises(ValueError, match="`results` holds 'x' twice"):
        InteractiveEvaluator(max_clicks=3, results=[a.results[0]] * 2)


def test_binary_folder_01_masks_with_an_ignore_value_and_16_bit_masks(tmp_path):
    img = data.astronaut()[:64, :80]
    m = (_horse()[40:104, 40:120]).astype(np.uint8)  # a 0/1 mask ...
    m[0, :] = 255  # ... with VOC's void value
    _write(tmp_path / "images" / "a.png", img)
    _write(tmp_path / "masks" / "a.png", m)
    ds = load_instances(tmp_path, ignore_value=255)
    assert ds.names == ["a"] and ds[0].gt.sum() == (m[1:] == 1).sum() > 0 and ds[0].ignore.sum() == 80
    _write(tmp_path / "masks" / "a.png", m.astype(np.uint16) * 257)
    with pytest.raises(ValueError, match="`ignore_value` applies to 8-bit masks; a.png is not 8-bit"):
        load_instances(tmp_path, ignore_value=255)
    _write(tmp_path / "unpaired" / "images" / "x.png", img)
    _write(tmp_path / "unpaired" / "masks" / "b.png", m)
    with pytest.raises(ValueError, match=r"0 paired by file stem, .*masks without an image, e.g. 'b'"):
        load_instances(tmp_path / "unpaired")


def test_an_unreadable_folder_instance_keeps_the_results_and_one_click_saves_quietly(tmp_path):
    import warnings

    img = data.astronaut()[:64, :80]
    m = np.zeros((64, 80), np.uint8)
    m[10:40, 10:50] = 255
    for stem in ("a", "b", "c"):
        _write(tmp_path / "images" / f"{stem}.png", img if stem != "b" else img[:60])  # b: image smaller than mask
        _write(tmp_path / "masks" / f"{stem}.png", m)
    ds = load_instances(tmp_path)
    ev = InteractiveEvaluator(max_clicks=1)
    oracle = lambda image, clicks: m > 0  # noqa: E731
    with pytest.raises(OSError, match=r"b.png is \(60, 80\) but its mask b.png is \(64, 80\)") as info:
        ev.evaluate(oracle, ds)
    note = " ".join(getattr(info.value, "__notes__", []))
    assert "reading `instances[1]` failed; the 1 instances evaluated before it are kept" in note
    assert "instances[2:]" in note and ev.evaluate(oracle, ds[2:]) is ev and len(ev) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # max_clicks=1 drew a one-point curve with matplotlib's singular-xlim warning
        files = ev.save(tmp_path / "out", dataset="astronaut")
    assert [f.name for f in files] == ["results.json", "per_instance.csv", "miou.png"]


def test_save_into_existing_places(tmp_path):
    gt = _horse()
    ev = InteractiveEvaluator(max_clicks=2).evaluate(lambda image, clicks: gt, [("horse", None, gt)])
    assert (tmp_path / "r" / "miou.png") in ev.save(tmp_path / "r")
    assert [f.name for f in ev.save(tmp_path / "r", plot=False)] == ["results.json", "per_instance.csv"]
    assert not (tmp_path / "r" / "miou.png").exists()  # a figure of an earlier save would show other numbers
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="`out_dir` must be a folder; got .*, an existing file"):
        ev.save(tmp_path / "file")
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "records.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match=r"`out_dir` holds the results of a `segmetrics eval` run \(records.jsonl\)"):
        ev.save(tmp_path / "eval")
    assert not (tmp_path / "eval" / "results.json").exists()


def test_hidden_files_of_a_mac_copy_are_not_instances(tmp_path):
    img = data.astronaut()[:64, :80]
    m = np.zeros((64, 80), np.uint8)
    m[10:40, 10:50] = 255
    _write(tmp_path / "images" / "a.png", img)
    _write(tmp_path / "masks" / "a.png", m)
    for d in ("images", "masks"):
        (tmp_path / d / "._a.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble resource fork")
    ds = load_instances(tmp_path)
    assert ds.names == ["a"] and ds.missing == []


def test_options_cannot_change_after_construction():
    # `ev.max_clicks = 3` after construction was silently ignored: the evaluator ran 20 clicks with the options it
    # was made with, while its repr (and `ev.max_clicks`) showed 3; a bad value (protocol="bogus") was not refused.
    gt = _square()
    ev = InteractiveEvaluator(max_clicks=4)
    for name, value in (("max_clicks", 3), ("protocol", "largest_region"), ("targets", (0.5,)), ("stop_at", 1.0),
                        ("min_clicks", 2), ("threshold", 0.2), ("feedback", True), ("seed", 7)):
        with pytest.raises(AttributeError, match=rf"`{name}` is fixed when the InteractiveEvaluator is made .*"
                                                 rf"InteractiveEvaluator\({name}=\.\.\.\); got {name}="):
            setattr(ev, name, value)
    assert ev.max_clicks == 4 and ev.protocol == "ritm"
    ev.update(lambda image, clicks: np.zeros(gt.shape), None, gt, name="a")
    assert len(ev.results[0].ious) == 4 and len(ev.miou_curve()) == 4
    again = pickle.loads(pickle.dumps(ev))  # pickling / copying (the merge of shards) still works
    assert again.max_clicks == 4 and len(again) == 1 and again.merge(InteractiveEvaluator(max_clicks=4)) is again


def test_cli_merge_of_interactive_folders_says_how_they_merge(tmp_path, capsys):
    # `segmetrics eval --merge` on InteractiveEvaluator.save folders said only "has no records.jsonl"
    from segmetrics.app.cli import main

    gt = _square()
    for i in range(2):
        ev = InteractiveEvaluator(max_clicks=2).evaluate(lambda image, clicks: gt, [(f"s{i}", None, gt)])
        ev.save(tmp_path / f"rank{i}", plot=False)
    shards = [str(tmp_path / "rank0"), str(tmp_path / "rank1")]
    assert main(["eval", "--merge", *shards, "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "--merge entry" in err and "rank0' holds interactive results (InteractiveEvaluator.save)" in err
    assert "ev.merge(other)" in err and "Traceback" not in err


def test_instance_result_refuses_a_target_in_percent():
    # r.noc(85) (the key reads "noc@85") silently returned max_clicks and failed(85) True: IoU never reaches 85
    r = noc(lambda image, clicks: _square(), None, _square())
    assert r.noc(0.85) == 1 and not r.failed(1) and r.noc(np.float32(0.9)) == 1
    for method in (r.noc, r.failed):
        with pytest.raises(ValueError, match=r"`target` must be a number in \(0, 1\]; got 85"):
            method(85)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_file_name_that_is_not_utf8_is_evaluated_and_saved(tmp_path, protocol):
    # A Latin-1 file name (b"caf\xe9.png") reaches Python as "caf\udce9": paper_random's seed (the name's UTF-8
    # bytes) and per_instance.csv raised UnicodeEncodeError, the latter after results.json was written.
    gt = _square()
    name = "caf\udce9"
    ev = InteractiveEvaluator(protocol=protocol, max_clicks=2).evaluate(lambda image, clicks: gt, [(name, None, gt)])
    assert [p.name for p in ev.save(tmp_path, plot=False)] == ["results.json", "per_instance.csv"]
    assert json.loads((tmp_path / "results.json").read_text())["num_images"] == 1
    assert (tmp_path / "per_instance.csv").read_text(encoding="utf-8").splitlines()[1].startswith("caf\\udce9,1,")
    if protocol == "paper_random":  # still seeded by the name: the same clicks again
        runs = [noc(lambda image, clicks: np.zeros(gt.shape), None, gt, name=name, protocol=protocol, max_clicks=3)
                for _ in range(2)]
        assert runs[0].clicks == runs[1].clicks


def test_miou_plot_draws_a_one_click_curve_and_whole_click_ticks(tmp_path):
    # max_clicks=1: the mIoU curve is one point, which a plain line does not draw (miou.png showed only the legend);
    # the x axis is a number of clicks, but it was ticked at 1.5, 2.5, ...
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from segmetrics.app.plot import plot_curves

    gt = _square()
    for k in (1, 5):
        ev = InteractiveEvaluator(max_clicks=k).evaluate(lambda image, clicks: gt, [("a", None, gt)])
        ev.save(tmp_path / f"k{k}", method=f"k{k}", plot=False)
    fig, ax = plot_curves([tmp_path / "k1", tmp_path / "k5"], "miou")
    one = ax.lines[0]
    assert len(one.get_xdata()) == 1 and one.get_marker() not in (None, "None", "", " ")
    ticks = [t for t in ax.get_xticks() if 1 <= t <= 5]
    assert ticks and all(float(t).is_integer() for t in ticks)
    plt.close(fig)


def test_non_path_and_non_iterable_arguments_are_named(tmp_path, monkeypatch):
    # save(None) / evaluate(predict, None) / load_instances(None) raised Python's bare TypeError ("expected str,
    # bytes or os.PathLike object", "'NoneType' object is not iterable"); save("") wrote into the working folder.
    gt = _square()
    ev = InteractiveEvaluator(max_clicks=1).evaluate(lambda image, clicks: gt, [("a", None, gt)])
    monkeypatch.chdir(tmp_path)
    for bad in (None, 3, ""):
        with pytest.raises((TypeError, ValueError), match=rf"`out_dir` must be a folder path; got {bad!r}"):
            ev.save(bad, plot=False)
    assert list(tmp_path.iterdir()) == []
    for bad in (None, 5):
        with pytest.raises(TypeError, match=rf"`instances` must be an iterable of instances .*; got "
                                            rf"{type(bad).__name__}"):
            ev.evaluate(lambda image, clicks: gt, bad)
        with pytest.raises(TypeError, match=rf"`root` must be a folder path; got {bad!r}"):
            load_instances(bad)


def test_seconds_per_click_include_the_copy_of_a_tensor_output_to_the_host():
    # A CUDA tensor comes back from predict before its kernels ran; they finish in `.cpu()`, which was outside the
    # timed region, so SPC measured the kernel launches only. A stand-in whose `.cpu()` takes 20 ms:
    import time

    gt = _square()

    class Pending:
        def detach(self):
            return self

        def cpu(self):
            time.sleep(0.02)
            return gt

    r = noc(lambda image, clicks: Pending(), None, gt)
    assert r.ious == (1.0,) and r.seconds >= 0.02


def test_binary_01_masks_with_a_255_band_and_no_ignore_value_warn(tmp_path):
    # A 0/1 mask with VOC's 255 void band, loaded without ignore_value=255, is read by the > 128 rule: the object
    # became the void outline, silently (the instance layout already warned about its 255 ids).
    import warnings

    img = data.astronaut()[:64, :80]
    m = _horse()[40:104, 40:120].astype(np.uint8)
    m[ndimage.binary_dilation(m > 0) & ~ndimage.binary_erosion(m > 0)] = 255
    _write(tmp_path / "images" / "a.png", img)
    _write(tmp_path / "masks" / "a.png", m)
    with pytest.warns(UserWarning, match=r"1 binary masks \(e.g. 'a'\) hold only 0, 1 and 255: read as 0/255 masks, "
                                         r"the object is the 255 pixels; pass ignore_value=255 if 1 is the object"):
        ds = load_instances(tmp_path)
    assert ds[0].gt.sum() == (m == 255).sum()  # the documented rule still applies
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_instances(tmp_path, ignore_value=255)[0].gt.sum() == (m == 1).sum()
        _write(tmp_path / "masks" / "a.png", (m > 0).astype(np.uint8) * 255)  # a plain 0/255 mask: no warning
        load_instances(tmp_path)


# ------------------------------------------------------------------------------------------------
# slow independent references: brute-force distances and connected regions, a plain NoC loop
# ------------------------------------------------------------------------------------------------


def _bf_distance(mask):
    """Distance of each mask pixel to the nearest pixel outside it, the one-pixel frame outside the image included."""
    framed = np.pad(mask, 1)
    inside, outside = np.argwhere(framed), np.argwhere(~framed)
    d = np.zeros(framed.shape)
    if len(inside):  # every pair: the smallest distance from each inside pixel to any outside one
        d[tuple(inside.T)] = np.sqrt(((inside[:, None] - outside[None]) ** 2).sum(-1).min(1))
    return d[1:-1, 1:-1]


def _bf_regions(mask):
    """8-connected regions as boolean masks, in the row-major order of their first pixel (flood fill)."""
    seen = np.zeros(mask.shape, bool)
    regions = []
    for y, x in zip(*np.nonzero(mask)):
        if seen[y, x]:
            continue
        region, stack = np.zeros(mask.shape, bool), [(y, x)]
        seen[y, x] = region[y, x] = True
        while stack:
            a, b = stack.pop()
            for c in range(a - 1, a + 2):
                for e in range(b - 1, b + 2):
                    if 0 <= c < mask.shape[0] and 0 <= e < mask.shape[1] and mask[c, e] and not seen[c, e]:
                        seen[c, e] = region[c, e] = True
                        stack.append((c, e))
        regions.append(region)
    return regions


def _first_max(d):
    ys, xs = np.nonzero(d == d.max())
    return int(ys[0]), int(xs[0])


def _reference_click(gt, pred, clicked, protocol):
    fn, fp = gt & ~pred, ~gt & pred
    if protocol == "ritm":  # the thicker error, ties to the false positives
        dfn, dfp = _bf_distance(fn) * ~clicked, _bf_distance(fp) * ~clicked
        if dfn.max() == dfp.max() == 0:
            return None
        return Click(*_first_max(dfn), True) if dfn.max() > dfp.max() else Click(*_first_max(dfp), False)
    cands = [(-int(r.sum()), order, int(np.flatnonzero(r)[0]), r, positive)
             for order, (err, positive) in enumerate(((fn, True), (fp, False)))
             for r in _bf_regions(err) if (r & ~clicked).any()]
    if not cands:
        return None
    *_, region, positive = min(cands, key=lambda c: c[:3])
    return Click(*_first_max(_bf_distance(region) * ~clicked), positive)


@given(gt=hnp.arrays(bool, st.tuples(st.integers(1, 7), st.integers(1, 7))), data=st.data(),
       protocol=st.sampled_from(["ritm", "largest_region"]))
def test_deterministic_clickers_match_a_brute_force_reference(gt, data, protocol):
    pred = data.draw(hnp.arrays(bool, gt.shape))
    clicked = data.draw(hnp.arrays(bool, gt.shape)) & data.draw(hnp.arrays(bool, gt.shape))
    clicks = [Click(int(y), int(x), True) for y, x in zip(*np.nonzero(clicked))]
    assert next_click(gt, pred, clicks, protocol=protocol) == _reference_click(gt, pred, clicked, protocol)


@pytest.mark.parametrize("protocol", ["ritm", "largest_region"])
def test_dataset_numbers_match_a_plain_reference_loop_on_real_masks(protocol):
    # NoC@85/90, NoF and mIoU@k of a model that snaps each click to its SLIC superpixel of the coins photo,
    # against a loop written from the README's definitions (the reference clicker on a downscaled photo)
    from skimage import segmentation

    img = data.coins()[::6, ::6]
    labels = measure.label(ndimage.binary_opening(img > filters.threshold_otsu(img)))
    objs = [labels == i for i in range(1, labels.max() + 1) if (labels == i).sum() >= 12][:4]
    sp = segmentation.slic(img, n_segments=60, compactness=0.1, channel_axis=None, start_label=1)

    def predict(image, clicks):
        m = np.zeros(image.shape)
        for c in clicks:
            m[sp == sp[c.y, c.x]] = float(c.positive)
        return m

    k_max = 6
    ev = InteractiveEvaluator(protocol=protocol, max_clicks=k_max)
    ev.evaluate(predict, [(f"coin{i}", img, g) for i, g in enumerate(objs)])
    nocs, curves = {0.85: [], 0.9: []}, []
    for g in objs:
        mask, clicked, clicks, ious = np.zeros_like(g), np.zeros_like(g), [], []
        while len(ious) < k_max:
            c = _reference_click(g, mask, clicked, protocol)
            if c is None:
                break
            clicked[c.y, c.x] = True
            clicks.append(c)
            mask = predict(img, tuple(clicks)) > 0.49
            ious.append((g & mask).sum() / (g | mask).sum())
            if ious[-1] >= 0.9:
                break
        for t in nocs:
            nocs[t].append(next((k for k, v in enumerate(ious, 1) if v >= t), k_max))
        curves.append(ious + [ious[-1]] * (k_max - len(ious)))
    r = ev.compute()
    assert len(objs) == 4 and max(len(x.ious) for x in ev.results) == k_max  # several clicks, not all reached
    assert r["noc@85"] == pytest.approx(np.mean(nocs[0.85])) and r["noc@90"] == pytest.approx(np.mean(nocs[0.9]))
    assert r["nof@90"] == sum(all(v < 0.9 for v in c) for c in curves)
    assert [r[f"miou@{k}"] for k in range(1, k_max + 1)] == pytest.approx(np.mean(curves, axis=0).tolist())


def test_an_image_opencv_cannot_read_as_8_bit_colour_is_named_as_such(tmp_path):
    # a float32 TIFF photo was reported as "not a valid image, an empty or a corrupt file"
    import cv2

    from segmetrics.interactive import read_rgb

    photo = (data.astronaut()[:16, :20] / 255.0).astype(np.float32)
    assert cv2.imwrite(str(tmp_path / "a.tif"), photo)
    with pytest.raises(OSError, match=r"cannot use a.tif as an RGB image: it holds float32 samples.*save it as "
                                      r"8-bit"):
        read_rgb(tmp_path / "a.tif")
    (tmp_path / "b.png").write_bytes(b"not a png")
    with pytest.raises(OSError, match="cannot decode b.png: not a valid image, an empty or a corrupt file"):
        read_rgb(tmp_path / "b.png")


def test_table_does_not_warn_about_the_seed_of_deterministic_protocols(tmp_path, capsys):
    # The seed only draws paper_random's clicks; train_can passes its training --seed, so two ritm runs with other
    # seeds were flagged as "run with different settings ... do not compare" although they click alike.
    from segmetrics.app.cli import main

    gt = _square()
    for proto in ("ritm", "paper_random"):
        for seed in (0, 1):
            ev = InteractiveEvaluator(protocol=proto, max_clicks=2, seed=seed)
            ev.evaluate(lambda image, clicks: gt, [("a", None, gt)]).save(tmp_path / f"{proto}{seed}", plot=False,
                                                                          method=f"s{seed}", dataset=proto)
    assert main(["table", str(tmp_path / "ritm0"), str(tmp_path / "ritm1")]) == 0
    assert capsys.readouterr().err == ""
    assert main(["table", str(tmp_path / "paper_random0"), str(tmp_path / "paper_random1")]) == 0
    assert "different settings (seed: s0 0, s1 1)" in capsys.readouterr().err


def test_assigning_results_keeps_the_name_check_in_step():
    # `ev.results = [...]` (e.g. dropping instances to evaluate them again) left the evaluator's set of names as
    # it was: a dropped instance was refused as "already evaluated", and assigned results were not checked.
    gt = _square()
    ev = InteractiveEvaluator(max_clicks=2)
    for n in ("a", "b"):
        ev.update(lambda image, clicks: gt, None, gt, name=n)
    ev.results = [r for r in ev.results if r.name != "b"]
    ev.update(lambda image, clicks: np.zeros(gt.shape), None, gt, name="b")  # evaluated again
    assert [r.name for r in ev.results] == ["a", "b"] and ev.compute()["nof@90"] == 1
    with pytest.raises(ValueError, match="`results` holds 'a' twice"):
        ev.results = [ev.results[0]] * 2
    other = InteractiveEvaluator(max_clicks=3).evaluate(lambda image, clicks: gt, [("c", None, gt)])
    with pytest.raises(ValueError, match=r"`results\[0\]` must be an InstanceResult run with max_clicks=2"):
        ev.results = other.results
    assert [r.name for r in ev.results] == ["a", "b"]  # a refused assignment changes nothing


def test_a_model_that_edits_its_input_image_in_place_does_not_change_later_clicks():
    # predict received the same array on every click: a model that normalised or drew on it in place fed the
    # edited image to every later click, and the NoC depended on that side effect.
    from skimage import data as skdata

    from segmetrics.interactive import noc

    image = skdata.coins()[:96, :96]
    gt = image > 120
    seen = []

    def predict(img, clicks):
        seen.append(int(img.sum()))
        img[:] = 0  # the in-place edit
        return np.zeros(gt.shape, bool) if len(clicks) < 3 else gt

    before = image.copy()
    res = noc(predict, image, gt, max_clicks=5)
    assert len(seen) == 3 and len(set(seen)) == 1 and seen[0] == int(before.sum())
    np.testing.assert_array_equal(image, before)  # the caller's image is untouched too
    assert res.ious[-1] == 1.0


def test_merge_ignores_the_seed_of_protocols_that_draw_no_random_click():
    # ev.merge refused shards that differed only in seed under ritm / largest_region, whose clicks do not depend on
    # it (train_can stores its training --seed there); under paper_random the seed still has to match.
    from skimage import data as skdata

    from segmetrics.interactive import SEEDED_PROTOCOLS, InteractiveEvaluator, InteractiveInstance

    assert SEEDED_PROTOCOLS == ("paper_random",)
    coins = skdata.coins()[:64, :64]
    gt = coins > 120
    rgb = np.repeat(coins[..., None], 3, axis=2)
    data = [InteractiveInstance(f"i{k}", rgb, np.roll(gt, k, axis=1), None) for k in range(2)]

    def predict(image, clicks):
        return gt

    for protocol in ("ritm", "largest_region"):
        a = InteractiveEvaluator(protocol=protocol, max_clicks=2, seed=1).evaluate(predict, data[:1])
        b = InteractiveEvaluator(protocol=protocol, max_clicks=2, seed=7).evaluate(predict, data[1:])
        assert len(a.merge(b)) == 2
    a = InteractiveEvaluator(protocol="paper_random", max_clicks=2, seed=1).evaluate(predict, data[:1])
    b = InteractiveEvaluator(protocol="paper_random", max_clicks=2, seed=7).evaluate(predict, data[1:])
    with pytest.raises(ValueError, match=r"`other` must use the same options; got seed=7 \(here 1\)"):
        a.merge(b)
