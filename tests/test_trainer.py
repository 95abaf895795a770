"""The Trainer API (setup / step / check_loss / validate / save / finish) driven directly equals train()."""
from __future__ import annotations

import json

import pytest
import torch

from _tiny_data import make_tiny_dataset
from hsi.data import FullImageDataset, PatchDataset, SceneCache, ScenePair
from hsi.models import get_spec, load_checkpoint
from hsi.train import engine


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data"))


def _sets(tiny, cache):
    ds = tiny / "SYNTH"
    pairs = [ScenePair(s, ds / "Train_Spec" / f"{s}.mat", ds / "Train_RGB" / f"{s}.jpg") for s in ("scene_00", "scene_01")]
    return PatchDataset(pairs, SceneCache(cache), 16, 8), FullImageDataset(pairs[:1], None)


def _cfg(out, **kw):
    return engine.TrainConfig(method="mst_plus_plus", out_dir=out, total_iterations=4, batch_size=2, save_freq=4,
                              log_freq=2, valid_freq=0, num_workers=0, device="cpu", deterministic=True, **kw)


def _same_weights(a, b):
    sa, sb = load_checkpoint(a)["state_dict"], load_checkpoint(b)["state_dict"]
    assert list(sa) == list(sb)
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0)


def test_trainer_steps_driven_by_hand_equal_train(tiny, tmp_path):
    train_set, valid_set = _sets(tiny, tmp_path / "cache")
    expected = engine.train(_cfg(tmp_path / "loop"), train_set, valid_set)

    cfg = _cfg(tmp_path / "hand")
    trainer = engine.Trainer(cfg, train_set, valid_set).setup()
    assert trainer.iteration == trainer.start == 0 and trainer.lr == get_spec("mst_plus_plus").lr
    losses = []
    while trainer.iteration < cfg.total_iterations:
        losses.append(float(trainer.step()))
        if trainer.iteration % cfg.log_freq == 0:
            trainer.check_loss()
    trainer.save()
    final = trainer.validate()
    got = trainer.finish(final)

    for name in ("last.pth", "best.pth"):
        _same_weights(tmp_path / "loop" / name, tmp_path / "hand" / name)
    for key in ("method", "iterations", "finished", "best_valid_mrae", "final_valid"):
        assert got[key] == expected[key], key
    assert got["final_valid"]["MRAE"] == got["best_valid_mrae"] and len(losses) == 4
    assert all(l > 0 for l in losses)
    summary = json.loads((tmp_path / "hand" / "summary.json").read_text())
    assert summary["iterations"] == 4 and summary["finished"]
    assert (tmp_path / "hand" / "scalars.csv").read_text().count("train/loss") == 2


def test_trainer_resume_continues_from_last_checkpoint(tiny, tmp_path):
    train_set, valid_set = _sets(tiny, tmp_path / "cache")
    engine.train(_cfg(tmp_path / "full"), train_set, None)
    cut = _cfg(tmp_path / "cut", stop_at=2)
    cut = engine.TrainConfig(**{**cut.__dict__, "save_freq": 2})
    engine.train(cut, train_set, None)
    trainer = engine.Trainer(engine.TrainConfig(**{**cut.__dict__, "stop_at": None, "resume": True}), train_set, None)
    trainer.setup()
    assert trainer.start == trainer.iteration == 2
    trainer.fit()
    _same_weights(tmp_path / "full" / "last.pth", tmp_path / "cut" / "last.pth")


def test_ddp_flag_comes_from_the_registry():
    assert get_spec("hrnet").find_unused_parameters
    assert not any(get_spec(m).find_unused_parameters for m in ("mst_plus_plus", "hprn", "ssrnet"))


def test_resolve_compile_mode_uses_cuda_graphs_only_on_one_gpu_process():
    from hsi.sweep_cost import engine_mode
    from hsi.train.engine import resolve_compile_mode
    assert resolve_compile_mode("auto", "cuda", 1) == "reduce-overhead"
    assert resolve_compile_mode("auto", "cuda", 2) == "default" and resolve_compile_mode("auto", "cpu") == "default"
    assert resolve_compile_mode("max-autotune", "cpu", 4) == "max-autotune"
    # the cost planner reads a run's flags the way the engine resolves them for one run per GPU
    assert engine_mode(True, True, "auto") == "amp+compile-ro" and engine_mode(True, True, "default") == "amp+compile"
    assert engine_mode(True, True, "max-autotune") is None and engine_mode(False, False, "auto") == "fp32"
