"""The imaging system: a camera response, an optical element and the rendering settings in one module.

``ImagingSystem`` is a ``torch.nn.Module`` holding the camera response ``srf (bands, 3)`` as a buffer,
the optical element as a swappable submodule ``optics`` (``forward()`` returns the per-band PSF
``(bands, h, w)``; ``None``: no PSF) and a ``hsi.render.RenderConfig``. Its methods are the three things
the toolkit does with a camera::

    system = ImagingSystem.from_names("basler_a2A5320-23ucBAS", "double_gauss_50mm_F1.8", "PSFs",
                                      RenderConfig(npe=1000), device="cuda")
    signal = system.camera_signal(cube)              # linear C^T (PSF * x), differentiable
    result = system.render(cube, generator=gens)     # hsi.render.render_rgb: PSF, projection, noise, ISP
    met = system.metamer(cube, alpha=0.5)            # hsi.metamer.make_metamer for this camera

The fixed PSF is a ``FixedPSF`` (a buffer). A learnable optical element is any ``nn.Module`` whose
``forward()`` returns a differentiable ``(bands, h, w)`` PSF: ``system.with_optics(module)`` (or
``ImagingSystem(srf, module, config)``) puts it in place, and its parameters receive gradients through
``camera_signal``. Callers only ever ask ``system.psf()``, never the kernel itself.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Sequence

import numpy as np
import torch
from torch import nn

from hsi.metamer import MetamerResult, make_metamer
from hsi.render import RenderConfig, RenderResult, camera_signal, render_rgb

__all__ = ["FixedPSF", "ImagingSystem", "as_system"]


def _tensor(x) -> torch.Tensor:
    """A tensor of ``x`` keeping its dtype (numpy arrays are copied, tensors kept as they are)."""
    return x if torch.is_tensor(x) else torch.from_numpy(np.array(x))


class FixedPSF(nn.Module):
    """A fixed, spatially invariant per-band PSF ``kernel (bands, h, w)`` held as a buffer.

    ``forward()`` returns the kernel (centre pixel ``(h//2, w//2)``; ``hsi.render.convolve_psf``
    normalises each band to sum 1 after fitting it to the image).
    """

    def __init__(self, kernel: torch.Tensor | np.ndarray):
        super().__init__()
        k = _tensor(kernel)
        if k.ndim != 3:
            raise ValueError(f"a PSF is (bands, h, w), got shape {tuple(k.shape)}")
        self.register_buffer("kernel", k)

    def forward(self) -> torch.Tensor:
        return self.kernel

    def extra_repr(self) -> str:
        return f"kernel={tuple(self.kernel.shape)}"


class ImagingSystem(nn.Module):
    """Camera response + optical element + rendering settings (see the module docstring).

    Args:
        srf: ``(bands, 3)`` camera response (columns R, G, B), array or tensor; stored as the buffer
            ``srf`` with its dtype (the toolkit's cameras are float32).
        optics: the optical element: ``None`` (no PSF), a ``(bands, h, w)`` kernel (wrapped in
            ``FixedPSF``) or any ``nn.Module`` whose ``forward()`` returns such a PSF.
        config: ``hsi.render.RenderConfig`` (PSF boundary, noise, exposure, bit depth, quantisation).
        camera: the ``hsi.camera.Camera`` it was loaded from (provenance; optional).
        psf_source: the ``hsi.optics.PSF`` the fixed kernel came from (provenance; optional).
    """

    def __init__(self, srf, optics: nn.Module | torch.Tensor | np.ndarray | None = None,
                 config: RenderConfig = RenderConfig(), *, camera=None, psf_source=None):
        super().__init__()
        c = _tensor(srf)
        if c.ndim != 2:
            raise ValueError(f"srf must be (bands, channels), got shape {tuple(c.shape)}")
        self.register_buffer("srf", c)
        self.optics = optics if optics is None or isinstance(optics, nn.Module) else FixedPSF(optics)
        if not isinstance(config, RenderConfig):
            raise TypeError(f"config must be a hsi.render.RenderConfig, got {type(config).__name__}")
        self.config = config
        self.camera = camera
        self.psf_source = psf_source

    # ------------------------------------------------------------------------------ constructors
    @classmethod
    def from_names(cls, srf_path: str | os.PathLike = "basler_a2A5320-23ucBAS", psf_name: str | None = None,
                   psf_path: str | os.PathLike = "PSFs", config: RenderConfig = RenderConfig(),
                   device: torch.device | str = "cpu") -> "ImagingSystem":
        """Load the camera (``hsi.camera.load_camera``: a name or a ``.npz``/``.csv`` file) and the PSF
        (``hsi.optics.load_psf``: a name in ``psf_path`` or a ``.npz``; ``None``/``"None"``: no PSF).

        Raises:
            hsi.camera.CameraError, hsi.optics.PSFNotFoundError, hsi.optics.PSFError.
        """
        from hsi.camera import load_camera
        from hsi.optics import load_psf
        camera = load_camera(srf_path)
        psf = load_psf(psf_name, psf_path)
        return cls(camera.srf, None if psf is None else psf.kernel, config, camera=camera,
                   psf_source=psf).to(device)

    @classmethod
    def from_arrays(cls, srf, psf=None, config: RenderConfig = RenderConfig(),
                    device: torch.device | str = "cpu") -> "ImagingSystem":
        """From a ``(bands, 3)`` response and a ``(bands, h, w)`` PSF (or None), arrays or tensors."""
        return cls(srf, psf, config).to(device)

    def with_config(self, **changes) -> "ImagingSystem":
        """The same camera and optical element (shared, not copied) with some settings changed."""
        return ImagingSystem(self.srf, self.optics, replace(self.config, **changes), camera=self.camera,
                             psf_source=self.psf_source)

    def with_optics(self, optics: nn.Module | torch.Tensor | np.ndarray | None) -> "ImagingSystem":
        """The same camera and settings with another optical element (e.g. a learnable one)."""
        return ImagingSystem(self.srf, optics, self.config, camera=self.camera,
                             psf_source=self.psf_source if optics is self.optics else None)

    # ------------------------------------------------------------------------------ properties
    @property
    def bands(self) -> int:
        return int(self.srf.shape[0])

    @property
    def device(self) -> torch.device:
        return self.srf.device

    def psf(self) -> torch.Tensor | None:
        """The current ``(bands, h, w)`` PSF of the optical element, or None (no PSF)."""
        return None if self.optics is None else self.optics()

    def psf_margin(self) -> int:
        """Context (pixels per side) a patch needs for the PSF: half its larger extent (0: no PSF)."""
        k = self.psf()
        return 0 if k is None else int(max(k.shape[-2:]) // 2)

    # ------------------------------------------------------------------------------ imaging
    def camera_signal(self, cube: torch.Tensor, clip: bool = False) -> torch.Tensor:
        """``C^T (PSF * x)``: ``cube (N, bands, H, W)`` (or ``(bands, H, W)``) -> ``(N, 3, H, W)``.

        Linear in ``cube`` (``clip=True``: negatives clipped at 0 as ``render`` does) and differentiable
        with respect to ``cube`` and to the parameters of the optical element.
        """
        if cube.ndim == 3:
            cube = cube.unsqueeze(0)
        return camera_signal(cube, self.srf, self.psf(), self.config.psf_boundary, clip=clip)

    def render(self, cube: torch.Tensor, generator: torch.Generator | Sequence[torch.Generator] | None = None,
               gain: torch.Tensor | None = None) -> RenderResult:
        """The full image formation (``hsi.render.render_rgb``): PSF, projection, noise from
        ``generator`` (one per image, one for the batch, or None), exposure (``gain (N,)`` to fix it)
        and quantisation. Returns ``RenderResult`` (``dn (N, 3, H, W)`` in ``[0, full_scale]``)."""
        return render_rgb(cube, self.srf, self.psf(), self.config, generator=generator, gain=gain)

    def forward(self, cube: torch.Tensor, generator=None, gain: torch.Tensor | None = None) -> RenderResult:
        """Same as ``render``."""
        return self.render(cube, generator, gain)

    def metamer(self, cube: torch.Tensor, alpha, mode: str = "clip", **kwargs) -> MetamerResult:
        """The alpha-metamer of ``cube`` for this system (``hsi.metamer.make_metamer``; ``kwargs`` for
        ``exact``/``exact_optics``). ``clip`` and ``exact`` are per pixel (the PSF does not enter);
        ``exact_optics`` renders to the original's camera signal through this system's PSF with its
        ``config.psf_boundary`` (``circular`` or ``periodic``; ``linear`` raises ``ValueError``), and
        equals ``exact`` when the system has no PSF. Not differentiable (the PSF is detached)."""
        if mode == "exact_optics":
            kwargs = {"psf": self.psf(), "boundary": self.config.psf_boundary, **kwargs}
        return make_metamer(cube, self.srf, alpha, mode=mode, **kwargs)

    def extra_repr(self) -> str:
        name = "" if self.camera is None else f"camera={self.camera.name}, "
        return f"{name}srf={tuple(self.srf.shape)}, config={self.config}"


def as_system(system_or_srf, psf=None, config: RenderConfig | None = None,
              dtype: torch.dtype | None = None) -> ImagingSystem:
    """The ``ImagingSystem`` of the older loose arguments ``(srf, psf, config)`` (cast to ``dtype`` when
    given), or ``system`` itself (then ``psf`` and ``config`` must not be given)."""
    if isinstance(system_or_srf, ImagingSystem):
        if psf is not None or config is not None:
            raise TypeError("give either an ImagingSystem or (srf, psf, config), not both")
        return system_or_srf
    srf = _tensor(system_or_srf) if dtype is None else _tensor(system_or_srf).to(dtype)
    if psf is not None and dtype is not None:
        psf = _tensor(psf).to(dtype)
    return ImagingSystem(srf, psf, RenderConfig() if config is None else config)
