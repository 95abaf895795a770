"""hsi.sweep_cost and bench/paper_cost.py: run plans from the drivers (LAUNCHER=plan), GPU-hours, packing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hsi import sweep_cost as sc
from hsi.errors import OptionError
from hsi.sweep_cost import PlannedRun, RateBook

ROOT = Path(__file__).resolve().parents[1]
TABLES = {t.driver: t for t in sc.PAPER_TABLES}


def run(method="mst_plus_plus", data="fixed", iterations=1000, batch=20, mode="fp32", name="r") -> PlannedRun:
    return PlannedRun("T", name, "train_RGB2HS_fixed_metamer.py", method, data, iterations, batch, mode, "auto",
                      (name,))


def loop(method, data, rate, mode="fp32", on=True, device="NVIDIA H200"):
    return {"device": device, "part": "loop", "method": method, "mode": mode, "data": data, "data_on_device": on,
            "samples_per_s": rate}


def test_gpu_hours_are_runs_times_iterations_times_batch_over_rate():
    book = RateBook("GPU X", (loop("a", "fixed", 50.0), loop("a", "onthefly", 40.0), loop("b", "fixed", 8.0)))
    runs = [run("a", "fixed", 3600, 10, name="1"), run("a", "no_metamer", 7200, 5, name="2"),
            run("a", "onthefly", 1800, 20, name="3"), run("b", "fixed", 100, 4, name="4")]
    e = sc.estimate(runs, book.toolkit, [1, 2])
    expected = (3600 * 10 / 50 + 7200 * 5 / 50 + 1800 * 20 / 40 + 100 * 4 / 8) / 3600
    assert e.gpu_hours == pytest.approx(expected) and (e.covered, e.not_covered) == (4, 0)
    assert book.toolkit(runs[1]).samples_per_s == 50.0       # no-metamer runs read on-disk data: the fixed rate


def test_packing_one_gpu_is_the_sum_and_many_gpus_the_longest_run():
    hours = [5.0, 1.0, 3.0, 2.0, 2.0, 4.0]
    assert sc.longest_first_makespan(hours, 1) == pytest.approx(sum(hours))
    for g in (len(hours), len(hours) + 1, 64):
        assert sc.longest_first_makespan(hours, g) == max(hours)
    walls = [sc.longest_first_makespan(hours, g) for g in range(1, 8)]
    assert walls == sorted(walls, reverse=True) and walls[1] == pytest.approx(9.0)   # longest first: 5+2+2 and 4+3+1
    assert sc.longest_first_makespan([], 8) == 0.0
    with pytest.raises(OptionError):
        sc.longest_first_makespan(hours, 0)


def test_unmeasured_methods_are_reported_and_left_out_of_the_sums():
    book = RateBook("NVIDIA H200", (loop("mst_plus_plus", "fixed", 600.0),), anchors=True)
    runs = [run("mst_plus_plus", name="1"), run("hysat", name="2"), run("hysat", name="3")]
    assert book.toolkit(runs[1]) is None and book.paper_code(runs[1]) is None   # no anchor for hysat either
    cost = sc.table_cost("Table X", runs, book, [1, 8])
    assert (cost.toolkit.covered, cost.toolkit.not_covered) == (1, 2)
    assert cost.toolkit.gpu_hours == pytest.approx(1000 * 20 / 600 / 3600)
    summary = "\n".join(sc.summary_rows([cost], [1, 8]))
    assert "(2 not measured)" in summary and "≥" in summary
    codesign = sc.table_cost("C", [run("mst_plus_plus", "codesign")], book, [1])
    assert (codesign.paper.not_covered, codesign.paper.not_applicable) == (0, 1)
    assert "| n/a (co-design) | not measured |" in sc.summary_rows([codesign], [1])[-1]
    methods = "\n".join(sc.method_rows([cost], book))
    assert "| Table X | hysat | fixed | fp32 | 2 | not measured | - | not measured | - |" in methods


def test_paper_code_rate_measured_step_first_then_h200_anchors_and_the_onthefly_bound():
    step = {"device": "NVIDIA H200", "part": "step", "method": "mst", "mode": "toolbox", "samples_per_s": 118.3}
    book = RateBook("NVIDIA H200", (step,))
    assert book.paper_code(run("mst")).samples_per_s == 118.3
    assert book.paper_code(run("restormer")) == sc.Rate(93.5, "toolbox fp32 step, H200 anchor")
    assert book.paper_code(run("hinet", "onthefly")).samples_per_s == sc.PAPER_ONTHEFLY_LOOP_H200   # CPU-bound
    assert book.paper_code(run("restormer", "onthefly")).samples_per_s == 93.5                      # step-bound
    assert book.paper_code(run("mst", "codesign")) is None                                          # not in it
    other = RateBook("NVIDIA A100", (dict(step, device="NVIDIA A100"),))
    assert other.paper_code(run("restormer")) is None          # the anchors are H200 figures only
    assert RateBook("NVIDIA H200", (step,), anchors=False).paper_code(run("restormer")) is None


def test_toolkit_rate_follows_the_engine_mode_placement_and_codesign_ratio():
    records = (loop("m", "onthefly", 500.0, "amp+compile-ro"), loop("m", "onthefly", 450.0, "amp+compile-ro", on=False),
               {"device": "NVIDIA H200", "part": "codesign", "method": "m", "ratio": 2.0})
    book = RateBook("NVIDIA H200", records)
    fast = run("m", "onthefly", mode="amp+compile-ro")
    assert book.toolkit(fast).samples_per_s == 500.0
    assert RateBook("NVIDIA H200", records, data_on_device=False).toolkit(fast).samples_per_s == 450.0
    assert book.toolkit(run("m", "onthefly", mode="fp32")) is None
    assert book.toolkit(run("m", "codesign", mode="amp+compile-ro")).samples_per_s == 250.0
    assert sc.engine_mode(True, True, "auto") == "amp+compile-ro" and sc.engine_mode(False, False, "auto") == "fp32"
    assert sc.engine_mode(False, True, "auto") is None


def test_read_throughput_jsonl_and_the_bench_json(tmp_path):
    recs = [loop("a", "fixed", 1.0), loop("b", "fixed", 2.0)]
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    (tmp_path / "r.json").write_text(json.dumps({"args": {}, "records": recs}))
    assert sc.read_throughput([tmp_path / "r.jsonl"]) == recs == sc.read_throughput([tmp_path / "r.json"])
    two = recs + [loop("a", "fixed", 3.0, device="NVIDIA A100")]
    with pytest.raises(OptionError, match="--device"):
        sc.one_device(two)
    assert sc.one_device(two, "a100")[1] == [two[-1]]


def _env(tmp_path, **extra):
    return {**os.environ, "PY": sys.executable, "SCALE": "paper", "DATASET_PATH": str(tmp_path / "datasets"),
            "OMP_NUM_THREADS": "1", **extra}


def test_table2_plan_is_methods_times_fractions_at_paper_scale(tmp_path):
    (tmp_path / "datasets" / "ARAD_1K" / "Train_RGB").mkdir(parents=True)   # ARAD_1K: the MST++ recipe
    env = _env(tmp_path, METHODS="mst_plus_plus hinet", DATASETS="ARAD_1K CAVE")
    runs = sc.plan_driver(TABLES["table2_less_data.sh"], env, tmp_path / "work")
    names = {r.name for r in runs}
    assert len(runs) == 2 * 2 * 3 and names == {f"train_{d}_{m}_percent{p}" for d in ("ARAD_1K", "CAVE")
                                                for m in ("mst_plus_plus", "hinet") for p in (100, 50, 20)}
    assert all(r.iterations == 300 * 1000 and r.batch_size == 20 and r.data == "no_metamer" for r in runs)
    assert all(r.mode == "fp32" for r in runs)                        # the paper scale's ENGINE_ARGS
    by = {r.name: r for r in runs}
    assert by["train_ARAD_1K_hinet_percent50"].trainer == "train.py"
    assert "--percent" in by["train_ARAD_1K_hinet_percent50"].command
    assert by["train_CAVE_hinet_percent20"].trainer == "train_RGB2HS_no_metamer.py"
    assert not (tmp_path / "work" / "results").exists()               # a plan trains nothing
    assert not (tmp_path / "work" / "sweep" / "table2_less_data" / "validation.jsonl").exists()   # stops after training
    fewer = sc.plan_driver(TABLES["table2_less_data.sh"], {**env, "PERCENTS": "100", "NUM_EPOCHS": "3",
                                                            "PER_EPOCH_ITERATION": "7"}, tmp_path / "work2")
    assert len(fewer) == 4 and {r.iterations for r in fewer} == {21}


def test_tables6_7_plan_carries_data_kind_and_engine_mode(tmp_path):
    env = _env(tmp_path, METHODS="mst_plus_plus", DATASETS="CAVE",
               ENGINE_ARGS="--resume True --amp True --compile True")
    plans, failed = sc.plan_tables([TABLES["table6_7_metamer_training.sh"]], env)
    six = plans["Tables VI/VII"]
    assert not failed and sorted(r.data for r in six) == sorted(["no_metamer", "fixed", "onthefly"] * 2)
    assert {r.mode for r in six} == {"amp+compile-ro"}


def test_a_staged_codesign_driver_is_planned_and_ends_after_training(tmp_path):
    driver = tmp_path / "codesign_driver.sh"
    driver.write_text(f"""source "{ROOT}/scripts/lib.sh"
stage_begin training
stage_add train_CAVE_hinet - 1 -- env DATASET_NAME=CAVE METHOD=hinet NPE=1000 LOSS_FUNC=l1 \\
  RESULT_ROOT="$RESULTS/codesign" TRAIN_ARGS="--optics doe" bash -c 'source scripts/lib.sh; run_rgb2hs_trainer train_RGB2HS_codesign.py'
stage_end
touch "{tmp_path}/after_training"
""")
    (run,) = sc.plan_driver(sc.PaperTable("F3", str(driver)), _env(tmp_path), tmp_path / "work")
    assert (run.data, run.method, run.trainer, run.iterations) == ("codesign", "hinet", "train_RGB2HS_codesign.py",
                                                                   300_000)
    assert "--optics" in run.command and not (tmp_path / "after_training").exists()


def test_a_trainer_outside_a_stage_stops_the_plan_instead_of_training(tmp_path):
    driver = tmp_path / "unstaged.sh"
    driver.write_text(f"""source "{ROOT}/scripts/lib.sh"
DATASET_NAME=CAVE RESULT_ROOT="$RESULTS/x" LOSS_FUNC=l1 run_rgb2hs_trainer train_RGB2HS_no_metamer.py
""")
    with pytest.raises(sc.CostError, match="outside a stage"):
        sc.plan_driver(sc.PaperTable("X", str(driver)), _env(tmp_path), tmp_path / "work")
    assert not (tmp_path / "work" / "results").exists()


def test_bench_script_writes_the_table_and_its_record(tmp_path):
    rec = tmp_path / "r.jsonl"
    rec.write_text(json.dumps(loop("mst_plus_plus", "fixed", 600.0, device="GPU X")) + "\n")   # no anchors
    out = tmp_path / "cost.md"
    env = _env(tmp_path, METHODS="mst_plus_plus hysat", DATASETS="CAVE", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "bench/paper_cost.py", "--records", str(rec), "--drivers",
                          "table3_unseen_data.sh", "--gpus", "1", "2", "--out", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    hours = 300_000 * 20 / 600 / 3600
    assert f"| Table III | 2 | 300,000 x 20 | not measured | ≥ {hours:.1f} (1 not measured) |" in out.read_text()
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["tables"][0]["toolkit"]["gpu_hours"] == pytest.approx(hours)
    groups = {g["method"]: g for g in record["groups"]}
    assert groups["mst_plus_plus"]["toolkit"]["gpu_hours"] == pytest.approx(hours) and groups["hysat"]["toolkit"] is None
    bad = subprocess.run([sys.executable, "bench/paper_cost.py", "--records", str(tmp_path / "none.jsonl")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "error:" in bad.stderr


def test_a_plan_by_hand_keeps_the_jobs_files_of_a_real_sweep(tmp_path):
    real = tmp_path / "results" / "sweep" / "training.jsonl"
    real.parent.mkdir(parents=True)
    real.write_text('{"name": "j", "argv": ["true"], "log": "l"}\n')
    env = _env(tmp_path, METHODS="hinet", DATASETS="CAVE", PERCENTS="100", LAUNCHER="plan",
               RESULTS=str(tmp_path / "results"))
    env.pop("SWEEP_DIR", None)
    res = subprocess.run(["bash", str(ROOT / "scripts" / "table2_less_data.sh")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert real.read_text().startswith('{"name": "j"')
    planned = (tmp_path / "results" / "sweep_plan" / "training.jsonl").read_text().splitlines()
    assert len(planned) == 1 and "train_CAVE_hinet_percent100" in planned[0]
