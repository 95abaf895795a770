"""Dataset specifications and dataset folders.

Each spec gives the image size in the toolkit's format, the auto-exposure target used when rendering
RGB from it (the paper's ``TYPICAL_SCENE_REFLECTIVITY``), and the evaluated region.

A dataset folder ``<dataset_path>/<NAME>/`` holds ``Train_Spec/<scene>.mat`` (train and valid scenes
together), ``split_txt/{train,valid}_list.txt`` (one scene stem per line) and, for ARAD_1K and SYNTH,
``Train_RGB/<scene>.jpg``; generated data go to ``<noise_type><npe>_<psf_name>/`` beside them.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from hsi.errors import ToolkitError
from hsi.io.atomic import atomic_write_text
from hsi.layout import RGB_DIR, SPEC_DIR, SPLIT_DIR, SPLITS, spec_path, split_list_path  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class DatasetSpec:
    """Attributes:
        name: dataset name as on the command line (``--dataset_name``).
        height, width: image size of the converted cubes (``(31, height, width)``); 0 = any.
        exposure_target: auto-exposure target mean (fraction of full scale).
        eval_crop: evaluate on the centre ``eval_crop x eval_crop`` (ICVL: 512) or the full image (None).
    """

    name: str
    height: int
    width: int
    exposure_target: float
    eval_crop: int | None = None


DATASETS: dict[str, DatasetSpec] = {
    s.name: s for s in [
        DatasetSpec("ARAD_1K", 482, 512, 0.18),
        DatasetSpec("CAVE", 512, 512, 0.10),
        DatasetSpec("ICVL", 1392, 1300, 0.15, eval_crop=512),
        DatasetSpec("KAUST", 512, 512, 0.25),
        DatasetSpec("SYNTH", 0, 0, 0.18),
    ]
}


DATASET_JSON = "dataset.json"
"""A user dataset's spec, in its folder: ``{"exposure_target": 0.18, "eval_crop": null, "size": [H, W] or null}``."""
DATASET_PATH_ENV = "HSI_DATASET_PATH"
"""More folders (``os.pathsep``-separated) searched for ``<NAME>/dataset.json`` when no dataset path is given."""


class DatasetSpecError(ToolkitError, ValueError):
    """An unknown dataset name, or a ``dataset.json`` that is missing a field or holds a bad value."""


def _number(data: dict, key: str, where: Path, lo: float, hi: float, integer: bool = False):
    value = data[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi
    if not ok or (integer and value != int(value)):
        kind = "an integer" if integer else "a number"
        raise DatasetSpecError(f"{where}: {key} must be {kind} in [{lo:g}, {hi:g}], got {value!r}")
    return int(value) if integer else float(value)


def read_dataset_json(folder: str | os.PathLike, name: str | None = None) -> DatasetSpec:
    """The spec of a user dataset from ``<folder>/dataset.json`` (``name``: default the folder name).

    Fields: ``exposure_target`` (required, mean signal of the auto-exposure, fraction of full scale in
    (0, 1]); ``eval_crop`` (centre crop side in pixels evaluated, or null = the whole image); ``size``
    (``[height, width]`` every cube must have, or null = any). ``DatasetSpecError`` names the file and
    what is missing or wrong.
    """
    path = Path(folder) / DATASET_JSON
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetSpecError(f"{path}: not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetSpecError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DatasetSpecError(f"{path}: must hold a JSON object")
    missing = [k for k in ("exposure_target",) if k not in data]
    if missing:
        raise DatasetSpecError(f"{path}: missing {', '.join(missing)} (e.g. "
                               '{"exposure_target": 0.18, "eval_crop": null, "size": null})')
    unknown = sorted(set(data) - {"exposure_target", "eval_crop", "size", "name", "description"})
    if unknown:
        raise DatasetSpecError(f"{path}: unknown field(s) {unknown}; known: exposure_target, eval_crop, size")
    target = _number(data, "exposure_target", path, 1e-6, 1.0)
    crop = None if data.get("eval_crop") is None else _number(data, "eval_crop", path, 1, 1e6, integer=True)
    size = data.get("size")
    if size is None:
        height = width = 0
    elif isinstance(size, list) and len(size) == 2:
        height, width = (_number({"size": v}, "size", path, 1, 1e6, integer=True) for v in size)
    else:
        raise DatasetSpecError(f"{path}: size must be [height, width] or null, got {size!r}")
    return DatasetSpec(str(name or Path(folder).name), height, width, target, crop)


def _search_roots(dataset_path) -> list[Path]:
    roots = [Path(dataset_path)] if dataset_path is not None else []
    roots += [Path(p) for p in os.environ.get(DATASET_PATH_ENV, "").split(os.pathsep) if p]
    return roots + [Path("datasets"), REPO_DATASETS_DIR]


def get_dataset_spec(name: str, dataset_path: str | os.PathLike | None = None) -> DatasetSpec:
    """The spec of ``name`` (case-insensitive); ``DatasetSpecError`` (a ``ValueError``) otherwise.

    ``SYNTH_<anything>`` (e.g. ``SYNTH_B``, a second synthetic set built with another seed for
    cross-dataset experiments) gets the SYNTH spec under its own name. Any other name is a user dataset:
    its folder ``<root>/<name>`` holds ``dataset.json`` (:func:`read_dataset_json`); roots searched:
    ``dataset_path``, ``$HSI_DATASET_PATH``, ``./datasets``, the checkout's ``datasets/``.
    """
    for key, spec in DATASETS.items():
        if key.lower() == str(name).lower():
            return spec
    if str(name).upper().startswith("SYNTH_") and len(str(name)) > 6:
        return DatasetSpec(str(name), 0, 0, DATASETS["SYNTH"].exposure_target)
    for root in _search_roots(dataset_path):
        if (root / str(name) / DATASET_JSON).is_file():
            return read_dataset_json(root / str(name), str(name))
    where = f" in {dataset_path}" if dataset_path is not None else ""
    raise DatasetSpecError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}, SYNTH_<x>, or a "
                           f"folder of your own with a {DATASET_JSON} (none found for {name!r}{where}; README: "
                           "Your own hyperspectral data)")


REPO_DATASETS_DIR = Path(__file__).resolve().parents[1] / "datasets"
"""``datasets/`` of the toolkit's checkout: the paper's split lists ship in ``<NAME>/split_txt/``."""


# ------------------------------------------------------------------------------ folders and split lists
# the folder and file names live in hsi.layout (re-exported here for the existing importers)


class SplitListError(ToolkitError, FileNotFoundError):
    """A split list that is missing or unusable; the message names the file."""


def dataset_dir(dataset_path: str | os.PathLike, name: str) -> Path:
    """``<dataset_path>/<NAME>`` with the dataset's canonical spelling (``arad_1k`` -> ``ARAD_1K``).

    A folder spelled exactly as given is used when it exists and the canonical one does not.
    Raises ``ValueError`` for an unknown dataset name (a user dataset: ``<dataset_path>/<name>/dataset.json``).
    """
    spec = get_dataset_spec(name, dataset_path)
    root = Path(dataset_path)
    canonical = root / spec.name
    if not canonical.exists() and (root / str(name)).exists():
        return root / str(name)
    return canonical


def read_split_list(path: str | os.PathLike) -> list[str]:
    """Scene stems of a split list, in file order (one per line; blank lines ignored).

    Raises ``SplitListError`` (naming the file) when it is missing, empty, or holds duplicates or
    names with a path separator or a ``.mat`` suffix.
    """
    path = Path(path)
    if not path.is_file():
        raise SplitListError(f"{path}: split list not found (each dataset folder needs "
                             f"{SPLIT_DIR}/train_list.txt and valid_list.txt)")
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not names:
        raise SplitListError(f"{path}: split list is empty")
    bad = [n for n in names if "/" in n or "\\" in n or n.lower().endswith(".mat")]
    if bad:
        raise SplitListError(f"{path}: entries must be scene stems without folder or suffix, got {bad[:3]}")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SplitListError(f"{path}: duplicate scenes {dup[:5]}")
    return names


def read_splits(ds_dir: str | os.PathLike, splits: tuple[str, ...] = SPLITS) -> dict[str, list[str]]:
    """``{split: scene stems}`` of a dataset folder; ``SplitListError`` if a list is missing or if a
    scene is in two lists."""
    out = {s: read_split_list(split_list_path(ds_dir, s)) for s in splits}
    seen: dict[str, str] = {}
    for s, names in out.items():
        for n in names:
            if n in seen:
                raise SplitListError(f"{Path(ds_dir) / SPLIT_DIR}: scene {n!r} is in both the {seen[n]} "
                                     f"and the {s} list")
            seen[n] = s
    return out


def write_split_lists(ds_dir: str | os.PathLike, splits: dict[str, list[str]]) -> None:
    """Write ``split_txt/<split>_list.txt`` atomically, one stem per line, LF endings."""
    for s, names in splits.items():
        atomic_write_text(split_list_path(ds_dir, s), "".join(f"{n}\n" for n in names))


def shipped_split_dir(name: str) -> Path | None:
    """The toolkit's ``datasets/<NAME>/split_txt`` for a known dataset, if present in the checkout."""
    d = REPO_DATASETS_DIR / get_dataset_spec(name).name / SPLIT_DIR
    return d if all(split_list_path(d.parent, s).is_file() for s in SPLITS) else None

