"""Figures of the tables and of training: original vs metamer bars, error against PSF, training curves.

Drawn with matplotlib's Agg canvas (no pyplot, no global backend state) and written atomically as PNG.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from hsi.io import atomic_path

from .collect import TrainingRun
from .labels import method_label, method_order
from .tables import ResultTable, metric_heading


def new_figure(width: float, height: float):
    """A matplotlib figure rendered by Agg (no pyplot, no global backend state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig, path: Path, dpi: int = 110) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


def safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text.replace("->", "_to_"))


def original_metamer_pairs(columns: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(prefix, original_column, metamer_column)`` for columns ending in ``original`` whose
    ``metamer`` twin (same prefix) exists; ``original`` / ``metamer`` themselves give prefix ''."""
    pairs = []
    for c in columns:
        if c.endswith("original"):
            prefix = c[: -len("original")]
            if prefix + "metamer" in columns:
                pairs.append((prefix.rstrip("_-/ "), c, prefix + "metamer"))
    return pairs


def plot_original_vs_metamer(table: ResultTable, path: Path) -> Path | None:
    """Grouped bars of MRAE per method, original vs metamer validation, one panel per column pair.
    None when the table has no such pair."""
    pairs = original_metamer_pairs(table.columns)
    if not pairs:
        return None
    ncols = 1 if len(table.rows) > 8 else min(len(pairs), 2)
    nrows = math.ceil(len(pairs) / ncols)
    fig = new_figure(max(6.5, 0.55 * len(table.rows) + 2.5) * ncols, 3.6 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    x = np.arange(len(table.rows))
    for ax, (prefix, orig, met) in zip(axes, pairs):
        for k, (col, colour, label) in enumerate(((orig, "tab:blue", "original"), (met, "tab:red", "metamer"))):
            vals = [table.value(m, col, "MRAE") for m in table.rows]
            heights = np.array([np.nan if v is None else v for v in vals], dtype=float)
            ax.bar(x + (k - 0.5) * 0.38, heights, 0.38, color=colour, label=label)
        ax.set_xticks(x, [method_label(m) for m in table.rows], rotation=45, ha="right")
        ax.set_ylabel("MRAE (mean over images)")
        ax.set_title(table.spec.labels.get(prefix, prefix.replace("_", " ")) or "original vs metamer", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    fig.suptitle(f"{table.heading}\nMRAE on original vs metamer data", fontsize=10)
    return save_png(fig, path)


def plot_error_vs_psf(table: ResultTable, path: Path) -> Path:
    """MRAE and PSNR (dB) per column (PSF / encoding) for each method, as lines with markers."""
    fig = new_figure(max(8.0, 1.1 * len(table.columns) * 2), 3.8)
    axes = fig.subplots(1, 2)
    x = np.arange(len(table.columns))
    for ax, metric in zip(axes, ("MRAE", "PSNR")):
        for m in table.rows:
            vals = np.array([np.nan if (v := table.value(m, c, metric)) is None else v for c in table.columns], float)
            ax.plot(x, vals, marker="o", label=method_label(m))
        ax.set_xticks(x, [table.spec.labels.get(c, c) for c in table.columns], rotation=30, ha="right")
        ax.set_xlabel("PSF / spectral encoding")
        ax.set_ylabel(metric_heading(metric))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(f"{table.heading}: error against PSF", fontsize=11)
    return save_png(fig, path)


def plot_training_curves(runs: Sequence[TrainingRun], title: str, path: Path) -> Path | None:
    """Validation MRAE against iteration for ``runs`` (log scale); None when no run has validated yet."""
    runs = [r for r in runs if r.curve]
    if not runs:
        return None
    fig = new_figure(7.5, 4.2)
    ax = fig.subplots()
    for r in sorted(runs, key=lambda r: (method_order(r.method), str(r.path))):
        its, vals = zip(*r.curve)
        ax.plot(its, vals, marker="." if len(its) < 50 else None,
                label=f"{method_label(r.method)}{'' if r.finished else ' (running)'}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation MRAE")
    if all(v > 0 for r in runs for _, v in r.curve):
        ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=11)
    return save_png(fig, path)


