"""PSFs: the shipped files, their optics, regeneration, and the hsi.optics loading API."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hsi.optics import (PSF, PSFError, PSFNotFoundError, WAVELENGTHS_NM, list_psfs, load_psf,
                        pad_or_crop_centered, psf_center_px, save_psf)
from hsi.optics.designs import DESIGNS, design_available, make_psf
from hsi.optics.diffraction import (airy_field, na_from_f_number, oversampling, psf_from_fields, psf_from_pupil,
                                    psf_from_radial_pupil, pupil_coordinates)
from hsi.optics.measure import (centroid_px, first_order_offset_px, principal_axis_angle_deg, rms_radius_px,
                                unwrap_axis_angles_deg)

PSF_DIR = Path(__file__).resolve().parents[1] / "PSFs"
SHIPPED = list(DESIGNS)
REQUIRED_META = ("design", "focal_length_mm", "f_number", "focus_wavelength_nm", "pixel_pitch_um",
                 "wavelengths_nm", "library", "kernel_shape_px", "energy_fraction_in_kernel")


@pytest.fixture(scope="module")
def shipped():
    return {name: load_psf(name, PSF_DIR) for name in SHIPPED}


# ------------------------------------------------------------------------------------------ shipped files
def test_every_design_is_shipped_with_json_and_figure():
    assert set(SHIPPED) <= set(list_psfs(PSF_DIR))
    for name in SHIPPED:
        assert (PSF_DIR / f"{name}.json").is_file()
        assert (PSF_DIR / "figures" / f"{name}_montage.png").is_file()
    assert (PSF_DIR / "figures" / "psf_size_vs_wavelength.png").is_file()


def test_shipped_total_size_at_most_20_mb():
    total = sum(p.stat().st_size for p in PSF_DIR.rglob("*") if p.is_file() and p.suffix in (".npz", ".json", ".png"))
    assert total <= 20e6, f"{total / 1e6:.1f} MB"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_file_format(name):
    """Raw file: key PSFs, (h, w, 31) float32, odd sizes, non-negative, every band sums to 1, as declared."""
    meta = json.loads((PSF_DIR / f"{name}.json").read_text())
    for key in REQUIRED_META:
        assert key in meta, key
    with np.load(PSF_DIR / f"{name}.npz", allow_pickle=False) as data:
        assert data.files == ["PSFs"]
        arr = data["PSFs"]
    h, w = meta["kernel_shape_px"]
    assert arr.shape == (h, w, 31) and arr.dtype == np.float32
    assert h % 2 == 1 and w % 2 == 1
    assert arr.min() >= 0.0
    np.testing.assert_allclose(arr.sum(axis=(0, 1)), 1.0, atol=1e-5)
    assert meta["pixel_pitch_um"] == 2.74
    np.testing.assert_array_equal(meta["wavelengths_nm"], WAVELENGTHS_NM)
    assert meta["center_px"] == [h // 2, w // 2]
    assert min(meta["energy_fraction_in_kernel"]) >= 0.99
    assert meta["library"]["name"] and meta["library"]["version"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_psf_is_centred(name, shipped):
    """All four designs are point-symmetric about the axis: the centroid is the centre pixel."""
    for band in shipped[name].kernel:
        dy, dx = centroid_px(band)
        assert abs(dy) < 0.02 and abs(dx) < 0.02


def test_double_gauss_smallest_near_focus_and_grows_to_both_ends(shipped):
    psf = shipped["double_gauss_50mm_F1.8"]
    focus = psf.meta["focus_wavelength_nm"]
    assert 500 <= focus <= 600
    r = np.array([rms_radius_px(b) for b in psf.kernel])
    k = int(np.argmin(r))
    assert abs(psf.wavelengths_nm[k] - focus) <= 20
    assert np.all(np.diff(r[:k + 1]) < 0), "RMS radius must shrink from 400 nm to the focus"
    assert np.all(np.diff(r[k:]) > 0), "RMS radius must grow from the focus to 700 nm"
    assert r[0] > 2.0 * r[k] and r[-1] > 1.4 * r[k]


def test_grating_first_order_offset_is_linear_in_wavelength(shipped):
    psf = shipped["grating"]
    wl = psf.wavelengths_nm
    off = np.array([first_order_offset_px(b) for b in psf.kernel])
    slope, intercept = np.polyfit(wl, off, 1)
    r2 = 1.0 - np.sum((off - (slope * wl + intercept)) ** 2) / np.sum((off - off.mean()) ** 2)
    assert r2 > 0.999
    assert abs(intercept) < 0.5                    # proportional to the wavelength: a line through 0
    assert off.max() - off.min() > 8               # and it moves by several pixels
    np.testing.assert_allclose(off, psf.meta["parameters"]["first_order_offset_px"], atol=0.2)


def test_rotation_encoder_principal_axis_turns_monotonically_by_90_degrees(shipped):
    psf = shipped["diffraction_rotation"]
    for power, min_span in ((1, 90.0), (2, 150.0)):
        ang = unwrap_axis_angles_deg([principal_axis_angle_deg(b, power) for b in psf.kernel])
        d = np.diff(ang)
        assert np.all(d > 0) or np.all(d < 0), f"power {power}: not monotonic"
        assert abs(ang[-1] - ang[0]) >= min_span, f"power {power}: span {abs(ang[-1] - ang[0]):.1f}"


def test_singlet_axial_colour(shipped):
    psf = shipped["singlet_bk7_50mm_F5.6"]
    r = np.array([rms_radius_px(b) for b in psf.kernel])
    assert abs(psf.wavelengths_nm[int(np.argmin(r))] - psf.meta["focus_wavelength_nm"]) <= 20
    assert r[0] > 4 * r.min() and r[-1] > 2 * r.min()


# ------------------------------------------------------------------------------------------ regeneration
@pytest.mark.parametrize("name", SHIPPED)
def test_regenerating_reproduces_the_shipped_file(name, shipped):
    if not design_available(name):
        pytest.skip(f"{name} needs {DESIGNS[name].requires}, not installed")
    kernel, meta = make_psf(name)
    ref = shipped[name]
    assert kernel.shape == ref.kernel.shape
    peak = ref.kernel.max(axis=(1, 2), keepdims=True)
    assert np.max(np.abs(kernel - ref.kernel) / peak) < 1e-4
    assert meta["kernel_shape_px"] == ref.meta["kernel_shape_px"]


# ------------------------------------------------------------------------------------------ wave optics
def test_matrix_dft_of_open_pupil_is_the_airy_pattern():
    na, lam, pitch = na_from_f_number(4.0), 550.0, 2.74
    s = oversampling(pitch, 4.0, 400.0)
    rho = pupil_coordinates(512)
    r2 = rho[None, :] ** 2 + rho[:, None] ** 2
    pupil = (r2 <= 1.0).astype(complex)
    e, total = psf_from_pupil(pupil, na, lam, (31, 31), pitch, s)
    airy = psf_from_fields(lambda y, x: airy_field(np.hypot(y, x), na, lam), (31, 31), pitch, s)
    assert np.max(np.abs(e / total - airy / (np.pi * (na / 0.55) ** 2))) < 2e-3 * airy.max() / (np.pi * (na / 0.55) ** 2)
    assert 0.98 < e.sum() / total < 1.0


def test_hankel_matches_matrix_dft_for_an_aberrated_pupil():
    na, lam, pitch, s = na_from_f_number(4.0), 500.0, 2.74, 5

    def w_waves(r):
        return 2.0 * r ** 2 - 0.8 * r ** 4

    rho = pupil_coordinates(384)
    r = np.hypot(rho[None, :], rho[:, None])
    pupil = np.where(r <= 1.0, np.exp(2j * np.pi * w_waves(r)), 0.0)
    e2, t2 = psf_from_pupil(pupil, na, lam, (41, 41), pitch, s)
    e1, t1 = psf_from_radial_pupil(lambda q: np.exp(2j * np.pi * w_waves(q)), na, lam, (41, 41), pitch, s)
    assert abs(t1 / t2 - 1) < 1e-3
    assert np.max(np.abs(e1 / t1 - e2 / t2)) < 2e-3 * (e1 / t1).max()


def test_oversampling_meets_nyquist():
    for f_number in (1.8, 4.0, 5.6, 11.0):
        s = oversampling(2.74, f_number, 400.0)
        assert s % 2 == 1 and 2.74 / s <= 0.4 * f_number / 2 + 1e-12


# ------------------------------------------------------------------------------------------ loading API
def _write_npz(path, arr, **extra):
    np.savez(path, **{"PSFs": arr}, **extra)
    return path


def test_load_by_name_and_by_path(tmp_path, shipped):
    by_path = load_psf(PSF_DIR / "grating.npz")
    assert isinstance(by_path, PSF) and by_path.name == "grating"
    np.testing.assert_array_equal(by_path.kernel, shipped["grating"].kernel)
    assert by_path.kernel.dtype == np.float32 and by_path.kernel.shape[0] == 31
    assert by_path.meta["name"] == "grating"
    np.testing.assert_array_equal(by_path.wavelengths_nm, WAVELENGTHS_NM)
    assert by_path.hwc().shape == tuple(by_path.shape) + (31,)


@pytest.mark.parametrize("none", [None, "None", "", "none"])
def test_no_psf(none):
    assert load_psf(none, PSF_DIR) is None


def test_unknown_name_lists_available(tmp_path):
    _write_npz(tmp_path / "mine.npz", np.ones((3, 3, 31)))
    with pytest.raises(PSFNotFoundError) as err:
        load_psf("double_gaus", tmp_path)
    assert isinstance(err.value, FileNotFoundError)
    assert "mine" in str(err.value) and "double_gaus" in str(err.value)
    with pytest.raises(PSFNotFoundError):
        load_psf(tmp_path / "nope.npz")


def test_paper_style_file_without_json(tmp_path):
    """A file as the paper's authors ship it: unnormalised (h, w, 31), no JSON side-car."""
    rng = np.random.default_rng(0)
    arr = rng.random((7, 9, 31)) * 5.0
    _write_npz(tmp_path / "theirs.npz", arr)
    psf = load_psf("theirs", tmp_path)
    assert psf.meta == {} and psf.shape == (7, 9) and psf.center_px == (3, 4)
    np.testing.assert_allclose(psf.kernel.sum(axis=(1, 2)), 1.0, atol=1e-6)
    np.testing.assert_allclose(psf.kernel[5], arr[:, :, 5] / arr[:, :, 5].sum(), rtol=1e-6)


@pytest.mark.parametrize("case, match", [
    ("nokey", "no array named 'PSFs'"),
    ("bands", "expected 31"),
    ("chw", "looks like \\(bands, h, w\\)"),
    ("nan", "NaN or Inf"),
    ("negative", "negative"),
    ("zero", "zero sum"),
    ("ndim", "must be \\(h, w, 31\\)"),
])
def test_malformed_files_raise_psferror_naming_the_file(tmp_path, case, match):
    good = np.ones((5, 5, 31))
    path = tmp_path / f"{case}.npz"
    if case == "nokey":
        np.savez(path, psf=good)
    elif case == "bands":
        _write_npz(path, np.ones((5, 5, 30)))
    elif case == "chw":
        _write_npz(path, np.ones((31, 5, 5)))
    elif case == "nan":
        bad = good.copy(); bad[2, 2, 3] = np.nan; _write_npz(path, bad)
    elif case == "negative":
        bad = good.copy(); bad[2, 2, 3] = -0.1; _write_npz(path, bad)
    elif case == "zero":
        bad = good.copy(); bad[:, :, 7] = 0.0; _write_npz(path, bad)
    elif case == "ndim":
        _write_npz(path, np.ones((5, 31)))
    with pytest.raises(PSFError, match=match) as err:
        load_psf(case, tmp_path)
    assert str(path) in str(err.value)


def test_tiny_negative_noise_is_clipped(tmp_path):
    arr = np.ones((5, 5, 31))
    arr[0, 0, :] = -1e-9
    _write_npz(tmp_path / "noisy.npz", arr)
    psf = load_psf("noisy", tmp_path)
    assert psf.kernel.min() == 0.0


def test_band_count_from_json(tmp_path):
    arr = np.ones((3, 3, 4))
    _write_npz(tmp_path / "four.npz", arr)
    (tmp_path / "four.json").write_text(json.dumps({"wavelengths_nm": [450, 500, 550, 600]}))
    psf = load_psf("four", tmp_path)
    assert psf.kernel.shape == (4, 3, 3)
    np.testing.assert_array_equal(psf.wavelengths_nm, [450, 500, 550, 600])


def test_pickled_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "obj.npz", PSFs=np.array([{"a": 1}], dtype=object))
    with pytest.raises(PSFError, match="obj.npz"):
        load_psf("obj", tmp_path)


@pytest.mark.parametrize("layout", ["hwc", "chw"])
def test_save_round_trip(tmp_path, layout):
    rng = np.random.default_rng(1)
    chw = rng.random((31, 5, 7))
    arr = chw if layout == "chw" else np.moveaxis(chw, 0, -1)
    path = save_psf(tmp_path / "rt", arr, {"design": "test"})
    assert path.name == "rt.npz" and (tmp_path / "rt.json").is_file()
    psf = load_psf("rt", tmp_path)
    np.testing.assert_allclose(psf.kernel, chw / chw.sum(axis=(1, 2), keepdims=True), rtol=1e-6)
    assert psf.meta == {"design": "test"}
    with np.load(path) as data:
        assert data["PSFs"].shape == (5, 7, 31) and data["PSFs"].dtype == np.float32
    assert not list(tmp_path.glob(".*tmp*"))                 # atomic write left no temporary file


def test_save_rejects_ambiguous_and_bad_kernels(tmp_path):
    with pytest.raises(PSFError, match="layout"):
        save_psf(tmp_path / "amb", np.ones((31, 4, 31)))
    with pytest.raises(PSFError, match="negative"):
        save_psf(tmp_path / "neg", -np.ones((3, 3, 31)))
    assert not (tmp_path / "neg.npz").exists()


@pytest.mark.parametrize("h, w, H, W", [(5, 5, 9, 9), (5, 5, 8, 8), (4, 6, 9, 7), (9, 9, 3, 3), (8, 8, 5, 4)])
def test_centre_convention_survives_pad_and_crop(h, w, H, W):
    k = np.zeros((2, h, w))
    k[:, h // 2, w // 2] = 1.0
    out = pad_or_crop_centered(k, (H, W))
    assert out.shape == (2, H, W)
    assert psf_center_px(out.shape) == (H // 2, W // 2)
    assert out[0, H // 2, W // 2] == 1.0 and out.sum() == 2.0


def test_stale_json_is_ignored_with_a_warning(tmp_path):
    """A file copied over a toolkit PSF of the same name must not inherit the old description."""
    _write_npz(tmp_path / "lens.npz", np.ones((7, 7, 31)))
    (tmp_path / "lens.json").write_text(json.dumps({"kernel_shape_px": [81, 89], "f_number": 1.8}))
    with pytest.warns(UserWarning, match="stale"):
        psf = load_psf("lens", tmp_path)
    assert psf.meta == {} and psf.shape == (7, 7)
