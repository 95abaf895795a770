"""Tables: tagged validation records grouped into the paper's tables, printed as Markdown, LaTeX and CSV."""
from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from hsi.metrics import METRIC_NAMES, MRAE_BREAKDOWN_KEYS, MRAE_NEAR_ZERO_FRACTION, MRAE_WITHOUT_NEAR_ZERO, NEAR_ZERO

from .collect import TrainingRun
from .labels import method_label, method_order
from .record import PAIR_BOUND_METRICS, ValidationRecord
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
    ``bounds``: column -> the paired bound of its original/metamer pair (``ValidationRecord.pair_bound``
    form, plus ``source``), set by ``hsi.report.index``; ``ambiguity``: column -> the ambiguity left by
    that encoding (``{"RMSE", "SAM", "MRAE", "mode", "source"}``, Finding 3), from ``metamer/ambiguity.py``.
    """

    spec: TableSpec
    dataset: str | None
    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], ValidationRecord]
    missing_columns: list[str]
    bounds: dict[str, dict] = field(default_factory=dict)
    ambiguity: dict[str, dict] = field(default_factory=dict)

    def value(self, method: str, column: str, metric: str) -> float | None:
        """The mean of ``metric`` (a ``METRIC_NAMES`` or an optional summary key) in a cell, None if absent."""
        rec = self.cells.get((method, column))
        return None if rec is None else rec.extra_metric(metric) if metric not in METRIC_NAMES else rec.summary[metric]

    @property
    def has_breakdown(self) -> bool:
        """Some record of the table carries the MRAE breakdown (``hsi.metrics.mrae_breakdown``)."""
        return any(r.extra_metric(MRAE_NEAR_ZERO_FRACTION) is not None for r in self.cells.values())

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


BREAKDOWN_LABELS = {MRAE_NEAR_ZERO_FRACTION: f"↳ share of truth voxels < {NEAR_ZERO:g}",
                    MRAE_WITHOUT_NEAR_ZERO: f"↳ MRAE where truth ≥ {NEAR_ZERO:g}"}
"""Row labels of the MRAE breakdown printed under each method's MRAE."""
NO_PSNR_BOUND = ("PSNR has no paired bound: it is a logarithm of a mean, so errors on originals and "
                 "metamers do not add up as for RMSE, SAM and MRAE.")


def format_breakdown(value: float | None, key: str) -> str:
    """A breakdown value: the share of near-zero truth as a percentage, the MRAE over the rest as MRAE."""
    if value is None:
        return GAP
    if key == MRAE_NEAR_ZERO_FRACTION and math.isfinite(value):
        return f"{100 * value:.1f} %"
    return format_value(value, "MRAE")


def bound_row_label(table: ResultTable) -> tuple[str, dict[str, str]]:
    """The bound row's label and per-column suffixes (strict / approximate, marked per cell when mixed)."""
    from .bound import strictness_label
    kinds = {c: bool(b.get("strict")) for c, b in table.bounds.items()}
    if len(set(kinds.values())) == 1:
        return f"Paired bound ({strictness_label(next(iter(kinds.values())))})", {}
    return "Paired bound", {c: " (strict)" if k else " (approx.)" for c, k in kinds.items()}


def extra_rows(table: ResultTable, metric: str) -> list[tuple[str, list[str]]]:
    """``(label, cells)`` rows printed after the methods for ``metric``: the paired bound and the
    ambiguity left by the encoding (RMSE, SAM, MRAE only)."""
    rows = []
    if metric not in PAIR_BOUND_METRICS:
        return rows
    if table.bounds:
        label, suffix = bound_row_label(table)
        rows.append((label, [format_value(table.bounds[c][metric], metric) + suffix.get(c, "")
                             if c in table.bounds else GAP for c in table.columns]))
    if table.ambiguity:
        rows.append(("Ambiguity left by the encoding (paired bound, alpha = 0)",
                     [format_value(table.ambiguity[c][metric], metric) if c in table.ambiguity else GAP
                      for c in table.columns]))
    return rows


def table_notes(table: ResultTable) -> list[str]:
    """Footnotes of a table with bound or ambiguity rows."""
    notes = []
    if table.bounds:
        b = next(iter(table.bounds.values()))
        notes.append("Paired bound: half the distance d between each original and its metamer, over the "
                     f"validated scenes ({b.get('scenes', '?')}): no RGB-only method can be better than this on both "
                     "originals and metamers (original + metamer error ≥ d = 2 × bound). Strict when the two RGB "
                     "images are byte-identical (" + "; ".join(sorted({str(v.get('strictness', '?'))
                                                                          for v in table.bounds.values()})) + ").")
    if table.ambiguity:
        modes = sorted({str(a.get("mode")) for a in table.ambiguity.values()})
        notes.append(f"Ambiguity left by the encoding: mean paired bound of alpha = 0 {'/'.join(modes)} metamers "
                     "through each PSF (metamer/ambiguity.py), no network involved.")
    if table.bounds or table.ambiguity:
        notes.append(NO_PSNR_BOUND)
    if table.has_breakdown:
        notes.append(f"MRAE rows ↳: share of ground-truth voxels below {NEAR_ZERO:g} (where MRAE's denominator is "
                     "tiny) and the MRAE over the other voxels; the paper's MRAE is the main row.")
    return notes


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
                if metric == "MRAE" and t.has_breakdown:
                    for key in MRAE_BREAKDOWN_KEYS:
                        lines.append(f"| {BREAKDOWN_LABELS[key]} | "
                                     + " | ".join(format_breakdown(t.value(m, c, key), key) for c in t.columns) + " |")
            for label, cells in extra_rows(t, metric):
                lines.append(f"| *{_md_escape(label)}* | " + " | ".join(cells) + " |")
            lines.append("")
        for note in table_notes(t):
            lines += [f"Note: {note}", ""]
        if t.missing_columns:
            lines += ["Not run yet: " + ", ".join(f"`{c}`" for c in t.missing_columns) + ".", ""]
        n = len(t.cells)
        lines += [f"{n} run{'s' if n != 1 else ''}; sources: "
                  + ", ".join(f"`{r.run_dir.name if r.run_dir else r.name}`"
                             for r in sorted(t.cells.values(), key=lambda r: str(r.path))), ""]
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
                if metric == "MRAE" and t.has_breakdown:
                    for key in MRAE_BREAKDOWN_KEYS:
                        label = BREAKDOWN_LABELS[key].replace("↳ ", r"\quad ").replace("≥", r"$\geq$").replace("<", "$<$")
                        vals = [format_breakdown(t.value(m, c, key), key).replace("%", r"\%").replace(GAP, "--")
                                for c in t.columns]
                        parts.append(label + " & " + " & ".join(vals) + r" \\")
            extra = extra_rows(t, metric)
            if extra:
                parts.append(r"\midrule")
            for label, cells in extra:
                parts.append(r"\emph{" + latex_escape(label) + "} & " + " & ".join(c.replace(GAP, "--") for c in cells) + r" \\")
            parts += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
        notes = table_notes(t)
        if notes:
            parts += ["% Notes: " + " ".join(notes).replace("≥", ">=").replace("×", "x"), ""]
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
                present = [k for k in MRAE_BREAKDOWN_KEYS if rec.extra_metric(k) is not None]
                for metric in (*METRIC_NAMES, *present):
                    rows.append({"table": t.spec.key, "dataset": rec.dataset, "row": m, "column": c, "metric": metric,
                                 "value": repr(t.value(m, c, metric)), "images": "" if rec.images is None else rec.images,
                                 "source": str(rec.path)})
    return rows


def bound_rows(tables: Sequence[ResultTable]) -> list[dict]:
    """Long-format rows (``CSV_FIELDS``) of the bound rows: ``row`` = ``pair_bound_strict`` /
    ``pair_bound_approximate`` (Table V-like pairs) or ``ambiguity`` (Finding 3); ``images`` = scenes;
    ``source`` = the record or JSON it comes from (or the data the report computed it from)."""
    rows = []
    for t in tables:
        for c, b in t.bounds.items():
            for metric in PAIR_BOUND_METRICS:
                rows.append({"table": t.spec.key, "dataset": t.dataset or "", "column": c, "metric": metric,
                             "row": "pair_bound_strict" if b.get("strict") else "pair_bound_approximate",
                             "value": repr(float(b[metric])), "images": b.get("scenes", ""), "source": b.get("source", "")})
        for c, a in t.ambiguity.items():
            for metric in PAIR_BOUND_METRICS:
                rows.append({"table": t.spec.key, "dataset": t.dataset or "", "row": "ambiguity", "column": c,
                             "metric": metric, "value": repr(float(a[metric])), "images": a.get("scenes", ""),
                             "source": a.get("source", "")})
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


