"""The latent-diversity CAN example: architecture (Table 1), click encoding, training clicks, a tiny run end to end."""

from __future__ import annotations

import json

import can_model
import numpy as np
import pytest
import torch
import train_can
from PIL import Image
from skimage import data


def test_receptive_field_is_513_analytically():
    assert can_model.receptive_field() == 513
    assert can_model.DILATIONS == (1, 2, 4, 8, 16, 32, 64, 128, 1)


def test_receptive_field_is_513_by_gradient():
    # The convolution path decides the receptive field; the per-image statistics of the normalisation
    # are global by design, so their branch is switched off (w1 = 0, its value at initialisation).
    torch.manual_seed(0)
    f = can_model.SegmentationCAN(num_outputs=1, width=2)
    for m in f.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight)
    n, c = 521, 260
    x = torch.zeros(1, 7, n, n, requires_grad=True)
    f(x)[0, 0, c, c].backward()
    rows, cols = np.nonzero(x.grad.abs().sum((0, 1)).numpy())
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (c - 256, c + 256, c - 256, c + 256)


@pytest.mark.parametrize("shape", [(9, 9), (5, 20), (20, 5), (3, 3)])
def test_dilated_conv_skipping_padding_taps_is_exact(shape):
    torch.manual_seed(0)
    conv = can_model.DilatedConv(3, 4, dilation=8)
    x = torch.randn(2, 3, *shape, requires_grad=True)
    y = conv(x)
    ref = torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding=8, dilation=8)
    torch.testing.assert_close(y, ref)
    gy = torch.randn_like(y)
    g_fast = torch.autograd.grad(y, (x, conv.weight), gy)
    g_ref = torch.autograd.grad(ref, (x, conv.weight), gy)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b)


def test_shapes_identity_init_and_per_image_normalisation():
    torch.manual_seed(0)
    f = can_model.SegmentationCAN(num_outputs=6, width=16)
    g = can_model.SelectionCAN(num_outputs=6, width=16)
    x = torch.rand(3, 7, 24, 40)
    logits = f(x)
    assert logits.shape == (3, 6, 24, 40)
    assert g(x, torch.sigmoid(logits)).shape == (3, 6)
    body = f.body.layers
    centre = body[3].weight[:, :, 1, 1]
    assert torch.equal(centre, torch.eye(16)) and body[3].dilation == (1, 1) and body[-3].dilation == (1, 1)
    assert [m.dilation[0] for m in body if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)] == list(
        can_model.DILATIONS
    )
    with torch.no_grad():
        for m in f.modules():
            if isinstance(m, can_model.AdaptiveNorm):
                m.w1.fill_(0.5)
        train_out = f.train()(x)
        eval_out = f.eval()(x)
        alone = f(x[1:2])
    torch.testing.assert_close(train_out, eval_out)  # no running statistics: eval() changes nothing
    torch.testing.assert_close(alone, eval_out[1:2], rtol=1e-4, atol=1e-5)  # statistics are per image


def _selection_batch(size=24, n=3):
    """Generated scenes, a positive click at each object's centre, and six candidate masks per object:
    the object (the best), empty, full, shifted, all objects, and its upper part."""
    import dis_synth
    from scipy import ndimage

    xs, masks, gts = [], [], []
    for i in range(n):
        image, inst = dis_synth.generate_scene(i, size, n_objects=2)
        ids, counts = np.unique(inst[inst > 0], return_counts=True)
        gt = inst == ids[counts.argmax()]
        y, x = np.unravel_index(ndimage.distance_transform_edt(gt).argmax(), gt.shape)
        xs.append(can_model.encode_clicks(image, [(int(y), int(x))], []))
        cands = [gt, np.zeros_like(gt), np.ones_like(gt), np.roll(gt, size // 4, 1), inst > 0,
                 gt & (np.arange(size)[:, None] < y)]
        masks.append(np.stack(cands).astype(np.float32) * 0.9 + 0.05)
        gts.append(gt.astype(np.float32))
    logits = torch.logit(torch.from_numpy(np.stack(masks)))
    return torch.from_numpy(np.stack(xs)), logits, torch.from_numpy(np.stack(gts))


def test_selection_network_learns_on_shuffled_masks():
    # Regression: the paper's literal g (one body over 7 + M channels) stayed at ln M here and in training;
    # the shared-weight g must pick the best of six shuffled masks, and its scores must differ across masks.
    from segloss import SelectionLoss, shuffle_outputs

    x, logits, gt = _selection_batch()
    torch.manual_seed(0)
    g = can_model.SelectionCAN(num_outputs=6, width=8)
    # lr 3e-3 for 80 steps: at 1e-2 / 40 steps the outcome depended on torch's thread count (float
    # reduction order); this setting learned the selection for 3 seeds x 1 and 2 threads
    opt = torch.optim.Adam(g.parameters(), lr=3e-3)
    crit, gen = SelectionLoss(), torch.Generator().manual_seed(0)
    for _ in range(80):
        shuffled, _ = shuffle_outputs(logits, generator=gen)
        loss = crit(g(x, torch.sigmoid(shuffled)), shuffled, gt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        shuffled, perm = shuffle_outputs(logits, generator=gen)
        scores = g(x, torch.sigmoid(shuffled))
        final = crit(scores, shuffled, gt)
    assert final < 0.5 * np.log(6)
    assert (scores.std(1) > 0.1).all()
    assert (perm.gather(1, scores.argmax(1, keepdim=True)) == 0).all()  # the object itself, wherever it was put


def test_selection_network_layouts_and_mask_count():
    x, probs = torch.rand(2, 7, 16, 20), torch.rand(2, 4, 16, 20)
    shared = can_model.SelectionCAN(num_outputs=4, width=8)
    paper = can_model.SelectionCAN(num_outputs=4, width=8, shared=False)
    assert shared(x, probs).shape == paper(x, probs).shape == (2, 4)
    assert paper.body.layers[0].in_channels == 7 + 4 and shared.body.layers[0].in_channels == 7 + 1
    # shared weights: permuting the masks permutes the scores
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(shared(x, probs[:, perm]), shared(x, probs)[:, perm])
    cl = shared(x.contiguous(memory_format=torch.channels_last), probs)
    torch.testing.assert_close(cl, shared(x, probs))
    with pytest.raises(ValueError, match="`probs` must have 4 masks"):
        shared(x, probs[:, :3])
    with pytest.raises(ValueError, match="`num_outputs` must be >= 1"):
        can_model.SelectionCAN(num_outputs=0)


def test_pluggable_backbone_is_frozen_and_resized():
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
            self.b = torch.nn.Conv2d(4, 5, 3, stride=2, padding=1)

        def forward(self, x):
            y = self.a(x)
            return [y, self.b(y)]

    f = can_model.SegmentationCAN(num_outputs=2, width=8, backbone=Tiny(), backbone_channels=9)
    x = torch.rand(2, 7, 20, 28)
    assert f.features(x).shape == (2, 16, 20, 28)
    f(x).sum().backward()
    assert all(p.grad is None for p in f.backbone.parameters())
    with pytest.raises(ValueError, match="`backbone` and `backbone_channels`"):
        can_model.SegmentationCAN(backbone=Tiny())


def test_click_encoding():
    image = data.astronaut()[:40, :50]
    x = can_model.encode_clicks(image, [(5, 6)], [])
    assert x.shape == (7, 40, 50) and x.dtype == np.float32
    np.testing.assert_allclose(x[:3], image.transpose(2, 0, 1) / 255)
    assert x[3, 5, 6] == 0 and x[3, 5, 9] == pytest.approx(3 / 255) and x[3].max() <= 1
    assert (x[4] == 1).all()  # no negative click: the distance is capped everywhere
    assert x[5, 5, 6] == 0 and x[5].sum() == 40 * 50 - 1 and (x[6] == 1).all()


def test_training_clicks_follow_the_xu_sampler():
    gt = data.horse()[::4, ::4] == 0
    others = np.zeros_like(gt)
    others[:8, :8] = True
    for seed in range(30):
        rng = np.random.default_rng(seed)
        pos, neg = train_can.sample_clicks(rng, gt, others, no_neg=0.0)
        assert 1 <= len(pos) <= 5 and all(gt[y, x] for y, x in pos)
        assert neg and not any(gt[y, x] for y, x in neg)
        d = [np.hypot(a[0] - b[0], a[1] - b[1]) for i, a in enumerate(pos) for b in pos[:i]]
        assert all(v > 5 for v in d)
    again = train_can.sample_clicks(np.random.default_rng(3), gt, others)
    assert again == train_can.sample_clicks(np.random.default_rng(3), gt, others)


TINY = ["--size", "32", "--steps", "2", "--g-steps", "2", "--batch", "2", "--val-instances", "2", "--max-clicks", "3",
        "--width", "8", "--log-every", "1", "--train-scenes", "4", "--min-area", "10"]


@pytest.mark.parametrize("extra", [[], ["--loss", "rdl", "--no-untrained"], ["--outputs", "1", "--no-untrained"]])
def test_tiny_training_run_end_to_end(tmp_path, extra, capsys):
    summary = train_can.main([*TINY, *extra, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "NoC@85" in out and "mIoU@1" in out
    assert len(summary["f_loss"]) == 2 and all(np.isfinite(summary["f_loss"]))
    methods = set(summary["results"])
    if not extra:
        assert {"f + g (selected output)", "f, output 1", "untrained f, output 1"} <= methods
        assert len(summary["g_loss"]) == 2 and (tmp_path / "g.pt").exists()
    for r in summary["results"].values():
        assert 1 <= r["noc@85"] <= 3 and 0 <= r["miou@1"] <= 1
    assert json.loads((tmp_path / "config.json").read_text())["size"] == 32


def test_tiny_run_on_an_instance_folder(tmp_path):
    import dis_synth

    for i in range(3):
        image, inst = dis_synth.generate_scene(i, 32, n_objects=2)
        (tmp_path / "d" / "images").mkdir(parents=True, exist_ok=True)
        (tmp_path / "d" / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "d" / "images" / f"{i}.png")
        Image.fromarray(inst.astype(np.uint8)).save(tmp_path / "d" / "masks" / f"{i}.png")
    summary = train_can.main([*TINY, "--data", str(tmp_path / "d"), "--val-data", str(tmp_path / "d"),
                              "--layout", "instances", "--no-untrained", "--out", str(tmp_path / "run")])
    assert summary["results"]["f + g (selected output)"]["noc@90"] <= 3


def test_latency_benchmark_dry_run(capsys):
    """benchmarks/bench_can_latency.py --quick: the timed path (f + g, selection, mask to host) runs on the CPU."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_can_latency.py"
    spec = importlib.util.spec_from_file_location("bench_can_latency", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = bench.main(["--device", "cpu", "--quick"])
    assert set(res) == {"encode_ms", "fp32_ms", "bf16_ms"} and all(v > 0 for v in res.values())
    assert "48x64" in capsys.readouterr().out


def test_g_width_defaults_to_the_capped_rule_and_is_used(tmp_path):
    """--g-width: the shared g is capped at 32 channels (M bodies per click); the paper layout keeps f's width."""
    assert train_can.parse_args(["--width", "64"]).g_width == 32
    assert train_can.parse_args(["--width", "16"]).g_width == 16
    assert train_can.parse_args(["--width", "64", "--g-paper-layout"]).g_width == 64
    assert train_can.parse_args(["--width", "64", "--g-width", "48"]).g_width == 48
    with pytest.raises(SystemExit):
        train_can.parse_args(["--g-width", "0"])
    train_can.main([*TINY, "--g-width", "4", "--no-untrained", "--out", str(tmp_path)])
    state = torch.load(tmp_path / "g.pt")
    assert state["head.weight"].shape == (1, 4, 1, 1)  # g built with --g-width, f with --width
    assert torch.load(tmp_path / "f.pt")["head.weight"].shape == (6, 8, 1, 1)
    assert json.loads((tmp_path / "config.json").read_text())["g_width"] == 4


def test_small_object_of_a_folder_survives_the_resize(tmp_path):
    """--data at the default --size 48: an object above --min-area at native size (42 px of a 375 x 500 image) must
    not vanish in the nearest-neighbour resize (it was trained on as an empty mask and the evaluation then
    stopped with a traceback: `gt` must contain at least one object pixel)."""
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    photo = data.astronaut()[:375, :500]
    for i in range(10):
        mask = np.zeros((375, 500), np.uint8)
        mask[200 + i : 206 + i, 301:308] = 255  # 6 x 7 = 42 px, between the resize's sampling points
        Image.fromarray(photo).save(root / "images" / f"{i}.png")
        Image.fromarray(mask).save(root / "masks" / f"{i}.png")
    args = train_can.parse_args(["--data", str(root)])
    for split in ("train", "val"):
        objects = train_can._Objects(args, split)
        for i in range(len(objects)):
            _, image, gt, _, _ = objects.get(i)
            assert image.shape[:2] == gt.shape == (48, 48) and gt.any(), (split, i)
    summary = train_can.main([*TINY, "--size", "48", "--data", str(root), "--no-untrained",
                              "--out", str(tmp_path / "run")])
    assert summary["results"]["f, output 1"]["noc@85"] <= 3


def test_click_encoding_of_grey_and_rgba_images_and_bad_clicks():
    """InteractiveCAN is a predict callable for any image segmetrics.interactive is given: a grey or RGBA image was a
    numpy 'axes don't match' error or a conv2d channel mismatch; a negative click silently wrapped to the far side."""
    grey = data.camera()[:40, :50]
    x = can_model.encode_clicks(grey, [(5, 6)], [])
    assert x.shape == (7, 40, 50)
    np.testing.assert_allclose(x[:3], np.repeat(grey[None] / 255, 3, axis=0))
    np.testing.assert_array_equal(can_model.encode_clicks(grey[..., None], [(5, 6)], []), x)
    rgb = data.astronaut()[:40, :50]
    rgba = np.dstack([rgb, np.full((40, 50), 9, np.uint8)])
    expected = can_model.encode_clicks(rgb, [], [(1, 2)])
    np.testing.assert_array_equal(can_model.encode_clicks(rgba, [], [(1, 2)]), expected)
    with pytest.raises(ValueError, match=r"`image` must be .*\(H, W, 3\).*got shape \(40, 50, 5\)"):
        can_model.encode_clicks(np.zeros((40, 50, 5), np.uint8), [], [])
    with pytest.raises(TypeError, match=r"`image` must be uint8 .*float64"):
        can_model.encode_clicks(rgb / 255.0, [], [])
    for pos, neg, name in (([(-1, 5)], [], "positive"), ([], [(3, 50)], "negative")):
        with pytest.raises(ValueError, match=rf"`{name}` clicks must lie inside the 40 x 50 image"):
            can_model.encode_clicks(rgb, pos, neg)
    model = can_model.InteractiveCAN(can_model.SegmentationCAN(2, 4), mode="oracle")
    with pytest.raises(ValueError, match=r"set `gt`"):
        model(rgb, [(5, 6, True)])
    model.gt = np.zeros((40, 50), bool)
    assert model(grey, [(5, 6, True)]).shape == (40, 50)


def _voc_folder(tmp_path, outer: int):
    """A VOC-style id-map folder on coins: objects 1 and 2 with a 255 void band (``outer`` px out, 2 px in)."""
    from scipy import ndimage

    coins = data.coins()[:96, :128]
    ids = np.zeros(coins.shape, np.uint8)
    ids[20:50, 20:60], ids[55:90, 70:120] = 1, 2
    void = ndimage.binary_dilation(ids > 0, iterations=outer) & ~ndimage.binary_erosion(ids > 0, iterations=2)
    ids[void] = 255
    root = tmp_path / "voc"
    for sub, arr in (("images", np.dstack([coins] * 3)), ("masks", ids)):
        (root / sub).mkdir(parents=True)
        Image.fromarray(arr).save(root / sub / "a.png")
    return root, void


def test_a_voc_style_folder_ignores_its_void_band(tmp_path):
    """--data with VOC-style id maps: there was no way to pass the ignore value, so the void band (255) was one more
    instance (NAME#255), counted as another object for negative clicks, and left in the NoC IoU."""
    root, void = _voc_folder(tmp_path, outer=2)
    args = train_can.parse_args(["--data", str(root), "--val-data", str(root), "--layout", "instances",
                                 "--ignore-value", "255", "--size", "0", "--batch", "1", "--g-batch", "1"])
    objects = train_can._Objects(args, "val")
    assert len(objects) == 2  # not a#255
    name, _, gt, others, ignore = objects.get(0)
    assert name == "a#1" and np.array_equal(ignore, void) and not (others & void).any() and not (gt & void).any()

    class Oracle:  # right everywhere but on the void band, which it fills
        gt = None

        def __call__(self, image, clicks):
            return self.gt | void

    ev = train_can.evaluate(Oracle(), objects, args)
    assert [r.ious for r in ev.results] == [(1.0,), (1.0,)]


def test_training_steps_make_no_host_read_and_train_seconds_count_training_only(tmp_path, monkeypatch):
    """Two things the summary / the training step got wrong:
    - every step of f and g ran the losses' value checks (a host read per step, which a training step must not
      make); they now check the first batch of each network only (the pipeline), and are back on after the run;
    - ``train_seconds`` started before the untrained model's evaluation, so it counted that evaluation too."""
    import time

    import segloss._validation as validation

    calls = []
    real = validation.value_checks_enabled
    monkeypatch.setattr(validation, "value_checks_enabled", lambda: calls.append(real()) or calls[-1])
    real_evaluate, real_train_f = train_can.evaluate, train_can.train_f
    spans = {}

    def slow_evaluate(model, objects, args):
        if not spans:  # the untrained model's evaluation, before any training
            time.sleep(1.0)
        return real_evaluate(model, objects, args)

    def timed_train_f(*a):
        t0 = time.perf_counter()
        try:
            return real_train_f(*a)
        finally:
            spans["f"] = time.perf_counter() - t0

    monkeypatch.setattr(train_can, "evaluate", slow_evaluate)
    monkeypatch.setattr(train_can, "train_f", timed_train_f)
    summary = train_can.main([*TINY, "--steps", "3", "--g-steps", "3", "--out", str(tmp_path)])
    assert len(calls) >= 6 and calls.count(True) == 2, calls  # the first step of f and of g
    assert real()  # restored
    assert spans["f"] <= summary["train_seconds"] <= summary["total_seconds"] - 1.0


def test_a_diverging_run_stops_with_one_line_naming_the_learning_rate(tmp_path):
    # with the value checks on every step, NaN logits ended the run with a traceback from inside the loss
    with pytest.raises(SystemExit) as exc:
        train_can.main([*TINY, "--lr", "1e30", "--steps", "3", "--no-untrained", "--out", str(tmp_path)])
    msg = str(exc.value.code)
    assert "\n" not in msg and msg.startswith("f: the loss is not finite at step") and "--lr" in msg, msg


def test_held_out_split_of_an_id_map_folder_keeps_each_image_on_one_side(tmp_path):
    """--data without --val-data held out every 10th *instance*: with id maps (two objects per image) image 4's
    second object was a validation object while its first was trained on, with the validation object itself
    as a negative-click region (strategy c). The split is by image now (binary folders: one image per instance,
    so unchanged)."""
    root = tmp_path / "ids"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    coins = np.dstack([data.coins()[:40, :40]] * 3)
    for i in range(10):
        ids = np.zeros((40, 40), np.uint8)
        ids[2:18, 2:18], ids[22:38, 20:38] = 1, 2
        Image.fromarray(coins).save(root / "images" / f"{i}.png")
        Image.fromarray(ids).save(root / "masks" / f"{i}.png")
    args = train_can.parse_args(["--data", str(root), "--layout", "instances", "--min-area", "10"])
    names = {s: {train_can._Objects(args, s).get(i)[0] for i in range(len(train_can._Objects(args, s)))}
             for s in ("train", "val")}
    assert names["val"] == {"9#1", "9#2"}, names
    assert len(names["train"]) == 18 and not {n.split("#")[0] for n in names["train"]} & {"9"}


def test_hindsight_oracle_leaves_the_ignored_pixels_out_of_its_choice():
    """--ignore-value: the NoC IoU leaves the void band out, but the oracle chose its output with the band counted as
    background, so it could pick an output that is worse on the scored pixels (here 0.9 instead of 1.0)."""
    gt = np.zeros((30, 30), bool)
    gt[5:15, 5:15] = True
    void = np.zeros_like(gt)
    void[20:26, 5:15] = True
    trimmed = gt.copy()
    trimmed[5, 5:15] = False  # 90 of the 100 object pixels
    model = can_model.InteractiveCAN(can_model.SegmentationCAN(2, 4), mode="oracle")
    probs = torch.from_numpy(np.stack([gt | void, trimmed]).astype(np.float32))
    model.probabilities = lambda image, clicks: (probs, None)
    model.gt, model.ignore = gt, void
    np.testing.assert_array_equal(model(np.zeros((30, 30, 3), np.uint8), [(9, 9, True)]), gt | void)

    seen = []

    class Recorder:
        gt, ignore = None, "not set"

        def __call__(self, image, clicks):
            seen.append(self.ignore)
            return self.gt

    args = train_can.parse_args(["--size", "32", "--val-instances", "1", "--max-clicks", "1", "--min-area", "10"])
    train_can.evaluate(Recorder(), train_can._Objects(args, "val"), args)
    assert seen == [None]  # evaluate() hands the instance's ignore mask (none for generated scenes) to the model


def test_training_on_a_voc_style_folder_leaves_the_void_band_out(tmp_path):
    """--ignore-value kept the void band out of the evaluation only: training targets marked it background (the
    losses pushed every output to shrink off it) and negative clicks (strategies a and b) landed on it."""
    root, void = _voc_folder(tmp_path, outer=4)
    argv = ["--data", str(root), "--val-data", str(root), "--layout", "instances", "--ignore-value", "255",
            "--size", "0", "--batch", "1", "--g-batch", "1", "--band", "6", "--no-neg", "0"]
    args = train_can.parse_args(argv)
    samples = train_can.ClickSamples(train_can._Objects(args, "train"), 40, args)
    negatives = 0
    for i in range(len(samples)):
        b = samples[i]
        assert (b["gt"][torch.from_numpy(void)] == train_can.IGNORE).all()
        assert set(b["gt"][torch.from_numpy(~void)].unique().tolist()) <= {0.0, 1.0}
        assert not b["neg"][torch.from_numpy(void)].any() and not b["pos"][torch.from_numpy(void)].any()
        negatives += int(b["neg"].sum())
    assert negatives > 40
    tiny = ["--steps", "2", "--g-steps", "2", "--max-clicks", "2", "--width", "4", "--no-untrained"]
    summary = train_can.main([*argv, *tiny, "--out", str(tmp_path / "run")])
    assert all(np.isfinite(summary["f_loss"])) and all(np.isfinite(summary["g_loss"]))


def test_a_generated_scene_without_any_object_is_replaced():
    """At --size 16 a scene can come out with no visible object (scene 27 of seed 0 with --objects 1): the
    "object" was then instance 0, the whole background, trained on and evaluated as `scene27#0`."""
    args = train_can.parse_args(["--size", "16", "--objects", "1", "--train-scenes", "30", "--min-area", "1"])
    objects = train_can._Objects(args, "train")
    name, image, gt, _, _ = objects.get(27)
    assert not name.endswith("#0") and 0 < gt.sum() < gt.size and image.shape == (16, 16, 3), name
    assert objects.get(27)[0] == name  # still a function of the index


@pytest.mark.parametrize("flag", ["--train-scenes", "--val-instances"])
def test_generated_scene_counts_stay_below_the_validation_offset(flag, capsys):
    # --train-scenes above 1,000,000 reached the validation scenes' indices: validation scenes were trained on
    with pytest.raises(SystemExit) as exc:
        train_can.parse_args([flag, str(train_can.VAL_OFFSET + 1)])
    assert exc.value.code == 2
    assert f"argument {flag}: must be an integer in [1, {train_can.VAL_OFFSET}]" in capsys.readouterr().err
    assert getattr(train_can.parse_args([flag, str(train_can.VAL_OFFSET)]), flag[2:].replace("-", "_")) > 0


def test_every_row_of_the_printed_table_is_written_to_out(tmp_path, capsys):
    """The docstring says the table is printed and written to --out: the untrained model's row was printed and in
    summary.json but had no results.json (so `segmetrics table` over --out lost it), and the table itself was not
    written."""
    summary = train_can.main([*TINY, "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    saved = sorted(p.parent.name for p in tmp_path.glob("*/results.json"))
    assert len(saved) == len(summary["results"]) == 4 and "untrained_f__output_1" in saved, saved
    table = (tmp_path / "table.txt").read_text()
    assert table.strip() and table.strip() in printed


def test_a_rerun_into_the_same_out_leaves_only_its_own_files(tmp_path, capsys):
    """A run with fewer rows or no g (--loss rdl) into the folder of an earlier run left that run's g.pt and its
    f + g row's results.json beside its own, so `segmetrics table` over --out mixed the two runs."""
    train_can.main([*TINY, "--out", str(tmp_path)])
    assert (tmp_path / "g.pt").is_file() and (tmp_path / "f___g__selected_output" / "results.json").is_file()
    (tmp_path / "mine.txt").write_text("kept")  # not the run's: left alone
    summary = train_can.main([*TINY, "--loss", "rdl", "--no-untrained", "--out", str(tmp_path)])
    saved = sorted(p.parent.name for p in tmp_path.glob("*/results.json"))
    assert len(saved) == len(summary["results"]) and "f___g__selected_output" not in saved, saved
    assert not (tmp_path / "g.pt").exists() and (tmp_path / "f.pt").is_file()
    assert (tmp_path / "mine.txt").read_text() == "kept"
    assert not list(tmp_path.glob("*.tmp"))  # the atomic writes leave no temporary behind


def test_rows_name_the_evaluated_folder(tmp_path, monkeypatch):
    """The dataset column named --data's last path part even when the rows were evaluated on --val-data, and it was
    empty for `--data .`."""
    import dis_synth

    for name in ("train_set", "val_set"):
        for sub in ("images", "masks"):
            (tmp_path / name / sub).mkdir(parents=True)
        for i in range(2):
            image, inst = dis_synth.generate_scene(i, 32, n_objects=1)
            Image.fromarray(image).save(tmp_path / name / "images" / f"{i}.png")
            Image.fromarray(((inst > 0) * 255).astype(np.uint8)).save(tmp_path / name / "masks" / f"{i}.png")
    monkeypatch.chdir(tmp_path / "train_set")
    tiny = [*TINY, "--no-untrained", "--outputs", "1"]
    summary = train_can.main([*tiny, "--data", ".", "--val-data", "../val_set", "--out", str(tmp_path / "a")])
    assert json.loads((tmp_path / "a" / "f__M___1" / "results.json").read_text())["dataset"] == "val_set"
    assert summary["dataset"] == "val_set"
    train_can.main([*tiny, "--data", ".", "--val-data", ".", "--out", str(tmp_path / "b")])
    assert json.loads((tmp_path / "b" / "f__M___1" / "results.json").read_text())["dataset"] == "train_set"


def test_hindsight_oracle_thresholds_like_the_evaluation():
    # the oracle chose with `p > 0.5` while the NoC IoU uses RITM's `p > 0.49`: an output at 0.495 on the object
    # (IoU 1 where it is scored) counted as empty, and the oracle took a worse one
    gt = np.zeros((20, 20), bool)
    gt[4:14, 4:14] = True
    trimmed = gt.copy()
    trimmed[4] = False
    model = can_model.InteractiveCAN(can_model.SegmentationCAN(2, 4), mode="oracle")
    probs = torch.from_numpy(np.stack([gt * 0.495, trimmed * 1.0]).astype(np.float32))
    model.probabilities = lambda image, clicks: (probs, None)
    model.gt = gt
    out = model(np.zeros((20, 20, 3), np.uint8), [(9, 9, True)])
    assert np.array_equal(out > train_can.InteractiveEvaluator().threshold, gt)
