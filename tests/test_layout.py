"""hsi.layout: the paper's folder and run names, and the shell query."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hsi import layout

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("psf", [None, "", "None", "none", " None "])
def test_every_spelling_of_no_psf_is_one_label(psf):
    assert layout.is_no_psf(psf) and layout.psf_label(psf) == "None"


def test_psf_label_of_a_name_and_of_a_path():
    assert not layout.is_no_psf("double_gauss_50mm_F1.8")
    assert layout.psf_label("double_gauss_50mm_F1.8") == "double_gauss_50mm_F1.8"   # the dot stays
    assert layout.psf_label("/x/PSFs/grating.npz") == "grating"


def test_variant_and_file_names_are_the_papers():
    assert layout.variant_dir_name("poisson", 1000, "double_gauss_50mm_F1.8") == "poisson1000_double_gauss_50mm_F1.8"
    assert layout.variant_dir_name("gaussian", 0.0, None) == "gaussian0_None"
    gen = Path("/d/SYNTH/poisson0_None")
    out = layout.scene_outputs(gen, "s1", ["png", "jpg"])
    assert out["metamer_mat"] == gen / "Train_Metamer_Spec" / "s1_metamer.mat"
    assert out["original_jpg"] == gen / "Train_Metamer_RGB" / "s1_original.jpg"
    assert layout.spec_path("/d/SYNTH", "s1") == Path("/d/SYNTH/Train_Spec/s1.mat")
    assert layout.split_list_path("/d/SYNTH", "valid") == Path("/d/SYNTH/split_txt/valid_list.txt")
    with pytest.raises(ValueError):
        layout.metamer_rgb_path(gen, "s1", "originals", "png")


def test_run_names_are_the_papers():
    kw = dict(loss="l1", noise_type="poisson", npe=1000, psf_name="double_gauss_50mm_F1.8", method="mst", dataset="CAVE")
    assert layout.train_run_name("fixed", **kw) == "Fixed_metamer_l1_png_poisson1000_double_gauss_50mm_F1.8_mst_CAVE"
    assert layout.train_run_name("onthefly", **kw) == "OnTheFly_metamer_l1_poisson1000_double_gauss_50mm_F1.8_mst_CAVE"
    assert layout.train_run_name("no_metamer", **kw, percent=50) .endswith("_mst_CAVE_50percent")
    assert layout.train_run_name("no_metamer", **kw, percent=100).endswith("_mst_CAVE")
    assert layout.validation_run_name(dataset="SYNTH", noise_type="poisson", npe=0, psf_name=None, rgb_format="png",
                                      method="mst", metamer=True) == "SYNTH_poisson0_None_png_mst_metamer"


def test_shell_query_prints_the_same_name():
    out = subprocess.run([sys.executable, "-m", "hsi.layout", "train_run", "--mode", "onthefly", "--loss", "l1",
                          "--npe", "1000", "--psf_name", "None", "--method", "mst_plus_plus", "--dataset_name", "SYNTH"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert out == layout.train_run_name("onthefly", loss="l1", noise_type="poisson", npe=1000, psf_name=None,
                                        method="mst_plus_plus", dataset="SYNTH")


def test_codesign_names_and_their_shell_query():
    name = layout.codesign_run_name(optics="doe", loss="l1", noise_type="poisson", npe=1000, method="mst_plus_plus",
                                    dataset="SYNTH")
    assert name == "Codesign_doe_l1_poisson1000_mst_plus_plus_SYNTH"
    out = subprocess.run([sys.executable, "-m", "hsi.layout", "codesign_run", "--optics", "doe", "--loss", "l1",
                          "--npe", "1000", "--method", "mst_plus_plus", "--dataset_name", "SYNTH"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert out == name
    assert layout.codesign_psf_path("/r/run", "best") == Path("/r/run/psf_best.npz")
    out = subprocess.run([sys.executable, "-m", "hsi.layout", "codesign_psf", "last", "--run_dir", "/r/run"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert out == "/r/run/psf_last.npz"
    with pytest.raises(ValueError):
        layout.codesign_psf_path("/r/run", "first")


def test_folder_query_and_split_check():
    out = subprocess.run([sys.executable, "-m", "hsi.layout", "folder", "rgb", "--dataset_dir", "/d/SYNTH"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(out) == Path("/d/SYNTH") / layout.RGB_DIR == layout.dataset_folder("/d/SYNTH", "rgb")
    with pytest.raises(ValueError, match="split"):
        layout.split_list_path("/d/SYNTH", "test")
    assert layout.mstpp_run_dir("out/x", 20) == "out/x_20percent" and layout.mstpp_run_dir("out/x", 100) == "out/x"


def test_shell_drivers_ask_the_trainers_for_run_folders(tmp_path):
    """lib.sh's run_dir_of: the folder the per-mode driver's trainer names (percent and loss included)."""
    script = ('source scripts/lib.sh; '
              'run_dir_of "$HSI_ROOT/scripts/train_RGB2HS_no_metamer.sh" DATASET_NAME=SYNTH PSF_NAME=None '
              f'RESULT_ROOT={tmp_path} TRAIN_ARGS="--data_join standard --percent 50"; '
              f'run_dir_of "$HSI_ROOT/scripts/train_vanilla_percent.sh" PERCENT=20 OUTF={tmp_path}/v')
    env = {"PATH": "/usr/bin:/bin", "PY": sys.executable, "SCALE": "quick", "PYTHONPATH": str(ROOT)}
    res = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.split()
    assert lines == [str(tmp_path / layout.train_run_name("no_metamer", loss="mrae", noise_type="poisson", npe=0,
                                                          psf_name=None, method="mst_plus_plus", dataset="SYNTH",
                                                          percent=50)),
                     f"{tmp_path}/v_20percent"]
