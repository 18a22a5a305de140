"""Compensated summation shared by the kernels (private).

:func:`neumaier_add` is one step of Neumaier's improved Kahan summation: the running sum ``s`` and its
compensation ``c`` absorb ``x``; the total is ``s + c``. It reads no array, so it has no index to check.
"""

from __future__ import annotations

from segmetrics._jit import njit


@njit
def neumaier_add(s, c, x):
    """Return ``(s', c')`` after adding ``x`` to the running sum ``s`` with compensation ``c``."""
    t = s + x
    if abs(s) >= abs(x):
        c += (s - t) + x
    else:
        c += (x - t) + s
    return t, c
