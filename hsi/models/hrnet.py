"""HRNet (NTIRE 2020 spectral reconstruction): a multi-scale grid network (SGN generator).

Paper: Y. Zhao, L.-M. Po, Q. Yan, W. Liu, T. Lin, "Hierarchical Regression Network for Spectral
Reconstruction from RGB Images", CVPR Workshops (NTIRE) 2020.

Follows the public implementation of the MST++ toolbox (``caiyuanhao1998/MST-plus-plus``,
``train_code/architecture/hrnet.py``, class ``SGN``) as used by
``vccimaging/OpticsAwareHSI-Analysis``: the reflect-padded input (to a multiple of 8) is
pixel-unshuffled by 2, 4 and 8; four branches (top K=3, middle K=2, bottom K=1, main stream at full
resolution) built from residual dense blocks and global blocks are fused from coarse to fine via
pixel shuffle; the output is cropped back to H x W. The ``state_dict`` layout is that of the public
implementation.

Note on ``GlobalBlock``: in the public code the squeeze-and-excitation branch (``fc``) is computed and
then overwritten, so the block is ``x + 0.1 * conv2(conv1(x))`` and ``fc`` never receives gradients.
Its parameters are kept (checkpoint layout) and the discarded computation is skipped; the output is
identical. Under DistributedDataParallel this needs ``find_unused_parameters=True``, as upstream.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._layers import pad_to_multiple


class LayerNorm(nn.Module):
    """Per-sample normalisation over (C, H, W) with the unbiased std, ``(x - mean) / (std + eps)``,
    followed by a per-channel affine map (gamma ~ U(0, 1), beta = 0). Only used with ``norm='ln'``."""

    def __init__(self, num_features: int, eps: float = 1e-8, affine: bool = True):
        super().__init__()
        self.num_features = num_features
        self.affine = affine
        self.eps = eps
        if affine:
            self.gamma = nn.Parameter(torch.empty(num_features).uniform_())
            self.beta = nn.Parameter(torch.zeros(num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(x.shape[0], -1)
        stat_shape = (-1,) + (1,) * (x.dim() - 1)
        mean = flat.mean(1).reshape(stat_shape)
        std = flat.std(1).reshape(stat_shape)
        x = (x - mean) / (std + self.eps)
        if self.affine:
            chan_shape = (1, -1) + (1,) * (x.dim() - 2)
            x = x * self.gamma.reshape(chan_shape) + self.beta.reshape(chan_shape)
        return x


_PADDINGS = {"zero": nn.ZeroPad2d, "reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d}


def _make_norm(norm: str, channels: int) -> nn.Module | None:
    if norm == "none":
        return None
    if norm == "bn":
        return nn.BatchNorm2d(channels)
    if norm == "in":
        return nn.InstanceNorm2d(channels)
    if norm == "ln":
        return LayerNorm(channels)
    raise ValueError(f"unsupported normalization: {norm!r}")


def _make_activation(activation: str) -> nn.Module | None:
    factories = {
        "relu": lambda: nn.ReLU(inplace=True),
        "lrelu": lambda: nn.LeakyReLU(0.2, inplace=True),
        "prelu": nn.PReLU,
        "selu": lambda: nn.SELU(inplace=True),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "none": lambda: None,
    }
    if activation not in factories:
        raise ValueError(f"unsupported activation: {activation!r}")
    return factories[activation]()


class Conv2dLayer(nn.Module):
    """Explicit padding -> convolution (with bias) -> optional norm -> optional activation.

    ``(N, in_channels, H, W) -> (N, out_channels, H', W')`` (same size for stride 1 and
    ``padding = dilation * (kernel_size - 1) / 2``). Spectral norm of the public code is not provided.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, pad_type: str = "zero", activation: str = "lrelu",
                 norm: str = "none", sn: bool = False):
        super().__init__()
        if pad_type not in _PADDINGS:
            raise ValueError(f"unsupported padding type: {pad_type!r}")
        if sn:
            raise NotImplementedError("spectral normalisation is not used by SGN and not provided")
        # registration order (pad, norm, activation, conv2d) fixes the state_dict order
        self.pad = _PADDINGS[pad_type](padding)
        self.norm = _make_norm(norm, out_channels)
        self.activation = _make_activation(activation)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=0, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2d(self.pad(x))
        if self.norm is not None:
            x = self.norm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


class ResidualDenseBlock_5C(nn.Module):
    """Five densely connected convolutions (each sees the input and all previous outputs), the last
    one back to ``in_channels``; residual scaling 0.1. ``(N, C, H, W) -> (N, C, H, W)``."""

    def __init__(self, in_channels: int, latent_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1, dilation: int = 1, pad_type: str = "zero", activation: str = "lrelu",
                 norm: str = "none", sn: bool = False):
        super().__init__()
        common = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                      pad_type=pad_type, activation=activation, norm=norm, sn=sn)
        self.conv1 = Conv2dLayer(in_channels, latent_channels, **common)
        self.conv2 = Conv2dLayer(in_channels + latent_channels, latent_channels, **common)
        self.conv3 = Conv2dLayer(in_channels + 2 * latent_channels, latent_channels, **common)
        self.conv4 = Conv2dLayer(in_channels + 3 * latent_channels, latent_channels, **common)
        self.conv5 = Conv2dLayer(in_channels + 4 * latent_channels, in_channels, **common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(conv(torch.cat(feats, dim=1)))
        return x + 0.1 * self.conv5(torch.cat(feats, dim=1))


class GlobalBlock(nn.Module):
    """Two convolutions with residual scaling 0.1: ``(N, C, H, W) -> (N, C, H, W)``.

    ``fc`` (an SE bottleneck) exists for checkpoint compatibility only: the public forward pass
    discards its result, so it is not evaluated here (see the module docstring).
    """

    def __init__(self, in_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, pad_type: str = "zero", activation: str = "lrelu", norm: str = "none",
                 sn: bool = False, reduction: int = 8):
        super().__init__()
        common = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                      pad_type=pad_type, activation=activation, norm=norm, sn=sn)
        self.conv1 = Conv2dLayer(in_channels, in_channels, **common)
        self.conv2 = Conv2dLayer(in_channels, in_channels, **common)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        hidden = in_channels // reduction
        self.fc = nn.Sequential(
            nn.Linear(in_channels, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, in_channels, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1 * self.conv2(self.conv1(x))


class SGN(nn.Module):
    """HRNet generator: ``(N, in_channels, H, W) -> (N, out_channels, H, W)`` for any H, W.

    Args:
        in_channels: input channels (3, RGB).
        out_channels: output bands (31).
        start_channels: width of the full-resolution branch (64); the branches at 1/2, 1/4, 1/8
            resolution have 2x, 4x, 8x this width.
        pad: padding type of the convolutions ('zero').
        activ: activation ('lrelu', slope 0.2; also applied after the last convolution).
        norm: normalisation ('none').
    """

    pad_multiple = 8
    """The input is reflect-padded on the bottom/right to a multiple of this (the public forward's)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 31, start_channels: int = 64,
                 pad: str = "zero", activ: str = "lrelu", norm: str = "none"):
        super().__init__()
        s = start_channels
        opts = dict(pad_type=pad, activation=activ, norm=norm)

        def conv3(cin: int, cout: int) -> Conv2dLayer:
            return Conv2dLayer(cin, cout, 3, 1, 1, **opts)

        def rdb(ch: int) -> ResidualDenseBlock_5C:
            return ResidualDenseBlock_5C(ch, ch // 2, 3, 1, 1, **opts)

        def glob(ch: int) -> GlobalBlock:
            return GlobalBlock(ch, 3, 1, 1, sn=False, reduction=4, **opts)

        # top branch, 1/8 resolution (K = 3)
        self.top1 = conv3(in_channels * 64, s * 8)
        self.top21 = rdb(s * 8)
        self.top22 = glob(s * 8)
        self.top3 = Conv2dLayer(s * 8, s * 8, 1, 1, 0, **opts)
        # middle branch, 1/4 resolution (K = 2); receives the top branch shuffled to s * 2 channels
        self.mid1 = conv3(in_channels * 16, s * 4)
        self.mid2 = conv3(s * 4 + s * 2, s * 4)
        self.mid31 = rdb(s * 4)
        self.mid32 = glob(s * 4)
        self.mid4 = conv3(s * 4, s * 4)
        # bottom branch, 1/2 resolution (K = 1); receives the middle branch shuffled to s channels
        self.bot1 = conv3(in_channels * 4, s * 2)
        self.bot2 = conv3(s * 2 + s, s * 2)
        self.bot31 = rdb(s * 2)
        self.bot32 = rdb(s * 2)
        self.bot33 = glob(s * 2)
        self.bot4 = conv3(s * 2, s * 2)
        # main stream, full resolution; receives the bottom branch shuffled to s // 2 channels
        self.main1 = conv3(in_channels, s)
        self.main2 = conv3(s + s // 2, s)
        self.main31 = rdb(s)
        self.main32 = rdb(s)
        self.main33 = rdb(s)
        self.main34 = rdb(s)
        self.main35 = glob(s)
        self.main4 = conv3(s, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N, 3, H, W)`` -> ``(N, 31, H, W)`` (reflect padding to a multiple of 8, cropped back)."""
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.pad_multiple)

        top = F.pixel_unshuffle(x, 8)
        for layer in (self.top1, self.top21, self.top22, self.top3):
            top = layer(top)

        mid = torch.cat((self.mid1(F.pixel_unshuffle(x, 4)), F.pixel_shuffle(top, 2)), dim=1)
        for layer in (self.mid2, self.mid31, self.mid32, self.mid4):
            mid = layer(mid)

        bot = torch.cat((self.bot1(F.pixel_unshuffle(x, 2)), F.pixel_shuffle(mid, 2)), dim=1)
        for layer in (self.bot2, self.bot31, self.bot32, self.bot33, self.bot4):
            bot = layer(bot)

        out = torch.cat((self.main1(x), F.pixel_shuffle(bot, 2)), dim=1)
        for layer in (self.main2, self.main31, self.main32, self.main33, self.main34, self.main35, self.main4):
            out = layer(out)
        return out[:, :, :h, :w]
