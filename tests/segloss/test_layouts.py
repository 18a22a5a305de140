"""Targets and extras as a training loop hands them over: every layout, integer width and degenerate size.

``test_training_loop.py`` varies the *logits* (strides, channels_last, dtypes, autocast, eval modes); here the
other arguments vary. A transposed, sliced or expanded (stride-0) target, a uint8 / int16 / int32 class-id map, a
bool / uint8 / float16 mask, a target that requires grad, a 1×1 / 1×N / N×1 image, a batch of one, saturated logits
(±1e4), ``backward`` twice with ``retain_graph`` and ``torch.set_default_dtype(torch.float64)`` must all give the
contiguous int64 / float32 result with finite gradients.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import torch

import segloss as S

N, C, M = 2, 3, 4
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _inputs(h: int = 8, w: int = 8, n: int = N) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, C, (n, h, w), generator=g)
    labels[:, 0, : max(w // 4, 1)] = 255
    clicks = torch.zeros(2, n, h, w)
    clicks[0, :, h // 2, w // 2] = 1.0
    clicks[1, :, 0, 0] = 1.0
    return dict(x=torch.randn(n, C, h, w, generator=g) * 2, xm=torch.randn(n, M, h, w, generator=g) * 2,
                labels=labels, mask=(torch.rand(n, h, w, generator=g) > 0.5).float(), pos=clicks[0], neg=clicks[1],
                image=torch.rand(n, 3, h, w, generator=g) * 255, scores=torch.randn(n, M, generator=g))


# name -> (logits key, target key, loss(pred, target)); built per input set so the extras match its size
def _class_id_losses(d: dict[str, torch.Tensor]) -> dict[str, tuple[str, Loss]]:
    return {
        "lovasz": ("x", lambda p, t: S.lovasz_softmax_loss(p, t, ignore_index=255)),
        "lovasz_per_image": ("x", lambda p, t: S.lovasz_softmax_loss(p, t, ignore_index=255, per_image=True)),
        "fkl": ("x", S.fkl_loss),
        "abl": ("x", S.active_boundary_loss),
        "abl_official": ("x", lambda p, t: S.active_boundary_loss(p, t, compat="official")),
        "abl_dist_map": ("x", lambda p, t: S.active_boundary_loss(p, t, dist_map=S.abl_distance_map(t))),
        "ce_lovasz_abl": ("x", lambda p, t: S.ce_lovasz_abl_loss(p, t)[0]),
        "partial_ce": ("x", S.partial_cross_entropy),
        "cas": ("x", lambda p, t: S.cas_loss(p, t, ignore_index=255)),
        "soft_jaccard_multiclass": ("x", lambda p, t: S.soft_jaccard_loss(p, t, mode="multiclass", ignore_index=255)),
    }


def _mask_losses(d: dict[str, torch.Tensor]) -> dict[str, tuple[str, Loss]]:
    pos, neg, xm = d["pos"], d["neg"], d["xm"]
    return {
        "soft_jaccard": ("x1", S.soft_jaccard_loss),
        "hindsight": ("xm", lambda p, t: S.hindsight_loss(p, t, pos, neg)),
        "ranked_diversity": ("xm", lambda p, t: S.RankedDiversityLoss()(p, t, pos, neg)),
        "click_constraint": ("x1", lambda p, t: S.click_constraint_loss(p, pos, neg, target=t, reference="target")),
        "selection": ("scores", lambda p, t: S.selection_loss(p, xm, t)),
        "deep_supervision": ("x1", lambda p, t: S.deep_supervision_loss([p], t)),
        "isnet": ("x1", lambda p, t: S.isnet_loss([p], t, [xm], [xm * 0.5])[0]),
        "cace": ("x1", S.cace_loss),
        "cas_official": ("x2", lambda p, t: S.cas_loss(p, t, compat="official")),
        "potts_crf_roi": ("x", lambda p, t: S.potts_crf_loss(p, d["image"], roi=t, sigma_xy=5.0)),
        "size_target_roi": ("x", lambda p, t: S.size_target_loss(p, torch.full((p.shape[0], C), 1 / C), roi=t)),
    }


def _pred(d: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    return {"x1": d["x"][:, :1], "x2": d["x"][:, :2]}.get(key, d.get(key))


def _run(fn: Loss, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    leaf = pred.detach().clone().requires_grad_(True)
    out = fn(leaf, target)
    (grad,) = torch.autograd.grad(out, leaf)
    return out.detach(), grad


def _layouts(t: torch.Tensor) -> dict[str, torch.Tensor]:
    return {
        "transposed": t.transpose(1, 2).contiguous().transpose(1, 2),
        "sliced": torch.stack([t, t], -1)[..., 0],
        "expanded": t[:1].expand_as(t),  # stride 0 along the batch
    }


D = _inputs()
CLASS_NAMES, MASK_NAMES = list(_class_id_losses(D)), list(_mask_losses(D))


@pytest.mark.parametrize("name", CLASS_NAMES)
def test_class_id_target_layouts_and_widths(name):
    key, fn = _class_id_losses(D)[name]
    pred, labels = _pred(D, key), D["labels"]
    variants = {**_layouts(labels), **{str(dt): labels.to(dt) for dt in (torch.uint8, torch.int16, torch.int32)}}
    for variant, t in variants.items():
        ref_val, ref_grad = _run(fn, pred, t.contiguous().long())
        val, grad = _run(fn, pred, t)
        torch.testing.assert_close(val, ref_val, msg=f"{name} {variant}")
        torch.testing.assert_close(grad, ref_grad, msg=f"{name} {variant}")


@pytest.mark.parametrize("name", MASK_NAMES)
def test_mask_target_layouts_and_dtypes(name):
    key, fn = _mask_losses(D)[name]
    pred, mask = _pred(D, key), D["mask"]
    variants = {**_layouts(mask), **{str(dt): mask.to(dt) for dt in (torch.bool, torch.uint8, torch.int64,
                                                                        torch.float16, torch.float64)}}
    for variant, t in variants.items():
        ref_val, ref_grad = _run(fn, pred, t.contiguous().float())
        val, grad = _run(fn, pred, t)
        torch.testing.assert_close(val.float(), ref_val.float(), msg=f"{name} {variant}")
        torch.testing.assert_close(grad, ref_grad, msg=f"{name} {variant}")
    soft = mask.clone().requires_grad_(True)  # a target from another network, not detached
    out = fn(pred, soft)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(("h", "w", "n"), [(1, 1, N), (1, 7, N), (7, 1, N), (2, 2, N), (6, 5, 1)])
def test_tiny_images_and_single_samples_are_finite(h, w, n):
    d = _inputs(h, w, n)
    for name, (key, fn) in {**_class_id_losses(d), **_mask_losses(d)}.items():
        target = d["labels"] if name in CLASS_NAMES else d["mask"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            val, grad = _run(fn, _pred(d, key), target)
        assert torch.isfinite(val).all() and torch.isfinite(grad).all(), (name, h, w, n)


def test_saturated_logits_and_double_backward_pass():
    for name, (key, fn) in {**_class_id_losses(D), **_mask_losses(D)}.items():
        target = D["labels"] if name in CLASS_NAMES else D["mask"]
        pred = _pred(D, key)
        val, grad = _run(fn, pred.sign() * 1e4, target)
        assert torch.isfinite(val).all() and torch.isfinite(grad).all(), name
        leaf = pred.detach().clone().requires_grad_(True)
        out = fn(leaf, target)
        out.backward(retain_graph=True)
        first = leaf.grad.clone()
        out.backward()  # a second backward through the same graph (e.g. two optimisers) accumulates the same grad
        torch.testing.assert_close(leaf.grad, 2 * first, msg=name)


def test_float64_default_dtype_gives_the_float32_results():
    refs = {name: _run(fn, _pred(D, key), D["labels"] if name in CLASS_NAMES else D["mask"])
            for name, (key, fn) in {**_class_id_losses(D), **_mask_losses(D)}.items()}
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for name, (key, fn) in {**_class_id_losses(D), **_mask_losses(D)}.items():
            val, grad = _run(fn, _pred(D, key), D["labels"] if name in CLASS_NAMES else D["mask"])
            assert val.dtype == torch.float32 and grad.dtype == torch.float32, name
            torch.testing.assert_close(val, refs[name][0], msg=name)
            torch.testing.assert_close(grad, refs[name][1], msg=name)
    finally:
        torch.set_default_dtype(old)


class _FloatCumsumCounter(torch.overrides.TorchFunctionMode):
    """Records ``cumsum`` calls on floating tensors (they raise on CUDA under ``use_deterministic_algorithms``)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[torch.dtype] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in ("cumsum", "cumsum_") and args and args[0].is_floating_point():
            self.calls.append(args[0].dtype)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("name", ["LovaszSoftmaxLoss", "CELovaszABLLoss", "ActiveBoundaryLoss", "CASLoss",
                                  "PottsCRFLoss"])
def test_no_floating_cumsum_so_cuda_deterministic_mode_works(name):
    # issue (adversarial layout pass): Lovász counted pixels with a float32 cumsum, which torch refuses on CUDA under
    # torch.use_deterministic_algorithms(True) ("cumsum_cuda_kernel does not have a deterministic implementation");
    # integer counts are exact and deterministic
    from tests.segloss.loss_zoo import cases

    leaf, fn = cases("cpu", h=8, w=8)[name]
    counter = _FloatCumsumCounter()
    with counter:
        fn(leaf).backward()
    assert counter.calls == []
