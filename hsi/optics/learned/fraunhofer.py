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
    """Operators of the autocorrelation (OTF) evaluation of the same pixel-integrated PSF.

    Attributes:
        by: ``(B, h, N)`` complex, ``exp(-2 pi i y_i m dnu) D(m)`` over pixel-centre rows ``y_i`` and pupil
            lags ``m`` (FFT order); ``D(m) = (p/s) sum_a cos(2 pi delta_a m dnu)`` is the sub-sample sum of a pixel.
        bx: ``(B, N, w)`` complex, the same for the columns.
        dnu2: ``(B,)`` real ``dnu^2``; fft_size: ``N >= 2 n - 1``.
    """
    by: torch.Tensor
    bx: torch.Tensor
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


def otf_matrices(n: int, na: float, wavelengths_nm, shape_px: tuple[int, int], pitch_um: float,
                 oversample: int = 1, dtype: torch.dtype = torch.float32,
                 device: torch.device | str | None = None) -> OTFMatrices:
    """Build the ``OTFMatrices`` for ``psf_from_pupil_otf`` (arguments as ``dft_matrices``)."""
    lam_um = np.asarray(wavelengths_nm, dtype=np.float64).reshape(-1) * 1e-3
    dnu = na * (2.0 / n) / lam_um                                              # (B,) cycles/um
    size = _fast_fft_size(2 * n - 1)
    lags = np.fft.fftfreq(size, 1.0 / size)                                    # 0, 1, ..., -1 (FFT order)
    f = dnu[:, None] * lags[None, :]                                           # (B, N) cycles/um
    offsets = (np.arange(oversample) - (oversample - 1) / 2.0) * pitch_um / oversample
    d = (pitch_um / oversample) * np.cos(2.0 * np.pi * f[..., None] * offsets).sum(axis=-1)   # (B, N)
    ys = (np.arange(shape_px[0]) - shape_px[0] // 2) * pitch_um
    xs = (np.arange(shape_px[1]) - shape_px[1] // 2) * pitch_um
    by = np.exp(-2j * np.pi * ys[None, :, None] * f[:, None, :]) * d[:, None, :]
    bx = np.exp(-2j * np.pi * f[:, :, None] * xs[None, None, :]) * d[:, :, None]
    cdt = complex_dtype_for(dtype)
    return OTFMatrices(by=torch.from_numpy(by).to(device=device, dtype=cdt),
                       bx=torch.from_numpy(bx).to(device=device, dtype=cdt),
                       dnu2=torch.from_numpy(dnu ** 2).to(device=device, dtype=dtype), fft_size=size)


def psf_from_pupil_otf(pupil: torch.Tensor, mats: OTFMatrices) -> tuple[torch.Tensor, torch.Tensor]:
    """The PSFs of ``psf_from_pupil_torch`` (same sub-sample midpoint rule), by way of the pupil's
    autocorrelation: ``|E(x)|^2 = dnu^4 sum_m C_m exp(-2 pi i x m dnu)``, ``C_m = sum_j P_(j+m) P_j^*``
    (an FFT of size ``N >= 2n - 1``, exact), so the sub-samples of a pixel sum in closed form
    (``D(m)``) and the cost no longer grows with ``oversample``: ``h N^2 + h N w`` per band instead of
    ``s h n^2 + s^2 h w n``. Returns ``(energy (B, h, w), total (B,))``.
    """
    size = mats.fft_size
    if pupil.ndim != 3 or pupil.shape[-1] != pupil.shape[-2] or 2 * pupil.shape[-1] - 1 > size:
        raise ValueError(f"pupil must be (B, n, n) with 2n - 1 <= {size}, got {tuple(pupil.shape)}")
    spectrum = torch.fft.fft2(pupil, s=(size, size))
    power = torch.view_as_real(spectrum).square().sum(dim=-1)
    autocorr = torch.fft.ifft2(power.to(spectrum.dtype))                     # C_m, lags in FFT order
    h, w = mats.by.shape[1], mats.bx.shape[2]
    if h <= w:
        irr = torch.matmul(torch.matmul(mats.by, autocorr), mats.bx)
    else:
        irr = torch.matmul(mats.by, torch.matmul(autocorr, mats.bx))
    energy = irr.real * (mats.dnu2 ** 2)[:, None, None]
    total = autocorr[:, 0, 0].real * mats.dnu2
    return energy, total


def normalise_bands_torch(stack: torch.Tensor) -> torch.Tensor:
    """Divide each band of a ``(..., h, w)`` stack by its sum (``diffraction.normalise_bands`` in torch)."""
    return stack / stack.sum(dim=(-2, -1), keepdim=True)


def alias_free_window_um(n: int, na: float, wavelength_nm: float) -> float:
    """Period ``lambda / (na * drho)`` (um) of the matrix DFT's output: the kernel window must be smaller."""
    return wavelength_nm * 1e-3 / (na * 2.0 / n)
