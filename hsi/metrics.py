"""Reconstruction metrics with the paper's exact formulas (``metamer/metrics.py``, EPSILON = 1e-6).

For prediction ``p`` and ground truth ``g``, ``(N, bands, H, W)`` in [0, 1] units:

* MRAE = mean |p - g| / (g + eps)                       (no clamping; eps = 1e-6, ``eps=0`` = MST++)
* RMSE = sqrt(mean (p - g)^2)                            (no clamping)
* PSNR: p, g clamped to [0, 1], x 255; per image n and band c: MSE = sum_hw diff^2 / (H W),
  PSNR = 10 log10(255^2 / MSE); mean over n and c (``psnr_mode="band"``, the paper's) or one MSE over
  the whole cube per image (``psnr_mode="cube"``, the MST++ toolbox's)
* SAM: per pixel arccos(clamp(<p, g> / (|p| |g| + eps), -1, 1)) in radians, p, g clamped to [0, 1],
  mean over pixels

The ``*_per_image`` functions return ``(N,)``; ``compute_metrics`` returns a dict of per-image values
and ``summarise`` averages over images (every reported number is a mean over images, as upstream).
An optional ``border`` crop removes that many pixels from each side first (MST++ evaluation: 128).

The one home of the MRAE term (``relative_error``, used by the metric, the training loss and the
per-pixel maps of the report), of the metric names (``METRIC_NAMES``) and of the crops
(``crop_border``, ``centre_crop``).
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np
import torch

MRAE_EPS = 1e-6
"""Denominator offset of the MRAE (and of SAM's norm product): the paper's ``EPSILON``."""
EPSILON = MRAE_EPS
METRIC_NAMES = ("MRAE", "RMSE", "PSNR", "SAM")
"""The paper's four metrics, in its order; ``compute_metrics`` and ``summarise`` return these keys."""


def crop_border(x: torch.Tensor, border: int) -> torch.Tensor:
    """Remove ``border`` pixels from every side of the last two axes."""
    if border <= 0:
        return x
    h, w = x.shape[-2:]
    if 2 * border >= h or 2 * border >= w:
        raise ValueError(f"border {border} leaves nothing of a {h}x{w} image")
    return x[..., border:h - border, border:w - border]


def centre_crop(x, height: int, width: int | None = None):
    """The centre ``height x width`` (``width`` default: ``height``) of the last two axes of ``x``
    (numpy array or tensor); ``x`` unchanged when it is smaller than that along either side. Top-left
    corner at ``((H - height) // 2, (W - width) // 2)``, as the validation crop (ICVL: 512)."""
    width = height if width is None else width
    h, w = x.shape[-2:]
    if h < height or w < width:
        return x
    top, left = (h - height) // 2, (w - width) // 2
    return x[..., top:top + height, left:left + width]


def relative_error(p, g, eps: float = MRAE_EPS):
    """``|p - g| / (g + eps)`` element-wise (tensors or numpy arrays, in their dtype): the MRAE's term."""
    return abs(p - g) / (g + eps)


def _check(p: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if p.shape != g.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and ground truth {tuple(g.shape)} differ in shape")
    if p.ndim == 3:
        p, g = p.unsqueeze(0), g.unsqueeze(0)
    if p.ndim != 4:
        raise ValueError(f"expected (N, bands, H, W) tensors, got {tuple(p.shape)}")
    return p.to(torch.float64), g.to(torch.float64)


def mrae_per_image(p: torch.Tensor, g: torch.Tensor, eps: float = EPSILON) -> torch.Tensor:
    """Mean relative absolute error per image, ``(N,)``."""
    p, g = _check(p, g)
    return relative_error(p, g, eps).mean(dim=(1, 2, 3))


def rmse_per_image(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Root mean squared error per image, ``(N,)``."""
    p, g = _check(p, g)
    return ((p - g) ** 2).mean(dim=(1, 2, 3)).sqrt()


def psnr_per_image(p: torch.Tensor, g: torch.Tensor, mode: str = "band") -> torch.Tensor:
    """PSNR in dB per image, ``(N,)``: per-band mean (``"band"``, paper) or whole cube (``"cube"``).

    A band (or cube) with zero error gives +inf, as upstream.
    """
    p, g = _check(p, g)
    d = (p.clamp(0, 1) * 255 - g.clamp(0, 1) * 255) ** 2
    if mode == "band":
        mse = d.mean(dim=(2, 3))
        return (10 * torch.log10(255.0 ** 2 / mse)).mean(dim=1)
    if mode == "cube":
        return 10 * torch.log10(255.0 ** 2 / d.mean(dim=(1, 2, 3)))
    raise ValueError(f"psnr mode must be 'band' or 'cube', got {mode!r}")


def sam_per_image(p: torch.Tensor, g: torch.Tensor, eps: float = EPSILON) -> torch.Tensor:
    """Mean spectral angle in radians per image, ``(N,)``."""
    p, g = _check(p, g)
    p, g = p.clamp(0, 1), g.clamp(0, 1)
    cos = (p * g).sum(1) / (p.norm(dim=1) * g.norm(dim=1) + eps)
    return torch.arccos(cos.clamp(-1, 1)).mean(dim=(1, 2))


def compute_metrics(p: torch.Tensor, g: torch.Tensor, border: int = 0, mrae_eps: float = EPSILON,
                    psnr_mode: str = "band") -> dict[str, torch.Tensor]:
    """All four metrics per image: ``{"MRAE": (N,), "RMSE": (N,), "PSNR": (N,), "SAM": (N,)}``."""
    p, g = crop_border(p, border), crop_border(g, border)
    return {"MRAE": mrae_per_image(p, g, mrae_eps), "RMSE": rmse_per_image(p, g),
            "PSNR": psnr_per_image(p, g, psnr_mode), "SAM": sam_per_image(p, g)}


def summarise(per_image: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over images (rows of per-image dicts); NaN where there are no rows."""
    rows = list(per_image)
    out = {}
    for name in METRIC_NAMES:
        vals = [float(r[name]) for r in rows if name in r]
        out[name] = sum(vals) / len(vals) if vals else math.nan
    return out


def mrae_loss(p: torch.Tensor, g: torch.Tensor, eps: float = EPSILON) -> torch.Tensor:
    """Differentiable MRAE over the whole batch (training loss), same formula as ``mrae_per_image``."""
    return relative_error(p, g, eps).mean()


def mrae_map(pred, truth, eps: float = MRAE_EPS):
    """Per-pixel MRAE ``(H, W)`` of ``(bands, H, W)`` numpy arrays: the mean over bands of
    ``relative_error`` in float64."""
    return relative_error(np.asarray(pred, dtype=np.float64), np.asarray(truth, dtype=np.float64), eps).mean(axis=0)


def rmse_map(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-pixel RMSE over bands ``(H, W)`` float64 (``hsi.metrics.rmse_per_image``'s squared errors; its
    image value is the root of the mean of this map squared); inputs ``(bands, H, W)``."""
    return np.sqrt(((pred.astype(np.float64) - truth) ** 2).mean(axis=0))


def sam_map(pred: np.ndarray, truth: np.ndarray, eps: float = MRAE_EPS) -> np.ndarray:
    """Per-pixel spectral angle in radians ``(H, W)`` (``hsi.metrics.sam_per_image`` before its mean:
    both clamped to [0, 1], ``eps`` in the denominator)."""
    p, g = np.clip(pred.astype(np.float64), 0, 1), np.clip(truth.astype(np.float64), 0, 1)
    cos = (p * g).sum(0) / (np.linalg.norm(p, axis=0) * np.linalg.norm(g, axis=0) + eps)
    return np.arccos(np.clip(cos, -1, 1))


def mrae_map_above(pred: np.ndarray, truth: np.ndarray, threshold: float, eps: float = MRAE_EPS) -> np.ndarray:
    """Per-pixel MRAE ``(H, W)`` over the bands whose ground truth is ``>= threshold`` (the voxels of
    ``mrae_breakdown``'s ``mrae_other``); NaN at pixels where every band is below it."""
    keep = truth >= threshold
    rel = np.where(keep, relative_error(pred.astype(np.float64), truth.astype(np.float64), eps), 0.0)
    n = keep.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, rel.sum(axis=0) / n, np.nan)


# ------------------------------------------------------------ MRAE breakdown (near-zero ground truth)
NEAR_ZERO = 0.01
"""Ground-truth values below this (on [0, 1] data) make MRAE's denominator tiny: ``mrae_breakdown``."""
MRAE_NEAR_ZERO_FRACTION = "MRAE_truth_below_0.01_fraction"
"""Summary key: fraction of ground-truth voxels < ``NEAR_ZERO`` (mean over images), in [0, 1]."""
MRAE_WITHOUT_NEAR_ZERO = "MRAE_truth_above_0.01"
"""Summary key: MRAE over the voxels whose ground truth is >= ``NEAR_ZERO`` (mean over images)."""
MRAE_BREAKDOWN_KEYS = (MRAE_NEAR_ZERO_FRACTION, MRAE_WITHOUT_NEAR_ZERO)


def mrae_breakdown(p: torch.Tensor, g: torch.Tensor, threshold: float = NEAR_ZERO, eps: float = EPSILON,
                   border: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Where MRAE comes from, per image: ``(near_zero_fraction (N,), mrae_other (N,))`` float64.

    ``near_zero_fraction``: share of ground-truth voxels ``g < threshold`` (in [0, 1]);
    ``mrae_other``: the MRAE formula of ``mrae_per_image`` averaged over the other voxels only (NaN for an
    image with none). The paper's MRAE itself is unchanged (``mrae_per_image``). ``p``, ``g``:
    ``(N, bands, H, W)`` or ``(bands, H, W)``; ``border`` as in ``compute_metrics``.
    """
    p, g = _check(crop_border(p, border), crop_border(g, border))
    keep = g >= threshold
    n_keep = keep.sum(dim=(1, 2, 3)).to(torch.float64)
    rel = torch.where(keep, relative_error(p, g, eps), torch.zeros((), dtype=p.dtype, device=p.device))
    other = rel.sum(dim=(1, 2, 3)) / n_keep                 # 0/0 = NaN where nothing is kept
    return 1.0 - n_keep / keep[0].numel(), other


def mrae_breakdown_metrics(p: torch.Tensor, g: torch.Tensor, border: int = 0) -> dict[str, torch.Tensor]:
    """``mrae_breakdown`` as per-image metrics under the summary keys ``MRAE_BREAKDOWN_KEYS`` (``(N,)`` each),
    to merge into ``compute_metrics``' dict."""
    fraction, other = mrae_breakdown(p, g, border=border)
    return {MRAE_NEAR_ZERO_FRACTION: fraction, MRAE_WITHOUT_NEAR_ZERO: other}


def summarise_keys(per_image: Iterable[Mapping[str, float]], keys: Iterable[str] = MRAE_BREAKDOWN_KEYS
                   ) -> dict[str, float]:
    """Mean over images of each of ``keys`` present in the rows, skipping NaN values (an image with no
    voxel above the threshold); keys present in no row are left out."""
    rows = list(per_image)
    out = {}
    for name in keys:
        vals = [float(r[name]) for r in rows if name in r and not math.isnan(float(r[name]))]
        if any(name in r for r in rows):
            out[name] = sum(vals) / len(vals) if vals else math.nan
    return out


def image_metrics(p: torch.Tensor, g: torch.Tensor, border: int = 0) -> dict[str, float]:
    """One validation row: ``compute_metrics`` and the MRAE breakdown (``mrae_breakdown_metrics``) of a single
    image (``p``, ``g``: ``(1, bands, H, W)``) as floats."""
    m = compute_metrics(p, g, border=border)
    m.update(mrae_breakdown_metrics(p, g, border=border))   # where MRAE comes from
    return {k: float(v[0]) for k, v in m.items()}


def summarise_rows(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Mean over images of the four metrics (``summarise``) and of the MRAE breakdown (``summarise_keys``)."""
    rows = list(rows)
    return {**summarise(rows), **summarise_keys(rows)}

