"""MST: mask-guided spectral-wise transformer, in its RGB-to-hyperspectral form.

Paper: Y. Cai, J. Lin, X. Hu, H. Wang, X. Yuan, Y. Zhang, R. Timofte, L. Van Gool,
"Mask-guided Spectral-wise Transformer for Efficient Hyperspectral Image Reconstruction", CVPR 2022.

Follows the spectral-reconstruction variant of the MST++ toolbox (``caiyuanhao1998/MST-plus-plus``,
``train_code/architecture/MST.py``) as vendored in ``vccimaging/OpticsAwareHSI-Analysis``
(``architecture/MST.py``). Without a CASSI mask, the "mask" is a second learned embedding of the
RGB input: ``embedding_1`` gives the guidance map, ``embedding_2`` the features (both followed by
LeakyReLU 0.1). Each encoder level down-samples features and guidance with separate 4x4 stride-2
convs; every spectral attention block modulates its values with the mask-guided mechanism of
its level. As in the public code, the modulation computed from the first sample of a batch is
applied to all samples (identical for batch size 1). The output is ``mapping(features) +
embedded input``. The ``state_dict`` layout is the public one.

Inputs of any H, W are reflect-padded to multiples of 8 and the output is cropped back.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._mst_blocks import MSAB, build_unet_layers, pad_to_multiple

__all__ = ["MST"]


class MST(nn.Module):
    """Mask-guided spectral-wise transformer (RGB -> 31 bands).

    Args:
        dim: width of the first level (= head size; must be 31, the output of the residual).
        stage: number of down-sampling steps.
        num_blocks: attention blocks per encoder level, the last entry for the bottleneck
            (the paper's zoo uses ``dim=31, stage=2, num_blocks=[4, 7, 5]``).

    Shapes: ``(N, 3, H, W) -> (N, 31, H, W)``, any H, W.
    """

    pad_multiple = 8
    """The input is reflect-padded on the bottom/right to a multiple of this (the public forward's)."""

    def __init__(self, dim: int = 31, stage: int = 2, num_blocks: list[int] | tuple[int, ...] = (4, 7, 5)):
        super().__init__()
        self.dim = dim
        self.stage = stage
        self.embedding_1 = nn.Conv2d(3, dim, 3, 1, 1, bias=False)
        self.embedding_2 = nn.Conv2d(3, dim, 3, 1, 1, bias=False)
        self.encoder_layers, self.bottleneck, self.decoder_layers = build_unet_layers(
            dim, stage, num_blocks,
            lambda width, n: MSAB(dim=width, dim_head=dim, heads=width // dim, num_blocks=n,
                                  mask_guided=True),
            mask_downsample=True)
        self.mapping = nn.Conv2d(dim, 31, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.pad_multiple)
        mask = F.leaky_relu(self.embedding_1(x), negative_slope=0.1)
        embedded = F.leaky_relu(self.embedding_2(x), negative_slope=0.1)

        fea = embedded
        skips, masks = [], []
        for block, down, mask_down in self.encoder_layers:
            fea = block(fea, mask)
            skips.append(fea)
            masks.append(mask)
            fea = down(fea)
            mask = mask_down(mask)
        fea = self.bottleneck(fea, mask)
        for (up, fuse, block), skip, level_mask in zip(self.decoder_layers, reversed(skips), reversed(masks)):
            fea = block(fuse(torch.cat([up(fea), skip], dim=1)), level_mask)
        out = self.mapping(fea) + embedded
        return out[:, :, :h, :w]
