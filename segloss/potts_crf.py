"""Bilinear relaxation of the Potts / dense-CRF model as a loss (Tang et al. 2018; Fan et al. eq. 3).

Per image, with soft-max predictions ``S`` (one column ``S^k`` per class), a valid-pixel mask ``r``
(ROI) and a symmetric affinity matrix ``W``::

    L_crf = Σ_k (r − r⊙S^k)ᵀ W (r⊙S^k) = Σ_{p,q∈Ω} w_pq (1 − ⟨S_p, S_q⟩)

with Gaussian colour affinities ``w_pq = exp(−‖I_p − I_q‖² / 2σ_rgb²)``, optionally times a spatial
Gaussian ``exp(−‖x_p − x_q‖² / 2σ_xy²)``. This is the *positive* form (it keeps the constant
``rᵀWr``): 0 for a constant labelling, and for one-hot predictions the total affinity cut by the
segment boundaries. ``compat="rloss"`` gives rloss's ``DenseCRFLoss`` form instead,
``−Σ_k (r⊙S^k)ᵀ W (r⊙S^k)`` averaged over the batch (negative; same gradient up to the constant's),
so its published weights (e.g. ``2e-9`` with ``σ_rgb = 15``, ``σ_xy = 100``, ``scale_factor = 0.5``)
carry over.

Affinity backends (``backend=``):

* ``"grid4"`` / ``"grid8"`` — nearest-neighbour Potts on the pixel grid (no self-affinity).
* ``"local"`` — all offsets of a ``kernel_size × kernel_size`` window with ``dilation`` (self-affinity
  ``w_pp = 1`` included, i.e. the dense Gaussian truncated to the window).
* ``"dense"`` — the exact fully connected Gaussian (``w_pp = 1``), computed by row chunks;
  ``O(P²)`` per image: for small or downscaled maps.
* ``"auto"`` (default) — ``"bilateral_grid"`` in the paper form (falling back to ``"lattice"`` when the
  grid would exceed :data:`MAX_GRID_VALUES`, e.g. very small ``sigma_rgb``), ``"lattice"`` with
  ``compat="rloss"`` so that rloss's numbers and published weights carry over. The choice depends only
  on shapes and Python numbers.
* ``"lattice"`` — a fast fully connected approximation: a pure-torch permutohedral lattice
  (:mod:`segloss._permutohedral`; same algorithm as rloss's C++ lattice, equal to it to ~1e-6). The raw
  lattice returns about 0.5–0.6× the exact Gaussian sum on our test images (the research notes fit
  ≈0.64× for rloss on theirs, 0.56–0.67 across images). In the paper form we multiply by
  :func:`lattice_gain` (``1/0.55`` for 5-D features) so that values approximate the exact Gaussian
  (measured 0.88–1.09× on 64²–96² piecewise-smooth maps, 0.95–1.04× for ``sigma_xy ≥ 50`` there, but
  0.83–1.16× at ``sigma_xy = 100`` on unresized crops of astronaut / coffee / camera, 64×96 to 128²); with
  ``compat="rloss"`` the raw lattice scale is kept so that numbers match rloss. The approximation
  underestimates when features are sparse at the bandwidth scale (tiny maps with a small ``sigma_xy``,
  strong colour noise: down to ~0.6×), because the lattice loses mass around isolated points.
  Use ``"dense"`` (downscaled), ``"bilateral_grid"`` or ``"local"`` there.
* ``"bilateral_grid"`` — a second fully connected approximation (:mod:`segloss._bilateral_grid`): the
  ``K + 1`` maps are splatted onto a dense grid over ``(x/σ_xy, y/σ_xy, I/σ_rgb)`` (spatial axes linear,
  ≥ 4 nodes; colour axes nearest cells of ``σ_rgb / grid_cells_per_sigma[1]``), blurred by a separable
  sampled Gaussian whose variance accounts for the splat/slice interpolation, sliced back, and the
  diagonal set to the exact ``w_pp = 1``. On real photographs (scikit-image's astronaut, coffee, chelsea,
  rocket, the grey camera copied to three channels, and a constant image; 96² and 128², σ_rgb 15, σ_xy 10
  and 100, ``scale_factor`` 1 and 0.5) it measured **0.95–1.06×** the exact dense Gaussian sum, whatever
  the prediction (the ratio depends on the image only, within ~2 %). Those photographs were resized
  with anti-aliasing; unresized crops at the camera's resolution have more fine texture and read lower:
  **0.88–1.05×** on 64×96 to 200×300 crops of astronaut, coffee and camera, down to 0.84× on 1-pixel-high
  strips. The former default of 0.75 colour cells per σ read
  1.05–1.22× on the colour photographs, 1.5× on the grey one and 1.69× on the constant image: the
  rounding of colours to cells does not spread coinciding colours, so the variance correction for it is
  only partial (:data:`segloss._bilateral_grid.NEAREST_VARIANCE_SHARE`). No calibration constant and no
  host synchronisation (every size comes from the image shape, the sigmas and the documented
  ``image_range``; values outside it are clamped). Its cost grows with the colour grid,
  ``((hi − lo)/σ_rgb · cells)^C_img``: 1.5 colour cells per σ is about 7× the cells of the former 0.75
  (σ_rgb = 15 on [0, 255]: 27³ instead of 14³ per spatial node); ``grid_cells_per_sigma=(1, 0.75)`` is the
  fast, less accurate setting (about 1.0–1.7× the exact sum, see above).
  It is symmetric, so the one-pass gradient is exact for its value. ``compat="rloss"`` with it keeps
  rloss's sign and batch mean but the exact Gaussian scale (≈ 1.8× rloss's lattice numbers); rloss
  parity needs the lattice, which ``"auto"`` picks for ``compat="rloss"``.

**A regulariser, never a loss on its own.** Its minimum is any constant labelling (value 0: nothing is cut), so
it must be added to a supervised term — partial cross-entropy on scribbles / seeds
(:func:`segloss.partial_cross_entropy`) or a full cross-entropy — as ``L = L_sup + λ·L_crf``. Guidance for ``λ``:
with ``compat="rloss"`` (lattice, σ_rgb = 15, σ_xy = 100, ``scale_factor=0.5``) rloss's published ``λ = 2e-9``
carries over; in the paper form the value grows with the image size and the bandwidths (it is a sum over pixel
pairs), so either pass ``normalize=True`` (per valid pixel) or choose ``λ`` so that ``λ·L_crf`` is about 0.1–0.5×
the supervised loss at the start of training, and check that the predictions do not drift to one label.

Gradients come from one filtering pass of ``[r⊙S, r]`` through ``W`` (``∂L/∂(r⊙S^k) = W r − 2 W (r⊙S^k)``,
exact for the symmetric backends; for the lattice it is the same symmetric approximation rloss uses).
The image is used without gradient. Pure torch, device-agnostic (the lattice needs one host
synchronisation to size its hash structures; the bilateral grid needs none).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from segloss._bilateral_grid import bilateral_grid_filter, grid_shape
from segloss._modes import check_mode_channels
from segloss._module import LossModule
from segloss._permutohedral import PermutohedralLattice
from segloss._validation import (
    REDUCTIONS,
    check_bool,
    check_choice,
    check_int,
    check_logits,
    check_number,
    check_same_device,
    check_target_shape,
    check_tensor,
    check_values,
    finite,
    in_range,
    reduce,
)

__all__ = ["LATTICE_AMPLITUDE", "PottsCRFLoss", "lattice_gain", "potts_crf_loss"]

BACKENDS = ("auto", "lattice", "bilateral_grid", "dense", "local", "grid4", "grid8")
LATTICE_AMPLITUDE = {1: 0.908, 2: 0.822, 3: 0.728, 4: 0.633, 5: 0.550, 6: 0.474, 7: 0.412, 8: 0.357}
"""Mean ratio raw-lattice / exact Gaussian for pairs closer than one bandwidth, per feature dimension.

Measured on densely populated random features (our lattice equals rloss's C++ one to ~1e-6). With
``sigma_xy`` set, RGB images give 5-D features (0.55); ``sigma_xy=None`` gives 3-D (0.73)."""


def lattice_gain(dim: int) -> float:
    """Gain that maps the raw lattice to the exact Gaussian for ``dim``-D features (``1 / LATTICE_AMPLITUDE``).

    Beyond 8 dimensions the amplitude is extrapolated geometrically (×0.87 per dimension).

    Example:
        >>> round(lattice_gain(5), 3)
        1.818
    """
    if dim in LATTICE_AMPLITUDE:
        return 1.0 / LATTICE_AMPLITUDE[dim]
    return 1.0 / (LATTICE_AMPLITUDE[8] * 0.87 ** (dim - 8))


_Filter = Callable[[torch.Tensor], torch.Tensor]


def _half_offsets(backend: str, kernel_size: int, dilation: int) -> list[tuple[int, int]]:
    if backend == "grid4":
        return [(0, 1), (1, 0)]
    if backend == "grid8":
        return [(0, 1), (1, 0), (1, 1), (1, -1)]
    r = kernel_size // 2
    return [(i * dilation, j * dilation) for i in range(0, r + 1) for j in range(-r, r + 1) if i > 0 or j > 0]


def _neighbour_filter(
    feat: torch.Tensor, offsets: list[tuple[int, int]], sigma_xy: float | None, include_self: bool
) -> _Filter:
    """``X ↦ W X`` for a sparse symmetric ``W`` over pixel offsets; ``feat`` = image / σ_rgb ``(N, F, H, W)``."""
    h, w = feat.shape[-2:]
    plan = []
    for dy, dx in offsets:
        if abs(dy) >= h or abs(dx) >= w:
            continue
        ya, yb = slice(0, h - dy), slice(dy, h)  # dy ≥ 0 always
        xa, xb = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        wt = torch.exp(-0.5 * (feat[..., ya, xa] - feat[..., yb, xb]).square().sum(1, keepdim=True))
        if sigma_xy is not None:
            wt = wt * math.exp(-(dy * dy + dx * dx) / (2.0 * sigma_xy * sigma_xy))
        plan.append((ya, xa, yb, xb, wt))

    def apply(x: torch.Tensor) -> torch.Tensor:
        y = x.clone() if include_self else torch.zeros_like(x)
        for ya, xa, yb, xb, wt in plan:
            y[..., ya, xa] += wt * x[..., yb, xb]
            y[..., yb, xb] += wt * x[..., ya, xa]
        return y

    return apply


def _features(img: torch.Tensor, sigma_rgb: float, sigma_xy: float | None) -> torch.Tensor:
    """Per-pixel feature vectors ``(N, P, D)``: ``[x/σ_xy, y/σ_xy,] I/σ_rgb`` (x = column, as rloss)."""
    n, _, h, w = img.shape
    parts = []
    if sigma_xy is not None:
        yy, xx = torch.meshgrid(
            torch.arange(h, device=img.device, dtype=img.dtype),
            torch.arange(w, device=img.device, dtype=img.dtype),
            indexing="ij",
        )
        parts += [xx.expand(n, 1, h, w) / sigma_xy, yy.expand(n, 1, h, w) / sigma_xy]
    parts.append(img / sigma_rgb)
    return torch.cat(parts, 1).reshape(n, -1, h * w).transpose(1, 2).contiguous()


def _dense_filter(feat: torch.Tensor, chunk_size: int) -> _Filter:
    """Exact ``X ↦ W X`` with ``W = exp(−½‖f_p − f_q‖²)`` (diagonal 1), by chunks of rows."""
    n, p, _ = feat.shape
    sq = feat.square().sum(-1)  # (N, P)
    rows = max(1, min(p, chunk_size))

    def apply(x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        xf = x.reshape(n, shape[1], p)
        out = torch.empty_like(xf)
        for s in range(0, p, rows):
            fr = feat[:, s : s + rows]
            d2 = sq[:, s : s + rows, None] + sq[:, None, :] - 2.0 * torch.bmm(fr, feat.transpose(1, 2))
            wt = torch.exp(-0.5 * d2.clamp_min(0.0))  # (N, R, P)
            out[:, :, s : s + rows] = torch.bmm(xf, wt.transpose(1, 2))
        return out.reshape(shape)

    return apply


def _lattice_filter(feat: torch.Tensor, gain: float) -> _Filter:
    lattice = PermutohedralLattice(feat)

    def apply(x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        y = lattice.filter(x.reshape(n, c, h * w).transpose(1, 2)).transpose(1, 2).reshape(n, c, h, w)
        return y * gain if gain != 1.0 else y

    return apply


MAX_GRID_VALUES = 2**28
"""Largest bilateral grid (values over batch × channels × cells) before ``backend="bilateral_grid"`` refuses."""


def _grid_spec(
    size: tuple[int, int, int, int],
    channels: int,
    sigma_rgb: float,
    sigma_xy: float | None,
    image_range: tuple[float, float],
    cells_per_sigma: tuple[float, float],
) -> tuple[list[float], list[float], list[float], list[bool], int]:
    """Static bilateral-grid layout for an ``(N, C_img, H, W)`` image: lows, spans, cells per σ, linear axes, values."""
    n, c_img, h, w = size
    lo, hi = image_range
    cxy, crgb = cells_per_sigma
    lows, spans, cps = [], [], []
    if sigma_xy is not None:
        for side in (w, h):
            span = (side - 1) / sigma_xy
            lows.append(0.0)
            spans.append(span)
            cps.append(max(cxy, 3.0 / span) if span > 0 else cxy)  # the tent's variance correction needs cells
    lows += [lo / sigma_rgb] * c_img
    spans += [(hi - lo) / sigma_rgb] * c_img
    cps += [crgb] * c_img
    linear = [True] * (len(cps) - c_img) + [False] * c_img
    return lows, spans, cps, linear, n * channels * math.prod(grid_shape(spans, cps))


def _grid_filter(
    img: torch.Tensor,
    sigma_rgb: float,
    sigma_xy: float | None,
    image_range: tuple[float, float],
    cells_per_sigma: tuple[float, float],
    channels: int,
) -> _Filter:
    """Bilateral-grid ``X ↦ W X``; spatial axes tent-interpolated (≥ 4 nodes), colour axes nearest cells."""
    lows, spans, cps, linear, size = _grid_spec(
        tuple(img.shape), channels, sigma_rgb, sigma_xy, image_range, cells_per_sigma
    )
    if size > MAX_GRID_VALUES:
        raise ValueError(
            f"backend='bilateral_grid' would need a grid of {size} values (> {MAX_GRID_VALUES}) for a "
            f"{img.shape[1]}-channel image with sigma_rgb={sigma_rgb!r}, image_range={image_range!r}, "
            f"grid_cells_per_sigma={cells_per_sigma!r}; raise sigma_rgb, lower grid_cells_per_sigma, use "
            "scale_factor < 1 or backend='lattice'"
        )
    return bilateral_grid_filter(_features(img, sigma_rgb, sigma_xy), lows, spans, cps, linear)


def _quadratic_form(
    u: torch.Tensor, r: torch.Tensor, filt: _Filter, positive: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image value ``(N,)`` and its gradient in ``u``: ``W r − 2 W u`` (positive) or ``−2 W u`` (W symmetric)."""
    k = u.shape[1]
    y = filt(torch.cat([u, r], 1) if positive else u)
    a = y[:, :k]
    if positive:
        return ((r - u) * a).sum((1, 2, 3)), y[:, k:] - 2.0 * a
    return -(u * a).sum((1, 2, 3)), -2.0 * a


class _QuadraticForm(torch.autograd.Function):
    """Per-image ``Σ_k (r − u_k)ᵀ W u_k`` (positive) or ``−Σ_k u_kᵀ W u_k`` of ``u = r ⊙ s``, gradient from one pass.

    Takes the probabilities ``s`` (which the softmax saves anyway) rather than ``u``, so that keeping them for a
    double backward costs no memory; ``masked=False`` means ``r`` is all ones (``u = s``).
    """

    @staticmethod
    def forward(ctx, s: torch.Tensor, r: torch.Tensor, filt: _Filter, positive: bool, masked: bool) -> torch.Tensor:  # type: ignore[override]
        with torch.no_grad(), torch.autocast(device_type=s.device.type, enabled=False):
            val, g = _quadratic_form(s * r if masked else s, r, filt, positive)
        ctx.save_for_backward(g * r if masked else g, s, r)
        ctx.filt, ctx.positive, ctx.masked = filt, positive, masked
        return val

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        g, s, r = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True (double backward): differentiate the filtering with a graph
            with torch.enable_grad(), torch.autocast(device_type=s.device.type, enabled=False):
                val, _ = _quadratic_form(s * r if ctx.masked else s, r, ctx.filt, ctx.positive)
            (gs,) = torch.autograd.grad(val, s, grad, create_graph=True)
            return gs, None, None, None, None
        return grad.view(-1, 1, 1, 1) * g, None, None, None, None


def _check_grid_args(
    image_range: tuple[float, float], cells: tuple[float, float]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Check ``image_range`` and ``grid_cells_per_sigma``; both come back as tuples of Python floats."""
    if not isinstance(image_range, (tuple, list)) or len(image_range) != 2:
        raise ValueError(f"`image_range` must be a pair (low, high); got {image_range!r}")
    low = float(check_number(image_range[0], "image_range[0]"))
    high = float(check_number(image_range[1], "image_range[1]", low=low, low_inclusive=False))
    if not isinstance(cells, (tuple, list)) or len(cells) != 2:
        raise ValueError(f"`grid_cells_per_sigma` must be a pair (spatial, colour); got {cells!r}")
    # below 0.6 cells per σ the splat/slice blur alone exceeds the Gaussian's variance
    spatial = float(check_number(cells[0], "grid_cells_per_sigma[0]", low=0.6, high=4.0))
    colour = float(check_number(cells[1], "grid_cells_per_sigma[1]", low=0.6, high=4.0))
    return (low, high), (spatial, colour)


def _check_options(
    *, backend: str, mode: str, compat: str, reduction: str, sigma_rgb: float, sigma_xy: float | None,
    scale_factor: float, kernel_size: int, dilation: int, chunk_size: int, image_range: tuple[float, float],
    grid_cells_per_sigma: tuple[float, float], from_logits: bool, normalize: bool,
) -> dict[str, Any]:
    """Validate the options of :func:`potts_crf_loss` and :class:`PottsCRFLoss` (one place).

    Returns:
        Every option by name (the order of :class:`PottsCRFLoss`), numbers as Python ``float`` / ``int``.
    """
    check_choice(backend, "backend", BACKENDS)
    check_choice(mode, "mode", ("multiclass", "binary"))
    check_choice(compat, "compat", ("paper", "rloss"))
    check_choice(reduction, "reduction", REDUCTIONS)
    check_bool(from_logits, "from_logits")
    check_bool(normalize, "normalize")
    sigma_rgb = float(check_number(sigma_rgb, "sigma_rgb", low=0.0, low_inclusive=False))
    if sigma_xy is not None:
        sigma_xy = float(check_number(sigma_xy, "sigma_xy", low=0.0, low_inclusive=False))
    scale_factor = float(check_number(scale_factor, "scale_factor", low=0.0, high=1.0, low_inclusive=False))
    kernel_size = check_int(kernel_size, "kernel_size", low=3, what="an odd int >= 3")
    if kernel_size % 2 == 0:
        raise ValueError(f"`kernel_size` must be an odd int >= 3; got {kernel_size!r}")
    dilation = check_int(dilation, "dilation", low=1, what="an int >= 1")
    chunk_size = check_int(chunk_size, "chunk_size", low=1, what="a positive int")
    image_range, grid_cells_per_sigma = _check_grid_args(image_range, grid_cells_per_sigma)
    return dict(sigma_rgb=sigma_rgb, sigma_xy=sigma_xy, backend=backend, kernel_size=kernel_size, dilation=dilation,
                scale_factor=scale_factor, mode=mode, from_logits=from_logits, normalize=normalize, compat=compat,
                reduction=reduction, chunk_size=chunk_size, image_range=image_range,
                grid_cells_per_sigma=grid_cells_per_sigma)


def _check_image_values(
    pred: torch.Tensor, image: torch.Tensor, roi: torch.Tensor | None, image_range: tuple[float, float],
    from_logits: bool,
) -> tuple[float, float] | None:
    """Value contract of the inputs (one host sync when checks are on); warn on an image in [0, 1] units.

    Returns the image's ``(min, max)`` when the checks ran (else ``None``).
    """
    pred_rule = finite("pred", pred) if from_logits else in_range("pred", pred, what="probabilities")
    seen = check_values(pred_rule, finite("image", image),
                        in_range("roi", roi, what="a 0/1 mask of valid pixels"))
    if not seen or "image" not in seen:
        return None
    lo, hi = seen["image"]
    if 0.0 <= lo < hi <= 1.0 < image_range[1] - image_range[0]:
        warnings.warn(
            f"`image` values lie in [{lo:g}, {hi:g}] but image_range={tuple(image_range)!r}: an image in [0, 1] "
            "with sigma_rgb in [0, 255] units makes every colour affinity ~1 (a purely spatial CRF) and changes "
            "the loss by orders of magnitude; multiply the image by 255, or pass image_range=(0, 1) with "
            "sigma_rgb in those units",
            UserWarning,
            stacklevel=3,
        )
    return lo, hi


def _warn_clamped_image(seen: tuple[float, float] | None, image_range: tuple[float, float]) -> None:
    """Warn when the bilateral grid will clamp image values outside ``image_range`` (wrong units, e.g. normalised)."""
    if seen is None:
        return
    lo, hi = seen
    if lo < image_range[0] or hi > image_range[1]:
        warnings.warn(
            f"`image` values lie in [{lo:g}, {hi:g}], outside image_range={tuple(image_range)!r}: the bilateral grid "
            "clamps them, so colours beyond the range become one colour (a normalised image makes the CRF almost "
            "purely spatial); pass the image in the units of sigma_rgb (e.g. [0, 255]) or its true image_range",
            UserWarning,
            stacklevel=3,
        )


# largest feature magnitude (in bandwidths) a backend handles: the lattice's float32 simplex search loses the
# integer grid beyond ~2^20; the dense backend's ‖f‖² overflows float32 beyond ~1e18
_MAX_FEATURE = {"lattice": 2.0**20, "dense": 1e18}


def _check_feature_range(
    backend: str, image_stats: tuple[float, float] | None, sigma_rgb: float, sigma_xy: float | None, h: int, w: int,
) -> None:
    """Refuse bandwidths that put the features beyond what ``backend`` computes correctly (see ``_MAX_FEATURE``).

    The spatial part is static; the colour part uses the image range read by the value checks (skipped without).
    """
    limit = _MAX_FEATURE.get(backend)
    if limit is None:
        return
    if sigma_xy is not None and (max(h, w) - 1) / sigma_xy > limit:
        raise ValueError(f"`sigma_xy` = {sigma_xy:g} is too small for the {h}x{w} image with backend={backend!r}: "
                         f"pixel positions reach {(max(h, w) - 1) / sigma_xy:.3g} bandwidths (> {limit:.3g}); "
                         "raise sigma_xy or pass sigma_xy=None")
    if image_stats is not None:
        top = max(abs(image_stats[0]), abs(image_stats[1])) / sigma_rgb
        if top > limit:
            raise ValueError(f"`sigma_rgb` = {sigma_rgb:g} is too small for the values of `image` (up to "
                             f"{max(abs(image_stats[0]), abs(image_stats[1])):.3g}) with backend={backend!r}: colours "
                             f"reach {top:.3g} bandwidths (> {limit:.3g}); raise sigma_rgb or rescale the image")


def potts_crf_loss(
    pred: torch.Tensor,
    image: torch.Tensor,
    *,
    sigma_rgb: float = 15.0,
    sigma_xy: float | None = 100.0,
    backend: str = "auto",
    kernel_size: int = 5,
    dilation: int = 1,
    scale_factor: float = 1.0,
    roi: torch.Tensor | None = None,
    mode: str = "multiclass",
    from_logits: bool = True,
    normalize: bool = False,
    compat: str = "paper",
    reduction: str = "mean",
    chunk_size: int = 1024,
    image_range: tuple[float, float] = (0.0, 255.0),
    grid_cells_per_sigma: tuple[float, float] = (1.0, 1.5),
) -> torch.Tensor:
    r"""Potts / dense-CRF loss, eq. 3: :math:`\sum_k (\mathbf 1 - S^k)^\top W S^k` per image.

    A regulariser to add to a supervised loss (``L_sup + λ·L_crf``), never a loss on its own (its minimum is
    any constant labelling); see the module documentation for the choice of ``λ``.

    .. math::
        w_{pq} = \exp\Big(-\frac{\|I_p-I_q\|^2}{2\sigma_{rgb}^2}\Big)
                 \exp\Big(-\frac{\|x_p-x_q\|^2}{2\sigma_{xy}^2}\Big)

    (the spatial factor only when ``sigma_xy`` is not ``None``). See the module docs for the
    backends and the ``compat="rloss"`` form.

    Args:
        pred: logits ``(N, K, H, W)`` (``(N, 1, H, W)`` with ``mode="binary"``); probabilities when
            ``from_logits=False``.
        image: ``(N, C_img, H, W)`` image in the units of ``sigma_rgb`` (rloss: RGB in [0, 255]);
            any number (≥ 1) of channels; used without gradient.
        sigma_rgb: colour bandwidth, > 0. Default 15 (rloss).
        sigma_xy: spatial bandwidth in pixels of the input resolution, > 0, or ``None`` for no
            spatial factor. Default 100 (rloss). Scaled by ``scale_factor`` like rloss.
        backend: ``"auto"`` (default: ``"bilateral_grid"`` for the paper form when its grid fits in
            :data:`MAX_GRID_VALUES`, else ``"lattice"``; always ``"lattice"`` with ``compat="rloss"``),
            ``"lattice"``, ``"bilateral_grid"``, ``"dense"``, ``"local"``, ``"grid4"`` or ``"grid8"``.
        kernel_size: odd window size for ``"local"`` (≥ 3).
        dilation: window dilation for ``"local"`` (≥ 1).
        scale_factor: downscale factor in ``(0, 1]`` applied first, as rloss: image and ROI nearest,
            predictions bilinear (``align_corners=False``).
        roi: optional ``(N, H, W)`` mask of valid pixels (rloss's ROI; padding = 0).
        mode: ``"multiclass"`` or ``"binary"``.
        from_logits: logits (default) or probabilities.
        normalize: divide each image's value by its number of valid pixels (paper form only).
        compat: ``"paper"`` (positive form) or ``"rloss"`` (``−Σ_k S^kᵀ W S^k``, mean over images,
            raw lattice scale).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``(N,)``).
        chunk_size: rows per chunk for ``"dense"``.
        image_range: ``(low, high)`` value range of ``image`` for ``"bilateral_grid"`` (default
            ``(0, 255)``); it fixes the colour grid without looking at the data; values outside are clamped.
        grid_cells_per_sigma: ``(spatial, colour)`` grid nodes per bandwidth for ``"bilateral_grid"``, each
            in ``[0.6, 4]``; default ``(1.0, 1.5)`` (0.88–1.06× the exact sum on real photographs). Larger
            is more accurate and costs more memory/time; ``(1.0, 0.75)`` is about 7× smaller and up to 1.7×
            off on flat or grey images.

    Returns:
        The loss (float32 maths; float64 kept for the exact backends).

    Raises:
        TypeError: non-tensor inputs, non-floating ``pred``, non-bool ``from_logits`` / ``normalize``.
        ValueError: bad shapes, choices or parameters; a ``scale_factor`` that leaves no pixel; a
            ``"bilateral_grid"`` larger than :data:`MAX_GRID_VALUES` values; (value checks on) NaN/Inf in
            ``pred`` or ``image``, probabilities (``from_logits=False``) or a ``roi`` outside ``[0, 1]``;
            a ``sigma_rgb`` / ``sigma_xy`` so small that the features exceed what ``"lattice"`` (2^20
            bandwidths) or ``"dense"`` (1e18) compute correctly.

    Warns:
        UserWarning: (value checks on) an image whose values all lie in ``[0, 1]`` while ``image_range``
            spans more than 1 (e.g. the default ``(0, 255)``): ``sigma_rgb`` is then in the wrong units and
            every colour affinity is ≈ 1; with the bilateral grid, an image with values outside ``image_range``
            (they are clamped, e.g. a normalised image).

    Example:
        >>> logits = torch.randn(1, 3, 16, 16, requires_grad=True)
        >>> img = torch.rand(1, 3, 16, 16) * 255
        >>> potts_crf_loss(logits, img, backend="grid4").backward()
    """
    opts = _check_options(backend=backend, mode=mode, compat=compat, reduction=reduction, sigma_rgb=sigma_rgb,
                          sigma_xy=sigma_xy, scale_factor=scale_factor, kernel_size=kernel_size, dilation=dilation,
                          chunk_size=chunk_size, image_range=image_range, grid_cells_per_sigma=grid_cells_per_sigma,
                          from_logits=from_logits, normalize=normalize)
    sigma_rgb, sigma_xy, scale_factor = opts["sigma_rgb"], opts["sigma_xy"], opts["scale_factor"]
    kernel_size, dilation, chunk_size = opts["kernel_size"], opts["dilation"], opts["chunk_size"]
    image_range, grid_cells_per_sigma = opts["image_range"], opts["grid_cells_per_sigma"]
    check_logits(pred, "pred", ndim=4)
    check_mode_channels(pred, mode)
    n, _, h, w = pred.shape
    check_tensor(image, "image")
    if image.ndim != 4 or image.shape[0] != n or tuple(image.shape[-2:]) != (h, w):
        raise ValueError(f"`image` must be (N, C_img, H, W) = ({n}, C_img, {h}, {w}); got {tuple(image.shape)}")
    if image.shape[1] == 0:
        raise ValueError(f"`image` must have at least one channel; got shape {tuple(image.shape)}")
    check_same_device(pred, image, "pred", "image")
    if roi is not None:
        check_target_shape(roi, (n, h, w), "roi", ref_shape=tuple(pred.shape))
        check_same_device(pred, roi, "pred", "roi")
    if scale_factor != 1.0 and (math.floor(h * scale_factor) < 1 or math.floor(w * scale_factor) < 1):
        raise ValueError(
            f"`scale_factor` must leave at least one pixel per axis: {scale_factor!r} shrinks the {h}x{w} input to "
            f"{math.floor(h * scale_factor)}x{math.floor(w * scale_factor)}; got {scale_factor!r}"
        )
    image_stats = _check_image_values(pred, image, roi, image_range, from_logits)

    x = pred.float() if pred.dtype in (torch.float16, torch.bfloat16) else pred
    if mode == "binary":
        s = torch.cat([torch.sigmoid(-x), torch.sigmoid(x)], 1) if from_logits else torch.cat([1 - x, x], 1)
    else:
        s = torch.softmax(x, 1) if from_logits else x
    if backend == "auto":  # static choice from shapes and Python numbers only
        size = (n, image.shape[1], math.floor(h * scale_factor), math.floor(w * scale_factor))
        sxy_scaled = None if sigma_xy is None else sigma_xy * scale_factor
        grid_values = _grid_spec(size, s.shape[1] + 1, sigma_rgb, sxy_scaled, image_range, grid_cells_per_sigma)[-1]
        backend = "bilateral_grid" if compat == "paper" and grid_values <= MAX_GRID_VALUES else "lattice"
    if backend == "bilateral_grid":
        _warn_clamped_image(image_stats, image_range)
    _check_feature_range(backend, image_stats, sigma_rgb, sigma_xy, h, w)
    dt = s.dtype if backend != "lattice" else torch.float32
    img = image.detach().to(dt)
    if roi is not None:
        r = roi.detach().to(dt).unsqueeze(1)
    else:
        r = None
    sxy = sigma_xy
    if scale_factor != 1.0:
        img = F.interpolate(img, scale_factor=scale_factor)
        s = F.interpolate(s, scale_factor=scale_factor, mode="bilinear", align_corners=False)
        if r is not None:
            r = F.interpolate(r, scale_factor=scale_factor)
        if sxy is not None:
            sxy = sxy * scale_factor
    masked = r is not None
    r = (r > 0).to(dt) if masked else torch.ones_like(s[:, :1], dtype=dt)
    s = s.to(dt)

    if backend in ("grid4", "grid8", "local"):
        offs = _half_offsets(backend, kernel_size, dilation)
        filt = _neighbour_filter(img / sigma_rgb, offs, sxy, include_self=backend == "local")
    elif backend == "dense":
        filt = _dense_filter(_features(img, sigma_rgb, sxy), chunk_size)
    elif backend == "bilateral_grid":
        filt = _grid_filter(img, sigma_rgb, sxy, image_range, grid_cells_per_sigma, s.shape[1] + 1)
    else:
        feats = _features(img, sigma_rgb, sxy)
        filt = _lattice_filter(feats, 1.0 if compat == "rloss" else lattice_gain(feats.shape[-1]))
    per = _QuadraticForm.apply(s, r, filt, compat == "paper", masked)
    if compat == "paper" and normalize:
        per = per / r.sum((1, 2, 3)).clamp_min(1.0)
    return reduce(per, reduction)


class PottsCRFLoss(LossModule):
    """Potts / dense-CRF loss (eq. 3) as a module; see :func:`potts_crf_loss` for the arguments.

    A regulariser: add it to a supervised loss (``L_sup + λ·L_crf``), never train with it alone — a constant
    labelling has value 0. See the module documentation for guidance on ``λ``.

    Example:
        >>> crf = PottsCRFLoss(backend="dense", sigma_rgb=15.0, sigma_xy=10.0)
        >>> crf(torch.randn(1, 2, 8, 8), torch.rand(1, 3, 8, 8) * 255)
        tensor(...)
    """

    def __init__(
        self,
        *,
        sigma_rgb: float = 15.0,
        sigma_xy: float | None = 100.0,
        backend: str = "auto",
        kernel_size: int = 5,
        dilation: int = 1,
        scale_factor: float = 1.0,
        mode: str = "multiclass",
        from_logits: bool = True,
        normalize: bool = False,
        compat: str = "paper",
        reduction: str = "mean",
        chunk_size: int = 1024,
        image_range: tuple[float, float] = (0.0, 255.0),
        grid_cells_per_sigma: tuple[float, float] = (1.0, 1.5),
    ) -> None:
        super().__init__()
        self.kwargs = _check_options(
            backend=backend, mode=mode, compat=compat, reduction=reduction, sigma_rgb=sigma_rgb, sigma_xy=sigma_xy,
            scale_factor=scale_factor, kernel_size=kernel_size, dilation=dilation, chunk_size=chunk_size,
            image_range=image_range, grid_cells_per_sigma=grid_cells_per_sigma, from_logits=from_logits,
            normalize=normalize)

    def forward(self, pred: torch.Tensor, image: torch.Tensor, roi: torch.Tensor | None = None) -> torch.Tensor:
        """Compute the loss; see :func:`potts_crf_loss`."""
        return potts_crf_loss(pred, image, roi=roi, **self.kwargs)

    def extra_repr(self) -> str:
        """Show the configuration."""
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
