"""Camera spectral response functions (SRFs).

A camera is a ``(bands, 3)`` matrix ``C`` (columns R, G, B) sampled at explicit wavelengths in nm;
the camera signal of a spectrum ``s (bands,)`` is ``C^T s``. Available by name:

* ``basler_a2A5320-23ucBAS`` (default, the paper's camera; shipped as ``hsi/data/*.csv``,
  provenance in the JSON beside it), 400-700 nm at 10 nm;
* ``nikon_5100`` and ``sigma_sdmerill``: colour-science's NPL-measured camera sensitivities;
* ``cie1931_2deg``: the CIE 1931 2-degree colour-matching functions (x-bar, y-bar, z-bar) from
  colour-science, as an "XYZ camera".

A file can be given instead of a name: a ``.npz`` in the paper's format (keys ``wavelengths``, in um
or nm, and ``R``, ``G``, ``B``) or a CSV with columns ``wavelength_nm,R,G,B`` (header optional).

Resampling rule: a response is interpolated to the requested wavelengths (colour-science data with
colour-science's ``align`` (Sprague interpolation on uniform data), files linearly); outside the
measured range the response is **held at its end value** (constant extrapolation, colour-science's
default). Values are clipped at 0.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsi.errors import ToolkitError
from hsi.io.mat import DEFAULT_WAVELENGTHS_NM

DATA_DIR = Path(__file__).resolve().parent / "resources"
DEFAULT_CAMERA = "basler_a2A5320-23ucBAS"

_COLOUR_CAMERAS = {
    "nikon_5100": ("camera", "Nikon 5100 (NPL)"),
    "sigma_sdmerill": ("camera", "Sigma SDMerill (NPL)"),
    "cie1931_2deg": ("cmfs", "CIE 1931 2 Degree Standard Observer"),
}
CAMERA_NAMES: tuple[str, ...] = (DEFAULT_CAMERA, *_COLOUR_CAMERAS)


class CameraError(ToolkitError, ValueError):
    """Unknown camera name or unusable response file."""


@dataclass(frozen=True)
class Camera:
    """A camera response resampled to ``wavelengths_nm``: ``srf (bands, 3)`` float32, columns R, G, B."""

    name: str
    wavelengths_nm: np.ndarray
    srf: np.ndarray
    source: str

    def as_dict(self) -> dict:
        """JSON-friendly description (for provenance records)."""
        return {"name": self.name, "source": self.source,
                "wavelengths_nm": [float(w) for w in self.wavelengths_nm],
                "srf": np.round(self.srf.astype(np.float64), 8).tolist()}


def _resample(wl_src: np.ndarray, values: np.ndarray, wl_dst: np.ndarray) -> np.ndarray:
    """Linear interpolation per column with constant extrapolation (``np.interp``)."""
    order = np.argsort(wl_src)
    wl_src, values = wl_src[order], values[order]
    return np.stack([np.interp(wl_dst, wl_src, values[:, k]) for k in range(values.shape[1])], axis=1)


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = []
    for line in path.read_text().splitlines():
        parts = [p.strip() for p in line.replace(";", ",").split(",") if p.strip()]
        if not parts:
            continue
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            if rows:
                raise CameraError(f"{path}: non-numeric row {line!r}") from None
            continue  # header
    arr = np.asarray(rows, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4 or arr.shape[0] < 2:
        raise CameraError(f"{path}: expected rows 'wavelength_nm,R,G,B', got an array of shape {arr.shape}")
    return arr[:, 0], arr[:, 1:]


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in ("wavelengths", "R", "G", "B") if k not in z]
        if missing:
            raise CameraError(f"{path}: missing keys {missing} (paper format: wavelengths, R, G, B)")
        wl = np.asarray(z["wavelengths"], dtype=np.float64).ravel()
        values = np.stack([np.asarray(z[k], dtype=np.float64).ravel() for k in "RGB"], axis=1)
    if wl.max() < 10.0:  # micrometres, as the paper's file stores them
        wl = wl * 1000.0
    if values.shape[0] != wl.size:
        raise CameraError(f"{path}: {wl.size} wavelengths but {values.shape[0]} response values")
    return wl, values


def _from_colour(kind: str, key: str, wl_dst: np.ndarray) -> np.ndarray:
    import colour
    if kind == "camera":
        from colour.characterisation import MSDS_CAMERA_SENSITIVITIES as table
    else:
        table = colour.MSDS_CMFS
    msds = table[key].copy()  # align() works in place on the shared dataset objects
    step = float(np.min(np.diff(wl_dst))) if wl_dst.size > 1 else 10.0
    shape = colour.SpectralShape(float(wl_dst.min()), float(wl_dst.max()), step)
    msds.align(shape)
    values = _resample(np.asarray(msds.wavelengths, dtype=np.float64), np.asarray(msds.values, dtype=np.float64), wl_dst)
    return values


def load_camera(name_or_path: str | os.PathLike = DEFAULT_CAMERA,
                wavelengths_nm: np.ndarray = DEFAULT_WAVELENGTHS_NM) -> Camera:
    """Load a camera by name (``CAMERA_NAMES``) or from a ``.npz``/``.csv`` file.

    Args:
        name_or_path: camera name (case-insensitive) or path.
        wavelengths_nm: ``(bands,)`` band centres in nm to resample to.

    Returns:
        ``Camera`` with ``srf (bands, 3)`` float32, non-negative.
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64).ravel()
    key = str(name_or_path)
    lowered = key.lower()
    if lowered == DEFAULT_CAMERA.lower():
        src = DATA_DIR / f"{DEFAULT_CAMERA}_srf.csv"
        wl_src, values = _read_csv(src)
        srf, source = _resample(wl_src, values, wl), f"{src.name} (paper's resources/A2a5320-23ucBAS_gain.npz)"
        name = DEFAULT_CAMERA
    elif lowered in _COLOUR_CAMERAS:
        kind, ckey = _COLOUR_CAMERAS[lowered]
        srf, source, name = _from_colour(kind, ckey, wl), f"colour-science: {ckey}", lowered
    else:
        path = Path(key)
        if not path.is_file():
            raise CameraError(f"unknown camera {key!r}: not one of {', '.join(CAMERA_NAMES)} and not a file")
        if path.suffix.lower() == ".npz":
            wl_src, values = _read_npz(path)
        elif path.suffix.lower() in (".csv", ".txt"):
            wl_src, values = _read_csv(path)
        else:
            raise CameraError(f"{path}: camera files must be .npz (paper format) or .csv")
        srf, source, name = _resample(wl_src, values, wl), str(path), path.stem
    srf = np.clip(srf, 0.0, None).astype(np.float32)
    if not np.all(np.isfinite(srf)) or np.any(srf.sum(axis=0) <= 0):
        raise CameraError(f"camera {key!r}: a channel has no response over {wl.min():g}-{wl.max():g} nm")
    return Camera(name=name, wavelengths_nm=wl, srf=srf, source=source)


def load_srf(name_or_path: str | os.PathLike = DEFAULT_CAMERA,
             wavelengths_nm: np.ndarray = DEFAULT_WAVELENGTHS_NM) -> np.ndarray:
    """The ``(bands, 3)`` float32 response matrix of ``load_camera``."""
    return load_camera(name_or_path, wavelengths_nm).srf


def normalised_srf_rows(srf: np.ndarray) -> np.ndarray:
    """``(3, bands)``: the transposed SRF with each row divided by its sum (SSRNet's input)."""
    m = np.asarray(srf, dtype=np.float32).T
    return m / m.sum(axis=1, keepdims=True)
