"""Registry of the PSF designs that ship in ``PSFs/``: name -> how to compute it.

``make_psf(name)`` returns ``(kernel (31, h, w) float32, meta)`` for the paper's 31 bands and the
Basler a2A5320-23ucBAS pixel pitch; ``PSFs/make_psfs.py`` writes them with ``save_psf``. Every
design is deterministic: regenerating one reproduces the shipped file (up to floating-point noise).
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .diffraction import SENSOR_PITCH_UM, WAVELENGTHS_NM

__all__ = ["Design", "DESIGNS", "design_names", "design_available", "make_psf", "CAMERA"]

CAMERA = "Basler a2A5320-23ucBAS (Sony IMX542, 2.74 um pixels), the paper's camera"


@dataclass(frozen=True)
class Design:
    """One shipped PSF: its builder (``f(wavelengths_nm, pitch_um) -> (kernel, meta)``), the optional
    library it needs (None: numpy and scipy only) and a one-line title."""
    builder: Callable[..., tuple[np.ndarray, dict]]
    requires: str | None
    title: str


def _lens(wavelengths_nm, pitch_um):
    from .lens import double_gauss_psf
    return double_gauss_psf(wavelengths_nm, pitch_um)


def _grating(wavelengths_nm, pitch_um):
    from .grating import grating_psf
    return grating_psf(wavelengths_nm, pitch_um)


def _rotation(wavelengths_nm, pitch_um):
    from .rotation import rotation_psf
    return rotation_psf(wavelengths_nm, pitch_um)


def _singlet(wavelengths_nm, pitch_um):
    from .singlet import singlet_psf
    return singlet_psf(wavelengths_nm, pitch_um)


DESIGNS: dict[str, Design] = {
    "double_gauss_50mm_F1.8": Design(_lens, "rayoptics", "double Gauss 50 mm F/1.8 (ray-traced, on axis)"),
    "grating": Design(_grating, None, "sinusoidal phase grating + ideal 50 mm F/5.6 lens"),
    "diffraction_rotation": Design(_rotation, None, "diffracted-rotation DOE (Jeon et al. 2019), 3 mm F/6"),
    "singlet_bk7_50mm_F5.6": Design(_singlet, None, "uncorrected N-BK7 singlet 50 mm F/5.6 (axial colour)"),
}


def design_names() -> list[str]:
    """Names of the shipped designs."""
    return list(DESIGNS)


def design_available(name: str) -> bool:
    """True when the libraries ``name`` needs are installed."""
    req = DESIGNS[name].requires
    if req is None:
        return True
    if req == "rayoptics":
        from .lens import rayoptics_available
        return rayoptics_available()
    raise KeyError(req)


def make_psf(name: str, wavelengths_nm=WAVELENGTHS_NM, pitch_um: float = SENSOR_PITCH_UM) -> tuple[np.ndarray, dict]:
    """Compute the design ``name``: ``(kernel (bands, h, w) float32, each band summing to 1; meta)``."""
    try:
        design = DESIGNS[name]
    except KeyError:
        raise KeyError(f"unknown PSF design {name!r}; known: {', '.join(DESIGNS)}") from None
    kernel, meta = design.builder(np.asarray(wavelengths_nm, dtype=np.float64), float(pitch_um))
    if meta.get("name") != name:
        raise RuntimeError(f"design {name!r} produced meta name {meta.get('name')!r}")
    meta = {
        "name": name,
        "title": design.title,
        **{k: v for k, v in meta.items() if k != "name"},
        "camera": CAMERA,
        "generator": "PSFs/make_psfs.py -> hsi.optics.designs.make_psf",
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return kernel, meta
