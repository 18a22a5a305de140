"""Option validation of every public loss: numpy scalars work as Python numbers, bad options fail at construction.

Each case builds a loss module and its functional form with the same options. A numpy version of every numeric
option (``np.float32(15)``, ``np.int64(255)``: numbers the scalar represents exactly) must give the same loss as
the Python number; a bad value of every constructor option must raise ``TypeError`` / ``ValueError`` in
``__init__`` (not at the first forward) with a message naming the option, the expectation and the value.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import segloss

N, C, H, W, M = 2, 3, 8, 8, 3


def _inputs() -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, C, H, W, generator=g) * 2
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    gt = ((yy - 4) ** 2 + (xx - 3) ** 2 < 8).float().expand(N, H, W).contiguous()
    labels = (yy * C // H).expand(N, H, W).contiguous()
    labels[:, 0, :2] = 255
    pos, neg = torch.zeros(N, H, W), torch.zeros(N, H, W)
    pos[:, 4, 3], neg[:, 0, 7] = 1.0, 1.0
    image = torch.rand(N, 3, H, W, generator=g) * 64 + gt[:, None] * 160
    sizes = F.one_hot(labels.clamp_max(C - 1).flatten(1), C).float().mean(1)
    feats = [torch.randn(N, 4, 4, 4, generator=g), torch.randn(N, 8, 2, 2, generator=g)]
    return dict(x=x, x1=x[:, :1], xm=torch.randn(N, M, H, W, generator=g), gt=gt, labels=labels, pos=pos, neg=neg,
                image=image, sizes=sizes, tags=(sizes > 0).float(), regions=labels.clamp_max(C - 1) * 7 + 1,
                feats=feats, feats2=[f * 0.5 + 0.1 for f in feats], scores=torch.randn(N, M, generator=g))


D = _inputs()
SIDES = [D["x1"], F.avg_pool2d(D["x1"], 2)]

# name: (module class, functional, args of both calls, {numeric option: numpy value}, fixed extra options)
Case = tuple[type, Callable, tuple, dict[str, Any], dict[str, Any]]
f32, i64, i32 = np.float32, np.int64, np.int32
CASES: dict[str, Case] = {
    "ActiveBoundaryLoss": (segloss.ActiveBoundaryLoss, segloss.active_boundary_loss, (D["x"], D["labels"]),
                           dict(ignore_index=i64(255), theta=f32(10), max_n_ratio=f32(0.5), label_smoothing=f32(0.25)),
                           {}),
    "CACELoss": (segloss.CACELoss, segloss.cace_loss, (D["x1"], D["gt"].long()), dict(ignore_index=i32(1)), {}),
    "CASLoss": (segloss.CASLoss, segloss.cas_loss, (D["x"], D["regions"]),
                dict(alpha=f32(0.25), ignore_index=i64(1), max_regions=i64(8)), {}),
    "CASLoss-official": (segloss.CASLoss, segloss.cas_loss, (D["x"][:, :2], D["gt"].long()),
                         dict(alpha=f32(0.5), batch_size=i64(40)), dict(compat="official")),
    "CELovaszABLLoss": (segloss.CELovaszABLLoss, segloss.ce_lovasz_abl_loss, (D["x"], D["labels"]),
                        dict(abl_weight=f32(0.5), ce_weight=f32(2), lovasz_weight=f32(0.75), ignore_index=i64(255),
                             theta=f32(10)), {}),
    "ClickConstraintLoss": (segloss.ClickConstraintLoss, segloss.click_constraint_loss, (D["x1"], D["pos"], D["neg"]),
                            {}, {}),
    "DeepSupervisionLoss": (segloss.DeepSupervisionLoss, segloss.deep_supervision_loss, (SIDES, D["gt"]),
                            dict(weights=[f32(1), np.float64(0.5)]), {}),
    "FKLLoss": (segloss.FKLLoss, segloss.fkl_loss, (D["x"], D["labels"]), dict(ignore_index=i64(255)), {}),
    "FeatureConsistencyLoss": (segloss.FeatureConsistencyLoss, segloss.feature_consistency_loss,
                               (D["feats"], D["feats2"]), dict(weights=np.array([1.0, 0.5], np.float32)), {}),
    "HindsightLoss": (segloss.HindsightLoss, segloss.hindsight_loss, (D["xm"], D["gt"], D["pos"], D["neg"]),
                      dict(eps=f32(0.5), click_weight=f32(2), lambda_base=f32(0.25), ignore_index=i64(2)), {}),
    "ISNetLoss": (segloss.ISNetLoss, segloss.isnet_loss, (SIDES, D["gt"], D["feats"], D["feats2"]),
                  dict(side_weights=[i64(1), f32(0.5)], feature_weights=(f32(2), i32(1))), {}),
    "LovaszSoftmaxLoss": (segloss.LovaszSoftmaxLoss, segloss.lovasz_softmax_loss, (D["x"], D["labels"]),
                          dict(ignore_index=i64(255), classes=[i64(0), i32(2)]), {}),
    "PartialCrossEntropyLoss": (segloss.PartialCrossEntropyLoss, segloss.partial_cross_entropy,
                                (D["x"], D["labels"]), dict(ignore_index=i64(255)), {}),
    "PottsCRFLoss-local": (segloss.PottsCRFLoss, segloss.potts_crf_loss, (D["x"], D["image"]),
                           dict(sigma_rgb=f32(15), sigma_xy=f32(4), kernel_size=i64(3), dilation=i32(2),
                                scale_factor=f32(0.5)), dict(backend="local")),
    "PottsCRFLoss-dense": (segloss.PottsCRFLoss, segloss.potts_crf_loss, (D["x"], D["image"]),
                           dict(sigma_rgb=f32(15), sigma_xy=i64(4), chunk_size=i64(16)), dict(backend="dense")),
    "PottsCRFLoss-grid": (segloss.PottsCRFLoss, segloss.potts_crf_loss, (D["x"], D["image"]),
                          dict(image_range=(f32(0), i64(255)), grid_cells_per_sigma=(f32(1), f32(1.5))),
                          dict(backend="grid4")),
    "QuadraticSizeBarrierLoss": (segloss.QuadraticSizeBarrierLoss, segloss.quadratic_size_barrier_loss,
                                 (D["x"], D["sizes"]), {}, {}),
    "RankedDiversityLoss": (segloss.RankedDiversityLoss, segloss.hindsight_loss, (D["xm"], D["gt"], D["pos"], D["neg"]),
                            dict(lambda_base=f32(0.25)), {}),
    "SelectionLoss": (segloss.SelectionLoss, segloss.selection_loss, (D["scores"], D["xm"], D["gt"]),
                      dict(ignore_index=i64(2)), {}),
    "SizeTargetLoss": (segloss.SizeTargetLoss, segloss.size_target_loss, (D["x"], D["sizes"]),
                       dict(eps=f32(0.25)), dict(divergence="reverse")),
    "SoftJaccardLoss": (segloss.SoftJaccardLoss, segloss.soft_jaccard_loss, (D["x1"], D["gt"]),
                        dict(eps=f32(0.5), ignore_index=i64(2)), {}),
    "TagBarrierLoss": (segloss.TagBarrierLoss, segloss.tag_barrier_loss, (D["x"], D["tags"]),
                       dict(epsilon=f32(0.25)), dict(expand="flat")),
}


def _py(v: Any) -> Any:
    """The Python value of a numpy option (scalars, and sequences of them)."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return type(v)(_py(e) for e in v)
    return v.item() if isinstance(v, np.generic) else v


def _loss(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def test_every_public_loss_class_has_a_case():
    classes = {getattr(segloss, n) for n in segloss.__all__ if isinstance(getattr(segloss, n), type)
               and issubclass(getattr(segloss, n), segloss.ActiveBoundaryLoss.__mro__[1])}
    assert classes == {case[0] for case in CASES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_numpy_scalar_options_give_the_python_number_loss(name):
    cls, fn, args, numpy_opts, extra = CASES[name]
    py_opts = {k: _py(v) for k, v in numpy_opts.items()}
    want = _loss(cls(**extra, **py_opts)(*args))
    assert torch.isfinite(want)
    module = cls(**extra, **numpy_opts)
    torch.testing.assert_close(_loss(module(*args)), want, rtol=0, atol=0)
    for k, v in py_opts.items():  # stored as the Python number (repr, state, torch.compile see plain numbers)
        if k in inspect.signature(cls.__init__).parameters:
            stored = module.kwargs[k] if isinstance(getattr(module, "kwargs", None), dict) else getattr(module, k)
            pairs = zip(stored, v) if isinstance(v, (list, tuple)) else [(stored, v)]
            assert all(s == e and type(s) in (int, float) for s, e in pairs), (k, stored)
    if cls is segloss.RankedDiversityLoss:
        return  # its functional form is hindsight_loss with lambda_base (covered above)
    torch.testing.assert_close(_loss(fn(*args, **extra, **numpy_opts)), want, rtol=0, atol=0)


def _options(cls: type) -> list[inspect.Parameter]:
    params = []
    for c in cls.__mro__:
        if "__init__" in vars(c) and c.__module__.startswith("segloss."):
            params += [p for p in list(inspect.signature(c.__init__).parameters.values())[1:]
                       if p.kind is not p.VAR_KEYWORD and p.name not in {q.name for q in params}]
    return params


def _bad_values(p: inspect.Parameter) -> list[Any]:
    d = p.default
    if isinstance(d, bool):
        return [1, "True", np.bool_(True)]
    if isinstance(d, str):
        return ["nonsense", 1]
    if p.name in ("weight", "class_weight"):
        return ["heavy"]
    if p.name == "base_loss":
        return ["jaccard"]
    return ["a", True, float("nan"), torch.tensor(1.0)]


ALL_OPTIONS = sorted({(case[0].__name__, p.name) for case in CASES.values() for p in _options(case[0])})


@pytest.mark.parametrize(("cls_name", "option"), ALL_OPTIONS)
def test_a_bad_option_fails_at_construction_naming_option_expectation_and_value(cls_name, option):
    cls = getattr(segloss, cls_name)
    p = next(q for q in _options(cls) if q.name == option)
    for bad in _bad_values(p):
        with pytest.raises((TypeError, ValueError)) as err:
            cls(**{option: bad})
        msg = str(err.value)
        assert f"`{option}" in msg and "must" in msg, msg
        shown = repr(bad) if not isinstance(bad, str) else bad
        assert re.search(re.escape(shown if not isinstance(bad, float) else "nan"), msg), msg


@pytest.mark.parametrize(("make", "match"), [
    (lambda: segloss.LovaszSoftmaxLoss(reduction="none"), "`reduction` must be 'mean' or 'sum' when per_image=False"),
    (lambda: segloss.CASLoss(batch_size="a"), "`batch_size` must be"),
    (lambda: segloss.CASLoss(batch_size=0), "`batch_size` must be"),
    (lambda: segloss.CASLoss(from_logits=1), "`from_logits` must be a bool"),
    (lambda: segloss.PottsCRFLoss(kernel_size=4, backend="local"), "`kernel_size` must be an odd int >= 3; got 4"),
    (lambda: segloss.PottsCRFLoss(image_range=(1, 0)), r"`image_range\[1\]` must be > 1"),
    (lambda: segloss.PottsCRFLoss(grid_cells_per_sigma=(9, 1)), r"`grid_cells_per_sigma\[0\]` must be <= 4"),
    (lambda: segloss.LovaszSoftmaxLoss(classes=[0, -1]), r"`classes` entries must be ints in \[0, "),
    (lambda: segloss.ActiveBoundaryLoss(weight=torch.tensor([-1.0, 1.0])), "`weight`"),
    (lambda: segloss.DeepSupervisionLoss(weights=[1.0, -2.0]), r"`weights\[1\]` must be >= 0"),
    (lambda: segloss.CELovaszABLLoss(theta=0), "`theta` must be > 0"),
    (lambda: segloss.CELovaszABLLoss(tau=1), "tau"),
])
def test_option_combinations_and_values_fail_at_construction(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_option_set_after_construction_fails_at_forward_naming_it(name):
    # Options are attributes (or, for PottsCRFLoss, items of `kwargs`) that forward hands to the functional form,
    # which checks them again: a value changed after construction can never reach a kernel unchecked.
    cls, _, args, _, extra = CASES[name]
    checked = 0
    for p in _options(cls):
        for bad in _bad_values(p):
            module = cls(**extra)
            store = module.kwargs if isinstance(getattr(module, "kwargs", None), dict) else None
            if store is not None:
                store[p.name] = bad
            else:
                try:
                    setattr(module, p.name, bad)
                except TypeError as err:  # a tensor option is a registered buffer: nn.Module refuses a non-tensor
                    assert "cannot assign" in str(err)
                    continue
            with pytest.raises((TypeError, ValueError)) as err:
                module(*args)
            assert f"`{p.name}" in str(err.value) and "must" in str(err.value), (p.name, bad, str(err.value))
            checked += 1
    assert checked >= len(_options(cls))
