"""HSCNN+ (HSCNN-D variant): dense path-fusion network for spectral reconstruction from RGB.

Paper: Z. Shi, C. Chen, Z. Xiong, D. Liu, F. Wu, "HSCNN+: Advanced CNN-Based Hyperspectral Recovery
from RGB Images", CVPR Workshops (NTIRE) 2018.

Follows the public implementation of the MST++ toolbox (``caiyuanhao1998/MST-plus-plus``,
``train_code/architecture/HSCNN_Plus.py``), used unchanged by ``vccimaging/OpticsAwareHSI-Analysis``:
a two-path feature extractor (3x3 then 1x1 convolutions, 128 channels in total), 30 densely
connected path-fusion blocks, each adding 32 channels, and a final 1x1 projection to 31 bands.
All convolutions are bias-free; the ``state_dict`` layout (``ddfn.*``, ``conv_out``) is that of the
public implementation.

Every convolution is stride 1 with 'same' padding, so any H, W works without extra padding.
"""
from __future__ import annotations

import torch
from torch import nn


def _conv(in_ch: int, out_ch: int, kernel_size: int) -> nn.Conv2d:
    """Bias-free stride-1 convolution with 'same' zero padding (kernel 1 or 3)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size, stride=1, padding=kernel_size // 2, bias=False)


class dfus_block(nn.Module):
    """Dense path-fusion block: ``(N, C, H, W) -> (N, C + 32, H, W)``.

    A 1x1 bottleneck to 128 channels feeds two identical paths (3x3 -> 32, then 1x1 -> 16); the four
    intermediate maps (32 + 16 + 32 + 16 = 96 channels) are fused by a 1x1 convolution into 32 new
    channels, which are appended to the input (dense connectivity). ReLU after every convolution.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.conv1 = _conv(dim, 128, 1)
        self.conv_up1 = _conv(128, 32, 3)
        self.conv_up2 = _conv(32, 16, 1)
        self.conv_down1 = _conv(128, 32, 3)
        self.conv_down2 = _conv(32, 16, 1)
        self.conv_fution = _conv(96, 32, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bottleneck = self.relu(self.conv1(x))
        a1 = self.relu(self.conv_up1(bottleneck))
        a2 = self.relu(self.conv_up2(a1))
        b1 = self.relu(self.conv_down1(bottleneck))
        b2 = self.relu(self.conv_down2(b1))
        fused = self.relu(self.conv_fution(torch.cat((a1, a2, b1, b2), dim=1)))
        return torch.cat((x, fused), dim=1)


class ddfn(nn.Module):
    """Feature extraction plus the dense fusion trunk: ``(N, dim, H, W) -> (N, 128 + 32 * num_blocks, H, W)``."""

    def __init__(self, dim: int, num_blocks: int = 78):
        super().__init__()
        self.conv_up1 = _conv(dim, 32, 3)
        self.conv_up2 = _conv(32, 32, 1)
        self.conv_down1 = _conv(dim, 32, 3)
        self.conv_down2 = _conv(32, 32, 1)
        self.dfus_blocks = nn.Sequential(*(dfus_block(128 + 32 * i) for i in range(num_blocks)))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a1 = self.relu(self.conv_up1(x))
        a2 = self.relu(self.conv_up2(a1))
        b1 = self.relu(self.conv_down1(x))
        b2 = self.relu(self.conv_down2(b1))
        return self.dfus_blocks(torch.cat((a1, a2, b1, b2), dim=1))


class HSCNN_Plus(nn.Module):
    """HSCNN+ (HSCNN-D): ``(N, in_channels, H, W) -> (N, out_channels, H, W)`` for any H, W.

    Args:
        in_channels: input channels (3, RGB).
        out_channels: output bands (31).
        num_blocks: number of dense path-fusion blocks (30).
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 31, num_blocks: int = 30):
        super().__init__()
        self.ddfn = ddfn(dim=in_channels, num_blocks=num_blocks)
        self.conv_out = _conv(128 + 32 * num_blocks, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N, 3, H, W)`` -> ``(N, 31, H, W)``."""
        return self.conv_out(self.ddfn(x))
