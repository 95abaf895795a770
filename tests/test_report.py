"""scripts/report.py on real validation runs of a tiny dataset: tables, gaps, figures, bad files."""
from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from _tiny_data import make_tiny_dataset
from hsi.models import build_model, save_checkpoint
from hsi.report import (GAP, METRICS, ValidationRecord, build_tables, collect_results, format_value,
                        original_metamer_pairs, table_spec, write_report)

ROOT = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _validate_main():
    spec = importlib.util.spec_from_file_location("validate_RGB2HS", ROOT / "RGB2HS" / "validate_RGB2HS.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Validation runs (two methods, original/metamer, two finding3 columns, a rerun, an untagged run),
    an unfinished training run and two bad summary files under one results folder."""
    tmp = tmp_path_factory.mktemp("report")
    data = make_tiny_dataset(tmp / "data")
    res = tmp / "results"
    validate = _validate_main()
    ckpts = {m: save_checkpoint(tmp / f"{m}.pth", build_model(m)) for m in ("mst_plus_plus", "mst")}

    def run(method, root, tag=None, metamer=False, save=False):
        argv = ["--dataset_path", str(data), "--dataset_name", "SYNTH", "--method", method, "--pretrained_root",
                str(ckpts[method]), "--result_root", str(res / root), "--metamer", str(metamer),
                "--save_recon", str(save), "--device", "cpu"]
        validate(argv + (["--tag", tag] if tag else []))

    run("mst_plus_plus", "table5_original", "table5/original", save=True)
    run("mst_plus_plus", "table5_metamer", "table5/metamer", metamer=True, save=True)
    run("mst", "table5_original", "table5/original")                 # no metamer run for mst: a gap
    run("mst_plus_plus", "finding3_none", "finding3/none")
    run("mst_plus_plus", "finding3_grating", "finding3/grating")
    run("mst", "finding3_grating", "finding3/grating")
    run("mst_plus_plus", "rerun", "table5/original")                 # same tag and method: newest wins
    run("mst", "untagged")
    # the two table5/original runs of mst_plus_plus finish within one second, the rerun later (set here, so
    # that the test does not depend on the machine's speed): only the sub-second part of `created` orders
    # them; the older file gets the later mtime and sorts after by path, so neither can stand in for it
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    competing = {root: res / root / "SYNTH_poisson0_None_png_mst_plus_plus_std" / "summary.json"
                 for root in ("table5_original", "rerun")}
    for path, micro in zip(competing.values(), (100, 900)):
        ValidationRecord.read(path).replace(created=t0 + dt.timedelta(microseconds=micro)).write(path)
    os.utime(competing["table5_original"], ns=(2 * 10 ** 18, 2 * 10 ** 18))          # mtime in 2033

    train = res / "train" / "No_metamer_mrae_png_poisson0_None_mst_plus_plus_SYNTH"   # unfinished: no summary.json
    train.mkdir(parents=True)
    (train / "config.json").write_text(json.dumps({"config": {
        "method": "mst_plus_plus", "total_iterations": 300, "mode": "no_metamer",
        "args": {"dataset_name": "SYNTH"}}, "created": "2025-01-01T00:00:00+00:00"}))
    (train / "scalars.csv").write_text("iteration,name,value\n100,train/loss,0.5\n100,valid/MRAE,0.4\n100,valid/PSNR,20\n"
                                       "200,train/loss,0.3\n200,valid/MRAE,0.3\n200,valid/PSNR,22\n210,train/lo")
    (res / "broken_run").mkdir()
    (res / "broken_run" / "summary.json").write_text('{"name": "x", "tag": "table5/orig')       # truncated write
    (res / "partial_run").mkdir()
    (res / "partial_run" / "summary.json").write_text(json.dumps({"tag": "table5/original", "method": "mst"}))

    out = tmp / "report"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "report.py"), "--results", str(res), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MPLBACKEND": "Agg",          # this checkout's hsi, not an installed one
                               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"res": res, "out": out, "stderr": proc.stderr, "stdout": proc.stdout}


def _summary(res: Path, root: str, method: str, kind: str = "std") -> dict:
    return json.loads((res / root / f"SYNTH_poisson0_None_png_{method}_{kind}" / "summary.json").read_text())["summary"]


def _markdown_section(text: str, metric: str) -> dict[str, dict[str, str]]:
    """``{row label: {column: cell}}`` of the Markdown table under the ``**<metric> ...**`` heading."""
    block = text.split(f"**{metric}", 1)[1].split("\n\n", 2)[1]
    lines = [l for l in block.splitlines() if l.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    table = {}
    for line in lines[2:]:
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        table[cells[0]] = dict(zip(header[1:], cells[1:]))
    return table


def test_markdown_holds_the_summary_values_and_gaps(results):
    res, out = results["res"], results["out"]
    text = (out / "table5.md").read_text()
    assert text.startswith("# Table V") and "What it measures:" in text
    for metric in METRICS:
        table = _markdown_section(text, metric)
        assert table["MST++"]["original"] == format_value(_summary(res, "rerun", "mst_plus_plus")[metric], metric)
        assert table["MST++"]["metamer"] == format_value(_summary(res, "table5_metamer", "mst_plus_plus", "metamer")[metric], metric)
        assert table["MST"]["original"] == format_value(_summary(res, "table5_original", "mst")[metric], metric)
        assert table["MST"]["metamer"] == GAP                         # mst has no metamer run
    f3 = _markdown_section((out / "finding3.md").read_text(), "MRAE")
    assert list(f3["MST++"]) == ["none", "grating"] and f3["MST"]["none"] == GAP
    assert "Not run yet: `double_gauss`" in (out / "finding3.md").read_text()


def test_latex_is_booktabs_with_the_best_value_bold(results):
    res, out = results["res"], results["out"]
    tex = (out / "table5.tex").read_text()
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex and tex.count(r"\begin{tabular}") == 4
    mrae = {m: _summary(res, "rerun" if m == "mst_plus_plus" else "table5_original", m)["MRAE"] for m in ("mst_plus_plus", "mst")}
    best, worst = sorted(mrae, key=mrae.get)
    label = {"mst_plus_plus": "MST++", "mst": "MST"}
    section = tex.split("MRAE", 1)[1].split(r"\end{table}", 1)[0]
    rows = {l.split(" & ")[0]: l for l in section.splitlines() if " & " in l and not l.startswith("Method")}
    assert rf"\textbf{{{format_value(mrae[best], 'MRAE')}}}" in rows[label[best]]
    assert r"\textbf" not in rows[label[worst]].split(" & ")[1]
    assert rows["MST"].rstrip(r" \\").endswith("--")              # the gap


def test_csv_is_tidy_and_exact(results):
    res, out = results["res"], results["out"]
    rows = list(csv.DictReader(open(out / "table5.csv")))
    assert set(rows[0]) >= {"table", "row", "column", "metric", "value"}
    values = {(r["row"], r["column"], r["metric"]): float(r["value"]) for r in rows}
    paper = [k for k in values if k[2] in METRICS]
    assert len(values) == len(rows) and len(paper) == 3 * 4          # 3 runs x 4 metrics, no row for the gap
    from hsi.metrics import MRAE_BREAKDOWN_KEYS                      # plus where MRAE comes from, per run
    assert len(values) - len(paper) == 3 * len(MRAE_BREAKDOWN_KEYS)
    for metric in METRICS:
        assert values[("mst", "original", metric)] == _summary(res, "table5_original", "mst")[metric]
        assert values[("mst_plus_plus", "metamer", metric)] == _summary(res, "table5_metamer", "mst_plus_plus", "metamer")[metric]
    assert {r["table"] for r in csv.DictReader(open(out / "all_tables.csv"))} == {"table5", "finding3"}


def test_figures_are_valid_pngs(results):
    from matplotlib.image import imread
    out = results["out"]
    figs = sorted((out / "figures").rglob("*.png"))
    names = {p.name for p in figs}
    assert {"original_vs_metamer_table5_SYNTH.png", "error_vs_psf_finding3_SYNTH.png",
            "training_no_metamer_SYNTH.png"} <= names
    examples = sorted(p.name for p in (out / "figures" / "examples").glob("*.png"))
    assert examples == [f"SYNTH_poisson0_None_png_mst_plus_plus_{k}__scene_0{i}.png" for k in ("metamer", "std") for i in (3, 4)]
    for p in figs:
        assert p.read_bytes()[:8] == PNG_SIGNATURE
        img = imread(p)
        assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert not list(out.rglob(".*.tmp-*"))                            # no left-over temporary files


def test_bad_files_are_skipped_with_a_warning(results):
    out, err = results["out"], results["stderr"]
    assert "broken_run" in err and "partial_run" in err and "skipped" in err
    report = json.loads((out / "report.json").read_text())
    assert {Path(s["path"]).parent.name for s in report["skipped"]} == {"broken_run", "partial_run"}
    assert [Path(p).parent.name for p in report["untagged"]] == ["SYNTH_poisson0_None_png_mst_std"]
    assert len(report["duplicates_ignored"]) == 1 and "/rerun/" in report["duplicates_ignored"][0]["kept"]
    assert "git_commit" in report and "versions" in report and len(report["sources"]) == 7
    index = (out / "index.md").read_text()
    assert "## Warnings" in index and "broken_run" in index and "[table5.md](table5.md)" in index
    training = (out / "training_runs.md").read_text()
    assert "200/300 (67 %)" in training and "| no |" in training and "0.3000" in training


def test_newest_record_wins_and_columns_follow_the_paper(results):
    coll = collect_results([results["res"]])
    recs = [r for r in coll.validation if r.table == "table5" and r.method == "mst_plus_plus" and r.column == "original"]
    assert len(recs) == 2
    older, newer = recs
    older = older.replace(summary={**older.summary, "MRAE": 123.0},
                          created=newer.finished_at + dt.timedelta(hours=1))   # now the edited one is the newest
    tables, dups = build_tables([older if r is recs[0] else r for r in coll.validation], warn=lambda m: None)
    t5 = next(t for t in tables if t.spec.key == "table5")
    assert t5.value("mst_plus_plus", "original", "MRAE") == 123.0 and dups == [(older.path, newer.path)]
    spec = table_spec("table6_7")
    assert spec.columns[:4] == ("no_clean_original", "no_clean_metamer", "no_noisy_aberrated_original",
                                "no_noisy_aberrated_metamer")
    assert original_metamer_pairs(["fixed_clean_metamer", "x", "fixed_clean_original", "original", "metamer"]) == [
        ("fixed_clean", "fixed_clean_original", "fixed_clean_metamer"), ("", "original", "metamer")]


def test_formats_subset_without_figures_and_empty_roots(results, tmp_path):
    r = write_report([results["res"]], tmp_path / "md_only", formats=["md"], figures=False)
    assert sorted(p.name for p in (tmp_path / "md_only").iterdir()) == [
        "finding3.md", "index.md", "report.json", "table5.md", "training_runs.md"]
    assert not r.figures
    empty = write_report([tmp_path / "nothing_here"], tmp_path / "empty")
    index = (tmp_path / "empty" / "index.md").read_text()
    assert "No tagged validation runs found yet" in index and "nothing_here" in index
    assert [p.name for p in empty.files] == ["index.md", "report.json"]
    assert re.search(r"\| MST\+\+ \|", (tmp_path / "md_only" / "table5.md").read_text())


# ------------------------------------------------------------------------------------ the record type
def test_records_written_by_the_validation_read_back_and_round_trip(results):
    paths = sorted(results["res"].rglob("summary.json"))
    read = []
    for path in paths:
        if path.parent.name in ("broken_run", "partial_run"):
            continue                                                  # the two bad files
        raw = json.loads(path.read_text())
        rec = ValidationRecord.read(path)
        read.append(rec)
        assert ValidationRecord.from_json(rec.to_json()) == rec
        out = rec.to_json()
        assert list(out) == list(raw)                                 # every key, in the writer's order
        assert {k: v for k, v in out.items() if k != "created"} == {k: v for k, v in raw.items() if k != "created"}
        assert dt.datetime.fromisoformat(out["created"]) == dt.datetime.fromisoformat(raw["created"])
        assert rec.run_dir == path.parent and rec.mtime_ns == path.stat().st_mtime_ns
    assert len(read) == 8                                             # 7 tagged runs and the untagged one
    untagged = [r for r in read if r.tag is None]
    assert [r.name for r in untagged] == ["SYNTH_poisson0_None_png_mst_std"] and untagged[0].table is None


def test_record_created_keeps_microseconds_and_reads_seconds(tmp_path):
    rec = ValidationRecord.create(name="run", tag="table5/metamer", method="mst", dataset="SYNTH", metamer=True,
                                  summary={"MRAE": 0.5, "RMSE": 0.1, "PSNR": 30.0, "SAM": 0.2}, images=2,
                                  seconds=1.5, checkpoint="w.pth", args={"npe": 0}, format="png", data_dir="d")
    assert rec.created.tzinfo is not None and rec.host == platform.node() and "torch" in rec.versions
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", rec.to_json()["created"])
    later = rec.replace(created=rec.created + dt.timedelta(microseconds=1))
    assert ValidationRecord.read(later.write(tmp_path / "summary.json")) == later != rec
    assert (rec.table, rec.column) == ("table5", "metamer")
    old_style = {**rec.to_json(), "created": "2025-03-04T05:06:07+00:00", "extra_key": [1, 2]}
    back = ValidationRecord.from_json(old_style)
    assert back.created == dt.datetime(2025, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
    assert back.extra == {"extra_key": [1, 2]} and back.to_json()["extra_key"] == [1, 2]
    assert ValidationRecord.from_json({**old_style, "created": "2025-03-04T05:06:07"}).created == back.created


def test_record_rejects_incomplete_objects():
    from hsi.report import NotAValidationRecord, RecordError
    good = {"name": "r", "tag": "table5/original", "method": "mst", "summary": {m: 1.0 for m in METRICS}}
    assert ValidationRecord.from_json(good).dataset == "?"
    for bad, message in (({**good, "tag": "table5"}, "tag must be"), ({**good, "summary": None}, "no 'summary'"),
                         ({**good, "summary": {"MRAE": 1.0}}, "metric RMSE"), ({**good, "method": ""}, "no 'method'"),
                         ({**good, "summary": {**good["summary"], "SAM": True}}, "metric SAM")):
        with pytest.raises(RecordError, match=message):
            ValidationRecord.from_json(bad)
    with pytest.raises(NotAValidationRecord):
        ValidationRecord.from_json({"name": "r"})


def test_same_created_orders_by_mtime_then_path(tmp_path):
    rec = ValidationRecord(name="r", tag="t/c", method="mst", dataset="D", metamer=False,
                           summary={m: 1.0 for m in METRICS}, created=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    paths = [rec.write(tmp_path / d / "summary.json") for d in ("a", "b", "c")]
    for path, ns in zip(paths, (3, 1, 3)):
        os.utime(path, ns=(ns * 10 ** 18, ns * 10 ** 18))
    ordered = sorted((ValidationRecord.read(p) for p in paths), key=ValidationRecord.newest_last_key)
    assert [r.run_dir.name for r in ordered] == ["b", "a", "c"]     # mtime, then path for equal mtimes
    for p in paths:
        rec.replace(created=None).write(p)                            # an old record without `created`: its mtime
    for path, ns in zip(paths, (3, 1, 2)):
        os.utime(path, ns=(ns * 10 ** 18, ns * 10 ** 18))
    no_time = [ValidationRecord.read(p) for p in paths]
    assert [r.run_dir.name for r in sorted(no_time, key=ValidationRecord.newest_last_key)] == ["b", "c", "a"]


def test_error_map_helpers_agree_with_hsi_metrics():
    import numpy as np
    import torch
    from hsi.metrics import mrae_per_image
    from hsi.report import centre_crop, mrae_map
    g = np.random.default_rng(0)
    truth, pred = g.random((31, 6, 8)).astype(np.float32), g.random((31, 6, 8)).astype(np.float32)
    per_pixel = mrae_map(pred, truth)
    assert per_pixel.shape == (6, 8)
    assert per_pixel.mean() == pytest.approx(float(mrae_per_image(torch.from_numpy(pred), torch.from_numpy(truth))[0]),
                                             rel=1e-12)
    x = np.arange(2 * 7 * 9).reshape(2, 7, 9)
    assert np.array_equal(centre_crop(x, 3, 4), x[:, 2:5, 2:6])
