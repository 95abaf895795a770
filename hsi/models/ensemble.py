"""Test-time 8-way geometric self-ensemble (flips and H/W transpose), as in the MST++ challenge code."""
from __future__ import annotations

from typing import Callable

import torch

Transform = tuple[bool, bool, bool]  # (transpose H/W, flip H, flip W)

ALL_TRANSFORMS: tuple[Transform, ...] = tuple(
    (t, fh, fw) for t in (False, True) for fh in (False, True) for fw in (False, True))


def _apply(x: torch.Tensor, tf: Transform) -> torch.Tensor:
    transpose, flip_h, flip_w = tf
    if transpose:
        x = x.transpose(-2, -1)
    dims = [d for d, on in ((-2, flip_h), (-1, flip_w)) if on]
    return x.flip(dims) if dims else x


def _invert(x: torch.Tensor, tf: Transform) -> torch.Tensor:
    transpose, flip_h, flip_w = tf
    dims = [d for d, on in ((-2, flip_h), (-1, flip_w)) if on]
    if dims:
        x = x.flip(dims)
    return x.transpose(-2, -1) if transpose else x


def self_ensemble(fn: Callable[[torch.Tensor], torch.Tensor], rgb: torch.Tensor,
                  reduction: str = "mean") -> torch.Tensor:
    """Average ``fn`` over the 8 flip/transpose variants of ``rgb``.

    Args:
        fn: maps ``(N, 3, H, W)`` to ``(N, C, H, W)`` (it must accept transposed sizes ``W x H``).
        rgb: ``(N, 3, H, W)`` input.
        reduction: ``"mean"`` (default of the MST++ challenge code) or ``"median"``.

    Returns:
        ``(N, C, H, W)`` combined prediction.
    """
    if reduction not in ("mean", "median"):
        raise ValueError(f"reduction must be 'mean' or 'median', got {reduction!r}")
    if reduction == "mean":
        acc = None
        for tf in ALL_TRANSFORMS:
            out = _invert(fn(_apply(rgb, tf)), tf)
            acc = out if acc is None else acc + out
        return acc / len(ALL_TRANSFORMS)
    outs = torch.stack([_invert(fn(_apply(rgb, tf)), tf) for tf in ALL_TRANSFORMS])
    return outs.median(dim=0).values
