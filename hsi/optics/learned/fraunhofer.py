"""Differentiable pupil -> PSF in torch: ``hsi.optics.diffraction.psf_from_pupil`` batched over bands.

Same physics and sampling as the numpy path (scalar Fraunhofer diffraction, object at infinity, pupil
on ``pupil_coordinates(n)``, matrix DFT straight onto ``oversample x oversample`` sub-samples per
pixel from ``subsample_positions_um``, pixel integration as in ``bin_subsamples``, Parseval total):
for band ``b`` the field on the sub-sample grid is ``E_b = A_y,b @ P_b @ A_x,b * dnu_b^2`` with
``A_y,b[i, j] = exp(-2 pi i y_i nu_b,j)``, ``A_x,b[j, k] = exp(-2 pi i nu_b,j x_k)``,
``nu_b = na * rho / lambda_b``. All bands go through one batched matmul pair, on the device and in
the precision of the pupil; the DFT matrices depend only on the geometry, so callers that recompute
the PSF every step build them once (``DFTMatrices``) and pass them in.

The DFT matrices' phases ``2 pi y nu`` (up to a few hundred radians) are evaluated in float64 and
only then rounded to the working precision, so float32 loses nothing in the phases themselves.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..diffraction import pupil_coordinates, subsample_positions_um

__all__ = ["DFTMatrices", "dft_matrices", "psf_from_pupil_torch", "OTFMatrices", "otf_matrices", "psf_from_pupil_otf",
           "normalise_bands_torch",
           "alias_free_window_um", "complex_dtype_for"]


def complex_dtype_for(real_dtype: torch.dtype) -> torch.dtype:
    """complex64 for float32 (and lower), complex128 for float64."""
    return torch.complex128 if real_dtype == torch.float64 else torch.complex64


@dataclass(frozen=True)
class DFTMatrices:
    """Batched matrix-DFT operators of one geometry (``B`` bands, pupil ``n x n``, kernel ``h x w``).

    Attributes:
        ay: ``(B, h*s, n)`` complex, rows of the kernel's sub-samples (y) x pupil rows.
        ax: ``(B, n, w*s)`` complex, pupil columns x the kernel's sub-samples (x).
        dnu2: ``(B,)`` real, the pupil cell area ``dnu^2`` in (cycles/um)^2.
        shape_px: ``(h, w)``; oversample: ``s``; pitch_um: pixel pitch.
    """
    ay: torch.Tensor
    ax: torch.Tensor
    dnu2: torch.Tensor
    shape_px: tuple[int, int]
    oversample: int
    pitch_um: float


def dft_matrices(n: int, na: float, wavelengths_nm, shape_px: tuple[int, int], pitch_um: float,
                 oversample: int = 1, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> DFTMatrices:
    """Build the ``DFTMatrices`` of ``psf_from_pupil`` for every wavelength at once.

    Args:
        n: pupil samples per axis; na: image-space numerical aperture;
        wavelengths_nm: ``(B,)`` band wavelengths in nm; shape_px: kernel ``(h, w)`` in pixels;
        pitch_um: pixel pitch (um); oversample: odd sub-samples per pixel and axis;
        dtype: real working precision (float32 -> complex64 matrices, float64 -> complex128).
    """
    lam_um = np.asarray(wavelengths_nm, dtype=np.float64).reshape(-1) * 1e-3
    nu = na * pupil_coordinates(n)[None, :] / lam_um[:, None]                  # (B, n) cycles/um
    ys = subsample_positions_um(shape_px[0], pitch_um, oversample)
    xs = subsample_positions_um(shape_px[1], pitch_um, oversample)
    cdt = complex_dtype_for(dtype)
    ay = torch.from_numpy(np.exp(-2j * np.pi * ys[None, :, None] * nu[:, None, :])).to(device=device, dtype=cdt)
    ax = torch.from_numpy(np.exp(-2j * np.pi * nu[:, :, None] * xs[None, None, :])).to(device=device, dtype=cdt)
    dnu2 = torch.from_numpy((na * (2.0 / n) / lam_um) ** 2).to(device=device, dtype=dtype)
    return DFTMatrices(ay=ay, ax=ax, dnu2=dnu2, shape_px=(int(shape_px[0]), int(shape_px[1])),
                       oversample=int(oversample), pitch_um=float(pitch_um))


def psf_from_pupil_torch(pupil: torch.Tensor, dft: DFTMatrices) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-integrated PSFs of ``B`` pupils in one batched call (differentiable).

    Args:
        pupil: ``(B, n, n)`` complex pupil functions (rows = y, columns = x), zero outside the aperture,
            in the dtype and on the device of ``dft``.
        dft: from ``dft_matrices`` with the same ``n`` and ``B``.
    Returns:
        ``(energy, total)``: ``(B, h, w)`` energy per pixel and ``(B,)`` total pupil energy
        (Parseval), as ``hsi.optics.diffraction.psf_from_pupil`` band by band.
    """
    if pupil.ndim != 3 or pupil.shape[-1] != pupil.shape[-2] or pupil.shape[-1] != dft.ay.shape[-1]:
        raise ValueError(f"pupil must be (B, n, n) with n = {dft.ay.shape[-1]}, got {tuple(pupil.shape)}")
    hs, ws = dft.ay.shape[1], dft.ax.shape[2]
    if hs <= ws:                                                   # cheaper association first
        field = torch.matmul(torch.matmul(dft.ay, pupil), dft.ax)
    else:
        field = torch.matmul(dft.ay, torch.matmul(pupil, dft.ax))
    irr = torch.view_as_real(field).square().sum(dim=-1)            # |field|^2, scaled below
    h, w = dft.shape_px
    s = dft.oversample
    scale = dft.dnu2 ** 2 * (dft.pitch_um / s) ** 2                 # |E dnu^2|^2 x sub-sample area
    energy = irr.reshape(irr.shape[0], h, s, w, s).sum(dim=(2, 4)) * scale[:, None, None]
    total = torch.view_as_real(pupil).square().sum(dim=(-3, -2, -1)) * dft.dnu2
    return energy, total


@dataclass(frozen=True)
class OTFMatrices:
    """Operators of the spectral evaluation of the same pixel-integrated PSF (``psf_from_pupil_otf``).

    Attributes:
        gy: ``(B, h, N)`` real, maps the pupil's power spectrum rows (FFT of size ``N``) to pixel rows;
        gx: ``(B, N, w)`` real, the same for the columns; dnu2: ``(B,)`` ``dnu^2``; fft_size: ``N >= 2n - 1``.
    """
    gy: torch.Tensor
    gx: torch.Tensor
    dnu2: torch.Tensor
    fft_size: int


def _fast_fft_size(m: int) -> int:
    """Smallest integer >= m whose prime factors are 2, 3 and 5."""
    while True:
        k = m
        for p in (2, 3, 5):
            while k % p == 0:
                k //= p
        if k == 1:
            return m
        m += 1


def _pixel_operator(n: int, size: int, dnu: np.ndarray, centres_um: np.ndarray, pitch_um: float,
                    oversample: int) -> np.ndarray:
    """``(B, len(centres), size)`` real: ``(1/N) sum_|m|<n D(m) exp(2 pi i m (k/N - y dnu))`` (see psf_from_pupil_otf)."""
    lags = np.fft.fftfreq(size, 1.0 / size)                                    # FFT order
    used = np.abs(lags) < n                                                    # C_m = 0 beyond the pupil's extent
    f = dnu[:, None] * lags[None, :]                                           # (B, N) cycles/um
    offsets = (np.arange(oversample) - (oversample - 1) / 2.0) * pitch_um / oversample
    d = (pitch_um / oversample) * np.cos(2.0 * np.pi * f[..., None] * offsets).sum(axis=-1) * used
    lag_to_pixel = np.exp(-2j * np.pi * centres_um[None, :, None] * f[:, None, :]) * d[:, None, :]
    return np.fft.ifft(lag_to_pixel, axis=-1).real                            # even in m: the imaginary part is 0


def otf_matrices(n: int, na: float, wavelengths_nm, shape_px: tuple[int, int], pitch_um: float,
                 oversample: int = 1, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> OTFMatrices:
    """Build the ``OTFMatrices`` for ``psf_from_pupil_otf`` (arguments as ``dft_matrices``)."""
    lam_um = np.asarray(wavelengths_nm, dtype=np.float64).reshape(-1) * 1e-3
    dnu = na * (2.0 / n) / lam_um                                              # (B,) cycles/um
    size = _fast_fft_size(2 * n - 1)
    ys = (np.arange(shape_px[0]) - shape_px[0] // 2) * pitch_um
    xs = (np.arange(shape_px[1]) - shape_px[1] // 2) * pitch_um
    gy = _pixel_operator(n, size, dnu, ys, pitch_um, oversample)
    gx = np.swapaxes(_pixel_operator(n, size, dnu, xs, pitch_um, oversample), 1, 2)
    as_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)  # noqa: E731
    return OTFMatrices(gy=as_t(gy), gx=as_t(gx), dnu2=as_t(dnu ** 2), fft_size=size)


def psf_from_pupil_otf(pupil: torch.Tensor, mats: OTFMatrices) -> tuple[torch.Tensor, torch.Tensor]:
    """The PSFs of ``psf_from_pupil_torch`` (same sub-sample midpoint rule), evaluated in the spectral domain.

    ``|E(x)|^2 = dnu^4 sum_m C_m exp(-2 pi i x m dnu)`` with the pupil's autocorrelation
    ``C_m = sum_j P_(j+m) P_j^*`` (``|m| < n``), and ``C = IFFT_N(|FFT_N(P)|^2)`` exactly for ``N >= 2n - 1``.
    The pixel's sub-sample sum ``D(m)``, the lag-to-pixel phases and the inverse FFT are folded into two
    real matrices, so one padded FFT and two real matmuls give the pixel energies:
    ``energy = dnu^4 G_y |FFT_N(P)|^2 G_x``. Cost per band: an ``N x N`` FFT and ``h N^2 + h N w`` real
    multiply-adds, independent of ``oversample``. Returns ``(energy (B, h, w), total (B,))``.
    """
    size = mats.fft_size
    if pupil.ndim != 3 or pupil.shape[-1] != pupil.shape[-2] or 2 * pupil.shape[-1] - 1 > size:
        raise ValueError(f"pupil must be (B, n, n) with 2n - 1 <= {size}, got {tuple(pupil.shape)}")
    spectrum = torch.fft.fft(torch.fft.fft(pupil, n=size, dim=-1), n=size, dim=-2)   # rows of zeros skipped
    power = torch.view_as_real(spectrum).square().sum(dim=-1)                          # (B, N, N) real
    h, w = mats.gy.shape[1], mats.gx.shape[2]
    if h <= w:
        energy = torch.matmul(torch.matmul(mats.gy, power), mats.gx)
    else:
        energy = torch.matmul(mats.gy, torch.matmul(power, mats.gx))
    energy = energy * (mats.dnu2 ** 2)[:, None, None]
    total = power.sum(dim=(-2, -1)) * (mats.dnu2 / size ** 2)                         # Parseval
    return energy, total


def normalise_bands_torch(stack: torch.Tensor) -> torch.Tensor:
    """Divide each band of a ``(..., h, w)`` stack by its sum (``diffraction.normalise_bands`` in torch)."""
    return stack / stack.sum(dim=(-2, -1), keepdim=True)


def alias_free_window_um(n: int, na: float, wavelength_nm: float) -> float:
    """Period ``lambda / (na * drho)`` (um) of the matrix DFT's output: the kernel window must be smaller."""
    return wavelength_nm * 1e-3 / (na * 2.0 / n)
