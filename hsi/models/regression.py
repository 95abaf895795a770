"""Regression baselines: linear and root-polynomial regression (RPR) from RGB to 31 bands.

Root-polynomial features (G. D. Finlayson, M. Mackiewicz, A. Hurlbert, "Color correction using
root-polynomial regression", IEEE TIP 24(5), 2015), applied to spectral reconstruction by Lin &
Finlayson (Sensors 21(16):5586, 2021):

* degree 1 (``linear``): ``r, g, b`` (3 terms);
* degree 2 (``rpr2``): adds ``sqrt(rg), sqrt(gb), sqrt(rb)`` (6 terms);
* degree 3 (``rpr3``): adds ``cbrt(r^2 g), cbrt(r^2 b), cbrt(g^2 r), cbrt(g^2 b), cbrt(b^2 r),
  cbrt(b^2 g), cbrt(rgb)`` (13 terms).

Every term is homogeneous of degree 1, so scaling the RGB by ``k`` scales every feature (and the
reconstruction) by ``k``: no constant term, exposure-invariant. Negative inputs are clamped to 0
before the roots; below ``ROOT_FLOOR`` the root is continued linearly, so values and gradients stay
finite at 0 (the features are exact roots above it).

The model is a per-pixel linear map of the features, a bias-free 1x1 convolution ``proj`` with
weight ``(31, n_features, 1, 1)``; it is fitted in closed form by ``hsi.train.regression_fit``.
"""
from __future__ import annotations

import torch
from torch import nn

ROOT_FLOOR = 1e-12
"""Below this product value a p-th root is continued linearly (finite gradient at 0)."""

# (exponents of r, g, b) of each term, in the order of the module docstring
_TERMS = {
    1: ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    2: ((1, 1, 0), (0, 1, 1), (1, 0, 1)),
    3: ((2, 1, 0), (2, 0, 1), (1, 2, 0), (0, 2, 1), (1, 0, 2), (0, 1, 2), (1, 1, 1)),
}


def feature_terms(degree: int) -> tuple[tuple[int, int, int], ...]:
    """Exponents ``(a, b, c)`` of the terms ``(r^a g^b b^c)^(1/(a+b+c))`` of a degree 1..3 model."""
    if degree not in _TERMS:
        raise ValueError(f"root-polynomial degree must be 1, 2 or 3, got {degree}")
    return tuple(t for d in range(1, degree + 1) for t in _TERMS[d])


def safe_root(x: torch.Tensor, p: int) -> torch.Tensor:
    """``x^(1/p)`` for ``x >= 0``, continued linearly below ``ROOT_FLOOR`` (finite value and gradient)."""
    if p == 1:
        return x
    floor = torch.as_tensor(ROOT_FLOOR, dtype=x.dtype, device=x.device)
    above = x.clamp_min(floor) ** (1.0 / p)
    return torch.where(x > floor, above, x * floor ** (1.0 / p - 1.0))


def root_polynomial_features(rgb: torch.Tensor, degree: int) -> torch.Tensor:
    """Root-polynomial features ``(N, n_features, H, W)`` of ``rgb (N, 3, H, W)`` (negatives clamped to 0)."""
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"rgb must be (N, 3, H, W), got {tuple(rgb.shape)}")
    x = rgb.clamp_min(0)
    chans = (x[:, 0], x[:, 1], x[:, 2])
    feats = []
    for exps in feature_terms(degree):
        prod = None
        for c, e in zip(chans, exps):
            for _ in range(e):
                prod = c if prod is None else prod * c
        feats.append(safe_root(prod, sum(exps)))
    return torch.stack(feats, dim=1)


class RootPolynomialRegression(nn.Module):
    """``(N, 3, H, W) -> (N, bands, H, W)``: a per-pixel linear map of root-polynomial features.

    Args:
        degree: 1 (linear regression, 3 terms), 2 (6 terms) or 3 (13 terms).
        bands: output bands (31).

    The map is ``proj.weight`` ``(bands, n_features, 1, 1)`` (no bias: exposure invariance); it starts at
    zero and is set by ``set_solution`` (``hsi.train.regression_fit``).
    """

    def __init__(self, degree: int = 2, bands: int = 31):
        super().__init__()
        self.degree = int(degree)
        self.n_features = len(feature_terms(self.degree))
        self.proj = nn.Conv2d(self.n_features, bands, kernel_size=1, bias=False)
        nn.init.zeros_(self.proj.weight)

    def features(self, rgb: torch.Tensor) -> torch.Tensor:
        """``(N, n_features, H, W)`` in the dtype of ``rgb``."""
        return root_polynomial_features(rgb, self.degree)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.proj(self.features(rgb.to(self.proj.weight.dtype)))

    @torch.no_grad()
    def set_solution(self, matrix) -> None:
        """Load the ``(n_features, bands)`` solution ``Y ~ F @ matrix`` (numpy or torch) into ``proj``."""
        m = torch.as_tensor(matrix, dtype=self.proj.weight.dtype, device=self.proj.weight.device)
        expected = (self.n_features, self.proj.out_channels)
        if tuple(m.shape) != expected:
            raise ValueError(f"solution must be {expected}, got {tuple(m.shape)}")
        self.proj.weight.copy_(m.t()[:, :, None, None])

    def solution(self) -> torch.Tensor:
        """The ``(n_features, bands)`` matrix of the per-pixel map."""
        return self.proj.weight[:, :, 0, 0].t().detach()


def build_regression(method: str) -> RootPolynomialRegression:
    """A zero-initialised baseline by its zoo name (``linear``, ``rpr2``, ``rpr3``: ``hsi.models.BASELINES``),
    built like every method by ``hsi.models.build_model``."""
    from hsi.models import build_model, get_spec

    spec = get_spec(method)
    if not spec.closed_form:
        raise ValueError(f"{method!r} is a network, not a regression baseline")
    return build_model(spec.method)
