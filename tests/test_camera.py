"""hsi.camera: shipped Basler SRF, colour-science cameras, resampling, file formats."""
from __future__ import annotations

import numpy as np
import pytest

from hsi.camera import CAMERA_NAMES, CameraError, load_camera, load_srf, normalised_srf_rows
from hsi.io import DEFAULT_WAVELENGTHS_NM


def test_basler_matches_the_papers_numbers():
    srf = load_srf("basler_a2A5320-23ucBAS")
    assert srf.shape == (31, 3) and srf.dtype == np.float32
    np.testing.assert_allclose(srf.sum(0), [8.632, 8.614, 9.268], atol=1e-3)
    assert abs(np.linalg.cond(srf.T.astype(float) @ srf) - 5.10) < 0.01
    assert np.argmax(srf[:, 0]) == 20 and np.argmax(srf[:, 1]) == 12 and np.argmax(srf[:, 2]) == 5  # 600/520/450 nm


@pytest.mark.parametrize("name", CAMERA_NAMES)
def test_every_camera_loads_non_negative(name):
    cam = load_camera(name)
    assert cam.srf.shape == (31, 3) and np.all(cam.srf >= 0) and np.all(cam.srf.sum(0) > 0)


def test_cie_observer_is_y_bar_peaking_near_555():
    cam = load_camera("cie1931_2deg")
    assert 540 <= cam.wavelengths_nm[np.argmax(cam.srf[:, 1])] <= 570


def test_sigma_extrapolation_holds_the_end_value():
    cam = load_camera("sigma_sdmerill")  # measured 400-680 nm
    np.testing.assert_allclose(cam.srf[-1], cam.srf[-3], rtol=1e-6)


def test_resampling_to_another_grid(tmp_path):
    wl5 = np.arange(400, 701, 5.0)
    fine = load_srf("basler_a2A5320-23ucBAS", wl5)
    assert fine.shape == (61, 3)
    np.testing.assert_allclose(fine[::2], load_srf(), atol=1e-6)              # on-grid values kept
    np.testing.assert_allclose(fine[1], (fine[0] + fine[2]) / 2, atol=1e-6)   # linear in between


def test_paper_npz_and_csv_files(tmp_path):
    srf = load_srf()
    npz = tmp_path / "cam.npz"
    np.savez(npz, wavelengths=np.arange(0.4, 0.7 + 0.01, 0.01), R=srf[:, 0], G=srf[:, 1], B=srf[:, 2])
    np.testing.assert_allclose(load_srf(str(npz)), srf, atol=1e-7)
    csv = tmp_path / "cam.csv"
    csv.write_text("wavelength_nm,R,G,B\n" + "".join(f"{w},{r},{g},{b}\n" for w, (r, g, b) in zip(DEFAULT_WAVELENGTHS_NM, srf)))
    np.testing.assert_allclose(load_srf(str(csv)), srf, atol=1e-7)


def test_unknown_camera_lists_names():
    with pytest.raises(CameraError, match="nikon_5100"):
        load_camera("canon_5d")


def test_ssrnet_rows_sum_to_one():
    rows = normalised_srf_rows(load_srf())
    assert rows.shape == (3, 31)
    np.testing.assert_allclose(rows.sum(1), 1, atol=1e-6)
