"""segmetrics.app.image_io: reading maps (bit depths, colour), resizing, pairing files by stem."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segmetrics.app.image_io import (
    ImageReadError,
    describe_affixes,
    pair_files,
    read_map,
    resize_to,
    suggest_affixes,
)
from tests.segmetrics.folder_data import make_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("io"))


def test_read_map_conventions(data, tmp_path):
    g = read_map(data["gt"] / "im5.png")  # 3-channel grey PNG
    assert g.dtype == np.uint8 and g.ndim == 2
    np.testing.assert_array_equal(g, cv2.imread(str(data["gt"] / "im5.png"), cv2.IMREAD_GRAYSCALE))
    p16 = read_map(data["good"] / "im2.png")
    p8 = cv2.imread(str(data["good"] / "im2.png"), cv2.IMREAD_UNCHANGED) // 257
    assert p16.dtype == np.float64
    np.testing.assert_array_equal(p16, p8.astype(np.uint8) / 255.0)  # 16-bit v / 65535 == (v / 257) / 255
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 200  # red channel
    cv2.imwrite(str(tmp_path / "c.png"), bgr)
    assert read_map(tmp_path / "c.png", color="first").max() == 200
    assert read_map(tmp_path / "c.png").max() == round(0.299 * 200)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        read_map(tmp_path / "empty.png")
    with pytest.raises(ImageReadError, match="cannot read"):
        read_map(tmp_path / "none.png")
    with pytest.raises(ValueError, match="`color` must be one of"):
        read_map(tmp_path / "c.png", color="lum")


def test_pair_files_prefix_suffix_and_duplicates(tmp_path):
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    for n in ("a", "b", "c"):
        (gt / f"{n}.jpg").write_bytes(b"x")
    for n in ("p_a_s", "p_b_s", "p_d_s"):
        (pred / f"{n}.png").write_bytes(b"x")
    (pred / "notes.txt").write_text("ignored")
    pairing = pair_files(pred, gt, prefix="p_", suffix="_s")
    assert [n for n, _, _ in pairing.pairs] == ["a", "b"]
    assert pairing.missing == ["c"] and pairing.extra == ["p_d_s"]
    (pred / "p_a_s.jpg").write_bytes(b"x")
    with pytest.raises(ValueError, match="several images with the stem 'p_a_s'"):
        pair_files(pred, gt, prefix="p_", suffix="_s")


def test_suggest_affixes():
    assert suggest_affixes(["a", "b"], ["a_pred", "b_pred", "zzz"]) == ("", "_pred")
    assert suggest_affixes(["1", "2"], ["sal_1", "sal_2"]) == ("sal_", "")
    assert suggest_affixes(["a"], ["b"]) is None


def test_read_map_float_tiff_and_error_names_the_file(tmp_path):
    f = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    cv2.imwrite(str(tmp_path / "f.tif"), f)
    m = read_map(tmp_path / "f.tif")
    assert m.dtype == np.float64 and m.shape == (3, 4)
    np.testing.assert_array_equal(m, f.astype(np.float64))
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n corrupt")
    with pytest.raises(ImageReadError, match=r"bad\.png"):
        read_map(tmp_path / "bad.png")


def test_resize_to_keeps_the_kind_and_range():
    u8 = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    assert resize_to(u8, (4, 6)) is u8
    up = resize_to(u8, (8, 12))
    assert up.dtype == np.uint8 and up.shape == (8, 12)
    f = np.ones((3, 5))
    r = resize_to(f, (7, 9))
    assert r.dtype == np.float64 and r.shape == (7, 9) and r.min() >= 0 and r.max() <= 1


def test_pair_files_missing_folder_and_describe_affixes(tmp_path):
    with pytest.raises(FileNotFoundError, match="`pred_dir` must be an existing folder"):
        pair_files(tmp_path / "nope", tmp_path)
    assert describe_affixes("p_", "_s") == "prefix='p_' (--prefix p_) and suffix='_s' (--suffix _s)"
    assert describe_affixes("", "_s") == "suffix='_s' (--suffix _s)"


def test_pair_files_one_folder_holding_gts_and_predictions(tmp_path):
    from skimage import data as skd

    coins = np.where(skd.coins() > 110, 255, 0).astype(np.uint8)[:64, :64]
    for name in ("a.png", "a_pred.png", "b.png", "b_pred.JPG", "c.png", ".a_pred.png"):
        cv2.imwrite(str(tmp_path / name), coins)
    with pytest.raises(ValueError, match=r"`pred_dir` and `gt_dir` are the same folder .* compared with itself"):
        pair_files(tmp_path, tmp_path)
    pairing = pair_files(tmp_path, tmp_path / ".", suffix="_pred")  # the same folder spelled differently
    assert [(n, p.name, g.name) for n, p, g in pairing.pairs] == [("a", "a_pred.png", "a.png"),
                                                                  ("b", "b_pred.JPG", "b.png")]
    assert pairing.missing == ["c"] and pairing.extra == []


def test_read_rgb_finds_the_image_whatever_the_case_of_its_extension(tmp_path):
    from skimage import data as skd

    from segmetrics.app.image_io import read_rgb

    coffee = skd.coffee()[:40, :48]
    for name in ("a.Jpg", "b.PNG", "c.png"):  # pairing accepts all three; 'a.Jpg' was 'no RGB image named a'
        cv2.imencode(name[name.index("."):].lower(), coffee[:, :, ::-1])[1].tofile(str(tmp_path / name))
    for stem in "abc":
        img = read_rgb(tmp_path, stem)
        assert img.shape == (40, 48, 3) and abs(int(img[..., 0].mean()) - int(coffee[..., 0].mean())) <= 2
    with pytest.raises(ImageReadError, match="no RGB image named d"):
        read_rgb(tmp_path, "d")


def test_pair_files_unicode_spaces_and_upper_case_extensions(tmp_path):
    import unicodedata

    from skimage import data as skd

    horse = np.where(skd.horse(), 0, 255).astype(np.uint8)[::8, ::8]
    for d in ("gt", "pred"):
        (tmp_path / d).mkdir()
    nfc, nfd = (unicodedata.normalize(f, "café horse") for f in ("NFC", "NFD"))
    for folder, name in (("gt", f"{nfc}.PNG"), ("pred", f"{nfd}.JPG"), ("gt", "b c.png"), ("pred", "b c.Png")):
        cv2.imencode(".png", horse)[1].tofile(str(tmp_path / folder / name))
    pairing = pair_files(tmp_path / "pred", tmp_path / "gt")
    assert [n for n, _, _ in pairing.pairs] == ["b c", nfc] and not pairing.missing and not pairing.extra
    assert read_map(pairing.pairs[1][1]).shape == horse.shape


@pytest.mark.skipif(not hasattr(__import__("os"), "symlink") or __import__("sys").platform == "win32",
                    reason="symbolic links")
def test_a_broken_symbolic_link_is_paired_and_reported_not_dropped(tmp_path):
    # A dataset of symbolic links whose target moved: the broken link was skipped as if absent, so its GT
    # left the dataset silently (its prediction was called "extra") instead of being an error naming it.
    from segmetrics.app.folder import evaluate_folder

    for d in ("gt", "pred"):
        (tmp_path / d).mkdir()
    mask = np.zeros((16, 16), np.uint8)
    mask[4:12, 4:12] = 255
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / "pred" / f"{name}.png"), mask)
    cv2.imwrite(str(tmp_path / "gt" / "a.png"), mask)
    (tmp_path / "gt" / "b.png").symlink_to(tmp_path / "moved" / "b.png")
    pairing = pair_files(tmp_path / "pred", tmp_path / "gt")
    assert [n for n, _, _ in pairing.pairs] == ["a", "b"] and not pairing.extra
    res = evaluate_folder(tmp_path / "pred", tmp_path / "gt", metrics=("mae",), workers=0, progress=False)
    assert res.num_images == 1 and "cannot read the ground truth" in res.errors["b"]
    assert "No such file or directory" in res.errors["b"]


def test_read_rgb_finds_an_image_whose_name_is_in_another_unicode_form(tmp_path):
    # GTs and predictions pair in Unicode NFC, but the RGB image of a GT 'café' (NFC) saved as 'café' in NFD
    # (a macOS copy) was 'no RGB image named café' (ccm error rows).
    import unicodedata

    from skimage import data as skd

    from segmetrics.app.image_io import read_rgb

    nfc, nfd = (unicodedata.normalize(f, "café") for f in ("NFC", "NFD"))
    cv2.imencode(".png", skd.coffee()[:8, :8, ::-1])[1].tofile(str(tmp_path / f"{nfd}.png"))
    assert read_rgb(tmp_path, nfc).shape == (8, 8, 3)
