"""hsi.io: .mat cubes (v7.3 and v5), RGB files, atomic writes, clear errors on bad input."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io

from hsi.io import (DEFAULT_WAVELENGTHS_NM, RGBFileError, SpectralFileError, atomic_path, read_mat_cube,
                    read_rgb, read_rgb_raw, write_mat_cube, write_rgb)


@pytest.fixture
def cube(rng):
    return rng.random((31, 12, 9), dtype=np.float32)


@pytest.mark.parametrize("version", ["7.3", "5"])
def test_round_trip(tmp_path, cube, version):
    path = write_mat_cube(tmp_path / "a.mat", cube, version=version)
    out = read_mat_cube(path)
    assert out.cube.dtype == np.float32 and out.cube.shape == (31, 12, 9)
    np.testing.assert_array_equal(out.cube, cube)
    np.testing.assert_allclose(out.wavelengths_nm, DEFAULT_WAVELENGTHS_NM)


def test_v73_file_is_in_the_paper_convention(tmp_path, cube):
    path = write_mat_cube(tmp_path / "a.mat", cube)
    raw = path.read_bytes()
    assert raw.startswith(b"MATLAB 7.3 MAT-file")
    assert raw[512:520] == b"\x89HDF\r\n\x1a\n"
    with h5py.File(path, "r") as f:
        assert f["cube"].shape == (31, 9, 12)                       # h5py sees (bands, W, H)
        assert f["cube"].attrs["MATLAB_class"] == b"single"
        np.testing.assert_allclose(f["bands"][()].ravel(), np.arange(0.4, 0.701, 0.01), atol=1e-12)  # um
        # the paper's loaders: h5py, float32, permute [0, 2, 1] -> (31, H, W)
        np.testing.assert_array_equal(np.transpose(np.float32(f["cube"][()]), (0, 2, 1)), cube)


def test_reads_a_file_written_like_the_paper(tmp_path, cube):
    """A v7.3 file as the paper's save_hsi_mat/hdf5storage writes it: gzip-compressed, chunked,
    bands as a (31, 1) double column in um with the float rounding of np.arange."""
    path = tmp_path / "paper.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("cube", data=cube.transpose(0, 2, 1), compression="gzip", compression_opts=7,
                         shuffle=True, fletcher32=True, chunks=(4, 3, 4))
        f.create_dataset("bands", data=np.arange(0.4, 0.7 + 0.01, 0.01).reshape(31, 1))
    out = read_mat_cube(path)
    np.testing.assert_array_equal(out.cube, cube)
    np.testing.assert_allclose(out.wavelengths_nm, DEFAULT_WAVELENGTHS_NM)


def test_reads_bands_in_nm_and_v5_in_matlab_order(tmp_path, cube):
    path = tmp_path / "v5.mat"
    scipy.io.savemat(path, {"cube": cube.transpose(1, 2, 0), "bands": np.arange(400, 701, 10.0)})
    out = read_mat_cube(path)
    np.testing.assert_array_equal(out.cube, cube)
    np.testing.assert_allclose(out.wavelengths_nm, DEFAULT_WAVELENGTHS_NM)


def test_format_detected_by_signature_not_name(tmp_path, cube):
    path = write_mat_cube(tmp_path / "a.h5", cube)
    assert read_mat_cube(path).cube.shape == (31, 12, 9)


@pytest.mark.parametrize("case, match", [
    ("missing", "file not found"),
    ("not_mat", "not a MATLAB .mat file"),
    ("empty_file", "empty file"),
    ("no_cube", "no variable 'cube'"),
    ("bands_30", "30 bands, expected 31"),
    ("wrong_wavelengths", "do not match"),
    ("nan", "NaN/Inf"),
    ("empty_array", "is empty"),
    ("truncated_hdf5", "unreadable HDF5"),
])
def test_bad_input_raises_a_named_error(tmp_path, cube, case, match):
    path = tmp_path / f"{case}.mat"
    if case == "not_mat":
        path.write_text("hello, I am not a mat file\n" * 10)
    elif case == "empty_file":
        path.write_bytes(b"")
    elif case == "no_cube":
        scipy.io.savemat(path, {"rad": cube.transpose(1, 2, 0)})
    elif case == "bands_30":
        write_mat_cube(path, cube[:30], wavelengths_nm=np.arange(400, 700, 10.0))
    elif case == "wrong_wavelengths":
        write_mat_cube(path, cube, wavelengths_nm=np.arange(410, 711, 10.0))
    elif case == "nan":
        bad = cube.copy()
        bad[3, 2, 1] = np.nan
        write_mat_cube(path, bad)
    elif case == "empty_array":
        with h5py.File(path, "w") as f:
            f.create_dataset("cube", data=np.zeros((31, 0, 4), np.float32))
    elif case == "truncated_hdf5":
        good = write_mat_cube(tmp_path / "good.mat", cube)
        path.write_bytes(good.read_bytes()[:1500])
    with pytest.raises(SpectralFileError, match=match) as info:
        read_mat_cube(path)
    assert str(path) in str(info.value)


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("crash while writing")
    assert not target.exists()
    assert list((tmp_path / "sub").iterdir()) == []


def test_atomic_write_replaces_existing(tmp_path):
    target = tmp_path / "x.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"


def test_rgb_png_round_trip_is_lossless_and_channel_order_kept(tmp_path, rng):
    rgb = rng.integers(0, 256, (3, 10, 14), dtype=np.uint8)
    rgb[0] = 255
    rgb[2] = 0
    path = write_rgb(tmp_path / "a.png", rgb)
    np.testing.assert_array_equal(read_rgb_raw(path), rgb)
    x = read_rgb(path)                           # paper's per-image min-max normalisation
    assert x.dtype == np.float32 and x.min() == 0 and x.max() == 1
    np.testing.assert_allclose(read_rgb(path, mode="fixed"), rgb / 255.0, atol=1e-7)


def test_rgb_16bit_png(tmp_path, rng):
    rgb = rng.integers(0, 65536, (3, 6, 5), dtype=np.uint16)
    np.testing.assert_array_equal(read_rgb_raw(write_rgb(tmp_path / "a.png", rgb)), rgb)


def test_rgb_jpeg_quality_changes_the_error(tmp_path):
    yy, xx = np.mgrid[0:64, 0:64]
    img = np.stack([xx * 4, yy * 4, (xx + yy) * 2]).astype(np.uint8)
    img[:, 20:40, 20:40] = 255
    errs = [np.abs(read_rgb_raw(write_rgb(tmp_path / f"q{q}.jpg", img, jpeg_quality=q)).astype(int) - img).mean()
            for q in (30, 65, 95)]
    assert errs[0] > errs[1] > errs[2] > 0


def test_rgb_errors_name_the_file(tmp_path):
    with pytest.raises(RGBFileError, match="not a readable image"):
        (tmp_path / "x.png").write_text("nope")
        read_rgb(tmp_path / "x.png")
    with pytest.raises(RGBFileError, match="8-bit"):
        write_rgb(tmp_path / "x.jpg", np.zeros((3, 4, 4), np.uint16))


def test_hdf5storage_reads_our_files_like_the_papers(tmp_path, cube):
    """hdf5storage.loadmat (the paper's reader/writer) sees the same keys, shapes and dtypes in our file
    as in one written by the paper's save_hsi_mat (hdf5storage.savemat with Python metadata)."""
    hdf5storage = pytest.importorskip("hdf5storage")
    paper, ours = tmp_path / "paper.mat", tmp_path / "ours.mat"
    hdf5storage.savemat(str(paper), {"cube": cube.transpose(1, 2, 0), "bands": np.arange(0.4, 0.7 + 0.01, 0.01)},
                        format="7.3", store_python_metadata=True, matlab_compatible=True)
    write_mat_cube(ours, cube)
    ref, got = hdf5storage.loadmat(str(paper)), hdf5storage.loadmat(str(ours))
    assert set(got) == set(ref) == {"cube", "bands"}
    for key in ref:
        assert (got[key].shape, got[key].dtype) == (ref[key].shape, ref[key].dtype), key
    np.testing.assert_array_equal(got["cube"], ref["cube"])
    np.testing.assert_allclose(got["bands"], ref["bands"], atol=1e-12)
    np.testing.assert_array_equal(read_mat_cube(ours).cube, cube)      # h5py readers see no change
