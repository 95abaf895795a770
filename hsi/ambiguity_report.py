"""Ambiguity of a dataset, camera and PSF as numbers (``metamer/ambiguity.py``): no network involved.

For the scenes of one split it computes (``hsi.ambiguity``):

* the **paired bound** for alpha = 0 metamers: ``exact`` (no PSF) or ``exact_optics`` (through the PSF,
  invisible in the camera signal): no RGB-only method can be better than it on both originals and
  metamers (means over scenes of ``pair_distance``);
* the **worst-case band ranges** at sampled pixels: the widest band range of each pixel's metamer set
  (per pixel, camera only, ``upper`` = the scene maximum as in ``exact`` mode); half of it lower-bounds
  the worst-case (L-infinity) error of any method at that pixel;

and writes ``ambiguity.json`` (with provenance), ``ambiguity.md`` (one table row) and one figure per
example scene under ``figures/``, all atomically.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from hsi.ambiguity import band_ranges, metamer_through_optics, pair_distance
from hsi.errors import ToolkitError

JSON_NAME = "ambiguity.json"
MD_NAME = "ambiguity.md"
FIGURE_DIR = "figures"
MAP_GRID = 64
"""The widest-band-range map of a figure is computed on about ``MAP_GRID x MAP_GRID`` pixels."""


class AmbiguityError(ToolkitError, ValueError):
    """Bad options or inputs of ``run_ambiguity``; the message says what and how to fix it."""


@dataclass(frozen=True)
class AmbiguityOptions:
    """Settings of ``run_ambiguity``.

    Attributes:
        dataset_path, dataset_name: the dataset is ``<dataset_path>/<NAME>`` (``Train_Spec``, ``split_txt``).
        srf_path: camera name of ``hsi.camera`` or a response file (default the paper's Basler).
        psf_name, psf_path: PSF in ``psf_path`` (None / "None": no PSF, ``exact`` metamers).
        psf_boundary: ``circular`` (the paper's) or ``periodic`` (``exact_optics`` needs a periodic one).
        split: ``valid`` or ``train``; max_scenes: only the first N scenes of the sorted list.
        pixels_per_scene: pixels sampled per scene for the band ranges (seeded by ``seed`` and scene).
        figure_scenes: figures for the first N scenes; figure_pixels: spectra shown per figure.
        border: pixels cropped from each side for the paired bound (as the validation metrics).
        tol, max_iter: ``exact_optics`` stopping rule (relative camera-signal residual) and cap.
        out_dir: output folder (default ``results/ambiguity/<dataset>_<camera>_<psf>``).
        device: ``auto``, ``cpu``, ``cuda``...
    """

    dataset_path: str = "./datasets"
    dataset_name: str = "ARAD_1K"
    srf_path: str = "basler_a2A5320-23ucBAS"
    psf_name: str | None = None
    psf_path: str = "./PSFs"
    psf_boundary: str = "circular"
    split: str = "valid"
    max_scenes: int | None = None
    pixels_per_scene: int = 2000
    seed: int = 0
    figure_scenes: int = 1
    figure_pixels: int = 3
    border: int = 0
    tol: float = 1e-7
    max_iter: int = 3000
    out_dir: str | None = None
    device: str = "auto"


@dataclass
class _Inputs:
    spec: object
    ddir: Path
    scenes: list[str]
    camera: object
    psf: object | None
    out_dir: Path
    device: torch.device


def _resolve(opts: AmbiguityOptions) -> _Inputs:
    from hsi.camera import load_camera
    from hsi.datasets import SPLITS, dataset_dir, get_dataset_spec, read_splits, spec_path
    from hsi.layout import dataset_folder
    from hsi.device import resolve_device
    from hsi.optics import load_psf

    spec = get_dataset_spec(opts.dataset_name)
    if opts.split not in SPLITS:
        raise AmbiguityError(f"split must be one of {SPLITS}, got {opts.split!r}")
    if opts.pixels_per_scene < 1 or opts.figure_pixels < 1 or opts.figure_scenes < 0 or opts.border < 0:
        raise AmbiguityError("pixels_per_scene and figure_pixels must be >= 1, figure_scenes and border >= 0")
    if opts.max_scenes is not None and opts.max_scenes < 1:
        raise AmbiguityError(f"max_scenes must be >= 1, got {opts.max_scenes}")
    ddir = dataset_dir(opts.dataset_path, spec.name)
    spec_dir = dataset_folder(ddir, "spec")
    if not spec_dir.is_dir():
        raise AmbiguityError(f"{spec_dir}: folder not found; convert the dataset first "
                             f"(dataset_tools/prepare_<NAME>.py, or dataset_tools/make_synthetic.py for SYNTH)")
    scenes = sorted(read_splits(ddir)[opts.split])[: opts.max_scenes]
    missing = [s for s in scenes if not spec_path(ddir, s).is_file()]
    if missing or not scenes:
        raise AmbiguityError(f"{len(missing)} of {len(scenes)} {opts.split} scene(s) have no file in "
                             f"{spec_dir} (e.g. {missing[:3]}); check the dataset with "
                             f"dataset_tools/check_dataset.py {ddir}")
    camera = load_camera(opts.srf_path)
    psf = load_psf(opts.psf_name, opts.psf_path)
    if psf is not None and opts.psf_boundary not in ("circular", "periodic"):
        raise AmbiguityError(f"psf_boundary must be circular or periodic with a PSF (exact_optics), "
                             f"got {opts.psf_boundary!r}")
    label = f"{spec.name}_{camera.name}_{'None' if psf is None else psf.name}"
    out_dir = Path(opts.out_dir) if opts.out_dir else Path("results") / "ambiguity" / label
    return _Inputs(spec, ddir, scenes, camera, psf, out_dir, resolve_device(opts.device))


def _metamer(cube, srf, psf, opts: AmbiguityOptions):
    """alpha = 0 metamer and its statistics: ``exact`` without PSF, ``exact_optics`` with one."""
    from hsi.metamer import make_metamer
    if psf is None:
        res = make_metamer(cube, srf, 0.0, mode="exact")
        return res.cube, {"mode": "exact", "iterations": res.iterations, "rgb_rel_dev": float(res.rgb_rel_dev[0]),
                          "clipped_fraction": float(res.clipped_fraction[0])}
    res = metamer_through_optics(cube, srf, psf, 0.0, boundary=opts.psf_boundary, tol=opts.tol,
                                 max_iter=opts.max_iter)
    return res.cube, {"mode": "exact_optics", "iterations": res.iterations, "rgb_rel_dev": float(res.rgb_rel_dev[0]),
                      "clipped_fraction": float(res.clipped_fraction[0]), "converged": res.converged}


def _pixel_rows(cube: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``(P, bands)`` spectra of ``cube (1, bands, H, W)`` at flat pixel indices."""
    return cube[0].flatten(1)[:, index].T


def _sampled_ranges(cube, srf, scene: str, opts: AmbiguityOptions):
    """Band ranges at ``pixels_per_scene`` pixels drawn without replacement (seeded by seed and scene)."""
    from hsi.render import scene_seed
    n_px = cube.shape[-2] * cube.shape[-1]
    gen = torch.Generator().manual_seed(scene_seed(opts.seed, scene, "band_ranges"))
    index = torch.randperm(n_px, generator=gen)[: opts.pixels_per_scene].to(cube.device)
    s = _pixel_rows(cube, index).to(torch.float64)
    upper = float(cube.amax())
    return band_ranges(s @ srf.to(torch.float64), srf, upper), upper


def _range_stats(width: torch.Tensor, upper: torch.Tensor, infeasible: int) -> dict:
    """Statistics of the band ranges ``width (P, bands)`` of feasible pixels with bounds ``upper (P,)``:
    mean / 95th percentile of each pixel's widest band range (absolute, half of it: the worst-case error
    bound, and relative to ``upper``), of its mean band range, and the mean range of every band."""
    w = width.to(torch.float64).cpu()
    u = upper.to(torch.float64).cpu()
    if not w.shape[0]:
        return {"pixels": 0, "infeasible_pixels": infeasible}
    widest, mean = w.amax(1), w.mean(1)

    def q95(v):
        return float(torch.quantile(v, 0.95))
    return {"pixels": int(w.shape[0]), "infeasible_pixels": infeasible,
            "widest_mean": float(widest.mean()), "widest_p95": q95(widest),
            "worst_case_error_mean": float(widest.mean() / 2), "worst_case_error_p95": q95(widest) / 2,
            "widest_rel_mean": float((widest / u).mean()), "widest_rel_p95": q95(widest / u),
            "band_mean_range_mean": float(mean.mean()), "band_mean_range_p95": q95(mean),
            "range_per_band_mean": [round(float(v), 6) for v in w.mean(0)]}


def run_ambiguity(opts: AmbiguityOptions, log=print) -> dict:
    """Compute the ambiguity numbers of ``opts`` and write them (see the module docstring).

    Returns:
        The JSON record (``pair_bound``, ``band_range``, ``scenes``, ``files``, provenance).

    Raises:
        AmbiguityError, ValueError (unknown dataset/camera, bad PSF), FileNotFoundError (missing split
        list or PSF): the message says which input and how to fix it.
    """
    from hsi.io import atomic_write_json, atomic_write_text, provenance, read_mat_cube
    from hsi.datasets import spec_path

    inp = _resolve(opts)
    t0 = time.perf_counter()
    srf = torch.from_numpy(inp.camera.srf).to(inp.device)
    psf = None if inp.psf is None else torch.from_numpy(inp.psf.kernel).to(inp.device)
    per_scene, bounds, widths, uppers, figures = {}, [], [], [], []
    infeasible = 0
    for i, scene in enumerate(inp.scenes):
        t = time.perf_counter()
        cube = torch.from_numpy(read_mat_cube(spec_path(inp.ddir, scene)).cube).to(inp.device)[None]
        metamer, met_stats = _metamer(cube, srf, psf, opts)
        bound = pair_distance(cube, metamer, border=opts.border).as_dict(0)
        ranges, upper = _sampled_ranges(cube, srf, scene, opts)
        w = ranges.width[ranges.feasible]
        bad = int((~ranges.feasible).sum())
        infeasible += bad
        widths.append(w)
        uppers.append(torch.full_like(w[:, 0], upper))
        bounds.append(bound)
        per_scene[scene] = {"pair_bound": bound, "metamer": met_stats, "upper": upper,
                            "band_range": _range_stats(w, uppers[-1], bad),
                            "seconds": round(time.perf_counter() - t, 3)}
        if i < opts.figure_scenes:
            path = inp.out_dir / FIGURE_DIR / f"{scene}.png"
            scene_figure(path, cube, metamer, srf, psf, inp.camera.wavelengths_nm, opts, inp.spec.exposure_target,
                         title=f"{inp.spec.name} {scene}: {inp.camera.name}, PSF {_psf_label(inp.psf)}")
            figures.append(str(path.relative_to(inp.out_dir)))
        log(f"[ambiguity] {scene}: RMSE bound {bound['RMSE']:.4g}, {met_stats['mode']} "
            f"{met_stats['iterations']} it, {per_scene[scene]['seconds']:.1f} s")
    summary = {"pair_bound": {k: float(np.mean([b[k] for b in bounds])) for k in ("RMSE", "SAM", "MRAE")},
               "band_range": _range_stats(torch.cat(widths), torch.cat(uppers), infeasible)}
    record = provenance(kind="ambiguity", options=asdict(opts), dataset=inp.spec.name, dataset_dir=str(inp.ddir),
                        out_dir=str(inp.out_dir), camera={"name": inp.camera.name, "source": inp.camera.source},
                        psf=None if inp.psf is None else {"name": inp.psf.name, "shape": list(inp.psf.kernel.shape)},
                        metamer_mode="exact" if inp.psf is None else "exact_optics", alpha=0.0,
                        split=opts.split, scenes_total=len(inp.scenes), device=str(inp.device),
                        **summary, scenes=per_scene, figures=figures,
                        seconds=round(time.perf_counter() - t0, 3))
    atomic_write_json(inp.out_dir / JSON_NAME, record)
    atomic_write_text(inp.out_dir / MD_NAME, markdown_table([record]))
    record["files"] = [JSON_NAME, MD_NAME, *figures]
    return record


def _psf_label(psf) -> str:
    return "None" if psf is None else psf.name


TABLE_HEADER = ("| dataset | camera | PSF | metamers | scenes | RMSE bound | SAM bound (rad) | MRAE bound "
                "| widest band range: mean | p95 | worst-case error >= (mean) | mean band range: mean | p95 | seconds |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")


def markdown_table(records: list[dict]) -> str:
    """A Markdown table, one row per ``run_ambiguity`` record (bounds are means over the scenes)."""
    rows = []
    for r in records:
        b, w = r["pair_bound"], r["band_range"]
        psf = "None" if r["psf"] is None else r["psf"]["name"]
        rows.append(f"| {r['dataset']} | {r['camera']['name']} | {psf} | {r['metamer_mode']} | {r['scenes_total']} "
                    f"| {b['RMSE']:.4f} | {b['SAM']:.4f} | {b['MRAE']:.4f} | {w.get('widest_mean', math.nan):.3f} "
                    f"| {w.get('widest_p95', math.nan):.3f} | {w.get('worst_case_error_mean', math.nan):.3f} "
                    f"| {w.get('band_mean_range_mean', math.nan):.3f} | {w.get('band_mean_range_p95', math.nan):.3f} "
                    f"| {r['seconds']:.0f} |\n")
    return TABLE_HEADER + "".join(rows)


def scene_figure(path: Path, cube, metamer, srf, psf, wavelengths_nm, opts: AmbiguityOptions,
                 exposure_target: float, title: str) -> Path:
    """RGB (through the optics), maps of the widest and of the mean band range (on a ~64x64 grid) and, at
    the grid pixels with the largest, median and smallest mean range, the band ranges as an envelope with
    the spectrum and its metamer. Written atomically as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hsi.io import atomic_path
    from hsi.render import RenderConfig, render_rgb

    h, w = cube.shape[-2:]
    step = max(1, math.ceil(max(h, w) / MAP_GRID))
    ys, xs = torch.meshgrid(torch.arange(0, h, step), torch.arange(0, w, step), indexing="ij")
    flat = (ys * w + xs).flatten().to(cube.device)
    upper = float(cube.amax())
    ranges = band_ranges(_pixel_rows(cube, flat).to(torch.float64) @ srf.to(torch.float64), srf, upper)
    maps = {"widest": ranges.width.amax(1), "mean": ranges.width.mean(1)}
    maps = {k: v.reshape(ys.shape).cpu().numpy() for k, v in maps.items()}
    order = np.argsort(np.nan_to_num(maps["mean"].ravel(), nan=-1.0))
    picks = [order[-1], order[len(order) // 2], order[0]][: opts.figure_pixels]
    rgb = render_rgb(cube, srf, psf, RenderConfig(psf_boundary=opts.psf_boundary, exposure_target=exposure_target))
    rgb = (rgb.dn[0] / rgb.config.full_scale).permute(1, 2, 0).cpu().numpy()
    wl = np.asarray(wavelengths_nm, dtype=float)
    fig, axes = plt.subplots(1, 3 + len(picks), figsize=(4.2 * (3 + len(picks)), 4.6))
    axes[0].imshow(rgb)
    axes[0].set_title("RGB" + ("" if psf is None else " (through the PSF)"))
    for ax, key in zip(axes[1:3], ("widest", "mean")):
        im = ax.imshow(maps[key], cmap="magma", vmin=0, vmax=upper, extent=(0, w, h, 0))
        ax.set_title(f"{key} band range of the metamer set", fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    names = ("largest", "median", "smallest")
    for j, (ax, k) in enumerate(zip(axes[3:], picks)):
        py, px = int(ys.flatten()[k]), int(xs.flatten()[k])
        for a in axes[:3]:
            a.plot(px, py, "o", mfc="none", mec="cyan", ms=9, mew=1.8)
            a.annotate(str(j + 1), (px, py), xytext=(5, 5), textcoords="offset points", color="cyan", fontsize=11)
        ax.fill_between(wl, ranges.lo[k].cpu().numpy(), ranges.hi[k].cpu().numpy(), color="tab:orange", alpha=0.3,
                        label="metamer set of the pixel (band ranges, camera only)")
        ax.plot(wl, cube[0, :, py, px].cpu().numpy(), "k-", lw=2, label="true spectrum")
        ax.plot(wl, metamer[0, :, py, px].cpu().numpy(), "--", color="tab:blue", lw=1.8,
                label="alpha = 0 metamer" + (" (exact)" if psf is None else " (exact through the PSF)"))
        ax.set_ylim(0, upper * 1.05)
        ax.set_xlabel("wavelength (nm)")
        ax.set_title(f"{j + 1}: pixel ({py}, {px}), {names[j]} mean range", fontsize=10)
    axes[3].set_ylabel("radiance")
    handles, labels = axes[3].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return path
