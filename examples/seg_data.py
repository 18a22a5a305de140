"""Datasets for the segmentation examples: the generated DIS-like set and folders of ``im/`` + ``gt/`` pairs.

- :class:`SyntheticDIS`: :mod:`dis_synth` samples generated once into memory; ``split="train"`` and
  ``split="val"`` draw from disjoint index ranges, so the two never share a sample.
- :class:`FolderDataset`: a folder with ``im/`` and ``gt/`` paired by file stem (compared in Unicode NFC, as
  ``segmetrics eval`` pairs), DIS5K layout or any folder laid out that way, any size and format, read and
  resized as the IS-Net authors do (see below).
- :func:`find_datasets` / :func:`dis5k_splits`: train / validation / test folders from a DIS5K root, a plain
  folder (validation: a fixed 10 % of it chosen by seed) or several of them.

Every item is a dict ``{"image": float32 (3, H, W) in [0, 1], "gt": float32 (1, H, W) in [0, 1],
"name": str, "size": (H0, W0)}`` where ``(H0, W0)`` is the original size (to evaluate at the original
resolution, as the DIS benchmark does).

Reading, as in the authors' ``data_loader_cache.py``: images are read as RGB (grey repeated to 3 channels,
alpha dropped, 16-bit scaled to 8-bit), GTs as grey (colour converted to grey; a 0/1 label map, which the
authors' code would read as an empty mask, becomes 0/255, and a 16-bit GT of 8-bit levels is not scaled).
Both are resized to ``size`` x ``size`` with bilinear interpolation (half-pixel centres, no antialiasing, as
``F.interpolate(mode="bilinear")``) and stored as uint8, so GT edges become soft; the authors truncate to
uint8, here values are rounded. As in the authors' reader (``skimage.io.imread``) and ``segmetrics eval``, a
JPEG's EXIF orientation is not applied (a photo stored sideways is read as stored, so its GT must be too),
and a palette PNG GT is read by its colours (converted to grey), not by its palette indices.

Bad files. At construction: every image must have a GT with the same stem and vice versa, and every file's
header must be readable (Pillow reads headers only, so this stays cheap even for DIS5K); otherwise a
``ValueError`` names the file and says whether it is the image or the GT. A file whose header is fine but
whose pixels cannot be decoded (e.g. a truncated JPEG) is found when it is read: ``ValueError`` again,
naming it; :meth:`FolderDataset.verify` reads everything up front (and fills the cache) to find such files
before a long run. With ``skip_bad=True`` pairs that fail at construction are left out with a
``warnings.warn``, and a pair that fails at read time is replaced by the next good pair, also with a
warning, so a worker never crashes.

Cache. With ``cache_dir`` each resized pair is stored once as ``.npz`` (uint8), keyed by both source paths,
their modification times (ns), byte sizes, status-change times (ns; no tool can set them back, unlike the
mtime that ``cp -p`` or ``rsync -t`` restore) and inodes, and ``size``; a changed source gives a new key, so a
stale entry is never read (the stored key is also checked on load). Writes go to a temporary file renamed into
place, so concurrent workers and interrupted runs never leave a partial entry; a cache folder that cannot be
written is warned about once and the files are read without it. Old entries are not deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import dis_synth
import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
"""File extensions recognised in ``im/`` and ``gt/`` (case-insensitive)."""
DIS5K_SPLITS = {"train": ("DIS-TR",), "val": ("DIS-VD",), "test": ("DIS-TE1", "DIS-TE2", "DIS-TE3", "DIS-TE4")}
"""DIS5K's sub-folders by role."""
VAL_FRACTION = 0.1
"""Share of a plain folder held out for validation (fixed by the split seed)."""
VAL_INDEX_OFFSET = 1_000_000
"""SyntheticDIS validation samples use generator indices from here on (training uses 0..n-1)."""
_CACHE_VERSION = 1

Item = dict


class BadPairError(ValueError):
    """A pair of a :class:`FolderDataset` that is unpaired or cannot be read (the message names the file).

    Raised without ``skip_bad`` (which leaves such pairs out instead): at construction for an image without GT, a
    GT without image, an unreadable header or mismatched sizes, and by ``__getitem__`` for a file that cannot be
    decoded; a DataLoader worker re-raises it in the main process with the same type, so a training script can
    catch it, report one line and point to ``skip_bad`` only where it helps (not for a missing folder).
    """


def _to_item(image: np.ndarray, gt: np.ndarray, name: str, size: tuple[int, int]) -> Item:
    """uint8 (H, W, 3) + (H, W) -> the item dict of float32 tensors in [0, 1]."""
    im = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)
    g = torch.from_numpy(np.ascontiguousarray(gt))[None].float().div_(255.0)
    return {"image": im, "gt": g, "name": name, "size": (int(size[0]), int(size[1]))}


# --------------------------------------------------------------------------------------------------------------------
# generated data
# --------------------------------------------------------------------------------------------------------------------


class SyntheticDIS(Dataset):
    """The procedural DIS-like set of :mod:`dis_synth`, generated once into memory (uint8).

    Args:
        n: number of samples (>= 1).
        size: side of the square samples in pixels (or ``(H, W)``).
        seed: dataset seed; the same ``(n, size, seed, split)`` gives the same samples.
        split: ``"train"`` (generator indices ``0..n-1``) or ``"val"`` (indices from
            ``VAL_INDEX_OFFSET``), disjoint for any ``n`` below a million.
        easy: the generator's easy mode (solid shapes on smooth noise).
        transform: optional callable applied to each item dict.

    Raises:
        ValueError: ``n`` < 1 or an unknown ``split``.

    Examples:
        >>> ds = SyntheticDIS(2, 32, seed=0, split="val")
        >>> item = ds[0]
        >>> item["image"].shape, item["gt"].shape, item["name"], item["size"]
        (torch.Size([3, 32, 32]), torch.Size([1, 32, 32]), 'val_0000', (32, 32))
    """

    def __init__(
        self,
        n: int,
        size: int | tuple[int, int] = 256,
        seed: int = 0,
        split: str = "train",
        *,
        easy: bool = False,
        transform: Callable[[Item], Item] | None = None,
    ):
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if int(n) < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.split, self.seed, self.transform = split, int(seed), transform
        offset = 0 if split == "train" else VAL_INDEX_OFFSET
        pairs = [dis_synth.generate_sample(offset + i, size, self.seed, easy=easy) for i in range(int(n))]
        self.images = np.stack([p[0] for p in pairs])
        self.gts = np.stack([p[1] for p in pairs])
        self.names = [f"{split}_{i:04d}" for i in range(int(n))]

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> Item:
        item = _to_item(self.images[i], self.gts[i], self.names[i], self.gts.shape[1:3])
        return self.transform(item) if self.transform else item


# --------------------------------------------------------------------------------------------------------------------
# reading files
# --------------------------------------------------------------------------------------------------------------------


def _to_uint8(a: np.ndarray) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.uint16:
        return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):  # float images are taken as [0, 1]
        return np.clip(np.nan_to_num(a) * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.clip(a, 0, 255).astype(np.uint8)


def _decode(path: Path) -> np.ndarray:
    """Decode any supported file with OpenCV (unicode-safe); Pillow as a fallback. Raises on failure."""
    from PIL import Image

    data = np.fromfile(str(path), np.uint8)
    if data[:2].tobytes() == b"\xff\xd8" and b"\xff\xd9" not in data[-65536:].tobytes():
        # no end-of-image marker near the end: truncated (OpenCV would fill the rest with grey), or data appended
        # after the marker (motion photos, maker trailers). Pillow decodes the latter and refuses the former.
        try:
            with Image.open(path) as im:
                im.load()
        except Exception as e:
            raise ValueError(f"truncated JPEG ({e})") from e
    a = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if a is not None:
        if a.ndim == 3 and a.shape[2] >= 3:
            a = a[..., [2, 1, 0, *range(3, a.shape[2])]]  # BGR(A) -> RGB(A)
        return a
    with Image.open(path) as im:
        im.load()
        return np.asarray(im)


def _read_raw(path: str | Path, role: str) -> np.ndarray:
    """Decode ``path`` (any dtype); a failure raises ValueError naming the file and its role."""
    try:
        return np.asarray(_decode(Path(path)))
    except Exception as e:
        raise ValueError(f"cannot read {role} file {path}: {e}") from e


def _read_u8(path: str | Path, role: str) -> np.ndarray:
    """Decode ``path`` and convert it to uint8; a failure raises ValueError naming the file and its role."""
    return _to_uint8(_read_raw(path, role))


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3): grey repeated, alpha dropped, 16-bit scaled.

    Raises:
        ValueError: the file cannot be decoded (message names it as an image).
    """
    a = _read_u8(path, "image")
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] in (1, 2):  # grey (+ alpha)
        a = np.repeat(a[..., :1], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] >= 3:
        a = a[..., :3]
    else:
        raise ValueError(f"cannot read image file {path}: unsupported array shape {a.shape}")
    return np.ascontiguousarray(a)


def read_gt(path: str | Path) -> np.ndarray:
    """Read a ground-truth file as grey uint8 (H, W): colour converted to grey, alpha dropped, 16-bit scaled.

    A label map, i.e. an integer file whose values are only 0 and 1 (8- or 16-bit), is read as 0 / 255 (a
    nonzero colour channel is foreground): scaled as grey levels it would be an empty mask. Likewise a 16-bit
    file whose maximum is at most 255 holds 8-bit levels (an 8-bit mask cast to uint16) and is not scaled.

    Raises:
        ValueError: the file cannot be decoded (message names it as a GT).
    """
    raw = _read_raw(path, "GT")
    if raw.dtype == np.uint16 and raw.size and raw.max() <= 255:
        raw = raw.astype(np.uint8)
    if raw.dtype.kind in "ui" and raw.size and raw.max() == 1 and raw.min() == 0:
        lab = raw if raw.ndim == 2 else raw[..., 0] if raw.shape[2] < 3 else raw[..., :3].any(axis=2)
        return np.ascontiguousarray((lab != 0).astype(np.uint8) * 255)
    a = _to_uint8(raw)
    if a.ndim == 3 and a.shape[2] in (1, 2):
        a = a[..., 0]
    elif a.ndim == 3 and a.shape[2] >= 3:
        a = cv2.cvtColor(np.ascontiguousarray(a[..., :3]), cv2.COLOR_RGB2GRAY)
    if a.ndim != 2:
        raise ValueError(f"cannot read GT file {path}: unsupported array shape {a.shape}")
    return np.ascontiguousarray(a)


def _header_size(path: Path) -> tuple[int, int]:
    """(H, W) from the file header (Pillow, lazy); raises on unreadable headers."""
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
    return h, w


def resize_pair(image: np.ndarray, gt: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear resize of image and GT to ``size`` x ``size`` (half-pixel centres, no antialias), uint8."""
    dsize = (int(size), int(size))
    im = cv2.resize(image, dsize, interpolation=cv2.INTER_LINEAR)
    g = cv2.resize(gt, dsize, interpolation=cv2.INTER_LINEAR)
    return im, g


def _list(folder: Path) -> dict[str, Path]:
    """Image files of ``folder`` by stem, in Unicode NFC (a name copied from macOS is decomposed, NFD)."""
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in IMAGE_EXTS and not p.name.startswith("."):
            stem = unicodedata.normalize("NFC", p.stem)
            if stem in files:
                raise ValueError(f"two files with the stem {stem!r} in {folder}: {files[stem].name} and {p.name}")
            files[stem] = p
    return files


def _check_folder(root: Path) -> None:
    if not root.exists():
        raise ValueError(f"dataset folder {root} does not exist")
    if not root.is_dir():
        raise ValueError(f"dataset path {root} is a file, not a folder (an archive must be extracted first)")
    missing = [d for d in ("im", "gt") if not (root / d).is_dir()]
    if missing:
        raise ValueError(
            f"dataset folder {root} has no {' and no '.join(m + '/' for m in missing)} sub-folder; expected "
            "im/ (images) and gt/ (masks) paired by file stem, or a DIS5K root (DIS-TR, DIS-VD, DIS-TE1..4)"
        )


class FolderDataset(Dataset):
    """Pairs of ``root/im/<stem>.*`` and ``root/gt/<stem>.*``, read and resized as the IS-Net authors do.

    See the module docstring for the reading rules, bad-file handling and the cache.

    Args:
        root: folder with ``im/`` and ``gt/``.
        size: side of the square output; ``None`` keeps each file's size (image and GT must then match).
        cache_dir: optional folder for the on-disk cache of resized uint8 pairs.
        skip_bad: leave out (construction) or replace (read) bad pairs with a warning instead of raising.
        names: optional subset of stems to use (e.g. a validation split); unknown stems raise.
        transform: optional callable applied to each item dict.

    Raises:
        ValueError: missing ``im/``/``gt/``, an image without GT or a GT without image, an unreadable header,
            image and GT of different sizes, an empty folder, or bad ``size``; each message names the file and
            says image or GT.

    Examples:
        >>> import tempfile, dis_synth
        >>> root = dis_synth.write_dataset(tempfile.mkdtemp(), 2, size=40)
        >>> ds = FolderDataset(root, size=32)
        >>> item = ds[1]
        >>> item["image"].shape, item["gt"].shape, item["name"], item["size"]
        (torch.Size([3, 32, 32]), torch.Size([1, 32, 32]), '0001', (40, 40))
    """

    def __init__(
        self,
        root: str | Path,
        size: int | None = 1024,
        cache_dir: str | Path | None = None,
        skip_bad: bool = False,
        *,
        names: Sequence[str] | None = None,
        transform: Callable[[Item], Item] | None = None,
    ):
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1):
            raise ValueError(f"size must be a positive int or None, got {size!r}")
        self.root = Path(root)
        _check_folder(self.root)
        self.size = None if size is None else int(size)
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.skip_bad, self.transform = bool(skip_bad), transform
        ims, gts = _list(self.root / "im"), _list(self.root / "gt")
        stems = sorted(set(ims) | set(gts))
        if names is not None:
            unknown = sorted(set(names) - set(stems))
            if unknown:
                raise ValueError(f"names not found in {self.root}: {unknown[:5]}")
            stems = sorted(set(names))
        pairs: list[tuple[str, Path, Path, tuple[int, int]]] = []
        for stem in stems:
            try:
                pairs.append(self._check_pair(stem, ims.get(stem), gts.get(stem)))
            except ValueError as e:
                if not self.skip_bad:
                    raise
                warnings.warn(f"skipping {stem}: {e}", stacklevel=2)
        if not pairs:
            raise ValueError(f"no usable image/GT pairs in {self.root} (extensions: {', '.join(IMAGE_EXTS)})")
        self.pairs = pairs
        self.names = [p[0] for p in pairs]
        self._bad: set[int] = set()
        self._cache_warned = False

    def _check_pair(self, stem: str, im: Path | None, gt: Path | None) -> tuple[str, Path, Path, tuple[int, int]]:
        if im is None:
            raise BadPairError(f"GT file {gt} has no image with the stem {stem!r} in {self.root / 'im'}")
        if gt is None:
            raise BadPairError(f"image file {im} has no GT with the stem {stem!r} in {self.root / 'gt'}")
        sizes = []
        for kind, p in (("image", im), ("GT", gt)):
            try:
                sizes.append(_header_size(p))
            except Exception as e:
                raise BadPairError(f"cannot read {kind} file {p}: {e}") from e
        if sizes[0] != sizes[1]:
            raise BadPairError(
                f"image file {im} is {sizes[0][0]}x{sizes[0][1]} but its GT file {gt} is "
                f"{sizes[1][0]}x{sizes[1][1]} (H x W)"
            )
        return stem, im, gt, sizes[0]

    def __len__(self) -> int:
        return len(self.pairs)

    def verify(self) -> list[str]:
        """Read every pair once (filling the cache if there is one): find undecodable files before training.

        Returns:
            The names of the pairs that could not be read (only with ``skip_bad=True``; they are then skipped
            by ``__getitem__`` without reading them again).

        Raises:
            ValueError: the first unreadable pair, naming the file, when ``skip_bad`` is False.
        """
        bad = []
        for j in range(len(self.pairs)):
            try:
                self._load(j)
            except ValueError as e:
                if not self.skip_bad:
                    raise
                self._bad.add(j)
                bad.append(self.names[j])
                warnings.warn(f"skipping {self.names[j]}: {e}", stacklevel=2)
        return bad

    # -- cache ----------------------------------------------------------------------------------------------------

    def _key(self, im: Path, gt: Path) -> str:
        parts = [str(_CACHE_VERSION), str(self.size)]
        for kind, p in (("image", im), ("GT", gt)):
            try:
                st = p.stat()
            except OSError as e:
                raise ValueError(f"cannot read {kind} file {p}: {e.strerror or e}") from e
            # ctime and inode too: tools that rewrite a file can restore its mtime (cp -p, rsync -t, tar), not those
            parts += [str(p.resolve()), str(st.st_mtime_ns), str(st.st_size), str(st.st_ctime_ns), str(st.st_ino)]
        return json.dumps(parts)

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        stem, im_path, gt_path, hw = self.pairs[i]
        entry = key = None
        if self.cache_dir is not None:
            key = self._key(im_path, gt_path)
            digest = hashlib.sha1(key.encode()).hexdigest()[:20]
            short = stem.encode()[:80].decode(errors="ignore")  # the digest identifies; a name has 255 bytes at most
            entry = self.cache_dir / f"{short}-{digest}.npz"
            if entry.exists():
                try:
                    with np.load(entry) as z:
                        if str(z["key"]) == key:
                            return z["image"], z["gt"], (int(z["hw"][0]), int(z["hw"][1]))
                except Exception:
                    pass
        image, gt = read_image(im_path), read_gt(gt_path)
        if image.shape[:2] != gt.shape:
            raise ValueError(
                f"image file {im_path} is {image.shape[0]}x{image.shape[1]} but its GT file {gt_path} "
                f"is {gt.shape[0]}x{gt.shape[1]} (H x W)"
            )
        hw = gt.shape
        if self.size is not None:
            image, gt = resize_pair(image, gt, self.size)
        if entry is not None:
            self._store(entry, image, gt, hw, key)
        return image, gt, hw

    def _store(self, entry: Path, image: np.ndarray, gt: np.ndarray, hw: tuple[int, int], key: str | None) -> None:
        """Write a cache entry atomically; a cache that cannot be written is warned about (once), not fatal."""
        tmp = None
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
            fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=f".{entry.stem[:40]}-", suffix=".npz")
            with os.fdopen(fd, "wb") as f:
                np.savez(f, image=image, gt=gt, hw=np.array(hw), key=np.array(key))
            os.replace(tmp, entry)
        except OSError as e:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            if not self._cache_warned:
                self._cache_warned = True
                warnings.warn(f"cache: cannot write to {self.cache_dir} ({e}); reading files without the cache",
                              stacklevel=3)
        except BaseException:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            raise

    def __getitem__(self, i: int) -> Item:
        n = len(self.pairs)
        for k in range(n):
            j = (int(i) + k) % n
            if j in self._bad:
                continue
            try:
                image, gt, hw = self._load(j)
            except ValueError as e:
                if not self.skip_bad:
                    raise BadPairError(str(e)) from e
                self._bad.add(j)
                warnings.warn(f"skipping {self.names[j]} (replaced by the next pair): {e}", stacklevel=2)
                continue
            item = _to_item(image, gt, self.names[j], hw)
            return self.transform(item) if self.transform else item
        raise BadPairError(f"no readable image/GT pair left in {self.root} (each one was skipped as unreadable)")


# --------------------------------------------------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """One folder (with ``im/`` and ``gt/``) used for a role, optionally restricted to some stems."""

    root: Path
    label: str
    names: tuple[str, ...] | None = None

    def dataset(
        self,
        size: int | None,
        cache_dir: str | Path | None = None,
        skip_bad: bool = False,
        transform: Callable[[Item], Item] | None = None,
    ) -> FolderDataset:
        """The :class:`FolderDataset` of this split (cache in ``cache_dir/<label>``)."""
        cache = None if cache_dir is None else Path(cache_dir) / self.label
        return FolderDataset(self.root, size, cache, skip_bad, names=self.names, transform=transform)


def _dis5k_root(path: Path) -> Path | None:
    for cand in (path, path / "DIS5K"):
        if (cand / "DIS-TR").is_dir():
            return cand
    return None


def dis5k_splits(root: str | Path) -> dict[str, list[Split]]:
    """DIS5K's folders by role: ``{"train": [DIS-TR], "val": [DIS-VD], "test": [DIS-TE1..4]}``.

    ``root`` is the folder holding ``DIS-TR`` etc. (or its parent ``DIS5K``). Test folders that are absent
    are left out; ``DIS-TR`` and ``DIS-VD`` are required.

    Raises:
        ValueError: no DIS5K layout under ``root``, or a required folder without ``im/``/``gt/``.
    """
    path = Path(root)
    base = _dis5k_root(path)
    if base is None:
        raise ValueError(f"{path} is not a DIS5K root: no DIS-TR folder in it (or in {path / 'DIS5K'})")
    out: dict[str, list[Split]] = {}
    for role, folders in DIS5K_SPLITS.items():
        out[role] = []
        for name in folders:
            if role == "test" and not (base / name).exists():
                continue
            _check_folder(base / name)
            out[role].append(Split(base / name, name))
    return out


def _stems(root: Path) -> list[str]:
    """Every stem in ``im/`` or ``gt/``: an unpaired file is then reported by :class:`FolderDataset`, never dropped."""
    return sorted(set(_list(root / "im")) | set(_list(root / "gt")))


def find_datasets(
    paths: str | Path | Sequence[str | Path], val_fraction: float = VAL_FRACTION, seed: int = 0
) -> dict[str, list[Split]]:
    """Train / validation / test splits of one or several dataset paths, concatenated by role.

    - A DIS5K root: ``DIS-TR`` trains, ``DIS-VD`` validates, ``DIS-TE1..4`` test (see :func:`dis5k_splits`).
    - A plain folder with ``im/`` and ``gt/``: a fixed ``val_fraction`` of its pairs (at least one when it
      has two or more; chosen by ``np.random.default_rng(seed)`` over the sorted stems) validates, the rest
      trains; no test split.

    Args:
        paths: one path or a list of paths.
        val_fraction: share of a plain folder held out for validation, in [0, 1).
        seed: seed of the held-out choice.

    Returns:
        ``{"train": [...], "val": [...], "test": [...]}`` lists of :class:`Split`.

    Raises:
        ValueError: a path that does not exist or has neither ``im/`` + ``gt/`` nor a DIS5K layout, or a bad
            ``val_fraction``.

    Examples:
        >>> import tempfile, dis_synth
        >>> root = dis_synth.write_dataset(tempfile.mkdtemp(), 20, size=32)
        >>> s = find_datasets(root)
        >>> len(s["train"][0].names), len(s["val"][0].names), s["test"]
        (18, 2, [])
    """
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not items:
        raise ValueError("no dataset path given")
    out: dict[str, list[Split]] = {"train": [], "val": [], "test": []}
    for p in map(Path, items):
        if not p.exists():
            raise ValueError(f"dataset path {p} does not exist")
        if _dis5k_root(p) is not None:
            for role, splits in dis5k_splits(p).items():
                out[role] += splits
            continue
        _check_folder(p)
        stems = _stems(p)
        n_val = round(len(stems) * val_fraction)
        if val_fraction > 0 and len(stems) >= 2:
            n_val = min(max(n_val, 1), len(stems) - 1)
        order = np.random.default_rng(seed).permutation(len(stems))
        val = sorted(stems[k] for k in order[:n_val])
        train = sorted(stems[k] for k in order[n_val:])
        out["train"].append(Split(p, f"{p.name}-train", tuple(train)))
        if val:
            out["val"].append(Split(p, f"{p.name}-val", tuple(val)))
    return out


def make_datasets(
    splits: dict[str, list[Split]],
    size: int | None,
    cache_dir: str | Path | None = None,
    skip_bad: bool = False,
) -> dict[str, Dataset | dict[str, FolderDataset] | None]:
    """Datasets of :func:`find_datasets`' splits: train and val concatenated, tests by label.

    Returns:
        ``{"train": Dataset | None, "val": Dataset | None, "test": {label: FolderDataset}}``.
    """

    def cat(role: str) -> Dataset | None:
        ds = [s.dataset(size, cache_dir, skip_bad) for s in splits.get(role, [])]
        return None if not ds else ds[0] if len(ds) == 1 else ConcatDataset(ds)

    return {
        "train": cat("train"),
        "val": cat("val"),
        "test": {s.label: s.dataset(size, cache_dir, skip_bad) for s in splits.get("test", [])},
    }
