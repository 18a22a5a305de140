"""The loss modules as training code uses them: repr, state_dict, deepcopy, pickle, dtype moves."""

from __future__ import annotations

import copy
import inspect
import pickle

import pytest
import torch

import segloss
from segloss._module import LossModule

LOSS_MODULES = [
    getattr(segloss, n) for n in segloss.__all__
    if inspect.isclass(getattr(segloss, n)) and issubclass(getattr(segloss, n), torch.nn.Module)
    and n != "FrozenEncoder"
]


def _options(cls: type) -> list[str]:
    names = []
    for c in cls.__mro__:
        if c is LossModule or not (isinstance(c, type) and issubclass(c, LossModule)) or "__init__" not in vars(c):
            continue
        names += [p.name for p in list(inspect.signature(c.__init__).parameters.values())[1:]
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in names]
    return names


@pytest.mark.parametrize("cls", LOSS_MODULES, ids=lambda c: c.__name__)
def test_repr_shows_every_option(cls):
    """Every loss module is a LossModule whose repr names each constructor option (11 showed ``Name()``)."""
    assert issubclass(cls, LossModule)
    text = repr(cls())
    missing = [name for name in _options(cls) if f"{name}=" not in text]
    assert not missing, f"{text} lacks {missing}"


def test_repr_shows_set_values_and_forwarded_kwargs():
    assert "ignore_index=None" in repr(segloss.FKLLoss(ignore_index=None))
    assert "reduction='sum'" in repr(segloss.PartialCrossEntropyLoss(reduction="sum"))
    text = repr(segloss.CELovaszABLLoss(theta=10.0, class_weight=torch.ones(3)))
    assert "theta=10.0" in text and "class_weight=tensor(shape=(3,)" in text
    assert "lambda_base=0.0025" in repr(segloss.RankedDiversityLoss(lambda_base=2.5e-3))
    assert "base_loss=soft_jaccard_loss" in repr(segloss.HindsightLoss(base_loss=segloss.soft_jaccard_loss))


@pytest.mark.parametrize("cls", LOSS_MODULES, ids=lambda c: c.__name__)
def test_state_dict_deepcopy_pickle_and_dtype_moves(cls):
    module = cls()
    clone = cls()
    clone.load_state_dict(module.state_dict())
    for other in (copy.deepcopy(module), pickle.loads(pickle.dumps(module)), copy.deepcopy(module).to(torch.float64)):
        assert repr(other) == repr(module)
