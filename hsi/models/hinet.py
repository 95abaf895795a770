"""HINet for RGB-to-hyperspectral reconstruction.

Paper: L. Chen, X. Lu, J. Zhang, X. Chu, C. Chen, "HINet: Half Instance Normalization Network for
Image Restoration", CVPR Workshops (NTIRE) 2021.

This module follows the spectral-reconstruction variant of the MST++ toolbox
(caiyuanhao1998/MST-plus-plus, ``train_code/architecture/hinet.py``) as used by
vccimaging/OpticsAwareHSI-Analysis (``architecture/hinet.py``): a 3->31 input convolution, then two
U-Net stages built from half-instance-normalisation (HIN) blocks, linked by a supervised
attention module (SAM) and cross-stage feature fusion (CSFF), and a global residual on the
embedded input. Attribute names and registration order reproduce the published ``state_dict``.
"""
from __future__ import annotations

import torch
from torch import nn

from ._layers import pad_to_multiple

__all__ = ["HINet"]


class SAM(nn.Module):
    """Supervised attention module between the two stages (all convs ``n_feat -> n_feat``).

    ``forward(x, x_img) -> (attended features, stage image)``, both ``(N, n_feat, H, W)``.
    """

    def __init__(self, n_feat: int, kernel_size: int = 3, bias: bool = True):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(n_feat, n_feat, kernel_size, padding=pad, bias=bias)
        self.conv2 = nn.Conv2d(n_feat, n_feat, kernel_size, padding=pad, bias=bias)
        self.conv3 = nn.Conv2d(n_feat, n_feat, kernel_size, padding=pad, bias=bias)

    def forward(self, x: torch.Tensor, x_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.conv2(x) + x_img
        gate = torch.sigmoid(self.conv3(img))
        return self.conv1(x) * gate + x, img


class UNetConvBlock(nn.Module):
    """Two 3x3 conv + LeakyReLU layers with a 1x1 shortcut; optional HIN, CSFF and 4x4/2 down-conv.

    With HIN, instance normalisation (affine) is applied to the first ``ceil(out/2)`` channels of
    the first conv's output. ``forward(x, enc=None, dec=None)`` returns ``(down, full)`` when the
    block down-samples (``down`` at half resolution), else the full-resolution output.
    """

    def __init__(self, in_size: int, out_size: int, downsample: bool, relu_slope: float,
                 use_csff: bool = False, use_HIN: bool = False):
        super().__init__()
        self.identity = nn.Conv2d(in_size, out_size, 1, 1, 0)
        self.use_csff = use_csff
        self.conv_1 = nn.Conv2d(in_size, out_size, kernel_size=3, padding=1, bias=True)
        self.relu_1 = nn.LeakyReLU(relu_slope, inplace=False)
        self.conv_2 = nn.Conv2d(out_size, out_size, kernel_size=3, padding=1, bias=True)
        self.relu_2 = nn.LeakyReLU(relu_slope, inplace=False)
        if downsample and use_csff:
            self.csff_enc = nn.Conv2d(out_size, out_size, 3, 1, 1)
            self.csff_dec = nn.Conv2d(out_size, out_size, 3, 1, 1)
        self.use_HIN = use_HIN
        if use_HIN:
            self.norm = nn.InstanceNorm2d((out_size + 1) // 2, affine=True)
        self.downsample = (nn.Conv2d(out_size, out_size, kernel_size=4, stride=2, padding=1, bias=False)
                           if downsample else None)

    def forward(self, x: torch.Tensor, enc: torch.Tensor | None = None, dec: torch.Tensor | None = None):
        out = self.conv_1(x)
        if self.use_HIN:
            first, second = torch.chunk(out, 2, dim=1)
            out = torch.cat([self.norm(first), second], dim=1)
        out = self.relu_1(out)
        out = self.relu_2(self.conv_2(out))
        out = out + self.identity(x)
        if enc is not None and dec is not None:
            if not self.use_csff:
                raise RuntimeError("cross-stage features given to a block without CSFF convolutions")
            out = out + self.csff_enc(enc) + self.csff_dec(dec)
        if self.downsample is not None:
            return self.downsample(out), out
        return out


class UNetUpBlock(nn.Module):
    """2x transposed-conv up-sampling, concatenation with the skip, and a plain conv block."""

    def __init__(self, in_size: int, out_size: int, relu_slope: float):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_size, out_size, kernel_size=2, stride=2, bias=True)
        self.conv_block = UNetConvBlock(in_size, out_size, False, relu_slope)

    def forward(self, x: torch.Tensor, bridge: torch.Tensor) -> torch.Tensor:
        return self.conv_block(torch.cat([self.up(x), bridge], dim=1))


class HINet(nn.Module):
    """Two-stage HINet: ``rgb (N, 3, H, W) -> cube (N, 31, H, W)`` for any H, W.

    The input is reflect-padded on the bottom/right to a multiple of 16 and the output cropped back.

    Args:
        in_chn: channels of the embedded input (31).
        out_chn: output channels (31).
        wf: width of the first U-Net level (doubles per level).
        depth: number of U-Net levels (the paper's zoo uses 4).
        relu_slope: LeakyReLU negative slope.
        hin_position_left, hin_position_right: encoder levels (inclusive) that use HIN.
    """

    pad_multiple = 16

    def __init__(self, in_chn: int = 31, out_chn: int = 31, wf: int = 31, depth: int = 4, relu_slope: float = 0.2,
                 hin_position_left: int = 0, hin_position_right: int = 4):
        super().__init__()
        self.conv_in = nn.Conv2d(3, in_chn, kernel_size=3, padding=1, bias=False)
        self.depth = depth
        self.down_path_1 = nn.ModuleList()
        self.down_path_2 = nn.ModuleList()
        self.conv_01 = nn.Conv2d(in_chn, wf, 3, 1, 1)
        self.conv_02 = nn.Conv2d(in_chn, wf, 3, 1, 1)

        prev = wf
        for i in range(depth):
            use_hin = hin_position_left <= i <= hin_position_right
            down = i + 1 < depth
            width = (2 ** i) * wf
            self.down_path_1.append(UNetConvBlock(prev, width, down, relu_slope, use_HIN=use_hin))
            self.down_path_2.append(UNetConvBlock(prev, width, down, relu_slope, use_csff=down, use_HIN=use_hin))
            prev = width

        self.up_path_1 = nn.ModuleList()
        self.up_path_2 = nn.ModuleList()
        self.skip_conv_1 = nn.ModuleList()
        self.skip_conv_2 = nn.ModuleList()
        for i in reversed(range(depth - 1)):
            width = (2 ** i) * wf
            self.up_path_1.append(UNetUpBlock(prev, width, relu_slope))
            self.up_path_2.append(UNetUpBlock(prev, width, relu_slope))
            self.skip_conv_1.append(nn.Conv2d(width, width, 3, 1, 1))
            self.skip_conv_2.append(nn.Conv2d(width, width, 3, 1, 1))
            prev = width
        self.sam12 = SAM(prev)
        self.cat12 = nn.Conv2d(prev * 2, prev, 1, 1, 0)
        self.last = nn.Conv2d(prev, out_chn, kernel_size=3, stride=1, padding=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N, 3, H, W) -> (N, 31, H, W)``."""
        h, w = x.shape[-2:]
        m = self.pad_multiple
        x = pad_to_multiple(x, m)
        image = self.conv_in(x)

        # stage 1: U-Net, keeping encoder skips and decoder outputs for stage 2
        feat = self.conv_01(image)
        enc_skips = []
        for block in self.down_path_1[:-1]:
            feat, skip = block(feat)
            enc_skips.append(skip)
        feat = self.down_path_1[-1](feat)
        dec_outs = []
        for up, skip_conv, skip in zip(self.up_path_1, self.skip_conv_1, reversed(enc_skips)):
            feat = up(feat, skip_conv(skip))
            dec_outs.append(feat)
        sam_feat, _ = self.sam12(feat, image)

        # stage 2: U-Net with cross-stage feature fusion
        feat = self.cat12(torch.cat([self.conv_02(image), sam_feat], dim=1))
        skips = []
        for i, block in enumerate(self.down_path_2[:-1]):
            feat, skip = block(feat, enc_skips[i], dec_outs[-i - 1])
            skips.append(skip)
        feat = self.down_path_2[-1](feat)
        for up, skip_conv, skip in zip(self.up_path_2, self.skip_conv_2, reversed(skips)):
            feat = up(feat, skip_conv(skip))

        out = self.last(feat) + image
        return out[:, :, :h, :w]
