"""metamer/generate_metamers.py and hsi.metamer_data end to end on a tiny SYNTH set.

The files written are checked against the library: the metamer cube against ``hsi.metamer.make_metamer``,
the RGB against ``hsi.render.render_rgb`` with the per-image noise streams of ``hsi.render.scene_seed``,
JPEG against the same array written by ``hsi.io.write_rgb``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hsi.camera import load_srf
from hsi.datasets import SplitListError, read_splits
from hsi.io import read_mat_cube, read_rgb_raw, write_rgb
from hsi.metamer import make_metamer
from hsi.metamer_data import (GenerateOptions, MetamerDataError, generate_metamer_dataset, render_metamer_pair,
                              variant_dir_name)
from hsi.optics import PSFNotFoundError, load_psf
from hsi.render import RenderConfig, make_generators, render_rgb, scene_seed
from hsi.synthetic import SynthConfig, build_synth_dataset

SIZE = (40, 48)
PSF_NAME = "double_gauss_50mm_F1.8"          # a stand-in with the paper's name, written into a temp folder


def _main(argv):
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "metamer" / "generate_metamers.py"
    spec = importlib.util.spec_from_file_location("generate_metamers", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A tiny SYNTH dataset (3 train + 1 valid scenes of 40 x 48) and a PSF folder (paper format)."""
    root = tmp_path_factory.mktemp("datasets")
    build_synth_dataset(root / "SYNTH", SynthConfig(num_scenes=4, size=SIZE, seed=1, valid_fraction=0.25),
                        progress=False)
    psf_dir = root / "psfs"
    psf_dir.mkdir()
    yy, xx = np.mgrid[0:7, 0:8]
    sig = np.linspace(0.6, 2.0, 31)
    k = np.exp(-((yy - 3) ** 2 + (xx - 4) ** 2)[..., None] / (2 * sig ** 2))     # (h, w, 31), centre (3, 4)
    np.savez(psf_dir / f"{PSF_NAME}.npz", PSFs=k.astype(np.float32))
    return root, psf_dir


def _copy_dataset(data, tmp_path) -> Path:
    import shutil
    root, _ = data
    shutil.copytree(root / "SYNTH", tmp_path / "SYNTH")
    for p in (tmp_path / "SYNTH").iterdir():      # drop generated folders of other tests
        if p.is_dir() and p.name not in ("Train_Spec", "Train_RGB", "split_txt"):
            shutil.rmtree(p)
    return tmp_path


def _opts(root, psf_dir, **kw) -> GenerateOptions:
    kw.setdefault("device", "cpu")
    return GenerateOptions(dataset_path=str(root), dataset_name="synth", psf_path=str(psf_dir), **kw)


def _expected(root, scene, psf_dir, psf_name, npe, alpha, mode, boundary, quantize, noise_seed, noise_type):
    cube = torch.from_numpy(read_mat_cube(root / "SYNTH" / "Train_Spec" / f"{scene}.mat").cube)[None]
    srf = torch.from_numpy(load_srf())
    met = make_metamer(cube, srf, alpha, mode=mode).cube
    psf = None if psf_name is None else torch.from_numpy(load_psf(psf_name, psf_dir).kernel)
    cfg = RenderConfig(psf_boundary=boundary, npe=npe, quantize=quantize, exposure_target=0.18, noise_type=noise_type)
    # one batch (original, metamer), each image with its own noise stream and auto-exposure
    gens = make_generators([scene_seed(noise_seed, scene, v) for v in ("original", "metamer")]) if npe else None
    dn = render_rgb(torch.cat([cube, met]), srf, psf, cfg, generator=gens).to_uint()
    return met[0].numpy(), {"original": dn[0], "metamer": dn[1]}


CONFIGS = [
    # mode, rgb_format, psf, noise, npe, boundary, quantize
    ("clip", "png", None, "poisson", 0, "circular", "truncate"),             # the paper's default
    ("exact", "jpg", PSF_NAME, "poisson", 1000, "circular", "truncate"),
    ("clip", "all", PSF_NAME, "poisson", 0, "linear", "round"),
    ("exact", "png", None, "gaussian", 0.02, "periodic", "round"),
]


@pytest.mark.parametrize("mode,rgb_format,psf_name,noise_type,npe,boundary,quantize", CONFIGS)
def test_files_match_the_library(data, tmp_path, mode, rgb_format, psf_name, noise_type, npe, boundary, quantize):
    root = _copy_dataset(data, tmp_path)
    psf_dir = data[1]
    alpha = 0.0 if mode == "clip" else -0.5
    opts = _opts(root, psf_dir, psf_name=psf_name or "None", npe=npe, alpha=alpha, rgb_format=rgb_format,
                 metamer_mode=mode, psf_boundary=boundary, quantize=quantize, noise_seed=5, noise_type=noise_type)
    man = generate_metamer_dataset(opts, progress=False, log=lambda m: None)
    out = root / "SYNTH" / variant_dir_name(noise_type, npe, psf_name)
    assert out.name == f"{noise_type}{npe}_{psf_name or 'None'}"
    splits = read_splits(root / "SYNTH")
    scenes = sorted(splits["train"]) + sorted(splits["valid"])
    assert man["generated"] == 4 and man["complete"] and list(man["scenes"]) == scenes
    exts = ["png", "jpg"] if rgb_format == "all" else [rgb_format]
    for scene in scenes:
        met, rgb = _expected(root, scene, psf_dir, psf_name, npe, alpha, mode, boundary, quantize, 5, noise_type)
        got = read_mat_cube(out / "Train_Metamer_Spec" / f"{scene}_metamer.mat").cube
        np.testing.assert_allclose(got, met, rtol=0, atol=1e-6)
        for ext in exts:
            for variant in ("original", "metamer"):
                img = read_rgb_raw(out / "Train_Metamer_RGB" / f"{scene}_{variant}.{ext}")
                if ext == "png":
                    np.testing.assert_array_equal(img, rgb[variant])
                else:
                    write_rgb(tmp_path / "ref.jpg", rgb[variant], jpeg_quality=65)
                    np.testing.assert_array_equal(img, read_rgb_raw(tmp_path / "ref.jpg"))
        st = man["scenes"][scene]
        assert st["split"] == ("valid" if scene in splits["valid"] else "train")
        assert {"rgb_max_abs_dev", "clipped_fraction", "dn_max_abs_diff", "spectral_rmse"} <= set(st)
        if mode == "exact":
            assert st["rgb_rel_dev"] < 1e-5
    if npe:   # independent noise: original and metamer differ by noise even where spectra agree
        a = read_rgb_raw(out / "Train_Metamer_RGB" / f"{scenes[0]}_original.{exts[0]}")
        b = read_rgb_raw(out / "Train_Metamer_RGB" / f"{scenes[1]}_original.{exts[0]}")
        assert not np.array_equal(a, b)
    m = json.loads((out / "manifest.json").read_text())
    assert m["settings"]["metamer_mode"] == mode and m["settings"]["psf"] == psf_name
    assert m["options"]["rgb_format"] == rgb_format and m["camera"]["name"] == "basler_a2A5320-23ucBAS"
    assert m["scenes_per_s"] > 0 and "torch" in m["versions"] and m["settings"]["render"]["npe"] == npe


def test_skip_overwrite_and_never_delete(data, tmp_path):
    root = _copy_dataset(data, tmp_path)
    psf_dir = data[1]
    opts = _opts(root, psf_dir)
    generate_metamer_dataset(opts, progress=False, log=lambda m: None)
    out = root / "SYNTH" / "poisson0_None"
    foreign = out / "notes.txt"
    foreign.write_text("mine")
    mat = out / "Train_Metamer_Spec" / "SYNTH_0001_metamer.mat"
    png = out / "Train_Metamer_RGB" / "SYNTH_0001_original.png"
    t_mat, t_png = mat.stat().st_mtime_ns, png.stat().st_mtime_ns
    man = generate_metamer_dataset(opts, progress=False, log=lambda m: None)        # second run: skips
    assert man["generated"] == 0 and man["skipped"] == 4 and len(man["scenes"]) == 4
    assert (mat.stat().st_mtime_ns, png.stat().st_mtime_ns) == (t_mat, t_png)
    # a missing file is regenerated alone; another format is added from the metamer on disk
    png.unlink()
    man = generate_metamer_dataset(opts, progress=False, log=lambda m: None)
    assert man["generated"] == 1 and png.is_file() and mat.stat().st_mtime_ns == t_mat
    man = generate_metamer_dataset(_opts(root, psf_dir, rgb_format="jpg"), progress=False, log=lambda m: None)
    assert man["generated"] == 4 and (out / "Train_Metamer_RGB" / "SYNTH_0004_metamer.jpg").is_file()
    assert mat.stat().st_mtime_ns == t_mat
    # other settings into the same folder are refused; --overwrite regenerates
    with pytest.raises(MetamerDataError, match="alpha"):
        generate_metamer_dataset(_opts(root, psf_dir, alpha=0.5), progress=False, log=lambda m: None)
    man = generate_metamer_dataset(_opts(root, psf_dir, overwrite=True), progress=False, log=lambda m: None)
    assert man["generated"] == 4 and mat.stat().st_mtime_ns != t_mat
    assert foreign.read_text() == "mine"                                             # nothing deleted
    # --out_name keeps variants apart
    man = generate_metamer_dataset(_opts(root, psf_dir, alpha=0.5, out_name="alpha0.5"), progress=False,
                                   log=lambda m: None)
    assert man["generated"] == 4 and (root / "SYNTH" / "alpha0.5" / "manifest.json").is_file()


def test_clear_errors(data, tmp_path):
    root = _copy_dataset(data, tmp_path)
    psf_dir = data[1]
    with pytest.raises(ValueError, match="known datasets: ARAD_1K, CAVE, ICVL, KAUST, SYNTH"):
        generate_metamer_dataset(GenerateOptions(dataset_path=str(root), dataset_name="NOPE"), progress=False)
    with pytest.raises(PSFNotFoundError, match=PSF_NAME.replace(".", r"\.")):
        generate_metamer_dataset(_opts(root, psf_dir, psf_name="no_such_lens"), progress=False)
    with pytest.raises(MetamerDataError, match="Train_Spec"):
        generate_metamer_dataset(GenerateOptions(dataset_path=str(root), dataset_name="CAVE"), progress=False)
    (root / "SYNTH" / "Train_Spec" / "SYNTH_0002.mat").unlink()
    with pytest.raises(MetamerDataError, match="SYNTH_0002.mat"):
        generate_metamer_dataset(_opts(root, psf_dir), progress=False)
    (root / "SYNTH" / "split_txt" / "valid_list.txt").unlink()
    with pytest.raises(SplitListError, match="valid_list.txt"):
        generate_metamer_dataset(_opts(root, psf_dir), progress=False)
    assert not (root / "SYNTH" / "poisson0_None").exists()                         # nothing written


def test_cli_runs_the_papers_four_configurations(data, tmp_path, capsys):
    root = _copy_dataset(data, tmp_path)
    psf_dir = data[1]
    for psf, npe in (("None", 0), ("None", 1000), (PSF_NAME, 1000), (PSF_NAME, 0)):
        rc = _main(["--psf_name", psf, "--dataset_path", str(root), "--dataset_name", "SYNTH", "--npe", str(npe),
                    "--alpha", "0.0", "--rgb_format", "png", "--psf_path", str(psf_dir), "--device", "cpu",
                    "--no_progress", "--limit", "2"])
        assert rc == 0
    names = sorted(p.name for p in (root / "SYNTH").iterdir() if p.name.startswith("poisson"))
    assert names == sorted(["poisson0_None", "poisson1000_None", f"poisson1000_{PSF_NAME}", f"poisson0_{PSF_NAME}"])
    for n in names:
        assert len(list((root / "SYNTH" / n / "Train_Metamer_RGB").glob("*.png"))) == 4
    assert _main(["--dataset_path", str(root), "--dataset_name", "SYNTH", "--psf_name", "nope",
                  "--psf_path", str(psf_dir), "--no_progress"]) == 2
    err = capsys.readouterr().err
    assert "no PSF named 'nope'" in err and PSF_NAME in err


def test_render_metamer_pair_batched(smooth_cube, basler_srf):
    cfg = RenderConfig(npe=500, quantize="round")
    pair = render_metamer_pair(smooth_cube, basler_srf, None, alpha=torch.tensor([0.0, 2.0]), mode="exact",
                               config=cfg, noise_seed=1, scenes=["a", "b"])
    assert pair.metamer_cube.shape == smooth_cube.shape
    assert pair.original.dn.shape == (2, 3, 24, 20) and pair.rendered_metamer.gain.shape == (2,)
    single = render_metamer_pair(smooth_cube[1:], basler_srf, None, alpha=2.0, mode="exact", config=cfg,
                                 noise_seed=1, scenes=["b"])
    torch.testing.assert_close(single.original.dn[0], pair.original.dn[1])           # per-scene noise streams
    clean = render_metamer_pair(smooth_cube, basler_srf, None, alpha=0.0, mode="exact", config=RenderConfig())
    assert clean.dn_max_abs_diff().max() <= 1


def test_visualize(data, tmp_path):
    import importlib.util
    root = _copy_dataset(data, tmp_path)
    generate_metamer_dataset(_opts(root, data[1], rgb_format="jpg"), progress=False, log=lambda m: None)
    path = Path(__file__).resolve().parents[1] / "metamer" / "visualize.py"
    spec = importlib.util.spec_from_file_location("visualize", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rc = mod.main(["--dataset_path", str(root), "--dataset_name", "SYNTH", "--rgb_format", "jpg",
                   "--fig_dir", str(tmp_path / "figs"), "--scenes", "SYNTH_0001", "SYNTH_0004", "--n_pixels", "2"])
    assert rc == 0
    import cv2
    img = cv2.imread(str(tmp_path / "figs" / "SYNTH_0001.png"))
    assert img is not None and img.shape[0] > 400 and img.shape[1] > 800
    assert (tmp_path / "figs" / "figures.json").is_file()
    assert mod.main(["--dataset_path", str(root), "--dataset_name", "SYNTH", "--npe", "1000",
                     "--fig_dir", str(tmp_path / "figs")]) == 2


@pytest.mark.cuda
def test_cuda_matches_cpu(data, tmp_path):
    root = _copy_dataset(data, tmp_path)
    for dev in ("cpu", "cuda"):
        generate_metamer_dataset(_opts(root, data[1], device=dev, out_name=dev, psf_name=PSF_NAME),
                                 progress=False, log=lambda m: None)
    for p in (root / "SYNTH" / "cpu" / "Train_Metamer_RGB").glob("*.png"):
        a, b = read_rgb_raw(p), read_rgb_raw(root / "SYNTH" / "cuda" / "Train_Metamer_RGB" / p.name)
        assert np.abs(a.astype(int) - b).max() <= 1
