"""HDNet: high-resolution dual-domain learning, in its RGB-to-hyperspectral form.

Paper: X. Hu, Y. Cai, J. Lin, H. Wang, X. Yuan, Y. Zhang, R. Timofte, L. Van Gool,
"HDNet: High-resolution Dual-domain Learning for Spectral Compressive Imaging", CVPR 2022.

Follows the spectral-reconstruction variant of the MST++ toolbox (``caiyuanhao1998/MST-plus-plus``,
``train_code/architecture/HDNet.py``) as vendored in ``vccimaging/OpticsAwareHSI-Analysis``
(``architecture/HDNet.py``): a 3x3 head conv (3 -> 48), a body of 32 residual blocks, the
spatial-spectral domain attention (SDL), the efficient feature fusion (EFF, four depth-wise
separable attention branches), 31 more residual blocks and a 3x3 conv, a long skip over the body,
and a 3x3 tail conv (48 -> 31). The frequency-domain loss (FDL) of the paper is a training loss and
is not part of the network. The ``state_dict`` layout (``head.0``, ``body.0..65``, ``tail.0``)
is the public one.

The network is fully convolutional at full resolution, so any H, W works without padding.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["HDNet"]


def _same_conv(in_ch: int, out_ch: int, kernel_size: int, bias: bool = True) -> nn.Conv2d:
    """Stride-1 convolution that keeps the spatial size (zero padding ``kernel_size // 2``)."""
    return nn.Conv2d(in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=bias)


class ResBlock(nn.Module):
    """conv -> ReLU -> conv (biased 3x3 convs), scaled by ``res_scale``, plus the input.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, n_feat: int, kernel_size: int = 3, res_scale: float = 1.0):
        super().__init__()
        self.body = nn.Sequential(
            _same_conv(n_feat, n_feat, kernel_size),
            nn.ReLU(inplace=True),
            _same_conv(n_feat, n_feat, kernel_size),
        )
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) * self.res_scale + x


class SDLAttention(nn.Module):
    """Spatial-spectral domain attention (SDL): sum of two re-weightings of the input.

    * channel re-weighting ("spatial" branch of the public code): the pixels are pooled with a
      softmax weight map (``conv_q_right``) from ``conv_v_right`` features; the pooled vector is
      lifted by ``conv_up`` and a sigmoid gives one weight per channel;
    * pixel re-weighting ("spectral" branch): the global average of ``conv_q_left`` features is
      matched against ``conv_v_left`` features at every pixel; a softmax over the pixels followed
      by a sigmoid gives one weight per pixel.

    All convs are 1x1 without bias; the four query/value convs get Kaiming-normal (fan_in) init.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)`` with ``C == inplanes == planes``.
    """

    def __init__(self, inplanes: int, planes: int, kernel_size: int = 1, stride: int = 1):
        super().__init__()
        self.inplanes = inplanes
        self.inter_planes = planes // 2
        self.planes = planes
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = (kernel_size - 1) // 2

        def proj(out_ch: int) -> nn.Conv2d:
            return nn.Conv2d(inplanes, out_ch, kernel_size=1, stride=stride, padding=0, bias=False)

        self.conv_q_right = proj(1)
        self.conv_v_right = proj(self.inter_planes)
        self.conv_up = nn.Conv2d(self.inter_planes, planes, kernel_size=1, stride=1, padding=0, bias=False)
        self.conv_q_left = proj(self.inter_planes)
        self.conv_v_left = proj(self.inter_planes)
        for conv in (self.conv_q_right, self.conv_v_right, self.conv_q_left, self.conv_v_left):
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in", nonlinearity="relu")

    def _channel_weights(self, x: torch.Tensor) -> torch.Tensor:
        values = self.conv_v_right(x).flatten(2)                          # (N, C/2, HW)
        pixel_weights = self.conv_q_right(x).flatten(2).softmax(dim=2)    # (N, 1, HW)
        pooled = (values @ pixel_weights.transpose(1, 2)).unsqueeze(-1)   # (N, C/2, 1, 1)
        return x * torch.sigmoid(self.conv_up(pooled))

    def _pixel_weights(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        query = self.conv_q_left(x).mean(dim=(2, 3)).unsqueeze(1)        # (N, 1, C/2)
        keys = self.conv_v_left(x).flatten(2)                              # (N, C/2, HW)
        context = (query @ keys).softmax(dim=2).view(n, 1, h, w)
        return x * torch.sigmoid(context)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spectral = self._pixel_weights(x)
        spatial = self._channel_weights(x)
        return spatial + spectral


class DSC(nn.Module):
    """Depth-wise separable attention branch of EFF.

    1x1 depth-wise conv -> BN -> ReLU -> 3x3 max-pool (stride 1) -> 1x1 conv to one map -> BN ->
    ReLU -> softmax over the pixels; the map re-weights every channel: ``x * a + x``.
    Both BNs use ``momentum=0.9`` as in the public code.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, nin: int):
        super().__init__()
        self.conv_dws = nn.Conv2d(nin, nin, kernel_size=1, stride=1, padding=0, groups=nin)
        self.bn_dws = nn.BatchNorm2d(nin, momentum=0.9)
        self.conv_point = nn.Conv2d(nin, 1, kernel_size=1, stride=1, padding=0, groups=1)
        self.bn_point = nn.BatchNorm2d(1, momentum=0.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = F.relu(self.bn_dws(self.conv_dws(x)))
        a = F.max_pool2d(a, kernel_size=3, stride=1, padding=1)
        a = F.relu(self.bn_point(self.conv_point(a)))
        a = a.flatten(2).softmax(dim=2).view_as(a)                        # (N, 1, H, W)
        return a.expand_as(x) * x + x


class EFF(nn.Module):
    """Efficient feature fusion: split the channels into ``num_splits`` groups, one DSC each.

    Shapes: ``(N, nin, H, W) -> (N, nin, H, W)``.
    """

    def __init__(self, nin: int, nout: int, num_splits: int):
        super().__init__()
        if nin % num_splits:
            raise ValueError(f"nin={nin} is not divisible by num_splits={num_splits}")
        self.nin = nin
        self.nout = nout
        self.num_splits = num_splits
        self.subspaces = nn.ModuleList([DSC(nin // num_splits) for _ in range(num_splits)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = torch.chunk(x, self.num_splits, dim=1)
        return torch.cat([branch(g) for branch, g in zip(self.subspaces, groups)], dim=1)


class HDNet(nn.Module):
    """HDNet (RGB -> 31 bands): 48 features, 32 + 31 residual blocks around SDL and EFF.

    Args:
        in_ch: input channels (3 for RGB).
        out_ch: output bands.

    Shapes: ``(N, in_ch, H, W) -> (N, out_ch, H, W)``, any H, W.
    """

    def __init__(self, in_ch: int = 3, out_ch: int = 31):
        super().__init__()
        n_resblocks, n_feats, kernel_size = 32, 48, 3
        head = _same_conv(in_ch, n_feats, kernel_size)
        body: list[nn.Module] = [ResBlock(n_feats, kernel_size) for _ in range(n_resblocks)]
        body.append(SDLAttention(inplanes=n_feats, planes=n_feats))
        body.append(EFF(nin=n_feats, nout=n_feats, num_splits=4))
        body.extend(ResBlock(n_feats, kernel_size) for _ in range(n_resblocks - 1))
        body.append(_same_conv(n_feats, n_feats, kernel_size))

        self.head = nn.Sequential(head)
        self.body = nn.Sequential(*body)
        self.tail = nn.Sequential(_same_conv(n_feats, out_ch, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.head(x)
        return self.tail(self.body(feats) + feats)
