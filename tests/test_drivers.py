"""The per-table shell drivers under SCALE=quick with a tiny iteration count, then the report."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """Small embedded datasets (SYNTH and SYNTH_B: 6 scenes of 64 x 64) and the tiny settings."""
    d = tmp_path_factory.mktemp("drivers")
    for name, seed in (("SYNTH", 0), ("SYNTH_B", 1)):
        subprocess.run([sys.executable, "dataset_tools/make_synthetic.py", "--dest_root", str(d / "datasets" / name),
                        "--num_scenes", "6", "--size", "64", "--seed", str(seed), "--valid_fraction", "0.34",
                        "--no_progress"], cwd=ROOT, check=True, capture_output=True)
    env = {**os.environ, "PY": sys.executable, "SCALE": "quick", "DATASET_PATH": str(d / "datasets"),
           "RESULTS": str(d / "results"), "PER_EPOCH_ITERATION": "4", "BATCH_SIZE": "2", "CROP_SIZE": "32",
           "STRIDE": "16", "VALID_FREQ": "4", "SAVE_FREQ": "4", "LOG_FREQ": "2", "OMP_NUM_THREADS": "1"}
    return d, env


def _driver(work, script, **extra):
    d, env = work
    res = subprocess.run(["bash", str(ROOT / "scripts" / script)], cwd=ROOT, capture_output=True, text=True,
                         env={**env, **extra}, timeout=900)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return res


def _tags(results: Path) -> dict[str, dict]:
    out = {}
    for p in results.rglob("summary.json"):
        rec = json.loads(p.read_text())
        if rec.get("tag"):
            out[rec["tag"]] = rec
    return out


def test_table5_driver_then_resume_skips_everything(work):
    d, _ = work
    _driver(work, "table5_metamer_validation.sh")
    tags = _tags(d / "results")
    assert {"table5/original", "table5/metamer"} <= set(tags)
    assert tags["table5/metamer"]["metamer"] is True and tags["table5/original"]["metamer"] is False
    again = _driver(work, "table5_metamer_validation.sh")   # an interrupted/finished driver continues
    assert "already finished" in again.stdout + again.stderr and again.stdout.count("skipped") >= 2


def test_table4_driver_cross_validates_two_datasets(work):
    d, _ = work
    _driver(work, "table4_cross_dataset.sh")
    tags = _tags(d / "results")
    assert {f"table4/{a}->{b}" for a in ("SYNTH", "SYNTH_B") for b in ("SYNTH", "SYNTH_B")} <= set(tags)


def test_report_from_the_driver_results_with_missing_runs(work):
    d, _ = work
    out = d / "report"
    res = subprocess.run([sys.executable, "scripts/report.py", "--results", str(d / "results"), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    t5 = (out / "table5.md").read_text()
    assert "MST++" in t5 and "original" in t5 and "metamer" in t5
    assert (out / "table4.md").is_file() and (out / "index.md").is_file()
    assert "table3" not in {p.stem for p in out.glob("table*.md")}      # not run: absent, no crash


@pytest.mark.slow
@pytest.mark.parametrize("script, tags", [
    ("table2_less_data.sh", {"table2/percent100", "table2/percent50", "table2/percent20"}),
    ("table3_unseen_data.sh", {"table3/jpg_q65", "table3/png", "table3/png_npe1000_dg"}),
    ("table6_7_metamer_training.sh", {f"table6_7/{m}_{s}_{k}" for m in ("no", "fixed", "onthefly")
                                      for s in ("clean", "noisy_aberrated") for k in ("original", "metamer")}),
    ("finding3_encodings.sh", {f"finding3/{p}" for p in ("none", "double_gauss_50mm_F1.8", "grating",
                                                         "diffraction_rotation", "singlet_bk7_50mm_F5.6")}),
])
def test_long_drivers(work, script, tags):
    d, _ = work
    _driver(work, script)
    assert tags <= set(_tags(d / "results"))


def test_per_mode_drivers_keep_the_papers_names():
    for name in ("generate_metamers.sh", "train_vanilla_percent.sh", "train_RGB2HS_no_metamer.sh",
                 "train_RGB2HS_fixed_metamer.sh", "train_RGB2HS_onthefly_metamer.sh", "validate_RGB2HS.sh"):
        text = (ROOT / "scripts" / name).read_text()
        assert "/home/" not in text and "source" in text
    for name in ("table2_less_data.sh", "table3_unseen_data.sh", "table4_cross_dataset.sh",
                 "table5_metamer_validation.sh", "table6_7_metamer_training.sh", "finding3_encodings.sh"):
        text = (ROOT / "scripts" / name).read_text()
        assert "./RGB2HS/" not in text, f"{name} should call the per-mode drivers, not the Python scripts"
