"""The training engine and the five scripts, end to end on a tiny dataset, on CPU."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from _tiny_data import make_tiny_dataset
from hsi.data import DataError, PatchDataset, ResumableBatchSampler, SceneCache, ScenePair, augment, select_percent
from hsi.models import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--num_epochs", "2", "--per_epoch_iteration", "10", "--batch_size", "4", "--crop_size", "32", "--stride", "4",
        "--valid_freq", "10", "--save_freq", "10", "--log_freq", "5", "--num_workers", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def psf_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("psfs")
    yy, xx = np.mgrid[-4:5, -4:5]
    widths = np.linspace(0.6, 2.0, 31)
    psf = np.stack([np.exp(-(xx ** 2 + yy ** 2) / (2 * w ** 2)) for w in widths], axis=-1).astype(np.float32)
    np.savez(d / "blur9.npz", PSFs=psf)
    return d


def _run(script, *args, env=None):
    cmd = [sys.executable, str(ROOT / script), *map(str, args)]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def _losses(run_dir: Path) -> list[float]:
    with open(run_dir / "scalars.csv") as fh:
        return [float(r["value"]) for r in csv.DictReader(fh) if r["name"] == "train/loss"]


def _assert_trained(run_dir: Path, iterations: int):
    losses = _losses(run_dir)
    assert losses[-1] < losses[0], losses
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["iterations"] == iterations and summary["finished"]
    assert {p.name for p in run_dir.glob("*.pth")} == {"last.pth", "best.pth"}   # no checkpoint flood
    assert load_checkpoint(run_dir / "last.pth")["iteration"] == iterations
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))                 # TensorBoard scalars
    assert (run_dir / "train.log").read_text().count("validation:") >= 1
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["config"]["method"] and cfg["versions"]["torch"] and "git_commit" in cfg


@pytest.mark.parametrize("method", ["mst_plus_plus", "ssrnet"])
def test_no_metamer_trains(tiny, tmp_path, method):
    _run("RGB2HS/train_RGB2HS_no_metamer.py", "--dataset_path", tiny, "--dataset_name", "SYNTH", "--method", method,
         "--result_root", tmp_path, "--loss_func", "mrae", "--cache_dir", tmp_path / "cache", *FAST)
    run = tmp_path / f"No_metamer_mrae_png_poisson0_None_{method}_SYNTH"
    _assert_trained(run, 20)
    if method == "mst_plus_plus":   # a finished run is skipped under --resume (what the drivers rely on)
        before = (run / "last.pth").stat().st_mtime_ns
        res = _run("RGB2HS/train_RGB2HS_no_metamer.py", "--dataset_path", tiny, "--dataset_name", "SYNTH", "--method",
                   method, "--result_root", tmp_path, "--loss_func", "mrae", "--cache_dir", tmp_path / "cache", *FAST,
                   "--resume", "True")
        assert "already finished" in res.stdout and (run / "last.pth").stat().st_mtime_ns == before


def test_fixed_metamer_trains_on_both(tiny, tmp_path):
    _run("RGB2HS/train_RGB2HS_fixed_metamer.py", "--dataset_path", tiny, "--dataset_name", "SYNTH",
         "--result_root", tmp_path, "--cache_dir", tmp_path / "cache", *FAST)
    run = tmp_path / "Fixed_metamer_l1_png_poisson0_None_mst_plus_plus_SYNTH"
    _assert_trained(run, 20)
    assert json.loads((run / "config.json").read_text())["config"]["valid_join"] == "both"


def test_onthefly_trains_with_psf_and_noise(tiny, tmp_path, psf_dir):
    make_tiny_dataset(tiny, npe=1000)  # validation data of the noisy setting (no PSF on disk needed for a smoke run)
    _run("RGB2HS/train_RGB2HS_onthefly_metamer.py", "--dataset_path", tiny, "--dataset_name", "SYNTH",
         "--result_root", tmp_path, "--cache_dir", tmp_path / "cache", "--npe", "1000", "--psf_path", psf_dir,
         "--metamer_mode", "exact", "--data_join", "standard", *FAST)
    # the PSF name is not part of the data folder here: on-the-fly renders it; validation reads poisson1000_None
    run = tmp_path / "OnTheFly_metamer_l1_poisson1000_None_mst_plus_plus_SYNTH"
    _assert_trained(run, 20)


def test_onthefly_renderer_uses_the_psf(tiny, tmp_path, psf_dir):
    from hsi.optics import load_psf
    from hsi.render import RenderConfig
    from hsi.train.onthefly import OnTheFlyRenderer, psf_margin
    psf = torch.from_numpy(load_psf(str(psf_dir / "blur9.npz")).kernel)
    m = psf_margin(psf)
    pairs = [ScenePair("scene_00", tiny / "SYNTH" / "Train_Spec" / "scene_00.mat", None)]
    from hsi.camera import load_srf
    from hsi.train.cli import scene_stats
    stats = scene_stats(pairs, SceneCache(tmp_path), load_srf(), psf, RenderConfig(quantize="none"), torch.device("cpu"))
    assert 0 < stats["scene_00"].gain and stats["scene_00"].dn_min < stats["scene_00"].dn_max
    ds = PatchDataset(pairs, SceneCache(tmp_path), 16, 8, margin=m, stats=stats)
    item = ds[(5, 0)]
    assert item["cube"].shape == (31, 16 + 2 * m, 16 + 2 * m)
    batch = {k: v[None] for k, v in item.items()}
    sharp = OnTheFlyRenderer(torch.from_numpy(load_srf()), None, RenderConfig(quantize="none"), "clip", (1.0, 1.0), m)
    blur = OnTheFlyRenderer(torch.from_numpy(load_srf()), psf, RenderConfig(quantize="none"), "clip", (1.0, 1.0), m)
    rgb_s, target_s = sharp(batch)
    rgb_b, target_b = blur(batch)
    assert rgb_s.shape == (1, 3, 16, 16) and target_s.shape == (1, 31, 16, 16)
    torch.testing.assert_close(target_s, target_b)                    # alpha = 1: the original cube
    assert (rgb_s - rgb_b).abs().max() > 1e-3                          # the PSF blurs the input


def test_onthefly_patch_equals_the_whole_image_render(tiny, tmp_path, psf_dir):
    """A rendered patch (alpha 1: the original) equals the same pixels of the whole image rendered with a
    linear PSF convolution, the scene's gain and its DN range: the context margin makes the periodic
    convolution of the patch exact."""
    from dataclasses import replace
    from torch.utils.data import default_collate
    from hsi.camera import load_srf
    from hsi.optics import load_psf
    from hsi.render import RenderConfig, render_rgb
    from hsi.train.cli import scene_stats
    from hsi.train.onthefly import OnTheFlyRenderer, psf_margin
    psf = torch.from_numpy(load_psf(str(psf_dir / "blur9.npz")).kernel)
    m, srf, config = psf_margin(psf), torch.from_numpy(load_srf()), RenderConfig(quantize="none")
    pairs = [ScenePair("scene_00", tiny / "SYNTH" / "Train_Spec" / "scene_00.mat", None)]
    cache = SceneCache(tmp_path)
    stats = scene_stats(pairs, cache, srf.numpy(), psf, config, torch.device("cpu"))
    ds = PatchDataset(pairs, cache, 16, 8, margin=m, stats=stats)
    renderer = OnTheFlyRenderer(srf, psf, config, "clip", (1.0, 1.0), m)
    assert renderer.config.psf_boundary == "periodic"
    rgb, target = renderer(default_collate([ds[(5, 0)]]))                     # the interior patch at (8, 8)
    st = stats["scene_00"]
    cube = torch.from_numpy(np.array(cache.cube(pairs[0].cube_path)))[None]
    whole = render_rgb(cube, srf, psf, replace(config, psf_boundary="linear"), gain=torch.tensor([st.gain])).dn
    expected = (whole - st.dn_min) / (st.dn_max - st.dn_min)
    torch.testing.assert_close(rgb, expected[..., 8:24, 8:24], rtol=0, atol=2e-5)
    torch.testing.assert_close(target, cube[..., 8:24, 8:24], rtol=0, atol=1e-6)
    narrow = OnTheFlyRenderer(srf, psf, config, "clip", (1.0, 1.0), m - 1)        # margin too small: linear
    assert narrow.config.psf_boundary == "linear"


def test_mstpp_trainer_percent(tiny, tmp_path):
    out = str(tmp_path / "exp") + "/"
    _run("MST_plus_plus_code/train_code/train.py", "--data_root", tiny / "SYNTH", "--percent", "67", "--end_epoch", "2",
         "--iterations_per_epoch", "10", "--batch_size", "4", "--patch_size", "32", "--stride", "4", "--valid_freq", "10",
         "--save_freq", "10", "--log_freq", "5", "--num_workers", "0", "--device", "cpu", "--outf", out,
         "--cache_dir", tmp_path / "cache")
    run = Path(out + "_67percent")
    _assert_trained(run, 20)
    assert (run / "train_scenes.txt").read_text().split() == select_percent(["scene_00", "scene_01", "scene_02"], 67, 0)


def test_resume_matches_an_uninterrupted_run(tiny, tmp_path):
    common = ["--dataset_path", tiny, "--dataset_name", "SYNTH", "--cache_dir", tmp_path / "cache", *FAST,
              "--deterministic", "True"]
    _run("RGB2HS/train_RGB2HS_no_metamer.py", "--result_root", tmp_path / "a", *common)
    _run("RGB2HS/train_RGB2HS_no_metamer.py", "--result_root", tmp_path / "b", *common, "--stop_at", "15")
    name = "No_metamer_l1_png_poisson0_None_mst_plus_plus_SYNTH"
    assert load_checkpoint(tmp_path / "b" / name / "last.pth")["iteration"] == 10   # killed after 15, saved at 10
    _run("RGB2HS/train_RGB2HS_no_metamer.py", "--result_root", tmp_path / "b", *common, "--resume", "True")
    a = load_checkpoint(tmp_path / "a" / name / "last.pth")
    b = load_checkpoint(tmp_path / "b" / name / "last.pth")
    assert a["iteration"] == b["iteration"] == 20
    for k in a["state_dict"]:
        torch.testing.assert_close(a["state_dict"][k], b["state_dict"][k], rtol=0, atol=0)


def test_ddp_gloo_two_processes(tiny, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
           str(ROOT / "RGB2HS/train_RGB2HS_no_metamer.py"), "--dataset_path", str(tiny), "--dataset_name", "SYNTH",
           "--result_root", str(tmp_path), "--cache_dir", str(tmp_path / "cache"), *FAST]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run = tmp_path / "No_metamer_l1_png_poisson0_None_mst_plus_plus_SYNTH"
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["config"]["world_size"] == 2
    assert load_checkpoint(run / "last.pth")["iteration"] == 20


def test_validation_writes_the_documented_files(tiny, tmp_path):
    from hsi.models import build_model, save_checkpoint
    ckpt = save_checkpoint(tmp_path / "net.pth", build_model("mst_plus_plus"))
    for metamer in ("False", "True"):
        _run("RGB2HS/validate_RGB2HS.py", "--dataset_path", tiny, "--dataset_name", "SYNTH", "--pretrained_root", ckpt,
             "--result_root", tmp_path / "val", "--metamer", metamer, "--save_recon", "True", "--device", "cpu")
    for kind in ("std", "metamer"):
        name = f"SYNTH_poisson0_None_png_mst_plus_plus_{kind}"
        summary = (tmp_path / "val" / f"{name}.txt").read_text().splitlines()
        assert summary[0] == ",metric,value" and [l.split(",")[1] for l in summary[1:]] == ["MRAE", "RMSE", "PSNR", "SAM"]
        rows = list(csv.DictReader(open(tmp_path / "val" / name / "per_image.csv")))
        assert [r["name"].replace("_metamer", "") for r in rows] == ["scene_03", "scene_04"]
        assert {p.name for p in (tmp_path / "val" / name).glob("*.mat")} == {f"scene_03_{kind}.mat", f"scene_04_{kind}.mat"}
    res = _run("RGB2HS/validate_RGB2HS.py", "--dataset_path", tiny, "--dataset_name", "SYNTH", "--pretrained_root", ckpt,
               "--result_root", tmp_path / "val", "--skip_existing", "True", "--device", "cpu")
    assert "skipped" in res.stdout


def test_bad_input_is_reported_before_work(tiny, tmp_path):
    def fails(*args):
        res = subprocess.run([sys.executable, str(ROOT / "RGB2HS/train_RGB2HS_no_metamer.py"), *map(str, args)],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert res.returncode != 0
        return res.stderr
    base = ["--dataset_path", tiny, "--dataset_name", "SYNTH", "--result_root", tmp_path, *FAST]
    assert "valid methods" in fails(*base, "--method", "mst_plus_plus_plus")
    assert "known datasets" in fails(*base[:2], "--dataset_name", "FOO", *base[4:])
    err = fails(*base, "--npe", "77")
    assert "generate_metamers.py" in err and "--npe 77" in err
    assert not any(tmp_path.glob("No_metamer*"))


def test_sampler_is_a_pure_function_of_seed_and_position():
    s = ResumableBatchSampler(100, 10, seed=3)
    it = iter(s)
    first = [next(it) for _ in range(25)]                        # crosses two passes
    resumed = iter(ResumableBatchSampler(100, 10, seed=3, start_batch=13))
    assert [next(resumed) for _ in range(12)] == first[13:]
    ranks = [iter(ResumableBatchSampler(100, 10, seed=3, rank=r, world_size=2)) for r in range(2)]
    assert next(ranks[0]) + next(ranks[1]) == first[0]          # the global batch split across ranks
    with pytest.raises(DataError):
        ResumableBatchSampler(5, 10)


def test_percent_is_exact_and_reproducible():
    scenes = [f"s{i}" for i in range(897)]
    for p in (50, 20):
        a = select_percent(scenes, p, 0)
        assert len(a) == round(897 * p / 100) and a == select_percent(scenes, p, 0)
    assert select_percent(scenes, 50, 1) != select_percent(scenes, 50, 0)
    assert select_percent(scenes, None, 0) == scenes


def test_augmentation_codes_cover_the_8_symmetries():
    x = np.arange(12).reshape(1, 3, 4)
    shapes = {augment(x, c).tobytes() for c in range(16)}
    assert len(shapes) == 8


def test_patch_grid_matches_the_paper(tmp_path):
    from hsi.io import write_mat_cube
    write_mat_cube(tmp_path / "a.mat", np.full((31, 482, 512), 0.5, np.float32))   # an all-zero cube is refused
    ds = PatchDataset([ScenePair("a", tmp_path / "a.mat", None)], SceneCache(tmp_path / "c"), 128, 8)
    assert len(ds) == 2205                                        # 45 x 49 patches of an ARAD image
    assert ds.locate(2204) == (0, 44 * 8, 48 * 8)


def _anon_rss_after_iterating(tmp: Path, n_scenes: int) -> int:
    code = f"""
import numpy as np, sys
sys.path.insert(0, {str(ROOT / 'tests')!r})
from pathlib import Path
from hsi.data import PatchDataset, SceneCache, ScenePair, ResumableBatchSampler
from hsi.io import write_mat_cube
tmp = Path({str(tmp)!r})
pairs = []
for i in range({n_scenes}):
    p = tmp / f"s{{i}}.mat"
    if not p.exists():
        write_mat_cube(p, np.random.default_rng(i).random((31, 256, 256), dtype=np.float32))
    pairs.append(ScenePair(f"s{{i}}", p, None))
ds = PatchDataset(pairs, SceneCache(tmp / "cache"), 64, 16)
it = iter(ResumableBatchSampler(len(ds), 8, seed=0))
for _ in range(60):
    batch = [ds[i] for i in next(it)]
status = open("/proc/self/status").read()
print([int(l.split()[1]) for l in status.splitlines() if l.startswith("RssAnon")][0])
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return int(res.stdout.strip().splitlines()[-1]) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_data_path_ram_does_not_grow_with_the_dataset(tmp_path):
    small = _anon_rss_after_iterating(tmp_path / "small", 2)
    large = _anon_rss_after_iterating(tmp_path / "large", 16)          # +112 MB of cubes
    assert large - small < 25 * 2 ** 20, (small, large)


def test_nan_loss_stops_with_the_iteration_and_keeps_the_last_checkpoint(tiny, tmp_path, monkeypatch):
    from hsi.train import engine
    from hsi.data import FullImageDataset
    calls = {"n": 0}

    def exploding_l1(pred, target):
        calls["n"] += 1
        loss = (pred - target).abs().mean()
        return loss * float("nan") if calls["n"] == 7 else loss
    monkeypatch.setattr(engine, "get_loss", lambda name: exploding_l1)
    ds = tiny / "SYNTH"
    pairs = [ScenePair(s, ds / "Train_Spec" / f"{s}.mat", ds / "Train_RGB" / f"{s}.jpg") for s in ("scene_00", "scene_01")]
    train_set = PatchDataset(pairs, SceneCache(tmp_path / "cache"), 32, 8)
    cfg = engine.TrainConfig(method="mst_plus_plus", out_dir=tmp_path / "run", total_iterations=20, batch_size=2,
                             save_freq=5, valid_freq=0, num_workers=0, device="cpu")
    with pytest.raises(engine.TrainingDiverged, match="iteration 7") as info:
        engine.train(cfg, train_set, FullImageDataset(pairs[:1], None))
    assert "last.pth" in str(info.value)
    assert load_checkpoint(tmp_path / "run" / "last.pth")["iteration"] == 5


def test_checkpoint_of_another_architecture_is_refused_by_name(tiny, tmp_path):
    from hsi.models import build_model, save_checkpoint
    ckpt = save_checkpoint(tmp_path / "mst.pth", build_model("ssrnet"))
    res = subprocess.run([sys.executable, str(ROOT / "RGB2HS/validate_RGB2HS.py"), "--dataset_path", str(tiny),
                          "--dataset_name", "SYNTH", "--pretrained_root", str(ckpt), "--method", "mst_plus_plus",
                          "--result_root", str(tmp_path / "val"), "--device", "cpu"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "does not fit MST_Plus_Plus" in res.stderr and "missing" in res.stderr
    assert not (tmp_path / "val").exists()


def _tiny_pairs(tiny, rgb: bool):
    ds = tiny / "SYNTH"
    return [ScenePair(s, ds / "Train_Spec" / f"{s}.mat", ds / "Train_RGB" / f"{s}.jpg" if rgb else None)
            for s in ("scene_00", "scene_01")]


@pytest.mark.parametrize("rgb, margin", [(True, 0), (False, 0), (False, 5), (False, 40)])
def test_device_patches_equal_the_loader_batches(tiny, tmp_path, rgb, margin):
    from torch.utils.data import default_collate
    from hsi.data import DevicePatchSource, SceneStats
    pairs = _tiny_pairs(tiny, rgb)
    stats = None if rgb else {p.key: SceneStats(0.5 + i, -0.1 * i, 2.0 + i) for i, p in enumerate(pairs)}
    ds = PatchDataset(pairs, SceneCache(tmp_path / "cache"), 16, 8, margin=margin, stats=stats)
    source = DevicePatchSource(ds, "cpu")
    # every augmentation code, on patches at the image corners (reflect padding) and inside
    items = [(int(i), code) for i, code in zip(np.linspace(0, len(ds) - 1, 16).astype(int), range(16))]
    items += [(0, 5), (len(ds) - 1, 10)]
    expected = default_collate([ds[i] for i in items])
    got = source.batch(items)
    assert got.keys() == expected.keys()
    for k in expected:
        assert got[k].dtype == expected[k].dtype, k
        torch.testing.assert_close(got[k], expected[k], rtol=0, atol=0)
    assert DevicePatchSource.bytes_needed(ds) == sum(t.numel() * 4 for t in source.cubes) + \
        sum(t.numel() * 4 for t in source.rgbs if t is not None)


def test_training_with_scenes_on_the_device_matches_the_loader(tiny, tmp_path):
    from hsi.train import engine
    train_set = PatchDataset(_tiny_pairs(tiny, True), SceneCache(tmp_path / "cache"), 32, 8)
    states = {}
    for choice in ("on", "off"):
        cfg = engine.TrainConfig(method="mst_plus_plus", out_dir=tmp_path / choice, total_iterations=6, batch_size=2,
                                 save_freq=6, log_freq=3, valid_freq=0, num_workers=0, device="cpu",
                                 deterministic=True, data_on_device=choice)
        engine.train(cfg, train_set, None)
        assert json.loads((tmp_path / choice / "config.json").read_text())["config"]["data_on_device_used"] == (choice == "on")
        states[choice] = load_checkpoint(tmp_path / choice / "last.pth")["state_dict"]
    for k in states["on"]:
        torch.testing.assert_close(states["on"][k], states["off"][k], rtol=0, atol=0)
    assert _losses(tmp_path / "on") == _losses(tmp_path / "off")
    assert not engine.use_device_data("auto", train_set, torch.device("cpu"))   # auto: CUDA only
    with pytest.raises(ValueError, match="auto, on or off"):
        engine.use_device_data("gpu", train_set, torch.device("cpu"))
