"""The training engine behind the paper's training scripts.

One loop for every setting: fixed RGB/cube pairs from disk or on-the-fly metamers rendered inside the
step; exact iteration budget (``total_iterations``, checked every iteration); Adam with a cosine
schedule to ``eta_min`` that never restarts; optional bf16 autocast (``amp``), ``torch.compile`` and
TF32; validation on full images every ``valid_freq`` iterations; ``last.pth`` (model, optimiser,
scheduler, RNG and sampler state, iteration) written atomically every ``save_freq`` iterations and at
the end, ``best.pth`` on strict improvement of the validation MRAE, nothing else (no checkpoint flood);
``resume`` continues a killed run exactly; DistributedDataParallel under ``torchrun`` (NCCL on GPUs,
gloo on CPU) with the global batch split across processes; logs to stdout, ``train.log``, ``scalars.csv``
and TensorBoard (when installed), wandb optional.

Speed: the loop never waits for the GPU (the loss stays on the device between log points, where
non-finite values are caught with their iteration), the training scenes can be held in GPU memory
(``data_on_device``), Adam is fused on CUDA, and ``compile`` uses CUDA graphs on one GPU.
"""
from __future__ import annotations

import csv
import json
import logging
import math
import os
import random
import sys
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
from hsi.io import atomic_write_json, provenance
from hsi.models import build_model, count_parameters, get_spec, load_checkpoint, load_state_dict_strict, save_checkpoint
from hsi.models.adapter import run_model
from hsi.train.evaluate import autocast, evaluate
from hsi.train.losses import get_loss
from hsi.train.onthefly import OnTheFlyRenderer

LOG = logging.getLogger("hsi.train")


class TrainingDiverged(RuntimeError):
    """The loss became NaN/Inf; the message names the iteration and the last good checkpoint."""


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


# ------------------------------------------------------------------------------------ distributed
@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(rank, world, local)


# ------------------------------------------------------------------------------------ logging
class ScalarLog:
    """Scalars to ``scalars.csv`` (always), TensorBoard (if installed) and wandb (if asked)."""

    def __init__(self, out_dir: Path, enabled: bool, use_wandb: bool, run_config: dict):
        self.enabled = enabled
        self.path = out_dir / "scalars.csv"
        self.tb = self.wandb = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
            self.tb = SummaryWriter(str(out_dir / "tensorboard"))
        except Exception:  # tensorboard missing (it is a requirement, but a bare environment may lack it)
            LOG.info("TensorBoard not installed: scalars go to %s only", self.path)
        if use_wandb:
            try:
                import wandb
            except ImportError:
                raise RuntimeError("--wandb True needs the wandb package (pip install wandb)") from None
            self.wandb = wandb.init(project=os.environ.get("WANDB_PROJECT", "hsi-toolkit"), config=run_config,
                                    name=out_dir.name, dir=str(out_dir))

    def log(self, iteration: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        new = not self.path.exists()
        with open(self.path, "a", newline="") as fh:
            w = csv.writer(fh)
            if new:
                w.writerow(["iteration", "name", "value"])
            for k, v in values.items():
                w.writerow([iteration, k, f"{v:.8g}"])
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, v, iteration)
        if self.wandb is not None:
            self.wandb.log(values, step=iteration)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


def setup_logging(out_dir: Path, is_main: bool) -> None:
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
    for h in list(LOG.handlers):
        LOG.removeHandler(h)
        h.close()
    if not is_main:
        LOG.addHandler(logging.NullHandler())
        return
    fmt = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
    for h in (logging.StreamHandler(sys.stdout), logging.FileHandler(out_dir / "train.log")):
        h.setFormatter(fmt)
        LOG.addHandler(h)


# ------------------------------------------------------------------------------------ RNG state
def _rng_state() -> dict:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                       "has_gauss": int(np_state[3]), "gauss": float(np_state[4])}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(_to_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_tuple(x):
    return tuple(_to_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


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


# ------------------------------------------------------------------------------------ loss window
class LossWindow:
    """Training losses accumulated on the device between log points (no host sync per step).

    ``add`` records each iteration's loss and the first iteration whose loss is not finite;
    ``flush`` (one host sync) raises :class:`TrainingDiverged` naming that iteration, or returns the
    mean loss and the number of iterations since the last ``reset``.
    """

    def __init__(self, device: torch.device, start: int):
        self.total = torch.zeros((), dtype=torch.float64, device=device)
        self.first_bad = torch.full((), -1, dtype=torch.int64, device=device)
        self.start = self.last = start

    def add(self, loss: torch.Tensor, iteration: int) -> None:
        value = loss.detach().to(torch.float64)
        self.total += value
        unseen = (~torch.isfinite(value)) & (self.first_bad < 0)
        self.first_bad = torch.where(unseen, torch.full_like(self.first_bad, iteration), self.first_bad)
        self.last = iteration

    def flush(self, last_path: Path) -> tuple[float, int]:
        total, first_bad = torch.stack([self.total, self.first_bad.to(torch.float64)]).tolist()
        if first_bad >= 0:
            raise TrainingDiverged(f"loss is not finite at iteration {int(first_bad)}; the last good checkpoint "
                                   f"is {last_path if last_path.exists() else 'not written yet'}")
        n = self.last - self.start
        return (total / n if n else float("nan")), n

    def reset(self, iteration: int) -> None:
        self.total.zero_()
        self.start = self.last = iteration


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


def train(cfg: TrainConfig, train_set: PatchDataset, valid_set: FullImageDataset | None,
          renderer: OnTheFlyRenderer | None = None) -> dict:
    """Train ``cfg.method`` on ``train_set`` (validating on ``valid_set``); returns the run summary.

    ``renderer`` given: ``train_set`` yields cube patches and the RGB input is rendered on the fly.
    """
    out = Path(cfg.out_dir)
    done = _finished_summary(out, cfg) if cfg.resume else None
    if done is not None:
        print(f"[train] {out} already finished {done['iterations']} iterations: skipped (--resume)")
        return done
    info = init_distributed(cfg.device)
    device = resolve_device(cfg.device, info.local_rank if info.world_size > 1 else None)
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
    if info.world_size > 1:
        dist.barrier()
    setup_logging(out, info.is_main)
    spec = get_spec(cfg.method)
    lr = cfg.init_lr if cfg.init_lr is not None else spec.lr
    loss_fn = get_loss(cfg.loss)
    if cfg.total_iterations <= 0:
        raise ValueError(f"the iteration budget must be positive, got {cfg.total_iterations}")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
        torch.backends.cudnn.allow_tf32 = cfg.tf32
        torch.backends.cudnn.benchmark = not cfg.deterministic
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)

    seed_everything(cfg.seed)
    model = build_model(cfg.method, pretrained=cfg.pretrained).to(device)
    # fused Adam on CUDA: the same update in one kernel (the multi-tensor version costs ~5 ms per
    # MST++ step on an H200, 17 % of a bf16 + compile step)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), fused=device.type == "cuda")
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.total_iterations, eta_min=cfg.eta_min)
    start, best = 0, math.inf
    last_path, best_path = out / "last.pth", out / "best.pth"
    if cfg.resume and last_path.is_file():
        ckpt = load_checkpoint(last_path, map_location=device)
        load_state_dict_strict(model, ckpt["state_dict"], source=str(last_path))
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start, best = int(ckpt["iteration"]), float(ckpt.get("best_mrae", math.inf))
        _set_rng_state(ckpt["rng"])
        if renderer is not None and "renderer" in ckpt:
            renderer.load_state_dict(ckpt["renderer"])
        LOG.info("resumed from %s at iteration %d (best validation MRAE %.4f)", last_path, start, best)
    elif cfg.resume:
        LOG.info("--resume: no %s yet, starting from scratch", last_path)

    net = model
    compile_mode = cfg.compile_mode
    if compile_mode == "auto":
        compile_mode = "reduce-overhead" if device.type == "cuda" and info.world_size == 1 else "default"
    if cfg.compile:
        net = torch.compile(model, mode=None if compile_mode == "default" else compile_mode)
    if info.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None,
                                      find_unused_parameters=cfg.method in ("hrnet",))

    sampler = ResumableBatchSampler(len(train_set), cfg.batch_size, seed=cfg.seed, start_batch=start,
                                    rank=info.rank, world_size=info.world_size)
    on_device = use_device_data(cfg.data_on_device, train_set, device)
    if on_device:
        t_load = time.time()
        source = DevicePatchSource(train_set, device, progress=info.is_main)
        LOG.info("training scenes in %s memory: %.2f GiB, loaded in %.1f s", device,
                 DevicePatchSource.bytes_needed(train_set) / 2 ** 30, time.time() - t_load)
        loader, data_iter = None, map(source.batch, iter(sampler))
    else:
        loader = DataLoader(train_set, batch_sampler=sampler, num_workers=cfg.num_workers,
                            pin_memory=device.type == "cuda", persistent_workers=cfg.num_workers > 0,
                            prefetch_factor=4 if cfg.num_workers > 0 else None,
                            generator=torch.Generator().manual_seed(cfg.seed))  # keeps the global RNG untouched
        data_iter = iter(loader)
    srf = None if cfg.srf is None else torch.as_tensor(np.asarray(cfg.srf), dtype=torch.float32)

    run_config = {**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items() if k not in ("srf", "extra")},
                  "init_lr_used": lr, "parameters": count_parameters(model), "train_patches": len(train_set),
                  "data_on_device_used": on_device, "compile_mode_used": compile_mode if cfg.compile else None,
                  "world_size": info.world_size, "device": str(device), **cfg.extra}
    if info.is_main:
        atomic_write_json(out / "config.json", provenance(config=run_config))
        LOG.info("%s: %d parameters, %d training patches, lr %.3g, %d iterations, batch %d, device %s%s",
                 cfg.method, count_parameters(model), len(train_set), lr, cfg.total_iterations, cfg.batch_size,
                 device, f" x{info.world_size}" if info.world_size > 1 else "")
    scalars = ScalarLog(out, info.is_main, cfg.wandb, run_config)

    def save_last(iteration: int) -> None:
        if info.is_main:
            save_checkpoint(last_path, model, optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                            iteration=iteration, best_mrae=best, rng=_rng_state(), method=cfg.method,
                            renderer=renderer.state_dict() if renderer is not None else {})

    def validate(iteration: int) -> dict | None:
        nonlocal best
        summary = None
        if info.is_main and valid_set is not None:
            _, summary = evaluate(model, cfg.method, valid_set, device, srf, cfg.amp, cfg.valid_border, loss_fn=loss_fn)
            scalars.log(iteration, {f"valid/{k}": v for k, v in summary.items()})
            improved = summary["MRAE"] < best
            if improved:
                best = summary["MRAE"]
                save_checkpoint(best_path, model, iteration=iteration, method=cfg.method, valid=summary)
            LOG.info("iter %d validation: MRAE %.4f RMSE %.4f PSNR %.2f SAM %.4f loss %.4f%s", iteration,
                     summary["MRAE"], summary["RMSE"], summary["PSNR"], summary["SAM"], summary["loss"],
                     " (best)" if improved else "")
        if info.world_size > 1:
            dist.barrier()
        return summary

    model.train()
    it = start
    t_start = time.time()
    summary = None
    stop = cfg.total_iterations if cfg.stop_at is None else min(cfg.total_iterations, cfg.stop_at)
    mark_step = cfg.compile and compile_mode in ("reduce-overhead", "max-autotune") and device.type == "cuda"
    # The loss stays on the device between log points: no host synchronisation per step, so the CPU
    # queues the next steps while the GPU works. Non-finite losses are caught at every log, save and
    # validation point, with the exact iteration, before anything is written.
    window = LossWindow(device, it)
    t_log = time.time()
    try:
        while it < stop:
            batch = next(data_iter)
            if renderer is not None:
                rgb, target = renderer(batch)
            else:
                rgb = batch["rgb"].to(device, non_blocking=True)
                target = batch["cube"].to(device, non_blocking=True)
            if mark_step:
                torch.compiler.cudagraph_mark_step_begin()
            with autocast(device, cfg.amp):
                pred = run_model(net, cfg.method, rgb, srf)
            loss = loss_fn(pred.float(), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            it += 1
            window.add(loss, it)
            checkpoint_due = it % cfg.save_freq == 0 or it == cfg.total_iterations
            valid_due = bool(cfg.valid_freq) and it % cfg.valid_freq == 0 and it < cfg.total_iterations
            if it % cfg.log_freq == 0 or it == stop or checkpoint_due or valid_due:
                mean_loss, n_log = window.flush(last_path)
                if n_log and (it % cfg.log_freq == 0 or it == stop):
                    dt = time.time() - t_log
                    rate = n_log * cfg.batch_size / max(dt, 1e-9)
                    LOG.info("iter %d/%d loss %.5f lr %.3e %.1f samples/s", it, cfg.total_iterations, mean_loss,
                             scheduler.get_last_lr()[0], rate)
                    scalars.log(it, {"train/loss": mean_loss, "train/lr": scheduler.get_last_lr()[0],
                                     "train/samples_per_s": rate})
                    window.reset(it)
                    t_log = time.time()
            if valid_due:
                t_valid = time.time()
                validate(it)
                t_log += time.time() - t_valid  # the logged rate counts training only
            if checkpoint_due:
                save_last(it)
        if it >= cfg.total_iterations:
            summary = validate(it)
    finally:
        scalars.close()
        del data_iter, loader
    elapsed = time.time() - t_start
    result = {"method": cfg.method, "iterations": it, "finished": it >= cfg.total_iterations,
              "best_valid_mrae": best, "final_valid": summary, "seconds": elapsed,
              "samples_per_s": (it - start) * cfg.batch_size / max(elapsed, 1e-9)}
    if info.is_main and it >= cfg.total_iterations:
        atomic_write_json(out / "summary.json", provenance(**result))
        LOG.info("finished %d iterations in %.1f s; best validation MRAE %.4f; run folder %s", it, elapsed, best, out)
    return result
