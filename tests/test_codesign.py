"""Co-design (hsi.train.codesign): gradients reach the DOE, a tiny joint run learns and exports a PSF that
the toolkit loads and renders with, and a stopped-and-resumed run equals an uninterrupted one bit for bit."""
from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from _tiny_data import make_tiny_dataset
from hsi.imaging import ImagingSystem
from hsi.models import load_checkpoint
from hsi.optics import load_psf
from hsi.render import RenderConfig
from hsi.train.codesign import (PSF_BEST, PSF_LAST, CodesignOptions, CodesignRenderer, CodesignTrainingOptions,
                                build_element, codesign_run_dir, run_codesign)
from hsi.train.onthefly import OnTheFlyRenderer
from hsi.train.options import EngineOptions, OnTheFlyOptions, TrainingOptions

ROOT = Path(__file__).resolve().parents[1]
TINY_OPTICS = CodesignOptions(psf_size=9, doe_grid=48, optics_lr=5e-2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data"), size=32)


def _opts(tiny, root, iterations=12, **engine) -> CodesignTrainingOptions:
    t = TrainingOptions(mode="onthefly", dataset_path=str(tiny), dataset_name="SYNTH", method="mst_plus_plus",
                        result_root=str(root), npe=1000, num_epochs=1, per_epoch_iteration=iterations, batch_size=2,
                        crop_size=16, stride=8, log_freq=3, valid_freq=6, save_freq=6,
                        onthefly=OnTheFlyOptions(srf_path="basler_a2A5320-23ucBAS"),
                        engine=EngineOptions(device="cpu", num_workers=0, **engine))
    return CodesignTrainingOptions(training=t, codesign=TINY_OPTICS)


def _batch(n=2, size=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    cube = torch.rand(n, 31, size, size, generator=g)
    return {"cube": cube, "gain": torch.full((n,), 0.01), "dn_min": torch.zeros(n), "dn_max": torch.full((n,), 200.0)}


def test_rgb_matches_the_fixed_psf_renderer_and_the_gradient_reaches_the_height_map():
    from hsi.camera import load_camera
    srf = load_camera("basler_a2A5320-23ucBAS").srf
    element = build_element(CodesignOptions(psf_size=9, doe_grid=48, optics_init="random"))
    system = ImagingSystem.from_arrays(srf, element, RenderConfig(npe=1000))
    fixed = ImagingSystem.from_arrays(srf, element().detach(), RenderConfig(npe=1000))
    rgb, target = CodesignRenderer(system, margin=4, seed=3)(_batch())
    rgb_fixed, target_fixed = OnTheFlyRenderer(fixed, margin=4, seed=3)(_batch())
    torch.testing.assert_close(rgb, rgb_fixed, rtol=0, atol=1e-6)      # same values (straight-through only in grad)
    torch.testing.assert_close(target, target_fixed, rtol=0, atol=0)
    (rgb * torch.linspace(0, 1, rgb.shape[-1])).sum().backward()
    grad = element.raw.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().max() > 0


def _losses(run: Path) -> list[float]:
    with open(run / "scalars.csv") as f:
        return [float(r["value"]) for r in csv.DictReader(f) if r["name"] == "train/loss"]


@pytest.mark.slow      # ~1-4 min on a shared 2-core CPU
def test_tiny_codesign_run_learns_and_exports_a_usable_psf(tiny, tmp_path):
    opts = _opts(tiny, tmp_path / "runs", iterations=24)
    summary = run_codesign(opts)
    run = codesign_run_dir(opts)
    assert summary["finished"] and summary["iterations"] == 24
    losses = _losses(run)
    assert np.mean(losses[-2:]) < np.mean(losses[:2])
    learned = load_psf(str(run / PSF_LAST))                       # the shipped format: (31, h, w), bands sum 1
    assert learned.kernel.shape == (31, 9, 9)
    np.testing.assert_allclose(learned.kernel.reshape(31, -1).sum(1), 1.0, atol=1e-5)
    initial = build_element(TINY_OPTICS)().detach().numpy()
    assert np.abs(learned.kernel - initial).max() > 1e-4          # the optics moved
    assert (run / PSF_BEST).is_file() and (run / "psf_best.json").is_file()
    ckpt = load_checkpoint(run / "last.pth")
    assert set(ckpt["optics"]) == {"element", "optimizer", "scheduler"}
    # generate_metamers.py renders through the exported file, unchanged
    spec = importlib.util.spec_from_file_location("generate_metamers", ROOT / "metamer" / "generate_metamers.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--dataset_path", str(tiny), "--dataset_name", "SYNTH", "--psf_name", str(run / PSF_BEST),
              "--npe", "1000", "--alpha", "0.0", "--device", "cpu"])
    made = sorted((tiny / "SYNTH" / "poisson1000_psf_best" / "Train_Metamer_RGB").glob("*_original.png"))
    assert len(made) == 5


@pytest.mark.slow
def test_stop_and_resume_matches_an_uninterrupted_run(tiny, tmp_path):
    whole = _opts(tiny, tmp_path / "a", iterations=12)
    run_codesign(whole)
    stopped = _opts(tiny, tmp_path / "b", iterations=12, stop_at=9)
    run_codesign(stopped)
    assert load_checkpoint(codesign_run_dir(stopped) / "last.pth")["iteration"] == 6
    run_codesign(_opts(tiny, tmp_path / "b", iterations=12, resume=True))
    a = load_checkpoint(codesign_run_dir(whole) / "last.pth")
    b = load_checkpoint(codesign_run_dir(stopped) / "last.pth")
    assert a["iteration"] == b["iteration"] == 12
    for k in a["state_dict"]:
        torch.testing.assert_close(a["state_dict"][k], b["state_dict"][k], rtol=0, atol=0)
    torch.testing.assert_close(a["optics"]["element"]["raw"], b["optics"]["element"]["raw"], rtol=0, atol=0)
    pa, pb = (np.load(codesign_run_dir(o) / PSF_LAST)["PSFs"] for o in (whole, stopped))
    np.testing.assert_array_equal(pa, pb)


def test_a_folder_holding_a_run_is_refused_before_work(tiny, tmp_path):
    from hsi.train.engine import RunFolderError
    opts = _opts(tiny, tmp_path / "runs")
    run = codesign_run_dir(opts)
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")                      # another run started here
    with pytest.raises(RunFolderError, match="--resume True"):
        run_codesign(opts)
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith(".")) == ["config.json"]


def test_ddp_two_processes_keep_one_element(tiny, tmp_path):
    """torchrun, 2 gloo processes: rank 1 starts from a perturbed element, yet both end with the same one
    (rank 0's broadcast at setup, optics gradients averaged each step), which moved and is the checkpoint's."""
    import json
    import os
    import subprocess
    import sys
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29541",
           str(ROOT / "tests" / "_codesign_ddp_worker.py"), str(tiny), str(tmp_path / "runs"), str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run = tmp_path / "runs" / "Codesign_doe_l1_poisson1000_mst_plus_plus_SYNTH"
    assert json.loads((run / "config.json").read_text())["config"]["world_size"] == 2
    ckpt = load_checkpoint(run / "last.pth")
    assert ckpt["iteration"] == 6
    states = [torch.load(tmp_path / f"optics_rank{r}.pt") for r in (0, 1)]
    for key in states[0]:
        torch.testing.assert_close(states[0][key], states[1][key], rtol=0, atol=0)
        torch.testing.assert_close(states[0][key], ckpt["optics"]["element"][key], rtol=0, atol=0)
    initial = build_element(TINY_OPTICS).state_dict()["raw"]
    assert (states[0]["raw"] - initial).abs().max() > 1e-4                 # the optics trained
    assert (run / PSF_LAST).is_file() and (run / PSF_BEST).is_file()


def _average_gradients_in_rank(rank: int, world: int, port: int, out: str) -> None:
    """One process of the in-process gloo group: per-rank gradients -> the trainer's average."""
    import os
    import torch.distributed as dist
    from types import SimpleNamespace
    from hsi.train.codesign import CodesignTrainer
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    element = build_element(CodesignOptions(psf_size=5, doe_grid=24))
    element.raw.grad = torch.full_like(element.raw, float(rank + 1)) * torch.arange(element.raw.numel()).view_as(element.raw)
    fake = SimpleNamespace(optics=element, info=SimpleNamespace(world_size=world))
    CodesignTrainer._average_optics_gradients(fake)
    torch.save(element.raw.grad, Path(out) / f"grad{rank}.pt")
    dist.destroy_process_group()


def test_optics_gradients_are_averaged_over_processes(tmp_path):
    import torch.multiprocessing as mp
    mp.spawn(_average_gradients_in_rank, args=(2, 29547, str(tmp_path)), nprocs=2, join=True)
    base = torch.arange(build_element(CodesignOptions(psf_size=5, doe_grid=24)).raw.numel()).float()
    for r in (0, 1):
        grad = torch.load(tmp_path / f"grad{r}.pt")
        torch.testing.assert_close(grad.flatten(), base * 1.5, rtol=0, atol=0)   # mean of 1x and 2x
