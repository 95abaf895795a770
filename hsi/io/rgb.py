"""RGB images on disk: 8-bit PNG (lossless) / JPEG (quality 65 by default) and 16-bit PNG.

Arrays are channel-first ``(3, H, W)`` in R, G, B order; OpenCV's BGR order stays inside this module.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from hsi.errors import ToolkitError
from .atomic import atomic_path

RGB_FORMATS = ("png", "jpg")
DEFAULT_JPEG_QUALITY = 65
"""JPEG quality of ARAD_1K's official RGB (NTIRE 2022) and of the paper's ``--rgb_format jpg``."""


class RGBFileError(ToolkitError, ValueError):
    """An RGB image that cannot be read or written; the message names the file."""


def write_rgb(path: str | os.PathLike, rgb: np.ndarray, jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> Path:
    """Write ``rgb (3, H, W)`` uint8 (PNG or JPEG) or uint16 (PNG only) atomically.

    The format follows the suffix: ``.png`` is written uncompressed (``IMWRITE_PNG_COMPRESSION`` 0,
    as the paper does), ``.jpg``/``.jpeg`` with ``jpeg_quality`` (1-100) and OpenCV's other defaults.
    """
    path = Path(path)
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[0] != 3:
        raise RGBFileError(f"{path}: expected a (3, H, W) array, got shape {rgb.shape}")
    suffix = path.suffix.lower()
    if rgb.dtype not in (np.uint8, np.uint16):
        raise RGBFileError(f"{path}: expected uint8 or uint16 values, got {rgb.dtype}")
    if suffix in (".jpg", ".jpeg"):
        if rgb.dtype != np.uint8:
            raise RGBFileError(f"{path}: JPEG holds 8-bit data only, got {rgb.dtype}")
        if not 1 <= int(jpeg_quality) <= 100:
            raise RGBFileError(f"{path}: JPEG quality must be in 1..100, got {jpeg_quality}")
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    elif suffix == ".png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, 0]
    else:
        raise RGBFileError(f"{path}: unknown image format {suffix!r} (use .png or .jpg)")
    bgr = np.ascontiguousarray(rgb[::-1].transpose(1, 2, 0))
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), bgr, params):
            raise RGBFileError(f"{path}: OpenCV could not write the image")
    return path


def read_rgb_raw(path: str | os.PathLike) -> np.ndarray:
    """Read an 8- or 16-bit RGB image as stored: ``(3, H, W)`` uint8/uint16."""
    path = Path(path)
    if not path.is_file():
        raise RGBFileError(f"{path}: file not found")
    bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if bgr is None:
        raise RGBFileError(f"{path}: not a readable image")
    if bgr.ndim == 2:
        raise RGBFileError(f"{path}: grey-level image, expected 3 channels")
    if bgr.shape[2] == 4:
        bgr = bgr[:, :, :3]
    if bgr.shape[2] != 3:
        raise RGBFileError(f"{path}: {bgr.shape[2]} channels, expected 3")
    return np.ascontiguousarray(bgr.transpose(2, 0, 1)[::-1])


def minmax_normalise(x, lo=None, hi=None):
    """The paper's min-max input normalisation ``(x - lo) / (hi - lo)``; 0 wherever ``hi <= lo``.

    The one implementation for every loader and renderer (numpy arrays and torch tensors alike).

    Args:
        x: raw values (numpy array or torch tensor, any shape), e.g. ``(3, H, W)`` DN or ``(N, 3, H, W)``.
        lo, hi: the range; default ``x``'s min and max over all values. Scalars (e.g. the whole image's
            range for a crop of it) or arrays/tensors broadcastable to ``x`` (e.g. ``(N, 1, 1, 1)`` per
            image). The divisor is clamped at 1e-12.

    Returns:
        Same type, shape and dtype as ``x`` (values in [0, 1] when ``lo``/``hi`` are ``x``'s own range).
    """
    if lo is None or hi is None:
        lo, hi = float(x.min()), float(x.max())
    if np.isscalar(lo) and np.isscalar(hi):
        if not hi > lo:
            return np.zeros_like(x) if isinstance(x, np.ndarray) else x.new_zeros(x.shape)
        return (x - lo) / max(hi - lo, 1e-12)
    if isinstance(x, np.ndarray):
        return np.where(hi > lo, (x - lo) / np.maximum(hi - lo, 1e-12), np.zeros_like(x))
    import torch
    return torch.where(hi > lo, (x - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(x))


def normalise_rgb(rgb: np.ndarray, mode: str = "minmax", max_value: float | None = None) -> np.ndarray:
    """Scale raw RGB values to float32 for a network.

    Args:
        rgb: ``(3, H, W)`` raw values.
        mode: ``"minmax"`` (the paper's and the MST++ toolbox's loaders: per image
            ``(x - min) / (max - min)`` over all three channels) or ``"fixed"`` (``x / max_value``).
        max_value: full scale for ``"fixed"``; default 255 for uint8 and 65535 for uint16.
    """
    x = np.asarray(rgb, dtype=np.float32)
    if mode == "minmax":
        return minmax_normalise(x)
    if mode == "fixed":
        if max_value is None:
            max_value = 65535.0 if np.asarray(rgb).dtype == np.uint16 else 255.0
        return x / np.float32(max_value)
    raise ValueError(f"normalisation mode must be 'minmax' or 'fixed', got {mode!r}")


def read_rgb(path: str | os.PathLike, mode: str = "minmax", max_value: float | None = None) -> np.ndarray:
    """Read an RGB image as network input: ``(3, H, W)`` float32 (see ``normalise_rgb``)."""
    return normalise_rgb(read_rgb_raw(path), mode=mode, max_value=max_value)
