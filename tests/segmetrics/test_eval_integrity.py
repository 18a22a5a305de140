"""Data integrity and messages of folder evaluation (issue 11, items 3, 6, 7 and 8).

Resume keyed on file content, nothing-evaluated runs and incomplete merges failing loudly, messages that
name the file and its role, CLI flags instead of Python parameter names, Ctrl-C, plain scripts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest

from segmetrics.app.cli import main
from segmetrics.app.folder import NoPairsError, evaluate_folder, load_results, merge_results
from tests.segmetrics.folder_data import NAMES, make_dataset

ROOT = Path(__file__).resolve().parents[2]
KW = {"workers": 0, "progress": False, "skeleton_cache": False, "metrics": ("fm", "mae", "sm")}
CLI = ["--workers", "0", "--no-progress", "--no-skeleton-cache", "--metrics", "fm", "mae"]


@pytest.fixture()
def data(tmp_path):
    return make_dataset(tmp_path / "ds")


def _row(out: Path, name: str) -> dict:
    with open(out / "per_image.csv") as f:
        import csv

        return next(r for r in csv.DictReader(f) if r["name"] == name)


# ------------------------------------------------------------------------------------------- item 6


def test_resume_recomputes_rows_whose_files_changed(data, tmp_path, capsys):
    out = tmp_path / "out"
    first = evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)
    stale = float(_row(out, "im1")["fm.max"])
    # overwrite one prediction with another method's map, as a user re-exporting a model would
    shutil.copyfile(data["bad"] / "im1.png", data["good"] / "im1.png")
    again = evaluate_folder(data["good"], data["gt"], out_dir=out, **{**KW, "progress": True})
    fresh = evaluate_folder(data["good"], data["gt"], out_dir=tmp_path / "fresh", **KW)
    assert (again.reused, again.recomputed) == (len(NAMES) - 1, 1)
    assert again.metrics == fresh.metrics and again.metrics != first.metrics
    assert float(_row(out, "im1")["fm.max"]) == float(_row(tmp_path / "fresh", "im1")["fm.max"]) != stale
    assert "5 row(s) reused, 1 recomputed because a file changed" in capsys.readouterr().err
    # a changed GT is seen too
    gt = cv2.imread(str(data["gt"] / "im0.png"), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(data["gt"] / "im0.png"), 255 - gt)
    third = evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)
    assert (third.reused, third.recomputed) == (len(NAMES) - 1, 1)


def test_resume_reuses_touched_but_identical_files_and_counts_in_the_cli(data, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(out), *CLI]
    assert main(args) == 0
    p = data["good"] / "im2.png"
    st = p.stat()
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same bytes, new mtime: hashed, reused
    capsys.readouterr()
    assert main(args) == 0
    assert f"{len(NAMES)} images ({len(NAMES)} reused from the previous run, 0 recomputed" in capsys.readouterr().err
    im3 = cv2.imread(str(data["good"] / "im3.png"), cv2.IMREAD_UNCHANGED)
    cv2.imwrite(str(data["good"] / "im3.png"), 255 - im3)
    assert main(args) == 0
    assert f"({len(NAMES) - 1} reused from the previous run, 1 recomputed because a file changed)" in (
        capsys.readouterr().err
    )


# ------------------------------------------------------------------------------------------- item 7


def test_nothing_to_evaluate_fails_with_what_to_do(data, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoPairsError, match=r"`pred_dir` '.*empty' holds no images"):
        evaluate_folder(empty, data["gt"], **KW)
    with pytest.raises(NoPairsError, match=r"`gt_dir` '.*empty' holds no images"):
        evaluate_folder(data["good"], empty, **KW)
    assert main(["eval", "--pred", str(empty), "--gt", str(data["gt"]), "--out", str(tmp_path / "o"), *CLI]) == 2
    assert "--pred" in capsys.readouterr().err
    # predictions saved as <stem>_pred.png: the message suggests the suffix
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for f in data["good"].iterdir():
        shutil.copyfile(f, renamed / f"{f.stem}_pred{f.suffix}")
    with pytest.raises(NoPairsError, match=r"pass suffix='_pred' \(--suffix _pred\)"):
        evaluate_folder(renamed, data["gt"], **KW)
    assert main(["eval", "--pred", str(renamed), "--gt", str(data["gt"]), "--out", str(tmp_path / "o"), *CLI]) == 2
    err = capsys.readouterr().err
    assert "pass --suffix _pred" in err and "suffix=" not in err and "`" not in err
    assert main(["eval", "--pred", str(renamed), "--gt", str(data["gt"]), "--suffix", "_pred",
                 "--out", str(tmp_path / "ok"), *CLI]) == 0


def test_stats_on_an_empty_folder_fails(tmp_path, capsys):
    (tmp_path / "gt").mkdir()
    assert main(["stats", "--gt", str(tmp_path / "gt"), "--no-progress"]) == 2
    assert "holds no images" in capsys.readouterr().err


def test_merge_with_a_missing_shard_fails(data, tmp_path, capsys):
    outs = []
    for k in range(3):
        outs.append(tmp_path / f"rank{k}")
        evaluate_folder(data["good"], data["gt"], out_dir=outs[-1], shard=(k, 3), **KW)
        meta = json.loads((outs[-1] / "records.jsonl").read_text().splitlines()[0])
        assert meta["shard"] == [k, 3] and meta["pairs_total"] == len(NAMES)
    whole = evaluate_folder(data["good"], data["gt"], **KW)
    assert merge_results(outs).metrics == whole.metrics
    with pytest.raises(ValueError, match=r"lacks shard\(s\) 1/3 of the 3-way split"):
        merge_results([outs[0], outs[2]])
    assert main(["eval", "--merge", str(outs[0]), str(outs[2]), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "lacks shard(s) 1/3" in err and "--shard i/3" in err and "shard=" not in err
    # a different shard cannot resume into the same folder
    with pytest.raises(ValueError, match=r"holds shard 0/3 and this run is shard 1/3"):
        evaluate_folder(data["good"], data["gt"], out_dir=outs[0], shard=(1, 3), **KW)


# ------------------------------------------------------------------------------------------- item 8


def test_read_errors_name_the_role_and_the_path(data, tmp_path):
    (data["gt"] / "im1.png").write_bytes(b"not a png")
    res = evaluate_folder(data["bad"], data["gt"], **KW)
    assert res.errors["im3"].startswith(f"cannot decode the prediction {data['bad'] / 'im3.png'}: ")
    assert res.errors["im1"].startswith(f"cannot decode the ground truth {data['gt'] / 'im1.png'}: ")


def test_cli_messages_use_flags_hce_picture_errors_and_plot_of_an_empty_result(data, tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(out), *CLI]) == 0
    # other settings into the same folder: the message names --out and --overwrite
    assert main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(out),
                 "--workers", "0", "--no-progress", "--metrics", "mae"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "pass --overwrite or another folder" in err and "overwrite=True" not in err
    # hce-picture with a missing / corrupt file: one line, no traceback
    png = tmp_path / "x.png"
    for pred in (tmp_path / "missing.png", data["bad"] / "im3.png"):
        assert main(["hce-picture", "--pred", str(pred), "--gt", str(data["gt"] / "im0.png"), "--out", str(png)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and f"the prediction {pred}" in err
    # plot of a result where every image failed
    broken = tmp_path / "broken"
    broken.mkdir()
    for n in NAMES:
        (broken / f"{n}.png").write_bytes(b"corrupt")
    assert main(["eval", "--pred", str(broken), "--gt", str(data["gt"]), "--out", str(tmp_path / "b"), *CLI]) == 1
    assert load_results(tmp_path / "b").num_images == 0
    capsys.readouterr()
    assert main(["plot", str(tmp_path / "b"), "--out", str(tmp_path / "fig")]) == 2
    err = capsys.readouterr().err
    assert "holds no evaluated image" in err and "--metrics" not in err


def test_ctrl_c_says_how_to_resume(data, tmp_path, capsys, monkeypatch):
    import segmetrics.app.folder

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(segmetrics.app.folder, "evaluate_folder", interrupted)
    code = main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(tmp_path / "o"), *CLI])
    err = capsys.readouterr().err
    assert code == 130 and "interrupted" in err and "re-run the same command to resume" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


# ------------------------------------------------------------------------------------------- item 3


def _script(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "evaluate.py"
    script.write_text(textwrap.dedent(body))
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)


def test_evaluate_folder_from_a_plain_script_without_main_guard(data, tmp_path):
    proc = _script(tmp_path, f"""
        import segmetrics as sm
        res = sm.evaluate_folder({str(data['good'])!r}, {str(data['gt'])!r}, out_dir="out", workers=2,
                                 metrics=("fm", "mae"), progress=False, skeleton_cache=False)
        print("n =", res.num_images)
        """)
    assert proc.returncode == 0, proc.stderr
    assert f"n = {len(NAMES)}" in proc.stdout
    assert "RuntimeWarning" in proc.stderr and "uses threads" in proc.stderr
    assert "out of memory" not in proc.stderr
    assert load_results(tmp_path / "out").num_images == len(NAMES)


def test_process_executor_without_main_guard_is_refused_before_writing(data, tmp_path):
    proc = _script(tmp_path, f"""
        import segmetrics as sm
        sm.evaluate_folder({str(data['good'])!r}, {str(data['gt'])!r}, out_dir="out", workers=2,
                           executor="process", metrics=("mae",), progress=False, skeleton_cache=False)
        """)
    assert proc.returncode != 0
    assert 'if __name__ == "__main__":' in proc.stderr and "out of memory" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_plain_script_detection_accepts_the_guard(tmp_path):
    import ast

    from segmetrics.app.folder import _is_main_guard

    for src, ok in (('__name__ == "__main__"', True), ('"__main__" == __name__', True), ("x == 1", False),
                    ('__name__ != "__main__"', False)):
        assert _is_main_guard(ast.parse(src, mode="eval").body) is ok


def test_broken_pool_at_start_up_does_not_blame_memory(monkeypatch):
    from concurrent.futures.process import BrokenProcessPool

    import segmetrics.app.folder as folder

    class Fut:
        def result(self):
            raise BrokenProcessPool("boom")

    class Pool:
        def __init__(self, *a, **k):
            pass

        def submit(self, *a, **k):
            return Fut()

        def shutdown(self, **k):
            pass

    monkeypatch.setattr("concurrent.futures.ProcessPoolExecutor", Pool)
    tasks = [(f"a{i}", "p", "g") for i in range(4)]
    with pytest.raises(RuntimeError, match="failed at start-up") as exc:
        list(folder._iter_results(tasks, None, 2, 1, "process"))
    assert "memory" not in str(exc.value)


# ------------------------------------------------------------------------------ adversarial folder pass


def test_two_runs_into_one_out_dir_the_second_is_refused_and_the_first_is_intact(data, tmp_path, capsys):
    from segmetrics.app.journal import OutDirInUseError, lock_out_dir

    out = tmp_path / "out"
    first = evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)
    journal = (out / "records.jsonl").read_bytes()
    with lock_out_dir(out):  # another evaluation (process or thread) is writing there
        with pytest.raises(OutDirInUseError, match=r"`out_dir` .* is being written by an evaluation that is still"):
            evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)
        with pytest.raises(ValueError, match=r"`shard_dirs` .* is being written by an evaluation"):
            merge_results([out], out)
        assert main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(out), *CLI]) == 2
        assert "--out" in capsys.readouterr().err
    assert (out / "records.jsonl").read_bytes() == journal  # neither truncated nor appended to
    again = evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)  # the lock is released after a run
    assert again.reused == len(NAMES) and again.metrics == first.metrics


@pytest.mark.parametrize("shard", [(3, 2), (2, 2), (0, 0), (-1, 2)])
def test_a_bad_shard_is_a_usage_error_before_any_folder_is_read(tmp_path, shard):
    with pytest.raises(ValueError, match=r"`shard` must be \(index, count\) with 0 <= index < count"):
        evaluate_folder(tmp_path / "no-preds", tmp_path / "no-gt", shard=shard, **KW)


def test_an_unusable_out_dir_is_named_by_its_flag(data, tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(FileExistsError, match=r"`out_dir` .*afile' is a file, not a folder"):
        evaluate_folder(data["good"], data["gt"], out_dir=afile, **KW)
    with pytest.raises(OSError, match=r"`out_dir` .*sub' cannot be created: Not a directory"):
        evaluate_folder(data["good"], data["gt"], out_dir=afile / "sub", **KW)
    import segmetrics.app.journal as journal

    monkeypatch.setattr(journal.os, "access", lambda *a, **k: False)  # a read-only folder (root ignores chmod)
    ro = tmp_path / "ro"
    assert main(["eval", "--pred", str(data["good"]), "--gt", str(data["gt"]), "--out", str(ro), *CLI]) == 2
    err = capsys.readouterr().err
    assert "--out '" in err and "is not writable" in err and not (ro / "records.jsonl").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_workers_end_when_the_parent_is_killed(tmp_path):
    # The OOM killer or a scheduler's kill -9 on `segmetrics eval` left its idle pool workers alive for ever.
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing as mp, os, signal, sys
        from concurrent.futures import ProcessPoolExecutor
        from segmetrics.app.folder import _init_worker
        if __name__ == "__main__":
            pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_init_worker)
            print(pool.submit(os.getpid).result(), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    """))
    log = tmp_path / "pid.txt"
    with open(log, "w") as f:  # a file, not a pipe: an orphaned worker would hold a pipe open
        subprocess.run([sys.executable, str(script)], stdout=f, cwd=ROOT, timeout=60,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    worker = int(log.read_text().split()[0])
    import time

    for _ in range(100):
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(worker, 9)
    pytest.fail("the pool worker outlived its killed parent")


def test_merge_refuses_a_shard_whose_run_did_not_finish_or_is_running(data, tmp_path, capsys):
    from segmetrics.app.journal import lock_out_dir

    dirs = [tmp_path / f"r{i}" for i in range(2)]
    for i, d in enumerate(dirs):
        evaluate_folder(data["good"], data["gt"], out_dir=d, shard=(i, 2), **KW)
    whole = merge_results(dirs)
    with lock_out_dir(dirs[1]):  # shard 1 is still being evaluated
        with pytest.raises(ValueError, match=r"`shard_dirs` .*r1' is being written by an evaluation that is still"):
            merge_results(dirs)
    journal = dirs[0] / "records.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:-1]))  # shard 0 was killed before its last image
    with pytest.raises(ValueError, match=r"`shard_dirs` entry .*r0' holds 2 of its 3 images: its run did not finish"):
        merge_results(dirs)
    assert main(["eval", "--merge", *map(str, dirs), "--out", str(tmp_path / "all")]) == 2
    assert "--merge entry" in capsys.readouterr().err
    evaluate_folder(data["good"], data["gt"], out_dir=dirs[0], shard=(0, 2), **KW)  # resumed
    assert merge_results(dirs).metrics == whole.metrics and whole.num_images == len(NAMES)


def test_resume_sees_a_rewrite_that_kept_the_size_and_restored_the_mtime(tmp_path):
    # A same-size rewrite (BMP, uncompressed TIFF) whose mtime was put back (cp -p, rsync -t, touch -r, image
    # tools that preserve times) matched the stored size + mtime and the stale row was reused without a read.
    from skimage import data as skdata

    coins = skdata.coins()[:64, :64]
    for d in ("gt", "pred"):
        (tmp_path / d).mkdir()
    cv2.imwrite(str(tmp_path / "gt" / "a.bmp"), ((coins > 110) * 255).astype("uint8"))
    p = tmp_path / "pred" / "a.bmp"
    cv2.imwrite(str(p), coins)
    kw = {**KW, "metrics": ("mae",)}
    first = evaluate_folder(tmp_path / "pred", tmp_path / "gt", out_dir=tmp_path / "out", **kw)
    st = p.stat()
    cv2.imwrite(str(p), 255 - coins)  # another map, the same number of bytes
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert p.stat().st_size == st.st_size and p.stat().st_mtime_ns == st.st_mtime_ns
    again = evaluate_folder(tmp_path / "pred", tmp_path / "gt", out_dir=tmp_path / "out", **kw)
    fresh = evaluate_folder(tmp_path / "pred", tmp_path / "gt", **kw)
    assert (again.reused, again.recomputed) == (0, 1)
    assert again.metrics == fresh.metrics != first.metrics
    # untouched files are still reused without hashing them again
    third = evaluate_folder(tmp_path / "pred", tmp_path / "gt", out_dir=tmp_path / "out", **kw)
    assert (third.reused, third.recomputed) == (1, 0)


def test_resume_recomputes_ccm_rows_whose_rgb_image_changed(data, tmp_path):
    # The RGB images of image_dir (read by ccm) were neither in the row's fingerprints nor in the journal's
    # sources: resuming with another --image-dir, or after an image was replaced, reused the stale ccm rows.
    from skimage import data as skdata

    ims = {k: tmp_path / k for k in ("im", "im2")}
    for k, d in ims.items():
        d.mkdir()
        photo = skdata.astronaut() if k == "im" else skdata.chelsea()
        for name in NAMES:
            h, w = cv2.imread(str(data["gt"] / f"{name}.png"), cv2.IMREAD_GRAYSCALE).shape
            cv2.imwrite(str(d / f"{name}.jpg"), cv2.resize(photo, (w, h))[:, :, ::-1])
    kw = {**KW, "metrics": ("ccm",)}
    out = tmp_path / "out"
    first = evaluate_folder(data["good"], data["gt"], out_dir=out, image_dir=ims["im"], **kw)
    again = evaluate_folder(data["good"], data["gt"], out_dir=out, image_dir=ims["im2"], **kw)
    fresh = evaluate_folder(data["good"], data["gt"], image_dir=ims["im2"], **kw)
    assert (again.reused, again.recomputed) == (0, len(NAMES))
    assert again.metrics == fresh.metrics != first.metrics
    # one image replaced in place: that row only
    shutil.copyfile(ims["im"] / "im1.jpg", ims["im2"] / "im1.jpg")
    third = evaluate_folder(data["good"], data["gt"], out_dir=out, image_dir=ims["im2"], **kw)
    assert (third.reused, third.recomputed) == (len(NAMES) - 1, 1)
    assert third.metrics == evaluate_folder(data["good"], data["gt"], image_dir=ims["im2"], **kw).metrics


def test_rows_of_images_no_longer_paired_leave_the_csv_and_the_merge(data, tmp_path):
    # After a prediction (or a GT) was removed, the resumed run left the image out of results.json but kept
    # its old row in records.jsonl and per_image.csv, so `--merge` of the folder counted the removed image.
    out = tmp_path / "out"
    evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)
    (data["good"] / "im1.png").unlink()
    (data["gt"] / "im4.png").unlink()
    again = evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)
    assert again.num_images == len(NAMES) - 2 and again.missing == ["im1"]
    import csv

    with open(out / "per_image.csv") as f:
        assert [r["name"] for r in csv.DictReader(f)] == [n for n in NAMES if n not in ("im1", "im4")]
    merged = merge_results([out])
    assert merged.num_images == again.num_images and merged.metrics == again.metrics
    assert merged.missing == ["im1"]
    # the header's pair count follows the folders (a merge compares it with the rows to see an unfinished run)
    assert json.loads((out / "records.jsonl").read_text().splitlines()[0])["pairs_total"] == len(NAMES) - 2


def test_an_interrupted_rerun_leaves_no_stale_results_json(data, tmp_path, capsys, monkeypatch):
    # results.json is written at the end of a run. A re-run that recomputed changed files and was interrupted
    # left the previous run's results.json in place, so `segmetrics table` / `plot` showed the numbers of the
    # old files as the folder's results.
    import segmetrics.app.folder

    out = tmp_path / "out"
    evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)
    shutil.copyfile(data["bad"] / "im1.png", data["good"] / "im1.png")
    real = segmetrics.app.folder.evaluate_pair
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(args[0])
        raise KeyboardInterrupt

    monkeypatch.setattr(segmetrics.app.folder, "evaluate_pair", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)
    assert calls == ["im1"] and not (out / "results.json").exists()
    assert main(["table", str(out)]) == 2
    assert "no results file" in capsys.readouterr().err
    monkeypatch.setattr(segmetrics.app.folder, "evaluate_pair", real)
    again = evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)  # resumes and writes it again
    assert load_results(out).metrics == again.metrics
    # a run with nothing to compute keeps the folder's results.json while it runs
    monkeypatch.setattr(segmetrics.app.folder, "evaluate_pair", interrupted)
    assert evaluate_folder(data["good"], data["gt"], out_dir=out, **KW).reused == len(NAMES)


def test_rows_of_another_segmetrics_version_are_not_reused_or_merged(data, tmp_path, capsys):
    # The journal did not record which segmetrics computed its rows: after an upgrade that changes a metric, a
    # resumed run reused every old row (and a merge mixed shards of two versions) with no word said.
    import segmetrics

    def set_version(folder: Path, version: str) -> None:
        lines = (folder / "records.jsonl").read_text().splitlines(keepends=True)
        header = json.loads(lines[0])
        assert header["version"] == segmetrics.__version__
        header["version"] = version
        (folder / "records.jsonl").write_text(json.dumps(header) + "\n" + "".join(lines[1:]))

    out = tmp_path / "out"
    evaluate_folder(data["good"], data["gt"], out_dir=out, **KW)
    set_version(out, "0.0.1")
    again = evaluate_folder(data["good"], data["gt"], out_dir=out, **{**KW, "progress": True})
    assert (again.reused, again.recomputed) == (0, 0) and again.num_images == len(NAMES)
    assert f"computed by segmetrics 0.0.1; this is {segmetrics.__version__}" in capsys.readouterr().err
    assert evaluate_folder(data["good"], data["gt"], out_dir=out, **KW).reused == len(NAMES)  # now current
    ranks = [tmp_path / f"r{k}" for k in range(2)]
    for k, r in enumerate(ranks):
        evaluate_folder(data["good"], data["gt"], out_dir=r, shard=(k, 2), **KW)
    assert merge_results([*ranks, merge_results(ranks, tmp_path / "all").out_dir]).num_images == len(NAMES)
    set_version(ranks[1], "0.0.1")
    with pytest.raises(ValueError, match=rf"by segmetrics {segmetrics.__version__} and .*r1' by segmetrics 0.0.1"):
        merge_results(ranks)


def test_merge_refuses_a_shard_whose_rerun_was_interrupted(data, tmp_path, monkeypatch):
    # A shard re-run after one of its files changed, then interrupted, still had a full journal, so the merge
    # took the changed image's old row; a folder without results.json (its run did not end) is now refused.
    import segmetrics.app.folder

    ranks = [tmp_path / f"r{k}" for k in range(2)]
    for k, r in enumerate(ranks):
        evaluate_folder(data["good"], data["gt"], out_dir=r, shard=(k, 2), **KW)
    shutil.copyfile(data["bad"] / "im0.png", data["good"] / "im0.png")  # im0 is in shard 0

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(segmetrics.app.folder, "evaluate_pair", interrupted)
    with pytest.raises(KeyboardInterrupt):
        evaluate_folder(data["good"], data["gt"], out_dir=ranks[0], shard=(0, 2), **KW)
    with pytest.raises(ValueError, match=r"`shard_dirs` entry '.*r0' has no results.json: its run did not finish"):
        merge_results(ranks)
