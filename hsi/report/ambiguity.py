"""Finding 3's ambiguity row: the ambiguity left by each encoding, read from ``metamer/ambiguity.py``'s JSON.

``metamer/ambiguity.py`` (``hsi.ambiguity_report.run_ambiguity``) writes, per dataset, camera and PSF,
``<results>/ambiguity/<dataset>_<camera>_<psf>/ambiguity.json`` with ``kind: "ambiguity"``, ``dataset``,
``camera.name``, ``psf`` (None or ``{"name": ...}``), ``metamer_mode`` (``exact`` / ``exact_optics``) and
``pair_bound`` ``{"RMSE", "SAM", "MRAE"}``: the mean over scenes of the paired bound of alpha = 0 metamers.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from hsi.ambiguity_report import JSON_NAME

from .record import PAIR_BOUND_METRICS, parse_created
from .tables import ResultTable

AMBIGUITY_FOLDER = "ambiguity"
"""Where ``metamer/ambiguity.py`` writes under the results root (``results/ambiguity/<label>/``)."""


def default_ambiguity_folders(roots: Sequence[str | os.PathLike]) -> list[Path]:
    """``<root>/ambiguity`` of each results root."""
    return [Path(r) / AMBIGUITY_FOLDER for r in roots]


def collect_ambiguity(folders: Sequence[str | os.PathLike], warn) -> list[dict]:
    """The ``ambiguity.json`` records under ``folders`` (recursively), each with ``path`` added; unreadable
    or incomplete ones are skipped with a warning, missing folders silently."""
    found = []
    for folder in folders:
        if not Path(folder).is_dir():
            continue
        for path in sorted(Path(folder).rglob(JSON_NAME)):
            try:
                obj = json.loads(path.read_text(encoding="utf-8"))
                bound = obj["pair_bound"]
                if obj.get("kind") != "ambiguity" or not all(isinstance(bound.get(m), (int, float))
                                                             for m in PAIR_BOUND_METRICS):
                    raise ValueError("not an ambiguity record with a pair_bound")
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
                warn(f"{path}: skipped ({e})")
                continue
            found.append({**obj, "path": str(path)})
    return found


def psf_column(record: dict) -> str:
    """The Finding 3 column of an ambiguity record: ``none`` without a PSF, else the PSF's name."""
    psf = record.get("psf")
    return "none" if not psf else str(psf.get("name"))


def _matches(column: str, psf: str) -> bool:
    return column == psf or psf.startswith(column + "_") or column.lower() == psf.lower()


def attach_ambiguity(tables: Sequence[ResultTable], records: Sequence[dict]) -> None:
    """Set ``table.ambiguity[column]`` for the Finding 3 tables (key starting ``finding3``) from the
    ambiguity records of the table's dataset whose PSF matches the column (``double_gauss`` matches
    ``double_gauss_50mm_F1.8``); of several (cameras, reruns), the newest."""
    for t in tables:
        if not t.spec.key.startswith("finding3"):
            continue
        for column in t.columns:
            cands = [r for r in records if (t.dataset is None or r.get("dataset") == t.dataset)
                     and _matches(column, psf_column(r))]
            if not cands:
                continue
            rec = max(cands, key=lambda r: (str(parse_created(r.get("created")) or ""), r["path"]))
            t.ambiguity[column] = {**{m: float(rec["pair_bound"][m]) for m in PAIR_BOUND_METRICS},
                                   "mode": rec.get("metamer_mode"), "camera": (rec.get("camera") or {}).get("name"),
                                   "scenes": rec.get("scenes_total"), "source": rec["path"]}
