"""Building blocks shared by MST (``mst.py``) and MST++ (``mst_plus_plus.py``).

* spectral-wise multi-head self-attention (S-MSA / "MS-MSA"): attention between the spectral
  channels, with tokens = channels and the spatial positions as the feature axis, so its cost is
  linear in the number of pixels;
* the depth-wise feed-forward network and the pre-LayerNorm wrapper of MST;
* the mask-guided mechanism that MST uses to modulate the values;
* the U-shaped encoder / bottleneck / decoder layout of a single-stage spectral transformer;
* reflect padding to a multiple of the down-sampling factor.

Papers:
    Y. Cai et al., "Mask-guided Spectral-wise Transformer for Efficient Hyperspectral Image
    Reconstruction" (MST), CVPR 2022.
    Y. Cai et al., "MST++: Multi-stage Spectral-wise Transformer for Efficient Spectral
    Reconstruction", CVPR Workshops (NTIRE) 2022.

The attribute names follow the public implementation (``caiyuanhao1998/MST-plus-plus``,
``train_code/architecture/MST.py`` and ``MST_Plus_Plus.py``, also vendored in
``vccimaging/OpticsAwareHSI-Analysis``) so that the published checkpoints load unchanged.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ._layers import pad_to_multiple

__all__ = [
    "PreNorm", "FeedForward", "MaskGuidedMechanism", "MS_MSA", "MSAB",
    "build_unet_layers", "pad_to_multiple", "unet_forward",
]


class PreNorm(nn.Module):
    """Normalise, then apply ``fn``. Channels-last LayerNorm unless another ``norm`` is given.

    ``fn`` is registered before ``norm`` (state_dict order ``fn.*`` then ``norm.*``).
    """

    def __init__(self, dim: int, fn: nn.Module, norm: nn.Module | None = None):
        super().__init__()
        self.fn = fn
        self.norm = nn.LayerNorm(dim) if norm is None else norm

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return self.fn(self.norm(x), *args, **kwargs)


class FeedForward(nn.Module):
    """1x1 expand (x``mult``) -> GELU -> 3x3 depth-wise -> GELU -> 1x1 project, no biases.

    Input and output are channels-last: ``(N, H, W, C)``.
    """

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        hidden = dim * mult
        self.net = nn.Sequential(
            nn.Conv2d(dim, hidden, 1, 1, bias=False),
            nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, 1, 1, bias=False, groups=hidden),
            nn.GELU(),
            nn.Conv2d(hidden, dim, 1, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class MaskGuidedMechanism(nn.Module):
    """MST's mask-guided mechanism: ``m = conv1(mask); m + m * sigmoid(dw5x5(conv2(m)))``.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, n_feat: int):
        super().__init__()
        self.conv1 = nn.Conv2d(n_feat, n_feat, kernel_size=1, bias=True)
        self.conv2 = nn.Conv2d(n_feat, n_feat, kernel_size=1, bias=True)
        self.depth_conv = nn.Conv2d(n_feat, n_feat, kernel_size=5, padding=2, bias=True, groups=n_feat)

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        embedded = self.conv1(mask)
        gate = torch.sigmoid(self.depth_conv(self.conv2(embedded)))
        return embedded * gate + embedded


class MS_MSA(nn.Module):
    """Spectral-wise multi-head self-attention with a depth-wise positional branch.

    Per head the ``dim_head`` channels are the tokens: queries and keys (``dim_head x HW``) are
    L2-normalised along the pixels, ``A = softmax(rescale * K Q^T)`` is ``dim_head x dim_head``
    and mixes the value channels. The positional branch (two 3x3 depth-wise convs around a GELU)
    acts on the un-modulated values and is added to the projected attention output.

    With ``mask_guided=True`` (MST) a :class:`MaskGuidedMechanism` ``mm`` turns a guidance
    feature map into a multiplicative modulation of the values. As in the public MST code the
    modulation of the first sample of the batch is used for every sample.

    Shapes: ``x: (N, H, W, C)``, ``mask: (N, C, H, W)`` -> ``(N, H, W, C)``.
    """

    def __init__(self, dim: int, dim_head: int, heads: int, mask_guided: bool = False):
        super().__init__()
        self.num_heads = heads
        self.dim_head = dim_head
        inner = dim_head * heads
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(dim, inner, bias=False)
        self.to_v = nn.Linear(dim, inner, bias=False)
        self.rescale = nn.Parameter(torch.ones(heads, 1, 1))
        self.proj = nn.Linear(inner, dim, bias=True)
        self.pos_emb = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False, groups=dim),
            nn.GELU(),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False, groups=dim),
        )
        if mask_guided:
            self.mm = MaskGuidedMechanism(dim)
        self.dim = dim

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        """``(N, HW, heads*d) -> (N, heads, d, HW)``: channels as tokens, pixels as features."""
        n, hw, _ = t.shape
        return t.reshape(n, hw, self.num_heads, self.dim_head).permute(0, 2, 3, 1)

    def forward(self, x_in: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        n, h, w, c = x_in.shape
        tokens = x_in.reshape(n, h * w, c)
        v_inp = self.to_v(tokens)
        q = F.normalize(self._split_heads(self.to_q(tokens)), dim=-1, p=2)
        k = F.normalize(self._split_heads(self.to_k(tokens)), dim=-1, p=2)
        v = self._split_heads(v_inp)
        if mask is not None:
            modulation = self.mm(mask[:1]).permute(0, 2, 3, 1).expand(n, h, w, c)
            v = v * self._split_heads(modulation.reshape(n, h * w, c))
        attn = (k @ q.transpose(-2, -1)) * self.rescale          # (N, heads, d, d)
        mixed = attn.softmax(dim=-1) @ v                           # (N, heads, d, HW)
        mixed = mixed.permute(0, 3, 1, 2).reshape(n, h * w, self.num_heads * self.dim_head)
        out_attn = self.proj(mixed).view(n, h, w, c)
        out_pos = self.pos_emb(v_inp.reshape(n, h, w, c).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return out_attn + out_pos


class MSAB(nn.Module):
    """Spectral-wise attention block: ``num_blocks`` x (x += MS_MSA(x); x += FFN(LN(x))).

    Shapes: ``x: (N, C, H, W)``, optional ``mask: (N, C, H, W)`` (MST) -> ``(N, C, H, W)``.
    """

    def __init__(self, dim: int, dim_head: int, heads: int, num_blocks: int, mask_guided: bool = False):
        super().__init__()
        self.blocks = nn.ModuleList([
            nn.ModuleList([
                MS_MSA(dim=dim, dim_head=dim_head, heads=heads, mask_guided=mask_guided),
                PreNorm(dim, FeedForward(dim=dim)),
            ])
            for _ in range(num_blocks)
        ])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        for attn, ff in self.blocks:
            x = attn(x, mask) + x
            x = ff(x) + x
        return x.permute(0, 3, 1, 2)


def build_unet_layers(
    dim: int,
    stage: int,
    num_blocks: list[int] | tuple[int, ...],
    make_block: Callable[[int, int], nn.Module],
    mask_downsample: bool = False,
    bias: bool = False,
) -> tuple[nn.ModuleList, nn.Module, nn.ModuleList]:
    """Encoder, bottleneck and decoder of a single-stage spectral transformer U-Net.

    Level ``i`` of the encoder works at width ``dim * 2**i`` and holds
    ``[block, 4x4 stride-2 conv down]`` (plus a second down-sampling conv for MST's mask when
    ``mask_downsample``). The decoder mirrors it with ``[2x2 stride-2 transposed conv up,
    1x1 fusion conv of the concatenated skip, block]``.

    Args:
        dim: width of the first level (also the head size of the attention).
        stage: number of down-sampling steps.
        num_blocks: blocks per level, the last entry for the bottleneck.
        make_block: ``make_block(width, n_blocks)`` builds one block stack.
        mask_downsample: add the mask down-sampling conv to each encoder level.
        bias: biases on the down-sampling and fusion convolutions (MST/MST++: none; HySAT: yes).
    """
    encoder = nn.ModuleList()
    width = dim
    for level in range(stage):
        entries = [make_block(width, num_blocks[level]), nn.Conv2d(width, width * 2, 4, 2, 1, bias=bias)]
        if mask_downsample:
            entries.append(nn.Conv2d(width, width * 2, 4, 2, 1, bias=False))
        encoder.append(nn.ModuleList(entries))
        width *= 2
    bottleneck = make_block(width, num_blocks[-1])
    decoder = nn.ModuleList()
    for level in range(stage):
        half = width // 2
        decoder.append(nn.ModuleList([
            nn.ConvTranspose2d(width, half, kernel_size=2, stride=2, padding=0, output_padding=0),
            nn.Conv2d(width, half, 1, 1, bias=bias),
            make_block(half, num_blocks[stage - 1 - level]),
        ]))
        width = half
    return encoder, bottleneck, decoder


def unet_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Forward of a U-Net built by ``build_unet_layers`` (without mask) with ``net.embedding`` and
    ``net.mapping``: encoder with skips, bottleneck, decoder fusing the skips, global residual.
    ``(N, C, H, W) -> (N, C, H, W)``."""
    fea = net.embedding(x)
    skips = []
    for block, down in net.encoder_layers:
        fea = block(fea)
        skips.append(fea)
        fea = down(fea)
    fea = net.bottleneck(fea)
    for (up, fuse, block), skip in zip(net.decoder_layers, reversed(skips)):
        fea = block(fuse(torch.cat([up(fea), skip], dim=1)))
    return net.mapping(fea) + x
