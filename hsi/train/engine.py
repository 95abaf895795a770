"""The training engine behind the paper's training scripts.

One loop for every setting: fixed RGB/cube pairs from disk or on-the-fly metamers rendered inside the
step; exact iteration budget (``total_iterations``, checked every iteration); Adam with a cosine
schedule to ``eta_min`` that never restarts; optional bf16 autocast (``amp``), ``torch.compile`` and
TF32; validation on full images every ``valid_freq`` iterations; ``last.pth`` (model, optimiser,
scheduler, RNG and sampler state, iteration) written atomically every ``save_freq`` iterations and at
the end, ``best.pth`` on strict improvement of the validation MRAE, nothing else (no checkpoint flood);
``resume`` continues a killed run exactly (a new budget continues the cosine decay from the current
learning rate to ``eta_min`` at the new end: the rate never increases; settings that change the result
must match the stored ``config.json``: ``RESULT_KEYS``, ``RESULT_ARGS``); a folder that holds a run is
refused without ``resume`` or ``overwrite`` (:func:`check_run_folder`); DistributedDataParallel under
``torchrun`` (NCCL on GPUs, gloo on CPU) with the global batch split across processes; logs to stdout,
``train.log``, ``scalars.csv`` and TensorBoard (when installed), wandb optional.

:class:`Trainer` holds one run (``setup`` / ``resume`` / ``step`` / ``check_loss`` / ``validate`` / ``save`` /
``finish``; ``fit`` is the loop); :func:`train` builds one and runs it.

Speed: the loop never waits for the GPU (the loss stays on the device between log points, where
non-finite values are caught with their iteration), the training scenes can be held in GPU memory
(``data_on_device``), Adam is fused on CUDA, and ``compile`` uses CUDA graphs on one GPU.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from hsi.data import DevicePatchSource, FullImageDataset, PatchDataset, ResumableBatchSampler
from hsi.device import resolve_device
from hsi.errors import ToolkitError
from hsi.io import atomic_write_json, provenance
from hsi.models import build_model, count_parameters, get_spec, load_checkpoint, load_state_dict_strict, save_checkpoint
from hsi.models.checkpoint import CheckpointError
from hsi.train.evaluate import autocast, evaluate
from hsi.train.losses import get_loss
from hsi.train.onthefly import OnTheFlyRenderer
from hsi.train.runtime import (LOG, DistInfo, LossWindow, ScalarLog, TrainingDiverged, _rng_state, _set_rng_state,
                               init_distributed, seed_everything, setup_logging)

PROGRESS_SECONDS = 15.0
"""Besides every ``log_freq`` iterations, a progress line (loss, rate, ETA) once this many seconds passed."""

__all__ = ["TrainConfig", "Trainer", "train", "RunFolderError", "RESULT_KEYS", "check_run_folder", "run_state", "TrainingDiverged", "LossWindow", "ScalarLog", "DistInfo",
           "init_distributed", "setup_logging", "seed_everything", "use_device_data"]


@dataclass
class TrainConfig:
    """Settings of one training run (the scripts fill it from their flags).

    Attributes:
        method: network (``hsi.models.METHODS``).
        out_dir: run folder (checkpoints, logs, config.json, summary.json).
        total_iterations: exact number of optimisation steps.
        init_lr: Adam's initial learning rate; ``None``: the method's default from the zoo table.
        batch_size: global batch (split across DDP processes).
        loss: loss name (``hsi.train.losses``).
        eta_min: final learning rate of the cosine schedule.
        log_freq, valid_freq, save_freq: in iterations (``valid_freq`` 0: validate only at the end).
        seed: seeds model init, data order, augmentation and on-the-fly rendering.
        amp: bf16 autocast; compile: ``torch.compile`` the network; compile_mode: its mode
            (``default``; ``reduce-overhead`` = CUDA graphs, against the kernel-launch overhead that
            bounds small networks such as MST++; ``max-autotune``; ``auto``: ``reduce-overhead`` on a
            single CUDA device, ``default`` otherwise, i.e. on CPU and under DDP); tf32: allow TF32
            matmuls on CUDA.
        deterministic: deterministic algorithms (bit-exact resume on GPU; slower).
        num_workers: DataLoader worker processes (0: in the main process).
        data_on_device: ``on``: hold the training scenes in the device's memory and cut the patches
            there (``hsi.data.DevicePatchSource``: no workers, no per-batch host copies); ``off``: the
            disk-backed DataLoader; ``auto``: ``on`` for CUDA when the scenes take under half of the
            free device memory.
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:k]``.
        resume: continue from ``out_dir/last.pth`` if it exists.
        pretrained: weights to start from (a checkpoint file; iteration starts at 0).
        srf: camera response ``(31, 3)`` the data was rendered with (ssrnet's input).
        valid_border: pixels cropped from each side for the validation metrics.
        stop_at: stop after this iteration as if the process were killed there (no checkpoint is
            written at that point; for tests of resume).
        wandb: log to Weights & Biases (needs the ``wandb`` package).
        extra: anything else to record in config.json (flags, scene lists, data description).
    """

    method: str
    out_dir: Path
    total_iterations: int
    init_lr: float | None = None
    batch_size: int = 20
    loss: str = "l1"
    eta_min: float = 1e-6
    log_freq: int = 20
    valid_freq: int = 1000
    save_freq: int = 1000
    seed: int = 0
    amp: bool = False
    compile: bool = False
    compile_mode: str = "auto"
    tf32: bool = True
    deterministic: bool = False
    num_workers: int = 2
    data_on_device: str = "auto"
    device: str = "auto"
    resume: bool = False
    pretrained: str | None = None
    srf: Any = None
    valid_border: int = 0
    stop_at: int | None = None
    wandb: bool = False
    extra: dict = field(default_factory=dict)


def use_device_data(choice: str | bool, train_set: PatchDataset, device: torch.device) -> bool:
    """Whether the training patches are cut on the device (see ``TrainConfig.data_on_device``)."""
    choice = {True: "on", False: "off"}.get(choice, str(choice).lower())
    if choice not in ("auto", "on", "off"):
        raise ValueError(f"data_on_device must be auto, on or off, got {choice!r}")
    if choice != "auto":
        return choice == "on"
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return DevicePatchSource.bytes_needed(train_set) < 0.5 * free


# ------------------------------------------------------------------------------------ the run folder
class RunFolderError(ToolkitError):
    """The run folder holds another run (or one with other settings); the message gives the choices."""


RESUME_STATE = ("state_dict", "optimizer", "scheduler", "iteration", "rng")
"""What ``last.pth`` must hold for ``--resume``."""

RESULT_KEYS = ("method", "loss", "seed", "init_lr_used", "batch_size", "eta_min", "pretrained", "mode", "data_dir",
               "valid_join", "train_scenes", "valid_scenes")
"""Keys of ``config.json``'s ``config`` record that change a run's result: a resume must keep them."""

RESULT_ARGS = ("dataset_path", "dataset_name", "data_root", "noise_type", "npe", "psf_name", "rgb_format", "percent",
               "crop_size", "patch_size", "stride", "data_join", "on_the_fly", "metamer_mode", "alpha_min",
               "alpha_max", "quantize", "exact_iterations", "srf_path", "psf_path", "srf_name", "resume_file", "pretrained_root",
               "pretrained_model_path")
"""Flags (``config.json``'s ``config.args``) that change a run's result: a resume must keep them too. The
budget (epochs, iterations per epoch), the log/validation/save frequencies and the engine's speed flags
(amp, compile, device, workers, ...) may change on resume."""

RUN_FILES = ("last.pth", "summary.json", "config.json", "best.pth")


def run_state(out: str | os.PathLike) -> str | None:
    """What ``out`` holds: ``"finished N iterations"``, ``"stopped at iteration k"``, ``"started, no
    checkpoint yet"``, or None (no run: none of ``RUN_FILES``)."""
    out = Path(out)
    if not any((out / name).exists() for name in RUN_FILES):
        return None
    try:
        summary = json.loads((out / "summary.json").read_text())
        if summary.get("finished"):
            return f"finished {summary.get('iterations')} iterations"
    except (OSError, ValueError):
        pass
    try:
        return f"stopped at iteration {int(load_checkpoint(out / 'last.pth')['iteration'])}"
    except (CheckpointError, KeyError, TypeError, ValueError):
        return "started, no checkpoint yet"


def result_record(config: dict) -> dict:
    """The entries of a ``config.json`` ``config`` record (or of a new run's) that change the result."""
    args = config.get("args") or {}
    out = {k: config[k] for k in RESULT_KEYS if k in config}
    out.update({f"args.{k}": args[k] for k in RESULT_ARGS if k in args})
    return out


def new_result_record(cfg: "TrainConfig") -> dict:
    """:func:`result_record` of the run ``cfg`` would start (``init_lr_used`` from the zoo when None)."""
    lr = cfg.init_lr if cfg.init_lr is not None else get_spec(cfg.method).lr
    fields = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items() if k not in ("srf", "extra")}
    return result_record({**fields, "init_lr_used": lr, **cfg.extra})


def _move_aside(out: Path) -> Path:
    """Move everything in ``out`` but its lock files to ``<out>.old-<UTC time>`` (never deletes)."""
    from hsi.io.lock import LOCK_INFO_NAME, LOCK_NAME
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = out.with_name(f"{out.name}.old-{stamp}")
    n = 1
    while target.exists():
        target, n = out.with_name(f"{out.name}.old-{stamp}-{n}"), n + 1
    target.mkdir(parents=True)
    for entry in out.iterdir():
        if entry.name not in (LOCK_NAME, LOCK_INFO_NAME):
            os.replace(entry, target / entry.name)
    return target


def resolve_compile_mode(mode: str, device_type: str, world_size: int = 1) -> str:
    """The ``torch.compile`` mode a run uses: ``auto`` is ``reduce-overhead`` (CUDA graphs) on one GPU
    process and ``default`` otherwise (CPU, or under DDP); any other mode is used as given."""
    if mode != "auto":
        return mode
    return "reduce-overhead" if device_type == "cuda" and world_size == 1 else "default"


def check_run_folder(out: str | os.PathLike, cfg: "TrainConfig", overwrite: bool = False) -> Path | None:
    """Refuse, before any work, to train into a folder that holds a run unless asked how.

    No run in ``out``: nothing to do. ``overwrite``: the old run is moved to ``<out>.old-<time>``
    (returned). ``cfg.resume``: the stored ``config.json`` must agree with ``cfg`` on every key that
    changes the result (``RESULT_KEYS``, ``RESULT_ARGS``), else ``RunFolderError`` naming the keys that
    differ. Neither: ``RunFolderError`` naming the folder, its state and the two choices. Call it while
    holding the folder's lock (``hsi.io.lock.output_lock``).
    """
    out = Path(out)
    state = run_state(out)
    if state is None:
        return None
    if overwrite:
        moved = _move_aside(out)
        print(f"[train] {out}: the previous run ({state}) was moved to {moved} (--overwrite)")
        return moved
    if not cfg.resume:
        raise RunFolderError(f"{out} already holds a run ({state}); pass --resume True to continue it, or "
                             "--overwrite True to start over (the old run is moved to "
                             f"{out.name}.old-<time>, not deleted)")
    try:
        stored = result_record(json.loads((out / "config.json").read_text()).get("config", {}))
    except (OSError, ValueError):
        return None                       # killed before config.json: nothing to compare with
    new = new_result_record(cfg)
    differ = sorted(k for k in stored.keys() & new.keys() if stored[k] != new[k])
    if differ:
        shown = "; ".join(f"{k}: {stored[k]!r} -> {new[k]!r}"[:160] for k in differ)
        raise RunFolderError(f"{out} holds a run ({state}) with other settings that change the result ({shown}); "
                             "resume with the run's settings, or pass --overwrite True to start over (the old run "
                             f"is moved to {out.name}.old-<time>), or write to another --result_root")
    return None


# ------------------------------------------------------------------------------------ the loop
def _finished_summary(out: Path, cfg: TrainConfig) -> dict | None:
    """The summary of a run in ``out`` that already finished ``cfg.total_iterations``, else None."""
    path = out / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = summary.get("finished") and summary.get("iterations") == cfg.total_iterations and summary.get("method") == cfg.method
    return summary if ok else None


class Trainer:
    """One training run in the BasicSR spirit: ``setup``, then ``step`` / ``validate`` / ``save``.

    ``fit`` is the loop of :func:`train` (exact budget, log / validation / checkpoint points); a caller may
    drive the same steps itself::

        trainer = Trainer(cfg, train_set, valid_set).setup()    # also resumes from last.pth (cfg.resume)
        while trainer.iteration < cfg.total_iterations:
            trainer.step()                                      # one optimisation step
        trainer.check_loss(); trainer.save(); trainer.validate()
        result = trainer.finish(trainer.last_valid)

    Attributes (after ``setup``): ``model`` (the network), ``net`` (what the step calls: compiled and/or
    DDP-wrapped ``model``), ``optimizer``, ``scheduler``, ``iteration``, ``start`` (iteration at setup),
    ``best`` (best validation MRAE), ``device``, ``info`` (:class:`DistInfo`), ``spec`` (registry entry),
    ``lr`` (initial learning rate used), ``last_valid`` (latest validation summary).
    """

    def __init__(self, cfg: TrainConfig, train_set: PatchDataset, valid_set: FullImageDataset | None = None,
                 renderer: OnTheFlyRenderer | None = None):
        self.cfg, self.train_set, self.valid_set, self.renderer = cfg, train_set, valid_set, renderer
        self.out = Path(cfg.out_dir)
        self.last_path, self.best_path = self.out / "last.pth", self.out / "best.pth"
        self.start = self.iteration = 0
        self.best = math.inf
        self.last_valid = None
        self.loader = self.data_iter = self.scalars = None

    # -------------------------------------------------------------------------------- setup
    def setup(self) -> "Trainer":
        """Process group, device, backends, model, optimiser, schedule, resume, compile/DDP, data, logs."""
        self._setup_runtime()
        self._build()
        self.resume()
        self._wrap()
        self._setup_data()
        self._record_config()
        self.window = LossWindow(self.device, self.iteration)
        self.t_start = self.t_log = time.time()
        self.t_line = time.monotonic()          # the last progress or validation line (wall clock)
        return self

    def _setup_runtime(self) -> None:
        cfg = self.cfg
        self.info = init_distributed(cfg.device)
        self.device = resolve_device(cfg.device, self.info.local_rank if self.info.world_size > 1 else None)
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        if self.info.world_size > 1:
            dist.barrier()
        setup_logging(self.out, self.info.is_main)
        self.spec = get_spec(cfg.method)
        self.lr = cfg.init_lr if cfg.init_lr is not None else self.spec.lr
        self.loss_fn = get_loss(cfg.loss)
        if cfg.total_iterations <= 0:
            raise ValueError(f"the iteration budget must be positive, got {cfg.total_iterations}")
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
            torch.backends.cudnn.allow_tf32 = cfg.tf32
            torch.backends.cudnn.benchmark = not cfg.deterministic
        if cfg.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)

    def _build(self) -> None:
        cfg = self.cfg
        seed_everything(cfg.seed)
        self.srf = None if cfg.srf is None else torch.as_tensor(np.asarray(cfg.srf), dtype=torch.float32)
        self.model = build_model(cfg.method, pretrained=cfg.pretrained, srf=self.srf).to(self.device)
        # fused Adam on CUDA: the same update in one kernel (the multi-tensor version costs ~5 ms per
        # MST++ step on an H200, 17 % of a bf16 + compile step)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr, betas=(0.9, 0.999),
                                          fused=self.device.type == "cuda")
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=cfg.total_iterations,
                                                                    eta_min=cfg.eta_min)

    def resume(self) -> int:
        """Continue from ``last.pth`` when ``cfg.resume`` (weights, optimiser, schedule, RNG, renderer);
        returns the iteration the run continues from (0 for a fresh run)."""
        if self.cfg.resume and self.last_path.is_file():
            ckpt = load_checkpoint(self.last_path, map_location=self.device)
            missing = [k for k in RESUME_STATE if k not in ckpt]
            if missing:
                raise CheckpointError(f"{self.last_path}: cannot resume: the checkpoint has no {', '.join(missing)} "
                                      "(weights only?); pass --overwrite True to start over, or start from its "
                                      "weights with --pretrained_root/--resume_file")
            load_state_dict_strict(self.model, ckpt["state_dict"], source=str(self.last_path))
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.scheduler.load_state_dict(ckpt["scheduler"])
            self.start, self.best = int(ckpt["iteration"]), float(ckpt.get("best_mrae", math.inf))
            self._extend_schedule()
            _set_rng_state(ckpt["rng"])
            if self.renderer is not None and "renderer" in ckpt:
                self.renderer.load_state_dict(ckpt["renderer"])
            LOG.info("resumed from %s at iteration %d (best validation MRAE %.4f)", self.last_path, self.start, self.best)
        elif self.cfg.resume:
            LOG.info("--resume: no %s yet, starting from scratch", self.last_path)
        self.iteration = self.start
        return self.start

    def _extend_schedule(self) -> None:
        """A resume with another budget continues the cosine decay from the current learning rate to
        ``eta_min`` at the new ``total_iterations`` (never a restart: the rate keeps decreasing)."""
        sched, end = self.scheduler, self.cfg.total_iterations
        old_end = sched.T_max + (self.start - sched.last_epoch)
        if old_end == end or end <= self.start:
            return
        for group in self.optimizer.param_groups:
            group["initial_lr"] = group["lr"]
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=end - self.start,
                                                                    eta_min=self.cfg.eta_min)
        LOG.info("budget %d -> %d iterations: the cosine decay continues from lr %.3e at iteration %d to %.1e at %d",
                 old_end, end, self.optimizer.param_groups[0]["lr"], self.start, self.cfg.eta_min, end)

    def _wrap(self) -> None:
        """``net``: the model, compiled (``cfg.compile``) and DDP-wrapped (several processes)."""
        cfg, device = self.cfg, self.device
        mode = resolve_compile_mode(cfg.compile_mode, device.type, self.info.world_size)
        self.compile_mode = mode
        self.net = self.model
        if cfg.compile:
            self.net = torch.compile(self.model, mode=None if mode == "default" else mode)
        if self.info.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel
            self.net = DistributedDataParallel(self.net, device_ids=[device.index] if device.type == "cuda" else None,
                                               find_unused_parameters=self.spec.find_unused_parameters)
        self.mark_step = cfg.compile and mode in ("reduce-overhead", "max-autotune") and device.type == "cuda"

    def _setup_data(self) -> None:
        """The batch iterator: patches cut on the device (``data_on_device``) or the disk-backed DataLoader."""
        cfg, device, info, train_set = self.cfg, self.device, self.info, self.train_set
        sampler = ResumableBatchSampler(len(train_set), cfg.batch_size, seed=cfg.seed, start_batch=self.start,
                                        rank=info.rank, world_size=info.world_size)
        self.on_device = use_device_data(cfg.data_on_device, train_set, device)
        if self.on_device:
            t_load = time.time()
            source = DevicePatchSource(train_set, device, progress=info.is_main)
            LOG.info("training scenes in %s memory: %.2f GiB, loaded in %.1f s", device,
                     DevicePatchSource.bytes_needed(train_set) / 2 ** 30, time.time() - t_load)
            self.data_iter = map(source.batch, iter(sampler))
            return
        self.loader = DataLoader(train_set, batch_sampler=sampler, num_workers=cfg.num_workers,
                                 pin_memory=device.type == "cuda", persistent_workers=cfg.num_workers > 0,
                                 prefetch_factor=4 if cfg.num_workers > 0 else None,
                                 generator=torch.Generator().manual_seed(cfg.seed))  # keeps the global RNG untouched
        self.data_iter = iter(self.loader)

    def _record_config(self) -> None:
        """``config.json`` (settings and what was resolved from them), the start line, the scalar log."""
        cfg, info, n_params = self.cfg, self.info, count_parameters(self.model)
        run_config = {**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()
                         if k not in ("srf", "extra")},
                      "init_lr_used": self.lr, "parameters": n_params, "train_patches": len(self.train_set),
                      "data_on_device_used": self.on_device, "compile_mode_used": self.compile_mode if cfg.compile else None,
                      "world_size": info.world_size, "device": str(self.device), **cfg.extra}
        if info.is_main:
            atomic_write_json(self.out / "config.json", provenance(config=run_config))
            LOG.info("%s: %d parameters, %d training patches, lr %.3g, %d iterations, batch %d, device %s%s",
                     cfg.method, n_params, len(self.train_set), self.lr, cfg.total_iterations, cfg.batch_size,
                     self.device, f" x{info.world_size}" if info.world_size > 1 else "")
        self.scalars = ScalarLog(self.out, info.is_main, cfg.wandb, run_config)

    # -------------------------------------------------------------------------------- one iteration
    def feed_data(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rgb, target)`` on the device from a batch (rendered on the fly when there is a renderer)."""
        if self.renderer is not None:
            return self.renderer(batch)
        return (batch["rgb"].to(self.device, non_blocking=True),
                batch["cube"].to(self.device, non_blocking=True))

    def step(self) -> torch.Tensor:
        """One optimisation step on the next batch; returns its loss (on the device, not synchronised)."""
        rgb, target = self.feed_data(next(self.data_iter))
        if self.mark_step:
            torch.compiler.cudagraph_mark_step_begin()
        with autocast(self.device, self.cfg.amp):
            # extra inputs (hprn's labels, ssrnet's SRF) outside the compiled region
            pred = self.net(rgb, *self.model.extra_inputs(rgb))
        loss = self.loss_fn(pred.float(), target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.iteration += 1
        self.window.add(loss, self.iteration)
        return loss.detach()

    def check_loss(self, report: bool = True) -> None:
        """Synchronise the losses since the last report: :class:`TrainingDiverged` at a non-finite one;
        with ``report``, log their mean (stdout, train.log, scalars) and start a new window."""
        mean_loss, n_log = self.window.flush(self.last_path)
        if not (n_log and report):
            return
        dt = time.time() - self.t_log
        rate = n_log * self.cfg.batch_size / max(dt, 1e-9)
        lr = self.scheduler.get_last_lr()[0]
        eta = (self.stop - self.iteration) * dt / n_log   # training time left at this window's rate
        LOG.info("iter %d/%d loss %.5f lr %.3e %.1f samples/s ETA %d:%02d", self.iteration, self.cfg.total_iterations,
                 mean_loss, lr, rate, eta // 60, eta % 60)
        self.scalars.log(self.iteration, {"train/loss": mean_loss, "train/lr": lr, "train/samples_per_s": rate})
        self.window.reset(self.iteration)
        self.t_log = time.time()
        self.t_line = time.monotonic()

    # -------------------------------------------------------------------------------- validate / save
    def validate(self) -> dict | None:
        """Full-image validation at the current iteration (main process; ``best.pth`` on a strictly lower
        MRAE); returns the summary (None without validation set or on other processes)."""
        t_valid = time.time()
        summary = None
        if self.info.is_main and self.valid_set is not None:
            _, summary = evaluate(self.model, self.cfg.method, self.valid_set, self.device, self.srf, self.cfg.amp,
                                  self.cfg.valid_border, loss_fn=self.loss_fn)
            self.scalars.log(self.iteration, {f"valid/{k}": v for k, v in summary.items()})
            improved = summary["MRAE"] < self.best
            if improved:
                self.best = summary["MRAE"]
                save_checkpoint(self.best_path, self.model, iteration=self.iteration, method=self.cfg.method,
                                valid=summary)
            LOG.info("iter %d validation: MRAE %.4f RMSE %.4f PSNR %.2f SAM %.4f loss %.4f%s", self.iteration,
                     summary["MRAE"], summary["RMSE"], summary["PSNR"], summary["SAM"], summary["loss"],
                     " (best)" if improved else "")
        if self.info.world_size > 1:
            dist.barrier()
        self.last_valid = summary
        self.t_log += time.time() - t_valid  # the logged rate counts training only
        self.t_line = time.monotonic()
        return summary

    def save(self) -> None:
        """``last.pth`` (main process): weights, optimiser, schedule, RNG and renderer state, iteration, best MRAE."""
        if self.info.is_main:
            save_checkpoint(self.last_path, self.model, optimizer=self.optimizer.state_dict(),
                            scheduler=self.scheduler.state_dict(), iteration=self.iteration, best_mrae=self.best,
                            rng=_rng_state(), method=self.cfg.method,
                            renderer=self.renderer.state_dict() if self.renderer is not None else {})

    # -------------------------------------------------------------------------------- the loop
    @property
    def stop(self) -> int:
        """The iteration this process stops at (``total_iterations``, or ``stop_at`` for tests of resume)."""
        cfg = self.cfg
        return cfg.total_iterations if cfg.stop_at is None else min(cfg.total_iterations, cfg.stop_at)

    def fit(self) -> dict:
        """Run to ``stop``: log every ``log_freq``, validate every ``valid_freq`` and at the end, ``last.pth``
        every ``save_freq`` and at the end; non-finite losses are caught at each of these points (with
        their iteration) before anything is written. Returns the run summary (:meth:`finish`)."""
        cfg, final = self.cfg, None
        try:
            while self.iteration < self.stop:
                t_step = time.monotonic()
                self.step()
                it, now = self.iteration, time.monotonic()
                checkpoint_due = it % cfg.save_freq == 0 or it == cfg.total_iterations
                valid_due = bool(cfg.valid_freq) and it % cfg.valid_freq == 0 and it < cfg.total_iterations
                # a line at least every PROGRESS_SECONDS: report now if the next step would end past it,
                # and before a validation (which prints its own line when it ends)
                report = (it % cfg.log_freq == 0 or it == self.stop or valid_due
                          or now - self.t_line + (now - t_step) >= PROGRESS_SECONDS)
                if report or checkpoint_due or valid_due:
                    self.check_loss(report)
                if valid_due:
                    self.validate()
                if checkpoint_due:
                    self.save()
            if self.iteration >= cfg.total_iterations:
                final = self.validate()
        finally:
            self.close()
        return self.finish(final)

    def close(self) -> None:
        """Close the scalar log and the data iterator (idempotent)."""
        if self.scalars is not None:
            self.scalars.close()
            self.scalars = None
        self.data_iter = self.loader = None

    def finish(self, final_valid: dict | None = None) -> dict:
        """Close, and return the run summary (written to ``summary.json`` once the budget is done)."""
        self.close()
        cfg, it = self.cfg, self.iteration
        elapsed = time.time() - self.t_start
        result = {"method": cfg.method, "iterations": it, "finished": it >= cfg.total_iterations,
                  "best_valid_mrae": self.best, "final_valid": final_valid, "seconds": elapsed,
                  "samples_per_s": (it - self.start) * cfg.batch_size / max(elapsed, 1e-9)}
        if self.info.is_main and it >= cfg.total_iterations:
            atomic_write_json(self.out / "summary.json", provenance(**result))
            LOG.info("finished %d iterations in %.1f s; best validation MRAE %.4f; run folder %s", it, elapsed,
                     self.best, self.out)
        return result


def train(cfg: TrainConfig, train_set: PatchDataset, valid_set: FullImageDataset | None,
          renderer: OnTheFlyRenderer | None = None) -> dict:
    """Train ``cfg.method`` on ``train_set`` (validating on ``valid_set``); returns the run summary.

    ``renderer`` given: ``train_set`` yields cube patches and the RGB input is rendered on the fly.
    A finished run in ``cfg.out_dir`` is skipped under ``cfg.resume``. See :class:`Trainer`. A regression
    baseline (``closed_form`` in the zoo) is fitted by ridge regression on the same batches instead
    (``hsi.train.regression_fit.train_closed_form``: seconds, deterministic; a resume refits).
    """
    out = Path(cfg.out_dir)
    done = _finished_summary(out, cfg) if cfg.resume else None
    if done is not None:
        print(f"[train] {out} already finished {done['iterations']} iterations: skipped (--resume)")
        return done
    if get_spec(cfg.method).closed_form:
        from hsi.train.regression_fit import train_closed_form
        return train_closed_form(cfg, train_set, valid_set, renderer)
    return Trainer(cfg, train_set, valid_set, renderer).setup().fit()
