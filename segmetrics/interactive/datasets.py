"""Instance datasets for interactive evaluation, read from folders.

Two layouts, both an ``images/`` folder and a ``masks/`` folder paired by file stem
(``images/NAME.jpg`` ↔ ``masks/NAME.png``; the folder names are arguments):

``"binary"`` (GrabCut, Berkeley, DAVIS as distributed by the RITM authors, DIS5K)
    One object per mask. 8-bit masks: object where the value is ``> 128`` (the segmetrics GT
    rule), or ``== 1`` when the mask's largest value is 1 (0/1 PNGs); 16-bit masks: the 8-bit level
    ``trunc(v/65535·255) > 128``. ``ignore_value`` marks pixels left out of the IoU and never
    clicked (GrabCut's masks use 128 for their unknown band: ``ignore_value=128``; 8-bit masks only,
    and the 0/1 rule looks at the other pixels, so 0/1 masks with 255 as ignore value work; masks of
    exactly 0, 1 and 255 opened without ``ignore_value`` warn, as their object is then the 255 band). The
    instance is named ``NAME``.
``"instances"`` (SBD / Pascal VOC ``SegmentationObject`` / COCO-style id maps)
    Each mask holds instance ids (read without palette conversion, so VOC's palette PNGs give
    their indices): 0 is background, ``ignore_value`` (VOC: 255) is ignored, and every other id is
    one instance named ``NAME#ID``, with the pixels of the other instances counted as background.

Instances with fewer than ``min_area`` object pixels (and empty masks) are skipped and listed in
:attr:`InstanceFolder.skipped`. Masks are read once when the folder is opened (to know the
instances and their areas); images are read when an instance is accessed.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from segmetrics._inputs import above_uint8_threshold
from segmetrics.app.image_io import IMAGE_EXTENSIONS, ImageReadError, _index, read_map

__all__ = ["LAYOUTS", "InstanceFolder", "InteractiveInstance", "load_instances", "read_rgb"]

#: Folder layouts understood by :func:`load_instances`.
LAYOUTS: tuple[str, ...] = ("binary", "instances")


@dataclass(frozen=True)
class InteractiveInstance:
    """One object to segment.

    Attributes:
        name: unique name (``NAME`` or ``NAME#ID``).
        image: ``(H, W, 3)`` uint8 RGB image.
        gt: ``(H, W)`` boolean object mask.
        ignore: ``(H, W)`` boolean mask of ignored pixels, or ``None``.
    """

    name: str
    image: np.ndarray
    gt: np.ndarray
    ignore: np.ndarray | None = None


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB (grey images are repeated, alpha dropped, 16-bit scaled).

    Raises:
        ImageReadError: missing, unreadable or corrupt file, or one OpenCV does not read as 8-bit colour
            (e.g. a float TIFF).

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); path = pathlib.Path(tmp.name) / "a.png"
        >>> cv2.imwrite(str(path), np.full((4, 6), 90, np.uint8))  # a grey file
        True
        >>> img = read_rgb(path)
        >>> img.shape, img.dtype, img[0, 0].tolist()
        ((4, 6, 3), dtype('uint8'), [90, 90, 90])
        >>> tmp.cleanup()
    """
    import cv2

    p = Path(path)
    try:
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"cannot read {p.name}: {exc.strerror or exc}") from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None or img.size == 0:
        raw = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
        if raw is not None and raw.size:  # a valid file OpenCV does not convert to 8-bit colour (float TIFF)
            raise ImageReadError(f"cannot use {p.name} as an RGB image: it holds {raw.dtype} samples, which OpenCV "
                                 "does not convert to 8-bit colour; save it as 8-bit")
        raise ImageReadError(f"cannot decode {p.name}: not a valid image, an empty or a corrupt file")
    return np.ascontiguousarray(img[:, :, ::-1])


def _binary_mask(path: Path, ignore_value: int | None) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """``(object, ignore, void_like)`` of a binary mask file.

    ``void_like``: an 8-bit mask of exactly 0, 1 and 255 read without an ignore value (likely a 0/1 mask
    with VOC's 255 void band).
    """
    m = read_map(path)
    if ignore_value is not None and m.dtype != np.uint8:
        raise ValueError(
            f"`ignore_value` applies to 8-bit masks; {path.name} is not 8-bit (16-bit or float), so its ignored "
            "pixels cannot be told apart: save the masks as 8-bit PNGs, or pass ignore_value=None"
        )
    ignore = (m == ignore_value) if ignore_value is not None else None
    if ignore is not None and not ignore.any():
        ignore = None
    if m.dtype != np.uint8:
        obj = above_uint8_threshold(m)
    else:
        kept = m if ignore is None else m[~ignore]  # 0/1 masks with an ignore value (0/1/255) stay 0/1 masks
        obj = (m == 1) if kept.size and kept.max() == 1 else (m > 128)
    if ignore is not None:
        obj &= ~ignore
    void_like = False
    if ignore_value is None and m.dtype == np.uint8:
        n = np.bincount(m.ravel(), minlength=256)
        void_like = bool(n[0] and n[1] and n[255] and n[0] + n[1] + n[255] == m.size)
    return obj, ignore, void_like


def _id_map(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
                raise ImageReadError(
                    f"cannot use {path.name} as an instance-id map: it must be single-channel (palette, 8/16-bit "
                    f"grey); got mode {im.mode}"
                )
            return np.asarray(im).astype(np.int64)
    except OSError as exc:
        if isinstance(exc, ImageReadError):
            raise
        raise ImageReadError(f"cannot decode {path.name}: {exc}") from None


@dataclass(frozen=True)
class _Entry:
    name: str
    image: Path
    mask: Path
    instance_id: int | None


class InstanceFolder(Sequence[InteractiveInstance]):
    """A lazy, indexable list of :class:`InteractiveInstance` (see :func:`load_instances`).

    Slicing returns another :class:`InstanceFolder`, so ``folder[rank::world]`` is a shard.

    Attributes:
        skipped: ``{name: reason}`` of the objects left out (empty or below ``min_area``).
        missing: mask stems without an image.
    """

    def __init__(self, entries: Sequence[_Entry], *, ignore_value: int | None, skipped: dict[str, str],
                 missing: list[str]) -> None:
        self._entries = list(entries)
        self._ignore_value = ignore_value
        self.skipped = dict(skipped)
        self.missing = list(missing)

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, i: int) -> InteractiveInstance: ...

    @overload
    def __getitem__(self, i: slice) -> InstanceFolder: ...

    def __getitem__(self, i: int | slice) -> InteractiveInstance | InstanceFolder:
        if isinstance(i, slice):
            return InstanceFolder(self._entries[i], ignore_value=self._ignore_value, skipped=self.skipped,
                                  missing=self.missing)
        e = self._entries[i]
        image = read_rgb(e.image)
        if e.instance_id is None:
            gt, ignore, _ = _binary_mask(e.mask, self._ignore_value)
        else:
            ids = _id_map(e.mask)
            gt = ids == e.instance_id
            ignore = (ids == self._ignore_value) if self._ignore_value is not None else None
            if ignore is not None and not ignore.any():
                ignore = None
        if image.shape[:2] != gt.shape:
            raise ImageReadError(f"{e.image.name} is {image.shape[:2]} but its mask {e.mask.name} is {gt.shape}")
        return InteractiveInstance(e.name, image, gt, ignore)

    def __iter__(self) -> Iterator[InteractiveInstance]:
        for i in range(len(self)):
            yield self[i]

    @property
    def names(self) -> list[str]:
        """The instance names, in order."""
        return [e.name for e in self._entries]

    def __repr__(self) -> str:
        return f"InstanceFolder({len(self)} instances, {len(self.skipped)} skipped)"


def load_instances(
    root: str | os.PathLike,
    *,
    layout: str = "binary",
    images: str = "images",
    masks: str = "masks",
    min_area: int = 1,
    ignore_value: int | None = None,
) -> InstanceFolder:
    """Open an instance dataset folder (see the module docstring for the layouts).

    Args:
        root: dataset folder holding ``images`` and ``masks``.
        layout: ``"binary"`` (one object per mask, default) or ``"instances"`` (id maps).
        images: name of the image sub-folder (default ``"images"``; RITM's DAVIS uses ``"img"``).
        masks: name of the mask sub-folder (default ``"masks"``; RITM's DAVIS uses ``"gt"``).
        min_area: smallest object, in pixels, to keep (``>= 1``, default 1).
        ignore_value: mask value of ignored pixels (GrabCut: 128, VOC id maps: 255), or ``None``.

    Returns:
        An :class:`InstanceFolder`, in the masks' name order (instances of one map by id).

    Raises:
        TypeError: ``root`` is not a path.
        FileNotFoundError: a folder does not exist.
        ValueError: bad option, no instance found, or ``ignore_value`` with a 16-bit / float binary mask.
        ImageReadError: an unreadable mask.

    Warns:
        UserWarning: id maps whose largest id is 255 (VOC's void label), or binary masks of exactly
            0, 1 and 255, without ``ignore_value``.

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> for d in ("data_GT", "boundary_GT"): (root / d).mkdir()
        >>> mask = np.zeros((20, 30), np.uint8); mask[5:15, 5:20] = 255; mask[4, 4:21] = 128  # 128: ignored
        >>> ok = cv2.imwrite(str(root / "data_GT" / "cat.jpg"), np.zeros((20, 30, 3), np.uint8))
        >>> ok = cv2.imwrite(str(root / "boundary_GT" / "cat.png"), mask)
        >>> data = load_instances(root, images="data_GT", masks="boundary_GT", ignore_value=128)
        >>> len(data), data[0].gt.shape, int(data[0].gt.sum()), int(data[0].ignore.sum())
        (1, (20, 30), 150, 17)
        >>> tmp.cleanup()
    """
    if layout not in LAYOUTS:
        raise ValueError(f"`layout` must be one of {LAYOUTS}; got {layout!r}")
    if isinstance(min_area, bool) or not isinstance(min_area, (int, np.integer)) or min_area < 1:
        raise ValueError(f"`min_area` must be an integer >= 1; got {min_area!r}")
    if ignore_value is not None and (isinstance(ignore_value, bool) or not isinstance(ignore_value, (int, np.integer))
                                     or ignore_value < 0):
        raise ValueError(f"`ignore_value` must be None or an integer >= 0; got {ignore_value!r}")
    for arg, v in (("images", images), ("masks", masks)):
        if not isinstance(v, str) or not v:
            raise ValueError(f"`{arg}` must be a non-empty folder name; got {v!r}")
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"`root` must be a folder path; got {root!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"`root` must be an existing folder; got {str(root)!r}")
    imgs = _index(root / images, IMAGE_EXTENSIONS, "images")
    msks = _index(root / masks, IMAGE_EXTENSIONS, "masks")
    entries: list[_Entry] = []
    skipped: dict[str, str] = {}
    missing = sorted(k for k in msks if k not in imgs)
    void_like: list[str] = []
    void_01: list[str] = []
    for stem, mpath in sorted(msks.items()):
        if stem not in imgs:
            continue
        if layout == "binary":
            obj, _, void01 = _binary_mask(mpath, ignore_value)
            if void01:
                void_01.append(stem)
            area = int(np.count_nonzero(obj))
            if area < min_area:
                skipped[stem] = f"object area {area} < min_area {min_area}"
            else:
                entries.append(_Entry(stem, imgs[stem], mpath, None))
            continue
        ids = _id_map(mpath)
        values, counts = np.unique(ids, return_counts=True)
        if ignore_value is None and values[-1] == 255:
            void_like.append(stem)
        for v, c in zip(values.tolist(), counts.tolist()):
            if v == 0 or v == ignore_value:
                continue
            name = f"{stem}#{v}"
            if c < min_area:
                skipped[name] = f"object area {c} < min_area {min_area}"
            else:
                entries.append(_Entry(name, imgs[stem], mpath, int(v)))
    if void_like:
        warnings.warn(
            f"{len(void_like)} id maps (e.g. {void_like[0]!r}) have 255 as their largest id, Pascal VOC's void label: "
            "it is read as one more instance; pass ignore_value=255 if it marks pixels to ignore",
            UserWarning,
            stacklevel=2,
        )
    if void_01:
        warnings.warn(
            f"{len(void_01)} binary masks (e.g. {void_01[0]!r}) hold only 0, 1 and 255: read as 0/255 masks, the "
            "object is the 255 pixels; pass ignore_value=255 if 1 is the object and 255 marks pixels to ignore "
            "(Pascal VOC's void band)",
            UserWarning,
            stacklevel=2,
        )
    if not entries:
        paired = len(msks) - len(missing)
        raise ValueError(
            f"`root` must hold at least one instance in {images}/ + {masks}/ (layout {layout!r}); found none "
            f"({len(msks)} masks, {len(imgs)} images, {paired} paired by file stem, {len(skipped)} objects skipped"
            + (f", e.g. {next(iter(skipped.items()))[0]!r}: {next(iter(skipped.values()))}" if skipped else "")
            + (f"; masks without an image, e.g. {missing[0]!r}" if missing else "") + ")"
        )
    return InstanceFolder(entries, ignore_value=ignore_value, skipped=skipped, missing=missing)
