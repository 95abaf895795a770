"""Sinusoidal phase grating in front of an ideal (aberration-free) lens.

A thin phase grating with relief ``h(x) = (h_pp / 2) cos(2 pi x / period)`` (a crest on the pupil
centre, so the PSF is point-symmetric) in a material of index ``n(lambda)`` multiplies the pupil by
``exp(i a cos(2 pi x / period))`` with the phase amplitude ``a(lambda) = pi (n(lambda) - 1) h_pp / lambda``.
By the Jacobi-Anger expansion ``exp(i a cos phi) = sum_m i^m J_m(a) exp(i m phi)``, so the lens images a
point source as a coherent sum of Airy patterns, one per diffraction order ``m``, with amplitude
``i^m J_m(a)`` (efficiency ``J_m(a)^2``) at ``x_m = f tan(asin(m lambda / period))``: a zero order on the axis and first orders
whose offsets grow in proportion to the wavelength (the grating equation). Exact within scalar
Fraunhofer diffraction (the same model as ``hsi.optics.diffraction.psf_from_pupil``, evaluated in
closed form). Numpy and scipy only.
"""
from __future__ import annotations

import numpy as np

from .diffraction import (SENSOR_PITCH_UM, WAVELENGTHS_NM, airy_field, finalise, library_versions,
                          na_from_f_number, oversampling, psf_from_fields)
from .materials import SELLMEIER, refractive_index

__all__ = ["grating_psf", "grating_phase_amplitude", "grating_order_offsets_um", "DEFAULTS"]

DEFAULTS = dict(
    period_um=500.0,              # 2 lines/mm
    phase_amplitude_rad=1.0,      # a at the design wavelength: J0^2 = 0.59, J1^2 = 0.19 per first order
    design_wavelength_nm=550.0,
    material="fused_silica",
    focal_length_mm=50.0,
    f_number=5.6,                 # each order's Airy core spans about a pixel, so its offset is resolved
)


def grating_phase_amplitude(wavelength_nm, phase_amplitude_rad: float, design_wavelength_nm: float,
                            material: str) -> np.ndarray:
    """Phase amplitude ``a(lambda)`` of a relief grating whose amplitude is ``phase_amplitude_rad``
    at ``design_wavelength_nm`` (scales as ``(n(lambda) - 1) / lambda``)."""
    lam = np.asarray(wavelength_nm, dtype=np.float64)
    n, n0 = refractive_index(material, lam), refractive_index(material, design_wavelength_nm)
    return phase_amplitude_rad * (design_wavelength_nm / lam) * (n - 1.0) / (n0 - 1.0)


def grating_order_offsets_um(orders, wavelength_nm: float, period_um: float, focal_length_mm: float) -> np.ndarray:
    """Image-plane offsets ``f tan(asin(m lambda / period))`` (um) of diffraction orders ``m``."""
    s = np.asarray(orders, dtype=np.float64) * wavelength_nm * 1e-3 / period_um
    return focal_length_mm * 1e3 * np.tan(np.arcsin(s))


def _orders_needed(a: float, tol: float) -> int:
    """Smallest ``M`` such that orders ``|m| <= M`` carry all but ``tol`` of the energy."""
    from scipy.special import jv

    m = 0
    while 1.0 - (jv(0, a) ** 2 + 2.0 * sum(jv(k, a) ** 2 for k in range(1, m + 1))) > tol:
        m += 1
    return m


def grating_psf(wavelengths_nm=WAVELENGTHS_NM, pitch_um: float = SENSOR_PITCH_UM, *,
                period_um: float = DEFAULTS["period_um"],
                phase_amplitude_rad: float = DEFAULTS["phase_amplitude_rad"],
                design_wavelength_nm: float = DEFAULTS["design_wavelength_nm"],
                material: str = DEFAULTS["material"],
                focal_length_mm: float = DEFAULTS["focal_length_mm"],
                f_number: float = DEFAULTS["f_number"],
                tail_px: int | None = None) -> tuple[np.ndarray, dict]:
    """PSF stack of the grating + ideal lens, dispersing along +-x (kernel columns).

    ``tail_px`` (default ``30 lambda_max F# / pitch``) is how far the computation window reaches
    beyond the outermost order that matters (and above/below the axis), for the Airy tails.

    Returns ``(kernel (bands, h, w) float32 normalised, meta)``; the kernel holds at least 99 % of
    each band's energy (``meta['energy_fraction_in_kernel']``).
    """
    from scipy.special import jv

    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    na = na_from_f_number(f_number)
    s = oversampling(pitch_um, f_number, float(wl.min()))
    a = grating_phase_amplitude(wl, phase_amplitude_rad, design_wavelength_nm, material)
    m_max = _orders_needed(float(a.max()), 1e-6)           # orders in the field sum
    orders = np.arange(-m_max, m_max + 1)
    # the window must hold the orders that carry 99.5 % of the energy, plus their diffraction tails
    if tail_px is None:
        tail_px = int(np.ceil(30.0 * wl.max() * 1e-3 * f_number / pitch_um))
    x_far = max(grating_order_offsets_um([_orders_needed(float(ab), 5e-3)], float(lam), period_um,
                                         focal_length_mm)[0] for ab, lam in zip(a, wl))
    half_w = int(np.ceil(x_far / pitch_um)) + tail_px
    shape = (2 * tail_px + 1, 2 * half_w + 1)
    energy = np.empty((wl.size,) + shape)
    totals = np.empty(wl.size)
    for b, lam in enumerate(wl):
        amps = (1j ** orders) * jv(orders, a[b])
        xm = grating_order_offsets_um(orders, lam, period_um, focal_length_mm)

        def field(y, x, amps=amps, xm=xm, lam=lam):
            out = np.zeros(np.broadcast_shapes(y.shape, x.shape), dtype=np.complex128)
            for c, x0 in zip(amps, xm):
                out = out + c * airy_field(np.hypot(y, x - x0), na, lam)
            return out

        energy[b] = psf_from_fields(field, shape, pitch_um, s)
        totals[b] = np.pi * (na / (lam * 1e-3)) ** 2 * np.sum(np.abs(amps) ** 2)
    n0 = refractive_index(material, design_wavelength_nm)
    relief_pp_um = 2.0 * phase_amplitude_rad * design_wavelength_nm * 1e-3 / (2.0 * np.pi * (n0 - 1.0))
    offsets = grating_order_offsets_um(1, wl, period_um, focal_length_mm) / pitch_um
    meta = {
        "name": "grating",
        "design": "sinusoidal (cosine) phase grating in front of an ideal lens",
        "description": ("Thin sinusoidal relief phase grating (grooves along y, a crest on the axis) directly in front of an "
                        "aberration-free lens; zero order on the axis, orders m at f*tan(asin(m*lambda/period)) "
                        "along x with efficiencies J_m(a(lambda))^2 from the phase depth."),
        "model": "scalar Fraunhofer diffraction, Jacobi-Anger expansion: coherent sum of Airy fields per order",
        "focal_length_mm": focal_length_mm,
        "f_number": f_number,
        "focus_wavelength_nm": None,
        "focus_note": "ideal lens: in focus at every wavelength",
        "parameters": {
            "period_um": period_um,
            "phase_amplitude_rad_at_design": phase_amplitude_rad,
            "design_wavelength_nm": design_wavelength_nm,
            "material": material,
            "material_source": SELLMEIER[material]["source"],
            "relief_peak_to_peak_um": round(float(relief_pp_um), 6),
            "orders_included": [int(orders[0]), int(orders[-1])],
            "phase_amplitude_rad": [round(float(v), 6) for v in a],
            "efficiency_order0": [round(float(jv(0, v) ** 2), 6) for v in a],
            "efficiency_order1_each": [round(float(jv(1, v) ** 2), 6) for v in a],
            "first_order_offset_px": [round(float(v), 4) for v in offsets],
            "oversample": s,
        },
        "library": {"name": "numpy+scipy (hsi.optics)", "version": library_versions("numpy", "scipy")},
    }
    return finalise(energy, totals, meta, pitch_um, wl)
