"""The network zoo: ``build_model(method)`` for the 17 RGB-to-hyperspectral networks of the paper.

Every built network maps ``rgb: (N, 3, H, W) float32`` to ``cube: (N, 31, H, W) float32`` as
``model(rgb)``, for any H, W (padding happens inside), runs on CPU and CUDA, and has the state_dict
layout of its public implementation, so published checkpoints load with ``strict=True``. Two methods
need extra inputs (hprn: SLIC label maps, ssrnet: the camera SRF); the built module computes them
(``hsi.models.adapter.ZooModule``), and still accepts them explicitly (``model(rgb, *extra)``).
The registry (``ZOO`` / ``get_spec``) carries each method's label, learning rate, input needs and
DDP flags.
"""
from __future__ import annotations

import importlib

from torch import nn

from .checkpoint import load_checkpoint, load_state_dict_strict, save_checkpoint
from .zoo import BASELINES, METHODS, NETWORKS, ZOO, ModelSpec, UnknownMethodError, get_spec, method_label

__all__ = [
    "BASELINES", "METHODS", "NETWORKS", "ZOO", "ModelSpec", "UnknownMethodError", "build_model", "get_spec", "method_label",
    "model_class", "load_checkpoint", "load_state_dict_strict", "save_checkpoint", "count_parameters",
]


def model_class(method: str) -> type[nn.Module]:
    """The bare network class of ``method`` (its module is imported on first use)."""
    spec = get_spec(method)
    module = importlib.import_module(f"{__name__}.{spec.module}")
    return getattr(module, spec.class_name)


def build_model(method: str, pretrained: str | None = None, *, srf=None, **overrides) -> nn.Module:
    """Build ``method`` with the paper's constructor settings, optionally loading weights.

    Args:
        method: one of ``METHODS`` (case-insensitive).
        pretrained: path to a checkpoint (``.pth``): ``{'state_dict': ...}`` or a bare state_dict,
            optional ``module.`` prefix; loaded safely (``weights_only=True``) with ``strict=True``.
            ``None`` or the string ``"none"`` means random initialisation.
        srf: ssrnet only: the ``(31, 3)`` camera response the RGB data was rendered with (``None``: the
            default camera); kept on the module (``camera_srf``), not in its state_dict.
        overrides: constructor keyword arguments replacing the zoo's defaults.

    Returns:
        The network on the CPU in training mode, an instance of a subclass of the public class with the
        same name and state_dict (``hsi.models.adapter.ZooModule``): ``model(rgb)`` works for every method.
    """
    from .adapter import zoo_module_class  # the adapter imports the registry: import it late

    spec = get_spec(method)
    kwargs = {**spec.kwargs, **overrides}
    model = zoo_module_class(spec.method)(**kwargs)
    model.camera_srf = srf
    if pretrained is not None and str(pretrained).lower() != "none":
        from .checkpoint import check_finite_weights, check_method
        ckpt = load_checkpoint(pretrained)
        check_method(ckpt, spec.method, str(pretrained))
        load_state_dict_strict(model, ckpt["state_dict"], source=str(pretrained))
        check_finite_weights(ckpt["state_dict"], str(pretrained))
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
