"""TO MOVE TO hsi.metrics (the integrator moves these two functions there; the report then imports them).

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
