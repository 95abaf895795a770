"""The network zoo: published layouts and parameter counts, CPU forward/backward, checkpoints."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from hsi.models import NETWORKS as METHODS, UnknownMethodError, build_model, count_parameters, get_spec, save_checkpoint
from hsi.models.adapter import run_model
from hsi.models.checkpoint import CheckpointError, load_checkpoint, load_state_dict_strict
from hsi.models.ensemble import self_ensemble

MANIFEST = json.loads((Path(__file__).parent / "data" / "model_manifests.json").read_text())
# networks whose forward on CPU takes seconds: only the small input in the default run
HEAVY = {"hrnet", "restormer", "hprn", "hscnn_plus", "awan", "mprnet", "msfn"}


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(method):
        if method not in cache:
            torch.manual_seed(0)
            cache[method] = build_model(method)
        return cache[method]
    return get


def test_zoo_covers_the_manifest():
    assert set(METHODS) == set(MANIFEST)


@pytest.mark.parametrize("method", METHODS)
def test_layout_matches_manifest(method, models):
    model = models(method)
    entry = MANIFEST[method]
    assert type(model).__name__ == entry["class"]
    assert count_parameters(model) == entry["params"]
    ours = [[k, list(v.shape), str(v.dtype).replace("torch.", "")] for k, v in model.state_dict().items()]
    theirs = [[k, list(s), d.replace("torch.", "")] for k, s, d in entry["state_dict"]]
    assert ours == theirs


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", [(64, 64), (50, 70)])
def test_forward_backward_cpu(method, size, models):
    if method in HEAVY and size != (64, 64):
        pytest.skip("heavy network: odd size covered by the slow test")
    _forward_backward(models(method), method, size)


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(HEAVY))
def test_forward_backward_cpu_odd_size_heavy(method, models):
    _forward_backward(models(method), method, (50, 70))


def _forward_backward(model, method, size):
    torch.manual_seed(1)
    model.train()
    model.zero_grad(set_to_none=True)
    rgb = torch.rand(1, 3, *size)
    out = run_model(model, method, rgb)
    assert out.shape == (1, 31, *size)
    assert torch.isfinite(out).all()
    out.abs().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None for g in grads)
    assert all(torch.isfinite(g).all() for g in grads if g is not None)


@pytest.mark.parametrize("method", ["mst_plus_plus", "ssrnet", "gmsr"])
def test_checkpoint_round_trip(method, models, tmp_path):
    model = models(method)
    path = save_checkpoint(tmp_path / "net.pth", model, iteration=7)
    loaded = load_checkpoint(path)
    assert loaded["iteration"] == 7
    other = build_model(method, pretrained=str(path))
    for (k, a), (k2, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert k == k2 and torch.equal(a, b)


@pytest.mark.parametrize("method", METHODS)
def test_manifest_shaped_state_dict_with_module_prefix_loads(method, tmp_path):
    entry = MANIFEST[method]
    dtypes = {"float32": torch.float32, "int64": torch.int64, "float64": torch.float64}
    state = {f"module.{k}": torch.full(shape, 0.5, dtype=dtypes[d.replace("torch.", "")]) if "float" in d
             else torch.zeros(shape, dtype=dtypes[d.replace("torch.", "")])
             for k, shape, d in entry["state_dict"]}
    torch.save({"state_dict": state}, tmp_path / "ckpt.pth")
    model = build_model(method, pretrained=str(tmp_path / "ckpt.pth"))
    first = next(iter(model.state_dict().values()))
    assert torch.all(first == 0.5)


def test_unknown_method_lists_valid_names():
    with pytest.raises(UnknownMethodError) as info:
        build_model("mst_plus_plus_plus")
    assert "mst_plus_plus" in str(info.value) and "gmsr" in str(info.value)


def test_lr_table():
    assert get_spec("MST_PLUS_PLUS").lr == 4e-4
    assert get_spec("hprn").lr == 1.2e-4 and get_spec("edsr").lr == 1e-4 and get_spec("restormer").lr == 2e-4


class _Evil:
    def __reduce__(self):
        return (print, ("this would run code",))


def test_pickled_object_in_checkpoint_is_refused(tmp_path):
    torch.save({"state_dict": {}, "payload": _Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(tmp_path / "evil.pth")


def test_mismatch_names_the_keys(models):
    model = models("mst_plus_plus")
    state = dict(model.state_dict())
    first = next(iter(state))
    state.pop(first)
    state["bogus.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError) as info:
        load_state_dict_strict(model, state)
    assert first in str(info.value) and "bogus.weight" in str(info.value)


def test_self_ensemble_of_equivariant_fn_is_identity():
    x = torch.rand(2, 3, 5, 7)
    assert torch.allclose(self_ensemble(lambda t: t * 2, x), x * 2)
    assert torch.allclose(self_ensemble(lambda t: t * 2, x, reduction="median"), x * 2)


def test_self_ensemble_averages_a_direction_dependent_fn():
    x = torch.zeros(1, 1, 3, 3)
    x[..., 0, 0] = 1.0
    out = self_ensemble(lambda t: torch.roll(t, 1, dims=-1), x)
    # the 8 variants shift the impulse in the 4 directions: the mass is spread, total preserved
    assert torch.isclose(out.sum(), torch.tensor(1.0))
    assert out.max() < 1.0


# ------------------------------------------------------------------------------------ HPRN's label sort
def _ssrm(stable: bool):
    from hsi.models.hprn import SSRM
    torch.manual_seed(0)
    return SSRM(channels=6, window_size=16, n_scales=2, reduction=1, stable_sort=stable).eval()


def test_hprn_default_sort_is_the_public_torch_sort_call(monkeypatch):
    calls = []
    real_sort = torch.sort

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_sort(*args, **kwargs)
    keys = torch.randint(1, 5, (2, 2 * 8 * 8))
    monkeypatch.setattr(torch, "sort", spy)
    default, stable = _ssrm(False)._pixel_order(keys), _ssrm(True)._pixel_order(keys)
    monkeypatch.undo()
    assert calls == [{"dim": -1}, {"dim": -1, "stable": True}]     # the public code passes no `stable`
    assert torch.equal(default, torch.sort(keys, dim=-1).indices)
    assert torch.equal(stable, torch.sort(keys, dim=-1, stable=True).indices)
    assert not build_model("hprn").ssrm.stable_sort and build_model("hprn", stable_sort=True).ssrm.stable_sort


def test_hprn_sort_options_differ_only_in_the_order_of_ties():
    x = torch.rand(1, 6, 8, 8)
    distinct = torch.stack([torch.randperm(64), torch.randperm(64)]).view(1, 2, 8, 8) + 1   # no tie in any scale
    a, b = _ssrm(False), _ssrm(True)
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        assert torch.equal(a(x, distinct), b(x, distinct))
        # with ties the stable order keeps raster order inside each label
        tied = (torch.arange(64).view(1, 1, 8, 8) // 16 + 1).expand(1, 2, 8, 8)
        keys = b._sort_keys(tied)
        order = b._pixel_order(keys)
        assert torch.equal(order[0], torch.arange(128))
        assert torch.equal(keys.gather(-1, a._pixel_order(keys)), keys.sort(dim=-1).values)  # both sort the keys
    state = {k: v.shape for k, v in build_model("hprn", stable_sort=True).state_dict().items()}
    assert state == {k: v.shape for k, v in build_model("hprn").state_dict().items()}


# ------------------------------------------------------------------------------------ registry and built modules
def test_registry_labels_and_size_multiples():
    from hsi.models import method_label, model_class
    labels = [get_spec(m).label for m in METHODS]
    assert all(labels) and len(set(labels)) == len(labels)
    assert method_label("mst_plus_plus") == "MST++" and method_label("HSCNN_PLUS") == "HSCNN+"
    assert method_label("not_a_zoo_method") == "not_a_zoo_method"
    for m in METHODS:  # the multiple the network pads its input to inside its forward
        assert get_spec(m).size_multiple == getattr(model_class(m), "pad_multiple", 1), m


def test_built_modules_take_rgb_alone():
    from hsi.models.adapter import ZooModule, slic_labels, ssrnet_srf
    from hsi.models import model_class
    torch.manual_seed(0)
    rgb = torch.rand(1, 3, 16, 16)
    srf = torch.rand(31, 3)
    ssr = build_model("ssrnet", srf=srf).eval()
    assert isinstance(ssr, ZooModule) and isinstance(ssr, model_class("ssrnet"))
    assert list(ssr.state_dict()) == list(model_class("ssrnet")().state_dict())
    with torch.no_grad():
        assert torch.equal(ssr(rgb), ssr(rgb, ssrnet_srf(srf)))
        assert torch.equal(ssr(rgb), run_model(ssr, "ssrnet", rgb))          # the model's own camera
        assert not torch.equal(ssr(rgb), run_model(ssr, "ssrnet", rgb, torch.rand(31, 3)))
        hprn = build_model("hprn").eval()
        assert torch.equal(hprn(rgb), hprn(rgb, slic_labels(rgb)))
        copy = pickle.loads(pickle.dumps(ssr))                              # the built class pickles by name
        assert type(copy) is type(ssr) and torch.equal(copy(rgb), ssr(rgb))
