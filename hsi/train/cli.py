"""Shared command-line pieces of the training and validation scripts (the paper's flags + new ones).

The scripts in ``RGB2HS/`` and ``MST_plus_plus_code/train_code/`` only declare their flags with these
helpers and call ``run_rgb2hs_training`` / ``run_mstpp_training`` / ``run_validation``.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from hsi.camera import load_camera
from hsi.data import DataError, SceneCache, ScenePair, SceneStats
from hsi.io import atomic_write_text
from hsi.metamer_data import psf_label, variant_dir_name
from hsi.render import RenderConfig, render_rgb

DATA_JOINS = ("standard", "metamer", "both")


def str2bool(value: str | bool) -> bool:
    """The paper's boolean parsing: yes/y/true/t/1 (any case) are True, anything else False."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "y", "true", "t", "1")


def generated_dir(dataset_path: str, dataset_name: str, noise_type: str, npe: int, psf_name: str | None) -> Path:
    """``<dataset_path>/<NAME>/<noise_type><npe>_<psf>``: where ``generate_metamers.py`` writes."""
    return Path(dataset_path) / dataset_name / variant_dir_name(noise_type, npe, psf_name)


def generate_command(args) -> str:
    """The ``generate_metamers.py`` command that makes the data a run needs (for error messages)."""
    fmt = getattr(args, "rgb_format", "png")
    return (f"python ./metamer/generate_metamers.py --psf_name {psf_label(args.psf_name)} --dataset_path "
            f"{args.dataset_path} --dataset_name {args.dataset_name} --noise_type {args.noise_type} --npe {args.npe} "
            f"--alpha 0.0 --rgb_format {fmt}")


def paired_scenes(dataset_path: str, dataset_name: str, gen: Path, scenes: Sequence[str], join: str,
                  rgb_format: str) -> list[ScenePair]:
    """RGB/cube pairs of the paper's layout: ``standard`` = originals (``Train_Spec/<s>.mat`` with
    ``<s>_original.<fmt>``), ``metamer`` = metamers, ``both`` = metamers then originals."""
    if join not in DATA_JOINS:
        raise DataError(f"data_join must be one of {DATA_JOINS}, got {join!r}")
    spec_dir = Path(dataset_path) / dataset_name / "Train_Spec"
    rgb_dir = gen / "Train_Metamer_RGB"
    originals = [ScenePair(s, spec_dir / f"{s}.mat", rgb_dir / f"{s}_original.{rgb_format}") for s in scenes]
    metamers = [ScenePair(s, gen / "Train_Metamer_Spec" / f"{s}_metamer.mat", rgb_dir / f"{s}_metamer.{rgb_format}",
                          "metamer") for s in scenes]
    return {"standard": originals, "metamer": metamers, "both": metamers + originals}[join]


# ------------------------------------------------------------------------------------ arguments
def add_engine_args(ap: argparse.ArgumentParser) -> None:
    """Flags of the engine that the paper's scripts did not have (all optional)."""
    g = ap.add_argument_group("engine (toolkit)")
    g.add_argument("--resume", type=str2bool, default=False, help="continue from <run>/last.pth if present")
    g.add_argument("--amp", type=str2bool, default=False, help="bf16 autocast")
    g.add_argument("--compile", type=str2bool, default=False, help="torch.compile the network")
    g.add_argument("--compile_mode", default="auto",
                   choices=["auto", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"],
                   help="torch.compile mode (reduce-overhead: CUDA graphs; auto: reduce-overhead on one GPU, "
                   "default on CPU and under DDP)")
    g.add_argument("--tf32", type=str2bool, default=True, help="allow TF32 on CUDA")
    g.add_argument("--deterministic", type=str2bool, default=False, help="deterministic algorithms (exact resume on GPU)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:k")
    g.add_argument("--num_workers", type=int, default=2, help="DataLoader worker processes")
    g.add_argument("--data_on_device", default="auto", choices=["auto", "on", "off"],
                   help="hold the training scenes in GPU memory and cut patches there (auto: on CUDA when they "
                   "take under half of the free GPU memory; off: disk-backed DataLoader, RAM bounded)")
    g.add_argument("--cache_dir", default=None, help="uncompressed .npy cache of the scenes "
                   "(default <dataset_path>/<NAME>/cache)")
    g.add_argument("--valid_border", type=int, default=0, help="pixels cropped from each border for validation metrics")
    g.add_argument("--srf_name", default=None, help="camera the data was rendered with (ssrnet input; default: the "
                   "--srf_path file or the Basler camera)")
    g.add_argument("--stop_at", type=int, default=None, help=argparse.SUPPRESS)


def engine_options(args) -> dict:
    """``TrainConfig`` fields that every training script takes from the same flags."""
    return dict(init_lr=args.init_lr, batch_size=args.batch_size, log_freq=args.log_freq, valid_freq=args.valid_freq,
                save_freq=args.save_freq, seed=args.seed, amp=args.amp, compile=args.compile,
                compile_mode=args.compile_mode, tf32=args.tf32, deterministic=args.deterministic,
                num_workers=args.num_workers, data_on_device=args.data_on_device, device=device_of(args),
                resume=args.resume, valid_border=args.valid_border, stop_at=args.stop_at, wandb=args.wandb)


def add_rgb2hs_args(ap: argparse.ArgumentParser, result_root: str, wandb_default: bool,
                    percent: bool, data_join: bool) -> None:
    """The paper's flags of the three RGB2HS trainers (upstream 1.3-1.5), with their defaults."""
    ap.add_argument("--psf_name", default=None, help="PSF of the data folder (<noise><npe>_<psf>); None = no PSF")
    ap.add_argument("--dataset_path", default="./datasets")
    ap.add_argument("--dataset_name", default="ARAD_1K")
    ap.add_argument("--method", default="mst_plus_plus")
    ap.add_argument("--pretrained_root", default=None, help="folder of a checkpoint to start from")
    ap.add_argument("--resume_file", default=None, help="checkpoint stem in --pretrained_root to start from")
    ap.add_argument("--result_root", default=result_root)
    ap.add_argument("--noise_type", default="poisson", choices=["poisson", "gaussian"])
    ap.add_argument("--npe", type=int, default=0)
    ap.add_argument("--rgb_format", default="png", choices=["png", "jpg"])
    if percent:
        ap.add_argument("--percent", type=float, default=None, help="use exactly this percentage of the training scenes")
    ap.add_argument("--num_epochs", type=int, default=300, help="epochs of --per_epoch_iteration iterations")
    ap.add_argument("--init_lr", type=float, default=None, help="Adam initial LR (default: the method's, e.g. 4e-4 for MST++)")
    ap.add_argument("--batch_size", type=int, default=20)
    ap.add_argument("--crop_size", type=int, default=128)
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--per_epoch_iteration", type=int, default=1000)
    ap.add_argument("--loss_func", default="l1", choices=["l1", "l2", "mrae", "rmse", "psnr", "sam"])
    ap.add_argument("--log_freq", type=int, default=20)
    ap.add_argument("--valid_freq", type=int, default=100)
    ap.add_argument("--save_freq", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gpu_id", default=None, help="GPU index (sets the device to cuda:<gpu_id>)")
    if data_join:
        ap.add_argument("--data_join", default="standard", choices=list(DATA_JOINS))
    ap.add_argument("--wandb", type=str2bool, default=wandb_default)
    add_engine_args(ap)


def device_of(args) -> str:
    if getattr(args, "gpu_id", None) not in (None, "") and args.device == "auto":
        return f"cuda:{int(args.gpu_id)}"
    return args.device


def pretrained_of(args) -> str | None:
    """``--pretrained_root``/``--resume_file`` -> a checkpoint file (weights to start from), or None."""
    root, stem = getattr(args, "pretrained_root", None), getattr(args, "resume_file", None)
    if not root or str(root).lower() == "none":
        return None
    path = Path(root)
    if stem:
        path = path / (stem if stem.endswith(".pth") else f"{stem}.pth")
    if not path.is_file():
        raise DataError(f"pretrained checkpoint not found: {path}")
    return str(path)


def camera_srf(args, dataset_default: str = "basler_a2A5320-23ucBAS") -> np.ndarray:
    name = getattr(args, "srf_name", None) or getattr(args, "srf_path", None) or dataset_default
    if str(name).endswith("A2a5320-23ucBAS_gain.npz") and not Path(name).is_file():
        name = dataset_default  # the paper's default path: our shipped copy of the same camera
    return load_camera(name).srf


def cache_of(args) -> SceneCache:
    return SceneCache(args.cache_dir or Path(args.dataset_path) / args.dataset_name / "cache")


# ------------------------------------------------------------------------------------ runs
def scene_stats(pairs: Sequence[ScenePair], cache: SceneCache, srf: np.ndarray, psf, config: RenderConfig,
                device: torch.device) -> dict[str, SceneStats]:
    """Exposure gain and DN range of a noiseless render of each full original scene (on-the-fly)."""
    stats = {}
    s = torch.from_numpy(srf).to(device)
    k = None if psf is None else torch.as_tensor(psf).to(device)
    noiseless = replace(config, npe=0, psf_boundary="linear")
    for pair in pairs:
        cube = torch.from_numpy(np.array(cache.cube(pair.cube_path), dtype=np.float32))[None].to(device)
        res = render_rgb(cube, s, k, noiseless)
        stats[pair.key] = SceneStats(float(res.gain[0]), float(res.dn.min()), float(res.dn.max()))
    return stats


def write_scene_list(out: Path, name: str, scenes: Sequence[str]) -> None:
    atomic_write_text(out / name, "".join(f"{s}\n" for s in scenes))
