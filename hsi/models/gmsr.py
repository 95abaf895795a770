"""GMSR: gradient-guided Mamba for spectral reconstruction from RGB images.

Paper: Xinying Wang, Zhixiong Huang, Sifan Zhang, Jiawen Zhu, Paolo Gamba, Lin Feng, "GMSR: Gradient-Guided
Mamba for Spectral Reconstruction from RGB Images", arXiv 2405.07777 (2024).
Public implementation followed: wxy11-27/GMSR ``architecture/GMSR.py`` as vendored by
vccimaging/OpticsAwareHSI-Analysis (``architecture/GMSR.py``). The state_dict layout (names, shapes, order)
is that of the public class, so published checkpoints load with ``strict=True``.

Structure: three stages that lift the features 3 -> 10 -> 20 -> 31 channels with 1x1 convolutions; each
stage mixes a 2-D selective-scan block (VSS, four scan directions), a spatial-gradient attention and a
spectral-gradient attention, fused by a 1x1 convolution + GELU and added to the stage input.

The selective scan runs on mamba_ssm's CUDA kernel when that package is importable and the input is on
a CUDA device, and otherwise on the pure-PyTorch scan of :mod:`hsi.models._selective_scan` (same maths).
No dependency on timm/thop/mamba_ssm at import time. Works for any H, W (no padding needed).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._selective_scan import selective_scan_fn as _scan_torch

__all__ = ["GMSR", "SS2D", "VSSBlock", "SpectralAttention", "SpatialAttention", "DropPath", "pick_selective_scan"]

_KERNEL = None  # cached: mamba_ssm's selective_scan_fn, or False when not importable


def _mamba_kernel():
    global _KERNEL
    if _KERNEL is None:
        try:
            from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as kernel
            _KERNEL = kernel
        except Exception:  # ImportError, or a broken CUDA extension
            _KERNEL = False
    return _KERNEL or None


def pick_selective_scan(x: Tensor, prefer_kernel: bool = True):
    """The scan implementation for a tensor: mamba_ssm's CUDA kernel if usable, else the PyTorch one."""
    if prefer_kernel and x.is_cuda:
        kernel = _mamba_kernel()
        if kernel is not None:
            return kernel
    return _scan_torch


class DropPath(nn.Module):
    """Stochastic depth per sample (as timm's ``DropPath``, scaled by 1 / keep probability)."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)

    def forward(self, x: Tensor) -> Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class SS2D(nn.Module):
    """2-D selective scan: the feature map is read in four orders (row-major, column-major and both
    reversed), each order is a Mamba S6 sequence, and the four outputs are mapped back and summed.

    Input / output ``(B, H, W, d_model)``.
    """

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 3, expand: float = 2.0,
                 dt_rank="auto", dt_min: float = 0.001, dt_max: float = 0.1, dt_init: str = "random",
                 dt_scale: float = 1.0, dt_init_floor: float = 1e-4, dropout: float = 0.0,
                 conv_bias: bool = True, bias: bool = False, device=None, dtype=None, **kwargs):
        super().__init__()
        fk = {"device": device, "dtype": dtype}
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.expand = expand
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else dt_rank
        n_dir = 4

        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias, **fk)
        self.conv2d = nn.Conv2d(self.d_inner, self.d_inner, kernel_size=d_conv, padding=(d_conv - 1) // 2,
                                groups=self.d_inner, bias=conv_bias, **fk)
        self.act = nn.SiLU()

        # per direction: x -> (dt_rank | B | C) projection, stacked as one parameter
        proj_w = torch.empty(n_dir, self.dt_rank + 2 * d_state, self.d_inner, **fk)
        for k in range(n_dir):  # nn.Linear's default init
            nn.init.kaiming_uniform_(proj_w[k], a=math.sqrt(5))
        self.x_proj_weight = nn.Parameter(proj_w)

        # per direction: dt_rank -> d_inner projection with the Mamba dt initialisation
        dt_w = torch.empty(n_dir, self.d_inner, self.dt_rank, **fk)
        dt_b = torch.empty(n_dir, self.d_inner, **fk)
        for k in range(n_dir):
            self._init_dt(dt_w[k], dt_b[k], dt_scale, dt_init, dt_min, dt_max, dt_init_floor)
        self.dt_projs_weight = nn.Parameter(dt_w)
        self.dt_projs_bias = nn.Parameter(dt_b)

        # S4D-real initialisation A = -(1..N), stored as log; D = 1; four copies merged on the channel axis
        a = torch.arange(1, d_state + 1, dtype=torch.float32, device=device).repeat(n_dir * self.d_inner, 1)
        self.A_logs = nn.Parameter(torch.log(a))
        self.A_logs._no_weight_decay = True
        self.Ds = nn.Parameter(torch.ones(n_dir * self.d_inner, device=device))
        self.Ds._no_weight_decay = True

        self.out_norm = nn.LayerNorm(self.d_inner)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias, **fk)
        self.dropout = nn.Dropout(dropout) if dropout > 0.0 else None
        self.use_cuda_kernel = True  # set False to force the PyTorch scan on CUDA

    @staticmethod
    def _init_dt(weight: Tensor, bias: Tensor, dt_scale, dt_init, dt_min, dt_max, dt_init_floor) -> None:
        rank = weight.shape[1]
        std = rank ** -0.5 * dt_scale
        with torch.no_grad():
            if dt_init == "constant":
                weight.fill_(std)
            elif dt_init == "random":
                weight.uniform_(-std, std)
            else:
                raise NotImplementedError(dt_init)
            # dt log-uniform in [dt_min, dt_max]; bias = softplus^-1(dt)
            dt = torch.exp(torch.rand(bias.shape[0], device=bias.device, dtype=bias.dtype)
                           * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=dt_init_floor)
            bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def _scan_four_ways(self, x: Tensor) -> Tensor:
        """x ``(B, d_inner, H, W)`` -> sum of the four directional scans, ``(B, d_inner, H*W)`` float32."""
        n, d, h, w = x.shape
        length = h * w
        rows = x.reshape(n, d, length)
        cols = x.transpose(2, 3).reshape(n, d, length)
        fwd = torch.stack([rows, cols], dim=1)
        seqs = torch.cat([fwd, fwd.flip(-1)], dim=1)  # (B, 4, d, L)

        proj = torch.einsum("bkdl,kcd->bkcl", seqs, self.x_proj_weight)
        dts, Bs, Cs = torch.split(proj, [self.dt_rank, self.d_state, self.d_state], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)

        scan = pick_selective_scan(x, prefer_kernel=self.use_cuda_kernel)
        ys = scan(
            seqs.float().reshape(n, -1, length),
            dts.contiguous().float().reshape(n, -1, length),
            -torch.exp(self.A_logs.float()).reshape(-1, self.d_state),
            Bs.float().contiguous(), Cs.float().contiguous(),
            self.Ds.float().reshape(-1), z=None,
            delta_bias=self.dt_projs_bias.float().reshape(-1),
            delta_softplus=True, return_last_state=False,
        ).reshape(n, 4, d, length)

        # undo the reversals and the column-major order
        back = ys[:, 2:4].flip(-1)
        y_rows = ys[:, 0] + back[:, 0]
        y_cols = ys[:, 1] + back[:, 1]
        y_cols = y_cols.reshape(n, d, w, h).transpose(2, 3).reshape(n, d, length)
        return y_rows + y_cols

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        """x ``(B, H, W, d_model)`` -> ``(B, H, W, d_model)``."""
        n, h, w, _ = x.shape
        feats, gate = self.in_proj(x).chunk(2, dim=-1)
        feats = self.act(self.conv2d(feats.permute(0, 3, 1, 2).contiguous()))
        y = self._scan_four_ways(feats)
        y = y.transpose(1, 2).reshape(n, h, w, -1)
        y = self.out_norm(y) * F.silu(gate)
        out = self.out_proj(y)
        if self.dropout is not None:
            out = self.dropout(out)
        return out


class VSSBlock(nn.Module):
    """LayerNorm -> SS2D -> DropPath on a ``(B, C, H, W)`` map (no residual inside, as upstream).

    ``skip_scale`` / ``skip_scale2`` exist in the public class (and its checkpoints) but are unused.
    """

    def __init__(self, hidden_dim: int = 0, drop_path: float = 0.0, norm_layer=None,
                 attn_drop_rate: float = 0.0, d_state: int = 16, mlp_ratio: float = 2.0, **kwargs):
        super().__init__()
        norm_layer = norm_layer or (lambda d: nn.LayerNorm(d, eps=1e-6))
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = SS2D(d_model=hidden_dim, d_state=d_state, expand=mlp_ratio,
                                   dropout=attn_drop_rate, **kwargs)
        self.drop_path = DropPath(drop_path)
        self.skip_scale = nn.Parameter(torch.ones(hidden_dim))
        self.skip_scale2 = nn.Parameter(torch.ones(hidden_dim))

    def forward(self, x: Tensor) -> Tensor:
        y = self.drop_path(self.self_attention(self.ln_1(x.permute(0, 2, 3, 1))))
        return y.permute(0, 3, 1, 2)


class SpectralAttention(nn.Module):
    """Channel gate driven by the (globally min-max normalised) band-to-band gradient of the input."""

    def __init__(self, in_channels: int, reduction_ratio: int = 16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.max_pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(in_channels, in_channels, 1, bias=False),
            nn.Sigmoid(),
        )

    @staticmethod
    def spectral_gradient(x: Tensor) -> Tensor:
        """Differences of adjacent bands ``(B, C-1, H, W)`` scaled to [0, 1] over the whole batch."""
        g = x[:, 1:] - x[:, :-1]
        lo, hi = g.min(), g.max()
        return (g - lo) / (hi - lo + 1e-8)

    def forward(self, x: Tensor) -> Tensor:
        g = self.spectral_gradient(x)
        g = torch.cat([g, g[:, -1:]], dim=1)  # repeat the last difference to keep C channels
        score = self.fc(self.avg_pool(g)) + self.fc(self.max_pool(g))
        return x * torch.sigmoid(score)


class SpatialAttention(nn.Module):
    """Pixel gate from the horizontal and vertical gradients (globally min-max normalised)."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        gx = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0), mode="reflect")
        gy = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1), mode="reflect")
        g = torch.cat([gx, gy], dim=1)
        lo, hi = g.min(), g.max()
        g = (g - lo) / (hi - lo)
        stats = torch.cat([g.mean(dim=1, keepdim=True), g.amax(dim=1, keepdim=True)], dim=1)
        return x * self.sigmoid(self.conv1(stats))


class GMSR(nn.Module):
    """GMSR network, ``rgb (N, 3, H, W)`` -> ``cube (N, 31, H, W)``.

    The constructor arguments after ``out_channels`` are accepted for signature compatibility with the
    public class, which ignores them too (its stage widths 10/20/31 are fixed).
    """

    def __init__(self, inp_channels: int = 3, out_channels: int = 31, dim: int = 31,
                 num_blocks=(4, 6, 6, 8), num_refinement_blocks: int = 4, heads=(1, 2, 4, 8),
                 ffn_expansion_factor: float = 2.66, bias: bool = False, LayerNorm_type: str = "WithBias",
                 decoder: bool = False):
        super().__init__()
        widths = (10, 20, 31)
        self.output1 = nn.Conv2d(3, widths[0], 1, bias=bias)
        self.output2 = nn.Conv2d(widths[0], widths[1], 1, bias=bias)
        self.output3 = nn.Conv2d(widths[1], widths[2], 1, bias=bias)
        for i, (c, res) in enumerate(zip(widths, (16, 32, 64)), start=1):
            setattr(self, f"VSS{i}", VSSBlock(hidden_dim=c, drop_path=0.1, norm_layer=nn.LayerNorm,
                                              mlp_ratio=2.0, d_state=16, input_resolution=res))
        for i, c in enumerate(widths, start=1):
            setattr(self, f"spectral_attention{i}", SpectralAttention(c))
        self.spatial_attention = SpatialAttention()  # one module shared by the three stages
        for i, c in enumerate(widths, start=1):
            setattr(self, f"conv{i}", nn.Sequential(nn.Conv2d(3 * c, c, 1), nn.GELU()))

    def _stage(self, x: Tensor, i: int) -> Tensor:
        mixed = torch.cat([getattr(self, f"VSS{i}")(x), self.spatial_attention(x),
                           getattr(self, f"spectral_attention{i}")(x)], dim=1)
        return x + getattr(self, f"conv{i}")(mixed)

    def forward(self, rgb: Tensor) -> Tensor:
        x = self._stage(self.output1(rgb), 1)
        x = self._stage(self.output2(x), 2)
        return self._stage(self.output3(x), 3)
