"""The base class of every loss module: a thin ``nn.Module`` whose ``repr`` shows its options.

Every loss module stores each constructor option under the attribute of the same name (the functional
call reads them back in ``forward``), so the options shown by ``repr`` are read from the constructor
signatures along the class hierarchy, never listed by hand a second time.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

__all__ = ["LossModule", "options_repr"]


def _show(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor(shape={tuple(value.shape)}, dtype={value.dtype})"
    if callable(value) and not isinstance(value, nn.Module):
        return getattr(value, "__qualname__", None) or type(value).__name__
    return repr(value)


def options_repr(module: nn.Module) -> str:
    """``"name=value, ..."`` for every constructor option of ``module``'s class and its loss-module bases.

    A ``**kwargs`` option stored as a dict attribute of the same name (e.g. ``abl_kwargs``) is shown item by
    item; sub-modules are left out (``nn.Module`` prints them as children).
    """
    seen: dict[str, None] = {}
    for cls in type(module).__mro__:
        if cls in (LossModule, nn.Module) or not issubclass(cls, LossModule) or "__init__" not in vars(cls):
            continue
        for p in list(inspect.signature(cls.__init__).parameters.values())[1:]:
            if p.kind is not p.VAR_POSITIONAL:
                seen.setdefault(p.name)
    parts = []
    for name in seen:
        if not hasattr(module, name):
            continue  # a **kwargs passed on to a base class's __init__
        value = getattr(module, name)
        if isinstance(value, nn.Module):
            continue
        if isinstance(value, dict) and name.endswith("kwargs"):
            parts += [f"{k}={_show(v)}" for k, v in value.items()]
        else:
            parts.append(f"{name}={_show(value)}")
    return ", ".join(parts)


class LossModule(nn.Module):
    """Base of the ``segloss`` loss modules; ``repr`` lists every option (see :func:`options_repr`).

    Example:
        >>> import segloss
        >>> segloss.FKLLoss(ignore_index=None)
        FKLLoss(mode='multiclass', ignore_index=None, reduction='mean')
    """

    def extra_repr(self) -> str:
        """Every constructor option as ``name=value``."""
        return options_repr(self)
