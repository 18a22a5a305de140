"""segloss: drop-in PyTorch segmentation losses from five papers.

Every loss is a pure function plus a thin ``nn.Module`` wrapper. Inputs are logits by default;
computation happens in float32 under autocast; degenerate batches return a 0-d zero that keeps the
graph; nothing in a forward pass synchronises with the device except the optional value checks
(see :func:`segloss.set_value_checks`).
"""

from __future__ import annotations

from segloss._validation import set_value_checks
from segloss.feature_consistency import (
    DeepSupervisionLoss,
    FeatureConsistencyLoss,
    FrozenEncoder,
    ISNetLoss,
    deep_supervision_loss,
    feature_consistency_loss,
    freeze_gt_encoder,
    isnet_loss,
)
from segloss.latent_diversity import (
    ClickConstraintLoss,
    HindsightLoss,
    RankedDiversityLoss,
    SelectionLoss,
    click_constraint_loss,
    hindsight_loss,
    ranked_diversity_weights,
    selection_loss,
    selection_target,
    shuffle_outputs,
)
from segloss.soft_jaccard import SoftJaccardLoss, soft_jaccard_loss

__version__ = "0.1.0"

__all__ = [
    "ClickConstraintLoss",
    "DeepSupervisionLoss",
    "FeatureConsistencyLoss",
    "FrozenEncoder",
    "HindsightLoss",
    "ISNetLoss",
    "RankedDiversityLoss",
    "SelectionLoss",
    "SoftJaccardLoss",
    "__version__",
    "click_constraint_loss",
    "deep_supervision_loss",
    "feature_consistency_loss",
    "freeze_gt_encoder",
    "hindsight_loss",
    "isnet_loss",
    "ranked_diversity_weights",
    "selection_loss",
    "selection_target",
    "set_value_checks",
    "shuffle_outputs",
    "soft_jaccard_loss",
]
