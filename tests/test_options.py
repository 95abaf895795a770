"""Typed options: the scripts' flag defaults are the dataclasses' defaults, flags map onto fields in one
place, and training and validation run from Python without argparse."""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
from pathlib import Path

import pytest

from _tiny_data import make_tiny_dataset
from hsi import layout
from hsi.metrics import METRIC_NAMES
from hsi.train.cli import (mstpp_options_from_args, train_config_fields, training_options_from_args,
                           validation_options_from_args)
from hsi.train.options import (EngineOptions, MstppTrainingOptions, OnTheFlyOptions, TrainingOptions,
                               ValidationOptions, flat_record, options_from_args)

ROOT = Path(__file__).resolve().parents[1]
TRAINERS = {"no_metamer": "RGB2HS/train_RGB2HS_no_metamer.py", "fixed": "RGB2HS/train_RGB2HS_fixed_metamer.py",
            "onthefly": "RGB2HS/train_RGB2HS_onthefly_metamer.py"}


def _parsed(script: str, argv: list[str]) -> argparse.Namespace:
    """The Namespace a script's ``main`` parses from ``argv`` (its parser, without running it)."""
    spec = importlib.util.spec_from_file_location("script_under_test", ROOT / script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    captured = {}

    def stop(parsed, *rest):
        captured["args"] = parsed
        raise SystemExit(0)
    for name in ("train_main", "mstpp_main", "validation_options_from_args"):
        if hasattr(mod, name):
            setattr(mod, name, stop)
    with pytest.raises(SystemExit):
        mod.main(argv)
    return captured["args"]


@pytest.mark.parametrize("mode", list(TRAINERS))
def test_trainer_flag_defaults_are_the_options_defaults(mode):
    opts = training_options_from_args(_parsed(TRAINERS[mode], []), mode)
    assert opts == TrainingOptions(mode=mode)
    assert opts.result_root == layout.TRAIN_RESULT_ROOT[mode]
    assert opts.data_join == {"no_metamer": "standard", "fixed": "both", "onthefly": "both"}[mode]


def test_mstpp_and_validation_flag_defaults_are_the_options_defaults():
    assert mstpp_options_from_args(_parsed("MST_plus_plus_code/train_code/train.py", [])) == MstppTrainingOptions()
    assert validation_options_from_args(_parsed("RGB2HS/validate_RGB2HS.py", [])) == ValidationOptions()


def test_flags_fill_nested_options_and_unknown_flags_are_refused():
    args = _parsed(TRAINERS["onthefly"], ["--alpha_min", "0.5", "--device", "cpu", "--gpu_id", "1", "--npe", "1000"])
    opts = training_options_from_args(args, "onthefly")
    assert opts.onthefly == OnTheFlyOptions(alpha_min=0.5) and opts.engine == EngineOptions(device="cpu", gpu_id="1")
    assert opts.npe == 1000
    record = flat_record(opts)
    assert record["alpha_min"] == 0.5 and record["device"] == "cpu" and record["dataset_name"] == "ARAD_1K"
    with pytest.raises(TypeError, match="no field for the flags"):
        options_from_args(ValidationOptions, argparse.Namespace(**vars(args)))


def test_engine_fields_map_onto_the_train_config():
    from hsi.train.engine import TrainConfig
    opts = MstppTrainingOptions(batch_size=7, engine=EngineOptions(gpu_id="2", amp=True, num_workers=0))
    fields = train_config_fields(opts)
    assert set(fields) <= set(TrainConfig.__dataclass_fields__)
    assert fields["device"] == "cuda:2" and fields["amp"] is True and fields["batch_size"] == 7
    assert fields["valid_freq"] == 1000 and fields["num_workers"] == 0


def test_bad_mode_and_data_join_are_refused():
    with pytest.raises(ValueError, match="mode"):
        TrainingOptions(mode="sometimes")
    with pytest.raises(ValueError, match="data_join"):
        TrainingOptions(mode="fixed", data_join="standard")


def test_training_and_validation_from_python(tmp_path):
    from hsi.train.experiments import run_training, run_validation, training_run_dir
    data = make_tiny_dataset(tmp_path / "data")
    opts = TrainingOptions(mode="fixed", dataset_path=str(data), dataset_name="SYNTH", result_root=str(tmp_path / "runs"),
                           num_epochs=1, per_epoch_iteration=6, batch_size=4, crop_size=32, stride=8, valid_freq=6,
                           save_freq=6, log_freq=3, engine=EngineOptions(device="cpu", num_workers=0,
                                                                         cache_dir=str(tmp_path / "cache")))
    summary = run_training(opts)
    run = training_run_dir(opts)
    assert run == tmp_path / "runs" / "Fixed_metamer_l1_png_poisson0_None_mst_plus_plus_SYNTH"
    assert summary["iterations"] == 6 and (run / "last.pth").is_file()
    config = json.loads((run / "config.json").read_text())["config"]
    assert config["args"]["dataset_name"] == "SYNTH" and config["valid_join"] == "both"
    records = run_validation(ValidationOptions(dataset_path=str(data), dataset_name="SYNTH", metamer=True,
                                               pretrained_root=str(run / "last.pth"),
                                               result_root=str(tmp_path / "val"), device="cpu"))
    name = "SYNTH_poisson0_None_png_mst_plus_plus_metamer"
    assert [r["name"] for r in records] == [name] and records[0]["images"] == 2
    assert set(records[0]["summary"]) >= set(METRIC_NAMES)
    written = json.loads((tmp_path / "val" / name / "summary.json").read_text())
    assert written["summary"] == pytest.approx(records[0]["summary"])
    rows = list(csv.DictReader(open(tmp_path / "val" / name / "per_image.csv")))
    assert len(rows) == 2 and list(rows[0])[:5] == ["name", *METRIC_NAMES]     # then the MRAE breakdown
