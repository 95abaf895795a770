"""MIRNet for RGB-to-hyperspectral reconstruction.

Paper: S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, L. Shao,
"Learning Enriched Features for Real Image Restoration and Enhancement", ECCV 2020.

This module follows the spectral-reconstruction variant of the MST++ toolbox
(caiyuanhao1998/MST-plus-plus, ``train_code/architecture/MIRNet.py``) as used by
vccimaging/OpticsAwareHSI-Analysis (``architecture/MIRNet.py``): a 3->31 input convolution,
``n_RRG`` recursive residual groups of multi-scale residual blocks (MSRB) built from dual
attention units (DAU), selective kernel feature fusion (SKFF) and anti-aliased down-sampling,
and a 31->31 output convolution with a global residual on the embedded features.

Attribute names and registration order reproduce the published ``state_dict`` (including the
``filt`` blur buffers of the down-samplers), so the published checkpoints load with
``strict=True``. As in the public code, every DAU of one network uses the same PReLU module (the
public implementation shares it through a default argument), so its single slope is stored under
each DAU's ``body.1.weight`` key but counted once as a parameter.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._layers import ChannelAttention, pad_to_multiple

__all__ = ["MIRNet"]


def _same_conv(cin: int, cout: int, kernel_size: int, bias: bool = False, stride: int = 1) -> nn.Conv2d:
    """Convolution with ``kernel_size // 2`` zero padding."""
    return nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=kernel_size // 2, bias=bias)


class BlurDownsample(nn.Module):
    """Anti-aliased stride-2 down-sampling: reflect pad, depthwise binomial blur, subsample.

    ``(N, C, H, W) -> (N, C, ceil(H/2), ceil(W/2))`` for ``filt_size=3``. The normalised binomial
    kernel is kept as the float buffer ``filt`` of shape ``(C, 1, k, k)``.
    """

    def __init__(self, channels: int, filt_size: int = 3, stride: int = 2, pad_type: str = "reflect"):
        super().__init__()
        self.filt_size = filt_size
        self.stride = stride
        self.pad_sizes = [(filt_size - 1) // 2, math.ceil((filt_size - 1) / 2)] * 2
        self.pad_mode = {"refl": "reflect", "reflect": "reflect", "repl": "replicate",
                         "replicate": "replicate", "zero": "constant"}[pad_type]
        taps = torch.tensor([float(math.comb(filt_size - 1, i)) for i in range(filt_size)])
        kernel = taps[:, None] * taps[None, :]
        kernel = kernel / kernel.sum()
        self.register_buffer("filt", kernel[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.filt_size == 1:
            return x[:, :, ::self.stride, ::self.stride]
        x = F.pad(x, self.pad_sizes, mode=self.pad_mode)
        return F.conv2d(x, self.filt.to(dtype=x.dtype), stride=self.stride, groups=x.shape[1])


class SKFF(nn.Module):
    """Selective kernel feature fusion of ``height`` same-shaped streams.

    A list of ``height`` tensors ``(N, C, H, W)`` is fused into one ``(N, C, H, W)`` by a
    softmax (over the streams) of per-channel attention weights computed from the pooled sum.
    """

    def __init__(self, in_channels: int, height: int = 3, reduction: int = 8, bias: bool = False):
        super().__init__()
        self.height = height
        hidden = max(int(in_channels / reduction), 4)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(nn.Conv2d(in_channels, hidden, 1, padding=0, bias=bias), nn.PReLU())
        self.fcs = nn.ModuleList(
            [nn.Conv2d(hidden, in_channels, kernel_size=1, stride=1, bias=bias) for _ in range(height)])
        self.softmax = nn.Softmax(dim=1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        stacked = torch.stack(list(feats), dim=1)                        # (N, height, C, H, W)
        squeezed = self.conv_du(self.avg_pool(stacked.sum(dim=1)))       # (N, hidden, 1, 1)
        weights = torch.stack([fc(squeezed) for fc in self.fcs], dim=1)  # (N, height, C, 1, 1)
        weights = self.softmax(weights)
        return (stacked * weights).sum(dim=1)


class BasicConv(nn.Module):
    """Convolution with optional batch norm and ReLU (only the plain convolution is used here)."""

    def __init__(self, in_planes: int, out_planes: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 dilation: int = 1, groups: int = 1, relu: bool = True, bn: bool = False, bias: bool = False):
        super().__init__()
        self.out_channels = out_planes
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride, padding=padding,
                              dilation=dilation, groups=groups, bias=bias)
        self.bn = nn.BatchNorm2d(out_planes, eps=1e-5, momentum=0.01, affine=True) if bn else None
        self.relu = nn.ReLU() if relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.relu is not None:
            x = self.relu(x)
        return x


class SpatialAttention(nn.Module):
    """Spatial gate: sigmoid of a 5x5 conv over the channel-wise max and mean maps."""

    def __init__(self, kernel_size: int = 5):
        super().__init__()
        self.spatial = BasicConv(2, 1, kernel_size, stride=1, padding=(kernel_size - 1) // 2, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.spatial(pooled))


class DAU(nn.Module):
    """Dual attention unit: conv-act-conv, parallel spatial and channel attention, 1x1 fusion, residual.

    ``act`` is the (shared) activation module placed between the two convolutions.
    Shape-preserving: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, n_feat: int, act: nn.Module, kernel_size: int = 3, reduction: int = 8, bias: bool = False):
        super().__init__()
        self.body = nn.Sequential(_same_conv(n_feat, n_feat, kernel_size, bias=bias), act,
                                  _same_conv(n_feat, n_feat, kernel_size, bias=bias))
        self.SA = SpatialAttention()
        self.CA = ChannelAttention(n_feat, reduction, bias=bias)
        self.conv1x1 = nn.Conv2d(n_feat * 2, n_feat, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.body(x)
        fused = self.conv1x1(torch.cat([self.SA(feat), self.CA(feat)], dim=1))
        return fused + x


class ResidualDownSample(nn.Module):
    """Halve the resolution and double the channels: ``(N, C, H, W) -> (N, 2C, H/2, W/2)``."""

    def __init__(self, in_channels: int, bias: bool = False):
        super().__init__()
        c = in_channels
        self.top = nn.Sequential(
            nn.Conv2d(c, c, 1, stride=1, padding=0, bias=bias), nn.PReLU(),
            nn.Conv2d(c, c, 3, stride=1, padding=1, bias=bias), nn.PReLU(),
            BlurDownsample(c, filt_size=3, stride=2),
            nn.Conv2d(c, 2 * c, 1, stride=1, padding=0, bias=bias),
        )
        self.bot = nn.Sequential(BlurDownsample(c, filt_size=3, stride=2),
                                 nn.Conv2d(c, 2 * c, 1, stride=1, padding=0, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(x) + self.bot(x)


class ResidualUpSample(nn.Module):
    """Double the resolution and halve the channels: ``(N, C, H, W) -> (N, C/2, 2H, 2W)``."""

    def __init__(self, in_channels: int, bias: bool = False):
        super().__init__()
        c = in_channels
        self.top = nn.Sequential(
            nn.Conv2d(c, c, 1, stride=1, padding=0, bias=bias), nn.PReLU(),
            nn.ConvTranspose2d(c, c, 3, stride=2, padding=1, output_padding=1, bias=bias), nn.PReLU(),
            nn.Conv2d(c, c // 2, 1, stride=1, padding=0, bias=bias),
        )
        self.bot = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=bias),
                                 nn.Conv2d(c, c // 2, 1, stride=1, padding=0, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.top(x) + self.bot(x)


class DownSample(nn.Module):
    """``log2(scale_factor)`` chained :class:`ResidualDownSample` steps."""

    def __init__(self, in_channels: int, scale_factor: int, stride: int = 2):
        super().__init__()
        steps = []
        for _ in range(int(math.log2(scale_factor))):
            steps.append(ResidualDownSample(in_channels))
            in_channels = int(in_channels * stride)
        self.body = nn.Sequential(*steps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class UpSample(nn.Module):
    """``log2(scale_factor)`` chained :class:`ResidualUpSample` steps."""

    def __init__(self, in_channels: int, scale_factor: int, stride: int = 2):
        super().__init__()
        steps = []
        for _ in range(int(math.log2(scale_factor))):
            steps.append(ResidualUpSample(in_channels))
            in_channels = int(in_channels // stride)
        self.body = nn.Sequential(*steps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class MSRB(nn.Module):
    """Multi-scale residual block: ``height`` parallel streams (C, 2C, 4C, ... channels at full,
    1/2, 1/4, ... resolution) of ``width`` DAUs each, exchanged through SKFF, fused back to full
    resolution. Shape-preserving; H and W must be divisible by ``2**(height-1)``.
    """

    def __init__(self, n_feat: int, height: int, width: int, stride: int, bias: bool, act: nn.Module):
        super().__init__()
        self.n_feat, self.height, self.width = n_feat, height, width
        feats = [int(n_feat * stride ** i) for i in range(height)]
        # one DAU per stream, repeated ``width`` times (the public grid reuses the same unit)
        self.blocks = nn.ModuleList([nn.ModuleList([DAU(c, act)] * width) for c in feats])

        scales = [2 ** i for i in range(1, height)]
        self.last_up = nn.ModuleDict()
        for i in range(1, height):
            self.last_up[str(i)] = UpSample(feats[i], 2 ** i, stride)

        scales_desc = scales[::-1]
        self.down = nn.ModuleDict()
        for level, c in enumerate(feats):
            for s in scales_desc[level:]:
                self.down[f"{c}_{s}"] = DownSample(c, s, stride)
        self.up = nn.ModuleDict()
        for level, c in enumerate(feats[::-1]):
            for s in scales_desc[level:]:
                self.up[f"{c}_{s}"] = UpSample(c, s, stride)

        self.conv_out = nn.Conv2d(n_feat, n_feat, kernel_size=3, padding=1, bias=bias)
        self.selective_kernel = nn.ModuleList([SKFF(c, height) for c in feats])

    def _resample(self, t: torch.Tensor, target: int, source: int) -> torch.Tensor:
        """Bring stream ``source`` to the resolution/width of stream ``target``."""
        if target == source:
            return t
        factor = 2 ** abs(target - source)
        table = self.up if target < source else self.down
        return table[f"{t.shape[1]}_{factor}"](t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # first column: a chain going down the scales
        streams = []
        cur = x
        for j in range(self.height):
            if j > 0:
                cur = self.down[f"{cur.shape[1]}_2"](cur)
            cur = self.blocks[j][0](cur)
            streams.append(cur)
        # remaining columns: mesh exchange through SKFF, then one DAU per stream
        for col in range(1, self.width):
            mixed = [self.selective_kernel[j]([self._resample(streams[k], j, k) for k in range(self.height)])
                     for j in range(self.height)]
            streams = [self.blocks[j][col](mixed[j]) for j in range(self.height)]
        # bring every stream to full resolution and fuse
        full = [s if k == 0 else self.last_up[str(k)](s) for k, s in enumerate(streams)]
        out = self.conv_out(self.selective_kernel[0](full))
        return out + x


class RRG(nn.Module):
    """Recursive residual group: ``n_MSRB`` MSRBs and a 3x3 conv, with a residual connection."""

    def __init__(self, n_feat: int, n_MSRB: int, height: int, width: int, stride: int, bias: bool = False,
                 act: nn.Module | None = None):
        super().__init__()
        act = nn.PReLU() if act is None else act
        layers: list[nn.Module] = [MSRB(n_feat, height, width, stride, bias, act) for _ in range(n_MSRB)]
        layers.append(_same_conv(n_feat, n_feat, 3))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


class MIRNet(nn.Module):
    """MIRNet: ``rgb (N, 3, H, W) -> cube (N, 31, H, W)`` for any H, W.

    The input is reflect-padded on the bottom/right to a multiple of 8 and the output cropped back.

    Args:
        in_channels: input channels (3).
        out_channels: output channels (31).
        n_feat: feature width (31; the global residual needs ``n_feat == out_channels``).
        kernel_size: kernel of the input/output convolutions.
        stride: channel growth factor between scales.
        n_RRG: number of recursive residual groups (the paper's zoo uses 3).
        n_MSRB: MSRBs per group.
        height: number of scales per MSRB.
        width: DAU columns per MSRB.
        bias: use biases in the convolutions.
    """

    pad_multiple = 8

    def __init__(self, in_channels: int = 3, out_channels: int = 31, n_feat: int = 31, kernel_size: int = 3,
                 stride: int = 2, n_RRG: int = 2, n_MSRB: int = 1, height: int = 3, width: int = 1,
                 bias: bool = False):
        super().__init__()
        pad = (kernel_size - 1) // 2
        self.conv_in = nn.Conv2d(in_channels, n_feat, kernel_size=kernel_size, padding=pad, bias=bias)
        shared_act = nn.PReLU()  # one slope shared by every DAU, as in the public implementation
        self.body = nn.Sequential(
            *[RRG(n_feat, n_MSRB, height, width, stride, bias, act=shared_act) for _ in range(n_RRG)])
        self.conv_out = nn.Conv2d(n_feat, out_channels, kernel_size=kernel_size, padding=pad, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N, 3, H, W) -> (N, 31, H, W)``."""
        h, w = x.shape[-2:]
        m = self.pad_multiple
        x = pad_to_multiple(x, m)
        feat = self.conv_in(x)
        out = self.conv_out(self.body(feat)) + feat
        return out[:, :, :h, :w]
