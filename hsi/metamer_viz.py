"""Figures of generated metamer data: the two RGB images agree, the spectra do not.

One figure per scene (``metamer_figure``): the RGB rendered from the original and from the metamer side
by side, their absolute difference in digital numbers, and at a few pixels the spectra of the original,
the metamer and the fundamental metamer ``R s`` (``hsi.metamer``), with the camera's spectral response
underneath. The RGB panels show the stored 8-bit values with a display gamma of 1/2.2 (the files are
linear); the difference is computed on the stored values.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from hsi.io.mat import DEFAULT_WAVELENGTHS_NM
from hsi.layout import VARIANTS, manifest_path, metamer_cube_path, metamer_rgb_path, spec_path

PIXEL_COLOURS = ("#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628")


def pick_pixels(original: np.ndarray, metamer: np.ndarray, n: int = 3, min_distance: int | None = None,
                rgb_original: np.ndarray | None = None, rgb_metamer: np.ndarray | None = None,
                max_dn_diff: int = 1) -> list[tuple[int, int]]:
    """``n`` pixels ``(y, x)`` where the spectra differ most while the colours match, spread apart.

    Candidates are the brighter half of the pixels; when both RGB images are given, only pixels whose
    RGB differ by at most ``max_dn_diff`` (if there are enough). They are ranked by the relative
    spectral difference and taken greedily at least ``min_distance`` apart (default 1/8 of the smaller
    side) and with dissimilar spectra (cosine similarity below 0.995 to those already picked).

    Args:
        original, metamer: ``(bands, H, W)`` cubes.
        rgb_original, rgb_metamer: optional ``(3, H, W)`` stored RGB.
    """
    _, h, w = original.shape
    min_distance = max(1, min(h, w) // 8) if min_distance is None else min_distance
    diff = np.sqrt(((metamer - original) ** 2).mean(axis=0))
    norm = np.sqrt((original ** 2).mean(axis=0))
    ok = norm >= np.median(norm)
    if rgb_original is not None and rgb_metamer is not None:
        dn = np.abs(rgb_original.astype(np.int16) - rgb_metamer.astype(np.int16)).max(axis=0)
        if np.count_nonzero(ok & (dn <= max_dn_diff)) >= 50 * n:
            ok &= dn <= max_dn_diff
    score = np.where(ok, diff / np.maximum(norm, 1e-12), -1.0)
    order = np.argsort(score, axis=None)[::-1]
    picked: list[tuple[int, int]] = []
    for flat in order[: max(5000, 100 * n)]:
        y, x = divmod(int(flat), w)
        s = original[:, y, x]
        if all((y - py) ** 2 + (x - px) ** 2 >= min_distance ** 2 for py, px in picked) and all(
                float(s @ original[:, py, px]) < 0.995 * float(np.linalg.norm(s) * np.linalg.norm(original[:, py, px]))
                for py, px in picked):
            picked.append((y, x))
        if len(picked) == n:
            break
    return picked


def _display(rgb: np.ndarray) -> np.ndarray:
    """``(3, H, W)`` uint8 -> ``(H, W, 3)`` float in [0, 1] with display gamma 1/2.2."""
    x = np.asarray(rgb, dtype=np.float64).transpose(1, 2, 0) / 255.0
    return np.clip(x, 0, 1) ** (1 / 2.2)


def metamer_figure(original: np.ndarray, metamer: np.ndarray, rgb_original: np.ndarray, rgb_metamer: np.ndarray,
                   srf: np.ndarray, wavelengths_nm: np.ndarray = DEFAULT_WAVELENGTHS_NM,
                   pixels: Sequence[tuple[int, int]] | None = None, n_pixels: int = 3, title: str = "",
                   camera_name: str = "camera"):
    """The figure of one scene (a matplotlib ``Figure``; the caller saves or closes it).

    Args:
        original, metamer: ``(bands, H, W)`` cubes (radiance, [0, 1]).
        rgb_original, rgb_metamer: ``(3, H, W)`` stored RGB (uint8) rendered from each cube.
        srf: ``(bands, 3)`` camera response used for the rendering and the fundamental metamer.
        wavelengths_nm: ``(bands,)``.
        pixels: ``(y, x)`` pixels whose spectra are plotted (default: ``pick_pixels``).
        title: figure title.
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import torch

    from hsi.metamer import alpha_metamer

    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    pixels = list(pixels) if pixels else pick_pixels(original, metamer, n_pixels, rgb_original=rgb_original,
                                                          rgb_metamer=rgb_metamer)
    fundamental = alpha_metamer(torch.from_numpy(np.ascontiguousarray(original))[None].double(), srf, 0.0)[0].numpy()
    diff = np.abs(rgb_original.astype(np.int16) - rgb_metamer.astype(np.int16)).max(axis=0)
    ncol = max(3, len(pixels))
    fig = plt.figure(figsize=(4.2 * ncol, 9.6), constrained_layout=True)
    gs = fig.add_gridspec(3, ncol, height_ratios=[3.2, 2.4, 1.1])
    axes_img = [fig.add_subplot(gs[0, i]) for i in range(3)]
    for ax, img, name in ((axes_img[0], rgb_original, "original"), (axes_img[1], rgb_metamer, "metamer")):
        ax.imshow(_display(img), interpolation="nearest")
        ax.set_title(f"RGB from the {name} spectra")
        for k, (y, x) in enumerate(pixels):
            c = PIXEL_COLOURS[k % len(PIXEL_COLOURS)]
            ax.plot(x, y, marker="o", ms=11, mfc="none", mec=c, mew=2)
            ax.annotate(str(k + 1), (x, y), xytext=(7, -7), textcoords="offset points", color=c, fontsize=11,
                        fontweight="bold")
        ax.set_axis_off()
    vmax = max(1, int(diff.max()))
    im = axes_img[2].imshow(diff, cmap="magma", vmin=0, vmax=vmax, interpolation="nearest")
    axes_img[2].set_title(f"|difference|, max over R, G, B\nlargest {int(diff.max())} DN, mean {diff.mean():.2f} DN")
    axes_img[2].set_axis_off()
    fig.colorbar(im, ax=axes_img[2], fraction=0.046, pad=0.02, label="digital numbers (8 bit)")
    spec_axes = []
    top = max(float(original[:, y, x].max()) for y, x in pixels) if pixels else 1.0
    top = max(top, max(float(metamer[:, y, x].max()) for y, x in pixels) if pixels else 0.0)
    for k, (y, x) in enumerate(pixels):
        ax = fig.add_subplot(gs[1, k], sharey=spec_axes[0] if spec_axes else None)
        spec_axes.append(ax)
        c = PIXEL_COLOURS[k % len(PIXEL_COLOURS)]
        ax.plot(wl, original[:, y, x], color=c, lw=2.2, label="original")
        ax.plot(wl, metamer[:, y, x], color="k", lw=1.8, ls="--", label="metamer")
        ax.plot(wl, fundamental[:, y, x], color="0.5", lw=1.4, ls=":", label="fundamental metamer")
        ax.axhline(0, color="0.8", lw=0.8)
        rgb_o = rgb_original[:, y, x].astype(int).tolist()
        rgb_m = rgb_metamer[:, y, x].astype(int).tolist()
        ax.set_title(f"pixel {k + 1} (y={y}, x={x})\nRGB {rgb_o} vs {rgb_m}", fontsize=10, color=c)
        ax.set_xlim(wl[0], wl[-1])
        ax.set_ylim(min(0.0, float(fundamental[:, y, x].min()) * 1.1), top * 1.15)
        ax.tick_params(labelbottom=False)
        if k == 0:
            ax.set_ylabel("radiance (scene units)")
            ax.legend(fontsize=8, loc="upper left")
        srf_ax = fig.add_subplot(gs[2, k], sharex=ax)
        for j, col in enumerate(("tab:red", "tab:green", "tab:blue")):
            srf_ax.plot(wl, srf[:, j], color=col, lw=1.5)
            srf_ax.fill_between(wl, 0, srf[:, j], color=col, alpha=0.12)
        srf_ax.set_xlabel("wavelength (nm)")
        if k == 0:
            srf_ax.set_ylabel(f"{camera_name}\nresponse", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=13)
    return fig


def find_rgb(gen_dir: Path, scene: str, variant: str, prefer: str = "png") -> Path | None:
    """The ``.png`` or ``.jpg`` RGB of ``scene`` and ``variant`` in the generated folder ``gen_dir``
    (``hsi.layout.metamer_rgb_path``; ``prefer`` first), or None."""
    for ext in (prefer, "jpg" if prefer == "png" else "png"):
        p = metamer_rgb_path(gen_dir, scene, variant, ext)
        if p.is_file():
            return p
    return None


def visualize_scene(dataset_dir: str | os.PathLike, out_name: str, scene: str, out_path: str | os.PathLike,
                    srf_path: str | None = None, pixels: Sequence[tuple[int, int]] | None = None,
                    n_pixels: int = 3, prefer: str = "png", dpi: int = 110) -> Path:
    """Write the figure of ``scene`` from the generated folder ``<dataset_dir>/<out_name>`` to ``out_path``.

    The camera comes from the folder's ``manifest.json`` (``srf_path`` overrides it or stands in when
    there is no manifest). Returns the written PNG path (written atomically).
    """
    import matplotlib.pyplot as plt

    from hsi.camera import DEFAULT_CAMERA, load_camera
    from hsi.io import atomic_path, read_mat_cube, read_rgb_raw

    ddir = Path(dataset_dir)
    gen = ddir / out_name
    mpath = manifest_path(gen)
    manifest = json.loads(mpath.read_text()) if mpath.is_file() else {}
    settings = manifest.get("settings", {})
    camera = load_camera(srf_path or manifest.get("options", {}).get("srf_path") or DEFAULT_CAMERA)
    original = read_mat_cube(spec_path(ddir, scene))
    metamer = read_mat_cube(metamer_cube_path(gen, scene)).cube
    paths = {v: find_rgb(gen, scene, v, prefer) for v in VARIANTS}
    missing = [v for v, p in paths.items() if p is None]
    if missing:
        raise FileNotFoundError(f"{metamer_rgb_path(gen, scene, missing[0], 'png')}: not found (nor .jpg)")
    rgb_o, rgb_m = read_rgb_raw(paths["original"]), read_rgb_raw(paths["metamer"])
    rmse = float(np.sqrt(((metamer - original.cube) ** 2).mean()))
    title = (f"{scene} ({ddir.name}/{out_name}): alpha {settings.get('alpha', '?')}, mode "
             f"{settings.get('metamer_mode', '?')}, {paths['original'].suffix[1:]}; spectral RMSE {rmse:.4f}")
    fig = metamer_figure(original.cube, metamer, rgb_o, rgb_m, camera.srf, original.wavelengths_nm, pixels,
                         n_pixels, title, camera.name)
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return out_path
