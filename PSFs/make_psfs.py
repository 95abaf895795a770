#!/usr/bin/env python
"""Compute the toolkit's PSFs and write them to PSFs/ in the paper's format, with figures.

    python PSFs/make_psfs.py                      # every design whose libraries are installed
    python PSFs/make_psfs.py grating singlet_bk7_50mm_F5.6
    python PSFs/make_psfs.py --check              # recompute and compare with the files in PSFs/
    python PSFs/make_psfs.py --figures-only       # redraw PSFs/figures/ from the files

Each design writes ``<out>/<name>.npz`` (key ``PSFs``, ``(h, w, 31)`` float32, each band summing to
1, centred at ``(h//2, w//2)``) and ``<out>/<name>.json`` (how it was made). Figures go to
``<out>/figures/``. The designs live in ``hsi.optics`` (see ``hsi/optics/designs.py``); the double
Gauss needs ray-optics (``pip install --no-deps -r requirements-optics.txt``), the others numpy and
scipy only.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
try:
    import hsi.optics  # noqa: F401
except ImportError:                                              # run from a checkout without install
    sys.path.insert(0, str(HERE.parent))

from hsi.cli_types import HelpFormatter, one_of  # noqa: E402
from hsi.errors import ToolkitError, run_main  # noqa: E402
from hsi.optics import WAVELENGTHS_NM, list_psfs, load_psf, save_psf  # noqa: E402
from hsi.optics.designs import DESIGNS, design_available, make_psf  # noqa: E402
from hsi.optics.measure import (encircled_energy_radius_px, first_order_offset_px,  # noqa: E402
                                principal_axis_angle_deg, rms_radius_px, unwrap_axis_angles_deg)

MONTAGE_WAVELENGTHS_NM = (400, 450, 500, 550, 600, 650, 700)
#: Tolerance of --check: largest absolute difference per band, relative to the band's peak.
CHECK_RTOL = 1e-4


def _compare(name: str, kernel: np.ndarray, out_dir: Path) -> float:
    shipped = load_psf(name, out_dir)
    if shipped.kernel.shape != kernel.shape:
        raise ToolkitError(f"{name}: regenerated shape {kernel.shape} != shipped {shipped.kernel.shape}")
    peak = shipped.kernel.max(axis=(1, 2), keepdims=True)
    return float((np.abs(kernel - shipped.kernel) / peak).max())


def _wavelength_index(wl, targets):
    wl = np.asarray(wl)
    return [int(np.argmin(np.abs(wl - t))) for t in targets]


def montage(psf, path: Path, wavelengths=MONTAGE_WAVELENGTHS_NM) -> None:
    """One row of panels, the PSF at a few wavelengths, each scaled to its own peak, gamma 0.5."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pitch = float(psf.meta.get("pixel_pitch_um", 2.74))
    h, w = psf.shape
    idx = _wavelength_index(psf.wavelengths_nm, wavelengths)
    panel = 1.6                                                   # inches per panel (width)
    fig, axes = plt.subplots(1, len(idx), figsize=(panel * len(idx), panel * h / w + 0.55))
    extent = [(-(w // 2) - 0.5) * pitch, (w - w // 2 - 0.5) * pitch, (h - h // 2 - 0.5) * pitch, (-(h // 2) - 0.5) * pitch]
    for ax, i in zip(np.atleast_1d(axes), idx):
        band = psf.kernel[i]
        ax.imshow(np.sqrt(band / band.max()), cmap="magma", extent=extent, interpolation="nearest")
        ax.set_title(f"{psf.wavelengths_nm[i]:.0f} nm", fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    ax0 = np.atleast_1d(axes)[0]
    target = 0.3 * w * pitch                                      # scale bar: largest 1/2/5 x 10^k below
    bar = max(m * 10.0 ** k for k in range(-1, 5) for m in (1, 2, 5) if m * 10.0 ** k <= target)
    x0 = extent[0] + 0.08 * (extent[1] - extent[0])
    y0 = extent[2] - 0.08 * (extent[2] - extent[3])
    ax0.plot([x0, x0 + bar], [y0, y0], color="w", lw=2)
    ax0.text(x0, y0 - 0.04 * (extent[2] - extent[3]), f"{bar:g} um", color="w", fontsize=7, va="bottom")
    fig.suptitle(f"{psf.name}  ({h}x{w} px at {pitch:g} um, sqrt of each band / its peak)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def size_plot(psfs, path: Path) -> None:
    """RMS radius and 80 % encircled-energy radius (um) against wavelength, one line per PSF."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for psf in psfs:
        pitch = float(psf.meta.get("pixel_pitch_um", 2.74))
        rms = [rms_radius_px(b) * pitch for b in psf.kernel]
        ee = [encircled_energy_radius_px(b, 0.8) * pitch for b in psf.kernel]
        axes[0].plot(psf.wavelengths_nm, rms, marker=".", label=psf.name)
        axes[1].plot(psf.wavelengths_nm, ee, marker=".", label=psf.name)
    axes[0].set_ylabel("RMS radius about the centroid (um)")
    axes[1].set_ylabel("80 % encircled-energy radius (um)")
    for ax in axes:
        ax.set_xlabel("wavelength (nm)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def property_plot(psfs, path: Path) -> None:
    """Grating: first-order offset vs wavelength (with a line through the origin); rotation encoder:
    principal-axis angle vs wavelength."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_name = {p.name: p for p in psfs}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    if "grating" in by_name:
        p = by_name["grating"]
        off = np.array([first_order_offset_px(b) for b in p.kernel])
        wl = p.wavelengths_nm
        slope, icpt = np.polyfit(wl, off, 1)
        r2 = 1 - np.sum((off - (slope * wl + icpt)) ** 2) / np.sum((off - off.mean()) ** 2)
        axes[0].plot(wl, off, "o", ms=3, label="measured (centroid of the +1 order)")
        axes[0].plot(wl, slope * wl + icpt, "-", lw=1, label=f"linear fit, R^2 = {r2:.5f}")
        axes[0].set_title("grating: +1st-order offset", fontsize=9)
        axes[0].set_ylabel("offset (pixels)")
        axes[0].legend(fontsize=8)
    if "diffraction_rotation" in by_name:
        p = by_name["diffraction_rotation"]
        for power, label in ((1, "irradiance-weighted moments"), (2, "irradiance^2-weighted (bright core)")):
            ang = unwrap_axis_angles_deg([principal_axis_angle_deg(b, power) for b in p.kernel])
            axes[1].plot(p.wavelengths_nm, ang, marker=".", label=label)
        axes[1].set_title("diffraction_rotation: principal-axis angle", fontsize=9)
        axes[1].set_ylabel("angle (degrees, unwrapped)")
        axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("wavelength (nm)")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def draw_figures(out_dir: Path, names=None) -> list[Path]:
    names = names or list_psfs(out_dir)
    psfs = [load_psf(n, out_dir) for n in names]
    fig_dir = out_dir / "figures"
    written = []
    for p in psfs:
        montage(p, fig_dir / f"{p.name}_montage.png")
        written.append(fig_dir / f"{p.name}_montage.png")
    size_plot(psfs, fig_dir / "psf_size_vs_wavelength.png")
    property_plot(psfs, fig_dir / "grating_offset_and_rotation_angle.png")
    written += [fig_dir / "psf_size_vs_wavelength.png", fig_dir / "grating_offset_and_rotation_angle.png"]
    return written


def _make(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("names", nargs="*", help="designs to make (none: all available): " + one_of(DESIGNS))
    ap.add_argument("--out-dir", type=Path, default=HERE, help="folder for the .npz/.json")
    ap.add_argument("--check", action="store_true", help="recompute and compare with the files, write nothing")
    ap.add_argument("--no-figures", action="store_true", help="do not redraw the figures")
    ap.add_argument("--figures-only", action="store_true", help="only redraw the figures from the files")
    args = ap.parse_args(argv)

    names = args.names or list(DESIGNS)
    unknown = [n for n in names if n not in DESIGNS]
    if unknown:
        ap.error(f"unknown design(s) {unknown}; known: {', '.join(DESIGNS)}")
    if not args.figures_only:
        failures = 0
        for name in names:
            if not design_available(name):
                print(f"skip {name}: needs {DESIGNS[name].requires} (pip install --no-deps -r requirements-optics.txt)")
                continue
            t0 = time.time()
            kernel, meta = make_psf(name, WAVELENGTHS_NM)
            dt = time.time() - t0
            if args.check:
                diff = _compare(name, kernel, args.out_dir)
                ok = diff <= CHECK_RTOL
                failures += not ok
                print(f"{name}: max |regenerated - shipped| / peak = {diff:.2e} ({'OK' if ok else 'DIFFERENT'}, {dt:.1f} s)")
                continue
            path = save_psf(args.out_dir / f"{name}.npz", kernel, meta, layout="chw")
            print(f"{name}: {kernel.shape[1]}x{kernel.shape[2]} px, min energy in kernel "
                  f"{meta['min_energy_fraction_in_kernel']:.4f}, {path.stat().st_size / 1e6:.2f} MB, {dt:.1f} s -> {path}")
        if args.check:
            return 1 if failures else 0
    if not args.no_figures:
        for p in draw_figures(args.out_dir):
            print(f"figure: {p}")
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_make, argv)


if __name__ == "__main__":
    raise SystemExit(main())
