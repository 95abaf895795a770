"""Metamer data: original + metamer spectra rendered to RGB, one scene at a time or as a whole dataset.

``render_metamer_pair`` is the single place where a cube's metamer is made (``ImagingSystem.metamer``)
and both are rendered (``ImagingSystem.render``, i.e. ``hsi.render.render_rgb``) with their statistics;
it is the per-scene step of ``generate_metamer_dataset``, which writes the paper's layout
(``hsi.layout``) so that the paper's scripts and data interoperate::

    <dataset_path>/<NAME>/<noise_type><npe>_<psf_name>/
        Train_Metamer_Spec/<scene>_metamer.mat            metamer cube, same format as Train_Spec
        Train_Metamer_RGB/<scene>_original.{png,jpg}      RGB rendered from the original cube
        Train_Metamer_RGB/<scene>_metamer.{png,jpg}       RGB rendered from the metamer
        manifest.json                                     flags, camera, PSF, versions, per-scene statistics

for the scenes of the train list, then the valid list (each sorted), as the paper's script does. Unlike
the paper's script it never deletes anything: scenes whose outputs exist are skipped (``overwrite``
regenerates them, replacing each file atomically), and a folder made with other settings is refused
(``ManifestStore``). Reading the next scene and writing run in background threads (``AsyncWriter``).

Noise: each image draws from its own generator seeded by ``hsi.render.scene_seed(noise_seed, scene,
variant)`` (variant ``"original"`` or ``"metamer"``), so images are independent and reproducible (the
paper reseeds one stream for every image, defect D18). Each image gets its own auto-exposure.
"""
from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from hsi.device import resolve_device
from hsi.imaging import ImagingSystem, as_system
from hsi.layout import (MANIFEST_NAME, METAMER_RGB_DIR, METAMER_SPEC_DIR, SPEC_DIR, VARIANTS, format_npe,  # noqa: F401
                        manifest_path, psf_label, scene_outputs, spec_path, variant_dir_name)
from hsi.metamer import METAMER_MODES, MetamerResult, camera_deviation
from hsi.render import RenderConfig, RenderResult, make_generators, scene_seed

# METAMER_SPEC_DIR, METAMER_RGB_DIR, MANIFEST_NAME, VARIANTS, format_npe, psf_label, variant_dir_name and
# scene_outputs live in hsi.layout; they are re-exported here for older importers.
RGB_FORMAT_CHOICES = ("png", "jpg", "all")


class MetamerDataError(ValueError):
    """A problem with the inputs or the output folder of metamer generation; the message says which."""


# ------------------------------------------------------------------------------------ one scene
@dataclass
class MetamerPair:
    """Output of ``render_metamer_pair`` for a batch of ``N`` scenes or patches.

    Attributes:
        metamer: ``hsi.metamer.MetamerResult`` (``.cube (N, bands, H, W)`` and its statistics); ``None``
            when the metamer cube was given.
        metamer_cube: ``(N, bands, H, W)`` metamer spectra.
        original: ``RenderResult`` of the original cubes (``.dn (N, 3, H, W)`` digital numbers).
        rendered_metamer: ``RenderResult`` of the metamers.
        cube: ``(N, bands, H, W)`` original spectra.
        alpha: ``(N,)`` metameric-black coefficients (float64).
        rgb_max_abs_dev, rgb_rel_dev: ``(N,)`` how metameric the pair is in camera units
            (``hsi.metamer.camera_deviation``; the same values as ``metamer``'s when it was made).
        timings: seconds of the ``metamer`` and ``render`` stages (when timed).
    """

    metamer: MetamerResult | None
    metamer_cube: torch.Tensor
    original: RenderResult
    rendered_metamer: RenderResult
    cube: torch.Tensor | None = None
    alpha: torch.Tensor | None = None
    rgb_max_abs_dev: torch.Tensor | None = None
    rgb_rel_dev: torch.Tensor | None = None
    timings: dict = field(default_factory=dict)

    def dn_max_abs_diff(self) -> torch.Tensor:
        """``(N,)`` largest ``|DN_original - DN_metamer|`` (includes noise when ``npe > 0``)."""
        return (self.original.dn - self.rendered_metamer.dn).abs().amax(dim=(1, 2, 3))

    @functools.cached_property
    def images(self) -> tuple[np.ndarray, np.ndarray]:
        """``(original, metamer)`` stored images, each ``(N, 3, H, W)`` uint8/uint16 (``RenderResult.to_uint``)."""
        return self.original.to_uint(), self.rendered_metamer.to_uint()

    def rgb_identical(self, index: int = 0, formats: Sequence[str] = ("png",), jpeg_quality: int = 65) -> dict:
        """``{format: bool}``: are the original's and the metamer's image files of image ``index``
        byte-identical in each format? Identical stored arrays give identical files (PNG and JPEG
        encoding are deterministic); different arrays give different PNGs, and JPEGs (lossy: two
        arrays may encode alike) are compared as ``hsi.io.write_rgb`` writes them with ``jpeg_quality``."""
        a, b = self.images[0][index], self.images[1][index]
        same = bool(np.array_equal(a, b))
        out = {}
        for fmt in formats:
            if same or fmt == "png":
                out[fmt] = same
            else:
                out[fmt] = _encoded(a, fmt, jpeg_quality) == _encoded(b, fmt, jpeg_quality)
        return out

    def stats(self, index: int = 0, formats: Sequence[str] = ("png",), jpeg_quality: int = 65) -> dict:
        """Per-image statistics as plain numbers (a generation manifest's scene entry, without split).

        Besides the metamer's statistics: ``pair_distance`` (``{"RMSE", "SAM", "MRAE"}``: the paired
        lower bounds of ``hsi.ambiguity.pair_distance``, i.e. half the distance of original and metamer
        cube: no RGB-only method is better on both) and ``rgb_identical`` (``{format: bool}`` for the
        written ``formats``, see ``rgb_identical``: the bound is strict where it is true)."""
        from hsi.ambiguity import pair_distance
        if self.metamer is not None:
            st = {**self.metamer.stats(index), "iterations": int(self.metamer.iterations)}
        else:
            st = {"alpha": float(self.alpha[index]), "rgb_max_abs_dev": float(self.rgb_max_abs_dev[index]),
                  "rgb_rel_dev": float(self.rgb_rel_dev[index]), "metamer_from_disk": True}
        one = slice(index, index + 1)
        diff = np.abs(self.images[0][index].astype(np.int16) - self.images[1][index].astype(np.int16))
        st.update(spectral_rmse=float(((self.metamer_cube[one] - self.cube[one]) ** 2).mean().sqrt()),
                  dn_max_abs_diff=int(diff.max()), dn_mean_abs_diff=round(float(diff.mean()), 4),
                  exposure_gain={"original": float(self.original.gain[index]),
                                 "metamer": float(self.rendered_metamer.gain[index])},
                  pair_distance=pair_distance(self.cube[one], self.metamer_cube[one]).as_dict(0),
                  rgb_identical=self.rgb_identical(index, formats, jpeg_quality))
        return st


def _encoded(rgb: np.ndarray, fmt: str, jpeg_quality: int) -> bytes:
    """The bytes ``hsi.io.write_rgb`` writes for ``rgb (3, H, W)`` in format ``fmt`` (in memory)."""
    import tempfile

    from hsi.io import write_rgb
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"image.{fmt}"
        write_rgb(path, rgb, jpeg_quality=jpeg_quality)
        return path.read_bytes()


def noise_generators(scenes: Sequence[str], variant: str, noise_seed: int, device) -> list[torch.Generator]:
    """One generator per scene, seeded by ``scene_seed(noise_seed, scene, variant)``."""
    return make_generators([scene_seed(noise_seed, s, variant) for s in scenes], device)


def render_pair(cube: torch.Tensor, metamer_cube: torch.Tensor, system, psf=None, config: RenderConfig | None = None,
                noise_seed: int = 0, scenes: Sequence[str] | None = None,
                paired_noise: bool = False) -> tuple[RenderResult, RenderResult]:
    """Render originals and metamers through the same imaging system in one batch.

    Args:
        cube, metamer_cube: ``(N, bands, H, W)`` radiance (or ``(bands, H, W)``), same device.
        system: ``hsi.imaging.ImagingSystem`` (or, as before, the ``(bands, 3)`` camera response, then
            ``psf (bands, h, w)`` or None and ``config`` give the rest).
        noise_seed: run seed of the per-image noise streams (used when ``config.npe > 0``).
        scenes: ``N`` scene ids for the noise streams (default ``"0"``, ``"1"``, ...).
        paired_noise: give each metamer its original's noise realisation (``_render_paired_noise``:
            the original's noise, drawn from its ``"original"`` stream, added to the metamer's signal),
            so an exact metamer (same signal) gets the same noisy signal and the same images up to
            float rounding; default False: independent streams (``"original"``, ``"metamer"``).

    Returns:
        ``(original, metamer)`` ``RenderResult`` s, each with its own per-image auto-exposure.
    """
    system = as_system(system, psf, config)
    config = system.config
    if cube.ndim == 3:
        cube = cube.unsqueeze(0)
    if metamer_cube.ndim == 3:
        metamer_cube = metamer_cube.unsqueeze(0)
    n = cube.shape[0]
    scenes = [str(i) for i in range(n)] if scenes is None else [str(s) for s in scenes]
    if len(scenes) != n or metamer_cube.shape != cube.shape:
        raise ValueError(f"{len(scenes)} scene ids for {n} cubes, metamer shape {tuple(metamer_cube.shape)} "
                         f"vs cube shape {tuple(cube.shape)}")
    if paired_noise and config.npe > 0:
        return _render_paired_noise(system, cube, metamer_cube.to(cube.dtype),
                                    noise_generators(scenes, "original", noise_seed, cube.device))
    gens = None
    if config.npe > 0:
        gens = (noise_generators(scenes, "original", noise_seed, cube.device)
                + noise_generators(scenes, "metamer", noise_seed, cube.device))
    both = system.render(torch.cat([cube, metamer_cube.to(cube.dtype)]), generator=gens)
    split = [RenderResult(dn=both.dn[sl], signal=both.signal[sl], gain=both.gain[sl], config=config)
             for sl in (slice(0, n), slice(n, 2 * n))]
    return split[0], split[1]


def _pair_deviation(cube: torch.Tensor, metamer_cube: torch.Tensor, system: ImagingSystem, mode: str):
    """``(max_abs, rel)`` ``(N,)`` camera deviation of a given metamer, measured as ``mode`` defines it:
    through the system's PSF for ``exact_optics`` (``hsi.ambiguity.optics_signal``), else per pixel."""
    kernel = system.psf()
    if mode != "exact_optics" or kernel is None:
        return camera_deviation(cube, metamer_cube, system.srf)
    from hsi.ambiguity import optics_signal
    sig0 = optics_signal(cube, system.srf, kernel.detach(), system.config.psf_boundary)
    dev = (optics_signal(metamer_cube, system.srf, kernel.detach(), system.config.psf_boundary) - sig0
           ).abs().amax(dim=(1, 2, 3))
    return dev, dev / sig0.abs().amax(dim=(1, 2, 3)).clamp_min(1e-30)


def _render_paired_noise(system: ImagingSystem, cube: torch.Tensor, metamer_cube: torch.Tensor,
                         generators: list[torch.Generator]) -> tuple[RenderResult, RenderResult]:
    """``render_pair`` with one noise realisation per pair: the original is rendered exactly as
    ``render_rgb`` does with ``generators`` (one per image); its metamer gets the same realisation,
    ``noisy_m = max(clean_m + (noisy_s - clean_s), 0)``, then its own auto-exposure and quantisation.
    (The same seed for both would not do: Poisson sampling consumes a rate-dependent number of random
    numbers, so two streams drift apart after the first value whose rate differs in the last bit.)"""
    from hsi.render import add_noise, expose_and_quantise
    cfg, n = system.config, cube.shape[0]
    clean = system.camera_signal(torch.cat([cube, metamer_cube]), clip=True)       # as render_rgb: clipped
    noisy_s = add_noise(clean[:n], cfg.npe, cfg.noise_type, cfg.div_factor_to_1pe, generators)
    noisy_m = (clean[n:] + (noisy_s - clean[:n])).clamp_min(0)
    out = []
    for signal in (noisy_s, noisy_m):
        dn, gain = expose_and_quantise(signal, cfg)
        out.append(RenderResult(dn=dn, signal=signal, gain=gain, config=cfg))
    return out[0], out[1]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def render_metamer_pair(cube: torch.Tensor, system, psf=None, *, alpha=0.0, mode: str = "clip",
                        config: RenderConfig | None = None, noise_seed: int = 0, scenes: Sequence[str] | None = None,
                        metamer_cube: torch.Tensor | None = None, timed: bool = False,
                        paired_noise: bool = False, **metamer_kwargs) -> MetamerPair:
    """Make the alpha-metamer of ``cube`` and render both through the camera, the PSF and the noise.

    Args:
        cube: ``(N, bands, H, W)`` (or ``(bands, H, W)``) radiance, float32, CPU or CUDA.
        system: ``hsi.imaging.ImagingSystem`` (or, as before, the ``(bands, 3)`` camera response, then
            ``psf`` and ``config`` give the rest).
        alpha: metameric-black coefficient, scalar or ``(N,)``.
        mode: ``"clip"`` (the paper's), ``"exact"`` or ``"exact_optics"`` (through the system's PSF and
            boundary; ``hsi.metamer.make_metamer``).
        noise_seed, scenes, paired_noise: per-image noise streams (see ``render_pair``).
        metamer_cube: a metamer made before (e.g. read from disk): not recomputed; its deviations are
            measured (through the PSF for ``exact_optics``; ``MetamerPair.metamer`` is then None).
        timed: record the seconds of each stage in ``MetamerPair.timings`` (synchronising a GPU).
        metamer_kwargs: passed to ``hsi.metamer.make_metamer`` (e.g. ``max_iter`` for exact).
    """
    system = as_system(system, psf, config)
    if cube.ndim == 3:
        cube = cube.unsqueeze(0)
    t0 = time.perf_counter()
    if metamer_cube is None:
        met = system.metamer(cube, alpha, mode=mode, **metamer_kwargs)
        metamer_cube, a, dev, rel = met.cube, met.alpha, met.rgb_max_abs_dev, met.rgb_rel_dev
    else:
        met, metamer_cube = None, metamer_cube.unsqueeze(0) if metamer_cube.ndim == 3 else metamer_cube
        a = torch.as_tensor(alpha, dtype=torch.float64).reshape(-1).expand(cube.shape[0])
        dev, rel = _pair_deviation(cube, metamer_cube, system, mode)
    if timed:
        _sync(cube.device)
    t1 = time.perf_counter()
    original, rendered = render_pair(cube, metamer_cube, system, noise_seed=noise_seed, scenes=scenes,
                                     paired_noise=paired_noise)
    if timed:
        _sync(cube.device)
    timings = {"metamer": t1 - t0, "render": time.perf_counter() - t1} if timed else {}
    return MetamerPair(metamer=met, metamer_cube=metamer_cube, original=original, rendered_metamer=rendered,
                       cube=cube, alpha=a, rgb_max_abs_dev=dev, rgb_rel_dev=rel,
                       timings=timings)


# --------------------------------------------------------------------------------- options and plan
def rgb_formats(rgb_format: str) -> tuple[str, ...]:
    """``png`` -> (png,), ``jpg`` -> (jpg,), ``all`` -> (png, jpg)."""
    if rgb_format not in RGB_FORMAT_CHOICES:
        raise MetamerDataError(f"rgb_format must be one of {RGB_FORMAT_CHOICES}, got {rgb_format!r}")
    return ("png", "jpg") if rgb_format == "all" else (rgb_format,)


_RENDER = RenderConfig()


@dataclass(frozen=True)
class GenerateOptions:
    """Settings of ``generate_metamer_dataset`` (defaults = the paper's ``generate_metamers.py``).

    The rendering settings are the flags of the script; ``render_config`` turns them into the
    ``hsi.render.RenderConfig`` (their defaults are RenderConfig's).

    Attributes:
        dataset_path: datasets root; the dataset is ``<dataset_path>/<NAME>``.
        dataset_name: ARAD_1K, CAVE, ICVL, KAUST or SYNTH (case-insensitive).
        psf_name: PSF name in ``psf_path`` (or a ``.npz`` path); None / "None": no PSF.
        psf_path: folder of PSF files.
        srf_path: camera: a name of ``hsi.camera`` or a ``.npz`` (paper format) / ``.csv`` file.
        noise_type, npe, div_factor_to_1pe: noise (``npe`` photo-electrons at signal 1; 0 = none).
        noise_seed: run seed of the per-image noise streams.
        alpha: metameric-black coefficient.
        rgb_format: ``png``, ``jpg`` or ``all`` (both).
        metamer_mode: ``clip`` (paper), ``exact`` or ``exact_optics`` (through the PSF; no PSF: exact).
        psf_boundary: ``circular`` (paper), ``periodic`` or ``linear``.
        quantize: ``truncate`` (paper) or ``round``.
        jpeg_quality: JPEG quality (65).
        overwrite: regenerate scenes whose outputs exist / accept a folder made with other settings.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``...
        out_name: output folder name (default the paper's ``<noise_type><npe>_<psf_name>``).
        limit: process only the first ``limit`` scenes of the ordered list (quick tries).
        exposure_target: auto-exposure target (default: the dataset's, ``hsi.datasets``).
        paired_noise: the metamer gets its original's noise stream (``render_pair``); default independent.
    """

    dataset_path: str = "./datasets"
    dataset_name: str = "ARAD_1K"
    psf_name: str | None = None
    psf_path: str = "./PSFs"
    srf_path: str = "basler_a2A5320-23ucBAS"
    noise_type: str = _RENDER.noise_type
    npe: float = 0
    div_factor_to_1pe: float = 1
    noise_seed: int = 0
    alpha: float = 0.0
    rgb_format: str = "png"
    metamer_mode: str = "clip"
    psf_boundary: str = _RENDER.psf_boundary
    quantize: str = _RENDER.quantize
    jpeg_quality: int = 65
    overwrite: bool = False
    device: str = "auto"
    out_name: str | None = None
    limit: int | None = None
    exposure_target: float | None = None
    paired_noise: bool = False

    def render_config(self, dataset_exposure_target: float) -> RenderConfig:
        """The rendering settings (``exposure_target`` None: the dataset's); raises ``MetamerDataError``."""
        try:
            cfg = RenderConfig(psf_boundary=self.psf_boundary, noise_type=self.noise_type, npe=float(self.npe),
                               div_factor_to_1pe=float(self.div_factor_to_1pe),
                               exposure_target=float(self.exposure_target or dataset_exposure_target),
                               quantize=self.quantize)
        except ValueError as exc:
            raise MetamerDataError(str(exc)) from None
        if cfg.quantize == "none":
            raise MetamerDataError("quantize 'none' cannot be written to 8-bit files; use truncate or round")
        return cfg


def _sha256(arr: np.ndarray) -> str:
    import hashlib
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()[:16]


@dataclass
class GenerationPlan:
    """Everything resolved before the first scene is processed (inputs checked, folder chosen)."""

    options: GenerateOptions
    dataset: str
    dataset_dir: Path
    out_dir: Path
    scenes: list[tuple[str, str]]           # (scene, split) in processing order
    formats: tuple[str, ...]
    system: ImagingSystem                   # camera, PSF and rendering settings, on the device
    spec_hw: tuple[int, int] = (0, 0)       # the dataset's cube size (0: any)
    settings: dict = field(default_factory=dict)

    @property
    def camera(self):
        """The ``hsi.camera.Camera``."""
        return self.system.camera

    @property
    def psf(self):
        """The ``hsi.optics.PSF`` or None."""
        return self.system.psf_source

    @property
    def render_config(self) -> RenderConfig:
        return self.system.config

    @property
    def device(self) -> torch.device:
        return self.system.device


def _ordered_scenes(ddir: Path, limit: int | None) -> list[tuple[str, str]]:
    """``(scene, split)`` of the split lists (train then valid, each sorted), checked to exist."""
    from hsi.datasets import SPLITS, read_splits
    if not (ddir / SPEC_DIR).is_dir():
        raise MetamerDataError(f"{ddir / SPEC_DIR}: folder not found; convert the dataset first "
                               f"(dataset_tools/prepare_<NAME>.py, or dataset_tools/make_synthetic.py for SYNTH)")
    splits = read_splits(ddir)
    scenes = [(s, split) for split in SPLITS for s in sorted(splits[split])]
    missing = [s for s, _ in scenes if not spec_path(ddir, s).is_file()]
    if missing:
        raise MetamerDataError(f"{len(missing)} scene(s) of the split lists have no file in {ddir / SPEC_DIR}, "
                               f"e.g. {[str(spec_path(ddir, s)) for s in missing[:3]]}; check the dataset with "
                               f"dataset_tools/check_dataset.py {ddir}")
    return scenes if limit is None else scenes[:max(0, int(limit))]


def plan_generation(opts: GenerateOptions) -> GenerationPlan:
    """Check the inputs and resolve names, files and settings (no output is written).

    Raises:
        ValueError: unknown dataset (lists the known ones).
        hsi.datasets.SplitListError: a missing or bad split list.
        hsi.optics.PSFNotFoundError: unknown PSF (lists the available ones); ``PSFError``: bad PSF file.
        hsi.camera.CameraError: unknown camera or bad response file.
        MetamerDataError: missing ``Train_Spec`` files, bad option values.
    """
    from hsi.datasets import dataset_dir, get_dataset_spec

    spec = get_dataset_spec(opts.dataset_name)
    if opts.metamer_mode not in METAMER_MODES:
        raise MetamerDataError(f"metamer_mode must be one of {METAMER_MODES}, got {opts.metamer_mode!r}")
    formats = rgb_formats(opts.rgb_format)
    ddir = dataset_dir(opts.dataset_path, spec.name)
    scenes = _ordered_scenes(ddir, opts.limit)
    if int(opts.jpeg_quality) < 1 or int(opts.jpeg_quality) > 100:
        raise MetamerDataError(f"jpeg_quality must be in 1..100, got {opts.jpeg_quality}")
    cfg = opts.render_config(spec.exposure_target)
    system = ImagingSystem.from_names(opts.srf_path, opts.psf_name, opts.psf_path, cfg, resolve_device(opts.device))
    camera, psf = system.camera, system.psf_source
    out_name = opts.out_name or variant_dir_name(opts.noise_type, opts.npe, None if psf is None else psf.name)
    settings = {
        "dataset": spec.name, "camera": camera.name, "srf_sha256": _sha256(camera.srf),
        "psf": None if psf is None else psf.name, "psf_sha256": None if psf is None else _sha256(psf.kernel),
        "alpha": float(opts.alpha), "metamer_mode": opts.metamer_mode, "noise_seed": int(opts.noise_seed),
        "jpeg_quality": int(opts.jpeg_quality), "render": cfg.as_dict(),
    }
    if opts.paired_noise:               # only when set: folders made before the flag stay valid
        settings["paired_noise"] = True
    return GenerationPlan(options=opts, dataset=spec.name, dataset_dir=ddir, out_dir=ddir / out_name, scenes=scenes,
                          formats=formats, system=system, spec_hw=(spec.height, spec.width), settings=settings)


def _load_cube(ddir: Path, scene: str, spec_hw: tuple[int, int]) -> np.ndarray:
    from hsi.io import read_mat_cube
    path = spec_path(ddir, scene)
    cube = read_mat_cube(path).cube
    if spec_hw[0] and cube.shape[1:] != spec_hw:
        raise MetamerDataError(f"{path}: cube of shape {cube.shape} (bands, H, W), expected (31, {spec_hw[0]}, "
                               f"{spec_hw[1]}) for this dataset")
    return cube


# --------------------------------------------------------------------------------- the dataset
class ManifestStore:
    """The ``manifest.json`` of one generated folder: checked against the settings when opened, the
    per-scene statistics kept (``scenes``), written atomically with a run record (``write``).

    Opening refuses (``MetamerDataError``) a folder made with other settings, or holding data without a
    manifest, unless ``overwrite``; the statistics of a folder with the same settings are kept.
    """

    def __init__(self, out_dir: str | Path, settings: dict, overwrite: bool = False):
        self.out_dir = Path(out_dir)
        self.path = manifest_path(self.out_dir)
        self.scenes: dict[str, dict] = self._previous(settings, overwrite)

    def _previous(self, settings: dict, overwrite: bool) -> dict:
        out = self.out_dir
        if self.path.is_file():
            try:
                old = json.loads(self.path.read_text())
            except json.JSONDecodeError:
                old = {}
            before = old.get("settings", {})
            diff = {k: (before.get(k), v) for k, v in settings.items() if before.get(k) != v}
            if diff and not overwrite:
                raise MetamerDataError(
                    f"{out} holds data made with other settings ("
                    + "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in diff.items())
                    + "); pass --overwrite to regenerate it, or --out_name to write another folder")
            return {} if diff else dict(old.get("scenes", {}))
        if out.is_dir() and any(out.iterdir()) and not overwrite:
            if any((out / d).is_dir() and any((out / d).iterdir()) for d in (METAMER_SPEC_DIR, METAMER_RGB_DIR)):
                raise MetamerDataError(f"{out} holds data without a {MANIFEST_NAME} (made by another tool?); "
                                       f"pass --overwrite to regenerate it, or --out_name to write another folder")
        return {}

    def write(self, record: dict, order: Sequence[str]) -> dict:
        """Write ``record`` plus the statistics of the scenes in ``order`` (those known); returns it."""
        from hsi.io import atomic_write_json
        manifest = {**record, "scenes": {s: self.scenes[s] for s in order if s in self.scenes}}
        manifest["pair_bound"] = pair_bound_summary(manifest["scenes"])
        atomic_write_json(self.path, manifest)
        return manifest


class AsyncWriter:
    """File writes in background threads with a bounded queue of pending writes.

    ``submit(fn, *args)`` queues ``fn(*args)``; ``drain()`` waits until at most ``max_pending`` writes
    are pending (``drain(0)``: all; a failed write raises here); ``close()`` lets the started writes
    finish (each is atomic) and stops the threads. ``seconds``: time spent writing, summed over threads.
    """

    def __init__(self, workers: int = 2, max_pending: int = 12):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hsi-write")
        self._pending: list[Future] = []
        self._lock = threading.Lock()
        self.max_pending = max_pending
        self.seconds = 0.0

    def _timed(self, fn: Callable, args, kwargs) -> None:
        t = time.perf_counter()
        fn(*args, **kwargs)
        with self._lock:
            self.seconds += time.perf_counter() - t

    def submit(self, fn: Callable, *args, **kwargs) -> None:
        self._pending.append(self._pool.submit(self._timed, fn, args, kwargs))

    def drain(self, max_pending: int | None = None) -> None:
        limit = self.max_pending if max_pending is None else max_pending
        while len(self._pending) > limit:
            self._pending.pop(0).result()

    def close(self) -> None:
        for f in self._pending:
            try:
                f.result()
            except Exception:        # noqa: BLE001 - a failure is raised by drain on the main path
                pass
        self._pending.clear()
        self._pool.shutdown(wait=True)


@contextlib.contextmanager
def _prefetched(items: Sequence, load: Callable) -> Iterator[Iterator[tuple]]:
    """Iterate ``(item, load(item))`` while the next item is loaded in a background thread."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hsi-read")

    def run():
        nxt = pool.submit(load, items[0]) if items else None
        for i, item in enumerate(items):
            loaded = nxt.result()
            nxt = pool.submit(load, items[i + 1]) if i + 1 < len(items) else None
            yield item, loaded
    try:
        yield run()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Progress:
    """Counters and stage times of one generation run (the manifest's run record)."""

    total: int
    skipped: int
    generated: int = 0
    load: float = 0.0
    metamer: float = 0.0
    render: float = 0.0
    start: float = field(default_factory=time.perf_counter)

    def record(self, base: dict, complete: bool, write_seconds: float) -> dict:
        elapsed = time.perf_counter() - self.start
        stages = {"load": self.load, "metamer": self.metamer, "render": self.render, "write": write_seconds}
        return {**base, "complete": complete, "scenes_total": self.total, "generated": self.generated,
                "skipped": self.skipped, "seconds": round(elapsed, 3),
                "scenes_per_s": round(self.generated / elapsed, 4) if self.generated and elapsed > 0 else None,
                "stage_seconds": {k: round(v, 3) for k, v in stages.items()}}


def _provenance(plan: GenerationPlan) -> dict:
    from hsi.io import provenance
    opts, camera, psf = plan.options, plan.camera, plan.psf
    return provenance(kind="metamer data", options=asdict(opts), settings=plan.settings,
                      dataset_dir=str(plan.dataset_dir), out_dir=str(plan.out_dir), device=str(plan.device),
                      camera={"name": camera.name, "source": camera.source},
                      psf=None if psf is None else {"name": psf.name, "shape": list(psf.kernel.shape),
                                                    "file": str(Path(opts.psf_path) / f"{psf.name}.npz")},
                      formats=list(plan.formats), layout={"spec": METAMER_SPEC_DIR, "rgb": METAMER_RGB_DIR})


def _load_scene(plan: GenerationPlan, item) -> tuple[np.ndarray, np.ndarray | None, float]:
    """The original cube and, when it is reused, the metamer cube on disk; plus the seconds it took."""
    from hsi.io import read_mat_cube
    scene, _, files = item
    t = time.perf_counter()
    cube = _load_cube(plan.dataset_dir, scene, plan.spec_hw)
    met = None
    if not plan.options.overwrite and files["metamer_mat"].is_file():
        met = read_mat_cube(files["metamer_mat"]).cube
        if met.shape != cube.shape:
            raise MetamerDataError(f"{files['metamer_mat']}: shape {met.shape} differs from its original's "
                                   f"{cube.shape}; regenerate with --overwrite")
    return cube, met, time.perf_counter() - t


def _generate_scene(plan: GenerationPlan, item, loaded, store: ManifestStore, writer: AsyncWriter,
                    progress: _Progress) -> None:
    """One scene: ``render_metamer_pair``, its statistics into ``store``, its files to ``writer``."""
    from hsi.io import write_mat_cube, write_rgb
    (scene, split, files), (cube_np, met_np, t_load) = item, loaded
    opts, device = plan.options, plan.device
    progress.load += t_load
    t0 = time.perf_counter()
    cube = torch.from_numpy(cube_np).to(device).unsqueeze(0)
    given = None if met_np is None else torch.from_numpy(met_np).to(device).unsqueeze(0)
    pair = render_metamer_pair(cube, plan.system, alpha=float(opts.alpha), mode=opts.metamer_mode,
                               noise_seed=opts.noise_seed, scenes=[scene], metamer_cube=given, timed=True,
                               paired_noise=opts.paired_noise)
    new = pair.stats(0, plan.formats, opts.jpeg_quality)
    st = new if given is None else {**store.scenes.get(scene, {}), **new}
    st.update(split=split, metamer_mode=opts.metamer_mode)
    progress.metamer += pair.timings["metamer"]
    progress.render += time.perf_counter() - t0 - pair.timings["metamer"]
    if given is None or opts.overwrite or not files["metamer_mat"].is_file():
        writer.submit(write_mat_cube, files["metamer_mat"], pair.metamer_cube[0].float().cpu().numpy())
    for ext in plan.formats:
        for v, dn in zip(VARIANTS, (pair.images[0][0], pair.images[1][0])):
            writer.submit(write_rgb, files[f"{v}_{ext}"], dn, jpeg_quality=opts.jpeg_quality)
    writer.drain()
    st["seconds"] = round(time.perf_counter() - t0 + t_load, 4)
    store.scenes[scene] = st
    progress.generated += 1


def _default_log(msg: str) -> None:
    import sys

    from tqdm import tqdm
    tqdm.write(msg, file=sys.stderr)


def generate_metamer_dataset(opts: GenerateOptions, progress: bool = True,
                             log: Callable[[str], None] | None = None) -> dict:
    """Generate the metamer data of a dataset (see the module docstring for the layout).

    Per scene: load ``Train_Spec/<scene>.mat``; make the metamer (``opts.metamer_mode``, ``opts.alpha``)
    and render original and metamer (``render_metamer_pair``); write the metamer cube and the RGB files
    (``hsi.io``, atomic). Scenes whose files all exist are skipped unless ``opts.overwrite``; when only
    RGB files are missing the metamer cube on disk is used. Reading the next scene and writing run in
    background threads, overlapping the computation. The manifest is updated as it goes.

    Returns:
        The manifest (also written to ``<out_dir>/manifest.json``).
    """
    from tqdm import tqdm

    log = log or _default_log
    plan = plan_generation(opts)
    out, order = plan.out_dir, [s for s, _ in plan.scenes]
    store = ManifestStore(out, plan.settings, opts.overwrite)
    for d in (METAMER_SPEC_DIR, METAMER_RGB_DIR):
        (out / d).mkdir(parents=True, exist_ok=True)
    todo = [(scene, split, files) for scene, split in plan.scenes
            for files in [scene_outputs(out, scene, plan.formats)]
            if opts.overwrite or not all(p.is_file() for p in files.values())]
    run, base = _Progress(total=len(plan.scenes), skipped=len(plan.scenes) - len(todo)), _provenance(plan)
    writer, complete = AsyncWriter(workers=2, max_pending=12), False
    try:
        bar = tqdm(total=run.total, initial=run.skipped, desc=f"{plan.dataset} {out.name}", unit="scene",
                   disable=not progress)
        last_manifest = time.perf_counter()
        with _prefetched(todo, functools.partial(_load_scene, plan)) as scenes:
            for item, loaded in scenes:
                _generate_scene(plan, item, loaded, store, writer, run)
                bar.update(1)
                if time.perf_counter() - last_manifest > 30:
                    writer.drain(0)
                    store.write(run.record(base, False, writer.seconds), order)
                    last_manifest = time.perf_counter()
        writer.drain(0)
        bar.close()
        complete = True
    finally:
        writer.close()
        manifest = store.write(run.record(base, complete, writer.seconds), order)
    if run.generated:
        log(f"[{plan.dataset}] {run.generated} scene(s) generated, {run.skipped} skipped, "
            f"{manifest['scenes_per_s']} scenes/s on {plan.device} -> {out}")
    else:
        log(f"[{plan.dataset}] nothing to do: {run.skipped} scene(s) complete in {out} (use --overwrite to regenerate)")
    return manifest


def summarise_manifest(manifest: dict) -> dict:
    """Dataset-level statistics of a generation manifest's per-scene entries.

    Returns ``scenes``, ``dn_max_abs_diff`` (largest over scenes, 8-bit DN), ``dn_mean_abs_diff``,
    ``spectral_rmse`` and ``clipped_fraction`` (means over scenes) and ``rgb_rel_dev_max``.
    """
    sc = list(manifest.get("scenes", {}).values())
    if not sc:
        return {"scenes": 0}

    def mean(key):
        vals = [s[key] for s in sc if s.get(key) is not None]
        return float(np.mean(vals)) if vals else None
    return {"scenes": len(sc), "dn_max_abs_diff": max(int(s.get("dn_max_abs_diff", 0)) for s in sc),
            "dn_mean_abs_diff": mean("dn_mean_abs_diff"), "spectral_rmse": mean("spectral_rmse"),
            "clipped_fraction": mean("clipped_fraction"),
            "rgb_rel_dev_max": max(float(s.get("rgb_rel_dev", 0.0)) for s in sc)}


def pair_bound_summary(scenes: dict) -> dict:
    """The dataset-level ``pair_bound`` of a generation manifest's ``scenes`` entries.

    Returns ``{"valid": {RMSE, SAM, MRAE}, "all": {...}`` (means of the per-scene ``pair_distance``
    bounds over the valid-split scenes and over all scenes; None where there are none),
    ``"scenes"``, ``"valid_scenes"``, ``"rgb_identical_scenes"`` (counts) and ``"strict"``: every scene's
    images are byte-identical in every written format, so the bound holds exactly for any RGB-only
    method (otherwise it is approximate: clipped metamers, independent noise or rounding flips).
    """
    entries = [e for e in scenes.values() if "pair_distance" in e]

    def means(rows):
        if not rows:
            return None
        return {k: float(np.mean([r["pair_distance"][k] for r in rows])) for k in ("RMSE", "SAM", "MRAE")}
    identical = [bool(e.get("rgb_identical")) and all(e["rgb_identical"].values()) for e in entries]
    valid = [e for e in entries if e.get("split") == "valid"]
    return {"valid": means(valid), "all": means(entries), "scenes": len(entries), "valid_scenes": len(valid),
            "rgb_identical_scenes": int(sum(identical)),
            "strict": bool(entries) and len(entries) == len(scenes) and all(identical)}
