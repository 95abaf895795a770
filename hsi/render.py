"""Image formation: hyperspectral radiance cube -> camera RGB, one implementation for every path.

Written once in PyTorch, batched ``cube: (N, bands, H, W)``, identical on CPU and CUDA. Used by metamer
generation (on-disk data), by on-the-fly rendering inside the training step and by validation data.
The steps, in order (``render_rgb``):

1. optional per-band PSF convolution by FFT (``convolve_psf``);
2. projection through the camera response ``srf (bands, 3)``; negatives clipped (``project``; steps 1-2
   together: ``camera_signal``);
3. noise: Poisson with ``npe`` photo-electrons at signal 1.0, or the paper's Gaussian option
   (``add_noise``), drawn from per-image ``torch.Generator`` s;
4. ISP: auto-exposure to a target global mean, scaling to digital numbers, clipping and quantisation
   (``expose_and_quantise``).

Saving to PNG/JPEG is ``hsi.io.rgb.write_rgb``. ``hsi.imaging.ImagingSystem`` holds a camera, an optical
element and a ``RenderConfig`` together and calls these functions. Every default reproduces the paper's
``image_formation_np``; the corrected behaviours are options (``psf_boundary="linear"``,
``quantize="round"``, independent per-image noise streams).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from hsi.io.rgb import minmax_normalise

PSF_BOUNDARIES = ("circular", "periodic", "linear")
NOISE_TYPES = ("poisson", "gaussian")
QUANTIZE_MODES = ("truncate", "round", "none")


@dataclass(frozen=True)
class RenderConfig:
    """Knobs of the image-formation pipeline (defaults = the paper's code).

    Attributes:
        psf_boundary: ``"circular"`` (the paper's exactly: FFT convolution at image size, content wraps
            around, the paper's fftshift centring with its one-pixel shifts: a centred delta PSF rolls
            the image by -1 pixel along every odd image axis, and along both axes when an odd-sized PSF
            is padded into an even-sized image), ``"periodic"`` (wraps around like the paper, but
            correctly centred: a centred delta PSF is the identity) or ``"linear"`` (zero-padded,
            nothing wraps; a centred delta PSF is the identity).
        noise_type: ``"poisson"`` or ``"gaussian"``.
        npe: photo-electrons at signal 1.0 (``0``: no noise).
        div_factor_to_1pe: divisor converting signal to photo-electron units (paper ``divFactorTo_1PE``).
        exposure_target: target global mean of the exposed image as a fraction of full scale
            (the dataset's typical scene reflectivity: ARAD_1K 0.18, CAVE 0.10, ICVL 0.15, KAUST 0.25).
        bit_depth: 8 (paper) or 16 (16-bit PNG); full scale is ``2**bit_depth - 1``.
        quantize: ``"truncate"`` (paper's uint8 cast), ``"round"`` (round to nearest) or ``"none"``.
    """

    psf_boundary: str = "circular"
    noise_type: str = "poisson"
    npe: float = 0.0
    div_factor_to_1pe: float = 1.0
    exposure_target: float = 0.18
    bit_depth: int = 8
    quantize: str = "truncate"

    def __post_init__(self):
        if self.psf_boundary not in PSF_BOUNDARIES:
            raise ValueError(f"psf_boundary must be one of {PSF_BOUNDARIES}, got {self.psf_boundary!r}")
        if self.noise_type not in NOISE_TYPES:
            raise ValueError(f"noise_type must be one of {NOISE_TYPES}, got {self.noise_type!r}")
        if self.quantize not in QUANTIZE_MODES:
            raise ValueError(f"quantize must be one of {QUANTIZE_MODES}, got {self.quantize!r}")
        if self.npe < 0 or self.div_factor_to_1pe <= 0:
            raise ValueError(f"npe must be >= 0 and div_factor_to_1pe > 0 (got {self.npe}, {self.div_factor_to_1pe})")
        if not 0 < self.exposure_target <= 1:
            raise ValueError(f"exposure_target must be in (0, 1], got {self.exposure_target}")
        if self.bit_depth not in (8, 16):
            raise ValueError(f"bit_depth must be 8 or 16, got {self.bit_depth}")

    @property
    def full_scale(self) -> float:
        """Largest digital number (255 for 8 bit)."""
        return float(2 ** self.bit_depth - 1)

    def as_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------------------------- PSF
def _crop_or_pad_paper(psf: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The paper's ``crop_or_pad_np`` on the last two axes: crop at offset ``(in - ref)//2``, or pad
    with ``(ref - in)//2`` zeros before."""
    out = psf
    for axis, ref in ((-2, size[0]), (-1, size[1])):
        n = out.shape[axis]
        if n > ref:
            start = (n - ref) // 2
            out = out.narrow(axis, start, ref)
        elif n < ref:
            before = (ref - n) // 2
            after = ref - n - before
            pad = [0, 0, 0, 0]
            pad[(0 if axis == -1 else 2)] = before
            pad[(1 if axis == -1 else 3)] = after
            out = F.pad(out, pad)
    return out


def _crop_centred(psf: torch.Tensor, max_size: tuple[int, int]) -> torch.Tensor:
    """Crop the last two axes to at most ``max_size`` keeping the centre pixel ``(h//2, w//2)``
    at the centre ``(k//2)`` of the result."""
    out = psf
    for axis, k in ((-2, max_size[0]), (-1, max_size[1])):
        n = out.shape[axis]
        if n > k:
            out = out.narrow(axis, n // 2 - k // 2, k)
    return out


def _centre_at_origin(k: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Embed ``k (bands, h, w)`` (h, w <= size) in a zero grid of ``size`` with its centre pixel
    ``(h//2, w//2)`` moved to ``(0, 0)``; negative offsets wrap to the end of the grid."""
    h, w = k.shape[-2:]
    kp = torch.zeros(*k.shape[:-2], *size, dtype=k.dtype, device=k.device)
    kp[..., :h, :w] = k
    return torch.roll(kp, shifts=(-(h // 2), -(w // 2)), dims=(-2, -1))


def normalise_psf(psf: torch.Tensor) -> torch.Tensor:
    """Divide each band of ``psf (bands, h, w)`` by its sum (so it only redistributes light)."""
    sums = psf.sum(dim=(-2, -1), keepdim=True)
    if psf.device.type == "cpu":
        if torch.any(sums <= 0):
            raise ValueError("a PSF band sums to zero or less after fitting it to the image")
    else:  # checked on the device: no host sync inside a training step (PSFs are validated when loaded)
        torch._assert_async(torch.all(sums > 0), "a PSF band sums to zero or less after fitting it to the image")
    return psf / sums


def convolve_psf(cube: torch.Tensor, psf: torch.Tensor, boundary: str = "circular") -> torch.Tensor:
    """Convolve each band of ``cube (N, bands, H, W)`` with the matching band of ``psf (bands, h, w)``.

    The PSF centre is pixel ``(h//2, w//2)``. The PSF is fitted to the image (``circular``: cropped or
    zero-padded to ``(H, W)`` with the paper's arithmetic; ``periodic``: cropped to at most ``(H, W)``
    around its centre; ``linear``: cropped to at most ``(2H-1, 2W-1)`` around its centre), then each
    band is normalised to sum 1.

    Args:
        cube: ``(N, bands, H, W)`` float tensor.
        psf: ``(bands, h, w)`` non-negative tensor (any scale).
        boundary: ``"circular"`` (the paper's, wraps around borders, paper centring), ``"periodic"``
            (wraps around, exact centring) or ``"linear"`` (zero padding, nothing wraps).

    Returns:
        ``(N, bands, H, W)`` tensor, same dtype and device as ``cube``.
    """
    if cube.ndim != 4 or psf.ndim != 3 or psf.shape[0] != cube.shape[1]:
        raise ValueError(f"expected cube (N, bands, H, W) and psf (bands, h, w) with matching bands, "
                         f"got {tuple(cube.shape)} and {tuple(psf.shape)}")
    if boundary not in PSF_BOUNDARIES:
        raise ValueError(f"boundary must be one of {PSF_BOUNDARIES}, got {boundary!r}")
    H, W = cube.shape[-2:]
    work = torch.float64 if cube.dtype == torch.float64 else torch.float32
    x = cube.to(work)
    k = psf.to(device=cube.device, dtype=work)
    if boundary == "circular":
        k = normalise_psf(_crop_or_pad_paper(k, (H, W)))
        # the paper: Re{ifftshift(ifft2(fft2(fftshift(img)) * fft2(fftshift(psf))))}
        dims = (-2, -1)
        spec = torch.fft.fft2(torch.fft.fftshift(x, dim=dims)) * torch.fft.fft2(torch.fft.fftshift(k, dim=dims))
        out = torch.fft.ifftshift(torch.fft.ifft2(spec).real, dim=dims)
        return out.to(cube.dtype)
    if boundary == "periodic":
        k = normalise_psf(_crop_centred(k, (H, W)))
        kp = _centre_at_origin(k, (H, W))
        return torch.fft.irfft2(torch.fft.rfft2(x) * torch.fft.rfft2(kp), s=(H, W)).to(cube.dtype)
    k = normalise_psf(_crop_centred(k, (2 * H - 1, 2 * W - 1)))
    h, w = k.shape[-2:]
    ph, pw = H + h - 1, W + w - 1
    # put the PSF centre at (0, 0) of the padded grid: negative offsets wrap to the end, where the
    # zero padding of the image absorbs them, so nothing wraps into the image.
    kp = _centre_at_origin(k, (ph, pw))
    spec = torch.fft.rfft2(x, s=(ph, pw)) * torch.fft.rfft2(kp)
    out = torch.fft.irfft2(spec, s=(ph, pw))[..., :H, :W]
    return out.to(cube.dtype)


# --------------------------------------------------------------------------------------- projection
def project(cube: torch.Tensor, srf: torch.Tensor | np.ndarray, clip: bool = True) -> torch.Tensor:
    """Camera signal ``rgb = C^T s`` per pixel, negatives clipped (``clip=False``: the linear map).

    Args:
        cube: ``(N, bands, H, W)``.
        srf: ``(bands, 3)`` camera response (columns R, G, B), tensor or array.
        clip: clip negative values at 0 (a sensor measures no negative light).

    Returns:
        ``(N, 3, H, W)``, same dtype as ``cube`` (values >= 0 when ``clip``).
    """
    srf = torch.as_tensor(srf, dtype=cube.dtype, device=cube.device)
    if srf.ndim != 2 or srf.shape[0] != cube.shape[1]:
        raise ValueError(f"srf must be (bands={cube.shape[1]}, channels), got {tuple(srf.shape)}")
    rgb = torch.einsum("nbhw,bc->nchw", cube, srf)
    return rgb.clamp_min(0) if clip else rgb


def camera_signal(cube: torch.Tensor, srf: torch.Tensor | np.ndarray, psf: torch.Tensor | np.ndarray | None = None,
                  boundary: str = "circular", clip: bool = True) -> torch.Tensor:
    """The optics and the sensor's projection: ``C^T (PSF * x)`` per pixel (no noise, no ISP).

    Args:
        cube: ``(N, bands, H, W)`` radiance.
        srf: ``(bands, 3)`` camera response.
        psf: ``(bands, h, w)`` PSF stack (see ``convolve_psf``) or None; differentiable when a tensor.
        boundary: PSF boundary handling (``RenderConfig.psf_boundary``).
        clip: clip negative signal at 0 (as ``render_rgb`` does); ``False``: the linear map.

    Returns:
        ``(N, 3, H, W)``, same dtype as ``cube``.
    """
    x = cube if psf is None else convolve_psf(cube, torch.as_tensor(psf), boundary)
    return project(x, srf, clip=clip)


# -------------------------------------------------------------------------------------------- noise
def scene_seed(seed: int, *keys: object) -> int:
    """A 63-bit seed derived from a run seed and identifiers (scene id, variant, ...).

    Different keys give independent streams; the same keys always give the same stream.
    """
    text = "/".join([str(int(seed)), *map(str, keys)]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") & ((1 << 63) - 1)


def make_generators(seeds: Sequence[int], device: torch.device | str = "cpu") -> list[torch.Generator]:
    """One seeded ``torch.Generator`` per image, on ``device``."""
    gens = []
    for s in seeds:
        g = torch.Generator(device=device)
        g.manual_seed(int(s))
        gens.append(g)
    return gens


def add_noise(rgb: torch.Tensor, npe: float, noise_type: str = "poisson", div_factor_to_1pe: float = 1.0,
              generator: torch.Generator | Sequence[torch.Generator] | None = None) -> torch.Tensor:
    """Sensor noise on the camera signal ``rgb (N, 3, H, W)`` (signal 1.0 = ``npe`` photo-electrons).

    ``poisson``: ``Poisson(max(rgb, 0) * s) / s`` with ``s = npe / div_factor_to_1pe``;
    ``gaussian``: ``rgb + N(0, s)`` (standard deviation ``s``, as in the paper's code). The result is
    clipped at 0. ``npe == 0`` returns the input. ``generator``: one per image (independent, reproducible
    streams), one for the whole batch, or ``None`` (torch's global generator).
    """
    if npe == 0:
        return rgb
    if noise_type not in NOISE_TYPES:
        raise ValueError(f"noise_type must be one of {NOISE_TYPES}, got {noise_type!r}")
    scale = float(npe) / float(div_factor_to_1pe)
    if generator is None or isinstance(generator, torch.Generator):
        images, gens = [rgb], [generator]
    else:
        if len(generator) != rgb.shape[0]:
            raise ValueError(f"{len(generator)} generators for {rgb.shape[0]} images")
        images, gens = list(rgb.split(1)), list(generator)
    out = []
    for img, gen in zip(images, gens):
        if noise_type == "poisson":
            rate = img.clamp_min(0).to(torch.float32 if img.dtype != torch.float64 else img.dtype) * scale
            noisy = torch.poisson(rate, generator=gen).to(img.dtype) / scale
        else:
            noise = torch.randn(img.shape, generator=gen, device=img.device, dtype=img.dtype)
            noisy = img + noise * scale
        out.append(noisy.clamp_min(0))
    return out[0] if len(out) == 1 else torch.cat(out)


# ---------------------------------------------------------------------------------------------- ISP
def exposure_gain(rgb: torch.Tensor, target: float) -> torch.Tensor:
    """Auto-exposure gain per image: ``target / mean(rgb)`` over all pixels and channels; ``(N,)``.

    An all-black image gets gain 0 (it stays black) instead of a division by zero.
    """
    mean = rgb.mean(dim=(1, 2, 3))
    return torch.where(mean > 0, target / mean.clamp_min(torch.finfo(rgb.dtype).tiny), torch.zeros_like(mean))


def expose_and_quantise(rgb: torch.Tensor, config: RenderConfig, gain: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Auto-expose, scale to digital numbers, clip to ``[0, full_scale]`` and quantise.

    Args:
        rgb: ``(N, 3, H, W)`` camera signal.
        config: exposure target, bit depth and quantisation mode.
        gain: ``(N,)`` exposure gains to use instead of computing them from ``rgb`` (e.g. the gain of
            the full image when rendering a patch of it).

    Returns:
        ``(dn, gain)``: ``dn (N, 3, H, W)`` float digital numbers (integer-valued unless
        ``quantize="none"``) and the gains used.
    """
    if gain is None:
        gain = exposure_gain(rgb, config.exposure_target)
    gain = torch.as_tensor(gain, dtype=rgb.dtype, device=rgb.device).reshape(-1)
    dn = (rgb * gain.view(-1, 1, 1, 1) * config.full_scale).clamp(0, config.full_scale)
    if config.quantize == "truncate":
        dn = torch.floor(dn)
    elif config.quantize == "round":
        dn = torch.round(dn)
    return dn, gain


@dataclass
class RenderResult:
    """Output of ``render_rgb``: ``dn (N, 3, H, W)`` digital numbers, the camera signal before the ISP
    ``signal (N, 3, H, W)`` (after noise), and the exposure ``gain (N,)``."""

    dn: torch.Tensor
    signal: torch.Tensor
    gain: torch.Tensor
    config: RenderConfig = field(default_factory=RenderConfig)

    def to_uint(self) -> np.ndarray:
        """``(N, 3, H, W)`` uint8 (8 bit) or uint16 (16 bit) numpy array for saving."""
        dtype = np.uint8 if self.config.bit_depth == 8 else np.uint16
        return self.dn.detach().round().clamp(0, self.config.full_scale).cpu().numpy().astype(dtype)

    def normalised(self, mode: str = "minmax") -> torch.Tensor:
        """Network input ``(N, 3, H, W)`` in [0, 1] as the loaders make it from the saved file:
        ``"minmax"`` per image (the paper's), or ``"fixed"`` (``dn / full_scale``)."""
        if mode == "fixed":
            return self.dn / self.config.full_scale
        if mode != "minmax":
            raise ValueError(f"mode must be 'minmax' or 'fixed', got {mode!r}")
        return minmax_normalise(self.dn, self.dn.amin(dim=(1, 2, 3), keepdim=True),
                                self.dn.amax(dim=(1, 2, 3), keepdim=True))


def render_rgb(cube: torch.Tensor, srf: torch.Tensor | np.ndarray, psf: torch.Tensor | np.ndarray | None = None,
               config: RenderConfig = RenderConfig(),
               generator: torch.Generator | Sequence[torch.Generator] | None = None,
               gain: torch.Tensor | None = None) -> RenderResult:
    """Render camera RGB from radiance: PSF -> projection -> noise -> exposure -> quantisation.

    Args:
        cube: ``(N, bands, H, W)`` (or ``(bands, H, W)``) radiance, float, CPU or CUDA.
        srf: ``(bands, 3)`` camera response.
        psf: ``(bands, h, w)`` PSF stack centred at ``(h//2, w//2)``, or None.
        config: pipeline settings (see ``RenderConfig``).
        generator: noise generator(s): one per image for independent reproducible streams.
        gain: optional fixed exposure gains ``(N,)``.

    Returns:
        ``RenderResult`` (``dn`` in ``[0, full_scale]``).
    """
    if cube.ndim == 3:
        cube = cube.unsqueeze(0)
    signal = camera_signal(cube, srf, psf, config.psf_boundary)
    signal = add_noise(signal, config.npe, config.noise_type, config.div_factor_to_1pe, generator)
    dn, used_gain = expose_and_quantise(signal, config, gain)
    return RenderResult(dn=dn, signal=signal, gain=used_gain, config=config)
