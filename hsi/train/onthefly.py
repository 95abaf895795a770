"""On-the-fly metamer rendering inside the training step (on the GPU when there is one).

Per patch: a random alpha (uniform in ``alpha_range``), the metamer of the cube patch (``clip``,
``exact`` or ``exact_optics``), then the same image formation as the on-disk data (``ImagingSystem.render``, i.e.
``hsi.render.render_rgb``: PSF, projection, noise, exposure with the full image's gain, quantisation)
and the paper's min-max input normalisation with the full image's range (``scene_stats``). The target is
the metamer cube (as in the paper's on-the-fly trainer).

The PSF is applied to the patch plus a margin of real image context (``margin`` pixels on each side,
read by the data path) and cropped back, so the patch's border sees its true neighbourhood instead of
wrap-around or zeros; centring is exact (the paper's circular one-pixel shift is not reproduced). When
the margin covers the PSF's half-extent (``psf_margin``), the convolution is done periodically at the
size of the patch with its margin: whatever wraps around lands in the margin only, so the cropped patch
equals a linear (zero-padded) convolution of the whole image there, at a fraction of the FFT cost.
The two settings derived from the run's ``RenderConfig`` live here only: the full-image statistics
render noiselessly with a linear boundary (``scene_stats``); the patches with the boundary the margin
allows (``OnTheFlyRenderer``).

``exact_optics``: the metamer of each patch *with its margin* through the system's PSF, solved with the
periodic convolution at that size (``hsi.metamer.make_metamer``, ``boundary="periodic"``): its camera
signal through the PSF equals the patch's on every pixel of the padded patch, in the convolution the
renderer itself uses when the margin covers the PSF. Approximations: (1) it is a metamer of the padded
patch as an image of its own, not the restriction of a whole-image metamer (which would also depend on
the surroundings beyond the margin); since the original's periodic render equals its whole-image
(linear) render on the cropped patch, the metamer's rendered patch equals the original's true one there;
(2) when the margin does not cover the PSF the renderer convolves linearly (zero padding) while the
metamer is solved periodically: the two signals then differ within the PSF's half-extent of the padded
patch's edge (up to ``psf_margin - margin`` pixels into the cropped patch), and agree elsewhere.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from hsi.data import SceneStats
from hsi.imaging import as_system
from hsi.io.rgb import minmax_normalise
from hsi.metamer import random_alpha
from hsi.render import RenderConfig


def psf_margin(psf: torch.Tensor | None) -> int:
    """Context (pixels per side) a patch needs for the PSF: half its larger extent."""
    return 0 if psf is None else int(max(psf.shape[-2:]) // 2)


def scene_stats(pairs: Sequence, cache, system, psf=None, config: RenderConfig | None = None,
                device: torch.device | str | None = None) -> dict[str, SceneStats]:
    """Exposure gain and DN range of a noiseless, linear-boundary render of each full original scene.

    Args:
        pairs: ``hsi.data.ScenePair`` s (their ``cube_path`` is read through ``cache``).
        cache: ``hsi.data.SceneCache``.
        system: ``ImagingSystem`` (or the older ``srf, psf, config``).
        device: where to render (default the system's).

    Returns:
        ``{pair.key: SceneStats(gain, dn_min, dn_max)}``.
    """
    noiseless = as_system(system, psf, config, torch.float32).with_config(npe=0, psf_boundary="linear")
    noiseless = noiseless.to(noiseless.device if device is None else device)
    stats = {}
    for pair in pairs:
        cube = torch.from_numpy(np.array(cache.cube(pair.cube_path), dtype=np.float32))[None].to(noiseless.device)
        res = noiseless.render(cube)
        stats[pair.key] = SceneStats(float(res.gain[0]), float(res.dn.min()), float(res.dn.max()))
    return stats


class OnTheFlyRenderer:
    """Turns a batch of cube patches (with context margin) into ``(rgb, target)`` on ``device``.

    ``OnTheFlyRenderer(system, metamer_mode=..., alpha_range=..., margin=..., seed=..., device=...)``;
    the older ``OnTheFlyRenderer(srf, psf, config, metamer_mode, alpha_range, margin, seed, device)``
    still works.

    Args:
        system: ``hsi.imaging.ImagingSystem`` with the rendering settings of the on-disk data (noise,
            exposure target, quantisation); its PSF boundary is set from the margin. Its optical element
            is shared (moved to ``device`` in place).
        metamer_mode: ``clip``, ``exact`` or ``exact_optics`` (see the module docstring).
        alpha_range: (low, high) of the uniform alpha.
        margin: context pixels per side in the incoming patches.
        seed: seeds the alpha and noise generators (their states are checkpointed by the engine).
        device: where to render (default: the system's device).
        metamer_kwargs: passed to ``hsi.metamer.make_metamer`` (e.g. ``tol``, ``max_iter``).
    """

    def __init__(self, system, psf=None, config: RenderConfig | None = None, metamer_mode: str = "clip",
                 alpha_range: tuple[float, float] = (-1.0, 2.0), margin: int = 0, seed: int = 0,
                 device: str | torch.device | None = None, metamer_kwargs: dict | None = None):
        system = as_system(system, psf, config, torch.float32)
        self.device = torch.device(system.device if device is None else device)
        self.metamer_mode, self.alpha_range, self.margin, self.seed = metamer_mode, alpha_range, margin, seed
        self.metamer_kwargs = dict(metamer_kwargs or {})
        if metamer_mode == "exact_optics":        # solved at the padded patch's size, periodically
            self.metamer_kwargs.setdefault("boundary", "periodic")
        # the context margin replaces the paper's wrap-around (see the module docstring)
        kernel = system.psf()
        covered = kernel is not None and self.margin >= psf_margin(kernel)
        self.system = system.with_config(psf_boundary="periodic" if covered else "linear").to(self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(self.seed) + 7919)

    @property
    def config(self) -> RenderConfig:
        return self.system.config

    @property
    def srf(self) -> torch.Tensor:
        return self.system.srf

    @property
    def psf(self) -> torch.Tensor | None:
        return self.system.psf()

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    @torch.no_grad()
    def metamer(self, cube: torch.Tensor, alpha) -> torch.Tensor:
        """The metamer ``(N, bands, H, W)`` of the padded patches ``cube`` (same shape) for ``alpha (N,)``."""
        return self.system.metamer(cube, alpha, mode=self.metamer_mode, **self.metamer_kwargs).cube

    @torch.no_grad()
    def __call__(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        cube = batch["cube"].to(self.device, non_blocking=True).float()
        n = cube.shape[0]
        alpha = random_alpha(n, *self.alpha_range, generator=self.generator, device=self.device)
        metamer = self.metamer(cube, alpha)
        gain = batch["gain"].to(self.device, non_blocking=True)
        # the one rendering path of the on-disk data, on the patch with its context, then cropped
        dn = self.system.render(metamer, generator=self.generator, gain=gain).dn
        return self.network_pair(dn, metamer, batch)

    def network_pair(self, dn: torch.Tensor, metamer: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """The rendered patch with its context: drop the margin and min-max normalise the DN with the
        scene's range (``batch["dn_min"], batch["dn_max"]``) -> ``(rgb, target)`` as the network sees them."""
        m = self.margin
        if m:
            dn, metamer = dn[..., m:-m, m:-m], metamer[..., m:-m, m:-m]
        lo = batch["dn_min"].to(self.device, non_blocking=True).view(-1, 1, 1, 1)
        hi = batch["dn_max"].to(self.device, non_blocking=True).view(-1, 1, 1, 1)
        return minmax_normalise(dn, lo, hi).contiguous(), metamer.contiguous()
