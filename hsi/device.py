"""Choosing the torch device from a command-line value."""
from __future__ import annotations

import torch
from hsi.errors import ToolkitError


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
    return dev
