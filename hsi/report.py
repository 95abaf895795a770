"""The report step: result folders -> the paper's tables (Markdown, LaTeX, CSV) and figures (PNG).

Inputs, found recursively under the given roots:

* validation runs (``RGB2HS/validate_RGB2HS.py``): ``<run>/summary.json`` with a ``tag``
  ``"<table>/<column>"`` (e.g. ``table5/metamer``), the method, the validation dataset and the mean
  metrics (MRAE, RMSE, PSNR in dB, SAM in radians), plus ``per_image.csv`` and, with ``--save_recon``,
  the reconstructions ``<scene>_{std|metamer}.mat``;
* training runs (the engine of ``hsi.train``): ``config.json``, ``scalars.csv`` and, once finished,
  ``summary.json``.

Outputs under ``out``: per table ``<table>.md`` / ``.tex`` (booktabs, best value per column in bold) /
``.csv`` (tidy: one row per table, dataset, row, column, metric); ``all_tables.csv``;
``training_runs.{md,csv}``; ``figures/*.png``; ``index.md`` linking everything; ``report.json``
(provenance and the list of source files). Every file is written atomically.

The report works on partial results: missing runs are gaps (``–``), unreadable files are skipped with
a warning, unfinished training runs show their progress.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from hsi.io import atomic_path, atomic_write_json, atomic_write_text, provenance, read_mat_cube, read_rgb
from hsi.models import METHODS

LOG = logging.getLogger("hsi.report")

METRICS = ("MRAE", "RMSE", "PSNR", "SAM")
HIGHER_IS_BETTER = frozenset({"PSNR"})
METRIC_DIGITS = {"MRAE": 4, "RMSE": 4, "PSNR": 2, "SAM": 4}
"""Printed decimals per metric (those of the validation script's output line)."""
METRIC_UNITS = {"MRAE": "", "RMSE": "", "PSNR": "dB", "SAM": "rad"}
GAP = "–"
FORMATS = ("md", "tex", "csv")
MRAE_EPS = 1e-6
"""Denominator offset of the per-pixel MRAE maps (the paper's, ``hsi.metrics.EPSILON``)."""

METHOD_LABELS = {
    "mst_plus_plus": "MST++", "mst": "MST", "mirnet": "MIRNet", "hinet": "HINet", "mprnet": "MPRNet",
    "restormer": "Restormer", "edsr": "EDSR", "hdnet": "HDNet", "hrnet": "HRNet", "hscnn_plus": "HSCNN+",
    "awan": "AWAN", "hysat": "HySAT", "ssthyper": "SSTHyper", "msfn": "MSFN", "hprn": "HPRN", "ssrnet": "SSRNet",
    "gmsr": "GMSR",
}
"""Display names of the zoo's methods (the paper's spelling); CSV files keep the CLI names."""

PAPER_DATASETS = ("ARAD_1K", "CAVE", "ICVL", "KAUST")


# ------------------------------------------------------------------------------------ table registry
@dataclass(frozen=True)
class TableSpec:
    """How one of the paper's tables is laid out.

    Attributes:
        key: the table part of the tag (``table5`` in ``table5/metamer``).
        title: the paper's title.
        measures: one line: what the table measures.
        columns: column ids in the paper's order; a column that is not listed, or that only starts
            with a listed id followed by ``_`` (``double_gauss_50mm_F1.8`` under ``double_gauss``), is
            placed after the listed ones / next to its prefix.
        labels: display names of columns (Markdown and LaTeX); CSV keeps the ids.
        split_by_dataset: one sub-table per validation dataset (False for Table IV, whose columns
            already name the datasets).
        psf_plot: draw the error-against-PSF figure for this table.
    """

    key: str
    title: str
    measures: str
    columns: tuple[str, ...] = ()
    labels: dict = field(default_factory=dict)
    split_by_dataset: bool = True
    psf_plot: bool = False


def _table6_7_columns() -> tuple[str, ...]:
    return tuple(f"{mode}_{setting}_{valid}" for mode in ("no", "fixed", "onthefly")
                 for setting in ("clean", "noisy_aberrated") for valid in ("original", "metamer"))


def _table6_7_labels() -> dict[str, str]:
    mode = {"no": "no metamer", "fixed": "fixed", "onthefly": "on-the-fly"}
    setting = {"clean": "clean", "noisy_aberrated": "noise+DG"}
    out = {}
    for col in _table6_7_columns():
        m, rest = col.split("_", 1)
        s, v = rest.rsplit("_", 1)
        out[col] = f"{mode[m]} / {setting[s]} / {v}"
    return out


TABLES: dict[str, TableSpec] = {s.key: s for s in [
    TableSpec("table2", "Table II: training with less data",
              "Accuracy of networks trained on 100 %, 50 % or 20 % of the training scenes "
              "(overfitting to limited scene content).",
              ("percent100", "percent50", "percent20"),
              {"percent100": "100 %", "percent50": "50 %", "percent20": "20 %"}),
    TableSpec("table3", "Table III: validation on unseen, slightly modified data",
              "Pretrained networks on RGB rendered with other nuisance parameters: noiseless JPEG Q65, "
              "noiseless lossless PNG, Poisson noise (npe 1000) + double-Gauss aberration in PNG.",
              ("jpg_q65", "png", "png_npe1000_dg"),
              {"jpg_q65": "JPEG Q65", "png": "PNG", "png_npe1000_dg": "PNG + npe 1000 + DG"}),
    TableSpec("table4", "Table IV: cross-dataset validation",
              "Networks trained on one dataset (left of ->) and validated on another (right of ->).",
              tuple(f"{a}->{b}" for a in PAPER_DATASETS for b in PAPER_DATASETS), split_by_dataset=False),
    TableSpec("table5", "Table V: validation with metamers",
              "Pretrained networks on the original RGB and on the RGB of alpha = 0 metamers "
              "(other spectra, same camera response).",
              ("original", "metamer")),
    TableSpec("table6_7", "Tables VI and VII: training with metamers",
              "Networks trained with no, fixed (alpha = 0 on disk) or on-the-fly (alpha ~ U(-1, 2)) metamers, "
              "without (clean) and with noise + double-Gauss aberration, validated on originals and metamers.",
              _table6_7_columns(), _table6_7_labels()),
    TableSpec("finding3", "Finding 3: the aberration advantage and spectral encoding",
              "Networks trained and validated with different PSFs / spectral encodings in front of the sensor.",
              ("none", "double_gauss", "grating", "diffraction_rotation", "singlet"), psf_plot=True),
]}


def table_spec(key: str) -> TableSpec:
    """The registry entry of ``key``, or a generic one (columns in first-seen order)."""
    return TABLES.get(key) or TableSpec(key, key, "(not one of the paper's tables)")


# ------------------------------------------------------------------------------------ records
@dataclass
class ValidationRecord:
    """One tagged validation run (one ``summary.json``).

    ``metrics``: mean over images of MRAE, RMSE, PSNR (dB), SAM (radians); ``created``: UTC time the
    run finished (from the record, else the file's modification time).
    """

    path: Path
    table: str
    column: str
    method: str
    dataset: str
    metamer: bool
    metrics: dict[str, float]
    images: int | None
    created: _dt.datetime
    name: str
    args: dict
    fmt: str
    data_dir: str | None

    @property
    def run_dir(self) -> Path:
        return self.path.parent


@dataclass
class TrainingRun:
    """One training run folder: progress and validation curve (MRAE per validated iteration)."""

    path: Path
    method: str
    mode: str
    dataset: str
    iterations: int
    total_iterations: int | None
    finished: bool
    best_valid_mrae: float | None
    last_valid: dict[str, float]
    samples_per_s: float | None
    curve: list[tuple[int, float]]


@dataclass
class Collection:
    """Everything found under the roots, plus what was skipped and why."""

    validation: list[ValidationRecord] = field(default_factory=list)
    training: list[TrainingRun] = field(default_factory=list)
    untagged: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    duplicates: list[tuple[Path, Path]] = field(default_factory=list)
    """(kept, dropped) pairs of records sharing table, dataset, column and method."""


class ReportWarnings:
    """Warnings collected for ``index.md`` / ``report.json`` and logged as they happen."""

    def __init__(self):
        self.messages: list[str] = []

    def __call__(self, message: str) -> None:
        LOG.warning(message)
        self.messages.append(message)


def _parse_time(value, path: Path) -> _dt.datetime:
    if isinstance(value, str):
        try:
            t = _dt.datetime.fromisoformat(value)
            return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)
        except ValueError:
            pass
    return _dt.datetime.fromtimestamp(path.stat().st_mtime, _dt.timezone.utc)


def _read_json(path: Path) -> dict:
    obj = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    return obj


def parse_validation_record(path: Path, obj: dict) -> ValidationRecord:
    """A ``ValidationRecord`` from a validation ``summary.json``; ``ValueError`` naming what is wrong."""
    tag = obj.get("tag")
    if not isinstance(tag, str) or "/" not in tag or not all(tag.split("/", 1)):
        raise ValueError(f"tag must be '<table>/<column>', got {tag!r}")
    summary = obj.get("summary")
    if not isinstance(summary, dict):
        raise ValueError("no 'summary' with the metrics")
    metrics = {}
    for m in METRICS:
        v = summary.get(m)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"metric {m} missing or not a number ({v!r})")
        metrics[m] = float(v)
    method = obj.get("method")
    if not isinstance(method, str) or not method:
        raise ValueError("no 'method'")
    args = obj.get("args") if isinstance(obj.get("args"), dict) else {}
    table, column = tag.split("/", 1)
    return ValidationRecord(
        path=path, table=table, column=column, method=method,
        dataset=str(obj.get("dataset") or args.get("dataset_name") or "?"), metamer=bool(obj.get("metamer")),
        metrics=metrics, images=obj.get("images") if isinstance(obj.get("images"), int) else None,
        created=_parse_time(obj.get("created"), path), name=str(obj.get("name") or path.parent.name),
        args=args, fmt=str(obj.get("format") or args.get("rgb_format") or "png"), data_dir=obj.get("data_dir"))


def _read_scalars(path: Path) -> list[tuple[int, str, float]]:
    """``scalars.csv`` rows ``(iteration, name, value)``; malformed rows (a line being written) are ignored."""
    rows = []
    if not path.is_file():
        return rows
    with open(path, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            try:
                rows.append((int(r["iteration"]), str(r["name"]), float(r["value"])))
            except (TypeError, ValueError, KeyError):
                continue
    return rows


def parse_training_run(run_dir: Path) -> TrainingRun:
    """A ``TrainingRun`` from ``config.json`` (+ ``summary.json`` and ``scalars.csv`` when present)."""
    cfg = _read_json(run_dir / "config.json").get("config")
    if not isinstance(cfg, dict) or "method" not in cfg:
        raise ValueError("config.json has no 'config' with a 'method'")
    args = cfg.get("args") if isinstance(cfg.get("args"), dict) else {}
    dataset = args.get("dataset_name") or (Path(str(args["data_root"])).name if args.get("data_root") else "?")
    scalars = _read_scalars(run_dir / "scalars.csv")
    curve = sorted((it, v) for it, name, v in scalars if name == "valid/MRAE")
    last_valid = {}
    valid_rows = [(it, name, v) for it, name, v in scalars if name.startswith("valid/")]
    if valid_rows:
        last_it = max(it for it, _, _ in valid_rows)
        last_valid = {name[len("valid/"):]: v for it, name, v in valid_rows if it == last_it}
    summary = {}
    if (run_dir / "summary.json").is_file():
        try:
            summary = _read_json(run_dir / "summary.json")
        except (OSError, ValueError) as e:
            LOG.warning("%s: unreadable (%s); progress taken from scalars.csv", run_dir / "summary.json", e)
    iterations = int(summary.get("iterations") or max((it for it, _, _ in scalars), default=0))
    best = summary.get("best_valid_mrae")
    if not isinstance(best, (int, float)) or not math.isfinite(best):
        best = min((v for _, v in curve), default=None)
    if isinstance(summary.get("final_valid"), dict):
        last_valid = {k: float(v) for k, v in summary["final_valid"].items() if isinstance(v, (int, float))}
    total = cfg.get("total_iterations")
    return TrainingRun(path=run_dir, method=str(cfg["method"]), mode=str(cfg.get("mode") or "?"), dataset=str(dataset),
                       iterations=iterations, total_iterations=int(total) if isinstance(total, int) else None,
                       finished=bool(summary.get("finished", False)), best_valid_mrae=best, last_valid=last_valid,
                       samples_per_s=summary.get("samples_per_s"), curve=curve)


def _walk_files(roots: Iterable[Path], names: set[str], skip: Path | None) -> list[Path]:
    """Files called one of ``names`` under ``roots`` (recursively, symlinks not followed, ``skip`` pruned),
    each once, in sorted order."""
    found = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            if skip is not None and here.resolve() == skip:
                dirnames[:] = []
                continue
            dirnames.sort()
            found.update((here / f).resolve() for f in filenames if f in names)
    return sorted(found)


def collect_results(roots: Sequence[str | os.PathLike], warn=None, skip: str | os.PathLike | None = None) -> Collection:
    """Find validation records and training runs under ``roots``.

    Unreadable or incomplete files are skipped with a warning (``warn(message)``, default: log);
    a missing root is a warning, not an error. ``skip``: a folder not searched (the report's own).
    """
    warn = warn or LOG.warning
    out = Collection()
    existing = []
    for r in roots:
        if Path(r).is_dir():
            existing.append(Path(r))
        else:
            warn(f"{r}: no such folder, nothing collected from it")
    skip_dir = Path(skip).resolve() if skip is not None else None
    for path in _walk_files(existing, {"summary.json", "config.json"}, skip_dir):
        if path.name == "config.json":
            try:
                out.training.append(parse_training_run(path.parent))
            except (OSError, ValueError, KeyError, TypeError) as e:
                out.skipped.append((path, str(e)))
                warn(f"{path}: skipped ({e})")
            continue
        if (path.parent / "config.json").is_file():
            continue  # a training run's summary: read with its config.json
        try:
            obj = _read_json(path)
        except (OSError, ValueError) as e:
            out.skipped.append((path, f"unreadable: {e}"))
            warn(f"{path}: skipped, unreadable ({e})")
            continue
        if "summary" not in obj and "tag" not in obj:
            out.skipped.append((path, "neither a validation nor a training record"))
            warn(f"{path}: skipped, neither a validation nor a training record")
            continue
        if obj.get("tag") is None and isinstance(obj.get("summary"), dict):
            out.untagged.append(path)
            continue
        try:
            out.validation.append(parse_validation_record(path, obj))
        except ValueError as e:
            out.skipped.append((path, str(e)))
            warn(f"{path}: skipped, incomplete validation record ({e})")
    out.validation.sort(key=lambda r: (r.created, str(r.path)))
    return out


# ------------------------------------------------------------------------------------ tables
@dataclass
class ResultTable:
    """One (sub-)table: ``cells[(method, column)]`` -> the record shown there.

    ``dataset``: the validation dataset of a split table, None for Table IV-like tables.
    ``rows``: methods in zoo order (unknown methods after, sorted); ``columns``: column ids present;
    ``missing_columns``: the registry's columns with no run yet.
    """

    spec: TableSpec
    dataset: str | None
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], ValidationRecord]
    missing_columns: list[str]

    def value(self, method: str, column: str, metric: str) -> float | None:
        rec = self.cells.get((method, column))
        return None if rec is None else rec.metrics[metric]

    @property
    def heading(self) -> str:
        return self.spec.title + (f" ({self.dataset})" if self.dataset else "")


def _method_order(method: str) -> tuple[int, str]:
    return (METHODS.index(method), "") if method in METHODS else (len(METHODS), method)


def _column_order(spec: TableSpec, column: str, first_seen: int) -> tuple:
    rank = len(spec.columns)
    for i, known in enumerate(spec.columns):
        if column == known or column.startswith(known + "_"):
            rank = i
            break
    suffix = 0 if column.endswith("original") else 1 if column.endswith("metamer") else 2
    return (rank, suffix if rank < len(spec.columns) else 0, first_seen)


def build_tables(records: Sequence[ValidationRecord], warn=None) -> tuple[list[ResultTable], list[tuple[Path, Path]]]:
    """Group tagged records into tables; returns the tables (registry order, then by name) and the
    (kept, dropped) pairs of duplicates: the newest record (``created``) of a cell wins, with a warning."""
    warn = warn or LOG.warning
    ordered = sorted(records, key=lambda r: (r.created, str(r.path)))
    groups: dict[tuple[str, str | None], dict[tuple[str, str], ValidationRecord]] = {}
    first_seen: dict[tuple[str, str | None], dict[str, int]] = {}
    duplicates = []
    for rec in ordered:
        spec = table_spec(rec.table)
        key = (rec.table, rec.dataset if spec.split_by_dataset else None)
        cells = groups.setdefault(key, {})
        seen = first_seen.setdefault(key, {})
        seen.setdefault(rec.column, len(seen))
        old = cells.get((rec.method, rec.column))
        if old is not None:
            duplicates.append((rec.path, old.path))
            warn(f"two runs for {rec.table}/{rec.column}, {rec.method}"
                 f"{', ' + key[1] if key[1] else ''}: keeping the newer {rec.path} ({rec.created.isoformat()}), "
                 f"ignoring {old.path} ({old.created.isoformat()})")
        cells[(rec.method, rec.column)] = rec
    registry = list(TABLES)
    tables = []
    for (table, dataset), cells in sorted(groups.items(), key=lambda kv: (
            registry.index(kv[0][0]) if kv[0][0] in registry else len(registry), kv[0][0], kv[0][1] or "")):
        spec = table_spec(table)
        seen = first_seen[(table, dataset)]
        columns = sorted(seen, key=lambda c: _column_order(spec, c, seen[c]))
        rows = sorted({m for m, _ in cells}, key=_method_order)
        missing = [c for c in spec.columns
                   if not any(col == c or col.startswith(c + "_") for col in columns)]
        tables.append(ResultTable(spec, dataset, rows, columns, cells, missing))
    return tables, duplicates


def format_value(value: float | None, metric: str) -> str:
    """The printed form of a metric value (``METRIC_DIGITS`` decimals), ``GAP`` for a missing one."""
    if value is None:
        return GAP
    if not math.isfinite(value):
        return "inf" if value > 0 else "-inf" if value < 0 else "nan"
    return f"{value:.{METRIC_DIGITS[metric]}f}"


def best_in_column(table: ResultTable, column: str, metric: str) -> set[str]:
    """Methods holding the best printed value of ``metric`` in ``column`` (ties: all of them)."""
    printed = {m: format_value(table.value(m, column, metric), metric) for m in table.rows}
    numbers = {m: float(s) for m, s in printed.items() if s != GAP and s != "nan"}
    if len(numbers) < 2:
        return set()
    best = max(numbers.values()) if metric in HIGHER_IS_BETTER else min(numbers.values())
    return {m for m, v in numbers.items() if v == best}


def _metric_heading(metric: str) -> str:
    unit = METRIC_UNITS[metric]
    return f"{metric}{f' ({unit})' if unit else ''} {'↑' if metric in HIGHER_IS_BETTER else '↓'}"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(tables: Sequence[ResultTable]) -> str:
    """All sub-tables of one paper table as Markdown: title, what it measures, one table per metric.

    Cells: the printed value, **bold** for the best of the column, ``–`` where no run exists yet."""
    spec = tables[0].spec
    lines = [f"# {spec.title}", "", f"What it measures: {spec.measures}", ""]
    for t in tables:
        if t.dataset:
            lines += [f"## Validated on {t.dataset}", ""]
        for metric in METRICS:
            lines += [f"**{_metric_heading(metric)}**", ""]
            lines.append("| Method | " + " | ".join(_md_escape(spec.labels.get(c, c)) for c in t.columns) + " |")
            lines.append("|---|" + "---:|" * len(t.columns))
            best = {c: best_in_column(t, c, metric) for c in t.columns}
            for m in t.rows:
                cells = []
                for c in t.columns:
                    s = format_value(t.value(m, c, metric), metric)
                    cells.append(f"**{s}**" if m in best[c] else s)
                lines.append(f"| {METHOD_LABELS.get(m, m)} | " + " | ".join(cells) + " |")
            lines.append("")
        if t.missing_columns:
            lines += ["Not run yet: " + ", ".join(f"`{c}`" for c in t.missing_columns) + ".", ""]
        n = len(t.cells)
        lines += [f"{n} run{'s' if n != 1 else ''}; sources: "
                  + ", ".join(f"`{r.run_dir.name}`" for r in sorted(t.cells.values(), key=lambda r: str(r.path))), ""]
    return "\n".join(lines)


def latex_escape(text: str) -> str:
    """Escape LaTeX specials; ``->`` becomes an arrow."""
    out = []
    for ch in str(text):
        out.append({"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}.get(ch, ch))
    return "".join(out).replace("->", r"$\rightarrow$")


def render_latex(tables: Sequence[ResultTable]) -> str:
    """All sub-tables of one paper table as LaTeX (booktabs; needs ``\\usepackage{booktabs}``):
    one ``table`` float per metric and dataset, best value per column in bold, ``--`` for gaps."""
    spec = tables[0].spec
    parts = [f"% {spec.title}. {spec.measures}", "% Generated by scripts/report.py; needs \\usepackage{booktabs}.", ""]
    for t in tables:
        for metric in METRICS:
            arrow = r"$\uparrow$" if metric in HIGHER_IS_BETTER else r"$\downarrow$"
            unit = f" ({METRIC_UNITS[metric]})" if METRIC_UNITS[metric] else ""
            caption = f"{latex_escape(spec.title)}{' -- ' + latex_escape(t.dataset) if t.dataset else ''}: {metric}{unit} {arrow}"
            best = {c: best_in_column(t, c, metric) for c in t.columns}
            parts += [r"\begin{table}[t]", r"\centering", rf"\caption{{{caption}}}",
                      r"\begin{tabular}{l" + "r" * len(t.columns) + "}", r"\toprule",
                      "Method & " + " & ".join(latex_escape(spec.labels.get(c, c)) for c in t.columns) + r" \\",
                      r"\midrule"]
            for m in t.rows:
                cells = []
                for c in t.columns:
                    s = format_value(t.value(m, c, metric), metric)
                    s = "--" if s == GAP else s
                    cells.append(rf"\textbf{{{s}}}" if m in best[c] else s)
                parts.append(latex_escape(METHOD_LABELS.get(m, m)) + " & " + " & ".join(cells) + r" \\")
            parts += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(parts)


CSV_FIELDS = ("table", "dataset", "row", "column", "metric", "value", "images", "source")


def tidy_rows(tables: Sequence[ResultTable]) -> list[dict]:
    """Long-format rows (one per table, row = method, column, metric) of the runs that exist;
    ``value`` at full precision, ``source`` = the summary.json it comes from."""
    rows = []
    for t in tables:
        for m in t.rows:
            for c in t.columns:
                rec = t.cells.get((m, c))
                if rec is None:
                    continue
                for metric in METRICS:
                    rows.append({"table": t.spec.key, "dataset": rec.dataset, "row": m, "column": c, "metric": metric,
                                 "value": repr(rec.metrics[metric]), "images": "" if rec.images is None else rec.images,
                                 "source": str(rec.path)})
    return rows


def render_csv(rows: Sequence[dict], fields: Sequence[str] = CSV_FIELDS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def render_training(runs: Sequence[TrainingRun]) -> tuple[str, list[dict]]:
    """Markdown table and CSV rows of the training runs (progress, best and last validation)."""
    fields = []
    lines = ["| Run | Method | Mode | Dataset | Iterations | Finished | Best valid MRAE | Last valid MRAE | "
             "Last valid PSNR (dB) | Samples/s |", "|---|---|---|---|---:|---|---:|---:|---:|---:|"]
    for r in sorted(runs, key=lambda r: (r.mode, r.dataset, _method_order(r.method), str(r.path))):
        total = r.total_iterations
        progress = f"{r.iterations}/{total} ({100 * r.iterations / total:.0f} %)" if total else str(r.iterations)
        sps = f"{r.samples_per_s:.1f}" if isinstance(r.samples_per_s, (int, float)) else GAP
        lines.append(f"| `{r.path.name}` | {METHOD_LABELS.get(r.method, r.method)} | {r.mode} | {r.dataset} | {progress} | "
                     f"{'yes' if r.finished else 'no'} | {format_value(r.best_valid_mrae, 'MRAE')} | "
                     f"{format_value(r.last_valid.get('MRAE'), 'MRAE')} | {format_value(r.last_valid.get('PSNR'), 'PSNR')} | {sps} |")
        fields.append({"run": str(r.path), "method": r.method, "mode": r.mode, "dataset": r.dataset,
                       "iterations": r.iterations, "total_iterations": total if total else "",
                       "finished": r.finished, "best_valid_mrae": "" if r.best_valid_mrae is None else r.best_valid_mrae,
                       **{f"last_valid_{m}": r.last_valid.get(m, "") for m in METRICS},
                       "samples_per_s": "" if r.samples_per_s is None else r.samples_per_s})
    return "\n".join(lines) + "\n", fields


# ------------------------------------------------------------------------------------ figures
def _new_figure(width: float, height: float):
    """A matplotlib figure rendered by Agg (no pyplot, no global backend state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save_png(fig, path: Path, dpi: int = 110) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text.replace("->", "_to_"))


def original_metamer_pairs(columns: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(prefix, original_column, metamer_column)`` for columns ending in ``original`` whose
    ``metamer`` twin (same prefix) exists; ``original`` / ``metamer`` themselves give prefix ''."""
    pairs = []
    for c in columns:
        if c.endswith("original"):
            prefix = c[: -len("original")]
            if prefix + "metamer" in columns:
                pairs.append((prefix.rstrip("_-/ "), c, prefix + "metamer"))
    return pairs


def plot_original_vs_metamer(table: ResultTable, path: Path) -> Path | None:
    """Grouped bars of MRAE per method, original vs metamer validation, one panel per column pair.
    None when the table has no such pair."""
    pairs = original_metamer_pairs(table.columns)
    if not pairs:
        return None
    ncols = 1 if len(table.rows) > 8 else min(len(pairs), 2)
    nrows = math.ceil(len(pairs) / ncols)
    fig = _new_figure(max(6.5, 0.55 * len(table.rows) + 2.5) * ncols, 3.6 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    x = np.arange(len(table.rows))
    for ax, (prefix, orig, met) in zip(axes, pairs):
        for k, (col, colour, label) in enumerate(((orig, "tab:blue", "original"), (met, "tab:red", "metamer"))):
            vals = [table.value(m, col, "MRAE") for m in table.rows]
            heights = np.array([np.nan if v is None else v for v in vals], dtype=float)
            ax.bar(x + (k - 0.5) * 0.38, heights, 0.38, color=colour, label=label)
        ax.set_xticks(x, [METHOD_LABELS.get(m, m) for m in table.rows], rotation=45, ha="right")
        ax.set_ylabel("MRAE (mean over images)")
        ax.set_title(table.spec.labels.get(prefix, prefix.replace("_", " ")) or "original vs metamer", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    fig.suptitle(f"{table.heading}\nMRAE on original vs metamer data", fontsize=10)
    return _save_png(fig, path)


def plot_error_vs_psf(table: ResultTable, path: Path) -> Path:
    """MRAE and PSNR (dB) per column (PSF / encoding) for each method, as lines with markers."""
    fig = _new_figure(max(8.0, 1.1 * len(table.columns) * 2), 3.8)
    axes = fig.subplots(1, 2)
    x = np.arange(len(table.columns))
    for ax, metric in zip(axes, ("MRAE", "PSNR")):
        for m in table.rows:
            vals = np.array([np.nan if (v := table.value(m, c, metric)) is None else v for c in table.columns], float)
            ax.plot(x, vals, marker="o", label=METHOD_LABELS.get(m, m))
        ax.set_xticks(x, [table.spec.labels.get(c, c) for c in table.columns], rotation=30, ha="right")
        ax.set_xlabel("PSF / spectral encoding")
        ax.set_ylabel(_metric_heading(metric))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"{table.heading}: error against PSF", fontsize=11)
    return _save_png(fig, path)


def _centre_crop(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """The centre ``h x w`` of ``(..., H, W)`` (the validation's ``centre_crop``)."""
    H, W = x.shape[-2:]
    t, l = (H - h) // 2, (W - w) // 2
    return x[..., t:t + h, l:l + w]


def mrae_map(pred: np.ndarray, truth: np.ndarray, eps: float = MRAE_EPS) -> np.ndarray:
    """Per-pixel MRAE ``(H, W)``: mean over bands of ``|pred - truth| / (truth + eps)``; inputs ``(31, H, W)``."""
    return (np.abs(pred.astype(np.float64) - truth) / (truth.astype(np.float64) + eps)).mean(axis=0)


def example_pixels(error: np.ndarray) -> list[tuple[str, int, int]]:
    """Three pixels ``(label, row, col)`` of an error map: lowest, median and highest error."""
    flat = error.ravel()
    order = np.argsort(flat, kind="stable")
    picks = (("lowest", order[0]), ("median", order[len(order) // 2]), ("highest", order[-1]))
    return [(label, int(i // error.shape[1]), int(i % error.shape[1])) for label, i in picks]


def saved_scenes(record: ValidationRecord) -> list[str]:
    """Scenes whose reconstruction the run saved, in the run's (valid-list) order."""
    kind = "metamer" if record.metamer else "std"
    saved = {p.name[: -len(f"_{kind}.mat")] for p in record.run_dir.glob(f"*_{kind}.mat")}
    order = []
    per_image = record.run_dir / "per_image.csv"
    if per_image.is_file():
        with open(per_image, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                name = str(r.get("name", ""))
                name = name[: -len("_metamer")] if name.endswith("_metamer") else name
                if name in saved and name not in order:
                    order.append(name)
    return order + sorted(saved - set(order))


def example_inputs(record: ValidationRecord, scene: str) -> tuple[Path, Path, Path]:
    """Paths of the reconstruction, the ground-truth cube and the RGB input of ``scene`` in ``record``'s run.

    Relative dataset paths are taken relative to the current folder (as the validation run took them)."""
    kind = "metamer" if record.metamer else "std"
    recon = record.run_dir / f"{scene}_{kind}.mat"
    data_dir = Path(record.data_dir) if record.data_dir else None
    if record.metamer:
        if data_dir is None:
            raise FileNotFoundError("the record has no data_dir")
        truth = data_dir / "Train_Metamer_Spec" / f"{scene}_metamer.mat"
    else:
        truth = Path(str(record.args.get("dataset_path", "."))) / str(record.args.get("dataset_name", record.dataset)) \
            / "Train_Spec" / f"{scene}.mat"
    if data_dir is None:
        raise FileNotFoundError("the record has no data_dir")
    rgb = data_dir / "Train_Metamer_RGB" / f"{scene}_{'metamer' if record.metamer else 'original'}.{record.fmt}"
    return recon, truth, rgb


def plot_error_example(record: ValidationRecord, scene: str, path: Path) -> Path:
    """RGB input, per-pixel MRAE map and ground-truth vs reconstructed spectra (nm) at three pixels
    (lowest, median, highest error) of one scene of one validation run."""
    recon_path, truth_path, rgb_path = example_inputs(record, scene)
    recon = read_mat_cube(recon_path)
    pred = recon.cube
    truth_full = read_mat_cube(truth_path).cube
    rgb_full = read_rgb(rgb_path)                      # the network's input: per-image min-max over the full image
    h, w = pred.shape[-2:]
    if truth_full.shape[-2] < h or truth_full.shape[-1] < w or rgb_full.shape[-2:] != truth_full.shape[-2:]:
        raise ValueError(f"sizes differ: reconstruction {pred.shape}, ground truth {truth_full.shape}, RGB {rgb_full.shape}")
    truth, rgb = _centre_crop(truth_full, h, w), _centre_crop(rgb_full, h, w)
    error = mrae_map(pred, truth)
    pixels = example_pixels(error)
    wl = recon.wavelengths_nm
    fig = _new_figure(13.5, 4.0)
    ax_rgb, ax_err, ax_spec = fig.subplots(1, 3, width_ratios=[1, 1.2, 1.5])
    ax_rgb.imshow(np.clip(np.transpose(rgb, (1, 2, 0)), 0, 1))
    ax_rgb.set_title(f"RGB input ({'metamer' if record.metamer else 'original'})", fontsize=10)
    vmax = float(np.percentile(error, 99)) or float(error.max()) or 1.0
    im = ax_err.imshow(error, cmap="magma", vmin=0, vmax=vmax)
    fig.colorbar(im, ax=ax_err, label="MRAE per pixel (colour scale to 99th pct.)")
    ax_err.set_title(f"MRAE map (image mean {error.mean():.4f})", fontsize=10)
    colours = ("tab:green", "tab:orange", "tab:red")
    for (label, r, c), colour in zip(pixels, colours):
        for ax in (ax_rgb, ax_err):
            ax.plot(c, r, marker="o", mfc="none", mec=colour, ms=9, mew=2)
        ax_spec.plot(wl, truth[:, r, c], color=colour, lw=2, label=f"{label} ({r},{c}): truth")
        ax_spec.plot(wl, pred[:, r, c], color=colour, lw=1.5, ls="--", label=f"reconstruction, MRAE {error[r, c]:.3f}")
    for ax in (ax_rgb, ax_err):
        ax.set_axis_off()
    ax_spec.set_xlabel("wavelength (nm)")
    ax_spec.set_ylabel("spectral radiance (normalised)")
    ax_spec.grid(alpha=0.3)
    ax_spec.legend(fontsize=7)
    fig.suptitle(f"{record.name}: {scene} ({METHOD_LABELS.get(record.method, record.method)}, "
                 f"tag {record.table}/{record.column})", fontsize=11)
    return _save_png(fig, path)


def plot_training_curves(runs: Sequence[TrainingRun], title: str, path: Path) -> Path | None:
    """Validation MRAE against iteration for ``runs`` (log scale); None when no run has validated yet."""
    runs = [r for r in runs if r.curve]
    if not runs:
        return None
    fig = _new_figure(7.5, 4.2)
    ax = fig.subplots()
    for r in sorted(runs, key=lambda r: (_method_order(r.method), str(r.path))):
        its, vals = zip(*r.curve)
        ax.plot(its, vals, marker="." if len(its) < 50 else None,
                label=f"{METHOD_LABELS.get(r.method, r.method)}{'' if r.finished else ' (running)'}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation MRAE")
    if all(v > 0 for r in runs for _, v in r.curve):
        ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=11)
    return _save_png(fig, path)


# ------------------------------------------------------------------------------------ the report
@dataclass
class ReportResult:
    """What ``write_report`` wrote (paths under ``out``) and the warnings it raised."""

    out: Path
    tables: list[ResultTable]
    files: list[Path]
    figures: list[Path]
    warnings: list[str]
    collection: Collection


def _link(path: Path, base: Path) -> str:
    rel = path.relative_to(base).as_posix()
    return f"[{path.name}]({rel})"


def write_report(roots: Sequence[str | os.PathLike], out: str | os.PathLike, formats: Sequence[str] = FORMATS,
                 figures: bool = True, max_examples: int = 2) -> ReportResult:
    """Collect the results under ``roots`` and write the report to ``out`` (see the module docstring).

    Args:
        roots: folders searched recursively for validation and training runs (missing ones: warning).
        out: report folder (created; existing files are replaced atomically, none deleted).
        formats: any of ``md``, ``tex``, ``csv`` for the tables (``index.md`` is always written).
        figures: draw the PNG figures.
        max_examples: scenes per validation run with saved reconstructions that get an error-map figure.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown format(s) {bad}; choose from {FORMATS}")
    out = Path(out)
    warn = ReportWarnings()
    coll = collect_results(roots, warn, skip=out)
    tables, coll.duplicates = build_tables(coll.validation, warn)
    by_key: dict[str, list[ResultTable]] = {}
    for t in tables:
        by_key.setdefault(t.spec.key, []).append(t)
    files: list[Path] = []
    table_files: dict[str, list[Path]] = {}
    all_rows = []
    for key, group in by_key.items():
        written = []
        if "md" in formats:
            written.append(atomic_write_text(out / f"{_safe_name(key)}.md", render_markdown(group)))
        if "tex" in formats:
            written.append(atomic_write_text(out / f"{_safe_name(key)}.tex", render_latex(group)))
        rows = tidy_rows(group)
        all_rows += rows
        if "csv" in formats:
            written.append(atomic_write_text(out / f"{_safe_name(key)}.csv", render_csv(rows)))
        table_files[key] = written
        files += written
    if "csv" in formats and tables:
        files.append(atomic_write_text(out / "all_tables.csv", render_csv(all_rows)))
    training_md = None
    if coll.training:
        md, rows = render_training(coll.training)
        training_md = atomic_write_text(out / "training_runs.md", "# Training runs\n\n" + md)
        files.append(training_md)
        if "csv" in formats:
            files.append(atomic_write_text(out / "training_runs.csv", render_csv(rows, list(rows[0]))))

    figs: list[Path] = []
    if figures:
        figs = _write_figures(tables, coll, out / "figures", max_examples, warn)
    files += figs

    index = _render_index(out, tables, table_files, figs, coll, training_md, roots, warn.messages)
    files.append(atomic_write_text(out / "index.md", index))
    record = provenance(
        kind="report", roots=[str(r) for r in roots], out=str(out), formats=list(formats),
        sources=[{"path": str(r.path), "tag": f"{r.table}/{r.column}", "method": r.method, "dataset": r.dataset,
                  "created": r.created.isoformat()} for r in coll.validation],
        duplicates_ignored=[{"kept": str(k), "ignored": str(d)} for k, d in coll.duplicates],
        training_runs=[str(r.path) for r in coll.training], untagged=[str(p) for p in coll.untagged],
        skipped=[{"path": str(p), "reason": why} for p, why in coll.skipped],
        outputs=[str(p.relative_to(out)) for p in files], warnings=warn.messages)
    files.append(atomic_write_json(out / "report.json", record))
    return ReportResult(out, tables, files, figs, warn.messages, coll)


def _write_figures(tables: Sequence[ResultTable], coll: Collection, fig_dir: Path, max_examples: int,
                   warn: ReportWarnings) -> list[Path]:
    figs = []
    for t in tables:
        stem = _safe_name(t.spec.key + (f"_{t.dataset}" if t.dataset else ""))
        p = plot_original_vs_metamer(t, fig_dir / f"original_vs_metamer_{stem}.png")
        if p is not None:
            figs.append(p)
        if t.spec.psf_plot:
            figs.append(plot_error_vs_psf(t, fig_dir / f"error_vs_psf_{stem}.png"))
    done_runs = set()
    for rec in sorted(coll.validation, key=lambda r: str(r.path)):
        if rec.run_dir in done_runs or max_examples <= 0:
            continue
        done_runs.add(rec.run_dir)
        for scene in saved_scenes(rec)[:max_examples]:
            target = fig_dir / "examples" / f"{_safe_name(rec.run_dir.name)}__{_safe_name(scene)}.png"
            try:
                figs.append(plot_error_example(rec, scene, target))
            except (OSError, ValueError) as e:   # SpectralFileError and RGBFileError are ValueErrors
                warn(f"no example figure for {scene} of {rec.run_dir}: {e}")
    groups: dict[tuple[str, str], list[TrainingRun]] = {}
    for r in coll.training:
        groups.setdefault((r.mode, r.dataset), []).append(r)
    for (mode, dataset), runs in sorted(groups.items()):
        p = plot_training_curves(runs, f"validation MRAE during training: {mode}, {dataset}",
                                 fig_dir / f"training_{_safe_name(mode)}_{_safe_name(dataset)}.png")
        if p is not None:
            figs.append(p)
    return figs


def _render_index(out: Path, tables: Sequence[ResultTable], table_files: dict[str, list[Path]], figs: Sequence[Path],
                  coll: Collection, training_md: Path | None, roots: Sequence, warnings: Sequence[str]) -> str:
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    lines = ["# Results report", "",
             f"Generated {now} from {', '.join(f'`{r}`' for r in roots)}: {len(coll.validation)} tagged validation "
             f"run(s) in {len(table_files)} table(s), {len(coll.training)} training run(s), {len(coll.untagged)} untagged "
             f"validation run(s), {len(coll.skipped)} file(s) skipped. Metrics are means over the validation images: "
             "MRAE and RMSE on [0, 1] data, PSNR in dB (per band), SAM in radians. `–` marks a run that does not exist yet.",
             "", "## Tables", ""]
    if not tables:
        lines += ["No tagged validation runs found yet (run the table drivers, or `validate_RGB2HS.py --tag "
                  "<table>/<column>`).", ""]
    else:
        lines += ["| Table | What it measures | Validated on | Runs | Not run yet | Files |", "|---|---|---|---:|---|---|"]
        for key, paths in table_files.items():
            group = [t for t in tables if t.spec.key == key]
            spec = group[0].spec
            datasets = ", ".join(t.dataset for t in group if t.dataset) or "see columns"
            missing = sorted({c for t in group for c in t.missing_columns}, key=lambda c: spec.columns.index(c))
            lines.append(f"| {spec.title} | {spec.measures} | {datasets} | {sum(len(t.cells) for t in group)} | "
                         f"{', '.join(missing) or GAP} | {' · '.join(_link(p, out) for p in paths) or GAP} |")
        lines.append("")
    if figs:
        lines += ["## Figures", ""] + [f"- {_link(p, out)}" for p in figs] + [""]
    if training_md is not None:
        lines += ["## Training runs", "", f"{len(coll.training)} run(s), "
                  f"{sum(r.finished for r in coll.training)} finished: {_link(training_md, out)}", ""]
    if coll.untagged:
        lines += ["## Untagged validation runs (not in any table)", ""]
        lines += [f"- `{p.parent}`" for p in coll.untagged[:50]]
        if len(coll.untagged) > 50:
            lines.append(f"- ... and {len(coll.untagged) - 50} more")
        lines.append("")
    if warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in warnings] + [""]
    lines += ["Provenance (sources, skipped files, versions): [report.json](report.json)", ""]
    return "\n".join(lines)
