"""Shared wave-optics helpers: pupil function -> PSF sampled at the sensor pixel pitch.

Every design module (``lens``, ``grating``, ``rotation``, ``singlet``) describes its optics by a pupil
function and calls the helpers here, so the sampling, pixel integration, energy bookkeeping and
cropping are written once.

Model (scalar Fraunhofer / Debye diffraction, object at infinity)
-----------------------------------------------------------------
* The pupil is described in normalised coordinates ``rho`` (unit circle = pupil edge). A point
  ``rho`` of the pupil sends light towards the image in the direction whose direction cosine is
  ``NA * rho`` (sine condition), with ``NA = 1 / (2 F#)`` the image-space numerical aperture. The
  spatial frequency of that pupil point is ``nu = NA * rho / lambda`` (cycles/um).
* Complex field in the image plane (``x`` in um, relative to the optical axis):
  ``E(x) = integral P(nu) exp(-2 pi i x . nu) d^2 nu``; irradiance ``|E|^2`` per um^2.
  By Parseval the total energy is ``integral |P|^2 d^2 nu``, which is what a kernel's energy
  fraction is measured against (the "99 % of each band's energy" criterion).
* Pixels integrate the irradiance over their area (100 % fill factor): the field is computed at
  ``oversample x oversample`` sub-samples per pixel (``oversample`` odd, so the centre sub-sample
  sits on the pixel centre) and summed. ``oversampling()`` picks ``oversample`` so that the
  sub-sample spacing meets the Nyquist limit ``lambda F# / 2`` of the irradiance.
* Pixel ``(i, j)`` of an ``(h, w)`` kernel has its centre at ``((i - h//2) p, (j - w//2) p)`` with
  ``p`` the pixel pitch: the optical axis falls on pixel ``(h//2, w//2)``, the toolkit's PSF centre
  convention (see ``hsi.optics.psf_io``).

Two evaluators:
* ``psf_from_pupil``: any 2-D pupil sampled on an ``n x n`` grid, transformed by a matrix DFT
  straight onto the (sub-)pixel grid (the "MDFT" of prysm's ``focus_fixed_sampling``); the output
  window is free of wrap-around as long as it is smaller than ``lambda / (NA * drho)``.
* ``psf_from_radial_pupil``: rotationally symmetric pupils (on-axis PSFs of centred systems), by a
  Hankel transform evaluated with Gauss-Legendre quadrature; exact for any amount of aberration
  given enough quadrature nodes, and much faster than a 2-D transform for strongly aberrated lenses.
"""
from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from hsi.io.mat import WAVELENGTHS_NM  # the 31 band centres of the cubes, 400-700 nm in 10 nm steps

__all__ = [
    "SENSOR_PITCH_UM", "WAVELENGTHS_NM", "ENERGY_FRACTION",
    "na_from_f_number", "oversampling", "subsample_positions_um", "bin_subsamples", "pupil_coordinates",
    "psf_from_pupil", "psf_from_radial_pupil", "airy_field", "psf_from_fields", "crop_to_energy",
    "normalise_bands", "finalise", "library_versions",
]

#: Pixel pitch of the paper's camera, Basler a2A5320-23ucBAS (Sony IMX542), in um.
SENSOR_PITCH_UM = 2.74
#: Each shipped kernel keeps at least this fraction of each band's energy.
ENERGY_FRACTION = 0.99


def na_from_f_number(f_number: float) -> float:
    """Image-space numerical aperture ``1 / (2 F#)`` of a lens imaging an object at infinity."""
    return 1.0 / (2.0 * float(f_number))


def oversampling(pitch_um: float, f_number: float, wavelength_nm: float) -> int:
    """Smallest odd number of sub-samples per pixel (per axis) meeting Nyquist for the irradiance.

    The irradiance of an aperture of F-number ``F#`` has no spatial frequency above
    ``1 / (lambda F#)``; sub-samples at most ``lambda F# / 2`` apart represent it.
    """
    nyquist_um = wavelength_nm * 1e-3 * f_number / 2.0
    s = int(np.ceil(pitch_um / nyquist_um - 1e-9))
    return max(1, s + (s + 1) % 2)


def subsample_positions_um(n_px: int, pitch_um: float, oversample: int) -> np.ndarray:
    """Positions (um) of the ``n_px * oversample`` sub-samples along one axis of an ``n_px`` kernel.

    Pixel ``i`` is centred at ``(i - n_px//2) * pitch_um``; its sub-samples sit at offsets
    ``(k - (oversample-1)/2) * pitch_um / oversample``, ``k = 0..oversample-1``.
    """
    if oversample < 1 or oversample % 2 == 0:
        raise ValueError(f"oversample must be a positive odd integer, got {oversample}")
    centres = (np.arange(n_px) - n_px // 2) * pitch_um
    offsets = (np.arange(oversample) - (oversample - 1) / 2.0) * pitch_um / oversample
    return (centres[:, None] + offsets[None, :]).ravel()


def bin_subsamples(irradiance: np.ndarray, oversample: int, pitch_um: float) -> np.ndarray:
    """Energy per pixel: sum ``(h*s, w*s)`` sub-sampled irradiance over each pixel's ``s x s`` block."""
    hs, ws = irradiance.shape[-2:]
    h, w = hs // oversample, ws // oversample
    blocks = irradiance.reshape(*irradiance.shape[:-2], h, oversample, w, oversample)
    return blocks.sum(axis=(-3, -1)) * (pitch_um / oversample) ** 2


def pupil_coordinates(n: int) -> np.ndarray:
    """Normalised pupil coordinates of an ``n``-sample axis: cell centres ``-1 + (j + 1/2) 2/n``.

    The grid is symmetric about 0, so a symmetric pupil gives a PSF centred exactly on the axis.
    """
    return -1.0 + (np.arange(n) + 0.5) * 2.0 / n


def psf_from_pupil(pupil: np.ndarray, na: float, wavelength_nm: float, shape_px: tuple[int, int],
                   pitch_um: float, oversample: int = 1) -> tuple[np.ndarray, float]:
    """Pixel-integrated PSF of a 2-D pupil by a matrix DFT onto the sensor grid.

    Args:
        pupil: ``(n, n)`` complex pupil function on ``pupil_coordinates(n)`` (rows = y, columns = x),
            zero outside the aperture.
        na: image-space numerical aperture (the pupil edge ``rho = 1`` maps to direction cosine ``na``).
        wavelength_nm: wavelength in nm.
        shape_px: ``(h, w)`` kernel size in pixels; the axis lands on pixel ``(h//2, w//2)``.
        pitch_um: pixel pitch in um.
        oversample: odd number of sub-samples per pixel and axis.

    Returns:
        ``(energy, total)``: ``(h, w)`` energy per pixel and the total energy of the pupil
        (Parseval), in the same units; ``energy.sum() / total`` is the fraction inside the kernel.
    """
    pupil = np.asarray(pupil)
    n = pupil.shape[0]
    if pupil.shape != (n, n):
        raise ValueError(f"pupil must be square, got {pupil.shape}")
    lam_um = wavelength_nm * 1e-3
    nu = na * pupil_coordinates(n) / lam_um                     # cycles/um
    dnu = na * (2.0 / n) / lam_um
    h, w = shape_px
    ys = subsample_positions_um(h, pitch_um, oversample)
    xs = subsample_positions_um(w, pitch_um, oversample)
    ay = np.exp(-2j * np.pi * np.outer(ys, nu))
    ax = np.exp(-2j * np.pi * np.outer(nu, xs))
    field = (ay @ pupil @ ax) * dnu ** 2
    energy = bin_subsamples(np.abs(field) ** 2, oversample, pitch_um)
    total = float(np.sum(np.abs(pupil) ** 2) * dnu ** 2)
    return energy, total


def _radial_grid_um(shape_px, pitch_um, wavelength_nm, na, oversample):
    h, w = shape_px
    r_max = np.hypot(h // 2 + 0.5, w // 2 + 0.5) * pitch_um * (1 + 1e-9) + pitch_um / oversample
    dr = wavelength_nm * 1e-3 / (2.0 * na) / 8.0                # 1/8 of the Airy ring spacing
    return np.linspace(0.0, r_max, int(np.ceil(r_max / dr)) + 1)


@functools.lru_cache(maxsize=8)
def _gauss_legendre_unit(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [0, 1] (cached; scipy's Golub-Welsch is O(n^2))."""
    from scipy.special import roots_legendre

    x, w = roots_legendre(n)
    return 0.5 * (x + 1.0), 0.5 * w


def psf_from_radial_pupil(pupil_fn: Callable[[np.ndarray], np.ndarray], na: float, wavelength_nm: float,
                          shape_px: tuple[int, int], pitch_um: float, oversample: int = 1,
                          n_rho: int = 2048) -> tuple[np.ndarray, float]:
    """Pixel-integrated PSF of a rotationally symmetric pupil ``P(rho)`` by a Hankel transform.

    ``E(r) = 2 pi integral_0^{nu_c} P(nu) J0(2 pi r nu) nu dnu`` with ``nu_c = na / lambda``, evaluated by
    ``n_rho``-node Gauss-Legendre quadrature on a radial grid 1/8 of the Airy ring spacing fine;
    the field is interpolated (cubic spline) to the sub-samples, squared and summed per pixel.

    Args:
        pupil_fn: maps normalised radii ``rho`` in [0, 1] to the complex pupil ``P(rho)``.
        n_rho: quadrature nodes; must resolve both the pupil phase and the Bessel oscillations
            (about ``2 na r_max / lambda`` cycles for the largest radius ``r_max`` of the kernel).
    Returns:
        ``(energy, total)`` as for ``psf_from_pupil``.
    """
    from scipy.interpolate import CubicSpline
    from scipy.special import j0

    lam_um = wavelength_nm * 1e-3
    nu_c = na / lam_um
    rho, wq = _gauss_legendre_unit(int(n_rho))
    p = np.asarray(pupil_fn(rho), dtype=np.complex128)
    r = _radial_grid_um(shape_px, pitch_um, wavelength_nm, na, oversample)
    weights = 2.0 * np.pi * nu_c ** 2 * wq * rho * p            # d^2 nu = 2 pi nu dnu
    field = np.empty(r.size, dtype=np.complex128)
    chunk = max(1, 2 ** 22 // n_rho)
    for start in range(0, r.size, chunk):
        rr = r[start:start + chunk]
        field[start:start + chunk] = j0(2.0 * np.pi * nu_c * np.outer(rr, rho)) @ weights
    h, w = shape_px
    ys = subsample_positions_um(h, pitch_um, oversample)
    xs = subsample_positions_um(w, pitch_um, oversample)
    # the irradiance depends on |y| and |x| only: evaluate it on the distinct |y|, |x| and mirror
    uy, iy = np.unique(np.round(np.abs(ys), 9), return_inverse=True)
    ux, ix = np.unique(np.round(np.abs(xs), 9), return_inverse=True)
    rs = np.hypot(uy[:, None], ux[None, :])
    # interpolate the field (smooth), not the irradiance (kinks at its zeros), by cubic splines
    spline = CubicSpline(r, np.stack([field.real, field.imag], axis=-1), axis=0)
    values = spline(rs)
    irr = (values[..., 0] ** 2 + values[..., 1] ** 2)[np.ix_(iy.ravel(), ix.ravel())]
    energy = bin_subsamples(irr, oversample, pitch_um)
    total = float(2.0 * np.pi * nu_c ** 2 * np.sum(wq * rho * np.abs(p) ** 2))
    return energy, total


def airy_field(r_um: np.ndarray, na: float, wavelength_nm: float) -> np.ndarray:
    """Field of an aberration-free circular pupil (``P = 1``) at radius ``r_um``, same normalisation.

    ``E(r) = pi nu_c^2 * 2 J1(v) / v`` with ``v = 2 pi nu_c r``, ``nu_c = na / lambda``; total energy
    ``pi nu_c^2``.
    """
    from scipy.special import j1

    nu_c = na / (wavelength_nm * 1e-3)
    v = 2.0 * np.pi * nu_c * np.asarray(r_um, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        jinc = np.where(v == 0.0, 1.0, 2.0 * j1(v) / np.where(v == 0.0, 1.0, v))
    return np.pi * nu_c ** 2 * jinc


def psf_from_fields(field_fn: Callable[[np.ndarray, np.ndarray], np.ndarray], shape_px: tuple[int, int],
                    pitch_um: float, oversample: int = 1) -> np.ndarray:
    """Pixel-integrated irradiance of an analytic field ``field_fn(y_um, x_um)`` (broadcasting arrays)."""
    h, w = shape_px
    ys = subsample_positions_um(h, pitch_um, oversample)
    xs = subsample_positions_um(w, pitch_um, oversample)
    field = field_fn(ys[:, None], xs[None, :])
    return bin_subsamples(np.abs(field) ** 2, oversample, pitch_um)


def crop_to_energy(energy: np.ndarray, totals: np.ndarray, fraction: float = ENERGY_FRACTION,
                   margin_px: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Crop an odd-sized ``(bands, H, W)`` stack, centred on ``(H//2, W//2)``, to the centred box of
    least area that holds at least ``fraction`` of every band's total energy, plus ``margin_px`` on
    each side (the result stays odd-sized and centred).

    Returns:
        ``(cropped, fractions)``: the cropped stack (still energy per pixel, not normalised) and the
        fraction of each band's total energy inside it.
    Raises:
        ValueError: if even the full window holds less than ``fraction`` of some band.
    """
    energy = np.asarray(energy, dtype=np.float64)
    totals = np.asarray(totals, dtype=np.float64)
    _, H, W = energy.shape
    if H % 2 == 0 or W % 2 == 0:
        raise ValueError(f"computation window must be odd-sized, got {H}x{W}")
    full = energy.sum(axis=(1, 2)) / totals
    if np.any(full < fraction):
        bad = int(np.argmin(full))
        raise ValueError(f"computation window {H}x{W} holds only {full[bad]:.4f} of band {bad}'s energy "
                         f"(< {fraction}); enlarge it")
    cy, cx = H // 2, W // 2
    # fold about the centre: folded[b, dy, dx] = energy of the pixels at |y - cy| = dy, |x - cx| = dx
    folded = energy[:, cy:, cx:].copy()
    folded[:, 1:, :] += energy[:, cy - 1::-1, cx:]
    folded[:, :, 1:] += energy[:, cy:, cx - 1::-1]
    folded[:, 1:, 1:] += energy[:, cy - 1::-1, cx - 1::-1]
    box = folded.cumsum(axis=1).cumsum(axis=2) / totals[:, None, None]   # box[b, ky, kx]
    ok = np.all(box >= fraction, axis=0)                                    # (cy+1, cx+1)
    ky_all, kx_all = np.nonzero(ok)
    area = (2 * ky_all + 1) * (2 * kx_all + 1)
    best = int(np.lexsort((np.abs(ky_all - kx_all), area))[0])
    ky = min(int(ky_all[best]) + margin_px, cy)
    kx = min(int(kx_all[best]) + margin_px, cx)
    crop = energy[:, cy - ky:cy + ky + 1, cx - kx:cx + kx + 1]
    return crop, crop.sum(axis=(1, 2)) / totals


def normalise_bands(stack: np.ndarray) -> np.ndarray:
    """Divide each band of a ``(bands, h, w)`` stack by its sum."""
    stack = np.asarray(stack, dtype=np.float64)
    return stack / stack.sum(axis=(1, 2), keepdims=True)


def library_versions(*modules: str) -> dict[str, str]:
    """Versions of python and the named importable modules (those not installed are omitted)."""
    import importlib
    import sys

    out = {"python": sys.version.split()[0]}
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        out[name] = str(getattr(mod, "__version__", "?"))
    return out


def finalise(energy: np.ndarray, totals: np.ndarray, meta: dict, pitch_um: float,
             wavelengths_nm: np.ndarray, fraction: float = ENERGY_FRACTION,
             margin_px: int = 2) -> tuple[np.ndarray, dict]:
    """Crop a computed ``(bands, H, W)`` energy stack to ``fraction`` of each band's energy, normalise
    each band to sum 1 and complete ``meta`` with the sampling and energy bookkeeping.

    Returns ``(kernel (bands, h, w) float32, meta)``.
    """
    crop, fractions = crop_to_energy(energy, totals, fraction=fraction, margin_px=margin_px)
    kernel = normalise_bands(crop).astype(np.float32)
    h, w = kernel.shape[-2:]
    meta = dict(meta)
    meta.update({
        "pixel_pitch_um": float(pitch_um),
        "wavelengths_nm": [float(v) for v in wavelengths_nm],
        "n_bands": int(len(wavelengths_nm)),
        "layout": "PSFs array (h, w, bands) in the .npz; hsi.optics.load_psf gives (bands, h, w)",
        "kernel_shape_px": [int(h), int(w)],
        "center_px": [int(h // 2), int(w // 2)],
        "computation_window_px": [int(energy.shape[1]), int(energy.shape[2])],
        "energy_fraction_required": float(fraction),
        "energy_fraction_in_kernel": [round(float(f), 6) for f in fractions],
        "min_energy_fraction_in_kernel": round(float(fractions.min()), 6),
        "normalisation": "each band divided by its sum (energy outside the kernel is dropped)",
    })
    return kernel, meta
