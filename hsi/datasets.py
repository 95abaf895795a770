"""Dataset specifications: one entry per dataset the toolkit knows.

Each spec gives the image size in the toolkit's format, the auto-exposure target used when rendering
RGB from it (the paper's ``TYPICAL_SCENE_REFLECTIVITY``), and the evaluated region.
"""
from __future__ import annotations

from dataclasses import dataclass


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
    """The spec of ``name`` (case-insensitive); ``ValueError`` listing the known names otherwise."""
    for key, spec in DATASETS.items():
        if key.lower() == str(name).lower():
            return spec
    raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
