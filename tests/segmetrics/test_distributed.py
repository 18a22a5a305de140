import doctest
import pickle
import socket

import numpy as np
import pytest

import segmetrics
import segmetrics.distributed
from segmetrics import DatasetMetrics, gather_metrics
from tests.segmetrics.cases import make_case

torch = pytest.importorskip("torch")
WORLD = 2


def _images():
    """Real photos (skimage) plus the hard synthetic cases: (name, pred uint8, gt bool)."""
    from skimage import data, filters, transform

    out = []
    for name, img in (("coins", data.coins()), ("camera", data.camera()), ("horse", ~data.horse())):
        img = transform.resize(img.astype(float), (64, 80), anti_aliasing=True)
        img = (img - img.min()) / (img.max() - img.min())
        gt = img > filters.threshold_otsu(img)
        pred = (filters.gaussian(img, sigma=2) * 255).astype(np.uint8)
        out.append((name, pred, gt))
    for name in ("line_1px", "tree_3px", "blob_holes", "empty_gt", "const_pred_128"):
        pred, gt = make_case(name)
        out.append((name, pred, gt))
    return out


def _accumulate(items, **kw):
    acc = DatasetMetrics(per_image=True, **kw)
    for name, pred, gt in items:
        acc.update(pred, gt, name=name)
    return acc


def _worker(rank, port, out_dir):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        items = _images()[rank::WORLD]  # every image exactly once over the ranks
        acc = _accumulate(items)
        before = pickle.dumps(acc)
        res = {"all": gather_metrics(acc), "dst": gather_metrics(acc, dst=1)}
        res["acc_untouched"] = pickle.dumps(acc) == before
        sub = dist.new_group([0, 1])
        res["group"] = gather_metrics(acc, group=sub, dst=0)
        # different options on the two ranks: a clear error on every rank, no hang
        bad = DatasetMetrics(metrics=("mae",) if rank == 0 else ("mae", "sm"))
        try:
            gather_metrics(bad)
        except ValueError as e:
            res["mismatch"] = str(e)
        with open(f"{out_dir}/rank{rank}.pkl", "wb") as f:
            pickle.dump(res, f)
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_same(merged, ref):
    a, b = merged.compute(), ref.compute()
    assert a["n_images"] == b["n_images"]
    for k in ("fm", "em"):
        for part in ("curve", "adaptive", "max", "mean"):
            np.testing.assert_allclose(a[k][part], b[k][part], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a["fm"]["precision"], b["fm"]["precision"], rtol=1e-12, atol=1e-15)
    for k in ("sm", "wfm", "mae"):
        assert a[k] == pytest.approx(b[k], rel=1e-12, abs=1e-15)
    assert a["hce"] == b["hce"]  # integer sums: exact
    rows = sorted(merged.per_image_table(), key=lambda r: r["name"])
    ref_rows = sorted(ref.per_image_table(), key=lambda r: r["name"])
    assert rows == ref_rows


@pytest.fixture(scope="module")
def gathered(tmp_path_factory):
    _accumulate(_images())  # compile (and cache) the numba kernels once here, not in each spawned process
    out = tmp_path_factory.mktemp("dist")
    torch.multiprocessing.spawn(_worker, args=(_free_port(), str(out)), nprocs=WORLD, join=True)
    return [pickle.loads((out / f"rank{r}.pkl").read_bytes()) for r in range(WORLD)]


def test_two_ranks_all_gather_equals_one_accumulator(gathered):
    items = _images()
    ref = _accumulate(items)
    for res in gathered:
        _assert_same(res["all"], ref)
        assert res["acc_untouched"]
    # deterministic: rank order, whatever the arrival order; both ranks hold identical numbers
    a, b = (res["all"] for res in gathered)
    assert a.per_image_table() == b.per_image_table()
    assert [r["name"] for r in a.per_image_table()] == [n for n, _, _ in items[0::2] + items[1::2]]
    np.testing.assert_array_equal(a.compute()["fm"]["curve"], b.compute()["fm"]["curve"])


def test_two_ranks_dst_and_group(gathered):
    ref = _accumulate(_images())
    assert gathered[0]["dst"] is None
    _assert_same(gathered[1]["dst"], ref)
    _assert_same(gathered[0]["group"], ref)
    assert gathered[1]["group"] is None


def test_two_ranks_mismatched_options_raise_on_every_rank(gathered):
    for res in gathered:
        assert "same metrics and options" in res["mismatch"]


def test_no_process_group_is_a_no_op():
    acc = _accumulate(_images()[:2])
    assert gather_metrics(acc) is acc
    assert gather_metrics(acc, dst=0) is acc
    assert gather_metrics(acc, dst=np.int64(0)) is acc  # a numpy rank
    for dst in (1, -1):  # refused with one process as with several: the script would fail on a real job
        with pytest.raises(ValueError, match=rf"`dst` must be a global rank of the group \[0\] .*; got {dst}"):
            gather_metrics(acc, dst=dst)


@pytest.mark.parametrize(
    ("args", "match"),
    [(([1, 2],), "`acc` must be a segmetrics.DatasetMetrics; got list"),
     ((DatasetMetrics(), None, "0"), "`dst` must be an int rank or None; got str"),
     ((DatasetMetrics(), None, True), "`dst` must be an int rank or None; got bool")],
)
def test_bad_arguments(args, match):
    with pytest.raises(TypeError, match=match):
        gather_metrics(*args)


def test_docstring_example_and_public_api():
    assert doctest.testmod(segmetrics.distributed).failed == 0
    assert "gather_metrics" in segmetrics.__all__ and segmetrics.gather_metrics is gather_metrics


def test_import_segmetrics_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, segmetrics, segmetrics.distributed; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
