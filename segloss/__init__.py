"""segloss: drop-in PyTorch segmentation losses from five papers.

Every loss is a pure function plus a thin ``nn.Module`` wrapper. Inputs are logits by default;
computation happens in float32 under autocast; degenerate batches return a 0-d zero that keeps the
graph; nothing in a forward pass synchronises with the device except the optional value checks
(see :func:`segloss.set_value_checks`).

Layout: one public module per loss family, named for what it holds — :mod:`~segloss.soft_jaccard`,
:mod:`~segloss.latent_diversity` (hindsight, ranked diversity, click constraints, selection),
:mod:`~segloss.active_boundary`, :mod:`~segloss.lovasz`, :mod:`~segloss.ce_lovasz_abl` (the CE + Lovász + ABL
composite), :mod:`~segloss.fkl`, :mod:`~segloss.class_agnostic` (CAS, CACE), :mod:`~segloss.size_target`,
:mod:`~segloss.size_barriers`, :mod:`~segloss.partial_ce`, :mod:`~segloss.potts_crf`,
:mod:`~segloss.feature_consistency`, :mod:`~segloss.deep_supervision`, :mod:`~segloss.isnet`. Private modules hold
what several losses share: ``_validation`` (argument and value checks), ``_modes`` (prediction modes and their
channel rules), ``_size_mean`` (the image-level mean prediction of the size losses), ``_levels`` (per-level inputs
of the IS-Net losses), ``_distance`` / ``_cpu_ops`` / ``_jit`` (exact distance transform and compiled CPU kernels;
``SEGLOSS_DISABLE_JIT=1`` runs them as plain Python), ``_scan``, ``_permutohedral``, ``_bilateral_grid``.
"""

from __future__ import annotations

from segloss._validation import set_value_checks
from segloss.active_boundary import ActiveBoundaryLoss, abl_distance_map, active_boundary_loss
from segloss.ce_lovasz_abl import CELovaszABLLoss, ce_lovasz_abl_loss
from segloss.class_agnostic import (
    CACELoss,
    CASLoss,
    SaliencyChannelSelector,
    adaptive_binarize,
    cace_loss,
    cas_loss,
    select_saliency_channel,
)
from segloss.deep_supervision import DeepSupervisionLoss, deep_supervision_loss
from segloss.feature_consistency import (
    FeatureConsistencyLoss,
    FrozenEncoder,
    feature_consistency_loss,
    freeze_gt_encoder,
)
from segloss.fkl import FKLLoss, fkl_loss
from segloss.isnet import ISNetLoss, isnet_loss
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
from segloss.lovasz import LovaszSoftmaxLoss, lovasz_softmax_loss
from segloss.partial_ce import PartialCrossEntropyLoss, partial_cross_entropy
from segloss.potts_crf import PottsCRFLoss, potts_crf_loss
from segloss.size_barriers import (
    QuadraticSizeBarrierLoss,
    TagBarrierLoss,
    quadratic_size_barrier_loss,
    tag_barrier_loss,
)
from segloss.size_target import (
    SizeTargetLoss,
    corrupt_size_targets,
    mean_relative_error,
    relative_error,
    sigma_for_mre,
    size_target_loss,
    size_targets_from_mask,
)
from segloss.soft_jaccard import SoftJaccardLoss, soft_jaccard_loss

__version__ = "0.1.0"

__all__ = [
    "ActiveBoundaryLoss",
    "CACELoss",
    "CASLoss",
    "CELovaszABLLoss",
    "ClickConstraintLoss",
    "DeepSupervisionLoss",
    "FKLLoss",
    "FeatureConsistencyLoss",
    "FrozenEncoder",
    "HindsightLoss",
    "ISNetLoss",
    "LovaszSoftmaxLoss",
    "PartialCrossEntropyLoss",
    "PottsCRFLoss",
    "QuadraticSizeBarrierLoss",
    "RankedDiversityLoss",
    "SaliencyChannelSelector",
    "SelectionLoss",
    "SizeTargetLoss",
    "SoftJaccardLoss",
    "TagBarrierLoss",
    "__version__",
    "abl_distance_map",
    "active_boundary_loss",
    "adaptive_binarize",
    "cace_loss",
    "cas_loss",
    "ce_lovasz_abl_loss",
    "click_constraint_loss",
    "corrupt_size_targets",
    "deep_supervision_loss",
    "feature_consistency_loss",
    "fkl_loss",
    "freeze_gt_encoder",
    "hindsight_loss",
    "isnet_loss",
    "lovasz_softmax_loss",
    "mean_relative_error",
    "partial_cross_entropy",
    "potts_crf_loss",
    "quadratic_size_barrier_loss",
    "ranked_diversity_weights",
    "relative_error",
    "select_saliency_channel",
    "selection_loss",
    "selection_target",
    "set_value_checks",
    "shuffle_outputs",
    "sigma_for_mre",
    "size_target_loss",
    "size_targets_from_mask",
    "soft_jaccard_loss",
    "tag_barrier_loss",
]
