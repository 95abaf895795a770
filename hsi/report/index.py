"""The report step: collect, tables, figures, then ``index.md`` and ``report.json`` (provenance)."""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from hsi.io import atomic_write_json, atomic_write_text, provenance

from .ambiguity import attach_ambiguity, collect_ambiguity, default_ambiguity_folders
from .bound import attach_bounds
from .collect import Collection, ReportWarnings, TrainingRun, collect_results
from .examples import plot_error_example, saved_scenes
from .figures import plot_bound, plot_error_vs_psf, plot_original_vs_metamer, plot_training_curves, safe_name
from .tables import (GAP, ResultTable, bound_rows, build_tables, render_csv, render_latex, render_markdown, render_training,
                     tidy_rows)

FORMATS = ("md", "tex", "csv")


@dataclass
class ReportResult:
    """What ``make_report`` wrote (paths under ``out``) and the warnings it raised."""

    out: Path
    tables: list[ResultTable]
    files: list[Path]
    figures: list[Path]
    warnings: list[str]
    collection: Collection


def _link(path: Path, base: Path) -> str:
    rel = path.relative_to(base).as_posix()
    return f"[{path.name}]({rel})"


@dataclass(frozen=True)
class ReportOptions:
    """What to report and where.

    Attributes:
        roots: folders searched recursively for validation and training runs (missing ones: a warning).
        out: report folder (created; existing files are replaced atomically, none deleted).
        formats: any of ``md``, ``tex``, ``csv`` for the tables (``index.md`` is always written).
        figures: draw the PNG figures.
        max_examples: scenes per validation run with saved reconstructions that get an error-map figure
            (0 or less: none).
        ambiguity: folders searched recursively for ``ambiguity.json`` of ``metamer/ambiguity.py`` (the
            Finding 3 ambiguity row); empty: ``<root>/ambiguity`` of each root (where that script writes).
    """

    roots: tuple[str, ...]
    out: str
    formats: tuple[str, ...] = FORMATS
    figures: bool = True
    max_examples: int = 2
    ambiguity: tuple[str, ...] = ()

    def __post_init__(self):
        bad = [f for f in self.formats if f not in FORMATS]
        if bad:
            raise ValueError(f"unknown format(s) {bad}; choose from {FORMATS}")


def write_report(roots: Sequence[str | os.PathLike], out: str | os.PathLike, formats: Sequence[str] = FORMATS,
                 figures: bool = True, max_examples: int = 2, ambiguity: Sequence[str | os.PathLike] = ()) -> ReportResult:
    """``make_report`` with the fields of ``ReportOptions`` as arguments."""
    return make_report(ReportOptions(tuple(str(r) for r in roots), str(out), tuple(formats), figures, max_examples,
                                     tuple(str(a) for a in ambiguity)))


def make_report(options: ReportOptions) -> ReportResult:
    """Collect the results under ``options.roots`` and write the report to ``options.out`` (see the
    package docstring for the files)."""
    roots, formats, figures, max_examples = options.roots, options.formats, options.figures, options.max_examples
    out = Path(options.out)
    warn = ReportWarnings()
    coll = collect_results(roots, warn, skip=out)
    tables, coll.duplicates = build_tables(coll.validation, warn)
    attach_bounds(tables, warn)
    attach_ambiguity(tables, collect_ambiguity(options.ambiguity or default_ambiguity_folders(roots), warn))
    files, table_files = _write_tables(tables, out, formats)
    training_files, training_md = _write_training(coll.training, out, formats)
    files += training_files
    figs: list[Path] = []
    if figures:
        figs = write_figures(tables, coll, out / "figures", max_examples, warn)
    files += figs
    index = _render_index(out, tables, table_files, figs, coll, training_md, roots, warn.messages)
    files.append(atomic_write_text(out / "index.md", index))
    record = _report_record(roots, out, formats, coll, files, warn.messages)
    files.append(atomic_write_json(out / "report.json", record))
    return ReportResult(out, tables, files, figs, warn.messages, coll)


def _write_tables(tables: Sequence[ResultTable], out: Path, formats: Sequence[str]
                  ) -> tuple[list[Path], dict[str, list[Path]]]:
    """``<table>.{md,tex,csv}`` per paper table (``<table>_bounds.csv``: its paired-bound / ambiguity rows)
    and ``all_tables.csv`` (both kinds of rows); returns all files and the files per table."""
    by_key: dict[str, list[ResultTable]] = {}
    for t in tables:
        by_key.setdefault(t.spec.key, []).append(t)
    files: list[Path] = []
    table_files: dict[str, list[Path]] = {}
    all_rows = []
    for key, group in by_key.items():
        written = []
        if "md" in formats:
            written.append(atomic_write_text(out / f"{safe_name(key)}.md", render_markdown(group)))
        if "tex" in formats:
            written.append(atomic_write_text(out / f"{safe_name(key)}.tex", render_latex(group)))
        rows, bounds = tidy_rows(group), bound_rows(group)
        all_rows += rows + bounds
        if "csv" in formats:
            written.append(atomic_write_text(out / f"{safe_name(key)}.csv", render_csv(rows)))
            if bounds:
                written.append(atomic_write_text(out / f"{safe_name(key)}_bounds.csv", render_csv(bounds)))
        table_files[key] = written
        files += written
    if "csv" in formats and tables:
        files.append(atomic_write_text(out / "all_tables.csv", render_csv(all_rows)))
    return files, table_files


def _write_training(runs: Sequence[TrainingRun], out: Path, formats: Sequence[str]) -> tuple[list[Path], Path | None]:
    """``training_runs.md`` (and ``.csv``) when there are training runs; returns the files and the Markdown one."""
    if not runs:
        return [], None
    md, rows = render_training(runs)
    training_md = atomic_write_text(out / "training_runs.md", "# Training runs\n\n" + md)
    files = [training_md]
    if "csv" in formats:
        files.append(atomic_write_text(out / "training_runs.csv", render_csv(rows, list(rows[0]))))
    return files, training_md


def _report_record(roots: Sequence, out: Path, formats: Sequence[str], coll: Collection, files: Sequence[Path],
                   warnings: Sequence[str]) -> dict:
    """``report.json``: provenance, the sources of every table cell, what was ignored or skipped, the outputs."""
    return provenance(
        kind="report", roots=[str(r) for r in roots], out=str(out), formats=list(formats),
        sources=[{"path": str(r.path), "tag": r.tag, "method": r.method, "dataset": r.dataset,
                  "created": r.finished_at.isoformat()} for r in coll.validation],
        duplicates_ignored=[{"kept": str(k), "ignored": str(d)} for k, d in coll.duplicates],
        training_runs=[str(r.path) for r in coll.training], untagged=[str(p) for p in coll.untagged],
        skipped=[{"path": str(p), "reason": why} for p, why in coll.skipped],
        outputs=[str(p.relative_to(out)) for p in files], warnings=list(warnings))


def write_figures(tables: Sequence[ResultTable], coll: Collection, fig_dir: Path, max_examples: int,
                  warn: ReportWarnings) -> list[Path]:
    """Every figure of the report under ``fig_dir``: per table the original-vs-metamer bars, the paired-bound
    scatter (tables with a bound) and (Finding 3)
    the error against PSF, error maps of up to ``max_examples`` saved scenes per validation run, and the
    training curves per (mode, dataset)."""
    figs = []
    for t in tables:
        stem = safe_name(t.spec.key + (f"_{t.dataset}" if t.dataset else ""))
        p = plot_original_vs_metamer(t, fig_dir / f"original_vs_metamer_{stem}.png")
        if p is not None:
            figs.append(p)
        p = plot_bound(t, fig_dir / f"bound_{stem}.png")
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
            target = fig_dir / "examples" / f"{safe_name(rec.run_dir.name)}__{safe_name(scene)}.png"
            try:
                figs.append(plot_error_example(rec, scene, target))
            except (OSError, ValueError) as e:   # SpectralFileError and RGBFileError are ValueErrors
                warn(f"no example figure for {scene} of {rec.run_dir}: {e}")
    groups: dict[tuple[str, str], list[TrainingRun]] = {}
    for r in coll.training:
        groups.setdefault((r.mode, r.dataset), []).append(r)
    for (mode, dataset), runs in sorted(groups.items()):
        p = plot_training_curves(runs, f"training loss and validation metrics: {mode}, {dataset}",
                                 fig_dir / f"training_{safe_name(mode)}_{safe_name(dataset)}.png")
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
