"""The report step: result folders -> the paper's tables (Markdown, LaTeX, CSV) and figures (PNG).

Inputs, found recursively under the given roots:

* validation runs (``RGB2HS/validate_RGB2HS.py``): ``<run>/summary.json`` with a ``tag``
  ``"<table>/<column>"`` (e.g. ``table5/metamer``), the method, the validation dataset and the mean
  metrics (MRAE, RMSE, PSNR in dB, SAM in radians), plus ``per_image.csv`` and, with ``--save_recon``,
  the reconstructions ``<scene>_{std|metamer}.mat``;
* training runs (the engine of ``hsi.train``): ``config.json``, ``scalars.csv`` and, once finished,
  ``summary.json``.

Outputs under ``out``: per table ``<table>.md`` / ``.tex`` (booktabs, best value per column in bold) /
``.csv`` (tidy: one row per table, dataset, row, column, metric; ``<table>_bounds.csv``: the paired-bound
and ambiguity rows); ``all_tables.csv``;
``training_runs.{md,csv}``; ``figures/*.png``; ``index.md`` linking everything; ``report.json``
(provenance and the list of source files). Every file is written atomically.

The report works on partial results: missing runs are gaps (``–``), unreadable files are skipped with
a warning, unfinished training runs show their progress.

Modules: ``record`` (``ValidationRecord``, the one type of a validation result), ``collect`` (finding
records and training runs), ``specs`` (the paper's table registry), ``tables`` (grouping and Markdown /
LaTeX / CSV), ``figures`` and ``examples`` (PNG figures; each ``plot_*`` saves its ``*_figure``),
``index`` (``make_report(ReportOptions(...))``: the whole step),
``bound`` (the paired bound of metamer validations), ``ambiguity`` (Finding 3's ambiguity per encoding,
from ``metamer/ambiguity.py``), ``labels`` (the methods' display order; names from the registry). Metrics, their per-pixel maps and
crops are ``hsi.metrics``'.
"""
from __future__ import annotations

from hsi.metrics import METRIC_NAMES as METRICS

from .collect import Collection, ReportWarnings, TrainingRun, collect_results, parse_training_run
from .examples import error_example_figure, example_inputs, example_pixels, plot_error_example, saved_scenes
from .bound import pair_bound_of, pair_strictness, record_pair_bound
from .figures import (bound_figure, bound_points, error_vs_psf_figure, original_vs_metamer_figure, plot_bound,
                      plot_error_vs_psf, plot_original_vs_metamer, plot_training_curves, training_curve_series,
                      training_curves_figure)
from .index import FORMATS, ReportOptions, ReportResult, make_report, write_figures, write_report
from .labels import method_label, method_order
from hsi.metrics import centre_crop, mrae_map
from .record import NotAValidationRecord, RecordError, ValidationRecord, check_tag
from .specs import PAPER_DATASETS, TABLES, TableSpec, table_spec
from .tables import (CSV_FIELDS, bound_rows, GAP, HIGHER_IS_BETTER, METRIC_DIGITS, METRIC_UNITS, ResultTable, best_in_column,
                     build_tables, format_value, latex_escape, render_csv, render_latex, render_markdown,
                     original_metamer_pairs, render_training, tidy_rows)

__all__ = [
    "METRICS", "Collection", "ReportWarnings", "TrainingRun", "collect_results", "parse_training_run",
    "error_example_figure", "example_inputs", "example_pixels", "plot_error_example", "saved_scenes",
    "bound_figure", "error_vs_psf_figure", "original_vs_metamer_figure", "training_curves_figure",
    "original_metamer_pairs", "pair_bound_of", "pair_strictness", "record_pair_bound", "bound_points", "plot_bound",
    "training_curve_series", "plot_error_vs_psf", "plot_original_vs_metamer", "plot_training_curves",
    "FORMATS", "ReportOptions", "ReportResult", "make_report", "write_figures", "write_report", "method_label", "method_order",
    "centre_crop", "mrae_map", "NotAValidationRecord", "RecordError", "ValidationRecord", "check_tag",
    "PAPER_DATASETS", "TABLES", "TableSpec", "table_spec", "CSV_FIELDS", "bound_rows", "GAP", "HIGHER_IS_BETTER", "METRIC_DIGITS",
    "METRIC_UNITS", "ResultTable", "best_in_column", "build_tables", "format_value", "latex_escape", "render_csv",
    "render_latex", "render_markdown", "render_training", "tidy_rows",
]
