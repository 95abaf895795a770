"""hsi.sweep: local / parallel / submitit launchers on tiny python jobs, resuming, and sweep_status."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hsi import sweep
from hsi.sweep import LaunchOptions, SweepJob, run_stage

ROOT = Path(__file__).resolve().parents[1]
JOBS = str(ROOT / "tests" / "_sweep_jobs.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def job(tmp: Path, name: str, kind: str = "compute", done: bool = True, resumable: bool = False,
        **flags) -> SweepJob:
    out = tmp / "out" / f"{name}.json"
    argv = [sys.executable, JOBS, kind, "--name", name, "--out", str(flags.pop("out", out)),
            "--events", str(tmp / "events.txt")]
    for key, value in flags.items():
        argv += [f"--{key}", str(value)]
    return SweepJob(name, tuple(argv), str(tmp / "logs" / f"{name}.log"), str(out) if done else None, resumable)


def replay(tmp: Path) -> tuple[int, list[dict[str, str]]]:
    """The largest number of jobs that ran at once, and the GPUs of the jobs running at each start."""
    running: dict[str, str] = {}
    most, snapshots = 0, []
    for line in (tmp / "events.txt").read_text().splitlines():
        what, name, *gpu = line.split()
        if what == "start":
            running[name] = gpu[0]
            snapshots.append(dict(running))
        else:
            running.pop(name)
        most = max(most, len(running))
    return most, snapshots


def outputs(tmp: Path) -> dict[str, int]:
    return {p.stem: json.loads(p.read_text())["value"] for p in sorted((tmp / "out").glob("*.json"))}


def test_parallel_gives_the_local_outputs_at_most_two_at_once(tmp_path):
    a, b = tmp_path / "local", tmp_path / "parallel"
    run_stage("s", [job(a, f"j{k}", n=10 + k) for k in range(4)], LaunchOptions("local"))
    # pairs that wait for each other: a sequential launcher would never finish them
    jobs = [job(b, f"j{k}", n=10 + k, pair=f"j{k ^ 1}") for k in range(4)]
    results = run_stage("s", jobs, LaunchOptions("parallel", max_parallel=2, poll_s=0.02))
    assert [r.state for r in results] == ["done"] * 4
    assert outputs(a) == outputs(b) and len(outputs(a)) == 4
    most, _ = replay(b)
    assert most == 2


def test_parallel_one_gpu_per_job(tmp_path, monkeypatch):
    jobs = [job(tmp_path, f"j{k}", pair=f"j{k ^ 1}") for k in range(4)]
    # two of them through a per-mode-script style wrapper that sources lib.sh (which derives
    # CUDA_VISIBLE_DEVICES from GPUS): they must keep their one GPU, not get the driver's "0 1"
    monkeypatch.setenv("GPUS", "0 1")
    for k in (1, 2):
        jobs[k] = dataclasses.replace(jobs[k], argv=("bash", "-c", f'source "{ROOT}/scripts/lib.sh" && '
                                                     '"$PY" "$@"', "job", *jobs[k].argv[1:]),
                                      env={"PY": sys.executable})
    opts = sweep.options_from_env({"LAUNCHER": "parallel", "GPUS": "0 1"})
    assert opts.parallelism() == 2
    assert all(r.state == "done" for r in run_stage("s", jobs, opts))
    _, snapshots = replay(tmp_path)
    for running in snapshots:                       # jobs running together never share a GPU
        assert len(set(running.values())) == len(running) and set(running.values()) <= {"0", "1"}
    records = [json.loads((tmp_path / "out" / f"j{k}.json").read_text()) for k in range(4)]
    assert {r["cuda"] for r in records} == {"0", "1"} and all(r["gpus"] == r["cuda"] for r in records)


def test_a_failed_job_is_reported_and_the_others_finish(tmp_path):
    jobs = [job(tmp_path, "ok1"), job(tmp_path, "bad", kind="fail"), job(tmp_path, "ok2")]
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(json.dumps({"name": j.name, "argv": list(j.argv), "log": j.log,
                                        "done_file": j.done_file, "resumable": False}) + "\n" for j in jobs))
    res = subprocess.run([sys.executable, "-m", "hsi.sweep", "run", "--stage", "train", "--jobs", str(path)],
                         env={**ENV, "LAUNCHER": "parallel", "MAX_PARALLEL": "2"}, capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert res.returncode == 1
    assert "bad" in res.stderr and jobs[1].log in res.stderr
    assert "ValueError: job bad broke on purpose" in res.stderr
    assert set(outputs(tmp_path)) == {"ok1", "ok2"}


def test_bad_settings_are_user_errors(tmp_path):
    res = subprocess.run([sys.executable, "-m", "hsi.sweep", "run", "--stage", "x", "--jobs", str(tmp_path / "no")],
                         env={**ENV, "LAUNCHER": "parallel"}, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert res.returncode == 2 and res.stderr.startswith("error: ") and "cannot read the jobs file" in res.stderr
    with pytest.raises(sweep.OptionError, match="LAUNCHER"):
        sweep.options_from_env({"LAUNCHER": "cluster"})
    with pytest.raises(sweep.OptionError, match="SLURM_TIME"):
        sweep.options_from_env({"SLURM_TIME": "tomorrow"})


def test_slurm_time_and_sbatch_options():
    assert [sweep.slurm_minutes(t) for t in ("30", "90:30", "24:00:00", "2-00:00:00", "1-12")] == \
        [30, 91, 1440, 2880, 2160]
    assert sweep.sbatch_options("--account=abc --qos normal --exclusive --mail-type=END") == \
        {"account": "abc", "qos": "normal", "exclusive": True, "mail_type": "END"}


def test_done_test_and_run_time_checkpoint(tmp_path):
    summary = tmp_path / "run" / "summary.json"
    j = SweepJob("t", ("x", "@ckpt:" + str(tmp_path / "run"), "--resume", "False"), "log", str(summary), True,
                 done_fields={"iterations": 8})
    assert not sweep.is_done(j)
    summary.parent.mkdir()
    summary.write_text(json.dumps({"finished": False, "iterations": 8}))
    assert not sweep.is_done(j)
    summary.write_text(json.dumps({"finished": True, "iterations": 4}))
    assert not sweep.is_done(j)                     # another iteration budget: not this job
    summary.write_text(json.dumps({"finished": True, "iterations": 8}))
    assert sweep.is_done(j)
    assert sweep.command_line(j) == ["x", str(tmp_path / "run" / "last.pth"), "--resume", "True"]
    assert sweep.with_resume(["a", "--resume=False", "--resume", "0"]) == ["a", "--resume=True", "--resume", "True"]
    assert sweep.with_resume(["a"]) == ["a", "--resume", "True"]
    assert sweep.resolve_checkpoint_word(f"CKPT=@ckpt:{tmp_path}") == f"CKPT={tmp_path / 'last.pth'}"
    assert sweep.resolve_checkpoint_word("x@ckpt:y") == "x@ckpt:y"
    (tmp_path / "run" / "best.pth").write_text("")
    assert sweep.command_line(j)[1] == str(tmp_path / "run" / "best.pth")


def _wait(predicate, what):
    import _sweep_jobs
    _sweep_jobs.wait_for(predicate, what)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(sys.platform != "linux", reason="the runner's children die with it through prctl (Linux)")
def test_a_killed_parallel_sweep_resumes(tmp_path):
    marker, release = tmp_path / "marker", tmp_path / "release"
    jobs = [job(tmp_path, "quick"), job(tmp_path, "slow", kind="wait", marker=marker, release=release),
            job(tmp_path, "later")]
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(json.dumps({"name": j.name, "argv": list(j.argv), "log": j.log,
                                        "done_file": j.done_file}) + "\n" for j in jobs))
    cmd = [sys.executable, "-m", "hsi.sweep", "run", "--stage", "train", "--jobs", str(path)]
    env = {**ENV, "LAUNCHER": "parallel", "MAX_PARALLEL": "2"}
    runner = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: (tmp_path / "out" / "quick.json").exists() and marker.exists(), "quick done, slow started")
    _wait(lambda: (tmp_path / "out" / "later.json").exists(), "later done")   # the free slot ran it
    slow_pid = int(marker.read_text().split()[0])
    runner.kill()                                   # SIGKILL: no clean-up in the runner
    runner.wait()
    _wait(lambda: _gone(slow_pid), "the slow job to die with its runner")
    assert not (tmp_path / "out" / "slow.json").exists()
    from hsi.sweep_status import job_status
    assert [job_status(j, "train").state for j in jobs] == ["done", "stopped", "done"]
    release.write_text("")
    res = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "1 job(s) to run, 2 done before" in res.stderr
    starts = [ln.split()[1] for ln in (tmp_path / "events.txt").read_text().splitlines() if ln.startswith("start")]
    assert sorted(starts) == ["later", "quick", "slow", "slow"]


def test_submitit_local_runs_skips_done_and_requeues_a_preempted_job(tmp_path):
    pytest.importorskip("submitit")
    marker, release = tmp_path / "marker", tmp_path / "never"
    jobs = [job(tmp_path, "a", n=3), job(tmp_path, "b", n=4),
            job(tmp_path, "pre", kind="wait", resumable=True, marker=marker, release=release)]
    opts = LaunchOptions("slurm", slurm_cluster="local", slurm_gpus_per_job=0, slurm_time="10",
                         log_dir=str(tmp_path / "sub"))
    run_stage("s", jobs[:1], opts)
    assert set(outputs(tmp_path)) == {"a"}

    def preempt():   # like SLURM's preemption: the job's signal makes submitit checkpoint and requeue it
        _wait(marker.exists, "the preemptible job to start")
        os.kill(int(marker.read_text().split()[1]), signal.SIGUSR2)

    thread = threading.Thread(target=preempt, daemon=True)
    thread.start()
    results = run_stage("s", jobs, opts)
    thread.join(timeout=60)
    assert [r.state for r in results] == ["skipped", "done", "done"], [r.last_error for r in results]
    attempts = marker.read_text().splitlines()
    assert len(attempts) == 2 and all(a.endswith("resume=True") for a in attempts)
    assert "[sweep] requeued pre" in Path(jobs[2].log).read_text()
    assert outputs(tmp_path)["b"] == sum(k * k for k in range(4))


def test_slurm_waits_for_a_job_still_queued_from_an_earlier_submission(tmp_path, monkeypatch):
    pytest.importorskip("submitit")
    opts = LaunchOptions("slurm", slurm_cluster="local", slurm_gpus_per_job=0, slurm_time="10",
                         log_dir=str(tmp_path / "sub"))
    j = job(tmp_path, "j", done=False)          # no done test: only the recorded job id can prevent a rerun
    assert run_stage("s", [j], opts)[0].state == "done"
    first = sweep.read_submitted(opts.log_dir, "s")["j"]
    monkeypatch.setattr(sweep, "slurm_job_state", lambda folder, job_id: "RUNNING" if job_id == first else None)
    said = []
    assert run_stage("s", [j], opts, said.append)[0].state == "done"
    assert any("still in SLURM as job " + first in line for line in said)
    assert (tmp_path / "events.txt").read_text().count("start j ") == 1
    monkeypatch.setattr(sweep, "slurm_job_state", lambda folder, job_id: "COMPLETED")
    assert run_stage("s", [j], opts)[0].state == "done"
    assert (tmp_path / "events.txt").read_text().count("start j ") == 2
    assert sweep.read_submitted(opts.log_dir, "s")["j"] != first


def test_sweep_status_done_failed_missing_running(tmp_path):
    from hsi.io.lock import output_lock
    results = tmp_path / "results"
    (results / "sweep").mkdir(parents=True)
    train = [job(tmp_path, n, kind="train", out=results / "train" / n) for n in ("t_ok", "t_missing", "t_run")]
    train = [SweepJob(j.name, j.argv, str(results / "sweep" / "logs" / f"{j.name}.log"),
                      str(results / "train" / j.name / "summary.json"), True) for j in train]
    bad = SweepJob("t_bad", job(tmp_path, "t_bad", kind="fail").argv, str(results / "sweep" / "logs" / "t_bad.log"),
                   str(results / "train" / "t_bad" / "summary.json"), True)
    (results / "sweep" / "training.jsonl").write_text("".join(
        json.dumps({"name": j.name, "argv": list(j.argv), "log": j.log, "done_file": j.done_file}) + "\n"
        for j in train + [bad]))
    run_stage("training", [train[0], bad], LaunchOptions("local"))
    with output_lock(results / "train" / "t_run", "training"):
        res = subprocess.run([sys.executable, "scripts/sweep_status.py", str(results), "--json"], cwd=ROOT,
                             env=ENV, capture_output=True, text=True, timeout=120)
        md = subprocess.run([sys.executable, "scripts/sweep_status.py", str(results)], cwd=ROOT,
                            env=ENV, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert {n: rows[n]["state"] for n in ("t_ok", "t_bad", "t_missing", "t_run")} == \
        {"t_ok": "done", "t_bad": "failed", "t_missing": "missing", "t_run": "running"}
    assert rows["t_bad"]["error"] == "ValueError: job t_bad broke on purpose"
    assert rows["t_bad"]["log"] == bad.log
    assert md.returncode == 0 and md.stdout.startswith("| ") and "| t_bad | failed |" in md.stdout


def test_example_driver_local_and_parallel_give_the_same_results(tmp_path):
    outs = {}
    for launcher in ("local", "parallel"):
        results = tmp_path / launcher
        env = {**ENV, "PY": sys.executable, "RESULTS": str(results), "LAUNCHER": launcher, "MAX_PARALLEL": "2"}
        res = subprocess.run(["bash", str(ROOT / "tests" / "sweep_example.sh")], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        outs[launcher] = {p.relative_to(results).as_posix(): json.loads(p.read_text())["value"]
                          for p in sorted((results / "valid").rglob("*.json"))}
        again = subprocess.run(["bash", str(ROOT / "tests" / "sweep_example.sh")], env=env, cwd=ROOT,
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and again.stdout.count("skipped") + again.stderr.count("0 job(s) to run") >= 3
    assert outs["local"] == outs["parallel"] and len(outs["local"]) == 2


@pytest.mark.parametrize("launcher, keep_going", [("local", "0"), ("parallel", "0"), ("parallel", "1")])
def test_a_failed_stage_stops_the_driver_unless_keep_going(tmp_path, launcher, keep_going):
    script = f"""set -euo pipefail
source "{ROOT}/scripts/lib_sweep.sh"
J=("$PY" "{JOBS}")
stage_begin first
stage_add bad - 0 -- "${{J[@]}}" fail --name bad --out "{tmp_path}/out/bad.json" --events "{tmp_path}/events.txt"
stage_add ok - 0 -- "${{J[@]}}" compute --name ok --out "{tmp_path}/out/ok.json" --events "{tmp_path}/events.txt"
stage_end
stage_begin second
stage_add after - 0 -- "${{J[@]}}" compute --name after --out "{tmp_path}/out/after.json" --events "{tmp_path}/events.txt"
stage_end
"""
    env = {**ENV, "PY": sys.executable, "RESULTS": str(tmp_path / "results"), "LAUNCHER": launcher,
           "SWEEP_KEEP_GOING": keep_going}
    res = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    ran = set(outputs(tmp_path)) if (tmp_path / "out").exists() else set()
    if keep_going == "1":
        assert res.returncode == 0 and ran == {"ok", "after"}
    else:
        assert res.returncode != 0 and "after" not in ran
        assert ran == (set() if launcher == "local" else {"ok"})     # local stops at once, as today
    assert "ValueError: job bad broke on purpose" in res.stderr


@pytest.mark.slow
def test_quick_driver_parallel_and_submitit_give_the_sequential_results(tmp_path):
    """Real generation, two MST++ trainings and their validations: the same metrics under every launcher."""
    subprocess.run([sys.executable, "dataset_tools/make_synthetic.py", "--dest_root", str(tmp_path / "ds" / "SYNTH"),
                    "--num_scenes", "6", "--size", "64", "--seed", "0", "--valid_fraction", "0.34", "--no_progress"],
                   cwd=ROOT, check=True, capture_output=True)
    metrics = {}
    for launcher in ("local", "parallel", "slurm"):
        results = tmp_path / launcher
        env = {**ENV, "PY": sys.executable, "SCALE": "quick", "DATASET_PATH": str(tmp_path / "ds" / launcher),
               "RESULTS": str(results), "PER_EPOCH_ITERATION": "4", "BATCH_SIZE": "2", "CROP_SIZE": "32",
               "STRIDE": "16", "VALID_FREQ": "4", "SAVE_FREQ": "4", "LOG_FREQ": "2", "LAUNCHER": launcher,
               "MAX_PARALLEL": "2", "SWEEP_SLURM_CLUSTER": "local", "SLURM_GPUS_PER_JOB": "0", "SLURM_TIME": "30"}
        # a copy of the scenes per launcher: the generation runs under each
        shutil.copytree(tmp_path / "ds" / "SYNTH", tmp_path / "ds" / launcher / "SYNTH")
        res = subprocess.run(["bash", str(ROOT / "tests" / "sweep_quick_driver.sh")], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=1500)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        found = {}
        for p in results.rglob("summary.json"):
            rec = json.loads(p.read_text())
            key = rec.get("tag") or p.parent.relative_to(results).as_posix()
            found[key] = rec["summary"] if "summary" in rec else rec["best_valid_mrae"]
        metrics[launcher] = found
        status = subprocess.run([sys.executable, "scripts/sweep_status.py", str(results), "--json"], cwd=ROOT,
                                env=ENV, capture_output=True, text=True, timeout=120)
        assert {r["state"] for r in json.loads(status.stdout)} == {"done"}, status.stdout
    assert {"sweep/seed0", "sweep/seed1"} <= set(metrics["local"])
    assert metrics["parallel"] == metrics["local"] and metrics["slurm"] == metrics["local"]


def test_sweep_status_finds_run_folders_and_variants_on_disk(tmp_path):
    from hsi.sweep_status import sweep_status
    results, data = tmp_path / "results", tmp_path / "datasets"
    for name, summary in (("done_run", {"finished": True}), ("half_run", None)):
        (results / "train" / name).mkdir(parents=True)
        (results / "train" / name / "config.json").write_text("{}")
        if summary:
            (results / "train" / name / "summary.json").write_text(json.dumps(summary))
    (results / "valid" / "v").mkdir(parents=True)
    (results / "valid" / "v" / "summary.json").write_text(json.dumps({"summary": {"MRAE": 0.1}}))
    for name, complete in (("poisson0_None", True), ("poisson1000_grating", False)):
        (data / "SYNTH" / name).mkdir(parents=True)
        (data / "SYNTH" / name / "manifest.json").write_text(json.dumps({"complete": complete}))
    rows = {(r.kind, r.name): r.state for r in sweep_status(results, dataset_path=data)}
    assert rows == {("training", "done_run"): "done", ("training", "half_run"): "stopped",
                    ("validation", "v"): "done", ("generation", "poisson0_None"): "done",
                    ("generation", "poisson1000_grating"): "stopped"}


def test_sweep_status_lists_a_queued_validation_once_with_its_folder(tmp_path):
    """Validations are queued without a done file: the folder they made belongs to their row, not a second one."""
    from hsi.sweep_status import sweep_status
    results = tmp_path / "results"
    (results / "sweep" / "logs").mkdir(parents=True)
    jobs, logs = [], {}
    for method, metamer in (("rpr2", "False"), ("rpr2", "True"), ("mst_plus_plus", "True")):
        kind = "metamer" if metamer == "True" else "original"
        name = f"valid_{kind}_{method}"
        log = results / "sweep" / "logs" / f"{name}.log"
        log.write_text(f"[sweep] start {name} (local; host h pid 1): ...\n[sweep] end {name}: exit 0\n")
        jobs.append({"name": name, "log": str(log), "done_file": None, "argv": [
            "env", "DATASET_NAME=SYNTH", f"METHOD={method}", "PRETRAINED_ROOT=@ckpt:x", "NPE=0", f"METAMER={metamer}",
            f"TAG=table5/{kind}", f"RESULT_ROOT=./results/table5/{kind}", "scripts/validate_RGB2HS.sh"]})
    (results / "sweep" / "validation.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    made = {}
    for method, kind, metamer in (("rpr2", "original", False), ("rpr2", "metamer", True), ("mst", "metamer", True)):
        folder = results / "table5" / kind / f"SYNTH_poisson0_None_png_{method}_{kind}"   # mst: no job made it
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({"summary": {"MRAE": 0.1}, "args": {
            "dataset_name": "SYNTH", "method": method, "metamer": metamer, "npe": 0.0, "tag": f"table5/{kind}",
            "result_root": f"./results/table5/{kind}", "pretrained_root": "x/best.pth"}}))
        made[(method, kind)] = str(folder)
    rows = sweep_status(results)
    assert [r.name for r in rows] == ["valid_original_rpr2", "valid_metamer_rpr2", "valid_metamer_mst_plus_plus",
                                      "SYNTH_poisson0_None_png_mst_metamer"]
    by_name = {r.name: r for r in rows}
    assert by_name["valid_original_rpr2"].path == made[("rpr2", "original")]
    assert by_name["valid_metamer_rpr2"].path == made[("rpr2", "metamer")]
    assert by_name["valid_metamer_mst_plus_plus"].path == ""                  # its folder does not exist
    assert by_name["SYNTH_poisson0_None_png_mst_metamer"].kind == "validation"
    assert {r.state for r in rows} == {"done"}


def test_sweep_status_lists_a_queued_generation_once_with_its_variant(tmp_path):
    from hsi.sweep_status import sweep_status
    results, data = tmp_path / "results", tmp_path / "datasets"
    (results / "sweep" / "logs").mkdir(parents=True)
    jobs = []
    for npe in ("0", "1000"):
        name = f"gen_SYNTH_npe{npe}"
        log = results / "sweep" / "logs" / f"{name}.log"
        log.write_text(f"[sweep] start {name} (local; host h pid 1): ...\n[sweep] end {name}: exit 0\n")
        jobs.append({"name": name, "log": str(log), "done_file": None, "argv": [
            "env", "DATASET_NAME=SYNTH", "PSF_NAME=None", f"NPE={npe}", "RGB_FORMAT=png", "scripts/generate_metamers.sh"]})
    (results / "sweep" / "generation.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    for folder, npe in (("poisson0_None", 0), ("poisson5_None", 5)):          # npe 5: made outside the sweep
        (data / "SYNTH" / folder).mkdir(parents=True)
        (data / "SYNTH" / folder / "manifest.json").write_text(json.dumps({"complete": True, "options": {
            "dataset_name": "SYNTH", "psf_name": "None", "noise_type": "poisson", "npe": npe, "rgb_format": "png"}}))
    rows = {r.name: r for r in sweep_status(results, dataset_path=data)}
    assert set(rows) == {"gen_SYNTH_npe0", "gen_SYNTH_npe1000", "poisson5_None"}
    assert rows["gen_SYNTH_npe0"].path == str(data / "SYNTH" / "poisson0_None")
    assert rows["gen_SYNTH_npe1000"].path == "" and rows["poisson5_None"].kind == "generation"
