"""segloss: drop-in PyTorch segmentation losses from five papers.

Every loss is a pure function plus a thin ``nn.Module`` wrapper. Inputs are logits by default;
computation happens in float32 under autocast; degenerate batches return a 0-d zero that keeps the
graph; nothing in a forward pass synchronises with the device except the optional value checks
(see :func:`segloss.set_value_checks`).
"""

from __future__ import annotations

from segloss._validation import set_value_checks

__version__ = "0.1.0"

__all__ = ["__version__", "set_value_checks"]
