"""Optional dependencies: one import helper whose error names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["DISTRIBUTION", "import_optional"]

#: The pip distribution name, for install hints.
DISTRIBUTION = "segloss-segmetrics"


def import_optional(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module``, or raise an ``ImportError`` that says which extra provides it.

    Args:
        module: dotted module name, e.g. ``"matplotlib.pyplot"``.
        extra: the extra of :data:`DISTRIBUTION` that installs it, e.g. ``"plot"``.
        feature: what needs it, for the message (e.g. ``"plotting curves"``).

    Returns:
        The imported module.

    Raises:
        ImportError: ``<feature> needs matplotlib: pip install "segloss-segmetrics[plot]"``.

    Example:
        >>> import_optional("json", "plot", "nothing").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise ImportError(f'{feature} needs {top}: pip install "{DISTRIBUTION}[{extra}]"') from exc
