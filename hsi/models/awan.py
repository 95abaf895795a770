"""AWAN: Adaptive Weighted Attention Network for spectral reconstruction from RGB.

Paper: J. Li, C. Wu, R. Song, Y. Li, F. Liu, "Adaptive Weighted Attention Network with Camera
Spectral Sensitivity Prior for Spectral Reconstruction from RGB Images", CVPR Workshops (NTIRE) 2020.

Follows the public implementation of the MST++ toolbox (``caiyuanhao1998/MST-plus-plus``,
``train_code/architecture/AWAN.py``), used unchanged by ``vccimaging/OpticsAwareHSI-Analysis``:
8 dual residual attention blocks (DRAB) of 96 channels with adaptive weighted channel attention
(AWCA), reflection-padded bias-free convolutions, PReLU activations, and a patch-level second-order
non-local module (PSNL) on the 31-band output. As in that implementation the camera-SSF prior loss
of the paper is not part of the network. The ``state_dict`` layout is that of the public code.

Any H, W works: convolutions use reflection padding (needs H, W >= 5) and PSNL splits the map into
four quadrants of sizes ``floor(H/2)`` / ``ceil(H/2)`` (same for W). Memory of PSNL grows with
``(H*W/4)**2``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class AWCA(nn.Module):
    """Adaptive weighted channel attention: ``(N, C, H, W) -> (N, C, H, W)``.

    Channel descriptors are a spatially weighted sum of the features, with weights given by a
    softmax over the pixels of a 1x1-convolution score map (instead of plain average pooling);
    a two-layer bottleneck (PReLU, sigmoid) turns them into per-channel gates.
    """

    def __init__(self, channel: int, reduction: int = 16):
        super().__init__()
        self.conv = nn.Conv2d(channel, 1, 1, bias=False)
        self.softmax = nn.Softmax(dim=2)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction, bias=False),
            nn.PReLU(),
            nn.Linear(channel // reduction, channel, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        weights = self.softmax(self.conv(x).reshape(n, 1, h * w))          # (N, 1, HW)
        descriptor = torch.bmm(x.reshape(n, c, h * w), weights.transpose(1, 2)).reshape(n, c)
        gate = self.fc(descriptor).reshape(n, c, 1, 1)
        return x * gate


class NONLocalBlock2D(nn.Module):
    """Second-order non-local block: ``(N, C, H, W) -> (N, C, H, W)`` (residual).

    The pixel affinity is the covariance-like matrix ``(T - mean_c T) T^T / C'`` of the embedded
    features ``T = theta(x)`` (C' = C // reduction channels, mean over channels per pixel), softmax-
    normalised over the pixels; it aggregates ``g(x)`` and a zero-initialised 1x1 convolution ``W``
    maps the result back to C channels before the residual addition.
    """

    def __init__(self, in_channels: int, reduction: int = 8, bn_layer: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.inter_channels = max(in_channels // reduction, 1)
        self.g = nn.Conv2d(in_channels, self.inter_channels, 1, bias=False)
        if bn_layer:
            self.W = nn.Sequential(nn.Conv2d(self.inter_channels, in_channels, 1, bias=False),
                                   nn.BatchNorm2d(in_channels))
            nn.init.zeros_(self.W[1].weight)
            nn.init.zeros_(self.W[1].bias)
        else:
            self.W = nn.Conv2d(self.inter_channels, in_channels, 1, bias=False)
            nn.init.zeros_(self.W.weight)
        self.theta = nn.Conv2d(in_channels, self.inter_channels, 1, bias=False)

    @staticmethod
    def second_order_affinity(t: torch.Tensor) -> torch.Tensor:
        """``t: (N, P, C')`` pixel embeddings -> ``(N, P, P)`` affinity ``(t - mean) t^T / C'``."""
        centred = t - t.mean(dim=2, keepdim=True)
        return torch.bmm(centred, t.transpose(1, 2)) / t.shape[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        values = self.g(x).reshape(n, self.inter_channels, h * w).transpose(1, 2)   # (N, P, C')
        embed = self.theta(x).reshape(n, self.inter_channels, h * w).transpose(1, 2)
        attn = F.softmax(self.second_order_affinity(embed), dim=-1)                 # (N, P, P)
        agg = torch.bmm(attn, values).transpose(1, 2).reshape(n, self.inter_channels, h, w)
        return x + self.W(agg)


class PSNL(nn.Module):
    """Patch-level second-order non-local module: the shared non-local block runs separately on the
    four quadrants (split at ``H // 2``, ``W // 2``). ``(N, C, H, W) -> (N, C, H, W)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.non_local = NONLocalBlock2D(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h_half, w_half = x.shape[2] // 2, x.shape[3] // 2
        rows = []
        for part in (x[:, :, :h_half], x[:, :, h_half:]):
            left = self.non_local(part[:, :, :, :w_half])
            right = self.non_local(part[:, :, :, w_half:])
            rows.append(torch.cat((left, right), dim=3))
        return torch.cat(rows, dim=2)


class Conv3x3(nn.Module):
    """Bias-free convolution preceded by reflection padding that keeps the size at stride 1
    (despite the name, any odd ``kernel_size``). ``(N, in_dim, H, W) -> (N, out_dim, H, W)``."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(dilation * (kernel_size - 1) // 2)
        self.conv2d = nn.Conv2d(in_dim, out_dim, kernel_size, stride, dilation=dilation, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class DRAB(nn.Module):
    """Dual residual attention block.

    ``forward(x, res) -> (x_out, res_out)``, all ``(N, C, H, W)``: a residual pair of 3x3
    convolutions, then a k1 x k1 convolution whose output is added to the running ``res`` stream
    (and becomes the new ``res``), AWCA, and a k2 x k2 convolution added back to the block input.
    """

    def __init__(self, in_dim: int, out_dim: int, res_dim: int, k1_size: int = 3, k2_size: int = 1,
                 dilation: int = 1):
        super().__init__()
        self.conv1 = Conv3x3(in_dim, in_dim, 3, 1)
        self.relu1 = nn.PReLU()
        self.conv2 = Conv3x3(in_dim, in_dim, 3, 1)
        self.relu2 = nn.PReLU()
        self.up_conv = Conv3x3(in_dim, res_dim, kernel_size=k1_size, stride=1, dilation=dilation)
        self.up_relu = nn.PReLU()
        self.se = AWCA(res_dim)
        self.down_conv = Conv3x3(res_dim, out_dim, kernel_size=k2_size, stride=1)
        self.down_relu = nn.PReLU()

    def forward(self, x: torch.Tensor, res: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = x
        y = self.relu2(self.conv2(self.relu1(self.conv1(x))) + skip)
        res = self.up_relu(self.up_conv(y) + res)
        y = self.down_relu(self.down_conv(self.se(res)) + skip)
        return y, res


class AWAN(nn.Module):
    """AWAN: ``(N, inplanes, H, W) -> (N, planes, H, W)``.

    Args:
        inplanes: input channels (3, RGB).
        planes: output bands (31).
        channels: feature width (96).
        n_DRBs: number of DRAB blocks (8).
    """

    def __init__(self, inplanes: int = 3, planes: int = 31, channels: int = 96, n_DRBs: int = 8):
        super().__init__()
        self.input_conv2D = Conv3x3(inplanes, channels, 3, 1)
        self.input_prelu2D = nn.PReLU()
        self.head_conv2D = Conv3x3(channels, channels, 3, 1)
        self.backbone = nn.ModuleList(
            DRAB(in_dim=channels, out_dim=channels, res_dim=channels, k1_size=5, k2_size=3, dilation=1)
            for _ in range(n_DRBs))
        self.tail_conv2D = Conv3x3(channels, channels, 3, 1)
        self.output_prelu2D = nn.PReLU()
        self.output_conv2D = Conv3x3(channels, planes, 3, 1)
        self.tail_nonlocal = PSNL(planes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N, 3, H, W)`` -> ``(N, 31, H, W)``."""
        head = self.head_conv2D(self.input_prelu2D(self.input_conv2D(x)))
        feat, res = head, head
        for block in self.backbone:
            feat, res = block(feat, res)
        feat = self.tail_conv2D(feat) + head
        out = self.output_conv2D(self.output_prelu2D(feat))
        return self.tail_nonlocal(out)
