"""MST++: a cascade of single-stage spectral-wise transformers.

Paper: Y. Cai, J. Lin, Z. Lin, H. Wang, Y. Zhang, H. Pfister, R. Timofte, L. Van Gool,
"MST++: Multi-stage Spectral-wise Transformer for Efficient Spectral Reconstruction",
CVPR Workshops (NTIRE 2022 spectral reconstruction challenge winner).

Follows the public implementation ``caiyuanhao1998/MST-plus-plus``
(``train_code/architecture/MST_Plus_Plus.py``), as vendored in
``vccimaging/OpticsAwareHSI-Analysis`` (``architecture/MST_Plus_Plus.py``): a 3x3 conv lifts RGB to
31 features, three single-stage U-shaped spectral transformers (SST, two down-sampling steps,
one attention block per level) refine them, a 3x3 conv maps back and a long skip adds the lifted
features. The ``state_dict`` layout (``conv_in``, ``body.<s>.*``, ``conv_out``) is the public one.

Inputs of any H, W are reflect-padded to multiples of 8 and the output is cropped back.
"""
from __future__ import annotations

import torch
from torch import nn

from ._mst_blocks import MSAB, build_unet_layers, pad_to_multiple, unet_forward

__all__ = ["MST_Plus_Plus", "SST"]


class SST(nn.Module):
    """Single-stage spectral-wise transformer: a U-Net of MSAB blocks with a global residual.

    Args:
        in_dim, out_dim: input / output channels.
        dim: width of the first level (= size of each attention head).
        stage: number of down-sampling steps (input H, W must be multiples of ``2**stage``).
        num_blocks: MSAB blocks per encoder level, the last entry for the bottleneck.

    Shapes: ``(N, in_dim, H, W) -> (N, out_dim, H, W)`` (``out_dim == in_dim`` for the residual).
    """

    def __init__(self, in_dim: int = 31, out_dim: int = 31, dim: int = 31, stage: int = 2,
                 num_blocks: list[int] | tuple[int, ...] = (2, 4, 4)):
        super().__init__()
        self.dim = dim
        self.stage = stage
        self.embedding = nn.Conv2d(in_dim, dim, 3, 1, 1, bias=False)
        self.encoder_layers, self.bottleneck, self.decoder_layers = build_unet_layers(
            dim, stage, num_blocks,
            lambda width, n: MSAB(dim=width, dim_head=dim, heads=width // dim, num_blocks=n))
        self.mapping = nn.Conv2d(dim, out_dim, 3, 1, 1, bias=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        """Truncated-normal (std 0.02, cut at +-2) linear weights, zero biases; unit LayerNorms."""
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02, a=-2.0, b=2.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return unet_forward(self, x)


class MST_Plus_Plus(nn.Module):
    """MST++ (RGB -> 31-band cube).

    Args:
        in_channels: input channels (3 for RGB).
        out_channels: output bands.
        n_feat: feature width between the stages.
        stage: number of cascaded SSTs.

    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H, W)``, any H, W.
    """

    pad_multiple = 8
    """The input is reflect-padded on the bottom/right to a multiple of this (the public forward's)."""

    def __init__(self, in_channels: int = 3, out_channels: int = 31, n_feat: int = 31, stage: int = 3):
        super().__init__()
        self.stage = stage
        self.conv_in = nn.Conv2d(in_channels, n_feat, kernel_size=3, padding=1, bias=False)
        # the public model hard-codes 31-wide stages with one block per level
        self.body = nn.Sequential(*[SST(dim=31, stage=2, num_blocks=[1, 1, 1]) for _ in range(stage)])
        self.conv_out = nn.Conv2d(n_feat, out_channels, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        lifted = self.conv_in(pad_to_multiple(x, self.pad_multiple))
        out = self.conv_out(self.body(lifted)) + lifted
        return out[:, :, :h, :w]
