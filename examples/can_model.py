"""The latent-diversity interactive segmentation model of Li, Chen & Koltun (CVPR 2018), §3-4, Table 1.

Two networks, both context aggregation networks (CAN) at full resolution:

- ``f`` (:class:`SegmentationCAN`): a 1x1 projection to 64 channels, nine 3x3 convolutions with dilations
  1, 2, 4, 8, 16, 32, 64, 128, 1 (Table 1 lists the projection as dilation 1, hence "1, 1, 2, ..., 128, 1"),
  each followed by the normalisation below and a leaky ReLU (slope 0.2), then a 1x1 output layer with ``M``
  channels: ``M`` segmentation logits (sigmoid in the loss). Receptive field 513 x 513.
- ``g`` (:class:`SelectionCAN`): the same body without the projection (its first 3x3 layer reads the input
  directly), a 1x1 output layer and global average pooling: ``M`` selection scores. Deviation: the body
  scores each mask with shared weights (input: the click encoding + that mask), see :class:`SelectionCAN`.

Input (:func:`encode_clicks`), all divided by 255 as in the authors' code: the RGB image (0..255), the
positive and negative click distance transforms (Euclidean distance to the nearest click of that sign,
truncated at 255; 255 when there is no click) and, like the authors' code, two click maps (0 at a clicked
pixel, 255 elsewhere): 7 channels. ``g`` reads these 7 channels plus one probability map of ``f`` per score.

Hypercolumns (optional, default none). The paper appends VGG-19 conv1_2 ... conv5_2 features (1472
channels, bilinearly resized to the image) to ``f``'s input. Pretrained weights cannot be downloaded here,
so the default is the paper's "without augmented input" ablation. To plug a backbone in, pass any module
that maps the ``(N, 3, H, W)`` image in ``[0, 1]`` to a list of feature maps, and the total number of
their channels::

    vgg = torchvision.models.vgg19(weights="IMAGENET1K_V1").features.eval()   # weights you already have
    taps = {3: "conv1_2", 8: "conv2_2", 13: "conv3_2", 22: "conv4_2", 31: "conv5_2"}  # ReLU outputs

    class VGGHypercolumns(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = vgg[:32]
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        def forward(self, x):
            x, out = (x - self.mean) / self.std, []
            for i, layer in enumerate(self.body):
                x = layer(x)
                if i in taps:
                    out.append(x)
            return out

    f = SegmentationCAN(num_outputs=6, backbone=VGGHypercolumns(), backbone_channels=1472)

The backbone is frozen (evaluated under ``torch.no_grad()`` and excluded from ``f.parameters()``'s
gradient). torchvision's VGG uses max pooling and mean/std-normalised [0, 1] input; the authors used the
MatConvNet model with average pooling on 0..255 input minus the mean.

Normalisation. The authors' TF-slim code normalises every layer with CAN's adaptive normalisation
``w0·x + w1·BN(x)`` (``w0 = 1``, ``w1 = 0`` at init) and, because slim's ``batch_norm`` runs with
``is_training=True`` everywhere, with the statistics of the current batch, which is one image, in training
*and* at test time. Here BN is an instance normalisation (per-image, per-channel statistics, affine, no
running statistics), which is exactly that at batch 1 and stays per-image for larger training batches, so
train and eval see the same normalisation; a port with running statistics collapses in ``eval()`` mode.
All 3x3 / 1x1 body layers start as identity (centre tap 1 on channel ``i -> i``), as in the CAN papers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage
from torch import nn
from torch.nn import functional as F

from segmetrics.interactive.evaluation import DEFAULT_THRESHOLD

#: Dilations of the nine 3x3 layers of Table 1 (layers 2-10).
DILATIONS: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 1)
#: Channels of the click encoding: RGB, positive / negative distance transforms, positive / negative click maps.
CLICK_CHANNELS = 7
#: Distance transforms are truncated here (the paper's "truncated at 255").
DT_CAP = 255.0
#: Widest body of the shared-weight ``g`` (see :func:`selection_width`).
SELECTION_MAX_WIDTH = 32


def selection_width(f_width: int, shared: bool = True) -> int:
    """Default channels of ``g``'s body for an ``f`` of ``f_width`` channels.

    The shared-weight ``g`` runs its body once per mask, so a click costs ``M`` bodies of ``g`` beside the
    one of ``f``. Capping its width at :data:`SELECTION_MAX_WIDTH` keeps that at ``M·(32/64)² = 1.5``
    paper-width bodies for ``M = 6`` (the paper's ``g`` costs one): measured on a CPU at 120 x 160 with one
    thread, ``f`` + shared ``g`` at width 64 take 3.6x the time of ``f`` + the paper's ``g``, at width 32 1.5x.
    The paper's layout (``shared=False``) keeps ``f``'s width.

    Example:
        >>> selection_width(64), selection_width(16), selection_width(64, shared=False)
        (32, 16, 64)
    """
    return min(int(f_width), SELECTION_MAX_WIDTH) if shared else int(f_width)


def receptive_field(dilations: Sequence[int] = DILATIONS) -> int:
    """Receptive field of the body: ``1 + Σ 2·d`` over the 3x3 layers (the 1x1 layers add nothing); 513 for Table 1."""
    return 1 + 2 * sum(int(d) for d in dilations)


class AdaptiveNorm(nn.Module):
    """``w0·x + w1·IN(x)`` with per-image statistics (CAN's adaptive normalisation, see the module docstring).

    ``IN(x) = γ·(x − μ)/sqrt(σ² + 1e-5) + β`` with ``μ``, ``σ²`` the mean and (biased) variance of each
    channel of each image; computed as one per-(image, channel) scale and shift ``x·a + b`` (on CPU this is
    several times faster than ``nn.InstanceNorm2d``, which goes through a batch norm of ``N·C`` channels).
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.w0 = nn.Parameter(torch.ones(()))
        self.w1 = nn.Parameter(torch.zeros(()))
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean((2, 3), keepdim=True)
        var = (x - mean).square().mean((2, 3), keepdim=True)  # two passes: stable, and much faster than var_mean
        gain = self.w1 * self.weight.view(1, -1, 1, 1) * torch.rsqrt(var + self.eps)
        return x * (self.w0 + gain) + (self.w1 * self.bias.view(1, -1, 1, 1) - gain * mean)


def _identity_init(conv: nn.Conv2d) -> None:
    with torch.no_grad():
        conv.weight.zero_()
        k = conv.kernel_size[0] // 2
        for i in range(min(conv.in_channels, conv.out_channels)):
            conv.weight[i, i, k, k] = 1.0
        if conv.bias is not None:
            conv.bias.zero_()


class DilatedConv(nn.Conv2d):
    """A 3x3 dilated convolution (zero padding = dilation, size kept) that skips the taps that only read padding.

    When the dilation is at least the height (width), the top and bottom (left and right) taps of every
    output pixel fall outside the image, in the zero padding, so they are dropped: the result and the
    gradients are exactly those of the full 3x3 convolution, at a fraction of the cost on small images
    (at 64 x 64 the dilation-64 and -128 layers become 1x1 convolutions).
    """

    def __init__(self, in_channels: int, out_channels: int, dilation: int) -> None:
        super().__init__(in_channels, out_channels, 3, padding=dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dilation[0]
        rows = slice(1, 2) if d >= x.shape[-2] else slice(0, 3)
        cols = slice(1, 2) if d >= x.shape[-1] else slice(0, 3)
        if rows == cols == slice(0, 3):
            return super().forward(x)
        pad = (0 if rows.start == 1 else d, 0 if cols.start == 1 else d)
        return F.conv2d(x, self.weight[:, :, rows, cols], self.bias, padding=pad, dilation=self.dilation)


class CANBody(nn.Module):
    """Optional 1x1 projection, the dilated 3x3 layers (each + :class:`AdaptiveNorm` + LeakyReLU 0.2)."""

    def __init__(self, in_channels: int, width: int = 64, dilations: Sequence[int] = DILATIONS,
                 project: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        if project:
            layers += [nn.Conv2d(c, width, 1), AdaptiveNorm(width), nn.LeakyReLU(0.2)]
            c = width
        for d in dilations:
            layers += [DilatedConv(c, width, int(d)), AdaptiveNorm(width), nn.LeakyReLU(0.2)]
            c = width
        self.layers = nn.Sequential(*layers)
        for m in self.layers:
            if isinstance(m, nn.Conv2d):
                _identity_init(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SegmentationCAN(nn.Module):
    """The segmentation network ``f``: ``(N, 7, H, W)`` click encoding -> ``(N, M, H, W)`` logits.

    Args:
        num_outputs: ``M`` (the paper: 6).
        width: channels of the body (64).
        dilations: dilations of the 3x3 layers (Table 1).
        backbone: optional frozen hypercolumn extractor (see the module docstring), or ``None``.
        backbone_channels: total channels of the backbone's feature maps.
    """

    def __init__(self, num_outputs: int = 6, width: int = 64, dilations: Sequence[int] = DILATIONS,
                 backbone: nn.Module | None = None, backbone_channels: int = 0) -> None:
        super().__init__()
        if num_outputs < 1:
            raise ValueError(f"`num_outputs` must be >= 1; got {num_outputs}")
        if (backbone is None) != (backbone_channels == 0):
            raise ValueError("`backbone` and `backbone_channels` (> 0) must be given together")
        self.num_outputs = num_outputs
        self.backbone = backbone
        if backbone is not None:
            backbone.requires_grad_(False)
        self.body = CANBody(CLICK_CHANNELS + backbone_channels, width, dilations, project=True)
        self.head = nn.Conv2d(width, num_outputs, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The input of the projection: the click encoding plus the resized hypercolumns, if any."""
        if self.backbone is None:
            return x
        with torch.no_grad():
            self.backbone.eval()
            maps = self.backbone(x[:, :3])
            maps = [F.interpolate(m, size=x.shape[-2:], mode="bilinear", align_corners=False) for m in maps]
        return torch.cat([x, *maps], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.features(x)))


class SelectionCAN(nn.Module):
    """The selection network ``g``: click encoding ``(N, 7, H, W)`` + ``M`` probabilities -> ``(N, M)`` scores.

    ``score_m = GAP(head(body([x, p_m])))``: the CAN body of Table 1 without the projection, one 1x1 output
    channel, global average pooling. By default (``shared=True``) the same body scores each of the ``M``
    masks (the ``M`` score maps form the final full-resolution tensor that is pooled), so ``g`` is
    permutation-equivariant by construction and works for any ``M``. ``shared=False`` is the paper's literal
    layout: one body reads ``x`` and all ``M`` masks as ``7 + M`` channels and its 1x1 head has ``M`` channels.
    That layout has to learn the same per-mask analysis separately for each of the ``M`` input slots (the
    paper's shuffling forces content analysis, but each slot sees ``1/M`` of the data), and at the identity
    initialisation its pooled scores are linear in the masks' areas, which do not tell the best mask (an
    all-foreground output has the largest area). On a fixed batch of a trained ``f`` (four of six outputs
    dead, so spotting them alone gives a loss below ``ln 2``) it stayed at ``ln 6`` for 100 steps at Adam
    1e-3 and 3e-3, with the normalisation frozen and with random instead of identity initialisation; without
    the shuffling it fitted the batch (loss 0.03), so targets and wiring are right; the shared ``g`` reached 0.3.

    Normalisation: the same per-image :class:`AdaptiveNorm` as ``f``, here per (image, mask) pair. It does
    not erase the score differences before the pooling: the ``w0·x`` branch keeps each channel's mean, the
    normalised branch starts at zero (``w1 = 0``), and the leaky ReLUs make the pooled means depend on the
    maps' content; freezing it at ``w1 = 0`` changed nothing (above). Cost: ``M`` body passes per click.

    Args:
        num_outputs: ``M``, the number of masks scored (checked against ``probs``).
        width: channels of the body (64).
        dilations: dilations of the 3x3 layers (Table 1).
        shared: one body per mask with shared weights (default) or the paper's ``7 + M``-channel body.
    """

    def __init__(self, num_outputs: int = 6, width: int = 64, dilations: Sequence[int] = DILATIONS,
                 shared: bool = True) -> None:
        super().__init__()
        if num_outputs < 1:
            raise ValueError(f"`num_outputs` must be >= 1; got {num_outputs}")
        self.num_outputs, self.shared = num_outputs, shared
        masks_in = 1 if shared else num_outputs
        self.body = CANBody(CLICK_CHANNELS + masks_in, width, dilations, project=False)
        self.head = nn.Conv2d(width, 1 if shared else num_outputs, 1)

    def forward(self, x: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        n, m, h, w = probs.shape
        if m != self.num_outputs:
            raise ValueError(f"`probs` must have {self.num_outputs} masks (N, M, H, W); got shape {tuple(probs.shape)}")
        if not self.shared:
            return self.head(self.body(torch.cat([x, probs], 1))).mean((2, 3))
        z = torch.cat([x.unsqueeze(1).expand(n, m, x.shape[1], h, w), probs.unsqueeze(2)], 2).flatten(0, 1)
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
            z = z.contiguous(memory_format=torch.channels_last)
        # GAP then the 1x1 head: the same as pooling the head's full-resolution map (both are linear)
        return self.head(self.body(z).mean((2, 3), keepdim=True)).view(n, m)


def _distance(shape: tuple[int, int], points: Sequence[tuple[int, int]]) -> np.ndarray:
    """Euclidean distance to the nearest point, truncated at :data:`DT_CAP` (the cap everywhere without points)."""
    if not points:
        return np.full(shape, DT_CAP, np.float32)
    seeds = np.ones(shape, bool)
    for y, x in points:
        seeds[y, x] = False
    return np.minimum(ndimage.distance_transform_edt(seeds), DT_CAP).astype(np.float32)


def encode_clicks(image: np.ndarray, positive: Sequence[tuple[int, int]],
                  negative: Sequence[tuple[int, int]]) -> np.ndarray:
    """The 7-channel input ``(7, H, W)`` float32 of one image and its clicks (see the module docstring).

    Args:
        image: ``(H, W, 3)`` uint8 RGB; grey ``(H, W)`` / ``(H, W, 1)`` is repeated to 3 channels and an
            alpha channel ``(H, W, 4)`` is dropped.
        positive: ``(y, x)`` of the positive clicks.
        negative: ``(y, x)`` of the negative clicks.

    Raises:
        TypeError: ``image`` is not uint8.
        ValueError: another ``image`` shape, or a click outside the image.
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise TypeError(f"`image` must be uint8 (0..255); got dtype {image.dtype}")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"`image` must be (H, W, 3) RGB, (H, W) grey or (H, W, 4) RGBA; got shape {image.shape}")
    image = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[..., :3]
    h, w = image.shape[:2]
    for name, pts in (("positive", positive), ("negative", negative)):
        if any(not (0 <= y < h and 0 <= x < w) for y, x in pts):
            raise ValueError(f"`{name}` clicks must lie inside the {h} x {w} image; got {list(pts)}")
    maps = []
    for pts in (positive, negative):
        m = np.full((h, w), 255.0, np.float32)
        for y, x in pts:
            m[y, x] = 0.0
        maps.append(m)
    out = np.concatenate([
        image.transpose(2, 0, 1).astype(np.float32),
        _distance((h, w), positive)[None],
        _distance((h, w), negative)[None],
        np.stack(maps),
    ])
    return out / 255.0


class InteractiveCAN:
    """``f`` (+ ``g``) as a ``predict(image, clicks) -> probability map`` callable for :mod:`segmetrics.interactive`.

    Args:
        f: the segmentation network.
        g: the selection network, or ``None``.
        mode: ``"select"`` (``g``'s choice; needs ``g``), ``"first"`` (output 0: RDL-trained or ``M = 1``
            models) or ``"oracle"`` (the output closest to ``gt``: the hindsight bound, not a real model).
        device: where to run.

    For ``"oracle"`` set :attr:`gt` to the instance's ground truth before evaluating it, and :attr:`ignore` to
    its ignored pixels (``None``: none), which are left out of the oracle's IoU as they are out of the NoC IoU.
    The oracle thresholds the outputs at :attr:`threshold` (the evaluation's, RITM's ``p > 0.49``).
    """

    MODES = ("select", "first", "oracle")

    def __init__(self, f: SegmentationCAN, g: SelectionCAN | None = None, mode: str = "select",
                 device: str | torch.device = "cpu") -> None:
        if mode not in self.MODES:
            raise ValueError(f"`mode` must be one of {self.MODES}; got {mode!r}")
        if mode == "select" and g is None:
            raise ValueError("`mode='select'` needs the selection network `g`")
        self.f, self.g, self.mode, self.device = f.eval(), (g.eval() if g is not None else None), mode, device
        self.gt: np.ndarray | None = None
        self.ignore: np.ndarray | None = None
        self.threshold = DEFAULT_THRESHOLD

    @torch.no_grad()
    def probabilities(self, image: np.ndarray, clicks: Sequence) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(M, H, W)`` probabilities of ``f`` and, with ``g``, the ``(M,)`` selection scores."""
        pos = [(c[0], c[1]) for c in clicks if c[2]]
        neg = [(c[0], c[1]) for c in clicks if not c[2]]
        x = torch.from_numpy(encode_clicks(image, pos, neg))[None].to(self.device)
        probs = torch.sigmoid(self.f(x))
        scores = self.g(x, probs)[0] if self.g is not None else None
        return probs[0], scores

    def __call__(self, image: np.ndarray, clicks: Sequence) -> np.ndarray:
        probs, scores = self.probabilities(image, clicks)
        if self.mode == "first":
            k = 0
        elif self.mode == "select":
            k = int(scores.argmax())
        else:
            if self.gt is None:
                raise ValueError("mode 'oracle' compares the outputs with the ground truth: set `gt` to the "
                                 "instance's mask before calling the model")
            gt = torch.as_tensor(self.gt, device=probs.device).bool()
            masks = probs > self.threshold
            if self.ignore is not None:
                masks = masks & ~torch.as_tensor(self.ignore, device=probs.device).bool()
            inter = (masks & gt).flatten(1).sum(1)
            union = (masks | gt).flatten(1).sum(1).clamp(min=1)
            k = int((inter / union).argmax())
        return probs[k].float().cpu().numpy()
