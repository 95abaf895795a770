"""Small layers shared by several networks of the zoo (state_dict names as the public implementations)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad the bottom and right of ``x: (N, C, H, W)`` up to multiples of ``multiple``
    (as the public MST++, MST, HySAT, MSFN, SSTHyper, HINet, MIRNet, MPRNet, Restormer and HRNet forwards
    do); crop back with ``[..., :H, :W]``.

    A single reflect pass needs the pad to be smaller than the side (the public code fails below
    that); for smaller inputs the pass is repeated, which equals the single pass wherever that one is
    defined. A side of length 1 has nothing to reflect and is replicated.
    """
    pad_h, pad_w = (-x.shape[-2]) % multiple, (-x.shape[-1]) % multiple
    while pad_h or pad_w:
        ph, pw = min(pad_h, x.shape[-2] - 1), min(pad_w, x.shape[-1] - 1)
        if (pad_h and ph <= 0) or (pad_w and pw <= 0):
            return F.pad(x, [0, pad_w, 0, pad_h], mode="replicate")
        x = F.pad(x, [0, pw, 0, ph], mode="reflect")
        pad_h, pad_w = pad_h - ph, pad_w - pw
    return x


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
