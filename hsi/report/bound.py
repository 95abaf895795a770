"""The paired bound of a metamer validation: computed from the data the network was validated on.

An original ``s`` and its metamer ``m`` that give byte-identical RGB get one prediction from any RGB-only
method, so ``err(y, s) + err(y, m) >= d(s, m)`` for RMSE, SAM and MRAE (``hsi.ambiguity.pair_distance``;
means over images keep it). ``pair_bound_of`` gives ``d / 2`` averaged over the validated scenes, with the
validation's centre crop and border, and says whether it is strict (byte-identical RGB) or approximate.
The validation writes it into ``summary.json`` (``ValidationRecord.pair_bound``); the report computes
it for records written before that (``record_pair_bound``).
"""
from __future__ import annotations

import csv
from pathlib import Path

from hsi.pair_bound import pair_bound_of, pair_strictness  # noqa: F401  (re-exported)

from .record import ValidationRecord

STRICT_LABEL = "strict: byte-identical RGB"
APPROXIMATE_LABEL = "approximate: clip metamers or independent noise"


def validated_scenes(record: ValidationRecord) -> list[str]:
    """The scenes of a run, from its ``per_image.csv`` (``<scene>_metamer`` names stripped), else its split list."""
    from hsi.data import read_split
    per_image = record.run_dir / "per_image.csv" if record.run_dir else None
    if per_image is not None and per_image.is_file():
        with open(per_image, newline="", encoding="utf-8") as fh:
            names = [str(r.get("name", "")) for r in csv.DictReader(fh)]
        return [n[: -len("_metamer")] if n.endswith("_metamer") else n for n in names if n]
    return read_split(record_dataset_dir(record), str(record.args.get("split") or "valid"))


def record_dataset_dir(record: ValidationRecord) -> Path:
    """``<dataset_path>/<NAME>`` of a run (the originals' folder), from its arguments or its data_dir."""
    if record.args.get("dataset_path"):
        return Path(str(record.args["dataset_path"])) / str(record.args.get("dataset_name") or record.dataset)
    return Path(str(record.data_dir)).parent


def record_pair_bound(record: ValidationRecord, cache: dict | None = None) -> dict | None:
    """The record's ``pair_bound``, else (a metamer record with a ``data_dir``) the one ``pair_bound_of``
    computes from its data, with its crop; None for originals or without data. ``cache``: reused per
    (data, scenes, crop). ``OSError`` / ``ValueError`` when the data cannot be read."""
    if record.pair_bound is not None:
        return dict(record.pair_bound)
    if not record.metamer or record.data_dir is None:
        return None
    from hsi.datasets import get_dataset_spec
    try:
        crop = get_dataset_spec(record.dataset).eval_crop
    except (KeyError, ValueError):
        crop = None
    border = int(record.args.get("border") or 0)
    scenes = validated_scenes(record)
    key = (str(record_dataset_dir(record)), record.data_dir, tuple(scenes), record.format, border, crop)
    if cache is not None and key in cache:
        return cache[key]
    bound = pair_bound_of(record_dataset_dir(record), record.data_dir, scenes, record.format, border, crop)
    bound["computed_by"] = "report"
    if cache is not None:
        cache[key] = bound
    return bound


def strictness_label(strict: bool) -> str:
    return STRICT_LABEL if strict else APPROXIMATE_LABEL


def attach_bounds(tables, warn, cache: dict | None = None) -> None:
    """Set ``table.bounds[column]`` for both columns of every original/metamer pair: the paired bound of
    the metamer column's records (``record_pair_bound``; the newest record's when runs of one column were
    validated on different data, with a warning). A bound that cannot be computed is a warning."""
    from .tables import original_metamer_pairs
    cache = {} if cache is None else cache
    for t in tables:
        for _, orig, met in original_metamer_pairs(t.columns):
            found = []
            for rec in sorted((r for (m, c), r in t.cells.items() if c == met), key=ValidationRecord.newest_last_key):
                try:
                    bound = record_pair_bound(rec, cache)
                except (OSError, ValueError) as e:
                    warn(f"no paired bound for {rec.run_dir}: {e}")
                    continue
                if bound is not None:
                    found.append({**bound, "source": bound.get("source") or (
                        f"computed by the report from {rec.data_dir}" if bound.get("computed_by") else str(rec.path))})
            if not found:
                continue
            if any(abs(b["RMSE"] - found[-1]["RMSE"]) > 1e-9 * max(1.0, abs(found[-1]["RMSE"])) for b in found):
                warn(f"{t.heading}, column {met}: the runs were validated on data with different paired bounds; "
                     f"showing the newest ({found[-1]['source']})")
            t.bounds[orig] = t.bounds[met] = found[-1]
