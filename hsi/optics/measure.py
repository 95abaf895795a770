"""Size, shape and position measures of PSF kernels (used by the figures and the tests).

All functions take one band ``(h, w)`` (any non-negative scale; normalised internally) and use the
centre convention of ``hsi.optics.psf_io``: the optical axis is pixel ``(h//2, w//2)``. Lengths are
returned in pixels unless the name says ``_um``; angles in degrees, measured from the +x axis
(columns) towards +y (rows), in [-90, 90).
"""
from __future__ import annotations

import numpy as np

__all__ = ["centroid_px", "rms_radius_px", "encircled_energy_radius_px", "principal_axis_angle_deg",
           "unwrap_axis_angles_deg", "first_order_offset_px"]


def _norm(band: np.ndarray) -> np.ndarray:
    band = np.asarray(band, dtype=np.float64)
    if band.ndim != 2:
        raise ValueError(f"expected one band (h, w), got shape {band.shape}")
    return band / band.sum()


def _coords(shape):
    h, w = shape
    y = np.arange(h, dtype=np.float64) - h // 2
    x = np.arange(w, dtype=np.float64) - w // 2
    return y[:, None], x[None, :]


def centroid_px(band: np.ndarray) -> tuple[float, float]:
    """``(dy, dx)`` of the energy centroid relative to the kernel centre ``(h//2, w//2)``."""
    p = _norm(band)
    y, x = _coords(p.shape)
    return float((p * y).sum()), float((p * x).sum())


def rms_radius_px(band: np.ndarray) -> float:
    """RMS radius about the centroid: ``sqrt(sum I r^2 / sum I)`` (sensitive to faint far tails)."""
    p = _norm(band)
    y, x = _coords(p.shape)
    cy, cx = (p * y).sum(), (p * x).sum()
    return float(np.sqrt((p * ((y - cy) ** 2 + (x - cx) ** 2)).sum()))


def encircled_energy_radius_px(band: np.ndarray, fraction: float = 0.8, subsamples: int = 8) -> float:
    """Radius (about the kernel centre) of the circle holding ``fraction`` of the kernel's energy.

    Each pixel's energy is taken as spread uniformly over its square (``subsamples^2`` points per
    pixel), so the encircled energy is a continuous function of the radius, also for PSFs whose
    centre pixel holds most of the energy.
    """
    p = _norm(band)
    h, w = p.shape
    off = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    ys = ((np.arange(h) - h // 2)[:, None] + off[None, :]).ravel()
    xs = ((np.arange(w) - w // 2)[:, None] + off[None, :]).ravel()
    r = np.hypot(ys[:, None], xs[None, :]).ravel()
    wgt = np.repeat(np.repeat(p, subsamples, axis=0), subsamples, axis=1).ravel() / subsamples ** 2
    order = np.argsort(r, kind="stable")
    cum = np.cumsum(wgt[order])
    return float(np.interp(fraction, np.concatenate([[0.0], cum]), np.concatenate([[0.0], r[order]])))


def principal_axis_angle_deg(band: np.ndarray, power: float = 1.0) -> float:
    """Orientation of the major axis of the second-moment ellipse, in degrees in [-90, 90).

    Moments are weighted by ``I**power`` (``power=1``: the usual irradiance-weighted moments;
    ``power=2`` emphasises the bright core over faint wide halos). Angle from +x (columns) towards +y.
    """
    p = np.asarray(band, dtype=np.float64) ** power
    p = _norm(p)
    y, x = _coords(p.shape)
    cy, cx = (p * y).sum(), (p * x).sum()
    cxx = (p * (x - cx) ** 2).sum()
    cyy = (p * (y - cy) ** 2).sum()
    cxy = (p * (x - cx) * (y - cy)).sum()
    angle = 0.5 * np.degrees(np.arctan2(2.0 * cxy, cxx - cyy))
    return float((angle + 90.0) % 180.0 - 90.0)


def unwrap_axis_angles_deg(angles_deg: np.ndarray) -> np.ndarray:
    """Unwrap a sequence of axis orientations (defined modulo 180 degrees) into a continuous curve."""
    a = np.radians(np.asarray(angles_deg, dtype=np.float64) * 2.0)
    return np.degrees(np.unwrap(a)) / 2.0


def first_order_offset_px(band: np.ndarray, min_offset_px: int = 3, half_window_px: int = 2) -> float:
    """Offset (pixels, along +x) of the +1st diffraction order of a grating PSF dispersing along x.

    The kernel is summed over rows into a profile along x; the +1st order is taken as the brightest
    pixel at least ``min_offset_px`` right of the centre (the zero order sits on the centre and the
    higher orders are weaker), refined to sub-pixel precision by the centroid of the profile within
    ``half_window_px`` of it.
    """
    p = _norm(band)
    profile = p.sum(axis=0)
    c = profile.size // 2
    right = profile[c + min_offset_px:]
    if right.size == 0:
        raise ValueError("kernel too narrow to hold a first order")
    k = c + min_offset_px + int(np.argmax(right))
    lo, hi = max(k - half_window_px, 0), min(k + half_window_px + 1, profile.size)
    xs = np.arange(lo, hi) - c
    return float((profile[lo:hi] * xs).sum() / profile[lo:hi].sum())
