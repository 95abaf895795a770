"""Hyperspectral cubes in MATLAB ``.mat`` files, in the ARAD_1K convention.

On-disk convention (ARAD_1K, the paper's converted datasets, this toolkit):

* MATLAB v7.3 (HDF5 with a 512-byte MATLAB user block), variable ``cube`` float32 of MATLAB shape
  ``(H, W, 31)``; because MATLAB is column-major, h5py sees it as ``(31, W, H)``;
* variable ``bands``: the 31 wavelengths in **micrometres** (0.40 ... 0.70) as the paper writes them
  (ARAD_1K files hold them too); files whose ``bands`` are in nm are accepted as well.

In memory the toolkit uses ``cube: (31, H, W) float32`` and ``wavelengths_nm: (31,) float64``.
v5 files (scipy.io) are read transparently; the format is recognised by the HDF5 signature, not by
the file name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from hsi.errors import ToolkitError
from .atomic import atomic_path

WAVELENGTHS_NM = np.arange(400.0, 701.0, 10.0)
"""The 31 band centres (nm) of ARAD_1K and of the toolkit's format: 400-700 nm at 10 nm (the one home of
this grid; ``hsi.optics.WAVELENGTHS_NM`` and ``hsi.camera`` import it)."""
DEFAULT_WAVELENGTHS_NM = WAVELENGTHS_NM
"""The same array under its older name (the default of the readers and writers)."""

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MATLAB_USERBLOCK = 512


class SpectralFileError(ToolkitError, ValueError):
    """A hyperspectral file that cannot be used; the message names the file and the problem."""


@dataclass
class SpectralCube:
    """A cube read from disk: ``cube (bands, H, W) float32`` and ``wavelengths_nm (bands,)``."""

    cube: np.ndarray
    wavelengths_nm: np.ndarray
    path: Path | None = None


def is_hdf5(path: str | os.PathLike) -> bool:
    """True when the file has the HDF5 signature at offset 0 or at a user-block offset (512, 1024, ...)."""
    with open(path, "rb") as fh:
        offset = 0
        while True:
            fh.seek(offset)
            head = fh.read(8)
            if len(head) < 8:
                return False
            if head == _HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2


def _wavelengths_to_nm(values: np.ndarray, path: Path) -> np.ndarray:
    wl = np.asarray(values, dtype=np.float64).ravel()
    if wl.size == 0 or not np.all(np.isfinite(wl)):
        raise SpectralFileError(f"{path}: 'bands' is empty or not finite")
    if wl.max() < 10.0:  # micrometres (the paper's and ARAD_1K's convention)
        wl = wl * 1000.0
    return np.round(wl, 6)


def _read_hdf5(path: Path, key: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(cube (bands, H, W), bands or None)`` of a v7.3 (HDF5) ``.mat`` file."""
    bands = None
    try:
        with h5py.File(path, "r") as f:
            if key not in f:
                raise SpectralFileError(f"{path}: no variable {key!r} (found: {', '.join(sorted(f.keys())) or 'none'})")
            dset = f[key]
            if not isinstance(dset, h5py.Dataset):
                raise SpectralFileError(f"{path}: {key!r} is not an array")
            data = dset[()]
            if "bands" in f and isinstance(f["bands"], h5py.Dataset):
                bands = f["bands"][()]
    except SpectralFileError:
        raise
    except Exception as exc:  # truncated / corrupt HDF5
        raise SpectralFileError(f"{path}: unreadable HDF5/.mat v7.3 file ({type(exc).__name__}: {exc})") from None
    arr = np.asarray(data)
    if arr.ndim != 3:
        raise SpectralFileError(f"{path}: {key!r} has shape {arr.shape}, expected 3 axes (H, W, bands)")
    # h5py sees MATLAB's (H, W, bands) reversed: (bands, W, H)  ->  (bands, H, W)
    cube = np.ascontiguousarray(arr.transpose(0, 2, 1))
    return cube, bands


def _read_v5(path: Path, key: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(cube (bands, H, W), bands or None)`` of a v5 ``.mat`` file (scipy)."""
    try:
        content = scipy.io.loadmat(str(path))
    except Exception as exc:
        raise SpectralFileError(f"{path}: not a MATLAB .mat file ({type(exc).__name__}: {exc})") from None
    if key not in content:
        found = [k for k in content if not k.startswith("__")]
        raise SpectralFileError(f"{path}: no variable {key!r} (found: {', '.join(sorted(found)) or 'none'})")
    arr = np.asarray(content[key])
    if arr.ndim != 3:
        raise SpectralFileError(f"{path}: {key!r} has shape {arr.shape}, expected 3 axes (H, W, bands)")
    cube = np.ascontiguousarray(arr.transpose(2, 0, 1))  # scipy keeps MATLAB order (H, W, bands)
    bands = content.get("bands")
    return cube, bands


def read_mat_cube(path: str | os.PathLike, key: str = "cube", expected_bands: int | None = 31,
                  wavelengths_nm: np.ndarray | None = DEFAULT_WAVELENGTHS_NM, check_values: bool = True
                  ) -> SpectralCube:
    """Read a hyperspectral cube from a v7.3 or v5 ``.mat`` file.

    Args:
        path: the ``.mat`` file.
        key: variable holding the cube (MATLAB shape ``(H, W, bands)``).
        expected_bands: required number of bands (``None``: any).
        wavelengths_nm: expected band centres in nm; when the file has a ``bands`` variable it must
            match these to 0.5 nm. ``None`` skips the check. Files without ``bands`` get these.
        check_values: reject NaN/Inf values.

    Returns:
        ``SpectralCube`` with ``cube (bands, H, W) float32`` and ``wavelengths_nm (bands,)``.

    Raises:
        SpectralFileError: missing file, not a .mat file, missing key, wrong band count, wavelengths
            that do not match, NaN/Inf, empty array. The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise SpectralFileError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise SpectralFileError(f"{path}: empty file")
    cube, bands = _read_hdf5(path, key) if is_hdf5(path) else _read_v5(path, key)
    if cube.size == 0:
        raise SpectralFileError(f"{path}: {key!r} is empty (shape {cube.shape})")
    if not np.issubdtype(cube.dtype, np.number):
        raise SpectralFileError(f"{path}: {key!r} is not numeric (dtype {cube.dtype})")
    cube = cube.astype(np.float32, copy=False)
    if expected_bands is not None and cube.shape[0] != expected_bands:
        raise SpectralFileError(f"{path}: {key!r} has {cube.shape[0]} bands, expected {expected_bands} "
                                f"(shape as (bands, H, W): {cube.shape})")
    if check_values and not np.all(np.isfinite(cube)):
        bad = int(np.size(cube) - np.count_nonzero(np.isfinite(cube)))
        raise SpectralFileError(f"{path}: {key!r} holds {bad} NaN/Inf values")
    if bands is not None:
        wl = _wavelengths_to_nm(bands, path)
        if wl.size != cube.shape[0]:
            raise SpectralFileError(f"{path}: 'bands' has {wl.size} values but the cube has {cube.shape[0]} bands")
        if wavelengths_nm is not None:
            ref = np.asarray(wavelengths_nm, dtype=np.float64)
            if ref.shape != wl.shape or np.max(np.abs(ref - wl)) > 0.5:
                raise SpectralFileError(f"{path}: wavelengths {wl[0]:g}-{wl[-1]:g} nm ({wl.size} bands) do not "
                                        f"match the expected {ref[0]:g}-{ref[-1]:g} nm ({ref.size} bands)")
    else:
        if wavelengths_nm is None or len(wavelengths_nm) != cube.shape[0]:
            raise SpectralFileError(f"{path}: no 'bands' variable and no matching default wavelengths")
        wl = np.asarray(wavelengths_nm, dtype=np.float64)
    return SpectralCube(cube=cube, wavelengths_nm=wl, path=path)


def _matlab_header(created_by: str = "hsi toolkit (h5py)") -> bytes:
    import datetime as _dt
    text = (f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: "
            f"{_dt.datetime.now():%a %b %d %H:%M:%S %Y} HDF5 schema 1.00 .")
    head = text.encode("ascii")[:116].ljust(116, b" ")
    head += b"\x00" * 8          # subsystem data offset
    head += b"\x00\x02"          # version 0x0200
    head += b"IM"                # endian indicator (little endian)
    return head.ljust(_MATLAB_USERBLOCK, b"\x00")


def _set_matlab_attrs(dataset: h5py.Dataset, python_shape: tuple[int, ...]) -> None:
    """The attributes ``hdf5storage.savemat(..., store_python_metadata=True, matlab_compatible=True)``
    writes, so that ``hdf5storage.loadmat`` returns the Python shape and dtype (the paper's files)."""
    dtype = np.dtype(dataset.dtype)
    dataset.attrs["MATLAB_class"] = np.bytes_("single" if dtype == np.float32 else "double")
    dataset.attrs["Python.Shape"] = np.asarray(python_shape, dtype=np.uint64)
    dataset.attrs["Python.Type"] = np.bytes_("numpy.ndarray")
    dataset.attrs["Python.numpy.Container"] = np.bytes_("ndarray")
    dataset.attrs["Python.numpy.UnderlyingType"] = np.bytes_(dtype.name)


def write_mat_cube(path: str | os.PathLike, cube: np.ndarray, wavelengths_nm: np.ndarray = DEFAULT_WAVELENGTHS_NM,
                   version: str = "7.3", extra: dict[str, np.ndarray] | None = None) -> Path:
    """Write ``cube (bands, H, W)`` as a MATLAB file in the ARAD_1K / paper convention, atomically.

    v7.3 (default): HDF5 with the MATLAB user block; ``cube`` float32 MATLAB shape ``(H, W, bands)``
    (h5py sees ``(bands, W, H)``) with ``MATLAB_class='single'``; ``bands`` in **micrometres**, double,
    h5py shape ``(bands, 1)`` as the paper's ``save_hsi_mat`` (hdf5storage) stores it. MATLAB, hdf5storage, h5py
    and the paper's loaders read it. ``version="5"`` writes a v5 file with scipy.io.

    Args:
        path: target file (parent folders are created).
        cube: ``(bands, H, W)`` array, stored as float32.
        wavelengths_nm: ``(bands,)`` band centres in nm.
        extra: further numeric variables (MATLAB order for v5; stored as given for v7.3).
    """
    cube = np.asarray(cube)
    if cube.ndim != 3 or cube.size == 0:
        raise ValueError(f"cube must be a non-empty (bands, H, W) array, got shape {cube.shape}")
    wl = np.asarray(wavelengths_nm, dtype=np.float64).ravel()
    if wl.size != cube.shape[0]:
        raise ValueError(f"{wl.size} wavelengths for {cube.shape[0]} bands")
    cube = cube.astype(np.float32, copy=False)
    bands_um = (wl / 1000.0).reshape(-1, 1)
    path = Path(path)
    with atomic_path(path) as tmp:
        if version == "7.3":
            with h5py.File(tmp, "w", userblock_size=_MATLAB_USERBLOCK, libver="earliest") as f:
                d = f.create_dataset("cube", data=np.ascontiguousarray(cube.transpose(0, 2, 1)))
                _set_matlab_attrs(d, python_shape=(cube.shape[1], cube.shape[2], cube.shape[0]))
                b = f.create_dataset("bands", data=bands_um)  # h5py (bands, 1) as hdf5storage writes it
                _set_matlab_attrs(b, python_shape=(wl.size,))
                for name, value in (extra or {}).items():
                    value = np.asarray(value)
                    _set_matlab_attrs(f.create_dataset(name, data=value), python_shape=value.shape[::-1])
            with open(tmp, "r+b") as fh:
                fh.write(_matlab_header())
        elif version == "5":
            scipy.io.savemat(str(tmp), {"cube": cube.transpose(1, 2, 0), "bands": bands_um, **(extra or {})},
                             do_compression=False)
        else:
            raise ValueError(f"version must be '7.3' or '5', got {version!r}")
    return path
