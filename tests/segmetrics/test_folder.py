"""Folder evaluation end to end: parity with the library and pysodmetrics, faults, resume, merge, cache."""

from __future__ import annotations

import csv
import json
import shutil
import warnings

import cv2
import numpy as np
import pytest

import segmetrics
from segmetrics import boundary_fscore, compute_all, region_overlap
from segmetrics.app.folder import evaluate_folder, load_results, merge_results
from segmetrics.app.image_io import read_map
from segmetrics.app.skeleton_cache import SkeletonCache, mask_key
from tests.segmetrics.folder_data import NAMES, load_pair, make_dataset

ALL = ("fm", "wfm", "mae", "sm", "em", "hce", "iou", "dice", "bf")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds"))


def _pysod_loop(data, method, names):
    import py_sod_metrics as pysod

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ms = {
            "fm": pysod.Fmeasure(),
            "em": pysod.Emeasure(),
            "sm": pysod.Smeasure(),
            "wfm": pysod.WeightedFmeasure(),
            "mae": pysod.MAE(),
        }
    for n in names:
        p, g = load_pair(data, method, n)
        for m in ms.values():
            m.step(p, g)
    f, e = ms["fm"].get_results(), ms["em"].get_results()
    return {
        "fm.max": f["fm"]["curve"].max(),
        "fm.mean": f["fm"]["curve"].mean(),
        "fm.adp": f["fm"]["adp"],
        "fm.precision": f["pr"]["p"][::-1],
        "fm.recall": f["pr"]["r"][::-1],
        "em.max": e["em"]["curve"].max(),
        "em.mean": e["em"]["curve"].mean(),
        "em.adp": e["em"]["adp"],
        "sm": ms["sm"].get_results()["sm"],
        "wfm": ms["wfm"].get_results()["wfm"],
        "mae": ms["mae"].get_results()["mae"],
    }


def _csv_rows(path):
    with open(path, newline="") as f:
        return {r["name"]: r for r in csv.DictReader(f)}


@pytest.mark.parity
def test_process_pool_run_matches_library_and_pysod(data, tmp_path):
    out = tmp_path / "out"
    res = evaluate_folder(data["good"], data["gt"], metrics=ALL, out_dir=out, workers=2,
                          skeleton_cache=tmp_path / "cache", progress=False)
    assert res.ok and res.num_images == len(NAMES) and res.missing == [] and res.extra == []
    ref = _pysod_loop(data, "good", NAMES)
    for k in ("fm.max", "fm.mean", "fm.adp", "em.max", "em.mean", "em.adp", "sm", "wfm", "mae"):
        assert res.metrics[k] == pytest.approx(ref[k], abs=1e-12, rel=0), k
    np.testing.assert_allclose(res.curves["fm.precision"], ref["fm.precision"], atol=1e-12, rtol=0)
    np.testing.assert_allclose(res.curves["fm.recall"], ref["fm.recall"], atol=1e-12, rtol=0)
    # Per-image CSV values are exactly the library's.
    rows = _csv_rows(out / "per_image.csv")
    hces = []
    for n in NAMES:
        # The library on the maps exactly as the folder reader decodes them (a 16-bit PNG gives a
        # float map v / 65535, so its values may differ from the uint8 path in the last bits).
        p, g = read_map(data["good"] / f"{n}.png"), read_map(data["gt"] / f"{n}.png")
        lib = compute_all(p, g)
        ro = region_overlap(p, g)
        bf = boundary_fscore(p, g)
        r = rows[n]
        assert r["status"] == "ok" and int(r["height"]) == g.shape[0] and int(r["width"]) == g.shape[1]
        assert float(r["fm.max"]) == lib.fm.max and float(r["em.mean"]) == lib.em.mean
        assert float(r["wfm"]) == lib.wfm and float(r["mae"]) == lib.mae
        assert float(r["hce"]) == lib.hce.total and float(r["hce.fn_points"]) == lib.hce.fn_points
        assert float(r["iou"]) == ro.iou and float(r["dice.adp"]) == ro.adaptive_dice
        assert float(r["bf.f3"]) == bf.fscore[1]
        hces.append(lib.hce.total)
    assert res.metrics["hce"] == pytest.approx(np.mean(hces), abs=1e-12)
    saved = json.loads((out / "results.json").read_text())
    assert saved["schema"] == "segmetrics.results/1" and saved["num_images"] == len(NAMES)
    assert len(saved["curves"]["fm.curve"]) == 256 and saved["curves"]["thresholds"][-1] == 255
    back = load_results(out)
    assert back.metrics == pytest.approx(res.metrics)


def test_dataset_numbers_equal_the_accumulator(data):
    res = evaluate_folder(data["good"], data["gt"], metrics=("fm", "em", "sm", "wfm", "mae", "hce"),
                          workers=2, executor="thread", chunksize=2, skeleton_cache=False, progress=False)
    acc = segmetrics.DatasetMetrics()
    for n in NAMES:
        acc.update(*load_pair(data, "good", n))
    ref = acc.compute()
    assert res.metrics["fm.max"] == pytest.approx(ref["fm"]["max"], abs=1e-14)
    assert res.metrics["em.mean"] == pytest.approx(ref["em"]["mean"], abs=1e-14)
    assert res.metrics["hce"] == pytest.approx(ref["hce"]["total"], abs=1e-12)
    np.testing.assert_allclose(res.curves["em.curve"], ref["em"]["curve"], atol=1e-14, rtol=0)


def test_faults_missing_and_extra(data, tmp_path):
    out = tmp_path / "bad"
    res = evaluate_folder(data["bad"], data["gt"], metrics=("mae", "fm"), out_dir=out, workers=0, progress=False)
    assert list(res.errors) == ["im3"] and "corrupt" in res.errors["im3"]
    assert res.missing == ["im4"] and res.extra == ["zzz"]
    assert res.num_images == len(NAMES) - 2 and not res.ok
    rows = _csv_rows(out / "per_image.csv")
    assert rows["im3"]["status"] == "error" and rows["im3"]["mae"] == ""
    assert set(rows) == set(NAMES) - {"im4"}
    ok_names = [n for n in NAMES if n not in ("im3", "im4")]
    assert res.metrics["mae"] == pytest.approx(_pysod_loop(data, "bad", ok_names)["mae"], abs=1e-15)
    saved = json.loads((out / "results.json").read_text())
    assert saved["errors"][0]["name"] == "im3" and saved["missing"] == ["im4"] and saved["extra"] == ["zzz"]


def test_interrupted_run_resumes_without_recomputing(data, tmp_path, monkeypatch):
    import segmetrics.app.folder as folder

    out = tmp_path / "resume"
    calls = []
    real = folder.evaluate_pair

    def interrupted(name, p, g, settings):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(name)
        return real(name, p, g, settings)

    monkeypatch.setattr(folder, "evaluate_pair", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate_folder(data["good"], data["gt"], metrics=("fm", "hce"), out_dir=out, workers=0,
                        skeleton_cache=False, progress=False)
    assert calls == NAMES[:3]
    assert len(_csv_rows(out / "per_image.csv")) == 3  # flushed before the interruption
    with open(out / "records.jsonl", "a") as f:
        f.write('{"name": "im3", "status": "ok", "sca')  # a torn last line, as after a crash mid-write
    calls.clear()
    monkeypatch.setattr(folder, "evaluate_pair", lambda *a: (calls.append(a[0]), real(*a))[1])
    res = evaluate_folder(data["good"], data["gt"], metrics=("fm", "hce"), out_dir=out, workers=0,
                          skeleton_cache=False, progress=False)
    assert calls == NAMES[3:]  # nothing computed twice
    fresh = evaluate_folder(data["good"], data["gt"], metrics=("fm", "hce"), out_dir=tmp_path / "fresh",
                            workers=0, skeleton_cache=False, progress=False)
    assert res.metrics == fresh.metrics and res.num_images == len(NAMES)
    assert (out / "per_image.csv").read_text() == (tmp_path / "fresh" / "per_image.csv").read_text()
    with pytest.raises(ValueError, match="different evaluation"):
        evaluate_folder(data["good"], data["gt"], metrics=("mae",), out_dir=out, workers=0, progress=False)
    with pytest.raises(ValueError, match="results of other folders"):
        evaluate_folder(data["bad"], data["gt"], metrics=("fm", "hce"), out_dir=out, workers=0, progress=False)


def test_shards_merge_to_exactly_one_run(data, tmp_path):
    shards = []
    for k, names in enumerate((NAMES[::2], NAMES[1::2])):
        gt_k = tmp_path / f"gt{k}"
        gt_k.mkdir()
        for n in names:
            shutil.copy(data["gt"] / f"{n}.png", gt_k / f"{n}.png")
        out_k = tmp_path / f"shard{k}"
        evaluate_folder(data["good"], gt_k, metrics=ALL, out_dir=out_k, workers=0, skeleton_cache=False,
                        progress=False, method="good", dataset="toy")
        shards.append(out_k)
    merged = merge_results(shards, tmp_path / "merged")
    whole = evaluate_folder(data["good"], data["gt"], metrics=ALL, out_dir=tmp_path / "whole", workers=0,
                            skeleton_cache=False, progress=False, method="good", dataset="toy")
    assert merged.metrics == whole.metrics  # bit for bit
    for k in whole.curves:
        np.testing.assert_array_equal(merged.curves[k], whole.curves[k])
    assert (tmp_path / "merged" / "per_image.csv").read_text() == (tmp_path / "whole" / "per_image.csv").read_text()
    assert load_results(tmp_path / "merged").metrics == pytest.approx(whole.metrics, abs=0)
    other = tmp_path / "other"
    evaluate_folder(data["good"], data["gt"], metrics=("mae",), out_dir=other, workers=0, progress=False)
    with pytest.raises(ValueError, match=r"must share the settings; .* differs from the first \(metrics: \[.*\] in the "
                                         r"first, \['mae'\] in this one\)$"):  # the differing settings only
        merge_results([shards[0], other])
    with pytest.raises(ValueError, match="at least one"):
        merge_results([])
    # The same with the built-in sharding (rank / world size) over the whole folder.
    ranks = []
    for rank in range(3):
        out_r = tmp_path / f"rank{rank}"
        evaluate_folder(data["good"], data["gt"], metrics=ALL, out_dir=out_r, workers=0, skeleton_cache=False,
                        progress=False, method="good", dataset="toy", shard=(rank, 3))
        ranks.append(out_r)
    assert merge_results(ranks).metrics == whole.metrics
    with pytest.raises(ValueError, match="`shard` must be"):
        evaluate_folder(data["good"], data["gt"], shard=(3, 3))


def test_skeleton_cache_skeletonises_each_gt_once(data, tmp_path, monkeypatch):
    calls = []
    real = segmetrics.skeletonize
    monkeypatch.setattr(segmetrics, "skeletonize", lambda m: (calls.append(1), real(m))[1])
    cache = tmp_path / "cache"
    a = evaluate_folder(data["good"], data["gt"], metrics=("hce",), workers=0, skeleton_cache=cache, progress=False)
    assert len(calls) == len(NAMES)
    b = evaluate_folder(data["bad"], data["gt"], metrics=("hce",), workers=0, skeleton_cache=cache, progress=False)
    assert len(calls) == len(NAMES)  # the second method reuses every skeleton
    no_cache = evaluate_folder(data["good"], data["gt"], metrics=("hce",), workers=0, skeleton_cache=False,
                               progress=False)
    assert a.metrics == no_cache.metrics and b.num_images == len(NAMES) - 2
    gt = read_map(data["gt"] / "im0.png") > 128
    store = SkeletonCache(cache)
    path = store.path_for(mask_key(gt))
    assert path.exists()
    np.testing.assert_array_equal(store.get(gt), real(gt))
    path.write_bytes(b"corrupt")  # a damaged entry is recomputed and rewritten
    np.testing.assert_array_equal(store.get(gt), real(gt))
    assert store.misses == 1 and store.hits == 1
    assert mask_key(gt) != mask_key(~gt) and mask_key(gt) != mask_key(gt.T)


def test_resize_policy_and_bad_arguments(data, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    p = cv2.imread(str(data["good"] / "im0.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(small / "im0.png"), cv2.resize(p, (20, 24)))
    res = evaluate_folder(small, data["gt"], metrics=("mae",), workers=0, progress=False)
    assert "size mismatch" in res.errors["im0"] and "pred-to-gt" in res.errors["im0"]
    res = evaluate_folder(small, data["gt"], metrics=("mae",), workers=0, progress=False, resize="pred-to-gt")
    assert res.ok and res.num_images == 1 and 0 <= res.metrics["mae"] <= 1
    with pytest.raises(ValueError, match="`metrics` must be one of"):
        evaluate_folder(data["good"], data["gt"], metrics=("fm", "nope"))
    with pytest.raises(ValueError, match="`resize` must be one of"):
        evaluate_folder(data["good"], data["gt"], resize="stretch")
    with pytest.raises(ValueError, match="`workers` must be an integer"):
        evaluate_folder(data["good"], data["gt"], workers=-1)
    with pytest.raises(ValueError, match="`executor` must be one of"):
        evaluate_folder(data["good"], data["gt"], executor="fiber")
    with pytest.raises(ValueError, match="`hce_threshold` must be one of"):
        evaluate_folder(data["good"], data["gt"], hce_threshold="half")
    with pytest.raises(FileNotFoundError, match="`pred_dir` must be an existing folder"):
        evaluate_folder(tmp_path / "nowhere", data["gt"])


def test_bool_and_path_arguments_are_checked_before_any_file_is_written(data, tmp_path):
    # overwrite="False" used to be true (it discarded the previous results), progress="no" showed a bar,
    # image_dir=5 failed inside os with "expected str, bytes or os.PathLike object, not int".
    out = tmp_path / "out"
    evaluate_folder(data["good"], data["gt"], metrics=("mse",), out_dir=out, workers=0, progress=False)
    before = (out / "records.jsonl").read_bytes()
    with pytest.raises(TypeError, match=r"`overwrite` must be a bool; got str 'False'"):
        evaluate_folder(data["good"], data["gt"], metrics=("mse",), out_dir=out, workers=0, progress=False,
                        overwrite="False")
    assert (out / "records.jsonl").read_bytes() == before
    with pytest.raises(TypeError, match=r"`progress` must be a bool; got str 'no'"):
        evaluate_folder(data["good"], data["gt"], metrics=("mse",), workers=0, progress="no")
    with pytest.raises(TypeError, match=r"`image_dir` must be a folder path or None; got int 5"):
        evaluate_folder(data["good"], data["gt"], metrics=("mse",), workers=0, image_dir=5)
    with pytest.raises(TypeError, match=r"`skeleton_cache` must be a folder path or a bool or None; got float 1.0"):
        evaluate_folder(data["good"], data["gt"], metrics=("hce",), workers=0, skeleton_cache=1.0)


def test_default_names():
    from segmetrics.app.folder import default_names

    assert default_names("preds/isnet/DIS-VD", "DIS5K/DIS-VD/gt") == ("isnet", "DIS-VD")
    assert default_names("runs/u2net", "data/ECSSD") == ("u2net", "ECSSD")
    assert default_names("runs/u2net/masks", "data/ECSSD/GT") == ("u2net", "ECSSD")


def test_a_label_map_gt_that_reads_as_empty_is_warned_about(tmp_path):
    # a 0/1 label-map PNG (or a 16-bit file of 8-bit levels) is an empty mask under the > 128 rule that
    # pysodmetrics and the DIS scripts use: a perfect prediction scored maxF 0 with no word said
    from skimage import data as skdata

    mask = skdata.horse() == 0  # the horse, True
    for sub in ("pred", "gt01", "gt16", "gt"):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / "pred" / "horse.png"), mask.astype(np.uint8) * 255)
    cv2.imwrite(str(tmp_path / "gt01" / "horse.png"), mask.astype(np.uint8))
    cv2.imwrite(str(tmp_path / "gt16" / "horse.png"), mask.astype(np.uint16) * 255)
    cv2.imwrite(str(tmp_path / "gt" / "horse.png"), mask.astype(np.uint8) * 255)
    kw = {"metrics": ("mae",), "workers": 0, "progress": False, "skeleton_cache": False}
    with pytest.warns(UserWarning, match=r"horse.png is not blank \(its maximum is 1 of 255\) but no pixel is above "
                                         r"the foreground cut 128 of 255 .* a 0/1 label map must be written as 0/255"):
        evaluate_folder(tmp_path / "pred", tmp_path / "gt01", **kw)
    with pytest.warns(UserWarning, match=r"its maximum is 0.003891 of 1 \(a 16-bit or float file\)"):
        evaluate_folder(tmp_path / "pred", tmp_path / "gt16", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0/255 GT, and a blank one, say nothing
        evaluate_folder(tmp_path / "pred", tmp_path / "gt", **kw)
        cv2.imwrite(str(tmp_path / "gt" / "horse.png"), np.zeros_like(mask, np.uint8))
        evaluate_folder(tmp_path / "pred", tmp_path / "gt", **kw)


def test_merge_into_a_shard_folder_or_an_evaluation_folder_is_refused(data, tmp_path):
    # `--merge r0 r1 --out r0` replaced shard 0's own journal by the merge (the shard could not be merged or
    # resumed again), and `--out` naming the folder of a finished evaluation silently replaced its results.
    kw = {"metrics": ("mae",), "workers": 0, "progress": False}
    ranks = [tmp_path / f"r{k}" for k in range(2)]
    for k, r in enumerate(ranks):
        evaluate_folder(data["good"], data["gt"], out_dir=r, shard=(k, 2), **kw)
    before = (ranks[0] / "records.jsonl").read_bytes()
    with pytest.raises(ValueError, match=r"`out_dir` '.*r0' is one of `shard_dirs`"):
        merge_results(ranks, ranks[0])
    whole = tmp_path / "whole"
    evaluate_folder(data["bad"], data["gt"], out_dir=whole, **kw)
    kept = (whole / "results.json").read_bytes()
    with pytest.raises(ValueError, match=r"`out_dir` '.*whole' holds the results of an evaluation of .*bad"):
        merge_results(ranks, whole)
    assert (ranks[0] / "records.jsonl").read_bytes() == before and (whole / "results.json").read_bytes() == kept
    # merging again into the merge's own folder (e.g. after a shard was re-run) is fine
    assert merge_results(ranks, tmp_path / "all").num_images == merge_results(ranks, tmp_path / "all").num_images


def test_a_0_1_prediction_mask_is_warned_about(tmp_path):
    # A model that saves its masks as 0/1 (or 8-bit levels in a 16-bit file) is read as probabilities of at most
    # 1/255: MAE, S, E, IoU at 0.5 ... scored that almost-empty map with no word said (as pysodmetrics does).
    from skimage import data as skdata

    mask = skdata.horse() == 0
    for sub in ("p01", "p16", "pred", "gt"):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / "gt" / "horse.png"), mask.astype(np.uint8) * 255)
    cv2.imwrite(str(tmp_path / "p01" / "horse.png"), mask.astype(np.uint8))
    cv2.imwrite(str(tmp_path / "p16" / "horse.png"), mask.astype(np.uint16) * 255)
    cv2.imwrite(str(tmp_path / "pred" / "horse.png"), mask.astype(np.uint8) * 255)
    kw = {"metrics": ("mae",), "workers": 0, "progress": False, "skeleton_cache": False}
    with pytest.warns(UserWarning, match=r"the prediction horse.png has no value above 1 of 255.* if it is a 0/1 "
                                         r"mask, write it as 0/255"):
        evaluate_folder(tmp_path / "p01", tmp_path / "gt", **kw)
    with pytest.warns(UserWarning, match=r"the prediction horse.png has no value above 1 of 255 \(its maximum is "
                                         r"0.003891 of 1, a 16-bit or float file\)"):
        evaluate_folder(tmp_path / "p16", tmp_path / "gt", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a 0/255 prediction, and a blank one, say nothing
        evaluate_folder(tmp_path / "pred", tmp_path / "gt", **kw)
        cv2.imwrite(str(tmp_path / "pred" / "horse.png"), np.zeros_like(mask, np.uint8))
        evaluate_folder(tmp_path / "pred", tmp_path / "gt", **kw)


def test_merge_refuses_shards_that_paired_different_folders(data, tmp_path):
    # Shards of one split run while the folder was still being filled (or after a file was removed) split
    # different lists of images: some images were in no shard, others in two, and the merge said nothing.
    kw = {"metrics": ("mae",), "workers": 0, "progress": False}
    pred, gt = tmp_path / "pred", tmp_path / "gt"  # copies: the module's dataset is shared
    shutil.copytree(data["good"], pred)
    shutil.copytree(data["gt"], gt)
    (pred / "im5.png").unlink()
    evaluate_folder(pred, gt, out_dir=tmp_path / "r0", shard=(0, 2), **kw)
    shutil.copy(data["good"] / "im5.png", pred / "im5.png")  # the last prediction arrives
    evaluate_folder(pred, gt, out_dir=tmp_path / "r1", shard=(1, 2), **kw)
    with pytest.raises(ValueError, match=r"shards of the 2-way split paired different images \(5 in .*r0', 6 in "
                                         r".*r1'\).*run each shard again"):
        merge_results([tmp_path / "r0", tmp_path / "r1"])
    evaluate_folder(pred, gt, out_dir=tmp_path / "r0", shard=(0, 2), **kw)  # resumes with the new list
    whole = evaluate_folder(pred, gt, **kw)
    assert merge_results([tmp_path / "r0", tmp_path / "r1"]).metrics == whole.metrics
    # as many images, but not the same ones (a GT renamed between the runs)
    (gt / "im0.png").rename(gt / "zz.png")
    shutil.copy(pred / "im0.png", pred / "zz.png")
    evaluate_folder(pred, gt, out_dir=tmp_path / "r1", shard=(1, 2), **kw)
    with pytest.raises(ValueError, match=r"paired different images \(6 in .*r0', 6 in .*r1'\)"):
        merge_results([tmp_path / "r0", tmp_path / "r1"])


def test_a_float_gt_out_of_range_is_an_error_row_not_a_failed_run(tmp_path):
    # A float TIFF GT holding 0/255 made the empty-GT check (run before the evaluation) raise, so the whole run
    # failed with "`gt` of floating dtype must lie in [0, 1]" instead of giving that image an error row.
    for d in ("gt", "pred"):
        (tmp_path / d).mkdir()
    mask = np.zeros((16, 16), np.float32)
    mask[4:12, 4:12] = 1
    cv2.imwrite(str(tmp_path / "gt" / "a.tif"), mask * 255)
    cv2.imwrite(str(tmp_path / "gt" / "b.tif"), mask)
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / "pred" / f"{name}.png"), (mask * 255).astype(np.uint8))
    res = evaluate_folder(tmp_path / "pred", tmp_path / "gt", metrics=("mae",), workers=0, progress=False)
    assert res.num_images == 1 and res.metrics["mae"] == 0.0
    assert "must lie in [0, 1]; got values in [0, 255]" in res.errors["a"]


def test_default_workers_are_the_cores_this_process_may_use(data, monkeypatch):
    # workers=None took os.cpu_count(), the machine's cores: a cluster job given 2 of 128 cores (SLURM's cpuset,
    # taskset) started 128 worker processes, each importing numba and OpenCV, on 2 cores.
    import os

    import segmetrics.app.folder as folder

    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("no CPU affinity on this platform")
    monkeypatch.setattr(os, "cpu_count", lambda: 128)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3, 5})
    seen = []
    real = folder._iter_results

    def spy(tasks, settings, workers, chunksize, executor):
        seen.append(workers)
        return real(tasks, settings, 0, chunksize, executor)

    monkeypatch.setattr(folder, "_iter_results", spy)
    evaluate_folder(data["good"], data["gt"], metrics=("mae",), progress=False, executor="thread")
    assert seen == [2] and folder.default_workers() == 2


def test_image_dir_is_read_only_for_the_metrics_that_need_it(data, tmp_path):
    # --image-dir given with metrics that do not read the RGB image (a script passing it always) still read it
    # for every pair: a GT without an RGB image became an error row, and every resume depended on the images.
    empty = tmp_path / "im"
    empty.mkdir()
    res = evaluate_folder(data["good"], data["gt"], metrics=("mae",), image_dir=empty, workers=0, progress=False)
    assert res.num_images == len(NAMES) and not res.errors


def test_a_colour_mapped_prediction_is_warned_about(tmp_path):
    # matplotlib's imsave writes a 2-D map through the viridis colour map (RGBA): read as OpenCV grey, its levels
    # are not the probabilities (not even monotonic), and every score was computed from them without a word.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage import data as skdata

    coins = skdata.coins()[::4, ::4]
    for sub in ("gt", "cmap", "grey"):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / "gt" / "coins.png"), ((coins > 110) * 255).astype(np.uint8))
    plt.imsave(tmp_path / "cmap" / "coins.png", coins)  # viridis
    plt.imsave(tmp_path / "grey" / "coins.png", coins, cmap="gray")  # RGBA too, but grey: fine
    kw = {"metrics": ("mae",), "workers": 0, "progress": False, "skeleton_cache": False}
    with pytest.warns(UserWarning, match=r"the prediction coins.png is a colour image \(its channels differ\).* "
                                         r"colour map"):
        evaluate_folder(tmp_path / "cmap", tmp_path / "gt", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate_folder(tmp_path / "grey", tmp_path / "gt", **kw)


def test_two_rgb_images_with_one_stem_are_an_error_row_not_a_silent_pick(tmp_path):
    # --image-dir holding coins.jpg and coins.png: the first extension in a fixed order was read without a word,
    # so the ccm score could come from another photo than the user meant.
    from skimage import data as skdata

    coins = skdata.coins()[::4, ::4]
    for sub in ("gt", "pred", "im"):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / "gt" / "coins.png"), ((coins > 110) * 255).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "pred" / "coins.png"), coins)
    rgb = np.repeat(coins[..., None], 3, axis=2)
    cv2.imwrite(str(tmp_path / "im" / "coins.png"), rgb)
    kw = {"metrics": ("ccm",), "workers": 0, "progress": False, "skeleton_cache": False,
          "image_dir": tmp_path / "im", "out_dir": tmp_path / "out"}  # the second run resumes the first
    one = evaluate_folder(tmp_path / "pred", tmp_path / "gt", **kw)
    assert one.num_images == 1 and not one.errors
    cv2.imwrite(str(tmp_path / "im" / "coins.jpg"), rgb[:, ::-1])
    two = evaluate_folder(tmp_path / "pred", tmp_path / "gt", **kw)
    assert two.num_images == 0 and len(two.errors) == 1
    assert ("`image_dir` holds several RGB images with the stem 'coins' (coins.png, coins.jpg); keep one per name"
            in two.errors["coins"]), two.errors


def test_a_mask_kept_in_the_alpha_channel_is_warned_about(tmp_path):
    # A cut-out saved as white colour channels with the mask in alpha reads (alpha ignored, as in OpenCV and
    # pysodmetrics) as an all-255 map: the GT became a full mask and every score was wrong without a word.
    from skimage import data as skdata

    coins = skdata.coins()[::4, ::4]
    mask = ((coins > 110) * 255).astype(np.uint8)
    for sub in ("gt", "alpha_gt", "pred"):
        (tmp_path / sub).mkdir()
    cv2.imwrite(str(tmp_path / "gt" / "coins.png"), mask)
    cv2.imwrite(str(tmp_path / "pred" / "coins.png"), coins)
    rgba = np.dstack([np.full_like(mask, 255)] * 3 + [mask])
    cv2.imwrite(str(tmp_path / "alpha_gt" / "coins.png"), rgba)
    kw = {"metrics": ("mae",), "workers": 0, "progress": False, "skeleton_cache": False}
    with pytest.warns(UserWarning, match=r"the ground truth coins.png has colour channels of one value and its map "
                                         r"in the alpha channel, which is ignored"):
        evaluate_folder(tmp_path / "pred", tmp_path / "alpha_gt", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate_folder(tmp_path / "pred", tmp_path / "gt", **kw)  # a plain grey GT: no warning
