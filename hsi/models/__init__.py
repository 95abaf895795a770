"""The network zoo: ``build_model(method)`` for the 17 RGB-to-hyperspectral networks of the paper.

Every network maps ``rgb: (N, 3, H, W) float32`` to ``cube: (N, 31, H, W) float32`` for any H, W
(padding happens inside), runs on CPU and CUDA, and has the state_dict layout of its public
implementation, so published checkpoints load with ``strict=True``. Two methods need extra inputs
(hprn: SLIC label maps, ssrnet: the camera SRF); ``hsi.models.adapter.run_model`` supplies them so
that callers treat every method alike.
"""
from __future__ import annotations

import importlib

from torch import nn

from .checkpoint import load_checkpoint, load_state_dict_strict, save_checkpoint
from .zoo import METHODS, ZOO, ModelSpec

__all__ = [
    "METHODS", "ZOO", "ModelSpec", "UnknownMethodError", "build_model", "get_spec",
    "load_checkpoint", "load_state_dict_strict", "save_checkpoint", "count_parameters",
]


class UnknownMethodError(ValueError):
    """Raised for a method name that is not in the zoo; the message lists the valid names."""


def get_spec(method: str) -> ModelSpec:
    """Return the zoo row of ``method`` (case-insensitive), or raise ``UnknownMethodError``."""
    key = str(method).strip().lower()
    if key not in ZOO:
        raise UnknownMethodError(
            f"unknown method {method!r}; valid methods: {', '.join(METHODS)}")
    return ZOO[key]


def model_class(method: str) -> type[nn.Module]:
    """The network class of ``method`` (its module is imported on first use)."""
    spec = get_spec(method)
    module = importlib.import_module(f"{__name__}.{spec.module}")
    return getattr(module, spec.class_name)


def build_model(method: str, pretrained: str | None = None, **overrides) -> nn.Module:
    """Build ``method`` with the paper's constructor settings, optionally loading weights.

    Args:
        method: one of ``METHODS`` (case-insensitive).
        pretrained: path to a checkpoint (``.pth``): ``{'state_dict': ...}`` or a bare state_dict,
            optional ``module.`` prefix; loaded safely (``weights_only=True``) with ``strict=True``.
            ``None`` or the string ``"none"`` means random initialisation.
        overrides: constructor keyword arguments replacing the zoo's defaults.

    Returns:
        The network on the CPU in training mode.
    """
    spec = get_spec(method)
    kwargs = {**spec.kwargs, **overrides}
    model = model_class(spec.method)(**kwargs)
    if pretrained is not None and str(pretrained).lower() != "none":
        state = load_checkpoint(pretrained)["state_dict"]
        load_state_dict_strict(model, state, source=str(pretrained))
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
