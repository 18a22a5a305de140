"""segloss: drop-in PyTorch segmentation losses from five papers.

Every loss is a pure function plus a thin ``nn.Module`` wrapper. Inputs are logits by default;
computation happens in float32 under autocast; degenerate batches return a 0-d zero that keeps the
graph; nothing in a forward pass synchronises with the device except the optional value checks
(see :func:`segloss.set_value_checks`).
"""

from __future__ import annotations

from segloss._validation import set_value_checks
from segloss.class_agnostic import (
    CACELoss,
    CASLoss,
    SaliencyChannelSelector,
    adaptive_binarize,
    cace_loss,
    cas_loss,
    select_saliency_channel,
)
from segloss.potts_crf import PottsCRFLoss, potts_crf_loss
from segloss.size_target import (
    PartialCrossEntropyLoss,
    QuadraticSizeBarrierLoss,
    SizeTargetLoss,
    TagBarrierLoss,
    corrupt_size_targets,
    mean_relative_error,
    partial_cross_entropy,
    quadratic_size_barrier_loss,
    relative_error,
    sigma_for_mre,
    size_target_loss,
    size_targets_from_mask,
    tag_barrier_loss,
)

__version__ = "0.1.0"

__all__ = [
    "CACELoss",
    "CASLoss",
    "PartialCrossEntropyLoss",
    "PottsCRFLoss",
    "QuadraticSizeBarrierLoss",
    "SaliencyChannelSelector",
    "SizeTargetLoss",
    "TagBarrierLoss",
    "__version__",
    "adaptive_binarize",
    "cace_loss",
    "cas_loss",
    "corrupt_size_targets",
    "mean_relative_error",
    "partial_cross_entropy",
    "potts_crf_loss",
    "quadratic_size_barrier_loss",
    "relative_error",
    "select_saliency_channel",
    "set_value_checks",
    "sigma_for_mre",
    "size_target_loss",
    "size_targets_from_mask",
    "tag_barrier_loss",
]
