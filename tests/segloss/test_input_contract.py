"""One value contract for every tensor argument of every loss (issue 11, items 0b, 0c, 10).

Each tensor argument must be finite and in its range, or the loss raises a ``ValueError`` that names
*that* argument (not ``pred`` when the NaN is in ``target`` or ``image``). Options are validated once,
with the library's message format. With value checks off nothing is scanned, and a NaN propagates
(it never reads as a perfect loss).
"""

from __future__ import annotations

import re
import warnings
from unittest import mock

import pytest
import torch

import segloss
from segloss import (
    ActiveBoundaryLoss,
    PottsCRFLoss,
    SoftJaccardLoss,
    active_boundary_loss,
    cace_loss,
    cas_loss,
    ce_lovasz_abl_loss,
    click_constraint_loss,
    deep_supervision_loss,
    feature_consistency_loss,
    fkl_loss,
    hindsight_loss,
    isnet_loss,
    lovasz_softmax_loss,
    partial_cross_entropy,
    potts_crf_loss,
    quadratic_size_barrier_loss,
    ranked_diversity_weights,
    selection_loss,
    size_target_loss,
    size_targets_from_mask,
    soft_jaccard_loss,
    tag_barrier_loss,
)
from segloss._validation import check_values, finite, in_range

N, H, W = 2, 8, 8


def _mask(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(N, H, W, generator=g) > 0.5).float()


def _logits(c: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(N, c, H, W, generator=torch.Generator().manual_seed(seed))


def _labels(c: int, seed: int = 2) -> torch.Tensor:
    return torch.randint(0, c, (N, H, W), generator=torch.Generator().manual_seed(seed))


def _clicks(i: int, j: int) -> torch.Tensor:
    c = torch.zeros(N, H, W)
    c[:, i, j] = 1.0
    return c


# name -> (call(args), args): args maps each tensor argument's *public* name to its value
CASES = {
    "soft_jaccard": (
        lambda a: soft_jaccard_loss(a["pred"], a["target"]), lambda: {"pred": _logits(1), "target": _mask()}
    ),
    "soft_jaccard_multilabel": (
        lambda a: soft_jaccard_loss(a["pred"], a["target"], mode="multilabel"),
        lambda: {"pred": _logits(3), "target": (_logits(3, 5) > 0).float()},
    ),
    "soft_jaccard_multiclass": (
        lambda a: soft_jaccard_loss(a["pred"], a["target"], mode="multiclass"),
        lambda: {"pred": _logits(3), "target": _labels(3)},
    ),
    "click_constraint": (
        lambda a: click_constraint_loss(a["pred"], a["pos_clicks"], a["neg_clicks"], target=a["target"],
                                        reference="target"),
        lambda: {"pred": _logits(1), "pos_clicks": _clicks(1, 1), "neg_clicks": _clicks(5, 5), "target": _mask()},
    ),
    "hindsight": (
        lambda a: hindsight_loss(a["pred"], a["target"], a["pos_clicks"], a["neg_clicks"], lambda_base=1e-2),
        lambda: {"pred": _logits(4), "target": _mask(), "pos_clicks": _clicks(1, 1), "neg_clicks": _clicks(5, 5)},
    ),
    "selection": (
        lambda a: selection_loss(a["scores"], a["masks"], a["target"]),
        lambda: {"scores": torch.randn(N, 4), "masks": _logits(4), "target": _mask()},
    ),
    "deep_supervision": (
        lambda a: deep_supervision_loss([a["side_outputs[0]"]], a["target"]),
        lambda: {"side_outputs[0]": _logits(1), "target": _mask()},
    ),
    "feature_consistency": (
        lambda a: feature_consistency_loss([a["student[0]"]], [a["teacher[0]"]]),
        lambda: {"student[0]": _logits(4), "teacher[0]": _logits(4, 3)},
    ),
    "isnet": (
        lambda a: isnet_loss([a["side_outputs[0]"]], a["target"], [a["student_features[0]"]],
                             [a["teacher_features[0]"]])[0],
        lambda: {"side_outputs[0]": _logits(1), "target": _mask(), "student_features[0]": _logits(4),
                 "teacher_features[0]": _logits(4, 3)},
    ),
    "potts_crf_grid": (
        lambda a: potts_crf_loss(a["pred"], a["image"], roi=a["roi"], sigma_xy=5.0),
        lambda: {"pred": _logits(3), "image": torch.rand(N, 3, H, W) * 255, "roi": torch.ones(N, H, W)},
    ),
    "potts_crf_dense": (
        lambda a: potts_crf_loss(a["pred"], a["image"], backend="dense", sigma_xy=5.0),
        lambda: {"pred": _logits(3), "image": torch.rand(N, 3, H, W) * 255},
    ),
    "size_target": (
        lambda a: size_target_loss(a["pred"], a["target_sizes"], roi=a["roi"]),
        lambda: {"pred": _logits(3), "target_sizes": torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]),
                 "roi": torch.ones(N, H, W)},
    ),
    "tag_barrier": (
        lambda a: tag_barrier_loss(a["pred"], a["tags"]),
        lambda: {"pred": _logits(3), "tags": torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])},
    ),
    "quadratic_barrier": (
        lambda a: quadratic_size_barrier_loss(a["pred"], a["lower"], upper=a["upper"]),
        lambda: {"pred": _logits(3), "lower": torch.full((N, 3), 0.1), "upper": torch.full((N, 3), 0.6)},
    ),
    "partial_ce": (
        lambda a: partial_cross_entropy(a["pred"], a["seeds"]), lambda: {"pred": _logits(3), "seeds": _labels(3)}
    ),
    "cas": (lambda a: cas_loss(a["pred"], a["target"]), lambda: {"pred": _logits(3), "target": _labels(3)}),
    "cas_official": (
        lambda a: cas_loss(a["pred"], a["target"], compat="official"),
        lambda: {"pred": _logits(2), "target": _mask()},
    ),
    "cace": (lambda a: cace_loss(a["pred"], a["target"]), lambda: {"pred": _logits(1), "target": _mask()}),
    "abl": (
        lambda a: active_boundary_loss(a["pred"], a["target"], weight=a["weight"]),
        lambda: {"pred": _logits(3), "target": _labels(3), "weight": torch.ones(3)},
    ),
    "fkl": (lambda a: fkl_loss(a["pred"], a["target"]), lambda: {"pred": _logits(3), "target": _labels(3)}),
    "lovasz": (
        lambda a: lovasz_softmax_loss(a["pred"], a["target"]), lambda: {"pred": _logits(3), "target": _labels(3)}
    ),
    "ce_lovasz_abl": (
        lambda a: ce_lovasz_abl_loss(a["pred"], a["target"])[0],
        lambda: {"pred": _logits(3), "target": _labels(3)},
    ),
}

# every floating tensor argument of every case, for the NaN test
NAN_CASES = [(case, arg) for case, (_, make) in CASES.items() for arg, v in make().items() if v.is_floating_point()]

# arguments that hold 0/1 masks (or fractions): a 0/255 mask must raise, naming the argument
MASK_CASES = [
    ("soft_jaccard", "target"), ("soft_jaccard_multilabel", "target"), ("click_constraint", "pos_clicks"),
    ("click_constraint", "neg_clicks"), ("click_constraint", "target"), ("hindsight", "target"),
    ("hindsight", "pos_clicks"), ("selection", "target"), ("deep_supervision", "target"), ("isnet", "target"),
    ("potts_crf_grid", "roi"), ("size_target", "roi"), ("tag_barrier", "tags"), ("quadratic_barrier", "lower"),
    ("quadratic_barrier", "upper"), ("cas_official", "target"), ("cace", "target"),
]


@pytest.mark.parametrize(("case", "arg"), NAN_CASES, ids=[f"{c}-{a}" for c, a in NAN_CASES])
def test_nan_in_any_tensor_argument_is_named(case, arg):
    call, make = CASES[case]
    args = make()
    assert torch.isfinite(call(args)).all()  # the clean call works
    bad = args[arg].clone()
    bad.view(-1)[bad.numel() // 2] = float("nan")
    args[arg] = bad
    with pytest.raises(ValueError, match="^" + re.escape(f"`{arg}` must be finite; got NaN or Inf values") + "$"):
        call(args)


@pytest.mark.parametrize(("case", "arg"), MASK_CASES, ids=[f"{c}-{a}" for c, a in MASK_CASES])
def test_0_255_mask_where_0_1_expected_raises(case, arg):
    call, make = CASES[case]
    args = make()
    args[arg] = args[arg] * 255
    want = re.escape(f"`{arg}` must hold values in [0, 1]") + r".*; got values in \["
    with pytest.raises(ValueError, match=want):
        call(args)


def test_soft_jaccard_255_mask_regression():
    # issue: soft Jaccard silently returned 0.998 on a 0/255 mask instead of 0.720 on the 0/1 one
    x, t = _logits(1), _mask()
    assert 0 < float(soft_jaccard_loss(x, t)) < 1
    with pytest.raises(ValueError, match=r"`target` must hold values in \[0, 1\] \(a 0/1 or soft mask\); got values "
                                         r"in \[0, 255\]"):
        SoftJaccardLoss()(x, t * 255)


def test_integer_label_ranges_and_negative_weights():
    with pytest.raises(ValueError, match=r"`weight` must hold values in \[0, inf\].*got values in \[-1, 1\]"):
        active_boundary_loss(_logits(3), _labels(3), weight=torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match=r"`weight` must be finite"):
        ActiveBoundaryLoss(weight=torch.tensor([1.0, float("nan"), 1.0]))(_logits(3), _labels(3))
    with pytest.raises(ValueError, match=r"`target` labels must be in \[0, 3\) or ignore_index=255; got out-of-range "
                                         r"values \[7\]"):
        active_boundary_loss(_logits(3), torch.full((N, H, W), 7))
    with pytest.raises(ValueError, match=r"`lower` must hold values in \[0, 1\].*got values in \[-0.5, 1.5\]"):
        quadratic_size_barrier_loss(_logits(3), torch.tensor([[-0.5, 0.2, 0.2], [0.1, 1.5, 0.1]]))


def test_potts_crf_image_nan_and_unit_range():
    x, img = _logits(3), torch.rand(N, 3, H, W)
    with pytest.warns(UserWarning, match=r"`image` values lie in \[.*\] but image_range=\(0.0, 255.0\)"):
        potts_crf_loss(x, img, sigma_xy=5.0)
    with pytest.warns(UserWarning, match="multiply the image by 255"):
        PottsCRFLoss(sigma_xy=5.0)(x, img)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        potts_crf_loss(x, img * 255, sigma_xy=5.0)  # [0, 255] image: no warning
        potts_crf_loss(x, torch.zeros(N, 3, H, W), sigma_xy=5.0)  # a black image is not an [0, 1] image
        potts_crf_loss(x, img, sigma_rgb=0.1, sigma_xy=5.0, image_range=(0.0, 1.0))  # declared [0, 1]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int32, torch.int16])
def test_small_integer_class_ids_work_like_int64(dtype):
    x, t = _logits(3), _labels(3)
    for fn in (
        lambda tt: soft_jaccard_loss(x, tt, mode="multiclass"),
        lambda tt: lovasz_softmax_loss(x, tt),
        lambda tt: fkl_loss(x, tt),
        lambda tt: active_boundary_loss(x, tt),
        lambda tt: ce_lovasz_abl_loss(x, tt)[0],
        lambda tt: partial_cross_entropy(x, tt),
        lambda tt: cas_loss(x, tt),
        lambda tt: size_targets_from_mask(tt, 3),
    ):
        torch.testing.assert_close(fn(t.to(dtype)), fn(t))


def test_options_validated_with_the_library_format():
    x, m = _logits(1), _mask()
    with pytest.raises(ValueError, match=r"`reduction` must be one of \('mean', 'sum', 'none'\); got 'avg'"):
        isnet_loss([x], m, [_logits(4)], [_logits(4)], reduction="avg")
    with pytest.raises(TypeError, match="`from_logits` must be a bool \\(True or False\\); got 'False'"):
        soft_jaccard_loss(x, m, from_logits="False")
    with pytest.raises(TypeError, match="`from_logits` must be a bool"):
        deep_supervision_loss([x], m, from_logits="False")
    with pytest.raises(TypeError, match="`normalize` must be a bool"):
        PottsCRFLoss(normalize="False")
    with pytest.raises(TypeError, match="`detach` must be a bool"):
        ActiveBoundaryLoss(detach="no")
    with pytest.raises(TypeError, match="`per_image` must be a bool"):
        lovasz_softmax_loss(_logits(3), _labels(3), per_image=1)
    with pytest.raises(TypeError, match="`ignore_index` must be an int or None; got float"):
        soft_jaccard_loss(x, m, ignore_index=255.0)
    with pytest.raises(TypeError, match="`ignore_index` must be an int or None; got float"):
        hindsight_loss(_logits(4), m, ignore_index=255.0)
    with pytest.raises(TypeError, match="`ignore_index` must be an int or None; got float"):
        cace_loss(x, m.long(), ignore_index=255.0)
    with pytest.raises(ValueError, match=r"`scale_factor` must leave at least one pixel per axis.*to 0x0"):
        potts_crf_loss(_logits(3), torch.rand(N, 3, H, W) * 255, scale_factor=0.1)


def test_ranked_diversity_weights_never_overflow():
    w = ranked_diversity_weights(130)
    assert torch.isfinite(w).all()
    with pytest.raises(ValueError, match=r"`num_outputs` must be <= 134 for lambda_base=0.01 in torch.float32.*200"):
        ranked_diversity_weights(200)
    with pytest.raises(ValueError, match=r"`num_outputs` must be <= 22"):
        ranked_diversity_weights(30, dtype=torch.float16)
    assert torch.isfinite(ranked_diversity_weights(200, dtype=torch.float64)).all()
    assert torch.equal(ranked_diversity_weights(500, 0.0), torch.zeros(500))


def test_size_targets_from_empty_batch():
    out = size_targets_from_mask(torch.zeros(0, 4, 4, dtype=torch.long), 3)
    assert out.shape == (0, 3)


def test_checks_off_scan_nothing_and_nan_propagates():
    x = _logits(1)
    x[0, 0, 0, 0] = float("nan")
    segloss.set_value_checks(False)
    try:
        with mock.patch("torch.aminmax", side_effect=AssertionError("scanned with checks off")):
            per = soft_jaccard_loss(x, _mask(), reduction="none")
            check_values(finite("pred", x), in_range("target", _mask() * 255))
        # issue: one NaN pixel gave [0.0, 0.678] (a "perfect" loss for the NaN sample), all-NaN [0, 0]
        assert torch.isnan(per[0]) and torch.isfinite(per[1])
        assert torch.isnan(soft_jaccard_loss(torch.full((N, 1, H, W), float("nan")), _mask(), reduction="none")).all()
    finally:
        segloss.set_value_checks(True)


def test_one_host_read_for_all_arguments():
    # all the arguments of a call are checked with a single device-to-host read
    args = CASES["hindsight"][1]()
    reads = []
    real = torch.Tensor.tolist

    def counting(self):
        reads.append(self.shape)
        return real(self)

    with mock.patch.object(torch.Tensor, "tolist", counting):
        hindsight_loss(args["pred"], args["target"], args["pos_clicks"], args["neg_clicks"])
    assert reads == [torch.Size([4, 2])]
