"""Training and validation refuse what would silently mix, lose or corrupt a run (issue 12, items 1-3, 6, 9-12)."""
from __future__ import annotations

import csv
import importlib.util
import json
import shutil
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from _tiny_data import make_tiny_dataset
from hsi.data import DataError, FullImageDataset, SceneCache, ScenePair
from hsi.errors import ToolkitError, run_main
from hsi.io import write_mat_cube
from hsi.io.integrity import CorruptFileError
from hsi.io.lock import FolderNotWritableError, OutputLockedError
from hsi.models import build_model, load_checkpoint, save_checkpoint
from hsi.models.checkpoint import CheckpointError
from hsi.train.engine import RunFolderError
from hsi.train.experiments import (EngineOptions, MstppTrainingOptions, TrainingOptions, ValidationOptions,
                                   ValidationFailed, run_mstpp_training, run_training, run_validation,
                                   training_run_dir)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture
def own_copy(tiny, tmp_path):
    """A copy of the tiny dataset that a test may damage."""
    shutil.copytree(tiny, tmp_path / "data")
    return tmp_path / "data"


def _opts(data: Path, tmp_path: Path, **kw) -> TrainingOptions:
    engine = EngineOptions(device="cpu", num_workers=0, cache_dir=str(tmp_path / "cache"),
                           **{k: kw.pop(k) for k in ("resume", "overwrite", "stop_at") if k in kw})
    base = dict(mode="no_metamer", dataset_path=str(data), dataset_name="SYNTH", result_root=str(tmp_path / "runs"),
                num_epochs=1, per_epoch_iteration=4, batch_size=2, crop_size=16, stride=8, log_freq=1, valid_freq=0,
                save_freq=2, engine=engine)
    return TrainingOptions(**{**base, **kw})


def _lrs(run: Path) -> list[tuple[int, float]]:
    with open(run / "scalars.csv") as fh:
        return [(int(r["iteration"]), float(r["value"])) for r in csv.DictReader(fh) if r["name"] == "train/lr"]


# ------------------------------------------------------------------------------------ 1: one owner per folder
def test_a_second_training_into_a_held_run_folder_stops_naming_the_holder(tiny, tmp_path):
    a, b = _opts(tiny, tmp_path, seed=0), _opts(tiny, tmp_path, seed=1)
    assert training_run_dir(a) == training_run_dir(b)          # --seed is not part of the run name
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from hsi.io.lock import output_lock\n"
         "with output_lock(sys.argv[1], 'training'):\n    print('held', flush=True); sys.stdin.read()",
         str(training_run_dir(a))], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputLockedError) as info:
            run_training(b)
        assert f"process {holder.pid} on host {socket.gethostname()}" in str(info.value)
        assert not (training_run_dir(b) / "last.pth").exists()
    finally:
        holder.communicate("", timeout=60)
    assert isinstance(info.value, ToolkitError)


# ------------------------------------------------------------------------------------ 2: never overwritten by accident
@pytest.mark.slow
def test_a_run_folder_is_not_reused_without_resume_or_overwrite(tiny, tmp_path):
    run = training_run_dir(_opts(tiny, tmp_path))
    run_training(_opts(tiny, tmp_path, stop_at=3))                  # killed after 3: last.pth at 2
    with pytest.raises(RunFolderError) as info:
        run_training(_opts(tiny, tmp_path))
    msg = str(info.value)
    assert str(run) in msg and "stopped at iteration 2" in msg and "--resume True" in msg and "--overwrite True" in msg
    run_training(_opts(tiny, tmp_path, resume=True))
    with pytest.raises(RunFolderError, match="finished 4 iterations"):
        run_training(_opts(tiny, tmp_path))
    first = load_checkpoint(run / "last.pth")["state_dict"]
    run_training(_opts(tiny, tmp_path, overwrite=True, seed=5))
    old = [p for p in run.parent.iterdir() if p.name.startswith(run.name + ".old-")]
    assert len(old) == 1 and {"last.pth", "summary.json", "config.json", "scalars.csv"} <= {p.name for p in old[0].iterdir()}
    for k, v in load_checkpoint(old[0] / "last.pth")["state_dict"].items():   # moved, not rewritten
        torch.testing.assert_close(v, first[k], rtol=0, atol=0)
    assert json.loads((run / "config.json").read_text())["config"]["seed"] == 5
    assert len({r[0] for r in _lrs(run)}) == len(_lrs(run))          # the new log does not mix both runs


def test_resume_with_settings_that_change_the_result_is_refused_by_key(tiny, tmp_path):
    run_training(_opts(tiny, tmp_path, stop_at=3))
    run = training_run_dir(_opts(tiny, tmp_path))
    before = (run / "last.pth").read_bytes()
    with pytest.raises(RunFolderError) as info:
        run_training(_opts(tiny, tmp_path, resume=True, init_lr=5e-2, seed=3))
    assert "init_lr_used" in str(info.value) and "seed" in str(info.value) and "batch_size" not in str(info.value)
    assert (run / "last.pth").read_bytes() == before
    with pytest.raises(RunFolderError, match="args.crop_size"):
        run_training(_opts(tiny, tmp_path, resume=True, crop_size=24))
    run_training(_opts(tiny, tmp_path, resume=True, log_freq=2))     # a log frequency does not change the result
    assert load_checkpoint(run / "last.pth")["iteration"] == 4


# ------------------------------------------------------------------------------------ 3: the schedule never restarts
@pytest.mark.slow
def test_a_longer_budget_on_resume_continues_the_cosine_decay(tiny, tmp_path):
    run_training(_opts(tiny, tmp_path, per_epoch_iteration=6))
    run = training_run_dir(_opts(tiny, tmp_path))
    at_end = _lrs(run)[-1][1]
    run_training(_opts(tiny, tmp_path, per_epoch_iteration=6, num_epochs=2, resume=True))
    lrs = _lrs(run)
    assert [i for i, _ in lrs] == list(range(1, 13))
    values = [v for _, v in lrs]
    assert all(b <= a * (1 + 1e-6) for a, b in zip(values, values[1:])), values   # never increasing
    assert values[-1] == pytest.approx(1e-6, rel=1e-3) and values[6] <= at_end
    assert json.loads((run / "summary.json").read_text())["iterations"] == 12


@pytest.mark.slow
def test_a_partial_run_with_a_longer_budget_decays_from_its_rate(tiny, tmp_path):
    run_training(_opts(tiny, tmp_path, per_epoch_iteration=8, stop_at=5))      # saved at 4 of 8
    run = training_run_dir(_opts(tiny, tmp_path))
    rate_at_4 = dict(_lrs(run))[4]
    run_training(_opts(tiny, tmp_path, per_epoch_iteration=8, num_epochs=2, resume=True))
    lrs = dict(_lrs(run))                                            # iteration 5 logged twice: the resumed one last
    later = [lrs[i] for i in range(5, 17)]
    assert later[0] < rate_at_4 and all(b <= a for a, b in zip(later, later[1:]))
    assert later[-1] == pytest.approx(1e-6, rel=1e-3)


# ------------------------------------------------------------------------------------ 6: corrupt images
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_truncated_training_png_is_an_error_naming_it(own_copy, tmp_path):
    bad = own_copy / "SYNTH" / "poisson0_None" / "Train_Metamer_RGB" / "scene_01_original.png"
    _truncate(bad)
    with pytest.raises(CorruptFileError, match=str(bad)):
        run_training(_opts(own_copy, tmp_path))
    assert not (tmp_path / "runs").exists()


def test_a_truncated_validation_image_is_found_before_the_first_iteration(own_copy, tmp_path):
    bad = own_copy / "SYNTH" / "poisson0_None" / "Train_Metamer_RGB" / "scene_04_original.png"
    _truncate(bad)
    with pytest.raises(CorruptFileError, match=str(bad)):
        run_training(_opts(own_copy, tmp_path))
    ckpt = save_checkpoint(tmp_path / "net.pth", build_model("mst_plus_plus"))
    with pytest.raises(CorruptFileError, match=str(bad)):
        run_validation(ValidationOptions(dataset_path=str(own_copy), dataset_name="SYNTH", pretrained_root=str(ckpt),
                                         result_root=str(tmp_path / "val"), device="cpu"))


def test_the_mstpp_recipe_refuses_a_truncated_jpeg(own_copy, tmp_path):
    bad = own_copy / "SYNTH" / "Train_RGB" / "scene_02.jpg"
    _truncate(bad)
    opts = MstppTrainingOptions(outf=str(tmp_path / "exp") + "/", end_epoch=1, iterations_per_epoch=2, batch_size=2,
                                patch_size=16, stride=8, engine=EngineOptions(device="cpu", num_workers=0,
                                                                              cache_dir=str(tmp_path / "cache")))
    with pytest.raises(CorruptFileError, match="truncated JPEG") as info:
        run_mstpp_training(replace(opts, data_root=str(own_copy / "SYNTH")))
    assert str(bad) in str(info.value)


# ------------------------------------------------------------------------------------ 9: cube values
@pytest.mark.parametrize("scale, words", [(4095.0, "above 1"), (-1.0, "negative"), (0.0, "zero"), (np.nan, "NaN")])
def test_bad_cube_values_are_refused_where_the_cubes_are_read(tmp_path, scale, words):
    cube = np.linspace(0.1, 1.0, 31 * 8 * 8, dtype=np.float32).reshape(31, 8, 8) * np.float32(scale)
    if np.isnan(scale):
        cube = np.full((31, 8, 8), 0.5, np.float32)
        cube[3, 2, 2] = np.nan
    path = write_mat_cube(tmp_path / "bad.mat", cube)
    with pytest.raises(ToolkitError, match=words) as info:     # NaN: already refused by the reader itself
        SceneCache(tmp_path / "cache").cube(path)
    assert str(path) in str(info.value)
    assert not list((tmp_path / "cache").glob("*.npy"))                      # nothing cached
    pair = ScenePair("bad", Path(path), Path(path))
    with pytest.raises(ToolkitError, match=words):
        FullImageDataset([pair], None)[0]


# ------------------------------------------------------------------------------------ 10: checkpoints
def _validate_main():
    spec = importlib.util.spec_from_file_location("validate_RGB2HS", ROOT / "RGB2HS" / "validate_RGB2HS.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _val_args(tiny, ckpt, tmp_path, *more):
    return ["--dataset_path", str(tiny), "--dataset_name", "SYNTH", "--pretrained_root", str(ckpt),
            "--result_root", str(tmp_path / "val"), "--device", "cpu", *more]


def test_nan_weights_fail_validation_with_exit_2(tiny, tmp_path, capsys):
    model = build_model("mst_plus_plus")
    with torch.no_grad():
        next(model.parameters())[0].fill_(float("nan"))
    ckpt = save_checkpoint(tmp_path / "diverged.pth", model, method="mst_plus_plus")
    assert run_main(_validate_main(), _val_args(tiny, ckpt, tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(ckpt) in err and "NaN/Inf" in err
    assert not list((tmp_path / "val").glob("*.txt"))


def test_nan_predictions_fail_validation(tiny, tmp_path, monkeypatch):
    from hsi.train import experiments
    real = experiments.evaluate

    def nan_predictions(model, *args, **kw):
        rows, summary = real(model, *args, **kw)
        rows[1] = {**rows[1], "MRAE": float("nan")}
        return rows, {**summary, "MRAE": float("nan")}
    monkeypatch.setattr(experiments, "evaluate", nan_predictions)
    ckpt = save_checkpoint(tmp_path / "net.pth", build_model("mst_plus_plus"))
    opts = ValidationOptions(dataset_path=str(tiny), dataset_name="SYNTH", pretrained_root=str(ckpt),
                             result_root=str(tmp_path / "val"), device="cpu")
    with pytest.raises(ValidationFailed, match="1 of 2 images .e.g. scene_04"):
        run_validation(opts)
    assert not list((tmp_path / "val").rglob("summary.json")) and not list((tmp_path / "val").glob("*.txt"))


def test_checkpoint_errors_name_the_cause(tiny, tmp_path, capsys):
    main = _validate_main()
    other = save_checkpoint(tmp_path / "ssr.pth", build_model("ssrnet"), method="ssrnet")
    assert run_main(main, _val_args(tiny, other, tmp_path, "--method", "mst_plus_plus")) == 2
    err = capsys.readouterr().err
    assert "'ssrnet'" in err and "'mst_plus_plus'" in err
    assert run_main(main, _val_args(tiny, tmp_path / "bestt.pth", tmp_path)) == 2
    assert "not found" in capsys.readouterr().err


def test_resume_from_a_checkpoint_without_optimiser_state_names_it(tiny, tmp_path):
    run_training(_opts(tiny, tmp_path, stop_at=3))
    run = training_run_dir(_opts(tiny, tmp_path))
    save_checkpoint(run / "last.pth", build_model("mst_plus_plus"), iteration=2, method="mst_plus_plus")
    with pytest.raises(CheckpointError, match="optimizer, scheduler") as info:
        run_training(_opts(tiny, tmp_path, resume=True))
    assert str(run / "last.pth") in str(info.value) and isinstance(info.value, ToolkitError)


# ------------------------------------------------------------------------------------ 11: folders
def test_an_unwritable_result_folder_is_found_before_any_work(tiny, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(FolderNotWritableError, match="a_file"):
        run_training(replace(_opts(tiny, tmp_path), result_root=str(blocker / "runs")))
    assert not list((tmp_path / "cache").glob("*.npy"))                        # no scene was converted
    ckpt = save_checkpoint(tmp_path / "net.pth", build_model("mst_plus_plus"))
    with pytest.raises(FolderNotWritableError, match="validation result"):
        run_validation(ValidationOptions(dataset_path=str(tiny), dataset_name="SYNTH", pretrained_root=str(ckpt),
                                         result_root=str(blocker / "val"), device="cpu"))


def test_a_read_only_dataset_folder_says_to_pass_cache_dir(own_copy, tmp_path):
    (own_copy / "SYNTH" / "cache").write_text("the default cache cannot be made here")
    opts = _opts(own_copy, tmp_path)
    with pytest.raises(FolderNotWritableError, match="--cache_dir"):
        run_training(replace(opts, engine=replace(opts.engine, cache_dir=None)))


# ------------------------------------------------------------------------------------ 12: split lists
def test_a_scene_in_both_split_lists_is_refused(own_copy, tmp_path):
    valid = own_copy / "SYNTH" / "split_txt" / "valid_list.txt"
    valid.write_text(valid.read_text() + "scene_00\n")
    with pytest.raises(DataError, match="scene_00.*both"):
        run_training(_opts(own_copy, tmp_path))
    opts = MstppTrainingOptions(data_root=str(own_copy / "SYNTH"), outf=str(tmp_path / "exp") + "/",
                                engine=EngineOptions(device="cpu", num_workers=0, cache_dir=str(tmp_path / "cache")))
    with pytest.raises(DataError, match="both"):
        run_mstpp_training(opts)
