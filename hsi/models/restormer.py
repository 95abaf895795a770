"""Restormer for RGB-to-hyperspectral reconstruction.

Paper: S. W. Zamir, A. Arora, S. Khan, M. Hayat, F. S. Khan, M.-H. Yang,
"Restormer: Efficient Transformer for High-Resolution Image Restoration", CVPR 2022.

This module follows the spectral-reconstruction variant of the MST++ toolbox
(caiyuanhao1998/MST-plus-plus, ``train_code/architecture/Restormer.py``) as used by
vccimaging/OpticsAwareHSI-Analysis (``architecture/Restormer.py``): a four-level U-shaped
transformer of multi-Dconv head transposed attention (MDTA) and gated-Dconv feed-forward (GDFN)
blocks, with refinement blocks and the "dual-pixel" skip convolution enabled (the published
default), mapping 3 input channels to 31 output channels. Attribute names and registration order
reproduce the published ``state_dict``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._layers import pad_to_multiple

__all__ = ["Restormer"]


class BiasFree_LayerNorm(nn.Module):
    """Scale-only layer norm over the last dimension (variance not mean-centred), eps 1e-5."""

    def __init__(self, normalized_shape: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.normalized_shape = (normalized_shape,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.var(-1, keepdim=True, unbiased=False)
        return x / torch.sqrt(var + 1e-5) * self.weight


class WithBias_LayerNorm(nn.Module):
    """Standard layer norm over the last dimension (biased variance, eps 1e-5)."""

    def __init__(self, normalized_shape: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.normalized_shape = (normalized_shape,)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(-1, keepdim=True)
        var = x.var(-1, keepdim=True, unbiased=False)
        return (x - mu) / torch.sqrt(var + 1e-5) * self.weight + self.bias


class LayerNorm(nn.Module):
    """Per-pixel layer norm over the channels of a ``(N, C, H, W)`` map."""

    def __init__(self, dim: int, LayerNorm_type: str):
        super().__init__()
        self.body = BiasFree_LayerNorm(dim) if LayerNorm_type == "BiasFree" else WithBias_LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class FeedForward(nn.Module):
    """Gated-Dconv feed-forward network: 1x1 expand to 2*hidden, 3x3 depthwise, GELU gate, 1x1 project."""

    def __init__(self, dim: int, ffn_expansion_factor: float, bias: bool):
        super().__init__()
        hidden = int(dim * ffn_expansion_factor)
        self.project_in = nn.Conv2d(dim, hidden * 2, kernel_size=1, bias=bias)
        self.dwconv = nn.Conv2d(hidden * 2, hidden * 2, kernel_size=3, stride=1, padding=1, groups=hidden * 2,
                                bias=bias)
        self.project_out = nn.Conv2d(hidden, dim, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(gate) * value)


class Attention(nn.Module):
    """Multi-Dconv head transposed attention: attention across channels (C/heads x C/heads per head),
    with L2-normalised queries/keys and a learnt per-head temperature. Shape-preserving."""

    def __init__(self, dim: int, num_heads: int, bias: bool):
        super().__init__()
        self.num_heads = num_heads
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, kernel_size=1, bias=bias)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, kernel_size=3, stride=1, padding=1, groups=dim * 3, bias=bias)
        self.project_out = nn.Conv2d(dim, dim, kernel_size=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        heads = self.num_heads
        q, k, v = (t.reshape(n, heads, c // heads, h * w) for t in self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)  # (N, heads, c', c')
        out = (attn @ v).reshape(n, c, h, w)
        return self.project_out(out)


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: ``x + MDTA(LN(x))`` then ``x + GDFN(LN(x))``."""

    def __init__(self, dim: int, num_heads: int, ffn_expansion_factor: float, bias: bool, LayerNorm_type: str):
        super().__init__()
        self.norm1 = LayerNorm(dim, LayerNorm_type)
        self.attn = Attention(dim, num_heads, bias)
        self.norm2 = LayerNorm(dim, LayerNorm_type)
        self.ffn = FeedForward(dim, ffn_expansion_factor, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class OverlapPatchEmbed(nn.Module):
    """3x3 convolutional embedding ``in_c -> embed_dim``."""

    def __init__(self, in_c: int = 3, embed_dim: int = 48, bias: bool = False):
        super().__init__()
        self.proj = nn.Conv2d(in_c, embed_dim, kernel_size=3, stride=1, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Downsample(nn.Module):
    """``(N, C, H, W) -> (N, 2C, H/2, W/2)``: 3x3 conv to C/2, then pixel-unshuffle by 2."""

    def __init__(self, n_feat: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(n_feat, n_feat // 2, kernel_size=3, stride=1, padding=1, bias=False),
                                  nn.PixelUnshuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """``(N, C, H, W) -> (N, C/2, 2H, 2W)``: 3x3 conv to 2C, then pixel-shuffle by 2."""

    def __init__(self, n_feat: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(n_feat, n_feat * 2, kernel_size=3, stride=1, padding=1, bias=False),
                                  nn.PixelShuffle(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Restormer(nn.Module):
    """Restormer: ``rgb (N, 3, H, W) -> cube (N, 31, H, W)`` for any H, W.

    The input is reflect-padded on the bottom/right to a multiple of 8 and the output cropped back.

    Args:
        inp_channels: input channels (3).
        out_channels: output channels (31).
        dim: width of level 1 (doubles per level).
        num_blocks: transformer blocks per level (1..4).
        num_refinement_blocks: refinement blocks at full resolution.
        heads: attention heads per level.
        ffn_expansion_factor: GDFN hidden expansion.
        bias: use biases in the convolutions.
        LayerNorm_type: ``'WithBias'`` or ``'BiasFree'``.
        dual_pixel_task: if True (the published default) the level-1 embedding is added through
            ``skip_conv`` before the output conv; otherwise the input image is added to the output
            (which needs ``inp_channels == out_channels``).
    """

    pad_multiple = 8

    def __init__(self, inp_channels: int = 3, out_channels: int = 31, dim: int = 48,
                 num_blocks: tuple[int, ...] | list[int] = (2, 3, 3, 4), num_refinement_blocks: int = 3,
                 heads: tuple[int, ...] | list[int] = (1, 2, 4, 8), ffn_expansion_factor: float = 2.66,
                 bias: bool = False, LayerNorm_type: str = "WithBias", dual_pixel_task: bool = True):
        super().__init__()

        def stack(width: int, n_heads: int, count: int) -> nn.Sequential:
            return nn.Sequential(*[TransformerBlock(width, n_heads, ffn_expansion_factor, bias, LayerNorm_type)
                                   for _ in range(count)])

        d1, d2, d3, d4 = dim, dim * 2, dim * 4, dim * 8
        self.patch_embed = OverlapPatchEmbed(inp_channels, dim)
        self.encoder_level1 = stack(d1, heads[0], num_blocks[0])
        self.down1_2 = Downsample(d1)
        self.encoder_level2 = stack(d2, heads[1], num_blocks[1])
        self.down2_3 = Downsample(d2)
        self.encoder_level3 = stack(d3, heads[2], num_blocks[2])
        self.down3_4 = Downsample(d3)
        self.latent = stack(d4, heads[3], num_blocks[3])

        self.up4_3 = Upsample(d4)
        self.reduce_chan_level3 = nn.Conv2d(d4, d3, kernel_size=1, bias=bias)
        self.decoder_level3 = stack(d3, heads[2], num_blocks[2])
        self.up3_2 = Upsample(d3)
        self.reduce_chan_level2 = nn.Conv2d(d3, d2, kernel_size=1, bias=bias)
        self.decoder_level2 = stack(d2, heads[1], num_blocks[1])
        self.up2_1 = Upsample(d2)  # level 1 keeps 2*dim channels (no channel reduction)
        self.decoder_level1 = stack(d2, heads[0], num_blocks[0])
        self.refinement = stack(d2, heads[0], num_refinement_blocks)

        self.dual_pixel_task = dual_pixel_task
        if dual_pixel_task:
            self.skip_conv = nn.Conv2d(d1, d2, kernel_size=1, bias=bias)
        self.output = nn.Conv2d(d2, out_channels, kernel_size=3, stride=1, padding=1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (N, 3, H, W) -> (N, 31, H, W)``."""
        h, w = x.shape[-2:]
        m = self.pad_multiple
        x = pad_to_multiple(x, m)

        emb = self.patch_embed(x)
        enc1 = self.encoder_level1(emb)
        enc2 = self.encoder_level2(self.down1_2(enc1))
        enc3 = self.encoder_level3(self.down2_3(enc2))
        lat = self.latent(self.down3_4(enc3))

        dec3 = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(lat), enc3], dim=1)))
        dec2 = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(dec3), enc2], dim=1)))
        dec1 = self.decoder_level1(torch.cat([self.up2_1(dec2), enc1], dim=1))
        dec1 = self.refinement(dec1)

        if self.dual_pixel_task:
            out = self.output(dec1 + self.skip_conv(emb))
        else:
            out = self.output(dec1) + x
        return out[:, :, :h, :w]
