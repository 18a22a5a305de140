"""Reading prediction / ground-truth images and pairing the files of two folders.

Conventions (also in the README's conventions table):

* **Reading** uses OpenCV (imported lazily) on the file's bytes (``np.fromfile`` + ``cv2.imdecode``),
  so non-ASCII paths work and inputs are only ever opened for reading.
* **8-bit grayscale** files are returned as ``uint8`` 0..255 (the metrics divide predictions by 255
  and threshold ground truths at ``> 128``).
* **16-bit** files are returned as ``float64`` ``v / 65535`` in ``[0, 1]``; a 16-bit ground truth is
  then foreground where its 8-bit level ``trunc(v / 65535 * 255)`` is ``> 128`` (the float rule of
  :func:`segmetrics._inputs.prepare_gt`).
* **Colour** files (3 or 4 channels; alpha is ignored, and `segmetrics eval` warns when a map is kept only in
  alpha) are reduced to one channel by ``color``:
  ``"gray"`` (default) is OpenCV's ``BGR2GRAY`` (0.299 R + 0.587 G + 0.114 B, rounded), the
  conversion that PySODEvalToolkit's ``cv2.imread(..., IMREAD_GRAYSCALE)`` applies; ``"first"`` takes
  the first channel in RGB order (red), as the DIS script does after ``skimage.io.imread``. Both give
  the same map for grey images stored as RGB, which is what DIS5K ships.
* **Pairing** is by file stem: the prediction for ``gt_dir/NAME.ext`` is
  ``pred_dir/{prefix}NAME{suffix}.ext'`` with any supported extension (png, jpg, jpeg, bmp, tif,
  tiff). Ground truths without a prediction are reported as *missing*, predictions without a ground
  truth as *extra*; only the intersection is evaluated. Stems are compared in Unicode NFC, so a
  name decomposed by a macOS copy pairs with its composed form. Hidden files (names starting with ``.``,
  e.g. macOS's ``._NAME.png``) and folders are not images of the folder; a broken symbolic link is (its
  pair is then an error naming it, not a silently smaller dataset).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segmetrics.app._fingerprint import fingerprint_bytes

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "Pairing",
    "pair_files",
    "read_map",
    "resize_to",
]

#: File extensions (lower case, with dot) recognised as images when pairing folders.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

_COLOR_MODES = ("gray", "first")


class ImageReadError(OSError):
    """A file could not be read or decoded as an image (missing, unreadable, corrupt, empty)."""


def read_map(path: str | os.PathLike, *, color: str = "gray") -> np.ndarray:
    """Read one image file as a single-channel map (uint8 0..255 or float64 in ``[0, 1]``).

    Args:
        path: image file (png, jpg, bmp, tif, ...). Opened read-only.
        color: how 3/4-channel files become one channel: ``"gray"`` (OpenCV ``BGR2GRAY``, default)
            or ``"first"`` (the red channel, i.e. channel 0 in RGB order, as the DIS script reads).

    Returns:
        ``(H, W)`` array: ``uint8`` for 8-bit files, ``float64`` in ``[0, 1]`` for 16-bit and
        floating-point files (returned unchanged; the metrics reject values outside ``[0, 1]``).

    Raises:
        ImageReadError: if the file does not exist, cannot be read or decoded, or is empty.
        ValueError: if ``color`` is not one of ``"gray"``, ``"first"``.

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> tmp = tempfile.TemporaryDirectory(); path = pathlib.Path(tmp.name) / "a.png"
        >>> cv2.imwrite(str(path), np.full((4, 6, 3), 200, np.uint8))  # a colour file
        True
        >>> m = read_map(path)
        >>> m.dtype, m.shape, int(m[0, 0])
        (dtype('uint8'), (4, 6), 200)
        >>> tmp.cleanup()
    """
    return _read_map(path, color, "")[0]


def read_rgb(image_dir: str | os.PathLike, stem: str) -> np.ndarray:
    """The ``(H, W, 3)`` uint8 RGB image ``<image_dir>/<stem>.<ext>`` (any of :data:`IMAGE_EXTENSIONS`).

    Raises:
        ImageReadError: if no such file exists or it cannot be decoded as a colour image.
    """
    return _read_rgb(image_dir, stem)[0]


def find_rgb(image_dir: str | os.PathLike, stem: str) -> Path | None:
    """The file ``<image_dir>/<stem>.<ext>`` that :func:`read_rgb` reads, or ``None``.

    The extension may have any case and the stem any Unicode normal form, as in :func:`pair_files`.

    Raises:
        ImageReadError: several images have the stem (``a.jpg`` and ``a.png``): which one is meant is unknown.
    """
    cands = [Path(image_dir) / f"{stem}{e}" for ext in IMAGE_EXTENSIONS for e in (ext, ext.upper())]
    found = [c for c in cands if c.is_file()]
    if not found and Path(image_dir).is_dir():  # a mixed-case extension (a.Jpg), another Unicode form: as pairing
        want = unicodedata.normalize("NFC", stem)
        found = [e for e in sorted(Path(image_dir).iterdir()) if unicodedata.normalize("NFC", e.stem) == want
                 and e.suffix.lower() in IMAGE_EXTENSIONS and e.is_file()]
    if len({os.path.normcase(str(f)) for f in found}) > 1:  # (a case-insensitive file system finds a.png twice)
        raise ImageReadError(f"`image_dir` holds several RGB images with the stem {stem!r} "
                             f"({', '.join(f.name for f in found)}); keep one per name")
    return found[0] if found else None


def _read_rgb(image_dir: str | os.PathLike, stem: str, fingerprint: bool = False) -> tuple[np.ndarray, Any]:
    """:func:`read_rgb` and, when ``fingerprint``, the fingerprint of the bytes decoded (else ``None``)."""
    import cv2

    found = find_rgb(image_dir, stem)
    if found is None:
        raise ImageReadError(f"no RGB image named {stem} with an extension of {IMAGE_EXTENSIONS} in {image_dir}")
    try:
        st = os.stat(found)
        data = np.fromfile(found, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"cannot read the RGB image {found}: {exc.strerror or exc}") from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None or img.dtype != np.uint8:
        raise ImageReadError(f"cannot decode the RGB image {found}: not a valid 8-bit image")
    return np.ascontiguousarray(img[:, :, ::-1]), fingerprint_bytes(st, data.data) if fingerprint else None


def _read_map(path: str | os.PathLike, color: str, role: str, fingerprint: bool = False) -> tuple[np.ndarray, Any]:
    """:func:`read_map` with ``role`` (e.g. ``"the prediction "``) in its messages.

    Returns the map and, when ``fingerprint``, the fingerprint of the bytes decoded (see
    :mod:`segmetrics.app._fingerprint`), else ``None``.
    """
    if color not in _COLOR_MODES:
        raise ValueError(f"`color` must be one of {_COLOR_MODES}; got {color!r}")
    import cv2

    p = Path(path)
    what = f"{role}{p}"
    try:
        st = os.stat(p)
        data = np.fromfile(p, dtype=np.uint8)
    except OSError as exc:
        raise ImageReadError(f"cannot read {what}: {exc.strerror or exc}") from None
    if data.size == 0:
        raise ImageReadError(f"cannot decode {what}: the file is empty")
    fp = fingerprint_bytes(st, data.data) if fingerprint else None
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None or img.size == 0:
        raise ImageReadError(f"cannot decode {what}: not a valid image or a corrupt file")
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[:, :, 0]
        elif img.shape[2] in (3, 4):
            if color == "gray":
                code = cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
                img = cv2.cvtColor(img, code)
            else:
                img = img[:, :, 2]  # OpenCV stores BGR(A): RGB channel 0 is index 2
        else:
            raise ImageReadError(f"cannot use {what}: unsupported channel count {img.shape[2]}")
    img = np.ascontiguousarray(img)
    if img.dtype == np.uint8:
        return img, fp
    if img.dtype == np.uint16:
        return img.astype(np.float64) / 65535.0, fp
    if img.dtype == np.int8 or img.dtype == np.int16 or img.dtype == np.int32:
        raise ImageReadError(f"cannot use {what}: signed integer images ({img.dtype}) are not supported")
    if np.issubdtype(img.dtype, np.floating):
        return img.astype(np.float64), fp
    raise ImageReadError(f"cannot use {what}: unsupported pixel type {img.dtype}")


def resize_to(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a map to ``shape = (H, W)`` with bilinear interpolation (OpenCV ``INTER_LINEAR``).

    This is the ``pred-to-gt`` resize policy (PySODEvalToolkit resizes predictions the same way).
    uint8 stays uint8 (OpenCV rounds); float stays float and is clipped to ``[0, 1]``.

    Args:
        img: ``(h, w)`` uint8 or float map.
        shape: target ``(H, W)``.

    Returns:
        ``(H, W)`` map of the same kind (``img`` itself when the size already matches).

    Example:
        >>> import numpy as np
        >>> resize_to(np.zeros((4, 6), np.uint8), (8, 12)).shape
        (8, 12)
    """
    import cv2

    h, w = int(shape[0]), int(shape[1])
    if img.shape == (h, w):
        return img
    src = img if img.dtype == np.uint8 else img.astype(np.float32)
    out = cv2.resize(src, (w, h), interpolation=cv2.INTER_LINEAR)
    if out.dtype != np.uint8:
        out = np.clip(out.astype(np.float64), 0.0, 1.0)
    return out


@dataclass
class Pairing:
    """Result of :func:`pair_files`.

    Attributes:
        pairs: ``(name, pred_path, gt_path)`` for every matched stem, sorted by name.
        missing: ground-truth stems with no prediction (sorted).
        extra: prediction stems with no ground truth (sorted).
    """

    pairs: list[tuple[str, Path, Path]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def _index(folder: Path, exts: Iterable[str], what: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"`{what}` must be an existing folder; got {str(folder)!r}")
    exts = {e.lower() for e in exts}
    index: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.suffix.lower() not in exts or entry.name.startswith("."):
            continue  # hidden files too: macOS copies leave '._NAME.png' resource forks next to each image
        if not entry.is_file() and not (entry.is_symlink() and not entry.exists()):
            continue  # a folder; a broken symbolic link stays, to be reported as unreadable, not dropped
        # NFC: a name copied through macOS (decomposed, 'e' + U+0301) still pairs with the composed 'é'
        stem = unicodedata.normalize("NFC", entry.stem)
        if stem in index:
            raise ValueError(
                f"`{what}` holds several images with the stem {stem!r} "
                f"({index[stem].name}, {entry.name}); keep one per name"
            )
        index[stem] = entry
    return index


def pair_files(
    pred_dir: str | os.PathLike,
    gt_dir: str | os.PathLike,
    *,
    prefix: str = "",
    suffix: str = "",
    extensions: Iterable[str] = IMAGE_EXTENSIONS,
) -> Pairing:
    """Pair the images of a prediction folder with those of a ground-truth folder by file stem.

    The prediction for ``gt_dir/NAME.ext`` is ``pred_dir/{prefix}NAME{suffix}.*`` with any of
    ``extensions`` (the extension may differ, e.g. a ``.jpg`` GT and a ``.png`` prediction).

    Args:
        pred_dir: folder of predictions (not searched recursively: sub-folders are ignored).
        gt_dir: folder of ground truths (not searched recursively). It may be ``pred_dir`` itself when
            ``prefix`` / ``suffix`` tell the predictions apart: a file named ``prefix + NAME + suffix``
            next to ``NAME`` is then a prediction, not a GT.
        prefix: text the prediction stems have before the GT stem (default none).
        suffix: text the prediction stems have after the GT stem, e.g. ``"_sal"``.
        extensions: accepted extensions (case-insensitive), default :data:`IMAGE_EXTENSIONS`.

    Returns:
        A :class:`Pairing` with the matched pairs (named by the GT stem), the missing GT stems and
        the extra prediction stems.

    Raises:
        FileNotFoundError: if a folder does not exist.
        ValueError: if a folder holds two images with the same stem (e.g. ``a.png`` and ``a.jpg``), or
            ``pred_dir`` is ``gt_dir`` with no ``prefix`` / ``suffix`` (each GT would be its own prediction).

    Example:
        >>> import tempfile, pathlib
        >>> tmp = tempfile.TemporaryDirectory(); root = pathlib.Path(tmp.name)
        >>> for f in ("gt/a.png", "gt/b.png", "pred/a_sal.png", "pred/c_sal.jpg"):
        ...     (root / f).parent.mkdir(exist_ok=True); _ = (root / f).write_bytes(b"")
        >>> pairing = pair_files(root / "pred", root / "gt", suffix="_sal")
        >>> [n for n, _, _ in pairing.pairs], pairing.missing, pairing.extra
        (['a'], ['b'], ['c_sal'])
        >>> tmp.cleanup()
    """
    exts = tuple(extensions)
    preds = _index(Path(pred_dir), exts, "pred_dir")
    gts = _index(Path(gt_dir), exts, "gt_dir")
    if Path(pred_dir).resolve() == Path(gt_dir).resolve():
        if not prefix and not suffix:
            raise ValueError(
                f"`pred_dir` and `gt_dir` are the same folder {str(gt_dir)!r}: every GT would be compared with "
                "itself; pass the `prefix` / `suffix` that names the predictions in it (e.g. the suffix _pred "
                "for NAME_pred.png next to NAME.png)"
            )
        # One folder holds both: a file named prefix + stem + suffix of another file is a prediction, not a GT.
        gts = {k: v for k, v in gts.items() if not (k.startswith(prefix) and k.endswith(suffix)
                                                    and k[len(prefix) : len(k) - len(suffix)] in gts)}
        preds = {k: v for k, v in preds.items() if k not in gts}
    out = Pairing()
    used: set[str] = set()
    for name, gpath in sorted(gts.items()):
        key = f"{prefix}{name}{suffix}"
        ppath = preds.get(key)
        if ppath is None:
            out.missing.append(name)
        else:
            used.add(key)
            out.pairs.append((name, ppath, gpath))
    out.extra = sorted(k for k in preds if k not in used)
    return out


def suggest_affixes(gt_stems: Iterable[str], pred_stems: Iterable[str]) -> tuple[str, str] | None:
    """The ``(prefix, suffix)`` that would pair the most prediction stems with GT stems, if any.

    For a prediction stem ``a_pred`` and a GT stem ``a``, the candidate is ``("", "_pred")``; the
    candidate shared by the most predictions wins (``None`` when no prediction stem contains a GT stem).

    Example:
        >>> suggest_affixes(["a", "b"], ["a_pred", "b_pred"])
        ('', '_pred')
    """
    gts = set(gt_stems)
    votes: dict[tuple[str, str], int] = {}
    for stem in pred_stems:
        seen = set()
        for i in range(len(stem)):
            for j in range(i + 1, len(stem) + 1):
                if (i or j < len(stem)) and stem[i:j] in gts:
                    seen.add((stem[:i], stem[j:]))
        for key in seen:
            votes[key] = votes.get(key, 0) + 1
    if not votes:
        return None
    return max(sorted(votes), key=lambda k: votes[k])


def describe_affixes(prefix: str, suffix: str) -> str:
    """``"prefix='x' (--prefix x)"``-style text naming the arguments that select ``prefix`` / ``suffix``."""
    parts = []
    if prefix:
        parts.append(f"prefix={prefix!r} (--prefix {prefix})")
    if suffix:
        parts.append(f"suffix={suffix!r} (--suffix {suffix})")
    return " and ".join(parts)

