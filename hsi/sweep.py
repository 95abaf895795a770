"""Sweeps: run the independent jobs of a stage one after another, in parallel on the GPUs, or on SLURM.

A *stage* (data generation, training, validation) is a list of ``SweepJob``: a command line (argv), a
log file and a *done test* (a file that exists when the job has finished; a JSON file must also have
``finished`` / ``complete`` true where it has those keys, and the expected ``done_fields``). Every launcher
skips the jobs whose done test holds, so re-running an interrupted sweep continues where it stopped.

Launchers (``LaunchOptions.launcher``):

* ``local``: one job after another in this process's environment, output on the terminal and in the log.
* ``parallel``: at most ``max_parallel`` jobs at once (default: one per GPU in ``gpus``), each with its own
  ``CUDA_VISIBLE_DEVICES``; a failed job does not stop the others.
* ``slurm``: every job is one task of a SLURM job array submitted through submitit; the stage waits for all.
  A job is checkpointable: when SLURM preempts it (or its time limit is near) it is requeued with
  ``--resume True`` (resumable jobs), and continues from its last checkpoint.

Every job's log gets a ``[sweep] start`` line before each attempt and a ``[sweep] end ... exit <code>``
line after it; ``scripts/sweep_status.py`` reads them. An argv word ``@ckpt:<run folder>`` is replaced by
the run's ``best.pth`` (else ``last.pth``) when the job starts, not when it is queued, so a validation job
queued before its training finished sees the final checkpoint (also ``VAR=@ckpt:<run>``, for ``env``).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from hsi.errors import OptionError, ToolkitError, run_main

try:                                    # submitit is needed for LAUNCHER=slurm only
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # pragma: no cover
    _Checkpointable = object

LAUNCHERS = ("local", "parallel", "slurm")
SLURM_CLUSTERS = ("slurm", "local")      # "local": submitit's local executor, for tests without SLURM
CKPT_TOKEN = "@ckpt:"
START_MARK = "[sweep] start"
END_MARK = "[sweep] end"
DONE, SKIPPED, FAILED = "done", "skipped", "failed"
_ERROR_LINE = re.compile(r"^(error: .+|[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)(: .*)?)$")


class SweepError(ToolkitError):
    """A jobs file or a launcher setting that cannot be used (the message names it and the fix)."""


@dataclass(frozen=True)
class SweepJob:
    """One independent job of a stage.

    Attributes:
        name: unique in its stage (the log and the status table use it).
        argv: the command line; a word ``@ckpt:<run folder>`` becomes that run's checkpoint at start.
        log: the job's log file (appended to: one ``[sweep] start`` / ``[sweep] end`` pair per attempt).
        done_file: the file that exists when the job has finished (None: the job always runs).
        resumable: a training: ``--resume True`` is set on its command line.
        done_fields: values the done file's JSON must hold (e.g. ``{"iterations": 300000}``).
        env: extra environment variables of the job.
        cwd: the folder the command runs in (None: the runner's).
    """
    name: str
    argv: tuple[str, ...]
    log: str
    done_file: str | None = None
    resumable: bool = False
    done_fields: Mapping[str, object] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None


@dataclass(frozen=True)
class LaunchOptions:
    """How a stage's jobs run.

    Attributes:
        launcher: ``local`` | ``parallel`` | ``slurm``.
        gpus: GPU indices for ``parallel`` (one GPU per job, several jobs share one when
            ``max_parallel`` exceeds their number); empty: no ``CUDA_VISIBLE_DEVICES`` is set.
        max_parallel: jobs at once under ``parallel`` (None: ``len(gpus)``, else 1).
        slurm_partition: ``sbatch --partition`` (None: the cluster's default).
        slurm_time: time limit of one job, SLURM syntax (``MM``, ``HH:MM:SS``, ``D-HH:MM:SS``).
        slurm_gpus_per_job: GPUs of one job (1: one run per GPU; more: the run uses torchrun inside).
        slurm_array_parallelism: tasks of a job array running at once.
        slurm_extra: further sbatch options, e.g. ``"--account=abc --qos=normal --cpus-per-task=8"``.
        log_dir: where submitit keeps its pickles and logs (``<log_dir>/submitit/<stage>``).
        slurm_cluster: ``slurm``, or ``local`` for tests only (submitit's local executor, no SLURM).
        poll_s: seconds between checks of the running jobs.
    """
    launcher: str = "local"
    gpus: tuple[str, ...] = ()
    max_parallel: int | None = None
    slurm_partition: str | None = None
    slurm_time: str = "24:00:00"
    slurm_gpus_per_job: int = 1
    slurm_array_parallelism: int = 256
    slurm_extra: str = ""
    log_dir: str = "sweep_logs"
    slurm_cluster: str = "slurm"
    poll_s: float = 0.2

    def __post_init__(self) -> None:
        if self.launcher not in LAUNCHERS:
            raise OptionError(f"LAUNCHER must be one of {', '.join(LAUNCHERS)}, got {self.launcher!r}")
        if self.slurm_cluster not in SLURM_CLUSTERS:
            raise OptionError(f"slurm_cluster must be one of {SLURM_CLUSTERS}, got {self.slurm_cluster!r}")
        if self.max_parallel is not None and self.max_parallel < 1:
            raise OptionError(f"MAX_PARALLEL must be at least 1, got {self.max_parallel}")
        if self.slurm_gpus_per_job < 0 or self.slurm_array_parallelism < 1:
            raise OptionError("SLURM_GPUS_PER_JOB must be >= 0 and SLURM_ARRAY_PARALLELISM >= 1")
        slurm_minutes(self.slurm_time)
        sbatch_options(self.slurm_extra)

    def parallelism(self) -> int:
        """Jobs at once under ``parallel``."""
        return self.max_parallel or len(self.gpus) or 1


@dataclass(frozen=True)
class JobResult:
    """What became of one job: ``state`` done | skipped (done before) | failed."""
    name: str
    state: str
    log: str
    returncode: int | None = None
    last_error: str | None = None


# ------------------------------------------------------------------------------------ done test, argv

def is_done(job: SweepJob) -> bool:
    """True when ``job.done_file`` exists and (a JSON file) says finished/complete with ``done_fields``."""
    if not job.done_file:
        return False
    path = Path(job.done_file)
    if not path.is_file():
        return False
    if path.suffix != ".json":
        return True
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict):
        return False
    if any(key in record and record[key] is not True for key in ("finished", "complete")):
        return False
    return all(record.get(key) == value for key, value in job.done_fields.items())


def best_checkpoint(run_dir: str | os.PathLike) -> Path:
    """``<run_dir>/best.pth`` when it exists, else ``<run_dir>/last.pth`` (the rule of lib.sh best_ckpt)."""
    best = Path(run_dir) / "best.pth"
    return best if best.is_file() else Path(run_dir) / "last.pth"


def with_resume(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--resume True``: every ``--resume X`` / ``--resume=X`` set to True, else appended."""
    out, found, i = [], False, 0
    while i < len(argv):
        word = argv[i]
        if word == "--resume" and i + 1 < len(argv):
            out += ["--resume", "True"]
            found, i = True, i + 2
            continue
        if word.startswith("--resume="):
            word, found = "--resume=True", True
        out.append(word)
        i += 1
    return out if found else out + ["--resume", "True"]


def command_line(job: SweepJob) -> list[str]:
    """The argv the job runs now: checkpoint words resolved, ``--resume True`` for resumable jobs."""
    argv = [resolve_checkpoint_word(word) for word in job.argv]
    return with_resume(argv) if job.resumable else argv


def resolve_checkpoint_word(word: str) -> str:
    """``@ckpt:<run>`` -> the run's checkpoint now; also after ``=`` (``PRETRAINED_ROOT=@ckpt:<run>`` for env)."""
    head, sep, run = word.partition(CKPT_TOKEN)
    if not sep or not (head == "" or head.endswith("=")):
        return word
    return head + str(best_checkpoint(run))


def job_env(job: SweepJob, gpus: str | None = None) -> dict[str, str]:
    """The job's environment: this process's, the job's extras, unbuffered Python, and its GPUs if given
    (comma-separated indices) as ``CUDA_VISIBLE_DEVICES`` and as ``GPUS``, so that scripts/lib.sh, sourced
    again by the per-mode scripts, keeps them (it derives CUDA_VISIBLE_DEVICES and torchrun from GPUS)."""
    env = {**os.environ, **job.env, "PYTHONUNBUFFERED": "1"}
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpus
        env["GPUS"] = gpus.replace(",", " ")
    return env


# ------------------------------------------------------------------------------------ logs

def _log_line(log: Path, text: str) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:
        f.write(text.rstrip("\n") + "\n")


def _start_line(job: SweepJob, argv: Sequence[str], where: str) -> str:
    return f"{START_MARK} {job.name} ({where}; host {socket.gethostname()} pid {os.getpid()}): {shlex.join(argv)}"


def _end_line(job: SweepJob, code: int | None) -> str:
    return f"{END_MARK} {job.name}: exit {code}"


def last_attempt(log: str | os.PathLike, max_bytes: int = 262144) -> list[str]:
    """The lines of the log's last attempt (after its last ``[sweep] start``; the whole tail if none)."""
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - max_bytes))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    lines = text.replace("\r", "\n").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(START_MARK)]
    return lines[starts[-1]:] if starts else lines


def attempt_exit_code(lines: Sequence[str]) -> int | None:
    """The exit code of the attempt's ``[sweep] end`` line (None: not ended, or killed)."""
    for line in reversed(lines):
        if line.startswith(END_MARK):
            word = line.rsplit("exit", 1)[-1].strip()
            return int(word) if word.lstrip("-").isdigit() else None
    return None


def attempt_owner(lines: Sequence[str]) -> tuple[str, int] | None:
    """(host, pid) of the process that started the attempt (its ``[sweep] start`` line), else None."""
    match = re.search(r"; host (\S+) pid (\d+)\)", lines[0]) if lines and lines[0].startswith(START_MARK) else None
    return (match.group(1), int(match.group(2))) if match else None


def last_error_line(log: str | os.PathLike, failed: bool = True) -> str | None:
    """The last error of the log's last attempt: an ``error: ...`` line or a traceback's exception line.

    Without either, a failed attempt gives its last non-empty output line; otherwise None.
    """
    lines = [ln.strip() for ln in last_attempt(log) if not ln.startswith(("[sweep]",))]
    has_traceback = any(ln.startswith("Traceback (most recent call last)") for ln in lines)
    for line in reversed(lines):
        if line.startswith("error: ") or (has_traceback and _ERROR_LINE.match(line)):
            return line
    if failed:
        return next((ln for ln in reversed(lines) if ln), None)
    return None


# ------------------------------------------------------------------------------------ stage runner

def run_stage(stage: str, jobs: Sequence[SweepJob], options: LaunchOptions,
              say: Callable[[str], None] | None = None) -> list[JobResult]:
    """Run the jobs of ``stage`` with ``options``; returns one ``JobResult`` per job, in order.

    Jobs whose done test holds are skipped. A failed job does not stop the others.
    """
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise SweepError(f"stage {stage}: job names must be unique, repeated: {', '.join(dup)}")
    results: dict[str, JobResult] = {}
    todo = []
    for job in jobs:
        if is_done(job):
            results[job.name] = JobResult(job.name, SKIPPED, job.log, 0)
        else:
            todo.append(job)
    say(f"[sweep] stage {stage}: {len(todo)} job(s) to run, {len(jobs) - len(todo)} done before "
        f"(launcher {options.launcher})")
    runner = {"local": _run_local, "parallel": _run_parallel, "slurm": _run_slurm}[options.launcher]
    if todo:
        for result in runner(stage, todo, options, say):
            results[result.name] = result
    return [results[j.name] for j in jobs]


def _result(job: SweepJob, code: int | None) -> JobResult:
    ok = code == 0 and (not job.done_file or is_done(job))
    if ok:
        return JobResult(job.name, DONE, job.log, code)
    error = last_error_line(job.log)
    if code == 0:
        error = f"exit 0 but the done test fails: {job.done_file} is missing or unfinished" + (
            f" (last line: {error})" if error else "")
    return JobResult(job.name, FAILED, job.log, code, error)


def _run_local(stage: str, jobs: Sequence[SweepJob], options: LaunchOptions, say) -> list[JobResult]:
    return [run_job_teed(job) for job in jobs]


def run_job_teed(job: SweepJob, sink=None) -> JobResult:
    """Run one job now, its output both to ``sink`` (default this process's stdout) and to its log."""
    sink = sink or sys.stdout.buffer
    argv = command_line(job)
    log = Path(job.log)
    _log_line(log, _start_line(job, argv, "local"))
    code: int | None = None
    try:
        with open(log, "ab") as f:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=job_env(job),
                                    cwd=job.cwd)
            while chunk := os.read(proc.stdout.fileno(), 65536):
                f.write(chunk)
                f.flush()
                sink.write(chunk)
                sink.flush()
            code = proc.wait()
    except FileNotFoundError as exc:
        _log_line(log, f"error: cannot run {argv[0]!r}: {exc.strerror}")
        code = 127
    finally:
        _log_line(log, _end_line(job, code))
    return _result(job, code)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the job gets SIGTERM when the runner dies, even by SIGKILL (no orphaned trainings)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _pick_gpu(gpus: Sequence[str], busy: Mapping[str, int]) -> str | None:
    """The listed GPU with the fewest running jobs (the first such in ``gpus`` order)."""
    return min(gpus, key=lambda g: (busy.get(g, 0), gpus.index(g))) if gpus else None


def _run_parallel(stage: str, jobs: Sequence[SweepJob], options: LaunchOptions, say) -> list[JobResult]:
    pending = list(jobs)
    running: dict[subprocess.Popen, tuple[SweepJob, str | None]] = {}
    busy: dict[str, int] = {}
    results = []
    limit = options.parallelism()
    try:
        while pending or running:
            while pending and len(running) < limit:
                job = pending.pop(0)
                gpu = _pick_gpu(options.gpus, busy)
                proc = _spawn(job, gpu)
                if proc is None:
                    results.append(_result(job, 127))
                    continue
                busy[gpu] = busy.get(gpu, 0) + 1
                running[proc] = (job, gpu)
                say(f"[sweep] {stage}: started {job.name}" + (f" on GPU {gpu}" if gpu is not None else "")
                    + f" (log {job.log})")
            time.sleep(options.poll_s)
            for proc in [p for p in running if p.poll() is not None]:
                job, gpu = running.pop(proc)
                busy[gpu] -= 1
                _log_line(Path(job.log), _end_line(job, proc.returncode))
                results.append(_result(job, proc.returncode))
                say(f"[sweep] {stage}: {job.name} {results[-1].state} (exit {proc.returncode})")
    finally:
        for proc, (job, _) in running.items():   # interrupted: stop the jobs still running
            proc.terminate()
        for proc, (job, _) in running.items():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            _log_line(Path(job.log), _end_line(job, proc.returncode))
    return results


def _spawn(job: SweepJob, gpu: str | None) -> subprocess.Popen | None:
    argv = command_line(job)
    log = Path(job.log)
    _log_line(log, _start_line(job, argv, f"parallel, CUDA_VISIBLE_DEVICES={gpu}" if gpu is not None else "parallel"))
    with open(log, "ab") as f:
        try:
            return subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=job_env(job, gpu), cwd=job.cwd,
                                    preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        except FileNotFoundError as exc:
            f.write(f"error: cannot run {argv[0]!r}: {exc.strerror}\n".encode())
    _log_line(log, _end_line(job, 127))
    return None


# ------------------------------------------------------------------------------------ SLURM (submitit)

def slurm_minutes(text: str) -> int:
    """Minutes of a SLURM time limit: ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(text).strip())
    if not match:
        raise OptionError(f"SLURM_TIME must be a SLURM time limit such as 24:00:00 or 2-00:00:00, got {text!r}")
    days, a, b, c = (int(g) if g else None for g in match.groups())
    if days is not None:        # D-HH[:MM[:SS]]
        seconds = days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    elif c is not None:         # HH:MM:SS
        seconds = a * 3600 + b * 60 + c
    elif b is not None:         # MM:SS
        seconds = a * 60 + b
    else:                       # MM
        seconds = a * 60
    if seconds <= 0:
        raise OptionError(f"SLURM_TIME must be positive, got {text!r}")
    return max(1, -(-seconds // 60))


def sbatch_options(text: str) -> dict[str, object]:
    """``"--account=abc --qos normal --exclusive"`` as submitit's ``slurm_additional_parameters``."""
    words = shlex.split(text or "")
    out: dict[str, object] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("--") or len(word) < 3:
            raise OptionError(f"SLURM_EXTRA takes long sbatch options (--name=value or --flag), got {word!r} "
                              f"in {text!r}")
        key, eq, value = word[2:].partition("=")
        if not eq and i + 1 < len(words) and not words[i + 1].startswith("--"):
            value, i = words[i + 1], i + 1
        out[key.replace("-", "_")] = value if (eq or value) else True
        i += 1
    return out


class ShellJob(_Checkpointable):
    """A picklable, checkpointable command for submitit: runs ``job`` appending to its log.

    On preemption or an imminent time limit submitit calls ``checkpoint``: the command is stopped and
    the same job is requeued (with ``--resume True`` when resumable).
    """

    def __init__(self, job: SweepJob) -> None:
        self.job = job
        self._proc: subprocess.Popen | None = None

    def __getstate__(self) -> dict:
        return {"job": self.job}

    def __setstate__(self, state: dict) -> None:
        self.job, self._proc = state["job"], None

    def __call__(self) -> int:
        argv = command_line(self.job)
        log = Path(self.job.log)
        where = f"slurm job {os.environ.get('SLURM_JOB_ID') or os.environ.get('SUBMITIT_LOCAL_JOB_ID', '?')}"
        _log_line(log, _start_line(self.job, argv, where))
        code = None
        try:
            with open(log, "ab") as f:
                # the GPUs SLURM gave this job (not the driver's GPUS), where SLURM says which
                env = job_env(self.job, os.environ.get("CUDA_VISIBLE_DEVICES"))
                self._proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              env=env, cwd=self.job.cwd)
                # poll, not wait(): submitit's signal handler (checkpoint) must be able to wait for the
                # command, and a blocking wait() would hold the Popen's lock while the handler runs
                while (code := self._proc.poll()) is None:
                    time.sleep(0.5)
        finally:
            _log_line(log, _end_line(self.job, code))
        if code != 0:
            raise RuntimeError(f"{self.job.name} exited with code {code}: {last_error_line(log)} (log {log})")
        return code

    def checkpoint(self, *args, **kwargs):
        """Stop the command (SIGTERM, then SIGKILL after 60 s) and resubmit the same job."""
        from submitit.helpers import DelayedSubmission
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        _log_line(Path(self.job.log), f"[sweep] requeued {self.job.name} (preempted or near its time limit)")
        return DelayedSubmission(ShellJob(self.job))


def _submitit_executor(stage: str, options: LaunchOptions):
    try:
        import submitit
    except ImportError:
        raise SweepError("LAUNCHER=slurm needs submitit: pip install 'submitit>=1.5'") from None
    folder = submitit_folder(options.log_dir, stage)
    cluster = None if options.slurm_cluster == "slurm" else options.slurm_cluster
    if cluster is None and submitit.AutoExecutor.which() != "slurm":
        raise SweepError("LAUNCHER=slurm but no SLURM here (srun not found): run the driver on a SLURM "
                         "login node, or use LAUNCHER=parallel")
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    params = dict(name=f"hsi-{stage}", timeout_min=slurm_minutes(options.slurm_time),
                  gpus_per_node=options.slurm_gpus_per_job, tasks_per_node=1, nodes=1,
                  slurm_array_parallelism=options.slurm_array_parallelism,
                  slurm_additional_parameters=sbatch_options(options.slurm_extra))
    if options.slurm_partition:
        params["slurm_partition"] = options.slurm_partition
    executor.update_parameters(**params)
    return executor


ACTIVE_SLURM_STATES = frozenset({"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED",
                                  "RESIZING", "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT"})
SUBMITTED_NAME = "submitted.json"


def submitit_folder(log_dir: str | os.PathLike, stage: str) -> Path:
    """``<log_dir>/submitit/<stage>``: submitit's pickles and logs, and ``submitted.json`` (job ids)."""
    return Path(log_dir) / "submitit" / stage


def read_submitted(log_dir: str | os.PathLike, stage: str) -> dict[str, str]:
    """The submitit job id of each job name of the stage's last submissions ({} when none)."""
    try:
        record = json.loads((submitit_folder(log_dir, stage) / SUBMITTED_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in record.items()} if isinstance(record, dict) else {}


def slurm_job_state(folder: str | os.PathLike, job_id: str) -> str | None:
    """SLURM's state of a submitted job (``RUNNING``, ``PENDING``, ...; sacct), None when unknown."""
    try:
        import submitit
        return str(submitit.SlurmJob(folder=folder, job_id=job_id).state).split()[0]
    except Exception:           # no sacct here, or an unknown job
        return None


def _run_slurm(stage: str, jobs: Sequence[SweepJob], options: LaunchOptions, say) -> list[JobResult]:
    """Submit the jobs as one job array and wait; jobs still queued or running from an earlier
    submission (their id in ``submitted.json``, active in SLURM) are waited for, not submitted again."""
    import submitit
    from hsi.io.atomic import atomic_write_json
    executor = _submitit_executor(stage, options)
    folder = submitit_folder(options.log_dir, stage)
    root = str(Path(__file__).resolve().parents[1])   # the jobs unpickle hsi.sweep.ShellJob
    os.environ["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")] if p])
    if options.slurm_cluster == "slurm":
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)   # SLURM sets each job's own GPUs
    job_class = submitit.SlurmJob if options.slurm_cluster == "slurm" else submitit.LocalJob
    previous = read_submitted(options.log_dir, stage)
    handles, fresh = {}, []
    for job in jobs:
        job_id = previous.get(job.name)
        if job_id and slurm_job_state(folder, job_id) in ACTIVE_SLURM_STATES:
            handles[job.name] = job_class(folder=folder, job_id=job_id)
            say(f"[sweep] {stage}: {job.name} is still in SLURM as job {job_id}: waiting for it")
        else:
            fresh.append(job)
    if fresh:
        with executor.batch():
            submitted = [(job, executor.submit(ShellJob(job))) for job in fresh]
        handles.update({job.name: handle for job, handle in submitted})
        say(f"[sweep] {stage}: submitted {len(fresh)} job(s): "
            + ", ".join(f"{job.name}={handle.job_id}" for job, handle in submitted))
        atomic_write_json(folder / SUBMITTED_NAME, {**previous, **{n: h.job_id for n, h in handles.items()}})
    results = []
    for job in jobs:
        handle = handles[job.name]
        try:
            handle.result()
            code = 0
        except Exception as exc:      # the job failed, was cancelled, or timed out too often
            code = 1
            if not last_attempt(job.log):
                _log_line(Path(job.log), f"error: submitit job {handle.job_id}: {str(exc).strip()[-500:]}")
        results.append(_result(job, code))
        say(f"[sweep] {stage}: {job.name} {results[-1].state} (job {handle.job_id})")
    return results


# ------------------------------------------------------------------------------------ jobs files, CLI

JOB_KEYS = {f.name for f in dataclasses.fields(SweepJob)}


def read_jobs(path: str | os.PathLike) -> list[SweepJob]:
    """The jobs of a JSON-lines file (one object a line: name, argv, log, done_file, resumable, ...)."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise SweepError(f"{path}: cannot read the jobs file ({exc.strerror})") from None
    jobs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            unknown = set(record) - JOB_KEYS
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}")
            if not isinstance(record.get("argv"), list) or not record["argv"]:
                raise ValueError("argv must be a non-empty list of words")
            jobs.append(SweepJob(**{**record, "argv": tuple(str(a) for a in record["argv"]),
                                    "done_file": record.get("done_file") or None,
                                    "resumable": bool(record.get("resumable", False))}))
        except (ValueError, TypeError) as exc:
            raise SweepError(f"{path}:{number}: not a job ({exc}); expected "
                             '{"name": ..., "argv": [...], "log": ..., "done_file": ..., "resumable": false}') from None
    return jobs


def _env_int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise OptionError(f"{name} must be an integer, got {text!r}") from None


def options_from_env(env: Mapping[str, str] | None = None, log_dir: str = "sweep_logs") -> LaunchOptions:
    """``LaunchOptions`` from LAUNCHER, GPUS, MAX_PARALLEL, SLURM_PARTITION, SLURM_TIME, SLURM_GPUS_PER_JOB,
    SLURM_ARRAY_PARALLELISM, SLURM_EXTRA (and, for tests, SWEEP_SLURM_CLUSTER=local)."""
    env = os.environ if env is None else env
    default = LaunchOptions()
    return LaunchOptions(
        launcher=env.get("LAUNCHER", "").strip() or "local",
        gpus=tuple(env.get("GPUS", "").replace(",", " ").split()),
        max_parallel=_env_int(env, "MAX_PARALLEL", None),
        slurm_partition=env.get("SLURM_PARTITION", "").strip() or None,
        slurm_time=env.get("SLURM_TIME", "").strip() or default.slurm_time,
        slurm_gpus_per_job=_env_int(env, "SLURM_GPUS_PER_JOB", default.slurm_gpus_per_job),
        slurm_array_parallelism=_env_int(env, "SLURM_ARRAY_PARALLELISM", default.slurm_array_parallelism),
        slurm_extra=env.get("SLURM_EXTRA", ""),
        log_dir=log_dir,
        slurm_cluster=env.get("SWEEP_SLURM_CLUSTER", "").strip() or "slurm")


def report_failures(stage: str, results: Iterable[JobResult]) -> str:
    """The lines naming each failed job, its log and its last error line ("" when none failed)."""
    failed = [r for r in results if r.state == FAILED]
    if not failed:
        return ""
    lines = [f"[sweep] stage {stage}: {len(failed)} job(s) failed:"]
    lines += [f"  {r.name} (exit {r.returncode}): {r.last_error or '(no output)'}\n    log: {r.log}" for r in failed]
    return "\n".join(lines)


def _handle_termination() -> None:
    """SIGTERM/SIGHUP end the runner like Ctrl-C, so the running jobs are stopped and logged."""
    def stop(signum, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m hsi.sweep", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a stage's jobs file with the launcher of LAUNCHER (env)")
    r.add_argument("--stage", required=True, help="stage name (generation, training, validation, ...)")
    r.add_argument("--jobs", required=True, help="JSON-lines file of the stage's jobs")
    r.add_argument("--log_dir", default=None, help="submitit's folder (default: next to the jobs file)")
    e = sub.add_parser("exec", help="run one job now (LAUNCHER=local in scripts/lib_sweep.sh)")
    e.add_argument("--name", required=True)
    e.add_argument("--log", required=True)
    e.add_argument("--done_file", default="")
    e.add_argument("--resumable", default="0", choices=("0", "1", "True", "False", "true", "false"))
    e.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the command and its arguments")
    a = ap.parse_args(argv)
    _handle_termination()
    if a.command == "exec":
        cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
        if not cmd:
            raise SweepError("exec needs a command after --")
        job = SweepJob(a.name, tuple(cmd), a.log, a.done_file or None, a.resumable in ("1", "True", "true"))
        if is_done(job):
            print(f"[sweep] {job.name}: already finished ({job.done_file}): skipped", flush=True)
            return 0
        result = run_job_teed(job)
        if result.state == FAILED:
            print(report_failures("local", [result]), file=sys.stderr)
        return 0 if result.state != FAILED else (result.returncode or 1)
    jobs = read_jobs(a.jobs)
    options = options_from_env(log_dir=a.log_dir or str(Path(a.jobs).resolve().parent))
    results = run_stage(a.stage, jobs, options)
    failures = report_failures(a.stage, results)
    if failures:
        print(failures, file=sys.stderr)
        return 1
    print(f"[sweep] stage {a.stage}: all {len(results)} job(s) done", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
