"""Figures of the tables and of training: original vs metamer bars, error against PSF, training curves.

Drawn with matplotlib's Agg canvas (no pyplot, no global backend state) and written atomically as PNG.
Each ``plot_*`` writes the figure that its ``*_figure`` function returns (the tests inspect those). Every
MRAE axis is logarithmic and carries the MRAE breakdown (``hsi.metrics.mrae_breakdown``): the share of
ground-truth voxels below ``NEAR_ZERO`` and the MRAE over the others. Legends lie outside the panels.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from hsi.metrics import METRIC_NAMES, MRAE_NEAR_ZERO_FRACTION, MRAE_WITHOUT_NEAR_ZERO, NEAR_ZERO

from .record import PAIR_BOUND_METRICS

from .collect import TrainingRun
from .labels import method_label, method_order
from hsi.plotting import legend_outside_axes, log_axis, new_figure, save_png

from .tables import HIGHER_IS_BETTER, METRIC_UNITS, ResultTable, original_metamer_pairs

AXIS_UNITS = {**METRIC_UNITS, "MRAE": "relative error", "RMSE": "radiance on [0, 1]"}
"""Units on figure axes (the tables' ``METRIC_UNITS``, plus what MRAE and RMSE are measured in)."""


def metric_axis_label(metric: str, suffix: str = "") -> str:
    """``RMSE (radiance on [0, 1]) ↓``: a metric with its unit and which way is better, for an axis."""
    unit = AXIS_UNITS.get(metric, "")
    arrow = "↑" if metric in HIGHER_IS_BETTER else "↓"
    return f"{metric}{suffix} ({unit}) {arrow}" if unit else f"{metric}{suffix} {arrow}"


def near_zero_note(shares: Sequence[float]) -> str:
    """``truth < 0.01: 24 % of voxels`` (a range ``24-34 %`` when the shares differ by more than 0.5 %;
    one decimal under 10 %)."""
    shares = [s for s in shares if s is not None and math.isfinite(s)]
    if not shares:
        return ""
    lo, hi = 100 * min(shares), 100 * max(shares)
    digits = 0 if hi >= 10 else 1
    share = f"{lo:.{digits}f} %" if hi - lo < 0.5 else f"{lo:.{digits}f}-{hi:.{digits}f} %"
    return f"truth < {NEAR_ZERO:g}: {share} of voxels"


def safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text.replace("->", "_to_"))


PAIR_COLOURS = (("original", "tab:blue"), ("metamer", "tab:red"))
BOUND_STYLE = {"color": "black", "ls": "--", "lw": 1.3}
BREAKDOWN_LABEL = (f"MRAE over the voxels with truth ≥ {NEAR_ZERO:g} (value below it; % above a bar: share of "
                   f"truth voxels < {NEAR_ZERO:g})")


def _positive(values) -> bool:
    return all(v is not None and math.isfinite(v) and v > 0 for v in values)


def _pair_label(table: ResultTable, prefix: str) -> str:
    orig = table.spec.labels.get(f"{prefix}_original" if prefix else "original", "")
    if orig.endswith(" / original"):
        return orig[: -len(" / original")]
    return table.spec.labels.get(prefix, prefix.replace("_", " ")) or "original vs metamer"


def _mark_breakdown(ax, table: ResultTable, col: str, xs: np.ndarray, handles: dict) -> list[float]:
    """On an MRAE panel, per bar with the breakdown: a diamond at the MRAE where truth >= ``NEAR_ZERO``
    labelled with its value, and the share of near-zero truth above the bar; returns the diamonds' values."""
    drawn = []
    for x, m in zip(xs, table.rows):
        other, share = table.value(m, col, MRAE_WITHOUT_NEAR_ZERO), table.value(m, col, MRAE_NEAR_ZERO_FRACTION)
        if other is None or share is None or not math.isfinite(other):
            continue
        handles["breakdown"] = ax.plot([x], [other], "D", mfc="white", mec="black", ms=6)[0]
        ax.annotate(f"{other:.3g}", (x, other), xytext=(0, -7), textcoords="offset points", ha="center", va="top",
                    fontsize=8, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8})
        ax.annotate(f"{100 * share:.0f} %", (x, table.value(m, col, "MRAE")), xytext=(0, 3),
                    textcoords="offset points", ha="center", fontsize=8)
        drawn.append(other)
    return drawn


def _bar_panel(ax, table: ResultTable, orig: str, met: str, metric: str, handles: dict) -> None:
    """One metric of one original/metamer pair: two bars per method, the bound line, MRAE on a log axis."""
    x = np.arange(len(table.rows))
    values = []
    for k, ((label, colour), col) in enumerate(zip(PAIR_COLOURS, (orig, met))):
        vals = [table.value(m, col, metric) for m in table.rows]
        values += [v for v in vals if v is not None]
        heights = np.array([np.nan if v is None else v for v in vals], dtype=float)
        handles[label] = ax.bar(x + (k - 0.5) * 0.38, heights, 0.38, color=colour)
        if metric == "MRAE":
            values += _mark_breakdown(ax, table, col, x + (k - 0.5) * 0.38, handles)
    bound = table.bounds.get(met)
    if bound is not None and metric in bound and metric != "PSNR":
        handles["bound"] = ax.axhline(bound[metric], **BOUND_STYLE)
        values.append(bound[metric])
    if metric == "MRAE" and values and _positive(values):
        ax.set_ylim(min(values) / 2, max(values) * 4)
        log_axis(ax, "y")
    rotate = len(table.rows) > 3
    ax.set_xticks(x, [method_label(m) for m in table.rows], rotation=45 if rotate else 0,
                  ha="right" if rotate else "center", fontsize=9)
    ax.set_ylabel(metric_axis_label(metric), fontsize=9)
    ax.grid(axis="y", alpha=0.3, which="major")


def original_vs_metamer_figure(table: ResultTable):
    """The figure of ``plot_original_vs_metamer`` (a matplotlib ``Figure``), None without a column pair."""
    pairs = original_metamer_pairs(table.columns)
    if not pairs:
        return None
    width = max(3.4, 0.42 * len(table.rows) + 1.6)
    fig = new_figure(width * len(METRIC_NAMES), 3.3 * len(pairs) + 1.3)
    axes = fig.subplots(len(pairs), len(METRIC_NAMES), squeeze=False)
    handles = {}
    for row, (prefix, orig, met) in enumerate(pairs):
        for ax, metric in zip(axes[row], METRIC_NAMES):
            _bar_panel(ax, table, orig, met, metric, handles)
            ax.set_title(f"{_pair_label(table, prefix)}: {metric}"
                         + (" (log axis)" if ax.get_yscale() == "log" else "")
                         + (" (no bound)" if metric == "PSNR" and table.bounds else ""), fontsize=9)
    labels = {"original": "validated on originals", "metamer": "validated on metamers",
              "bound": "paired bound: no RGB-only method has both bars below it", "breakdown": BREAKDOWN_LABEL}
    keys = [k for k in labels if k in handles]
    legend_outside_axes(fig, [handles[k] for k in keys], [labels[k] for k in keys], ncol=min(len(keys), 3))
    fig.suptitle(f"{table.heading}: error on original vs metamer data", fontsize=11)
    return fig


def plot_original_vs_metamer(table: ResultTable, path: Path) -> Path | None:
    """Grouped bars per method, original vs metamer validation, for all four metrics (MRAE on a log axis,
    with the MRAE where truth >= ``NEAR_ZERO`` and the share of near-zero truth beside each bar), one row
    of panels per column pair, with the paired bound (``table.bounds``) as a dashed line: no RGB-only
    method has both bars below it. None when the table has no such pair."""
    fig = original_vs_metamer_figure(table)
    return None if fig is None else save_png(fig, path)


def bound_points(table: ResultTable) -> list[dict]:
    """Per column pair with a bound, per metric of ``PAIR_BOUND_METRICS``: ``{"prefix", "metric", "d"
    (= 2 x bound, the line x + y = d), "strict", "points": [(method, x = error on originals, y = error on
    metamers), ...], "breakdown"}`` for the methods validated on both; ``breakdown`` (MRAE only, else
    empty): ``[(method, MRAE where truth >= NEAR_ZERO on originals, on metamers, share of near-zero truth on
    originals, on metamers), ...]`` where recorded. The data of ``plot_bound``."""
    out = []
    for prefix, orig, met in original_metamer_pairs(table.columns):
        bound = table.bounds.get(met)
        if bound is None:
            continue
        for metric in PAIR_BOUND_METRICS:
            points = [(m, table.value(m, orig, metric), table.value(m, met, metric)) for m in table.rows]
            points = [(m, x, y) for m, x, y in points if x is not None and y is not None]
            breakdown = []
            if metric == "MRAE":
                for m, _, _ in points:
                    row = (m, *(table.value(m, c, k) for k in (MRAE_WITHOUT_NEAR_ZERO, MRAE_NEAR_ZERO_FRACTION)
                                for c in (orig, met)))
                    if all(v is not None for v in row[1:]):
                        breakdown.append((row[0], row[1], row[2], row[3], row[4]))
            out.append({"prefix": prefix, "metric": metric, "d": 2 * float(bound[metric]),
                        "strict": bool(bound.get("strict")), "points": points, "breakdown": breakdown})
    return out


def _bound_panel(ax, entry: dict, colours: dict) -> None:
    d, pts, log = entry["d"], entry["points"], entry["metric"] == "MRAE"
    xs = [x for _, x, _ in pts] + [d / 2]
    ys = [y for _, _, y in pts] + [d / 2]
    log = log and _positive(xs + ys) and d > 0
    if log:
        lo, hi = min(xs + ys) / 3, max(xs + ys + [d]) * 3
        line_x = np.geomspace(lo, d * (1 - 1e-6), 400)
    else:
        lo, hi = 0.0, max(xs + ys + [d]) * 1.15
        line_x = np.linspace(0, d, 200)
    line_y = d - line_x
    ax.fill_between(line_x, lo if log else 0, np.maximum(line_y, lo if log else 0), color="0.82", lw=0,
                    label="infeasible for any RGB-only method (x + y < d)")
    ax.plot(line_x, line_y, color="black", lw=1.5, label="x + y = d")
    ax.annotate(f"d = {d:.4g}", (d / 2, d / 2), xytext=(8, 8), textcoords="offset points", fontsize=8)
    ax.plot([d / 2], [d / 2], "s", mfc="white", mec="black", ms=8,
            label="(d/2, d/2): best possible on both")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    if log:
        log_axis(ax, "x")
        log_axis(ax, "y")
    ax.set_aspect("equal", adjustable="box")
    parts = {m: (px, py) for m, px, py, _, _ in entry.get("breakdown") or []}
    for m, x, y in pts:
        ax.plot([x], [y], "o", color=colours[m], ms=8, label=method_label(m))
        text = method_label(m) + (f"\n{parts[m][0]:.3g} / {parts[m][1]:.3g} where truth ≥ {NEAR_ZERO:g}"
                                  if m in parts else "")
        right = (math.log(x / lo) / math.log(hi / lo) if log else (x - lo) / (hi - lo)) > 0.55
        ax.annotate(text, (x, y), xytext=(-6 if right else 6, -6), textcoords="offset points", fontsize=8,
                    ha="right" if right else "left", va="top", color=colours[m])


def _near_zero_label(entry: dict, column: int) -> str:
    """An MRAE bound axis' second line: the share of near-zero truth (``column`` 3: originals, 4: metamers)."""
    note = near_zero_note([r[column] for r in entry.get("breakdown") or []])
    return f"\n({note})" if note else ""


def bound_figure(table: ResultTable):
    """The figure of ``plot_bound`` (a matplotlib ``Figure``), None when no column pair has a bound."""
    entries = bound_points(table)
    if not entries:
        return None
    rows = sorted({e["prefix"] for e in entries}, key=[e["prefix"] for e in entries].index)
    fig = new_figure(4.4 * len(PAIR_BOUND_METRICS), 4.6 * len(rows) + 1.2)
    axes = fig.subplots(len(rows), len(PAIR_BOUND_METRICS), squeeze=False)
    cmap = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")
    colours = {m: cmap[i % len(cmap)] for i, m in enumerate(table.rows)}
    for e in entries:
        ax = axes[rows.index(e["prefix"]), PAIR_BOUND_METRICS.index(e["metric"])]
        _bound_panel(ax, e, colours)
        ax.set_xlabel(metric_axis_label(e["metric"], " on originals") + _near_zero_label(e, 3), fontsize=9)
        ax.set_ylabel(metric_axis_label(e["metric"], " on metamers") + _near_zero_label(e, 4), fontsize=9)
        ax.set_title(f"{_pair_label(table, e['prefix'])}: {e['metric']}" + (" (log axes)" if ax.get_xscale() == "log"
                     else "") + f"\nbound {'strict' if e['strict'] else 'approximate'}", fontsize=9)
        ax.grid(alpha=0.3, which="major")
    unique = {l: h for ax in axes.ravel() for h, l in zip(*ax.get_legend_handles_labels())}
    legend_outside_axes(fig, list(unique.values()), list(unique), ncol=min(4, len(unique)), fontsize=8)
    fig.suptitle(f"{table.heading}: no RGB-only method lies below the line x + y = d\n"
                 "(d: distance between each original and its metamer, whose RGB the method cannot tell apart)", fontsize=10)
    return fig


def plot_bound(table: ResultTable, path: Path) -> Path | None:
    """Each method as a point (error on originals, error on metamers) against the line ``x + y = d`` no
    RGB-only method can cross, with the infeasible region shaded and the corner ``(d/2, d/2)``; one panel
    per metric (RMSE, SAM, MRAE on log axes, with the MRAE breakdown below it), one row per column pair.
    None when no pair has a bound."""
    fig = bound_figure(table)
    return None if fig is None else save_png(fig, path)


def _psf_panel(ax, table: ResultTable, metric: str) -> None:
    """One metric against the columns: a line per method (MRAE: dotted, over truth >= ``NEAR_ZERO``) and
    the ambiguity of each encoding as black squares."""
    x = np.arange(len(table.columns))
    values = []
    for i, m in enumerate(table.rows):
        colour = f"C{i % 10}"
        vals = [table.value(m, c, metric) for c in table.columns]
        values += [v for v in vals if v is not None]
        ax.plot(x, [np.nan if v is None else v for v in vals], marker="o", color=colour, label=method_label(m))
        if metric == "MRAE":
            part = [table.value(m, c, MRAE_WITHOUT_NEAR_ZERO) for c in table.columns]
            if any(v is not None for v in part):
                values += [v for v in part if v is not None and math.isfinite(v)]
                ax.plot(x, [np.nan if v is None else v for v in part], ls=":", marker=".", color=colour,
                        label=f"{method_label(m)}: MRAE where truth ≥ {NEAR_ZERO:g}")
    if metric in PAIR_BOUND_METRICS and table.ambiguity:
        amb = [table.ambiguity.get(c, {}).get(metric) for c in table.columns]
        values += [v for v in amb if v is not None]
        ax.plot(x, [np.nan if v is None else v for v in amb], "s", color="black", mfc="white", ms=8,
                label="ambiguity left by the encoding (paired bound)")
    if metric == "MRAE" and values and _positive(values):
        log_axis(ax, "y")
    ax.set_xticks(x, [table.spec.labels.get(c, c) for c in table.columns], rotation=30, ha="right", fontsize=9)
    ax.set_xlabel("PSF / spectral encoding", fontsize=9)
    ax.set_ylabel(metric_axis_label(metric), fontsize=9)
    note = near_zero_note([table.value(m, c, MRAE_NEAR_ZERO_FRACTION) for m in table.rows for c in table.columns])
    ax.set_title(metric + (" (log axis)" if ax.get_yscale() == "log" else "")
                 + (f"\n{note}" if metric == "MRAE" and note else ""), fontsize=10)
    ax.grid(alpha=0.3)


def error_vs_psf_figure(table: ResultTable):
    """The figure of ``plot_error_vs_psf`` (a matplotlib ``Figure``)."""
    fig = new_figure(max(12.0, 0.9 * len(table.columns) * 4), 4.8)
    axes = fig.subplots(1, len(METRIC_NAMES))
    for ax, metric in zip(axes, METRIC_NAMES):
        _psf_panel(ax, table, metric)
    unique = {l: h for ax in axes for h, l in zip(*ax.get_legend_handles_labels())}
    legend_outside_axes(fig, list(unique.values()), list(unique), ncol=min(4, len(unique)), fontsize=8)
    fig.suptitle(f"{table.heading}: error against PSF", fontsize=11)
    return fig


def plot_error_vs_psf(table: ResultTable, path: Path) -> Path:
    """All four metrics per column (PSF / encoding) for each method, as lines with markers (MRAE on a log
    axis, dotted: the MRAE where truth >= ``NEAR_ZERO`` when recorded, with the share of near-zero truth in
    its title), with the ambiguity left by each encoding (``table.ambiguity``, Finding 3) as black squares:
    the paired bound no method can beat on both originals and metamers. Legend below the panels."""
    return save_png(error_vs_psf_figure(table), path)


TRAINING_PANELS = (("loss", ("train/loss", "valid/loss")), ("MRAE", ("valid/MRAE", f"valid/{MRAE_WITHOUT_NEAR_ZERO}")),
                   ("RMSE", ("valid/RMSE",)), ("PSNR", ("valid/PSNR",)), ("SAM", ("valid/SAM",)))
"""Panels of the training figure: title, scalars of ``scalars.csv`` drawn in it."""


def training_curve_series(runs: Sequence[TrainingRun]) -> dict[str, list[tuple[str, str, list[int], list[float]]]]:
    """The data of ``plot_training_curves``: panel -> ``[(run label, scalar name, iterations, values)]``
    for the scalars of ``TRAINING_PANELS`` the runs logged (runs in zoo order)."""
    out: dict[str, list] = {}
    for r in sorted(runs, key=lambda r: (method_order(r.method), str(r.path))):
        label = f"{method_label(r.method)}{'' if r.finished else ' (running)'}"
        series = r.series or ({"valid/MRAE": r.curve} if r.curve else {})
        for panel, names in TRAINING_PANELS:
            for name in names:
                if series.get(name):
                    its, vals = zip(*series[name])
                    out.setdefault(panel, []).append((label, name, list(its), list(vals)))
    return out


def _last(series) -> float | None:
    return series[-1][1] if series else None


def closed_form_levels(runs: Sequence[TrainingRun]) -> dict[str, list[tuple[str, float]]]:
    """Runs that logged no curve but have final validation metrics (closed-form fits such as ``rpr2``):
    panel -> ``[(run label, value)]``, drawn as horizontal reference lines beside the curves."""
    out: dict[str, list] = {}
    for r in sorted(runs, key=lambda r: (method_order(r.method), str(r.path))):
        if r.series or r.curve or not r.last_valid:
            continue
        for panel, _ in TRAINING_PANELS:
            value = r.last_valid.get(panel)
            if isinstance(value, (int, float)) and math.isfinite(value):
                out.setdefault(panel, []).append((method_label(r.method), float(value)))
    return out


def _training_panel(ax, panel: str, lines: list, levels: list, colours: dict, note: str) -> None:
    palette = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
    for label, name, its, vals in lines:
        colour = colours.setdefault(label, palette[len(colours) % len(palette)])
        valid = name.startswith("valid/")
        part = name.endswith(MRAE_WITHOUT_NEAR_ZERO)
        ax.plot(its, vals, color=colour, ls="--" if panel == "loss" and valid else ":" if part else "-",
                marker="o" if valid and len(its) < 50 else None, ms=4,
                label=f"{label}: {'validation' if valid else 'training'} {panel}")
    for label, value in levels:
        colour = colours.setdefault(label, palette[len(colours) % len(palette)])
        ax.axhline(value, color=colour, ls="-.", lw=1.3, label=f"{label}: final validation {panel}")
    values = [v for l in lines for v in l[3]] + [v for _, v in levels]
    if lines and panel in ("loss", "MRAE") and _positive(values):
        log_axis(ax, "y")
    head = "training (solid) and validation (dashed) loss" if panel == "loss" else f"validation {panel}"
    head += " (log axis)" if ax.get_yscale() == "log" else ""
    if panel == "MRAE" and any(l[1].endswith(MRAE_WITHOUT_NEAR_ZERO) for l in lines):
        head += f"\nsolid: all voxels; dotted: where truth ≥ {NEAR_ZERO:g}" + (f"\n({note})" if note else "")
    ax.set_title(head, fontsize=10)
    ax.set_xlabel("iteration", fontsize=9)
    ax.set_ylabel(metric_axis_label(panel) if panel in METRIC_UNITS else "loss (the run's objective)", fontsize=9)
    ax.grid(alpha=0.3, which="major")
    if not lines:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(0.5, 0.5, "not logged yet", ha="center", va="center", transform=ax.transAxes, color="0.5")


def _training_legend(ax, colours: dict, data: dict, levels: dict) -> None:
    """The spare sixth panel, emptied, holds the legend: run colours, then what each line style means."""
    from matplotlib.lines import Line2D
    ax.set_axis_off()
    handles = [Line2D([], [], color=c, lw=2) for c in colours.values()]
    labels = list(colours)
    styles = [("-", None, "training loss (solid)"), ("--", "o", "validation loss (dashed, markers)")]
    if any(l[1].endswith(MRAE_WITHOUT_NEAR_ZERO) for l in data.get("MRAE", [])):
        styles.append((":", "o", f"validation MRAE where truth ≥ {NEAR_ZERO:g} (dotted)"))
    if levels:
        styles.append(("-.", None, "closed-form fit, no iterations:\nits final validation (dash-dot)"))
    handles += [Line2D([], [], color="0.3", ls=ls, marker=mk, ms=4) for ls, mk, _ in styles]
    labels += [text for _, _, text in styles]
    ax.legend(handles, labels, loc="center", fontsize=9, frameon=False, title="runs (colour) and line styles")


def training_curves_figure(runs: Sequence[TrainingRun], title: str):
    """The figure of ``plot_training_curves`` (a matplotlib ``Figure``), None when nothing was logged."""
    data = training_curve_series(runs)
    if not data:
        return None
    levels = closed_form_levels(runs)
    note = near_zero_note([_last(r.series.get(f"valid/{MRAE_NEAR_ZERO_FRACTION}")) for r in runs])
    fig = new_figure(13.5, 7.6)
    axes = fig.subplots(2, 3).ravel()
    colours: dict[str, str] = {}
    for ax, (panel, _) in zip(axes, TRAINING_PANELS):
        _training_panel(ax, panel, data.get(panel, []), levels.get(panel, []), colours, note)
    _training_legend(axes[-1], colours, data, levels)
    fig.suptitle(title, fontsize=11)
    return fig


def plot_training_curves(runs: Sequence[TrainingRun], title: str, path: Path) -> Path | None:
    """Training loss (and validation loss) and the four validation metrics against iteration, one panel
    each (loss and MRAE on log axes when positive; MRAE also where truth >= ``NEAR_ZERO``, with the share
    of near-zero truth), closed-form fits as their final validation level; None when no run has logged
    anything yet."""
    fig = training_curves_figure(runs, title)
    return None if fig is None else save_png(fig, path)
