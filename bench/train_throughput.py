"""Training throughput (samples/s): the data path alone, the step alone and the whole engine loop.

For each method and mode, on fixed data from disk and on on-the-fly metamers, prints one JSON record
per measurement and writes them all to ``--out``. Modes: ``toolbox`` (the MST++ toolbox's step: fp32,
eager, multi-tensor Adam; the baseline to re-measure on the card at hand), ``fp32`` (the engine's fp32
step: fused Adam on CUDA), ``amp`` (bf16 autocast), ``amp+compile`` (torch.compile, default mode) and
``amp+compile-ro`` (torch.compile ``reduce-overhead``: CUDA graphs).

* ``data``: batches from the data path (DataLoader workers, or scenes held on the device with
  ``--data_on_device on``; on the fly also rendered on the device), no network;
* ``step``: forward, loss, backward and Adam on random tensors already on the device;
* ``loop``: ``hsi.train.engine.train`` itself (steady state: median of its logged windows after warm-up);
* ``codesign``: the on-the-fly step (render + forward, loss, backward, Adam) with a fixed PSF beside the
  co-design step (``hsi.train.codesign``: the PSF recomputed from the DOE once per step, gradient into the
  height map, two Adams), same method, batch, crop and PSF window, on random cube patches (no dataset)::

    OMP_NUM_THREADS=1 python bench/train_throughput.py --parts codesign --modes fp32 --batch_size 2 --crop_size 64

Needs a dataset in the paper's layout with the fixed-metamer data, e.g.::

    python ./dataset_tools/make_synthetic.py --num_scenes 24 --size 512
    python ./metamer/generate_metamers.py --dataset_name SYNTH --psf_name None --npe 0
    python bench/train_throughput.py --dataset_name SYNTH --methods mst_plus_plus
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from hsi.camera import load_srf
from hsi.data import DevicePatchSource, PatchDataset, ResumableBatchSampler, read_split
from hsi.datasets import get_dataset_spec
from hsi.cli_types import (HelpFormatter, dataset_help, method_help, non_negative_int, optional_positive_int,
                            positive_int, psf_help)
from hsi.errors import run_main
from hsi.io import atomic_write_json, provenance
from hsi.models import build_model
from hsi.models.adapter import run_model
from hsi.render import RenderConfig
from hsi.train.cli import cache_of, cube_pairs, generated_dir, paired_scenes, scene_stats
from hsi.train.engine import TrainConfig, train
from hsi.train.evaluate import autocast
from hsi.train.losses import get_loss
from hsi.train.onthefly import OnTheFlyRenderer, psf_margin

# mode: (bf16 autocast, torch.compile mode or None, fused Adam where available)
MODES = {"toolbox": (False, None, False), "fp32": (False, None, True), "amp": (True, None, True),
         "amp+compile": (True, "default", True), "amp+compile-ro": (True, "reduce-overhead", True)}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def data_rate(train_set, renderer, batch, workers, device, n_batches, on_device) -> float:
    sampler = ResumableBatchSampler(len(train_set), batch)
    if on_device:
        it = map(DevicePatchSource(train_set, device).batch, iter(sampler))
    else:
        it = iter(DataLoader(train_set, batch_sampler=sampler, num_workers=workers, pin_memory=device.type == "cuda",
                             persistent_workers=workers > 0, prefetch_factor=4 if workers else None))
    for _ in range(3):
        b = next(it)
        if renderer is not None:
            renderer(b)
    _sync(device)
    t = time.perf_counter()
    for _ in range(n_batches):
        b = next(it)
        if renderer is not None:
            b = renderer(b)
        else:
            b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
    _sync(device)
    return n_batches * batch / (time.perf_counter() - t)


def timed_steps(step, n_steps: int, device: torch.device, warmup: int) -> float:
    """Seconds that ``n_steps`` calls of ``step()`` take after ``warmup`` untimed calls (device synchronised
    before and after the timed calls)."""
    for _ in range(warmup):
        step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(n_steps):
        step()
    _sync(device)
    return time.perf_counter() - t


def step_rate(method, batch, crop, device, amp, compile_mode, fused, n_steps) -> tuple[float, float]:
    model = build_model(method).to(device)
    net = model if compile_mode is None else torch.compile(model, mode=None if compile_mode == "default" else compile_mode)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, fused=fused and device.type == "cuda")
    mark_step = compile_mode == "reduce-overhead" and device.type == "cuda"
    loss_fn = get_loss("mrae")
    x = torch.rand(batch, 3, crop, crop, device=device)
    y = torch.rand(batch, 31, crop, crop, device=device) + 0.01
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def step():
        if mark_step:
            torch.compiler.cudagraph_mark_step_begin()
        with autocast(device, amp):
            out = run_model(net, method, x)
        loss = loss_fn(out.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    seconds = timed_steps(step, n_steps, device, warmup=5)  # first CPU steps are slow; compile needs a few
    peak = torch.cuda.max_memory_allocated() / 2 ** 30 if device.type == "cuda" else float("nan")
    return n_steps * batch / seconds, peak


def codesign_rates(method, batch, crop, device, codesign, n_steps) -> dict:
    """Steps/s of the fixed-PSF on-the-fly step and of the co-design step (``codesign``: CodesignOptions)."""
    from hsi.imaging import ImagingSystem
    from hsi.train.codesign import CodesignRenderer, build_element
    element = build_element(codesign, device=device)
    config = RenderConfig(npe=1000, exposure_target=0.18)
    margin = codesign.psf_size // 2
    size = crop + 2 * margin
    batch_in = {"cube": torch.rand(batch, 31, size, size, device=device), "gain": torch.full((batch,), 0.02),
                "dn_min": torch.zeros(batch), "dn_max": torch.full((batch,), 255.0)}
    srf = torch.from_numpy(load_srf())
    fixed = OnTheFlyRenderer(ImagingSystem.from_arrays(srf, element().detach(), config, device), margin=margin)
    learned = CodesignRenderer(ImagingSystem.from_arrays(srf, element, config, device), margin=margin)
    loss_fn, out = get_loss("l1"), {}
    for kind, renderer in (("fixed_psf", fixed), ("codesign", learned)):
        model = build_model(method).to(device)
        params = list(model.parameters())
        opts = [torch.optim.Adam(params, lr=1e-4)] + ([torch.optim.Adam(element.parameters(), lr=1e-2)]
                                                       if kind == "codesign" else [])

        def step():
            rgb, target = renderer(batch_in)
            loss = loss_fn(run_model(model, method, rgb).float(), target)
            for o in opts:
                o.zero_grad(set_to_none=True)
            loss.backward()
            for o in opts:
                o.step()
        out[kind] = n_steps / timed_steps(step, n_steps, device, warmup=2)
    return out


def loop_rate(method, train_set, renderer, batch, workers, device, amp, compile_mode, iterations, srf,
              on_device) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(method=method, out_dir=Path(tmp), total_iterations=iterations, batch_size=batch,
                          loss="mrae", log_freq=10, valid_freq=0, save_freq=10 ** 9, amp=amp,
                          compile=compile_mode is not None, compile_mode=compile_mode or "default",
                          num_workers=workers, data_on_device="on" if on_device else "off", device=str(device),
                          srf=srf)
        train(cfg, train_set, None, renderer)
        with open(Path(tmp) / "scalars.csv") as fh:
            rates = [float(r["value"]) for r in csv.DictReader(fh) if r["name"] == "train/samples_per_s"]
    steady = rates[len(rates) // 2:] or rates
    return statistics.median(steady)


def _bench(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--dataset_path", default="./datasets", help="datasets root")
    ap.add_argument("--dataset_name", default="SYNTH", help=dataset_help())
    ap.add_argument("--psf_name", default=None, help="PSF of the on-the-fly rendering: " + psf_help())
    ap.add_argument("--psf_path", default="./PSFs", help="folder of the PSF files")
    ap.add_argument("--npe", type=non_negative_int, default=1000, help="noise of the on-the-fly rendering")
    ap.add_argument("--metamer_mode", default="clip", choices=["clip", "exact"], help="on-the-fly metamers")
    ap.add_argument("--exact_iterations", type=optional_positive_int, default=None,
                    help="exact: None converges per pixel (host checks), N: N damped Newton steps, no host sync")
    ap.add_argument("--methods", nargs="+", default=["mst_plus_plus"], metavar="METHOD", help=method_help())
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES), help="step modes measured")
    ap.add_argument("--data", nargs="+", default=["fixed", "onthefly"], choices=["fixed", "onthefly"], help="data kinds")
    ap.add_argument("--parts", nargs="+", default=["data", "step", "loop"], choices=["data", "step", "loop", "codesign"],
                    help="measurements (codesign: the co-design step beside the fixed-PSF on-the-fly step)")
    ap.add_argument("--psf_size", type=positive_int, default=31, help="codesign: PSF window (px)")
    ap.add_argument("--doe_grid", type=positive_int, default=128, help="codesign: pupil samples per axis")
    ap.add_argument("--doe_oversample", type=positive_int, default=3, help="codesign: sub-samples per pixel and axis")
    ap.add_argument("--batch_size", type=positive_int, default=20, help="patches per batch")
    ap.add_argument("--crop_size", type=positive_int, default=128, help="patch side in pixels")
    ap.add_argument("--stride", type=positive_int, default=8, help="step between patch positions")
    ap.add_argument("--num_workers", type=non_negative_int, default=8, help="DataLoader worker processes")
    ap.add_argument("--data_on_device", nargs="+", default=["off", "on"], choices=["off", "on"],
                    help="data paths to measure: DataLoader workers (off) and scenes held on the device (on)")
    ap.add_argument("--batches", type=positive_int, default=30, help="batches timed for data and step")
    ap.add_argument("--loop_iterations", type=positive_int, default=100, help="iterations of the loop measurement")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu, cuda or cuda:k")
    ap.add_argument("--cache_dir", default=None, help="scene cache (None: <dataset>/cache)")
    ap.add_argument("--out", default="results/bench/train_throughput.json", help="JSON records written")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    records = []

    def emit(**rec):
        rec = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
               "batch_size": args.batch_size, "crop_size": args.crop_size, **rec}
        if rec.get("data") == "onthefly" and args.metamer_mode != "clip":
            rec.update(metamer_mode=args.metamer_mode, exact_iterations=args.exact_iterations)
        records.append(rec)
        print(json.dumps(rec), flush=True)

    if "codesign" in args.parts:
        from hsi.train.codesign import CodesignOptions
        copts = CodesignOptions(psf_size=args.psf_size, doe_grid=args.doe_grid, doe_oversample=args.doe_oversample)
        for method in args.methods:
            r = codesign_rates(method, args.batch_size, args.crop_size, device, copts, args.batches)
            emit(part="codesign", method=method, psf_size=args.psf_size, doe_grid=args.doe_grid,
                 doe_oversample=args.doe_oversample, fixed_psf_steps_per_s=round(r["fixed_psf"], 3),
                 codesign_steps_per_s=round(r["codesign"], 3), ratio=round(r["fixed_psf"] / r["codesign"], 3))
        if set(args.parts) == {"codesign"}:
            atomic_write_json(args.out, provenance(args=vars(args), records=records))
            return 0
    spec = get_dataset_spec(args.dataset_name)
    root = Path(args.dataset_path) / args.dataset_name
    cache = cache_of(root, args.cache_dir)
    scenes = read_split(root, "train")
    srf = load_srf()
    sets = {}
    if "fixed" in args.data:
        gen = generated_dir(args.dataset_path, args.dataset_name, "poisson", 0, None)
        sets["fixed"] = (PatchDataset(paired_scenes(args.dataset_path, args.dataset_name, gen, scenes, "both", "png"),
                                      cache, args.crop_size, args.stride), None)
    if "onthefly" in args.data:
        from hsi.optics import load_psf
        psf = load_psf(args.psf_name, args.psf_path)
        kernel = None if psf is None else torch.from_numpy(psf.kernel)
        pairs = cube_pairs(root, scenes)
        config = RenderConfig(psf_boundary="linear", npe=args.npe, exposure_target=spec.exposure_target)
        stats = scene_stats(pairs, cache, srf, kernel, config, device)
        margin = psf_margin(kernel)
        renderer = OnTheFlyRenderer(torch.from_numpy(srf), kernel, config, args.metamer_mode, (-1.0, 2.0), margin, 0,
                                    device, None if args.exact_iterations is None else {"iterations": args.exact_iterations})
        sets["onthefly"] = (PatchDataset(pairs, cache, args.crop_size, args.stride, margin, stats), renderer)

    if "data" in args.parts:
        for kind, (ds, renderer) in sets.items():
            for placement in args.data_on_device:
                on = placement == "on"
                rate = data_rate(ds, renderer, args.batch_size, args.num_workers, device, args.batches, on)
                emit(part="data", data=kind, data_on_device=on, workers=0 if on else args.num_workers,
                     samples_per_s=round(rate, 1))
    for method in args.methods:
        for mode in args.modes:
            amp, compile_mode, fused = MODES[mode]
            if "step" in args.parts:
                rate, peak = step_rate(method, args.batch_size, args.crop_size, device, amp, compile_mode, fused,
                                       args.batches)
                emit(part="step", method=method, mode=mode, samples_per_s=round(rate, 1), peak_gib=round(peak, 2))
            if "loop" in args.parts and mode != "toolbox":
                for kind, (ds, renderer) in sets.items():
                    for placement in args.data_on_device:
                        on = placement == "on"
                        rate = loop_rate(method, ds, renderer, args.batch_size, args.num_workers, device, amp,
                                         compile_mode, args.loop_iterations, srf, on)
                        emit(part="loop", method=method, mode=mode, data=kind, data_on_device=on,
                             workers=0 if on else args.num_workers, samples_per_s=round(rate, 1))
    atomic_write_json(args.out, provenance(args=vars(args), records=records))
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_bench, argv)


if __name__ == "__main__":
    raise SystemExit(main())
