"""The training loop prints a progress line with an ETA at least every PROGRESS_SECONDS (the demo's 15 s)."""
import re

import hsi.train.engine as engine


def test_time_based_progress_lines_with_eta(tmp_path, monkeypatch, capsys):
    from _tiny_data import make_tiny_dataset
    from hsi.train.experiments import run_training
    from hsi.train.options import EngineOptions, TrainingOptions

    data = make_tiny_dataset(tmp_path / "data", n_train=2, n_valid=1, size=32)
    monkeypatch.setattr(engine, "PROGRESS_SECONDS", 0.0)       # every step is "15 s later"
    opts = TrainingOptions(mode="no_metamer", method="mst_plus_plus", dataset_path=str(data), dataset_name="SYNTH",
                           result_root=str(tmp_path / "runs"), num_epochs=1, per_epoch_iteration=3, batch_size=1,
                           crop_size=16, stride=16, valid_freq=0, save_freq=100, log_freq=100,
                           engine=EngineOptions(device="cpu", num_workers=0, cache_dir=str(tmp_path / "cache")))
    run_training(opts)
    lines = [m for m in capsys.readouterr().out.splitlines() if re.search(r" iter \d+/3 ", m)]
    its = [int(re.search(r" iter (\d+)/3 ", m).group(1)) for m in lines]
    assert its == [1, 2, 3]                                   # log_freq 100 alone would print only iteration 3
    assert all(re.search(r"ETA \d+:\d\d$", m) for m in lines) and lines[-1].endswith("ETA 0:00")


def test_a_progress_line_precedes_each_validation(tmp_path, monkeypatch, capsys):
    from _tiny_data import make_tiny_dataset
    from hsi.train.experiments import run_training
    from hsi.train.options import EngineOptions, TrainingOptions

    data = make_tiny_dataset(tmp_path / "data", n_train=2, n_valid=1, size=32)
    monkeypatch.setattr(engine, "PROGRESS_SECONDS", 1e9)       # no time-based line
    opts = TrainingOptions(mode="no_metamer", method="mst_plus_plus", dataset_path=str(data), dataset_name="SYNTH",
                           result_root=str(tmp_path / "runs"), num_epochs=1, per_epoch_iteration=5, batch_size=1,
                           crop_size=16, stride=16, valid_freq=2, save_freq=100, log_freq=100,
                           engine=EngineOptions(device="cpu", num_workers=0, cache_dir=str(tmp_path / "cache")))
    run_training(opts)
    out = capsys.readouterr().out.splitlines()
    kinds = [("valid" if "validation:" in m else "train") + re.search(r" iter (\d+)", m).group(1)
             for m in out if re.search(r" iter \d+", m)]
    # the validation at 2 and 4 (and the final one at 5) each follow a training line of their iteration
    assert kinds == ["train2", "valid2", "train4", "valid4", "train5", "valid5"], kinds


def test_onthefly_exact_metamers_with_a_fixed_iteration_count(tmp_path, monkeypatch):
    import pytest
    import hsi.metamer as metamer
    seen = []
    solve = metamer.metamer_exact
    monkeypatch.setattr(metamer, "metamer_exact", lambda *a, **k: seen.append(k.get("iterations")) or solve(*a, **k))
    from _tiny_data import make_tiny_dataset
    from hsi.errors import OptionError
    from hsi.train.experiments import run_training
    from hsi.train.options import EngineOptions, OnTheFlyOptions, TrainingOptions

    data = make_tiny_dataset(tmp_path / "data", n_train=2, n_valid=1, size=32)

    def opts(mode, root):
        return TrainingOptions(mode="onthefly", method="mst_plus_plus", dataset_path=str(data), dataset_name="SYNTH",
                               result_root=str(tmp_path / root), num_epochs=1, per_epoch_iteration=2, batch_size=1,
                               crop_size=16, stride=16, valid_freq=0, save_freq=100, log_freq=100,
                               onthefly=OnTheFlyOptions(metamer_mode=mode, exact_iterations=12),
                               engine=EngineOptions(device="cpu", num_workers=0, cache_dir=str(tmp_path / "cache")))
    with pytest.raises(OptionError, match="exact_iterations applies to --metamer_mode exact"):
        run_training(opts("clip", "a"))
    summary = run_training(opts("exact", "b"))
    assert summary["iterations"] == 2 and seen and set(seen) == {12}    # every training batch: 12 steps
    import json
    (config,) = (tmp_path / "b").glob("*/config.json")
    assert json.loads(config.read_text())["config"]["args"]["exact_iterations"] == 12
