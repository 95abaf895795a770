"""hsi.synthetic and dataset_tools/make_synthetic.py: determinism, ranges, layout."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from hsi.camera import load_srf
from hsi.convert import check_dataset
from hsi.datasets import read_splits
from hsi.io import read_mat_cube, read_rgb_raw, write_rgb
from hsi.render import RenderConfig, render_rgb
from hsi.synthetic import (SynthConfig, SynthSettingsError, build_synth_dataset, illuminant, make_scene,
                           measured_reflectances, scene_name, sigmoid_polynomial_spectra, synth_splits)

REPO = Path(__file__).resolve().parents[1]


def test_spectra_sources():
    refl, names = measured_reflectances()
    assert refl.shape == (161, 31) and len(names) == 161
    assert refl.min() >= 0 and refl.max() <= 1 and refl.dtype == np.float32
    assert any(n.startswith("ColorChecker N Ohta") for n in names) and any("CQS" in n for n in names)
    s = sigmoid_polynomial_spectra(200, np.random.default_rng(0))
    assert s.shape == (200, 31) and 0 < s.min() and s.max() < 1
    assert np.ptp(s, axis=1).max() > 0.8 and np.ptp(s, axis=1).min() < 0.1       # saturated and flat ones
    for name in ("A", "FL2", "FL3.15", "LED-B3", "D6504", "D12000"):
        e = illuminant(name)
        assert e.shape == (31,) and e.max() == pytest.approx(1.0) and e.min() >= 0
    assert illuminant("D4000")[-1] > illuminant("D4000")[0]                        # warm daylight: red-heavy
    assert illuminant("D12000")[-1] < illuminant("D12000")[5]                      # cool daylight: blue-heavy
    with pytest.raises(ValueError, match="unknown illuminant"):
        illuminant("XYZ")


def test_scene_determinism_and_range():
    a, info = make_scene(3, seed=7, size=(48, 40))
    b, _ = make_scene(3, seed=7, size=(48, 40))
    c, _ = make_scene(3, seed=8, size=(48, 40))
    d, _ = make_scene(4, seed=7, size=(48, 40))
    assert a.shape == (31, 48, 40) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)
    assert a.min() >= 0 and a.max() == 1.0
    assert info["objects"] > 10 and info["illuminant"]
    # scenes are spectrally varied: many distinct spectra, not a handful of flat patches
    flat = a.reshape(31, -1).T
    assert len(np.unique(np.round(flat / np.maximum(flat.max(1, keepdims=True), 1e-9), 3), axis=0)) > 100


def test_splits():
    s = synth_splits(40)
    assert len(s["train"]) == 36 and s["valid"] == [scene_name(i) for i in range(36, 40)]
    assert synth_splits(3)["valid"] == ["SYNTH_0003"]


def test_build_layout_determinism_resume(tmp_path):
    cfg = SynthConfig(num_scenes=4, size=(40, 48), seed=3)
    root = tmp_path / "SYNTH"
    m = build_synth_dataset(root, cfg, progress=False)
    assert m["built"] == 4
    names = [scene_name(i) for i in range(4)]
    assert sorted(p.stem for p in (root / "Train_Spec").glob("*.mat")) == names
    assert sorted(p.stem for p in (root / "Train_RGB").glob("*.jpg")) == names
    assert read_splits(root) == {"train": names[:3], "valid": names[3:]}
    man = json.loads((root / "synth_manifest.json").read_text())
    assert man["settings"]["seed"] == 3 and len(man["scenes"]) == 4 and "versions" in man
    cube = read_mat_cube(root / "Train_Spec" / "SYNTH_0002.mat").cube
    np.testing.assert_array_equal(cube, make_scene(1, 3, (40, 48))[0])
    # Train_RGB: the cube rendered through the camera (SYNTH exposure), JPEG quality 65
    rgb = read_rgb_raw(root / "Train_RGB" / "SYNTH_0002.jpg")
    ref = render_rgb(torch.from_numpy(cube), torch.from_numpy(load_srf()), None, RenderConfig()).to_uint()[0]
    write_rgb(tmp_path / "ref.jpg", ref, jpeg_quality=65)
    np.testing.assert_array_equal(rgb, read_rgb_raw(tmp_path / "ref.jpg"))
    assert check_dataset(root, progress=False).ok
    # resumable: a second run builds nothing and touches nothing
    mtime = (root / "Train_Spec" / "SYNTH_0001.mat").stat().st_mtime_ns
    assert build_synth_dataset(root, cfg, progress=False)["built"] == 0
    assert (root / "Train_Spec" / "SYNTH_0001.mat").stat().st_mtime_ns == mtime
    # more scenes extend the set; the first ones are unchanged
    m = build_synth_dataset(root, SynthConfig(num_scenes=5, size=(40, 48), seed=3), progress=False)
    assert m["built"] == 1 and read_splits(root)["valid"] == ["SYNTH_0005"]
    # other settings are refused unless overwrite
    with pytest.raises(SynthSettingsError, match="seed"):
        build_synth_dataset(root, SynthConfig(num_scenes=4, size=(40, 48), seed=4), progress=False)
    m = build_synth_dataset(root, SynthConfig(num_scenes=4, size=(40, 48), seed=4), overwrite=True, progress=False)
    assert m["built"] == 4
    np.testing.assert_array_equal(read_mat_cube(root / "Train_Spec" / "SYNTH_0002.mat").cube,
                                  make_scene(1, 4, (40, 48))[0])


def test_make_synthetic_script(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "dataset_tools" / "make_synthetic.py"), "--dest_root",
                        str(tmp_path / "S"), "--num_scenes", "3", "--size", "32", "--no_progress"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert "3 scene(s) built" in r.stdout
    assert read_mat_cube(tmp_path / "S" / "Train_Spec" / "SYNTH_0003.mat").cube.shape == (31, 32, 32)


@pytest.mark.slow
def test_default_set_builds_fast(tmp_path):
    import time
    t0 = time.perf_counter()
    m = build_synth_dataset(tmp_path / "SYNTH", SynthConfig(), progress=False)
    assert m["built"] == SynthConfig().num_scenes
    assert time.perf_counter() - t0 < 40
