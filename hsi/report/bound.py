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
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from hsi.layout import manifest_path, metamer_cube_path, metamer_rgb_path, spec_path

from .record import PAIR_BOUND_METRICS, ValidationRecord

STRICT_LABEL = "strict: byte-identical RGB"
APPROXIMATE_LABEL = "approximate: clip metamers or independent noise"


def _crop(x: torch.Tensor, centre_crop: int | None) -> torch.Tensor:
    """The validation's centre crop (``hsi.data.FullImageDataset``: none when the image is smaller)."""
    h, w = x.shape[-2:]
    if not centre_crop or h < centre_crop or w < centre_crop:
        return x
    t, l = (h - centre_crop) // 2, (w - centre_crop) // 2
    return x[..., t:t + centre_crop, l:l + centre_crop]


def _read_manifest(data_dir: Path) -> dict:
    try:
        obj = json.loads(manifest_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def pair_strictness(data_dir: str | os.PathLike, scenes: Sequence[str], rgb_format: str = "png") -> tuple[bool, str]:
    """Whether the originals' and metamers' RGB of ``scenes`` are byte-identical, and how that was decided.

    In order: the generation manifest's per-scene ``rgb_identical``; else the decoded RGB files of
    ``rgb_format`` compared pixel for pixel; else the manifest's settings (``metamer_mode == "exact"`` and
    ``npe == 0``: strict). Returns ``(strict, basis)`` with ``basis`` one readable line."""
    from hsi.io import read_rgb_raw
    data_dir = Path(data_dir)
    manifest = _read_manifest(data_dir)
    per_scene = manifest.get("scenes") if isinstance(manifest.get("scenes"), dict) else {}
    flags = [per_scene.get(s, {}).get("rgb_identical") for s in scenes]
    if scenes and all(isinstance(f, bool) for f in flags):
        n = sum(flags)
        return n == len(scenes), f"manifest rgb_identical: {n} of {len(scenes)} scenes"
    try:
        same = [np.array_equal(np.asarray(read_rgb_raw(metamer_rgb_path(data_dir, s, "original", rgb_format))),
                               np.asarray(read_rgb_raw(metamer_rgb_path(data_dir, s, "metamer", rgb_format))))
                for s in scenes]
        return bool(scenes) and all(same), f"{rgb_format} files compared: {sum(same)} of {len(scenes)} identical"
    except (OSError, ValueError):
        pass
    settings = manifest.get("settings") if isinstance(manifest.get("settings"), dict) else {}
    render = settings.get("render") if isinstance(settings.get("render"), dict) else {}
    mode, npe = settings.get("metamer_mode"), render.get("npe")
    if mode is None:
        return False, "no manifest and no RGB files to compare"
    return mode == "exact" and npe == 0, f"manifest settings: metamer_mode {mode}, npe {npe}"


def pair_bound_of(dataset_dir: str | os.PathLike, data_dir: str | os.PathLike, scenes: Sequence[str],
                  rgb_format: str = "png", border: int = 0, centre_crop: int | None = None) -> dict:
    """The paired bound of the validated scenes: the JSON value of ``ValidationRecord.pair_bound``.

    Args:
        dataset_dir: ``<dataset_path>/<NAME>`` (originals in ``Train_Spec``).
        data_dir: the generated variant folder (metamers in ``Train_Metamer_Spec``, RGB, manifest).
        scenes: the validated scene names; rgb_format: the validated RGB files (png / jpg).
        border, centre_crop: the validation's crop (``--border``; the dataset's ``eval_crop``).

    Returns:
        ``{"RMSE", "SAM" (rad), "MRAE"}``: means over scenes of ``hsi.ambiguity.pair_distance`` (d / 2: no
        RGB-only method is below it on both originals and metamers), ``"strict"`` (bool), ``"strictness"``
        (how it was decided), ``"scenes"``, ``"border"``, ``"centre_crop"``.
    Raises ``OSError`` / ``ValueError`` when a cube cannot be read.
    """
    from hsi.ambiguity import pair_distance
    from hsi.io import read_mat_cube
    if not scenes:
        raise ValueError("no scenes for the paired bound")
    sums = {m: 0.0 for m in PAIR_BOUND_METRICS}
    for scene in scenes:
        s = torch.from_numpy(np.asarray(read_mat_cube(spec_path(dataset_dir, scene)).cube))
        m = torch.from_numpy(np.asarray(read_mat_cube(metamer_cube_path(data_dir, scene)).cube))
        bound = pair_distance(_crop(s, centre_crop), _crop(m, centre_crop), border=border).as_dict(0)
        for k in sums:
            sums[k] += bound[k]
    strict, basis = pair_strictness(data_dir, scenes, rgb_format)
    return {**{k: v / len(scenes) for k, v in sums.items()}, "strict": strict, "strictness": basis,
            "scenes": len(scenes), "border": int(border), "centre_crop": centre_crop}


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
