"""The report's honest MRAE, paired bound (Table V), bound figure, Finding 3 ambiguity row and training curves."""
from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from _tiny_data import make_tiny_dataset
from hsi.ambiguity import pair_distance
from hsi.io import read_mat_cube, write_rgb
from hsi.layout import metamer_cube_path, metamer_rgb_path, spec_path
from hsi.metrics import (MRAE_NEAR_ZERO_FRACTION, MRAE_WITHOUT_NEAR_ZERO, mrae_breakdown, mrae_breakdown_metrics,
                         mrae_per_image, summarise_keys)
from hsi.models import build_model, save_checkpoint
from hsi.report import (ValidationRecord, bound_points, build_tables, collect_results, pair_strictness, render_csv,
                        render_latex, render_markdown, tidy_rows, training_curve_series, write_report)
from hsi.report.ambiguity import attach_ambiguity, collect_ambiguity

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("MRAE", "RMSE", "PSNR", "SAM")


def _validate_main():
    spec = importlib.util.spec_from_file_location("validate_RGB2HS", ROOT / "RGB2HS" / "validate_RGB2HS.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def make_bound_results(tmp: Path) -> dict:
    """Table V runs (two methods, originals and metamers, reconstructions saved), one metamer record
    carrying the MRAE breakdown, a training run with train and valid scalars, and an ambiguity JSON."""
    data = make_tiny_dataset(tmp / "data", n_train=1, n_valid=2, size=24)
    res = tmp / "results"
    validate = _validate_main()
    ckpts = {m: save_checkpoint(tmp / f"{m}.pth", build_model(m)) for m in ("mst_plus_plus", "mst")}
    for method in ckpts:
        for kind in ("original", "metamer"):
            validate(["--dataset_path", str(data), "--dataset_name", "SYNTH", "--method", method, "--pretrained_root",
                      str(ckpts[method]), "--result_root", str(res / f"table5_{kind}"), "--metamer",
                      str(kind == "metamer"), "--save_recon", str(method == "mst_plus_plus"), "--device", "cpu",
                      "--tag", f"table5/{kind}"])
    # the record of a validation writer that adds the breakdown (computed from the saved reconstructions)
    run = res / "table5_metamer" / "SYNTH_poisson0_None_png_mst_plus_plus_metamer"
    rec = ValidationRecord.read(run / "summary.json")
    rows = []
    for scene in ("scene_01", "scene_02"):
        pred = torch.from_numpy(read_mat_cube(run / f"{scene}_metamer.mat").cube)[None]
        truth = torch.from_numpy(read_mat_cube(metamer_cube_path(rec.data_dir, scene)).cube)[None]
        rows.append({k: float(v[0]) for k, v in mrae_breakdown_metrics(pred, truth).items()})
    rec.replace(summary={**rec.summary, **summarise_keys(rows)}).write(run / "summary.json")

    train = res / "train" / "No_metamer_mrae_png_poisson0_None_mst_plus_plus_SYNTH"
    train.mkdir(parents=True)
    (train / "config.json").write_text(json.dumps({"config": {"method": "mst_plus_plus", "total_iterations": 30,
                                                              "mode": "no_metamer", "args": {"dataset_name": "SYNTH"}}}))
    lines = ["iteration,name,value"]
    for it in (10, 20, 30):
        lines += [f"{it},train/loss,{1 / it}", f"{it},train/lr,0.0004", f"{it},valid/MRAE,{2 / it}",
                  f"{it},valid/RMSE,{0.1 / it}", f"{it},valid/PSNR,{20 + it / 10}", f"{it},valid/SAM,{0.3 / it}",
                  f"{it},valid/loss,{2 / it}"]
    (train / "scalars.csv").write_text("\n".join(lines) + "\n")
    return {"data": data, "res": res, "tmp": tmp}


@pytest.fixture(scope="module")
def bound_results(tmp_path_factory):
    made = make_bound_results(tmp_path_factory.mktemp("bound"))
    made["report"] = write_report([made["res"]], made["tmp"] / "report")
    return made


# ------------------------------------------------------------------------------------ honest MRAE
def test_mrae_breakdown_matches_numpy_on_a_hand_made_cube():
    g = np.full((2, 3, 2, 2), 0.5)
    g[0, 0, 0, 0], g[0, 1, 1, 1], g[1, 2, 0, 1] = 0.0, 0.005, 0.0099      # three near-zero voxels
    g[1, 1, 1, 0] = 0.01                                                    # on the threshold: kept
    p = g + np.linspace(-0.2, 0.3, g.size).reshape(g.shape)
    fraction, other = mrae_breakdown(torch.from_numpy(p), torch.from_numpy(g))
    for n in range(2):
        keep = g[n] >= 0.01
        assert fraction[n].item() == pytest.approx(1 - keep.mean(), abs=1e-15)
        assert other[n].item() == pytest.approx((np.abs(p[n] - g[n]) / (g[n] + 1e-6))[keep].mean(), rel=1e-12)
    assert fraction.tolist() == pytest.approx([2 / 12, 1 / 12])
    assert mrae_per_image(torch.from_numpy(p), torch.from_numpy(g))[0] > 1000 > 10 * other[0]   # the paper's MRAE unchanged
    none_kept = mrae_breakdown(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2))
    assert none_kept[0].item() == 1.0 and math.isnan(none_kept[1].item())
    assert summarise_keys([{MRAE_WITHOUT_NEAR_ZERO: math.nan}, {MRAE_WITHOUT_NEAR_ZERO: 2.0}]) == {MRAE_WITHOUT_NEAR_ZERO: 2.0}


def test_breakdown_beside_mrae_in_markdown_latex_and_csv(bound_results):
    out = bound_results["tmp"] / "report"
    rec = ValidationRecord.read(bound_results["res"] / "table5_metamer" / "SYNTH_poisson0_None_png_mst_plus_plus_metamer"
                                / "summary.json")
    md = (out / "table5.md").read_text()
    mrae_block = md.split("**MRAE", 1)[1].split("**RMSE", 1)[0]
    frac = f"{100 * rec.summary[MRAE_NEAR_ZERO_FRACTION]:.1f} %"
    assert f"share of truth voxels < 0.01 | " in mrae_block and f"| {frac} |" in mrae_block   # validation writes both
    assert f"| {rec.summary[MRAE_WITHOUT_NEAR_ZERO]:.4f} |" in mrae_block.split("MRAE where truth ≥ 0.01", 1)[1]
    assert "share of truth voxels" not in md.split("**RMSE", 1)[1]                # only under MRAE
    assert r"\quad share of truth voxels" in (out / "table5.tex").read_text()
    rows = list(csv.DictReader(open(out / "table5.csv")))
    got = {r["metric"]: float(r["value"]) for r in rows if r["row"] == "mst_plus_plus" and r["column"] == "metamer"}
    assert got[MRAE_WITHOUT_NEAR_ZERO] == rec.summary[MRAE_WITHOUT_NEAR_ZERO]


# ------------------------------------------------------------------------------------ paired bound
def _expected_bound(data: Path) -> dict:
    ds, gen = data / "SYNTH", data / "SYNTH" / "poisson0_None"
    per = [pair_distance(torch.from_numpy(read_mat_cube(spec_path(ds, s)).cube),
                         torch.from_numpy(read_mat_cube(metamer_cube_path(gen, s)).cube)).as_dict(0)
           for s in ("scene_01", "scene_02")]
    return {m: float(np.mean([b[m] for b in per])) for m in ("RMSE", "SAM", "MRAE")}


def test_bound_row_values_and_label_in_table5(bound_results):
    from hsi.report.tables import format_value
    md = (bound_results["tmp"] / "report" / "table5.md").read_text()
    expected = _expected_bound(bound_results["data"])
    # no manifest in the tiny data: the validated PNG files are compared
    strict, basis = pair_strictness(bound_results["data"] / "SYNTH" / "poisson0_None", ["scene_01", "scene_02"])
    assert basis.startswith("png files compared")
    label = "Paired bound (strict: byte-identical RGB)" if strict else \
        "Paired bound (approximate: clip metamers or independent noise)"
    for metric in ("RMSE", "SAM", "MRAE"):
        block = md.split(f"**{metric}", 1)[1].split("\n\n", 2)[1]
        v = format_value(expected[metric], metric)
        assert f"| *{label}* | {v} | {v} |" in block
    assert "Paired bound" not in md.split("**PSNR", 1)[1].split("\n\n", 2)[1]
    assert "PSNR has no paired bound" in md
    rows = list(csv.DictReader(open(bound_results["tmp"] / "report" / "table5_bounds.csv")))
    assert {(r["column"], r["metric"]): float(r["value"]) for r in rows} == pytest.approx(
        {(c, m): expected[m] for c in ("original", "metamer") for m in ("RMSE", "SAM", "MRAE")}, rel=1e-12)


def test_every_method_lies_on_or_above_the_bound_line(bound_results):
    tables = bound_results["report"].tables
    t5 = next(t for t in tables if t.spec.key == "table5")
    entries = bound_points(t5)
    rmse = next(e for e in entries if e["metric"] == "RMSE")
    assert {m for m, _, _ in rmse["points"]} == {"mst_plus_plus", "mst"}
    assert rmse["d"] == pytest.approx(2 * _expected_bound(bound_results["data"])["RMSE"], rel=1e-12)
    for e in entries:                      # a property of real validations (triangle inequality)
        for _, x, y in e["points"]:
            assert x + y >= e["d"] * (1 - 1e-9)
    fig = bound_results["tmp"] / "report" / "figures" / "bound_table5_SYNTH.png"
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stored_pair_bound_is_used_and_strictness_from_manifest(bound_results, tmp_path):
    coll = collect_results([bound_results["res"]])
    met = next(r for r in coll.validation if r.metamer and r.method == "mst")
    stored = {"RMSE": 0.5, "SAM": 0.25, "MRAE": 1.5, "strict": True, "scenes": 2, "strictness": "given"}
    edited = met.replace(pair_bound=stored)
    assert ValidationRecord.from_json(edited.to_json()).pair_bound == stored
    old = met.replace(pair_bound=None)
    assert "pair_bound" not in old.to_json()                                   # old records keep their keys
    from hsi.report.bound import attach_bounds
    tables, _ = build_tables([edited if r is met else r for r in coll.validation], warn=lambda m: None)
    attach_bounds(tables, warn=lambda m: None)
    t5 = next(t for t in tables if t.spec.key == "table5")
    assert t5.bounds["metamer"]["RMSE"] == 0.5 and "| *Paired bound (strict: byte-identical RGB)* | 0.5000 | 0.5000 |" \
        in render_markdown([t5])
    # strictness: the manifest's per-scene flags win; else the RGB files are compared
    gen = tmp_path / "gen"
    img = (np.arange(3 * 4 * 5) * 4).astype(np.uint8).reshape(3, 4, 5)
    for s in ("a", "b"):
        write_rgb(metamer_rgb_path(gen, s, "original", "png"), img)
        write_rgb(metamer_rgb_path(gen, s, "metamer", "png"), img if s == "a" else 255 - img)
    assert pair_strictness(gen, ["a"]) == (True, "png files compared: 1 of 1 identical")
    assert pair_strictness(gen, ["a", "b"])[0] is False
    (gen / "manifest.json").write_text(json.dumps({"scenes": {"a": {"rgb_identical": True}, "b": {"rgb_identical": True}}}))
    assert pair_strictness(gen, ["a", "b"]) == (True, "manifest rgb_identical: 2 of 2 scenes")


def test_records_without_new_fields_give_the_old_tables(bound_results):
    coll = collect_results([bound_results["res"]])
    plain = [r.replace(summary={k: r.summary[k] for k in METRICS}) for r in coll.validation]
    tables, _ = build_tables(plain, warn=lambda m: None)
    md = render_markdown([t for t in tables if t.spec.key == "table5"])
    assert "↳" not in md and "Paired bound" not in md and "Note:" not in md
    assert render_latex(tables).count(r"\begin{tabular}") == 4
    assert {r["metric"] for r in tidy_rows(tables)} == set(METRICS)
    assert render_csv(tidy_rows(tables)).splitlines()[0] == "table,dataset,row,column,metric,value,images,source"


# ------------------------------------------------------------------------------------ Finding 3
def test_finding3_ambiguity_row_from_a_hand_written_json(tmp_path):
    amb = tmp_path / "results" / "ambiguity"
    for psf, rmse, created in (("None", 0.04, "2026-01-01T00:00:00+00:00"),
                               ("double_gauss_50mm_F1.8", 0.02, "2026-01-01T00:00:00+00:00"),
                               ("double_gauss_50mm_F1.8", 0.03, "2026-01-02T00:00:00+00:00")):   # newer wins
        folder = amb / f"SYNTH_basler_{psf}_{created[:10]}"
        folder.mkdir(parents=True)
        (folder / "ambiguity.json").write_text(json.dumps({
            "kind": "ambiguity", "dataset": "SYNTH", "camera": {"name": "basler"}, "created": created,
            "psf": None if psf == "None" else {"name": psf}, "metamer_mode": "exact" if psf == "None" else "exact_optics",
            "scenes_total": 2, "pair_bound": {"RMSE": rmse, "SAM": 10 * rmse, "MRAE": 100 * rmse}}))
    (amb / "broken").mkdir()
    (amb / "broken" / "ambiguity.json").write_text("{")
    warnings = []
    found = collect_ambiguity([amb], warnings.append)
    assert len(found) == 3 and len(warnings) == 1 and "broken" in warnings[0]
    summary = {m: 1.0 for m in METRICS}
    recs = [ValidationRecord(name=f"r{c}", tag=f"finding3/{c}", method="mst", dataset="SYNTH", metamer=True,
                             summary=summary) for c in ("none", "double_gauss_50mm_F1.8", "grating")]
    tables, _ = build_tables(recs, warn=lambda m: None)
    attach_ambiguity(tables, found)
    md = render_markdown(tables)
    rmse = md.split("**RMSE", 1)[1].split("\n\n", 2)[1]
    assert "| *Ambiguity left by the encoding (paired bound, alpha = 0)* | 0.0400 | 0.0300 | – |" in rmse
    mrae = md.split("**MRAE", 1)[1].split("\n\n", 2)[1]
    assert "| 4.0000 | 3.0000 | – |" in mrae and "Ambiguity" not in md.split("**PSNR", 1)[1].split("\n\n", 2)[1]
    from hsi.report import bound_rows
    assert {r["value"] for r in bound_rows(tables) if r["row"] == "ambiguity" and r["metric"] == "SAM"} == {"0.4", "0.3"}


# ------------------------------------------------------------------------------------ training curves
def test_training_figure_gets_the_loss_and_every_validation_metric(bound_results):
    run = bound_results["report"].collection.training[0]
    data = training_curve_series([run])
    assert set(data) == {"loss", "MRAE", "RMSE", "PSNR", "SAM"}
    assert [name for _, name, _, _ in data["loss"]] == ["train/loss", "valid/loss"]
    label, name, its, vals = data["PSNR"][0]
    assert name == "valid/PSNR" and its == [10, 20, 30] and vals == pytest.approx([21, 22, 23])
    assert data["MRAE"][0][3] == pytest.approx([0.2, 0.1, 2 / 30])
    figs = {p.name for p in bound_results["report"].figures}
    assert {"training_no_metamer_SYNTH.png", "original_vs_metamer_table5_SYNTH.png", "bound_table5_SYNTH.png"} <= figs


def test_error_map_helpers_agree_with_the_metrics():
    from hsi.metrics import rmse_per_image, sam_per_image
    from hsi.report.examples import error_maps
    g = np.random.default_rng(1)
    truth, pred = g.random((31, 5, 6)), g.random((31, 5, 6)) * 1.2 - 0.1
    truth[:, 0, 0] = 0.0                                                      # a pixel entirely near zero
    truth[:4, 1, :] = 0.005
    maps = error_maps(pred, truth)
    tp, tt = torch.from_numpy(pred)[None], torch.from_numpy(truth)[None]
    assert np.sqrt((maps["RMSE"] ** 2).mean()) == pytest.approx(rmse_per_image(tp, tt).item(), rel=1e-12)
    assert maps["SAM"].mean() == pytest.approx(sam_per_image(tp, tt).item(), rel=1e-12)
    assert math.isnan(maps["MRAE_above"][0, 0]) and np.isfinite(maps["MRAE_above"][1:]).all()
    keep = truth >= 0.01
    per_voxel = np.abs(pred - truth) / (truth + 1e-6)
    assert maps["MRAE_above"][1, 2] == pytest.approx(per_voxel[keep[:, 1, 2], 1, 2].mean(), rel=1e-12)
    assert maps["near_zero_share"].mean() == pytest.approx(mrae_breakdown(tp, tt)[0].item(), rel=1e-12)


def test_report_script_takes_an_ambiguity_folder(tmp_path):
    spec = importlib.util.spec_from_file_location("report_script", ROOT / "scripts" / "report.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    summary = {m: 1.0 for m in METRICS}
    for col in ("none", "grating"):
        ValidationRecord(name=col, tag=f"finding3/{col}", method="mst", dataset="SYNTH", metamer=True,
                         summary=summary).write(tmp_path / "results" / col / "summary.json")
    amb = tmp_path / "elsewhere" / "SYNTH_basler_grating"
    amb.mkdir(parents=True)
    (amb / "ambiguity.json").write_text(json.dumps({
        "kind": "ambiguity", "dataset": "SYNTH", "camera": {"name": "basler"}, "psf": {"name": "grating"},
        "metamer_mode": "exact_optics", "scenes_total": 1, "pair_bound": {"RMSE": 0.0123, "SAM": 0.1, "MRAE": 0.2}}))
    argv = ["--results", str(tmp_path / "results"), "--no_figures", "--formats", "md"]
    assert script.main(argv + ["--out", str(tmp_path / "default")]) == 0          # default: <results>/ambiguity
    assert "Ambiguity left" not in (tmp_path / "default" / "finding3.md").read_text()
    assert script.main(argv + ["--out", str(tmp_path / "given"), "--ambiguity", str(tmp_path / "elsewhere")]) == 0
    assert "| *Ambiguity left by the encoding (paired bound, alpha = 0)* | – | 0.0123 |" in \
        (tmp_path / "given" / "finding3.md").read_text()
