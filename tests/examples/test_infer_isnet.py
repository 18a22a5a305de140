"""IS-Net inference entry point (examples/infer_isnet.py): round trip to `segmetrics eval`, checkpoint formats."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from infer_isnet import (
    architecture_from_state_dict,
    list_images,
    load_isnet,
    main,
    resize_input,
    strip_prefixes,
    to_png_map,
)
from isnet_model import ISNetDIS
from seg_data import read_image
from skimage import data, filters

from segmetrics import evaluate_folder
from segmetrics.app.cli import main as segmetrics_main

REFERENCE = json.loads((Path(__file__).parent / "data" / "isnet_state_dict.json").read_text())
SIZE = 64  # network input size for the tests (the authors: 1024)


def _images():
    """Inputs of different sizes and kinds, with a GT each: (file name, image as written, GT bool)."""
    camera = data.camera()[::5, ::4]  # grey, 103 x 128
    coffee = data.coffee()[::4, ::5]  # RGB photo, 100 x 120
    astro = data.astronaut()[100:190:2, 150:260:2]  # RGBA below, 45 x 55
    coins = data.coins()[::3, ::3]  # 16-bit grey, 101 x 128
    return [
        ("camera.png", camera, camera < filters.threshold_otsu(camera)),
        ("coffee.jpg", coffee[..., ::-1], coffee[..., 0] > 150),
        ("astronaut.png", np.dstack([astro[..., ::-1], np.full(astro.shape[:2], 255, np.uint8)]), astro[..., 2] > 100),
        ("coins.tif", coins.astype(np.uint16) * 257, coins > filters.threshold_otsu(coins)),
    ]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("isnet_infer")
    (root / "im").mkdir()
    (root / "gt").mkdir()
    for name, img, gt in _images():
        assert cv2.imwrite(str(root / "im" / name), img)
        assert cv2.imwrite(str(root / "gt" / (Path(name).stem + ".png")), gt.astype(np.uint8) * 255)
    return root


def _our_checkpoint(path: Path, width: float) -> ISNetDIS:
    """A checkpoint laid out as train_isnet.py writes it (config inside, RNG states with numpy arrays)."""
    torch.manual_seed(0)
    model = ISNetDIS(width=width)
    config = {"preset": "tiny", "width": width, "size": SIZE}
    numpy_state = np.random.get_state()  # noqa: NPY002 - as train_isnet.py saves it
    rng = {"python": random.getstate(), "numpy": numpy_state, "torch": torch.get_rng_state()}
    torch.save({"format": 1, "config": config, "model": model.state_dict(), "rng": rng}, path)
    (path.parent / "config.json").write_text(json.dumps(config))
    return model


def _train_isnet_checkpoint(out: Path) -> Path:
    """An untrained checkpoint written by train_isnet.py itself (preset tiny: width 1/16, 64²)."""
    import train_isnet

    cfg, _ = train_isnet.resolve_config(train_isnet.build_parser().parse_args(
        ["--preset", "tiny", "--out", str(out), "--device", "cpu"]))
    run = train_isnet.Run(cfg, train_isnet.make_context(cfg))
    run.save()
    return out / "checkpoint.pt"


def test_round_trip_to_segmetrics_eval(dataset, tmp_path):
    ckpt = _train_isnet_checkpoint(tmp_path / "run")
    config = json.loads((ckpt.parent / "config.json").read_text())
    with pytest.warns(UserWarning, match="not been trained"):  # untrained: see the test below
        model, info = load_isnet(ckpt)
    assert info["format"] == "train_isnet" and info["width_source"] == "config" and info["size"] == config["size"]
    assert model.width == config["width"] and not model.training
    out = tmp_path / "pred"
    with pytest.warns(UserWarning, match="not been trained"):
        rc = main(["--checkpoint", str(ckpt), "--input", str(dataset / "im"), "--out", str(out),
                   "--batch-size", "3", "--workers", "0", "--no-progress"])
    assert rc == 0
    for name, img, _ in _images():
        pred = cv2.imread(str(out / (Path(name).stem + ".png")), cv2.IMREAD_UNCHANGED)
        assert pred.dtype == np.uint8 and pred.shape == img.shape[:2]  # original size, 8-bit grey
        assert pred.min() == 0 and pred.max() == 255  # the authors' min-max stretch
    # the CLI `segmetrics eval`, and the library call, both score every image
    res_dir = tmp_path / "results"
    rc = segmetrics_main(["eval", "--pred", str(out), "--gt", str(dataset / "gt"), "--out", str(res_dir),
                          "--workers", "0", "--no-skeleton-cache", "--no-progress"])
    assert rc == 0
    rows = (res_dir / "per_image.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + len(_images())
    res = evaluate_folder(out, dataset / "gt", workers=0, skeleton_cache=False, progress=False)
    assert res.ok and res.num_images == len(_images()) and not res.missing
    assert 0 <= res.metrics["fm.max"] <= 1 and np.isfinite(res.metrics["hce"])


def test_single_file_and_unnormalised_output(dataset, tmp_path):
    ckpt = tmp_path / "checkpoint.pt"
    model = _our_checkpoint(ckpt, 0.125)
    out = tmp_path / "pred"
    assert main(["--checkpoint", str(ckpt), "--input", str(dataset / "im" / "coffee.jpg"), "--out", str(out),
                 "--size", str(SIZE), "--normalize", "none", "--workers", "0", "--no-progress"]) == 0
    assert [p.name for p in out.iterdir()] == ["coffee.png"]
    pred = cv2.imread(str(out / "coffee.png"), cv2.IMREAD_UNCHANGED)
    # the same numbers by hand: authors' resize + normalisation, sigmoid(d1), bilinear back, 255 p rounded
    img = read_image(dataset / "im" / "coffee.jpg")
    x = resize_input(img, SIZE)[None].float() / 255 - 0.5
    with torch.inference_mode():
        prob = torch.sigmoid(model.eval()(x)[0][0])[0]
    np.testing.assert_array_equal(pred, to_png_map(prob, img.shape[:2], "none"))
    assert int(np.abs(pred.astype(int) - np.round(255 * cv2.resize(prob[0].numpy(), img.shape[1::-1],
                                                                   interpolation=cv2.INTER_LINEAR))).max()) <= 1


def _authors_state_dict(prefix: str) -> dict[str, torch.Tensor]:
    """A state dict with exactly the authors' names and shapes (the released isnet.pth layout)."""
    g = torch.Generator().manual_seed(0)
    out = {}
    for k, shape in REFERENCE["ISNetDIS"]["state_dict"].items():
        if k.endswith("num_batches_tracked"):
            out[prefix + k] = torch.tensor(7)
        elif k.endswith("running_var"):
            out[prefix + k] = torch.rand(shape, generator=g) + 0.5
        else:
            out[prefix + k] = torch.randn(shape, generator=g) * 0.05
    return out


@pytest.mark.parametrize("prefix", ["", "module."])
def test_authors_state_dict_loads_strict(tmp_path, prefix):
    state = _authors_state_dict(prefix)
    path = tmp_path / "isnet-general-use.pth"
    torch.save(state, path)
    model, info = load_isnet(path)
    assert info == {"format": "state_dict", "in_ch": 3, "out_ch": 1, "width": 1.0, "width_source": "shapes",
                    "size": None}
    assert not model.training
    loaded = model.state_dict()
    assert list(loaded) == list(REFERENCE["ISNetDIS"]["state_dict"])
    assert all(torch.equal(loaded[k], state[prefix + k]) for k in loaded)


@pytest.mark.parametrize("width", [0.125, 0.3, 0.77])
def test_width_detected_from_shapes(width):
    state = ISNetDIS(width=width).state_dict()
    arch = architecture_from_state_dict(state)
    ISNetDIS(width=arch["width"]).load_state_dict(state, strict=True)  # same shapes
    assert arch["width"] == pytest.approx(width, rel=0.01)


def test_our_checkpoint_width_from_config(tmp_path):
    ckpt = tmp_path / "checkpoint.pt"
    model = _our_checkpoint(ckpt, 0.25)
    loaded, info = load_isnet(ckpt)
    assert info["format"] == "train_isnet" and info["width_source"] == "config" and loaded.width == 0.25
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    # no config inside (or a plain state dict such as best.pt): the config.json beside it; neither: the shapes
    torch.save({"model": model.state_dict()}, ckpt)
    assert load_isnet(ckpt)[1]["width_source"] == "config"
    torch.save(model.state_dict(), tmp_path / "best.pt")
    assert load_isnet(tmp_path / "best.pt")[1] == {"format": "state_dict", "in_ch": 3, "out_ch": 1, "width": 0.25,
                                                   "width_source": "config", "size": SIZE}
    (tmp_path / "config.json").write_text(json.dumps({"width": 0.5, "size": 512}))  # another run's: ignored
    assert load_isnet(tmp_path / "best.pt")[1]["width_source"] == "shapes"
    (tmp_path / "config.json").unlink()
    assert load_isnet(ckpt)[1] == {"format": "train_isnet", "in_ch": 3, "out_ch": 1, "width": 0.25,
                                   "width_source": "shapes", "size": None, "note": None}


def test_a_foreign_file_in_a_run_folder_does_not_take_the_runs_config(tmp_path):
    # the authors' isnet.pth copied into runs/isnet-smoke/ used to be run at the smoke run's input size
    model = ISNetDIS(width=0.25)
    (tmp_path / "config.json").write_text(json.dumps({"width": 0.25, "size": SIZE}))
    torch.save(model.state_dict(), tmp_path / "isnet.pth")
    info = load_isnet(tmp_path / "isnet.pth")[1]
    assert info["width_source"] == "shapes" and info["size"] is None and info["width"] == 0.25
    (tmp_path / "isnet.json").write_text(json.dumps({"width": 0.25, "size": SIZE}))  # its own <stem>.json: used
    assert load_isnet(tmp_path / "isnet.pth")[1]["size"] == SIZE


def test_strip_prefixes():
    assert strip_prefixes({"module._orig_mod.a": 1, "module._orig_mod.b": 2}) == {"a": 1, "b": 2}
    assert strip_prefixes({"module.a": 1, "b": 2}) == {"module.a": 1, "b": 2}  # not shared by all keys: kept


def test_clear_errors(dataset, tmp_path):
    with pytest.raises(FileNotFoundError, match="--checkpoint: no such file"):
        load_isnet(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"encoder.weight": torch.zeros(2)}, bad)
    with pytest.raises(ValueError, match="not an ISNetDIS state dict"):
        load_isnet(bad)
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="cannot load junk.pth"):
        load_isnet(tmp_path / "junk.pth")
    with pytest.raises(ValueError, match="no image"):
        list_images(tmp_path)
    (tmp_path / "twins").mkdir()
    for ext in (".png", ".jpg"):
        cv2.imwrite(str(tmp_path / "twins" / f"a{ext}"), np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"a\.jpg and a\.png would both be written as a\.png"):
        list_images(tmp_path / "twins")


def test_unreadable_input_named_or_skipped(dataset, tmp_path, capsys):
    ckpt = tmp_path / "checkpoint.pt"
    _our_checkpoint(ckpt, 0.125)
    inp = tmp_path / "im"
    inp.mkdir()
    cv2.imwrite(str(inp / "ok.png"), data.camera()[::8, ::8])
    (inp / "broken.png").write_bytes(b"\x89PNG garbage")
    args = ["--checkpoint", str(ckpt), "--input", str(inp), "--out", str(tmp_path / "p"), "--size", str(SIZE),
            "--workers", "0", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "cannot read image file" in err and "broken.png" in err
    with pytest.warns(UserWarning, match="broken.png"):
        assert main([*args, "--skip-unreadable"]) == 0
    assert [p.name for p in (tmp_path / "p").iterdir()] == ["ok.png"]


def test_benchmark_script_runs_ours_only(tmp_path):
    """benchmarks/bench_isnet.py drives train_isnet.py's loop and the inference path (tiny CPU run, no timing check)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_isnet.py"
    spec = importlib.util.spec_from_file_location("bench_isnet", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = bench.main(["--size", "32", "--batch", "2", "--width", "0.0625", "--iters", "1", "--warmup", "1",
                      "--infer-batch", "2", "--skip", "loader", "--json", str(tmp_path / "r.json")])
    assert set(res) == {"ours_eager", "infer_eager"}
    assert res["ours_eager"]["steps"] == 2 and res["ours_eager"]["ms"] > 0 and res["infer_eager"]["images_per_s"] > 0
    assert json.loads((tmp_path / "r.json").read_text())["results"]["ours_eager"]["steps"] == 2



def test_out_folder_holding_the_inputs_is_refused(tmp_path, capsys):
    """`--out` = `--input` (or a single input inside --out) would overwrite the PNG inputs with predictions."""
    ckpt = tmp_path / "m.pth"
    torch.save(ISNetDIS(width=0.0625).state_dict(), ckpt)
    inp = tmp_path / "photos"
    inp.mkdir()
    assert cv2.imwrite(str(inp / "a.png"), data.camera()[::16, ::16])
    assert cv2.imwrite(str(inp / "b.jpg"), data.coffee()[::16, ::16])
    before = (inp / "a.png").read_bytes()
    common = ["--checkpoint", str(ckpt), "--size", "32", "--workers", "0", "--no-progress"]
    for source in (inp, inp / "a.png"):
        assert main([*common, "--input", str(source), "--out", str(inp)]) == 2
        err = capsys.readouterr().err
        assert "--out" in err and "a.png" in err and "overwrite" in err
        assert (inp / "a.png").read_bytes() == before and not (inp / "b.png").exists()
    assert main([*common, "--input", str(inp / "b.jpg"), "--out", str(inp)]) == 0  # b.png is a new file: fine
    assert (inp / "a.png").read_bytes() == before and (inp / "b.png").is_file()


def test_checkpoint_for_other_input_channels_is_a_clear_error(tmp_path, capsys):
    """An ISNetDIS with in_ch != 3 loads, but the RGB inputs do not fit it: one line, not a conv2d traceback."""
    ckpt = tmp_path / "grey.pth"
    torch.save(ISNetDIS(in_ch=1, width=0.0625).state_dict(), ckpt)
    assert cv2.imwrite(str(tmp_path / "a.png"), data.camera()[::16, ::16])
    argv = ["--checkpoint", str(ckpt), "--input", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"),
            "--size", "32", "--workers", "0", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--checkpoint" in err and "1 input channel" in err and "Traceback" not in err, err


def test_hidden_files_are_not_inputs(tmp_path):
    """macOS copies leave `._NAME.jpg` resource forks beside each image: not images (as seg_data and segmetrics)."""
    assert cv2.imwrite(str(tmp_path / "a.jpg"), data.camera()[::16, ::16])
    (tmp_path / "._a.jpg").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    assert list_images(tmp_path) == [tmp_path / "a.jpg"]


def test_checkpoint_with_an_untrained_image_model_warns(tmp_path):
    """A checkpoint.pt saved in stage 1 (GT-encoder training, image iteration 0, no --weights) holds a randomly
    initialised image model: inference used to write its noise as predictions without a word."""
    ckpt = _train_isnet_checkpoint(tmp_path / "run")
    with pytest.warns(UserWarning, match=r"checkpoint\.pt.*image model.*not been trained"):
        load_isnet(ckpt)
    obj = torch.load(ckpt, weights_only=False)
    obj["progress"]["image"]["iteration"] = 5  # stage 2 under way: trained, no warning
    torch.save(obj, ckpt)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_isnet(ckpt)


def test_a_folder_of_subfolders_names_them(tmp_path):
    """`--input DIS5K/DIS-VD` (images in im/, masks in gt/) used to say only "no image in DIS-VD": the search is not
    recursive, and the message now says so and names the subfolders that hold images."""
    for sub in ("im", "gt"):
        (tmp_path / sub).mkdir()
        assert cv2.imwrite(str(tmp_path / sub / "a.png"), data.camera()[::16, ::16])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"no image .* in .*not recursive.*: gt, im"):
        list_images(tmp_path)


def test_a_state_dict_with_missing_or_extra_keys_is_one_short_line(tmp_path, capsys):
    """A state dict saved from parameters only (no BatchNorm buffers) used to print torch's message listing every one
    of its ~200 missing keys over several lines; now one line with counts and the first few names."""
    model = ISNetDIS(width=0.0625)
    params = dict(model.named_parameters())
    torch.save({**{k: v.detach() for k, v in params.items()}, "ema.decay": torch.tensor(0.99)}, tmp_path / "p.pth")
    assert cv2.imwrite(str(tmp_path / "a.png"), data.camera()[::16, ::16])
    argv = ["--checkpoint", str(tmp_path / "p.pth"), "--input", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"),
            "--size", "32", "--workers", "0", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    n_missing = sum(k not in params and not k.endswith("num_batches_tracked") for k in model.state_dict())
    assert "\n" not in err and len(err) < 600, err
    assert f"{n_missing} missing key(s)" in err and "1 unexpected key(s) (ema.decay)" in err and "p.pth" in err, err


def test_earlier_predictions_left_in_out_are_named(tmp_path, capsys):
    """A rerun into the same --out (another model, fewer images, or one now skipped as unreadable) left the earlier
    run's PNGs beside the new ones without a word, and `segmetrics eval` then scored them as this model's."""
    ckpt = tmp_path / "m.pth"
    torch.save(ISNetDIS(width=0.0625).state_dict(), ckpt)
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    out.mkdir()
    assert cv2.imwrite(str(inp / "a.png"), data.camera()[::16, ::16])
    (inp / "b.png").write_bytes(b"\x89PNG garbage")  # skipped below
    assert cv2.imwrite(str(out / "b.png"), np.zeros((4, 4), np.uint8))  # an earlier run's prediction for b
    argv = ["--checkpoint", str(ckpt), "--input", str(inp), "--out", str(out), "--size", "32", "--workers", "0",
            "--no-progress", "--skip-unreadable"]
    with pytest.warns(UserWarning, match="skipped"):
        assert main(argv) == 0
    err = capsys.readouterr().err
    assert "--out" in err and "1 other PNG" in err and "b.png" in err, err
    (out / "b.png").unlink()
    (inp / "b.png").unlink()
    assert main(argv) == 0
    assert "other PNG" not in capsys.readouterr().err  # only this run's predictions: nothing to say


def test_non_finite_weights_are_refused(tmp_path):
    """A checkpoint from a diverged run (NaN weights) used to load and write all-black PNGs (NaN maps become 0)."""
    state = ISNetDIS(width=0.0625).state_dict()
    state["stage3.rebnconv1.conv_s1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "diverged.pth")
    with pytest.raises(ValueError, match=r"--checkpoint: diverged\.pth holds non-finite.*stage3\.rebnconv1\.conv_s1"):
        load_isnet(tmp_path / "diverged.pth")


def test_non_finite_predictions_are_reported(tmp_path):
    """fp16 autocast (`--precision auto` on GPUs without bf16) can overflow to NaN: such maps were written as black
    PNGs without a word."""
    from infer_isnet import predict_files

    model = ISNetDIS(width=0.0625)
    model.side1.register_forward_hook(lambda mod, inp, out: out * float("nan"))
    assert cv2.imwrite(str(tmp_path / "a.png"), data.camera()[::16, ::16])
    with pytest.warns(UserWarning, match=r"1 prediction\(s\) .*NaN.*a\.png.*--precision fp32"):
        res = predict_files(model, [tmp_path / "a.png"], tmp_path / "o", size=32)
    assert res["written"] and res["non_finite"] == [str(tmp_path / "a.png")]


def test_a_png_that_cannot_be_written_is_named(tmp_path, capsys):
    """A failed write said only "cv2.imwrite failed for an output PNG", naming no file (here a folder is in the way)."""
    ckpt = tmp_path / "m.pth"
    torch.save(ISNetDIS(width=0.0625).state_dict(), ckpt)
    assert cv2.imwrite(str(tmp_path / "a.png"), data.camera()[::16, ::16])
    (tmp_path / "out" / "a.png").mkdir(parents=True)
    assert main(["--checkpoint", str(ckpt), "--input", str(tmp_path / "a.png"), "--out", str(tmp_path / "out"),
                 "--size", "32", "--workers", "0", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and str(tmp_path / "out" / "a.png") in err and "Traceback" not in err, err


def test_a_gt_encoder_file_is_named_as_such(tmp_path):
    """gt_encoder.pt (the mask auto-encoder train_isnet.py writes beside checkpoint.pt) was only "not an ISNetDIS state
    dict"; the message now says what it is and which file to pass instead."""
    from isnet_model import ISNetGTEncoder

    torch.save(ISNetGTEncoder(1, 1, 0.0625).state_dict(), tmp_path / "encoder.pt")
    with pytest.raises(ValueError, match=r"not an ISNetDIS state dict.*GT encoder.*checkpoint\.pt or best\.pt"):
        load_isnet(tmp_path / "encoder.pt")
    torch.save({"encoder.weight": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an ISNetDIS state dict") as exc:
        load_isnet(tmp_path / "other.pt")
    assert "GT encoder" not in str(exc.value)


def test_checkpoint_pt_says_it_holds_the_last_not_the_best_weights(tmp_path, dataset, capsys):
    """checkpoint.pt's "model" is the last iteration's weights; after early stopping the run's summary names best.pt's
    earlier iteration, and inference on checkpoint.pt scored another model than the one reported, without a word."""
    ckpt = _train_isnet_checkpoint(tmp_path / "run")
    obj = torch.load(ckpt, weights_only=False)
    obj["progress"]["image"].update(iteration=300, best_iteration=200)
    obj["best_model"] = obj["model"]
    torch.save(obj, ckpt)
    assert main(["--checkpoint", str(ckpt), "--input", str(dataset / "im" / "coffee.jpg"), "--out",
                 str(tmp_path / "p"), "--workers", "0", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "last weights (iteration 300)" in out and "best.pt" in out and "iteration 200" in out, out
