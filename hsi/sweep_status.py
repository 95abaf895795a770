"""The state of every run of a sweep: done / running / failed / stopped / missing, with its log and error.

Sources: the jobs files of the stages (``<results>/sweep/*.jsonl``, written by scripts/lib_sweep.sh), the
run folders under the results folder (trainings: ``config.json``; validations: ``summary.json`` with
metrics) and, given a dataset folder, the generated variants (``manifest.json``).

States:
    done     the done test holds (a finished ``summary.json``, a complete ``manifest.json``)
    running  the folder's lock ``.hsi.lock`` is held, its SLURM job (submitit id) is pending or running,
             or the log's last attempt has no end and its runner is alive (or on another host)
    failed   the last attempt ended with a non-zero exit code, or its log ends in a traceback / ``error:``
    stopped  started, not finished, nothing running (killed or preempted: re-run the sweep to resume)
    missing  queued in a jobs file, never started
"""
from __future__ import annotations

import json
import os
import shutil
import socket
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

from hsi.sweep import (ACTIVE_SLURM_STATES, SweepJob, attempt_exit_code, attempt_owner, is_done, last_attempt,
                       last_error_line, read_jobs, read_submitted, slurm_job_state, submitit_folder)

STATES = ("done", "running", "failed", "stopped", "missing")
LOCK_NAME = ".hsi.lock"          # hsi.io.lock.LOCK_NAME (not imported: hsi.io loads h5py)
SKIP_DIRS = {"sweep", "cache", "__pycache__", "report"}


@dataclass(frozen=True)
class RunStatus:
    """One row of the status table."""
    name: str
    kind: str           # stage name, or training | validation | generation for folders found on disk
    state: str
    path: str           # the run folder (or done file)
    log: str
    error: str


def lock_held(folder: str | os.PathLike) -> bool:
    """True when another process holds ``<folder>/.hsi.lock`` (hsi.io.lock's output lock)."""
    path = Path(folder) / LOCK_NAME
    if not path.exists():
        return False
    import filelock
    lock = filelock.FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        return True
    except OSError:
        return False
    lock.release()
    return False


def _alive(host: str, pid: int) -> bool:
    if host != socket.gethostname():
        return True     # cannot tell from here (a SLURM node): taken as running
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job_status(job: SweepJob, stage: str, slurm_id: str | None = None, submitit_dir: Path | None = None) -> RunStatus:
    """The state of one queued job from its done test, its folder's lock, its SLURM job and its log."""
    folder = Path(job.done_file).parent if job.done_file else None
    where = str(folder) if folder else ""
    if is_done(job):
        return RunStatus(job.name, stage, "done", where, job.log, "")
    if folder is not None and lock_held(folder):
        return RunStatus(job.name, stage, "running", where, job.log, "")
    if slurm_id and submitit_dir is not None and slurm_job_state(submitit_dir, slurm_id) in ACTIVE_SLURM_STATES:
        return RunStatus(job.name, stage, "running", where, job.log, f"SLURM job {slurm_id}")
    lines = last_attempt(job.log)
    if not lines:
        return RunStatus(job.name, stage, "missing", where, job.log if Path(job.log).exists() else "", "")
    code = attempt_exit_code(lines)
    if code == 0:           # ended well: done unless its done test fails
        if not job.done_file:
            return RunStatus(job.name, stage, "done", where, job.log, "")
        return RunStatus(job.name, stage, "failed", where, job.log,
                         f"exit 0 but {job.done_file} is missing or unfinished")
    if code is not None:
        return RunStatus(job.name, stage, "failed", where, job.log, last_error_line(job.log) or f"exit {code}")
    owner = attempt_owner(lines)        # no end line: still running, or killed
    if owner and _alive(*owner):
        return RunStatus(job.name, stage, "running", where, job.log, "")
    error = last_error_line(job.log, failed=False)
    return RunStatus(job.name, stage, "failed" if error else "stopped", where, job.log, error or "")


def _read(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def folder_status(folder: Path, kind: str, done_name: str, done_key: str) -> RunStatus:
    """A run folder found on disk (not in any jobs file)."""
    record = _read(folder / done_name)
    if record is not None and record.get(done_key, True) is True:
        state = "done"
    elif lock_held(folder):
        state = "running"
    else:
        state = "stopped"
    log = folder / "train.log"
    return RunStatus(folder.name, kind, state, str(folder), str(log) if log.is_file() else "", "")


def discover(results: Path, dataset_path: Path | None, known: set[str]) -> list[RunStatus]:
    """Training / validation folders under ``results`` and variants under ``dataset_path`` not in ``known``."""
    rows = []
    for root, dirs, files in os.walk(results):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        folder = Path(root)
        if str(folder) in known:
            continue
        if "config.json" in files:
            rows.append(folder_status(folder, "training", "summary.json", "finished"))
            dirs[:] = []
        elif "summary.json" in files and "summary" in (_read(folder / "summary.json") or {}):
            rows.append(folder_status(folder, "validation", "summary.json", "finished"))
    if dataset_path is not None:
        for manifest in sorted(dataset_path.glob("*/*/manifest.json")):
            if str(manifest.parent) not in known:
                rows.append(folder_status(manifest.parent, "generation", "manifest.json", "complete"))
    return rows


@dataclass(frozen=True)
class FoundKind:
    """How a folder found on disk is matched to the queued job (no done file) that made it: the job runs
    ``script``, sets ``required``, and each of ``variables`` it sets agrees with the lower-case key of the
    ``section`` of the folder's ``record`` file."""
    script: str
    record: str
    section: str
    required: str
    variables: tuple[str, ...]


FOUND_KINDS = {
    "validation": FoundKind("validate_RGB2HS", "summary.json", "args", "RESULT_ROOT",
                            ("RESULT_ROOT", "TAG", "METHOD", "DATASET_NAME", "METAMER", "PSF_NAME", "NOISE_TYPE",
                             "NPE", "RGB_FORMAT")),
    "generation": FoundKind("generate_metamers", "manifest.json", "options", "DATASET_NAME",
                            ("DATASET_NAME", "PSF_NAME", "NOISE_TYPE", "NPE", "ALPHA", "RGB_FORMAT", "METAMER_MODE")),
}
"""Folder kinds of ``discover`` that queued jobs without a done file make (scripts/validate_RGB2HS.sh,
scripts/generate_metamers.sh and the variables that fix their output folder)."""


def job_variables(job: SweepJob) -> dict[str, str]:
    """The job's ``KEY=VALUE`` words after a leading ``env`` of its command, over ``job.env``."""
    words = list(job.argv)
    out = dict(job.env)
    if words and Path(words[0]).name == "env":
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if not sep or not key.isidentifier():
                break
            out[key] = value
    return out


def _same_value(given: str, recorded: object) -> bool:
    """A job's variable (text) against a run's recorded argument: as booleans, numbers or paths."""
    text = str(recorded)
    if given.lower() in ("true", "false") or isinstance(recorded, bool):
        return given.lower() == text.lower()
    try:
        return float(given) == float(text)
    except ValueError:
        return os.path.normpath(given) == os.path.normpath(text)


def made_by(job: SweepJob, kind: FoundKind, record: dict) -> bool:
    """True when the folder whose ``kind.record`` file is ``record`` is the output of ``job`` (see
    ``FoundKind``)."""
    variables, given = job_variables(job), record.get(kind.section)
    if not any(kind.script in word for word in job.argv) or kind.required not in variables \
            or not isinstance(given, dict):
        return False
    return all(_same_value(variables[k], given[k.lower()]) for k in kind.variables
               if k in variables and k.lower() in given)


def place_found_runs(rows: list[RunStatus], unplaced: list[tuple[int, SweepJob]],
                     found: Sequence[RunStatus]) -> list[RunStatus]:
    """Validation and generation folders found on disk that a queued job without a done file made: that
    job's row (in ``rows``, by index) gets the folder, and the folder is not listed again. Returns the other
    found rows."""
    rest = []
    for row in found:
        kind = FOUND_KINDS.get(row.kind)
        record = _read(Path(row.path) / kind.record) if kind else None
        match = next((k for k, (_, job) in enumerate(unplaced) if record and made_by(job, kind, record)), None)
        if match is None:
            rest.append(row)
            continue
        index, _ = unplaced.pop(match)
        state = row.state if rows[index].state == "missing" else rows[index].state   # made outside the sweep
        rows[index] = replace(rows[index], path=row.path, state=state)
    return rest


def sweep_status(results: str | os.PathLike, jobs_files: Sequence[str | os.PathLike] = (),
                 dataset_path: str | os.PathLike | None = None) -> list[RunStatus]:
    """Every run of the sweep: the queued jobs (``jobs_files``, default ``<results>/sweep/*.jsonl``) first,
    then the run folders found on disk that no jobs file names (a validation or generation folder that a
    queued job without a done file made fills that job's folder column instead of a row of its own)."""
    results = Path(results)
    files = [Path(p) for p in jobs_files] or sorted((results / "sweep").glob("*.jsonl"))
    rows, known, unplaced = [], set(), []
    has_sacct = shutil.which("sacct") is not None
    for path in files:
        submitted = read_submitted(path.parent, path.stem) if has_sacct else {}
        for job in read_jobs(path):
            row = job_status(job, path.stem, submitted.get(job.name), submitit_folder(path.parent, path.stem))
            rows.append(row)
            if row.path:
                known.add(row.path)
            else:               # no done file (validations, generations): matched below, not listed twice
                unplaced.append((len(rows) - 1, job))
    found = discover(results, Path(dataset_path) if dataset_path else None, known)
    return rows + place_found_runs(rows, unplaced, found)


def markdown(rows: Iterable[RunStatus]) -> str:
    """The rows as a Markdown table (name, state, kind, folder, log, last error)."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")
    lines = ["| name | state | kind | folder | log | last error |", "|---|---|---|---|---|---|"]
    lines += [f"| {cell(r.name)} | {r.state} | {cell(r.kind)} | {cell(r.path)} | {cell(r.log)} | {cell(r.error)} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def counts(rows: Iterable[RunStatus]) -> str:
    """``done 3, running 1, failed 0, stopped 0, missing 2``."""
    rows = list(rows)
    return ", ".join(f"{s} {sum(r.state == s for r in rows)}" for s in STATES)


def as_json(rows: Iterable[RunStatus]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2)
