"""Bad command lines of the example scripts end in one clear line naming the flag or file, never a traceback.

Flag values: argparse's usage error (exit status 2) naming the flag, from the shared types of
``examples/cli_args.py``. Files (checkpoints, data): one line naming the flag and the file (exit status 1).
All of these fail before any training step, so each case takes well under a second.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import cli_args
import dis_synth
import infer_isnet
import pytest
import torch
import train_can
import train_isnet
from isnet_model import ISNetDIS, ISNetGTEncoder
from PIL import Image
from skimage import data

TINY = ["--preset", "tiny", "--threads", "1"]
HUGE_THREADS = str(10**6)


def _usage_error(capsys, fn, argv) -> str:
    """Run ``fn(argv)``, expect argparse's exit status 2 and return its message line."""
    with pytest.raises(SystemExit) as exc:
        fn(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def _file_error(fn, argv) -> str:
    """Run ``fn(argv)``, expect a one-line SystemExit message (exit status 1) and return it."""
    with pytest.raises(SystemExit) as exc:
        fn(argv)
    message = str(exc.value.code)
    assert "\n" not in message
    return message


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


# ---------------------------------------------------------------------------------------------- cli_args


def test_types_accept_good_values_and_name_the_range():
    assert cli_args.positive_int("3") == 3 and cli_args.nonnegative_int("0") == 0
    assert cli_args.positive_float("1e-3") == 1e-3 and cli_args.probability("1") == 1.0
    for fn, text, expect in [(cli_args.positive_int, "0", ">= 1"), (cli_args.positive_int, "x", ">= 1"),
                             (cli_args.positive_float, "nan", "> 0"), (cli_args.positive_float, "inf", "> 0"),
                             (cli_args.positive_float, "0", "> 0"), (cli_args.nonnegative_float, "-1", ">= 0"),
                             (cli_args.probability, "nan", "[0, 1]"), (cli_args.beta, "1", "[0, 1)"),
                             (cli_args.threads, HUGE_THREADS, "CPU count"), (cli_args.torch_device, "bogus", "device")]:
        with pytest.raises(Exception, match=f"{expect}".replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
            fn(text)


# ---------------------------------------------------------------------------------------------- train_isnet


@pytest.mark.parametrize(("argv", "message"), [
    (["--lr", "nan"], "argument --lr: must be a finite number > 0; got 'nan'"),
    (["--lr", "inf"], "argument --lr: must be a finite number > 0"),
    (["--width", "inf"], "argument --width: must be a finite number > 0"),
    (["--width", "0"], "argument --width: must be a finite number > 0"),
    (["--batch", "0"], "argument --batch: must be an integer >= 1; got '0'"),
    (["--input-size", "-1"], "argument --input-size: must be an integer >= 0"),
    (["--iters", "-5"], "argument --iters: must be an integer >= 0"),
    (["--size", "3"], "--size must be >= 16 for the generated data"),
    (["--beta1", "2"], "argument --beta1: must be a number in [0, 1)"),
    (["--eps", "-1"], "argument --eps: must be a finite number >= 0"),
    (["--weight-decay", "-1"], "argument --weight-decay: must be a finite number >= 0"),
    (["--gt-threshold", "nan"], "argument --gt-threshold: must be a number in [0, 1]"),
    (["--val-fraction", "nan"], "argument --val-fraction"),
    (["--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["--threads", "-1"], "argument --threads: must be an integer >= 0"),
    (["--threads", HUGE_THREADS], "argument --threads: must be 0 (auto) to"),
    (["--iters", "0"], "--iters 0 (until early stop) needs --patience > 0"),
    (["--batch", "1"], "--batch 1 needs a model input side > 64 (--input-size, else --size; got 64)"),
    (["--batch", "1", "--size", "128", "--input-size", "64"], "--batch 1 needs a model input side > 64"),
    (["--eval-only"], "--eval-only needs --resume [CKPT] or --weights PATH"),
])
def test_train_isnet_bad_flag_is_a_usage_error(argv, message, capsys, tmp_path):
    line = _usage_error(capsys, train_isnet.main, [*TINY, "--out", str(tmp_path), *argv])
    assert message in line


def test_train_isnet_out_must_not_be_a_file(capsys, a_file):
    assert "argument --out: " in _usage_error(capsys, train_isnet.main, [*TINY, "--out", str(a_file)])


def _fake_checkpoint(path: Path, **config) -> Path:
    cfg = dataclasses.asdict(dataclasses.replace(train_isnet.Config(), **config))
    torch.save({k: None for k in train_isnet.CHECKPOINT_KEYS} | {"config": cfg, "model": {"w": torch.zeros(3)}}, path)
    return path


def test_train_isnet_resume_with_damaged_files_names_the_file(tmp_path):
    good = _fake_checkpoint(tmp_path / "good.pt", preset="tiny")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "garbage.pt").write_text("garbage")
    for name in ("truncated.pt", "empty.pt", "garbage.pt"):
        msg = _file_error(train_isnet.main, [*TINY, "--out", str(tmp_path / "o"), "--resume", str(tmp_path / name)])
        assert msg.startswith(f"--resume: cannot read {tmp_path / name}"), msg


def test_train_isnet_resume_from_a_state_dict_says_what_it_is(tmp_path):
    path = tmp_path / "gt_encoder.pt"
    torch.save(ISNetGTEncoder(1, 1, 0.0625).state_dict(), path)
    msg = _file_error(train_isnet.main, [*TINY, "--out", str(tmp_path / "o"), "--resume", str(path)])
    assert "is not a train_isnet.py checkpoint" in msg and "pass it to --weights or --gt-encoder" in msg


def test_train_isnet_resume_refuses_changed_fixed_settings(capsys, tmp_path):
    ckpt = _fake_checkpoint(tmp_path / "c.pt", preset="tiny", lr=1e-3)
    line = _usage_error(capsys, train_isnet.main, ["--preset", "smoke", "--resume", str(ckpt), "--lr", "0.1",
                                                   "--out", str(tmp_path / "o")])
    assert "--preset smoke (saved: tiny)" in line and "--lr 0.1 (saved: 0.001)" in line


def test_train_isnet_weights_of_the_other_network_are_explained(tmp_path):
    path = tmp_path / "gt_encoder.pt"
    torch.save(ISNetGTEncoder(1, 1, 0.0625).state_dict(), path)
    msg = _file_error(train_isnet.main, [*TINY, "--out", str(tmp_path / "o"), "--weights", str(path)])
    assert msg.startswith(f"--weights: {path} does not fit ISNetDIS(width=0.0625)"), msg
    missing = _file_error(train_isnet.main, [*TINY, "--out", str(tmp_path / "o"), "--gt-encoder", str(tmp_path / "x")])
    assert missing == f"--gt-encoder: no such file: {tmp_path / 'x'}"


def test_train_isnet_unpaired_file_in_a_data_folder_is_reported_not_dropped(tmp_path):
    root = dis_synth.write_dataset(tmp_path / "d", 4, size=32)
    Image.fromarray(data.coins()[:32, :32]).save(root / "im" / "lonely.png")
    msg = _file_error(train_isnet.main, [*TINY, "--out", str(tmp_path / "o"), "--data", str(root), "--iters", "1"])
    assert msg.startswith("--data: image file ") and "lonely.png has no GT" in msg, msg


# ---------------------------------------------------------------------------------------------- infer_isnet


@pytest.mark.parametrize(("argv", "message"), [
    (["--size", "0"], "argument --size: must be an integer >= 1; got '0'"),
    (["--batch-size", "0"], "argument --batch-size: must be an integer >= 1"),
    (["--workers", "-1"], "argument --workers: must be an integer >= 0"),
    (["--device", "bogus"], "argument --device: not a torch device"),
])
def test_infer_isnet_bad_flag_is_a_usage_error(argv, message, capsys, tmp_path):
    line = _usage_error(capsys, infer_isnet.main, ["--checkpoint", "c.pt", "--input", "in", "--out", str(tmp_path),
                                                   *argv])
    assert message in line


def test_infer_isnet_out_file_and_garbage_checkpoint(capsys, tmp_path, a_file):
    assert "argument --out: " in _usage_error(capsys, infer_isnet.main, ["--checkpoint", "c", "--input", "i",
                                                                          "--out", str(a_file)])
    junk = tmp_path / "junk.pth"
    junk.write_text("garbage")
    with pytest.raises(ValueError, match="cannot load junk.pth") as exc:
        infer_isnet.load_isnet(junk)
    assert "\n" not in str(exc.value)
    encoder = tmp_path / "gt_encoder.pt"
    torch.save(ISNetGTEncoder(1, 1, 0.0625).state_dict(), encoder)
    with pytest.raises(ValueError, match="^--checkpoint: gt_encoder.pt: the checkpoint is not an ISNetDIS state dict"):
        infer_isnet.load_isnet(encoder)


def test_infer_isnet_all_inputs_skipped_is_an_error(capsys, tmp_path):
    ckpt = tmp_path / "model.pt"
    torch.save(ISNetDIS(3, 1, 0.0625).state_dict(), ckpt)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "fake.png").write_text("not an image")
    with pytest.warns(UserWarning, match="skipped: cannot read image file"):
        rc = infer_isnet.main(["--checkpoint", str(ckpt), "--input", str(tmp_path / "in"), "--out",
                               str(tmp_path / "o"), "--size", "64", "--workers", "0", "--no-progress",
                               "--skip-unreadable"])
    assert rc == 2
    assert "--input: no prediction written: all 1 image(s) were unreadable" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- train_can


@pytest.mark.parametrize(("argv", "message"), [
    (["--lr", "nan"], "argument --lr: must be a finite number > 0"),
    (["--g-lr", "-1"], "argument --g-lr: must be a finite number > 0"),
    (["--g-steps", "0"], "argument --g-steps: must be an integer >= 1"),
    (["--size", "3"], "--size must be >= 16 for the generated scenes"),
    (["--threads", "-1"], "argument --threads: must be an integer >= 0"),
    (["--min-area", "0"], "argument --min-area: must be an integer >= 1"),
    (["--pos-max", "-1"], "argument --pos-max: must be an integer >= 1"),
    (["--no-neg", "nan"], "argument --no-neg: must be a number in [0, 1]"),
    (["--lambda-base", "nan"], "argument --lambda-base: must be a finite number >= 0"),
    (["--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["--workers", "-1"], "argument --workers: must be an integer >= 0"),
    (["--device", "bogus"], "argument --device: not a torch device"),
    (["--outputs", "1000"], "--outputs 1000 with --lambda-base 0.0025: `num_outputs` must be <="),
])
def test_train_can_bad_flag_is_a_usage_error(argv, message, capsys):
    assert message in _usage_error(capsys, train_can.parse_args, argv)


@pytest.mark.parametrize("argv", [["--val-data", "v"], ["--ignore-value", "255"], ["--layout", "instances"],
                                  ["--masks", "gt"], ["--images", "im", "--val-data", "v"]])
def test_train_can_folder_flags_without_data_are_a_usage_error(argv, capsys):
    # without --data the run trained and evaluated on the generated scenes and ignored these flags silently:
    # `--val-data mine` printed results that looked like results on the user's folder
    msg = _usage_error(capsys, train_can.parse_args, argv)
    assert "--data (an instance folder)" in msg and all(f in msg for f in argv if f.startswith("--")), msg


def _coins_instance_folder(root, stems):
    """An instance folder for train_can: ``images/<stem>.png`` (a 48² crop of skimage's coins) and its mask."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    coins = data.coins()[:48, :48]
    for stem in stems:
        Image.fromarray(coins).save(root / "images" / f"{stem}.png")
        Image.fromarray((coins > 120).astype("uint8") * 255).save(root / "masks" / f"{stem}.png")
    return root


def test_train_can_small_or_missing_instance_folder_is_named(tmp_path):
    root = _coins_instance_folder(tmp_path / "five", [f"{i}" for i in range(5)])
    argv = ["--size", "32", "--steps", "1", "--g-steps", "1", "--batch", "2", "--width", "4", "--no-untrained",
            "--out", str(tmp_path / "o")]
    msg = _file_error(train_can.main, [*argv, "--data", str(root)])
    assert msg.startswith(f"--data: {root} has 5 instance(s)") and "--val-data" in msg, msg
    msg = _file_error(train_can.main, [*argv, "--data", str(root), "--val-data", str(tmp_path / "nowhere")])
    assert msg.startswith("--val-data: ") and "nowhere" in msg, msg


def test_train_can_refused_data_leaves_an_earlier_run_in_out_untouched(tmp_path):
    # config.json was written before --data was checked: a typo in --data, with --out at an earlier run's folder,
    # replaced that run's config.json with the config of a run that never started (next to the old f.pt, summary)
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text('{"earlier": 1}')
    msg = _file_error(train_can.main, ["--data", str(tmp_path / "typo"), "--width", "4", "--out", str(out)])
    assert msg.startswith("--data: ") and "typo" in msg, msg
    assert (out / "config.json").read_text() == '{"earlier": 1}'


# ---------------------------------------------------------------------------------------------- dis_synth, bench


@pytest.mark.parametrize(("argv", "message"), [
    (["-n", "0"], "argument -n: must be an integer >= 1"),
    (["--size", "3"], "argument --size: must be an integer >= 16"),
    (["--seed", "-1"], "argument --seed: must be an integer >= 0"),
    (["--sheet", "sheet.xyz"], "argument --sheet: must name a .png file"),
])
def test_dis_synth_bad_flag_is_a_usage_error(argv, message, capsys, tmp_path):
    assert message in _usage_error(capsys, dis_synth.main, [str(tmp_path), *argv])


def test_dis_synth_out_file_and_sheet_in_a_new_folder(capsys, tmp_path, a_file):
    assert "argument out: " in _usage_error(capsys, dis_synth.main, [str(a_file), "-n", "1", "--size", "32"])
    dis_synth.main([str(tmp_path / "d"), "-n", "1", "--size", "32", "--sheet", str(tmp_path / "new" / "s.png")])
    assert (tmp_path / "new" / "s.png").is_file()


def test_bench_can_latency_bad_flag_is_a_usage_error(capsys):
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_can_latency.py"
    spec = importlib.util.spec_from_file_location("bench_can_latency", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert "argument --repeats: must be an integer >= 1" in _usage_error(capsys, bench.main, ["--repeats", "0"])
    assert "argument --device: not a torch device" in _usage_error(capsys, bench.main, ["--device", "bogus"])


def test_train_isnet_cache_dir_file_and_missing_val_folder_are_named(capsys, tmp_path, a_file):
    root = dis_synth.write_dataset(tmp_path / "d", 4, size=32)
    argv = [*TINY, "--out", str(tmp_path / "o"), "--data", str(root)]
    assert "argument --cache-dir: " in _usage_error(capsys, train_isnet.main, [*argv, "--cache-dir", str(a_file)])
    msg = _file_error(train_isnet.main, [*argv, "--val", str(tmp_path / "nowhere")])
    assert msg == f"--val: dataset folder {tmp_path / 'nowhere'} does not exist", msg


def test_train_isnet_points_to_skip_bad_only_for_bad_pairs(tmp_path):
    # README: --skip-bad leaves unreadable or unpaired files out; it cannot help with a folder that is not there
    argv = [*TINY, "--out", str(tmp_path / "o")]
    msg = _file_error(train_isnet.main, [*argv, "--data", str(tmp_path / "nowhere")])
    assert msg == f"--data: dataset path {tmp_path / 'nowhere'} does not exist", msg
    root = dis_synth.write_dataset(tmp_path / "d", 4, size=32)
    (root / "gt" / "0000.png").unlink()  # an image without its GT
    msg = _file_error(train_isnet.main, [*argv, "--data", str(root)])
    assert msg.startswith("--data: image file ") and "has no GT" in msg, msg
    assert msg.endswith("(--skip-bad leaves such pairs out)"), msg


def test_train_isnet_truncated_image_ends_in_one_line_and_skip_bad_trains_on(tmp_path):
    root = dis_synth.write_dataset(tmp_path / "d", 6, size=32)
    bad = sorted((root / "im").iterdir())[0]  # a JPEG whose header is fine but whose data is cut
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    argv = [*TINY, "--out", str(tmp_path / "o"), "--data", str(root), "--val", str(root), "--iters", "1",
            "--gt-iters", "1", "--save-predictions", "none"]
    for workers in ("0", "1"):  # in the main process and in a DataLoader worker
        msg = _file_error(train_isnet.main, [*argv, "--workers", workers])
        assert msg.startswith(f"--data: cannot read image file {bad}: truncated JPEG") and "--skip-bad" in msg, msg
    with pytest.warns(UserWarning, match=f"skipping {bad.stem}"):
        summary = train_isnet.main([*argv, "--skip-bad"])
    assert summary["progress"]["image"]["iteration"] == 1


def test_train_isnet_batch_one_is_fine_above_the_deepest_stride():
    args = train_isnet.build_parser().parse_args([*TINY, "--batch", "1", "--input-size", "65"])
    assert train_isnet.resolve_config(args)[0].batch == 1


def test_train_isnet_same_folder_twice_is_refused(tmp_path):
    root = dis_synth.write_dataset(tmp_path / "d", 4, size=32)
    msg = _file_error(train_isnet.main, [*TINY, "--out", str(tmp_path / "o"), "--data", str(root), "--data", str(root)])
    assert msg.startswith("--data: two evaluation sets are both named 'd-val'"), msg


# ---------------------------------------------------------------------------------------------- demo scripts


def _demo_folders(tmp_path, pred_shape=(10, 10), ext=".png"):
    import cv2
    import numpy as np

    for sub, shape in (("gt", (10, 10)), ("pred", pred_shape)):
        (tmp_path / sub).mkdir(exist_ok=True)
        img = np.zeros(shape, np.uint8)
        img[2:6, 3:8] = 255
        assert cv2.imwrite(str(tmp_path / sub / f"a{ext}"), img)
    return ["--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred")]


def test_evaluate_demo_bad_folders_are_named(capsys, tmp_path, a_file):
    import evaluate_demo

    msg = _usage_error(capsys, evaluate_demo.main, ["--gt", str(tmp_path / "nowhere")])
    assert "argument --gt: " in msg and "nowhere" in msg, msg
    msg = _usage_error(capsys, evaluate_demo.main, ["--gt", str(a_file)])
    assert "argument --gt: " in msg and "a_file" in msg, msg
    (tmp_path / "empty").mkdir()
    msg = _usage_error(capsys, evaluate_demo.main, ["--gt", str(tmp_path / "empty")])
    assert "argument --gt: no .png" in msg, msg
    argv = _demo_folders(tmp_path, pred_shape=(12, 10))
    msg = _file_error(evaluate_demo.main, argv)
    assert "a.png" in msg and "12x10" in msg and "10x10" in msg, msg


def test_evaluate_demo_reads_upper_case_png(capsys, tmp_path):
    import evaluate_demo

    evaluate_demo.main(_demo_folders(tmp_path, ext=".PNG"))
    assert "1 images evaluated" in capsys.readouterr().out


def test_make_demo_data_help_writes_nothing(capsys, monkeypatch, tmp_path):
    import make_demo_data

    written = []
    monkeypatch.setattr(make_demo_data.cv2, "imwrite", lambda *a, **k: written.append(a) or True)
    with pytest.raises(SystemExit) as exc:
        make_demo_data.main(["--help"])
    assert exc.value.code == 0 and "usage:" in capsys.readouterr().out and not written
    assert "unrecognized arguments" in _usage_error(capsys, make_demo_data.main, ["--bogus"]) and not written


def test_dis_synth_sheet_that_cannot_be_written_is_refused_before_the_dataset(capsys, tmp_path, a_file):
    """--sheet naming a folder, or a file under a file, was a traceback after the whole dataset was written."""
    (tmp_path / "dir.png").mkdir()
    for sheet in (tmp_path / "dir.png", a_file / "s.png"):
        argv = [str(tmp_path / "d"), "-n", "1", "--size", "16", "--sheet", str(sheet)]
        msg = _usage_error(capsys, dis_synth.main, argv)
        assert "argument --sheet: " in msg and str(sheet.name if sheet.is_dir() else a_file.name) in msg, msg
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("workers", ["0", "1"])
def test_train_can_unreadable_image_found_mid_run_is_one_line(tmp_path, workers):
    """load_instances reads masks up front but images lazily: a broken image surfaced as a traceback mid-training
    (from a DataLoader worker with --workers 1)."""
    root = _coins_instance_folder(tmp_path / "d", [f"{i:02d}" for i in range(11)])
    (root / "images" / "00.png").write_bytes(b"")
    argv = ["--size", "32", "--steps", "2", "--g-steps", "1", "--batch", "2", "--width", "4", "--no-untrained",
            "--max-clicks", "2", "--workers", workers, "--data", str(root), "--out", str(tmp_path / "o")]
    msg = _file_error(train_can.main, argv)
    assert msg.startswith("--data: ") and "00.png" in msg, msg


def test_dis_synth_into_a_folder_with_an_earlier_set_says_so(capsys, tmp_path):
    """Writing -n 1 into a folder that holds 3 earlier samples leaves a mixed set of 3: the user must be told."""
    dis_synth.main([str(tmp_path / "d"), "-n", "3", "--size", "16"])
    capsys.readouterr()
    dis_synth.main([str(tmp_path / "d"), "-n", "1", "--size", "32"])
    err = capsys.readouterr().err
    assert "holds 3 images" in err and "2 from an earlier run" in err, err


def test_train_isnet_val_given_a_dis5k_root_names_its_folders(tmp_path):
    """--val takes im/ + gt/ folders; given a DIS5K root it said the folder lacked im/ and gt/ and suggested
    '... or a DIS5K root', which it was."""
    dis = tmp_path / "DIS5K"
    for name in ("DIS-TR", "DIS-VD"):
        dis_synth.write_dataset(dis, 2, size=16, split_name=name)
    plain = dis_synth.write_dataset(tmp_path / "plain", 4, size=16)
    msg = _file_error(train_isnet.main, [*TINY, "--data", str(plain), "--val", str(dis), "--out", str(tmp_path / "o")])
    assert msg.startswith("--val: ") and "DIS5K root" in msg and "DIS-VD" in msg and "or a DIS5K root" not in msg, msg
