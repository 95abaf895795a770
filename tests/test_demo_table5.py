"""Part 2 of the demo: the Table V summary (all four metrics, the paired bound, the verdict, model cards)."""
import json

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
    assert text.count("NOT accurate enough") == 2 and "No method here is accurate enough" in text
