"""Finding results: validation records (``summary.json``) and training runs (``config.json``) under folders.

Unreadable or incomplete files are skipped with a warning; validation records are read only through
``ValidationRecord`` and kept in the order they were written (``ValidationRecord.newest_last_key``).
"""
from __future__ import annotations

import csv
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from .record import NotAValidationRecord, RecordError, ValidationRecord

LOG = logging.getLogger("hsi.report")

SUMMARY_FILE = "summary.json"
"""A validation run's record (``ValidationRecord``), or a training run's summary when beside its config."""
TRAINING_CONFIG = "config.json"
TRAINING_SCALARS = "scalars.csv"


@dataclass
class TrainingRun:
    """One training run folder: progress, validation curve (MRAE per validated iteration) and every scalar.

    ``series``: name -> ``[(iteration, value), ...]`` sorted, for every scalar of ``scalars.csv``
    (``train/loss``, ``train/lr``, ``train/samples_per_s`` at each log point; ``valid/MRAE``, ``valid/RMSE``,
    ``valid/PSNR``, ``valid/SAM``, ``valid/loss`` and any further ``valid/*`` at each validation)."""

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
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)


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


def _read_json(path: Path) -> dict:
    obj = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    return obj


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
    cfg = _read_json(run_dir / TRAINING_CONFIG).get("config")
    if not isinstance(cfg, dict) or "method" not in cfg:
        raise ValueError("config.json has no 'config' with a 'method'")
    args = cfg.get("args") if isinstance(cfg.get("args"), dict) else {}
    dataset = args.get("dataset_name") or (Path(str(args["data_root"])).name if args.get("data_root") else "?")
    scalars = _read_scalars(run_dir / TRAINING_SCALARS)
    curve = sorted((it, v) for it, name, v in scalars if name == "valid/MRAE")
    last_valid = {}
    valid_rows = [(it, name, v) for it, name, v in scalars if name.startswith("valid/")]
    if valid_rows:
        last_it = max(it for it, _, _ in valid_rows)
        last_valid = {name[len("valid/"):]: v for it, name, v in valid_rows if it == last_it}
    summary = {}
    if (run_dir / SUMMARY_FILE).is_file():
        try:
            summary = _read_json(run_dir / SUMMARY_FILE)
        except (OSError, ValueError) as e:
            LOG.warning("%s: unreadable (%s); progress taken from scalars.csv", run_dir / SUMMARY_FILE, e)
    iterations = int(summary.get("iterations") or max((it for it, _, _ in scalars), default=0))
    best = summary.get("best_valid_mrae")
    if not isinstance(best, (int, float)) or not math.isfinite(best):
        best = min((v for _, v in curve), default=None)
    if isinstance(summary.get("final_valid"), dict):
        last_valid = {k: float(v) for k, v in summary["final_valid"].items() if isinstance(v, (int, float))}
    total = cfg.get("total_iterations")
    series: dict[str, list[tuple[int, float]]] = {}
    for it, name, v in scalars:
        series.setdefault(name, []).append((it, v))
    series = {k: sorted(v) for k, v in series.items()}
    return TrainingRun(path=run_dir, method=str(cfg["method"]), mode=str(cfg.get("mode") or "?"), dataset=str(dataset),
                       iterations=iterations, total_iterations=int(total) if isinstance(total, int) else None,
                       finished=bool(summary.get("finished", False)), best_valid_mrae=best, last_valid=last_valid,
                       samples_per_s=summary.get("samples_per_s"), curve=curve,
                       series=series)


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


def _existing_roots(roots: Sequence[str | os.PathLike], warn) -> list[Path]:
    existing = []
    for r in roots:
        if Path(r).is_dir():
            existing.append(Path(r))
        else:
            warn(f"{r}: no such folder, nothing collected from it")
    return existing


def _add_training_run(out: Collection, config: Path, warn) -> None:
    try:
        out.training.append(parse_training_run(config.parent))
    except (OSError, ValueError, KeyError, TypeError) as e:
        out.skipped.append((config, str(e)))
        warn(f"{config}: skipped ({e})")


def _add_validation_record(out: Collection, path: Path, warn) -> None:
    try:
        record = ValidationRecord.read(path)
    except NotAValidationRecord as e:
        out.skipped.append((path, str(e)))
        warn(f"{path}: skipped, {e}")
        return
    except RecordError as e:
        out.skipped.append((path, str(e)))
        warn(f"{path}: skipped, incomplete validation record ({e})")
        return
    except (OSError, ValueError) as e:
        out.skipped.append((path, f"unreadable: {e}"))
        warn(f"{path}: skipped, unreadable ({e})")
        return
    if record.tag is None:
        out.untagged.append(path)
    else:
        out.validation.append(record)


def collect_results(roots: Sequence[str | os.PathLike], warn=None, skip: str | os.PathLike | None = None) -> Collection:
    """Find validation records and training runs under ``roots``.

    Unreadable or incomplete files are skipped with a warning (``warn(message)``, default: log);
    a missing root is a warning, not an error. ``skip``: a folder not searched (the report's own).
    ``validation`` comes in the order the records were written (oldest first).
    """
    warn = warn or LOG.warning
    out = Collection()
    skip_dir = Path(skip).resolve() if skip is not None else None
    for path in _walk_files(_existing_roots(roots, warn), {SUMMARY_FILE, TRAINING_CONFIG}, skip_dir):
        if path.name == TRAINING_CONFIG:
            _add_training_run(out, path, warn)
        elif not (path.parent / TRAINING_CONFIG).is_file():   # else a training run's summary, read with its config
            _add_validation_record(out, path, warn)
    out.validation.sort(key=ValidationRecord.newest_last_key)
    return out
