"""examples/train_isnet.py, tiny configuration: both stages, exact resume, DDP validation, atomic saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import train_isnet
from isnet_model import ISNetDIS, ISNetGTEncoder

SCRIPT = Path(train_isnet.__file__)
TINY = ["--preset", "tiny"]


def _run(tmp: Path, *extra: str) -> dict:
    return train_isnet.main([*TINY, "--out", str(tmp), *extra])


def test_tiny_run_trains_both_stages_and_writes_everything(tmp_path):
    summary = _run(tmp_path)
    out = Path(summary["out"])
    for name in ("checkpoint.pt", "config.json", "best.pt", "gt_encoder.pt", "metrics.json", "curve.png"):
        assert (out / name).is_file(), name
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["preset"] == "tiny" and cfg["feature_sync"] is True and cfg["width"] == 0.0625
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ckpt["progress"]["stage"] == "done"
    assert ckpt["progress"]["gt"]["iteration"] == cfg["gt_iters"]
    assert ckpt["progress"]["image"]["iteration"] == cfg["iters"]
    ISNetDIS(width=cfg["width"]).load_state_dict(ckpt["model"], strict=True)
    ISNetGTEncoder(width=cfg["width"]).load_state_dict(torch.load(out / "gt_encoder.pt"), strict=True)
    pngs = sorted((out / "predictions" / "final" / "synthetic-val").glob("*.png"))
    assert len(pngs) == cfg["val_samples"]
    metrics = json.loads((out / "metrics.json").read_text())
    # untrained + validations every 3 iterations up to 6
    assert [h["iteration"] for h in metrics["history"]] == [0, 3, 6]
    for row in [*(h["results"]["synthetic-val"] for h in metrics["history"]),
                *metrics["baselines"]["synthetic-val"].values()]:
        assert set(row) == {"n", "maxF", "wF", "MAE", "Sm", "Em", "HCE"}
        assert row["n"] == cfg["val_samples"]
        assert 0 <= row["maxF"] <= 1 and 0 <= row["MAE"] <= 1 and row["HCE"] >= 0
    zero = metrics["baselines"]["synthetic-val"]["all-zero"]
    assert zero["wF"] < 0.05 and zero["HCE"] > 0  # predicts nothing: every GT boundary point is an error
    # the losses were logged from device accumulators every log_every steps
    assert [r["iteration"] for r in metrics["loss"] if r["stage"] == "image"] == [2, 4, 6]
    assert all(r["feature"] > 0 for r in metrics["loss"] if r["stage"] == "image")
    # generated data have no GT folder: the run writes the validation GTs beside the predictions, and
    # `segmetrics eval` on the two folders gives the final validation row
    gts = sorted((out / "predictions" / "final" / "synthetic-val-gt").glob("*.png"))
    assert [p.name for p in gts] == [p.name for p in pngs]
    from segmetrics import evaluate_folder

    res = evaluate_folder(out / "predictions" / "final" / "synthetic-val", gts[0].parent, metrics=("fm", "hce"),
                          workers=0, progress=False)
    final = metrics["history"][-1]["results"]["synthetic-val"]
    assert res.metrics["fm.max"] == pytest.approx(final["maxF"], rel=1e-9, abs=1e-9)
    assert res.metrics["hce"] == pytest.approx(final["HCE"], rel=1e-9, abs=1e-9)


def test_no_feature_sync_skips_stage_one(tmp_path):
    summary = _run(tmp_path, "--no-feature-sync", "--iters", "2", "--val-every", "2", "--save-predictions", "none")
    assert summary["progress"]["gt"]["iteration"] == 0
    assert summary["progress"]["image"]["iteration"] == 2
    assert summary["predictions"] is None
    assert not (tmp_path / "gt_encoder.pt").exists()


def test_runs_to_the_end_without_matplotlib(tmp_path, monkeypatch, capsys):
    # README set-up: `pip install . && python examples/train_isnet.py`; matplotlib is only the `plot` extra
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    summary = _run(tmp_path, "--no-feature-sync", "--iters", "2", "--val-every", "2", "--save-predictions", "none")
    assert summary["progress"]["image"]["iteration"] == 2
    assert (tmp_path / "metrics.json").is_file() and not (tmp_path / "curve.png").exists()
    note = 'note: curve.png not drawn: it needs matplotlib (pip install "segloss-segmetrics[plot]")'
    printed = "".join(capsys.readouterr())
    assert note in printed
    assert "device cpu, amp off," in printed  # the header names the autocast mode (it printed "amp None")


class _Killed(RuntimeError):
    pass


def _kill_at(monkeypatch, stage, iteration):
    def hook(s, it):
        if (s, it) == (stage, iteration):
            raise _Killed(f"killed at {s} {it}")

    monkeypatch.setattr(train_isnet, "on_step", hook)


def _run_killed_at(monkeypatch, out, args, stage, iteration):
    """Run into ``out``, stopped after ``(stage, iteration)`` as by a kill (that step's checkpoint, if any, written)."""
    _kill_at(monkeypatch, stage, iteration)
    with pytest.raises(_Killed):
        _run(out, *args)
    monkeypatch.setattr(train_isnet, "on_step", lambda s, it: None)


def test_kill_and_resume_is_bit_exact(tmp_path, monkeypatch):
    # with the cosine schedule: the learning rate is a function of the iteration, so it resumes exactly too
    args = ["--gt-iters", "4", "--gt-val-every", "4", "--iters", "6", "--ckpt-every", "2", "--save-predictions", "none",
            "--lr-schedule", "cosine"]
    _run(tmp_path / "straight", *args)
    # killed in stage 1 after the checkpoint of iteration 2, then in stage 2 after the one of iteration 4
    _kill_at(monkeypatch, "gt", 3)
    with pytest.raises(_Killed):
        _run(tmp_path / "killed", *args)
    _kill_at(monkeypatch, "image", 5)
    with pytest.raises(_Killed):
        _run(tmp_path / "killed", *args, "--resume")
    monkeypatch.setattr(train_isnet, "on_step", lambda s, it: None)
    summary = _run(tmp_path / "killed", *args, "--resume")
    assert summary["progress"]["image"]["iteration"] == 6
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=False)
    for key in ("model", "gt_encoder"):
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f"{key}.{name}"
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a["history"] == b["history"]


def test_cosine_schedule():
    cfg = train_isnet.Config(lr=1e-3, lr_schedule="cosine")
    assert [train_isnet.scheduled_lr(cfg, it, 4) for it in (0, 2, 4, 9)] == pytest.approx([1e-3, 5e-4, 0, 0])
    assert train_isnet.scheduled_lr(cfg, 3, 0) == 1e-3  # no cap (early stop): constant
    constant = train_isnet.Config(lr=1e-3)
    assert constant.lr_schedule == "constant" and train_isnet.scheduled_lr(constant, 3, 4) == 1e-3
    assert all("lr_schedule" not in preset for preset in train_isnet.PRESETS.values())  # opt-in


def test_ddp_two_cpu_processes_validate_like_one(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ddp = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(SCRIPT), *TINY,
           "--out", str(ddp), "--gt-iters", "2", "--iters", "2", "--val-every", "2", "--save-predictions", "none"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    merged = json.loads((ddp / "metrics.json").read_text())["history"][-1]["results"]["synthetic-val"]
    assert merged["n"] == 4  # every validation image counted once across the two ranks
    single = train_isnet.main(["--eval-only", "--resume", str(ddp / "checkpoint.pt"), "--out", str(tmp_path / "one")])
    one = single["results"]["synthetic-val"]
    assert one.keys() == merged.keys()
    for k in one:
        assert one[k] == pytest.approx(merged[k], rel=1e-12, abs=1e-12), k


def test_logged_loss_is_the_mean_over_every_process(tmp_path):
    # with DDP the logged loss (progress bar, metrics.json) used to be rank 0's share only
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import json, sys, torch, torch.distributed as dist\n"
        f"sys.path.insert(0, {str(SCRIPT.parent)!r})\n"
        "import train_isnet\n"
        "dist.init_process_group('gloo')\n"
        "ctx = train_isnet.Context(torch.device('cpu'), rank=dist.get_rank(), world=dist.get_world_size())\n"
        "mine = torch.tensor([1.0, 2.0, 3.0]) * (ctx.rank + 1)\n"
        "total = train_isnet.sum_over_ranks(mine, ctx)\n"
        f"open({str(tmp_path)!r} + f'/r{{ctx.rank}}.json', 'w').write(json.dumps([total.tolist(), mine.tolist()]))\n"
        "dist.destroy_process_group()\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(probe)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for rank in (0, 1):
        total, mine = json.loads((tmp_path / f"r{rank}.json").read_text())
        assert total == [3.0, 6.0, 9.0] and mine == [float(rank + 1) * v for v in (1, 2, 3)]  # input untouched
    one = torch.tensor([1.0, 2.0])
    assert train_isnet.sum_over_ranks(one, train_isnet.Context(torch.device("cpu"))) is one


def test_atomic_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    train_isnet.atomic_save({"iteration": 1, "w": torch.arange(4.0)}, path)

    def broken_save(obj, f, *a, **k):
        Path(f).write_bytes(b"partial")  # half-written file, then the "kill"
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        train_isnet.atomic_save({"iteration": 2}, path)
    monkeypatch.undo()
    assert torch.load(path)["iteration"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_augmentation_and_sampler_are_pure_functions_of_position():
    ds = list(range(10))
    full = train_isnet.ResumableSampler(ds, world=1, rank=0, seed=3, stage=2)
    full.set_epoch(1)
    late = train_isnet.ResumableSampler(ds, world=1, rank=0, seed=3, stage=2)
    late.set_epoch(1)
    late.start = 4
    assert list(late) == list(full)[4:] and len(late) == 6
    assert sorted(i for i, _ in full) == ds
    flips = [train_isnet.flip_decision(0, key) for _, key in full]
    assert flips == [train_isnet.flip_decision(0, key) for _, key in full]
    assert 0 < sum(flips) < len(flips)
    # two ranks split one epoch into disjoint halves
    r0, r1 = (train_isnet.ResumableSampler(ds, world=2, rank=r, seed=3, stage=2) for r in (0, 1))
    assert sorted([i for i, _ in r0] + [i for i, _ in r1]) == ds


def test_help_lists_every_preset_and_the_main_flags():
    text = train_isnet.build_parser().format_help()
    for word in ("smoke", "paper", "tiny", "--no-feature-sync", "--gt-encoder-mode", "--resume", "--amp",
                 "--compile", "--channels-last", "--fused-adam", "--data", "--val-every", "--ckpt-every",
                 "--input-size"):
        assert word in text


def test_resume_without_checkpoint_is_explained(tmp_path):
    with pytest.raises(SystemExit, match="--resume: no checkpoint at"):
        train_isnet.main([*TINY, "--out", str(tmp_path), "--resume"])


def test_dis5k_folders_evaluate_at_the_original_size_like_segmetrics_eval(tmp_path):
    import dis_synth
    import numpy as np
    from PIL import Image

    from segmetrics import evaluate_folder

    root = tmp_path / "DIS5K"
    dis_synth.write_dataset(root, 6, size=(48, 40), seed=1, split_name="DIS-TR")
    vd = dis_synth.write_dataset(root, 3, size=(48, 40), seed=2, split_name="DIS-VD")
    dis_synth.write_dataset(root, 2, size=(36, 52), seed=3, split_name="DIS-TE1")
    summary = _run(tmp_path / "run", "--data", str(root), "--no-feature-sync", "--iters", "2", "--val-every", "2")
    assert set(summary["final"]) == {"DIS-VD"} and set(summary["tests"]) == {"DIS-TE1"}
    pred_dir = Path(summary["predictions"]) / "DIS-VD"
    pngs = sorted(pred_dir.glob("*.png"))
    assert [p.stem for p in pngs] == ["0000", "0001", "0002"]
    assert all(np.asarray(Image.open(p)).shape == (48, 40) for p in pngs)  # the original size, not 64²
    assert np.asarray(Image.open(next((pred_dir.parent / "DIS-TE1").glob("*.png")))).shape == (36, 52)
    ref = evaluate_folder(pred_dir, vd / "gt", metrics=("fm", "wfm", "mae", "sm", "em", "hce"), workers=0,
                          progress=False)
    ours = summary["final"]["DIS-VD"]
    for key, theirs in (("maxF", "fm.max"), ("wF", "wfm"), ("MAE", "mae"), ("Sm", "sm"), ("Em", "em.mean"),
                        ("HCE", "hce")):
        assert ours[key] == pytest.approx(ref.metrics[theirs], rel=1e-9, abs=1e-9), key


def test_gpu_options_run_on_cpu(tmp_path):
    # bf16 autocast, channels_last and the fused Adam kernel take the same code path as on a GPU
    summary = _run(tmp_path, "--amp", "bf16", "--channels-last", "--fused-adam", "on", "--gt-iters", "2",
                   "--iters", "2", "--val-every", "2", "--save-predictions", "none", "--gt-encoder-mode", "official")
    row = summary["final"]["synthetic-val"]
    assert all(v == v for v in row.values())  # finite, no NaN
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert ckpt["config"]["amp"] == "bf16" and ckpt["config"]["gt_encoder_mode"] == "official"


def test_input_size_predicts_at_the_data_size_and_resumes_exactly(tmp_path, monkeypatch):
    # data drawn at 64², model fed 96²: the side outputs and the features are at 96², the predictions written at 64²
    args = ["--input-size", "96", "--gt-iters", "2", "--gt-val-every", "2", "--iters", "4", "--val-every", "4",
            "--ckpt-every", "2"]
    straight = _run(tmp_path / "straight", *args)
    cfg = json.loads((tmp_path / "straight" / "config.json").read_text())
    assert cfg["input_size"] == 96 and cfg["size"] == 64
    pngs = sorted(Path(straight["predictions"], "synthetic-val").glob("*.png"))
    assert len(pngs) == cfg["val_samples"]
    from PIL import Image

    assert {Image.open(p).size for p in pngs} == {(64, 64)}
    from segmetrics import evaluate_folder

    res = evaluate_folder(pngs[0].parent, Path(straight["predictions"], "synthetic-val-gt"), metrics=("fm",),
                          workers=0, progress=False)
    assert res.metrics["fm.max"] == pytest.approx(straight["final"]["synthetic-val"]["maxF"], abs=1e-9)
    # the baselines see the same 64² data whatever the model's input size
    plain = _run(tmp_path / "plain", "--gt-iters", "2", "--gt-val-every", "2", "--iters", "2", "--val-every", "2",
                 "--save-predictions", "none")
    assert plain["baselines"] == straight["baselines"]
    _run_killed_at(monkeypatch, tmp_path / "killed", args, "image", 3)
    _run(tmp_path / "killed", *args, "--resume")
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=False)
    assert b["config"]["input_size"] == 96
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name


def test_prepare_resizes_to_the_input_size_only_when_asked():
    ctx = train_isnet.Context(device=torch.device("cpu"))
    x = torch.rand(2, 1, 16, 16)
    assert train_isnet._prepare(x, train_isnet.Config(size=16), ctx) is x
    y = train_isnet._prepare(x, train_isnet.Config(size=16, input_size=24), ctx)
    assert y.shape == (2, 1, 24, 24)
    # a constant map stays constant and bilinear resizing keeps values in range
    assert torch.allclose(train_isnet._prepare(torch.ones(1, 1, 16, 16), train_isnet.Config(input_size=24), ctx),
                          torch.ones(1, 1, 24, 24))
    assert 0 <= float(y.min()) and float(y.max()) <= 1


def test_skip_bad_leaves_an_unreadable_validation_image_out_instead_of_scoring_another_twice(tmp_path):
    """With --skip-bad, FolderDataset replaces an undecodable pair by the next one (fine for training); validation
    must leave it out, not score (and write) the next image twice."""
    import dis_synth
    import seg_data

    root = dis_synth.write_dataset(tmp_path / "set", 3, size=48)
    jpg = root / "im" / "0001.jpg"
    jpg.write_bytes(jpg.read_bytes()[: jpg.stat().st_size // 2])
    view = train_isnet.EvalView(seg_data.FolderDataset(root, size=32, skip_bad=True))
    names = []
    with pytest.warns(UserWarning, match="skipping 0001"):
        for bs in (1, 2):
            loader = torch.utils.data.DataLoader(view, batch_size=bs, collate_fn=train_isnet._collate_eval)
            batches = list(loader)
            names.append([n for b in batches for n in b["name"]])
            assert all(b["image"] is None or len(b["image"]) == len(b["name"]) == len(b["gt_u8"]) for b in batches)
    assert names == [["0000", "0002"], ["0000", "0002"]]


def test_stage_one_maxf_counts_each_training_pair_once_under_skip_bad(tmp_path, monkeypatch):
    """The GT encoder's train maxF read the training set raw: under --skip-bad the pair that replaced an unreadable
    one was counted twice, also in a concatenation of several folders (--data A B)."""
    import dis_synth
    import seg_data

    roots = [dis_synth.write_dataset(tmp_path / name, 3, size=48, seed=k) for k, name in enumerate("ab")]
    for root, stem in ((roots[0], "0001"), (roots[1], "0002")):
        jpg = root / "im" / f"{stem}.jpg"
        jpg.write_bytes(jpg.read_bytes()[: jpg.stat().st_size // 2])
    train = torch.utils.data.ConcatDataset([seg_data.FolderDataset(r, size=32, skip_bad=True) for r in roots])
    with pytest.warns(UserWarning, match="skipping"):
        loader = torch.utils.data.DataLoader(train_isnet.SkipReplaced(train), batch_size=2,
                                             collate_fn=train_isnet._collate_eval)
        names = [n for b in loader for n in b["name"]]
    assert names == ["0000", "0002", "0000", "0001"]  # a/0001 and b/0002 left out, nothing twice
    counted = []

    class Counting(train_isnet.DatasetMetrics):
        def update(self, pred, gt, **kw):
            counted.append(len(pred))
            return super().update(pred, gt, **kw)

    monkeypatch.setattr(train_isnet, "DatasetMetrics", Counting)
    cfg = train_isnet.Config(size=32, val_batch=2, gt_val_samples=0, width=0.0625)
    maxf = train_isnet.gt_encoder_maxf(ISNetGTEncoder(width=0.0625), train, cfg,
                                       train_isnet.Context(torch.device("cpu")))
    assert sum(counted) == 4 and 0.0 <= maxf <= 1.0  # 4 readable pairs (6 with the replacements before)


def test_resume_after_the_data_folder_shrank_restarts_the_epoch_instead_of_hanging(tmp_path, capsys):
    """The checkpoint's position (8 samples into an epoch of 11) lies past the end of the new epoch (5): before,
    every epoch was empty and the loop never ended."""
    import dis_synth

    root = dis_synth.write_dataset(tmp_path / "d", 12, size=32)
    argv = [*TINY, "--data", str(root), "--out", str(tmp_path / "run"), "--threads", "1", "--no-feature-sync",
            "--val-every", "0", "--save-predictions", "none"]
    train_isnet.main([*argv, "--iters", "4"])
    for i in range(6):
        (root / "im" / f"{i:04d}.jpg").unlink()
        (root / "gt" / f"{i:04d}.png").unlink()
    capsys.readouterr()
    summary = train_isnet.main([*argv, "--iters", "6", "--resume", "auto"])
    assert "the run cannot continue exactly" in capsys.readouterr().out
    ckpt = torch.load(Path(summary["out"]) / "checkpoint.pt", weights_only=False)
    assert ckpt["progress"]["image"]["iteration"] == 6 and ckpt["progress"]["image"]["samples"] == [5, 1]


def test_help_on_validation_sets_says_what_build_data_does(tmp_path):
    """--val-fraction holds out part of every plain --data folder unless --val is given, also beside a DIS5K root
    (whose DIS-VD validates too); the help said 'when no validation set is found'."""
    import dis_synth
    import seg_data

    dis = tmp_path / "DIS5K"
    for name in ("DIS-TR", "DIS-VD"):
        dis_synth.write_dataset(dis, 2, size=16, split_name=name)
    plain = dis_synth.write_dataset(tmp_path / "plain", 10, size=16)
    assert [s.label for s in seg_data.find_datasets([dis, plain])["val"]] == ["DIS-VD", "plain-val"]
    text = " ".join(train_isnet.build_parser().format_help().split())
    assert "held-out part of each plain --data folder unless --val is given" in text
    assert "when no validation set is found" not in text


def _params_equal(a: Path, b: Path) -> None:
    ca, cb = (torch.load(p / "checkpoint.pt", weights_only=False) for p in (a, b))
    for key in ("model", "gt_encoder"):
        for name in ca[key]:
            assert torch.equal(ca[key][name], cb[key][name]), f"{key}.{name}"
    assert ca["progress"] == cb["progress"]
    assert ca["history"] == cb["history"]


def test_resume_killed_right_after_stage_one_passed_its_threshold_trains_no_more_gt_iterations(tmp_path, monkeypatch):
    """The loop saves a checkpoint when stage 1 passes its threshold, before the stage switch is saved: a resume
    from it trained the GT encoder on until the next check (iteration 4 instead of 2)."""
    args = ["--threads", "1", "--gt-threshold", "0", "--gt-iters", "6", "--gt-val-every", "2", "--iters", "2",
            "--val-every", "2", "--save-predictions", "none"]
    _run(tmp_path / "straight", *args)
    _run_killed_at(monkeypatch, tmp_path / "killed", args, "gt", 2)
    summary = _run(tmp_path / "killed", *args, "--resume")
    assert summary["progress"]["gt"]["iteration"] == 2 and summary["progress"]["gt"]["reached"] == 2
    _params_equal(tmp_path / "straight", tmp_path / "killed")


def test_resume_killed_right_after_an_early_stop_trains_no_more(tmp_path, monkeypatch):
    """Same for the early stop of stage 2 (the checkpoint of the stopping validation still says stage 'image')."""
    args = ["--threads", "1", "--no-feature-sync", "--iters", "8", "--val-every", "1", "--patience", "1",
            "--ckpt-every", "8", "--save-predictions", "none", "--lr", "10"]
    straight = _run(tmp_path / "straight", *args)
    stopped = straight["progress"]["image"]["iteration"]
    assert stopped < 8, "the run should have stopped early (lr 10 makes maxF fall)"
    _run_killed_at(monkeypatch, tmp_path / "killed", args, "image", stopped)
    summary = _run(tmp_path / "killed", *args, "--resume")
    assert summary["progress"]["image"]["iteration"] == stopped
    _params_equal(tmp_path / "straight", tmp_path / "killed")
    # a finished early-stopped run resumed with the same flags trains no more either; a larger --patience continues
    again = _run(tmp_path / "killed", *args, "--resume")
    assert again["progress"]["image"]["iteration"] == stopped
    more = _run(tmp_path / "killed", *args, "--resume", "--patience", "5")
    assert more["progress"]["image"]["iteration"] > stopped


def test_resume_between_two_loss_logs_logs_the_same_losses(tmp_path, monkeypatch):
    """The loss shown every --log-every steps is a mean since the last log; a checkpoint between two logs (3, with
    logs at 2 and 4) lost the steps before it, so the resumed run logged the mean of step 4 alone."""
    args = ["--threads", "1", "--no-feature-sync", "--iters", "6", "--val-every", "6", "--ckpt-every", "3",
            "--log-every", "2", "--save-predictions", "none"]
    _run(tmp_path / "straight", *args)
    _run_killed_at(monkeypatch, tmp_path / "killed", args, "image", 4)
    _run(tmp_path / "killed", *args, "--resume")
    _params_equal(tmp_path / "straight", tmp_path / "killed")
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text())["loss"] for d in ("straight", "killed"))
    assert [r["iteration"] for r in a] == [2, 4, 6]
    assert a == b


def test_resume_does_not_need_the_weights_files_the_run_started_from(tmp_path, monkeypatch):
    """--weights / --gt-encoder initialise a run; the checkpoint holds both networks, yet a resume read those files
    again and stopped with '--weights: no such file' when they had been moved."""
    weights, encoder = tmp_path / "init.pt", tmp_path / "enc.pt"
    torch.save(ISNetDIS(width=0.0625).state_dict(), weights)
    torch.save(ISNetGTEncoder(width=0.0625).state_dict(), encoder)
    args = ["--threads", "1", "--weights", str(weights), "--gt-encoder", str(encoder), "--iters", "2",
            "--val-every", "2", "--ckpt-every", "1", "--save-predictions", "none"]
    _run(tmp_path / "straight", *args)
    _run_killed_at(monkeypatch, tmp_path / "killed", args, "image", 1)
    weights.unlink()
    encoder.unlink()
    _run(tmp_path / "killed", *args, "--resume")
    _params_equal(tmp_path / "straight", tmp_path / "killed")


def test_a_new_run_in_a_used_folder_neither_lists_nor_mixes_the_earlier_runs_files(tmp_path, capsys):
    """A second run into the same --out listed the first run's gt_encoder.pt as its own, and left the first run's
    extra PNGs among its predictions and generated GTs, so the `segmetrics eval` command it prints scored 4 images
    where the run had validated 2."""
    _run(tmp_path, "--threads", "1", "--gt-iters", "2", "--iters", "2", "--val-every", "2", "--save-predictions",
         "every")
    assert (tmp_path / "gt_encoder.pt").is_file() and (tmp_path / "predictions" / "iter000002").is_dir()
    capsys.readouterr()
    summary = _run(tmp_path, "--threads", "1", "--no-feature-sync", "--val-samples", "2", "--iters", "2",
                   "--val-every", "2", "--save-predictions", "every")
    printed = capsys.readouterr().out
    assert "GT encoder" not in printed
    final = tmp_path / "predictions" / "final"
    assert len(list((final / "synthetic-val").glob("*.png"))) == summary["final"]["synthetic-val"]["n"] == 2
    assert len(list((final / "synthetic-val-gt").glob("*.png"))) == 2
    assert len(list((tmp_path / "predictions" / "iter000002" / "synthetic-val").glob("*.png"))) == 2


def test_resume_with_other_iters_under_the_cosine_schedule_says_the_learning_rate_jumps(tmp_path, capsys):
    """--iters may change on resume, but under --lr-schedule cosine it is the schedule's length: the learning rate
    jumped (here from 0, the end of the finished schedule, to half the base rate) with no word said."""
    args = ["--threads", "1", "--no-feature-sync", "--iters", "2", "--val-every", "2", "--save-predictions", "none",
            "--lr-schedule", "cosine"]
    _run(tmp_path, *args)
    capsys.readouterr()
    summary = _run(tmp_path, *args, "--resume", "--iters", "4")
    assert summary["progress"]["image"]["iteration"] == 4
    assert ("warning: --iters 2 -> 4 with --lr-schedule cosine: the schedule now runs over the new cap, so the "
            "learning rate at iteration 2 jumps from 0 to 0.0005") in capsys.readouterr().out


def test_ctrl_c_says_what_resume_continues_from_and_a_new_run_warns_before_replacing_a_checkpoint(
        tmp_path, monkeypatch, capsys):
    """Ctrl-C ended the script with exit 130 and no word on what was kept; a new run in a folder holding an
    earlier run's checkpoint replaced it silently at its first checkpoint."""
    args = ["--threads", "1", "--no-feature-sync", "--iters", "6", "--val-every", "6", "--ckpt-every", "3",
            "--save-predictions", "none"]

    def interrupt_at(iteration):
        def hook(stage, it):
            if it == iteration:
                raise KeyboardInterrupt
        monkeypatch.setattr(train_isnet, "on_step", hook)

    interrupt_at(2)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, *args)
    assert "interrupted before this run's first checkpoint: there is nothing to resume" in capsys.readouterr().out
    interrupt_at(4)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, *args)
    out = capsys.readouterr().out
    assert "holds the checkpoint" not in out  # the first run wrote none
    assert (f"interrupted: the same command with --resume continues from {tmp_path / 'checkpoint.pt'} (stage 2, "
            "iteration 3); the iterations after it are lost") in out
    monkeypatch.setattr(train_isnet, "on_step", lambda s, it: None)
    _run(tmp_path, *args, "--iters", "1")
    assert (f"warning: {tmp_path} holds the checkpoint of an earlier run; this new run replaces it at its first "
            "checkpoint (--resume continues the earlier run instead)") in capsys.readouterr().out


def test_a_run_from_weights_does_not_call_its_starting_model_untrained(tmp_path, capsys):
    weights = tmp_path / "init.pt"
    torch.save(ISNetDIS(width=0.0625).state_dict(), weights)
    _run(tmp_path / "run", "--threads", "1", "--no-feature-sync", "--weights", str(weights), "--iters", "1",
         "--val-every", "1", "--save-predictions", "none")
    out = capsys.readouterr().out
    assert "synthetic-val: --weights (it 0)" in out and "untrained" not in out


def test_atomic_write_text_interrupted_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    train_isnet.atomic_write_text("{}\n", path)

    def broken_write(self, text, *a, **k):
        Path.write_bytes(self, text[:3].encode())  # half-written file, then the "kill"
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", broken_write)
    with pytest.raises(KeyboardInterrupt):
        train_isnet.atomic_write_text('{"seed": 1}\n', path)
    monkeypatch.undo()
    assert path.read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_prepare_adds_the_image_offset_after_the_copy_to_the_device():
    """The step subtracted 0.5 on the host, which made an unpinned copy of every pinned batch; _prepare now adds the
    offset on the device, with the same numbers (meta tensors: nothing is computed on the host)."""
    x = torch.rand(2, 3, 16, 16)
    cfg = train_isnet.Config(size=16, input_size=24)
    ctx = train_isnet.Context(device=torch.device("cpu"))
    ref = torch.nn.functional.interpolate(x - 0.5, size=(24, 24), mode="bilinear", align_corners=False)
    assert torch.equal(train_isnet._prepare(x, cfg, ctx, -0.5), ref)
    meta = train_isnet._prepare(x, cfg, train_isnet.Context(device=torch.device("meta")), -0.5)
    assert meta.device.type == "meta" and meta.shape == (2, 3, 24, 24)


def test_threads_flag_is_applied_on_cuda_too(monkeypatch):
    """--threads was silently ignored on a CUDA run (its host side still runs torch CPU ops and the metrics)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: None)
    before = torch.get_num_threads()
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    try:
        torch.set_num_threads(2)
        ctx = train_isnet.make_context(train_isnet.Config(device="cuda", threads=1))
        assert ctx.device.type == "cuda" and torch.get_num_threads() == 1
        torch.set_num_threads(2)
        train_isnet.make_context(train_isnet.Config(device="cuda", threads=0))  # auto: left to torch on CUDA
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = flags


def test_an_unwritable_output_folder_is_refused_before_training(capsys):
    """It failed with a PermissionError traceback at the first checkpoint, after ckpt_every iterations."""
    out = Path("/sys/segloss-isnet-out")  # read-only even for root
    if not Path("/sys").is_dir():
        pytest.skip("needs Linux's /sys")
    with pytest.raises(SystemExit, match=r"^--out: cannot write to /sys/segloss-isnet-out: "):
        _run(out, "--threads", "1")
    assert "stage 1" not in capsys.readouterr().out


def test_best_pt_after_a_resume_is_the_checkpoints_best(tmp_path, monkeypatch):
    # a kill after a validation that wrote best.pt but before the next checkpoint left that later best.pt in
    # place; a resumed run that did not reach it again (other flags) then named one best iteration in its summary
    # while best.pt held the weights of another
    args = ("--gt-iters", "2", "--iters", "4", "--val-every", "2", "--ckpt-every", "2", "--save-predictions", "none")
    _run(tmp_path, *args)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    best = ckpt["best_model"]
    assert ckpt["progress"]["image"]["best_iteration"] in (2, 4) and best is not None
    assert all(torch.equal(best[k], v) for k, v in torch.load(tmp_path / "best.pt").items())
    torch.save({k: v + 1 for k, v in best.items()}, tmp_path / "best.pt")  # what the lost iterations wrote
    summary = _run(tmp_path, *args, "--resume")  # finished: nothing more is trained
    assert summary["progress"]["image"]["iteration"] == 4
    assert all(torch.equal(best[k], v) for k, v in torch.load(tmp_path / "best.pt").items())
    # killed after the validation of iteration 2 wrote best.pt, before the checkpoint of iteration 3
    _kill_at(monkeypatch, "image", 2)
    with pytest.raises(_Killed):
        _run(tmp_path / "early", *args, "--ckpt-every", "3")
    ckpt = torch.load(tmp_path / "early" / "checkpoint.pt", weights_only=False)
    assert ckpt["progress"]["image"]["iteration"] < 2 and (tmp_path / "early" / "best.pt").is_file()
    _kill_at(monkeypatch, "image", 1)  # resumed, then killed again before iteration 2's validation
    with pytest.raises(_Killed):
        _run(tmp_path / "early", *args, "--ckpt-every", "3", "--resume")
    if ckpt["best_model"] is None:  # no validation before that checkpoint: the file was from the lost iterations
        assert not (tmp_path / "early" / "best.pt").exists()
    else:
        saved = torch.load(tmp_path / "early" / "best.pt")
        assert all(torch.equal(ckpt["best_model"][k], v) for k, v in saved.items())


def test_summary_without_a_stage_two_validation_says_so(tmp_path, monkeypatch, capsys):
    # a resume with --iters at or below the checkpoint's iteration, before any stage-2 validation, used to
    # report "best maxF -1.0000 at iteration 0"
    args = ("--gt-iters", "2", "--iters", "6", "--val-every", "6", "--ckpt-every", "2", "--save-predictions", "none")
    _kill_at(monkeypatch, "image", 3)
    with pytest.raises(_Killed):
        _run(tmp_path, *args)
    monkeypatch.setattr(train_isnet, "on_step", lambda s, it: None)
    capsys.readouterr()
    summary = _run(tmp_path, *args[:2], "--iters", "2", *args[4:], "--resume")
    out = capsys.readouterr().out
    assert summary["progress"]["image"]["best"] < 0  # the untrained model's row (iteration 0) is not a best
    assert "2 iterations, no validation yet, so no best model" in out and "-1.0000" not in out


def test_auto_threads_ignores_a_moments_activity(monkeypatch):
    # one 0.3 s sample taken while another process was ending gave the default run 1 thread on 2 idle cores
    # (12.6 instead of 8 minutes)
    monkeypatch.setattr(train_isnet.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(train_isnet.torch, "get_num_threads", lambda: 2)

    def reads(*idle_per_interval):  # (total, idle) jiffies: 100 per interval on 2 cores
        total, idle, out = 0, 0, [(0, 0)]
        for i in idle_per_interval:
            total, idle = total + 100, idle + i
            out.append((total, idle))
        return iter(out).__next__

    auto = train_isnet.auto_threads
    assert auto(0, 3, reads(50, 100, 100)) == 2  # one core busy for a moment, then both idle
    assert auto(0, 3, reads(50, 50, 45)) == 1  # one core kept busy by another process
    assert auto(0, 3, reads(0, 0, 0)) == 1  # both busy: still one thread
    assert auto(0, 3, reads(100, 100, 100)) == 2
    assert auto(0, 1, iter([(5, 5), (5, 5)]).__next__) == 2  # no time passed: torch's default

    def unreadable():
        raise OSError("no /proc")

    assert auto(0, 3, unreadable) == 2


def test_sigterm_ends_the_script_like_ctrl_c_saying_what_resume_continues_from(tmp_path):
    """A batch scheduler's SIGTERM (or ``kill``) killed the script silently: no word on which checkpoint was kept."""
    import signal

    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, str(SCRIPT), *TINY, "--out", str(out), "--threads", "1", "--no-feature-sync",
           "--iters", "100000", "--val-every", "100000", "--ckpt-every", "1", "--save-predictions", "none"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (out / "checkpoint.pt").is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before its first checkpoint"
        proc.send_signal(signal.SIGTERM)
        text, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM, text[-3000:]
    assert f"interrupted: the same command with --resume continues from {out / 'checkpoint.pt'} (stage 2, " in text
    assert "Traceback" not in text
    ckpt = train_isnet.load_checkpoint(out / "checkpoint.pt")  # the checkpoint it names is whole
    assert ckpt["progress"]["stage"] == "image" and ckpt["progress"]["image"]["iteration"] >= 1


def test_training_steps_check_the_losses_inputs_on_the_first_batch_only(tmp_path, monkeypatch):
    """Every step ran the losses' value checks (NaN/Inf and range scans, a host read each), so no step of either
    stage was free of host syncs; the checks now run on each stage's first batch and are back on afterwards."""
    import segloss._validation as validation

    calls = []
    real = validation.value_checks_enabled
    monkeypatch.setattr(validation, "value_checks_enabled", lambda: calls.append(real()) or calls[-1])
    _run(tmp_path, "--threads", "1", "--gt-iters", "3", "--iters", "3", "--val-every", "3",
         "--save-predictions", "none")
    assert len(calls) >= 6 and calls.count(True) == 2, calls  # stage 1's first step and stage 2's
    assert real()  # restored
