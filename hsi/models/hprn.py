"""HPRN: holistic prior-embedded relation network for spectral super-resolution (RGB -> 31 bands).

Paper: Chaoxiong Wu, Jiaojiao Li, Rui Song, Yunsong Li, Qian Du, "HPRN: Holistic Prior-embedded Relation
Network for Spectral Super-Resolution", IEEE Transactions on Neural Networks and Learning Systems, 2023
(doi 10.1109/TNNLS.2023.3260828; arXiv 2112.14608).
Public implementation followed: Deep-imagelab/HPRN ``HPRN.py`` as vendored by
vccimaging/OpticsAwareHSI-Analysis (``architecture/HPRN.py``). The state_dict layout (names, shapes,
order) is that of the public class, so published checkpoints load with ``strict=True``.

Structure: reflect-padded 3x3 conv 3 -> 200, ten multi-residual blocks (MRB: four reflect-padded 3x3
convs with PReLU and two inner residuals, then a transformer-based spectral relation gate, TSRM), 3x3
conv + long residual, 3x3 conv 200 -> 31, and finally the semantic-embedded spatial relation module
(SSRM): pixels are grouped by their SLIC super-pixel label at four scales, sorted so that equal labels
are adjacent, and attention runs inside windows of 64 sorted pixels (plus the two neighbouring windows).

Extra input: ``semantic_label``, ``(N, 4, H, W)`` SLIC label maps of the RGB input at n_segments 8, 12,
16, 20 (integer or float tensor, on the input's device). :func:`hsi.models.adapter.run_model` computes
them exactly as the paper's data loaders do. Works for any H, W (no down-sampling).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["HPRN", "SSRM", "TSRM", "MRB", "MSAModule", "Conv3x3"]


class Conv3x3(nn.Module):
    """Reflect padding ``dilation * (k - 1) / 2`` then a bias-free convolution."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, stride: int, dilation: int = 1):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(int(dilation * (kernel_size - 1) / 2))
        self.conv2d = nn.Conv2d(in_dim, out_dim, kernel_size, stride, dilation=dilation, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv2d(self.reflection_pad(x))


def _gather_rows(values: Tensor, index: Tensor) -> Tensor:
    """``values (N, L, C)``, ``index (N, M)`` -> ``values[n, index[n, m], :]`` as ``(N, M, C)``."""
    return values.gather(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]))


def _with_neighbour_windows(x: Tensor) -> Tensor:
    """Concatenate every window (dim 2) with the previous and the next window (cyclic) along dim 3."""
    return torch.cat([x, x.roll(1, dims=2), x.roll(-1, dims=2)], dim=3)


class SSRM(nn.Module):
    """Semantic-embedded spatial relation module on ``(N, C, H, W)`` with labels ``(N, n_scales, H, W)``.

    For each scale, pixels are sorted by label (offset by 100 * scale so scales do not mix), cut into
    windows of ``window_size`` pixels (the last window is completed with a copy of the last pixels), and
    each pixel attends to the pixels of its window and of the two neighbouring windows. The per-scale
    results are restored to pixel order, concatenated and mapped back to C channels by a 1x1 conv with a
    residual.
    """

    def __init__(self, channels: int = 200, window_size: int = 8 * 8, n_scales: int = 4, reduction: int = 4,
                 stable_sort: bool = False):
        super().__init__()
        self.stable_sort = stable_sort
        self.window_size = window_size
        self.n_scales = n_scales
        self.reduction = reduction
        self.conv_x = Conv3x3(channels, channels // reduction, 3, 1)
        self.conv_y = Conv3x3(channels, channels, 1, 1)
        self.conv_out = nn.Conv2d(channels * n_scales, channels, 1)

    def _sort_keys(self, semantic_label: Tensor) -> Tensor:
        """``(N, n_scales, H, W)`` -> ``(N, n_scales * H * W)`` labels offset by 100 per scale."""
        n = semantic_label.shape[0]
        labels = semantic_label.reshape(n, self.n_scales, -1)
        offsets = 100 * torch.arange(self.n_scales, device=labels.device).view(1, -1, 1)
        return (labels + offsets).reshape(n, -1)

    def _pixel_order(self, keys: Tensor) -> Tensor:
        """Indices sorting ``keys (N, L)`` along the pixels: ``torch.sort`` as the public code calls it (the
        order of equal labels is the backend's and may differ between devices), or with ``stable_sort``
        a stable sort (equal labels keep raster order on every device)."""
        if self.stable_sort:
            return torch.sort(keys, dim=-1, stable=True).indices
        return torch.sort(keys, dim=-1).indices

    def forward(self, input: Tensor, semantic_label: Tensor) -> Tensor:
        n, _, h, w = input.shape
        length = h * w
        x_emb = self.conv_x(input).reshape(n, -1, length).transpose(1, 2)  # (N, L, C/r)
        y_emb = self.conv_y(input).reshape(n, -1, length).transpose(1, 2)  # (N, L, C)
        c_x, c_y = x_emb.shape[-1], y_emb.shape[-1]

        keys = self._sort_keys(semantic_label.detach())
        order = self._pixel_order(keys)
        undo = order.argsort(dim=-1)
        pixel = order % length
        x_sorted = _gather_rows(x_emb, pixel).reshape(n, self.n_scales, length, c_x)
        y_sorted = _gather_rows(y_emb, pixel).reshape(n, self.n_scales, length, c_y)

        ws = self.window_size
        pad = (-length) % ws
        if pad:  # complete the last window with copies of the last `pad` sorted pixels
            x_sorted = torch.cat([x_sorted, x_sorted[:, :, -pad:]], dim=2)
            y_sorted = torch.cat([y_sorted, y_sorted[:, :, -pad:]], dim=2)
        x_win = x_sorted.reshape(n, self.n_scales, -1, ws, c_x)
        y_win = y_sorted.reshape(n, self.n_scales, -1, ws, c_y)

        keys_win = _with_neighbour_windows(F.normalize(x_win, p=2, dim=-1, eps=5e-5))
        vals_win = _with_neighbour_windows(y_win)
        # query = unnormalised embedding, key = normalised embedding (as in the public code)
        score = torch.einsum("bhkie,bhkje->bhkij", x_win, keys_win)
        weight = torch.exp(score - torch.logsumexp(score, dim=-1, keepdim=True))
        out = torch.einsum("bukij,bukje->bukie", weight, vals_win).reshape(n, self.n_scales, -1, c_y)
        if pad:
            out = out[:, :, :-pad]

        out = _gather_rows(out.reshape(n, -1, c_y), undo).reshape(n, self.n_scales, length, c_y)
        out = out.permute(0, 1, 3, 2).reshape(n, -1, h, w)
        return self.conv_out(out) + input


class MSAModule(nn.Module):
    """Single-layer multi-head attention with separate bias-free q/k/v/out projections.

    ``batch_first=True``: inputs ``(B, T, E)``; otherwise ``(T, B, E)``.
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False):
        super().__init__()
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError("embed_dim must be divisible by num_heads")
        self.scale = self.head_dim ** -0.5
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(self.kdim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(self.vdim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, q: Tensor, k: Tensor, v: Tensor, need_weights: bool = False):
        if self.batch_first:
            q, k, v = (t.transpose(0, 1) for t in (q, k, v))
        q, k, v = self.q_proj(q), self.k_proj(k), self.v_proj(v)
        tgt_len, bsz, _ = q.shape
        src_len = k.shape[0]

        def split(t: Tensor) -> Tensor:  # (T, B, E) -> (B * heads, T, head_dim)
            return t.reshape(t.shape[0], bsz * self.num_heads, self.head_dim).transpose(0, 1)

        q, k, v = split(q), split(k), split(v)
        weights = torch.softmax(torch.bmm(q, k.transpose(1, 2)) * self.scale, dim=-1)
        out = torch.bmm(weights, v).transpose(0, 1).reshape(tgt_len, bsz, self.embed_dim)
        if self.batch_first:
            out = out.transpose(0, 1)
        out = self.out_proj(out)
        if need_weights:
            return out, weights.view(bsz, self.num_heads, tgt_len, src_len).mean(dim=1)
        return out


class TSRM(nn.Module):
    """Transformer-based spectral relation gate on ``(N, C, H, W)``: every channel is a token described
    by its ``patch_num x patch_num`` average-pooled map; one attention layer relates the channels, the
    token means go through a squeeze-excite MLP (PReLU, sigmoid) and scale the channels."""

    def __init__(self, channel: int, reduction: int = 16, patch_num: int = 2):
        super().__init__()
        self.patch_num = patch_num
        self.avg_pool_embed = nn.AdaptiveAvgPool2d(patch_num)
        self.cross_transformer = MSAModule(embed_dim=patch_num * patch_num, num_heads=1, bias=False,
                                           batch_first=True)
        self.gate = nn.Sequential(
            nn.Conv2d(channel, channel // reduction, 1, bias=False),
            nn.PReLU(),
            nn.Conv2d(channel // reduction, channel, 1, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        n, c = x.shape[:2]
        tokens = self.avg_pool_embed(x).reshape(n, c, -1)
        tokens = self.cross_transformer(tokens, tokens, tokens)
        return x * self.gate(tokens.mean(-1).reshape(n, c, 1, 1))


class MRB(nn.Module):
    """Multi-residual block: conv-PReLU-conv-PReLU (+x), conv (+x), PReLU, conv, TSRM (+x), PReLU."""

    def __init__(self, in_dim: int, out_dim: int, patch_num: int = 2):
        super().__init__()
        self.conv0 = Conv3x3(in_dim, out_dim, 3, 1)
        self.act0 = nn.PReLU()
        self.conv1 = Conv3x3(out_dim, out_dim, 3, 1)
        self.act1 = nn.PReLU()
        self.conv2 = Conv3x3(out_dim, out_dim, 3, 1)
        self.act2 = nn.PReLU()
        self.conv3 = Conv3x3(out_dim, out_dim, 3, 1)
        self.tsrm = TSRM(out_dim, reduction=16, patch_num=patch_num)
        self.act3 = nn.PReLU()

    def forward(self, x: Tensor) -> Tensor:
        res = x
        out = self.act1(self.conv1(self.act0(self.conv0(x)))) + res
        out = self.act2(self.conv2(out) + res)
        out = self.tsrm(self.conv3(out)) + res
        return self.act3(out)


class HPRN(nn.Module):
    """HPRN, ``forward(rgb (N, 3, H, W), semantic_label (N, 4, H, W))`` -> ``cube (N, 31, H, W)``.

    ``stable_sort``: ``False`` (default, the public code) sorts the super-pixel labels with ``torch.sort``,
    whose order of equal labels is the backend's (it may differ between CPU and CUDA, and so may the
    output, by ~5e-4 relative); ``True`` uses a stable sort (equal labels in raster order on every device).
    Only the tie order differs: the weights and the state_dict are the same.
    """

    def __init__(self, inplanes: int = 3, outplanes: int = 31, interplanes: int = 200, n_DRBs: int = 10,
                 window_size: int = 8 * 8, n_scales: int = 4, patch_num: int = 4, stable_sort: bool = False):
        super().__init__()
        self.n_DRBs = n_DRBs
        self.head_conv2D = Conv3x3(inplanes, interplanes, 3, 1)
        self.backbone = nn.ModuleList([MRB(interplanes, interplanes, patch_num=patch_num) for _ in range(n_DRBs)])
        self.tail_conv2D = Conv3x3(interplanes, interplanes, 3, 1)
        self.output_conv2D = Conv3x3(interplanes, outplanes, 3, 1)
        self.ssrm = SSRM(channels=outplanes, window_size=window_size, n_scales=n_scales, reduction=1,
                         stable_sort=stable_sort)

    def forward(self, x: Tensor, semantic_label: Tensor) -> Tensor:
        if semantic_label.shape[-2:] != x.shape[-2:] or semantic_label.shape[1] != self.ssrm.n_scales:
            raise ValueError(f"semantic_label must be (N, {self.ssrm.n_scales}, H, W) matching the input, "
                             f"got {tuple(semantic_label.shape)} for input {tuple(x.shape)}")
        head = self.head_conv2D(x)
        out = head
        for block in self.backbone:
            out = block(out)
        out = self.tail_conv2D(out) + head
        out = self.output_conv2D(out)
        return self.ssrm(out, semantic_label.to(x.device))
