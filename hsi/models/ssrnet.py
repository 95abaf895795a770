"""SSRNet (CNN_BP_SE5): model-guided cross-fusion network for spectral super-resolution.

Paper: Renwei Dian, Tianci Shan, Wei He, Haibo Liu, "Spectral Super-Resolution via Model-Guided
Cross-Fusion Network", IEEE Transactions on Neural Networks and Learning Systems 35(7), 2024.
Public implementation followed: renweidian/SSRnet-pytorch ``SSR/model3.py`` (class ``CNN_BP_SE5``) as
vendored by vccimaging/OpticsAwareHSI-Analysis (``architecture/SSRnet.py``). The state_dict layout
(names, shapes, order) is that of the public class, so published checkpoints load with ``strict=True``.

Structure: seven unrolled stages. Each stage ("cycle fusion") runs two conv branches on the current
estimate (one with adaptive weighted channel attention, AWCA), fuses them, and then solves the data
term in closed form: with the camera response ``R`` (3 x 31) and the RGB image ``Y``,

    X = (R^T Y + mu (Z1 + Z2)) (R^T R + 2 mu I)^-1        (per pixel; mu learned, one per stage)

where Z1, Z2 are the two branch outputs. The first stage starts from the RGB image itself.

Extra input: the camera response ``R`` ``(3, 31)`` (rows = R, G, B) with each row normalised to sum 1,
the spectral response the RGB data was rendered with. :func:`hsi.models.adapter.run_model` builds it
from a ``(31, 3)`` SRF. Works for any H, W (no down-sampling).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CNN_BP_SE5", "cycle_fusion", "AWCA"]


class AWCA(nn.Module):
    """Adaptive weighted channel attention: a softmax spatial map (1x1 conv) pools each channel, a
    bottleneck MLP (C -> 1 -> C, LeakyReLU 0.2, sigmoid) turns the pooled vector into channel scales."""

    def __init__(self, channel: int = 31):
        super().__init__()
        self.conv = nn.Conv2d(channel, 1, 1, bias=False)
        self.softmax = nn.Softmax(dim=2)
        self.fc = nn.Sequential(
            nn.Linear(channel, 1, bias=False),
            nn.LeakyReLU(negative_slope=0.2),
            nn.Linear(1, channel, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        weights = self.softmax(self.conv(x).reshape(b, 1, h * w))  # (B, 1, HW)
        pooled = torch.matmul(x.reshape(b, c, h * w), weights.transpose(1, 2)).reshape(b, c)
        return x * self.fc(pooled).reshape(b, c, 1, 1)


def _conv_lrelu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, 1, 1, bias=True), nn.LeakyReLU(negative_slope=0.2)]


class cycle_fusion(nn.Module):  # noqa: N801 (public class name)
    """One unrolled stage: two conv branches fused, then the closed-form spectral projection."""

    def __init__(self, in_chanels: int, out_chanels: int):
        super().__init__()
        self.conv1 = nn.Sequential(*_conv_lrelu(in_chanels, out_chanels))
        self.conv2 = nn.Sequential(*_conv_lrelu(in_chanels, out_chanels), AWCA(out_chanels))
        self.conv3 = nn.Sequential(*_conv_lrelu(out_chanels * 2, 31), AWCA(31))
        self.conv4 = nn.Sequential(nn.Conv2d(out_chanels + 31, 31, 3, 1, 1, bias=True))

    @staticmethod
    def spectral_projection(R: Tensor, MSI: Tensor, mu: Tensor, Y1: Tensor, Y2: Tensor) -> Tensor:
        """Closed-form data step: ``(R^T MSI + mu (Y1 + Y2)) (R^T R + 2 mu I)^-1`` per pixel.

        Args:
            R: ``(3, 31)`` camera response. MSI: ``(N, 3, H, W)``. mu: scalar tensor.
            Y1, Y2: ``(N, 31, H, W)`` priors.
        Returns:
            ``(N, 31, H, W)``.
        """
        nb = R.shape[1]
        rhs = torch.einsum("nchw,cb->nbhw", MSI, R) + mu * (Y1 + Y2)
        # R^T R has rank 3 and mu is ~1e-5, so the system is ill-conditioned (cond ~ 6e3 for the paper's
        # camera): a float32 inverse is off by ~5 % of the output and differs between CPU and GPU. The
        # 31 x 31 inverse is therefore computed in float64 (same formula, negligible cost).
        solve_dtype = torch.float64 if R.device.type in ("cpu", "cuda") else R.dtype
        Rs = R.to(solve_dtype)
        system = Rs.transpose(0, 1) @ Rs + 2 * mu.to(solve_dtype) * torch.eye(nb, device=R.device, dtype=solve_dtype)
        inv = torch.inverse(system).to(rhs.dtype)
        # x_i = sum_j rhs_j * inv[i, j]  (the public code's tensordot over the matrix's second axis)
        return torch.einsum("njhw,ij->nihw", rhs, inv)

    def forward(self, R: Tensor, x1: Tensor, MSI: Tensor, mu: Tensor) -> Tensor:
        attended = self.conv2(x1)
        plain = self.conv1(x1)
        fused = self.conv3(torch.cat([attended, plain], dim=1))
        refined = self.conv4(torch.cat([fused, plain], dim=1))
        return self.spectral_projection(R, MSI, mu, refined, fused)


class CNN_BP_SE5(nn.Module):  # noqa: N801 (public class name)
    """SSRNet, ``forward(rgb (N, 3, H, W), srf (3, 31))`` -> ``cube (N, 31, H, W)``.

    ``srf`` is the camera response with rows R, G, B, each row normalised to sum 1. The public class's
    argument order ``forward(R, MSI)`` is accepted too (recognised by the 2-D SRF coming first).
    """

    def __init__(self):
        super().__init__()
        self.mu = nn.Parameter(torch.ones(7) * 1e-5)
        num = 32
        self.pro = cycle_fusion(3, 64)
        self.pro1 = cycle_fusion(31, num)
        self.pro2 = cycle_fusion(31, num)
        self.pro3 = cycle_fusion(31, num)
        self.pro4 = cycle_fusion(31, num)
        self.pro5 = cycle_fusion(31, num)
        self.pro6 = cycle_fusion(31, num)

    def forward(self, rgb: Tensor, srf: Tensor) -> Tensor:
        if rgb.dim() == 2 and srf.dim() == 4:  # public order forward(R, MSI)
            rgb, srf = srf, rgb
        if srf.dim() != 2 or srf.shape[0] != rgb.shape[1]:
            raise ValueError(f"srf must be ({rgb.shape[1]}, bands), got {tuple(srf.shape)}")
        R = srf.to(device=rgb.device, dtype=rgb.dtype)
        x = rgb
        stages = (self.pro, self.pro1, self.pro2, self.pro3, self.pro4, self.pro5, self.pro6)
        for i, stage in enumerate(stages):
            x = stage(R, x, rgb, self.mu[i])
        return x
