"""Part 2 of the demo: the Table V summary (all four metrics, the paired bound, the verdict, model cards)."""
import json
from pathlib import Path

from hsi.demo import add_table5_to_model_cards, format_table5, table5_records
from hsi.report.record import ValidationRecord
from hsi.train.model_card import CARD_JSON, CARD_MD, write_card


def _record(root, method, metamer, rmse, ckpt, bound=None):
    summary = {"MRAE": 4.0 if not metamer else 600.0, "RMSE": rmse, "PSNR": 25.0, "SAM": 0.2,
               "MRAE_truth_below_0.01_fraction": 0.1, "MRAE_truth_above_0.01": 0.3}
    kind = "metamer" if metamer else "original"
    rec = ValidationRecord.create(name=f"SYNTH_{method}_{kind}", tag=f"table5/{kind}", method=method,
                                  dataset="SYNTH", metamer=metamer, summary=summary, images=2, seconds=1.0,
                                  checkpoint=str(ckpt), args={}, format="png", data_dir="d", pair_bound=bound)
    rec.write(root / "table5" / kind / rec.name / "summary.json")


def test_summary_shows_every_metric_the_bound_and_the_verdict(tmp_path):
    bound = {"RMSE": 0.04, "SAM": 0.05, "MRAE": 0.5, "strict": True, "scenes": 2, "strictness": "exact"}
    run = tmp_path / "runs" / "rpr2"
    run.mkdir(parents=True)
    write_card(run, {"method": "rpr2", "label": "RPR2", "rendering": {}, "recipe": {}, "validations": {}})
    for method, rmse in (("rpr2", 0.02), ("mst_plus_plus", 0.09)):
        ckpt = (run if method == "rpr2" else tmp_path / "none") / "best.pth"
        _record(tmp_path, method, False, rmse, ckpt)
        _record(tmp_path, method, True, rmse + 0.05, ckpt, bound)
    records = table5_records(tmp_path)
    assert set(records) == {"rpr2", "mst_plus_plus"} and set(records["rpr2"]) == {"original", "metamer"}
    text = format_table5(records)
    for metric in ("MRAE", "RMSE", "PSNR", "SAM", "share of truth < 0.01", "MRAE over truth >= 0.01"):
        assert f"| {metric} |" in text
    assert "| RMSE | 0.0200 | 0.0700 | 0.0400 |" in text
    blocks = {b.split(" (")[1].split(")")[0]: b for b in text.strip().split("\n\n")}
    rpr2, mst = blocks["rpr2"], blocks["mst_plus_plus"]
    assert "accurate enough" in rpr2 and "NOT accurate enough" not in rpr2
    assert "NOT accurate enough" in mst
    cards = add_table5_to_model_cards(records)
    assert cards == [run / CARD_MD]
    assert set(json.loads((run / CARD_JSON).read_text())["validations"]) == {"originals (Table V)",
                                                                              "metamers (Table V)"}
    assert "paired lower bound" in (run / CARD_MD).read_text()


def test_summary_says_when_no_method_is_accurate_enough(tmp_path):
    bound = {"RMSE": 0.01, "SAM": 0.05, "MRAE": 0.5, "strict": True, "scenes": 2, "strictness": "exact"}
    for method in ("rpr2", "mst_plus_plus"):
        _record(tmp_path, method, False, 0.05, tmp_path / "x.pth")
        _record(tmp_path, method, True, 0.06, tmp_path / "x.pth", bound)
    text = format_table5(table5_records(tmp_path))
    assert text.count("NOT accurate enough") == 2 and "No trained method here is accurate enough" in text


def _tiny_metamer_record(tmp_path):
    from _tiny_data import make_tiny_dataset
    root = make_tiny_dataset(tmp_path / "data")
    args = {"dataset_path": str(root), "dataset_name": "SYNTH", "split": "valid", "border": 0}
    from types import SimpleNamespace           # the fields of a ValidationRecord that scene_oracle reads
    return SimpleNamespace(args=args, format="png", data_dir=str(root / "SYNTH" / "poisson0_None"))


def test_scene_oracle_is_each_scenes_least_squares_fit_and_obeys_the_paired_bound(tmp_path):
    import numpy as np
    import torch
    from hsi.ambiguity import pair_distance
    from hsi.data import FullImageDataset
    from hsi.demo import scene_oracle
    from hsi.metrics import rmse_per_image
    from hsi.models.regression import root_polynomial_features
    from hsi.train.cli import paired_scenes
    rec = _tiny_metamer_record(tmp_path)
    oracle = scene_oracle(rec)
    a = rec.args
    pairs = {k: paired_scenes(a["dataset_path"], "SYNTH", Path(rec.data_dir), ["scene_03", "scene_04"], k, "png")
             for k in ("standard", "metamer")}
    orig, met = (FullImageDataset(pairs[k]) for k in ("standard", "metamer"))
    rmse_o, rmse_m, dist = [], [], []
    for o, m in zip(orig, met):
        f = root_polynomial_features(o["rgb"][None].double(), 2)[0].flatten(1).T.numpy()
        y = o["cube"].double().flatten(1).T.numpy()
        w = np.linalg.lstsq(f, y, rcond=None)[0]                   # NumPy's least squares on the same pixels
        pred = torch.from_numpy((f @ w).T.reshape(o["cube"].shape)).float()[None]
        rmse_o.append(float(rmse_per_image(pred, o["cube"][None])[0]))
        pred_m = root_polynomial_features(m["rgb"][None].double(), 2)[0].flatten(1).T.numpy() @ w
        rmse_m.append(float(rmse_per_image(torch.from_numpy(pred_m.T.reshape(o["cube"].shape)).float()[None],
                                           m["cube"][None])[0]))
        dist.append(2 * float(pair_distance(o["cube"][None], m["cube"][None]).rmse[0]))
        # a perturbed map fits the originals worse: the oracle is the optimum of RMSE on the scene
        worse = torch.from_numpy((f @ (w * 1.05)).T.reshape(o["cube"].shape)).float()[None]
        assert float(rmse_per_image(worse, o["cube"][None])[0]) > rmse_o[-1]
    assert abs(oracle["original"]["RMSE"] - np.mean(rmse_o)) < 1e-5 * np.mean(rmse_o)
    assert abs(oracle["metamer"]["RMSE"] - np.mean(rmse_m)) < 1e-5 * np.mean(rmse_m)
    # triangle inequality per scene: err(original) + err(metamer) >= distance (the RGB are identical here)
    assert oracle["original"]["RMSE"] + oracle["metamer"]["RMSE"] >= np.mean(dist) * (1 - 1e-6)
    assert set(oracle["original"]) >= {"MRAE", "RMSE", "PSNR", "SAM", "MRAE_truth_above_0.01"}


def test_summary_prints_the_oracle_block(tmp_path):
    bound = {"RMSE": 0.04, "SAM": 0.3, "MRAE": 0.5, "strict": True, "scenes": 2, "strictness": "exact"}
    _record(tmp_path, "rpr2", False, 0.08, tmp_path / "x.pth")
    _record(tmp_path, "rpr2", True, 0.09, tmp_path / "x.pth", bound)
    oracle = {"original": {"MRAE": 0.3, "RMSE": 0.02, "PSNR": 38.0, "SAM": 0.15},
              "metamer": {"MRAE": 300.0, "RMSE": 0.066, "PSNR": 28.0, "SAM": 0.48}}
    text = format_table5(table5_records(tmp_path), oracle)
    block = text.split("Oracle:")[1]
    assert "| RMSE | 0.0200 | 0.0660 | 0.0400 |" in block and "forced up: RMSE 0.0660, SAM 0.4800" in block
    assert "oracle below shows" in text


def test_pooled_oracle_is_one_least_squares_map_over_all_scenes(tmp_path):
    import numpy as np
    from hsi.demo import scene_oracle
    rec = _tiny_metamer_record(tmp_path)
    per_scene = scene_oracle(rec)
    pooled = per_scene["pooled"]
    # one map for all scenes cannot fit the originals better than a map per scene
    assert pooled["original"]["RMSE"] >= per_scene["original"]["RMSE"] - 1e-7
    assert np.isfinite(pooled["metamer"]["RMSE"])
    bound = {"RMSE": 0.05, "SAM": 0.3}
    from hsi.demo import _oracle_lines
    text = "\n".join(_oracle_lines(per_scene, bound))
    assert f"reaches only RMSE {pooled['original']['RMSE']:.4f}" in text
