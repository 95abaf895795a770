"""On-the-fly metamer rendering inside the training step (on the GPU when there is one).

Per patch: a random alpha (uniform in ``alpha_range``), the metamer of the cube patch (``clip`` or
``exact``), then the same image formation as the on-disk data (``hsi.render.render_rgb``: PSF, projection, noise,
exposure with the full image's gain, quantisation) and the paper's min-max input normalisation with
the full image's range. The target is the metamer cube (as in the paper's on-the-fly trainer).

The PSF is applied to the patch plus a margin of real image context (``margin`` pixels on each side,
read by the data path) and cropped back, so the patch's border sees its true neighbourhood instead of
wrap-around or zeros; centring is exact (the paper's circular one-pixel shift is not reproduced). When
the margin covers the PSF's half-extent (``psf_margin``), the convolution is done periodically at the
size of the patch with its margin: whatever wraps around lands in the margin only, so the cropped patch
equals a linear (zero-padded) convolution of the whole image there, at a fraction of the FFT cost.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from hsi.metamer import make_metamer, random_alpha
from hsi.render import RenderConfig, render_rgb


def psf_margin(psf: torch.Tensor | None) -> int:
    """Context (pixels per side) a patch needs for the PSF: half its larger extent."""
    return 0 if psf is None else int(max(psf.shape[-2:]) // 2)


@dataclass
class OnTheFlyRenderer:
    """Turns a batch of cube patches (with context margin) into ``(rgb, target)`` on ``device``.

    Attributes:
        srf: ``(31, 3)`` camera response.
        psf: ``(31, h, w)`` or None.
        config: the rendering settings of the on-disk data (noise, exposure target, quantisation).
        metamer_mode: ``clip`` or ``exact``.
        alpha_range: (low, high) of the uniform alpha.
        margin: context pixels per side in the incoming patches.
        seed: seeds the alpha and noise generators (their states are checkpointed by the engine).
    """

    srf: torch.Tensor
    psf: torch.Tensor | None
    config: RenderConfig
    metamer_mode: str = "clip"
    alpha_range: tuple[float, float] = (-1.0, 2.0)
    margin: int = 0
    seed: int = 0
    device: str | torch.device = "cpu"

    def __post_init__(self):
        self.device = torch.device(self.device)
        self.srf = torch.as_tensor(self.srf, dtype=torch.float32).to(self.device)
        self.psf = None if self.psf is None else torch.as_tensor(self.psf, dtype=torch.float32).to(self.device)
        # the context margin replaces the paper's wrap-around (see the module docstring)
        covered = self.psf is not None and self.margin >= psf_margin(self.psf)
        self.config = replace(self.config, psf_boundary="periodic" if covered else "linear")
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(self.seed) + 7919)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    @torch.no_grad()
    def __call__(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        cube = batch["cube"].to(self.device, non_blocking=True).float()
        n = cube.shape[0]
        alpha = random_alpha(n, *self.alpha_range, generator=self.generator, device=self.device)
        metamer = make_metamer(cube, self.srf, alpha, mode=self.metamer_mode).cube
        gain = batch["gain"].to(self.device, non_blocking=True)
        # the one rendering path of the on-disk data, on the patch with its context, then cropped
        dn = render_rgb(metamer, self.srf, self.psf, self.config, generator=self.generator, gain=gain).dn
        m = self.margin
        if m:
            dn, metamer = dn[..., m:-m, m:-m], metamer[..., m:-m, m:-m]
        lo = batch["dn_min"].to(self.device, non_blocking=True).view(-1, 1, 1, 1)
        hi = batch["dn_max"].to(self.device, non_blocking=True).view(-1, 1, 1, 1)
        rgb = (dn - lo) / (hi - lo).clamp_min(1e-12)
        return rgb.contiguous(), metamer.contiguous()
