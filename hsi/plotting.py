"""Matplotlib figures without pyplot's global state, saved atomically (the report, predict, ambiguity)."""
from __future__ import annotations

from pathlib import Path

from hsi.io import atomic_path


def new_figure(width: float, height: float):
    """A matplotlib ``Figure`` (inches) rendered by Agg: no pyplot, no global backend state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig, path: Path, dpi: int = 110) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically; returns ``path``."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path
