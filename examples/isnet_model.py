"""IS-Net (Qin et al., *Highly Accurate Dichotomous Image Segmentation*, ECCV 2022): image branch and GT encoder.

Written from the paper (§4) and the architecture description in the project notes; parameter names
follow the authors' released checkpoints so that their ``isnet.pth`` / ``isnet-general-use.pth``
load with ``load_state_dict(..., strict=True)`` and give the same outputs.

* :class:`ISNetDIS` — the image branch: a plain stride-2 3×3 convolution, a six-stage RSU encoder
  (RSU-7, 6, 5, 4, 4F, 4F) and a five-stage RSU decoder, with six side outputs. At ``width=1`` it
  has exactly 44,046,790 parameters.
* :class:`ISNetGTEncoder` — the GT encoder used for feature synchronisation: a stride-2
  conv + BN + ReLU stem and a six-stage RSU encoder with six side outputs (6,877,734 parameters).

Both ``forward`` methods return ``(side_logits, features)``: six ``(N, out_ch, H, W)`` side
outputs upsampled to the input size (logits; ``probabilities=True`` applies the sigmoid as the
authors' modules do) and six feature maps. The image branch's features ``[DE1, DE2, DE3, DE4,
DE5, EN6]`` have exactly the shapes of the GT encoder's ``[EN1, …, EN6]`` (for the same ``width``
and input size), which is what :class:`segloss.FeatureConsistencyLoss` compares.

``width`` scales every channel count (``round(c · width)``, at least 1); ``1.0`` is the authors'
model.

Example:
    >>> import torch
    >>> net = ISNetDIS(width=0.125).eval()
    >>> sides, feats = net(torch.rand(1, 3, 64, 64))
    >>> [tuple(s.shape) for s in sides][0], len(feats)
    ((1, 1, 64, 64), 6)
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "REBNCONV",
    "RSU4",
    "RSU4F",
    "RSU5",
    "RSU6",
    "RSU7",
    "ISNetDIS",
    "ISNetGTEncoder",
    "count_parameters",
]


def _resize_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Bilinear resize of ``x`` to the spatial size of ``like`` (``align_corners=False``, as the authors)."""
    if x.shape[2:] == like.shape[2:]:
        return x
    return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(2, stride=2, ceil_mode=True)


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def _check_width(width: float) -> float:
    if isinstance(width, bool) or not isinstance(width, (int, float)):
        raise TypeError(f"`width` must be a positive number; got {type(width).__name__}")
    if not width > 0:
        raise ValueError(f"`width` must be > 0; got {width}")
    if not math.isfinite(width):  # round(c * inf) would raise an OverflowError deep in the constructor
        raise ValueError(f"`width` must be a finite number > 0; got {width}")
    return float(width)


def _check_channels(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"`{name}` must be a positive int; got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"`{name}` must be >= 1; got {value}")
    return value


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``module``."""
    return sum(p.numel() for p in module.parameters())


class REBNCONV(nn.Module):
    """3×3 convolution (dilation ``dirate``, padding ``dirate``, with bias) → BatchNorm → ReLU."""

    def __init__(self, in_ch: int = 3, out_ch: int = 3, dirate: int = 1, stride: int = 1) -> None:
        super().__init__()
        self.conv_s1 = nn.Conv2d(in_ch, out_ch, 3, padding=dirate, dilation=dirate, stride=stride)
        self.bn_s1 = nn.BatchNorm2d(out_ch)
        self.relu_s1 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(bn(conv(x)))``."""
        return self.relu_s1(self.bn_s1(self.conv_s1(x)))


class _RSU(nn.Module):
    """Residual U-block of height ``L``: ``L − 1`` encoder levels with ``L − 2`` ceil-mode max pools,
    a dilation-2 bottom level, ``L − 1`` decoder levels fed with ``[upsampled deeper, skip]``, and the
    residual ``decoder(x_in) + x_in`` where ``x_in`` is the input convolution's output.

    Submodule names (``rebnconvin``, ``rebnconv1..L``, ``rebnconv{L-1..1}d``, ``pool1..``) are the
    authors' so that their state dicts load.
    """

    height = 0

    def __init__(self, in_ch: int = 3, mid_ch: int = 12, out_ch: int = 3) -> None:
        super().__init__()
        levels = self.height
        self.rebnconvin = REBNCONV(in_ch, out_ch)
        self.rebnconv1 = REBNCONV(out_ch, mid_ch)
        for i in range(1, levels - 1):
            setattr(self, f"pool{i}", _pool())
            setattr(self, f"rebnconv{i + 1}", REBNCONV(mid_ch, mid_ch))
        setattr(self, f"rebnconv{levels}", REBNCONV(mid_ch, mid_ch, dirate=2))
        for i in range(levels - 1, 1, -1):
            setattr(self, f"rebnconv{i}d", REBNCONV(2 * mid_ch, mid_ch))
        self.rebnconv1d = REBNCONV(2 * mid_ch, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Block output, same spatial size as ``x``, ``out_ch`` channels."""
        levels = self.height
        x_in = self.rebnconvin(x)
        skips = [self.rebnconv1(x_in)]
        for i in range(1, levels - 1):
            pooled = getattr(self, f"pool{i}")(skips[-1])
            skips.append(getattr(self, f"rebnconv{i + 1}")(pooled))
        d = getattr(self, f"rebnconv{levels}")(skips[-1])
        for i in range(levels - 1, 0, -1):
            skip = skips[i - 1]
            d = getattr(self, f"rebnconv{i}d")(torch.cat((_resize_to(d, skip), skip), 1))
        return d + x_in


class RSU7(_RSU):
    """RSU-7 (six levels, five pools, dilated bottom)."""

    height = 7


class RSU6(_RSU):
    """RSU-6 (five levels, four pools, dilated bottom)."""

    height = 6


class RSU5(_RSU):
    """RSU-5 (four levels, three pools, dilated bottom)."""

    height = 5


class RSU4(_RSU):
    """RSU-4 (three levels, two pools, dilated bottom)."""

    height = 4


class RSU4F(nn.Module):
    """RSU-4F: no pooling; dilations 1, 2, 4 in the encoder, 8 at the bottom, 4, 2, 1 in the decoder."""

    def __init__(self, in_ch: int = 3, mid_ch: int = 12, out_ch: int = 3) -> None:
        super().__init__()
        self.rebnconvin = REBNCONV(in_ch, out_ch)
        self.rebnconv1 = REBNCONV(out_ch, mid_ch, dirate=1)
        self.rebnconv2 = REBNCONV(mid_ch, mid_ch, dirate=2)
        self.rebnconv3 = REBNCONV(mid_ch, mid_ch, dirate=4)
        self.rebnconv4 = REBNCONV(mid_ch, mid_ch, dirate=8)
        self.rebnconv3d = REBNCONV(2 * mid_ch, mid_ch, dirate=4)
        self.rebnconv2d = REBNCONV(2 * mid_ch, mid_ch, dirate=2)
        self.rebnconv1d = REBNCONV(2 * mid_ch, out_ch, dirate=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Block output, same size as ``x``."""
        x_in = self.rebnconvin(x)
        e1 = self.rebnconv1(x_in)
        e2 = self.rebnconv2(e1)
        e3 = self.rebnconv3(e2)
        e4 = self.rebnconv4(e3)
        d3 = self.rebnconv3d(torch.cat((e4, e3), 1))
        d2 = self.rebnconv2d(torch.cat((d3, e2), 1))
        d1 = self.rebnconv1d(torch.cat((d2, e1), 1))
        return d1 + x_in


class _ConvBNReLU(nn.Module):
    """The GT encoder's stem: strided 3×3 conv → BN → ReLU (authors' names ``conv``, ``bn``, ``rl``)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)
        self.bn = nn.BatchNorm2d(out_ch)
        self.rl = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(bn(conv(x)))``."""
        return self.rl(self.bn(self.conv(x)))


#: (block, in, mid, out) of the six encoder stages of the image branch at width 1.
IMAGE_ENCODER = (
    (RSU7, 64, 32, 64),
    (RSU6, 64, 32, 128),
    (RSU5, 128, 64, 256),
    (RSU4, 256, 128, 512),
    (RSU4F, 512, 256, 512),
    (RSU4F, 512, 256, 512),
)
#: (name, block, in, mid, out) of the five decoder stages of the image branch at width 1.
IMAGE_DECODER = (
    ("stage5d", RSU4F, 1024, 256, 512),
    ("stage4d", RSU4, 1024, 128, 256),
    ("stage3d", RSU5, 512, 64, 128),
    ("stage2d", RSU6, 256, 32, 64),
    ("stage1d", RSU7, 128, 16, 64),
)
#: (block, in, mid, out) of the six stages of the GT encoder at width 1.
GT_ENCODER = (
    (RSU7, 16, 16, 64),
    (RSU6, 64, 16, 64),
    (RSU5, 64, 32, 128),
    (RSU4, 128, 32, 256),
    (RSU4F, 256, 64, 512),
    (RSU4F, 512, 64, 512),
)
#: Channels of the six side-output inputs / features at width 1 (same for both networks).
FEATURE_CHANNELS = (64, 64, 128, 256, 512, 512)
#: Downsampling of the deepest feature maps of both networks (stride-2 stem × five ceil-mode 2×2 poolings): a
#: side-``s`` input leaves ``ceil(s / 64)²`` values per channel there, so train-mode BatchNorm needs
#: ``batch · ceil(s / 64)² > 1``.
DEEPEST_STRIDE = 64


def _finish(sides: list[torch.Tensor], x: torch.Tensor, probabilities: bool) -> list[torch.Tensor]:
    sides = [_resize_to(s, x) for s in sides]
    return [torch.sigmoid(s) for s in sides] if probabilities else sides


class ISNetDIS(nn.Module):
    """IS-Net image branch (RSU encoder–decoder behind a plain stride-2 convolution, six side outputs).

    Args:
        in_ch: input channels (3 for RGB).
        out_ch: channels of each side output (1 for a binary mask).
        width: channel multiplier (1.0 = the authors' 44,046,790-parameter model).

    Shapes:
        input ``(N, in_ch, H, W)``; side outputs six ``(N, out_ch, H, W)``; features six maps
        ``[DE1, DE2, DE3, DE4, DE5, EN6]`` with ``64, 64, 128, 256, 512, 512`` channels (×width) at
        ``1/2, 1/4, …, 1/64`` of the input (ceil division at each pooling).

    Raises:
        TypeError / ValueError: on a non-positive ``width`` or channel count.

    Example:
        >>> net = ISNetDIS(width=0.125)
        >>> probs = net.predict(torch.rand(2, 3, 32, 32))
        >>> tuple(probs.shape), bool(((probs >= 0) & (probs <= 1)).all())
        ((2, 1, 32, 32), True)
    """

    def __init__(self, in_ch: int = 3, out_ch: int = 1, width: float = 1.0) -> None:
        super().__init__()
        _check_channels(in_ch, "in_ch")
        _check_channels(out_ch, "out_ch")
        self.width = w = _check_width(width)
        self.conv_in = nn.Conv2d(in_ch, _scaled(64, w), 3, stride=2, padding=1)
        self.pool_in = _pool()  # defined but unused, as in the authors' module (no parameters)
        for i, (block, cin, mid, cout) in enumerate(IMAGE_ENCODER, start=1):
            setattr(self, f"stage{i}", block(_scaled(cin, w), _scaled(mid, w), _scaled(cout, w)))
            if i < len(IMAGE_ENCODER):
                setattr(self, f"pool{i}{i + 1}", _pool())
        for name, block, cin, mid, cout in IMAGE_DECODER:
            setattr(self, name, block(2 * _scaled(cin // 2, w), _scaled(mid, w), _scaled(cout, w)))
        for i, c in enumerate(FEATURE_CHANNELS, start=1):
            setattr(self, f"side{i}", nn.Conv2d(_scaled(c, w), out_ch, 3, padding=1))

    def forward(
        self, x: torch.Tensor, probabilities: bool = False
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Side outputs (logits, or sigmoid maps with ``probabilities=True``) and the six features.

        Args:
            x: image batch ``(N, in_ch, H, W)``, normalised as in training (authors: ``x/255 − 0.5``).
            probabilities: apply the sigmoid to the side outputs, as the authors' forward does.

        Returns:
            ``(sides, features)``: ``sides[0]`` is the prediction ``d1``.
        """
        h = self.conv_in(x)
        enc = []
        for i in range(1, 7):
            if i > 1:
                h = getattr(self, f"pool{i - 1}{i}")(enc[-1])
            h = getattr(self, f"stage{i}")(h)
            enc.append(h)
        d = enc[5]
        dec = []
        for (name, *_), skip in zip(IMAGE_DECODER, enc[4::-1]):
            d = getattr(self, name)(torch.cat((_resize_to(d, skip), skip), 1))
            dec.append(d)
        features = [*dec[::-1], enc[5]]  # [DE1, DE2, DE3, DE4, DE5, EN6]
        sides = [getattr(self, f"side{i}")(f) for i, f in enumerate(features, start=1)]
        return _finish(sides, x, probabilities), features

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The prediction ``sigmoid(d1)`` ``(N, out_ch, H, W)`` (no gradient; the caller picks train/eval mode)."""
        return torch.sigmoid(self.forward(x)[0][0])


class ISNetGTEncoder(nn.Module):
    """IS-Net GT encoder (stride-2 conv–BN–ReLU stem and a six-stage RSU encoder, six side outputs).

    Trained first as a mask auto-encoder without decoder (BCE on its six side outputs), then frozen
    (:func:`segloss.freeze_gt_encoder`) to provide the targets of the feature-consistency loss.

    Args:
        in_ch: mask channels (1).
        out_ch: channels of each side output (1).
        width: channel multiplier (1.0 = the authors' 6,877,734-parameter model).

    Shapes:
        input ``(N, in_ch, H, W)``; side outputs six ``(N, out_ch, H, W)``; features six maps
        ``[EN1, …, EN6]`` shaped like :class:`ISNetDIS`'s features.

    Raises:
        TypeError / ValueError: on a non-positive ``width`` or channel count.

    Example:
        >>> enc = ISNetGTEncoder(width=0.125)
        >>> sides, feats = enc(torch.rand(2, 1, 32, 32))
        >>> [f.shape[1] for f in feats]
        [8, 8, 16, 32, 64, 64]
    """

    def __init__(self, in_ch: int = 1, out_ch: int = 1, width: float = 1.0) -> None:
        super().__init__()
        _check_channels(in_ch, "in_ch")
        _check_channels(out_ch, "out_ch")
        self.width = w = _check_width(width)
        self.conv_in = _ConvBNReLU(in_ch, _scaled(16, w), stride=2)
        for i, (block, cin, mid, cout) in enumerate(GT_ENCODER, start=1):
            setattr(self, f"stage{i}", block(_scaled(cin, w), _scaled(mid, w), _scaled(cout, w)))
            if i < len(GT_ENCODER):
                setattr(self, f"pool{i}{i + 1}", _pool())
        for i, c in enumerate(FEATURE_CHANNELS, start=1):
            setattr(self, f"side{i}", nn.Conv2d(_scaled(c, w), out_ch, 3, padding=1))

    def forward(
        self, x: torch.Tensor, probabilities: bool = False
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Side outputs (logits, or sigmoid maps with ``probabilities=True``) and the features ``[EN1..EN6]``."""
        h = self.conv_in(x)
        features = []
        for i in range(1, 7):
            if i > 1:
                h = getattr(self, f"pool{i - 1}{i}")(features[-1])
            h = getattr(self, f"stage{i}")(h)
            features.append(h)
        sides = [getattr(self, f"side{i}")(f) for i, f in enumerate(features, start=1)]
        return _finish(sides, x, probabilities), features

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """``sigmoid`` of the first side output, ``(N, out_ch, H, W)``."""
        return torch.sigmoid(self.forward(x)[0][0])
