"""The registry of the paper's tables: title, what each measures, column order and labels."""
from __future__ import annotations

from dataclasses import dataclass, field

PAPER_DATASETS = ("ARAD_1K", "CAVE", "ICVL", "KAUST")


@dataclass(frozen=True)
class TableSpec:
    """How one of the paper's tables is laid out.

    Attributes:
        key: the table part of the tag (``table5`` in ``table5/metamer``).
        title: the paper's title.
        measures: one line: what the table measures.
        columns: column ids in the paper's order; a column that is not listed, or that only starts
            with a listed id followed by ``_`` (``double_gauss_50mm_F1.8`` under ``double_gauss``), is
            placed after the listed ones / next to its prefix.
        labels: display names of columns (Markdown and LaTeX); CSV keeps the ids.
        split_by_dataset: one sub-table per validation dataset (False for Table IV, whose columns
            already name the datasets).
        psf_plot: draw the error-against-PSF figure for this table.
    """

    key: str
    title: str
    measures: str
    columns: tuple[str, ...] = ()
    labels: dict = field(default_factory=dict)
    split_by_dataset: bool = True
    psf_plot: bool = False


def _table6_7_columns() -> tuple[str, ...]:
    return tuple(f"{mode}_{setting}_{valid}" for mode in ("no", "fixed", "onthefly")
                 for setting in ("clean", "noisy_aberrated") for valid in ("original", "metamer"))


def _table6_7_labels() -> dict[str, str]:
    mode = {"no": "no metamer", "fixed": "fixed", "onthefly": "on-the-fly"}
    setting = {"clean": "clean", "noisy_aberrated": "noise+DG"}
    out = {}
    for col in _table6_7_columns():
        m, rest = col.split("_", 1)
        s, v = rest.rsplit("_", 1)
        out[col] = f"{mode[m]} / {setting[s]} / {v}"
    return out


TABLES: dict[str, TableSpec] = {s.key: s for s in [
    TableSpec("table2", "Table II: training with less data",
              "Accuracy of networks trained on 100 %, 50 % or 20 % of the training scenes "
              "(overfitting to limited scene content).",
              ("percent100", "percent50", "percent20"),
              {"percent100": "100 %", "percent50": "50 %", "percent20": "20 %"}),
    TableSpec("table3", "Table III: validation on unseen, slightly modified data",
              "Pretrained networks on RGB rendered with other nuisance parameters: noiseless JPEG Q65, "
              "noiseless lossless PNG, Poisson noise (npe 1000) + double-Gauss aberration in PNG.",
              ("jpg_q65", "png", "png_npe1000_dg"),
              {"jpg_q65": "JPEG Q65", "png": "PNG", "png_npe1000_dg": "PNG + npe 1000 + DG"}),
    TableSpec("table4", "Table IV: cross-dataset validation",
              "Networks trained on one dataset (left of ->) and validated on another (right of ->).",
              tuple(f"{a}->{b}" for a in PAPER_DATASETS for b in PAPER_DATASETS), split_by_dataset=False),
    TableSpec("table5", "Table V: validation with metamers",
              "Pretrained networks on the original RGB and on the RGB of alpha = 0 metamers "
              "(other spectra, same camera response).",
              ("original", "metamer")),
    TableSpec("table6_7", "Tables VI and VII: training with metamers",
              "Networks trained with no, fixed (alpha = 0 on disk) or on-the-fly (alpha ~ U(-1, 2)) metamers, "
              "without (clean) and with noise + double-Gauss aberration, validated on originals and metamers.",
              _table6_7_columns(), _table6_7_labels()),
    TableSpec("finding3", "Finding 3: the aberration advantage and spectral encoding",
              "Networks trained and validated with different PSFs / spectral encodings in front of the sensor.",
              ("none", "double_gauss", "grating", "diffraction_rotation", "singlet", "learned_doe"), psf_plot=True),
]}


def table_spec(key: str) -> TableSpec:
    """The registry entry of ``key``, or a generic one (columns in first-seen order)."""
    return TABLES.get(key) or TableSpec(key, key, "(not one of the paper's tables)")
