"""Converters from the raw CAVE, ICVL and KAUST releases to the toolkit's format, and dataset checks.

Every converter writes ``<dest_root>/Train_Spec/<scene>.mat`` with ``hsi.io.write_mat_cube``: MATLAB
v7.3, ``cube`` of shape ``(31, H, W)`` float32 (400-700 nm at 10 nm), as ARAD_1K is published and as
the paper's ``prepare_*.py`` write it. What each raw format gives (the paper's conversions, exactly):

* **CAVE**: per scene 31 16-bit greyscale PNGs ``<scene>/<scene>/<scene>_01.png`` ... ``_31.png``
  (400 ... 700 nm; ``<scene>/<scene>_NN.png`` is accepted too), divided by 65535 -> ``(31, 512, 512)``.
  ``watercolors_ms`` is skipped as the paper does (its PNGs are 8-bit RGBA; it is in no split list).
* **ICVL**: ``<scene>.mat`` with variable ``rad`` (v7.3 as released; v5 accepted), divided by 4095,
  rotated "upright" as the paper does (h5py array ``(31, 1392, 1300)`` -> full transpose -> ``np.rot90``)
  -> ``(31, 1392, 1300)``.
* **KAUST**: ``<scene>.mat`` with variable ``hsi``, 34 bands 400-730 nm, divided by 4095, the 31 bands
  400-700 nm kept, spatial axes swapped as the paper does -> ``(31, 512, 512)``. Both the original v5
  files (scipy.io) and the 2026 re-release in v7.3 (HDF5) are read.

Conversion is resumable (scenes already converted are skipped; ``overwrite`` redoes them, replacing
each file atomically, so nothing converted is ever lost), processes scenes in sorted order, and stops
at the first corrupt or unexpected input with a ``RawFileError`` naming the file, or skips it with a
warning when ``skip_bad``. The paper's split lists are copied verbatim into ``<dest_root>/split_txt``
when missing there. A ``conversion_manifest.json`` records the provenance.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from hsi.datasets import DATASET_JSON, SplitListError, get_dataset_spec, read_split_list, shipped_split_dir
from hsi.layout import (RGB_DIR, SPEC_DIR, SPLIT_DIR, SPLITS, conversion_manifest_path, is_variant_dir, spec_path,
                        split_list_path)
from hsi.errors import OptionError, ToolkitError
from hsi.io import DEFAULT_WAVELENGTHS_NM, SpectralFileError, atomic_write_json, provenance, read_mat_cube, write_mat_cube
from hsi.io.integrity import remove_stale_temp_files
from hsi.io.lock import output_lock
from hsi.io.mat import is_hdf5
from hsi.layout import MANIFEST_NAME, METAMER_RGB_DIR, METAMER_SPEC_DIR, metamer_cube_path

KAUST_WAVELENGTHS_NM = np.arange(400.0, 731.0, 10.0)
"""The 34 bands of the raw KAUST files (400-730 nm at 10 nm); the first 31 are kept."""


class RawFileError(ToolkitError, ValueError):
    """A raw input file that is corrupt or not what the converter expects; the message names it."""


class RawDatasetNotFoundError(ToolkitError, FileNotFoundError):
    """The raw dataset folder is missing or holds no scenes of the expected format."""


# ------------------------------------------------------------------------------------ cube values
CUBE_VALUE_TOLERANCE = 1e-3
"""How far outside [0, 1] a converted cube's values may lie (float rounding of the converters)."""
_RAW_SCALES = (255, 1023, 4095, 16383, 65535)


def cube_value_problem(cube: np.ndarray, tolerance: float = CUBE_VALUE_TOLERANCE, range_check: bool = True,
                       zero_check: bool = True) -> str | None:
    """What is wrong with a cube's values for the toolkit (radiance in [0, 1]), with the fix; None if fine.

    The one check of cube values (converters, metamer generation, ``check_dataset``). In order: NaN/Inf;
    an all-zero cube (``zero_check``); values below ``-tolerance`` or above ``1 + tolerance``
    (``range_check``; a maximum like 4095 names the likely raw scaling).

    Args:
        cube: ``(bands, H, W)`` array, any float or integer dtype.
    """
    cube = np.asarray(cube)
    finite = np.isfinite(cube)
    if not finite.all():
        bad = int(cube.size - np.count_nonzero(finite))
        return (f"{bad} NaN/Inf value(s) of {cube.size}: the file is damaged or was not written by the toolkit's "
                "converters; convert the raw data again (dataset_tools/prepare_<NAME>.py, or make_synthetic.py "
                "for SYNTH)")
    lo, hi = float(cube.min()), float(cube.max())
    if zero_check and lo == 0 and hi == 0:
        return ("all values are zero (a blank or failed conversion); convert the raw data again "
                "(dataset_tools/prepare_<NAME>.py, or make_synthetic.py for SYNTH)")
    if not range_check:
        return None
    if lo < -tolerance:
        return (f"negative values down to {lo:.4g}: radiance cannot be negative; clip the cube at 0 or convert "
                "the raw data with dataset_tools/prepare_<NAME>.py")
    if hi > 1 + tolerance:
        scale = next((s for s in _RAW_SCALES if hi <= s), None)
        hint = f" (raw {scale.bit_length()}-bit counts? divide by {scale})" if scale else ""
        return (f"values up to {hi:.6g}, above 1: the cube is not scaled to [0, 1]{hint}; convert the raw data "
                "with dataset_tools/prepare_<NAME>.py (CAVE / 65535, ICVL and KAUST / 4095)")
    return None


# ------------------------------------------------------------------------------------------- CAVE
def _trailing_int(path: Path) -> int:
    m = re.search(r"(\d+)$", path.stem)
    return int(m.group(1)) if m else -1


def cave_band_files(scene_dir: Path) -> list[Path]:
    """The band PNGs of a CAVE scene folder, in band order (by their trailing number)."""
    inner = scene_dir / scene_dir.name
    folder = inner if inner.is_dir() else scene_dir
    return sorted(folder.glob("*.png"), key=lambda p: (_trailing_int(p), p.name))


def list_cave(root: Path) -> list[tuple[str, Path]]:
    """``(scene, scene folder)`` for every sub-folder of ``root`` holding PNGs, sorted by name."""
    return [(d.name, d) for d in sorted(p for p in root.iterdir() if p.is_dir()) if cave_band_files(d)]


def load_cave(scene_dir: Path) -> np.ndarray:
    """A CAVE scene as ``(31, 512, 512)`` float32 in [0, 1] (16-bit PNGs / 65535)."""
    import cv2
    files = cave_band_files(scene_dir)
    if len(files) != 31:
        raise RawFileError(f"{scene_dir}: {len(files)} band PNGs, expected 31 (<scene>_01.png ... _31.png)")
    bands = []
    for f in files:
        img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise RawFileError(f"{f}: not a readable PNG image")
        if img.ndim != 2 or img.dtype != np.uint16:
            shape = "x".join(map(str, img.shape))
            raise RawFileError(f"{f}: expected a 16-bit greyscale PNG, got {img.dtype} {shape}")
        bands.append(img)
    shapes = {b.shape for b in bands}
    if len(shapes) != 1:
        raise RawFileError(f"{scene_dir}: band images differ in size {sorted(shapes)}")
    return (np.stack(bands).astype(np.float32) / np.float32(65535.0))


# ------------------------------------------------------------------------------------------- ICVL
def list_mat_files(root: Path) -> list[tuple[str, Path]]:
    """``(stem, file)`` of the ``.mat`` files in ``root`` (or below it when none at the top), sorted."""
    files = sorted(root.glob("*.mat")) or sorted(root.rglob("*.mat"))
    return [(f.stem, f) for f in files]


def _read_raw(path: Path, key: str, bands: int, wavelengths_nm: np.ndarray) -> np.ndarray:
    """``(bands, H, W)`` in MATLAB orientation (``H`` = MATLAB rows) from a v5 or v7.3 file."""
    try:
        return read_mat_cube(path, key=key, expected_bands=bands, wavelengths_nm=wavelengths_nm).cube
    except SpectralFileError as exc:
        raise RawFileError(str(exc)) from None


def load_icvl(path: Path) -> np.ndarray:
    """An ICVL scene as ``(31, 1392, 1300)`` float32: ``rad / 4095``, turned upright like the paper.

    The paper reads ``rad`` with h5py (array ``x`` of shape ``(31, X, Y)``), takes ``np.rot90(x.T)``
    (``(X, Y, 31)``) and stores that as ``(H, W, 31)``; here the same result is built from the
    MATLAB-oriented cube ``(31, Y, X)`` of ``read_mat_cube`` as ``np.rot90(cube, 1, axes=(1, 2))``.
    """
    cube = _read_raw(path, "rad", 31, DEFAULT_WAVELENGTHS_NM)
    return np.ascontiguousarray(np.rot90(cube, k=1, axes=(1, 2))) / np.float32(4095.0)


# ------------------------------------------------------------------------------------------ KAUST
def load_kaust(path: Path) -> np.ndarray:
    """A KAUST scene as ``(31, 512, 512)`` float32: ``hsi / 4095``, bands 400-700 nm of 400-730 nm.

    The paper reads ``hsi`` (MATLAB ``(R, C, 34)``) with scipy.io and stores ``hsi[:, :, :31]
    .transpose(1, 0, 2)`` as ``(H, W, 31)``; the same orientation is used for v5 and v7.3 files.
    """
    cube = _read_raw(path, "hsi", 34, KAUST_WAVELENGTHS_NM)
    return np.ascontiguousarray(cube[:31].transpose(0, 2, 1)) / np.float32(4095.0)


@dataclass(frozen=True)
class RawFormat:
    """How to list and load one raw dataset."""

    name: str
    list_scenes: Callable[[Path], list[tuple[str, Path]]]
    load: Callable[[Path], np.ndarray]
    description: str
    skip_scenes: tuple[str, ...] = ()


RAW_FORMATS: dict[str, RawFormat] = {
    "CAVE": RawFormat("CAVE", list_cave, load_cave, "31 16-bit PNGs per scene / 65535",
                      skip_scenes=("watercolors_ms",)),
    "ICVL": RawFormat("ICVL", list_mat_files, load_icvl, ".mat key 'rad' / 4095, rotated upright (paper)"),
    "KAUST": RawFormat("KAUST", list_mat_files, load_kaust,
                       ".mat key 'hsi' (v5 or v7.3) / 4095, bands 400-700 of 400-730 nm, axes swapped (paper)"),
}


# ------------------------------------------------------------------------------------- conversion
def copy_shipped_splits(name: str, dest_root: Path) -> str:
    """Copy the paper's split lists (``datasets/<NAME>/split_txt``) to ``dest_root`` if it has none.

    Returns what was done: ``"kept"`` (dest has lists), ``"copied"`` or ``"none shipped"``.
    """
    dest = dest_root / SPLIT_DIR
    if all(split_list_path(dest_root, s).is_file() for s in SPLITS):
        return "kept"
    src = shipped_split_dir(name)
    if src is None:
        return "none shipped"
    dest.mkdir(parents=True, exist_ok=True)
    for s in SPLITS:
        target = split_list_path(dest_root, s)
        if not target.is_file():
            from hsi.io import atomic_path
            with atomic_path(target) as tmp:
                shutil.copyfile(src / f"{s}_list.txt", tmp)
    return "copied"


def _converted_ok(path: Path) -> bool:
    """A converted file that exists and is a complete HDF5 file (writes are atomic)."""
    try:
        return path.is_file() and path.stat().st_size > 0 and is_hdf5(path)
    except OSError:
        return False


@dataclass
class ConversionReport:
    """What a conversion did; ``bad`` maps a skipped input to its error message."""

    converted: list[str] = field(default_factory=list)
    skipped_existing: list[str] = field(default_factory=list)
    skipped_by_rule: list[str] = field(default_factory=list)
    bad: dict[str, str] = field(default_factory=dict)
    missing_from_splits: list[str] = field(default_factory=list)
    splits: str = ""
    seconds: float = 0.0


def convert_dataset(name: str, dataset_root: str | os.PathLike, dest_root: str | os.PathLike,
                    skip_bad: bool = False, overwrite: bool = False, progress: bool = True,
                    warn: Callable[[str], None] | None = None) -> ConversionReport:
    """Convert a raw CAVE / ICVL / KAUST release to ``<dest_root>/Train_Spec/<scene>.mat``.

    Args:
        name: ``"CAVE"``, ``"ICVL"`` or ``"KAUST"`` (case-insensitive).
        dataset_root: the raw dataset folder.
        dest_root: output folder (created with its parents).
        skip_bad: skip corrupt/unexpected inputs with a warning instead of stopping.
        overwrite: convert scenes again even if their output exists (atomic replacement).
        progress: show a tqdm progress bar.
        warn: where warnings go (default: ``tqdm.write`` to stderr).

    Raises:
        RawFileError: a corrupt or unexpected input (unless ``skip_bad``), naming the file.
        RawDatasetNotFoundError: ``dataset_root`` missing or without scenes (a ``FileNotFoundError``).
        hsi.io.lock.OutputLockedError: another process converts into ``dest_root``.
    """
    import sys

    from tqdm import tqdm

    key = name.upper()
    if key not in RAW_FORMATS:
        raise ValueError(f"no converter for {name!r}; converters: {', '.join(RAW_FORMATS)} "
                         f"(ARAD_1K is used as published)")
    fmt = RAW_FORMATS[key]
    spec = get_dataset_spec(key)
    root, dest = Path(dataset_root), Path(dest_root)
    if not root.is_dir():
        raise RawDatasetNotFoundError(f"raw dataset folder {root} not found; pass the folder of the raw {key} "
                                      "release as --dataset_root")
    scenes = fmt.list_scenes(root)
    if not scenes:
        raise RawDatasetNotFoundError(f"{root}: no {key} scenes found ({fmt.description})")
    if warn is None:
        def warn(msg: str) -> None:
            tqdm.write(msg, file=sys.stderr)
    (dest / SPEC_DIR).mkdir(parents=True, exist_ok=True)
    with output_lock(dest, f"{key} conversion"):
        for folder in (dest, dest / SPEC_DIR, dest / SPLIT_DIR):     # not below: generated variants have their own
            for stale in remove_stale_temp_files(folder, recursive=False):
                warn(f"[{key}] removed {stale}, the temporary file of an interrupted write")
        return _convert_scenes(key, fmt, spec, root, dest, scenes, skip_bad, overwrite, progress, warn)


def _convert_scenes(key, fmt, spec, root, dest, scenes, skip_bad, overwrite, progress, warn) -> ConversionReport:
    """The body of ``convert_dataset``, run while holding ``dest``."""
    from tqdm import tqdm

    report = ConversionReport(splits=copy_shipped_splits(key, dest))
    t0 = time.perf_counter()
    bar = tqdm(scenes, desc=f"{key}", unit="scene", disable=not progress)
    for scene, src in bar:
        out = spec_path(dest, scene)
        if scene in fmt.skip_scenes:
            report.skipped_by_rule.append(scene)
            continue
        if not overwrite and _converted_ok(out):
            report.skipped_existing.append(scene)
            continue
        try:
            cube = fmt.load(src)
            expected = (31, spec.height, spec.width)
            if cube.shape != expected:
                raise RawFileError(f"{src}: converted cube has shape {cube.shape}, expected {expected} for {key}")
            problem = cube_value_problem(cube, range_check=False, zero_check=False)
            if problem:
                raise RawFileError(f"{src}: {problem}")
        except RawFileError as exc:
            if not skip_bad:
                raise
            report.bad[str(src)] = str(exc)
            warn(f"[{key}] skipping bad input: {exc}")
            continue
        write_mat_cube(out, cube)
        report.converted.append(scene)
    report.seconds = time.perf_counter() - t0
    have = {p.stem for p in (dest / SPEC_DIR).glob("*.mat")}
    for s in SPLITS:
        path = split_list_path(dest, s)
        if path.is_file():
            try:
                report.missing_from_splits += [n for n in read_split_list(path) if n not in have]
            except SplitListError as exc:
                warn(str(exc))
    manifest_path = conversion_manifest_path(dest)
    atomic_write_json(manifest_path, provenance(
        kind=f"{key} conversion", dataset=key, dataset_root=str(root.resolve()), dest_root=str(dest.resolve()),
        conversion=fmt.description, converted=report.converted, skipped_existing=len(report.skipped_existing),
        skipped_by_rule=report.skipped_by_rule, bad=report.bad, splits=report.splits,
        missing_from_splits=report.missing_from_splits, seconds=round(report.seconds, 3)))
    return report


# ------------------------------------------------------------------------------------------ checks
@dataclass
class DatasetCheck:
    """Result of ``check_dataset``: ``errors`` make the dataset unusable, ``warnings`` deserve a look."""

    path: Path
    name: str | None
    scenes: int = 0
    checked: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    shapes: dict[str, int] = field(default_factory=dict)
    value_min: float = float("inf")
    value_max: float = float("-inf")
    value_mean: float = 0.0
    rgb_files: int = 0
    generated: dict[str, dict] = field(default_factory=dict)
    pca: dict | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """A human-readable multi-line summary."""
        lines = [f"dataset {self.name or '?'} at {self.path}",
                 f"  Train_Spec: {self.scenes} .mat files, {self.checked} read"
                 + (f"; shapes {', '.join(f'{k} x{v}' for k, v in self.shapes.items())}" if self.shapes else "")]
        if self.checked and self.value_max >= self.value_min:
            lines.append(f"  values: min {self.value_min:.4g}, max {self.value_max:.4g}, mean {self.value_mean:.4g}")
        lines.append("  splits: " + (", ".join(f"{k} {v}" for k, v in self.splits.items()) or "none"))
        if self.rgb_files:
            lines.append(f"  Train_RGB: {self.rgb_files} images")
        for name, g in self.generated.items():
            state = {True: "complete", False: "incomplete", None: "no manifest"}[g.get("complete")]
            lines.append(f"  generated {name}: {g['metamer_spec']} metamer cubes, {g['rgb']} RGB images, {state}"
                         + (f", {g['bad_files']} bad file(s)" if g.get("bad_files") else ""))
        if self.pca:
            lines.append(f"  spectral PCA on {self.pca['samples']} spectra: {self.pca['n99']} components for 99% "
                         f"of the variance, {self.pca['n999']} for 99.9% (unit-norm spectra: "
                         f"{self.pca['n99_shape']} / {self.pca['n999_shape']})")
        lines += [f"  WARNING: {w}" for w in self.warnings[:20]]
        if len(self.warnings) > 20:
            lines.append(f"  ... and {len(self.warnings) - 20} more warnings")
        lines += [f"  ERROR: {e}" for e in self.errors[:50]]
        if len(self.errors) > 50:
            lines.append(f"  ... and {len(self.errors) - 50} more errors")
        lines.append("  result: " + ("OK" if self.ok else f"{len(self.errors)} error(s)"))
        return "\n".join(lines)


def spectral_pca(samples: np.ndarray) -> dict:
    """Spectral diversity of ``samples (n, bands)``: components needed for 99% / 99.9% of the variance.

    Two variants: centred PCA of the spectra as they are (``n99``, ``n999``) and of unit-L2-norm spectra
    (``n99_shape``, ``n999_shape``; brightness removed, only spectral shape left).
    """
    def count(x: np.ndarray) -> tuple[int, int, list[float]]:
        x = x - x.mean(axis=0, keepdims=True)
        ev = np.linalg.svd(x.astype(np.float64), compute_uv=False) ** 2
        frac = np.cumsum(ev) / max(ev.sum(), 1e-300)
        return (int(np.searchsorted(frac, 0.99) + 1), int(np.searchsorted(frac, 0.999) + 1),
                [round(float(f), 6) for f in frac[:10]])
    x = np.asarray(samples, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    shape = x[norms[:, 0] > 1e-8] / norms[norms[:, 0] > 1e-8]
    n99, n999, frac = count(x)
    s99, s999, sfrac = count(shape)
    return {"samples": int(x.shape[0]), "n99": n99, "n999": n999, "cumulative": frac,
            "n99_shape": s99, "n999_shape": s999, "cumulative_shape": sfrac}


def _check_splits(rep: "DatasetCheck", path: Path, stems: set[str]) -> None:
    """Split lists: readable, disjoint, every listed scene has its cube; unlisted cubes are a warning."""
    lists: dict[str, list[str]] = {}
    for s in SPLITS:
        try:
            lists[s] = read_split_list(split_list_path(path, s))
            rep.splits[s] = len(lists[s])
        except SplitListError as exc:
            rep.errors.append(str(exc))
    if len(lists) == 2:
        both = sorted(set(lists["train"]) & set(lists["valid"]))
        if both:
            rep.errors.append(f"{path / SPLIT_DIR}: {len(both)} scene(s) in both train and valid lists, e.g. {both[:3]}")
    for s, names in lists.items():
        missing = [n for n in names if n not in stems]
        if missing:
            rep.errors.append(f"{split_list_path(path, s)}: {len(missing)} listed scene(s) have no "
                              f"{SPEC_DIR}/<scene>.mat, e.g. {missing[:3]}")
    listed = set().union(*lists.values()) if lists else set()
    unlisted = sorted(stems - listed)
    if lists and unlisted:
        rep.warnings.append(f"{len(unlisted)} file(s) in {SPEC_DIR} are in no split list, e.g. {unlisted[:3]}")


def _cube_shape(f: Path, quick: bool) -> tuple[tuple, np.ndarray | None]:
    """``(shape (bands, H, W), cube or None)``: only the header of a v7.3 file when ``quick``."""
    import h5py
    if quick and is_hdf5(f):
        with h5py.File(f, "r") as h:
            if "cube" not in h:
                raise SpectralFileError(f"{f}: no variable 'cube'")
            b, w_, h_ = h["cube"].shape
            return (b, h_, w_), None
    cube = read_mat_cube(f).cube
    return cube.shape, cube


def _check_cubes(rep: "DatasetCheck", files: list[Path], spec, quick: bool, pca: bool, pca_pixels: int,
                 value_tolerance: float, progress: bool, seed: int) -> tuple[dict[str, tuple], list[np.ndarray]]:
    """Read every cube: shapes, value range and mean; returns the shapes by stem and the PCA samples."""
    from tqdm import tqdm
    expected = (31, spec.height, spec.width) if spec and spec.height else None
    rng = np.random.default_rng(seed)
    samples, total, count = [], 0.0, 0
    shape_of: dict[str, tuple] = {}
    for f in tqdm(files, desc=f"check {rep.name or rep.path.name}", unit="file", disable=not progress):
        try:
            shape, cube = _cube_shape(f, quick)
        except (SpectralFileError, OSError) as exc:
            rep.errors.append(str(exc) if str(f) in str(exc) else f"{f}: {exc}")
            continue
        shape_of[f.stem] = shape
        key = "x".join(map(str, shape))
        rep.shapes[key] = rep.shapes.get(key, 0) + 1
        if expected and shape != expected:
            rep.errors.append(f"{f}: shape {shape} (bands, H, W), expected {expected} for {spec.name}")
        if cube is None:
            continue
        rep.checked += 1
        lo, hi = float(cube.min()), float(cube.max())
        rep.value_min, rep.value_max = min(rep.value_min, lo), max(rep.value_max, hi)
        total += float(cube.mean(dtype=np.float64))
        count += 1
        if lo < -value_tolerance or hi > 1 + value_tolerance:
            rep.warnings.append(f"{f}: values in [{lo:.4g}, {hi:.4g}], outside [0, 1]")
        if pca:
            flat = cube.reshape(cube.shape[0], -1)
            idx = rng.choice(flat.shape[1], size=min(pca_pixels, flat.shape[1]), replace=False)
            samples.append(flat[:, idx].T)
    rep.value_mean = total / count if count else 0.0
    if not expected and len(rep.shapes) > 1:
        rep.warnings.append(f"cubes have different shapes: {rep.shapes}")
    return shape_of, samples


def _check_rgb(rep: "DatasetCheck", path: Path, shape_of: dict[str, tuple]) -> None:
    """The dataset's own RGB images (if any) read and have their cube's size."""
    from hsi.io import RGBFileError, read_rgb_raw
    rgb_dir = path / RGB_DIR
    if not rgb_dir.is_dir():
        return
    from hsi.io.integrity import CorruptFileError, check_image_file
    for f in sorted(p for p in rgb_dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        try:
            check_image_file(f)                       # a truncated JPEG decodes silently: check its end marker
            rgb = read_rgb_raw(f)
        except (RGBFileError, CorruptFileError) as exc:
            rep.errors.append(str(exc))
            continue
        rep.rgb_files += 1
        shp = shape_of.get(f.stem)
        if shp and rgb.shape[1:] != shp[1:]:
            rep.errors.append(f"{f}: RGB size {rgb.shape[1:]} differs from its cube's {shp[1:]}")


def _dataset_json_problem(path: Path, name: str | None) -> str | None:
    """What is wrong with ``<path>/dataset.json`` (None when valid, or not needed: a built-in dataset)."""
    from hsi.datasets import DATASETS, read_dataset_json
    builtin = str(name or path.name).upper() in DATASETS or str(name or path.name).upper().startswith("SYNTH_")
    if builtin and not (path / DATASET_JSON).is_file():
        return None
    if not (path / DATASET_JSON).is_file():
        return (f"{path / DATASET_JSON}: not found; to use this folder under its own name it needs one, e.g. "
                '{"exposure_target": 0.18, "eval_crop": null, "size": null} (README: Your own hyperspectral data)')
    try:
        read_dataset_json(path)
    except ValueError as exc:
        return str(exc)
    return None


def check_dataset(path: str | os.PathLike, name: str | None = None, quick: bool = False, pca: bool = False,
                  pca_pixels: int = 2000, value_tolerance: float = 1e-3, progress: bool = True,
                  seed: int = 0) -> DatasetCheck:
    """Validate a dataset folder in the toolkit's layout and summarise it.

    Checks: ``Train_Spec`` exists and holds ``.mat`` files; each file reads (``hsi.io.read_mat_cube``:
    31 bands at 400-700 nm, no NaN/Inf) with the dataset's size (from ``hsi.datasets`` when ``name`` is
    known, else one common size); values in ``[0, 1]`` (outside by more than ``value_tolerance`` is a
    warning); both split lists exist, are valid, do not overlap and name existing files; ``Train_RGB``
    images (if any) read with the cube's size; generated ``<noise><npe>_<psf>`` folders are checked
    (``check_generated_folder``: whole files, no NaN or all-zero cube, no all-zero image, the manifest).

    Args:
        path: dataset folder (``<dataset_path>/<NAME>``).
        name: dataset name for its expected size; default: the folder name if it is a known dataset.
        quick: only read file headers (shapes) of v7.3 files, not the data.
        pca: also estimate spectral diversity (``spectral_pca``) from ``pca_pixels`` random pixels per scene.
    """
    path = Path(path)
    json_problem = _dataset_json_problem(path, name)
    if name is None:
        try:
            name = get_dataset_spec(path.name, path.parent).name
        except ValueError:
            name = None
    try:
        spec = get_dataset_spec(name, path.parent) if name else None
    except ValueError as exc:
        raise OptionError(f"dataset name: {exc}") from None
    rep = DatasetCheck(path=path, name=spec.name if spec else name)
    if json_problem:  # a missing dataset.json is a warning (the folder is still checked), a bad one an error
        (rep.errors if (path / DATASET_JSON).is_file() else rep.warnings).append(json_problem)
    if not path.is_dir():
        rep.errors.append(f"{path}: folder not found")
        return rep
    spec_dir = path / SPEC_DIR
    files = sorted(spec_dir.glob("*.mat")) if spec_dir.is_dir() else []
    rep.scenes = len(files)
    if not spec_dir.is_dir():
        rep.errors.append(f"{spec_dir}: folder not found")
    elif not files:
        rep.errors.append(f"{spec_dir}: no .mat files")
    _check_splits(rep, path, {f.stem for f in files})
    shape_of, samples = _check_cubes(rep, files, spec, quick, pca, pca_pixels, value_tolerance, progress, seed)
    _check_rgb(rep, path, shape_of)
    for g in sorted(p for p in path.iterdir() if p.is_dir() and is_variant_dir(p)):  # generated metamer folders
        rep.generated[g.name] = check_generated_folder(g, rep, quick=quick)
    if pca and samples:
        rep.pca = spectral_pca(np.concatenate(samples))
    return rep


def check_generated_folder(folder: Path, rep: DatasetCheck, quick: bool = False) -> dict:
    """Check one generated metamer folder (``generate_metamers.py``), adding to ``rep.errors`` / ``warnings``.

    Files: whole (``hsi.io.integrity.check_files``: PNG IEND, JPEG EOI, HDF5 readable). Unless ``quick``:
    metamer cubes without NaN/Inf and not all zero (``cube_value_problem``), images not all zero. The
    manifest: present and valid, complete, every recorded scene's files there, source cubes unchanged
    since generation (size and mtime of its ``sources`` fingerprints). Returns the folder's counts.
    """
    from hsi.io import RGBFileError, read_rgb_raw
    from hsi.io.integrity import CorruptFileError, check_files

    cubes = sorted((folder / METAMER_SPEC_DIR).glob("*_metamer.mat"))
    rgb_dir = folder / METAMER_RGB_DIR
    images = sorted(p for p in rgb_dir.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")) \
        if rgb_dir.is_dir() else []
    bad = 0
    for f in cubes + images:
        try:
            check_files([f])
            if quick:
                continue
            if f.suffix == ".mat":
                problem = cube_value_problem(read_mat_cube(f, check_values=False).cube, range_check=False)
            else:
                problem = "all pixels are zero" if not read_rgb_raw(f).any() else None
            if problem:
                raise CorruptFileError(f"{f}: {problem}")
        except (CorruptFileError, SpectralFileError, RGBFileError) as exc:
            bad += 1
            rep.errors.append(f"{exc}; regenerate it (generate_metamers.py regenerates damaged scenes)")
    info = {"metamer_spec": len(cubes), "rgb": len(images), "bad_files": bad, "complete": None}
    man_path = folder / MANIFEST_NAME
    if not man_path.is_file():
        rep.warnings.append(f"{folder}: no {MANIFEST_NAME} (not made by generate_metamers.py, or interrupted "
                            "before its first scene)")
        return info
    try:
        man = json.loads(man_path.read_text())
        scenes, sources = dict(man.get("scenes", {})), dict(man.get("sources", {}))
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        rep.errors.append(f"{man_path}: unreadable manifest ({exc}); re-run generate_metamers.py with --overwrite")
        return info
    info["complete"] = bool(man.get("complete"))
    if not info["complete"]:
        rep.warnings.append(f"{folder}: generation not complete ({len(scenes)} of {man.get('scenes_total')} "
                            "scenes); re-run the same generate_metamers.py command to resume")
    lost = [s for s in scenes if not metamer_cube_path(folder, s).is_file()]
    if lost:
        rep.errors.append(f"{folder}: {len(lost)} scene(s) of {MANIFEST_NAME} have no metamer cube, e.g. {lost[:3]}; "
                          "re-run generate_metamers.py to regenerate them")
    changed = []
    for scene, fp in sources.items():
        src = spec_path(rep.path, scene)
        st = src.stat() if src.is_file() else None
        if st is None or (st.st_size, st.st_mtime_ns) != (fp.get("size"), fp.get("mtime_ns")):
            changed.append(scene)
    if changed:
        rep.warnings.append(f"{folder}: the source cubes of {len(changed)} scene(s) changed (or were touched) since "
                            f"generation, e.g. {changed[:3]}; re-run generate_metamers.py (it regenerates the scenes "
                            "whose content changed)")
    return info


# --------------------------------------------------------------------------------------------- CLI
def converter_cli(name: str, argv: list[str] | None = None) -> int:
    """Command line of ``dataset_tools/prepare_<NAME>.py`` (the paper's flags plus the toolkit's).

    Runs through ``hsi.errors.run_main``: a bad input prints ``error: ...`` and exits with code 2.
    """
    from hsi.errors import run_main
    return run_main(lambda args: _converter_main(name.upper(), args), argv)


def _converter_main(key: str, argv: list[str]) -> int:
    import argparse
    import sys

    ap = argparse.ArgumentParser(
        prog=f"prepare_{key}.py", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description=f"Convert the raw {key} dataset ({RAW_FORMATS[key].description}) to "
                    f"<dest_root>/Train_Spec/<scene>.mat (31 x H x W, v7.3, ARAD_1K convention).")
    ap.add_argument("--dataset_root", required=True, help=f"raw {key} folder")
    ap.add_argument("--dest_root", default=f"./datasets/{key}", help="output folder (created if missing)")
    ap.add_argument("--skip_bad", action="store_true",
                    help="skip corrupt or unexpected input files with a warning instead of stopping")
    ap.add_argument("--overwrite", action="store_true", help="convert scenes again even if already converted")
    ap.add_argument("--no_progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    try:
        rep = convert_dataset(key, args.dataset_root, args.dest_root, skip_bad=args.skip_bad,
                              overwrite=args.overwrite, progress=not args.no_progress)
    except RawFileError as exc:
        raise RawFileError(f"{exc}; re-run with --skip_bad to skip bad inputs (scenes converted so far are kept "
                           "and skipped on the next run)") from None
    print(f"[{key}] converted {len(rep.converted)}, already done {len(rep.skipped_existing)}, "
          f"skipped by rule {len(rep.skipped_by_rule)} {rep.skipped_by_rule or ''}, bad {len(rep.bad)} "
          f"in {rep.seconds:.1f} s; split lists: {rep.splits}")
    for src, msg in rep.bad.items():
        print(f"  bad input: {msg}", file=sys.stderr)
    if rep.missing_from_splits:
        print(f"  warning: {len(rep.missing_from_splits)} scene(s) of the split lists were not converted, "
              f"e.g. {rep.missing_from_splits[:3]}", file=sys.stderr)
    return 0
