"""EDSR adapted to RGB-to-hyperspectral reconstruction.

Paper: B. Lim, S. Son, H. Kim, S. Nah, K. M. Lee, "Enhanced Deep Residual Networks for Single Image
Super-Resolution", CVPR Workshops (NTIRE) 2017.

Follows the configuration of the MST++ toolbox (``caiyuanhao1998/MST-plus-plus``,
``train_code/architecture/edsr.py``) as used by ``vccimaging/OpticsAwareHSI-Analysis``: no upsampler,
32 residual blocks of 64 features without batch norm, a 3 -> 31 channel mapping at full resolution.
The ``state_dict`` layout (``head.0``, ``body.<i>.body.{0,2}``, ``body.32``, ``tail.0``) is that of
the public implementation, so its checkpoints load with ``strict=True``.

The network is fully convolutional with 'same' padding, so any H, W works without extra padding.
"""
from __future__ import annotations

import torch
from torch import nn


def _same_conv(in_ch: int, out_ch: int, kernel_size: int, bias: bool = True) -> nn.Conv2d:
    """Stride-1 convolution that keeps the spatial size (zero padding ``kernel_size // 2``)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=bias)


class ResBlock(nn.Module):
    """conv -> ReLU -> conv, scaled by ``res_scale`` and added to the input: (N, C, H, W) -> same."""

    def __init__(self, n_feats: int, kernel_size: int = 3, bias: bool = True, bn: bool = False,
                 res_scale: float = 1.0):
        super().__init__()
        layers: list[nn.Module] = [_same_conv(n_feats, n_feats, kernel_size, bias)]
        if bn:
            layers.append(nn.BatchNorm2d(n_feats))
        layers.append(nn.ReLU(inplace=True))
        layers.append(_same_conv(n_feats, n_feats, kernel_size, bias))
        if bn:
            layers.append(nn.BatchNorm2d(n_feats))
        self.body = nn.Sequential(*layers)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class EDSR(nn.Module):
    """EDSR body mapping RGB to a 31-band cube at the same resolution.

    Args:
        in_channels: input channels (3, RGB).
        out_channels: output bands (31).
        n_feats: feature width (64).
        n_resblocks: number of residual blocks (32).
        kernel_size: convolution kernel size (3).
        res_scale: residual scaling inside the blocks (1).

    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H, W)`` for any H, W.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 31, n_feats: int = 64,
                 n_resblocks: int = 32, kernel_size: int = 3, res_scale: float = 1.0):
        super().__init__()
        self.head = nn.Sequential(_same_conv(in_channels, n_feats, kernel_size))
        blocks: list[nn.Module] = [ResBlock(n_feats, kernel_size, res_scale=res_scale)
                                   for _ in range(n_resblocks)]
        blocks.append(_same_conv(n_feats, n_feats, kernel_size))
        self.body = nn.Sequential(*blocks)
        self.tail = nn.Sequential(_same_conv(n_feats, out_channels, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N, 3, H, W)`` -> ``(N, 31, H, W)``."""
        feat = self.head(x)
        feat = feat + self.body(feat)  # global skip around the residual trunk
        return self.tail(feat)
