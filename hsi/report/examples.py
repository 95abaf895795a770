"""Error-map figures of saved reconstructions: RGB input, per-pixel RMSE, SAM and MRAE (log, near-zero
truth masked) maps and spectra at three pixels."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hsi.io import read_mat_cube, read_rgb
from hsi.layout import metamer_cube_path, metamer_rgb_path, spec_path
from hsi.metrics import NEAR_ZERO

from hsi.plotting import new_figure, save_png
from .labels import method_label
from hsi.metrics import centre_crop, mrae_breakdown, mrae_map, mrae_map_above, rmse_map, sam_map
from .record import ValidationRecord

PER_IMAGE_FILE = "per_image.csv"
"""A validation run's per-image metrics (rows ``name, MRAE, RMSE, PSNR, SAM``)."""


def recon_kind(record: ValidationRecord) -> str:
    """``metamer`` or ``std``: the suffix of the run's reconstructions ``<scene>_<kind>.mat``."""
    return "metamer" if record.metamer else "std"


def example_pixels(error: np.ndarray, candidates: np.ndarray | None = None) -> list[tuple[str, int, int]]:
    """Three pixels ``(label, row, col)`` of an error map: lowest, median and highest error, among the
    ``candidates`` (a boolean ``(H, W)`` mask; all pixels when None or when it selects none)."""
    flat = error.ravel()
    pool = np.flatnonzero(candidates.ravel()) if candidates is not None and candidates.any() else np.arange(flat.size)
    order = pool[np.argsort(flat[pool], kind="stable")]
    picks = (("lowest", order[0]), ("median", order[len(order) // 2]), ("highest", order[-1]))
    return [(label, int(i // error.shape[1]), int(i % error.shape[1])) for label, i in picks]


SPECTRUM_PEAK = 10 * NEAR_ZERO
"""Spectra are drawn at pixels whose brightest band of truth reaches this (a black pixel's flat spectrum
at 0 says nothing), unless the scene has none."""


def recon_path(record: ValidationRecord, scene: str) -> Path:
    """``<run_dir>/<scene>_<kind>.mat``: the reconstruction of ``scene`` the run saved (``--save_recon``)."""
    return record.run_dir / f"{scene}_{recon_kind(record)}.mat"


def saved_scenes(record: ValidationRecord) -> list[str]:
    """Scenes whose reconstruction the run saved, in the run's (valid-list) order."""
    suffix = f"_{recon_kind(record)}.mat"
    saved = {p.name[: -len(suffix)] for p in record.run_dir.glob(f"*{suffix}")}
    order = []
    per_image = record.run_dir / PER_IMAGE_FILE
    if per_image.is_file():
        with open(per_image, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                name = str(r.get("name", ""))
                name = name[: -len("_metamer")] if name.endswith("_metamer") else name
                if name in saved and name not in order:
                    order.append(name)
    return order + sorted(saved - set(order))


def example_inputs(record: ValidationRecord, scene: str) -> tuple[Path, Path, Path]:
    """Paths of the reconstruction, the ground-truth cube and the RGB input of ``scene`` in ``record``'s run.

    Relative dataset paths are taken relative to the current folder (as the validation run took them)."""
    if record.data_dir is None:
        raise FileNotFoundError("the record has no data_dir")
    data_dir = Path(record.data_dir)
    if record.metamer:
        truth = metamer_cube_path(data_dir, scene)
    else:
        ds_dir = Path(str(record.args.get("dataset_path", "."))) / str(record.args.get("dataset_name", record.dataset))
        truth = spec_path(ds_dir, scene)
    rgb = metamer_rgb_path(data_dir, scene, "metamer" if record.metamer else "original", record.format)
    return recon_path(record, scene), truth, rgb


NEAR_ZERO_COLOUR = "#00c8ff"
"""Colour of near-zero ground truth (< ``hsi.metrics.NEAR_ZERO``): masked pixels, the band under it."""


def error_maps(pred: np.ndarray, truth: np.ndarray) -> dict[str, np.ndarray]:
    """Per-pixel maps ``(H, W)`` of ``(bands, H, W)`` arrays: ``RMSE``, ``SAM`` (rad), ``MRAE`` (the paper's,
    all bands), ``MRAE_above`` (over the bands with truth >= ``NEAR_ZERO``; NaN where none) and
    ``near_zero_share`` (share of the pixel's bands with truth < ``NEAR_ZERO``); ``image_breakdown``: the
    image's ``(near-zero share, MRAE over the other voxels)`` (``hsi.metrics.mrae_breakdown``)."""
    import torch
    share, other = mrae_breakdown(torch.from_numpy(np.ascontiguousarray(pred))[None],
                                  torch.from_numpy(np.ascontiguousarray(truth))[None])
    return {"RMSE": rmse_map(pred, truth), "SAM": sam_map(pred, truth), "MRAE": mrae_map(pred, truth),
            "MRAE_above": mrae_map_above(pred, truth, NEAR_ZERO), "near_zero_share": (truth < NEAR_ZERO).mean(axis=0),
            "image_breakdown": (float(share[0]), float(other[0]))}


def _map_panel(fig, ax, values: np.ndarray, title: str, label: str):
    vmax = float(np.nanpercentile(values, 99)) or float(np.nanmax(values)) or 1.0
    im = ax.imshow(values, cmap="magma", vmin=0, vmax=vmax)
    fig.colorbar(im, ax=ax, label=label, shrink=0.85)
    ax.set_title(title, fontsize=9)
    return im


def masked_mrae(mrae_above: np.ndarray) -> np.ma.MaskedArray:
    """The MRAE map as drawn: masked (drawn in ``NEAR_ZERO_COLOUR``) where no band of truth reaches
    ``NEAR_ZERO`` (NaN in ``mrae_above``) and where the error is 0 (no place on a log scale)."""
    return np.ma.masked_where(~(np.nan_to_num(mrae_above, nan=0.0) > 0), mrae_above)


def _mrae_panel(fig, ax, maps: dict[str, np.ndarray]):
    """MRAE per pixel over the bands with truth >= ``NEAR_ZERO`` on a log colour scale; pixels with no such
    band masked in ``NEAR_ZERO_COLOUR``; the title gives the image's MRAE (the paper's) and its breakdown,
    the legend below how much near-zero truth was left out. Returns the ``AxesImage``."""
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Patch
    from hsi.plotting import log_ticks
    near_zero = ~np.isfinite(maps["MRAE_above"])
    shown = masked_mrae(maps["MRAE_above"])
    lo, hi = (float(shown.min()), float(shown.max())) if shown.count() else (1e-3, 1.0)
    norm = LogNorm(vmin=lo, vmax=max(hi, lo * 10))
    cmap = matplotlib_cmap("viridis").with_extremes(bad=NEAR_ZERO_COLOUR)
    im = ax.imshow(shown, cmap=cmap, norm=norm)
    bar = fig.colorbar(im, ax=ax, label=f"MRAE per pixel, bands with truth ≥ {NEAR_ZERO:g} (log)", shrink=0.85)
    ticks = log_ticks(norm.vmin, norm.vmax)
    bar.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
    bar.ax.minorticks_off()
    share, other = maps["image_breakdown"]
    ax.set_title(f"MRAE per pixel (log); image MRAE {maps['MRAE'].mean():.3g} (paper's)\n"
                 f"image MRAE where truth ≥ {NEAR_ZERO:g}: {other:.3g}\n"
                 f"truth < {NEAR_ZERO:g}: {100 * share:.1f} % of voxels", fontsize=9)
    ax.legend(handles=[Patch(color=NEAR_ZERO_COLOUR, label=f"masked: truth < {NEAR_ZERO:g} in every band "
                             f"({100 * near_zero.mean():.1f} % of pixels);\nevery voxel with truth < {NEAR_ZERO:g} "
                             f"({100 * share:.1f} %) is left out of the map")],
              loc="upper center", bbox_to_anchor=(0.5, -0.02), fontsize=8, frameon=False)
    return im


def matplotlib_cmap(name: str):
    """A copy of a matplotlib colour map (safe to modify)."""
    from matplotlib import colormaps
    return colormaps[name].copy()


def _spectrum_panel(ax, wl, truth, pred, maps, pick, colour: str) -> None:
    label, r, c = pick
    ax.plot(wl, truth[:, r, c], color="black", lw=2, label="ground truth")
    ax.plot(wl, pred[:, r, c], color=colour, lw=1.8, ls="--", label="reconstruction")
    ax.axhspan(0, NEAR_ZERO, color=NEAR_ZERO_COLOUR, alpha=0.25, lw=0, label=f"truth < {NEAR_ZERO:g}")
    above = maps["MRAE_above"][r, c]
    kept = int((truth[:, r, c] >= NEAR_ZERO).sum())
    part = (f"{above:.3g} over the {kept} of {truth.shape[0]} bands with truth ≥ {NEAR_ZERO:g}" if np.isfinite(above)
            else f"no band with truth ≥ {NEAR_ZERO:g}")
    ax.set_title(f"{label} RMSE: pixel ({r}, {c}), {colour.split(':')[1]} circle\nRMSE {maps['RMSE'][r, c]:.4f}, "
                 f"SAM {maps['SAM'][r, c]:.3f} rad, MRAE {maps['MRAE'][r, c]:.3g}\nMRAE {part}", fontsize=9)
    ax.set_xlabel("wavelength (nm)", fontsize=9)
    ax.grid(alpha=0.3)


def error_example_figure(record: ValidationRecord, scene: str):
    """The figure of ``plot_error_example`` (a matplotlib ``Figure``)."""
    recon_file, truth_path, rgb_path = example_inputs(record, scene)
    recon = read_mat_cube(recon_file)
    pred = recon.cube
    truth_full = read_mat_cube(truth_path).cube
    rgb_full = read_rgb(rgb_path)                      # the network's input: per-image min-max over the full image
    h, w = pred.shape[-2:]
    if truth_full.shape[-2] < h or truth_full.shape[-1] < w or rgb_full.shape[-2:] != truth_full.shape[-2:]:
        raise ValueError(f"sizes differ: reconstruction {pred.shape}, ground truth {truth_full.shape}, RGB {rgb_full.shape}")
    truth, rgb = centre_crop(truth_full, h, w), centre_crop(rgb_full, h, w)
    maps = error_maps(pred, truth)
    pixels = example_pixels(maps["RMSE"], truth.max(axis=0) >= SPECTRUM_PEAK)
    fig = new_figure(16.0, 8.6)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1])
    ax_rgb, ax_rmse, ax_sam, ax_mrae = top.subplots(1, 4)
    ax_rgb.imshow(np.clip(np.transpose(rgb, (1, 2, 0)), 0, 1))
    ax_rgb.set_title(f"RGB input ({'metamer' if record.metamer else 'original'})", fontsize=9)
    _map_panel(top, ax_rmse, maps["RMSE"], f"RMSE per pixel (image RMSE {np.sqrt((maps['RMSE'] ** 2).mean()):.4f})",
               "RMSE (radiance on [0, 1]; colour scale to 99th pct.)")
    _map_panel(top, ax_sam, maps["SAM"], f"SAM per pixel (mean {maps['SAM'].mean():.4f} rad)",
               "SAM (rad, colour scale to 99th pct.)")
    _mrae_panel(top, ax_mrae, maps)
    colours = ("tab:green", "tab:orange", "tab:red")
    spec_axes = bottom.subplots(1, 3, sharey=True)
    for pick, colour, ax in zip(pixels, colours, spec_axes):
        for a in (ax_rgb, ax_rmse, ax_sam, ax_mrae):
            a.plot(pick[2], pick[1], marker="o", mfc="none", mec=colour, ms=9, mew=2)
        _spectrum_panel(ax, recon.wavelengths_nm, truth, pred, maps, pick, colour)
    spec_axes[0].set_ylabel("spectral radiance (normalised to [0, 1])", fontsize=9)
    spec_axes[-1].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    bottom.suptitle(f"spectra at the lowest, median and highest RMSE among pixels whose truth peaks at ≥ "
                    f"{SPECTRUM_PEAK:g}", fontsize=9)
    for ax in (ax_rgb, ax_rmse, ax_sam, ax_mrae):
        ax.set_axis_off()
    fig.suptitle(f"{record.name}: {scene} ({method_label(record.method)}, tag {record.tag})", fontsize=11)
    return fig


def plot_error_example(record: ValidationRecord, scene: str, path: Path) -> Path:
    """One scene of one validation run: RGB input, per-pixel RMSE and SAM maps, the MRAE map on a log
    scale with near-zero ground truth masked (and the image's MRAE breakdown), and ground-truth vs
    reconstructed spectra (nm) at three pixels (lowest, median, highest RMSE among pixels that are not
    black), one panel each."""
    return save_png(error_example_figure(record, scene), path)
