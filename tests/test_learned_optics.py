"""Learned optics (hsi.optics.learned): the torch pupil -> PSF path against the numpy one, the learnable
DOEs (gradients, bounds, quantisation, symmetry, initialisations) and the export in the shipped format."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from hsi.optics import load_psf
from hsi.optics.diffraction import (airy_field, na_from_f_number, oversampling, psf_from_fields, psf_from_pupil,
                                    pupil_coordinates)
from hsi.optics.grating import DEFAULTS as GRATING, grating_phase_amplitude, grating_psf
from hsi.optics.learned import (DOEOptions, HeightMapDOE, PhaseSamplingError, RadialDOE, dft_matrices, export_psf,
                                load_element, otf_matrices, plot_element, psf_from_pupil_otf, psf_from_pupil_torch,
                                quantise_ste)
from hsi.optics.measure import principal_axis_angle_deg, unwrap_axis_angles_deg
from hsi.optics.rotation import DEFAULTS as ROTATION, rotation_pupil

PSF_DIR = Path(__file__).resolve().parents[1] / "PSFs"
BANDS3 = (400.0, 550.0, 700.0)
#: A small, fast setting (F/8 so that a 15 px window is alias-free on a 48 grid).
SMALL = dict(grid=48, psf_shape=(15, 15), wavelengths_nm=BANDS3, f_number=8.0, oversample=3)


def _numpy_stack(pupils, na, wavelengths, shape, pitch, s):
    out = [psf_from_pupil(p, na, lam, shape, pitch, s) for p, lam in zip(pupils, wavelengths)]
    return np.stack([e for e, _ in out]), np.array([t for _, t in out])


def _torch_stack(pupils, na, wavelengths, shape, pitch, s, dtype, method="direct"):
    build, evaluate = {"direct": (dft_matrices, psf_from_pupil_torch), "otf": (otf_matrices, psf_from_pupil_otf)}[method]
    ops = build(pupils.shape[-1], na, wavelengths, shape, pitch, s, dtype=dtype)
    cdt = torch.complex128 if dtype == torch.float64 else torch.complex64
    e, t = evaluate(torch.from_numpy(pupils).to(cdt), ops)
    return e.double().numpy(), t.double().numpy()


def _rel(a, b):
    """Largest |a - b| over the largest |b|, per band."""
    return (np.abs(a - b).max(axis=(-2, -1)) / np.abs(b).max(axis=(-2, -1)))


def _rotation_pupils(wavelengths):
    kw = {k: ROTATION[k] for k in ("focal_length_mm", "aperture_mm", "n_wings", "lambda_min_nm", "lambda_max_nm",
                                   "material")}
    return np.stack([rotation_pupil(lam, ROTATION["pupil_samples"], **kw)[0] for lam in wavelengths])


def _grating_pupils(wavelengths, n=256):
    rho = pupil_coordinates(n)
    xx, yy = np.meshgrid(rho, rho)
    x_um = xx * GRATING["focal_length_mm"] / GRATING["f_number"] / 2.0 * 1e3
    a = grating_phase_amplitude(wavelengths, GRATING["phase_amplitude_rad"], GRATING["design_wavelength_nm"],
                                GRATING["material"])
    inside = xx ** 2 + yy ** 2 <= 1.0
    return np.stack([np.where(inside, np.exp(1j * ab * np.cos(2 * np.pi * x_um / GRATING["period_um"])), 0)
                     for ab in a])


# ------------------------------------------------------------------------------ torch vs numpy pupil -> PSF
@pytest.mark.parametrize("method", ["direct", "otf"])
def test_torch_matches_numpy_for_the_rotation_pupils(method):
    na = na_from_f_number(ROTATION["focal_length_mm"] / ROTATION["aperture_mm"])
    pupils = _rotation_pupils(BANDS3)
    shape, pitch = (45, 61), 2.74
    s = oversampling(pitch, ROTATION["focal_length_mm"] / ROTATION["aperture_mm"], 400.0)
    en, tn = _numpy_stack(pupils, na, BANDS3, shape, pitch, s)
    e64, t64 = _torch_stack(pupils, na, BANDS3, shape, pitch, s, torch.float64, method)
    assert _rel(e64, en).max() < 1e-6
    np.testing.assert_allclose(t64, tn, rtol=1e-12)
    e32, _ = _torch_stack(pupils, na, BANDS3, shape, pitch, s, torch.float32, method)
    assert _rel(e32, en).max() < 5e-6                      # float32: about 5e-7 of the peak (docs)


@pytest.mark.parametrize("method", ["direct", "otf"])
def test_torch_matches_numpy_for_the_grating_pupils_and_the_shipped_grating(method):
    f_number = GRATING["f_number"]
    na = na_from_f_number(f_number)
    wl = np.array(BANDS3)
    pupils = _grating_pupils(wl)
    shipped_kernel, meta = grating_psf(wl)                 # closed form (Airy sum), cropped to 99 %
    shape, s = shipped_kernel.shape[-2:], meta["parameters"]["oversample"]
    en, _ = _numpy_stack(pupils, na, wl, shape, 2.74, s)
    e64, _ = _torch_stack(pupils, na, wl, shape, 2.74, s, torch.float64, method)
    assert _rel(e64, en).max() < 1e-6
    # the sampled pupil reproduces the design's closed form (pupil-edge sampling error only)
    k = e64 / e64.sum(axis=(1, 2), keepdims=True)
    assert _rel(k, shipped_kernel).max() < 2e-2


def test_torch_path_reproduces_the_shipped_rotation_file():
    na = na_from_f_number(ROTATION["focal_length_mm"] / ROTATION["aperture_mm"])
    shipped = load_psf("diffraction_rotation", PSF_DIR)
    wl = shipped.wavelengths_nm
    e, t = _torch_stack(_rotation_pupils(wl), na, wl, shipped.shape, 2.74, shipped.meta["parameters"]["oversample"],
                        torch.float32)
    assert _rel(e / e.sum(axis=(1, 2), keepdims=True), shipped.kernel).max() < 5e-6
    np.testing.assert_allclose(e.sum(axis=(1, 2)) / t, shipped.meta["energy_fraction_in_kernel"], atol=2e-6)


def test_batched_bands_equal_band_by_band():
    pupils = _rotation_pupils((450.0, 620.0))
    na = na_from_f_number(6.0)
    both, _ = _torch_stack(pupils, na, (450.0, 620.0), (21, 25), 2.74, 3, torch.float64)
    one, _ = _torch_stack(pupils[1:], na, (620.0,), (21, 25), 2.74, 3, torch.float64)
    np.testing.assert_allclose(both[1], one[0], rtol=0, atol=1e-14 * one.max())


# ------------------------------------------------------------------------------ learnable elements
def test_forward_shape_dtype_and_energy_normalisation():
    doe = HeightMapDOE(DOEOptions(**{**SMALL, "wavelengths_nm": tuple(np.arange(400.0, 701.0, 10.0))}), init="random")
    psf = doe()
    assert psf.shape == (31, 15, 15) and psf.dtype == torch.float32 and psf.device == doe.raw.device
    torch.testing.assert_close(psf.sum(dim=(1, 2)), torch.ones(31), rtol=0, atol=1e-5)
    assert float(psf.detach().min()) >= 0.0
    energy, total = doe.energy()
    frac = (energy.sum(dim=(1, 2)) / total).detach()
    assert torch.all(frac > 0.5) and torch.all(frac <= 1.0 + 1e-5)


def test_default_options_are_the_double_gauss_setting():
    o = DOEOptions()
    assert (o.focal_length_mm, o.f_number, o.pitch_um) == (50.0, 1.8, 2.74)
    assert tuple(o.psf_shape) == load_psf("double_gauss_50mm_F1.8", PSF_DIR).kernel.shape[1:]
    assert len(o.wavelengths_nm) == 31 and o.subsamples == oversampling(2.74, 1.8, 400.0)


@pytest.mark.parametrize("parametrisation, method", [("clamp", "direct"), ("sigmoid", "direct"), ("sigmoid", "otf")])
def test_gradient_matches_finite_differences(parametrisation, method):
    doe = HeightMapDOE(DOEOptions(**SMALL, parametrisation=parametrisation, psf_method=method), init="random", seed=3,
                       dtype=torch.float64)
    weights = torch.rand(3, 15, 15, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def loss():
        return (doe() * weights).sum() + (doe()[:, 7, 7] ** 2).sum()

    doe.zero_grad()
    loss().backward()
    grad = doe.raw.grad.clone()
    inside = np.argwhere(doe.aperture.numpy() > 0)
    picks = inside[np.random.default_rng(0).choice(len(inside), 6, replace=False)]
    eps = 1e-6
    for i, j in picks:
        with torch.no_grad():
            doe.raw[i, j] += eps
            up = float(loss())
            doe.raw[i, j] -= 2 * eps
            down = float(loss())
            doe.raw[i, j] += eps
        fd = (up - down) / (2 * eps)
        assert abs(fd - float(grad[i, j])) <= 1e-6 * max(1.0, abs(fd)) + 1e-9
    assert float(grad.abs().max()) > 0


def test_quantisation_levels_bounds_and_straight_through_gradient():
    levels = 4
    doe = HeightMapDOE(DOEOptions(**SMALL, levels=levels, max_height_um=1.2), init="random", seed=5)
    with torch.no_grad():
        doe.raw.mul_(40.0)                                 # push far into both saturation regions
    h = doe.height_um().detach().numpy()
    allowed = np.arange(levels) * 1.2 / (levels - 1)
    assert np.all(np.min(np.abs(h[..., None] - allowed), axis=-1) < 1e-6)
    assert h.min() >= 0.0 and h.max() <= 1.2 + 1e-6
    assert len(np.unique(np.round(h, 6))) == levels
    doe.zero_grad()
    doe()[:, 7, 7].sum().backward()
    assert float(doe.raw.grad.abs().max()) > 0             # gradient flows through the rounding
    x = torch.linspace(-0.5, 1.7, 23, requires_grad=True)
    quantise_ste(x, 1.2, levels).sum().backward()
    torch.testing.assert_close(x.grad, torch.ones(23))


def test_clamp_parametrisation_respects_the_height_range():
    doe = HeightMapDOE(DOEOptions(**SMALL, parametrisation="clamp", max_height_um=1.0), init="flat")
    with torch.no_grad():
        doe.raw.copy_(torch.linspace(-3, 3, 48 * 48).view(48, 48))
    h = doe.height_um().detach()
    assert float(h.min()) == 0.0 and float(h.max()) == 1.0


@pytest.mark.parametrize("method", ["direct", "otf"])
def test_flat_init_is_the_ideal_lens_airy_psf(method):
    o = DOEOptions(grid=352, psf_shape=(21, 21), wavelengths_nm=BANDS3, psf_method=method)   # 50 mm F/1.8, 2.74 um
    doe = HeightMapDOE(o, init="flat", dtype=torch.float64)
    psf = doe().detach().numpy()
    # exactly the flat circular pupil of the numpy path
    rho = pupil_coordinates(o.grid)
    xx, yy = np.meshgrid(rho, rho)
    flat = (xx ** 2 + yy ** 2 <= 1.0).astype(complex)
    en, _ = _numpy_stack([flat] * 3, o.na, BANDS3, o.psf_shape, o.pitch_um, o.subsamples)
    assert _rel(psf, en / en.sum(axis=(1, 2), keepdims=True)).max() < 1e-6
    # and the analytic Airy pattern up to the sampling of the pupil's edge
    for b, lam in enumerate(BANDS3):
        airy = psf_from_fields(lambda y, x, lam=lam: airy_field(np.hypot(y, x), o.na, lam), o.psf_shape, o.pitch_um,
                               o.subsamples)
        assert _rel(psf[b], airy / airy.sum()) < 2e-4        # 4e-5 measured at grid 352


@pytest.mark.parametrize("method", ["direct", "otf"])
def test_per_band_oversample_matches_numpy_band_by_band(method):
    o = DOEOptions(psf_shape=(21, 23), wavelengths_nm=(700.0, 400.0, 550.0), per_band_oversample=True,
                   psf_method=method)
    assert o.band_subsamples == (5, 9, 7)
    doe = HeightMapDOE(o, init="random", seed=6, dtype=torch.float64)
    energy, total = doe.energy()
    pupil = doe.pupil().detach().numpy()
    for b, lam in enumerate(o.wavelengths_nm):
        en, tn = psf_from_pupil(pupil[b], o.na, lam, o.psf_shape, o.pitch_um, o.band_subsamples[b])
        assert _rel(energy[b].detach().numpy(), en) < 1e-6
        assert abs(float(total[b].detach()) / tn - 1) < 1e-12
    with pytest.raises(ValueError, match="per_band_oversample"):
        DOEOptions(per_band_oversample=True, oversample=3)


def test_radial_doe_is_rotationally_symmetric():
    doe = RadialDOE(DOEOptions(**SMALL, radial_samples=32), init="random", seed=2, dtype=torch.float64)
    psf = doe().detach().numpy()
    np.testing.assert_allclose(psf, np.swapaxes(psf, 1, 2), rtol=0, atol=1e-12)
    np.testing.assert_allclose(psf, np.rot90(psf, 1, axes=(1, 2)), rtol=0, atol=1e-12)
    h = doe.height_um().detach().numpy()
    np.testing.assert_allclose(h, h.T, atol=1e-15)
    assert np.ptp(doe.profile_um().detach().numpy()) > 0.1    # a non-trivial profile
    doe.zero_grad()
    doe()[:, 7, 7].sum().backward()
    assert float(doe.raw.grad.abs().max()) > 0


def test_smoothness_penalty():
    flat = HeightMapDOE(DOEOptions(**SMALL), init="flat")
    rough = HeightMapDOE(DOEOptions(**SMALL), init="random", seed=1)
    for kind in ("tv", "laplacian"):
        assert float(flat.smoothness_penalty(kind).detach()) < 1e-12
        p = rough.smoothness_penalty(kind)
        assert float(p.detach()) > 0 and p.ndim == 0
    rough.zero_grad()
    rough.smoothness_penalty("tv").backward()
    assert float(rough.raw.grad.abs().max()) > 0


def test_unknown_init_names_the_choices():
    with pytest.raises(ValueError, match="flat, rotation, random"):
        HeightMapDOE(DOEOptions(**SMALL), init="flatt")


def test_random_init_is_seeded():
    a = HeightMapDOE(DOEOptions(**SMALL), init="random", seed=7).height_um()
    b = HeightMapDOE(DOEOptions(**SMALL), init="random", seed=7).height_um()
    c = HeightMapDOE(DOEOptions(**SMALL), init="random", seed=8).height_um()
    torch.testing.assert_close(a, b)
    assert float((a - c).detach().abs().max()) > 1e-3


def test_unresolved_phase_and_aliasing_window_are_reported():
    noise = np.random.default_rng(0).uniform(0.0, 1.5, (48, 48))
    with pytest.warns(UserWarning, match="does not resolve the phase"):
        HeightMapDOE(DOEOptions(**SMALL, max_height_um=1.5), init=noise)
    doe = HeightMapDOE(DOEOptions(**SMALL, max_height_um=1.5), init="flat")
    with torch.no_grad():
        doe.raw.copy_(doe.raw.new_tensor(doe._raw_from_height(noise)))
    with pytest.raises(PhaseSamplingError, match="finer grid"):
        doe.check_phase_sampling(strict=True)
    with pytest.raises(PhaseSamplingError, match="grid >="):
        HeightMapDOE(DOEOptions(**{**SMALL, "psf_shape": (61, 61)}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HeightMapDOE(DOEOptions(**SMALL), init="random")       # smooth random init: resolved, no warning


def test_rotation_init_reproduces_the_shipped_rotation_design():
    with pytest.raises(ValueError, match="ideal_lens=False"):
        HeightMapDOE(DOEOptions(**SMALL), init="rotation")
    doe = HeightMapDOE(DOEOptions.rotation_design(), init="rotation")
    with torch.no_grad():
        psf = doe().numpy()
    shipped = load_psf("diffraction_rotation", PSF_DIR).kernel
    assert psf.shape == shipped.shape
    # all diffraction orders (thin element) vs the shipped first-order model: same pattern, plus haze
    corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(psf, shipped)]
    assert min(corr) > 0.75
    turn = lambda k: np.ptp(unwrap_axis_angles_deg([principal_axis_angle_deg(b, 2) for b in k]))  # noqa: E731
    assert abs(turn(psf) - turn(shipped)) < 30.0 and turn(psf) > 120.0


# ------------------------------------------------------------------------------ export and reload
@pytest.mark.parametrize("cls", [HeightMapDOE, RadialDOE])
def test_export_load_psf_round_trip_and_rebuild(tmp_path, cls):
    opts = DOEOptions(**{**SMALL, "wavelengths_nm": tuple(np.arange(400.0, 701.0, 10.0))}, levels=8)
    doe = cls(opts, init="random", seed=4)
    path = export_psf(doe, tmp_path / "learned_doe", provenance={"run": "test", "step": 12})
    assert path == tmp_path / "learned_doe.npz" and path.with_suffix(".json").is_file()
    psf = load_psf("learned_doe", tmp_path)
    assert psf.kernel.shape == (31, 15, 15) and psf.name == "learned_doe"
    np.testing.assert_allclose(psf.kernel, doe().detach().numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(psf.kernel.sum(axis=(1, 2)), 1.0, atol=1e-5)
    with np.load(path) as z:
        assert z.files == ["PSFs"] and z["PSFs"].shape == (15, 15, 31)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["provenance"] == {"run": "test", "step": 12}
    assert meta["learned_element"]["kind"] == cls.__name__ and meta["f_number"] == 8.0
    rebuilt = load_element(path)
    assert rebuilt.options == opts
    np.testing.assert_allclose(rebuilt().detach().numpy(), psf.kernel, rtol=0, atol=1e-5)
    again = cls(opts, init=path.with_suffix(".json"))         # init from a saved height map
    torch.testing.assert_close(again.height_um(), rebuilt.height_um())


def test_plot_element_writes_a_png(tmp_path):
    out = plot_element(HeightMapDOE(DOEOptions(**SMALL), init="random"), tmp_path / "fig.png")
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_forward_matches_cpu():
    cpu = HeightMapDOE(DOEOptions(**SMALL), init="random", dtype=torch.float64)
    gpu = HeightMapDOE(DOEOptions(**SMALL), init="random", dtype=torch.float64).cuda()
    out = gpu()
    assert out.device.type == "cuda"
    np.testing.assert_allclose(out.detach().cpu().numpy(), cpu().detach().numpy(), rtol=0, atol=1e-12)


def test_timing_entry_point(capsys):
    from hsi.optics.learned.timing import main

    assert main(["--grid", "64", "--psf_shape", "15", "15", "--oversample", "3", "--repeats", "1"]) == 0
    assert "forward+backward median" in capsys.readouterr().out
    assert main(["--grid", "64"]) == 2                       # 81 x 89 px window aliases on a 64 grid
    assert "error: kernel window" in capsys.readouterr().err


def test_state_dict_holds_only_the_parameter_and_round_trips():
    a = HeightMapDOE(DOEOptions(**SMALL, levels=8), init="random", seed=9)
    state = a.state_dict()
    assert list(state) == ["raw"]                          # geometry buffers follow from the options
    b = HeightMapDOE(DOEOptions(**SMALL, levels=8), init="flat")
    b.load_state_dict(state)
    torch.testing.assert_close(b(), a(), rtol=0, atol=0)
    c = b.double()                                         # operators are rebuilt for the new dtype
    out = c()
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.detach().numpy(), a().detach().double().numpy(), rtol=0, atol=1e-5)


def test_generate_metamers_renders_with_an_exported_learned_psf(tmp_path):
    import importlib.util

    from hsi.synthetic import SynthConfig, build_synth_dataset

    build_synth_dataset(tmp_path / "SYNTH", SynthConfig(num_scenes=2, size=(32, 40), seed=1, valid_fraction=0.5),
                        progress=False)
    doe = HeightMapDOE(DOEOptions(**{**SMALL, "wavelengths_nm": tuple(np.arange(400.0, 701.0, 10.0))}),
                       init="random", seed=2)
    export_psf(doe, tmp_path / "psfs" / "learned_doe", provenance={"run": "test"})
    path = Path(__file__).resolve().parents[1] / "metamer" / "generate_metamers.py"
    spec = importlib.util.spec_from_file_location("generate_metamers", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rc = mod.main(["--psf_name", "learned_doe", "--psf_path", str(tmp_path / "psfs"), "--dataset_path", str(tmp_path),
                   "--dataset_name", "SYNTH", "--npe", "0", "--alpha", "0.0", "--rgb_format", "png", "--device", "cpu",
                   "--no_progress", "--limit", "1"])
    assert rc == 0
    out = tmp_path / "SYNTH" / "poisson0_learned_doe" / "Train_Metamer_RGB"
    assert len(list(out.glob("*.png"))) >= 1
