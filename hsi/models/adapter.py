"""One calling convention for every network of the zoo: ``model(rgb)`` for the modules ``build_model``
returns (:class:`ZooModule`), and ``run_model(model, method, rgb, srf=None)`` for any network.

Most networks are called as ``model(rgb)``. Two need an extra input, supplied here so that training,
validation, benchmarks and tests treat all methods alike (the paper's trainers could not train them,
upstream defect D5):

* ``hprn``: SLIC super-pixel label maps of the RGB input at n_segments 8, 12, 16, 20, computed per image
  on the CPU with scikit-image exactly as the paper's data loaders do (``MST_plus_plus_code/train_code/
  hsi_dataset.py``, ``dataset_tools/loader.py``): the ``[0, 1]`` float image is scaled by 255 and cast
  to ``uint8`` (truncation, not rounding), laid out ``H x W x 3`` and given to
  ``skimage.segmentation.slic(image, n_segments=s, start_label=1)`` with the defaults otherwise. The
  maps are passed as an int64 tensor ``(N, 4, H, W)`` on the input's device.
* ``ssrnet``: the camera response the RGB data was rendered with, given as an SRF ``(31, 3)`` (columns
  R, G, B; torch tensor or numpy array), transposed to ``(3, 31)`` with every row divided by its sum, as
  the paper's code does. Without ``srf`` the toolkit's default camera (the paper's Basler
  a2A5320-23ucBAS, 400-700 nm at 10 nm) is used.

``extra_inputs`` (and ``ZooModule.extra_inputs``) return the extra forward arguments alone, so that a
training loop can compute them outside a compiled region or in its data path (SLIC is CPU work) and hand
them to ``model(rgb, *extra)`` or ``run_model(..., extra=...)``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import Tensor, nn

from hsi.io.mat import WAVELENGTHS_NM

from .zoo import get_spec

__all__ = ["ZooModule", "zoo_module_class", "run_model", "extra_inputs", "slic_labels", "ssrnet_srf", "SLIC_SEGMENTS", "DEFAULT_SRF_WAVELENGTHS_NM"]

SLIC_SEGMENTS: tuple[int, ...] = (8, 12, 16, 20)
"""n_segments of the four SLIC label maps HPRN uses (the paper's ``slic_scales``)."""

DEFAULT_SRF_WAVELENGTHS_NM = WAVELENGTHS_NM  # the toolkit's 31 bands (hsi.io.mat)
"""Band centres (nm) of the 31-band cubes; the default camera is sampled there."""


def _image_to_slic_input(img_chw: np.ndarray) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 as the paper's loaders build it."""
    img = np.nan_to_num(np.asarray(img_chw, dtype=np.float32), nan=0.0)
    # the paper's images are min-max normalised to [0, 1]; clipping keeps the uint8 cast defined
    img = np.clip(img, 0.0, 1.0)
    return np.ascontiguousarray(np.transpose(np.uint8(img * 255.0), (1, 2, 0)))


def slic_labels(rgb, segments: tuple[int, ...] = SLIC_SEGMENTS) -> Tensor:
    """SLIC label maps for HPRN.

    Args:
        rgb: ``(N, 3, H, W)`` or a single ``(3, H, W)`` image, float in [0, 1]; torch tensor (any device)
            or numpy array.
        segments: n_segments of each map.

    Returns:
        int64 tensor ``(N, len(segments), H, W)`` (``(len(segments), H, W)`` for a single image) with
        labels starting at 1, on the device of ``rgb`` (CPU for numpy input).
    """
    from skimage.segmentation import slic  # lazy: only hprn needs scikit-image

    device = rgb.device if isinstance(rgb, Tensor) else torch.device("cpu")
    arr = rgb.detach().to("cpu", torch.float32).numpy() if isinstance(rgb, Tensor) else np.asarray(rgb)
    single = arr.ndim == 3
    if single:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise ValueError(f"rgb must be (N, 3, H, W) or (3, H, W), got {tuple(arr.shape)}")
    maps = np.empty((arr.shape[0], len(segments), arr.shape[2], arr.shape[3]), dtype=np.int64)
    for i, img in enumerate(arr):
        image = _image_to_slic_input(img)
        for j, n_seg in enumerate(segments):
            maps[i, j] = slic(image, n_segments=n_seg, start_label=1)
    out = torch.from_numpy(maps)
    return (out[0] if single else out).to(device)


@lru_cache(maxsize=1)
def _default_srf() -> np.ndarray:
    from hsi.camera import DEFAULT_CAMERA, load_srf
    return load_srf(DEFAULT_CAMERA, DEFAULT_SRF_WAVELENGTHS_NM)


def ssrnet_srf(srf=None, device=None, dtype: torch.dtype = torch.float32) -> Tensor:
    """SSRNet's response matrix: ``(3, bands)``, rows R, G, B, each row normalised to sum 1.

    Args:
        srf: ``(bands, 3)`` camera response (columns R, G, B), torch tensor or numpy array; ``None``
            for the toolkit's default camera (``hsi.camera.DEFAULT_CAMERA`` at 400-700 nm / 10 nm).
        device, dtype: of the result.
    """
    if srf is None:
        srf = _default_srf()
    m = srf.detach().to("cpu") if isinstance(srf, Tensor) else torch.from_numpy(np.asarray(srf))
    if m.dim() != 2 or m.shape[1] != 3:
        raise ValueError(f"srf must be (bands, 3) with columns R, G, B, got {tuple(m.shape)}")
    rows = m.to(torch.float32).transpose(0, 1)
    sums = rows.sum(-1, keepdim=True)
    if not torch.all(torch.isfinite(rows)) or torch.any(sums <= 0):
        raise ValueError("srf must be finite and every channel must have a positive sum")
    return (rows / sums).to(device=device, dtype=dtype)


def extra_inputs(method: str, rgb, srf=None) -> tuple:
    """The extra forward arguments of ``method`` for input ``rgb`` (empty for ordinary methods).

    Args:
        method: zoo method name (case-insensitive).
        rgb: ``(N, 3, H, W)`` float in [0, 1] (hprn also accepts a single ``(3, H, W)`` image, e.g. in a
            dataset's ``__getitem__``; its labels then come without batch axis and collate normally).
        srf: ssrnet only: the ``(31, 3)`` camera response the data was rendered with (default camera if
            ``None``); ignored by the other methods.

    Returns:
        ``()``, ``(labels,)`` for hprn, or ``(srf_rows,)`` for ssrnet, on ``rgb``'s device.
    """
    kind = get_spec(method).extra_input
    if kind is None:
        return ()
    if kind == "slic":
        return (slic_labels(rgb),)
    if kind == "srf":
        device = rgb.device if isinstance(rgb, Tensor) else None
        dtype = rgb.dtype if isinstance(rgb, Tensor) and rgb.is_floating_point() else torch.float32
        return (ssrnet_srf(srf, device=device, dtype=dtype),)
    raise ValueError(f"unknown extra input kind {kind!r} for method {method!r}")


def run_model(model: nn.Module, method: str, rgb: Tensor, srf=None, *, extra: tuple | None = None) -> Tensor:
    """Run a zoo network on ``rgb`` with whatever extra inputs its method needs.

    Args:
        model: the network (``build_model(method)``), on the device of ``rgb``.
        method: its zoo method name.
        rgb: ``(N, 3, H, W)`` float in [0, 1].
        srf: ssrnet only: ``(31, 3)`` camera response the data was rendered with; ``None``: the model's
            own (``build_model(..., srf=)``) or else the default camera.
        extra: precomputed ``extra_inputs(method, rgb, srf)`` (e.g. from a data loader); computed here
            when ``None``. Labels or SRF given here are moved to ``rgb``'s device.

    Returns:
        ``cube (N, 31, H, W)``.
    """
    if not isinstance(rgb, Tensor) or rgb.dim() != 4 or rgb.shape[1] != 3:
        shape = tuple(rgb.shape) if hasattr(rgb, "shape") else type(rgb).__name__
        raise ValueError(f"rgb must be a (N, 3, H, W) tensor, got {shape}")
    if extra is None:
        extra = extra_inputs(method, rgb, getattr(model, "camera_srf", None) if srf is None else srf)
    else:
        get_spec(method)  # validate the name
        extra = tuple(e.to(rgb.device) if isinstance(e, Tensor) else e for e in extra)
    return model(rgb, *extra)


class ZooModule(nn.Module):
    """Mixin of the modules ``build_model`` returns: ``forward(rgb)`` supplies the method's extra inputs.

    ``zoo_module_class(method)`` puts it in front of the public class (same class name, same
    state_dict, published checkpoints load unchanged); ``forward(rgb, *extra)`` with explicit extra inputs
    (or ssrnet's public order ``forward(srf_rows, rgb)``) goes to the public forward as it is.

    Attributes:
        zoo_spec: the method's registry entry (``hsi.models.get_spec``).
        camera_srf: ssrnet only: ``(31, 3)`` camera response of the data (``None``: the default camera).
    """

    zoo_spec = None
    camera_srf = None

    def extra_inputs(self, rgb: Tensor) -> tuple:
        """The extra forward arguments for ``rgb (N, 3, H, W)``: ``()`` for most methods (see ``extra_inputs``)."""
        if self.zoo_spec.extra_input is None:
            return ()
        return extra_inputs(self.zoo_spec.method, rgb, self.camera_srf)

    def forward(self, rgb: Tensor, *extra) -> Tensor:
        return super().forward(rgb, *(extra or self.extra_inputs(rgb)))


@lru_cache(maxsize=None)
def zoo_module_class(method: str) -> type[nn.Module]:
    """The public class of ``method`` with :class:`ZooModule` in front (``__name__`` that of the public class)."""
    from . import model_class

    spec = get_spec(method)
    base = model_class(spec.method)
    # __qualname__ ``Zoo_<method>`` of this module: pickle (and copy) find the class through __getattr__ below
    return type(base.__name__, (ZooModule, base), {"__module__": __name__, "__qualname__": f"Zoo_{spec.method}",
                                                   "__doc__": base.__doc__, "zoo_spec": spec})


def __getattr__(name: str):
    if name.startswith("Zoo_"):
        return zoo_module_class(name[len("Zoo_"):])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
