"""hsi.optics: point spread functions, from optics to the files the renderer reads.

Loading (what the rendering code and the scripts use)::

    from hsi.optics import load_psf
    psf = load_psf("double_gauss_50mm_F1.8")          # PSFs/double_gauss_50mm_F1.8.npz (+ .json)
    psf.kernel            # (31, h, w) float32, each band >= 0 and summing to 1
    psf.wavelengths_nm    # (31,)
    load_psf(None)        # -> None (no PSF); also "None" and ""

File format: the paper's ``<name>.npz`` with key ``PSFs``, array ``(h, w, 31)``; a JSON side-car
``<name>.json`` says how the PSF was made. PSF centre convention: the optical axis of an ``(h, w)``
kernel is pixel ``(h // 2, w // 2)`` (``psf_center_px``) for odd and even sizes; a kernel with a
single 1 there is the identity under convolution.

Making PSFs (``PSFs/make_psfs.py``): ``designs.make_psf(name)`` runs one of the designs
(``lens`` double Gauss via ray-optics, ``grating``, ``rotation``, ``singlet``), all built on the
shared wave-optics helpers in ``diffraction`` (pupil -> PSF at the 2.74 um sensor pitch, pixel
integration, 99 % energy crop). Only the double Gauss needs an optional library (ray-optics);
everything else runs with numpy and scipy. Units are in the names: ``_nm``, ``_um``, ``_mm``.
"""
from __future__ import annotations

from .diffraction import ENERGY_FRACTION, SENSOR_PITCH_UM, WAVELENGTHS_NM
from .psf_io import (NO_PSF_NAMES, PSF, PSF_KEY, PSFError, PSFNotFoundError, list_psfs, load_psf,
                     pad_or_crop_centered, psf_center_px, save_psf, validate_kernel)

__all__ = [
    "PSF", "PSFError", "PSFNotFoundError", "load_psf", "list_psfs", "save_psf", "psf_center_px",
    "pad_or_crop_centered", "validate_kernel", "PSF_KEY", "NO_PSF_NAMES",
    "SENSOR_PITCH_UM", "WAVELENGTHS_NM", "ENERGY_FRACTION",
    "DOEOptions", "HeightMapDOE", "RadialDOE", "export_psf", "load_element",
]

#: Learnable DOEs (``hsi.optics.learned``, torch), imported on first use so hsi.optics stays numpy-only.
_LEARNED = ("DOEOptions", "HeightMapDOE", "RadialDOE", "export_psf", "load_element")


def __getattr__(name):
    if name in _LEARNED:
        from . import learned
        return getattr(learned, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
