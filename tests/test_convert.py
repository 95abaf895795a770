"""hsi.convert and dataset_tools/prepare_*.py, check_dataset.py on tiny fake raw datasets.

Each raw format is built in a temp folder the way the real releases store it: CAVE as 31 16-bit PNGs per
scene, ICVL as v7.3 .mat (key ``rad``), KAUST as v5 and v7.3 .mat (key ``hsi``, 34 bands), plus corrupt
and unexpected files. Expected outputs are computed with the paper's own array operations.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
import scipy.io

from hsi.convert import RawFileError, check_dataset, convert_dataset, spectral_pca
from hsi.datasets import REPO_DATASETS_DIR, write_split_lists
from hsi.io import read_mat_cube, write_mat_cube

REPO = Path(__file__).resolve().parents[1]


def _small_specs(monkeypatch, h: int, w: int, names=("CAVE", "ICVL", "KAUST")):
    """Shrink the datasets' expected size so the fake scenes can be tiny."""
    import hsi.convert
    from hsi.datasets import DATASETS, DatasetSpec
    patched = {**DATASETS}
    for n in names:
        s = DATASETS[n]
        patched[n] = DatasetSpec(s.name, h, w, s.exposure_target, s.eval_crop)
    monkeypatch.setattr("hsi.datasets.DATASETS", patched)
    return hsi.convert


# ----------------------------------------------------------------------------------- raw builders
def make_cave_scene(root: Path, scene: str, rng, h=12, w=10, nested=True, bands=31) -> np.ndarray:
    folder = root / scene / scene if nested else root / scene
    folder.mkdir(parents=True)
    data = rng.integers(0, 65536, size=(bands, h, w), dtype=np.uint16)
    for b in range(bands):
        assert cv2.imwrite(str(folder / f"{scene}_{b + 1:02d}.png"), data[b])
    (root / scene / f"{scene}_RGB.bmp").write_bytes(b"BM not used")
    return data


def write_icvl(path: Path, x: np.ndarray) -> None:
    """A raw ICVL file: v7.3 (HDF5), h5py sees ``rad`` as ``x (31, X, Y)``, ``bands`` in nm."""
    with h5py.File(path, "w") as f:
        f["rad"] = x
        f["bands"] = np.arange(400.0, 701.0, 10.0).reshape(1, 31)


def write_kaust_v5(path: Path, hsi: np.ndarray) -> None:
    scipy.io.savemat(str(path), {"hsi": hsi})


def write_kaust_v73(path: Path, hsi: np.ndarray) -> None:
    """v7.3 as MATLAB writes it: HDF5, axes reversed (h5py sees ``(34, C, R)``)."""
    with h5py.File(path, "w", userblock_size=512) as f:
        f["hsi"] = np.ascontiguousarray(hsi.transpose(2, 1, 0))
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(128, b" "))


# ------------------------------------------------------------------------------------------- CAVE
def test_cave_conversion_matches_the_paper_and_copies_splits(tmp_path, rng, monkeypatch):
    _small_specs(monkeypatch, 12, 10)
    raw = tmp_path / "raw"
    a = make_cave_scene(raw, "b_scene_ms", rng)
    b = make_cave_scene(raw, "a_scene_ms", rng, nested=False)
    (raw / "watercolors_ms" / "watercolors_ms").mkdir(parents=True)             # skipped like the paper
    cv2.imwrite(str(raw / "watercolors_ms" / "watercolors_ms" / "watercolors_ms_01.png"),
                np.zeros((4, 4, 4), np.uint8))
    dest = tmp_path / "out" / "deep" / "CAVE"                                    # parents are created
    rep = convert_dataset("cave", raw, dest, progress=False)
    assert rep.converted == ["a_scene_ms", "b_scene_ms"]                          # sorted order
    assert rep.skipped_by_rule == ["watercolors_ms"]
    for name, data in (("a_scene_ms", b), ("b_scene_ms", a)):
        out = read_mat_cube(dest / "Train_Spec" / f"{name}.mat")
        np.testing.assert_array_equal(out.cube, data.astype(np.float32) / np.float32(65535))
    # the paper's split lists, verbatim
    for s in ("train", "valid"):
        assert (dest / "split_txt" / f"{s}_list.txt").read_bytes() == \
            (REPO_DATASETS_DIR / "CAVE" / "split_txt" / f"{s}_list.txt").read_bytes()
    assert rep.splits == "copied" and len(rep.missing_from_splits) == 31
    assert (dest / "conversion_manifest.json").is_file()


def test_cave_bad_inputs_stop_or_skip_and_keep_converted(tmp_path, rng, monkeypatch):
    _small_specs(monkeypatch, 12, 10)
    raw = tmp_path / "raw"
    make_cave_scene(raw, "a_ok", rng)
    make_cave_scene(raw, "b_corrupt", rng)
    bad = raw / "b_corrupt" / "b_corrupt" / "b_corrupt_07.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    make_cave_scene(raw, "c_eightbit", rng)
    cv2.imwrite(str(raw / "c_eightbit" / "c_eightbit" / "c_eightbit_03.png"), np.zeros((12, 10), np.uint8))
    make_cave_scene(raw, "d_missing_band", rng, bands=30)
    make_cave_scene(raw, "e_ok", rng)
    dest = tmp_path / "CAVE"
    with pytest.raises(RawFileError, match="b_corrupt_07.png"):
        convert_dataset("CAVE", raw, dest, progress=False)
    done = dest / "Train_Spec" / "a_ok.mat"
    assert done.is_file()                                                         # kept
    mtime = done.stat().st_mtime_ns
    warnings = []
    rep = convert_dataset("CAVE", raw, dest, skip_bad=True, progress=False, warn=warnings.append)
    assert rep.skipped_existing == ["a_ok"] and rep.converted == ["e_ok"]
    assert done.stat().st_mtime_ns == mtime                                       # resumable: not redone
    assert set(rep.bad) == {str(raw / n) for n in ("b_corrupt", "c_eightbit", "d_missing_band")}
    assert any("b_corrupt_07.png" in w for w in warnings)
    assert any("c_eightbit_03.png" in m and "16-bit" in m for m in rep.bad.values())
    assert any("30 band PNGs" in m for m in rep.bad.values())
    assert not (dest / "Train_Spec" / "b_corrupt.mat").exists()
    rep = convert_dataset("CAVE", raw, dest, skip_bad=True, overwrite=True, progress=False, warn=warnings.append)
    assert rep.converted == ["a_ok", "e_ok"]


def test_wrong_scene_size_is_an_unexpected_input(tmp_path, rng):
    raw = tmp_path / "raw"
    make_cave_scene(raw, "small", rng)                  # 12 x 10, CAVE is 512 x 512
    with pytest.raises(RawFileError, match=r"small.*\(31, 12, 10\).*\(31, 512, 512\)"):
        convert_dataset("CAVE", raw, tmp_path / "CAVE", progress=False)


# ------------------------------------------------------------------------------------------- ICVL
def test_icvl_orientation_and_scale_match_the_paper(tmp_path, rng, monkeypatch):
    # h5py array (31, X, Y) -> paper: np.rot90(x.T) -> (X, Y, 31) = (H, W, 31)
    _small_specs(monkeypatch, 14, 9)
    raw = tmp_path / "raw"
    raw.mkdir()
    x = (rng.random((31, 14, 9)) * 4095).astype(np.float64)
    write_icvl(raw / "scene_b.mat", x)
    write_icvl(raw / "scene_a.mat", x[:, ::-1] * 0.5)
    rep = convert_dataset("ICVL", raw, tmp_path / "ICVL", progress=False)
    assert rep.converted == ["scene_a", "scene_b"]
    paper_hwc = np.rot90(np.float32(x / 4095.0).T, k=1)                           # the paper's arithmetic
    out = read_mat_cube(tmp_path / "ICVL" / "Train_Spec" / "scene_b.mat").cube
    assert out.shape == (31, 14, 9)
    np.testing.assert_allclose(out, paper_hwc.transpose(2, 0, 1), rtol=1e-6, atol=1e-7)
    # what the paper's loaders would read back from the paper's file: h5py (31, W, H), permute [0, 2, 1]
    with h5py.File(tmp_path / "ICVL" / "Train_Spec" / "scene_b.mat", "r") as f:
        np.testing.assert_allclose(np.transpose(f["cube"][()], (0, 2, 1)), paper_hwc.transpose(2, 0, 1), atol=1e-7)


def test_icvl_missing_key_and_corrupt_file(tmp_path, rng, monkeypatch):
    _small_specs(monkeypatch, 14, 9)
    raw = tmp_path / "raw"
    raw.mkdir()
    write_icvl(raw / "a.mat", rng.random((31, 14, 9)) * 4095)
    with h5py.File(raw / "b_nokey.mat", "w") as f:
        f["radiance"] = np.zeros((31, 14, 9))
    (raw / "c_trunc.mat").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(RawFileError, match=r"b_nokey\.mat.*'rad'"):
        convert_dataset("ICVL", raw, tmp_path / "ICVL", progress=False)
    rep = convert_dataset("ICVL", raw, tmp_path / "ICVL", skip_bad=True, progress=False, warn=lambda m: None)
    assert rep.skipped_existing == ["a"] and len(rep.bad) == 2
    assert any("c_trunc.mat" in m for m in rep.bad.values())


# ------------------------------------------------------------------------------------------ KAUST
@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_kaust_both_file_versions(tmp_path, rng, monkeypatch, version):
    _small_specs(monkeypatch, 11, 8)
    raw = tmp_path / "raw"
    raw.mkdir()
    hsi = rng.integers(0, 4096, size=(8, 11, 34)).astype(np.uint16)             # MATLAB (R, C, 34)
    (write_kaust_v5 if version == "v5" else write_kaust_v73)(raw / "2019-09-11_001.mat", hsi)
    rep = convert_dataset("KAUST", raw, tmp_path / "KAUST", progress=False)
    assert rep.converted == ["2019-09-11_001"]
    paper_hwc = (hsi / 4095.0).astype(np.float32)[:, :, :31].transpose(1, 0, 2)  # the paper's arithmetic
    out = read_mat_cube(tmp_path / "KAUST" / "Train_Spec" / "2019-09-11_001.mat")
    assert out.cube.shape == (31, 11, 8)
    np.testing.assert_allclose(out.cube, paper_hwc.transpose(2, 0, 1), rtol=1e-6)
    np.testing.assert_allclose(out.wavelengths_nm, np.arange(400, 701, 10))


def test_kaust_wrong_band_count_names_the_file(tmp_path, rng, monkeypatch):
    _small_specs(monkeypatch, 11, 8)
    raw = tmp_path / "raw"
    raw.mkdir()
    write_kaust_v5(raw / "x.mat", rng.integers(0, 4096, size=(8, 11, 31)).astype(np.uint16))
    with pytest.raises(RawFileError, match=r"x\.mat.*31 bands, expected 34"):
        convert_dataset("KAUST", raw, tmp_path / "KAUST", progress=False)


def test_prepare_script_cli(tmp_path, rng):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "broken.mat").write_bytes(b"not a mat file at all")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, str(REPO / "dataset_tools" / "prepare_KAUST.py"), "--dataset_root", str(raw),
           "--dest_root", str(tmp_path / "KAUST"), "--no_progress"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    assert r.returncode == 2 and "broken.mat" in r.stderr and "--skip_bad" in r.stderr
    r = subprocess.run(cmd + ["--skip_bad"], capture_output=True, text=True, env=env, cwd=REPO)
    assert r.returncode == 0 and "bad 1" in r.stdout and "broken.mat" in r.stderr
    assert (tmp_path / "KAUST" / "split_txt" / "valid_list.txt").read_bytes() == \
        (REPO_DATASETS_DIR / "KAUST" / "split_txt" / "valid_list.txt").read_bytes()


# ----------------------------------------------------------------------------------------- checks
def _tiny_dataset(root: Path, rng, n=4, h=6, w=5) -> list[str]:
    names = [f"s{i}" for i in range(n)]
    for s in names:
        write_mat_cube(root / "Train_Spec" / f"{s}.mat", rng.random((31, h, w), dtype=np.float32))
    write_split_lists(root, {"train": names[:-1], "valid": names[-1:]})
    return names


def test_check_dataset_ok_and_problems(tmp_path, rng):
    root = tmp_path / "MYSET"
    names = _tiny_dataset(root, rng)
    rep = check_dataset(root, progress=False, pca=True, pca_pixels=20)
    assert rep.ok, rep.summary()
    assert rep.scenes == 4 and rep.checked == 4 and rep.splits == {"train": 3, "valid": 1}
    assert 0 <= rep.value_min and rep.value_max <= 1 and rep.pca["samples"] == 80
    assert "result: OK" in rep.summary()
    # problems: corrupt file, out-of-range values, listed but missing scene, overlap, shape
    (root / "Train_Spec" / f"{names[0]}.mat").write_bytes(b"\x89HDF\r\n\x1a\ncorrupt")
    write_mat_cube(root / "Train_Spec" / f"{names[1]}.mat", np.full((31, 6, 5), 1.5, np.float32))
    write_mat_cube(root / "Train_Spec" / f"{names[2]}.mat", np.zeros((31, 7, 5), np.float32))
    write_split_lists(root, {"train": names[:-1] + ["ghost"], "valid": names[-1:] + [names[0]]})
    rep = check_dataset(root, progress=False)
    text = rep.summary()
    assert not rep.ok
    assert any(f"{names[0]}.mat" in e for e in rep.errors)                        # corrupt, named
    assert any("ghost" in e for e in rep.errors)                                  # missing file
    assert any("both train and valid" in e for e in rep.errors)
    assert any("outside [0, 1]" in w for w in rep.warnings)
    assert any("different shapes" in w for w in rep.warnings)
    assert "ERROR" in text


def test_check_dataset_knows_the_datasets_sizes_and_split_files(tmp_path, rng):
    root = tmp_path / "CAVE"
    _tiny_dataset(root, rng)
    (root / "split_txt" / "valid_list.txt").unlink()
    rep = check_dataset(root, progress=False, quick=True)
    assert any("(31, 512, 512)" in e for e in rep.errors)
    assert any("valid_list.txt" in e and "not found" in e for e in rep.errors)


def test_check_dataset_script(tmp_path, rng):
    root = tmp_path / "MYSET"
    _tiny_dataset(root, rng)
    r = subprocess.run([sys.executable, str(REPO / "dataset_tools" / "check_dataset.py"), str(root), "--no_progress",
                        "--json", str(tmp_path / "r.json")], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "result: OK" in r.stdout and (tmp_path / "r.json").is_file()
    (root / "split_txt" / "train_list.txt").unlink()
    r = subprocess.run([sys.executable, str(REPO / "dataset_tools" / "check_dataset.py"), str(root), "--no_progress"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 1 and "train_list.txt" in r.stdout


def test_spectral_pca_counts_components(rng):
    basis = rng.random((3, 31))
    x = rng.random((500, 3)) @ basis
    out = spectral_pca(x)
    assert out["n99"] <= 3 and out["n999"] <= 3
