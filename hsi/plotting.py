"""Matplotlib figures without pyplot's global state, saved atomically (the report, predict, ambiguity)."""
from __future__ import annotations

import math
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


def log_axis(ax, axis: str = "y") -> None:
    """Put ``ax``'s ``axis`` ("x" or "y") on a log scale with plain-number tick labels (``0.2``, ``5``,
    ``1e+03``, never ``4 x 10^0``): ticks at 1-2-5 steps over up to three decades, at decades above,
    evenly spaced values when the range is under a factor 20. Call after the axis limits are set."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator
    getattr(ax, f"set_{axis}scale")("log")
    lo, hi = sorted(getattr(ax, f"get_{axis}lim")())
    target = ax.xaxis if axis == "x" else ax.yaxis
    plain = FuncFormatter(lambda v, _pos: f"{v:g}")
    if lo > 0 and hi / lo < 20:
        target.set_major_locator(MaxNLocator(nbins=5))
        target.set_minor_locator(NullLocator())
    else:
        decades = math.log10(hi / lo) if lo > 0 else 99
        target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades <= 3 else (1.0,)))
        target.set_minor_locator(LogLocator(base=10, subs="auto"))
        target.set_minor_formatter(NullFormatter())
    target.set_major_formatter(plain)


def legend_outside_axes(fig, handles, labels, ncol: int, fontsize: float = 9):
    """One figure legend below all panels (``loc="outside lower center"`` of the constrained layout), so it
    never covers plotted data; returns the ``Legend``."""
    return fig.legend(handles, labels, loc="outside lower center", ncol=max(1, ncol), fontsize=fontsize, frameon=False)


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values for a log scale over ``[lo, hi]`` (``0 < lo < hi``): the 1-2-5 steps inside it (decades
    only above three decades), or four geometrically spaced values rounded to two digits when fewer than
    three steps fall inside."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    subs = (1.0, 2.0, 5.0) if last - first <= 3 else (1.0,)
    ticks = [m * 10.0 ** e for e in range(first, last + 1) for m in subs if lo <= m * 10.0 ** e <= hi]
    if len(ticks) < 3:
        ticks = sorted({float(f"{v:.2g}") for v in (lo * (hi / lo) ** (k / 3) for k in range(4))})
        ticks = [t for t in ticks if lo <= t <= hi] or [lo, hi]
    return ticks
