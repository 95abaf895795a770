"""MPRNet for RGB-to-hyperspectral reconstruction.

Paper: S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang, L. Shao,
"Multi-Stage Progressive Image Restoration", CVPR 2021.

This module follows the spectral-reconstruction variant of the MST++ toolbox
(caiyuanhao1998/MST-plus-plus, ``train_code/architecture/MPRNet.py``) as used by
vccimaging/OpticsAwareHSI-Analysis (``architecture/MPRNet.py``): a 3->31 input convolution, then
three stages working on 4 patches, 2 patches and the full image (encoder-decoders of channel
attention blocks in stages 1-2, an original-resolution subnetwork in stage 3), linked by
supervised attention modules and cross-stage feature fusion, with a global residual on the
embedded input. As in the public code, one PReLU module is shared by every channel attention
block of the network (its single slope is stored under each block's ``body.1.weight`` key but
counted once as a parameter). Attribute names and registration order reproduce the published
``state_dict``.
"""
from __future__ import annotations

import torch
from torch import nn

from ._layers import ChannelAttention, pad_to_multiple

__all__ = ["MPRNet"]


def _same_conv(cin: int, cout: int, kernel_size: int, bias: bool = False, stride: int = 1) -> nn.Conv2d:
    """Convolution with ``kernel_size // 2`` zero padding."""
    return nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=kernel_size // 2, bias=bias)


class CAB(nn.Module):
    """Channel attention block: conv-act-conv, channel gate, residual. Shape-preserving."""

    def __init__(self, n_feat: int, kernel_size: int, reduction: int, bias: bool, act: nn.Module):
        super().__init__()
        self.CA = ChannelAttention(n_feat, reduction, bias=bias)
        self.body = nn.Sequential(_same_conv(n_feat, n_feat, kernel_size, bias=bias), act,
                                  _same_conv(n_feat, n_feat, kernel_size, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.CA(self.body(x)) + x


class SAM(nn.Module):
    """Supervised attention module: ``forward(x, x_img) -> (attended x, stage image (N, 31, H, W))``."""

    def __init__(self, n_feat: int, kernel_size: int, bias: bool, img_channels: int = 31):
        super().__init__()
        self.conv1 = _same_conv(n_feat, n_feat, kernel_size, bias=bias)
        self.conv2 = _same_conv(n_feat, img_channels, kernel_size, bias=bias)
        self.conv3 = _same_conv(img_channels, n_feat, kernel_size, bias=bias)

    def forward(self, x: torch.Tensor, x_img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.conv2(x) + x_img
        gate = torch.sigmoid(self.conv3(img))
        return self.conv1(x) * gate + x, img


class DownSample(nn.Module):
    """Bilinear 1/2 down-scaling then 1x1 conv ``C -> C + s_factor``."""

    def __init__(self, in_channels: int, s_factor: int):
        super().__init__()
        self.down = nn.Sequential(nn.Upsample(scale_factor=0.5, mode="bilinear", align_corners=False),
                                  nn.Conv2d(in_channels, in_channels + s_factor, 1, stride=1, padding=0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(x)


class UpSample(nn.Module):
    """Bilinear 2x up-scaling then 1x1 conv ``C + s_factor -> C``."""

    def __init__(self, in_channels: int, s_factor: int):
        super().__init__()
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                nn.Conv2d(in_channels + s_factor, in_channels, 1, stride=1, padding=0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(x)


class SkipUpSample(UpSample):
    """:class:`UpSample` followed by the addition of a skip tensor."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.up(x) + y


class Encoder(nn.Module):
    """Three-level encoder of CABs (widths ``n, n+s, n+2s``); optional cross-stage fusion (CSFF).

    ``forward(x, encoder_outs=None, decoder_outs=None) -> [enc1, enc2, enc3]`` at full, 1/2, 1/4
    resolution.
    """

    def __init__(self, n_feat: int, kernel_size: int, reduction: int, act: nn.Module, bias: bool,
                 scale_unetfeats: int, csff: bool):
        super().__init__()
        widths = [n_feat + i * scale_unetfeats for i in range(3)]

        def level(c: int) -> nn.Sequential:
            return nn.Sequential(*[CAB(c, kernel_size, reduction, bias=bias, act=act) for _ in range(2)])

        self.encoder_level1 = level(widths[0])
        self.encoder_level2 = level(widths[1])
        self.encoder_level3 = level(widths[2])
        self.down12 = DownSample(widths[0], scale_unetfeats)
        self.down23 = DownSample(widths[1], scale_unetfeats)
        if csff:
            for i, c in enumerate(widths, start=1):
                setattr(self, f"csff_enc{i}", nn.Conv2d(c, c, kernel_size=1, bias=bias))
            for i, c in enumerate(widths, start=1):
                setattr(self, f"csff_dec{i}", nn.Conv2d(c, c, kernel_size=1, bias=bias))

    def forward(self, x: torch.Tensor, encoder_outs: list[torch.Tensor] | None = None,
                decoder_outs: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        fuse = encoder_outs is not None and decoder_outs is not None
        levels = (self.encoder_level1, self.encoder_level2, self.encoder_level3)
        downs = (self.down12, self.down23)
        outs = []
        for i, level in enumerate(levels):
            if i > 0:
                x = downs[i - 1](x)
            x = level(x)
            if fuse:
                x = (x + getattr(self, f"csff_enc{i + 1}")(encoder_outs[i])
                     + getattr(self, f"csff_dec{i + 1}")(decoder_outs[i]))
            outs.append(x)
        return outs


class Decoder(nn.Module):
    """Three-level decoder of CABs with CAB-attended skips: ``[enc1, enc2, enc3] -> [dec1, dec2, dec3]``."""

    def __init__(self, n_feat: int, kernel_size: int, reduction: int, act: nn.Module, bias: bool,
                 scale_unetfeats: int):
        super().__init__()
        widths = [n_feat + i * scale_unetfeats for i in range(3)]

        def cab(c: int) -> CAB:
            return CAB(c, kernel_size, reduction, bias=bias, act=act)

        self.decoder_level1 = nn.Sequential(cab(widths[0]), cab(widths[0]))
        self.decoder_level2 = nn.Sequential(cab(widths[1]), cab(widths[1]))
        self.decoder_level3 = nn.Sequential(cab(widths[2]), cab(widths[2]))
        self.skip_attn1 = cab(widths[0])
        self.skip_attn2 = cab(widths[1])
        self.up21 = SkipUpSample(widths[0], scale_unetfeats)
        self.up32 = SkipUpSample(widths[1], scale_unetfeats)

    def forward(self, outs: list[torch.Tensor]) -> list[torch.Tensor]:
        enc1, enc2, enc3 = outs
        dec3 = self.decoder_level3(enc3)
        dec2 = self.decoder_level2(self.up32(dec3, self.skip_attn2(enc2)))
        dec1 = self.decoder_level1(self.up21(dec2, self.skip_attn1(enc1)))
        return [dec1, dec2, dec3]


class ORB(nn.Module):
    """Original-resolution block: ``num_cab`` CABs and a 3x3 conv, with a residual connection."""

    def __init__(self, n_feat: int, kernel_size: int, reduction: int, act: nn.Module, bias: bool, num_cab: int):
        super().__init__()
        layers: list[nn.Module] = [CAB(n_feat, kernel_size, reduction, bias=bias, act=act) for _ in range(num_cab)]
        layers.append(_same_conv(n_feat, n_feat, kernel_size))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


class ORSNet(nn.Module):
    """Stage-3 original-resolution subnetwork: three ORBs, each followed by the fusion of the
    (up-sampled) stage-2 encoder and decoder features of one level."""

    def __init__(self, n_feat: int, scale_orsnetfeats: int, kernel_size: int, reduction: int, act: nn.Module,
                 bias: bool, scale_unetfeats: int, num_cab: int):
        super().__init__()
        width = n_feat + scale_orsnetfeats
        self.orb1 = ORB(width, kernel_size, reduction, act, bias, num_cab)
        self.orb2 = ORB(width, kernel_size, reduction, act, bias, num_cab)
        self.orb3 = ORB(width, kernel_size, reduction, act, bias, num_cab)

        self.up_enc1 = UpSample(n_feat, scale_unetfeats)
        self.up_dec1 = UpSample(n_feat, scale_unetfeats)
        self.up_enc2 = nn.Sequential(UpSample(n_feat + scale_unetfeats, scale_unetfeats),
                                     UpSample(n_feat, scale_unetfeats))
        self.up_dec2 = nn.Sequential(UpSample(n_feat + scale_unetfeats, scale_unetfeats),
                                     UpSample(n_feat, scale_unetfeats))

        for prefix in ("conv_enc", "conv_dec"):
            for i in (1, 2, 3):
                setattr(self, f"{prefix}{i}", nn.Conv2d(n_feat, width, kernel_size=1, bias=bias))

    def forward(self, x: torch.Tensor, encoder_outs: list[torch.Tensor],
                decoder_outs: list[torch.Tensor]) -> torch.Tensor:
        x = self.orb1(x)
        x = x + self.conv_enc1(encoder_outs[0]) + self.conv_dec1(decoder_outs[0])
        x = self.orb2(x)
        x = x + self.conv_enc2(self.up_enc1(encoder_outs[1])) + self.conv_dec2(self.up_dec1(decoder_outs[1]))
        x = self.orb3(x)
        x = x + self.conv_enc3(self.up_enc2(encoder_outs[2])) + self.conv_dec3(self.up_dec2(decoder_outs[2]))
        return x


class MPRNet(nn.Module):
    """Three-stage MPRNet: ``rgb (N, 3, H, W) -> cube (N, 31, H, W)`` for any H, W.

    The input is reflect-padded on the bottom/right to a multiple of 8 and the output cropped back.

    Args:
        in_c: channels of the embedded input (31).
        out_c: output channels (31).
        n_feat: base feature width.
        scale_unetfeats: channel increment per encoder level.
        scale_orsnetfeats: extra channels of the stage-3 subnetwork.
        num_cab: CABs per original-resolution block (the paper's zoo uses 4).
        kernel_size: convolution kernel size.
        reduction: channel-attention reduction.
        bias: use biases in the convolutions.
    """

    pad_multiple = 8

    def __init__(self, in_c: int = 31, out_c: int = 31, n_feat: int = 31, scale_unetfeats: int = 31,
                 scale_orsnetfeats: int = 31, num_cab: int = 4, kernel_size: int = 3, reduction: int = 1,
                 bias: bool = False):
        super().__init__()
        self.conv_in = nn.Conv2d(3, in_c, kernel_size=kernel_size, padding=(kernel_size - 1) // 2, bias=bias)

        act = nn.PReLU()  # a single slope shared by every CAB, as in the public implementation

        def shallow() -> nn.Sequential:
            return nn.Sequential(_same_conv(in_c, n_feat, kernel_size, bias=bias),
                                 CAB(n_feat, kernel_size, reduction, bias=bias, act=act))

        self.shallow_feat1 = shallow()
        self.shallow_feat2 = shallow()
        self.shallow_feat3 = shallow()

        self.stage1_encoder = Encoder(n_feat, kernel_size, reduction, act, bias, scale_unetfeats, csff=False)
        self.stage1_decoder = Decoder(n_feat, kernel_size, reduction, act, bias, scale_unetfeats)
        self.stage2_encoder = Encoder(n_feat, kernel_size, reduction, act, bias, scale_unetfeats, csff=True)
        self.stage2_decoder = Decoder(n_feat, kernel_size, reduction, act, bias, scale_unetfeats)
        self.stage3_orsnet = ORSNet(n_feat, scale_orsnetfeats, kernel_size, reduction, act, bias,
                                    scale_unetfeats, num_cab)

        self.sam12 = SAM(n_feat, kernel_size=1, bias=bias)
        self.sam23 = SAM(n_feat, kernel_size=1, bias=bias)
        self.concat12 = _same_conv(n_feat * 2, n_feat, kernel_size, bias=bias)
        self.concat23 = _same_conv(n_feat * 2, n_feat + scale_orsnetfeats, kernel_size, bias=bias)
        self.tail = _same_conv(n_feat + scale_orsnetfeats, out_c, kernel_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N, 3, H, W) -> (N, 31, H, W)``."""
        h, w = x.shape[-2:]
        m = self.pad_multiple
        x = pad_to_multiple(x, m)
        img3 = self.conv_in(x)
        H, W = img3.shape[-2:]
        hh, hw = H // 2, W // 2

        # stage 2 works on the top/bottom halves, stage 1 on the four quarters
        halves = [img3[:, :, :hh], img3[:, :, hh:]]
        quarters = [[half[..., :hw], half[..., hw:]] for half in halves]

        # ---- stage 1: encode each quarter, join left/right, decode each half
        feat1, res1, sam_feats1 = [], [], []
        for half_img, (left, right) in zip(halves, quarters):
            enc_l = self.stage1_encoder(self.shallow_feat1(left))
            enc_r = self.stage1_encoder(self.shallow_feat1(right))
            joined = [torch.cat((a, b), dim=3) for a, b in zip(enc_l, enc_r)]
            dec = self.stage1_decoder(joined)
            sam_feat, _ = self.sam12(dec[0], half_img)
            feat1.append(joined)
            res1.append(dec)
            sam_feats1.append(sam_feat)

        # ---- stage 2: encode each half (with CSFF from stage 1), join top/bottom, decode
        enc2 = []
        for half_img, sam_feat, f1, r1 in zip(halves, sam_feats1, feat1, res1):
            start = self.concat12(torch.cat([self.shallow_feat2(half_img), sam_feat], dim=1))
            enc2.append(self.stage2_encoder(start, f1, r1))
        feat2 = [torch.cat((a, b), dim=2) for a, b in zip(*enc2)]
        res2 = self.stage2_decoder(feat2)
        sam_feat3, _ = self.sam23(res2[0], img3)

        # ---- stage 3: original-resolution subnetwork
        feat3 = self.concat23(torch.cat([self.shallow_feat3(img3), sam_feat3], dim=1))
        feat3 = self.stage3_orsnet(feat3, feat2, res2)
        out = self.tail(feat3) + img3
        return out[:, :, :h, :w]
