"""Figures of the tables and of training: original vs metamer bars, error against PSF, training curves.

Drawn with matplotlib's Agg canvas (no pyplot, no global backend state) and written atomically as PNG.
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
from hsi.plotting import new_figure, save_png

from .tables import METRIC_UNITS, ResultTable, metric_heading, original_metamer_pairs


def safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text.replace("->", "_to_"))


PAIR_COLOURS = (("original", "tab:blue"), ("metamer", "tab:red"))
BOUND_STYLE = {"color": "black", "ls": "--", "lw": 1.3}


def _positive(values) -> bool:
    return all(v is not None and math.isfinite(v) and v > 0 for v in values)


def _pair_label(table: ResultTable, prefix: str) -> str:
    orig = table.spec.labels.get(f"{prefix}_original" if prefix else "original", "")
    if orig.endswith(" / original"):
        return orig[: -len(" / original")]
    return table.spec.labels.get(prefix, prefix.replace("_", " ")) or "original vs metamer"


def _mark_breakdown(ax, table: ResultTable, col: str, xs: np.ndarray, handles: dict) -> bool:
    """On an MRAE panel: a diamond at the MRAE where truth >= ``NEAR_ZERO`` and the share of near-zero
    truth above each bar that has the breakdown; True when any was drawn."""
    drawn = False
    for x, m in zip(xs, table.rows):
        other, share = table.value(m, col, MRAE_WITHOUT_NEAR_ZERO), table.value(m, col, MRAE_NEAR_ZERO_FRACTION)
        if other is None or share is None:
            continue
        handles["breakdown"] = ax.plot([x], [other], "D", mfc="white", mec="black", ms=6)[0]
        top = table.value(m, col, "MRAE")
        ax.annotate(f"{100 * share:.0f} %", (x, top), xytext=(0, 3), textcoords="offset points", ha="center",
                    fontsize=7)
        drawn = True
    return drawn


def plot_original_vs_metamer(table: ResultTable, path: Path) -> Path | None:
    """Grouped bars per method, original vs metamer validation, for all four metrics (MRAE on a log axis),
    one row of panels per column pair, with the paired bound (``table.bounds``) as a dashed line: no
    RGB-only method has both bars below it. None when the table has no such pair."""
    pairs = original_metamer_pairs(table.columns)
    if not pairs:
        return None
    width = max(3.4, 0.42 * len(table.rows) + 1.6)
    fig = new_figure(width * len(METRIC_NAMES), 3.3 * len(pairs) + 1.1)
    axes = fig.subplots(len(pairs), len(METRIC_NAMES), squeeze=False)
    x = np.arange(len(table.rows))
    handles = {}
    for row, (prefix, orig, met) in enumerate(pairs):
        for ax, metric in zip(axes[row], METRIC_NAMES):
            values = []
            breakdown = False
            for k, ((label, colour), col) in enumerate(zip(PAIR_COLOURS, (orig, met))):
                vals = [table.value(m, col, metric) for m in table.rows]
                values += [v for v in vals if v is not None]
                heights = np.array([np.nan if v is None else v for v in vals], dtype=float)
                handles[label] = ax.bar(x + (k - 0.5) * 0.38, heights, 0.38, color=colour)
                if metric == "MRAE":
                    breakdown |= _mark_breakdown(ax, table, col, x + (k - 0.5) * 0.38, handles)
                    values += [v for m in table.rows if (v := table.value(m, col, MRAE_WITHOUT_NEAR_ZERO)) is not None
                               and math.isfinite(v)]
            bound = table.bounds.get(met)
            if bound is not None and metric in bound and metric != "PSNR":
                handles["bound"] = ax.axhline(bound[metric], **BOUND_STYLE)
                values.append(bound[metric])
            if metric == "MRAE" and values and _positive(values):
                from matplotlib.ticker import NullFormatter
                ax.set_yscale("log")
                ax.set_ylim(min(values) / 2, max(values) * 3)
                ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xticks(x, [method_label(m) for m in table.rows], rotation=45, ha="right", fontsize=8)
            ax.set_ylabel(metric_heading(metric), fontsize=9)
            ax.set_title(f"{_pair_label(table, prefix)}: {metric}"
                         + (" (log axis)" if ax.get_yscale() == "log" else "")
                         + (" (no bound)" if metric == "PSNR" and table.bounds else ""), fontsize=9)
            ax.grid(axis="y", alpha=0.3, which="both")
    labels = {"original": "validated on originals", "metamer": "validated on metamers",
              "bound": "paired bound: no RGB-only method has both bars below it",
              "breakdown": f"MRAE where truth ≥ {NEAR_ZERO:g} (% above a bar: share of truth voxels < {NEAR_ZERO:g})"}
    keys = [k for k in labels if k in handles]
    fig.legend([handles[k] for k in keys], [labels[k] for k in keys], loc="outside lower center",
               ncol=min(len(keys), 3), fontsize=9, frameon=False)
    fig.suptitle(f"{table.heading}: error on original vs metamer data", fontsize=11)
    return save_png(fig, path)


def bound_points(table: ResultTable) -> list[dict]:
    """Per column pair with a bound, per metric of ``PAIR_BOUND_METRICS``: ``{"prefix", "metric", "d"
    (= 2 x bound, the line x + y = d), "strict", "points": [(method, x = error on originals, y = error on
    metamers), ...]}`` for the methods validated on both. The data of ``plot_bound``."""
    out = []
    for prefix, orig, met in original_metamer_pairs(table.columns):
        bound = table.bounds.get(met)
        if bound is None:
            continue
        for metric in PAIR_BOUND_METRICS:
            points = [(m, table.value(m, orig, metric), table.value(m, met, metric)) for m in table.rows]
            out.append({"prefix": prefix, "metric": metric, "d": 2 * float(bound[metric]),
                        "strict": bool(bound.get("strict")),
                        "points": [(m, x, y) for m, x, y in points if x is not None and y is not None]})
    return out


def _bound_panel(ax, entry: dict, colours: dict) -> None:
    d, pts, log = entry["d"], entry["points"], entry["metric"] == "MRAE"
    xs = [x for _, x, _ in pts] + [d / 2]
    ys = [y for _, _, y in pts] + [d / 2]
    log = log and _positive(xs + ys) and d > 0
    if log:
        lo, hi = min(xs + ys) / 3, max(xs + ys + [d]) * 3
        ax.set_xscale("log")
        ax.set_yscale("log")
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
    for m, x, y in pts:
        ax.plot([x], [y], "o", color=colours[m], ms=8, label=method_label(m))
        ax.annotate(method_label(m), (x, y), xytext=(6, -10), textcoords="offset points", fontsize=7,
                    color=colours[m])
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")


def plot_bound(table: ResultTable, path: Path) -> Path | None:
    """Each method as a point (error on originals, error on metamers) against the line ``x + y = d`` no
    RGB-only method can cross, with the infeasible region shaded and the corner ``(d/2, d/2)``; one panel
    per metric (RMSE, SAM, MRAE on log axes), one row per column pair. None when no pair has a bound."""
    entries = bound_points(table)
    if not entries:
        return None
    rows = sorted({e["prefix"] for e in entries}, key=[e["prefix"] for e in entries].index)
    fig = new_figure(4.3 * len(PAIR_BOUND_METRICS), 4.0 * len(rows) + 1.2)
    axes = fig.subplots(len(rows), len(PAIR_BOUND_METRICS), squeeze=False)
    cmap = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")
    colours = {m: cmap[i % len(cmap)] for i, m in enumerate(table.rows)}
    for e in entries:
        ax = axes[rows.index(e["prefix"]), PAIR_BOUND_METRICS.index(e["metric"])]
        _bound_panel(ax, e, colours)
        unit = f" ({METRIC_UNITS[e['metric']]})" if METRIC_UNITS[e["metric"]] else ""
        ax.set_xlabel(f"{e['metric']}{unit} on originals", fontsize=9)
        ax.set_ylabel(f"{e['metric']}{unit} on metamers", fontsize=9)
        ax.set_title(f"{_pair_label(table, e['prefix'])}: {e['metric']}" + (" (log axes)" if ax.get_xscale() == "log"
                     else "") + f"\nbound {'strict' if e['strict'] else 'approximate'}", fontsize=9)
        ax.grid(alpha=0.3, which="major")
    unique = {l: h for ax in axes.ravel() for h, l in zip(*ax.get_legend_handles_labels())}
    handles, labels = list(unique.values()), list(unique)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(handles)), fontsize=8, frameon=False)
    fig.suptitle(f"{table.heading}: no RGB-only method lies below the line x + y = d\n"
                 "(d: distance between each original and its metamer, whose RGB the method cannot tell apart)", fontsize=10)
    return save_png(fig, path)


def plot_error_vs_psf(table: ResultTable, path: Path) -> Path:
    """All four metrics per column (PSF / encoding) for each method, as lines with markers (MRAE on a log
    axis, dotted: the MRAE where truth >= ``NEAR_ZERO`` when recorded), with the ambiguity left by each
    encoding (``table.ambiguity``, Finding 3) as black squares: the paired bound no method can beat on
    both originals and metamers. Legend below the panels."""
    fig = new_figure(max(12.0, 0.9 * len(table.columns) * 4), 4.6)
    axes = fig.subplots(1, len(METRIC_NAMES))
    x = np.arange(len(table.columns))
    for ax, metric in zip(axes, METRIC_NAMES):
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
            ax.set_yscale("log")
        ax.set_xticks(x, [table.spec.labels.get(c, c) for c in table.columns], rotation=30, ha="right", fontsize=8)
        ax.set_xlabel("PSF / spectral encoding")
        ax.set_ylabel(metric_heading(metric))
        ax.set_title(metric + (" (log axis)" if ax.get_yscale() == "log" else ""), fontsize=10)
        ax.grid(alpha=0.3)
    unique = {l: h for ax in axes for h, l in zip(*ax.get_legend_handles_labels())}
    fig.legend(list(unique.values()), list(unique), loc="outside lower center", ncol=min(4, len(unique)), fontsize=8,
               frameon=False)
    fig.suptitle(f"{table.heading}: error against PSF", fontsize=11)
    return save_png(fig, path)


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


def plot_training_curves(runs: Sequence[TrainingRun], title: str, path: Path) -> Path | None:
    """Training loss (and validation loss) and the four validation metrics against iteration, one panel
    each (loss and MRAE on log axes when positive); None when no run has logged anything yet."""
    data = training_curve_series(runs)
    if not data:
        return None
    fig = new_figure(13.0, 7.0)
    axes = fig.subplots(2, 3).ravel()
    colours = {}
    palette = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
    for ax, (panel, _) in zip(axes, TRAINING_PANELS):
        lines = data.get(panel, [])
        for label, name, its, vals in lines:
            colour = colours.setdefault(label, palette[len(colours) % len(palette)])
            valid = name.startswith("valid/")
            part = name.endswith(MRAE_WITHOUT_NEAR_ZERO)
            ax.plot(its, vals, color=colour, ls="--" if panel == "loss" and valid else ":" if part else "-",
                    marker="o" if valid and len(its) < 50 else None, ms=4,
                    label=f"{label}: {'validation' if valid else 'training'} {panel}")
        if lines and panel in ("loss", "MRAE") and _positive([v for l in lines for v in l[3]]):
            ax.set_yscale("log")
        ax.set_title(("training (solid) and validation (dashed) loss" if panel == "loss" else f"validation {panel}"
                      + (f" (dotted: where truth ≥ {NEAR_ZERO:g})" if any(l[1].endswith(MRAE_WITHOUT_NEAR_ZERO)
                                                                         for l in lines) else ""))
                     + (" (log axis)" if ax.get_yscale() == "log" else ""), fontsize=10)
        ax.set_xlabel("iteration")
        ax.set_ylabel(metric_heading(panel) if panel in METRIC_UNITS else panel)
        ax.grid(alpha=0.3, which="both")
        if not lines:
            ax.text(0.5, 0.5, "not logged yet", ha="center", va="center", transform=ax.transAxes, color="0.5")
    from matplotlib.lines import Line2D
    legend_ax = axes[-1]
    legend_ax.set_axis_off()
    handles = [Line2D([], [], color=c, lw=2) for c in colours.values()] + [
        Line2D([], [], color="0.3", ls="-"), Line2D([], [], color="0.3", ls="--", marker="o", ms=4)]
    legend_ax.legend(handles, [*colours, "training loss (solid)", "validation loss (dashed, markers)"], loc="center",
                     fontsize=9, frameon=False, title="runs (colour)")
    fig.suptitle(title, fontsize=11)
    return save_png(fig, path)
