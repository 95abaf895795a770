"""Tables: tagged validation records grouped into the paper's tables, printed as Markdown, LaTeX and CSV."""
from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from hsi.metrics import METRIC_NAMES

from .collect import TrainingRun
from .labels import method_label, method_order
from .record import ValidationRecord
from .specs import TABLES, TableSpec, table_spec

LOG = logging.getLogger("hsi.report")

HIGHER_IS_BETTER = frozenset({"PSNR"})
METRIC_DIGITS = {"MRAE": 4, "RMSE": 4, "PSNR": 2, "SAM": 4}
"""Printed decimals per metric (those of the validation script's output line)."""
METRIC_UNITS = {"MRAE": "", "RMSE": "", "PSNR": "dB", "SAM": "rad"}
GAP = "–"


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
        return None if rec is None else rec.summary[metric]

    @property
    def heading(self) -> str:
        return self.spec.title + (f" ({self.dataset})" if self.dataset else "")



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
    (kept, dropped) pairs of duplicates: the newest record (``ValidationRecord.newest_last_key``) of a cell wins, with a warning."""
    warn = warn or LOG.warning
    ordered = sorted(records, key=ValidationRecord.newest_last_key)
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
                 f"{', ' + key[1] if key[1] else ''}: keeping the newer {rec.path} ({rec.finished_at.isoformat()}), "
                 f"ignoring {old.path} ({old.finished_at.isoformat()})")
        cells[(rec.method, rec.column)] = rec
    registry = list(TABLES)
    tables = []
    for (table, dataset), cells in sorted(groups.items(), key=lambda kv: (
            registry.index(kv[0][0]) if kv[0][0] in registry else len(registry), kv[0][0], kv[0][1] or "")):
        spec = table_spec(table)
        seen = first_seen[(table, dataset)]
        columns = sorted(seen, key=lambda c: _column_order(spec, c, seen[c]))
        rows = sorted({m for m, _ in cells}, key=method_order)
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


def metric_heading(metric: str) -> str:
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
        for metric in METRIC_NAMES:
            lines += [f"**{metric_heading(metric)}**", ""]
            lines.append("| Method | " + " | ".join(_md_escape(spec.labels.get(c, c)) for c in t.columns) + " |")
            lines.append("|---|" + "---:|" * len(t.columns))
            best = {c: best_in_column(t, c, metric) for c in t.columns}
            for m in t.rows:
                cells = []
                for c in t.columns:
                    s = format_value(t.value(m, c, metric), metric)
                    cells.append(f"**{s}**" if m in best[c] else s)
                lines.append(f"| {method_label(m)} | " + " | ".join(cells) + " |")
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
        for metric in METRIC_NAMES:
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
                parts.append(latex_escape(method_label(m)) + " & " + " & ".join(cells) + r" \\")
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
                for metric in METRIC_NAMES:
                    rows.append({"table": t.spec.key, "dataset": rec.dataset, "row": m, "column": c, "metric": metric,
                                 "value": repr(rec.summary[metric]), "images": "" if rec.images is None else rec.images,
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
    for r in sorted(runs, key=lambda r: (r.mode, r.dataset, method_order(r.method), str(r.path))):
        total = r.total_iterations
        progress = f"{r.iterations}/{total} ({100 * r.iterations / total:.0f} %)" if total else str(r.iterations)
        sps = f"{r.samples_per_s:.1f}" if isinstance(r.samples_per_s, (int, float)) else GAP
        lines.append(f"| `{r.path.name}` | {method_label(r.method)} | {r.mode} | {r.dataset} | {progress} | "
                     f"{'yes' if r.finished else 'no'} | {format_value(r.best_valid_mrae, 'MRAE')} | "
                     f"{format_value(r.last_valid.get('MRAE'), 'MRAE')} | {format_value(r.last_valid.get('PSNR'), 'PSNR')} | {sps} |")
        fields.append({"run": str(r.path), "method": r.method, "mode": r.mode, "dataset": r.dataset,
                       "iterations": r.iterations, "total_iterations": total if total else "",
                       "finished": r.finished, "best_valid_mrae": "" if r.best_valid_mrae is None else r.best_valid_mrae,
                       **{f"last_valid_{m}": r.last_valid.get(m, "") for m in METRIC_NAMES},
                       "samples_per_s": "" if r.samples_per_s is None else r.samples_per_s})
    return "\n".join(lines) + "\n", fields


