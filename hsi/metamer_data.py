"""Metamer data: original + metamer spectra rendered to RGB, one scene at a time or as a whole dataset.

``render_metamer_pair`` is the single place where a cube's metamer is made (``hsi.metamer``) and both
are rendered (``hsi.render``); the on-disk generator below and the training code's on-the-fly path use
it. ``generate_metamer_dataset`` writes the paper's layout so that the paper's scripts and data
interoperate::

    <dataset_path>/<NAME>/<noise_type><npe>_<psf_name>/
        Train_Metamer_Spec/<scene>_metamer.mat            metamer cube, same format as Train_Spec
        Train_Metamer_RGB/<scene>_original.{png,jpg}      RGB rendered from the original cube
        Train_Metamer_RGB/<scene>_metamer.{png,jpg}       RGB rendered from the metamer
        manifest.json                                     flags, camera, PSF, versions, per-scene statistics

for the scenes of the train list, then the valid list (each sorted), as the paper's script does. Unlike
the paper's script it never deletes anything: scenes whose outputs exist are skipped (``overwrite``
regenerates them, replacing each file atomically), and a folder made with other settings is refused.

Noise: each image draws from its own generator seeded by ``hsi.render.scene_seed(noise_seed, scene,
variant)`` (variant ``"original"`` or ``"metamer"``), so images are independent and reproducible (the
paper reseeds one stream for every image, defect D18). Each image gets its own auto-exposure.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from hsi.device import resolve_device
from hsi.metamer import METAMER_MODES, MetamerResult, make_metamer
from hsi.render import RenderConfig, RenderResult, make_generators, render_rgb, scene_seed

METAMER_SPEC_DIR = "Train_Metamer_Spec"
METAMER_RGB_DIR = "Train_Metamer_RGB"
MANIFEST_NAME = "manifest.json"
VARIANTS = ("original", "metamer")
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
    """

    metamer: MetamerResult | None
    metamer_cube: torch.Tensor
    original: RenderResult
    rendered_metamer: RenderResult

    def dn_max_abs_diff(self) -> torch.Tensor:
        """``(N,)`` largest ``|DN_original - DN_metamer|`` (includes noise when ``npe > 0``)."""
        return (self.original.dn - self.rendered_metamer.dn).abs().amax(dim=(1, 2, 3))


def noise_generators(scenes: Sequence[str], variant: str, noise_seed: int, device) -> list[torch.Generator]:
    """One generator per scene, seeded by ``scene_seed(noise_seed, scene, variant)``."""
    return make_generators([scene_seed(noise_seed, s, variant) for s in scenes], device)


def render_pair(cube: torch.Tensor, metamer_cube: torch.Tensor, srf, psf=None, config: RenderConfig = RenderConfig(),
                noise_seed: int = 0, scenes: Sequence[str] | None = None) -> tuple[RenderResult, RenderResult]:
    """Render originals and metamers through the same pipeline in one batch.

    Args:
        cube, metamer_cube: ``(N, bands, H, W)`` radiance (or ``(bands, H, W)``), same device.
        srf: ``(bands, 3)`` camera response.
        psf: ``(bands, h, w)`` PSF kernel or None.
        config: ``hsi.render.RenderConfig``.
        noise_seed: run seed of the per-image noise streams (used when ``config.npe > 0``).
        scenes: ``N`` scene ids for the noise streams (default ``"0"``, ``"1"``, ...).

    Returns:
        ``(original, metamer)`` ``RenderResult`` s, each with its own per-image auto-exposure.
    """
    if cube.ndim == 3:
        cube = cube.unsqueeze(0)
    if metamer_cube.ndim == 3:
        metamer_cube = metamer_cube.unsqueeze(0)
    n = cube.shape[0]
    scenes = [str(i) for i in range(n)] if scenes is None else [str(s) for s in scenes]
    if len(scenes) != n or metamer_cube.shape != cube.shape:
        raise ValueError(f"{len(scenes)} scene ids for {n} cubes, metamer shape {tuple(metamer_cube.shape)} "
                         f"vs cube shape {tuple(cube.shape)}")
    gens = None
    if config.npe > 0:
        gens = (noise_generators(scenes, "original", noise_seed, cube.device)
                + noise_generators(scenes, "metamer", noise_seed, cube.device))
    srf_t = torch.as_tensor(srf, device=cube.device, dtype=cube.dtype)
    psf_t = None if psf is None else torch.as_tensor(psf).to(cube.device)
    both = render_rgb(torch.cat([cube, metamer_cube.to(cube.dtype)]), srf_t, psf_t, config, generator=gens)
    split = [RenderResult(dn=both.dn[sl], signal=both.signal[sl], gain=both.gain[sl], config=config)
             for sl in (slice(0, n), slice(n, 2 * n))]
    return split[0], split[1]


def render_metamer_pair(cube: torch.Tensor, srf, psf=None, *, alpha=0.0, mode: str = "clip",
                        config: RenderConfig = RenderConfig(), noise_seed: int = 0,
                        scenes: Sequence[str] | None = None, **metamer_kwargs) -> MetamerPair:
    """Make the alpha-metamer of ``cube`` and render both through the camera, the PSF and the noise.

    Args:
        cube: ``(N, bands, H, W)`` (or ``(bands, H, W)``) radiance, float32, CPU or CUDA.
        srf: ``(bands, 3)`` camera response.
        psf: ``(bands, h, w)`` PSF kernel or None.
        alpha: metameric-black coefficient, scalar or ``(N,)``.
        mode: ``"clip"`` (the paper's) or ``"exact"`` (``hsi.metamer``).
        config: rendering settings.
        noise_seed, scenes: per-image noise streams (see ``render_pair``).
        metamer_kwargs: passed to ``hsi.metamer.make_metamer`` (e.g. ``max_iter`` for exact).
    """
    if cube.ndim == 3:
        cube = cube.unsqueeze(0)
    srf_t = torch.as_tensor(srf, device=cube.device)
    met = make_metamer(cube, srf_t, alpha, mode=mode, **metamer_kwargs)
    original, rendered = render_pair(cube, met.cube, srf_t, psf, config, noise_seed, scenes)
    return MetamerPair(metamer=met, metamer_cube=met.cube, original=original, rendered_metamer=rendered)


# --------------------------------------------------------------------------------- the dataset
def format_npe(npe: float) -> str:
    """``npe`` as in the paper's folder names: ``0``, ``1000`` (integers without a decimal point)."""
    f = float(npe)
    return str(int(f)) if f.is_integer() else repr(f)


def psf_label(psf_name: str | None) -> str:
    """The PSF part of the paper's folder names: ``None``, or the PSF's name (stem of a ``.npz`` path)."""
    if psf_name is None or str(psf_name).strip() in ("", "None", "none"):
        return "None"
    psf = Path(str(psf_name)).name  # a name ("double_gauss_50mm_F1.8": the dot is part of it) or a path
    return psf[:-4] if psf.endswith(".npz") else psf


def variant_dir_name(noise_type: str, npe: float, psf_name: str | None) -> str:
    """The paper's folder name ``<noise_type><npe>_<psf_name>``, e.g. ``poisson1000_double_gauss_50mm_F1.8``."""
    return f"{noise_type}{format_npe(npe)}_{psf_label(psf_name)}"


def rgb_formats(rgb_format: str) -> tuple[str, ...]:
    """``png`` -> (png,), ``jpg`` -> (jpg,), ``all`` -> (png, jpg)."""
    if rgb_format not in RGB_FORMAT_CHOICES:
        raise MetamerDataError(f"rgb_format must be one of {RGB_FORMAT_CHOICES}, got {rgb_format!r}")
    return ("png", "jpg") if rgb_format == "all" else (rgb_format,)


def scene_outputs(out_dir: Path, scene: str, formats: Sequence[str]) -> dict[str, Path]:
    """The files of one scene: ``metamer_mat`` and ``<variant>_<ext>`` RGB images."""
    files = {"metamer_mat": out_dir / METAMER_SPEC_DIR / f"{scene}_metamer.mat"}
    for ext in formats:
        for v in VARIANTS:
            files[f"{v}_{ext}"] = out_dir / METAMER_RGB_DIR / f"{scene}_{v}.{ext}"
    return files


@dataclass(frozen=True)
class GenerateOptions:
    """Settings of ``generate_metamer_dataset`` (defaults = the paper's ``generate_metamers.py``).

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
        metamer_mode: ``clip`` (paper) or ``exact``.
        psf_boundary: ``circular`` (paper), ``periodic`` or ``linear``.
        quantize: ``truncate`` (paper) or ``round``.
        jpeg_quality: JPEG quality (65).
        overwrite: regenerate scenes whose outputs exist / accept a folder made with other settings.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:1``...
        out_name: output folder name (default the paper's ``<noise_type><npe>_<psf_name>``).
        limit: process only the first ``limit`` scenes of the ordered list (quick tries).
        exposure_target: auto-exposure target (default: the dataset's, ``hsi.datasets``).
    """

    dataset_path: str = "./datasets"
    dataset_name: str = "ARAD_1K"
    psf_name: str | None = None
    psf_path: str = "./PSFs"
    srf_path: str = "basler_a2A5320-23ucBAS"
    noise_type: str = "poisson"
    npe: float = 0
    div_factor_to_1pe: float = 1
    noise_seed: int = 0
    alpha: float = 0.0
    rgb_format: str = "png"
    metamer_mode: str = "clip"
    psf_boundary: str = "circular"
    quantize: str = "truncate"
    jpeg_quality: int = 65
    overwrite: bool = False
    device: str = "auto"
    out_name: str | None = None
    limit: int | None = None
    exposure_target: float | None = None


def _sha256(arr: np.ndarray) -> str:
    import hashlib
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()[:16]


@dataclass
class _Timer:
    load: float = 0.0
    metamer: float = 0.0
    render: float = 0.0
    write: float = 0.0


@dataclass
class GenerationPlan:
    """Everything resolved before the first scene is processed (inputs checked, folder chosen)."""

    options: GenerateOptions
    dataset: str
    dataset_dir: Path
    out_dir: Path
    scenes: list[tuple[str, str]]           # (scene, split) in processing order
    formats: tuple[str, ...]
    camera: object
    psf: object | None
    render_config: RenderConfig
    device: torch.device
    settings: dict = field(default_factory=dict)


def plan_generation(opts: GenerateOptions) -> GenerationPlan:
    """Check the inputs and resolve names, files and settings (no output is written).

    Raises:
        ValueError: unknown dataset (lists the known ones).
        hsi.datasets.SplitListError: a missing or bad split list.
        hsi.optics.PSFNotFoundError: unknown PSF (lists the available ones); ``PSFError``: bad PSF file.
        hsi.camera.CameraError: unknown camera or bad response file.
        MetamerDataError: missing ``Train_Spec`` files, bad option values.
    """
    from hsi.camera import load_camera
    from hsi.datasets import SPLITS, dataset_dir, get_dataset_spec, read_splits, spec_path

    spec = get_dataset_spec(opts.dataset_name)
    if opts.metamer_mode not in METAMER_MODES:
        raise MetamerDataError(f"metamer_mode must be one of {METAMER_MODES}, got {opts.metamer_mode!r}")
    formats = rgb_formats(opts.rgb_format)
    ddir = dataset_dir(opts.dataset_path, spec.name)
    if not (ddir / "Train_Spec").is_dir():
        raise MetamerDataError(f"{ddir / 'Train_Spec'}: folder not found; convert the dataset first "
                               f"(dataset_tools/prepare_<NAME>.py, or dataset_tools/make_synthetic.py for SYNTH)")
    splits = read_splits(ddir)
    scenes = [(s, split) for split in SPLITS for s in sorted(splits[split])]
    missing = [s for s, _ in scenes if not spec_path(ddir, s).is_file()]
    if missing:
        raise MetamerDataError(f"{len(missing)} scene(s) of the split lists have no file in {ddir / 'Train_Spec'}, "
                               f"e.g. {[str(spec_path(ddir, s)) for s in missing[:3]]}; check the dataset with "
                               f"dataset_tools/check_dataset.py {ddir}")
    if opts.limit is not None:
        scenes = scenes[:max(0, int(opts.limit))]
    camera = load_camera(opts.srf_path)
    psf = None
    if opts.psf_name is not None and str(opts.psf_name).strip() not in ("", "None", "none"):
        from hsi.optics import load_psf
        psf = load_psf(opts.psf_name, opts.psf_path)
    if int(opts.jpeg_quality) < 1 or int(opts.jpeg_quality) > 100:
        raise MetamerDataError(f"jpeg_quality must be in 1..100, got {opts.jpeg_quality}")
    try:
        cfg = RenderConfig(psf_boundary=opts.psf_boundary, noise_type=opts.noise_type, npe=float(opts.npe),
                           div_factor_to_1pe=float(opts.div_factor_to_1pe),
                           exposure_target=float(opts.exposure_target or spec.exposure_target),
                           quantize=opts.quantize)
    except ValueError as exc:
        raise MetamerDataError(str(exc)) from None
    if cfg.quantize == "none":
        raise MetamerDataError("quantize 'none' cannot be written to 8-bit files; use truncate or round")
    out_name = opts.out_name or variant_dir_name(opts.noise_type, opts.npe, None if psf is None else psf.name)
    settings = {
        "dataset": spec.name, "camera": camera.name, "srf_sha256": _sha256(camera.srf),
        "psf": None if psf is None else psf.name, "psf_sha256": None if psf is None else _sha256(psf.kernel),
        "alpha": float(opts.alpha), "metamer_mode": opts.metamer_mode, "noise_seed": int(opts.noise_seed),
        "jpeg_quality": int(opts.jpeg_quality), "render": cfg.as_dict(),
    }
    return GenerationPlan(options=opts, dataset=spec.name, dataset_dir=ddir, out_dir=ddir / out_name, scenes=scenes,
                          formats=formats, camera=camera, psf=psf, render_config=cfg,
                          device=resolve_device(opts.device), settings=settings)


def _load_cube(ddir: Path, scene: str, spec_hw: tuple[int, int]) -> np.ndarray:
    from hsi.datasets import spec_path
    from hsi.io import read_mat_cube
    path = spec_path(ddir, scene)
    cube = read_mat_cube(path).cube
    if spec_hw[0] and cube.shape[1:] != spec_hw:
        raise MetamerDataError(f"{path}: cube of shape {cube.shape} (bands, H, W), expected (31, {spec_hw[0]}, "
                               f"{spec_hw[1]}) for this dataset")
    return cube


def generate_metamer_dataset(opts: GenerateOptions, progress: bool = True,
                             log: Callable[[str], None] | None = None) -> dict:
    """Generate the metamer data of a dataset (see the module docstring for the layout).

    Per scene: load ``Train_Spec/<scene>.mat``; make the metamer (``opts.metamer_mode``, ``opts.alpha``);
    render original and metamer (``render_pair``); write the metamer cube and the RGB files
    (``hsi.io``, atomic). Scenes whose files all exist are skipped unless ``opts.overwrite``; when only
    RGB files are missing the metamer cube on disk is used. Reading the next scene and writing run in
    background threads, overlapping the computation. The manifest is updated as it goes.

    Returns:
        The manifest (also written to ``<out_dir>/manifest.json``).
    """
    import sys

    from tqdm import tqdm

    from hsi.datasets import get_dataset_spec
    from hsi.io import atomic_write_json, provenance, read_mat_cube, write_mat_cube, write_rgb

    if log is None:
        def log(msg: str) -> None:
            tqdm.write(msg, file=sys.stderr)
    plan = plan_generation(opts)
    out = plan.out_dir
    manifest_path = out / MANIFEST_NAME
    old_scenes: dict = {}
    if manifest_path.is_file():
        try:
            old = json.loads(manifest_path.read_text())
        except json.JSONDecodeError:
            old = {}
        diff = {k: (old.get("settings", {}).get(k), v) for k, v in plan.settings.items()
                if old.get("settings", {}).get(k) != v}
        if diff and not opts.overwrite:
            raise MetamerDataError(
                f"{out} holds data made with other settings ("
                + "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in diff.items())
                + "); pass --overwrite to regenerate it, or --out_name to write another folder")
        if not diff:
            old_scenes = old.get("scenes", {})
    elif out.is_dir() and any(out.iterdir()) and not opts.overwrite:
        has_data = any((out / d).is_dir() and any((out / d).iterdir()) for d in (METAMER_SPEC_DIR, METAMER_RGB_DIR))
        if has_data:
            raise MetamerDataError(f"{out} holds data without a {MANIFEST_NAME} (made by another tool?); "
                                   f"pass --overwrite to regenerate it, or --out_name to write another folder")
    (out / METAMER_SPEC_DIR).mkdir(parents=True, exist_ok=True)
    (out / METAMER_RGB_DIR).mkdir(parents=True, exist_ok=True)

    spec = get_dataset_spec(plan.dataset)
    spec_hw = (spec.height, spec.width)
    device, cfg = plan.device, plan.render_config
    srf = torch.from_numpy(plan.camera.srf).to(device)
    psf = None if plan.psf is None else torch.from_numpy(plan.psf.kernel).to(device)
    stats: dict[str, dict] = dict(old_scenes)
    timer = _Timer()
    todo = []
    for scene, split in plan.scenes:
        files = scene_outputs(out, scene, plan.formats)
        if not opts.overwrite and all(p.is_file() for p in files.values()):
            continue
        todo.append((scene, split, files))
    skipped = len(plan.scenes) - len(todo)

    base = provenance(kind="metamer data", options=asdict(opts), settings=plan.settings,
                      dataset_dir=str(plan.dataset_dir), out_dir=str(out), device=str(device),
                      camera={"name": plan.camera.name, "source": plan.camera.source},
                      psf=None if plan.psf is None else {"name": plan.psf.name, "shape": list(plan.psf.kernel.shape),
                                                         "file": str(Path(opts.psf_path) / f"{plan.psf.name}.npz")},
                      formats=list(plan.formats), layout={"spec": METAMER_SPEC_DIR, "rgb": METAMER_RGB_DIR})
    t_start = time.perf_counter()
    generated = 0

    def write_manifest(complete: bool) -> dict:
        elapsed = time.perf_counter() - t_start
        m = {**base, "complete": complete, "scenes_total": len(plan.scenes), "generated": generated,
             "skipped": skipped, "seconds": round(elapsed, 3),
             "scenes_per_s": round(generated / elapsed, 4) if generated and elapsed > 0 else None,
             "stage_seconds": {k: round(v, 3) for k, v in asdict(timer).items()},
             "scenes": {s: stats[s] for s, _ in plan.scenes if s in stats}}
        atomic_write_json(manifest_path, m)
        return m

    def load(item):
        scene, _, files = item
        t = time.perf_counter()
        cube = _load_cube(plan.dataset_dir, scene, spec_hw)
        met = None
        if not opts.overwrite and files["metamer_mat"].is_file():
            met = read_mat_cube(files["metamer_mat"]).cube
            if met.shape != cube.shape:
                raise MetamerDataError(f"{files['metamer_mat']}: shape {met.shape} differs from its original's "
                                       f"{cube.shape}; regenerate with --overwrite")
        return cube, met, time.perf_counter() - t

    writer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hsi-write")
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hsi-read")
    pending: list[Future] = []
    write_lock = threading.Lock()

    def timed_write(fn, *args, **kw):
        t = time.perf_counter()
        fn(*args, **kw)
        with write_lock:
            timer.write += time.perf_counter() - t

    def drain(max_pending: int):
        while len(pending) > max_pending:
            pending.pop(0).result()

    complete = False
    try:
        bar = tqdm(total=len(plan.scenes), initial=skipped, desc=f"{plan.dataset} {out.name}", unit="scene",
                   disable=not progress)
        nxt = reader.submit(load, todo[0]) if todo else None
        last_manifest = time.perf_counter()
        for i, (scene, split, files) in enumerate(todo):
            cube_np, met_np, t_load = nxt.result()
            timer.load += t_load
            nxt = reader.submit(load, todo[i + 1]) if i + 1 < len(todo) else None
            t0 = time.perf_counter()
            cube = torch.from_numpy(cube_np).to(device).unsqueeze(0)
            if met_np is None:
                met = make_metamer(cube, srf, float(opts.alpha), mode=opts.metamer_mode)
                met_cube = met.cube
                st = met.stats(0)
                st["iterations"] = int(met.iterations)
            else:
                met, met_cube = None, torch.from_numpy(met_np).to(device).unsqueeze(0)
                st = dict(stats.get(scene, {}))
                rgb0 = torch.einsum("nbhw,bk->nkhw", cube.double(), srf.double())
                rgb1 = torch.einsum("nbhw,bk->nkhw", met_cube.double(), srf.double())
                dev = float((rgb1 - rgb0).abs().max())
                st.update(alpha=float(opts.alpha), rgb_max_abs_dev=dev,
                          rgb_rel_dev=dev / max(float(rgb0.abs().max()), 1e-30), metamer_from_disk=True)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t1 = time.perf_counter()
            timer.metamer += t1 - t0
            original, rendered = render_pair(cube, met_cube, srf, psf, cfg, opts.noise_seed, [scene])
            dn_o, dn_m = original.to_uint()[0], rendered.to_uint()[0]
            diff = np.abs(dn_o.astype(np.int16) - dn_m.astype(np.int16))
            st.update(split=split, metamer_mode=opts.metamer_mode,
                      spectral_rmse=float(((met_cube - cube) ** 2).mean().sqrt()),
                      dn_max_abs_diff=int(diff.max()), dn_mean_abs_diff=round(float(diff.mean()), 4),
                      exposure_gain={"original": float(original.gain[0]), "metamer": float(rendered.gain[0])})
            timer.render += time.perf_counter() - t1
            if met is not None or opts.overwrite or not files["metamer_mat"].is_file():
                pending.append(writer.submit(timed_write, write_mat_cube, files["metamer_mat"],
                                             met_cube[0].float().cpu().numpy()))
            for ext in plan.formats:
                for v, dn in (("original", dn_o), ("metamer", dn_m)):
                    pending.append(writer.submit(timed_write, write_rgb, files[f"{v}_{ext}"], dn,
                                                 jpeg_quality=opts.jpeg_quality))
            drain(12)
            st["seconds"] = round(time.perf_counter() - t0 + t_load, 4)
            stats[scene] = st
            generated += 1
            bar.update(1)
            if time.perf_counter() - last_manifest > 30:
                drain(0)
                write_manifest(False)
                last_manifest = time.perf_counter()
        drain(0)
        bar.close()
        complete = True
    finally:
        for f in pending:            # let started writes finish (each is atomic) before recording
            try:
                f.result()
            except Exception:        # noqa: BLE001 - re-raised below by the main path
                pass
        writer.shutdown(wait=True)
        reader.shutdown(wait=True, cancel_futures=True)
        manifest = write_manifest(complete)
    if generated:
        log(f"[{plan.dataset}] {generated} scene(s) generated, {skipped} skipped, "
            f"{manifest['scenes_per_s']} scenes/s on {device} -> {out}")
    else:
        log(f"[{plan.dataset}] nothing to do: {skipped} scene(s) complete in {out} (use --overwrite to regenerate)")
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
