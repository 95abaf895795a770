"""Error-map figures of saved reconstructions: RGB input, per-pixel MRAE and spectra at three pixels."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from hsi.io import read_mat_cube, read_rgb
from hsi.layout import metamer_cube_path, metamer_rgb_path, spec_path

from .figures import new_figure, save_png
from .labels import method_label
from .pending_metrics import centre_crop, mrae_map
from .record import ValidationRecord

PER_IMAGE_FILE = "per_image.csv"
"""A validation run's per-image metrics (rows ``name, MRAE, RMSE, PSNR, SAM``)."""


def recon_kind(record: ValidationRecord) -> str:
    """``metamer`` or ``std``: the suffix of the run's reconstructions ``<scene>_<kind>.mat``."""
    return "metamer" if record.metamer else "std"


def example_pixels(error: np.ndarray) -> list[tuple[str, int, int]]:
    """Three pixels ``(label, row, col)`` of an error map: lowest, median and highest error."""
    flat = error.ravel()
    order = np.argsort(flat, kind="stable")
    picks = (("lowest", order[0]), ("median", order[len(order) // 2]), ("highest", order[-1]))
    return [(label, int(i // error.shape[1]), int(i % error.shape[1])) for label, i in picks]


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


def plot_error_example(record: ValidationRecord, scene: str, path: Path) -> Path:
    """RGB input, per-pixel MRAE map and ground-truth vs reconstructed spectra (nm) at three pixels
    (lowest, median, highest error) of one scene of one validation run."""
    recon_file, truth_path, rgb_path = example_inputs(record, scene)
    recon = read_mat_cube(recon_file)
    pred = recon.cube
    truth_full = read_mat_cube(truth_path).cube
    rgb_full = read_rgb(rgb_path)                      # the network's input: per-image min-max over the full image
    h, w = pred.shape[-2:]
    if truth_full.shape[-2] < h or truth_full.shape[-1] < w or rgb_full.shape[-2:] != truth_full.shape[-2:]:
        raise ValueError(f"sizes differ: reconstruction {pred.shape}, ground truth {truth_full.shape}, RGB {rgb_full.shape}")
    truth, rgb = centre_crop(truth_full, h, w), centre_crop(rgb_full, h, w)
    error = mrae_map(pred, truth)
    pixels = example_pixels(error)
    wl = recon.wavelengths_nm
    fig = new_figure(13.5, 4.0)
    ax_rgb, ax_err, ax_spec = fig.subplots(1, 3, width_ratios=[1, 1.2, 1.5])
    ax_rgb.imshow(np.clip(np.transpose(rgb, (1, 2, 0)), 0, 1))
    ax_rgb.set_title(f"RGB input ({'metamer' if record.metamer else 'original'})", fontsize=10)
    vmax = float(np.percentile(error, 99)) or float(error.max()) or 1.0
    im = ax_err.imshow(error, cmap="magma", vmin=0, vmax=vmax)
    fig.colorbar(im, ax=ax_err, label="MRAE per pixel (colour scale to 99th pct.)")
    ax_err.set_title(f"MRAE map (image mean {error.mean():.4f})", fontsize=10)
    colours = ("tab:green", "tab:orange", "tab:red")
    for (label, r, c), colour in zip(pixels, colours):
        for ax in (ax_rgb, ax_err):
            ax.plot(c, r, marker="o", mfc="none", mec=colour, ms=9, mew=2)
        ax_spec.plot(wl, truth[:, r, c], color=colour, lw=2, label=f"{label} ({r},{c}): truth")
        ax_spec.plot(wl, pred[:, r, c], color=colour, lw=1.5, ls="--", label=f"reconstruction, MRAE {error[r, c]:.3f}")
    for ax in (ax_rgb, ax_err):
        ax.set_axis_off()
    ax_spec.set_xlabel("wavelength (nm)")
    ax_spec.set_ylabel("spectral radiance (normalised)")
    ax_spec.grid(alpha=0.3)
    ax_spec.legend(fontsize=7)
    fig.suptitle(f"{record.name}: {scene} ({method_label(record.method)}, "
                 f"tag {record.tag})", fontsize=11)
    return save_png(fig, path)


