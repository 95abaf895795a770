"""A user's own hyperspectral data under its own name (dataset.json), end to end: the README's 4 steps
(cubes -> folder with dataset.json -> check -> metamers -> train -> Table V validations) on a tiny set."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hsi.convert import check_dataset
from hsi.datasets import DatasetSpecError, dataset_dir, get_dataset_spec, read_dataset_json
from hsi.io import write_mat_cube


def _write_user_dataset(root, name="MyLab_scenes", spec=None, n=5, size=40):
    from _tiny_data import smooth_scene
    ds = root / name
    for i in range(n):
        write_mat_cube(ds / "Train_Spec" / f"cube_{i}.mat", smooth_scene(100 + i, size))
    (ds / "split_txt").mkdir(parents=True)
    (ds / "split_txt" / "train_list.txt").write_text("".join(f"cube_{i}\n" for i in range(n - 2)))
    (ds / "split_txt" / "valid_list.txt").write_text("".join(f"cube_{i}\n" for i in range(n - 2, n)))
    if spec is not None:
        (ds / "dataset.json").write_text(json.dumps(spec))
    return ds


def test_spec_read_from_dataset_json(tmp_path):
    _write_user_dataset(tmp_path, spec={"exposure_target": 0.2, "eval_crop": 16, "size": [40, 40]}, n=3)
    spec = get_dataset_spec("MyLab_scenes", tmp_path)
    assert (spec.name, spec.exposure_target, spec.eval_crop, spec.height, spec.width) == \
        ("MyLab_scenes", 0.2, 16, 40, 40)
    assert dataset_dir(tmp_path, "MyLab_scenes") == tmp_path / "MyLab_scenes"
    with pytest.raises(ValueError, match="dataset.json"):
        get_dataset_spec("NotThere", tmp_path)               # unknown name without a dataset.json: refused


@pytest.mark.parametrize("spec, message", [
    ({"eval_crop": None}, "missing exposure_target"),
    ({"exposure_target": 0}, "exposure_target must be"),
    ({"exposure_target": 0.2, "size": [40]}, "size must be"),
    ({"exposure_target": 0.2, "eval_crop": 1.5}, "eval_crop must be an integer"),
    ({"exposure_target": 0.2, "exposure": 1}, "unknown field"),
])
def test_bad_dataset_json_names_the_file_and_the_field(tmp_path, spec, message):
    ds = _write_user_dataset(tmp_path, spec=spec, n=3)
    with pytest.raises(DatasetSpecError, match=message):
        read_dataset_json(ds)
    rep = check_dataset(ds, progress=False)
    assert any("dataset.json" in e and message.split()[0] in e for e in rep.errors)


def test_check_dataset_says_what_is_missing(tmp_path):
    ds = _write_user_dataset(tmp_path, spec=None, n=3)
    rep = check_dataset(ds, progress=False)
    assert not rep.errors and any("dataset.json: not found" in w for w in rep.warnings)
    (ds / "dataset.json").write_text(json.dumps({"exposure_target": 0.18, "size": [40, 40]}))
    rep = check_dataset(ds, progress=False)
    assert not rep.errors and not any("dataset.json" in w for w in rep.warnings)
    (ds / "dataset.json").write_text(json.dumps({"exposure_target": 0.18, "size": [48, 40]}))
    assert check_dataset(ds, progress=False).errors      # the declared size is checked against the cubes


@pytest.mark.slow
def test_table5_on_a_user_dataset_end_to_end(tmp_path):
    """Generate exact alpha = 0 metamers, fit rpr2, validate on originals and metamers (with the bound)."""
    from hsi.metamer_data import GenerateOptions, generate_metamer_dataset
    from hsi.train.experiments import run_training, run_validation, training_run_dir
    from hsi.train.options import EngineOptions, TrainingOptions, ValidationOptions

    _write_user_dataset(tmp_path / "data", spec={"exposure_target": 0.18, "eval_crop": None, "size": None})
    data = str(tmp_path / "data")
    generate_metamer_dataset(GenerateOptions(dataset_path=data, dataset_name="MyLab_scenes", metamer_mode="exact",
                                             device="cpu"), progress=False)
    opts = TrainingOptions(mode="no_metamer", method="rpr2", dataset_path=data, dataset_name="MyLab_scenes",
                           result_root=str(tmp_path / "runs"), num_epochs=1, per_epoch_iteration=4, batch_size=4,
                           crop_size=32, stride=8, valid_freq=4, save_freq=4, log_freq=2,
                           engine=EngineOptions(device="cpu", num_workers=0, cache_dir=str(tmp_path / "cache")))
    run_training(opts)
    ckpt = training_run_dir(opts) / "best.pth"
    recs = {m: run_validation(ValidationOptions(dataset_path=data, dataset_name="MyLab_scenes", method="rpr2",
                                                pretrained_root=str(ckpt), metamer=m, device="cpu",
                                                result_root=str(tmp_path / "val" / str(m))))[0]
            for m in (False, True)}
    orig, met = recs[False]["summary"], recs[True]["summary"]
    assert 0 < orig["RMSE"] < 0.2 and np.isfinite(met["RMSE"]) and met["RMSE"] != orig["RMSE"]


def test_a_finished_run_writes_its_model_card(tmp_path):
    """Every finished training run writes model_card.md; validations on originals and metamers add rows."""
    from _tiny_data import make_tiny_dataset
    from hsi.train.experiments import run_training, training_run_dir
    from hsi.train.model_card import CARD_MD, add_validation
    from hsi.train.options import EngineOptions, TrainingOptions

    data = make_tiny_dataset(tmp_path / "data", n_train=2, n_valid=1, size=32)
    opts = TrainingOptions(mode="no_metamer", method="linear", dataset_path=str(data), dataset_name="SYNTH",
                           result_root=str(tmp_path / "runs"), num_epochs=1, per_epoch_iteration=2, batch_size=2,
                           crop_size=16, stride=16, valid_freq=2, save_freq=2, log_freq=1,
                           engine=EngineOptions(device="cpu", num_workers=0, cache_dir=str(tmp_path / "cache")))
    run_training(opts)
    run = training_run_dir(opts)
    card = (run / CARD_MD).read_text()
    assert "`linear`" in card and "iterations" in card and "npe 0" in card and "not run yet" in card
    add_validation(run, "metamers", {"summary": {"RMSE": 0.123, "MRAE": 1.0, "PSNR": 20.0, "SAM": 0.1},
                                     "pair_bound": {"RMSE": 0.0456, "SAM": 0.02, "MRAE": 0.3}})
    card = (run / CARD_MD).read_text()
    assert "| metamers | " in card and "0.123" in card and "paired lower bound" in card and "0.0456" in card
    assert "not run yet" not in card
    from dataclasses import replace
    run_training(replace(opts, engine=replace(opts.engine, resume=True)))   # resumed (skipped): card keeps them
    assert "0.0456" in (run / CARD_MD).read_text()
