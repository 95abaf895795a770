"""SSTHyper: sparse spectral transformer for RGB-to-hyperspectral reconstruction.

Paper: M. Xu, M. Lin, Q. Ren, S. Jia, "SSTHyper: Sparse Spectral Transformer for Hyperspectral
Image Reconstruction", ACCV 2024.

Follows the public implementation ``MingyingLin/SSTHyper`` (``architecture/SSTHyper.py``) as
vendored in ``vccimaging/OpticsAwareHSI-Analysis`` (``architecture/SSTHyper.py``). The layout is
that of MST++: a 3x3 conv lifts RGB to 31 features, three U-shaped sparse spectral self-attention
groups (SSAG, two down-sampling steps, one block per level) refine them, a 3x3 conv maps back
and a long skip adds the lifted features. Each block is a sparse spectral self-attention (SS-SA:
channel attention whose logits are restricted to their top 1/2, 2/3, 3/4 and 4/5 before the
softmax, the four results mixed by learned weights) followed by a pre-normalised cross-level
fusion network (CLFN). The ``state_dict`` layout (``conv_in``, ``ssags.<s>.*``, ``conv_out``) is
the public one.

Inputs of any H, W are reflect-padded to multiples of 8 and the output is cropped back.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._mst_blocks import PreNorm, build_unet_layers, pad_to_multiple

__all__ = ["SSTHyper", "SSAG"]


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of ``(N, C, H, W)`` (biased variance, ``eps`` inside the root).

    The public code computes the same function with a hand-written autograd backward; autograd of
    these operations gives the identical gradient.
    """

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(1, keepdim=True)
        var = centred.pow(2).mean(1, keepdim=True)
        y = centred / (var + self.eps).sqrt()
        return self.weight.view(1, -1, 1, 1) * y + self.bias.view(1, -1, 1, 1)


class SS_SA(nn.Module):
    """Sparse spectral self-attention.

    q, k, v come from a 1x1 conv and a 3x3 depth-wise conv; per head, q and k (channels x pixels)
    are L2-normalised along the pixels and ``A = temperature * q k^T`` (channels x channels) is
    formed. For each keep-ratio r in (1/2, 2/3, 3/4, 4/5) only the ``floor(r * C^2)`` largest
    entries of A survive (the rest -> -inf) and a softmax over the whole C x C matrix follows; the
    four sparse attention matrices are combined with the learned weights ``attn1..attn4`` and
    applied to v, then a 1x1 output projection. No biases.

    Shapes: ``(N, dim, H, W) -> (N, dim, H, W)``.
    """

    KEEP = ((1, 2), (2, 3), (3, 4), (4, 5))   # keep-ratios as (numerator, denominator)

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.num_heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Conv2d(dim, dim * 3, kernel_size=1, bias=False)
        self.qkv_dwconv = nn.Conv2d(dim * 3, dim * 3, kernel_size=3, stride=1, padding=1, groups=dim * 3,
                                    bias=False)
        self.project_out = nn.Conv2d(dim, dim, kernel_size=1, bias=False)
        self.attn1 = nn.Parameter(torch.tensor([0.2]))
        self.attn2 = nn.Parameter(torch.tensor([0.2]))
        self.attn3 = nn.Parameter(torch.tensor([0.2]))
        self.attn4 = nn.Parameter(torch.tensor([0.2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv_dwconv(self.qkv(x)).chunk(3, dim=1)
        q, k, v = (t.reshape(n, self.num_heads, -1, h * w) for t in (q, k, v))
        q = F.normalize(q, dim=-1)
        k = F.normalize(k, dim=-1)
        ch = q.shape[2]

        logits = ((q @ k.transpose(-2, -1)) * self.temperature).reshape(n, self.num_heads, ch * ch)
        counts = [ch * ch * num // den for num, den in self.KEEP]
        # one sorted top-k of the largest size; every smaller top-k is a prefix of it
        top_values, top_indices = torch.topk(logits, k=max(counts), dim=-1)
        floor = torch.full_like(logits, float("-inf"))
        attn = 0
        for weight, count in zip((self.attn1, self.attn2, self.attn3, self.attn4), counts):
            sparse = floor.scatter(-1, top_indices[..., :count], top_values[..., :count])
            attn = attn + sparse.softmax(dim=-1).view(n, self.num_heads, ch, ch) * weight

        out = (attn @ v).reshape(n, c, h, w)
        return self.project_out(out)


class Split(nn.Module):
    """Cross-level split of CLFN: half the channels at full resolution, half at half resolution.

    ``x1, x2 = chunk(x, 2)``; ``g1`` (1x1 conv + 3x3 depth-wise) on x1; x2 is 2x2 average-pooled,
    passed through ``g2`` and nearest-upsampled; their product goes through ``g3``.

    Shapes: ``(N, 2*dim, H, W) -> (N, dim, H, W)`` (H, W even).
    """

    def __init__(self, dim: int):
        super().__init__()

        def branch() -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(dim, dim, 1, 1, bias=False),
                nn.Conv2d(dim, dim, 3, 1, 1, bias=False, groups=dim),
            )

        self.g1 = branch()
        self.g2 = branch()
        self.g3 = branch()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fine, coarse = x.chunk(2, dim=1)
        fine = self.g1(fine)
        coarse = F.interpolate(self.g2(F.avg_pool2d(coarse, kernel_size=2)), scale_factor=2, mode="nearest")
        return self.g3(fine * coarse)


class CLFN(nn.Module):
    """Cross-level fusion network: 1x1 expand (x``mult``) -> GELU -> :class:`Split`.

    Shapes: ``(N, dim, H, W) -> (N, dim, H, W)``.
    """

    def __init__(self, dim: int, mult: int = 2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(dim, dim * mult, 1, 1, bias=False),
            nn.GELU(),
            Split(dim=dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SSAB(nn.Module):
    """``num_blocks`` x (x += SS_SA(x); x += CLFN(LayerNorm2d(x))), channels-first.

    Shapes: ``(N, dim, H, W) -> (N, dim, H, W)``.
    """

    def __init__(self, dim: int, heads: int, num_blocks: int):
        super().__init__()
        self.blocks = nn.ModuleList([
            nn.ModuleList([SS_SA(dim=dim, heads=heads), PreNorm(dim, CLFN(dim=dim), norm=LayerNorm2d(dim))])
            for _ in range(num_blocks)
        ])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for attn, ff in self.blocks:
            x = attn(x) + x
            x = ff(x) + x
        return x


class SSAG(nn.Module):
    """Sparse spectral self-attention group: a U-Net of SSAB blocks with a global residual.

    As in the public code, the encoder and decoder blocks are wrapped in one more residual
    (``fea + SSAB(fea)``), the bottleneck is not.

    Shapes: ``(N, in_dim, H, W) -> (N, out_dim, H, W)``, H and W multiples of ``2**(stage+1)``.
    """

    def __init__(self, in_dim: int = 31, out_dim: int = 31, dim: int = 31, stage: int = 2,
                 num_blocks: list[int] | tuple[int, ...] = (2, 4, 4)):
        super().__init__()
        self.dim = dim
        self.stage = stage
        self.embedding = nn.Conv2d(in_dim, dim, 3, 1, 1, bias=False)
        self.encoder_layers, self.bottleneck, self.decoder_layers = build_unet_layers(
            dim, stage, num_blocks, lambda width, n: SSAB(dim=width, heads=width // dim, num_blocks=n))
        self.mapping = nn.Conv2d(dim, out_dim, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fea = self.embedding(x)
        skips = []
        for block, down in self.encoder_layers:
            fea = fea + block(fea)
            skips.append(fea)
            fea = down(fea)
        fea = self.bottleneck(fea)
        for (up, fuse, block), skip in zip(self.decoder_layers, reversed(skips)):
            fea = fuse(torch.cat([up(fea), skip], dim=1))
            fea = fea + block(fea)
        return self.mapping(fea) + x


class SSTHyper(nn.Module):
    """SSTHyper (RGB -> 31-band cube).

    Args:
        in_channels: input channels (3 for RGB).
        out_channels: output bands.
        n_feat: feature width (also the head size of the attention).
        stage: number of cascaded SSAGs.

    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H, W)``, any H, W.
    """

    pad_multiple = 8
    """The input is reflect-padded on the bottom/right to a multiple of this (the public forward's)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 31, n_feat: int = 31, stage: int = 3):
        super().__init__()
        self.stage = stage
        self.conv_in = nn.Conv2d(in_channels, n_feat, kernel_size=3, padding=1, bias=False)
        self.ssags = nn.Sequential(*[SSAG(dim=n_feat, stage=2, num_blocks=[1, 1, 1]) for _ in range(stage)])
        self.conv_out = nn.Conv2d(n_feat, out_channels, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        lifted = self.conv_in(pad_to_multiple(x, self.pad_multiple))
        out = self.conv_out(self.ssags(lifted)) + lifted
        return out[:, :, :h, :w]
