"""Choosing the torch device from a command-line value, and the CPU thread count."""
from __future__ import annotations

import os
import time

import torch
from hsi.errors import ToolkitError

THREADS_ENV = "OMP_NUM_THREADS"
"""Set it to fix the torch CPU thread count; otherwise :func:`cpu_thread_count` chooses."""


class DeviceError(ToolkitError, RuntimeError):
    """A CUDA device was asked for but is not available."""


def resolve_device(device: str = "auto", local_rank: int | None = None) -> torch.device:
    """``auto``: CUDA when available, else CPU; otherwise the device named (``cpu``, ``cuda``, ``cuda:1``).

    ``local_rank`` (a DistributedDataParallel process) picks ``cuda:<local_rank>`` for a CUDA device.
    The chosen CUDA device becomes the current one.
    """
    if device in (None, "", "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device!r} asked for, but no CUDA device is available")
        if local_rank is not None:
            dev = torch.device("cuda", local_rank)
        elif dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(dev)
    else:
        configure_cpu_threads()
    return dev


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


BUSY_SAMPLE_S = 0.2
"""Seconds over which :func:`busy_cores` samples ``/proc/stat``."""


def _cpu_times() -> tuple[int, int, int] | None:
    """``(busy, total, n_cpus)`` jiffies summed over all CPUs from ``/proc/stat``; None where it is absent."""
    try:
        with open("/proc/stat") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    fields = [int(v) for v in lines[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)           # idle + iowait
    return sum(fields) - idle, sum(fields), sum(1 for l in lines if l[:3] == "cpu" and l[3:4].isdigit())


def busy_cores(interval: float = BUSY_SAMPLE_S) -> float:
    """Cores kept busy by other processes right now (the caller sleeps while it samples): the share of
    non-idle CPU time in ``/proc/stat`` over ``interval`` seconds times the number of CPUs. Unlike the
    load average it does not remember the caller's own work of the last minute. Falls back to the
    1-minute load average where ``/proc/stat`` is absent, and to 0."""
    first = _cpu_times()
    if first is not None:
        time.sleep(interval)
        second = _cpu_times()
        if second is not None and second[1] > first[1]:
            return (second[0] - first[0]) / (second[1] - first[1]) * second[2]
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


def cpu_thread_count(env: dict | None = None, cores: int | None = None, load: float | None = None) -> int:
    """The torch CPU thread count that does not collapse on a shared machine (>= 1).

    ``OMP_NUM_THREADS`` (in ``env``, default ``os.environ``) is respected when it is a positive integer.
    Otherwise: the available cores (:func:`available_cores`) less the cores other processes keep busy
    (``load``, default :func:`busy_cores`: sampled now), rounded; at least 1. Oversubscribing a loaded
    machine makes every torch thread wait for the slowest (measured: 0.4 samples/s with 2 threads against
    7.1 with 1 on a 2-core machine at load 6-9), so a busy machine gets one thread.
    """
    env = os.environ if env is None else env
    value = str(env.get(THREADS_ENV, "")).strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    cores = available_cores() if cores is None else int(cores)
    load = busy_cores() if load is None else load
    return max(1, min(cores, cores - int(round(max(0.0, float(load))))))


def configure_cpu_threads(threads: int | None = None) -> int:
    """Set torch's intra-op thread count to ``threads`` (default :func:`cpu_thread_count`); returns it."""
    n = cpu_thread_count() if threads is None else max(1, int(threads))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
