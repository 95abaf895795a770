"""MSFN: multistage spatial-spectral fusion network for spectral super-resolution (RGB -> 31 bands).

Paper: Yaohang Wu, Renwei Dian, Shutao Li, "Multistage Spatial-Spectral Fusion Network for Spectral
Super-Resolution", IEEE Transactions on Neural Networks and Learning Systems, 2024
(doi 10.1109/TNNLS.2024.3460190).
Public implementation followed: Matsuri247/MSFN-for-Spectral-Super-Resolution
``train_code/architecture/MSFN.py`` as vendored by vccimaging/OpticsAwareHSI-Analysis
(``architecture/MSFN.py``). The state_dict layout (names, shapes, order, including the Swin relative
position indices and the 128x128 shifted-window masks) is that of the public class, so published
checkpoints load with ``strict=True``.

Structure: 3x3 conv 3 -> 31, ``stage`` stacked SSFN units, 3x3 conv 31 -> 31 with a global residual. An
SSFN unit is a spectral U-Net (MST++-style spectral-wise attention, two levels, skip connections merged
by a channel-gated "spectral fusion module") followed by a spatial U-Net (Swin window / shifted-window
attention, window 8, skip connections merged by a pixel-gated "spatial fusion module"); the spatial
encoder also takes the spectral decoder's features. Inputs are reflect-padded to a multiple of 32 (the
bottleneck, at 1/4 resolution, must hold whole 8x8 windows) and cropped back.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._mst_blocks import MS_MSA, MSAB, FeedForward, PreNorm, pad_to_multiple

__all__ = ["MSFN", "SSFN", "MSpectralAB", "MSpatialAB", "SwinTransformerBlock", "WindowAttention",
           "SpectralFM", "SpatialFM", "MS_MSA", "FeedForward", "PreNorm"]


class _Flatten(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1)


def _fuse(conv: nn.Conv2d, enc: Tensor, dec: Tensor, gate_enc: Tensor, gate_dec: Tensor) -> Tensor:
    """1x1 conv over [enc, dec, enc * sigmoid(gate_enc), dec * sigmoid(gate_dec)]."""
    return conv(torch.cat([enc, dec, enc * torch.sigmoid(gate_enc), dec * torch.sigmoid(gate_dec)], dim=1))


class SpectralFM(nn.Module):
    """Spectral fusion of an encoder skip and a decoder feature: per-channel gates from global average
    and max pooling (one linear layer each), averaged per input, then 1x1 conv of 4C -> C."""

    def __init__(self, channel: int):
        super().__init__()
        self.mlp_gap_enc = nn.Sequential(_Flatten(), nn.Linear(channel, channel))
        self.mlp_gmp_enc = nn.Sequential(_Flatten(), nn.Linear(channel, channel))
        self.mlp_gap_dec = nn.Sequential(_Flatten(), nn.Linear(channel, channel))
        self.mlp_gmp_dec = nn.Sequential(_Flatten(), nn.Linear(channel, channel))
        self.conv = nn.Conv2d(channel * 4, channel, 1, 1, bias=False)

    @staticmethod
    def _gate(x: Tensor, mlp_avg: nn.Module, mlp_max: nn.Module) -> Tensor:
        g = (mlp_avg(x.mean(dim=(2, 3))) + mlp_max(x.amax(dim=(2, 3)))) / 2.0
        return g[:, :, None, None]

    def forward(self, x_enc: Tensor, x_dec: Tensor) -> Tensor:
        return _fuse(self.conv, x_enc, x_dec,
                     self._gate(x_enc, self.mlp_gap_enc, self.mlp_gmp_enc),
                     self._gate(x_dec, self.mlp_gap_dec, self.mlp_gmp_dec))


class SpatialFM(nn.Module):
    """Spatial fusion: per-pixel gates from 3x3 convs of the channel mean and channel max, averaged per
    input, then 1x1 conv of 4C -> C."""

    def __init__(self, channel: int):
        super().__init__()
        self.conv_gap_enc = nn.Conv2d(1, 1, 3, 1, 1)
        self.conv_gmp_enc = nn.Conv2d(1, 1, 3, 1, 1)
        self.conv_gap_dec = nn.Conv2d(1, 1, 3, 1, 1)
        self.conv_gmp_dec = nn.Conv2d(1, 1, 3, 1, 1)
        self.conv = nn.Conv2d(channel * 4, channel, 1, 1, bias=False)

    @staticmethod
    def _gate(x: Tensor, conv_avg: nn.Module, conv_max: nn.Module) -> Tensor:
        return (conv_avg(x.mean(dim=1, keepdim=True)) + conv_max(x.amax(dim=1, keepdim=True))) / 2.0

    def forward(self, x_enc: Tensor, x_dec: Tensor) -> Tensor:
        return _fuse(self.conv, x_enc, x_dec,
                     self._gate(x_enc, self.conv_gap_enc, self.conv_gmp_enc),
                     self._gate(x_dec, self.conv_gap_dec, self.conv_gmp_dec))


# ----------------------------------------------------------------------------------------------------
# spectral branch: spectral-wise attention (MST++ S-MSA, position embedding from V)
# ----------------------------------------------------------------------------------------------------
MSpectralAB = MSAB
"""``num_blocks`` x (spectral attention + pre-norm feed-forward), residual, on ``(B, C, H, W)``: the public
MSFN re-types MST++'s ``MSAB`` (and ``MS_MSA``) with the same parameter names, so the shared block is used."""


# ----------------------------------------------------------------------------------------------------
# spatial branch: Swin window attention
# ----------------------------------------------------------------------------------------------------
def window_partition(x: Tensor, ws: int) -> Tensor:
    """``(B, H, W, C)`` -> ``(B * H/ws * W/ws, ws, ws, C)``."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, ws, ws, c)


def window_reverse(windows: Tensor, ws: int, h: int, w: int) -> Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, ws, ws, C)`` -> ``(B, H, W, C)``."""
    b = windows.shape[0] // ((h // ws) * (w // ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, -1)


def _relative_position_index(ws: int) -> Tensor:
    """``(ws*ws, ws*ws)`` index into the ``(2ws-1)^2`` relative position bias table (Swin convention)."""
    coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (ws - 1)
    return rel[..., 0] * (2 * ws - 1) + rel[..., 1]


def _shifted_window_mask(h: int, w: int, ws: int, shift: int, device=None, dtype=torch.float32) -> Tensor:
    """Attention mask ``(nW, ws*ws, ws*ws)`` for shifted windows: 0 inside a region, -100 across regions."""
    region = torch.zeros(1, h, w, 1, device=device, dtype=dtype)
    bounds = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    label = 0
    for hs in bounds:
        for wsl in bounds:
            region[:, hs, wsl, :] = label
            label += 1
    ids = window_partition(region, ws).reshape(-1, ws * ws)
    diff = ids.unsqueeze(1) - ids.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside ``ws x ws`` windows with a learned relative position bias.

    Input ``(B * nW, ws*ws, C)``, optional mask ``(nW, ws*ws, ws*ws)``.
    """

    def __init__(self, dim: int, window_size, num_heads: int, qkv_bias: bool = True, qk_scale=None,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        self.dim = dim
        self.window_size = tuple(window_size)
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = qk_scale or head_dim ** -0.5
        wh, ww = self.window_size
        if wh != ww:
            raise ValueError("square windows only")
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads))
        self.register_buffer("relative_position_index", _relative_position_index(wh))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            n_win = mask.shape[0]
            attn = attn.view(bw // n_win, n_win, self.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, n, n)
        attn = self.attn_drop(self.softmax(attn))
        out = (attn @ v).transpose(1, 2).reshape(bw, n, c)
        return self.proj_drop(self.proj(out))


class SwinTransformerBlock(nn.Module):
    """LayerNorm -> (shifted) window attention, on ``(B, H, W, C)``; no MLP and no residual inside
    (both are added by :class:`MSpatialAB`), as in the public MSFN.

    The shifted-window mask for ``input_resolution`` (128 x 128) is a persistent buffer of the public
    class and thus of its checkpoints; other sizes get a mask computed on the fly.
    """

    def __init__(self, dim: int, num_heads: int, input_resolution=(128, 128), window_size: int = 7,
                 shift_size: int = 0, mlp_ratio: float = 4.0, qkv_bias: bool = True, qk_scale=None,
                 drop: float = 0.0, attn_drop: float = 0.0, drop_path: float = 0.0, norm_layer=nn.LayerNorm):
        super().__init__()
        if not 0 <= shift_size < window_size:
            raise ValueError("shift_size must be in [0, window_size)")
        if drop_path > 0:
            raise NotImplementedError("drop_path is not used by MSFN")
        self.dim = dim
        self.input_resolution = tuple(input_resolution)
        self.num_heads = num_heads
        self.window_size = window_size
        self.shift_size = shift_size
        self.mlp_ratio = mlp_ratio
        self.norm1 = norm_layer(dim)
        self.attn = WindowAttention(dim, (window_size, window_size), num_heads, qkv_bias=qkv_bias,
                                    qk_scale=qk_scale, attn_drop=attn_drop, proj_drop=drop)
        self.drop_path = nn.Identity()
        mask = (_shifted_window_mask(*self.input_resolution, window_size, shift_size) if shift_size > 0 else None)
        self.register_buffer("attn_mask", mask)

    def _mask_for(self, x_size, x: Tensor) -> Tensor | None:
        if self.shift_size == 0:
            return None
        if tuple(x_size) == self.input_resolution:
            return self.attn_mask
        return _shifted_window_mask(*x_size, self.window_size, self.shift_size, device=x.device, dtype=x.dtype)

    def forward(self, x: Tensor, x_size) -> Tensor:
        b, h, w, c = x.shape
        ws, s = self.window_size, self.shift_size
        x = self.norm1(x)
        if s > 0:
            x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
        windows = window_partition(x, ws).view(-1, ws * ws, c)
        windows = self.attn(windows, mask=self._mask_for(x_size, x))
        x = window_reverse(windows.view(-1, ws, ws, c), ws, h, w)
        if s > 0:
            x = torch.roll(x, shifts=(s, s), dims=(1, 2))
        return x

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, input_resolution={self.input_resolution}, num_heads={self.num_heads}, "
                f"window_size={self.window_size}, shift_size={self.shift_size}")


class MSpatialAB(nn.Module):
    """``num_blocks`` x (window attention + shifted-window attention + pre-norm feed-forward), residual,
    on ``(B, C, H, W)``; ``2**stage`` heads, window 8, shift 4."""

    def __init__(self, dim: int, stage: int, num_blocks: int):
        super().__init__()
        self.blocks = nn.ModuleList([
            nn.ModuleList([
                SwinTransformerBlock(dim=dim, num_heads=2 ** stage, window_size=8, shift_size=0),
                SwinTransformerBlock(dim=dim, num_heads=2 ** stage, window_size=8, shift_size=4),
                PreNorm(dim, FeedForward(dim=dim)),
            ])
            for _ in range(num_blocks)
        ])

    def forward(self, x: Tensor) -> Tensor:
        size = (x.shape[2], x.shape[3])
        x = x.permute(0, 2, 3, 1)
        for w_attn, sw_attn, ff in self.blocks:
            x = w_attn(x, size) + x
            x = sw_attn(x, size) + x
            x = ff(x) + x
        return x.permute(0, 3, 1, 2)


# ----------------------------------------------------------------------------------------------------
# one spectral + spatial unit, and the full network
# ----------------------------------------------------------------------------------------------------
def _down(cin: int) -> nn.Conv2d:
    return nn.Conv2d(cin, 2 * cin, 4, 2, 1, bias=False)


def _up(cin: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cin // 2, stride=2, kernel_size=2, padding=0, output_padding=0)


class SSFN(nn.Module):
    """Spectral U-Net followed by a spatial U-Net (two levels each), residual, ``(B, dim, H, W)``."""

    def __init__(self, in_dim: int = 31, out_dim: int = 31, dim: int = 31, num_blocks=(1, 1, 1)):
        super().__init__()
        self.dim = dim
        d0, d1, d2 = dim, 2 * dim, 4 * dim
        self.embedding = nn.Conv2d(in_dim, dim, 3, 1, 1, bias=False)

        # spectral branch (attribute order = the public registration order)
        self.Spectral_Block_0 = MSpectralAB(dim=d0, num_blocks=num_blocks[0], dim_head=dim, heads=d0 // dim)
        self.Spectral_down_0 = _down(d0)
        self.Spectral_Block_1 = MSpectralAB(dim=d1, num_blocks=num_blocks[1], dim_head=dim, heads=d1 // dim)
        self.Spectral_down_1 = _down(d1)
        self.bottleneck_Spectral = MSpectralAB(dim=d2, num_blocks=num_blocks[-1], dim_head=dim, heads=d2 // dim)
        self.Spectral_up_0 = _up(d2)
        self.Spectral_Block_2 = MSpectralAB(dim=d1, num_blocks=num_blocks[1], dim_head=dim, heads=d1 // dim)
        self.SpectralFM_0 = SpectralFM(d1)
        self.Spectral_up_1 = _up(d1)
        self.Spectral_Block_3 = MSpectralAB(dim=d0, num_blocks=num_blocks[0], dim_head=dim, heads=d0 // dim)
        self.SpectralFM_1 = SpectralFM(d0)

        # spatial branch
        self.Spatial_Block_0 = MSpatialAB(dim=d0, stage=0, num_blocks=num_blocks[0])
        self.Spatial_down_0 = _down(d0)
        self.Spatial_Block_1 = MSpatialAB(dim=d1, stage=1, num_blocks=num_blocks[1])
        self.Spatial_conv_0 = nn.Conv2d(2 * d1, d1, 1, 1, bias=False)
        self.Spatial_down_1 = _down(d1)
        self.Spatial_conv_1 = nn.Conv2d(2 * d2, d2, 1, 1, bias=False)
        self.bottleneck_Spatial = MSpatialAB(dim=d2, stage=2, num_blocks=num_blocks[-1])
        self.Spatial_up_0 = _up(d2)
        self.Spatial_Block_2 = MSpatialAB(dim=d1, stage=1, num_blocks=num_blocks[1])
        self.SpatialFM_0 = SpatialFM(d1)
        self.Spatial_up_1 = _up(d1)
        self.Spatial_Block_3 = MSpatialAB(dim=d0, stage=0, num_blocks=num_blocks[0])
        self.SpatialFM_1 = SpatialFM(d0)

        self.mapping = nn.Conv2d(dim, out_dim, 3, 1, 1, bias=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        fea = self.embedding(x)

        # spectral U-Net
        spe0 = self.Spectral_Block_0(fea)
        spe1 = self.Spectral_Block_1(self.Spectral_down_0(spe0))
        spe_b = self.bottleneck_Spectral(self.Spectral_down_1(spe1))
        spe2 = self.Spectral_Block_2(self.SpectralFM_0(spe1, self.Spectral_up_0(spe_b)))
        spe3 = self.Spectral_Block_3(self.SpectralFM_1(spe0, self.Spectral_up_1(spe2)))

        # spatial U-Net, its encoder fed with the spectral decoder's features
        spa0 = self.Spatial_Block_0(spe3)
        spa1 = self.Spatial_Block_1(self.Spatial_conv_0(torch.cat([self.Spatial_down_0(spa0), spe2], dim=1)))
        spa_b = self.bottleneck_Spatial(self.Spatial_conv_1(torch.cat([self.Spatial_down_1(spa1), spe_b], dim=1)))
        spa2 = self.Spatial_Block_2(self.SpatialFM_0(spa1, self.Spatial_up_0(spa_b)))
        spa3 = self.Spatial_Block_3(self.SpatialFM_1(spa0, self.Spatial_up_1(spa2)))

        return self.mapping(spa3) + x


class MSFN(nn.Module):
    """MSFN, ``rgb (N, 3, H, W)`` -> ``cube (N, 31, H, W)`` for any H, W.

    Args:
        in_channels, out_channels, n_feat: input, output and feature channels (n_feat must be 31, the
            width the SSFN units are built with, as in the public class).
        stage: number of stacked SSFN units (the paper's zoo uses 2).
    """

    pad_multiple = 32
    """The input is reflect-padded on the bottom/right to a multiple of this (the public forward's)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 31, n_feat: int = 31, stage: int = 3):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, n_feat, kernel_size=3, padding=1, bias=False)
        self.body = nn.Sequential(*[SSFN(dim=31, num_blocks=[1, 1, 1]) for _ in range(stage)])
        self.conv_out = nn.Conv2d(n_feat, out_channels, kernel_size=3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        h_in, w_in = x.shape[-2:]
        fea = self.conv_in(pad_to_multiple(x, self.pad_multiple))
        out = self.conv_out(self.body(fea)) + fea
        return out[:, :, :h_in, :w_in]
