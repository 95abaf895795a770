"""What the training and validation scripts do, given their parsed flags."""
from __future__ import annotations

import argparse
import csv
import io
import json
import time
from pathlib import Path

import torch

from hsi.data import DataError, FullImageDataset, PatchDataset, ScenePair, check_files, read_split, select_percent
from hsi.datasets import get_dataset_spec
from hsi.io import atomic_write_json, atomic_write_text, provenance, write_mat_cube
from hsi.models import build_model, get_spec
from hsi.render import RenderConfig
from hsi.train.cli import (cache_of, camera_srf, device_of, engine_options, generate_command, generated_dir, paired_scenes,
                           pretrained_of, psf_label, scene_stats, write_scene_list)
from hsi.device import resolve_device
from hsi.train.engine import TrainConfig, train
from hsi.train.evaluate import evaluate
from hsi.train.losses import get_loss
from hsi.train.onthefly import OnTheFlyRenderer, psf_margin

TRAIN_MODES = ("no_metamer", "fixed", "onthefly")
_PREFIX = {"no_metamer": "No_metamer", "fixed": "Fixed_metamer", "onthefly": "OnTheFly_metamer"}


def rgb2hs_run_name(args, mode: str) -> str:
    """The paper's run folder name (plus ``_<p>percent`` when a percentage is used)."""
    psf, noise = psf_label(args.psf_name), f"{args.noise_type}{args.npe}"
    if mode == "onthefly":
        name = f"{_PREFIX[mode]}_{args.loss_func}_{noise}_{psf}_{args.method}_{args.dataset_name}"
    else:
        name = f"{_PREFIX[mode]}_{args.loss_func}_{args.rgb_format}_{noise}_{psf}_{args.method}_{args.dataset_name}"
    percent = getattr(args, "percent", None)
    if percent is not None and percent < 100:
        name += f"_{percent:g}percent"
    return name


def _check_common(args) -> None:
    get_spec(args.method)              # unknown method: error listing the valid ones
    get_loss(getattr(args, "loss_func", "mrae"))
    get_dataset_spec(args.dataset_name)


def run_rgb2hs_training(args, mode: str) -> dict:
    """The three RGB2HS trainers (``mode``: no_metamer, fixed, onthefly); returns the run summary."""
    if mode not in TRAIN_MODES:
        raise ValueError(f"mode must be one of {TRAIN_MODES}")
    _check_common(args)
    spec = get_dataset_spec(args.dataset_name)
    dataset_dir = Path(args.dataset_path) / args.dataset_name
    if not dataset_dir.is_dir():
        raise DataError(f"dataset folder not found: {dataset_dir} (convert the dataset with dataset_tools/, or "
                        "build the embedded one with python ./dataset_tools/make_synthetic.py)")
    gen = generated_dir(args.dataset_path, args.dataset_name, args.noise_type, args.npe, args.psf_name)
    train_scenes = read_split(dataset_dir, "train")
    valid_scenes = read_split(dataset_dir, "valid")
    train_scenes = select_percent(train_scenes, getattr(args, "percent", None), args.seed)
    fmt = args.rgb_format
    hint = f"make them with:\n  {generate_command(args)}"
    renderer, margin, stats = None, 0, None
    srf = camera_srf(args)
    device = resolve_device(device_of(args))
    if mode == "onthefly" and args.on_the_fly:
        valid_join = args.data_join
        train_pairs = [ScenePair(s, dataset_dir / "Train_Spec" / f"{s}.mat", None) for s in train_scenes]
        check_files(train_pairs, hint=f"the original cubes are missing from {dataset_dir / 'Train_Spec'}")
        from hsi.optics import load_psf
        psf = load_psf(args.psf_name, args.psf_path)
        kernel = None if psf is None else torch.from_numpy(psf.kernel)
        margin = psf_margin(kernel)
        config = RenderConfig(psf_boundary="linear", noise_type=args.noise_type, npe=args.npe,
                              exposure_target=spec.exposure_target, quantize=args.quantize)
        stats = scene_stats(train_pairs, cache_of(args), srf, kernel, config, device)
        renderer = OnTheFlyRenderer(torch.from_numpy(srf), kernel, config, args.metamer_mode,
                                    (args.alpha_min, args.alpha_max), margin, args.seed, device)
    else:
        train_join = {"no_metamer": getattr(args, "data_join", "standard"), "fixed": "both",
                      "onthefly": "standard"}[mode]
        valid_join = {"no_metamer": getattr(args, "data_join", "standard"), "fixed": "both",
                      "onthefly": getattr(args, "data_join", "both")}[mode]
        train_pairs = paired_scenes(args.dataset_path, args.dataset_name, gen, train_scenes, train_join, fmt)
        check_files(train_pairs, hint=hint)
    valid_pairs = paired_scenes(args.dataset_path, args.dataset_name, gen, valid_scenes, valid_join, fmt)
    check_files(valid_pairs, hint=hint)
    out = Path(args.result_root) / rgb2hs_run_name(args, mode)
    cache = cache_of(args)
    train_set = PatchDataset(train_pairs, cache, args.crop_size, args.stride, margin, stats)
    valid_set = FullImageDataset(valid_pairs, cache, centre_crop=spec.eval_crop)
    cfg = TrainConfig(
        method=args.method, out_dir=out, total_iterations=args.num_epochs * args.per_epoch_iteration,
        loss=args.loss_func, pretrained=pretrained_of(args), srf=srf, **engine_options(args),
        extra={"mode": mode, "args": vars(args), "train_scenes": train_scenes, "valid_scenes": valid_scenes,
               "data_dir": str(gen), "valid_join": valid_join})
    out.mkdir(parents=True, exist_ok=True)
    write_scene_list(out, "train_scenes.txt", train_scenes)
    return train(cfg, train_set, valid_set, renderer)


def run_mstpp_training(args) -> dict:
    """The MST++ toolbox recipe on ``<data_root>/Train_Spec`` + the official ``Train_RGB`` JPEGs."""
    get_spec(args.method)
    root = Path(args.data_root)
    for sub in ("Train_Spec", "Train_RGB", "split_txt"):
        if not (root / sub).is_dir():
            raise DataError(f"{root / sub} not found: --data_root must be an ARAD_1K-style folder with Train_Spec/, "
                            "Train_RGB/ and split_txt/ (e.g. ./datasets/ARAD_1K/, or ./datasets/SYNTH/ from "
                            "python ./dataset_tools/make_synthetic.py)")
    train_scenes = select_percent(read_split(root, "train"), args.percent, args.seed)
    valid_scenes = read_split(root, "valid")

    def pairs(scenes):
        return [ScenePair(s, root / "Train_Spec" / f"{s}.mat", root / "Train_RGB" / f"{s}.jpg") for s in scenes]
    train_pairs, valid_pairs = pairs(train_scenes), pairs(valid_scenes)
    check_files(train_pairs + valid_pairs)
    out = args.outf + (f"_{args.percent:g}percent" if args.percent is not None and args.percent < 100 else "")
    cache = cache_of(argparse.Namespace(dataset_path=str(root.parent), dataset_name=root.name, cache_dir=args.cache_dir))
    train_set = PatchDataset(train_pairs, cache, args.patch_size, args.stride)
    valid_set = FullImageDataset(valid_pairs, cache, centre_crop=None)
    cfg = TrainConfig(
        method=args.method, out_dir=Path(out), total_iterations=args.end_epoch * args.iterations_per_epoch,
        loss="mrae", pretrained=None if str(args.pretrained_model_path).lower() == "none" else args.pretrained_model_path,
        srf=camera_srf(args), **engine_options(args),
        extra={"mode": "mstpp", "args": vars(args), "train_scenes": train_scenes, "valid_scenes": valid_scenes})
    Path(out).mkdir(parents=True, exist_ok=True)
    write_scene_list(Path(out), "train_scenes.txt", train_scenes)
    return train(cfg, train_set, valid_set)


def validation_run_name(args, fmt: str) -> str:
    """``<NAME>_<noise><npe>_<psf>_<fmt>_<method>_{metamer|std}`` (the paper's naming)."""
    kind = "metamer" if args.metamer else "std"
    return f"{args.dataset_name}_{args.noise_type}{args.npe}_{psf_label(args.psf_name)}_{fmt}_{args.method}_{kind}"


def _previous_validation(path: Path, ckpt: Path) -> dict | None:
    """A finished validation record at ``path`` made from the same checkpoint file (same path, not older)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    same = record.get("checkpoint") == str(ckpt) and path.stat().st_mtime >= ckpt.stat().st_mtime
    return record if same and record.get("summary") else None


def run_validation(args) -> list[dict]:
    """``validate_RGB2HS.py``: one summary per RGB format; writes per-image CSV, summary files and,
    with ``--save_recon``, the reconstructions (named after the scenes they come from)."""
    _check_common(args)
    spec = get_dataset_spec(args.dataset_name)
    ckpt = Path(args.pretrained_root)
    if not ckpt.is_file():
        raise DataError(f"--pretrained_root must name a checkpoint file (.pth), got {ckpt}")
    dataset_dir = Path(args.dataset_path) / args.dataset_name
    scenes = read_split(dataset_dir, args.split)
    gen = generated_dir(args.dataset_path, args.dataset_name, args.noise_type, args.npe, args.psf_name)
    device = resolve_device(device_of(args))
    model = build_model(args.method, pretrained=str(ckpt)).to(device)
    srf = torch.from_numpy(camera_srf(args))
    formats = ["png", "jpg"] if args.rgb_format == "all" else [args.rgb_format]
    border = args.border if args.border is not None else 0
    results = []
    for fmt in formats:
        pairs = paired_scenes(args.dataset_path, args.dataset_name, gen, scenes,
                              "metamer" if args.metamer else "standard", fmt)
        check_files(pairs, hint=f"make them with:\n  {generate_command(argparse.Namespace(**{**vars(args), 'rgb_format': fmt}))}")
        data = FullImageDataset(pairs, None, centre_crop=spec.eval_crop)
        name = validation_run_name(args, fmt)
        out = Path(args.result_root) / name
        kind = "metamer" if args.metamer else "std"
        previous = _previous_validation(out / "summary.json", ckpt) if getattr(args, "skip_existing", False) else None
        if previous is not None:
            print(f"[validate] {out} exists for this checkpoint: skipped (--skip_existing)")
            results.append(previous)
            continue

        def save(scene_key: str, pred: torch.Tensor, out=out, kind=kind) -> None:
            stem = scene_key[: -len("_metamer")] if scene_key.endswith("_metamer") else scene_key
            write_mat_cube(out / f"{stem}_{kind}.mat", pred.clamp(0, 1).cpu().numpy())

        t0 = time.time()
        print(f"Validate {args.method} on {'metamer' if args.metamer else 'original'} {args.dataset_name} data "
              f"({len(pairs)} images, {fmt}) from {gen}")
        rows, summary = evaluate(model, args.method, data, device, srf, args.amp, border, args.self_ensemble,
                                 on_prediction=save if args.save_recon else None, progress=True)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["name", "MRAE", "RMSE", "PSNR", "SAM"])
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
        atomic_write_text(out / "per_image.csv", buf.getvalue())
        # the paper's summary file: pandas-style CSV with index, metric, value
        atomic_write_text(Path(args.result_root) / f"{name}.txt",
                          ",metric,value\n" + "".join(f"{i},{k},{summary[k]}\n" for i, k in enumerate(("MRAE", "RMSE", "PSNR", "SAM"))))
        record = {"name": name, "tag": getattr(args, "tag", None), "method": args.method, "dataset": args.dataset_name,
                  "metamer": bool(args.metamer), "summary": summary, "images": len(rows), "seconds": time.time() - t0,
                  "checkpoint": str(ckpt), "args": vars(args), "format": fmt, "data_dir": str(gen)}
        atomic_write_json(out / "summary.json", provenance(**record))
        print(f"method:{args.method}, mrae:{summary['MRAE']:.4f}, rmse:{summary['RMSE']:.4f}, "
              f"psnr:{summary['PSNR']:.2f}, sam:{summary['SAM']:.4f}")
        results.append(record)
    return results
