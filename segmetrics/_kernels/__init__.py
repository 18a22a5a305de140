"""Private numba kernels of ``segmetrics``.

Index safety
------------
numba does not check indices (unless ``NUMBA_BOUNDSCHECK=1``), so every index a kernel derives from
*data* is kept in range by construction; the public functions validate every input (maps, shapes of
auxiliary inputs such as HCE skeletons, options) before any kernel runs. The data-derived indices:

* ``sod``: the level table is indexed by uint8 values (0..255, table of 256). Histogram bins are
  ``int(255 * v)`` with ``v`` in ``[0, 1]``: float maps are validated in ``[0, 1]`` and min-max
  normalised with ``lo <= p <= hi``; every uint8 table entry is clipped to ``[0, 1]``
  (``segmetrics._normalize.uint8_level_values``: levels outside the map's range used to give bins up
  to 65025) and the folds visit present levels only. The E-measure search keeps ``k`` in ``-1..255``
  and skips ``k < 0``. The pairwise-sum stacks are sized for trees of depth ``<= log2(n)``.
* ``hce``: packed words are indexed by ``(row, col >> 6)`` of masks of the GT's shape (a skeleton of
  another shape is rejected by ``segmetrics._inputs.prepare_skeletons``); contour points come from
  ``cv2.findContours`` on a mask of the same shape; labels index arrays sized by the run count.
* ``skeleton``: candidates are foreground pixels of an image padded with a zero 1-pixel border by
  ``segmetrics.skeleton._skeleton_crop``, so their 8 neighbours are in range; the candidate lists
  are sized by an int64 foreground count (a uint8 sum wrapped at 256 without the JIT).
* ``edt`` / ``weighted_fmeasure``: nearest-feature rows and columns come from the envelope of the
  same row / column (``0 <= row < H``, ``0 <= col < W``; int16 storage only for ``H <= 32767``);
  the distance-weight table is indexed by ``min(d², last)`` with ``d² >= 0``.

* ``msiou``: the binary map is stored with a one-pixel zero border (3x3 neighbours in range); cell
  indices are ``(i + pad) >> L`` below the level's grid size by construction.
* ``size_invariance``: box bounds come from ``scipy.ndimage.find_objects`` on a label map of the
  image's shape; bins are ``int(255 * v)`` of normalised values in ``[0, 1]``.
* ``pixel_passes``: level histograms index ``256 * class + level`` (< 512) with uint8 levels; the
  boundary-IoU bin ``q - erode(q)`` is in ``0..255`` because the erosion's window holds the pixel.
* ``context``: patch corners come from the stride-3 patch grid of the same image, so they lie in
  ``[0, H - 7] x [0, W - 7]``; neighbour indices are rows of the background patches (from the
  k-d tree's row order, or scikit-learn); the correlation ``Q`` covers the GT's bounding box widened
  by the kernel radius, so every GT pixel and every extended position reflecting onto one is inside
  it; the border strips are read only at GT pixels in them, and strips holding GT pixels are always
  computed; reflected indices go through ``reflect101`` (in ``[0, n)``); the k-d tree's node arrays
  are sized for leaves of at least ``leaf // 2`` rows and its search stack (256) exceeds the depth
  of a median-split tree of any int64 size.

CI runs the segmetrics tests (including a hypothesis fuzz of every public metric in a subprocess)
with ``NUMBA_BOUNDSCHECK=1`` and a slice with ``SEGMETRICS_DISABLE_JIT=1``.
"""
