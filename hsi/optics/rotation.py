"""Diffracted-rotation encoder: a DOE whose anisotropic PSF rotates with wavelength.

After D. S. Jeon, S.-H. Baek, S. Yi, Q. Fu, X. Dun, W. Heidrich, M. H. Kim, "Compact Snapshot
Hyperspectral Imaging with Diffracted Rotation", ACM Trans. Graph. 38(4) (SIGGRAPH 2019), eq. 12:
the aperture is divided into ``n_wings`` angular wings; inside each wing the "matched" wavelength
``lambda_m`` grows linearly with the azimuth from ``lambda_min`` to ``lambda_max``, and each azimuth
is a Fresnel lens of focal length ``f`` blazed for its ``lambda_m``:

    height(r, theta) = [ (sqrt(r^2 + f^2) - f) mod lambda_m(theta) ] / (n(lambda_m) - 1).

At a wavelength ``lambda`` the azimuths with ``lambda_m ~ lambda`` focus on the sensor (distance ``f``)
while the others, whose first-order focal length is ``f lambda_m / lambda``, spread into curved
arms; the sharp part and the arms turn with ``lambda``. ``n_wings = 2`` (the default here; Jeon et al.
use 3) gives a point-symmetric PSF with a well-defined second-moment principal axis that turns
through about 180 degrees (bright core) over 400-700 nm; with 3 wings the pattern is 3-fold
symmetric and its second moments are isotropic.

Model: thin element, scalar Fraunhofer diffraction of the designed (first) diffraction order.
By the Fourier series of the blazed profile, the first order leaves azimuth ``theta`` with the
complex amplitude ``c1 = exp(-i pi (alpha - 1)) sinc(alpha - 1)``,
``alpha = (n(lambda) - 1) lambda_m / ((n(lambda_m) - 1) lambda)`` (its efficiency ``|c1|^2`` is 1 at
the matched wavelength), and the wavefront error relative to a perfect focus on the sensor
``W(r, theta) = (sqrt(r^2 + f^2) - f) (1 - lambda / lambda_m(theta))``. The zero and higher orders,
which a fabricated DOE also transmits (``1 - |c1|^2`` of the light, spread over discs about the size
of the aperture), are not modelled: they would add a faint, broad haze. The pupil is sampled on an
``n x n`` grid and transformed with ``psf_from_pupil`` (matrix DFT). Numpy only.
"""
from __future__ import annotations

import numpy as np

from .diffraction import (SENSOR_PITCH_UM, WAVELENGTHS_NM, finalise, library_versions, na_from_f_number,
                          oversampling, psf_from_pupil, pupil_coordinates)
from .materials import SELLMEIER, refractive_index

__all__ = ["rotation_psf", "rotation_pupil", "DEFAULTS"]

DEFAULTS = dict(
    focal_length_mm=3.0,
    aperture_mm=0.5,              # F/6
    n_wings=2,
    lambda_min_nm=400.0,
    lambda_max_nm=700.0,
    material="fused_silica",
    pupil_samples=256,
    window_px=181,
)


def rotation_pupil(wavelength_nm: float, n: int, *, focal_length_mm: float, aperture_mm: float, n_wings: int,
                   lambda_min_nm: float, lambda_max_nm: float, material: str) -> tuple[np.ndarray, float]:
    """First-order pupil function ``(n, n)`` complex at ``wavelength_nm`` and the efficiency-weighted
    mean first-order efficiency ``mean |c1|^2`` over the aperture."""
    rho = pupil_coordinates(n)
    xx, yy = np.meshgrid(rho, rho)                              # rows = y, columns = x
    inside = xx ** 2 + yy ** 2 <= 1.0
    r_mm = np.hypot(xx, yy) * aperture_mm / 2.0
    theta = np.mod(np.arctan2(yy, xx), 2.0 * np.pi)
    frac = np.mod(theta * n_wings / (2.0 * np.pi), 1.0)
    lam_m = lambda_min_nm + (lambda_max_nm - lambda_min_nm) * frac
    opd_um = (np.sqrt(r_mm ** 2 + focal_length_mm ** 2) - focal_length_mm) * 1e3
    w_um = opd_um * (1.0 - wavelength_nm / lam_m)
    alpha = (refractive_index(material, wavelength_nm) - 1.0) * lam_m / (
        (refractive_index(material, lam_m) - 1.0) * wavelength_nm)
    c1 = np.exp(-1j * np.pi * (alpha - 1.0)) * np.sinc(alpha - 1.0)
    pupil = np.where(inside, c1 * np.exp(2j * np.pi * w_um / (wavelength_nm * 1e-3)), 0.0)
    return pupil, float(np.mean(np.abs(c1[inside]) ** 2))


def rotation_psf(wavelengths_nm=WAVELENGTHS_NM, pitch_um: float = SENSOR_PITCH_UM, *,
                 focal_length_mm: float = DEFAULTS["focal_length_mm"],
                 aperture_mm: float = DEFAULTS["aperture_mm"], n_wings: int = DEFAULTS["n_wings"],
                 lambda_min_nm: float = DEFAULTS["lambda_min_nm"], lambda_max_nm: float = DEFAULTS["lambda_max_nm"],
                 material: str = DEFAULTS["material"], pupil_samples: int = DEFAULTS["pupil_samples"],
                 window_px: int = DEFAULTS["window_px"]) -> tuple[np.ndarray, dict]:
    """PSF stack of the rotation encoder. Returns ``(kernel (bands, h, w) float32 normalised, meta)``."""
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    f_number = focal_length_mm / aperture_mm
    na = na_from_f_number(f_number)                 # Fresnel/Fraunhofer: pupil radius / sensor distance
    s = oversampling(pitch_um, f_number, float(wl.min()))
    shape = (window_px, window_px)
    energy = np.empty((wl.size,) + shape)
    totals = np.empty(wl.size)
    eff = np.empty(wl.size)
    for b, lam in enumerate(wl):
        pupil, eff[b] = rotation_pupil(lam, pupil_samples, focal_length_mm=focal_length_mm, aperture_mm=aperture_mm,
                                       n_wings=n_wings, lambda_min_nm=lambda_min_nm, lambda_max_nm=lambda_max_nm,
                                       material=material)
        energy[b], totals[b] = psf_from_pupil(pupil, na, lam, shape, pitch_um, s)
    meta = {
        "name": "diffraction_rotation",
        "design": "diffracted-rotation DOE (Jeon et al., SIGGRAPH 2019, eq. 12)",
        "description": ("Diffractive optical element alone in front of the sensor: angular wings, each azimuth a "
                        "Fresnel lens blazed for a matched wavelength growing linearly with the azimuth, so the "
                        "focused part of the PSF and its arms rotate with wavelength."),
        "reference": ("D. S. Jeon, S.-H. Baek, S. Yi, Q. Fu, X. Dun, W. Heidrich, M. H. Kim, 'Compact Snapshot "
                      "Hyperspectral Imaging with Diffracted Rotation', ACM Trans. Graph. 38(4), 117 (2019)"),
        "model": ("scalar Fraunhofer diffraction of the first diffraction order (amplitude from the blaze "
                  "mismatch); zero and higher orders not modelled"),
        "focal_length_mm": focal_length_mm,
        "f_number": round(f_number, 6),
        "focus_wavelength_nm": None,
        "focus_note": "each azimuth is in focus at its own matched wavelength (lambda_min..lambda_max)",
        "parameters": {
            "aperture_mm": aperture_mm,
            "n_wings": n_wings,
            "lambda_min_nm": lambda_min_nm,
            "lambda_max_nm": lambda_max_nm,
            "material": material,
            "material_source": SELLMEIER[material]["source"],
            "sensor_distance_mm": focal_length_mm,
            "image_space_na": round(float(na), 6),
            "pupil_samples": pupil_samples,
            "oversample": s,
            "mean_first_order_efficiency": [round(float(v), 6) for v in eff],
        },
        "library": {"name": "numpy (hsi.optics)", "version": library_versions("numpy")},
    }
    return finalise(energy, totals, meta, pitch_um, wl)
