"""Learnable thin diffractive optical elements (DOEs) whose forward() is the ``(31, h, w)`` PSF.

Model: a thin DOE of height ``h(x, y)`` (um, in ``[0, max_height_um]``) in the pupil of a system of
focal length ``f`` and F-number ``F#``, the sensor at the focal plane, object at infinity. The DOE
multiplies the pupil by ``exp(i phi)``, ``phi = 2 pi (n(lambda) - 1) h / lambda`` (``n`` from
``hsi.optics.materials``), and the PSF is the scalar Fraunhofer diffraction pattern of the pupil,
pixel-integrated at the sensor pitch and normalised per band (``fraunhofer.psf_from_pupil_torch``).

``ideal_lens=True`` (default, the issue's setting): the DOE sits against an aberration-free lens that
focuses every wavelength on the sensor, so a flat DOE gives the Airy PSFs. ``ideal_lens=False``: the
DOE alone at distance ``f`` from the sensor (as in Jeon et al. 2019; it must focus by itself), i.e. the
pupil also carries the propagation phase ``+2 pi (sqrt(r^2 + f^2) - f) / lambda`` that a lens would
cancel, the convention of ``hsi.optics.rotation``.

The height map is a sampled smooth surface: the point-sampled pupil represents it only if the phase
changes by less than pi between neighbouring samples (``check_phase_sampling``), and the kernel
window must be smaller than the matrix DFT's period ``lambda / (NA drho)`` (checked at construction).
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..diffraction import SENSOR_PITCH_UM, WAVELENGTHS_NM, na_from_f_number, oversampling, pupil_coordinates
from ..materials import refractive_index
from .fraunhofer import (alias_free_window_um, dft_matrices, normalise_bands_torch, otf_matrices, psf_from_pupil_otf,
                         psf_from_pupil_torch)
from ...errors import ToolkitError

__all__ = ["DOEOptions", "HeightMapDOE", "RadialDOE", "PhaseSamplingError", "quantise_ste", "INITS",
           "rotation_height_map_um", "two_pi_height_um", "DOUBLE_GAUSS_KERNEL_PX"]

#: Kernel size of the shipped ``double_gauss_50mm_F1.8`` PSF, the lens whose setting the defaults copy.
DOUBLE_GAUSS_KERNEL_PX = (81, 89)
#: Initialisations: ``flat`` (ideal lens), ``rotation`` (Jeon et al.'s diffracted-rotation DOE),
#: ``random`` (smooth, seeded); or pass a height map array / an exported JSON path instead.
INITS = ("flat", "rotation", "random")
_LOGIT_EPS = 1e-6


class PhaseSamplingError(ToolkitError, ValueError):
    """The pupil grid does not resolve the DOE's phase or the kernel window aliases."""


@dataclass(frozen=True)
class DOEOptions:
    """Optical setting and parametrisation of a learnable DOE (defaults: the shipped double Gauss).

    Attributes:
        focal_length_mm, f_number: the lens (aperture diameter ``f / F#``); NA ``1 / (2 F#)``.
        pitch_um: sensor pixel pitch.
        grid: pupil samples per axis ``n`` (the height map is ``n x n``; RadialDOE: the 2-D grid); 352 is the
            smallest multiple of 32 whose DFT period exceeds the default 89 px window at 400 nm, F/1.8.
        psf_shape: kernel ``(h, w)`` in pixels (default: the shipped double Gauss kernel's size).
        wavelengths_nm: band centres (31 bands, 400-700 nm).
        material: a key of ``hsi.optics.materials.SELLMEIER``.
        max_height_um: ``h_max``; None -> the height of a 2 pi step at the longest band
            (``two_pi_height_um``), so that every band can reach a full wave of phase.
        levels: quantise the height to ``levels`` equally spaced values ``k h_max / (levels - 1)`` with a
            straight-through gradient; None = continuous.
        parametrisation: ``"sigmoid"`` (``h = h_max sigmoid(theta)``, smooth, never leaves the range) or
            ``"clamp"`` (``h = clamp(theta, 0, h_max)``, zero gradient once outside).
        oversample: odd sub-samples per pixel and axis; None -> Nyquist at the shortest band
            (``diffraction.oversampling``, as the shipped designs; 9 at F/1.8, 2.74 um).
        ideal_lens: True: DOE against an ideal lens; False: the DOE alone focuses (see the module doc).
        radial_samples: samples ``n_r`` of RadialDOE's profile over ``rho`` in [0, 1].
        psf_method: ``"direct"`` (matrix DFT onto every sub-sample, as ``psf_from_pupil``) or ``"otf"`` (pupil
            autocorrelation by FFT, then the pixel sums in closed form: cost independent of ``oversample``,
            FFT-bound; on this CPU slower than direct with 3 sub-samples, faster than direct with 9); both
            give the numpy path's PSFs (to 1e-15 in float64).
        per_band_oversample: with ``oversample=None``, each band at its own Nyquist (9 / 7 / 5 sub-samples at
            F/1.8 for 400-430 / 440-600 / 610-700 nm: 0.56x the sub-sample work of 9 everywhere), computed in
            one batched call per group of equal ``s``.
    """
    focal_length_mm: float = 50.0
    f_number: float = 1.8
    pitch_um: float = SENSOR_PITCH_UM
    grid: int = 352
    psf_shape: tuple[int, int] = DOUBLE_GAUSS_KERNEL_PX
    wavelengths_nm: tuple[float, ...] = field(default_factory=lambda: tuple(float(v) for v in WAVELENGTHS_NM))
    material: str = "fused_silica"
    max_height_um: float | None = None
    levels: int | None = None
    parametrisation: str = "sigmoid"
    oversample: int | None = None
    ideal_lens: bool = True
    radial_samples: int = 256
    psf_method: str = "direct"
    per_band_oversample: bool = False

    def __post_init__(self):
        if self.parametrisation not in ("sigmoid", "clamp"):
            raise ValueError(f"parametrisation must be 'sigmoid' or 'clamp', got {self.parametrisation!r}")
        if self.psf_method not in ("otf", "direct"):
            raise ValueError(f"psf_method must be 'otf' or 'direct', got {self.psf_method!r}")
        if self.levels is not None and self.levels < 2:
            raise ValueError(f"levels must be >= 2 or None, got {self.levels}")
        if self.oversample is not None and (self.oversample < 1 or self.oversample % 2 == 0):
            raise ValueError(f"oversample must be a positive odd integer or None, got {self.oversample}")
        if self.per_band_oversample and self.oversample is not None:
            raise ValueError("per_band_oversample needs oversample=None (each band's Nyquist)")
        refractive_index(self.material, 550.0)                         # unknown material -> KeyError

    @property
    def aperture_mm(self) -> float:
        return self.focal_length_mm / self.f_number

    @property
    def na(self) -> float:
        return na_from_f_number(self.f_number)

    @property
    def h_max_um(self) -> float:
        if self.max_height_um is not None:
            return float(self.max_height_um)
        return two_pi_height_um(self.material, max(self.wavelengths_nm))

    @property
    def subsamples(self) -> int:
        """Sub-samples per pixel and axis (the largest band's with ``per_band_oversample``)."""
        return max(self.band_subsamples)

    @property
    def band_subsamples(self) -> tuple[int, ...]:
        """Sub-samples per pixel and axis of each band."""
        if self.oversample is not None:
            return (int(self.oversample),) * len(self.wavelengths_nm)
        if self.per_band_oversample:
            return tuple(oversampling(self.pitch_um, self.f_number, lam) for lam in self.wavelengths_nm)
        return (oversampling(self.pitch_um, self.f_number, min(self.wavelengths_nm)),) * len(self.wavelengths_nm)

    def to_json(self) -> dict:
        """Plain JSON-serialisable dict (``from_json`` inverts it)."""
        d = dataclasses.asdict(self)
        d["psf_shape"] = list(self.psf_shape)
        d["wavelengths_nm"] = list(self.wavelengths_nm)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "DOEOptions":
        d = dict(d)
        d["psf_shape"] = tuple(int(v) for v in d["psf_shape"])
        d["wavelengths_nm"] = tuple(float(v) for v in d["wavelengths_nm"])
        return cls(**d)

    @classmethod
    def rotation_design(cls, **overrides) -> "DOEOptions":
        """The shipped diffraction-rotation camera (``hsi.optics.rotation.DEFAULTS``): the DOE alone,
        f = 3 mm, F/6, 256 x 256 pupil samples, the shipped kernel size 105 x 149."""
        from ..rotation import DEFAULTS as R

        base = dict(focal_length_mm=R["focal_length_mm"], f_number=R["focal_length_mm"] / R["aperture_mm"],
                    grid=R["pupil_samples"], psf_shape=(105, 149), material=R["material"], ideal_lens=False)
        base.update(overrides)
        return cls(**base)


def two_pi_height_um(material: str, wavelength_nm: float) -> float:
    """Height (um) of ``material`` whose phase delay is 2 pi at ``wavelength_nm``: ``lambda / (n - 1)``."""
    return float(wavelength_nm * 1e-3 / (refractive_index(material, wavelength_nm) - 1.0))


def quantise_ste(height: torch.Tensor, h_max: float, levels: int) -> torch.Tensor:
    """Round ``height`` to the ``levels`` values ``k h_max / (levels - 1)``; the gradient passes through
    unchanged (straight-through estimator)."""
    step = h_max / (levels - 1)
    q = torch.round(height / step).clamp(0, levels - 1) * step
    return height + (q - height).detach()


def _pupil_grid(n: int):
    rho = pupil_coordinates(n)
    xx, yy = np.meshgrid(rho, rho)                                       # rows = y, columns = x
    return xx, yy, (xx ** 2 + yy ** 2) <= 1.0


def rotation_height_map_um(options: DOEOptions, n_wings: int | None = None, lambda_min_nm: float | None = None,
                           lambda_max_nm: float | None = None) -> np.ndarray:
    """Height map ``(n, n)`` (um) of the diffracted-rotation DOE of Jeon et al. 2019 (eq. 12) on the
    pupil grid of ``options``: angular wings whose matched wavelength ``lambda_m`` grows linearly with the
    azimuth, each azimuth a Fresnel lens of focal length ``f`` blazed for ``lambda_m``:
    ``h = [(-(sqrt(r^2 + f^2) - f)) mod lambda_m] / (n(lambda_m) - 1)`` (the converging sign of
    ``hsi.optics.rotation``'s phase convention; eq. 12 up to a piston and the sign of the relief).
    Wings and wavelength range default to ``hsi.optics.rotation.DEFAULTS``. 0 outside the aperture.
    """
    from ..rotation import DEFAULTS as R

    n_wings = R["n_wings"] if n_wings is None else n_wings
    lam_lo = R["lambda_min_nm"] if lambda_min_nm is None else lambda_min_nm
    lam_hi = R["lambda_max_nm"] if lambda_max_nm is None else lambda_max_nm
    xx, yy, inside = _pupil_grid(options.grid)
    r_mm = np.hypot(xx, yy) * options.aperture_mm / 2.0
    theta = np.mod(np.arctan2(yy, xx), 2.0 * np.pi)
    lam_m_um = (lam_lo + (lam_hi - lam_lo) * np.mod(theta * n_wings / (2.0 * np.pi), 1.0)) * 1e-3
    opd_um = (np.sqrt(r_mm ** 2 + options.focal_length_mm ** 2) - options.focal_length_mm) * 1e3
    h = np.mod(-opd_um, lam_m_um) / (refractive_index(options.material, lam_m_um * 1e3) - 1.0)
    return np.where(inside, h, 0.0)


class _DOEBase(nn.Module):
    """Shared pupil -> PSF machinery; subclasses define ``continuous_height_um()`` (``(n, n)`` um)."""

    def __init__(self, options: DOEOptions, dtype: torch.dtype, device):
        super().__init__()
        self.options = options
        o = options
        xx, yy, inside = _pupil_grid(o.grid)
        wl = np.asarray(o.wavelengths_nm, dtype=np.float64)
        lam_um = wl * 1e-3
        self._check_window()
        k = 2.0 * np.pi * (refractive_index(o.material, wl) - 1.0) / lam_um          # rad per um of height
        self.register_buffer("aperture", torch.as_tensor(inside, dtype=dtype, device=device), persistent=False)
        self.register_buffer("phase_per_um", torch.as_tensor(k, dtype=dtype, device=device), persistent=False)
        if o.ideal_lens:
            self.lens_phase = None
        else:
            r_mm = np.hypot(xx, yy) * o.aperture_mm / 2.0
            opd_um = (np.sqrt(r_mm ** 2 + o.focal_length_mm ** 2) - o.focal_length_mm) * 1e3
            lens = np.where(inside, 2.0 * np.pi * opd_um[None] / lam_um[:, None, None], 0.0)
            self.register_buffer("lens_phase", torch.as_tensor(lens, dtype=dtype, device=device), persistent=False)
        self._dft_cache: dict = {}

    # ----------------------------------------------------------------- geometry checks
    def _check_window(self) -> None:
        o = self.options
        lam = min(o.wavelengths_nm)
        period_um = alias_free_window_um(o.grid, o.na, lam)
        window_um = max(o.psf_shape) * o.pitch_um
        if window_um >= period_um:
            need = int(math.ceil(window_um * 2.0 * o.na / (lam * 1e-3))) + 1
            raise PhaseSamplingError(
                f"kernel window {max(o.psf_shape)} px x {o.pitch_um} um = {window_um:.1f} um is not smaller than the "
                f"matrix DFT's period lambda/(NA drho) = {period_um:.1f} um at {lam:g} nm (grid {o.grid}, F/{o.f_number}); "
                f"use grid >= {need} or a smaller psf_shape")

    def phase_steps(self) -> tuple[np.ndarray, np.ndarray]:
        """Phase change between neighbouring pupil samples inside the aperture, per band:
        ``(largest step in rad, fraction of neighbour pairs whose step is pi or more)``.

        A height step counts with its DOE phase ``2 pi (n - 1) dh / lambda`` plus, with ``ideal_lens=False``,
        the step of the propagation phase; steps of more than ``h_max / 2`` are zone edges of a wrapped
        design (exact in the thin-element model whatever their size) and are left out.
        """
        with torch.no_grad():
            h = self.height_um().detach().double().cpu().numpy()
            k = self.phase_per_um.detach().double().cpu().numpy()
            lens = None if self.lens_phase is None else self.lens_phase.detach().double().cpu().numpy()
        inside = self.aperture.detach().cpu().numpy() > 0
        worst, over, pairs = np.zeros(k.size), np.zeros(k.size), 0
        for axis in (0, 1):
            m = inside.shape[axis]
            both = np.take(inside, range(1, m), axis=axis) & np.take(inside, range(m - 1), axis=axis)
            dh = np.diff(h, axis=axis)[both]                                   # (pairs,)
            dphi = k[:, None] * dh[None]
            edge = np.abs(dh) > self.options.h_max_um / 2.0
            if lens is not None:
                dphi = dphi + np.diff(lens, axis=axis + 1)[:, both]
            dphi = np.abs(dphi[:, ~edge])
            if dphi.size:
                worst = np.maximum(worst, dphi.max(axis=1))
                over += (dphi >= np.pi).sum(axis=1)
            pairs += dphi.shape[1]
        return worst, over / max(pairs, 1)

    def check_phase_sampling(self, strict: bool = False, max_fraction: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """Warn (``strict``: raise ``PhaseSamplingError``) when more than ``max_fraction`` of the neighbouring
        pupil samples differ in phase by pi or more in some band: the grid then does not resolve the phase.
        Steps along lines are allowed up to ``max_fraction``: the shipped rotation design on its 256 grid
        (converged: its PSF changes by < 1e-3 in correlation at 384 and 512) has 2.8 % at its wing and
        zone edges; a pixel-wise random height map has about 36 %. Returns ``phase_steps()``."""
        worst, frac = self.phase_steps()
        bad = np.nonzero(frac > max_fraction)[0]
        if bad.size:
            b = int(bad[np.argmax(frac[bad])])
            msg = (f"{type(self).__name__}: the {self.options.grid}x{self.options.grid} pupil grid does not resolve the "
                   f"phase: {100 * frac[b]:.1f} % of neighbouring samples (allowed {100 * max_fraction:g} %) differ by pi "
                   f"or more (up to {worst[b]:.2f} rad) at {self.options.wavelengths_nm[b]:g} nm ({bad.size} bands "
                   f"affected); use a finer grid, a smoother height map (smoothness_penalty) or a lower max_height_um")
            if strict:
                raise PhaseSamplingError(msg)
            warnings.warn(msg, stacklevel=2)
        return worst, frac

    # ----------------------------------------------------------------- heights and PSF
    def continuous_height_um(self) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def height_um(self) -> torch.Tensor:
        """The ``(n, n)`` height map (um) the PSF is computed from: quantised when ``levels`` is set."""
        h = self.continuous_height_um()
        if self.options.levels is not None:
            h = quantise_ste(h, self.options.h_max_um, self.options.levels)
        return h

    def _height_from_raw(self, raw: torch.Tensor) -> torch.Tensor:
        h_max = self.options.h_max_um
        if self.options.parametrisation == "sigmoid":
            return h_max * torch.sigmoid(raw)
        return raw.clamp(0.0, h_max)

    def _raw_from_height(self, h: np.ndarray) -> np.ndarray:
        h_max = self.options.h_max_um
        h = np.asarray(h, dtype=np.float64)
        if np.any(h < -1e-9 * h_max) or np.any(h > h_max * (1 + 1e-9)):
            raise ValueError(f"initial heights span [{h.min():.4g}, {h.max():.4g}] um, outside [0, h_max = {h_max:.4g}] um")
        if self.options.parametrisation == "clamp":
            return np.clip(h, 0.0, h_max)
        u = np.clip(h / h_max, _LOGIT_EPS, 1.0 - _LOGIT_EPS)
        return np.log(u) - np.log1p(-u)

    def operators(self) -> list:
        """``[(band indices, OTFMatrices / DFTMatrices), ...]``, one group per sub-sampling, for the current
        device and dtype; built once per device/dtype (not in the state dict: they follow from the options)."""
        ref = self.phase_per_um
        key = (ref.device, ref.dtype)
        if key not in self._dft_cache:
            o = self.options
            build = otf_matrices if o.psf_method == "otf" else dft_matrices
            per_band = np.asarray(o.band_subsamples)
            groups = []
            for s in sorted(set(per_band.tolist()), reverse=True):
                idx = np.nonzero(per_band == s)[0]
                ops = build(o.grid, o.na, np.asarray(o.wavelengths_nm)[idx], o.psf_shape, o.pitch_um, int(s),
                            dtype=ref.dtype, device=ref.device)
                groups.append((torch.as_tensor(idx, device=ref.device), ops))
            self._dft_cache = {key: groups}
        return self._dft_cache[key]

    def pupil(self) -> torch.Tensor:
        """``(B, n, n)`` complex pupil ``aperture * exp(i phi_b)``."""
        phase = self.phase_per_um[:, None, None] * self.height_um()[None]
        if self.lens_phase is not None:
            phase = phase + self.lens_phase
        return torch.complex(self.aperture * torch.cos(phase), self.aperture * torch.sin(phase))

    def energy(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(energy (B, h, w), total (B,))`` before normalisation; ``energy.sum / total`` = fraction in the kernel."""
        evaluate = psf_from_pupil_otf if self.options.psf_method == "otf" else psf_from_pupil_torch
        pupil = self.pupil()
        groups = self.operators()
        if len(groups) == 1:
            return evaluate(pupil, groups[0][1])
        parts = [evaluate(pupil[idx], ops) for idx, ops in groups]
        order = torch.argsort(torch.cat([idx for idx, _ in groups]))
        return torch.cat([e for e, _ in parts])[order], torch.cat([t for _, t in parts])[order]

    def forward(self) -> torch.Tensor:
        """The PSF ``(B, h, w)`` (B = 31 bands), each band summing to 1, dtype/device of the parameters."""
        energy, _ = self.energy()
        return normalise_bands_torch(energy)

    def smoothness_penalty(self, kind: str = "tv") -> torch.Tensor:
        """Scalar roughness of the continuous height map inside the aperture: ``"tv"`` mean |neighbour
        difference| (um), ``"laplacian"`` mean squared 5-point Laplacian (um^2)."""
        h = self.continuous_height_um()
        m = self.aperture
        if kind == "tv":
            dy = (h[1:] - h[:-1]).abs() * (m[1:] * m[:-1])
            dx = (h[:, 1:] - h[:, :-1]).abs() * (m[:, 1:] * m[:, :-1])
            return (dy.sum() + dx.sum()) / ((m[1:] * m[:-1]).sum() + (m[:, 1:] * m[:, :-1]).sum())
        if kind == "laplacian":
            lap = h[1:-1, 2:] + h[1:-1, :-2] + h[2:, 1:-1] + h[:-2, 1:-1] - 4.0 * h[1:-1, 1:-1]
            mm = m[1:-1, 1:-1] * m[1:-1, 2:] * m[1:-1, :-2] * m[2:, 1:-1] * m[:-2, 1:-1]
            return (lap ** 2 * mm).sum() / mm.sum()
        raise ValueError(f"smoothness kind must be 'tv' or 'laplacian', got {kind!r}")


def _random_smooth(shape_coarse, shape_fine, seed: int, lo: float, hi: float) -> np.ndarray:
    """Seeded uniform values in [lo, hi] on a coarse grid, linearly interpolated to ``shape_fine``."""
    g = torch.Generator().manual_seed(int(seed))
    coarse = lo + (hi - lo) * torch.rand(shape_coarse, generator=g, dtype=torch.float64)
    mode = "bilinear" if len(shape_coarse) == 2 else "linear"
    fine = torch.nn.functional.interpolate(coarse[None, None], size=shape_fine, mode=mode, align_corners=True)
    return fine[0, 0].numpy()


def _saved_height(init, kind: str) -> np.ndarray:
    """Heights from an array, or from an exported JSON/.npz path (``export.load_element_state``)."""
    if isinstance(init, (np.ndarray, torch.Tensor)):
        return np.asarray(init.detach().cpu() if isinstance(init, torch.Tensor) else init, dtype=np.float64)
    from pathlib import Path

    from .export import load_element_state

    p = Path(init)
    if not (p.is_file() or p.with_suffix(".json").is_file()):
        raise ValueError(f"init {str(init)!r} is neither one of {', '.join(INITS)} nor an exported DOE (.json/.npz); "
                         "or pass an array of heights in um")
    state = load_element_state(init)
    if state["kind"] != kind:
        raise ValueError(f"{init}: holds a {state['kind']}, not a {kind}")
    return np.asarray(state["heights_um"], dtype=np.float64)


class HeightMapDOE(_DOEBase):
    """Free-form DOE: a learnable ``n x n`` height map over the pupil; forward() -> ``(31, h, w)`` PSF.

    Args:
        options: ``DOEOptions``.
        init: ``"flat"`` (constant ``h_max / 2``: the ideal lens, Airy PSFs, when ``ideal_lens``),
            ``"rotation"`` (``rotation_height_map_um``; needs ``ideal_lens=False``, e.g.
            ``DOEOptions.rotation_design()``), ``"random"`` (smooth, in ``[h_max/4, 3 h_max/4]``, seeded), an
            ``(n, n)`` array of heights in um, or the path of an exported JSON/.npz.
        seed: for ``random``. dtype / device: of the parameter and buffers (float64 for gradient checks).
    """

    def __init__(self, options: DOEOptions = DOEOptions(), init="flat", seed: int = 0,
                 dtype: torch.dtype = torch.float32, device=None):
        super().__init__(options, dtype, device)
        n, h_max = options.grid, options.h_max_um
        if isinstance(init, str) and init == "flat":
            h = np.full((n, n), 0.5 * h_max)
        elif isinstance(init, str) and init == "rotation":
            if options.ideal_lens:
                raise ValueError("init 'rotation': the diffracted-rotation DOE (Jeon et al. 2019) focuses by itself, "
                                 "so it needs DOEOptions(ideal_lens=False), e.g. DOEOptions.rotation_design(); in front "
                                 f"of an ideal {options.focal_length_mm} mm lens it would double the focusing power")
            h = rotation_height_map_um(options)
        elif isinstance(init, str) and init == "random":
            m = max(2, n // 16)
            h = _random_smooth((m, m), (n, n), seed, 0.25 * h_max, 0.75 * h_max)
        else:
            h = _saved_height(init, "HeightMapDOE")
            if h.shape != (n, n):
                raise ValueError(f"saved height map is {h.shape}, options.grid needs ({n}, {n})")
        self.init_name = init if isinstance(init, str) and init in INITS else "saved"
        self.raw = nn.Parameter(torch.as_tensor(self._raw_from_height(h), dtype=dtype, device=device))
        self.check_phase_sampling()

    def continuous_height_um(self) -> torch.Tensor:
        return self._height_from_raw(self.raw)


class RadialDOE(_DOEBase):
    """Rotationally symmetric DOE (Dun et al., Optica 2020): a learnable profile ``h(rho)`` on
    ``radial_samples`` radii ``rho_k = k / (n_r - 1)``, linearly interpolated onto the ``n x n`` pupil
    grid; forward() -> ``(31, h, w)`` PSF. ``init``: ``"flat"``, ``"random"``, an ``(n_r,)`` profile
    in um, or an exported JSON/.npz path (``"rotation"`` is not rotationally symmetric)."""

    def __init__(self, options: DOEOptions = DOEOptions(), init="flat", seed: int = 0,
                 dtype: torch.dtype = torch.float32, device=None):
        super().__init__(options, dtype, device)
        n_r, h_max = options.radial_samples, options.h_max_um
        if isinstance(init, str) and init == "flat":
            prof = np.full(n_r, 0.5 * h_max)
        elif isinstance(init, str) and init == "random":
            prof = _random_smooth((max(2, n_r // 16),), (n_r,), seed, 0.25 * h_max, 0.75 * h_max)
        elif isinstance(init, str) and init == "rotation":
            raise ValueError("init 'rotation' is not rotationally symmetric; RadialDOE takes 'flat', 'random' or a "
                             "saved profile")
        else:
            prof = _saved_height(init, "RadialDOE")
            if prof.shape != (n_r,):
                raise ValueError(f"saved profile has shape {prof.shape}, options.radial_samples needs ({n_r},)")
        self.init_name = init if isinstance(init, str) and init in INITS else "saved"
        xx, yy, _ = _pupil_grid(options.grid)
        pos = np.clip(np.hypot(xx, yy), 0.0, 1.0) * (n_r - 1)
        lo = np.minimum(np.floor(pos).astype(np.int64), n_r - 2)
        self.register_buffer("interp_index", torch.as_tensor(lo, device=device), persistent=False)
        self.register_buffer("interp_weight", torch.as_tensor(pos - lo, dtype=dtype, device=device), persistent=False)
        self.raw = nn.Parameter(torch.as_tensor(self._raw_from_height(prof), dtype=dtype, device=device))
        self.check_phase_sampling()

    def profile_um(self) -> torch.Tensor:
        """The continuous profile ``(n_r,)`` in um."""
        return self._height_from_raw(self.raw)

    def continuous_height_um(self) -> torch.Tensor:
        p = self.profile_um()
        w = self.interp_weight
        return p[self.interp_index] * (1.0 - w) + p[self.interp_index + 1] * w
