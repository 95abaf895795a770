"""HySAT: hybrid spectral-wise attention transformer for spectral reconstruction from RGB.

Paper: Hongyuan Wang, Lizhi Wang, Chang Chen, Xue Hu, Fenglong Song, Hua Huang, "Learning Spectral-wise
Correlation for Spectral Super-Resolution: Where Similarity Meets Particularity", ACM Multimedia 2023
(released as MindSpore code, ``hongyuan-wang-bit/models``, branch ``hysat_mm23``).
Public implementation followed: the PyTorch port in vccimaging/OpticsAwareHSI-Analysis
(``architecture/hysat.py``), used by Fu et al., "Limitations of Data-Driven Spectral Reconstruction: An
Optics-Aware Analysis" (IEEE TCI 2025). The state_dict layout (names, shapes, order) is that of the port,
so its checkpoints load with ``strict=True``.

Structure: 3x3 conv 3 -> 31, three U-shaped spectral transformers (two down-sampling levels, one block
per level), 3x3 conv 31 -> 31 with a global residual. The attention is MST++'s spectral-wise attention
with two changes: Q, K and V come from three stacked depth-wise 3x3 convolutions whose kernels are shared
by all channels of a head ("token independent mapping"), and the attention map gets a learned diagonal
term from a 1-D convolution over the pooled value channels. Inputs are reflect-padded to a multiple of 8
and cropped back.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._mst_blocks import PreNorm, build_unet_layers, pad_to_multiple, unet_forward

__all__ = ["HySAT", "MST", "MSAB", "MS_MSA", "Feedforward", "PreNorm"]


class MS_MSA(nn.Module):
    """Spectral-wise multi-head self-attention with shared depth-wise Q/K/V kernels.

    Input / output ``(B, H, W, C)`` with ``C = heads * dim_head``.
    """

    def __init__(self, dim: int, dim_head: int, heads: int):
        super().__init__()
        self.dim = dim
        self.dim_head = dim_head
        self.num_heads = heads
        # three stacked depth-wise 3x3 kernels per projection, one kernel per head
        for proj in ("q", "k", "v"):
            for i in (1, 2, 3):
                setattr(self, f"to_{proj}_share{i}", nn.Parameter(torch.empty(heads, 1, 3, 3)))
        for p in self.parameters():
            nn.init.kaiming_normal_(p, nonlinearity="relu")
        self.pos_emb = nn.Sequential(
            nn.Conv2d(dim, dim, 3, padding=1, groups=dim),
            nn.GELU(),
            nn.Conv2d(dim, dim, 3, padding=1, groups=dim),
        )
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(heads, heads, kernel_size=3, padding=1)
        self.rescale = nn.Parameter(torch.ones(heads, 1, 1))
        self.rescale2 = nn.Parameter(torch.ones(heads, 1, 1))
        self.proj = nn.Linear(dim_head * heads, dim)

    def _shared_dw(self, x: Tensor, kernel: Tensor) -> Tensor:
        """Depth-wise 3x3 conv where every channel of a head uses that head's kernel."""
        return F.conv2d(x, kernel.repeat_interleave(self.dim_head, dim=0), padding=1, groups=x.shape[1])

    def _project(self, x: Tensor, name: str) -> Tensor:
        for i in (1, 2, 3):
            x = self._shared_dw(x, getattr(self, f"to_{name}_share{i}"))
        return x

    def forward(self, x_in: Tensor) -> Tensor:
        b, h, w, c = x_in.shape
        heads, d = self.num_heads, self.dim_head
        x = x_in.permute(0, 3, 1, 2)
        x = x + self.pos_emb(x)

        def split_heads(t: Tensor) -> Tensor:  # (B, C, H, W) -> (B, heads, d, HW)
            return t.permute(0, 2, 3, 1).reshape(b, h * w, heads, d).permute(0, 2, 3, 1)

        q, k, v = (split_heads(self._project(x, name)) for name in ("q", "k", "v"))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        attn = k @ q.transpose(-2, -1)  # (B, heads, d, d)

        # learned diagonal from the globally pooled value channels
        pooled = self.avg_pool(v.reshape(b, -1, h, w)).view(b, heads, d)
        attn = attn * self.rescale + torch.diag_embed(self.conv(pooled)) * self.rescale2
        attn = attn.softmax(dim=-1)

        out = (attn @ v).permute(0, 3, 1, 2).reshape(b, h * w, heads * d)
        return self.proj(out).view(b, h, w, c)


class Feedforward(nn.Module):
    """1x1 conv (x4) -> GELU -> depth-wise 3x3 -> GELU -> 1x1 conv, on ``(B, H, W, C)``."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(dim, dim * mult, 1, 1),
            nn.GELU(),
            nn.Conv2d(dim * mult, dim * mult, 3, padding=1, groups=dim * mult),
            nn.GELU(),
            nn.Conv2d(dim * mult, dim, 1, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class MSAB(nn.Module):
    """``num_blocks`` x (attention + pre-norm feed-forward), residual, on ``(B, C, H, W)``."""

    def __init__(self, dim: int, dim_head: int, heads: int, num_blocks: int):
        super().__init__()
        self.blocks = nn.ModuleList([
            nn.ModuleList([MS_MSA(dim=dim, dim_head=dim_head, heads=heads), PreNorm(dim, Feedforward(dim))])
            for _ in range(num_blocks)
        ])

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        for attn, ff in self.blocks:
            x = attn(x) + x
            x = ff(x) + x
        return x.permute(0, 3, 1, 2)


class MST(nn.Module):
    """U-shaped spectral transformer with ``stage`` down-sampling levels and a residual, ``(B, C, H, W)``."""

    def __init__(self, in_dim: int = 31, out_dim: int = 31, dim: int = 31, stage: int = 2, num_blocks=(2, 4, 4)):
        super().__init__()
        self.stage = stage
        self.embedding = nn.Conv2d(in_dim, dim, 3, padding=1)

        self.encoder_layers, self.bottleneck, self.decoder_layers = build_unet_layers(
            dim, stage, num_blocks,
            lambda width, n: MSAB(width, dim_head=dim, heads=width // dim, num_blocks=n), bias=True)

        self.mapping = nn.Conv2d(dim, out_dim, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return unet_forward(self, x)


class HySAT(nn.Module):
    """HySAT, ``rgb (N, 3, H, W)`` -> ``cube (N, 31, H, W)`` for any H, W.

    Args:
        in_channels, out_channels, n_feat: input, output and feature channels (n_feat must be 31, the
            width the body is built with, as in the public class).
        stage: number of stacked spectral transformers.
    """

    pad_multiple = 8
    """The input is reflect-padded on the bottom/right to a multiple of this (the public forward's)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 31, n_feat: int = 31, stage: int = 3):
        super().__init__()
        self.stage = stage
        self.conv_in = nn.Conv2d(in_channels, n_feat, kernel_size=3, padding=1)
        self.body = nn.Sequential(*[MST(dim=31, stage=2, num_blocks=[1, 1, 1]) for _ in range(stage)])
        self.conv_out = nn.Conv2d(n_feat, out_channels, kernel_size=3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h_in, w_in = x.shape[-2:]
        fea = self.conv_in(pad_to_multiple(x, self.pad_multiple))
        out = self.conv_out(self.body(fea)) + fea
        return out[:, :, :h_in, :w_in]
