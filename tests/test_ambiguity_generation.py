"""Issue 13 items 2, 3, 7: ``exact_optics`` as a metamer mode (hsi.metamer, ImagingSystem, the on-the-fly
renderer, generate_metamers.py) and the paired bound recorded by generation (per-scene ``pair_distance``
and ``rgb_identical``, the dataset-level ``pair_bound``, ``--paired_noise``)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hsi.ambiguity import optics_signal, pair_distance
from hsi.camera import load_srf
from hsi.imaging import ImagingSystem
from hsi.io import read_mat_cube
from hsi.metamer import METAMER_MODES, make_metamer
from hsi.optics import load_psf
from hsi.render import RenderConfig
from hsi.synthetic import SynthConfig, build_synth_dataset

PSF_NAME = "double_gauss_50mm_F1.8"
PSF_DIR = Path(__file__).resolve().parents[1] / "PSFs"
SMALL_PSF = "small_gauss"                     # a 7 x 8 stand-in for the generation tests (fast)


def _rel_residual(x, s, srf, psf, boundary) -> torch.Tensor:
    sig0 = optics_signal(s, srf, psf, boundary)
    sig1 = optics_signal(x, srf, psf, boundary)
    return (sig1 - sig0).abs().amax(dim=(1, 2, 3)) / sig0.abs().amax(dim=(1, 2, 3))


@pytest.fixture(scope="module")
def double_gauss():
    return torch.from_numpy(load_psf(PSF_NAME, PSF_DIR).kernel)


# ----------------------------------------------------------------------------- the metamer mode
def test_exact_optics_is_a_metamer_mode():
    assert "exact_optics" in METAMER_MODES and METAMER_MODES[:2] == ("clip", "exact")


@pytest.mark.parametrize("boundary", ["circular", "periodic"])
def test_system_exact_optics_residual_and_bounds(smooth_cube, basler_srf, double_gauss, boundary):
    system = ImagingSystem.from_arrays(basler_srf, double_gauss, RenderConfig(psf_boundary=boundary))
    alpha = torch.tensor([0.0, 1.8])
    res = system.metamer(smooth_cube, alpha, mode="exact_optics")
    assert res.cube.shape == smooth_cube.shape and res.cube.dtype == smooth_cube.dtype
    rel = _rel_residual(res.cube, smooth_cube, basler_srf, double_gauss, boundary)
    assert (rel <= 1e-6).all() and (res.rgb_rel_dev <= 1e-6).all()
    up = smooth_cube.amax(dim=(1, 2, 3)).view(-1, 1, 1, 1)
    assert (res.cube >= 0).all() and (res.cube <= up).all()                       # exact bounds
    # through the system's camera signal (hsi.render.camera_signal) too
    s0, s1 = system.camera_signal(smooth_cube.double()), system.camera_signal(res.cube.double())
    assert float((s1 - s0).abs().amax() / s0.abs().amax()) <= 1e-6
    # the same as the library call with the system's PSF and boundary
    direct = make_metamer(smooth_cube, basler_srf, alpha, mode="exact_optics", psf=double_gauss, boundary=boundary)
    torch.testing.assert_close(direct.cube, res.cube, rtol=0, atol=0)
    # not the pixel-wise exact metamer (which is not invisible through the PSF)
    pixelwise = system.metamer(smooth_cube, alpha, mode="exact").cube
    assert (_rel_residual(pixelwise, smooth_cube, basler_srf, double_gauss, boundary) > 1e-3).all()


@pytest.mark.parametrize("boundary", ["circular", "periodic"])
def test_delta_psf_and_no_psf_equal_exact(basler_srf, boundary):
    cube = torch.rand(2, 31, 18, 15, generator=torch.Generator().manual_seed(3)) ** 2
    alpha = torch.tensor([0.0, -0.7])
    ref = make_metamer(cube, basler_srf, alpha, mode="exact", tol=1e-12, max_iter=200).cube
    delta = torch.zeros(31, 5, 5)
    delta[:, 2, 2] = 1.0
    system = ImagingSystem.from_arrays(basler_srf, delta, RenderConfig(psf_boundary=boundary))
    res = system.metamer(cube, alpha, mode="exact_optics", tol=1e-11)
    torch.testing.assert_close(res.cube, ref, rtol=0, atol=1e-6)
    no_psf = ImagingSystem.from_arrays(basler_srf, None).metamer(cube, alpha, mode="exact_optics", tol=1e-12,
                                                                max_iter=200, check_every=3)
    torch.testing.assert_close(no_psf.cube, ref, rtol=0, atol=0)


def test_exact_optics_linear_boundary_is_refused(smooth_cube, basler_srf, double_gauss):
    system = ImagingSystem.from_arrays(basler_srf, double_gauss, RenderConfig(psf_boundary="linear"))
    with pytest.raises(ValueError, match="periodic boundary"):
        system.metamer(smooth_cube, 0.0, mode="exact_optics")
    with pytest.raises(ValueError, match="metamer mode must be one of"):
        make_metamer(smooth_cube, basler_srf, 0.0, mode="optics")


# ------------------------------------------------------------------------------- on-the-fly
def test_onthefly_exact_optics_patches_render_like_the_original(basler_srf):
    from hsi.render import convolve_psf
    from hsi.train.onthefly import OnTheFlyRenderer, psf_margin
    yy, xx = np.mgrid[0:7, 0:7]
    sig = np.linspace(0.7, 1.6, 31)[:, None, None]
    psf = torch.from_numpy(np.exp(-((yy - 3) ** 2 + (xx - 3) ** 2)[None] / (2 * sig ** 2))).float()
    margin = psf_margin(psf)
    gen = torch.Generator().manual_seed(2)
    cube = (0.05 + torch.rand(3, 31, 16 + 2 * margin, 14 + 2 * margin, generator=gen) ** 2).float()
    system = ImagingSystem.from_arrays(basler_srf, psf, RenderConfig(psf_boundary="linear", npe=0))
    renderer = OnTheFlyRenderer(system, metamer_mode="exact_optics", margin=margin, alpha_range=(-1.0, 2.0))
    assert renderer.config.psf_boundary == "periodic"
    met = renderer.metamer(cube, torch.tensor([0.0, 1.5, -0.8]))
    s0 = renderer.system.camera_signal(cube.double())
    s1 = renderer.system.camera_signal(met.double())
    assert float((s1 - s0).abs().amax() / s0.abs().amax()) <= 1e-6                # whole padded patch
    # on the cropped patch this is the original's true (zero-padded, i.e. whole-image) signal
    srf64 = basler_srf.double()
    linear = torch.einsum("nbhw,bk->nkhw", convolve_psf(cube.double(), psf.double(), "linear"), srf64)
    m = margin
    crop = (slice(None), slice(None), slice(m, -m), slice(m, -m))
    assert float((s1[crop] - linear[crop]).abs().amax() / linear[crop].abs().amax()) <= 1e-6
    up = cube.amax(dim=(1, 2, 3)).view(-1, 1, 1, 1)
    assert (met >= 0).all() and (met <= up).all() and float((met - cube).abs().amax()) > 1e-2
    # the training step: normalised RGB and the cropped metamer target
    n = cube.shape[0]
    batch = {"cube": cube, "gain": torch.ones(n), "dn_min": torch.zeros(n), "dn_max": torch.full((n,), 255.0)}
    rgb, target = renderer(batch)
    assert rgb.shape == (n, 3, 16, 14) and target.shape == (n, 31, 16, 14)


# ------------------------------------------------------------------------------- generation
def _main(argv):
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "metamer" / "generate_metamers.py"
    spec = importlib.util.spec_from_file_location("generate_metamers_amb", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A tiny SYNTH dataset (2 train + 1 valid scenes of 24 x 28) and a folder with a small PSF."""
    root = tmp_path_factory.mktemp("amb_gen")
    build_synth_dataset(root / "SYNTH", SynthConfig(num_scenes=3, size=(24, 28), seed=2, valid_fraction=0.34),
                        progress=False)
    psf_dir = root / "psfs"
    psf_dir.mkdir()
    yy, xx = np.mgrid[0:7, 0:8]
    sig = np.linspace(0.6, 2.0, 31)
    k = np.exp(-((yy - 3) ** 2 + (xx - 4) ** 2)[..., None] / (2 * sig ** 2))
    np.savez(psf_dir / f"{SMALL_PSF}.npz", PSFs=k.astype(np.float32))
    return root, psf_dir


def _generate(data, out_name, *extra) -> tuple[dict, Path]:
    root, psf_dir = data
    argv = ["--dataset_path", str(root), "--dataset_name", "SYNTH", "--psf_path", str(psf_dir), "--device", "cpu",
            "--no_progress", "--out_name", out_name, *extra]
    assert _main(argv) == 0
    out = root / "SYNTH" / out_name
    return json.loads((out / "manifest.json").read_text()), out


def _cubes(data, out, scene):
    root, _ = data
    s = torch.from_numpy(read_mat_cube(root / "SYNTH" / "Train_Spec" / f"{scene}.mat").cube)[None]
    m = torch.from_numpy(read_mat_cube(out / "Train_Metamer_Spec" / f"{scene}_metamer.mat").cube)[None]
    return s, m


def _check_pair_fields(data, man, out):
    for scene, entry in man["scenes"].items():
        s, m = _cubes(data, out, scene)
        expected = pair_distance(s, m).as_dict(0)
        assert entry["pair_distance"] == pytest.approx(expected, rel=1e-9, abs=1e-12)
        assert entry["pair_distance"]["RMSE"] > 0
    pb = man["pair_bound"]
    per = list(man["scenes"].values())
    valid = [e for e in per if e["split"] == "valid"]
    assert pb["scenes"] == len(per) == 3 and pb["valid_scenes"] == len(valid) == 1
    for k in ("RMSE", "SAM", "MRAE"):
        assert pb["all"][k] == pytest.approx(np.mean([e["pair_distance"][k] for e in per]))
        assert pb["valid"][k] == pytest.approx(valid[0]["pair_distance"][k])
    assert pb["rgb_identical_scenes"] == sum(all(e["rgb_identical"].values()) for e in per)
    assert pb["strict"] == (pb["rgb_identical_scenes"] == 3)


def test_generate_exact_optics_with_psf(data):
    man, out = _generate(data, "optics", "--metamer_mode", "exact_optics", "--psf_name", SMALL_PSF)
    _, psf_dir = data
    psf = torch.from_numpy(load_psf(SMALL_PSF, psf_dir).kernel)
    srf = torch.from_numpy(load_srf())
    assert man["settings"]["metamer_mode"] == "exact_optics" and "paired_noise" not in man["settings"]
    for scene, entry in man["scenes"].items():
        s, m = _cubes(data, out, scene)
        assert float(_rel_residual(m, s, srf, psf, "circular")[0]) <= 1e-6
        assert entry["rgb_rel_dev"] <= 1e-6 and entry["metamer_mode"] == "exact_optics"
        assert float(m.min()) >= 0 and float(m.max()) <= float(s.max())
    _check_pair_fields(data, man, out)


def test_generate_records_the_bound_exact_vs_clip(data):
    man, out = _generate(data, "exact0", "--metamer_mode", "exact", "--rgb_format", "all")
    assert all(e["rgb_identical"] == {"png": True, "jpg": True} for e in man["scenes"].values())
    assert man["pair_bound"]["strict"] is True
    for scene in man["scenes"]:
        for ext in ("png", "jpg"):
            a, b = (out / "Train_Metamer_RGB" / f"{scene}_{v}.{ext}" for v in ("original", "metamer"))
            assert a.read_bytes() == b.read_bytes()
    _check_pair_fields(data, man, out)
    man, out = _generate(data, "clip0", "--metamer_mode", "clip")
    clipped = [e for e in man["scenes"].values() if e["clipped_fraction"] > 0]
    assert clipped and all(e["rgb_identical"] == {"png": False} for e in clipped)
    assert man["pair_bound"]["strict"] is False
    _check_pair_fields(data, man, out)


@pytest.mark.parametrize("paired", [True, False])
def test_paired_noise_keeps_exact_metamers_identical(data, paired):
    man, out = _generate(data, f"noise_{paired}", "--metamer_mode", "exact", "--npe", "1000",
                         "--paired_noise", str(paired))
    same = []
    for scene in man["scenes"]:
        a, b = (out / "Train_Metamer_RGB" / f"{scene}_{v}.png" for v in ("original", "metamer"))
        same.append(a.read_bytes() == b.read_bytes())
        assert man["scenes"][scene]["rgb_identical"] == {"png": same[-1]}
    assert all(same) if paired else not any(same)
    assert man["pair_bound"]["strict"] is paired
    assert man["settings"].get("paired_noise", False) is paired


def test_generate_reuses_an_exact_optics_cube_and_refuses_linear(data, capsys):
    man, out = _generate(data, "optics_reuse", "--metamer_mode", "exact_optics", "--psf_name", SMALL_PSF)
    scene = next(iter(man["scenes"]))
    (out / "Train_Metamer_RGB" / f"{scene}_metamer.png").unlink()          # only an RGB file is missing
    again, _ = _generate(data, "optics_reuse", "--metamer_mode", "exact_optics", "--psf_name", SMALL_PSF)
    entry = again["scenes"][scene]
    assert entry["metamer_from_disk"] is True and entry["rgb_rel_dev"] <= 1e-6      # measured through the PSF
    assert entry["pair_distance"] == pytest.approx(man["scenes"][scene]["pair_distance"])
    root, psf_dir = data
    argv = ["--dataset_path", str(root), "--dataset_name", "SYNTH", "--psf_path", str(psf_dir), "--device", "cpu",
            "--no_progress", "--out_name", "optics_linear", "--metamer_mode", "exact_optics",
            "--psf_name", SMALL_PSF, "--psf_boundary", "linear"]
    assert _main(argv) == 2
    assert "periodic boundary" in capsys.readouterr().err


def test_render_pair_paired_noise_is_one_realisation(smooth_cube, basler_srf):
    from hsi.metamer_data import render_pair
    system = ImagingSystem.from_arrays(basler_srf, None, RenderConfig(npe=1000))
    exact = make_metamer(smooth_cube, basler_srf, 0.0, mode="exact").cube
    clip = make_metamer(smooth_cube, basler_srf, 0.0, mode="clip").cube
    base_s, base_m = render_pair(smooth_cube, exact, system, noise_seed=4)
    for met in (exact, clip):
        s, m = render_pair(smooth_cube, met, system, noise_seed=4, paired_noise=True)
        torch.testing.assert_close(s.dn, base_s.dn, rtol=0, atol=0)          # the original as before
        clean_s = system.camera_signal(smooth_cube, clip=True)
        clean_m = system.camera_signal(met, clip=True)
        from hsi.metamer_data import PAIRED_SIGNAL_RTOL       # differences below it are float rounding: zeroed
        tol = PAIRED_SIGNAL_RTOL * float(clean_s.amax()) + 1e-6
        torch.testing.assert_close(m.signal - s.signal, (clean_m - clean_s), rtol=0, atol=tol)
    assert float((base_m.signal - base_s.signal).abs().amax()) > 1e-3      # independent streams differ
    s, m = render_pair(smooth_cube, exact, system, noise_seed=4, paired_noise=True)
    assert float((m.dn - s.dn).abs().amax()) <= 1 and float((m.dn != s.dn).double().mean()) < 1e-3


@pytest.mark.parametrize("npe", [0, 1000])
def test_paired_rendering_of_exact_metamers_is_byte_identical(npe, basler_srf):
    """Float rounding (1e-7 of the signal) never flips a DN: exact metamers render byte-identical."""
    from hsi.metamer_data import render_pair
    g = torch.Generator().manual_seed(3)
    wl = torch.linspace(0, 1, 31).view(1, 31, 1, 1)
    cube = (0.2 + 0.7 * torch.rand(2, 1, 64, 64, generator=g)) * torch.exp(
        -((wl - torch.rand(2, 1, 64, 64, generator=g)) / 0.3) ** 2) + 0.01
    system = ImagingSystem.from_arrays(basler_srf, None, RenderConfig(npe=npe))
    exact = make_metamer(cube, basler_srf, 0.0, mode="exact").cube
    s, m = render_pair(cube, exact, system, noise_seed=1, paired_noise=True)
    assert torch.equal(s.dn, m.dn)
    clip = make_metamer(cube, basler_srf, 0.0, mode="clip")
    s, m = render_pair(cube, clip.cube, system, noise_seed=1, paired_noise=True)
    if float(clip.clipped_fraction.max()) > 0:          # clipped values change the signal: not hidden
        assert not torch.equal(s.dn, m.dn)
