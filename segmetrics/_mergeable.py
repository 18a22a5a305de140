"""Summed dataset state: the shared ``merge`` and empty-``compute`` check of the family accumulators.

An accumulator whose dataset state is a set of running sums declares them once, with the options
two accumulators must share to be merged; :class:`SummedState` then implements ``merge`` (type
check, option check, field-wise sum) and the "no image yet" check of ``compute``.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar, TypeVar

import numpy as np

_S = TypeVar("_S", bound="SummedState")


def _sum(a: Any, b: Any) -> Any:
    """``a + b`` field by field: dicts by key (in ``a``'s order), lists item by item, the rest by ``+``."""
    if isinstance(a, dict):
        if not isinstance(b, dict) or a.keys() != b.keys():
            raise KeyError(f"keys {sorted(b) if isinstance(b, dict) else type(b).__name__} vs {sorted(a)}")
        return {k: _sum(v, b[k]) for k, v in a.items()}
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            raise ValueError(f"{len(b) if isinstance(b, list) else type(b).__name__} items vs {len(a)}")
        return [_sum(x, y) for x, y in zip(a, b)]
    if np.shape(a) != np.shape(b):
        raise ValueError(f"shape {np.shape(b)} vs {np.shape(a)}")
    return a + b


def _difference(theirs: Any, mine: Any) -> str:
    """``"<theirs> vs <mine>"``, or only what differs when the option object can say (``difference``)."""
    if hasattr(theirs, "difference") and type(theirs) is type(mine):
        return str(theirs.difference(mine))
    return f"{theirs} vs {mine}"


class SummedState:
    """Mixin for an accumulator whose state is running sums (set by its ``reset``).

    Subclasses declare (the class that sets ``_summed`` is the type ``merge`` accepts):

    - ``_summed``: names of the state attributes that ``merge`` adds (numbers, arrays, lists of
      numbers or dicts of those);
    - ``_same_options``: names of the option attributes that must be equal to merge, and
      ``_options_label`` naming them in the error message (e.g. ``"metrics and beta_sq"``);
      ``_show_options``: end that message with ``"; got <other's> vs <self's>"`` (only what differs when the option
      object has a ``difference`` method, as :class:`~segmetrics.registry.MetricOptions`);
    - ``_article``: ``"a"`` or ``"an"``, the article before the class name in the type error;
    - ``_add_method``: the method that adds an image, named in the empty-``compute`` error.
    """

    _summed: ClassVar[tuple[str, ...]] = ()
    _same_options: ClassVar[tuple[str, ...]] = ()
    _options_label: ClassVar[str] = ""
    _show_options: ClassVar[bool] = False
    _article: ClassVar[str] = "a"
    _add_method: ClassVar[str] = "add"
    n_images: int

    def merge(self: _S, other: _S) -> _S:
        """Add the state of ``other`` (same options) into this one and return ``self``.

        Raises:
            TypeError: if ``other`` is not of this accumulator's class (the one declaring ``_summed``,
                so a user subclass still merges with its base).
            ValueError: if the options differ, or the state of ``other`` does not fit this one's (then nothing
                is added).
        """
        cls = next(c for c in type(self).__mro__ if "_summed" in vars(c))
        if not isinstance(other, cls):
            raise TypeError(f"`other` must be {self._article} {cls.__name__}; got {type(other).__name__}")
        mine, theirs = ([getattr(x, o) for o in self._same_options] for x in (self, other))
        if theirs != mine:
            diff = ", ".join(_difference(t, m) for t, m in zip(theirs, mine) if t != m)
            got = f"; got {diff}" if self._show_options else ""
            raise ValueError(f"`other` must use the same {self._options_label}{got}")
        try:  # every sum first: a state that does not fit (another version's pickle) leaves this one unchanged
            summed = {name: _sum(getattr(self, name), getattr(other, name)) for name in self._summed}
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"`other` must hold the state of this accumulator; its state differs: "
                             f"{type(exc).__name__}: {exc}") from None
        for name, value in summed.items():
            setattr(self, name, value)
        return self

    def __copy__(self: _S) -> _S:
        """An independent snapshot, as :func:`copy.deepcopy`: the sums are updated in place, so never shared."""
        return copy.deepcopy(self)

    def _images_added(self, caller: str = "compute") -> int:
        """The number of images added, checked by the method ``caller`` before it reduces the state.

        Raises:
            ValueError: if no image was added.
        """
        if self.n_images == 0:
            raise ValueError(f"{caller}() needs at least one image; call {self._add_method}() first")
        return self.n_images
