"""TO MOVE TO hsi.metrics (the integrator moves these functions there; the report then imports them).

NumPy forms of the validation's crop and of the MRAE per pixel, used by the error-map figures. They are
here only because ``hsi.metrics`` on this branch has neither (it has the per-image torch metrics,
``EPSILON`` and ``crop_border``); nothing else in ``hsi.report`` defines a crop or an MRAE.
"""
from __future__ import annotations

import numpy as np

from hsi.metrics import EPSILON


def centre_crop(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """The centre ``h x w`` of ``(..., H, W)`` (top-left offset ``((H - h) // 2, (W - w) // 2)``, as the
    validation's ``centre_crop``)."""
    H, W = x.shape[-2:]
    t, l = (H - h) // 2, (W - w) // 2
    return x[..., t:t + h, l:l + w]


def mrae_map(pred: np.ndarray, truth: np.ndarray, eps: float = EPSILON) -> np.ndarray:
    """Per-pixel MRAE ``(H, W)`` in float64: mean over bands of ``|pred - truth| / (truth + eps)``
    (the formula of ``hsi.metrics.mrae_per_image`` before its mean over pixels); inputs ``(bands, H, W)``."""
    return (np.abs(pred.astype(np.float64) - truth) / (truth.astype(np.float64) + eps)).mean(axis=0)


def rmse_map(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-pixel RMSE over bands ``(H, W)`` float64 (``hsi.metrics.rmse_per_image``'s squared errors; its
    image value is the root of the mean of this map squared); inputs ``(bands, H, W)``."""
    return np.sqrt(((pred.astype(np.float64) - truth) ** 2).mean(axis=0))


def sam_map(pred: np.ndarray, truth: np.ndarray, eps: float = EPSILON) -> np.ndarray:
    """Per-pixel spectral angle in radians ``(H, W)`` (``hsi.metrics.sam_per_image`` before its mean:
    both clamped to [0, 1], ``eps`` in the denominator)."""
    p, g = np.clip(pred.astype(np.float64), 0, 1), np.clip(truth.astype(np.float64), 0, 1)
    cos = (p * g).sum(0) / (np.linalg.norm(p, axis=0) * np.linalg.norm(g, axis=0) + eps)
    return np.arccos(np.clip(cos, -1, 1))


def mrae_map_above(pred: np.ndarray, truth: np.ndarray, threshold: float, eps: float = EPSILON) -> np.ndarray:
    """Per-pixel MRAE ``(H, W)`` over the bands whose ground truth is ``>= threshold`` (the voxels of
    ``hsi.metrics.mrae_breakdown``'s ``mrae_other``); NaN at pixels where every band is below it."""
    keep = truth >= threshold
    rel = np.where(keep, np.abs(pred.astype(np.float64) - truth) / (truth.astype(np.float64) + eps), 0.0)
    n = keep.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, rel.sum(axis=0) / n, np.nan)
