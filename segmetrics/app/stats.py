"""The ``segmetrics stats`` folder step: object complexity (DIS Table 1) of every mask in a folder."""

from __future__ import annotations

import os
from pathlib import Path

from segmetrics._inputs import check_choice, check_epsilon, check_int
from segmetrics.complexity import ObjectComplexity, object_complexity

__all__ = ["complexity_folder"]


def complexity_folder(
    gt_dir: str | os.PathLike,
    *,
    epsilon: float = 2.0,
    workers: int | None = None,
    color: str = "gray",
    progress: bool = False,
) -> tuple[dict[str, ObjectComplexity], dict[str, str]]:
    """Table-1 measures of every mask in a folder (png / jpg / bmp / tif), in a thread pool.

    Args:
        gt_dir: folder of ground-truth masks.
        epsilon: Douglas–Peucker tolerance (default 2.0).
        workers: threads (OpenCV releases the GIL); ``None`` = the cores this process may use, ``0`` = this thread.
        color: how colour files become one channel (see :mod:`segmetrics.app.image_io`).
        progress: show a tqdm progress bar.

    Returns:
        ``(per_image, errors)``: ``{stem: ObjectComplexity}`` sorted by stem, and ``{stem: message}``
        of the files that could not be read.

    Raises:
        FileNotFoundError: if ``gt_dir`` does not exist.
        ValueError: for two files with the same stem or an invalid ``epsilon`` / ``color``, or ``workers < 0``.
        TypeError: a non-integer ``workers``.

    Example:
        >>> import tempfile, pathlib, cv2, numpy as np
        >>> from segmetrics.complexity import summarize_complexity
        >>> tmp = tempfile.TemporaryDirectory(); gt_dir = pathlib.Path(tmp.name)
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:24, 8:24] = 255
        >>> cv2.imwrite(str(gt_dir / "a.png"), gt)
        True
        >>> per_image, errors = complexity_folder(gt_dir, workers=0)
        >>> per_image["a"].cnum, errors, summarize_complexity(per_image.values())["cnum"]
        (1, {}, {'mean': 1.0, 'std': 0.0})
        >>> tmp.cleanup()
    """
    from concurrent.futures import ThreadPoolExecutor

    from segmetrics.app.image_io import _COLOR_MODES, IMAGE_EXTENSIONS, _index, read_map

    check_epsilon(epsilon, "epsilon")
    check_choice(color, "color", _COLOR_MODES)  # once, not as an error of every file
    if workers is None:
        from segmetrics.app.folder import default_workers

        workers = default_workers()
    workers = check_int(workers, "workers")
    files = _index(Path(gt_dir), IMAGE_EXTENSIONS, "gt_dir")

    def one(item: tuple[str, Path]) -> tuple[str, ObjectComplexity | str]:
        name, path = item
        try:
            return name, object_complexity(read_map(path, color=color), epsilon=epsilon)
        except (OSError, ValueError, TypeError) as exc:
            return name, str(exc)

    items = sorted(files.items())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc="stats", unit="img")
    per_image: dict[str, ObjectComplexity] = {}
    errors: dict[str, str] = {}
    try:
        if workers <= 1:
            results = map(one, items)
            for name, r in results:
                (per_image if isinstance(r, ObjectComplexity) else errors)[name] = r
                if bar is not None:
                    bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=workers) as ex:
                for name, r in ex.map(one, items):
                    (per_image if isinstance(r, ObjectComplexity) else errors)[name] = r
                    if bar is not None:
                        bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return per_image, errors
