"""What the training and validation scripts do, given their options (``hsi.train.options``).

    from hsi.train.experiments import EngineOptions, TrainingOptions, ValidationOptions, run_training, run_validation
    summary = run_training(TrainingOptions(mode="fixed", dataset_name="SYNTH", engine=EngineOptions(device="cpu")))
"""
from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import time
from pathlib import Path

import torch

from hsi import layout
from hsi.data import (DataError, FullImageDataset, PatchDataset, SceneCache, check_files, read_split,
                      read_train_valid_splits, select_percent)
from hsi.datasets import get_dataset_spec
from hsi.device import resolve_device
from hsi.train.model_card import with_model_card
from hsi.imaging import ImagingSystem
from hsi.errors import OptionError, ToolkitError
from hsi.io import atomic_write_text, write_mat_cube
from hsi.io.integrity import check_files as check_file_integrity
from hsi.io.lock import FolderNotWritableError, ensure_writable_dir, output_lock
from hsi.metrics import METRIC_NAMES, MRAE_BREAKDOWN_KEYS
from hsi.models import build_model, get_spec
from hsi.render import RenderConfig
from hsi.pair_bound import pair_bound_of
from hsi.records import ValidationRecord, check_tag
from hsi.train.cli import (cache_of, camera_srf, cube_pairs, dataset_rgb_pairs, device_of, generate_command, generated_dir, paired_scenes,
                           pretrained_of, train_config_fields, write_scene_list)
from hsi.train.engine import TrainConfig, check_run_folder, train
from hsi.train.evaluate import evaluate
from hsi.train.losses import get_loss
from hsi.train.onthefly import OnTheFlyRenderer, scene_stats
from hsi.train.options import (EngineOptions, MstppTrainingOptions, OnTheFlyOptions, TrainingOptions,  # noqa: F401
                               ValidationOptions, flat_record)

TRAIN_MODES = layout.TRAIN_MODES


def training_run_dir(opts: TrainingOptions) -> Path:
    """``<result_root>/<the paper's run name>`` (plus ``_<p>percent`` when a percentage is used)."""
    return Path(opts.result_root) / layout.train_run_name(
        opts.mode, loss=opts.loss_func, noise_type=opts.noise_type, npe=opts.npe, psf_name=opts.psf_name,
        method=opts.method, dataset=opts.dataset_name, rgb_format=opts.rgb_format, percent=opts.percent)


def mstpp_run_dir(opts: MstppTrainingOptions) -> Path:
    """``outf`` with ``_<p>percent`` appended when a percentage is used."""
    return Path(layout.mstpp_run_dir(opts.outf, opts.percent))


def _check_common(method: str, loss: str, dataset_name: str, dataset_path=None) -> None:
    get_spec(method)              # unknown method: error listing the valid ones
    get_loss(loss)
    get_dataset_spec(dataset_name, dataset_path)


class ValidationFailed(ToolkitError):
    """Validation produced non-finite metrics (a diverged checkpoint or NaN predictions)."""


def _is_main_process() -> bool:
    """False on the other ranks of a ``torchrun`` job (only rank 0 owns the run folder)."""
    return int(os.environ.get("RANK", "0")) == 0


def _job_lock(out: Path, what: str):
    """``hsi.io.lock.output_lock(out)`` for the whole job (rank 0 of a torchrun job only)."""
    return output_lock(out, what) if _is_main_process() else contextlib.nullcontext(out)


def check_images(pairs) -> int:
    """Headers and end markers of every RGB file of ``pairs`` (``hsi.io.integrity``), once before the first
    iteration: a truncated or corrupt image is a ``CorruptFileError`` naming it. Returns how many."""
    return check_file_integrity(p.rgb_path for p in pairs if p.rgb_path is not None)


def writable_cache(dataset_dir: Path, cache_dir: str | None) -> SceneCache:
    """The scene cache (``hsi.train.cli.cache_of``), checked writable before any work; a read-only dataset
    folder with the default ``<dataset>/cache`` says to pass ``--cache_dir``."""
    cache = cache_of(dataset_dir, cache_dir)
    try:
        ensure_writable_dir(cache.cache_dir, "scene cache")
    except FolderNotWritableError as exc:
        if cache_dir is None:
            raise FolderNotWritableError(f"{exc}. The default cache is inside the dataset folder: pass "
                                         "--cache_dir <a writable folder> for a read-only dataset") from None
        raise
    return cache


def _train_locked(out: Path, cfg: TrainConfig, overwrite: bool, make_sets, renderer=None) -> dict:
    """Hold ``out`` for the whole job, refuse a run already there (``check_run_folder``), then train."""
    with _job_lock(out, "training"):
        if _is_main_process():
            check_run_folder(out, cfg, overwrite)
        train_set, valid_set = make_sets()
        write_scene_list(out, "train_scenes.txt", cfg.extra["train_scenes"])
        return train(cfg, train_set, valid_set, renderer)


def _onthefly_data(opts: TrainingOptions, dataset_dir: Path, train_scenes, srf, device):
    """Training pairs (cubes only), the on-the-fly renderer, the PSF margin and the scenes' render stats."""
    o = opts.onthefly
    train_pairs = cube_pairs(dataset_dir, train_scenes)
    check_files(train_pairs, hint=f"the original cubes are missing from {layout.dataset_folder(dataset_dir, 'spec')}")
    from hsi.optics import load_psf
    psf = load_psf(opts.psf_name, o.psf_path)
    config = RenderConfig(noise_type=opts.noise_type, npe=opts.npe,
                          exposure_target=get_dataset_spec(opts.dataset_name, opts.dataset_path).exposure_target, quantize=o.quantize)
    system = ImagingSystem.from_arrays(srf, None if psf is None else psf.kernel, config, device)
    margin = system.psf_margin()
    stats = scene_stats(train_pairs, cache_of(dataset_dir, opts.engine.cache_dir), system)
    if o.exact_iterations is not None and o.metamer_mode != "exact":
        raise OptionError(f"--exact_iterations applies to --metamer_mode exact only (got --metamer_mode {o.metamer_mode})")
    renderer = OnTheFlyRenderer(system.to(torch.float32), metamer_mode=o.metamer_mode,
                                alpha_range=(o.alpha_min, o.alpha_max), margin=margin, seed=opts.seed,
                                metamer_kwargs=None if o.exact_iterations is None else {"iterations": o.exact_iterations})
    return train_pairs, renderer, margin, stats


def run_training(opts: TrainingOptions) -> dict:
    """One run of the RGB2HS trainers (``opts.mode``: no_metamer, fixed, onthefly); returns the run summary."""
    _check_common(opts.method, opts.loss_func, opts.dataset_name, opts.dataset_path)
    spec = get_dataset_spec(opts.dataset_name, opts.dataset_path)
    dataset_dir = Path(opts.dataset_path) / opts.dataset_name
    if not dataset_dir.is_dir():
        raise DataError(f"dataset folder not found: {dataset_dir} (convert the dataset with dataset_tools/, or "
                        "build the embedded one with python ./dataset_tools/make_synthetic.py)")
    gen = generated_dir(opts.dataset_path, opts.dataset_name, opts.noise_type, opts.npe, opts.psf_name)
    train_list, valid_scenes = read_train_valid_splits(dataset_dir)
    train_scenes = select_percent(train_list, opts.percent, opts.seed)
    fmt = opts.rgb_format
    hint = "make them with:\n  " + generate_command(opts.dataset_path, opts.dataset_name, opts.noise_type, opts.npe,
                                                     opts.psf_name, fmt)
    renderer, margin, stats = None, 0, None
    srf = camera_srf(opts.engine.srf_name, opts.onthefly.srf_path if opts.mode == "onthefly" else None)
    device = resolve_device(device_of(opts.engine.device, opts.engine.gpu_id))
    if opts.mode == "onthefly" and opts.onthefly.on_the_fly:
        train_pairs, renderer, margin, stats = _onthefly_data(opts, dataset_dir, train_scenes, srf, device)
    else:
        train_join = {"no_metamer": opts.data_join, "fixed": "both", "onthefly": "standard"}[opts.mode]
        train_pairs = paired_scenes(opts.dataset_path, opts.dataset_name, gen, train_scenes, train_join, fmt)
        check_files(train_pairs, hint=hint)
    valid_pairs = paired_scenes(opts.dataset_path, opts.dataset_name, gen, valid_scenes, opts.data_join, fmt)
    check_files(valid_pairs, hint=hint)
    check_images(train_pairs + valid_pairs)
    out = training_run_dir(opts)
    cache = writable_cache(dataset_dir, opts.engine.cache_dir)
    cfg = TrainConfig(
        method=opts.method, out_dir=out, total_iterations=opts.num_epochs * opts.per_epoch_iteration,
        loss=opts.loss_func, pretrained=pretrained_of(opts.pretrained_root, opts.resume_file), srf=srf,
        **train_config_fields(opts),
        extra={"mode": opts.mode, "args": flat_record(opts), "train_scenes": train_scenes,
               "valid_scenes": valid_scenes, "data_dir": str(gen), "valid_join": opts.data_join})
    return with_model_card(cfg, _train_locked(out, cfg, opts.engine.overwrite, lambda: (
        PatchDataset(train_pairs, cache, opts.crop_size, opts.stride, margin, stats),
        FullImageDataset(valid_pairs, cache, centre_crop=spec.eval_crop)), renderer))


def run_mstpp_training(opts: MstppTrainingOptions) -> dict:
    """The MST++ toolbox recipe on ``<data_root>``'s cubes + the official RGB JPEGs; returns the run summary."""
    get_spec(opts.method)
    root = Path(opts.data_root)
    for role in ("spec", "rgb", "split"):
        if not layout.dataset_folder(root, role).is_dir():
            raise DataError(f"{layout.dataset_folder(root, role)} not found: --data_root must be an ARAD_1K-style "
                            f"folder with {layout.SPEC_DIR}/, {layout.RGB_DIR}/ and {layout.SPLIT_DIR}/ (e.g. "
                            "./datasets/ARAD_1K/, or ./datasets/SYNTH/ from python ./dataset_tools/make_synthetic.py)")
    train_list, valid_scenes = read_train_valid_splits(root)
    train_scenes = select_percent(train_list, opts.percent, opts.seed)
    train_pairs, valid_pairs = dataset_rgb_pairs(root, train_scenes), dataset_rgb_pairs(root, valid_scenes)
    check_files(train_pairs + valid_pairs)
    check_images(train_pairs + valid_pairs)
    out = mstpp_run_dir(opts)
    cache = writable_cache(root, opts.engine.cache_dir)
    cfg = TrainConfig(
        method=opts.method, out_dir=out, total_iterations=opts.end_epoch * opts.iterations_per_epoch,
        loss="mrae", pretrained=pretrained_of(opts.pretrained_model_path), srf=camera_srf(opts.engine.srf_name),
        **train_config_fields(opts),
        extra={"mode": "mstpp", "args": flat_record(opts), "train_scenes": train_scenes, "valid_scenes": valid_scenes})
    return with_model_card(cfg, _train_locked(out, cfg, opts.engine.overwrite, lambda: (
        PatchDataset(train_pairs, cache, opts.patch_size, opts.stride),
        FullImageDataset(valid_pairs, cache, centre_crop=None))))


def _previous_validation(path: Path, ckpt: Path) -> dict | None:
    """A finished validation record at ``path`` made from the same checkpoint file (same path, not older)."""
    try:
        record = ValidationRecord.read(path)
    except (OSError, ValueError):          # missing, unreadable or incomplete (RecordError is a ValueError)
        return None
    same = record.checkpoint == str(ckpt) and record.mtime_ns >= ckpt.stat().st_mtime_ns
    return record.to_json() if same else None


def _write_validation(out: Path, opts: ValidationOptions, name: str, rows: list[dict], summary: dict) -> None:
    """``<run>/per_image.csv`` and the paper's summary file ``<result_root>/<run>.txt``."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["name", *METRIC_NAMES, *MRAE_BREAKDOWN_KEYS])
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    atomic_write_text(out / "per_image.csv", buf.getvalue())
    # the paper's summary file: pandas-style CSV with index, metric, value
    atomic_write_text(layout.validation_summary_path(opts.result_root, name),
                      ",metric,value\n" + "".join(f"{i},{k},{summary[k]}\n" for i, k in enumerate(METRIC_NAMES)))


def validation_run_dir(opts: ValidationOptions, fmt: str) -> Path:
    """``<result_root>/<NAME>_<noise><npe>_<psf>_<fmt>_<method>_{metamer|std}`` (the paper's naming)."""
    return Path(opts.result_root) / layout.validation_run_name(
        dataset=opts.dataset_name, noise_type=opts.noise_type, npe=opts.npe, psf_name=opts.psf_name, rgb_format=fmt,
        method=opts.method, metamer=opts.metamer)


def run_validation(opts: ValidationOptions) -> list[dict]:
    """``validate_RGB2HS.py``: one record per RGB format; writes per-image CSV, summary files and,
    with ``save_recon``, the reconstructions (named after the scenes they come from)."""
    _check_common(opts.method, "mrae", opts.dataset_name, opts.dataset_path)
    check_tag(opts.tag)                    # a bad --tag fails before the run, not after it
    spec = get_dataset_spec(opts.dataset_name, opts.dataset_path)
    ckpt = Path(opts.pretrained_root)
    if not ckpt.exists():
        raise DataError(f"--pretrained_root {ckpt}: checkpoint file not found")
    if not ckpt.is_file():
        raise DataError(f"--pretrained_root must name a checkpoint file (.pth), got the folder {ckpt}")
    dataset_dir = Path(opts.dataset_path) / opts.dataset_name
    scenes = read_split(dataset_dir, opts.split)
    gen = generated_dir(opts.dataset_path, opts.dataset_name, opts.noise_type, opts.npe, opts.psf_name)
    device = resolve_device(device_of(opts.device, opts.gpu_id))
    model = build_model(opts.method, pretrained=str(ckpt)).to(device)
    srf = torch.from_numpy(camera_srf(opts.srf_name))
    formats = ["png", "jpg"] if opts.rgb_format == "all" else [opts.rgb_format]
    border = opts.border if opts.border is not None else 0
    results, pairs_of = [], {}
    for fmt in formats:                   # every input and the result folder checked before any computation
        pairs_of[fmt] = paired_scenes(opts.dataset_path, opts.dataset_name, gen, scenes,
                                      "metamer" if opts.metamer else "standard", fmt)
        check_files(pairs_of[fmt], hint="make them with:\n  " + generate_command(
            opts.dataset_path, opts.dataset_name, opts.noise_type, opts.npe, opts.psf_name, fmt))
        check_images(pairs_of[fmt])
    ensure_writable_dir(opts.result_root, "validation result")
    for fmt in formats:
        with _job_lock(validation_run_dir(opts, fmt), "validation"):
            results.append(_validate_format(opts, fmt, pairs_of[fmt], model, ckpt, srf, device, border, gen,
                                            dataset_dir, scenes, spec))
    return results


def _check_finite(summary: dict, rows: list[dict], ckpt: Path) -> None:
    """``ValidationFailed`` when a metric is NaN/Inf (naming up to 3 images whose predictions are)."""
    if all(math.isfinite(summary[k]) for k in METRIC_NAMES):
        return
    bad = [r["name"] for r in rows if not all(math.isfinite(r[k]) for k in METRIC_NAMES)]
    raise ValidationFailed(f"{ckpt}: the predictions give NaN/Inf metrics on {len(bad)} of {len(rows)} images "
                           f"(e.g. {', '.join(bad[:3])}): the checkpoint is diverged or does not match the data; "
                           "nothing was written")


def _validate_format(opts: ValidationOptions, fmt: str, pairs, model, ckpt: Path, srf, device, border, gen,
                     dataset_dir: Path, scenes, spec) -> dict:
    """Validation of one RGB format into its run folder; returns its record (or the previous one)."""
    data = FullImageDataset(pairs, None, centre_crop=spec.eval_crop)
    out = validation_run_dir(opts, fmt)
    name = out.name
    previous = _previous_validation(out / "summary.json", ckpt) if opts.skip_existing else None
    if previous is not None:
        print(f"[validate] {out} exists for this checkpoint: skipped (--skip_existing)")
        return previous

    def save(scene_key: str, pred: torch.Tensor, out=out) -> None:
        stem = scene_key[: -len("_metamer")] if scene_key.endswith("_metamer") else scene_key
        write_mat_cube(layout.reconstruction_path(out, stem, opts.metamer), pred.clamp(0, 1).cpu().numpy())

    t0 = time.time()
    print(f"Validate {opts.method} on {'metamer' if opts.metamer else 'original'} {opts.dataset_name} data "
          f"({len(pairs)} images, {fmt}) from {gen}")
    rows, summary = evaluate(model, opts.method, data, device, srf, opts.amp, border, opts.self_ensemble,
                             on_prediction=save if opts.save_recon else None, progress=True)
    _check_finite(summary, rows, ckpt)
    _write_validation(out, opts, name, rows, summary)
    record = ValidationRecord.create(
        name=name, tag=opts.tag, method=opts.method, dataset=opts.dataset_name, metamer=bool(opts.metamer),
        summary=summary, images=len(rows), seconds=time.time() - t0, checkpoint=str(ckpt),
        args=flat_record(opts), format=fmt, data_dir=str(gen),
        pair_bound=pair_bound_of(dataset_dir, gen, scenes, fmt, border, spec.eval_crop) if opts.metamer else None)
    record.write(out / "summary.json")
    print(f"method:{opts.method}, mrae:{summary['MRAE']:.4f}, rmse:{summary['RMSE']:.4f}, "
          f"psnr:{summary['PSNR']:.2f}, sam:{summary['SAM']:.4f}")
    return record.to_json()
