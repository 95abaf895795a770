"""Shared command-line pieces of the training and validation scripts (the paper's flags + new ones),
the conversion of parsed flags into typed options, and the data helpers the runs share.

The scripts in ``RGB2HS/`` and ``MST_plus_plus_code/train_code/`` only declare their flags with these
helpers, convert them (``training_options_from_args`` and friends) and call ``run_training`` /
``run_mstpp_training`` / ``run_validation`` (``hsi.train.experiments``).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from hsi import layout
from hsi.camera import load_camera
from hsi.cli_types import (HelpFormatter, allow_bare_bool, camera_help, dataset_help, method_help,
                           non_negative_int, percent, positive_float, positive_int, psf_help, str2bool)
from hsi.cli_types import bool_flag
from hsi.data import DataError, SceneCache, ScenePair
from hsi.errors import OptionError
from hsi.io import atomic_write_text
from hsi.train.onthefly import scene_stats  # noqa: F401  (re-exported: the one implementation)
from hsi.train.options import (DATA_JOINS, EngineOptions, MstppTrainingOptions, TrainingOptions, ValidationOptions,
                               options_from_args)

psf_label = layout.psf_label  # re-exported (older importers)
CLI_ONLY_FLAGS = ("print_run_dir",)
"""Flags of the training scripts that are no option of a run."""
__all__ = ["str2bool"]  # re-exported: the strict parser of hsi.cli_types (older importers)


def generated_dir(dataset_path: str, dataset_name: str, noise_type: str, npe: int, psf_name: str | None) -> Path:
    """``<dataset_path>/<NAME>/<noise_type><npe>_<psf>``: where ``generate_metamers.py`` writes."""
    return layout.variant_dir(Path(dataset_path) / dataset_name, noise_type, npe, psf_name)


def generate_command(dataset_path: str, dataset_name: str, noise_type: str, npe: int, psf_name: str | None,
                     rgb_format: str = "png") -> str:
    """The ``generate_metamers.py`` command that makes the data a run needs (for error messages)."""
    return (f"python ./metamer/generate_metamers.py --psf_name {layout.psf_label(psf_name)} --dataset_path "
            f"{dataset_path} --dataset_name {dataset_name} --noise_type {noise_type} --npe {npe} "
            f"--alpha 0.0 --rgb_format {rgb_format}")


def cube_pairs(ds_dir: str | os.PathLike, scenes: Sequence[str]) -> list[ScenePair]:
    """The original cubes ``Train_Spec/<s>.mat`` without RGB (rendered on the fly)."""
    return [ScenePair(s, layout.spec_path(ds_dir, s), None) for s in scenes]


def dataset_rgb_pairs(ds_dir: str | os.PathLike, scenes: Sequence[str]) -> list[ScenePair]:
    """The cubes ``Train_Spec/<s>.mat`` with the dataset's own RGB ``Train_RGB/<s>.jpg`` (the MST++ recipe)."""
    return [ScenePair(s, layout.spec_path(ds_dir, s), layout.dataset_rgb_path(ds_dir, s, "jpg")) for s in scenes]


def paired_scenes(dataset_path: str, dataset_name: str, gen: Path, scenes: Sequence[str], join: str,
                  rgb_format: str) -> list[ScenePair]:
    """RGB/cube pairs of the paper's layout: ``standard`` = originals (``Train_Spec/<s>.mat`` with
    ``<s>_original.<fmt>``), ``metamer`` = metamers, ``both`` = metamers then originals."""
    if join not in DATA_JOINS:
        raise DataError(f"data_join must be one of {DATA_JOINS}, got {join!r}")
    ds_dir = Path(dataset_path) / dataset_name
    originals = [ScenePair(s, layout.spec_path(ds_dir, s), layout.metamer_rgb_path(gen, s, "original", rgb_format))
                 for s in scenes]
    metamers = [ScenePair(s, layout.metamer_cube_path(gen, s), layout.metamer_rgb_path(gen, s, "metamer", rgb_format),
                          "metamer") for s in scenes]
    return {"standard": originals, "metamer": metamers, "both": metamers + originals}[join]


# ------------------------------------------------------------------------------------ arguments
def add_engine_args(ap: argparse.ArgumentParser) -> None:
    """Flags of the engine that the paper's scripts did not have (all optional)."""
    g = ap.add_argument_group("engine (toolkit)")
    g.add_argument("--resume", type=str2bool, default=False, help="continue from <run>/last.pth if present")
    bool_flag(g, "--overwrite", False, "start over in a folder that holds a run (the old run is moved to <run>.old-<time>)")
    g.add_argument("--amp", type=str2bool, default=False, help="bf16 autocast")
    g.add_argument("--compile", type=str2bool, default=False, help="torch.compile the network")
    g.add_argument("--compile_mode", default="auto",
                   choices=["auto", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"],
                   help="torch.compile mode (reduce-overhead: CUDA graphs; auto: reduce-overhead on one GPU, "
                   "default on CPU and under DDP)")
    g.add_argument("--tf32", type=str2bool, default=True, help="allow TF32 on CUDA")
    g.add_argument("--deterministic", type=str2bool, default=False, help="deterministic algorithms (exact resume on GPU)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:k")
    g.add_argument("--num_workers", type=non_negative_int, default=2, help="DataLoader worker processes (>= 0)")
    g.add_argument("--data_on_device", default="auto", choices=["auto", "on", "off"],
                   help="hold the training scenes in GPU memory and cut patches there (auto: on CUDA when they "
                   "take under half of the free GPU memory; off: disk-backed DataLoader, RAM bounded)")
    g.add_argument("--cache_dir", default=None, help="uncompressed .npy cache of the scenes "
                   "(None: <dataset_path>/<NAME>/cache)")
    g.add_argument("--valid_border", type=non_negative_int, default=0,
                   help="pixels cropped from each border for validation metrics")
    g.add_argument("--srf_name", default=None, help=camera_help("camera the data was rendered with (ssrnet input; "
                   "None: the --srf_path file or the Basler camera)"))
    g.add_argument("--stop_at", type=int, default=None, help=argparse.SUPPRESS)


def add_schedule_args(ap: argparse.ArgumentParser, epochs: tuple[str, int, str], crop: str, valid_freq: int,
                      log_freq: int = 20, save_freq: int = 1000) -> None:
    """The schedule flags the trainers share, checked by the parser: ``epochs`` = (epochs flag, its
    default, iterations-per-epoch flag), ``crop`` = the patch-size flag's name, and the frequencies."""
    epoch_flag, epoch_default, per_epoch_flag = epochs
    ap.add_argument(epoch_flag, type=positive_int, default=epoch_default, help=f"epochs of {per_epoch_flag} iterations")
    ap.add_argument(per_epoch_flag, type=positive_int, default=1000, help="iterations per epoch")
    ap.add_argument("--init_lr", type=positive_float, default=None,
                    help="Adam initial LR, > 0 (None: the method's, e.g. 4e-4 for MST++)")
    ap.add_argument("--batch_size", type=positive_int, default=20, help="patches per iteration")
    ap.add_argument(crop, type=positive_int, default=128, help="patch side in pixels")
    ap.add_argument("--stride", type=positive_int, default=8, help="step between patch positions in pixels")
    ap.add_argument("--log_freq", type=positive_int, default=log_freq, help="iterations between log lines")
    ap.add_argument("--valid_freq", type=non_negative_int, default=valid_freq,
                    help="iterations between validations (0: only at the end)")
    ap.add_argument("--save_freq", type=positive_int, default=save_freq, help="iterations between checkpoints")


def check_alpha_range(args: argparse.Namespace) -> None:
    """``OptionError`` unless ``--alpha_min`` < ``--alpha_max`` (the on-the-fly trainer's alpha range)."""
    lo, hi = getattr(args, "alpha_min", None), getattr(args, "alpha_max", None)
    if lo is not None and hi is not None and not lo < hi:
        raise OptionError(f"--alpha_min {lo:g} must be below --alpha_max {hi:g} (alpha is uniform in "
                          "[alpha_min, alpha_max); the paper's range is -1 2)")


def known_tags() -> str:
    """The validation tags the report places in the paper's tables, one table per ``; ``-separated part."""
    from hsi.report.specs import TABLES
    parts = []
    for spec in TABLES.values():
        cols = list(spec.columns)
        if cols and all("->" in c for c in cols):
            parts.append(f"{spec.key}/<train>-><valid>")
        elif spec.psf_plot:
            parts.append(f"{spec.key}/<{'|'.join(cols)}|a PSF name>")
        else:
            parts.append(f"{spec.key}/<{'|'.join(cols)}>")
    return "; ".join(parts)


def validation_tag(text: str) -> str:
    """A ``--tag`` ``<table>/<column>``: for the paper's tables of fixed columns (Tables II, III, V,
    VI/VII) the column must be one of the table's; Table IV takes ``<train>-><valid>``, Finding 3 any PSF
    column, and other tables (your own) any column. A bad tag is refused listing the known tags."""
    from hsi.report.specs import TABLES
    table, _, column = text.partition("/")
    if not table.strip() or not column.strip() or text != text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not '<table>/<column>'; the paper's tags: {known_tags()}")
    base = next((k for k in TABLES if table == k or table.startswith(k + "_")), None)
    spec = TABLES.get(base)
    if spec is None or not spec.columns or spec.psf_plot:
        return text
    cols = spec.columns
    if all("->" in c for c in cols):
        ok = all(column.partition("->")[::2]) and "->" in column
    else:
        ok = any(column == c or column.startswith(c + "_") for c in cols)
    if not ok:
        raise argparse.ArgumentTypeError(f"{text!r}: {column!r} is no column of {table} ({spec.title}); the "
                                         f"paper's tags: {known_tags()}")
    return text


def train_config_fields(opts: TrainingOptions | MstppTrainingOptions) -> dict:
    """``hsi.train.engine.TrainConfig`` fields that every trainer takes from the same options."""
    e: EngineOptions = opts.engine
    return dict(init_lr=opts.init_lr, batch_size=opts.batch_size, log_freq=opts.log_freq, valid_freq=opts.valid_freq,
                save_freq=opts.save_freq, seed=opts.seed, amp=e.amp, compile=e.compile,
                compile_mode=e.compile_mode, tf32=e.tf32, deterministic=e.deterministic,
                num_workers=e.num_workers, data_on_device=e.data_on_device, device=device_of(e.device, e.gpu_id),
                resume=e.resume, valid_border=e.valid_border, stop_at=e.stop_at, wandb=opts.wandb)


def rgb2hs_parser(description: str, mode: str) -> argparse.ArgumentParser:
    """The parser of the RGB2HS trainer of ``mode`` with the shared flags (``add_rgb2hs_args``)."""
    ap = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    add_rgb2hs_args(ap, mode)
    return ap


def add_rgb2hs_args(ap: argparse.ArgumentParser, mode: str) -> None:
    """The paper's flags of the RGB2HS trainer of ``mode`` (upstream 1.3-1.5), with their defaults;
    ``--percent`` and ``--data_join`` for the no-metamer trainer (the on-the-fly one declares its own)."""
    result_root, with_percent, data_join = layout.TRAIN_RESULT_ROOT[mode], mode == "no_metamer", mode == "no_metamer"
    ap.add_argument("--psf_name", default=None, help="PSF of the data folder (<noise><npe>_<psf>): " + psf_help())
    ap.add_argument("--dataset_path", default="./datasets", help="datasets root")
    ap.add_argument("--dataset_name", default="ARAD_1K", help=dataset_help())
    ap.add_argument("--method", default="mst_plus_plus", help=method_help())
    ap.add_argument("--pretrained_root", default=None, help="folder of a checkpoint to start from")
    ap.add_argument("--resume_file", default=None, help="checkpoint stem in --pretrained_root to start from")
    ap.add_argument("--result_root", default=result_root, help="folder of the run folders")
    ap.add_argument("--noise_type", default="poisson", choices=["poisson", "gaussian"], help="noise of the data folder")
    ap.add_argument("--npe", type=non_negative_int, default=0, help="photo-electrons of the data folder (0: noiseless)")
    ap.add_argument("--rgb_format", default="png", choices=["png", "jpg"], help="RGB files of the data folder")
    if with_percent:
        ap.add_argument("--percent", type=percent, default=None,
                        help="use exactly this percentage, in (0, 100], of the training scenes (None: all)")
    add_schedule_args(ap, epochs=("--num_epochs", 300, "--per_epoch_iteration"), crop="--crop_size", valid_freq=100)
    ap.add_argument("--loss_func", default="l1", choices=["l1", "l2", "mrae", "rmse", "psnr", "sam"], help="training loss")
    ap.add_argument("--seed", type=int, default=0, help="seed of the run")
    ap.add_argument("--gpu_id", default=None, help="GPU index (sets the device to cuda:<gpu_id>)")
    if data_join:
        ap.add_argument("--data_join", default="standard", choices=list(DATA_JOINS))
    ap.add_argument("--wandb", type=str2bool, default=False, help="log to Weights & Biases")
    add_engine_args(ap)
    add_print_run_dir_arg(ap)
    allow_bare_bool(ap)


def add_print_run_dir_arg(ap: argparse.ArgumentParser) -> None:
    """``--print_run_dir True``: print the run folder these flags train into and exit (for the shell drivers)."""
    ap.add_argument("--print_run_dir", type=str2bool, default=False,
                    help="print the run folder of these flags and exit without training")


def training_options_from_args(args: argparse.Namespace, mode: str) -> TrainingOptions:
    """The options of an RGB2HS trainer's parsed flags (``mode``: no_metamer, fixed, onthefly)."""
    return options_from_args(TrainingOptions, args, CLI_ONLY_FLAGS, mode=mode)


def mstpp_options_from_args(args: argparse.Namespace) -> MstppTrainingOptions:
    """The options of the MST++ recipe's parsed flags."""
    return options_from_args(MstppTrainingOptions, args, CLI_ONLY_FLAGS)


def validation_options_from_args(args: argparse.Namespace) -> ValidationOptions:
    """The options of ``validate_RGB2HS.py``'s parsed flags."""
    return options_from_args(ValidationOptions, args)


def device_of(device: str, gpu_id: str | int | None = None) -> str:
    """``cuda:<gpu_id>`` when a GPU index is given and the device is ``auto``; else ``device``."""
    if gpu_id not in (None, "") and device == "auto":
        return f"cuda:{int(gpu_id)}"
    return device


def pretrained_of(root: str | None, stem: str | None = None) -> str | None:
    """``--pretrained_root``/``--resume_file`` -> a checkpoint file (weights to start from), or None."""
    if layout.is_unset(root):
        return None
    path = Path(root)
    if stem:
        path = path / (stem if stem.endswith(".pth") else f"{stem}.pth")
    if not path.is_file():
        raise DataError(f"pretrained checkpoint not found: {path}")
    return str(path)


def camera_srf(srf_name: str | None = None, srf_path: str | None = None,
               dataset_default: str = "basler_a2A5320-23ucBAS") -> np.ndarray:
    """The camera response ``(31, 3)``: ``srf_name``, else ``srf_path``, else the default camera."""
    name = srf_name or srf_path or dataset_default
    if str(name).endswith("A2a5320-23ucBAS_gain.npz") and not Path(name).is_file():
        name = dataset_default  # the paper's default path: our shipped copy of the same camera
    return load_camera(name).srf


def cache_of(ds_dir: str | os.PathLike, cache_dir: str | None = None) -> SceneCache:
    """The scene cache: ``cache_dir`` or ``<ds_dir>/cache``."""
    return SceneCache(layout.cache_dir(ds_dir, cache_dir))


# ------------------------------------------------------------------------------------ runs
def write_scene_list(out: Path, name: str, scenes: Sequence[str]) -> None:
    atomic_write_text(out / name, "".join(f"{s}\n" for s in scenes))


# ------------------------------------------------------------------------------------ script mains
def train_main(args: argparse.Namespace, mode: str) -> dict | None:
    """An RGB2HS trainer's parsed flags -> ``run_training``; with ``--print_run_dir True`` only print
    the run folder (for the shell drivers)."""
    from hsi.train.experiments import run_training, training_run_dir
    check_alpha_range(args)
    opts = training_options_from_args(args, mode)
    if args.print_run_dir:
        print(training_run_dir(opts))
        return None
    return run_training(opts)


def mstpp_main(args: argparse.Namespace) -> dict | None:
    """The MST++ recipe's parsed flags -> ``run_mstpp_training`` (or print the run folder)."""
    from hsi.train.experiments import mstpp_run_dir, run_mstpp_training
    opts = mstpp_options_from_args(args)
    if args.print_run_dir:
        print(mstpp_run_dir(opts))
        return None
    return run_mstpp_training(opts)
