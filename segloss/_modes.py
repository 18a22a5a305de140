"""The prediction modes of the losses and their channel rules, written once.

* :data:`CLASS_MODES` — ``"multiclass"``: logits ``(N, C, …)`` with ``C >= 2`` and a softmax over the classes;
  ``"binary"``: one logit channel ``(N, 1, …)``, read as the two classes ``(1 − σ(x), σ(x))``.
* :data:`LABEL_MODES` — :data:`CLASS_MODES` plus ``"multilabel"``: ``C`` independent sigmoid channels
  (the soft Jaccard loss).
"""

from __future__ import annotations

import torch

__all__ = ["CLASS_MODES", "LABEL_MODES", "check_mode_channels"]

CLASS_MODES = ("multiclass", "binary")
LABEL_MODES = ("binary", "multilabel", "multiclass")


def check_mode_channels(pred: torch.Tensor, mode: str, name: str = "pred") -> int:
    """Number of classes of ``(N, C, …)`` logits in ``mode`` ``"binary"`` (C = 1 → 2) or ``"multiclass"`` (C ≥ 2).

    Raises:
        ValueError: if the channel count does not fit the mode.

    Examples:
        >>> check_mode_channels(torch.zeros(2, 1, 4, 4), "binary")
        2
        >>> check_mode_channels(torch.zeros(2, 3, 4, 4), "multiclass")
        3
    """
    c = pred.shape[1]
    if mode == "binary" and c != 1:
        raise ValueError(f"`{name}` must have 1 channel in binary mode; got shape {tuple(pred.shape)}")
    if mode == "multiclass" and c < 2:
        raise ValueError(f"`{name}` must have C >= 2 channels in multiclass mode (use mode='binary'); got "
                         f"{tuple(pred.shape)}")
    return 2 if mode == "binary" else c
