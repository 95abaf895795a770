"""The cost of the paper: GPU-hours and wall time of each paper table's training runs.

The runs come from the per-table drivers themselves: each runs with ``LAUNCHER=plan`` (nothing runs;
``scripts/lib_sweep.sh`` lists the jobs of each stage), then every training job prints its trainer's
command line (``PRINT_COMMAND=True``), which the trainer's own parser reads: method, data kind
(``no_metamer`` | ``fixed`` | ``onthefly`` | ``codesign``), iterations and batch, and the engine flags
(bf16, compile) that choose which measured rate applies.

Rates (samples/s, one GPU) come from ``bench/train_throughput.py`` records; nothing is filled in:
* the toolkit: the ``loop`` record of the run's method, engine mode and data (no-metamer and MST++ recipe
  runs read on-disk pairs as fixed-metamer runs do: the ``fixed`` rate; a co-design run: the on-the-fly
  loop times the measured co-design / fixed-PSF step ratio of its method);
* the paper's code: the toolbox's fp32 step (``step`` record, mode ``toolbox``; on an H200 without one,
  the toolbox anchors ``TOOLBOX_ANCHORS_H200``), for on-the-fly runs at most the paper's on-the-fly
  trainer as measured for MST++ (its CPU rendering bounds it); co-design is not in the paper's code.
A run without a rate is "not measured": left out of the sums, and counted.

Wall time on G GPUs: one run per GPU (``LAUNCHER=parallel`` or ``slurm``), the runs packed longest
first onto the GPU free first, no queueing, start-up, validation or data generation.
"""
from __future__ import annotations

import argparse
import functools
import heapq
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from hsi.errors import OptionError, ToolkitError

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PaperTable:
    """A paper table and the driver (``scripts/<driver>``) that trains its runs."""
    label: str
    driver: str


PAPER_TABLES: tuple[PaperTable, ...] = (
    PaperTable("Table II", "table2_less_data.sh"),
    PaperTable("Table III", "table3_unseen_data.sh"),
    PaperTable("Table IV", "table4_cross_dataset.sh"),
    PaperTable("Table V", "table5_metamer_validation.sh"),
    PaperTable("Tables VI/VII", "table6_7_metamer_training.sh"),
    PaperTable("Finding 3: encodings", "finding3_encodings.sh"),
    PaperTable("Finding 3: co-design", "finding3_codesign.sh"),
)

TOOLBOX_ANCHORS_H200: dict[str, float] = {
    "mst_plus_plus": 216.7, "mst": 116.9, "hscnn_plus": 122.4, "hrnet": 282.6, "awan": 158.4, "restormer": 93.5,
    "mprnet": 184.8, "mirnet": 414.8, "hinet": 656.0, "edsr": 285.2, "hdnet": 159.9}
"""samples/s of the upstream MST++ toolbox models' fp32 step (forward, MRAE, backward, Adam; batch 20, crop
128, random data) on one NVIDIA H200 (the anchors of issue 16, torch 2.11)."""
PAPER_ONTHEFLY_LOOP_H200 = 111.0
"""samples/s of the paper code's on-the-fly trainer as shipped (MST++, fp32, 2 workers rendering on the CPU;
one H200): its data path, not the network, bounds it."""

TRAINERS: dict[str, str] = {
    "train_RGB2HS_no_metamer.py": "no_metamer", "train_RGB2HS_fixed_metamer.py": "fixed",
    "train_RGB2HS_onthefly_metamer.py": "onthefly", "train_RGB2HS_codesign.py": "codesign", "train.py": "no_metamer"}
"""The data kind each trainer script trains on (``train.py``: the MST++ recipe, originals from disk)."""
BENCH_DATA = {"no_metamer": "fixed", "fixed": "fixed", "onthefly": "onthefly", "codesign": "onthefly"}
"""The ``data`` of the ``bench/train_throughput.py`` loop record that gives a data kind's rate."""


class CostError(ToolkitError):
    """A driver that cannot be planned, or throughput records that cannot be read."""


@dataclass(frozen=True)
class PlannedRun:
    """One training run of a driver: ``iterations`` steps of ``batch_size`` patches; ``mode``: the
    ``bench/train_throughput.py`` mode of its engine flags (``fp32``, ``amp``, ``amp+compile``,
    ``amp+compile-ro``; None: no measured mode); ``command``: the trainer's command line."""
    table: str
    name: str
    trainer: str
    method: str
    data: str
    iterations: int
    batch_size: int
    mode: str | None
    data_on_device: str
    command: tuple[str, ...] = field(repr=False, default=())

    @property
    def samples(self) -> int:
        """Training samples (patches) the run processes."""
        return self.iterations * self.batch_size


@dataclass(frozen=True)
class Rate:
    """A training rate in samples/s on one GPU, and where it comes from."""
    samples_per_s: float
    source: str


# --- the runs of a driver --------------------------------------------------------------------------

def engine_mode(amp: bool, compile_: bool, compile_mode: str) -> str | None:
    """The bench mode of a run's engine flags, for one run per GPU (the engine's ``resolve_compile_mode``:
    ``auto`` = CUDA graphs there); None for a combination the bench does not measure."""
    from hsi.train.engine import resolve_compile_mode
    if not compile_:
        return "amp" if amp else "fp32"
    if not amp:
        return None
    return {"reduce-overhead": "amp+compile-ro", "default": "amp+compile"}.get(
        resolve_compile_mode(compile_mode, "cuda", 1))


@functools.lru_cache(maxsize=1)
def _mstpp_parser() -> argparse.ArgumentParser:
    spec = importlib.util.spec_from_file_location("mstpp_train", ROOT / "MST_plus_plus_code" / "train_code" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_parser()


def parse_trainer_command(table: str, name: str, argv: Sequence[str]) -> PlannedRun:
    """A ``PlannedRun`` from a trainer's command line (``[python, script, flags...]``), read with the
    trainer's own flags and defaults."""
    from hsi.cli_types import str2bool
    from hsi.train.cli import rgb2hs_parser
    script = next((Path(w).name for w in argv if Path(w).name in TRAINERS), None)
    if script is None:
        raise CostError(f"{table} {name}: no known trainer in {' '.join(argv)!r} (known: {', '.join(TRAINERS)})")
    flags = list(argv[[Path(w).name for w in argv].index(script) + 1:])
    data = TRAINERS[script]
    if script == "train.py":
        args, _ = _mstpp_parser().parse_known_args(flags)
        iterations = args.end_epoch * args.iterations_per_epoch
    else:
        args, extra = rgb2hs_parser("", "onthefly" if data == "codesign" else data).parse_known_args(flags)
        iterations = args.num_epochs * args.per_epoch_iteration
        if data == "onthefly":
            on = argparse.ArgumentParser(add_help=False)
            on.add_argument("--on_the_fly", type=str2bool, default=True)
            data = "onthefly" if on.parse_known_args(extra)[0].on_the_fly else "no_metamer"
    return PlannedRun(table, name, script, args.method, data, iterations, args.batch_size,
                      engine_mode(args.amp, args.compile, args.compile_mode), args.data_on_device, tuple(argv))


def plan_env(base: Mapping[str, str], work: Path) -> dict[str, str]:
    """The environment of a planning driver: ``base`` (the user's variables; SCALE default paper, PY
    default this interpreter) with ``LAUNCHER=plan``, the driver ending after its training stage
    (``SWEEP_STOP_AFTER``) and throw-away ``RESULTS`` and ``SWEEP_DIR`` under ``work``."""
    env = {k: v for k, v in base.items() if k not in ("PRINT_COMMAND", "PRINT_RUN_DIR")}
    env.update(LAUNCHER="plan", SWEEP_STOP_AFTER="training", SCALE=env.get("SCALE", "paper"),
               PY=env.get("PY", sys.executable), RESULTS=str(work / "results"), SWEEP_DIR=str(work / "sweep"))
    return env


def _trainer_argv(job, env: Mapping[str, str]) -> list[str]:
    res = subprocess.run(list(job.argv), cwd=job.cwd or ROOT, env={**env, "PRINT_COMMAND": "True"},
                         capture_output=True, text=True, timeout=120)
    lines = [line for line in res.stdout.splitlines() if line.startswith("[")]
    if res.returncode != 0 or not lines:
        raise CostError(f"training job {job.name}: PRINT_COMMAND=True printed no command (exit {res.returncode}): "
                        f"{res.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def plan_driver(table: PaperTable, env: Mapping[str, str], work: Path, workers: int = 2) -> list[PlannedRun]:
    """The training runs ``scripts/<table.driver>`` queues with the variables of ``env`` (``plan_env``),
    without running anything; ``work``: a scratch folder (the same for all tables, so that runs the
    tables share have the same command line)."""
    from hsi.sweep import read_jobs
    penv = {**plan_env(env, work), "SWEEP_DIR": str(work / "sweep" / Path(table.driver).stem)}
    res = subprocess.run(["bash", str(ROOT / "scripts" / table.driver)], cwd=ROOT, env=penv,
                         capture_output=True, text=True, timeout=1800)
    jobs_file = Path(penv["SWEEP_DIR"]) / "training.jsonl"
    if res.returncode != 0 or not jobs_file.exists():
        raise CostError(f"scripts/{table.driver} under LAUNCHER=plan failed (exit {res.returncode}): "
                        f"{(res.stderr or res.stdout).strip()[-800:]}")
    jobs = read_jobs(jobs_file)
    with ThreadPoolExecutor(max(1, workers)) as pool:
        argvs = list(pool.map(lambda j: _trainer_argv(j, penv), jobs))
    return [parse_trainer_command(table.label, j.name, a) for j, a in zip(jobs, argvs)]


def plan_tables(tables: Sequence[PaperTable], env: Mapping[str, str] | None = None,
                workers: int = 2) -> tuple[dict[str, list[PlannedRun]], dict[str, str]]:
    """``plan_driver`` of each table (``env`` default: this process's environment): the runs by table
    label, and for a table that cannot be planned, why (its driver's error)."""
    plans, failed = {}, {}
    with tempfile.TemporaryDirectory(prefix="hsi-plan-") as tmp:
        base = dict(os.environ if env is None else env)
        for t in tables:
            try:
                plans[t.label] = plan_driver(t, base, Path(tmp), workers)
            except CostError as exc:
                failed[t.label] = str(exc)
    return plans, failed


# --- rates --------------------------------------------------------------------------------------------

def read_throughput(paths: Iterable[str | os.PathLike]) -> list[dict]:
    """The records of ``bench/train_throughput.py`` outputs: its ``--out`` JSON (``{"records": [...]}``)
    or JSON lines (one record a line, as in ``docs/benchmarks/``)."""
    records = []
    for path in paths:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise CostError(f"{path}: cannot read the throughput records ({exc.strerror})") from None
        try:
            data = json.loads(text)
            records += data["records"] if isinstance(data, dict) else list(data)
        except (json.JSONDecodeError, KeyError):
            try:
                records += [json.loads(line) for line in text.splitlines() if line.strip()]
            except json.JSONDecodeError as exc:
                raise CostError(f"{path}: neither a JSON file with 'records' nor JSON lines ({exc})") from None
    return records


def one_device(records: Sequence[dict], device: str | None = None) -> tuple[str, list[dict]]:
    """The records of one GPU: ``device`` (a part of its name) or the only one the records hold."""
    names = sorted({r.get("device", "?") for r in records})
    chosen = [n for n in names if device is None or device.lower() in n.lower()]
    if len(chosen) != 1:
        raise OptionError(f"the throughput records hold devices {names}: choose one with --device"
                          if len(chosen) > 1 else f"no throughput record of a device {device!r} (have {names})")
    return chosen[0], [r for r in records if r.get("device") == chosen[0]]


@dataclass(frozen=True)
class RateBook:
    """The measured rates of one device (``records``), with the toolbox anchors when it is an H200
    (``anchors``); ``data_on_device``: the placement taken for runs with ``--data_on_device auto``."""
    device: str
    records: tuple[dict, ...]
    anchors: bool = True
    data_on_device: bool = True

    def _last(self, **want) -> dict | None:
        """The last record matching ``want``; a record without ``metamer_mode`` was measured with ``clip``
        (``bench/train_throughput.py`` writes the key for other on-the-fly metamers only)."""
        hits = [r for r in self.records
                if all(r.get(k, "clip" if k == "metamer_mode" else None) == v for k, v in want.items())]
        return hits[-1] if hits else None

    def toolkit(self, run: PlannedRun) -> Rate | None:
        """The toolkit loop's rate of ``run`` (None: not measured)."""
        on = {"on": True, "off": False}.get(run.data_on_device, self.data_on_device)
        if run.mode is None:
            return None
        loop = self._last(part="loop", method=run.method, mode=run.mode, data=BENCH_DATA[run.data], data_on_device=on,
                          metamer_mode="clip")      # the paper's drivers' on-the-fly metamers
        if loop is None:
            return None
        where = "scenes on the GPU" if on else "DataLoader workers"
        source = f"loop, {run.mode}, {BENCH_DATA[run.data]} data, {where}"
        if run.data != "codesign":
            return Rate(loop["samples_per_s"], source)
        ratio = self._last(part="codesign", method=run.method)
        if ratio is None:
            return None
        return Rate(loop["samples_per_s"] / ratio["ratio"], source + f" / co-design step ratio {ratio['ratio']:g}")

    def paper_code(self, run: PlannedRun) -> Rate | None:
        """The paper's code's rate of ``run`` (None: not measured, or co-design, which it lacks)."""
        if run.data == "codesign":
            return None
        step = self._last(part="step", method=run.method, mode="toolbox")
        if step is not None:
            rate = Rate(step["samples_per_s"], "toolbox fp32 step, measured")
        elif self.anchors and "H200" in self.device and run.method in TOOLBOX_ANCHORS_H200:
            rate = Rate(TOOLBOX_ANCHORS_H200[run.method], "toolbox fp32 step, H200 anchor")
        else:
            return None
        if run.data == "onthefly" and "H200" in self.device and rate.samples_per_s > PAPER_ONTHEFLY_LOOP_H200:
            return Rate(PAPER_ONTHEFLY_LOOP_H200, "paper's on-the-fly trainer (CPU rendering), H200 anchor")
        return rate


# --- hours and wall time -----------------------------------------------------------------------------

def run_hours(run: PlannedRun, rate: Rate) -> float:
    """GPU-hours of ``run`` at ``rate``: iterations x batch / samples_per_s / 3600."""
    return run.samples / rate.samples_per_s / 3600.0


def longest_first_makespan(hours: Sequence[float], gpus: int) -> float:
    """Hours until the last run ends when runs of these lengths (h) go, longest first, each onto the GPU
    that frees up first, one run per GPU (``gpus`` >= 1)."""
    if gpus < 1:
        raise OptionError(f"the GPU count must be at least 1, got {gpus}")
    free = [0.0] * min(gpus, max(1, len(hours)))
    for h in sorted(hours, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + h)
    return max(free) if hours else 0.0


@dataclass(frozen=True)
class Estimate:
    """The cost of a set of runs at one kind of rate: ``gpu_hours`` of the ``covered`` runs, the runs
    with no measured rate (``not_covered``) and those the code lacks (``not_applicable``: co-design in
    the paper's code), ``wall_hours[G]`` on G GPUs."""
    gpu_hours: float
    covered: int
    not_covered: int
    wall_hours: dict[int, float]
    not_applicable: int = 0


def estimate(runs: Sequence[PlannedRun], rate_of: Callable[[PlannedRun], Rate | None],
             gpu_counts: Sequence[int], lacks: Callable[[PlannedRun], bool] = lambda r: False) -> Estimate:
    """GPU-hours and packed wall time of ``runs`` at ``rate_of`` (runs without a rate are left out;
    ``lacks``: runs counted as not applicable rather than not measured)."""
    hours = [run_hours(r, rate) for r in runs if (rate := rate_of(r)) is not None]
    absent = sum(1 for r in runs if lacks(r))
    return Estimate(sum(hours), len(hours), len(runs) - len(hours) - absent,
                    {g: longest_first_makespan(hours, g) for g in gpu_counts}, absent)


def distinct(runs: Iterable[PlannedRun]) -> list[PlannedRun]:
    """The runs with distinct trainer command lines (the tables share their no-metamer baselines)."""
    seen, out = set(), []
    for r in runs:
        if r.command not in seen:
            seen.add(r.command)
            out.append(r)
    return out


# --- the report ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TableCost:
    """The cost of one paper table's runs (or of all tables' distinct runs): with the toolkit's loop and
    with the paper's code, and the GPU-hours of the runs measured both ways (``both``)."""
    label: str
    runs: tuple[PlannedRun, ...]
    toolkit: Estimate
    paper: Estimate
    both_toolkit_h: float
    both_paper_h: float


def table_cost(label: str, runs: Sequence[PlannedRun], book: RateBook, gpu_counts: Sequence[int]) -> TableCost:
    """``TableCost`` of ``runs`` with the rates of ``book``."""
    both = [r for r in runs if book.toolkit(r) is not None and book.paper_code(r) is not None]
    return TableCost(label, tuple(runs), estimate(runs, book.toolkit, gpu_counts),
                     estimate(runs, book.paper_code, gpu_counts, lambda r: r.data == "codesign"),
                     sum(run_hours(r, book.toolkit(r)) for r in both), sum(run_hours(r, book.paper_code(r)) for r in both))


def _hours(h: float, partial: bool) -> str:
    text = f"{h:,.0f}" if h >= 100 else f"{h:.1f}"
    return ("≥ " if partial else "") + text


def _none_cell(e: Estimate) -> str:
    return "n/a (co-design)" if e.not_covered == 0 and e.not_applicable else "not measured"


def _gpu_hours_cell(e: Estimate) -> str:
    if e.covered == 0:
        return _none_cell(e)
    notes = [f"{e.not_covered} not measured"] * bool(e.not_covered) + [f"{e.not_applicable} co-design n/a"] * bool(
        e.not_applicable)
    return _hours(e.gpu_hours, e.not_covered > 0) + (f" ({', '.join(notes)})" if notes else "")


def _wall_cell(e: Estimate, g: int) -> str:
    return _none_cell(e) if e.covered == 0 else _hours(e.wall_hours[g], e.not_covered > 0)


def _schedule(runs: Sequence[PlannedRun]) -> str:
    kinds = sorted({(r.iterations, r.batch_size) for r in runs})
    return ", ".join(f"{i:,} x {b}" for i, b in kinds)


def summary_rows(costs: Sequence[TableCost], gpu_counts: Sequence[int]) -> list[str]:
    """Markdown: runs, GPU-hours and wall time per table, both ways."""
    walls = " | ".join(f"{g} GPU{'s' if g > 1 else ''}" for g in gpu_counts)
    rows = ["| table | training runs | iterations x batch | GPU-h, paper's code | GPU-h, toolkit | speed-up "
            f"(runs measured both ways) | wall h, paper's code: {walls} | wall h, toolkit: {walls} |",
            "|---|---:|---|---:|---:|---:|" + "---:|" * 2 * len(gpu_counts)]
    for c in costs:
        speed = f"{c.both_paper_h / c.both_toolkit_h:.2f}x" if c.both_toolkit_h > 0 else "not measured"
        rows.append(f"| {c.label} | {len(c.runs)} | {_schedule(c.runs)} | {_gpu_hours_cell(c.paper)} | "
                    f"{_gpu_hours_cell(c.toolkit)} | {speed} | "
                    + " | ".join(_wall_cell(c.paper, g) for g in gpu_counts) + " | "
                    + " | ".join(_wall_cell(c.toolkit, g) for g in gpu_counts) + " |")
    return rows


def run_groups(costs: Sequence[TableCost], methods: Sequence[str] | None = None) -> list[tuple[str, list[PlannedRun]]]:
    """The runs of each table grouped by method, data kind and engine mode (one rate per group)."""
    out = []
    for c in costs:
        groups: dict[tuple, list[PlannedRun]] = {}
        for r in c.runs:
            if methods is None or r.method in methods:
                groups.setdefault((r.method, r.data, r.mode), []).append(r)
        out += [(c.label, runs) for runs in groups.values()]
    return out


def group_record(label: str, runs: Sequence[PlannedRun], book: RateBook) -> dict:
    """A group of ``run_groups`` as JSON: its runs, schedule, rates (samples/s) and GPU-hours both ways."""
    first, rec = runs[0], {"table": label, "method": runs[0].method, "data": runs[0].data, "mode": runs[0].mode,
                           "runs": len(runs), "samples": sorted({r.samples for r in runs})}
    for key, rate in (("toolkit", book.toolkit(first)), ("paper_code", book.paper_code(first))):
        rec[key] = None if rate is None else {"samples_per_s": rate.samples_per_s, "source": rate.source,
                                              "gpu_hours": sum(run_hours(r, rate) for r in runs)}
    return rec


def method_rows(costs: Sequence[TableCost], book: RateBook, methods: Sequence[str] | None = None) -> list[str]:
    """Markdown: per table, method and data kind the runs, rates (samples/s) and GPU-hours both ways."""
    rows = ["| table | method | data | engine | runs | toolkit samples/s | GPU-h, toolkit | paper's code samples/s "
            "| GPU-h, paper's code |", "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for label, runs in run_groups(costs, methods):
        g = group_record(label, runs, book)
        cells = []
        for key in ("toolkit", "paper_code"):
            if g[key] is None:
                cells += ["n/a (no co-design)" if g["data"] == "codesign" and key == "paper_code" else "not measured", "-"]
            else:
                cells += [f"{g[key]['samples_per_s']:g}", _hours(g[key]["gpu_hours"], False)]
        rows.append(f"| {label} | {g['method']} | {g['data']} | {g['mode'] or 'unmeasured flags'} | {g['runs']} | "
                    + " | ".join(cells) + " |")
    return rows


def rate_sources(costs: Sequence[TableCost], book: RateBook) -> list[str]:
    """Markdown bullets: where each rate used comes from."""
    seen: dict[str, set] = {}
    for c in costs:
        for r in c.runs:
            for rate in (book.toolkit(r), book.paper_code(r)):
                if rate is not None:
                    seen.setdefault(rate.source, set()).add(r.method)
    return [f"- {src}: {', '.join(sorted(m))}" for src, m in sorted(seen.items())]


def missing_rates(costs: Sequence[TableCost], book: RateBook) -> list[str]:
    """Markdown: the methods whose rates are missing, and the measurement that fills them."""
    runs = [r for c in costs for r in c.runs]
    loop = sorted({r.method for r in runs if book.toolkit(r) is None and r.data != "codesign"})
    codesign = sorted({r.method for r in runs if r.data == "codesign" and book.toolkit(r) is None})
    step = sorted({r.method for r in runs if book.paper_code(r) is None and r.data != "codesign"})
    modes = sorted({r.mode for r in runs if r.mode is not None})
    lines = [f"- no toolkit loop rate ({', '.join(modes)}): {', '.join(loop) or 'none'}",
             f"- no co-design step ratio: {', '.join(codesign) or 'none'}",
             f"- no toolbox step (nor anchor): {', '.join(step) or 'none'}"]
    if loop or step or codesign:
        lines += ["", "On a GPU (a SYNTH dataset with its fixed-metamer data, as `bench/gpu_check.sh` makes it), "
                  "measure them and run this command again with the new file added to `--records`:", "", "```bash",
                  "python bench/train_throughput.py --dataset_name SYNTH --psf_name double_gauss_50mm_F1.8 "
                  f"--methods {' '.join(sorted(set(loop) | set(step)))} --modes toolbox {' '.join(modes)} "
                  "--parts step loop --data_on_device on --out results/bench/train_throughput.json"]
        if codesign:
            lines.append(f"python bench/train_throughput.py --parts codesign --modes fp32 --methods {' '.join(codesign)} "
                         "--out results/bench/codesign_throughput.json")
        lines.append("```")
    return lines


def cost_tables(plans: Mapping[str, Sequence[PlannedRun]], book: RateBook,
                gpu_counts: Sequence[int]) -> list[TableCost]:
    """``TableCost`` of each table, then of all tables' distinct runs."""
    costs = [table_cost(label, runs, book, gpu_counts) for label, runs in plans.items()]
    every = distinct(r for runs in plans.values() for r in runs)
    if len(plans) > 1:
        costs.append(table_cost("all tables (shared runs once)", every, book, gpu_counts))
    return costs


@dataclass(frozen=True)
class PaperCostOptions:
    """What ``paper_cost`` plans and with which rates.

    Attributes:
        records: ``bench/train_throughput.py`` outputs (JSON or JSON lines).
        device: part of the GPU name to take the records of (None: the only one they hold).
        drivers: the tables' drivers to plan (file names of ``PAPER_TABLES``; empty: all).
        gpu_counts: GPU counts of the wall-time columns.
        data_on_device: rate of runs with ``--data_on_device auto``: scenes on the GPU (True) or workers.
        anchors: use the toolbox anchors (H200 only) where the records lack a toolbox step.
        workers: processes printing the trainers' command lines at once.
    """
    records: tuple[str, ...]
    device: str | None = None
    drivers: tuple[str, ...] = ()
    gpu_counts: tuple[int, ...] = (1, 8, 64)
    data_on_device: bool = True
    anchors: bool = True
    workers: int = 2


PLAN_VARIABLES = ("SCALE", "DATASET_PATH", "DATASETS", "METHODS", "NUM_EPOCHS", "PER_EPOCH_ITERATION", "BATCH_SIZE",
                  "ENGINE_ARGS", "PERCENTS", "MODES", "SETTINGS", "PSFS", "ZOO")
"""The drivers' variables that change a plan (shown in the report's command line when set)."""

ASSUMPTIONS = (
    "Training only: validation and data generation are left out (not measured at the paper's scale; "
    "generating one ARAD_1K-size scene takes 0.05-0.06 s on an H200, README: Generating metamer data).",
    "One run per GPU (`LAUNCHER=parallel` or `slurm`, `SLURM_GPUS_PER_JOB=1`), every run of a table's "
    "training stage at once; the wall time packs the runs longest first onto the GPU free first, without "
    "queueing, start-up or preemption; all GPUs are the card the rates were measured on.",
    "The toolkit: the engine loop's measured samples/s for the run's method, engine flags (`ENGINE_ARGS`) "
    "and data; no-metamer and MST++-recipe runs read on-disk pairs like fixed-metamer runs (the `fixed` "
    "rate); `--data_on_device auto` taken as scenes on the GPU.",
    "The paper's code: the MST++ toolbox's fp32 step (measured on the card, else the H200 anchors of issue 16), "
    "for on-the-fly runs at most the 111 samples/s its on-the-fly trainer reaches with MST++ on an H200 "
    "(its CPU rendering bounds it); data loading is not counted and the upstream loop runs more iterations "
    "than the budget (395 576 for ARAD_1K), so its hours are a lower bound. Co-design is not in the paper's code.",
    "A method without a measured rate is 'not measured' and left out of the sums; a sum or wall time "
    "marked '≥' leaves such runs out. The last row packs the distinct runs of all tables together (the "
    "no-metamer baselines of Tables III, IV and V are the same runs).",
)


def planning_command(env: Mapping[str, str], argv: Sequence[str]) -> str:
    """The command line of a report: the plan variables set in ``env``, then ``python bench/paper_cost.py``."""
    import shlex
    sets = [f"{k}={shlex.quote(env[k])}" for k in PLAN_VARIABLES if k in env]
    return " ".join([*sets, "python", "bench/paper_cost.py", *map(shlex.quote, argv)])


def paper_cost(opts: PaperCostOptions, env: Mapping[str, str] | None = None,
               command: str = "") -> tuple[str, dict]:
    """The cost of the paper's tables as Markdown (``command``: the command line shown), and the record
    behind it (runs, rates, estimates)."""
    known = {t.driver: t for t in PAPER_TABLES}
    bad = [d for d in opts.drivers if d not in known]
    if bad:
        raise OptionError(f"unknown drivers {bad}; the paper's: {', '.join(known)}")
    device, records = one_device(read_throughput(opts.records), opts.device)
    book = RateBook(device, tuple(records), opts.anchors, opts.data_on_device)
    tables = [known[d] for d in opts.drivers] if opts.drivers else list(PAPER_TABLES)
    plans, failed = plan_tables(tables, env, opts.workers)
    costs = cost_tables(plans, book, opts.gpu_counts)
    not_planned = [f"- **{label} not planned**: {why.splitlines()[-1]}" for label, why in failed.items()]
    lines = ["# The cost of the paper's tables", "", "```bash", command, "```", "",
             f"Rates of: {device} ({', '.join(map(str, opts.records))}).", "",
             *[f"- {a}" for a in ASSUMPTIONS], "", "## GPU-hours and wall time per table", "",
             *summary_rows(costs, opts.gpu_counts), "", *not_planned, *([""] if not_planned else []),
             "## Per method", "",
             *method_rows(costs[:len(plans)], book), "", "## Where the rates come from", "",
             *rate_sources(costs, book), "", "## Missing rates", "", *missing_rates(costs, book)]
    record = {"device": device, "options": opts.__dict__, "planning_command": command, "not_planned": failed,
              "tables": [{"label": c.label, "runs": len(c.runs), "toolkit": c.toolkit.__dict__,
                          "paper_code": c.paper.__dict__, "both_toolkit_h": c.both_toolkit_h,
                          "both_paper_h": c.both_paper_h} for c in costs],
              "groups": [group_record(label, runs, book) for label, runs in run_groups(costs[:len(plans)])]}
    return "\n".join(lines) + "\n", record
