"""SYNTH: the embedded default dataset, hyperspectral scenes built from real measured spectra.

Nothing is downloaded: every spectrum comes from colour-science's bundled data or from a formula.

* **Reflectances**: measured ones (ColorChecker N Ohta, BabelColor Average, ISO 17321-1 and PMC charts;
  CIE 1995 / CIE 2024 colour-rendering test samples; NIST CQS 7.4 / 9.0 samples: 161 spectra) and
  smooth random ones of the kind used in spectral upsampling (Jakob & Hanika 2019): ``r(x) = S(c0 x^2 +
  c1 x + c2)`` with ``S(z) = 1/2 + z / (2 sqrt(1 + z^2))`` and ``x`` the wavelength mapped to [-1, 1].
* **Illuminants** (CIE, from colour-science): daylight (D series at a random CCT, 4000-12000 K), A,
  fluorescent FL1-FL12 and FL3.1-FL3.15, LED-B1...V2. Outdoor scenes may get shadows lit by bluish
  skylight (D series, 9000-20000 K), indoor scenes a second source blended across the image.
* **Composition** (dead leaves): a background plus disks, ellipses and rotated rectangles with
  power-law sizes (``p(r) ~ r^-3``, radii 1.5-45 % of the image side) falling on top of each other
  until they cover the image 1.5-3.5 times on average, so edges are sharp and occlusions natural. Objects get sphere shading with a specular highlight (the illuminant's colour) or a flat
  gradient, a fine multiplicative texture, and some a second reflectance mixed in by stripes, spots
  or a smooth blend. A smooth illumination fall-off covers the scene.

Spectra are band-averaged over each 10 nm band (box filter on a 1 nm grid) rather than point-sampled,
which matters for the line spectra of fluorescent lamps. Radiance = reflectance x illuminant x
shading (+ specular), normalised per scene to a maximum of exactly 1.

Scenes are deterministic: scene ``i`` depends only on ``(seed, i, size)``, not on the number of
scenes built, so a larger set extends a smaller one.
"""
from __future__ import annotations

import functools
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from hsi.errors import ToolkitError
from hsi.io.mat import DEFAULT_WAVELENGTHS_NM

SYNTH_VERSION = 2
"""Version of the scene generator; a dataset built by another version is not extended silently.
Version 2: reflectance floor, stray light and veiling glare (no near-zero bands: relative metrics such
as MRAE stay meaningful, as on measured datasets)."""

REFLECTANCE_FLOOR = 0.02
"""Reflectances are mapped to [0.02, 0.98]: real surfaces reflect a few percent at least."""
STRAY_LIGHT = 0.01
"""Added to each illuminant: 1 % of its peak at every wavelength (ambient / stray light)."""
VEILING_GLARE = 0.01
"""Added to the radiance: 1 % of the scene's mean radiance per band (glare scattered by the optics)."""

MEASURED_REFLECTANCE_SETS = (
    ("colourchecker", "ColorChecker N Ohta"), ("colourchecker", "BabelColor Average"),
    ("colourchecker", "ISO 17321-1"), ("colourchecker", "PMC"),
    ("tcs", "CIE 1995"), ("tcs", "CIE 2024"), ("vs", "NIST CQS 7.4"), ("vs", "NIST CQS 9.0"),
)
FLUORESCENT = tuple([f"FL{i}" for i in range(1, 13)] + [f"FL3.{i}" for i in range(1, 16)])
LED = ("LED-B1", "LED-B2", "LED-B3", "LED-B4", "LED-B5", "LED-BH1", "LED-RGB1", "LED-V1", "LED-V2")


# ------------------------------------------------------------------------------------- spectra
def _band_average(sd, wavelengths_nm: np.ndarray) -> np.ndarray:
    """Mean of a colour-science spectral distribution over ``[wl - step/2, wl + step/2]`` per band
    (trapezoid on a 1 nm grid; constant extrapolation at the ends)."""
    import colour
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    half = 0.5 * (float(np.min(np.diff(wl))) if wl.size > 1 else 10.0)
    lo, hi = math.floor(wl[0] - half), math.ceil(wl[-1] + half)
    fine = sd.copy().align(colour.SpectralShape(lo, hi, 1.0))
    grid = np.asarray(fine.wavelengths, dtype=np.float64)
    vals = np.asarray(fine.values, dtype=np.float64)
    out = np.empty(wl.size)
    for i, c in enumerate(wl):
        sel = (grid >= c - half - 1e-9) & (grid <= c + half + 1e-9)
        v = vals[sel]
        # trapezoid mean on the uniform 1 nm grid
        out[i] = (v.sum() - 0.5 * (v[0] + v[-1])) / (v.size - 1) if v.size > 1 else v.mean()
    return out


@functools.lru_cache(maxsize=4)
def _measured_reflectances(wl_key: tuple[float, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    import colour
    from colour.quality import SDS_TCS, SDS_VS
    tables = {"colourchecker": colour.SDS_COLOURCHECKERS, "tcs": SDS_TCS, "vs": SDS_VS}
    wl = np.asarray(wl_key)
    spectra, names = [], []
    for kind, key in MEASURED_REFLECTANCE_SETS:
        for name, sd in tables[kind][key].items():
            spectra.append(_band_average(sd, wl))
            names.append(f"{key}: {name}")
    return np.clip(np.stack(spectra), 0.0, 1.0).astype(np.float32), tuple(names)


def measured_reflectances(wavelengths_nm: np.ndarray = DEFAULT_WAVELENGTHS_NM) -> tuple[np.ndarray, tuple[str, ...]]:
    """The measured reflectance library: ``(161, bands)`` float32 in [0, 1] and the spectra's names."""
    return _measured_reflectances(tuple(float(w) for w in wavelengths_nm))


@functools.lru_cache(maxsize=4)
def _illuminant_table(wl_key: tuple[float, ...]) -> dict[str, np.ndarray]:
    import colour
    wl = np.asarray(wl_key)
    table = {}
    for name in ("A", *FLUORESCENT, *LED):
        v = np.clip(_band_average(colour.SDS_ILLUMINANTS[name], wl), 0.0, None)
        table[name] = (v / v.max()).astype(np.float32)
    return table


def illuminant(name: str, wavelengths_nm: np.ndarray = DEFAULT_WAVELENGTHS_NM) -> np.ndarray:
    """A CIE illuminant's band-averaged spectral power ``(bands,)``, scaled to a maximum of 1.

    ``name``: ``"A"``, ``"FL1"``...``"FL12"``, ``"FL3.1"``...``"FL3.15"``, an LED name (``LED``) or
    ``"D<CCT>"`` for CIE daylight at a correlated colour temperature in K (e.g. ``"D6504"``).
    """
    wl_key = tuple(float(w) for w in wavelengths_nm)
    if name.startswith("D") and name[1:].replace(".", "", 1).isdigit():
        return _daylight(float(name[1:]), wl_key)
    table = _illuminant_table(wl_key)
    if name not in table:
        raise ValueError(f"unknown illuminant {name!r}; known: D<CCT>, {', '.join(table)}")
    return table[name]


@functools.lru_cache(maxsize=512)
def _daylight(cct: float, wl_key: tuple[float, ...]) -> np.ndarray:
    import colour
    xy = colour.temperature.CCT_to_xy_CIE_D(cct)
    v = np.clip(_band_average(colour.sd_CIE_illuminant_D_series(xy), np.asarray(wl_key)), 0.0, None)
    return (v / v.max()).astype(np.float32)


def sigmoid_polynomial_spectra(n: int, rng: np.random.Generator,
                               wavelengths_nm: np.ndarray = DEFAULT_WAVELENGTHS_NM) -> np.ndarray:
    """``(n, bands)`` smooth random reflectances in (0, 1): Jakob & Hanika's sigmoid of a quadratic.

    The quadratic is drawn as ``c0 (x - x0)^2 + b`` with ``x`` the wavelength mapped to [-1, 1], a
    random extremum ``x0`` (peak or trough), curvature ``|c0|`` log-uniform in [0.5, 60] and offset
    ``b`` in [-3, 3], so the set spans near-flat greys to saturated band-pass and band-stop colours.
    """
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    x = (wl - wl.mean()) / (0.5 * (wl[-1] - wl[0]))
    x0 = rng.uniform(-1.3, 1.3, size=(n, 1))
    c0 = np.exp(rng.uniform(np.log(0.5), np.log(60.0), size=(n, 1))) * rng.choice([-1.0, 1.0], size=(n, 1))
    b = rng.uniform(-3.0, 3.0, size=(n, 1))
    z = c0 * (x[None] - x0) ** 2 + b
    return (0.5 + z / (2.0 * np.sqrt(1.0 + z * z))).astype(np.float32)


# ----------------------------------------------------------------------------------- textures
def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """``(H, W)`` smooth noise (bicubic interpolation of a Gaussian grid of spacing ``cell`` px)."""
    h, w = shape
    cell = max(2, int(round(cell)))
    gh, gw = h // cell + 4, w // cell + 4
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    big = cv2.resize(grid, (gw * cell, gh * cell), interpolation=cv2.INTER_CUBIC)
    oy, ox = int(rng.integers(0, cell)) + cell, int(rng.integers(0, cell)) + cell
    return big[oy:oy + h, ox:ox + w]


def _fbm(rng: np.random.Generator, shape: tuple[int, int], cell: float, octaves: int = 4) -> np.ndarray:
    """Fractal noise: octaves of ``_smooth_noise`` with halving cell and amplitude, unit std."""
    out = np.zeros(shape, np.float32)
    for k in range(octaves):
        if cell / 2 ** k < 2:
            break
        out += 0.5 ** k * _smooth_noise(rng, shape, cell / 2 ** k)
    return out / max(float(out.std()), 1e-6)


# -------------------------------------------------------------------------------------- scenes
@dataclass
class _Leaf:
    kind: str
    cy: float
    cx: float
    a: float
    b: float
    angle: float


def _leaf_mask(leaf: _Leaf, h: int, w: int):
    """Bounding box slices, the mask inside it and the normalised local coordinates (u, v)."""
    r = max(leaf.a, leaf.b) * (1.5 if leaf.kind == "rect" else 1.0)
    y0, y1 = max(0, int(leaf.cy - r)), min(h, int(math.ceil(leaf.cy + r)) + 1)
    x0, x1 = max(0, int(leaf.cx - r)), min(w, int(math.ceil(leaf.cx + r)) + 1)
    if y0 >= y1 or x0 >= x1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dy, dx = yy - leaf.cy, xx - leaf.cx
    ca, sa = math.cos(leaf.angle), math.sin(leaf.angle)
    u = (ca * dx + sa * dy) / leaf.a
    v = (-sa * dx + ca * dy) / leaf.b
    if leaf.kind == "rect":
        mask = (np.abs(u) <= 1) & (np.abs(v) <= 1)
    else:
        mask = u * u + v * v <= 1
    if not mask.any():
        return None
    return (slice(y0, y1), slice(x0, x1)), mask, u, v


def _leaf_shading(lu, lv, sphere: bool, params: np.ndarray, light: np.ndarray, half_vec: np.ndarray):
    """``(shade, specular)`` over a leaf's local coordinates ``lu, lv`` (a lit sphere or a tilted plane)."""
    if sphere:
        rho2 = np.clip(lu * lu + lv * lv, 0, 1)
        nz = np.sqrt(1 - rho2)
        ndotl = lu * light[0] + lv * light[1] + nz * light[2]
        ambient = 0.15 + 0.3 * params[0]
        sh = ambient + (1 - ambient) * np.clip(ndotl, 0, None)
        ndoth = np.clip(lu * half_vec[0] + lv * half_vec[1] + nz * half_vec[2], 0, None)
        sp = (0.6 * params[1] ** 2) * ndoth ** (10 + 90 * params[2])
    else:
        ang = 2 * math.pi * params[0]
        sh = 1.0 + (0.6 * params[1] - 0.3) * (lu * math.cos(ang) + lv * math.sin(ang))
        sp = np.zeros_like(sh)
    return sh, sp


def _leaf_texture(texture_kind: str, lu, lv, r: float, params: np.ndarray, blobs) -> np.ndarray:
    """Weight of a leaf's second reflectance: stripes, spots, a blend or none (zeros)."""
    if texture_kind == "stripes":
        period = 2.0 + params[4] * 0.25 * r
        t = ((lu * r * math.cos(params[5] * math.pi) + lv * r * math.sin(params[5] * math.pi)) / period) % 1.0
        return (t < 0.5).astype(np.float32)
    if texture_kind == "spots":
        return (blobs > 0.4 + params[6]).astype(np.float32)
    if texture_kind == "blend":
        return np.clip(0.5 + 0.5 * blobs * (0.5 + params[7]), 0, 1).astype(np.float32)
    return np.zeros_like(lu)


def _illumination(rng: np.random.Generator, wl: np.ndarray, h: int, w: int, s: float, xx, yy):
    """The scene's light: ``(main name, second name or None, illuminant (1|H, 1|W, bands), falloff (H, W))``."""
    family = rng.choice(["daylight", "A", "fluorescent", "LED"], p=[0.5, 0.15, 0.15, 0.2])
    if family == "daylight":
        main = f"D{int(rng.uniform(4000, 12000))}"
    elif family == "A":
        main = "A"
    elif family == "fluorescent":
        main = str(rng.choice(FLUORESCENT))
    else:
        main = str(rng.choice(LED))
    e1 = illuminant(main, wl)
    e1 = e1 + STRAY_LIGHT * e1.max()          # stray/ambient light: no band is completely dark
    second, weight = None, None
    r2 = rng.random(4)
    if family == "daylight" and r2[0] < 0.5:          # cast shadows lit by skylight
        second = f"D{int(9000 + 11000 * r2[1])}"
        field = _fbm(rng, (h, w), cell=max(4.0, s / 4), octaves=3)
        edge = np.clip((field - (r2[2] - 0.5)) / 0.15, 0, 1)      # fairly sharp shadow edges
        weight = edge.astype(np.float32)
        e2 = illuminant(second, wl) * (0.15 + 0.25 * r2[3])
    elif family != "daylight" and r2[0] < 0.3:        # a second source blended across the scene
        second = str(rng.choice(["A", *FLUORESCENT, *LED, "D6504"]))
        ang = 2 * math.pi * r2[1]
        ramp = ((xx - w / 2) * math.cos(ang) + (yy - h / 2) * math.sin(ang)) / s
        weight = np.clip(0.5 + 1.5 * ramp, 0, 1).astype(np.float32)
        e2 = illuminant(second, wl) * (0.5 + 0.5 * r2[3])
    falloff = np.clip(1.0 + 0.25 * _fbm(rng, (h, w), cell=max(4.0, s / 2), octaves=2), 0.4, 1.6)
    if weight is None:
        illum = e1[None, None, :]
    else:
        illum = e1[None, None, :] + weight[..., None] * (e2 - e1)[None, None, :]
    return main, second, illum, falloff


def _light_direction(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Unit light direction (from above the image plane) and the half vector to the viewer ``(0, 0, 1)``."""
    light = rng.normal(size=3)
    light[2] = abs(light[2]) + 0.6
    light /= np.linalg.norm(light)
    half_vec = light + np.array([0.0, 0.0, 1.0])
    half_vec /= np.linalg.norm(half_vec)
    return light, half_vec


def _radiance_cube(refl_a, refl_b, label, mix, shade, spec, illum, falloff) -> np.ndarray:
    """``(bands, H, W)`` float32 radiance in [0, 1] (maximum 1) from the painted maps and the light."""
    refl = refl_a[label] * (1.0 - mix)[..., None] + refl_b[label] * mix[..., None]     # (H, W, bands)
    # real surfaces reflect at least a few percent (even black paint): keep reflectance in [0.02, 0.98]
    refl = REFLECTANCE_FLOOR + (1.0 - 2 * REFLECTANCE_FLOOR) * refl
    gain = (shade * falloff)[..., None]
    radiance = (refl * gain + (spec * falloff)[..., None]) * illum
    radiance = np.clip(radiance, 0.0, None)
    # veiling glare: a share of the scene's mean radiance scattered over the whole image (lens and sensor)
    radiance = radiance + VEILING_GLARE * radiance.mean(axis=(0, 1), keepdims=True)
    cube = np.ascontiguousarray(radiance.transpose(2, 0, 1), dtype=np.float32)
    peak = float(cube.max())
    cube /= np.float32(peak if peak > 0 else 1.0)
    cube = np.minimum(cube, np.float32(1.0))
    return cube


def make_scene(index: int, seed: int = 0, size: tuple[int, int] = (256, 256),
               wavelengths_nm: np.ndarray = DEFAULT_WAVELENGTHS_NM) -> tuple[np.ndarray, dict]:
    """One SYNTH scene.

    Args:
        index: scene number (0-based); scene ``i`` depends only on ``(seed, i, size)``.
        seed: dataset seed.
        size: ``(H, W)`` in pixels (at least 8 x 8).
        wavelengths_nm: ``(bands,)`` band centres.

    Returns:
        ``(cube, info)``: ``cube (bands, H, W)`` float32 radiance in [0, 1] with maximum exactly 1;
        ``info`` describes the scene (illuminants, number of objects, share of measured spectra).
    """
    h, w = int(size[0]), int(size[1])
    if h < 8 or w < 8:
        raise ValueError(f"scene size must be at least 8 x 8, got {size}")
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(index), h, w, SYNTH_VERSION]))
    measured, _ = measured_reflectances(wl)
    s = float(min(h, w))

    # --- leaves: background + power-law sized shapes, painted back to front
    r_min, r_max = max(2.0, 0.015 * s), 0.45 * s
    mean_area = 2 * math.pi * math.log(r_max / r_min) / (r_min ** -2 - r_max ** -2)   # E[pi r^2]
    n_leaves = int(rng.uniform(1.5, 3.5) * h * w / mean_area)                       # coverage 1.5-3.5
    u = rng.random(n_leaves)
    radii = (r_min ** -2 - u * (r_min ** -2 - r_max ** -2)) ** -0.5           # p(r) ~ r^-3
    n_obj = n_leaves + 1
    use_measured = rng.random((n_obj, 2)) < 0.5
    refl_a = np.where(use_measured[:, :1], measured[rng.integers(0, len(measured), n_obj)],
                      sigmoid_polynomial_spectra(n_obj, rng, wl))
    refl_b = np.where(use_measured[:, 1:], measured[rng.integers(0, len(measured), n_obj)],
                      sigmoid_polynomial_spectra(n_obj, rng, wl))
    label = np.zeros((h, w), np.int32)
    mix = np.zeros((h, w), np.float32)              # weight of refl_b
    shade = np.ones((h, w), np.float32)
    spec = np.zeros((h, w), np.float32)             # specular highlight (illuminant-coloured)
    fine = _fbm(rng, (h, w), cell=max(2.0, s / 24), octaves=3)
    blobs = _fbm(rng, (h, w), cell=max(4.0, s / 10), octaves=3)
    light, half_vec = _light_direction(rng)

    # background: flat, gradient-shaded, possibly textured
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phi = rng.uniform(0, 2 * math.pi)
    shade[:] = 1.0 + rng.uniform(0.0, 0.5) * ((xx - w / 2) * math.cos(phi) + (yy - h / 2) * math.sin(phi)) / s
    if rng.random() < 0.5:
        mix[:] = (blobs > rng.uniform(-0.5, 0.5)).astype(np.float32)
    kinds = rng.choice(["disk", "ellipse", "rect"], size=n_leaves, p=[0.45, 0.25, 0.30])
    n_textured = 0
    for k in range(n_leaves):
        r = float(radii[k])
        kind = str(kinds[k])
        aspect = 1.0 if kind == "disk" else float(rng.uniform(0.3, 1.0))
        leaf = _Leaf(kind, float(rng.uniform(-0.05, 1.05) * h), float(rng.uniform(-0.05, 1.05) * w),
                     r, r * aspect, float(rng.uniform(0, math.pi)))
        texture_kind = rng.choice(["none", "stripes", "spots", "blend"], p=[0.7, 0.1, 0.1, 0.1])
        sphere = kind != "rect" and rng.random() < 0.4
        params = rng.random(8)                                      # drawn even if unused: stable stream
        got = _leaf_mask(leaf, h, w)
        if got is None:
            continue
        (sy, sx), mask, lu, lv = got
        obj = k + 1
        label[sy, sx][mask] = obj
        sh, sp = _leaf_shading(lu, lv, sphere, params, light, half_vec)
        sh = sh * (1.0 + 0.15 * params[3] * fine[sy, sx])
        shade[sy, sx][mask] = sh[mask]
        spec[sy, sx][mask] = sp[mask]
        t = _leaf_texture(texture_kind, lu, lv, r, params, blobs[sy, sx])
        n_textured += texture_kind != "none"
        mix[sy, sx][mask] = t[mask]
    shade = np.clip(shade, 0.05, None)

    main, second, illum, falloff = _illumination(rng, wl, h, w, s, xx, yy)

    cube = _radiance_cube(refl_a, refl_b, label, mix, shade, spec, illum, falloff)
    info = {"index": int(index), "illuminant": main, "second_illuminant": second, "objects": int(n_leaves),
            "textured_objects": int(n_textured), "measured_reflectance_share": float(use_measured.mean())}
    return cube, info


# ------------------------------------------------------------------------------------- dataset
@dataclass(frozen=True)
class SynthConfig:
    """Parameters of a SYNTH dataset.

    Attributes:
        num_scenes: number of scenes (the last ``valid_fraction`` of them are the validation split).
        size: ``(H, W)`` of every scene in pixels.
        seed: dataset seed (scene ``i`` depends only on seed, i and size).
        valid_fraction: share of validation scenes (at least one).
        camera: camera of the rendered ``Train_RGB`` JPEGs (name or file, ``hsi.camera``).
        jpeg_quality: JPEG quality of ``Train_RGB`` (65, as ARAD_1K's official RGB).
    """

    num_scenes: int = 40
    size: tuple[int, int] = (256, 256)
    seed: int = 0
    valid_fraction: float = 0.1
    camera: str = "basler_a2A5320-23ucBAS"
    jpeg_quality: int = 65

    def __post_init__(self):
        if self.num_scenes < 2:
            raise ValueError(f"num_scenes must be >= 2 (train and valid), got {self.num_scenes}")
        if not 0 < self.valid_fraction < 1:
            raise ValueError(f"valid_fraction must be in (0, 1), got {self.valid_fraction}")


def scene_name(index: int) -> str:
    """``SYNTH_0001`` for index 0 (ARAD_1K-style, 1-based, 4 digits)."""
    return f"SYNTH_{index + 1:04d}"


def synth_splits(num_scenes: int, valid_fraction: float = 0.1) -> dict[str, list[str]]:
    """Train = the first scenes, valid = the last ``max(1, round(n * valid_fraction))`` (as ARAD_1K)."""
    n_valid = max(1, int(round(num_scenes * valid_fraction)))
    names = [scene_name(i) for i in range(num_scenes)]
    return {"train": names[:-n_valid], "valid": names[-n_valid:]}


class SynthSettingsError(ToolkitError, ValueError):
    """The folder holds a SYNTH dataset built with other settings (use overwrite or another folder)."""


def build_synth_dataset(root: str | os.PathLike, config: SynthConfig = SynthConfig(), overwrite: bool = False,
                        progress: bool = True) -> dict:
    """Build (or complete) a SYNTH dataset in ``root`` in the ARAD_1K layout.

    Writes ``Train_Spec/<scene>.mat`` (``hsi.io.write_mat_cube``), ``Train_RGB/<scene>.jpg`` (rendered
    through ``config.camera`` with ``hsi.render`` defaults and the SYNTH exposure target, JPEG quality
    ``config.jpeg_quality``), ``split_txt/{train,valid}_list.txt`` and ``synth_manifest.json``
    (provenance: settings, versions, per-scene description, timing). Scenes whose two files exist are
    skipped unless ``overwrite``; a folder built with other settings raises ``SynthSettingsError``
    unless ``overwrite``. All writes are atomic.

    Returns:
        The manifest as a dict.
    """
    import json

    import torch
    from tqdm import tqdm

    from hsi.camera import load_camera
    from hsi.datasets import get_dataset_spec, write_split_lists
    from hsi.layout import dataset_rgb_path, spec_path, synth_manifest_path
    from hsi.io import atomic_write_json, provenance, write_mat_cube, write_rgb
    from hsi.render import RenderConfig, render_rgb

    root = Path(root)
    settings = {"generator_version": SYNTH_VERSION, "seed": config.seed, "size": list(config.size),
                "camera": config.camera, "jpeg_quality": config.jpeg_quality}
    manifest_path = synth_manifest_path(root)
    old_scenes: dict = {}
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text())
        diff = {k: (old.get("settings", {}).get(k), v) for k, v in settings.items()
                if old.get("settings", {}).get(k) != v}
        if diff and not overwrite:
            raise SynthSettingsError(
                f"{root} holds a SYNTH dataset built with other settings "
                f"({', '.join(f'{k}: {a!r} there, {b!r} asked' for k, (a, b) in diff.items())}); "
                f"pass --overwrite to rebuild it or choose another folder")
        if not diff:
            old_scenes = {s["scene"]: s for s in old.get("scenes", [])}
    camera = load_camera(config.camera)
    srf = torch.from_numpy(camera.srf)
    render_cfg = RenderConfig(exposure_target=get_dataset_spec("SYNTH").exposure_target)
    splits = synth_splits(config.num_scenes, config.valid_fraction)
    write_split_lists(root, splits)
    t0 = time.perf_counter()
    scenes, built = [], 0
    for i in tqdm(range(config.num_scenes), desc="SYNTH", unit="scene", disable=not progress):
        name = scene_name(i)
        mat, jpg = spec_path(root, name), dataset_rgb_path(root, name, "jpg")
        if not overwrite and mat.is_file() and jpg.is_file() and name in old_scenes:
            scenes.append(old_scenes[name])
            continue
        cube, info = make_scene(i, config.seed, config.size)
        write_mat_cube(mat, cube)
        rgb = render_rgb(torch.from_numpy(cube), srf, None, render_cfg).to_uint()[0]
        write_rgb(jpg, rgb, jpeg_quality=config.jpeg_quality)
        scenes.append({"scene": name, **info})
        built += 1
    elapsed = time.perf_counter() - t0
    manifest = provenance(kind="SYNTH dataset", settings=settings, config=asdict(config),
                          splits={k: len(v) for k, v in splits.items()}, built=built,
                          skipped=config.num_scenes - built, seconds=round(elapsed, 3),
                          camera=camera.name, render=render_cfg.as_dict(), scenes=scenes)
    atomic_write_json(manifest_path, manifest)
    return manifest
