"""Regression baselines (linear, rpr2, rpr3): features, closed-form fit vs NumPy, checkpoints, data paths."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from _tiny_data import make_tiny_dataset
from hsi.data import FullImageDataset, PatchDataset, ResumableBatchSampler, SceneCache, ScenePair, SceneStats
from hsi.models import load_checkpoint, load_state_dict_strict, save_checkpoint
from hsi.models.regression import build_regression, root_polynomial_features
from hsi.train.regression_fit import (FitOptions, NormalEquations, fit_regression, solve_ridge, train_closed_form,
                                     training_pairs)

N_FEATURES = {"linear": 3, "rpr2": 6, "rpr3": 13}


def numpy_features(rgb: np.ndarray, degree: int) -> np.ndarray:
    """The root-polynomial terms of Finlayson et al. 2015 written out, ``(P, f)`` from ``(P, 3)``."""
    r, g, b = np.clip(rgb, 0, None).T.astype(np.float64)
    cols = [r, g, b]
    if degree >= 2:
        cols += [np.sqrt(r * g), np.sqrt(g * b), np.sqrt(r * b)]
    if degree >= 3:
        cols += [np.cbrt(r * r * g), np.cbrt(r * r * b), np.cbrt(g * g * r), np.cbrt(g * g * b),
                 np.cbrt(b * b * r), np.cbrt(b * b * g), np.cbrt(r * g * b)]
    return np.stack(cols, axis=1)


def pixels(t: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` -> ``(N*H*W, C)`` float64 in the order the normal equations use."""
    return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1]).double().numpy()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("data"), n_train=3, n_valid=2, size=40)


def _fixed_sets(root: Path, cache_dir: Path):
    ds = root / "SYNTH"
    gen = ds / "poisson0_None"
    names = [f"scene_{i:02d}" for i in range(5)]

    def pair(n):
        return ScenePair(n, ds / "Train_Spec" / f"{n}.mat", gen / "Train_Metamer_RGB" / f"{n}_original.png")
    cache = SceneCache(cache_dir)
    train = PatchDataset([pair(n) for n in names[:3]], cache, crop_size=16, stride=8)
    valid = FullImageDataset([pair(n) for n in names[3:]], cache)
    return train, valid


def _batches(train_set, n: int, batch_size: int = 4) -> list[dict]:
    sampler = iter(ResumableBatchSampler(len(train_set), batch_size, seed=3))
    from torch.utils.data import default_collate
    return [default_collate([train_set[i] for i in next(sampler)]) for _ in range(n)]


@pytest.mark.parametrize("method", ["linear", "rpr2", "rpr3"])
def test_features_are_the_root_polynomial_terms(method):
    rgb = torch.rand(2, 3, 5, 7, dtype=torch.float64) * 1.3 - 0.1   # includes negatives (clamped to 0)
    model = build_regression(method)
    feats = model.features(rgb)
    assert feats.shape == (2, N_FEATURES[method], 5, 7) == (2, model.n_features, 5, 7)
    expected = numpy_features(pixels(rgb), model.degree)
    np.testing.assert_allclose(pixels(feats), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["rpr2", "rpr3"])
def test_features_and_output_scale_with_exposure(method):
    rgb = 0.01 + torch.rand(1, 3, 6, 6)
    model = build_regression(method)
    model.set_solution(torch.randn(model.n_features, 31))
    for k in (0.25, 3.7):
        torch.testing.assert_close(model.features(k * rgb), k * model.features(rgb), rtol=1e-5, atol=0)
        torch.testing.assert_close(model(k * rgb), k * model(rgb), rtol=1e-4, atol=1e-6)


def test_gradients_are_finite_at_zero():
    rgb = torch.tensor([0.0, 0.0, 0.5, 0.0, 1e-20, 0.3, -0.2, 0.0, 0.0]).view(1, 3, 1, 3).requires_grad_()
    feats = root_polynomial_features(rgb, 3)
    assert torch.all(torch.isfinite(feats))
    feats.sum().backward()
    assert torch.all(torch.isfinite(rgb.grad))


@pytest.mark.parametrize("method", ["linear", "rpr2", "rpr3"])
def test_fit_equals_numpy_least_squares(tiny, tmp_path, method):
    train, _ = _fixed_sets(tiny, tmp_path / "cache")
    batches = _batches(train, 6)
    res = fit_regression(build_regression(method), training_pairs(batches), None,
                         options=FitOptions(lambdas=(0.0,)))
    rgb = torch.cat([b["rgb"] for b in batches])
    cube = torch.cat([b["cube"] for b in batches])
    f, y = numpy_features(pixels(rgb), res.model.degree), pixels(cube)
    w_np = np.linalg.lstsq(f, y, rcond=None)[0]
    w_fit = res.model.solution().double().numpy()
    assert res.pixels == f.shape[0] == 6 * 4 * 16 * 16 and res.batches == 6
    assert np.linalg.norm(w_fit - w_np) / np.linalg.norm(w_np) < 1e-5
    # the module's prediction is F @ W (in float64: unregularised rpr3 has huge cancelling coefficients
    # on this nearly degenerate data, which is why the validation chooses a regulariser)
    pred = pixels(res.model.double()(rgb.double()).detach())
    np.testing.assert_allclose(pred, f @ w_fit, rtol=1e-9, atol=1e-9)


def test_ridge_equals_numpy_closed_form(tiny, tmp_path):
    train, _ = _fixed_sets(tiny, tmp_path / "cache")
    batches = _batches(train, 4)
    lam = 1e-2
    res = fit_regression(build_regression("rpr3"), training_pairs(batches), None, options=FitOptions(lambdas=(lam,)))
    f = numpy_features(pixels(torch.cat([b["rgb"] for b in batches])), 3)
    y = pixels(torch.cat([b["cube"] for b in batches]))
    ftf = f.T @ f
    w_np = np.linalg.inv(ftf + lam * np.trace(ftf) / ftf.shape[0] * np.eye(ftf.shape[0])) @ f.T @ y
    w_fit = res.model.solution().double().numpy()
    assert np.linalg.norm(w_fit - w_np) / np.linalg.norm(w_np) < 1e-5
    # and it differs from the unregularised solution (the regulariser does something)
    w0 = np.linalg.lstsq(f, y, rcond=None)[0]
    assert np.linalg.norm(w0 - w_np) / np.linalg.norm(w_np) > 1e-3


def test_normal_equations_accumulate_over_batches():
    g = np.random.default_rng(0)
    f, y = g.random((2, 3, 5, 4)), g.random((2, 7, 5, 4))
    f[:, 2] = 0.0   # a feature that never fires: rank deficient
    eq = NormalEquations(3, 7)
    for i in range(2):   # two batches, the first one with fewer pixels than the unknowns
        eq.add(torch.from_numpy(f[i:i + 1, :, :1, :2]), torch.from_numpy(y[i:i + 1, :, :1, :2]))
    eq.add(torch.from_numpy(f[:, :, 1:]), torch.from_numpy(y[:, :, 1:]))
    fp = np.concatenate([pixels(torch.from_numpy(a)) for a in (f[0:1, :, :1, :2], f[1:2, :, :1, :2], f[:, :, 1:])])
    yp = np.concatenate([pixels(torch.from_numpy(a)) for a in (y[0:1, :, :1, :2], y[1:2, :, :1, :2], y[:, :, 1:])])
    assert eq.pixels == 1 * 2 + 1 * 2 + 2 * 4 * 4
    np.testing.assert_allclose(eq.ftf.numpy(), fp.T @ fp, atol=1e-12)
    np.testing.assert_allclose(eq.fty.numpy(), fp.T @ yp, atol=1e-12)
    w = solve_ridge(eq.r.numpy(), eq.z.numpy(), 0.0)
    assert np.all(np.isfinite(w)) and np.all(w[2] == 0)          # minimum-norm solution
    np.testing.assert_allclose(w, np.linalg.lstsq(fp, yp, rcond=None)[0], atol=1e-10)


def test_state_dict_round_trip(tmp_path):
    model = build_regression("rpr2")
    model.set_solution(torch.randn(6, 31))
    assert list(model.state_dict()) == ["proj.weight"] and model.state_dict()["proj.weight"].shape == (31, 6, 1, 1)
    path = save_checkpoint(tmp_path / "rpr2.pth", model, method="rpr2")
    other = build_regression("rpr2")
    load_state_dict_strict(other, load_checkpoint(path)["state_dict"])
    rgb = torch.rand(1, 3, 8, 9)
    torch.testing.assert_close(other(rgb), model(rgb), rtol=0, atol=0)
    from hsi.models.checkpoint import CheckpointError
    with pytest.raises(CheckpointError, match="mis-shaped"):
        load_state_dict_strict(build_regression("rpr3"), load_checkpoint(path)["state_dict"])


def test_train_closed_form_writes_the_usual_run(tiny, tmp_path):
    from hsi.train.engine import TrainConfig
    train, valid = _fixed_sets(tiny, tmp_path / "cache")
    cfg = TrainConfig(method="rpr2", out_dir=tmp_path / "run", total_iterations=10, batch_size=4, num_workers=0,
                      device="cpu", extra={"camera": "basler_a2A5320-23ucBAS"})
    summary = train_closed_form(cfg, train, valid, options=FitOptions(max_pixels=4 * 16 * 16 * 8))
    run = tmp_path / "run"
    assert {p.name for p in run.glob("*.pth")} == {"best.pth", "last.pth"}
    ckpt = load_checkpoint(run / "best.pth")
    assert ckpt["method"] == "rpr2" and ckpt["camera"] == "basler_a2A5320-23ucBAS" and ckpt["fit"]["batches"] == 8
    per = summary["fit"]["per_lambda"]
    assert len(per) == len(FitOptions().lambdas)
    best = min(per, key=lambda r: r["MRAE"])
    assert summary["fit"]["lambda"] == best["lambda"] and summary["final_valid"]["MRAE"] == best["MRAE"]
    # the saved model reproduces the chosen validation MRAE through the ordinary evaluation metrics
    model = build_regression("rpr2")
    load_state_dict_strict(model, ckpt["state_dict"])
    from hsi.metrics import compute_metrics
    mrae = np.mean([float(compute_metrics(model(v["rgb"][None]).detach(), v["cube"][None])["MRAE"][0]) for v in valid])
    assert mrae == pytest.approx(best["MRAE"], rel=1e-5)
    on_disk = json.loads((run / "summary.json").read_text())
    assert on_disk["finished"] and on_disk["method"] == "rpr2" and "versions" in on_disk
    assert (run / "config.json").is_file() and "lambda" in (run / "train.log").read_text()


def test_onthefly_fit_sees_rendered_metamer_pixels(tiny, tmp_path):
    from hsi.camera import load_srf
    from hsi.render import RenderConfig
    from hsi.train.onthefly import OnTheFlyRenderer
    ds = tiny / "SYNTH"
    pairs = [ScenePair(f"scene_{i:02d}", ds / "Train_Spec" / f"scene_{i:02d}.mat", None) for i in range(3)]
    stats = {p.key: SceneStats(1.0, 0.0, 255.0) for p in pairs}
    train = PatchDataset(pairs, SceneCache(tmp_path / "cache"), crop_size=16, stride=8, stats=stats)
    renderer = OnTheFlyRenderer(torch.from_numpy(load_srf()), None, RenderConfig(quantize="none"), "clip",
                                (-1.0, 2.0), 0, seed=5)
    batches = _batches(train, 3)
    rendered = list(training_pairs(batches, renderer))
    originals = torch.cat([b["cube"] for b in batches])
    targets = torch.cat([c for _, c in rendered])
    assert not torch.allclose(targets, originals)          # targets are the metamers, not the originals
    res = fit_regression(build_regression("linear"), iter(rendered), None, options=FitOptions(lambdas=(0.0,)))
    f = pixels(torch.cat([r for r, _ in rendered]))
    w_np = np.linalg.lstsq(f, pixels(targets), rcond=None)[0]
    assert np.linalg.norm(res.model.solution().double().numpy() - w_np) / np.linalg.norm(w_np) < 1e-5


def test_the_trainers_fit_a_baseline_and_validation_reads_it(tmp_path):
    """--method rpr2 through the ordinary trainer (closed-form fit) and validation, like every network."""
    from _tiny_data import make_tiny_dataset
    from hsi.train.experiments import run_training, run_validation, training_run_dir
    from hsi.train.options import EngineOptions, TrainingOptions, ValidationOptions

    data = make_tiny_dataset(tmp_path / "data")
    opts = TrainingOptions(mode="fixed", method="rpr2", dataset_path=str(data), dataset_name="SYNTH",
                           result_root=str(tmp_path / "runs"), num_epochs=1, per_epoch_iteration=4, batch_size=4,
                           crop_size=32, stride=8, valid_freq=4, save_freq=4, log_freq=2,
                           engine=EngineOptions(device="cpu", num_workers=0, cache_dir=str(tmp_path / "cache")))
    run_training(opts)
    run = training_run_dir(opts)
    assert (run / "best.pth").is_file() and (run / "last.pth").is_file()
    rec = run_validation(ValidationOptions(dataset_path=str(data), dataset_name="SYNTH", method="rpr2",
                                           pretrained_root=str(run / "best.pth"), result_root=str(tmp_path / "val"),
                                           device="cpu"))[0]
    assert 0 < rec["summary"]["RMSE"] < 0.2 and np.isfinite(rec["summary"]["MRAE"])
