"""Safe checkpoint loading and saving.

Checkpoints from the internet are untrusted: they are read with ``torch.load(weights_only=True)``,
which refuses pickled Python objects, so a malicious file cannot run code on load.
"""
from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from hsi.errors import ToolkitError
from hsi.io.atomic import atomic_path
from hsi.errors import ToolkitError


class CheckpointError(ToolkitError, RuntimeError):
    """A checkpoint that cannot be read or does not fit the network; the message says why."""


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely and normalise it to a dict with a ``'state_dict'`` entry.

    Accepts ``{'state_dict': ...}`` (toolkit, paper code, MST++ zoo) or a bare state_dict; strips a
    ``module.`` prefix (DataParallel / DDP). Other entries of the dict (optimizer, iteration, ...)
    are returned unchanged.

    Raises:
        CheckpointError: missing file, unreadable file, or a file that holds pickled objects.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused to load: the file contains pickled Python objects that are not plain "
            f"tensors or containers ({str(exc).splitlines()[0][:200]}). Only weights-only checkpoints "
            "are loaded, so that an untrusted file cannot run code.") from None
    except Exception as exc:  # corrupt zip, truncated file, not a torch file
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})") from None
    if isinstance(obj, Mapping) and "state_dict" in obj:
        out = dict(obj)
        state = obj["state_dict"]
    elif isinstance(obj, Mapping) and all(isinstance(v, torch.Tensor) for v in obj.values()):
        out, state = {}, obj
    else:
        raise CheckpointError(f"{path}: neither a state_dict nor a dict with a 'state_dict' entry")
    out["state_dict"] = strip_module_prefix(state)
    return out


def check_method(ckpt: Mapping[str, Any], method: str, source: str) -> None:
    """``CheckpointError`` naming both methods when ``ckpt`` records (``'method'``) another network than ``method``."""
    stored = ckpt.get("method")
    if isinstance(stored, str) and stored.lower() != method.lower():
        raise CheckpointError(f"{source} is a checkpoint of {stored!r}, but --method is {method!r}; pass "
                              f"--method {stored} or a checkpoint of {method}")


def check_finite_weights(state: Mapping[str, torch.Tensor], source: str, max_names: int = 5) -> None:
    """``CheckpointError`` naming the entries of ``state`` that hold NaN or Inf values."""
    bad = [k for k, v in state.items() if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        more = f" (+{len(bad) - max_names} more)" if len(bad) > max_names else ""
        raise CheckpointError(f"{source}: {len(bad)} weight tensor(s) hold NaN/Inf values ({', '.join(bad[:max_names])}"
                              f"{more}): the run that wrote it diverged; use an earlier checkpoint (best.pth)")


def strip_module_prefix(state: Mapping[str, torch.Tensor]) -> "OrderedDict[str, torch.Tensor]":
    """Remove a leading ``module.`` (DataParallel / DistributedDataParallel) from every key."""
    return OrderedDict((k[len("module."):] if k.startswith("module.") else k, v) for k, v in state.items())


def load_state_dict_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "state_dict",
                           max_names: int = 5) -> None:
    """``model.load_state_dict(state, strict=True)`` with an error that names the first bad keys.

    Raises:
        CheckpointError: listing up to ``max_names`` missing, unexpected and mis-shaped keys.
    """
    state = strip_module_prefix(state)
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshaped = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                 for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or misshaped:
        parts = []
        for label, names in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if names:
                more = f" (+{len(names) - max_names} more)" if len(names) > max_names else ""
                parts.append(f"{len(names)} {label}: {', '.join(names[:max_names])}{more}")
        raise CheckpointError(
            f"{source} does not fit {type(model).__name__} ({len(own)} entries): " + "; ".join(parts))
    model.load_state_dict(state, strict=True)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **extra: Any) -> Path:
    """Write ``{'state_dict': model.state_dict(), **extra}`` atomically (temp file + rename).

    A DDP/DataParallel wrapper is unwrapped so that the keys carry no ``module.`` prefix.
    """
    net = model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model
    payload = {"state_dict": net.state_dict(), **extra}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)
