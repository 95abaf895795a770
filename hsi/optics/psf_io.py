"""PSF files: load, validate, list and save, in the paper's format.

File format (the paper's, ``vccimaging/OpticsAwareHSI-Analysis``): ``<psf_dir>/<name>.npz`` holding
one array under the key ``PSFs`` of shape ``(h, w, bands)`` (HWC), ``bands = 31`` for 400-700 nm in
10 nm steps; one spatially invariant kernel per band. Files made by the paper's authors load as they
are. The toolkit writes the same format, each band non-negative and summing to 1, and a JSON
side-car ``<name>.json`` describing how the kernel was made (``meta``).

Centre convention: the optical axis (the point where a point source's image is centred) of an
``(h, w)`` kernel is pixel ``(h // 2, w // 2)`` (``psf_center_px``), for odd and even sizes alike.
Convolving an image with a kernel that is 1 at ``(h//2, w//2)`` and 0 elsewhere must reproduce the
image exactly; ``hsi.render`` relies on this. ``pad_or_crop_centered`` changes a kernel's size while
keeping that pixel on the new centre.

In memory a ``PSF`` holds the kernel as ``(bands, h, w)`` float32 (the renderer's layout).
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hsi.errors import ToolkitError
from hsi.io.atomic import atomic_path, atomic_write_json
from hsi.layout import NO_PSF, is_no_psf

from .diffraction import WAVELENGTHS_NM

__all__ = ["PSF", "PSFError", "PSFNotFoundError", "load_psf", "list_psfs", "save_psf", "psf_center_px",
           "pad_or_crop_centered", "validate_kernel", "NEGATIVE_TOLERANCE", "PSF_KEY", "NO_PSF_NAMES"]

#: Key of the kernel array inside a PSF ``.npz`` (the paper's).
PSF_KEY = "PSFs"
#: Names meaning "no PSF" (kept for importers; the test is ``hsi.layout.is_no_psf``).
NO_PSF_NAMES = (None, "", NO_PSF, NO_PSF.lower())
#: Negative values down to ``-NEGATIVE_TOLERANCE * max(band)`` are numerical noise and clipped to 0.
NEGATIVE_TOLERANCE = 1e-6


class PSFError(ToolkitError, ValueError):
    """A PSF file or array is malformed (missing key, wrong shape or band count, NaN/Inf, negative
    values, a band without energy). The message names the file."""


class PSFNotFoundError(ToolkitError, FileNotFoundError):
    """No PSF of that name; the message lists the PSFs available in the folder."""


@dataclass
class PSF:
    """A per-band, spatially invariant PSF.

    Attributes:
        kernel: ``(bands, h, w)`` float32, each band non-negative and summing to 1, centred at
            ``(h//2, w//2)``.
        wavelengths_nm: ``(bands,)`` band centres in nm.
        name: the file stem (e.g. ``"double_gauss_50mm_F1.8"``).
        meta: the JSON side-car if present, else ``{}``.
    """
    kernel: np.ndarray
    wavelengths_nm: np.ndarray
    name: str
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """Spatial size ``(h, w)``."""
        return tuple(self.kernel.shape[-2:])

    @property
    def center_px(self) -> tuple[int, int]:
        """The centre pixel ``(h//2, w//2)``."""
        return psf_center_px(self.shape)

    def hwc(self) -> np.ndarray:
        """The kernel in the file layout ``(h, w, bands)``."""
        return np.ascontiguousarray(np.moveaxis(self.kernel, 0, -1))


def psf_center_px(shape: tuple[int, ...]) -> tuple[int, int]:
    """Centre pixel ``(h//2, w//2)`` of a kernel of spatial size ``shape[-2:]``."""
    h, w = shape[-2:]
    return h // 2, w // 2


def pad_or_crop_centered(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Zero-pad or crop the last two axes of ``kernel`` to ``shape`` keeping the centre pixel
    ``(h//2, w//2)`` on the new centre ``(H//2, W//2)``. Cropping drops energy (no renormalisation)."""
    kernel = np.asarray(kernel)
    out = np.zeros(kernel.shape[:-2] + tuple(shape), dtype=kernel.dtype)
    src, dst = [], []
    for n_in, n_out in zip(kernel.shape[-2:], shape):
        shift = n_out // 2 - n_in // 2                       # input index i -> output index i + shift
        lo, hi = max(0, -shift), min(n_in, n_out - shift)
        src.append(slice(lo, hi))
        dst.append(slice(lo + shift, hi + shift))
    out[(..., *dst)] = kernel[(..., *src)]
    return out


def list_psfs(psf_dir: str | os.PathLike = "PSFs") -> list[str]:
    """Sorted stems of the ``.npz`` files in ``psf_dir`` (empty if the folder does not exist)."""
    d = Path(psf_dir)
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.npz") if p.is_file())


def _resolve(name_or_path: str | os.PathLike, psf_dir: str | os.PathLike) -> Path:
    s = os.fspath(name_or_path)
    p = Path(s)
    looks_like_path = p.suffix == ".npz" or os.sep in s or (os.altsep and os.altsep in s)
    if looks_like_path:
        if p.suffix != ".npz":
            p = p.with_name(p.name + ".npz") if not p.exists() else p
        if not p.is_file():
            available = list_psfs(p.parent)
            raise PSFNotFoundError(f"PSF file {p} not found; PSFs in {p.parent}: "
                                   f"{', '.join(available) if available else '(none)'}")
        return p
    p = Path(psf_dir) / f"{s}.npz"
    if not p.is_file():
        available = list_psfs(psf_dir)
        raise PSFNotFoundError(f"no PSF named {s!r}: {p} does not exist; PSFs in {Path(psf_dir)}: "
                               f"{', '.join(available) if available else '(none)'}")
    return p


def validate_kernel(kernel_chw: np.ndarray, source: str = "PSF", n_bands: int | None = None) -> np.ndarray:
    """Check a ``(bands, h, w)`` kernel and return it as float32 with each band summing to 1.

    Raises ``PSFError`` (naming ``source``) on a wrong dimensionality or band count, NaN/Inf,
    negative values beyond ``NEGATIVE_TOLERANCE`` of the band's maximum, or a band with zero sum.
    Tiny negative values (numerical noise) are clipped to 0.
    """
    k = np.asarray(kernel_chw)
    if k.ndim != 3:
        raise PSFError(f"{source}: expected a 3-D kernel, got shape {k.shape}")
    if n_bands is not None and k.shape[0] != n_bands:
        raise PSFError(f"{source}: expected {n_bands} bands, got {k.shape[0]} (kernel shape (bands, h, w) = "
                       f"{k.shape})")
    if not np.issubdtype(k.dtype, np.floating) and not np.issubdtype(k.dtype, np.integer):
        raise PSFError(f"{source}: kernel dtype {k.dtype} is not numeric")
    k = k.astype(np.float64)
    if not np.all(np.isfinite(k)):
        bad = sorted(set(np.nonzero(~np.isfinite(k))[0].tolist()))
        raise PSFError(f"{source}: kernel contains NaN or Inf (bands {bad})")
    peak = np.abs(k).max(axis=(1, 2))
    mins = k.min(axis=(1, 2))
    bad = np.nonzero(mins < -NEGATIVE_TOLERANCE * np.maximum(peak, np.finfo(np.float64).tiny))[0]
    if bad.size:
        b = int(bad[0])
        raise PSFError(f"{source}: band {b} has negative values down to {mins[b]:.3g} "
                       f"(peak {peak[b]:.3g}); a PSF must be non-negative")
    k = np.clip(k, 0.0, None)
    sums = k.sum(axis=(1, 2))
    zero = np.nonzero(~(sums > 0))[0]
    if zero.size:
        raise PSFError(f"{source}: band(s) {zero.tolist()} have zero sum (no energy)")
    return (k / sums[:, None, None]).astype(np.float32)


def _load_meta(npz_path: Path) -> dict:
    js = npz_path.with_suffix(".json")
    if not js.is_file():
        return {}
    try:
        meta = json.loads(js.read_text())
    except json.JSONDecodeError as e:
        raise PSFError(f"{js}: invalid JSON ({e})") from e
    if not isinstance(meta, dict):
        raise PSFError(f"{js}: expected a JSON object, got {type(meta).__name__}")
    return meta


def load_psf(name_or_path: str | os.PathLike | None, psf_dir: str | os.PathLike = "PSFs") -> PSF | None:
    """Load a PSF by name (``<psf_dir>/<name>.npz``) or by path to a ``.npz``.

    ``None``, ``""`` or ``"None"`` mean "no PSF" and return ``None``. The array under ``PSFs`` must be
    ``(h, w, bands)`` with ``bands == 31`` unless the JSON side-car gives ``wavelengths_nm`` (or
    ``n_bands``) saying otherwise. Each band is clipped of tiny negative noise and normalised to sum 1.

    Raises:
        PSFNotFoundError: unknown name or missing file (lists the available PSFs).
        PSFError: missing ``PSFs`` key, wrong shape or band count, NaN/Inf, negative values, a band
            without energy, or an unreadable file.
    """
    if is_no_psf(name_or_path):
        return None
    path = _resolve(name_or_path, psf_dir)
    meta = _load_meta(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if PSF_KEY not in data.files:
                raise PSFError(f"{path}: no array named {PSF_KEY!r} (found: {', '.join(data.files) or 'none'})")
            arr = data[PSF_KEY]
    except PSFError:
        raise
    except (OSError, ValueError, EOFError) as e:                  # not a zip / pickled object arrays
        raise PSFError(f"{path}: cannot read PSF file ({type(e).__name__}: {e})") from e
    declared = meta.get("kernel_shape_px")
    if declared is not None and (arr.ndim < 2 or list(declared) != list(arr.shape[:2])):
        # e.g. a file from elsewhere copied over a toolkit PSF of the same name: the side-car is stale
        warnings.warn(f"{path.with_suffix('.json')} describes a {declared[0]}x{declared[1]} kernel but {path} "
                      f"holds an array of shape {arr.shape}; ignoring the stale JSON", stacklevel=2)
        meta = {}
    if "wavelengths_nm" in meta:
        wavelengths = np.asarray(meta["wavelengths_nm"], dtype=np.float64)
    elif "n_bands" in meta:
        wavelengths = None
    else:
        wavelengths = WAVELENGTHS_NM.copy()
    n_bands = int(meta.get("n_bands", len(wavelengths) if wavelengths is not None else 0))
    if wavelengths is not None and len(wavelengths) != n_bands:
        raise PSFError(f"{path.with_suffix('.json')}: n_bands {n_bands} disagrees with "
                       f"{len(wavelengths)} wavelengths_nm")
    if arr.ndim != 3:
        raise PSFError(f"{path}: {PSF_KEY!r} must be (h, w, {n_bands}), got shape {arr.shape}")
    if arr.shape[-1] != n_bands:
        hint = ("; it looks like (bands, h, w): the file layout is (h, w, bands)"
                if arr.shape[0] == n_bands else "")
        raise PSFError(f"{path}: {PSF_KEY!r} has {arr.shape[-1]} bands in its last axis (shape {arr.shape}), "
                       f"expected {n_bands}{hint}")
    if wavelengths is None:
        wavelengths = np.full(n_bands, np.nan)
    kernel = validate_kernel(np.moveaxis(arr, -1, 0), source=str(path), n_bands=n_bands)
    return PSF(kernel=np.ascontiguousarray(kernel), wavelengths_nm=wavelengths, name=path.stem, meta=meta)


def save_psf(path: str | os.PathLike, kernel: np.ndarray, meta: dict | None = None,
             layout: str | None = None, n_bands: int = len(WAVELENGTHS_NM)) -> Path:
    """Write a kernel as ``<path>.npz`` (key ``PSFs``, ``(h, w, bands)`` float32, bands summing to 1)
    and ``meta`` as the JSON side-car, both atomically.

    Args:
        path: target ``.npz`` path (the suffix is added if missing).
        kernel: ``(h, w, bands)`` or ``(bands, h, w)``; ``layout`` ("hwc" / "chw") resolves shapes
            that fit both.
        meta: JSON-serialisable description; ``None`` writes no side-car.
        n_bands: expected number of bands (31).
    Returns:
        The ``.npz`` path.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    k = np.asarray(kernel)
    if k.ndim != 3:
        raise PSFError(f"{path}: expected a 3-D kernel, got shape {k.shape}")
    if layout is None:
        hwc, chw = k.shape[-1] == n_bands, k.shape[0] == n_bands
        if hwc and chw:
            raise PSFError(f"{path}: shape {k.shape} fits both (h, w, bands) and (bands, h, w); pass layout=")
        if not (hwc or chw):
            raise PSFError(f"{path}: shape {k.shape} has no axis of {n_bands} bands")
        layout = "hwc" if hwc else "chw"
    if layout.lower() == "hwc":
        k = np.moveaxis(k, -1, 0)
    elif layout.lower() != "chw":
        raise ValueError(f"layout must be 'hwc' or 'chw', got {layout!r}")
    k = validate_kernel(k, source=str(path), n_bands=n_bands)
    hwc_arr = np.ascontiguousarray(np.moveaxis(k, 0, -1))
    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **{PSF_KEY: hwc_arr})
    written = [path]
    if meta is not None:
        written.append(atomic_write_json(path.with_suffix(".json"), meta))
    _umask_permissions(written)
    return path


def _umask_permissions(paths) -> None:
    """Give files the usual ``0o666 & ~umask`` mode (temporary files are created private, 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    for p in paths:
        try:
            os.chmod(p, 0o666 & ~umask)
        except OSError:
            pass
