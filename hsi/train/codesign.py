"""Co-design: a learnable DOE (``hsi.optics.learned``) trained jointly with the network on on-the-fly metamers.

Each step computes the current PSF once (all 31 bands in one batched call of the element), renders the
metamers of the batch's cube patches through it (``CodesignRenderer``) and updates the network and the
optics with their own Adam optimisers and cosine schedules (``CodesignTrainer``, a subclass of the engine's
``Trainer``: exact budget, ``last.pth`` with the optics' parameters and optimiser state, bit-exact resume
on CPU, TensorBoard scalars). Validation renders the held-out scenes through the current PSF
(``CurrentPSFValidation``). Every checkpoint exports the current PSF in the shipped format next to it
(``<run>/psf_last.npz``, ``<run>/psf_best.npz``, each with its ``.json``; ``hsi.optics.load_psf`` and
``generate_metamers.py --psf_name <run>/psf_best.npz`` read them).

Approximations (docs/learned_optics.md): the image formation's forward values are exactly those of the
fixed-PSF on-the-fly renderer; its gradient is straight-through for the noise and the quantisation (the
Poisson draw and the floor are treated as identity: the gradient is that of the noiseless, unquantised
DN, i.e. of the noise's mean given the rate); the exposure gain and the DN range of each scene are those
of the initial PSF (computed once at setup; a PSF sums to 1 per band, so they change little).
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from hsi import layout
from hsi.data import FullImageDataset, PatchDataset, check_files, read_split, select_percent
from hsi.datasets import get_dataset_spec
from hsi.device import resolve_device
from hsi.errors import OptionError
from hsi.imaging import ImagingSystem
from hsi.io import provenance
from hsi.io.rgb import minmax_normalise
from hsi.metamer import random_alpha
from hsi.models import load_checkpoint
from hsi.render import RenderConfig, add_noise, camera_signal, expose_and_quantise, make_generators, scene_seed
from hsi.train.cli import cache_of, camera_srf, cube_pairs, device_of, pretrained_of, train_config_fields
from hsi.train.engine import LOG, TrainConfig, Trainer, _finished_summary
from hsi.train.onthefly import OnTheFlyRenderer, scene_stats
from hsi.train.options import TrainingOptions, flat_record

__all__ = ["CodesignOptions", "CodesignTrainingOptions", "CodesignRenderer", "CodesignTrainer", "build_element",
           "codesign_run_dir", "run_codesign", "codesign_trainer", "add_codesign_args", "codesign_options_from_args", "OPTICS", "PSF_LAST", "PSF_BEST"]

OPTICS = ("doe", "radial_doe")
PSF_LAST, PSF_BEST = layout.CODESIGN_PSF_FILES["last"], layout.CODESIGN_PSF_FILES["best"]
CODESIGN_RESULT_ROOT = layout.CODESIGN_RESULT_ROOT


@dataclass(frozen=True)
class CodesignOptions:
    """The learnable element and its optimisation (defaults small enough for a CPU).

    Attributes:
        optics: ``doe`` (free-form ``doe_grid x doe_grid`` height map) or ``radial_doe`` (radial profile).
        optics_init: ``flat`` (ideal lens: Airy PSFs), ``random`` (smooth, seeded by ``seed``), ``rotation``
            (Jeon et al.'s design; needs the DOE alone, not used with the default ideal lens), or the path
            of a PSF exported by a co-design run (``.npz`` with its ``.json``: its height map).
        optics_lr: Adam's initial learning rate of the optics' parameters (the raw height logits).
        optics_eta_min: final learning rate of the optics' cosine schedule.
        doe_grid: pupil samples per axis. doe_levels: quantisation levels (None: continuous; STE gradient).
        doe_max_height_um: ``h_max`` in um (None: a 2 pi step at 700 nm).
        doe_oversample: odd sub-samples per pixel and axis of the PSF integration (3: fast; None: Nyquist, 9).
        psf_size: the PSF window ``psf_size x psf_size`` pixels (the patches carry ``psf_size // 2`` pixels of
            context per side, so keep it small on a CPU).
        smoothness: weight of the element's total-variation penalty added to the loss (0: none).
        focal_length_mm, f_number: the lens (defaults the shipped double Gauss: 50 mm, F/1.8).
    """
    optics: str = "doe"
    optics_init: str = "flat"
    optics_lr: float = 1e-2
    optics_eta_min: float = 1e-5
    doe_grid: int = 128
    doe_levels: int | None = None
    doe_max_height_um: float | None = None
    doe_oversample: int | None = 3
    psf_size: int = 31
    smoothness: float = 0.0
    focal_length_mm: float = 50.0
    f_number: float = 1.8

    def __post_init__(self):
        if self.optics not in OPTICS:
            raise OptionError(f"--optics must be one of {OPTICS}, got {self.optics!r}")
        if self.psf_size < 1 or self.psf_size % 2 == 0:
            raise OptionError(f"--psf_size must be a positive odd number of pixels, got {self.psf_size}")
        if self.optics_lr <= 0 or self.smoothness < 0:
            raise OptionError("--optics_lr must be > 0 and --smoothness >= 0")


@dataclass(frozen=True)
class CodesignTrainingOptions:
    """A co-design run: the on-the-fly trainer's options (``training``, mode ``onthefly``) + ``codesign``."""
    training: TrainingOptions = field(default_factory=TrainingOptions)
    codesign: CodesignOptions = field(default_factory=CodesignOptions)


def build_element(c: CodesignOptions, seed: int = 0, device=None) -> torch.nn.Module:
    """The learnable element of ``c`` (float32): ``HeightMapDOE`` or ``RadialDOE``; forward() -> (31, s, s)."""
    from hsi.optics.learned import DOEOptions, HeightMapDOE, RadialDOE
    opts = DOEOptions(focal_length_mm=c.focal_length_mm, f_number=c.f_number, grid=c.doe_grid,
                      psf_shape=(c.psf_size, c.psf_size), max_height_um=c.doe_max_height_um, levels=c.doe_levels,
                      oversample=c.doe_oversample)
    cls = HeightMapDOE if c.optics == "doe" else RadialDOE
    try:
        return cls(opts, init=c.optics_init, seed=seed, device=device)
    except (ValueError, FileNotFoundError) as exc:
        raise OptionError(f"optics {c.optics} (--doe_grid {c.doe_grid}, --psf_size {c.psf_size}, --optics_init "
                          f"{c.optics_init}): {exc}") from exc


class CodesignRenderer(OnTheFlyRenderer):
    """``OnTheFlyRenderer`` whose RGB is differentiable with respect to the optical element's parameters.

    Forward values equal the fixed-PSF renderer's (same metamers, noise stream, exposure, quantisation);
    the gradient flows through the convolution and projection, straight through the noise and the
    quantisation (see the module docstring). The PSF is computed once per call.
    """

    def __call__(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        system, cfg = self.system, self.system.config
        with torch.no_grad():
            cube = batch["cube"].to(self.device, non_blocking=True).float()
            alpha = random_alpha(cube.shape[0], *self.alpha_range, generator=self.generator, device=self.device)
            metamer = system.metamer(cube, alpha, mode=self.metamer_mode).cube
        gain = batch["gain"].to(self.device, non_blocking=True).float().view(-1, 1, 1, 1)
        signal = camera_signal(metamer, system.srf, system.psf(), cfg.psf_boundary)   # differentiable
        with torch.no_grad():                     # the same calls as render_rgb: identical values
            noisy = add_noise(signal, cfg.npe, cfg.noise_type, cfg.div_factor_to_1pe, self.generator)
            dn_q, _ = expose_and_quantise(noisy, cfg, gain.view(-1))
        dn_lin = (signal * gain * cfg.full_scale).clamp(0, cfg.full_scale)
        dn = dn_lin + (dn_q - dn_lin).detach()    # straight-through: value dn_q, gradient of dn_lin
        return self.network_pair(dn, metamer, batch)


class CurrentPSFValidation(FullImageDataset):
    """Held-out scenes rendered through the current PSF: originals (target the cube) and their alpha = 0
    metamers (target the metamer cube), noise seeded per scene and variant (``scene_seed``), exposure from
    the image itself, the paper's per-image min-max normalisation, then the dataset's centre crop."""

    def __init__(self, pairs, cache, system: ImagingSystem, seed: int, centre_crop: int | None = None):
        super().__init__(pairs, cache, centre_crop)
        self.system, self.seed = system.with_config(psf_boundary="linear"), seed
        self.items = [(p, v) for v in ("metamer", "original") for p in self.pairs]

    def __len__(self) -> int:
        return len(self.items)

    @torch.no_grad()
    def __getitem__(self, i):
        pair, variant = self.items[i]
        dev = self.system.device
        cube = torch.from_numpy(np.array(self.cache.cube(pair.cube_path), dtype=np.float32))[None].to(dev)
        if variant == "metamer":
            cube = self.system.metamer(cube, 0.0).cube
        gen = make_generators([scene_seed(self.seed, pair.key, variant)], dev)
        dn = self.system.render(cube, generator=gen).dn[0]
        key = pair.key + ("_metamer" if variant == "metamer" else "")
        return {"rgb": self._crop(minmax_normalise(dn)).contiguous(), "cube": self._crop(cube[0]).contiguous(),
                "name": key}


class CodesignTrainer(Trainer):
    """The engine's ``Trainer`` with the optics as a second set of parameters (own Adam and cosine schedule).

    ``renderer`` is a ``CodesignRenderer`` whose system holds the learnable element; ``valid_pairs``: the
    held-out cube pairs (rendered through the current PSF at each validation).

    Under ``torchrun`` (DDP) every process holds the same element: its parameters and buffers are
    broadcast from rank 0 when the network is wrapped (after a resume, as DDP does for the network), and
    each step averages the optics' gradients over the processes (``all_reduce``) before the optics'
    optimiser steps, as DDP averages the network's; the identical Adam updates keep the elements equal.
    Validation, checkpoints and PSF exports are rank 0's (the engine's rule).
    """

    def __init__(self, cfg: TrainConfig, train_set: PatchDataset, renderer: CodesignRenderer, valid_pairs=None,
                 cache=None, codesign: CodesignOptions = CodesignOptions(), centre_crop: int | None = None):
        super().__init__(cfg, train_set, None, renderer)
        self.codesign, self.valid_pairs, self.cache, self.centre_crop = codesign, valid_pairs, cache, centre_crop
        self.optics = renderer.system.optics

    def _build(self) -> None:
        super()._build()
        c, total = self.codesign, self.cfg.total_iterations
        self.optics.to(self.device)
        self.optics_optimizer = torch.optim.Adam(self.optics.parameters(), lr=c.optics_lr, betas=(0.9, 0.999))
        self.optics_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optics_optimizer, T_max=total,
                                                                           eta_min=c.optics_eta_min)

    def resume(self) -> int:
        start = super().resume()
        if self.cfg.resume and self.last_path.is_file():
            state = load_checkpoint(self.last_path, map_location=self.device).get("optics")
            if state is None:
                raise OptionError(f"{self.last_path} holds no optics state: not a co-design run's checkpoint")
            self.optics.load_state_dict(state["element"])
            self.optics_optimizer.load_state_dict(state["optimizer"])
            self.optics_scheduler.load_state_dict(state["scheduler"])
        return start

    def _wrap(self) -> None:
        """The engine's wrapping of the network, and under DDP rank 0's element on every process."""
        super()._wrap()
        if self.info.world_size > 1:
            with torch.no_grad():
                for tensor in [*self.optics.parameters(), *self.optics.buffers()]:
                    dist.broadcast(tensor.data, src=0)

    def _average_optics_gradients(self) -> None:
        """Under DDP: each optics gradient becomes its mean over the processes (a missing one counts 0)."""
        world = self.info.world_size
        if world <= 1:
            return
        for param in self.optics.parameters():
            if not param.requires_grad:
                continue
            if param.grad is None:
                param.grad = torch.zeros_like(param)
            dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
            param.grad.div_(world)

    def step(self) -> torch.Tensor:
        """One joint step: render through the current PSF, network loss (+ smoothness), both optimisers."""
        rgb, target = self.feed_data(next(self.data_iter))
        from hsi.train.evaluate import autocast
        with autocast(self.device, self.cfg.amp):
            pred = self.net(rgb, *self.model.extra_inputs(rgb))
        loss = self.loss_fn(pred.float(), target)
        total = loss + self.codesign.smoothness * self.optics.smoothness_penalty() if self.codesign.smoothness else loss
        self.optimizer.zero_grad(set_to_none=True)
        self.optics_optimizer.zero_grad(set_to_none=True)
        total.backward()                          # DDP averages the network's gradients here
        self._average_optics_gradients()
        self.optimizer.step()
        self.optics_optimizer.step()
        self.scheduler.step()
        self.optics_scheduler.step()
        self.iteration += 1
        self.window.add(loss, self.iteration)
        return loss.detach()

    def check_loss(self, report: bool = True) -> None:
        logged = report and self.window is not None
        super().check_loss(report)
        if logged and self.scalars is not None:
            with torch.no_grad():
                h = self.optics.height_um()
            self.scalars.log(self.iteration, {"optics/lr": self.optics_scheduler.get_last_lr()[0],
                                              "optics/height_mean_um": float(h.mean()),
                                              "optics/height_std_um": float(h.std())})

    def _export(self, name: str) -> None:
        from hsi.optics.learned import export_psf
        export_psf(self.optics, self.out / name, provenance(run=str(self.out), iteration=self.iteration,
                                                            method=self.cfg.method, codesign=vars_of(self.codesign)))

    def validate(self) -> dict | None:
        """The engine's validation on the held-out scenes rendered through the current PSF (computed once);
        ``psf_best.npz`` beside each new ``best.pth``."""
        best = self.best
        if self.valid_pairs and self.info.is_main:
            with torch.no_grad():
                kernel = self.optics().detach()
            self.valid_set = CurrentPSFValidation(self.valid_pairs, self.cache, self.renderer.system.with_optics(kernel),
                                                  self.cfg.seed, self.centre_crop)
        summary = super().validate()
        if self.info.is_main and self.best < best:
            self._export(PSF_BEST)
        return summary

    def save(self) -> None:
        """``last.pth`` with the optics (element, optimiser, schedule) and ``psf_last.npz`` beside it."""
        if not self.info.is_main:
            return
        from hsi.models import save_checkpoint
        from hsi.train.runtime import _rng_state
        save_checkpoint(self.last_path, self.model, optimizer=self.optimizer.state_dict(),
                        scheduler=self.scheduler.state_dict(), iteration=self.iteration, best_mrae=self.best,
                        rng=_rng_state(), method=self.cfg.method, renderer=self.renderer.state_dict(),
                        optics={"element": self.optics.state_dict(), "optimizer": self.optics_optimizer.state_dict(),
                                "scheduler": self.optics_scheduler.state_dict()})
        self._export(PSF_LAST)


def vars_of(opts) -> dict:
    return asdict(opts)


def _optional_int(text: str) -> int | None:
    return None if str(text).lower() == "none" else int(text)


def _optional_float(text: str) -> float | None:
    return None if str(text).lower() == "none" else float(text)


def add_codesign_args(ap: argparse.ArgumentParser) -> None:
    """The co-design flags (``CodesignOptions``) and the on-the-fly rendering flags the trainer reuses."""
    from hsi.cli_types import non_negative_float
    d = CodesignOptions()
    g = ap.add_argument_group("on-the-fly rendering")
    g.add_argument("--srf_path", default="./resources/A2a5320-23ucBAS_gain.npz",
                   help="camera response (.npz, .csv or a camera name; the paper's default path: the Basler camera)")
    g.add_argument("--metamer_mode", default="clip", choices=["clip", "exact"])
    g.add_argument("--alpha_min", type=float, default=-1.0)
    g.add_argument("--alpha_max", type=float, default=2.0)
    g.add_argument("--quantize", default="truncate", choices=["truncate", "round", "none"])
    g = ap.add_argument_group("co-design (learnable optics)")
    g.add_argument("--optics", default=d.optics, choices=OPTICS, help="free-form height map or radial profile")
    g.add_argument("--optics_init", default=d.optics_init,
                   help="flat (ideal lens, Airy PSFs), random, rotation, or an exported psf_*.npz of a co-design run")
    g.add_argument("--optics_lr", type=float, default=d.optics_lr, help="Adam LR of the optics (cosine schedule)")
    g.add_argument("--optics_eta_min", type=float, default=d.optics_eta_min, help="final LR of the optics")
    g.add_argument("--doe_grid", type=int, default=d.doe_grid, help="pupil samples per axis")
    g.add_argument("--doe_levels", type=_optional_int, default=d.doe_levels,
                   help="height quantisation levels (None: continuous; straight-through gradient)")
    g.add_argument("--doe_max_height_um", type=_optional_float, default=d.doe_max_height_um,
                   help="maximum height in um (None: a 2 pi step at 700 nm)")
    g.add_argument("--doe_oversample", type=_optional_int, default=d.doe_oversample,
                   help="odd sub-samples per pixel and axis (None: Nyquist at 400 nm, 9 at F/1.8)")
    g.add_argument("--psf_size", type=int, default=d.psf_size,
                   help="PSF window (odd, pixels); patches carry psf_size//2 pixels of context per side")
    g.add_argument("--smoothness", type=non_negative_float, default=d.smoothness, help="weight of the TV penalty")
    g.add_argument("--focal_length_mm", type=float, default=d.focal_length_mm)
    g.add_argument("--f_number", type=float, default=d.f_number)
    ap.set_defaults(result_root=CODESIGN_RESULT_ROOT)


def codesign_options_from_args(args: argparse.Namespace) -> CodesignTrainingOptions:
    from hsi.train.cli import CLI_ONLY_FLAGS
    from hsi.train.options import options_from_args
    return options_from_args(CodesignTrainingOptions, args, CLI_ONLY_FLAGS, mode="onthefly")


def codesign_run_dir(opts: CodesignTrainingOptions) -> Path:
    """``<result_root>/Codesign_<optics>_<loss>_<noise><npe>_<method>_<dataset>``."""
    t, c = opts.training, opts.codesign
    return Path(t.result_root or CODESIGN_RESULT_ROOT) / layout.codesign_run_name(
        optics=c.optics, loss=t.loss_func, noise_type=t.noise_type, npe=t.npe, method=t.method, dataset=t.dataset_name)


def run_codesign(opts: CodesignTrainingOptions) -> dict:
    """Train the network and the learnable element jointly; returns the run summary (``Trainer.finish``).

    The run folder is held for the whole job and a run already there is refused unless ``--resume`` or
    ``--overwrite`` (``hsi.train.engine.check_run_folder``, rank 0), as for the other trainers."""
    from hsi.train.engine import check_run_folder
    from hsi.train.experiments import _is_main_process, _job_lock
    trainer, done = codesign_trainer(opts)
    if done is not None:
        print(f"[codesign] {codesign_run_dir(opts)} already finished {done['iterations']} iterations: skipped (--resume)")
        return done
    with _job_lock(trainer.out, "co-design training"):
        if _is_main_process():
            check_run_folder(trainer.out, trainer.cfg, opts.training.engine.overwrite)
        return trainer.setup().fit()


def codesign_trainer(opts: CodesignTrainingOptions) -> tuple[CodesignTrainer | None, dict | None]:
    """``(trainer, None)``: the run's ``CodesignTrainer``, not yet set up; ``(None, summary)`` when the run in
    its folder already finished its budget (``--resume``)."""
    from hsi.train.experiments import _check_common
    t, c = opts.training, opts.codesign
    _check_common(t.method, t.loss_func, t.dataset_name)
    dataset_dir = Path(t.dataset_path) / t.dataset_name
    if not dataset_dir.is_dir():
        raise OptionError(f"dataset folder not found: {dataset_dir} (--dataset_path/--dataset_name)")
    train_scenes = select_percent(read_split(dataset_dir, "train"), t.percent, t.seed)
    valid_scenes = read_split(dataset_dir, "valid")
    train_pairs, valid_pairs = cube_pairs(dataset_dir, train_scenes), cube_pairs(dataset_dir, valid_scenes)
    check_files(train_pairs + valid_pairs, hint=f"the original cubes are missing from {dataset_dir}")
    device = resolve_device(device_of(t.engine.device, t.engine.gpu_id))
    srf = camera_srf(t.engine.srf_name, t.onthefly.srf_path)
    config = RenderConfig(noise_type=t.noise_type, npe=t.npe, quantize=t.onthefly.quantize,
                          exposure_target=get_dataset_spec(t.dataset_name).exposure_target)
    system = ImagingSystem.from_arrays(srf, build_element(c, t.seed), config, device)
    cache = cache_of(dataset_dir, t.engine.cache_dir)
    margin = c.psf_size // 2
    with torch.no_grad():
        stats = scene_stats(train_pairs, cache, system)
    renderer = CodesignRenderer(system, metamer_mode=t.onthefly.metamer_mode,
                                alpha_range=(t.onthefly.alpha_min, t.onthefly.alpha_max), margin=margin, seed=t.seed)
    out = codesign_run_dir(opts)
    cfg = TrainConfig(method=t.method, out_dir=out, total_iterations=t.num_epochs * t.per_epoch_iteration,
                      loss=t.loss_func, pretrained=pretrained_of(t.pretrained_root, t.resume_file), srf=srf,
                      **train_config_fields(t),
                      extra={"mode": "codesign", "args": {**flat_record(t), **vars_of(c)}, "train_scenes": train_scenes,
                             "valid_scenes": valid_scenes, "valid_join": "both (rendered through the current PSF)"})
    done = _finished_summary(out, cfg) if cfg.resume else None
    if done is not None:
        return None, done
    train_set = PatchDataset(train_pairs, cache, t.crop_size, t.stride, margin, stats)
    trainer = CodesignTrainer(cfg, train_set, renderer, valid_pairs, cache, c, get_dataset_spec(t.dataset_name).eval_crop)
    LOG.info("co-design: %s %s, PSF %dx%d, grid %d, margin %d", c.optics, c.optics_init, c.psf_size, c.psf_size,
             c.doe_grid, margin)
    return trainer, None
