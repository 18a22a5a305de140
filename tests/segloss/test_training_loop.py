"""Every public loss (tests/segloss/loss_zoo.py) under the conditions of a real training / validation loop.

Layouts and dtypes give the contiguous float32 result, validation loops run under ``no_grad`` /
``inference_mode``, gradient penalties (``create_graph=True``) get a gradient with a graph, and an empty
batch is a ``ValueError`` naming the argument.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from tests.segloss.loss_zoo import cases

NAMES = [name for name in cases("cpu", h=8, w=8) if not name.startswith("CrossEntropy")]


def _case(name: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cases("cpu", h=16, w=16, **kw)[name]


def _views(x: torch.Tensor) -> dict[str, tuple[torch.Tensor, float]]:
    views = {
        "strided": (torch.stack([x, x], -1)[..., 0], 1e-5),
        "float64": (x.double(), 1e-4),
        "bfloat16": (x.bfloat16(), 5e-2),
        "float16": (x.half(), 2e-2),
    }
    if x.ndim == 4:
        views["channels_last"] = (x.contiguous(memory_format=torch.channels_last), 1e-5)
        views["transposed"] = (x.transpose(2, 3).contiguous().transpose(2, 3), 1e-5)
    return views


@pytest.mark.parametrize("name", NAMES)
def test_layouts_dtypes_and_eval_modes_match_contiguous_float32(name):
    leaf, fn = _case(name)
    ref = fn(leaf)
    for view, (x, tol) in _views(leaf).items():
        out = fn(x)
        assert out.dtype in (torch.float32, torch.float64), (view, out.dtype)
        torch.testing.assert_close(out.float(), ref.float(), rtol=tol, atol=tol, msg=f"{name} {view}")
        (grad,) = torch.autograd.grad(out, leaf)
        assert torch.isfinite(grad).all(), view
    with torch.autocast("cpu", dtype=torch.bfloat16):
        torch.testing.assert_close(fn(leaf).float(), ref.float(), rtol=5e-2, atol=5e-2)
    for mode in (torch.no_grad, torch.inference_mode):
        with mode():
            torch.testing.assert_close(fn(leaf), ref.detach())


@pytest.mark.parametrize("name", NAMES)
def test_create_graph_gives_a_gradient_with_a_graph(name):
    leaf, fn = _case(name)
    (grad,) = torch.autograd.grad(fn(leaf), leaf, create_graph=True)
    assert grad.requires_grad
    (second,) = torch.autograd.grad(grad.square().sum(), leaf, allow_unused=True)
    assert second is None or torch.isfinite(second).all()


@pytest.mark.parametrize("name", NAMES)
def test_empty_batch_raises_value_error_naming_the_argument(name):
    leaf, fn = _case(name, n=0)
    with pytest.raises(ValueError, match=r"must not be empty; got shape \(0,"):
        fn(leaf)
