"""The procedural DIS-like generator: determinism, order independence, DIS-like masks, folder output."""

from __future__ import annotations

import cv2
import dis_synth
import numpy as np
import pytest


@pytest.mark.parametrize("easy", [False, True])
def test_deterministic_and_order_independent(easy):
    forward = [dis_synth.generate_sample(i, 64, seed=3, easy=easy) for i in range(6)]
    backward = [dis_synth.generate_sample(i, 64, seed=3, easy=easy) for i in reversed(range(6))][::-1]
    for (im_a, gt_a), (im_b, gt_b) in zip(forward, backward):
        np.testing.assert_array_equal(im_a, im_b)
        np.testing.assert_array_equal(gt_a, gt_b)
    other = dis_synth.generate_sample(0, 64, seed=4, easy=easy)
    assert not np.array_equal(other[1], forward[0][1])
    assert not np.array_equal(forward[0][1], forward[1][1])


@pytest.mark.parametrize("easy", [False, True])
def test_samples_are_dis_like(easy):
    fractions = []
    for i in range(16):
        image, gt = dis_synth.generate_sample(i, 128, seed=0, easy=easy)
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
        assert gt.shape == (128, 128) and gt.dtype == np.uint8
        fractions.append(gt.mean() / 255)
        soft = (gt > 0) & (gt < 255)
        assert soft.any(), "anti-aliased edges must give values strictly between 0 and 255"
        assert (gt == 255).any() and (gt == 0).any()
        assert image.std() > 5  # not a flat image
    assert 0.01 <= min(fractions) and max(fractions) <= 0.40


def test_structures_are_thin_and_detailed():
    """The DIS-like mode has far more boundary per area than blobs: mean IPQ well above a disc's 1."""
    ipq = []
    for i in range(12):
        gt = dis_synth.generate_sample(i, 256, seed=0)[1] > 127
        contours, _ = cv2.findContours(gt.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        perimeter = sum(cv2.arcLength(c, True) for c in contours)
        ipq.append(perimeter**2 / (4 * np.pi * gt.sum()))
    assert np.mean(ipq) > 10


def test_sizes_and_errors():
    image, gt = dis_synth.generate_sample(0, (48, 80))
    assert image.shape == (48, 80, 3) and gt.shape == (48, 80)
    with pytest.raises(TypeError, match="size must be an int"):
        dis_synth.generate_sample(0, 64.0)
    with pytest.raises(ValueError, match="at least 16"):
        dis_synth.generate_sample(0, 8)
    with pytest.raises(ValueError, match="index and seed must be >= 0"):
        dis_synth.generate_sample(-1, 64)


def test_generate_scene_instances():
    image, inst = dis_synth.generate_scene(5, 96, seed=1, n_objects=4)
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    assert inst.dtype == np.int32 and inst.min() >= 0 and inst.max() <= 4
    assert len(np.unique(inst)) >= 3  # background and at least two visible objects
    again = dis_synth.generate_scene(5, 96, seed=1, n_objects=4)
    np.testing.assert_array_equal(inst, again[1])
    _, hard = dis_synth.generate_scene(0, 96, n_objects=2, easy=False)
    assert hard.max() >= 1
    with pytest.raises(ValueError, match="n_objects"):
        dis_synth.generate_scene(0, 64, n_objects=0)


def test_write_dataset_layout(tmp_path):
    root = dis_synth.write_dataset(tmp_path, 3, size=40, seed=2, split_name="DIS-TR")
    assert root == tmp_path / "DIS-TR"
    assert sorted(p.name for p in (root / "im").iterdir()) == ["0000.jpg", "0001.jpg", "0002.jpg"]
    gt = cv2.imread(str(root / "gt" / "0001.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(gt, dis_synth.generate_sample(1, 40, seed=2)[1])


def test_write_dataset_raises_when_a_file_is_not_written(tmp_path, monkeypatch):
    # cv2.imwrite reports a failed write (disk full, a path it cannot encode) only by returning False, which was
    # ignored: the folder silently lacked files, found later as unpaired images.
    real = cv2.imwrite
    monkeypatch.setattr(cv2, "imwrite", lambda path, *a: False if path.endswith("0001.png") else real(path, *a))
    with pytest.raises(OSError, match=r"could not write .*gt.0001\.png"):
        dis_synth.write_dataset(tmp_path, 3, size=32)
