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
                                                          and source fingerprints (``sources``)

for the scenes of the train list, then the valid list (each sorted), as the paper's script does. Unlike
the paper's script it never deletes anything: scenes whose outputs exist are skipped (``overwrite``
regenerates them, replacing each file atomically), and a folder made with other settings is refused
(``ManifestStore``). Reading the next scene and writing run in background threads (``AsyncWriter``).
The folder is locked for the run (``hsi.io.lock``); a scene counts as done only when its files are whole
(``hsi.io.integrity``), its record is in the manifest and its source cube (size + mtime, SHA-256) and the
settings are those it was made from, so a killed run resumes and a changed source is regenerated.

Noise: each image draws from its own generator seeded by ``hsi.render.scene_seed(noise_seed, scene,
variant)`` (variant ``"original"`` or ``"metamer"``), so images are independent and reproducible (the
paper reseeds one stream for every image, defect D18). Each image gets its own auto-exposure.
"""
from __future__ import annotations

import contextlib
import functools
import errno
import hashlib
import json
import math
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from hsi.device import resolve_device
from hsi.errors import ToolkitError
from hsi.imaging import ImagingSystem, as_system
from hsi.layout import (MANIFEST_NAME, METAMER_RGB_DIR, METAMER_SPEC_DIR, SPEC_DIR, VARIANTS, format_npe,  # noqa: F401
                        manifest_path, psf_label, scene_outputs, spec_path, variant_dir_name)
from hsi.metamer import METAMER_MODES, MetamerResult, camera_deviation
from hsi.render import RenderConfig, RenderResult, make_generators, scene_seed

# METAMER_SPEC_DIR, METAMER_RGB_DIR, MANIFEST_NAME, VARIANTS, format_npe, psf_label, variant_dir_name and
# scene_outputs live in hsi.layout; they are re-exported here for older importers.
RGB_FORMAT_CHOICES = ("png", "jpg", "all")


class MetamerDataError(ToolkitError, ValueError):
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
    if paired_noise:
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


PAIRED_SIGNAL_RTOL = 1e-6
"""Camera-signal differences (relative to the image's peak) that paired rendering treats as zero: the
documented accuracy of ``exact`` / ``exact_optics`` metamers (their residual), far below one DN step."""


def _render_paired_noise(system: ImagingSystem, cube: torch.Tensor, metamer_cube: torch.Tensor,
                         generators: list[torch.Generator]) -> tuple[RenderResult, RenderResult]:
    """``render_pair`` with one noise realisation per pair: the original is rendered exactly as
    ``render_rgb`` does with ``generators`` (one per image); its metamer gets the same realisation,
    ``noisy_m = max(noisy_s + (clean_m - clean_s), 0)``, then its own auto-exposure and quantisation.
    Signal differences below ``PAIRED_SIGNAL_RTOL`` of the image's peak (the accuracy of ``exact``
    metamers: float rounding, not physics) are set to zero, so an exact metamer gets exactly its
    original's signal and byte-identical images; ``npe = 0``: no noise, the same rule.
    (The same seed for both would not do: Poisson sampling consumes a rate-dependent number of random
    numbers, so two streams drift apart after the first value whose rate differs in the last bit.)"""
    from hsi.render import add_noise, expose_and_quantise
    cfg, n = system.config, cube.shape[0]
    clean = system.camera_signal(torch.cat([cube, metamer_cube]), clip=True)       # as render_rgb: clipped
    clean_s, delta = clean[:n], clean[n:] - clean[:n]
    peak = clean_s.amax(dim=(1, 2, 3), keepdim=True)
    delta = torch.where(delta.abs() <= PAIRED_SIGNAL_RTOL * peak, torch.zeros_like(delta), delta)
    noisy_s = add_noise(clean_s, cfg.npe, cfg.noise_type, cfg.div_factor_to_1pe, generators) if cfg.npe > 0 else clean_s
    noisy_m = (noisy_s + delta).clamp_min(0)
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
        exposure_target: auto-exposure target in (0, 1] (None: the dataset's, ``hsi.datasets``).
        cube_values: ``refuse`` (default) a source cube with NaN/Inf, negative values, values above 1 or
            only zeros (``hsi.convert.cube_value_problem``, naming the file and the fix), or ``warn`` and
            generate from it as the paper's code does.
        paired_noise: the metamer gets its original's noise realisation (``render_pair``); default independent.
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
    cube_values: str = "refuse"
    paired_noise: bool = False

    def render_config(self, dataset_exposure_target: float) -> RenderConfig:
        """The rendering settings (``exposure_target`` None: the dataset's); raises ``MetamerDataError``."""
        try:
            cfg = RenderConfig(psf_boundary=self.psf_boundary, noise_type=self.noise_type, npe=float(self.npe),
                               div_factor_to_1pe=float(self.div_factor_to_1pe),
                               exposure_target=float(dataset_exposure_target if self.exposure_target is None
                                                     else self.exposure_target),
                               quantize=self.quantize)
        except ValueError as exc:
            raise MetamerDataError(str(exc)) from None
        if cfg.quantize == "none":
            raise MetamerDataError("quantize 'none' cannot be written to 8-bit files; use truncate or round")
        return cfg


CUBE_VALUE_POLICIES = ("refuse", "warn")


def check_options(opts: GenerateOptions) -> None:
    """Refuse option values outside their range (``MetamerDataError`` naming the option), before any work."""
    def finite(name, lo=None, lo_open=False, hi=None):
        v = getattr(opts, name)
        try:
            ok = math.isfinite(float(v))
        except (TypeError, ValueError):
            ok = False
        if ok and lo is not None:
            ok = float(v) > lo if lo_open else float(v) >= lo
        if ok and hi is not None:
            ok = float(v) <= hi
        if not ok:
            rng = "" if lo is None else f" in {'(' if lo_open else '['}{lo:g}, {'inf)' if hi is None else f'{hi:g}]'}"
            raise MetamerDataError(f"{name} must be a finite number{rng}, got {v!r}")
    finite("alpha")
    finite("npe", 0)
    finite("div_factor_to_1pe", 0, lo_open=True)
    if opts.exposure_target is not None:
        finite("exposure_target", 0, lo_open=True, hi=1)
    try:
        quality_ok = not isinstance(opts.jpeg_quality, bool) and int(opts.jpeg_quality) == opts.jpeg_quality \
            and 1 <= int(opts.jpeg_quality) <= 100
    except (TypeError, ValueError):
        quality_ok = False
    if not quality_ok:
        raise MetamerDataError(f"jpeg_quality must be an integer in 1..100, got {opts.jpeg_quality!r}")
    if opts.metamer_mode not in METAMER_MODES:
        raise MetamerDataError(f"metamer_mode must be one of {METAMER_MODES}, got {opts.metamer_mode!r}")
    if opts.metamer_mode == "exact_optics" and opts.psf_boundary == "linear":
        raise MetamerDataError("metamer_mode exact_optics needs a periodic boundary (--psf_boundary circular or "
                               "periodic): through a zero-padded PSF the camera signal is not a per-frequency system")
    if opts.cube_values not in CUBE_VALUE_POLICIES:
        raise MetamerDataError(f"cube_values must be one of {CUBE_VALUE_POLICIES}, got {opts.cube_values!r}")
    rgb_formats(opts.rgb_format)


def _sha256(arr: np.ndarray) -> str:
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
        MetamerDataError (a ValueError): unknown dataset (lists the known ones), bad option values
            (``check_options``), missing ``Train_Spec`` files.
        hsi.datasets.SplitListError: a missing or bad split list.
        hsi.optics.PSFNotFoundError: unknown PSF (lists the available ones); ``PSFError``: bad PSF file.
        hsi.camera.CameraError: unknown camera or bad response file.
    """
    from hsi.datasets import dataset_dir, get_dataset_spec

    try:
        spec = get_dataset_spec(opts.dataset_name, opts.dataset_path)
    except ValueError as exc:
        raise MetamerDataError(str(exc)) from None
    check_options(opts)
    formats = rgb_formats(opts.rgb_format)
    ddir = dataset_dir(opts.dataset_path, spec.name)
    scenes = _ordered_scenes(ddir, opts.limit)
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


def _load_cube(ddir: Path, scene: str, spec_hw: tuple[int, int], cube_values: str = "refuse",
               log: Callable[[str], None] | None = None) -> np.ndarray:
    """``Train_Spec/<scene>.mat``, its shape and values checked (``hsi.convert.cube_value_problem``)."""
    from hsi.convert import cube_value_problem
    from hsi.io import read_mat_cube
    path = spec_path(ddir, scene)
    cube = read_mat_cube(path, check_values=False).cube
    if spec_hw[0] and cube.shape[1:] != spec_hw:
        raise MetamerDataError(f"{path}: cube of shape {cube.shape} (bands, H, W), expected (31, {spec_hw[0]}, "
                               f"{spec_hw[1]}) for this dataset")
    problem = cube_value_problem(cube)
    if problem and cube_values == "refuse":
        raise MetamerDataError(f"{path}: {problem} (or pass --cube_values warn to generate from it as the paper's "
                               "code does)")
    if problem and log is not None:
        log(f"warning: {path}: {problem}; generating from it anyway (--cube_values warn)")
    return cube


# --------------------------------------------------------------------------------- fingerprints
SOURCES_KEY = "sources"
"""The manifest section with, per scene, the fingerprint of its source cube and of the settings."""


def source_fingerprint(path: str | Path, known: dict | None = None) -> dict:
    """``{size, mtime_ns, sha256}`` of a file; the SHA-256 of its bytes is taken from ``known`` when its
    size and ``mtime_ns`` are unchanged (so an unchanged source is not read again)."""
    st = Path(path).stat()
    if known and known.get("size") == st.st_size and known.get("mtime_ns") == st.st_mtime_ns and known.get("sha256"):
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": known["sha256"]}
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest.hexdigest()}


def settings_digest(settings: dict) -> str:
    """A short digest of a generation's settings (the manifest's ``settings``), recorded per scene."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class _SceneCheck:
    """Why a scene is (re)generated (``reason``; None: its outputs are whole and up to date), whether its
    metamer cube on disk can be reused, and an updated source record (same content, new mtime)."""

    reason: str | None
    reuse_metamer: bool = False
    source: dict | None = None


def _whole(path: Path | None) -> str | None:
    """None when ``path`` is a whole file (``hsi.io.integrity.check_files``), else what is wrong."""
    from hsi.io.integrity import CorruptFileError, check_files
    if path is None:
        return "missing"
    try:
        check_files([path])
    except CorruptFileError as exc:
        return str(exc)
    return None


def _check_scene(plan: GenerationPlan, scene: str, files: dict[str, Path], scenes: dict, sources: dict,
                 legacy: bool) -> _SceneCheck:
    """Compare one scene's outputs, its record and its source cube (reads only; hashes a source only
    when its size or mtime changed). ``legacy``: the manifest predates source fingerprints; its scenes
    are adopted when their source is older than their outputs."""
    if plan.options.overwrite:
        return _SceneCheck("--overwrite")
    present = {k: p for k, p in files.items() if p.is_file()}
    if not present:
        return _SceneCheck("not generated yet")
    src, rec, updated = spec_path(plan.dataset_dir, scene), sources.get(scene), None
    digest = settings_digest(plan.settings)
    if scene not in scenes or (rec is None and not legacy):
        return _SceneCheck("no record of a finished generation (an interrupted run)")
    if rec is None:
        if src.stat().st_mtime_ns > min(p.stat().st_mtime_ns for p in present.values()):
            return _SceneCheck("its source cube is newer than its outputs (folder made before fingerprints)")
        updated = {**source_fingerprint(src), "settings": digest}
    elif rec.get("settings") != digest:
        return _SceneCheck("made with other settings (an interrupted --overwrite)")
    else:
        fp = source_fingerprint(src, rec)
        if fp["sha256"] != rec.get("sha256"):
            return _SceneCheck("its source cube changed since it was generated (content hash differs)")
        if (fp["size"], fp["mtime_ns"]) != (rec.get("size"), rec.get("mtime_ns")):
            updated = {**fp, "settings": digest}
    problems = {k: _whole(present.get(k)) for k in files}
    if not any(problems.values()):
        return _SceneCheck(None, source=updated)
    damaged = [msg for msg in problems.values() if msg and msg != "missing"]
    return _SceneCheck(f"damaged output: {damaged[0]}" if damaged else "outputs missing",
                       reuse_metamer=problems["metamer_mat"] is None, source=updated)


def read_manifest(path: str | Path) -> dict | None:
    """A generation manifest as a dict, or None when it is missing or not valid JSON."""
    try:
        man = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return man if isinstance(man, dict) else None


def _settings_diff(before: dict, settings: dict) -> dict:
    return {k: (before.get(k), v) for k, v in settings.items() if before.get(k) != v}


def _disk_nearly_full(path) -> bool:
    try:
        return path is not None and shutil.disk_usage(Path(path).parent).free < (1 << 20)
    except OSError:
        return False


def _write_failed(exc: Exception, path) -> Exception:
    """A full disk / read-only folder as a ``MetamerDataError`` naming the file; other errors unchanged.

    Writers that do not pass the OS error on (OpenCV, HDF5) are recognised by the free space left."""
    code = getattr(exc, "errno", None)
    what = {errno.ENOSPC: "the disk is full (no space left on device)", errno.EDQUOT: "the disk quota is exceeded",
            errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied"}.get(code)
    if what is None and _disk_nearly_full(path):
        what = "the disk is full (less than 1 MiB left)"
    if what is None:
        return exc
    return MetamerDataError(f"{path or getattr(exc, 'filename', None)}: cannot be written: {what}; free space or "
                            "choose a writable folder (--dataset_path / --out_name). Nothing partial is left under a "
                            "final name; the scenes finished so far are kept and a re-run resumes")


# --------------------------------------------------------------------------------- the dataset
class ManifestStore:
    """The ``manifest.json`` of one generated folder: checked against the settings when opened, the
    per-scene statistics (``scenes``) and source fingerprints (``sources``) kept, written atomically
    with a run record (``write``).

    Opening refuses (``MetamerDataError``) a folder made with other settings, or holding data without a
    manifest, unless ``overwrite``; the records of a folder with the same settings are kept. A scene's
    record enters only when all of its files are written (``stage`` then ``commit``).
    """

    def __init__(self, out_dir: str | Path, settings: dict, overwrite: bool = False):
        self.out_dir = Path(out_dir)
        self.path = manifest_path(self.out_dir)
        self.previous: dict = {}
        self.scenes: dict[str, dict] = self._previous(settings, overwrite)
        self.sources: dict[str, dict] = dict(self.previous.get(SOURCES_KEY, {}))
        self.legacy = bool(self.previous) and SOURCES_KEY not in self.previous
        self._staged: list[tuple[str, dict, dict | None, list[Future]]] = []

    def _previous(self, settings: dict, overwrite: bool) -> dict:
        out = self.out_dir
        if self.path.is_file():
            old = read_manifest(self.path) or {}
            diff = _settings_diff(old.get("settings", {}), settings)
            if diff and not overwrite:
                raise MetamerDataError(
                    f"{out} holds data made with other settings ("
                    + "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in diff.items())
                    + "); pass --overwrite to regenerate it, or --out_name to write another folder")
            self.previous = {} if diff else old
            return dict(self.previous.get("scenes", {}))
        if out.is_dir() and any(out.iterdir()) and not overwrite:
            if any((out / d).is_dir() and any((out / d).iterdir()) for d in (METAMER_SPEC_DIR, METAMER_RGB_DIR)):
                raise MetamerDataError(f"{out} holds data without a {MANIFEST_NAME} (made by another tool?); "
                                       f"pass --overwrite to regenerate it, or --out_name to write another folder")
        return {}

    @property
    def previous_record(self) -> dict:
        """The run record of the manifest on disk (its timing and counters), without the scene records."""
        return {k: v for k, v in self.previous.items() if k not in ("scenes", SOURCES_KEY)}

    def stage(self, scene: str, stats: dict, source: dict | None, writes: Sequence[Future]) -> None:
        """Hold a scene's record until its file writes (``AsyncWriter`` futures) have finished."""
        self._staged.append((scene, stats, source, list(writes)))

    def commit(self) -> None:
        """Record the staged scenes whose writes all succeeded; drop those with a failed write."""
        keep = []
        for scene, stats, source, writes in self._staged:
            if not all(f.done() for f in writes):
                keep.append((scene, stats, source, writes))
            elif not any(f.exception() for f in writes):
                self.scenes[scene] = stats
                if source is not None:
                    self.sources[scene] = source
        self._staged = keep

    def write(self, record: dict, order: Sequence[str]) -> dict:
        """Write ``record`` plus the records of the scenes in ``order`` (those known); returns it."""
        from hsi.io import atomic_write_json
        manifest = {**record, "scenes": {s: self.scenes[s] for s in order if s in self.scenes},
                    SOURCES_KEY: {s: self.sources[s] for s in order if s in self.sources and s in self.scenes}}
        manifest["pair_bound"] = pair_bound_summary(manifest["scenes"])
        try:
            atomic_write_json(self.path, manifest)
        except OSError as exc:
            raise _write_failed(exc, self.path) from exc
        return manifest


class AsyncWriter:
    """File writes in background threads with a bounded queue of pending writes.

    ``submit(fn, *args)`` queues ``fn(*args)`` and returns its future; ``drain()`` waits until at most
    ``max_pending`` writes are pending (``drain(0)``: all; a failed write raises here, a full disk as a
    ``MetamerDataError`` naming the file); ``close()`` lets the started writes finish (each is atomic) and
    stops the threads. ``seconds``: time spent writing, summed over threads.
    """

    def __init__(self, workers: int = 2, max_pending: int = 12):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hsi-write")
        self._pending: list[Future] = []
        self._lock = threading.Lock()
        self.max_pending = max_pending
        self.seconds = 0.0

    def _timed(self, fn: Callable, args, kwargs) -> None:
        t = time.perf_counter()
        try:
            fn(*args, **kwargs)
        except (OSError, ToolkitError) as exc:         # ToolkitError: e.g. RGBFileError when OpenCV cannot write
            raise _write_failed(exc, args[0] if args else None) from exc
        with self._lock:
            self.seconds += time.perf_counter() - t

    def submit(self, fn: Callable, *args, **kwargs) -> Future:
        fut = self._pool.submit(self._timed, fn, args, kwargs)
        self._pending.append(fut)
        return fut

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


def _run_record(store: ManifestStore, run: _Progress, base: dict, complete: bool, write_seconds: float) -> dict:
    """This run's record, or, while it has generated nothing, the record on disk (its timing is kept)."""
    if run.generated == 0 and store.previous_record:
        return {**store.previous_record, "complete": complete, "scenes_total": run.total}
    return run.record(base, complete, write_seconds)


def _provenance(plan: GenerationPlan) -> dict:
    from hsi.io import provenance
    opts, camera, psf = plan.options, plan.camera, plan.psf
    return provenance(kind="metamer data", options=asdict(opts), settings=plan.settings,
                      dataset_dir=str(plan.dataset_dir), out_dir=str(plan.out_dir), device=str(plan.device),
                      camera={"name": camera.name, "source": camera.source},
                      psf=None if psf is None else {"name": psf.name, "shape": list(psf.kernel.shape),
                                                    "file": str(Path(opts.psf_path) / f"{psf.name}.npz")},
                      formats=list(plan.formats), layout={"spec": METAMER_SPEC_DIR, "rgb": METAMER_RGB_DIR})


def _load_scene(plan: GenerationPlan, item, log=None) -> tuple[np.ndarray, np.ndarray | None, float, dict]:
    """The original cube, the metamer cube on disk when it is reused, the seconds it took and the source's
    fingerprint (with the settings digest: the scene's ``sources`` record)."""
    from hsi.io import read_mat_cube
    scene, _, files, reuse = item
    t = time.perf_counter()
    source = {**source_fingerprint(spec_path(plan.dataset_dir, scene)), "settings": settings_digest(plan.settings)}
    cube = _load_cube(plan.dataset_dir, scene, plan.spec_hw, plan.options.cube_values, log)
    met = None
    if reuse and not plan.options.overwrite and files["metamer_mat"].is_file():
        met = read_mat_cube(files["metamer_mat"]).cube
        if met.shape != cube.shape:
            raise MetamerDataError(f"{files['metamer_mat']}: shape {met.shape} differs from its original's "
                                   f"{cube.shape}; regenerate with --overwrite")
    return cube, met, time.perf_counter() - t, source


def _generate_scene(plan: GenerationPlan, item, loaded, store: ManifestStore, writer: AsyncWriter,
                    progress: _Progress) -> None:
    """One scene: ``render_metamer_pair``, its files to ``writer``, its record staged in ``store``."""
    from hsi.io import write_mat_cube, write_rgb
    (scene, split, files, _), (cube_np, met_np, t_load, source) = item, loaded
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
    writes = []
    if given is None or opts.overwrite or not files["metamer_mat"].is_file():
        writes.append(writer.submit(write_mat_cube, files["metamer_mat"], pair.metamer_cube[0].float().cpu().numpy()))
    for ext in plan.formats:
        for v, dn in zip(VARIANTS, (pair.images[0][0], pair.images[1][0])):
            writes.append(writer.submit(write_rgb, files[f"{v}_{ext}"], dn, jpeg_quality=opts.jpeg_quality))
    writer.drain()
    st["seconds"] = round(time.perf_counter() - t0 + t_load, 4)
    store.stage(scene, st, source, writes)
    progress.generated += 1


def _default_log(msg: str) -> None:
    import sys

    from tqdm import tqdm
    tqdm.write(msg, file=sys.stderr)


MANIFEST_INTERVAL_S = 2.0
"""Seconds between manifest updates while scenes finish (each update is one atomic write)."""


def _scenes_to_generate(plan: GenerationPlan, store: ManifestStore, log: Callable[[str], None]) -> list[tuple]:
    """``(scene, split, files, reuse_metamer)`` of the scenes to (re)generate; logs which and why."""
    todo, why, adopted = [], {}, 0
    for scene, split in plan.scenes:
        files = scene_outputs(plan.out_dir, scene, plan.formats)
        chk = _check_scene(plan, scene, files, store.scenes, store.sources, store.legacy)
        if chk.source is not None:
            adopted += scene not in store.sources
            store.sources[scene] = chk.source
        if chk.reason:
            todo.append((scene, split, files, chk.reuse_metamer))
            why.setdefault(chk.reason, []).append(scene)
    for reason, scenes in why.items():
        if reason not in ("not generated yet", "--overwrite"):
            log(f"[{plan.dataset}] regenerating {len(scenes)} scene(s) ({', '.join(scenes[:5])}"
                f"{', ...' if len(scenes) > 5 else ''}): {reason}")
    if adopted:
        log(f"[{plan.dataset}] recorded the source fingerprints of {adopted} scene(s) of a folder made before they "
            "were kept (their sources are older than their outputs)")
    return todo


def _completed(plan: GenerationPlan) -> tuple[dict, dict] | None:
    """``(manifest, refreshed source records)`` when the folder needs no work: complete, same settings,
    every scene's files whole and its source unchanged. Reads only (nothing is locked or written)."""
    man = read_manifest(manifest_path(plan.out_dir))
    if not man or not man.get("complete") or _settings_diff(man.get("settings", {}), plan.settings):
        return None
    scenes, sources, refreshed = man.get("scenes", {}), man.get(SOURCES_KEY, {}), {}
    for scene, _ in plan.scenes:
        chk = _check_scene(plan, scene, scene_outputs(plan.out_dir, scene, plan.formats), scenes, sources,
                           SOURCES_KEY not in man)
        if chk.reason:
            return None
        if chk.source is not None:
            refreshed[scene] = chk.source
    return man, refreshed


def _save_refreshed(plan: GenerationPlan, refreshed: dict, log: Callable[[str], None]) -> None:
    """Record new source fingerprints (same content, new mtime) when the folder can be written; else skip."""
    from hsi.io.lock import FolderNotWritableError, OutputLockedError, output_lock
    try:
        with output_lock(plan.out_dir, "metamer generation"):
            store = ManifestStore(plan.out_dir, plan.settings)
            store.sources.update(refreshed)
            store.write(store.previous_record, [s for s, _ in plan.scenes])
    except (FolderNotWritableError, OutputLockedError, MetamerDataError) as exc:
        log(f"[{plan.dataset}] source fingerprints not updated ({exc}); they are checked again next time")


def _run_scenes(plan: GenerationPlan, store: ManifestStore, todo: list, progress: bool, log) -> dict:
    """Generate ``todo`` (with the folder held), updating the manifest as scenes finish; returns it."""
    from tqdm import tqdm

    out, order = plan.out_dir, [s for s, _ in plan.scenes]
    run, base = _Progress(total=len(plan.scenes), skipped=len(plan.scenes) - len(todo)), _provenance(plan)
    for d in (METAMER_SPEC_DIR, METAMER_RGB_DIR):
        (out / d).mkdir(parents=True, exist_ok=True)
    writer, complete = AsyncWriter(workers=2, max_pending=12), False
    store.write(_run_record(store, run, base, False, 0.0), order)          # before the first scene
    try:
        bar = tqdm(total=run.total, initial=run.skipped, desc=f"{plan.dataset} {out.name}", unit="scene",
                   disable=not progress)
        last = time.perf_counter()
        with _prefetched(todo, functools.partial(_load_scene, plan, log=log)) as scenes:
            for item, loaded in scenes:
                _generate_scene(plan, item, loaded, store, writer, run)
                bar.update(1)
                if time.perf_counter() - last > MANIFEST_INTERVAL_S:
                    writer.drain(0)
                    store.commit()
                    store.write(_run_record(store, run, base, False, writer.seconds), order)
                    last = time.perf_counter()
        writer.drain(0)
        bar.close()
        complete = True
    finally:
        writer.close()
        store.commit()
        record = _run_record(store, run, base, complete, writer.seconds)
        if complete:
            manifest = store.write(record, order)
        else:   # keep the scenes that finished; the error on its way out is the one to report
            with contextlib.suppress(OSError, MetamerDataError):
                store.write(record, order)
    if not run.generated:      # the record on disk is the last real run's; this call's counters returned
        return {**manifest, "generated": 0, "skipped": run.skipped}
    log(f"[{plan.dataset}] {run.generated} scene(s) generated, {run.skipped} skipped, "
        f"{manifest['scenes_per_s']} scenes/s on {plan.device} -> {out}")
    return manifest


def generate_metamer_dataset(opts: GenerateOptions, progress: bool = True,
                             log: Callable[[str], None] | None = None) -> dict:
    """Generate the metamer data of a dataset (see the module docstring for the layout).

    Per scene: load ``Train_Spec/<scene>.mat`` (values checked, ``opts.cube_values``); make the metamer
    (``opts.metamer_mode``, ``opts.alpha``) and render original and metamer (``render_metamer_pair``);
    write the metamer cube and the RGB files (``hsi.io``, atomic). The variant folder is held
    (``hsi.io.lock.output_lock``) for the whole run; temporary files of killed writes are removed first.
    A scene is skipped when its files are whole (``hsi.io.integrity``), its record is in the manifest and
    its source cube and the settings are those it was made from (size + mtime, then SHA-256); otherwise it
    is regenerated (logged with the reason); when only RGB files are missing the metamer cube on disk is
    used. ``opts.overwrite`` regenerates everything. The manifest is written before the first scene and
    every ``MANIFEST_INTERVAL_S`` as scenes finish, so a killed run resumes. A folder with nothing to do
    is only read: nothing is locked or written and its manifest keeps the real run's timing.

    Returns:
        The manifest (as written to ``<out_dir>/manifest.json``; with nothing to do, the one on disk
        with this call's ``generated`` 0 and ``skipped``).
    """
    from hsi.io.integrity import remove_stale_temp_files
    from hsi.io.lock import output_lock

    log = log or _default_log
    plan = plan_generation(opts)
    out = plan.out_dir
    done = None if opts.overwrite else _completed(plan)
    if done is not None:
        manifest, refreshed = done
        if refreshed:
            _save_refreshed(plan, refreshed, log)
        log(f"[{plan.dataset}] nothing to do: {len(plan.scenes)} scene(s) complete in {out} "
            "(use --overwrite to regenerate)")
        return {**manifest, "generated": 0, "skipped": len(plan.scenes)}
    with output_lock(out, "metamer generation"):
        for stale in remove_stale_temp_files(out):
            log(f"[{plan.dataset}] removed {stale}, the temporary file of an interrupted write")
        store = ManifestStore(out, plan.settings, opts.overwrite)
        todo = _scenes_to_generate(plan, store, log)
        manifest = _run_scenes(plan, store, todo, progress, log)
    if not todo:
        log(f"[{plan.dataset}] nothing to do: {len(plan.scenes)} scene(s) complete in {out}")
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
