"""Turn result folders into the paper's tables and figures.

Searches every --results folder recursively for validation runs tagged ``<table>/<column>``
(``RGB2HS/validate_RGB2HS.py --tag table5/metamer``) and for training runs, and writes to --out:
``<table>.md`` / ``.tex`` / ``.csv`` per table (MRAE, RMSE, PSNR in dB, SAM in radians), ``all_tables.csv``,
``training_runs.md``, ``figures/*.png`` (original vs metamer bars for all metrics with the paired bound,
the bound scatter x + y >= d, RMSE / SAM / MRAE error maps and spectra of saved reconstructions, error
against PSF, training loss and validation metrics), ``index.md`` and ``report.json`` (provenance).
Works on partial results: missing runs are gaps, unreadable files are skipped with a warning.

Example: python ./scripts/report.py --results results RGB2HS/validate_exp --out results/report
"""
from __future__ import annotations

import argparse
import logging
import sys

from hsi.cli_types import HelpFormatter, non_negative_int
from hsi.errors import ToolkitError, run_main
from hsi.report import FORMATS, ReportOptions, make_report


def _report(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--results", nargs="+", default=["results"], help="folders searched recursively for runs")
    ap.add_argument("--out", default="results/report", help="report folder")
    ap.add_argument("--formats", nargs="+", default=list(FORMATS), choices=list(FORMATS), help="table formats")
    ap.add_argument("--no_figures", action="store_true", help="write the tables only")
    ap.add_argument("--max_examples", type=non_negative_int, default=2,
                    help="scenes per validation run (with saved reconstructions) drawn as error maps")
    ap.add_argument("--ambiguity", nargs="+", default=[],
                    help="folders with metamer/ambiguity.py results (ambiguity.json) for the Finding 3 ambiguity row "
                         "(default: <results>/ambiguity of each --results folder)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s", stream=sys.stderr)
    options = ReportOptions(tuple(args.results), args.out, tuple(args.formats), figures=not args.no_figures,
                            max_examples=args.max_examples, ambiguity=tuple(args.ambiguity))
    try:
        result = make_report(options)
    except OSError as e:
        raise ToolkitError(f"cannot write the report to {args.out}: {e}; choose a writable folder with --out") from e
    print(f"[report] {len(result.collection.validation)} tagged validation run(s) in {len({t.spec.key for t in result.tables})} "
          f"table(s), {len(result.collection.training)} training run(s), {len(result.figures)} figure(s), "
          f"{len(result.warnings)} warning(s)")
    print(f"[report] open {result.out / 'index.md'}")
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_report, argv)


if __name__ == "__main__":
    raise SystemExit(main())
