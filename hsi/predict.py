"""Reconstruct hyperspectral cubes from a user's own RGB photos (``RGB2HS/predict_RGB2HS.py``, ``hsi.reconstruct``).

A photo (8- or 16-bit PNG, JPEG or TIFF) is read as stored (``hsi.io.read_rgb_raw``), turned upright by its
EXIF orientation tag, normalised exactly as the training and validation data path normalises RGB
(``hsi.io.normalise_rgb``: the paper's per-image min-max unless the checkpoint records another mode) and
run through the network tile by tile. Tiles start at multiples of ``TILE_ALIGN`` pixels (so networks that
down-sample see the same pixel grid as on the whole image) and are blended with a weight that is zero in
the outer quarter of each overlap and rises as a raised cosine over its middle half; pixels are divided
by the summed weight. A network whose receptive field reaches at most ``overlap // 4`` pixels therefore
gives the untiled result (convolutional networks); networks with global operations (MST++'s spectral
self-attention, channel-attention pooling) differ slightly from their untiled output, less with larger
tiles. Memory: the output cube (31 x H x W float32) plus one tile's activations.

Per photo, ``predict_photos`` writes ``<stem>.mat`` (``hsi.io.write_mat_cube``, values clipped to [0, 1]),
``<stem>_preview.png`` (the photo beside the cube rendered to sRGB through the CIE 1931 observer, as
radiance under its own illuminant, with the camera and normalisation the network was trained for),
``<stem>_spectra.png`` (spectra at a few pixels) and ``<stem>.json`` (provenance).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from hsi.io import DEFAULT_WAVELENGTHS_NM, atomic_write_json, normalise_rgb, provenance, read_rgb_raw
from hsi.plotting import new_figure, save_png
from hsi.errors import ToolkitError

PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
TILE_ALIGN = 32
"""Tile starts are multiples of this (the largest input multiple of the zoo's networks)."""
EXIF_ORIENTATION_TAG = 0x0112
PREVIEW_MAX_SIDE = 1024
"""Longest side of the preview figures' images (the photo is subsampled for display only)."""


class PredictError(ToolkitError, ValueError):
    """A user error in prediction (bad path, image, pixel or option); the message says what and how to fix."""


@dataclass(frozen=True)
class PredictOptions:
    """Settings of ``predict_photos``.

    Attributes:
        rgb_path: an image file or a folder of images (``PHOTO_SUFFIXES``, not recursive).
        weights: checkpoint file (``.pth``; loaded safely, ``strict=True``).
        out_dir: output folder.
        method: zoo method; ``None``: the ``method`` recorded in the checkpoint.
        tile: tile side in pixels (0: the whole image in one pass).
        tile_overlap: pixels shared by neighbouring tiles (at most ``tile // 2``).
        self_ensemble: 8-way flip/transpose test-time ensemble (the MST++ predict code's default).
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:k``.
        pixels: ``(y, x)`` pixels for the spectra panel (of the upright image); ``None``: chosen automatically.
        normalisation: RGB normalisation; ``None``: the checkpoint's ``rgb_normalisation``, else the data
            path's default (per-image min-max).
    """

    rgb_path: str | os.PathLike
    weights: str | os.PathLike
    out_dir: str | os.PathLike
    method: str | None = None
    tile: int = 512
    tile_overlap: int = 64
    self_ensemble: bool = False
    device: str = "auto"
    pixels: tuple[tuple[int, int], ...] | None = None
    normalisation: str | None = None


# ------------------------------------------------------------------------------------ reading photos
def exif_orientation(path: str | os.PathLike) -> int:
    """The EXIF orientation (1..8) of an image file; 1 when it has none (reads the header only)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as im:
            value = int(im.getexif().get(EXIF_ORIENTATION_TAG, 1))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return 1
    return value if 1 <= value <= 8 else 1


def apply_orientation(x: np.ndarray, orientation: int) -> np.ndarray:
    """Turn ``x (..., H, W)`` as stored into the upright image of EXIF ``orientation`` (1..8)."""
    turns = {1: (0, False), 2: (0, True), 3: (2, False), 4: (2, True),
             5: (1, True), 6: (3, False), 7: (3, True), 8: (1, False)}   # (rot90 counter-clockwise, mirror first)
    if orientation not in turns:
        raise PredictError(f"EXIF orientation must be 1..8, got {orientation}")
    k, mirror = turns[orientation]
    if mirror:
        x = x[..., ::-1]
    return np.ascontiguousarray(np.rot90(x, k, axes=(-2, -1)) if k else x)


def read_photo(path: str | os.PathLike) -> np.ndarray:
    """A photo as stored, upright: ``(3, H, W)`` uint8 or uint16 (EXIF orientation applied)."""
    from hsi.io import RGBFileError
    try:
        raw = read_rgb_raw(path)
    except RGBFileError as exc:
        raise PredictError(f"{exc} (give an 8- or 16-bit RGB PNG, JPEG or TIFF)") from None
    return apply_orientation(raw, exif_orientation(path))


def list_photos(rgb_path: str | os.PathLike) -> list[Path]:
    """The image files of ``rgb_path`` (a file, or a folder's files with ``PHOTO_SUFFIXES``, sorted)."""
    p = Path(rgb_path)
    if p.is_file():
        return [p]
    if p.is_dir():
        found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in PHOTO_SUFFIXES)
        if not found:
            raise PredictError(f"{p}: no {'/'.join(PHOTO_SUFFIXES)} images in this folder")
        return found
    raise PredictError(f"{p}: no such file or folder (--rgb_path takes an image or a folder of images)")


def normalise_input(rgb, mode: str = "minmax") -> torch.Tensor:
    """``(N, 3, H, W)`` float32 network input from numpy ``(H, W, 3)`` / ``(3, H, W)`` or torch ``(3, H, W)`` /
    ``(N, 3, H, W)`` (uint8, uint16 or float), each image normalised by ``hsi.io.normalise_rgb``."""
    if isinstance(rgb, torch.Tensor):
        arr = rgb.detach().cpu().numpy()
        arr = arr[None] if arr.ndim == 3 else arr
    else:
        arr = np.asarray(rgb)
        if arr.ndim == 3 and arr.shape[-1] == 3 and arr.shape[0] != 3:
            arr = arr.transpose(2, 0, 1)
        arr = arr[None] if arr.ndim == 3 else arr
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise PredictError("rgb must be numpy (H, W, 3) or torch (3, H, W) / (N, 3, H, W), "
                           f"got shape {tuple(np.shape(rgb))}")
    max_value = 1.0 if mode == "fixed" and np.issubdtype(arr.dtype, np.floating) else None
    return torch.from_numpy(np.stack([normalise_rgb(a, mode, max_value) for a in arr]))


# ------------------------------------------------------------------------------------ tiling
def tile_spans(length: int, tile: int, overlap: int, align: int = TILE_ALIGN) -> list[tuple[int, int]]:
    """``(start, stop)`` of the tiles along one axis: starts are multiples of ``align``, neighbours share at
    least ``overlap`` pixels, the last tile ends at ``length``; one span when ``tile`` is 0 or covers it."""
    if tile <= 0 or length <= tile:
        return [(0, length)]
    step = max(align, (tile - overlap) // align * align)
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] + tile < length:
        starts.append(-(-(length - tile) // align) * align)
    return [(s, min(s + tile, length)) for s in starts]


def _edge_ramp(n: int, overlap: int) -> np.ndarray:
    """Weight ``(n,)`` by distance from an inner tile edge: 0 over ``overlap // 4`` pixels, then a raised
    cosine over ``overlap // 2`` pixels, then 1."""
    zero, rise = overlap // 4, max(overlap // 2, 1)
    d = np.arange(n, dtype=np.float64) - zero + 0.5
    return np.where(d <= 0, 0.0, np.where(d >= rise, 1.0, 0.5 - 0.5 * np.cos(np.pi * d / rise)))


def tile_weight(span: tuple[int, int], length: int, overlap: int) -> np.ndarray:
    """1-D blend weight ``(stop - start,)`` of a tile; only edges inside the image are ramped."""
    start, stop = span
    n = stop - start
    w = np.ones(n)
    if start > 0:
        w *= _edge_ramp(n, overlap)
    if stop < length:
        w *= _edge_ramp(n, overlap)[::-1]
    return w.astype(np.float32)


def reconstruct_tiled(fn: Callable[[torch.Tensor], torch.Tensor], rgb: torch.Tensor, tile: int = 0,
                      overlap: int = 64, bands: int = 31, progress: bool = False) -> np.ndarray:
    """Run ``fn`` (``(1, 3, h, w)`` -> ``(1, bands, h, w)``) over ``rgb (1, 3, H, W)`` in blended tiles.

    Returns ``(bands, H, W)`` float32, clipped to [0, 1]: a view of a ``(bands, W, H)`` C-ordered buffer, the
    layout ``hsi.io.write_mat_cube`` stores, so writing it needs no second copy of the cube.
    """
    _, _, h, w = rgb.shape
    if tile and overlap * 2 > tile:
        raise PredictError(f"--tile_overlap {overlap} must be at most half of --tile {tile}")
    if tile and tile < 2 * TILE_ALIGN:
        raise PredictError(f"--tile must be 0 (no tiling) or at least {2 * TILE_ALIGN} pixels, got {tile}")
    rows, cols = tile_spans(h, tile, overlap), tile_spans(w, tile, overlap)
    buffer = np.zeros((bands, w, h), dtype=np.float32)
    cube = buffer.transpose(0, 2, 1)
    weight = np.zeros((h, w), dtype=np.float32)
    from tqdm import tqdm
    jobs = [(r, c) for r in rows for c in cols]
    for (y0, y1), (x0, x1) in tqdm(jobs, desc="tiles", disable=not progress or len(jobs) == 1, leave=False):
        pred = fn(rgb[:, :, y0:y1, x0:x1])[0].float().cpu().numpy()
        wt = np.outer(tile_weight((y0, y1), h, overlap), tile_weight((x0, x1), w, overlap))
        cube[:, y0:y1, x0:x1] += pred * wt
        weight[y0:y1, x0:x1] += wt
    np.divide(cube, weight, out=cube)
    np.clip(cube, 0.0, 1.0, out=cube)
    return cube


# ------------------------------------------------------------------------------------ networks
@dataclass(frozen=True)
class Network:
    """A loaded network: its method, the model (eval mode, on ``device``) and what its checkpoint says."""

    method: str
    model: torch.nn.Module
    device: torch.device
    camera: str
    normalisation: str
    normalisation_source: str
    weights: str


def _read_json(path: Path) -> dict:
    import json
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _recorded_camera(weights: Path, ckpt: dict) -> str:
    """The camera the network was trained for: the checkpoint's ``camera``; else what the training run's
    ``config.json`` beside the checkpoint says (the on-the-fly renderer's camera, the fixed data's
    ``manifest.json``, SYNTH's ``synth_manifest.json``); else ``unknown``."""
    from hsi.camera import CAMERA_NAMES, DEFAULT_CAMERA
    from hsi.metamer_data import MANIFEST_NAME
    if ckpt.get("camera"):
        return str(ckpt["camera"])
    config = _read_json(weights.parent / "config.json").get("config") or {}
    args = config.get("args") or {}
    if config.get("camera"):
        return str(config["camera"])
    if config.get("mode") == "onthefly" and args.get("on_the_fly", True):
        name = args.get("srf_name") or args.get("srf_path")
        known = name and (str(name).lower() in [c.lower() for c in CAMERA_NAMES] or Path(name).is_file())
        return f"{name} (rendered on the fly)" if known else f"{DEFAULT_CAMERA} (rendered on the fly)"
    if config.get("data_dir"):
        manifest = _read_json(Path(config["data_dir"]) / MANIFEST_NAME)
        name = (manifest.get("settings") or {}).get("camera") or (manifest.get("camera") or {}).get("name")
        if name:
            return f"{name} (data in {config['data_dir']})"
    if config.get("mode") == "mstpp" and args.get("data_root"):
        name = _read_json(Path(args["data_root"]) / "synth_manifest.json").get("camera")
        return str(name) if name else f"the Train_RGB images of {args['data_root']} (camera not recorded)"
    return "unknown"


@lru_cache(maxsize=2)
def _load_network(method: str | None, weights: str, mtime_ns: int, device: str) -> Network:
    from hsi.device import resolve_device
    from hsi.models import build_model, load_checkpoint, load_state_dict_strict
    ckpt = load_checkpoint(weights)
    method = method or ckpt.get("method")
    if not method:
        raise PredictError(f"{weights}: the checkpoint does not record its method; give --method")
    model = build_model(str(method))
    load_state_dict_strict(model, ckpt["state_dict"], source=str(weights))
    dev = resolve_device(device)
    recorded = ckpt.get("rgb_normalisation")
    norm = str(recorded) if recorded else "minmax"
    source = ("recorded in the checkpoint" if recorded
              else "the toolkit's data path default; not recorded in the checkpoint")
    return Network(str(method), model.to(dev).eval(), dev, _recorded_camera(Path(weights), ckpt), norm, source,
                   str(weights))


def load_network(method: str | None, weights: str | os.PathLike, device: str = "auto") -> Network:
    """Build ``method`` and load ``weights`` (``strict=True``; cached for repeated calls on the same file)."""
    path = Path(weights)
    if not path.is_file():
        raise PredictError(f"{path}: checkpoint file not found (put published weights in RGB2HS/model_zoo/, "
                           "see docs/predict.md)")
    return _load_network(method, str(path), path.stat().st_mtime_ns, str(device))


def network_fn(net: Network, self_ensemble: bool = False, srf=None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``(1, 3, h, w)`` CPU tensor -> ``(1, 31, h, w)``: the engine's prediction (``hsi.train.evaluate.predict``)."""
    from hsi.train.evaluate import predict

    def fn(x: torch.Tensor) -> torch.Tensor:
        return predict(net.model, net.method, x.to(net.device), srf, False, self_ensemble)
    return fn


def reconstruct(rgb, method: str | None = None, weights: str | os.PathLike | None = None, tile: int = 0,
                tile_overlap: int = 64, self_ensemble: bool = False, device: str = "auto",
                normalisation: str | None = None) -> np.ndarray:
    """Hyperspectral cube(s) of RGB image(s): ``hsi.reconstruct(rgb, method="mst_plus_plus", weights="w.pth")``.

    Args:
        rgb: numpy ``(H, W, 3)`` (or ``(3, H, W)``) uint8/uint16/float, or torch ``(3, H, W)`` / ``(N, 3, H, W)``,
            in R, G, B order; normalised per image as the training data (``normalisation``).
        method: zoo method; ``None``: the one recorded in the checkpoint.
        weights: checkpoint file.
        tile, tile_overlap: tiled inference (0: whole image), see the module docstring.
        normalisation: ``minmax`` or ``fixed``; ``None``: the checkpoint's, else ``minmax``.

    Returns:
        ``(31, H, W)`` float32 in [0, 1] (``(N, 31, H, W)`` for a batch of N > 1).
    """
    if weights is None:
        raise PredictError("reconstruct needs weights=<checkpoint .pth> (see docs/predict.md for published ones)")
    net = load_network(method, weights, device)
    x = normalise_input(rgb, normalisation or net.normalisation)
    fn = network_fn(net, self_ensemble)
    cubes = [reconstruct_tiled(fn, x[i:i + 1], tile, tile_overlap) for i in range(x.shape[0])]
    return cubes[0] if len(cubes) == 1 else np.stack(cubes)


# ------------------------------------------------------------------------------------ figures
def cube_to_srgb(cube: np.ndarray, wavelengths_nm: np.ndarray = DEFAULT_WAVELENGTHS_NM,
                 percentile: float = 99.5) -> np.ndarray:
    """``(H, W, 3)`` sRGB in [0, 1] of a radiance cube ``(bands, H, W)`` seen by the CIE 1931 2-degree observer.

    No white balance (the scene's own illuminant stays in the colours): colour-science's XYZ -> linear
    sRGB (D65 white, no chromatic adaptation), scaled so that the ``percentile`` of each pixel's largest
    channel maps to 1, clipped to [0, 1], then the sRGB transfer function.
    """
    import colour

    from hsi.camera import load_srf
    cmfs = load_srf("cie1931_2deg", wavelengths_nm).astype(np.float64)        # (bands, 3): x-bar, y-bar, z-bar
    xyz = np.einsum("bhw,bc->hwc", np.asarray(cube, dtype=np.float64), cmfs)
    linear = colour.XYZ_to_sRGB(xyz, chromatic_adaptation_transform=None, apply_cctf_encoding=False)
    top = float(np.percentile(linear.max(axis=-1), percentile)) if linear.size else 0.0
    linear = np.clip(np.nan_to_num(linear / top if top > 0 else linear), 0.0, 1.0)
    return np.clip(colour.cctf_encoding(linear, function="sRGB"), 0.0, 1.0)


def display_stride(h: int, w: int, max_side: int = PREVIEW_MAX_SIDE) -> int:
    """Subsampling step that brings the longer side to at most ``max_side``."""
    return max(1, math.ceil(max(h, w) / max_side))


def choose_pixels(srgb: np.ndarray, stride: int, k: int = 4, border: float = 0.05) -> list[tuple[int, int]]:
    """``k`` pixels ``(y, x)`` of the full image with distinct colours: from the subsampled ``srgb (h, w, 3)``
    (taken every ``stride`` pixels), the pixel nearest the median colour, then farthest-point sampling in
    sRGB, away from a ``border`` fraction of each side."""
    h, w, _ = srgb.shape
    by, bx = int(h * border), int(w * border)
    ys, xs = np.mgrid[by:max(h - by, by + 1), bx:max(w - bx, bx + 1)]
    ys, xs = ys.ravel(), xs.ravel()
    colours = srgb[ys, xs].astype(np.float64)
    chosen = [int(np.argmin(((colours - np.median(colours, axis=0)) ** 2).sum(1)))]
    dist = ((colours - colours[chosen[0]]) ** 2).sum(1)
    while len(chosen) < min(k, len(colours)):
        nxt = int(np.argmax(dist))
        if dist[nxt] <= 0:
            break
        chosen.append(nxt)
        dist = np.minimum(dist, ((colours - colours[nxt]) ** 2).sum(1))
    return [(int(ys[i]) * stride, int(xs[i]) * stride) for i in chosen]


def write_preview(path: Path, photo: np.ndarray, srgb: np.ndarray, stride: int, net: Network,
                  pixels: Sequence[tuple[int, int]], title: str) -> Path:
    """The photo (``(3, H, W)`` as stored) beside the cube's sRGB rendering ``srgb`` (subsampled by ``stride``)."""
    full = 65535.0 if photo.dtype == np.uint16 else 255.0
    shown = photo[:, ::stride, ::stride].transpose(1, 2, 0).astype(np.float32) / full
    h, w = shown.shape[:2]
    from matplotlib import patheffects
    outline = [patheffects.withStroke(linewidth=2, foreground="black")]
    fig = new_figure(11, 11 * h / (2 * w) + 1.4)
    for ax, img, label in zip(fig.subplots(1, 2), (shown, srgb), ("input photo", "reconstruction rendered to sRGB "
                                                                   "(CIE 1931 observer, own illuminant)")):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(label, fontsize=9)
        ax.set_axis_off()
        for i, (y, x) in enumerate(pixels):
            ax.plot(x / stride, y / stride, "o", ms=9, mfc="none", mec="white", mew=2)
            ax.plot(x / stride, y / stride, "o", ms=9, mfc="none", mec=f"C{i}", mew=1.2)
            ax.annotate(str(i + 1), (x / stride, y / stride), xytext=(6, 6), textcoords="offset points",
                        color="white", fontsize=9, fontweight="bold", path_effects=outline)
    fig.suptitle(f"{title}\nnetwork {net.method} ({Path(net.weights).name}) trained for camera: {net.camera}; "
                 f"input normalisation: {net.normalisation} ({net.normalisation_source})\n"
                 "A network trained on one camera's rendering generalises poorly to another camera (Finding 1).",
                 fontsize=8)
    return save_png(fig, path)


def write_spectra(path: Path, cube: np.ndarray, pixels: Sequence[tuple[int, int]], title: str,
                  wavelengths_nm: np.ndarray = DEFAULT_WAVELENGTHS_NM) -> Path:
    """Reconstructed spectra at ``pixels`` (``(y, x)`` of ``cube (bands, H, W)``), numbered as in the preview."""
    fig = new_figure(6.5, 4)
    ax = fig.subplots()
    for i, (y, x) in enumerate(pixels):
        ax.plot(wavelengths_nm, cube[:, y, x], color=f"C{i}", marker=".", label=f"{i + 1}: (y={y}, x={x})")
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("reconstructed radiance (relative, [0, 1])")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title, fontsize=9)
    return save_png(fig, path)


# ------------------------------------------------------------------------------------ the script
def parse_pixels(values: Sequence[str] | None) -> tuple[tuple[int, int], ...] | None:
    """``["y,x", ...]`` -> ``((y, x), ...)``; ``PredictError`` on a malformed entry."""
    if not values:
        return None
    out = []
    for v in values:
        parts = str(v).replace(" ", "").split(",")
        if len(parts) != 2 or not all(p.lstrip("-").isdigit() for p in parts):
            raise PredictError(f"--pixels takes y,x pairs of integers (e.g. --pixels 10,20 300,400), got {v!r}")
        out.append((int(parts[0]), int(parts[1])))
    return tuple(out)


def _output_stems(photos: Sequence[Path]) -> list[str]:
    """Output stems: the file's stem, plus its suffix where two inputs share a stem."""
    stems = [p.stem for p in photos]
    return [f"{p.stem}_{p.suffix.lstrip('.').lower()}" if stems.count(p.stem) > 1 else p.stem for p in photos]


def predict_photo(photo_path: Path, stem: str, net: Network, opts: PredictOptions, progress: bool = False) -> dict:
    """Reconstruct one photo and write its four files; returns its record."""
    import time

    from hsi.io import write_mat_cube
    t0 = time.time()
    raw = read_photo(photo_path)
    _, h, w = raw.shape
    pixels = opts.pixels
    if pixels:
        bad = [p for p in pixels if not (0 <= p[0] < h and 0 <= p[1] < w)]
        if bad:
            raise PredictError(f"--pixels {bad} outside the {h} x {w} (H x W, upright) image {photo_path}")
    norm = opts.normalisation or net.normalisation
    x = torch.from_numpy(normalise_rgb(raw, norm))[None]
    cube = reconstruct_tiled(network_fn(net, opts.self_ensemble), x, opts.tile, opts.tile_overlap, progress=progress)
    del x
    out = Path(opts.out_dir)
    files = {"cube": out / f"{stem}.mat", "preview": out / f"{stem}_preview.png",
             "spectra": out / f"{stem}_spectra.png", "record": out / f"{stem}.json"}
    write_mat_cube(files["cube"], cube)
    stride = display_stride(h, w)
    srgb = cube_to_srgb(cube[:, ::stride, ::stride])
    pixels = list(pixels) if pixels else choose_pixels(srgb, stride)
    title = f"{photo_path.name} ({h} x {w}, {raw.dtype.itemsize * 8}-bit)"
    write_preview(files["preview"], raw, srgb, stride, net, pixels, title)
    write_spectra(files["spectra"], cube, pixels, title)
    record = {"input": str(photo_path), "size_hw": [h, w], "bit_depth": raw.dtype.itemsize * 8,
              "exif_orientation": exif_orientation(photo_path), "method": net.method, "weights": net.weights,
              "camera": net.camera, "normalisation": norm, "normalisation_source": net.normalisation_source,
              "tile": opts.tile, "tile_overlap": opts.tile_overlap, "self_ensemble": opts.self_ensemble,
              "device": str(net.device), "pixels": [list(p) for p in pixels],
              "spectra_at_pixels": {f"{y},{x}": cube[:, y, x].round(6).tolist() for y, x in pixels},
              "outputs": {k: str(v) for k, v in files.items()}, "seconds": round(time.time() - t0, 3)}
    atomic_write_json(files["record"], provenance(**record))
    return record


def predict_photos(opts: PredictOptions, progress: bool = True) -> list[dict]:
    """Reconstruct every photo of ``opts.rgb_path`` (see the module docstring for the files written)."""
    photos = list_photos(opts.rgb_path)
    net = load_network(opts.method, opts.weights, opts.device)
    records = []
    for photo, stem in zip(photos, _output_stems(photos)):
        rec = predict_photo(photo, stem, net, opts, progress=progress)
        if progress:
            print(f"[predict] {photo} -> {rec['outputs']['cube']} ({rec['size_hw'][0]} x {rec['size_hw'][1]}, "
                  f"{rec['seconds']:.1f} s)")
        records.append(rec)
    return records
