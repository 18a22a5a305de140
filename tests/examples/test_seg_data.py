"""Datasets of the examples: generated set, folders of im/ + gt/ pairs, splits, bad files, cache."""

from __future__ import annotations

import os
import warnings

import cv2
import dis_synth
import numpy as np
import pytest
import seg_data
import torch
from skimage import data


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)


def test_synthetic_dis_items_and_split():
    train = seg_data.SyntheticDIS(3, 32, seed=0, split="train")
    val = seg_data.SyntheticDIS(3, 32, seed=0, split="val")
    item = train[1]
    assert item["image"].dtype == torch.float32 and item["image"].shape == (3, 32, 32)
    assert item["gt"].dtype == torch.float32 and item["gt"].shape == (1, 32, 32)
    assert 0 <= item["image"].min() and item["image"].max() <= 1 and item["gt"].max() <= 1
    assert item["name"] == "train_0001" and item["size"] == (32, 32)
    np.testing.assert_array_equal(train.gts[1], dis_synth.generate_sample(1, 32, 0)[1])
    assert not any(np.array_equal(a, b) for a in train.gts for b in val.gts)
    np.testing.assert_array_equal(seg_data.SyntheticDIS(3, 32, seed=0, split="val").images, val.images)
    with pytest.raises(ValueError, match="split must be"):
        seg_data.SyntheticDIS(2, 32, split="test")


def test_folder_round_trip(tmp_path):
    root = dis_synth.write_dataset(tmp_path / "set", 3, size=48, seed=1)
    ds = seg_data.FolderDataset(root, size=None)
    assert len(ds) == 3 and ds.names == ["0000", "0001", "0002"]
    item = ds[2]
    _, gt = dis_synth.generate_sample(2, 48, seed=1)
    np.testing.assert_array_equal((item["gt"][0] * 255).round().byte().numpy(), gt)  # PNG is lossless
    assert item["size"] == (48, 48)
    resized = seg_data.FolderDataset(root, size=32)[2]
    assert resized["image"].shape == (3, 32, 32) and resized["size"] == (48, 48)
    soft = resized["gt"][(resized["gt"] > 0) & (resized["gt"] < 1)]
    assert soft.numel() > 0  # bilinear GT resize keeps soft edges


def test_formats_grey_rgba_16bit_sizes(tmp_path):
    root = tmp_path / "mixed"
    cam = data.camera()[::4, ::4]  # grey 128x128
    horse = data.horse()  # 328x400 bool silhouette
    coffee = data.coffee()  # 400x600 RGB
    _write(root / "im" / "grey.png", cam)
    _write(root / "gt" / "grey.bmp", (cam > 100).astype(np.uint8) * 255)
    rgba = np.dstack([cv2.resize(coffee, (400, 328))[..., ::-1], np.full((328, 400), 7, np.uint8)])
    _write(root / "im" / "rgba.png", rgba)
    _write(root / "gt" / "rgba.tif", (~horse).astype(np.uint16) * 65535)  # 16-bit GT
    _write(root / "im" / "deep.tiff", (coffee.astype(np.uint16) * 257)[..., ::-1])  # 16-bit RGB
    colour_gt = np.zeros((400, 600, 3), np.uint8)
    colour_gt[100:300, 200:400] = (255, 255, 255)
    _write(root / "gt" / "deep.png", colour_gt)
    _write(root / "im" / "web.webp", coffee[::2, ::2, ::-1])
    _write(root / "gt" / "web.jpg", np.zeros((200, 300), np.uint8))
    ds = seg_data.FolderDataset(root, size=64)
    assert ds.names == ["deep", "grey", "rgba", "web"]
    for i in range(len(ds)):
        item = ds[i]
        assert item["image"].shape == (3, 64, 64) and item["gt"].shape == (1, 64, 64)
    grey = seg_data.FolderDataset(root, size=None)[1]["image"]
    torch.testing.assert_close(grey[0], grey[2])  # grey repeated to 3 channels
    rgba_item = seg_data.FolderDataset(root, size=None)[2]
    np.testing.assert_array_equal((rgba_item["gt"][0] > 0.5).numpy(), ~horse)
    assert rgba_item["size"] == (328, 400)
    deep = seg_data.FolderDataset(root, size=None)[0]
    np.testing.assert_array_equal((deep["image"].permute(1, 2, 0) * 255).round().byte().numpy(), coffee)
    assert deep["gt"][0, 200, 300] == 1 and deep["gt"][0, 0, 0] == 0


def test_missing_partner_and_bad_layout(tmp_path):
    root = dis_synth.write_dataset(tmp_path / "set", 2, size=32)
    os.remove(root / "gt" / "0001.png")
    with pytest.raises(ValueError, match=r"image file .*0001\.jpg has no GT"):
        seg_data.FolderDataset(root, size=32)
    _write(root / "gt" / "extra.png", np.zeros((32, 32), np.uint8))
    with pytest.warns(UserWarning) as record:
        ds = seg_data.FolderDataset(root, size=32, skip_bad=True)
    messages = sorted(str(w.message) for w in record)
    assert messages[0].startswith("skipping 0001: image file") and messages[1].startswith("skipping extra: GT file")
    assert ds.names == ["0000"]
    os.remove(root / "im" / "0001.jpg")
    with pytest.raises(ValueError, match=r"GT file .*extra\.png has no image"):
        seg_data.FolderDataset(root, size=32)
    (tmp_path / "half" / "im").mkdir(parents=True)
    with pytest.raises(ValueError, match="has no gt/ sub-folder"):
        seg_data.FolderDataset(tmp_path / "half", size=32)
    with pytest.raises(ValueError, match="does not exist"):
        seg_data.find_datasets(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="no im/ and no gt/"):
        seg_data.find_datasets(tmp_path)


def test_corrupt_files_are_named(tmp_path):
    root = dis_synth.write_dataset(tmp_path / "set", 3, size=96)
    (root / "gt" / "0001.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"cannot read GT file .*0001\.png"):
        seg_data.FolderDataset(root, size=32)
    (root / "gt" / "0001.png").unlink()
    _write(root / "gt" / "0001.png", np.zeros((96, 96), np.uint8))
    # header intact, pixels truncated: found at read time
    jpg = (root / "im" / "0002.jpg").read_bytes()
    (root / "im" / "0002.jpg").write_bytes(jpg[: len(jpg) // 3])
    ds = seg_data.FolderDataset(root, size=32)
    ds[0]
    with pytest.raises(ValueError, match=r"cannot read image file .*0002\.jpg"):
        _ = ds[2]["image"].sum()
    quiet = seg_data.FolderDataset(root, size=32, skip_bad=True)
    with pytest.warns(UserWarning, match=r"skipping 0002 .*image file"):
        item = quiet[2]
    assert item["name"] == "0000"  # replaced by the next good pair, wrapping around
    with pytest.raises(ValueError, match=r"cannot read image file .*0002\.jpg"):
        ds.verify()
    with pytest.warns(UserWarning, match="skipping 0002"):
        assert seg_data.FolderDataset(root, size=32, skip_bad=True).verify() == ["0002"]
    _write(root / "gt" / "0000.png", np.zeros((20, 96), np.uint8))
    with pytest.raises(ValueError, match=r"image file .*0000\.jpg is 96x96 but its GT file .*0000\.png is 20x96"):
        seg_data.FolderDataset(root, size=32)


def test_cache_reuse_and_invalidation(tmp_path):
    root = dis_synth.write_dataset(tmp_path / "set", 2, size=40)
    cache = tmp_path / "cache"
    ds = seg_data.FolderDataset(root, size=32, cache_dir=cache)
    first = ds[0]
    entries = sorted(cache.glob("*.npz"))
    assert len(entries) == 1 and not list(cache.glob(".*"))  # no temporary file left behind
    mtime = entries[0].stat().st_mtime_ns
    again = seg_data.FolderDataset(root, size=32, cache_dir=cache)[0]
    assert entries[0].stat().st_mtime_ns == mtime  # reused, not rewritten
    torch.testing.assert_close(again["gt"], first["gt"])
    # a different size is a different entry
    seg_data.FolderDataset(root, size=24, cache_dir=cache)[0]
    assert len(list(cache.glob("*.npz"))) == 2
    # change the GT (new content and a later mtime): the stale entry must not be used
    new_gt = np.full((40, 40), 255, np.uint8)
    _write(root / "gt" / "0000.png", new_gt)
    st = (root / "gt" / "0000.png").stat()
    os.utime(root / "gt" / "0000.png", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    fresh = seg_data.FolderDataset(root, size=32, cache_dir=cache)[0]
    assert torch.all(fresh["gt"] == 1)
    assert len(list(cache.glob("*.npz"))) == 3
    # a damaged entry is rebuilt, not trusted
    newest = max(cache.glob("*.npz"), key=lambda p: p.stat().st_mtime_ns)
    newest.write_bytes(b"garbage")
    assert torch.all(seg_data.FolderDataset(root, size=32, cache_dir=cache)[0]["gt"] == 1)


def test_find_datasets_dis5k_plain_and_several(tmp_path):
    dis = tmp_path / "DIS5K"
    for i, name in enumerate(["DIS-TR", "DIS-VD", "DIS-TE1", "DIS-TE2"]):
        dis_synth.write_dataset(dis, 2, size=32, seed=i, split_name=name)
    plain = dis_synth.write_dataset(tmp_path / "plain", 10, size=32)
    s = seg_data.dis5k_splits(tmp_path)  # the parent of DIS5K works too
    assert [x.label for x in s["train"]] == ["DIS-TR"] and [x.label for x in s["val"]] == ["DIS-VD"]
    assert [x.label for x in s["test"]] == ["DIS-TE1", "DIS-TE2"]
    both = seg_data.find_datasets([dis, plain], seed=0)
    assert [x.label for x in both["train"]] == ["DIS-TR", "plain-train"]
    assert [x.label for x in both["val"]] == ["DIS-VD", "plain-val"]
    val_names = both["val"][1].names
    assert len(val_names) == 1 and val_names == seg_data.find_datasets(plain, seed=0)["val"][0].names
    assert set(val_names).isdisjoint(both["train"][1].names)
    sets = seg_data.make_datasets(both, size=16)
    assert len(sets["train"]) == 2 + 9 and len(sets["val"]) == 2 + 1
    assert sorted(sets["test"]) == ["DIS-TE1", "DIS-TE2"]
    loader = torch.utils.data.DataLoader(sets["train"], batch_size=4)
    batch = next(iter(loader))
    assert batch["image"].shape == (4, 3, 16, 16) and len(batch["name"]) == 4
    with pytest.raises(ValueError, match="not a DIS5K root"):
        seg_data.dis5k_splits(plain)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        seg_data.find_datasets(plain, val_fraction=0.0)


def test_bad_file_in_a_worker_is_named(tmp_path):
    """A file that breaks at read time inside a DataLoader worker surfaces as the named ValueError."""
    root = dis_synth.write_dataset(tmp_path / "set", 2, size=96)
    jpg = (root / "im" / "0001.jpg").read_bytes()
    (root / "im" / "0001.jpg").write_bytes(jpg[: len(jpg) // 2])
    loader = torch.utils.data.DataLoader(seg_data.FolderDataset(root, size=32), batch_size=2, num_workers=1)
    with pytest.raises(ValueError, match=r"cannot read image file .*0001\.jpg"):
        next(iter(loader))
    quiet = torch.utils.data.DataLoader(seg_data.FolderDataset(root, size=32, skip_bad=True), batch_size=2)
    with pytest.warns(UserWarning, match="skipping 0001"):
        assert next(iter(quiet))["name"] == ["0000", "0000"]


def test_jpeg_with_data_after_its_end_marker_is_not_truncated(tmp_path):
    """Phone JPEGs (motion photos, maker trailers) carry data after the end-of-image marker: still readable."""
    root = dis_synth.write_dataset(tmp_path / "set", 1, size=48)
    jpg = root / "im" / "0000.jpg"
    clean = seg_data.read_image(jpg)
    trailer = np.random.default_rng(0).integers(0, 255, 100_000, dtype=np.uint8).tobytes().replace(b"\xff", b"\x00")
    jpg.write_bytes(jpg.read_bytes() + trailer)
    np.testing.assert_array_equal(seg_data.read_image(jpg), clean)
    assert seg_data.FolderDataset(root, size=32)[0]["image"].shape == (3, 32, 32)
    # a truncated JPEG is still refused, also when the cut leaves no marker in the last 64 KiB
    big = tmp_path / "big.jpg"
    noise = np.random.default_rng(1).integers(0, 255, (600, 600, 3), dtype=np.uint8)
    assert cv2.imwrite(str(big), noise, [cv2.IMWRITE_JPEG_QUALITY, 100])
    big.write_bytes(big.read_bytes()[: big.stat().st_size * 2 // 3])
    with pytest.raises(ValueError, match=r"cannot read image file .*big\.jpg"):
        seg_data.read_image(big)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_gt_with_values_0_and_1_is_a_mask(tmp_path, dtype):
    """A label-style GT ({0, 1}, 8- or 16-bit) means foreground at 1: it must not read as an empty mask."""
    horse = ~data.horse()
    path = tmp_path / "label.png"
    _write(path, horse.astype(dtype))
    np.testing.assert_array_equal(seg_data.read_gt(path), horse.astype(np.uint8) * 255)
    _write(path, np.zeros(horse.shape, dtype))  # an all-background GT stays all background
    assert seg_data.read_gt(path).max() == 0
    soft = (horse * 200 + 1).astype(np.uint8)  # a soft 8-bit GT with a 1 in it is not a label map
    _write(path, soft)
    np.testing.assert_array_equal(seg_data.read_gt(path), soft)


def test_cache_not_stale_when_size_and_mtime_are_restored(tmp_path):
    """`cp -p`, rsync -t, tar and backups restore mtimes: a rewritten file of the same size must be re-read."""
    root = tmp_path / "set"
    cam = data.camera()[::8, ::8]
    _write(root / "im" / "a.png", cam)
    gt_path = root / "gt" / "a.bmp"  # BMP: the byte size depends on the shape only
    _write(gt_path, (cam > 100).astype(np.uint8) * 255)
    cache = tmp_path / "cache"
    before = seg_data.FolderDataset(root, size=16, cache_dir=cache)[0]["gt"]
    st = gt_path.stat()
    _write(gt_path, (cam <= 100).astype(np.uint8) * 255)  # inverted mask
    os.utime(gt_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert gt_path.stat().st_size == st.st_size and gt_path.stat().st_mtime_ns == st.st_mtime_ns
    after = seg_data.FolderDataset(root, size=16, cache_dir=cache)[0]["gt"]
    torch.testing.assert_close(after, seg_data.FolderDataset(root, size=16)[0]["gt"])
    assert not torch.equal(after, before)


def test_cache_with_a_long_file_name(tmp_path):
    """A 240-character stem is a valid file name; its cache entry must not exceed the 255-byte name limit."""
    root = dis_synth.write_dataset(tmp_path / "set", 1, size=40)
    stem = "é" * 120  # 240 bytes in UTF-8
    for sub, ext in (("im", ".jpg"), ("gt", ".png")):
        (root / sub / f"0000{ext}").rename(root / sub / f"{stem}{ext}")
    cache = tmp_path / "cache"
    item = seg_data.FolderDataset(root, size=32, cache_dir=cache)[0]
    assert item["name"] == stem and len(list(cache.glob("*.npz"))) == 1
    again = seg_data.FolderDataset(root, size=32, cache_dir=cache)[0]
    torch.testing.assert_close(again["gt"], item["gt"])


def test_file_removed_after_construction_with_a_cache(tmp_path):
    """With a cache, a file that disappears mid-run is a named BadPairError (skipped with skip_bad), not an OSError."""
    root = dis_synth.write_dataset(tmp_path / "set", 2, size=40)
    ds = seg_data.FolderDataset(root, size=32, cache_dir=tmp_path / "cache")
    quiet = seg_data.FolderDataset(root, size=32, cache_dir=tmp_path / "cache2", skip_bad=True)
    (root / "gt" / "0001.png").unlink()
    with pytest.raises(seg_data.BadPairError, match=r"GT file .*0001\.png"):
        ds[1]
    with pytest.warns(UserWarning, match="skipping 0001"):
        assert quiet[1]["name"] == "0000"


def test_unwritable_cache_warns_and_reads_the_files(tmp_path):
    """A cache folder that cannot be written (here: a file is in the way) is not fatal inside a worker."""
    root = dis_synth.write_dataset(tmp_path / "set", 2, size=40)
    blocker = tmp_path / "cache"
    blocker.write_text("a file, not a folder")
    ds = seg_data.FolderDataset(root, size=32, cache_dir=blocker)
    with pytest.warns(UserWarning, match="cache: cannot write"):
        item = ds[0]
    torch.testing.assert_close(item["gt"], seg_data.FolderDataset(root, size=32)[0]["gt"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per dataset, not once per item
        assert ds[1]["name"] == "0001"


def test_stems_pair_across_unicode_normalisation(tmp_path):
    """A name copied from macOS is decomposed (NFD): 'café' in im/ and its NFD twin in gt/ are the same stem, as
    `segmetrics eval` pairs them."""
    import unicodedata

    root = tmp_path / "set"
    cam = data.camera()[::16, ::16]
    _write(root / "im" / f"{unicodedata.normalize('NFC', 'café')}.jpg", cam)
    _write(root / "gt" / f"{unicodedata.normalize('NFD', 'café')}.png", (cam > 100).astype(np.uint8) * 255)
    ds = seg_data.FolderDataset(root, size=16)
    assert ds.names == [unicodedata.normalize("NFC", "café")] and ds[0]["gt"].shape == (1, 16, 16)
    splits = seg_data.find_datasets(root)
    assert splits["train"][0].names == (unicodedata.normalize("NFC", "café"),)


def test_a_file_given_as_the_dataset_folder_is_called_a_file(tmp_path):
    path = tmp_path / "set.zip"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match=r"set\.zip is a file, not a folder"):
        seg_data.find_datasets(path)
    with pytest.raises(ValueError, match=r"set\.zip is a file, not a folder"):
        seg_data.FolderDataset(path)


def test_16bit_gt_holding_8bit_values_is_not_scaled_to_nothing(tmp_path):
    """A 16-bit GT PNG written with 0/255 values (an 8-bit mask cast to uint16) scaled by 255/65535 became {0, 1}: an
    empty mask. A 16-bit GT whose maximum is at most 255 holds 8-bit levels."""
    horse = ~data.horse()
    path = tmp_path / "gt16.png"
    _write(path, horse.astype(np.uint16) * 255)
    np.testing.assert_array_equal(seg_data.read_gt(path), horse.astype(np.uint8) * 255)
    _write(path, horse.astype(np.uint16) * 65535)  # a real 16-bit mask is still scaled
    np.testing.assert_array_equal(seg_data.read_gt(path), horse.astype(np.uint8) * 255)
