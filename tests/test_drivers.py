"""The per-table shell drivers under SCALE=quick with a tiny iteration count, then the report."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hsi import sweep

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
    ("finding3_codesign.sh", {"finding3/learned_doe", "finding3_original/learned_doe"}),
])
def test_long_drivers(work, script, tags):
    d, _ = work
    _driver(work, script)
    assert tags <= set(_tags(d / "results"))
    if script == "finding3_codesign.sh":       # the learned PSF's figure and its ambiguity record
        assert len(list((d / "results" / "finding3" / "learned_psfs").glob("learned_doe_SYNTH_*.png"))) == 1
        assert len(list((d / "results" / "finding3" / "ambiguity_learned_doe").rglob("ambiguity.json"))) == 1


def test_per_mode_drivers_keep_the_papers_names():
    for name in ("generate_metamers.sh", "train_vanilla_percent.sh", "train_RGB2HS_no_metamer.sh",
                 "train_RGB2HS_fixed_metamer.sh", "train_RGB2HS_onthefly_metamer.sh", "train_RGB2HS_codesign.sh",
                 "validate_RGB2HS.sh"):
        text = (ROOT / "scripts" / name).read_text()
        assert "/home/" not in text and "source" in text
    for name in ("table2_less_data.sh", "table3_unseen_data.sh", "table4_cross_dataset.sh",
                 "table5_metamer_validation.sh", "table6_7_metamer_training.sh", "finding3_encodings.sh",
                 "finding3_codesign.sh"):
        text = (ROOT / "scripts" / name).read_text()
        assert "./RGB2HS/" not in text, f"{name} should call the per-mode drivers, not the Python scripts"


# ---------------------------------------------------------------- launchers (issue 16): LAUNCHER=parallel|slurm

T67_SMALL = {"METHODS": "mst_plus_plus", "MODES": "no fixed", "SETTINGS": "clean"}
LAUNCHERS = {"parallel": {"LAUNCHER": "parallel", "MAX_PARALLEL": "2"},
             "slurm": {"LAUNCHER": "slurm", "SWEEP_SLURM_CLUSTER": "local", "SLURM_TIME": "10"}}


def _fresh_work(tmp_path: Path, env: dict, name: str) -> tuple[Path, dict]:
    """A copy of the module's datasets (no generated folders yet) and its own results folder."""
    d = tmp_path / name
    for ds, seed in (("SYNTH", 0), ("SYNTH_B", 1)):
        subprocess.run([sys.executable, "dataset_tools/make_synthetic.py", "--dest_root", str(d / "datasets" / ds),
                        "--num_scenes", "6", "--size", "64", "--seed", str(seed), "--valid_fraction", "0.34",
                        "--no_progress"], cwd=ROOT, check=True, capture_output=True)
    return d, {**env, "DATASET_PATH": str(d / "datasets"), "RESULTS": str(d / "results")}


def _results_view(results: Path) -> dict[str, dict]:
    """Every summary.json under the results (the sweep's own folder left out) -> what must not depend on
    the launcher: a validation's metrics and checkpoint run, a training's finished flag and iterations."""
    out = {}
    for p in sorted(results.rglob("summary.json")):
        rel = p.relative_to(results)
        if rel.parts[0] == "sweep":
            continue
        rec = json.loads(p.read_text())
        if rec.get("tag"):
            ckpt = Path(rec["checkpoint"])
            out[str(rel)] = {"tag": rec["tag"], "summary": rec["summary"],
                             "checkpoint": str(ckpt.relative_to(results)) if ckpt.is_relative_to(results) else ckpt.name}
        else:
            out[str(rel)] = {k: rec.get(k) for k in ("finished", "iterations", "iteration") if k in rec}
    return out


def _same_views(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        if "summary" in a[key]:
            assert a[key]["tag"] == b[key]["tag"] and a[key]["checkpoint"] == b[key]["checkpoint"], key
            assert a[key]["summary"] == pytest.approx(b[key]["summary"], rel=1e-5, abs=1e-7), key
        else:
            assert a[key] == b[key], key


@pytest.fixture(scope="module")
def sequential_views(work, tmp_path_factory):
    """The LAUNCHER=local results of the two drivers (computed once, compared with each launcher)."""
    views = {}
    base = tmp_path_factory.mktemp("local")
    for script, extra in (("table5_metamer_validation.sh", {}), ("table6_7_metamer_training.sh", T67_SMALL)):
        d, env = _fresh_work(base, work[1], script.split("_")[0])
        _driver((d, env), script, LAUNCHER="local", **extra)
        views[script] = _results_view(d / "results")
    return views


@pytest.mark.slow
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
@pytest.mark.parametrize("script, extra", [("table5_metamer_validation.sh", {}),
                                           ("table6_7_metamer_training.sh", T67_SMALL)])
def test_launchers_give_the_sequential_results(work, sequential_views, tmp_path, script, extra, launcher):
    d, env = _fresh_work(tmp_path, work[1], launcher)
    res = _driver((d, env), script, **LAUNCHERS[launcher], **extra)
    view = _results_view(d / "results")
    assert any("summary" in v for v in view.values()) and any(v.get("finished") for v in view.values())
    _same_views(view, sequential_views[script])
    jobs = [json.loads(line) for line in (d / "results" / "sweep" / "training.jsonl").read_text().splitlines()]
    assert jobs and all(j["resumable"] and j["done_file"].endswith("summary.json") for j in jobs)
    assert f"stage validation: " in res.stderr and f"(launcher {launcher})" in res.stderr


@pytest.mark.slow
def test_killed_parallel_sweep_resumes(work, tmp_path):
    """Kill the driver (its whole process group) in the training stage once one run has finished and
    another has not; the second start skips the finished run, resumes the others and validates all."""
    import signal
    import time
    d, env = _fresh_work(tmp_path, work[1], "kill")
    env = {**env, "LAUNCHER": "parallel", "MAX_PARALLEL": "2", "METHODS": "mst_plus_plus",
           "MODES": "no fixed onthefly", "SETTINGS": "clean", "PER_EPOCH_ITERATION": "40", "SAVE_FREQ": "4"}
    train = d / "results" / "table6_7" / "train"
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "table6_7_metamer_training.sh")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    finished: dict[Path, int] = {}
    try:
        deadline = time.monotonic() + 900
        while proc.poll() is None and time.monotonic() < deadline:
            done = [p for p in train.glob("*/summary.json") if json.loads(p.read_text() or "{}").get("finished")]
            if done:
                finished = {p: p.stat().st_mtime_ns for p in done}
                break
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert finished, "no training finished before the driver ended"
    finished = {p: p.stat().st_mtime_ns for p in train.glob("*/summary.json")   # as left by the kill
                if json.loads(p.read_text() or "{}").get("finished")}
    unfinished = [p.parent for p in train.glob("*/last.pth") if p.parent / "summary.json" not in finished]
    assert not (d / "results" / "table6_7" / "no_clean_original").exists()   # killed before validation
    res = _driver((d, env), "table6_7_metamer_training.sh")
    import re
    skipped = re.search(r"stage training: (\d+) job\(s\) to run, (\d+) done before", res.stderr)
    assert skipped and int(skipped.group(2)) >= len(finished) and int(skipped.group(1)) == 3 - int(skipped.group(2))
    for p, mtime in finished.items():                  # not trained again
        assert p.stat().st_mtime_ns == mtime and json.loads(p.read_text())["finished"] is True
    runs = list(train.glob("*/summary.json"))
    assert len(runs) == 3 and all(json.loads(p.read_text())["finished"] for p in runs)
    tags = _tags(d / "results")
    assert {f"table6_7/{m}_clean_{k}" for m in ("no", "fixed", "onthefly") for k in ("original", "metamer")} <= set(tags)
    log_of = {Path(j["done_file"]).parent: Path(j["log"]) for j in map(json.loads,
              (d / "results" / "sweep" / "training.jsonl").read_text().splitlines())}
    for run in unfinished:                             # a run killed mid-way was started again, resumed
        log = log_of[run]
        starts = [line for line in log.read_text().splitlines() if line.startswith(sweep.START_MARK)]
        assert len(starts) == 2 and all("--resume True" in line for line in starts), log
