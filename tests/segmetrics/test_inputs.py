import numpy as np
import pytest
import torch

from segmetrics._inputs import prepare_gt, prepare_pair, prepare_pairs, prepare_pred


def test_uint8_pred_matches_pysod_division():
    p = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(prepare_pred(p), p / 255)


def test_float_gt_threshold_matches_uint8():
    g = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(prepare_gt(g), prepare_gt(g / 255))
    assert not prepare_gt(np.full((2, 2), 128, np.uint8)).any()
    assert prepare_gt(np.full((2, 2), 129, np.uint8)).all()


def test_torch_and_batches():
    p = torch.rand(3, 1, 8, 9)
    g = torch.rand(3, 8, 9) > 0.5
    pairs, batched = prepare_pairs(p, g)
    assert batched and len(pairs) == 3 and pairs[0][0].shape == (8, 9)
    preds = [np.zeros((4, 4)), np.zeros((5, 6))]
    pairs, batched = prepare_pairs(preds, [np.zeros((4, 4), bool), np.ones((5, 6), bool)])
    assert batched and pairs[1][1].all()
    _, batched = prepare_pairs(np.zeros((4, 4)), np.zeros((4, 4), bool))
    assert not batched


@pytest.mark.parametrize(
    ("pred", "gt", "exc", "match"),
    [
        (np.zeros((4, 4)), np.zeros((4, 5), bool), ValueError, r"same shape; got pred \(4, 4\) and gt \(4, 5\)"),
        (np.full((4, 4), np.nan), np.zeros((4, 4), bool), ValueError, "`pred` must be finite"),
        (np.full((4, 4), 1.5), np.zeros((4, 4), bool), ValueError, r"`pred` of floating dtype must lie in \[0, 1\]"),
        (np.zeros((4, 4), np.int32), np.zeros((4, 4), bool), TypeError, "`pred` must be uint8.*got dtype int32"),
        (np.zeros((0, 4)), np.zeros((0, 4), bool), ValueError, "`pred` must not be empty"),
        (np.zeros((4, 4)), np.full((4, 4), 3, np.int64), ValueError, r"`gt` of integer dtype int64 must hold 0/1"),
        (np.zeros((2, 3, 4, 4)), np.zeros((2, 4, 4), bool), ValueError, r"one channel, shape \(N, 1, H, W\)"),
        (np.zeros((2, 4, 4)), np.zeros((3, 4, 4), bool), ValueError, "same number of maps; got 2 and 3"),
        (np.zeros((2, 4, 4)), np.zeros((4, 4), bool), ValueError, "both be single"),
        ("abc", np.zeros((4, 4), bool), TypeError, "`pred` must be a numpy array or torch tensor"),
        ([np.zeros((4, 4)), np.zeros((4, 4)) + 2], [np.zeros((4, 4), bool)] * 2, ValueError, "item 1: `pred`"),
    ],
)
def test_bad_inputs(pred, gt, exc, match):
    with pytest.raises(exc, match=match):
        prepare_pairs(pred, gt)


def test_prepare_pair_contiguous():
    p, g = prepare_pair(np.zeros((8, 8))[:, ::2], np.zeros((8, 8), np.uint8)[:, ::2])
    assert p.flags.c_contiguous and g.flags.c_contiguous and g.dtype == bool


def _bool_parameters():
    """Every (public metric ``f(pred, gt, ...)``, keyword with a bool default) of ``segmetrics``."""
    import inspect

    import segmetrics

    out = []
    for name in segmetrics.__all__:
        fn = getattr(segmetrics, name)
        if not inspect.isfunction(fn) or list(inspect.signature(fn).parameters)[:2] != ["pred", "gt"]:
            continue
        for p in inspect.signature(fn).parameters.values():
            if p.kind is p.KEYWORD_ONLY and isinstance(p.default, bool):
                out.append(pytest.param(fn, p.name, id=f"{name}-{p.name}"))
    return out


@pytest.mark.parametrize(("fn", "arg"), _bool_parameters())
@pytest.mark.parametrize("value", ["False", 0, None])
def test_every_public_bool_option_rejects_non_bools(fn, arg, value):
    # `normalize="False"` used to be read as true by iou / dice / region_overlap / boundary_fscore.
    import inspect

    gt = np.zeros((8, 8), bool)
    gt[2:6, 2:6] = True
    args = [np.where(gt, 200, 10).astype(np.uint8), gt]
    if "image" in inspect.signature(fn).parameters:
        args.append(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(TypeError, match=rf"`{arg}` must be a bool; got {type(value).__name__} {value!r}"):
        fn(*args, **{arg: value})


def test_bool_sweep_covers_the_region_and_boundary_metrics():
    ids = {p.id for p in _bool_parameters()}
    assert {"iou-normalize", "dice-normalize", "region_overlap-normalize", "boundary_fscore-normalize"} <= ids


def test_float32_conversions_of_uint8_maps_binarise_as_the_uint8_map():
    # float32(128 / 255) lies above 128 / 255: `gt_u8 / 255` in float32 made a GT of 128 foreground, and a
    # prediction of 128 foreground for HCE and mBA ("raw > 128"), unlike the uint8 map (HCE 24 vs 23 on a photo).
    import segmetrics
    from tests.segmetrics.photo_cases import make_photo_case

    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for as_float in (lambda x: x / 255.0, lambda x: x / np.float32(255), lambda x: torch.from_numpy(x).float() / 255):
        np.testing.assert_array_equal(prepare_gt(as_float(levels)), prepare_gt(levels))
    pred, gt = make_photo_case("horse_blur")
    want = segmetrics.compute_all(pred, gt, metrics=("hce", "mba"))
    for p in (pred / np.float32(255), torch.from_numpy(pred).float() / 255, pred / 255.0):
        got = segmetrics.compute_all(p, gt, metrics=("hce", "mba"))
        assert (got.hce.total, got.mba) == (want.hce.total, want.mba)


def test_bfloat16_tensors_are_read_as_their_float32_values():
    # AMP predictions are often bfloat16: `.numpy()` refused them with torch's bare
    # "TypeError: Got unsupported ScalarType BFloat16", naming no argument. bfloat16 -> float32 is exact.
    import segmetrics

    rng = np.random.default_rng(0)
    gt = rng.random((12, 10)) > 0.5
    p16 = torch.from_numpy(rng.random((12, 10))).to(torch.bfloat16)
    p32 = p16.float().numpy()
    np.testing.assert_array_equal(prepare_pred(p16), p32.astype(np.float64))
    np.testing.assert_array_equal(prepare_gt(torch.from_numpy(gt).to(torch.bfloat16)), gt)
    assert segmetrics.mse(p16, gt) == segmetrics.mse(p32, gt)
    assert segmetrics.iou(p16[None], torch.from_numpy(gt)[None]).tolist() == [segmetrics.iou(p32, gt)]
    with pytest.raises(ValueError, match=r"`pred` of floating dtype must lie in \[0, 1\]; got values in \[0, 2\]"):
        prepare_pred(torch.full((4, 4), 2.0, dtype=torch.bfloat16).index_fill(0, torch.tensor([0]), 0.0))
    with pytest.raises(TypeError, match=r"`gt` must be a tensor of a numpy dtype; got torch.float8_e4m3fn"):
        prepare_gt(torch.zeros((4, 4), dtype=torch.float8_e4m3fn))


def test_numeric_options_given_huge_python_ints_are_checked_not_crashed():
    # A Python int beyond int64 (e.g. beta_sq=2**70, threshold=10**400) reached np.isfinite as an object and
    # failed with numpy's "ufunc 'isfinite' not supported for the input types", naming no option.
    import segmetrics
    from segmetrics._inputs import check_positive, check_threshold, check_unit_interval

    assert check_positive(2**70, "beta_sq") == 2.0**70
    with pytest.raises(ValueError, match=r"`beta_sq` must be finite and > 0; got 1000000000"):
        check_positive(10**400, "beta_sq")
    with pytest.raises(ValueError, match=r"`threshold` must lie in \[0, 1\); got 1180591620717411303424"):
        check_threshold(2**70, "threshold")
    with pytest.raises(ValueError, match=r"`alpha` must lie in \[0, 1\]; got 1000000000"):
        check_unit_interval(10**400, "alpha")
    gt = np.zeros((8, 8), bool)
    gt[2:6, 2:6] = True
    with pytest.raises(ValueError, match=r"`cm_alpha` must be <= 100"):
        segmetrics.compute_all(gt, gt, metrics=("cm",), cm_alpha=2**70)
    assert segmetrics.confusion_metrics(gt, gt, beta_sq=2**70)["fmeasure"].binary == 1.0


def test_a_choice_option_given_an_array_names_the_option():
    # compat=np.array([...]) failed in `value not in choices` with numpy's "truth value of an array ... is
    # ambiguous", naming no option.
    import segmetrics

    gt = np.zeros((8, 8), bool)
    gt[2:6, 2:6] = True
    for call in (lambda: segmetrics.msiou(gt, gt, compat=np.array(["exact", "pysod"])),
                 lambda: segmetrics.context_measure(gt, gt, compat=np.array([1, 3]))):
        with pytest.raises(ValueError, match=r"`compat` must be one of \('exact', 'pysod'\); got array\("):
            call()
    with pytest.raises(ValueError, match=r"`compat` must be one of \('exact', 'pysod'\); got array\('exact'"):
        segmetrics.msiou(gt, gt, compat=np.array("exact"))  # a 0-d array is not the string either


def test_an_image_with_its_channel_axis_last_is_warned_about():
    # (H, W, 1) or (H, W, 3) maps (cv2.imread without IMREAD_GRAYSCALE, mask[..., None]) were scored silently as a
    # batch of H images one or three pixels wide
    import warnings

    from skimage import data as skdata

    import segmetrics

    gt = (skdata.horse() == 0).astype(np.uint8) * 255
    pred = np.stack([gt] * 3, axis=-1)
    with pytest.warns(UserWarning, match=r"of shape \(328, 400, 3\) is taken as a batch of 328 images") as rec:
        batch = segmetrics.mae(pred, np.stack([gt] * 3, axis=-1))
    assert [str(w.message)[:6] for w in rec] == ["`pred`", "`gt` o"]  # one each, naming the argument
    assert "if it is one (H, W, C) image with its channel axis last, pass an (H, W) map (e.g. pred[..., 0]" in str(
        rec[0].message)
    assert len(batch) == 328  # still a valid batch: a warning, not an error
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert segmetrics.mae(pred[..., 0], gt) == 0.0
        segmetrics.mae(np.zeros((2, 10, 3), np.uint8), np.zeros((2, 10, 3), np.uint8))  # a narrow batch: silent


def test_a_meta_tensor_is_a_type_error_naming_the_argument():
    # was: torch's bare NotImplementedError "Cannot copy out of meta tensor", naming no argument
    with pytest.raises(TypeError, match=r"`pred` must be a tensor holding data \(not on the meta device\); got"):
        prepare_pred(torch.zeros((4, 4), device="meta"))


def test_torch_layouts_and_view_bits():
    # was: a float view with torch's negative bit (`x.conj().imag`) raised torch's bare RuntimeError; a sparse or
    # quantized tensor was refused as "not a numpy dtype" while its dtype was float32
    p = torch.rand(6, 5, dtype=torch.float64)
    neg_view = (-p * 1j).conj().imag  # equal to p, carries the negative bit
    assert neg_view.is_neg() and torch.equal(neg_view, p)
    np.testing.assert_array_equal(prepare_pred(neg_view), p.numpy())
    with pytest.raises(TypeError, match=r"`pred` must be a dense \(strided\) tensor; got layout torch.sparse_coo"):
        prepare_pred(p.to_sparse())


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning")
def test_a_nested_tensor_is_a_batch_of_differently_sized_maps():
    # was: torch's "Internal error: NestedTensorImpl doesn't support sizes" (a RuntimeError) from the batch check
    preds = [torch.rand(6, 5), torch.rand(4, 7)]
    gts = [torch.rand(6, 5) > 0.5, torch.rand(4, 7) > 0.5]
    pairs, batched = prepare_pairs(torch.nested.nested_tensor(preds), torch.nested.nested_tensor(gts))
    ref, _ = prepare_pairs(preds, gts)
    assert batched and len(pairs) == 2
    for (p, g), (rp, rg) in zip(pairs, ref):
        np.testing.assert_array_equal(p, rp)
        np.testing.assert_array_equal(g, rg)


def test_logits_get_a_sigmoid_hint():
    # was: negative values (logits, the usual slip in a training loop) got the hint "pass uint8 0..255 maps as uint8"
    with pytest.raises(ValueError, match=r"got values in \[-2, 3\] \(logits\? apply a sigmoid first\)$"):
        prepare_pred(torch.tensor([[-2.0, 3.0], [0.5, 0.1]]))
    with pytest.raises(ValueError, match=r"got values in \[0, 255\] \(pass uint8 0..255 maps as uint8\)$"):
        prepare_pred(np.array([[0.0, 255.0]]))


def test_a_channels_last_4d_batch_gets_a_hint():
    # was: "(N, 1, H, W) ... got shape (2, 8, 8, 1)" without saying the channel axis was last
    with pytest.raises(ValueError, match=r"got shape \(2, 8, 8, 1\) \(channel axis last\? pass `pred\[\.\.\., 0\]`\)$"):
        prepare_pairs(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8), bool))
