"""Object-complexity measures of the DIS paper's Table 1 (IPQ, Cnum, Pnum) and image dimensions.

Definitions (Qin et al., ECCV 2022, §3.2; the paper gives the formulas but not the contour details,
which are fixed here):

* **Contours** come from OpenCV ``findContours(mask, RETR_TREE, CHAIN_APPROX_NONE)`` on the binary
  GT (uint8 ``> 128``): every outer boundary and every hole boundary, as HCE uses them.
* **IPQ** ``= L^2 / (4 pi A)``, the isoperimetric quotient, with ``L`` the summed
  ``cv2.arcLength(contour, closed=True)`` of all contours (pixel-centre polylines) and ``A`` the
  number of foreground pixels. A disk has IPQ ~ 1; elongated or thin, concave shapes are larger.
* **Cnum**: the number of contours (outer plus hole contours).
* **Pnum**: the number of dominant points, the summed vertex count of
  ``cv2.approxPolyDP(contour, epsilon, closed=True)`` over all contours, with ``epsilon = 2.0`` px
  (the Douglas–Peucker tolerance HCE uses for its polygon points).
* **Dimensions**: ``H``, ``W`` and the diagonal ``D = sqrt(H^2 + W^2)``.

An empty mask has ``IPQ = Cnum = Pnum = 0``. Dataset summaries are mean and population standard
deviation (``ddof = 0``) over images, the "mean ± std" of Table 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from segmetrics._inputs import check_epsilon, prepare_gt

__all__ = [
    "COMPLEXITY_FIELDS",
    "ObjectComplexity",
    "object_complexity",
    "summarize_complexity",
]

#: Fields summarised by :func:`summarize_complexity`, in Table 1's order.
COMPLEXITY_FIELDS: tuple[str, ...] = ("height", "width", "diagonal", "ipq", "cnum", "pnum")


@dataclass(frozen=True)
class ObjectComplexity:
    """Table-1 measures of one ground-truth mask.

    Attributes:
        height: image height ``H`` in pixels.
        width: image width ``W`` in pixels.
        diagonal: ``sqrt(H^2 + W^2)``.
        ipq: isoperimetric quotient ``L^2 / (4 pi A)`` (0 for an empty mask).
        cnum: number of contours (outer and hole boundaries).
        pnum: number of Douglas–Peucker dominant points over all contours.
        perimeter: ``L``, the summed closed contour length.
        area: ``A``, the number of foreground pixels.
    """

    height: int
    width: int
    diagonal: float
    ipq: float
    cnum: int
    pnum: int
    perimeter: float
    area: int

    def to_dict(self) -> dict[str, float | int]:
        """Return the fields as a plain dict (for CSV / JSON)."""
        return asdict(self)


def object_complexity(gt: Any, *, epsilon: float = 2.0) -> ObjectComplexity:
    """Compute IPQ, Cnum, Pnum and the dimensions of one ground-truth mask (DIS Table 1).

    ``IPQ = L^2 / (4 pi A)``; ``Cnum`` = number of contours; ``Pnum`` = number of Douglas–Peucker
    vertices (``approxPolyDP`` with tolerance ``epsilon``) over all contours. See the module
    docstring for the exact contour conventions.

    Args:
        gt: ``(H, W)`` mask: bool, uint8 (foreground ``> 128``), 0/1 integers or float in ``[0, 1]``.
        epsilon: Douglas–Peucker tolerance in pixels, ``> 0`` and ``< 1e30`` (default ``2.0``, as HCE).

    Returns:
        An :class:`ObjectComplexity`.

    Raises:
        TypeError: for unsupported input types or dtypes.
        ValueError: for a non-2-D or empty array, invalid values, or an ``epsilon`` not in ``(0, 1e30)``.

    Example:
        >>> import numpy as np
        >>> m = np.zeros((64, 64), bool); m[16:48, 16:48] = True
        >>> c = object_complexity(m)
        >>> c.cnum, c.pnum, round(c.ipq, 3)
        (1, 4, 1.195)
    """
    check_epsilon(epsilon, "epsilon")
    mask = prepare_gt(gt, "gt")
    import cv2

    h, w = mask.shape
    area = int(np.count_nonzero(mask))
    diagonal = math.hypot(h, w)
    if area == 0:
        return ObjectComplexity(h, w, diagonal, 0.0, 0, 0, 0.0, 0)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)
    perimeter = 0.0
    pnum = 0
    for c in contours:
        perimeter += float(cv2.arcLength(c, True))
        pnum += len(cv2.approxPolyDP(c, float(epsilon), True))
    ipq = perimeter * perimeter / (4.0 * math.pi * area)
    return ObjectComplexity(h, w, diagonal, ipq, len(contours), pnum, perimeter, area)


def summarize_complexity(items: Iterable[ObjectComplexity]) -> dict[str, dict[str, float]]:
    """Mean and population std (``ddof=0``) of each Table-1 field over a dataset.

    Args:
        items: per-image :class:`ObjectComplexity` values (at least one).

    Returns:
        ``{"count": {"mean": n, "std": 0.0}, "height": {"mean": .., "std": ..}, ...}`` for the fields
        of :data:`COMPLEXITY_FIELDS`.

    Raises:
        TypeError: if ``items`` is not an iterable of :class:`ObjectComplexity`.
        ValueError: if ``items`` is empty.

    Example:
        >>> import numpy as np
        >>> m = np.zeros((8, 8), bool); m[2:6, 2:6] = True
        >>> summarize_complexity([object_complexity(m)] * 2)["cnum"]
        {'mean': 1.0, 'std': 0.0}
    """
    if isinstance(items, ObjectComplexity) or not hasattr(items, "__iter__"):
        raise TypeError(f"`items` must be an iterable of ObjectComplexity values; got {type(items).__name__}")
    items = list(items)
    for i, it in enumerate(items):
        if not isinstance(it, ObjectComplexity):
            raise TypeError(f"`items` must hold ObjectComplexity values; got {type(it).__name__} at index {i}")
    if not items:
        raise ValueError("`items` must hold at least one ObjectComplexity; got none")
    out: dict[str, dict[str, float]] = {"count": {"mean": float(len(items)), "std": 0.0}}
    for f in COMPLEXITY_FIELDS:
        v = np.array([getattr(it, f) for it in items], dtype=np.float64)
        out[f] = {"mean": float(v.mean()), "std": float(v.std())}
    return out
