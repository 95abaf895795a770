"""The paired bound of a validated metamer set, from the files the validation read (issue 13, fact 1).

``pair_bound_of`` is what validation writes into ``summary.json`` (``ValidationRecord.pair_bound``) and
what the report computes for older records: means over the scenes of ``hsi.ambiguity.pair_distance``
between the original and metamer cubes, with the validation's crop, and whether the bound is strict
(the two RGB images byte-identical) or approximate.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from hsi.layout import manifest_path, metamer_cube_path, metamer_rgb_path, spec_path
from hsi.records import PAIR_BOUND_METRICS


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
