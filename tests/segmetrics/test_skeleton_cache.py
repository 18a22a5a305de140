"""segmetrics.app.skeleton_cache: content keys, hits and misses, damaged entries, the default folder."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data as skdata

from segmetrics import skeletonize
from segmetrics.app.skeleton_cache import SkeletonCache, default_cache_dir, mask_key


@pytest.fixture(scope="module")
def horse():
    return ~skdata.horse().astype(bool)  # the horse is False on a True background


def test_hit_after_miss_returns_the_skeleton_of_the_real_mask(horse, tmp_path):
    calls = []
    cache = SkeletonCache(tmp_path, skeletonize=lambda m: (calls.append(1), skeletonize(m))[1])
    first = cache.get(horse)
    again = SkeletonCache(tmp_path).get(horse)  # a second object reads the stored entry
    np.testing.assert_array_equal(first, skeletonize(horse))
    np.testing.assert_array_equal(again, first)
    assert calls == [1] and cache.misses == 1 and cache.hits == 0
    assert cache.path_for(mask_key(horse)).parent.parent == tmp_path


def test_keys_follow_the_binary_content_and_shape(horse):
    assert mask_key(horse) == mask_key(horse.astype(np.uint8))  # same binary content
    assert mask_key(horse) != mask_key(~horse)
    assert mask_key(horse) != mask_key(horse.T)
    flat = np.zeros((2, 8), bool)
    assert mask_key(flat) != mask_key(flat.reshape(4, 4))  # same bits, other shape


@pytest.mark.parametrize("damage", [b"", b"not an npz", None])
def test_a_damaged_or_foreign_entry_is_recomputed_and_rewritten(horse, tmp_path, damage):
    cache = SkeletonCache(tmp_path)
    path = cache.path_for(mask_key(horse))
    cache.get(horse)
    if damage is None:  # a valid file with the wrong shape
        np.savez(path, shape=np.array([3, 3]), bits=np.packbits(np.ones(9, bool)))
    else:
        path.write_bytes(damage)
    np.testing.assert_array_equal(cache.get(horse), skeletonize(horse))
    assert cache.misses == 2 and cache.hits == 0
    np.testing.assert_array_equal(SkeletonCache(tmp_path).get(horse), skeletonize(horse))


def test_default_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGMETRICS_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("SEGMETRICS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "segmetrics" / "skeletons"
    assert SkeletonCache().cache_dir == default_cache_dir()
