"""Uncorrected singlet: a thin plano-convex N-BK7 lens with strong axial chromatic aberration.

Model (on axis, object at infinity, stop at the lens):

* Focal length per wavelength from the thin-lens (lensmaker's) equation,
  ``1/f(lambda) = (n(lambda) - 1) (c1 - c2)``, with the curvatures fixed by ``f`` at the design
  wavelength; N-BK7 dispersion from its Sellmeier fit (SCHOTT data sheet).
* Sensor at the design wavelength's best focus (minimum RMS wavefront error: the paraxial focus
  shifted to balance spherical aberration, ``W020 = -W040``).
* Pupil wavefront per wavelength (``hsi.optics.diffraction`` sign convention, OPD in um over the
  normalised pupil radius ``rho``): the exact defocus between the sphere converging to ``f(lambda)``
  and the sphere centred on the sensor, ``W_d = [sqrt(z^2 + y^2) - z] - [sqrt(f^2 + y^2) - f]`` with
  ``y = rho D / 2``, plus third-order spherical aberration ``W040 rho^4``, ``W040 = -S_I / 8``, with
  Seidel's ``S_I`` of a thin lens in air (W. T. Welford, *Aberrations of Optical Systems*, 1986,
  eq. 12.26): ``S_I = (y^4 K^3 / 4) [ (n/(n-1))^2 + (n+2)/(n(n-1)^2) (B + 2(n^2-1)/(n+2) C)^2
  - n/(n+2) C^2 ]``, shape factor ``B = (c1 + c2)/(c1 - c2)`` (1 for plano-convex, convex side to the
  object), conjugate factor ``C = -1`` (object at infinity).
* PSF by the Hankel transform of the rotationally symmetric pupil (``psf_from_radial_pupil``).

Numpy and scipy only.
"""
from __future__ import annotations

import numpy as np

from .diffraction import (SENSOR_PITCH_UM, WAVELENGTHS_NM, finalise, library_versions, na_from_f_number,
                          oversampling, psf_from_radial_pupil)
from .materials import SELLMEIER, refractive_index

__all__ = ["singlet_psf", "singlet_wavefront_coefficients", "DEFAULTS"]

DEFAULTS = dict(
    focal_length_mm=50.0,         # at the design wavelength
    f_number=5.6,
    design_wavelength_nm=550.0,
    material="N-BK7",
    shape_factor=1.0,             # plano-convex, convex side towards the object
)


def _spherical_S1_um(n, y_mm, K_per_mm, B, C=-1.0):
    bracket = (n / (n - 1.0)) ** 2 + (n + 2.0) / (n * (n - 1.0) ** 2) * (B + 2.0 * (n ** 2 - 1.0) / (n + 2.0) * C) ** 2 \
        - n / (n + 2.0) * C ** 2
    return y_mm ** 4 * K_per_mm ** 3 / 4.0 * bracket * 1e3


def singlet_wavefront_coefficients(wavelengths_nm, *, focal_length_mm=DEFAULTS["focal_length_mm"],
                                   f_number=DEFAULTS["f_number"],
                                   design_wavelength_nm=DEFAULTS["design_wavelength_nm"],
                                   material=DEFAULTS["material"], shape_factor=DEFAULTS["shape_factor"]):
    """Per-wavelength focal length (mm), sensor distance (mm) and spherical coefficient W040 (um).

    Returns ``(f_mm (bands,), sensor_mm, w040_um (bands,), y_mm)``.
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    n = refractive_index(material, wl)
    n0 = refractive_index(material, design_wavelength_nm)
    dc = 1.0 / ((n0 - 1.0) * focal_length_mm)                  # c1 - c2 (1/mm)
    f = 1.0 / ((n - 1.0) * dc)
    y = focal_length_mm / (2.0 * f_number)                       # semi-aperture (mm)
    w040 = -_spherical_S1_um(n, y, 1.0 / f, shape_factor) / 8.0
    # sensor: best focus at the design wavelength, where the defocus term balances W040 (W020 = -W040);
    # to second order in y the defocus is W_d = y^2/2 (1/z - 1/f)
    w040_0 = -_spherical_S1_um(n0, y, 1.0 / focal_length_mm, shape_factor) / 8.0
    # y^2/2 (1/z - 1/f0) * 1e3 = -w040_0  ->  1/z = 1/f0 - 2 w040_0 / (y^2 1e3)
    sensor = 1.0 / (1.0 / focal_length_mm - 2.0 * w040_0 / (y ** 2 * 1e3))
    return f, sensor, w040, y


def singlet_psf(wavelengths_nm=WAVELENGTHS_NM, pitch_um: float = SENSOR_PITCH_UM, *,
                focal_length_mm: float = DEFAULTS["focal_length_mm"], f_number: float = DEFAULTS["f_number"],
                design_wavelength_nm: float = DEFAULTS["design_wavelength_nm"],
                material: str = DEFAULTS["material"], shape_factor: float = DEFAULTS["shape_factor"],
                n_rho: int = 1024) -> tuple[np.ndarray, dict]:
    """PSF stack of the singlet. Returns ``(kernel (bands, h, w) float32 normalised, meta)``."""
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    f, z, w040, y = singlet_wavefront_coefficients(
        wl, focal_length_mm=focal_length_mm, f_number=f_number, design_wavelength_nm=design_wavelength_nm,
        material=material, shape_factor=shape_factor)
    na = na_from_f_number(f_number)
    s = oversampling(pitch_um, f_number, float(wl.min()))
    # geometric blur radius (defocus + spherical), used to size the computation window
    blur_um = np.abs(z - f) * 1e3 * y / f + 4.0 * np.abs(w040) / na
    tail_um = 30.0 * wl.max() * 1e-3 * f_number
    half = int(np.ceil((blur_um.max() + tail_um) / pitch_um))
    shape = (2 * half + 1, 2 * half + 1)
    energy = np.empty((wl.size,) + shape)
    totals = np.empty(wl.size)
    for b, lam in enumerate(wl):
        def pupil(rho, b=b, lam=lam):
            yy = rho * y
            w_d = (np.sqrt(z ** 2 + yy ** 2) - z) - (np.sqrt(f[b] ** 2 + yy ** 2) - f[b])   # mm
            w_um = w_d * 1e3 + w040[b] * rho ** 4
            return np.exp(2j * np.pi * w_um / (lam * 1e-3))

        energy[b], totals[b] = psf_from_radial_pupil(pupil, na, lam, shape, pitch_um, s, n_rho=n_rho)
    n0 = refractive_index(material, design_wavelength_nm)
    r1 = (n0 - 1.0) * focal_length_mm * (1.0 + shape_factor) / 2.0 if shape_factor != -1 else np.inf
    meta = {
        "name": f"singlet_bk7_{focal_length_mm:g}mm_F{f_number:g}",
        "design": "uncorrected thin plano-convex singlet (axial chromatic aberration + spherical aberration)",
        "description": ("Thin N-BK7 plano-convex lens, convex side to the object, stop at the lens, object at "
                        "infinity; sensor at the best focus of the design wavelength. Focal length varies "
                        "with the glass dispersion (axial colour), third-order spherical from Welford's "
                        "thin-lens formula."),
        "model": "scalar Debye diffraction of the on-axis pupil (exact defocus OPD + Seidel W040), Hankel transform",
        "reference": "W. T. Welford, Aberrations of Optical Systems (Adam Hilger, 1986), thin-lens Seidel sums",
        "focal_length_mm": focal_length_mm,
        "f_number": f_number,
        "focus_wavelength_nm": design_wavelength_nm,
        "parameters": {
            "material": material,
            "material_source": SELLMEIER[material]["source"],
            "shape_factor_B": shape_factor,
            "radius_front_mm": round(float(r1), 6),
            "radius_back_mm": "inf" if shape_factor == 1.0 else None,
            "entrance_pupil_diameter_mm": round(2.0 * y, 6),
            "sensor_distance_mm": round(float(z), 6),
            "focal_length_per_band_mm": [round(float(v), 6) for v in f],
            "w040_per_band_um": [round(float(v), 6) for v in w040],
            "oversample": s,
            "n_rho": n_rho,
        },
        "library": {"name": "numpy+scipy (hsi.optics)", "version": library_versions("numpy", "scipy")},
    }
    return finalise(energy, totals, meta, pitch_um, wl)
