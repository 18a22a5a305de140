"""Custom autograd functions with a hand-written (fast) backward that still support double backward.

A ``torch.autograd.Function`` whose backward is written by hand is only once differentiable: under
``torch.autograd.grad(..., create_graph=True)`` (gradient penalties, Hessian-vector products, meta-learning)
its gradient either has no graph at all or misses the terms that flow through the tensors it saved. The
loss functions here therefore save their inputs with :func:`save` and start their backward with::

    if torch.is_grad_enabled():  # create_graph=True
        return graph_backward(MyFunction, ctx, grad_outputs)

which re-runs the same ``forward`` with plain autograd (its ops are all differentiable) and differentiates
it with a graph. The ordinary backward (no graph requested) keeps the fast hand-written path.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["graph_backward", "save", "saved"]


class _ScratchContext:
    """A stand-in ``ctx`` for re-running a Function's ``forward`` outside ``apply``."""

    def save_for_backward(self, *tensors: Any) -> None:
        pass

    def mark_non_differentiable(self, *tensors: Any) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        pass


def save(ctx: Any, inputs: tuple[Any, ...], *tensors: torch.Tensor | None) -> None:
    """``ctx.save_for_backward(*tensors)`` plus the forward's ``inputs`` (tensors saved, the rest kept as is)."""
    ctx.n_saved = len(tensors)
    ctx.input_consts = [None if isinstance(a, torch.Tensor) else a for a in inputs]
    ctx.input_is_tensor = [isinstance(a, torch.Tensor) for a in inputs]
    ctx.save_for_backward(*tensors, *[a for a in inputs if isinstance(a, torch.Tensor)])


def saved(ctx: Any) -> tuple[torch.Tensor | None, ...]:
    """The tensors given to :func:`save` (without the inputs)."""
    return ctx.saved_tensors[: ctx.n_saved]


def graph_backward(fn: type[torch.autograd.Function], ctx: Any, grad_outputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """The backward of ``fn`` with a graph: plain autograd through ``fn.forward`` on the saved inputs.

    Returns one gradient per forward input (``None`` for non-tensors and inputs that need none).
    """
    tensors = iter(ctx.saved_tensors[ctx.n_saved:])
    inputs = [next(tensors) if is_t else c for is_t, c in zip(ctx.input_is_tensor, ctx.input_consts)]
    wanted = [i for i, a in enumerate(inputs) if isinstance(a, torch.Tensor) and ctx.needs_input_grad[i]]
    with torch.enable_grad():
        outs = fn.forward(_ScratchContext(), *inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    pairs = [(o, g) for o, g in zip(outs, grad_outputs) if g is not None and o.requires_grad]
    result: list[Any] = [None] * len(inputs)
    if pairs and wanted:
        grads = torch.autograd.grad([o for o, _ in pairs], [inputs[i] for i in wanted], [g for _, g in pairs],
                                    create_graph=True, allow_unused=True)
        for i, g in zip(wanted, grads):
            result[i] = g
    return tuple(result)
