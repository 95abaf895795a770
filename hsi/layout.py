"""The disk layout: the only code that spells folder names, file names, variant names and run names.

A dataset folder (ARAD_1K's layout, the paper's names)::

    <dataset_path>/<NAME>/
        Train_Spec/<scene>.mat                     cubes of the train and valid scenes
        Train_RGB/<scene>.jpg                      the dataset's own RGB (ARAD_1K, SYNTH)
        split_txt/{train,valid}_list.txt           one scene stem per line
        cache/                                     the training data path's uncompressed cache
        <noise_type><npe>_<psf>/                   one generated variant (``variant_dir_name``)
            Train_Metamer_Spec/<scene>_metamer.mat
            Train_Metamer_RGB/<scene>_{original,metamer}.{png,jpg}
            manifest.json

Training runs are ``<result_root>/<train_run_name(...)>/`` and validation runs
``<result_root>/<validation_run_name(...)>/`` (plus ``<name>.txt`` beside it), as in the paper's code;
co-design runs ``<result_root>/<codesign_run_name(...)>/`` with ``psf_last.npz`` / ``psf_best.npz``.
"No PSF" is spelled ``None`` in names; ``is_no_psf`` is the one test for it. Shell drivers ask this
module for names (``python -m hsi.layout --help``) instead of re-deriving them.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

# ------------------------------------------------------------------------------------ names
SPEC_DIR = "Train_Spec"
RGB_DIR = "Train_RGB"
SPLIT_DIR = "split_txt"
CACHE_DIR = "cache"
METAMER_SPEC_DIR = "Train_Metamer_Spec"
METAMER_RGB_DIR = "Train_Metamer_RGB"
MANIFEST_NAME = "manifest.json"
SYNTH_MANIFEST_NAME = "synth_manifest.json"
CONVERSION_MANIFEST_NAME = "conversion_manifest.json"
SPLITS = ("train", "valid")
"""The split lists every dataset folder holds: ``split_txt/train_list.txt`` and ``valid_list.txt``."""
DATASET_FOLDERS = {"spec": SPEC_DIR, "rgb": RGB_DIR, "split": SPLIT_DIR, "cache": CACHE_DIR}
"""The sub-folders of a dataset folder by role (``python -m hsi.layout folder`` prints them)."""
VARIANTS = ("original", "metamer")
"""The two renderings of a scene in a generated variant folder."""
NO_PSF = "None"
"""How "no PSF" is spelled in folder and run names (and accepted on the command line)."""
_NO_PSF_SPELLINGS = ("", "none")

TRAIN_MODES = ("no_metamer", "fixed", "onthefly")
TRAIN_RUN_PREFIX = {"no_metamer": "No_metamer", "fixed": "Fixed_metamer", "onthefly": "OnTheFly_metamer"}
TRAIN_RESULT_ROOT = {"no_metamer": "./RGB2HS/train_exp", "fixed": "./RGB2HS/train_exp_fixed_metamer",
                     "onthefly": "./RGB2HS/train_exp_onthefly_metamer"}
"""The paper's default ``--result_root`` of each RGB2HS trainer."""
VALIDATION_RESULT_ROOT = "./RGB2HS/validate_exp"
MSTPP_RUN_ROOT = "./MST_plus_plus_code/train_exp/"
"""The MST++ recipe's default ``--outf``."""
CODESIGN_RESULT_ROOT = "./RGB2HS/train_exp_codesign"
"""The co-design trainer's default ``--result_root`` (``RGB2HS/train_RGB2HS_codesign.py``)."""
CODESIGN_PSF_FILES = {"last": "psf_last.npz", "best": "psf_best.npz"}
"""The PSFs a co-design run exports beside ``last.pth`` and ``best.pth`` (each with its ``.json``)."""


def is_unset(value) -> bool:
    """True for ``None``, ``""``, ``"None"`` and ``"none"``: how the command lines spell an absent
    name (no PSF, no checkpoint to start from)."""
    return value is None or str(value).strip().lower() in _NO_PSF_SPELLINGS + (NO_PSF.lower(),)


def is_no_psf(psf_name) -> bool:
    """True for ``None``, ``""``, ``"None"`` and ``"none"``: the spellings of "no PSF"."""
    return is_unset(psf_name)


def psf_label(psf_name: str | None) -> str:
    """The PSF part of the paper's names: ``None``, or the PSF's name (stem of a ``.npz`` path)."""
    if is_no_psf(psf_name):
        return NO_PSF
    psf = Path(str(psf_name)).name  # a name ("double_gauss_50mm_F1.8": the dot is part of it) or a path
    return psf[:-4] if psf.endswith(".npz") else psf


def format_npe(npe: float) -> str:
    """``npe`` as in the paper's folder names: ``0``, ``1000`` (integers without a decimal point)."""
    f = float(npe)
    return str(int(f)) if f.is_integer() else repr(f)


def variant_dir_name(noise_type: str, npe: float, psf_name: str | None) -> str:
    """The paper's folder name ``<noise_type><npe>_<psf_name>``, e.g. ``poisson1000_double_gauss_50mm_F1.8``."""
    return f"{noise_type}{format_npe(npe)}_{psf_label(psf_name)}"


# ------------------------------------------------------------------------------------ dataset folders
def spec_path(ds_dir: str | os.PathLike, scene: str) -> Path:
    """``<ds_dir>/Train_Spec/<scene>.mat`` (built from the stem, never by substring replacement)."""
    return Path(ds_dir) / SPEC_DIR / f"{scene}.mat"


def dataset_rgb_path(ds_dir: str | os.PathLike, scene: str, ext: str = "jpg") -> Path:
    """``<ds_dir>/Train_RGB/<scene>.<ext>``: the dataset's own RGB image of a scene."""
    return Path(ds_dir) / RGB_DIR / f"{scene}.{ext}"


def split_list_path(ds_dir: str | os.PathLike, split: str) -> Path:
    """``<ds_dir>/split_txt/<split>_list.txt`` (``split``: train or valid, else ``ValueError``)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return Path(ds_dir) / SPLIT_DIR / f"{split}_list.txt"


def cache_dir(ds_dir: str | os.PathLike, override: str | os.PathLike | None = None) -> Path:
    """``<ds_dir>/cache``: the default scene cache of the training data path (``override`` if given)."""
    return Path(override) if override else Path(ds_dir) / CACHE_DIR


def dataset_folder(ds_dir: str | os.PathLike, role: str) -> Path:
    """``<ds_dir>/<sub-folder>`` for ``role`` in ``DATASET_FOLDERS`` (spec, rgb, split, cache)."""
    if role not in DATASET_FOLDERS:
        raise ValueError(f"role must be one of {tuple(DATASET_FOLDERS)}, got {role!r}")
    return Path(ds_dir) / DATASET_FOLDERS[role]


def conversion_manifest_path(ds_dir: str | os.PathLike) -> Path:
    """``<ds_dir>/conversion_manifest.json``: provenance of a converted dataset."""
    return Path(ds_dir) / CONVERSION_MANIFEST_NAME


def synth_manifest_path(ds_dir: str | os.PathLike) -> Path:
    """``<ds_dir>/synth_manifest.json``: provenance of an embedded synthetic dataset."""
    return Path(ds_dir) / SYNTH_MANIFEST_NAME


def is_variant_dir(path: str | os.PathLike) -> bool:
    """True for a folder holding generated metamer data (it has ``Train_Metamer_Spec/``)."""
    return (Path(path) / METAMER_SPEC_DIR).is_dir()


def variant_dir(ds_dir: str | os.PathLike, noise_type: str, npe: float, psf_name: str | None) -> Path:
    """``<ds_dir>/<noise_type><npe>_<psf>``: where ``generate_metamers.py`` writes one variant."""
    return Path(ds_dir) / variant_dir_name(noise_type, npe, psf_name)


def metamer_cube_path(gen_dir: str | os.PathLike, scene: str) -> Path:
    """``<gen_dir>/Train_Metamer_Spec/<scene>_metamer.mat``."""
    return Path(gen_dir) / METAMER_SPEC_DIR / f"{scene}_metamer.mat"


def metamer_rgb_path(gen_dir: str | os.PathLike, scene: str, variant: str, ext: str) -> Path:
    """``<gen_dir>/Train_Metamer_RGB/<scene>_<variant>.<ext>`` (``variant``: original or metamer)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    return Path(gen_dir) / METAMER_RGB_DIR / f"{scene}_{variant}.{ext}"


def manifest_path(gen_dir: str | os.PathLike) -> Path:
    """``<gen_dir>/manifest.json``."""
    return Path(gen_dir) / MANIFEST_NAME


def scene_outputs(gen_dir: str | os.PathLike, scene: str, formats: Sequence[str]) -> dict[str, Path]:
    """The files of one generated scene: ``metamer_mat`` and ``<variant>_<ext>`` RGB images."""
    files = {"metamer_mat": metamer_cube_path(gen_dir, scene)}
    for ext in formats:
        for v in VARIANTS:
            files[f"{v}_{ext}"] = metamer_rgb_path(gen_dir, scene, v, ext)
    return files


# ------------------------------------------------------------------------------------ run names
def train_run_name(mode: str, *, loss: str, noise_type: str, npe: float, psf_name: str | None, method: str,
                   dataset: str, rgb_format: str = "png", percent: float | None = None) -> str:
    """The paper's training run folder name, e.g. ``Fixed_metamer_l1_png_poisson0_None_mst_plus_plus_ARAD_1K``.

    On-the-fly runs have no RGB format in the name (they render in the training step); a percentage
    below 100 adds ``_<p>percent``.
    """
    if mode not in TRAIN_MODES:
        raise ValueError(f"mode must be one of {TRAIN_MODES}, got {mode!r}")
    noise = f"{noise_type}{format_npe(npe)}"
    fmt = "" if mode == "onthefly" else f"{rgb_format}_"
    return with_percent(f"{TRAIN_RUN_PREFIX[mode]}_{loss}_{fmt}{noise}_{psf_label(psf_name)}_{method}_{dataset}",
                        percent)


def with_percent(name: str, percent: float | None) -> str:
    """``name`` plus ``_<p>percent`` when a percentage below 100 of the training scenes is used."""
    return name + (f"_{percent:g}percent" if percent is not None and percent < 100 else "")


def mstpp_run_name(dataset: str, method: str, percent: float | None = None) -> str:
    """The MST++ recipe's run name used by the drivers: ``<dataset>_<method>[_<p>percent]``."""
    return with_percent(f"{dataset}_{method}", percent)


def mstpp_run_dir(outf: str, percent: float | None = None) -> str:
    """The MST++ recipe's run folder: ``--outf`` with ``_<p>percent`` appended (a string, as given)."""
    return with_percent(outf, percent)


def codesign_run_name(*, optics: str, loss: str, noise_type: str, npe: float, method: str, dataset: str) -> str:
    """The co-design run folder name ``Codesign_<optics>_<loss>_<noise><npe>_<method>_<dataset>``, e.g.
    ``Codesign_doe_l1_poisson1000_mst_plus_plus_SYNTH`` (no PSF and no RGB format: both are learned or
    rendered in the step)."""
    return f"Codesign_{optics}_{loss}_{noise_type}{format_npe(npe)}_{method}_{dataset}"


def codesign_psf_path(run_dir: str | os.PathLike, which: str) -> Path:
    """``<run_dir>/psf_{last,best}.npz``: the PSF a co-design run exported at its last or best checkpoint."""
    if which not in CODESIGN_PSF_FILES:
        raise ValueError(f"which must be one of {tuple(CODESIGN_PSF_FILES)}, got {which!r}")
    return Path(run_dir) / CODESIGN_PSF_FILES[which]


def validation_kind(metamer: bool) -> str:
    """``metamer`` or ``std``: the data kind in validation names and reconstruction file names."""
    return "metamer" if metamer else "std"


def validation_run_name(*, dataset: str, noise_type: str, npe: float, psf_name: str | None, rgb_format: str,
                        method: str, metamer: bool) -> str:
    """``<NAME>_<noise><npe>_<psf>_<fmt>_<method>_{metamer|std}`` (the paper's naming)."""
    kind = validation_kind(metamer)
    return f"{dataset}_{noise_type}{format_npe(npe)}_{psf_label(psf_name)}_{rgb_format}_{method}_{kind}"


def validation_summary_path(result_root: str | os.PathLike, name: str) -> Path:
    """``<result_root>/<name>.txt``: the paper's summary file of a validation run beside its folder."""
    return Path(result_root) / f"{name}.txt"


def reconstruction_path(run_dir: str | os.PathLike, scene: str, metamer: bool) -> Path:
    """``<run_dir>/<scene>_{std|metamer}.mat``: a saved reconstruction of a validation run."""
    return Path(run_dir) / f"{scene}_{validation_kind(metamer)}.mat"


# ------------------------------------------------------------------------------------ shell queries
def _cli(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hsi.layout", description="Print a name of the toolkit's disk "
                                 "layout (for the shell drivers, which never re-derive names).")
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train_run", help="training run folder name")
    t.add_argument("--mode", required=True, choices=TRAIN_MODES)
    t.add_argument("--loss", required=True)
    t.add_argument("--rgb_format", default="png")
    t.add_argument("--percent", type=float, default=None)
    v = sub.add_parser("variant", help="generated variant folder name <noise_type><npe>_<psf>")
    c = sub.add_parser("codesign_run", help="co-design run folder name Codesign_<optics>_<loss>_<noise><npe>_...")
    c.add_argument("--optics", required=True)
    c.add_argument("--loss", required=True)
    for p in (t, v, c):
        p.add_argument("--noise_type", default="poisson")
        p.add_argument("--npe", type=float, default=0)
    for p in (t, v):
        p.add_argument("--psf_name", default=None)
    for p in (t, c):
        p.add_argument("--method", required=True)
        p.add_argument("--dataset_name", required=True)
    m = sub.add_parser("mstpp_run", help="MST++ recipe run name <dataset>_<method>[_<p>percent]")
    m.add_argument("--method", required=True)
    m.add_argument("--dataset_name", required=True)
    m.add_argument("--percent", type=float, default=None)
    e = sub.add_parser("codesign_psf", help="the PSF a co-design run exported: <run_dir>/psf_{last,best}.npz")
    e.add_argument("which", choices=tuple(CODESIGN_PSF_FILES))
    e.add_argument("--run_dir", required=True)
    f = sub.add_parser("folder", help="a sub-folder of a dataset folder (spec, rgb, split, cache)")
    f.add_argument("role", choices=tuple(DATASET_FOLDERS))
    f.add_argument("--dataset_dir", required=True, help="<dataset_path>/<NAME>")
    a = ap.parse_args(argv)
    if a.what == "folder":
        print(dataset_folder(a.dataset_dir, a.role))
    elif a.what == "train_run":
        print(train_run_name(a.mode, loss=a.loss, noise_type=a.noise_type, npe=a.npe, psf_name=a.psf_name,
                             method=a.method, dataset=a.dataset_name, rgb_format=a.rgb_format, percent=a.percent))
    elif a.what == "codesign_run":
        print(codesign_run_name(optics=a.optics, loss=a.loss, noise_type=a.noise_type, npe=a.npe, method=a.method,
                                dataset=a.dataset_name))
    elif a.what == "codesign_psf":
        print(codesign_psf_path(a.run_dir, a.which))
    elif a.what == "variant":
        print(variant_dir_name(a.noise_type, a.npe, a.psf_name))
    else:
        print(mstpp_run_name(a.dataset_name, a.method, a.percent))
    return 0


if __name__ == "__main__":
    sys.exit(_cli())
