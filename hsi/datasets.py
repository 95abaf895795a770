"""Dataset specifications and dataset folders.

Each spec gives the image size in the toolkit's format, the auto-exposure target used when rendering
RGB from it (the paper's ``TYPICAL_SCENE_REFLECTIVITY``), and the evaluated region.

A dataset folder ``<dataset_path>/<NAME>/`` holds ``Train_Spec/<scene>.mat`` (train and valid scenes
together), ``split_txt/{train,valid}_list.txt`` (one scene stem per line) and, for ARAD_1K and SYNTH,
``Train_RGB/<scene>.jpg``; generated data go to ``<noise_type><npe>_<psf_name>/`` beside them.
"""
from __future__ import annotations

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


def get_dataset_spec(name: str) -> DatasetSpec:
    """The spec of ``name`` (case-insensitive); ``ValueError`` listing the known names otherwise.

    ``SYNTH_<anything>`` (e.g. ``SYNTH_B``, a second synthetic set built with another seed for
    cross-dataset experiments) gets the SYNTH spec under its own name.
    """
    for key, spec in DATASETS.items():
        if key.lower() == str(name).lower():
            return spec
    if str(name).upper().startswith("SYNTH_") and len(str(name)) > 6:
        return DatasetSpec(str(name), 0, 0, DATASETS["SYNTH"].exposure_target)
    raise UnknownDatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")


# ------------------------------------------------------------------------------ folders and split lists
# the folder and file names live in hsi.layout (re-exported here for the existing importers)
REPO_DATASETS_DIR = Path(__file__).resolve().parents[1] / "datasets"
"""``datasets/`` of the toolkit's checkout: the paper's split lists ship in ``<NAME>/split_txt/``."""


class UnknownDatasetError(ToolkitError, ValueError):
    """A dataset name that is not in ``DATASETS`` (nor ``SYNTH_<x>``); the message lists the known ones."""


class SplitListError(ToolkitError, FileNotFoundError):
    """A split list that is missing or unusable; the message names the file."""


def dataset_dir(dataset_path: str | os.PathLike, name: str) -> Path:
    """``<dataset_path>/<NAME>`` with the dataset's canonical spelling (``arad_1k`` -> ``ARAD_1K``).

    A folder spelled exactly as given is used when it exists and the canonical one does not.
    Raises ``ValueError`` for an unknown dataset name.
    """
    spec = get_dataset_spec(name)
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

