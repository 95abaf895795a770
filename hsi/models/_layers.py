"""Small layers shared by several networks of the zoo (state_dict names as the public implementations)."""
from __future__ import annotations

import torch
from torch import nn


class ChannelAttention(nn.Module):
    """Squeeze-and-excitation channel gate: global average pool, 1x1 conv down by ``reduction``, ReLU,
    1x1 conv up, sigmoid, multiply. Used by MIRNet (``ChannelAttention``) and MPRNet (``CALayer``).

    Shape-preserving: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channel: int, reduction: int = 8, bias: bool = True):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv_du = nn.Sequential(
            nn.Conv2d(channel, channel // reduction, 1, padding=0, bias=bias),
            nn.ReLU(inplace=True),
            nn.Conv2d(channel // reduction, channel, 1, padding=0, bias=bias),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.conv_du(self.avg_pool(x))
