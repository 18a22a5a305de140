"""Object-complexity measures (DIS Table 1): known shapes, topology, a slow contour-length reference."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from segmetrics.app.stats import complexity_folder
from segmetrics.complexity import object_complexity, summarize_complexity


def test_square_rectangle_and_ring():
    m = np.zeros((64, 80), bool)
    m[10:30, 20:60] = True  # 20 x 40 pixels; the pixel-centre contour is 19 x 39
    c = object_complexity(m)
    assert (c.height, c.width, c.cnum, c.pnum, c.area) == (64, 80, 1, 4, 800)
    assert c.perimeter == pytest.approx(2 * (19 + 39))
    assert c.ipq == pytest.approx((2 * (19 + 39)) ** 2 / (4 * math.pi * 800))
    assert c.diagonal == pytest.approx(math.hypot(64, 80))
    ring = np.zeros((40, 40), np.uint8)
    cv2.circle(ring, (20, 20), 15, 255, -1)
    cv2.circle(ring, (20, 20), 6, 0, -1)
    r = object_complexity(ring)
    assert r.cnum == 2
    disk = np.zeros((200, 200), np.uint8)
    cv2.circle(disk, (100, 100), 80, 255, -1)
    # A digital disk is close to the isoperimetric optimum; a thin line is far from it.
    assert 0.85 < object_complexity(disk).ipq < 1.15
    line = np.zeros((50, 200), bool)
    line[25, 10:190] = True
    assert object_complexity(line).ipq > 50  # 358^2 / (4 pi 180)


def test_empty_mask_is_finite_zero():
    c = object_complexity(np.zeros((5, 7), np.uint8))
    assert (c.ipq, c.cnum, c.pnum, c.area, c.perimeter) == (0.0, 0, 0, 0, 0.0)


def _slow_perimeter(mask: np.ndarray) -> float:
    # Independent reference: sum of the step lengths (1 or sqrt 2) of every closed contour.
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)
    total = 0.0
    for c in contours:
        pts = c[:, 0, :].astype(float)
        if len(pts) < 2:
            continue
        d = np.diff(np.vstack([pts, pts[:1]]), axis=0)
        total += float(np.sqrt((d**2).sum(1)).sum())
    return total


@given(arrays(np.bool_, st.tuples(st.integers(3, 20), st.integers(3, 20))))
def test_topology_and_perimeter_properties(mask):
    c = object_complexity(mask)
    # Cnum = 8-connected objects + 4-connected holes (background components not touching the border).
    n_obj = ndimage.label(mask, structure=np.ones((3, 3)))[1] if mask.any() else 0
    _, n_bg = ndimage.label(np.pad(~mask, 1, constant_values=True))
    n_holes = n_bg - 1 if n_bg else 0
    assert c.cnum == n_obj + n_holes
    assert c.perimeter == pytest.approx(_slow_perimeter(mask), rel=1e-6)  # OpenCV sums in float32
    assert c.pnum >= c.cnum
    assert math.isfinite(c.ipq) and c.ipq >= 0
    assert c.area == int(mask.sum())


def test_summary_mean_std_and_bad_input(tmp_path):
    a = np.zeros((10, 10), bool)
    a[2:6, 2:6] = True
    b = np.zeros((20, 10), bool)
    b[1:3, 1:3] = True
    b[5:9, 5:9] = True
    s = summarize_complexity([object_complexity(a), object_complexity(b)])
    assert s["count"]["mean"] == 2
    assert s["cnum"] == {"mean": 1.5, "std": 0.5}
    assert s["height"] == {"mean": 15.0, "std": 5.0}
    with pytest.raises(ValueError, match="at least one"):
        summarize_complexity([])
    with pytest.raises(ValueError, match="`epsilon` must be finite and > 0"):
        object_complexity(a, epsilon=0)
    with pytest.raises(ValueError, match="2-D"):
        object_complexity(np.zeros((2, 2, 2), bool))
    cv2.imwrite(str(tmp_path / "a.png"), a.astype(np.uint8) * 255)
    cv2.imwrite(str(tmp_path / "b.png"), b.astype(np.uint8) * 255)
    (tmp_path / "c.png").write_bytes(b"not an image")
    per_image, errors = complexity_folder(tmp_path, workers=2)
    assert list(per_image) == ["a", "b"] and list(errors) == ["c"]
    assert per_image["b"] == object_complexity(b)


def test_epsilon_past_opencvs_limit_is_a_value_error_naming_it(tmp_path):
    # epsilon >= 1e30 passed the check and failed in approxPolyDP with a cv2.error ("Epsilon not valid");
    # `segmetrics stats --epsilon 1e30` crashed with that traceback (the folder step only catches ValueError).
    m = np.zeros((9, 9), bool)
    m[2:7, 2:7] = True
    assert object_complexity(m, epsilon=1e29).cnum == 1
    with pytest.raises(ValueError, match=r"`epsilon` must be < 1e30 \(OpenCV's approxPolyDP limit\); got 1e\+30"):
        object_complexity(m, epsilon=1e30)
    cv2.imwrite(str(tmp_path / "a.png"), m.astype(np.uint8) * 255)
    with pytest.raises(ValueError, match=r"`epsilon` must be < 1e30"):
        complexity_folder(tmp_path, epsilon=1e300, workers=0)


def test_summary_of_something_else_is_a_type_error_naming_items():
    # A list of dicts (e.g. rows read back from the per-image CSV) failed with "'dict' object has no attribute
    # 'height'"; a bare ObjectComplexity (not in a list) with "'ObjectComplexity' object is not iterable".
    c = object_complexity(np.ones((4, 4), bool))
    with pytest.raises(TypeError, match=r"`items` must hold ObjectComplexity values; got dict at index 1"):
        summarize_complexity([c, c.to_dict()])
    with pytest.raises(TypeError, match=r"`items` must be an iterable of ObjectComplexity values; got Object"):
        summarize_complexity(c)


def test_folder_step_rejects_a_bad_color_up_front(tmp_path):
    # The docstring promised a ValueError for an invalid `color`; it was checked per file instead, so every mask
    # came back as a per-file "error" and the call returned ({}, {every file: message}).
    cv2.imwrite(str(tmp_path / "a.png"), np.full((4, 4), 255, np.uint8))
    with pytest.raises(ValueError, match=r"`color` must be one of \('gray', 'first'\); got 'bogus'"):
        complexity_folder(tmp_path, color="bogus", workers=0)
    assert list(complexity_folder(tmp_path, color="first", workers=0)[0]) == ["a"]
