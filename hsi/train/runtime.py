"""The run-time pieces of a training run: process group, logs, RNG state, the device-side loss window.

Used by :class:`hsi.train.engine.Trainer` (and re-exported there under the same names).
"""
from __future__ import annotations

import csv
import logging
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

LOG = logging.getLogger("hsi.train")


class TrainingDiverged(RuntimeError):
    """The loss became NaN/Inf; the message names the iteration and the last good checkpoint."""


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
