"""segloss: drop-in PyTorch segmentation losses from five papers.

Every loss is a pure function plus a thin ``nn.Module`` wrapper. Inputs are logits by default;
computation happens in float32 under autocast; degenerate batches return a 0-d zero that keeps the
graph; nothing in a forward pass synchronises with the device except the optional value checks
(see :func:`segloss.set_value_checks`).
"""

from __future__ import annotations

from segloss._validation import set_value_checks
from segloss.active_boundary import ActiveBoundaryLoss, abl_distance_map, active_boundary_loss
from segloss.boundary_fkl import FKLLoss, fkl_loss
from segloss.composite import CELovaszABLLoss, ce_lovasz_abl_loss
from segloss.lovasz import LovaszSoftmaxLoss, lovasz_softmax_loss

__version__ = "0.1.0"

__all__ = [
    "ActiveBoundaryLoss",
    "CELovaszABLLoss",
    "FKLLoss",
    "LovaszSoftmaxLoss",
    "__version__",
    "abl_distance_map",
    "active_boundary_loss",
    "ce_lovasz_abl_loss",
    "fkl_loss",
    "lovasz_softmax_loss",
    "set_value_checks",
]
