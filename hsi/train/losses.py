"""Training losses by name (``--loss_func``): l1, l2, mrae, rmse, psnr (negated), sam.

All take ``(pred, target)`` of shape ``(N, 31, H, W)`` and return a scalar to minimise. Formulas match
``hsi.metrics`` (the paper's), computed in the input dtype for speed; PSNR is negated so that
minimising it maximises PSNR (the paper's code would have minimised PSNR itself).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from hsi.metrics import EPSILON, mrae_loss

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _rmse(p, g):
    return torch.sqrt(F.mse_loss(p, g))


def _neg_psnr(p, g):
    mse = ((p.clamp(0, 1) - g.clamp(0, 1)) ** 2).mean(dim=(2, 3)).clamp_min(1e-12)
    return (10 * torch.log10(mse)).mean()          # = -mean PSNR (peak 1)


def _sam(p, g):
    cos = (p * g).sum(1) / (p.norm(dim=1) * g.norm(dim=1) + EPSILON)
    return torch.arccos(cos.clamp(-1 + 1e-7, 1 - 1e-7)).mean()


LOSSES: dict[str, LossFn] = {"l1": F.l1_loss, "l2": F.mse_loss, "mrae": mrae_loss, "rmse": _rmse,
                             "psnr": _neg_psnr, "sam": _sam}


def get_loss(name: str) -> LossFn:
    """The loss ``name`` (case-insensitive); ``ValueError`` listing the valid names otherwise."""
    key = str(name).lower()
    if key not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid: {', '.join(LOSSES)}")
    return LOSSES[key]
