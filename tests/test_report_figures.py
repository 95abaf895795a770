"""The report's figures, checked on their matplotlib objects: log MRAE axes with plain tick labels, the
paired bound drawn, the MRAE breakdown shown beside MRAE, masked near-zero truth, curves with more than
one point, legends outside the data axes."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from hsi.io import write_mat_cube, write_rgb
from hsi.layout import metamer_cube_path, metamer_rgb_path
from hsi.metrics import MRAE_NEAR_ZERO_FRACTION, MRAE_WITHOUT_NEAR_ZERO, NEAR_ZERO
from hsi.plotting import log_axis, log_ticks, new_figure
from hsi.report import TrainingRun, ValidationRecord, build_tables
from hsi.report.bound import attach_bounds
from hsi.report.examples import NEAR_ZERO_COLOUR, error_example_figure, error_maps, example_pixels
from hsi.report.figures import (bound_figure, error_vs_psf_figure, original_vs_metamer_figure,
                                training_curves_figure)

ROOT = Path(__file__).resolve().parents[1]
BOUND = {"RMSE": 0.034, "SAM": 0.25, "MRAE": 0.2, "strict": False, "scenes": 4}
SUMMARIES = {  # method -> kind -> (MRAE, RMSE, PSNR, SAM, near-zero share, MRAE over the rest)
    "mst_plus_plus": {"original": (4.54, 0.098, 21.2, 0.51, 0.24, 1.74),
                      "metamer": (924.3, 0.099, 21.8, 0.51, 0.34, 1.34)},
    "rpr2": {"original": (2.35, 0.086, 22.8, 0.38, 0.24, 1.52), "metamer": (293.9, 0.088, 24.0, 0.39, 0.34, 1.14)},
}


def _record(method: str, kind: str, column: str | None = None) -> ValidationRecord:
    mrae, rmse, psnr, sam, share, other = SUMMARIES[method][kind]
    return ValidationRecord(name=f"{method}_{kind}", tag=f"table5/{column or kind}", method=method, dataset="SYNTH",
                            metamer=kind == "metamer", pair_bound=dict(BOUND) if kind == "metamer" else None,
                            summary={"MRAE": mrae, "RMSE": rmse, "PSNR": psnr, "SAM": sam,
                                     MRAE_NEAR_ZERO_FRACTION: share, MRAE_WITHOUT_NEAR_ZERO: other})


@pytest.fixture(scope="module")
def table5():
    tables, _ = build_tables([_record(m, k) for m in SUMMARIES for k in ("original", "metamer")])
    attach_bounds(tables, lambda msg: pytest.fail(msg))
    assert len(tables) == 1
    return tables[0]


def _panels(fig) -> dict[str, object]:
    """Data axes by the metric their title ends in (``...: MRAE (log axis)`` -> ``MRAE``)."""
    out = {}
    for ax in fig.axes:
        found = re.search(r"(MRAE|RMSE|PSNR|SAM)\b", ax.get_title())
        if found and ax.get_label() != "<colorbar>":
            out.setdefault(found.group(1), ax)
    return out


def _horizontal_levels(ax) -> list[float]:
    return [float(l.get_ydata()[0]) for l in ax.get_lines() if len(set(np.atleast_1d(l.get_ydata()))) == 1
            and len(l.get_ydata()) == 2]


def _legend_clear_of_data_axes(fig) -> None:
    """No legend (of the figure or of an axes) overlaps an axes that draws data; no titles overlap."""
    _titles_apart(fig)
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends
    data_axes = [ax for ax in fig.axes if ax.axison and (ax.get_lines() or ax.patches or ax.images)]
    for legend in legends:
        box = legend.get_window_extent()
        for ax in data_axes:                   # its own axes too: anchored beside or below it
            assert not box.overlaps(ax.get_window_extent()), (legend.texts[0].get_text(), ax.get_title())


def _titles_apart(fig) -> None:
    """No two axes titles (nor the figure's) overlap on the canvas."""
    fig.canvas.draw()
    texts = [ax.title for ax in fig.axes] + [getattr(f, "_suptitle", None) for f in [fig, *fig.subfigs]]
    boxes = [(t.get_text(), t.get_window_extent()) for t in texts if t is not None and t.get_text()]
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            assert not box_a.overlaps(box_b), (a, b)


def _plain_ticks(axis) -> None:
    labels = [axis.get_major_formatter()(v) for v in axis.get_majorticklocs()]
    assert labels and not any("10^" in t or "times" in t for t in labels), labels


# ------------------------------------------------------------------------------------ plotting helpers
def test_log_axis_has_plain_labels_and_ticks_inside_a_narrow_range():
    fig = new_figure(3, 3)
    ax = fig.subplots()
    ax.plot([1, 2], [1.24, 1.32])
    log_axis(ax, "y")
    assert ax.get_yscale() == "log"
    _plain_ticks(ax.yaxis)
    lo, hi = ax.get_ylim()
    assert sum(lo <= v <= hi for v in ax.yaxis.get_majorticklocs()) >= 2     # a narrow range still gets labels
    assert ax.yaxis.get_major_formatter()(1000.0) == "1000" and ax.yaxis.get_major_formatter()(0.2) == "0.2"


def test_log_ticks_steps_and_narrow_ranges():
    assert log_ticks(0.15, 12.0) == pytest.approx([0.2, 0.5, 1, 2, 5, 10])
    assert log_ticks(1e-3, 1e4) == pytest.approx([1e-3, 1e-2, 0.1, 1, 10, 100, 1e3, 1e4])
    narrow = log_ticks(0.17, 0.3)
    assert len(narrow) >= 3 and all(0.17 <= t <= 0.3 for t in narrow)


# ------------------------------------------------------------------------------------ original vs metamer
def test_original_vs_metamer_mrae_log_with_bound_and_breakdown(table5):
    fig = original_vs_metamer_figure(table5)
    panels = _panels(fig)
    assert set(panels) == {"MRAE", "RMSE", "PSNR", "SAM"}
    assert panels["MRAE"].get_yscale() == "log"
    assert {panels[m].get_yscale() for m in ("RMSE", "PSNR", "SAM")} == {"linear"}
    _plain_ticks(panels["MRAE"].yaxis)
    for metric in ("MRAE", "RMSE", "SAM"):                                 # the paired bound of issue 13
        assert _horizontal_levels(panels[metric]) == pytest.approx([BOUND[metric]])
    assert _horizontal_levels(panels["PSNR"]) == []
    lo, hi = panels["MRAE"].get_ylim()
    assert lo < BOUND["MRAE"] and hi > 924.3                               # bound and tallest bar in view
    diamonds = sorted(float(l.get_ydata()[0]) for l in panels["MRAE"].get_lines() if l.get_marker() == "D")
    assert diamonds == pytest.approx(sorted(v[5] for m in SUMMARIES.values() for v in m.values()))
    texts = {t.get_text() for t in panels["MRAE"].texts}
    assert {"24 %", "34 %", "1.74", "1.34", "1.52", "1.14"} <= texts     # share and MRAE over the rest, per bar
    legend_text = " ".join(t.get_text() for lg in fig.legends for t in lg.texts)
    assert f"truth ≥ {NEAR_ZERO:g}" in legend_text and "paired bound" in legend_text
    assert "relative error" in panels["MRAE"].get_ylabel() and "[0, 1]" in panels["RMSE"].get_ylabel()
    assert "dB" in panels["PSNR"].get_ylabel() and "rad" in panels["SAM"].get_ylabel()
    _legend_clear_of_data_axes(fig)


# ------------------------------------------------------------------------------------ bound scatter
def test_bound_figure_draws_the_line_and_the_mrae_breakdown(table5):
    fig = bound_figure(table5)
    panels = _panels(fig)
    mrae = panels["MRAE"]
    assert mrae.get_xscale() == "log" and mrae.get_yscale() == "log"
    _plain_ticks(mrae.xaxis)
    d = 2 * BOUND["MRAE"]
    line = next(l for l in mrae.get_lines() if l.get_label() == "x + y = d")
    assert np.allclose(line.get_xdata() + line.get_ydata(), d)
    assert "truth < 0.01: 24 % of voxels" in mrae.get_xlabel()
    assert "truth < 0.01: 34 % of voxels" in mrae.get_ylabel()
    notes = " ".join(t.get_text() for t in mrae.texts)
    assert "1.74 / 1.34 where truth ≥ 0.01" in notes and "1.52 / 1.14 where truth ≥ 0.01" in notes
    for metric in ("RMSE", "SAM"):
        rmse_line = next(l for l in panels[metric].get_lines() if l.get_label() == "x + y = d")
        assert np.allclose(rmse_line.get_xdata() + rmse_line.get_ydata(), 2 * BOUND[metric])
    _legend_clear_of_data_axes(fig)


def test_error_vs_psf_mrae_log_with_the_near_zero_share():
    recs = [_record("mst_plus_plus", "metamer", col) for col in ("none", "grating")]
    recs = [r.replace(tag=f"finding3/{c}", name=c) for r, c in zip(recs, ("none", "grating"))]
    tables, _ = build_tables(recs)
    fig = error_vs_psf_figure(tables[0])
    panels = _panels(fig)
    assert panels["MRAE"].get_yscale() == "log"
    _plain_ticks(panels["MRAE"].yaxis)
    assert "truth < 0.01: 34 % of voxels" in panels["MRAE"].get_title()
    dotted = [l for l in panels["MRAE"].get_lines() if l.get_linestyle() == ":"]
    assert len(dotted) == 1 and list(dotted[0].get_ydata()) == pytest.approx([1.34, 1.34])
    _legend_clear_of_data_axes(fig)


# ------------------------------------------------------------------------------------ training curves
def _run(method: str, series: dict, last_valid: dict | None = None) -> TrainingRun:
    return TrainingRun(path=Path(method), method=method, mode="no_metamer", dataset="SYNTH", iterations=200,
                       total_iterations=200, finished=True, best_valid_mrae=None, last_valid=last_valid or {},
                       samples_per_s=None, curve=series.get("valid/MRAE", []), series=series)


def test_training_curves_have_several_points_breakdown_and_closed_form_levels():
    its = (50, 100, 150, 200)
    series = {"train/loss": [(i, 0.1 / k) for k, i in enumerate(range(10, 201, 10), 1)],
              "valid/loss": [(i, 0.07 - i * 1e-4) for i in its], "valid/MRAE": [(i, 5.0 - i / 400) for i in its],
              f"valid/{MRAE_WITHOUT_NEAR_ZERO}": [(i, 1.8 - i / 2000) for i in its],
              f"valid/{MRAE_NEAR_ZERO_FRACTION}": [(i, 0.24) for i in its],
              "valid/RMSE": [(i, 0.1 - i / 1e4) for i in its], "valid/PSNR": [(i, 20 + i / 100) for i in its],
              "valid/SAM": [(i, 0.6 - i / 1e3) for i in its]}
    closed = _run("rpr2", {}, {"MRAE": 2.35, "RMSE": 0.086, "PSNR": 22.8, "SAM": 0.38, "loss": 0.05})
    fig = training_curves_figure([_run("mst_plus_plus", series), closed], "t")
    panels = _panels(fig)
    assert set(panels) == {"MRAE", "RMSE", "PSNR", "SAM"}
    for metric, ax in panels.items():
        curves = [l for l in ax.get_lines() if len(l.get_xdata()) > 2]
        assert curves and all(len(l.get_xdata()) == len(its) for l in curves), metric
        assert _horizontal_levels(ax) == pytest.approx([closed.last_valid[metric]])   # rpr2: its final level
    assert panels["MRAE"].get_yscale() == "log"
    _plain_ticks(panels["MRAE"].yaxis)
    assert "truth < 0.01: 24 % of voxels" in panels["MRAE"].get_title()
    assert [len(l.get_xdata()) for l in panels["MRAE"].get_lines() if l.get_linestyle() == ":"] == [4]
    legend_axes = [ax for ax in fig.axes if ax.get_legend() is not None]
    assert len(legend_axes) == 1 and not legend_axes[0].axison and not legend_axes[0].get_lines()
    assert "RPR-2" in [t.get_text() for t in legend_axes[0].get_legend().texts]


def test_quick_recipe_validates_several_times_during_training():
    block = (ROOT / "scripts" / "lib.sh").read_text().split("quick)", 1)[1].split(";;", 1)[0]
    value = {k: int(v) for k, v in re.findall(r'"\$\{(\w+):=(\d+)\}"', block)}
    iterations = value["NUM_EPOCHS"] * value["PER_EPOCH_ITERATION"]
    assert iterations // value["VALID_FREQ"] >= 2                           # a curve, not a single point


# ------------------------------------------------------------------------------------ error maps
def test_example_pixels_skip_black_pixels_when_asked():
    error = np.arange(12, dtype=float).reshape(3, 4)
    keep = np.ones((3, 4), bool)
    keep[0, :2] = False
    assert example_pixels(error, keep)[0] == ("lowest", 0, 2)
    assert example_pixels(error)[0] == ("lowest", 0, 0)
    assert example_pixels(error, np.zeros((3, 4), bool))[0] == ("lowest", 0, 0)     # none selected: all


def _example_run(tmp: Path) -> ValidationRecord:
    g = np.random.default_rng(0)
    truth = g.uniform(0.05, 0.9, (31, 16, 20)).astype(np.float32)
    truth[:, :3, :4] = 0.0                                                  # black: truth < 0.01 in every band
    truth[20:, 8:, :] = 0.004                                               # near zero in the red bands
    pred = np.clip(truth + g.normal(0, 0.03, truth.shape), 0, 1).astype(np.float32)
    gen, run = tmp / "gen", tmp / "run"
    write_mat_cube(metamer_cube_path(gen, "s1"), truth)
    write_rgb(metamer_rgb_path(gen, "s1", "metamer", "png"), (g.random((3, 16, 20)) * 255).astype(np.uint8))
    write_mat_cube(run / "s1_metamer.mat", pred)
    rec = ValidationRecord(name="run", tag="table5/metamer", method="mst_plus_plus", dataset="SYNTH", metamer=True,
                           summary={"MRAE": 1.0, "RMSE": 0.1, "PSNR": 20.0, "SAM": 0.1}, data_dir=str(gen))
    rec.write(run / "summary.json")
    return ValidationRecord.read(run / "summary.json"), truth, pred


def test_error_example_mrae_map_is_log_with_near_zero_truth_masked(tmp_path):
    from matplotlib.colors import LogNorm, to_rgba
    rec, truth, pred = _example_run(tmp_path)
    fig = error_example_figure(rec, "s1")
    maps = error_maps(pred, truth)
    images = {ax.get_title().split(" ")[0]: ax.images[0] for ax in fig.axes if ax.images}
    mrae = images["MRAE"]
    shown = mrae.get_array()
    assert isinstance(mrae.norm, LogNorm)
    assert np.ma.getmaskarray(shown)[:3, :4].all()                          # black pixels: masked ...
    assert np.isnan(maps["MRAE_above"][:3, :4]).all()                       # ... where the map has no value
    assert not np.ma.getmaskarray(shown)[3:, 4:].any()
    assert np.allclose(shown[3:, 4:], maps["MRAE_above"][3:, 4:])
    assert mrae.cmap.get_bad() == pytest.approx(to_rgba(NEAR_ZERO_COLOUR))  # ... and drawn in their own colour
    share = float((truth < NEAR_ZERO).mean())
    mrae_ax = mrae.axes
    assert f"truth < {NEAR_ZERO:g}: {100 * share:.1f} % of voxels" in mrae_ax.get_title()
    keep = truth >= NEAR_ZERO
    other = (np.abs(pred - truth) / (truth + 1e-6))[keep].mean()
    assert f"where truth ≥ {NEAR_ZERO:g}: {other:.3g}" in mrae_ax.get_title()
    assert "masked" in mrae_ax.get_legend().texts[0].get_text()
    assert {"RMSE", "SAM"} <= set(images) and images["RMSE"].get_array().shape == (16, 20)
    _legend_clear_of_data_axes(fig)
    bar = next(ax for ax in fig.axes if ax.get_label() == "<colorbar>" and "MRAE" in ax.get_ylabel())
    _plain_ticks(bar.yaxis)


def test_error_example_spectra_give_each_pixels_mrae_breakdown(tmp_path):
    rec, truth, pred = _example_run(tmp_path)
    fig = error_example_figure(rec, "s1")
    titles = [ax.get_title() for ax in fig.axes if ax.get_xlabel() == "wavelength (nm)"]
    assert len(titles) == 3
    _titles_apart(fig)
    for title in titles:
        r, c = map(int, re.search(r"pixel \((\d+), (\d+)\)", title).groups())
        assert truth[:, r, c].max() >= 0.1                                  # never a black pixel
        kept = int((truth[:, r, c] >= NEAR_ZERO).sum())
        assert f"over the {kept} of 31 bands with truth ≥ {NEAR_ZERO:g}" in title
