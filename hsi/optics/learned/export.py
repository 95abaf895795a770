"""A learned DOE as a PSF like any other: export in the shipped format, rebuild, plot.

``export_psf(module, "PSFs/learned_doe.npz", provenance)`` writes ``learned_doe.npz`` (key ``PSFs``,
``(h, w, 31)`` float32, each band summing to 1; via ``hsi.optics.save_psf``, atomic) and
``learned_doe.json``: the usual PSF metadata (what ``hsi.optics.load_psf`` reads: ``kernel_shape_px``,
``wavelengths_nm``, ``n_bands``) plus ``learned_element`` (kind, ``DOEOptions``, the continuous height
map or radial profile in um) and the caller's ``provenance``. ``load_element(path)`` rebuilds the
module from that JSON (the ``init`` from a saved height map).
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
import os
from pathlib import Path

import numpy as np
import torch

from hsi.io.atomic import atomic_path

from ..diffraction import library_versions
from ..psf_io import save_psf

__all__ = ["export_psf", "element_metadata", "load_element_state", "load_element", "plot_element"]

#: Heights go into the JSON as base64 of little-endian float32 (0.66 MB for 352 x 352; a list of numbers
#: written one per line by the indented JSON would take 2.2 MB); float32 resolves 1e-7 um.
HEIGHT_DTYPE = "<f4"


def encode_array(a: np.ndarray) -> dict:
    """``{"dtype", "shape", "base64"}`` of ``a`` as ``HEIGHT_DTYPE`` (row-major)."""
    a = np.ascontiguousarray(np.asarray(a, dtype=HEIGHT_DTYPE))
    return {"dtype": HEIGHT_DTYPE, "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(d) -> np.ndarray:
    """Inverse of ``encode_array`` (also accepts a plain nested list), as float64."""
    if isinstance(d, dict):
        raw = np.frombuffer(base64.b64decode(d["base64"]), dtype=np.dtype(d["dtype"]))
        return raw.reshape(d["shape"]).astype(np.float64)
    return np.asarray(d, dtype=np.float64)


def element_metadata(module, name: str, energy: np.ndarray, total: np.ndarray) -> dict:
    """PSF side-car fields for ``module`` (a HeightMapDOE or RadialDOE) and its unnormalised
    ``energy (B, h, w)`` / ``total (B,)``."""
    o = module.options
    kind = type(module).__name__
    heights = (module.profile_um() if kind == "RadialDOE" else module.continuous_height_um()).detach()
    fractions = energy.sum(axis=(1, 2)) / total
    h, w = o.psf_shape
    return {
        "name": name,
        "title": f"learned {'radially symmetric ' if kind == 'RadialDOE' else ''}DOE, {o.focal_length_mm:g} mm F/{o.f_number:g}",
        "design": f"learned thin DOE ({kind}, hsi.optics.learned), {'in front of an ideal lens' if o.ideal_lens else 'alone'}",
        "model": ("thin DOE, phase 2 pi (n(lambda) - 1) h / lambda; scalar Fraunhofer diffraction of the pupil "
                  "(matrix DFT onto sub-pixels, pixel integration); shift-invariant (on-axis) PSF"),
        "focal_length_mm": o.focal_length_mm,
        "f_number": o.f_number,
        "focus_wavelength_nm": None,
        "pixel_pitch_um": o.pitch_um,
        "wavelengths_nm": [float(v) for v in o.wavelengths_nm],
        "n_bands": len(o.wavelengths_nm),
        "layout": "PSFs array (h, w, bands) in the .npz; hsi.optics.load_psf gives (bands, h, w)",
        "kernel_shape_px": [int(h), int(w)],
        "center_px": [int(h // 2), int(w // 2)],
        "energy_fraction_in_kernel": [round(float(f), 6) for f in fractions],
        "min_energy_fraction_in_kernel": round(float(fractions.min()), 6),
        "normalisation": "each band divided by its sum (energy outside the kernel is dropped)",
        "learned_element": {
            "kind": kind,
            "options": o.to_json(),
            "h_max_um": o.h_max_um,
            "oversample": list(o.band_subsamples),
            "init": getattr(module, "init_name", None),
            "heights_are": ("continuous heights in um before quantisation to options.levels"
                            + (" (radial profile at rho_k = k / (n_r - 1))" if kind == "RadialDOE" else
                               " on hsi.optics.diffraction.pupil_coordinates(grid), rows = y")),
            "heights_um": encode_array(heights.double().cpu().numpy()),
            "height_range_um": [round(float(heights.min()), 6), round(float(heights.max()), 6)],
        },
        "library": {"name": "torch (hsi.optics.learned)", "version": library_versions("numpy", "torch")},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def export_psf(module, path: str | os.PathLike, provenance: dict | None = None) -> Path:
    """Write the module's current PSF as ``<path>.npz`` + ``<path>.json`` (atomic); returns the ``.npz`` path.

    ``provenance``: the run's record (e.g. ``hsi.io.atomic.provenance(...)``), stored under ``provenance``.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    with torch.no_grad():
        energy, total = module.energy()
    energy = energy.double().cpu().numpy()
    total = total.double().cpu().numpy()
    meta = element_metadata(module, path.stem, energy, total)
    meta["provenance"] = dict(provenance or {})
    kernel = energy / energy.sum(axis=(1, 2), keepdims=True)
    return save_psf(path, kernel, meta, layout="chw", n_bands=kernel.shape[0])


def load_element_state(path: str | os.PathLike) -> dict:
    """``{"kind", "options" (DOEOptions), "heights_um" (float64 array)}`` from an exported ``.json`` or ``.npz``."""
    from .elements import DOEOptions

    p = Path(path)
    js = p.with_suffix(".json") if p.suffix in (".npz", "") else p
    if not js.is_file():
        raise FileNotFoundError(f"{js}: no exported DOE side-car (export_psf writes <name>.json beside <name>.npz)")
    meta = json.loads(js.read_text())
    el = meta.get("learned_element")
    if not isinstance(el, dict) or "heights_um" not in el:
        raise ValueError(f"{js}: not an exported learned DOE (no 'learned_element' with 'heights_um')")
    return {"kind": el["kind"], "options": DOEOptions.from_json(el["options"]),
            "heights_um": decode_array(el["heights_um"])}


def load_element(path: str | os.PathLike, dtype: torch.dtype = torch.float32, device=None):
    """Rebuild the exported HeightMapDOE / RadialDOE (same options, heights as saved)."""
    from .elements import HeightMapDOE, RadialDOE

    state = load_element_state(path)
    cls = {"HeightMapDOE": HeightMapDOE, "RadialDOE": RadialDOE}[state["kind"]]
    return cls(state["options"], init=state["heights_um"], dtype=dtype, device=device)


def plot_element(module, path: str | os.PathLike, wavelengths_nm=(450.0, 550.0, 650.0), title: str | None = None) -> Path:
    """Figure: the height map (um over the pupil, mm) and the PSF at a few wavelengths (sqrt of each band
    over its peak, um on the sensor). Written atomically as ``path`` (format from the suffix)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    o = module.options
    with torch.no_grad():
        psf = module().double().cpu().numpy()
        height = module.height_um().double().cpu().numpy()
    height = np.where(module.aperture.cpu().numpy() > 0, height, np.nan)
    wl = np.asarray(o.wavelengths_nm)
    idx = [int(np.argmin(np.abs(wl - t))) for t in wavelengths_nm]
    fig, axes = plt.subplots(1, 1 + len(idx), figsize=(3.6 * (1 + len(idx)), 3.5))
    a = o.aperture_mm / 2.0
    im = axes[0].imshow(height, extent=[-a, a, a, -a], cmap="viridis", vmin=0.0, vmax=o.h_max_um)
    axes[0].set_title(f"height map ({o.grid}x{o.grid}" + (f", {o.levels} levels)" if o.levels else ")"), fontsize=9)
    axes[0].set_xlabel("x (mm)", fontsize=8)
    axes[0].set_ylabel("y (mm)", fontsize=8)
    fig.colorbar(im, ax=axes[0], fraction=0.046, pad=0.04, label="height (um)")
    h, w = o.psf_shape
    p = o.pitch_um
    ext = [(-(w // 2) - 0.5) * p, (w - w // 2 - 0.5) * p, (h - h // 2 - 0.5) * p, (-(h // 2) - 0.5) * p]
    for ax, i in zip(axes[1:], idx):
        im = ax.imshow(np.sqrt(psf[i] / psf[i].max()), cmap="magma", extent=ext, interpolation="nearest",
                       vmin=0.0, vmax=1.0)
        ax.set_title(f"PSF {wl[i]:.0f} nm (peak {psf[i].max():.2f} of the band)", fontsize=9)
        ax.set_xlabel("x on the sensor (um)", fontsize=8)
        ax.set_ylabel("y (um)", fontsize=8)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="sqrt(PSF / peak)")
    fig.suptitle(title or f"{type(module).__name__}: {o.focal_length_mm:g} mm F/{o.f_number:g}, {o.material}, "
                 f"{'ideal lens' if o.ideal_lens else 'DOE alone'}, {h}x{w} px at {p:g} um", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path
