#!/usr/bin/env python3
"""List every run of a sweep as done / running / failed / stopped / missing, with its log and last error.

    python scripts/sweep_status.py results/paper                  # Markdown table
    python scripts/sweep_status.py results/paper --json           # the same rows as JSON
    python scripts/sweep_status.py results/paper --dataset_path datasets   # + generated variants
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hsi.cli_types import HelpFormatter  # noqa: E402
from hsi.errors import ToolkitError, run_main  # noqa: E402
from hsi.sweep_status import as_json, counts, markdown, sweep_status  # noqa: E402


def _status(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("results", help="the results folder of the drivers (RESULTS)")
    ap.add_argument("--jobs", nargs="*", default=[], help="jobs files (default: <results>/sweep/*.jsonl)")
    ap.add_argument("--dataset_path", default=None, help="also list the generated variants of these datasets")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    a = ap.parse_args(argv)
    if not Path(a.results).is_dir():
        raise ToolkitError(f"{a.results}: no such results folder (give the RESULTS folder of the drivers)")
    rows = sweep_status(a.results, a.jobs, a.dataset_path)
    if a.json:
        print(as_json(rows))
    else:
        print(markdown(rows), end="")
        print(f"\n{len(rows)} run(s): {counts(rows)}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_status, argv)


if __name__ == "__main__":
    raise SystemExit(main())
