"""hsi.imaging.ImagingSystem: the same numbers as the functional core, a swappable optical element."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from hsi.camera import load_camera
from hsi.imaging import FixedPSF, ImagingSystem, as_system
from hsi.io import minmax_normalise
from hsi.metamer import make_metamer
from hsi.render import RenderConfig, make_generators, render_rgb


def _psf(bands: int = 31, size: int = 7, seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    k = g.random((bands, size, size)).astype(np.float32) ** 4
    k[:, size // 2, size // 2] += 2.0
    return k


@pytest.fixture(scope="module")
def cube() -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.rand(2, 31, 24, 20, generator=g)


@pytest.fixture(scope="module")
def srf() -> np.ndarray:
    return load_camera().srf


@pytest.mark.parametrize("boundary", ["circular", "periodic", "linear"])
def test_render_equals_render_rgb_bit_for_bit(cube, srf, boundary):
    cfg = RenderConfig(psf_boundary=boundary, npe=500, exposure_target=0.2)
    psf = _psf()
    system = ImagingSystem.from_arrays(srf, psf, cfg)
    got = system.render(cube, generator=make_generators([1, 2]))
    want = render_rgb(cube, torch.from_numpy(srf), torch.from_numpy(psf), cfg, generator=make_generators([1, 2]))
    assert torch.equal(got.dn, want.dn) and torch.equal(got.signal, want.signal) and torch.equal(got.gain, want.gain)
    fixed_gain = torch.tensor([0.7, 1.3], dtype=torch.float64)
    assert torch.equal(system(cube, make_generators([4, 5]), fixed_gain).dn,
                       render_rgb(cube, srf, psf, cfg, make_generators([4, 5]), fixed_gain).dn)


def test_from_names_loads_camera_and_psf(cube, tmp_path):
    k = _psf()
    np.savez(tmp_path / "blur.npz", PSFs=np.moveaxis(k, 0, -1))
    system = ImagingSystem.from_names("basler_a2A5320-23ucBAS", "blur", tmp_path, RenderConfig(npe=0))
    assert system.camera.name == "basler_a2A5320-23ucBAS" and system.psf_source.name == "blur"
    assert system.psf().shape == (31, 7, 7) and system.psf_margin() == 3
    assert torch.equal(system.srf, torch.from_numpy(load_camera().srf))
    none = ImagingSystem.from_names(psf_name="None")
    assert none.optics is None and none.psf() is None and none.psf_margin() == 0
    torch.testing.assert_close(system.psf().sum(dim=(1, 2)), torch.ones(31))   # load_psf normalised it


def test_camera_signal_shape_linearity_and_psf(cube, srf):
    system = ImagingSystem.from_arrays(srf, _psf(), RenderConfig(psf_boundary="linear"))
    a, b = cube[:1], cube[1:]
    s = system.camera_signal(a)
    assert s.shape == (1, 3, 24, 20) and system.camera_signal(a[0]).shape == (1, 3, 24, 20)
    torch.testing.assert_close(system.camera_signal(2.0 * a - 0.5 * b), 2.0 * s - 0.5 * system.camera_signal(b),
                               rtol=1e-5, atol=1e-5)
    # negative input: linear by default, clipped like the render with clip=True
    neg = system.camera_signal(-a)
    assert neg.min() < 0 and system.camera_signal(-a, clip=True).min() == 0
    sharp = system.with_optics(None).camera_signal(a)
    torch.testing.assert_close(sharp, torch.einsum("nbhw,bc->nchw", a, torch.from_numpy(srf)))
    assert (sharp - s).abs().max() > 1e-3                     # the PSF blurs
    flat = torch.ones(1, 31, 24, 20)                          # each band's PSF sums to 1: away from the
    torch.testing.assert_close(system.camera_signal(flat)[..., 3:-3, 3:-3],  # zero-padded border a flat
                               system.with_optics(None).camera_signal(flat)[..., 3:-3, 3:-3])  # image stays flat


def test_metamer_is_make_metamer_for_the_camera(cube, srf):
    system = ImagingSystem.from_arrays(srf, _psf())
    for mode in ("clip", "exact"):
        got = system.metamer(cube, 0.5, mode=mode)
        want = make_metamer(cube, torch.from_numpy(srf), 0.5, mode=mode)
        assert torch.equal(got.cube, want.cube) and torch.equal(got.rgb_max_abs_dev, want.rgb_max_abs_dev)
    ex = system.metamer(cube, -1.0, mode="exact")
    assert float(ex.rgb_rel_dev.max()) < 1e-6 and not torch.allclose(ex.cube, cube, atol=1e-3)


def test_to_dtype_and_device_move_every_buffer(srf):
    system = ImagingSystem.from_arrays(srf, _psf())
    assert {k for k, _ in system.named_buffers()} == {"srf", "optics.kernel"}
    assert system.srf.dtype == torch.float32 and system.psf().dtype == torch.float32
    d = system.to(torch.float64)
    assert d is system and system.srf.dtype == torch.float64 and system.psf().dtype == torch.float64
    assert system.device == torch.device("cpu")
    x = torch.rand(1, 31, 12, 12, dtype=torch.float64)
    assert system.render(x).dn.dtype == torch.float64
    if torch.cuda.is_available():
        system.to("cuda")
        assert system.srf.is_cuda and system.psf().is_cuda and system.render(x.cuda()).dn.is_cuda


def test_with_config_shares_the_optical_element(srf):
    system = ImagingSystem.from_arrays(srf, _psf(), RenderConfig(npe=100))
    other = system.with_config(npe=0, psf_boundary="linear")
    assert other.optics is system.optics and other.srf is system.srf
    assert other.config == RenderConfig(npe=0, psf_boundary="linear") and system.config.npe == 100
    with pytest.raises(TypeError):
        ImagingSystem(srf, None, config={"npe": 0})
    with pytest.raises(ValueError):
        FixedPSF(np.ones((7, 7)))


class _LearnableBlur(nn.Module):
    """A tiny learnable optical element: a Gaussian PSF per band with a learnable width."""

    def __init__(self, bands: int = 31, size: int = 9):
        super().__init__()
        self.log_sigma = nn.Parameter(torch.zeros(bands))
        r = torch.arange(size, dtype=torch.float32) - size // 2
        self.register_buffer("r2", (r[:, None] ** 2 + r[None, :] ** 2))

    def forward(self) -> torch.Tensor:
        sigma = self.log_sigma.exp().view(-1, 1, 1)
        return torch.exp(-self.r2 / (2 * sigma ** 2))


def test_a_learnable_optical_element_plugs_in_and_gets_gradients(cube, srf):
    fixed = ImagingSystem.from_arrays(srf, None, RenderConfig(psf_boundary="linear"))
    element = _LearnableBlur()
    system = fixed.with_optics(element)
    assert system.psf().requires_grad and dict(system.named_parameters()).keys() == {"optics.log_sigma"}
    loss = system.camera_signal(cube).square().mean()
    loss.backward()
    g = element.log_sigma.grad
    assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0
    # the same module renders too (no gradient needed there)
    with torch.no_grad():
        assert system.render(cube).dn.shape == (2, 3, 24, 20)
    # a fixed kernel equal to the module's PSF gives the same signal
    same = ImagingSystem.from_arrays(srf, element().detach(), fixed.config)
    torch.testing.assert_close(same.camera_signal(cube), system.camera_signal(cube).detach())


def test_as_system_accepts_either_form(srf):
    system = ImagingSystem.from_arrays(srf)
    assert as_system(system) is system
    loose = as_system(srf, _psf(), RenderConfig(npe=3))
    assert loose.config.npe == 3 and loose.psf().shape == (31, 7, 7)
    with pytest.raises(TypeError):
        as_system(system, _psf())


def test_minmax_normalise_numpy_and_torch():
    x = np.array([[2.0, 4.0], [6.0, 10.0]], dtype=np.float32)
    np.testing.assert_array_equal(minmax_normalise(x), np.array([[0, 0.25], [0.5, 1]], dtype=np.float32))
    assert minmax_normalise(x).dtype == np.float32
    np.testing.assert_array_equal(minmax_normalise(np.full((2, 2), 3.0, np.float32)), np.zeros((2, 2)))
    np.testing.assert_array_equal(minmax_normalise(x, 2.0, 6.0), (x - 2) / 4)      # a crop with its image's range
    t = torch.tensor([[[[1.0, 3.0]]], [[[5.0, 5.0]]]])                              # (2, 1, 1, 2): image 2 flat
    lo, hi = t.amin(dim=(1, 2, 3), keepdim=True), t.amax(dim=(1, 2, 3), keepdim=True)
    assert torch.equal(minmax_normalise(t, lo, hi), torch.tensor([[[[0.0, 1.0]]], [[[0.0, 0.0]]]]))
    assert torch.equal(minmax_normalise(torch.tensor([2.0, 4.0]), 2.0, 2.0), torch.zeros(2))


# ------------------------------------------------------------------ callers: generation and on-the-fly
def test_render_pair_takes_a_system_or_the_loose_arguments(cube, srf):
    from hsi.metamer_data import render_metamer_pair, render_pair
    cfg = RenderConfig(npe=300, psf_boundary="linear")
    system = ImagingSystem.from_arrays(srf, _psf(), cfg)
    met = system.metamer(cube, 2.0).cube
    new = render_pair(cube, met, system, noise_seed=5, scenes=["a", "b"])
    old = render_pair(cube, met, srf, _psf(), cfg, 5, ["a", "b"])
    assert all(torch.equal(n.dn, o.dn) for n, o in zip(new, old))
    made = render_metamer_pair(cube, system, alpha=2.0, noise_seed=5, scenes=["a", "b"])
    assert torch.equal(made.original.dn, new[0].dn) and torch.equal(made.rendered_metamer.dn, new[1].dn)
    # a metamer given (e.g. read from disk): not recomputed, its deviations measured the same way
    given = render_metamer_pair(cube, system, alpha=2.0, noise_seed=5, scenes=["a", "b"], metamer_cube=made.metamer_cube)
    assert given.metamer is None and torch.equal(given.rgb_max_abs_dev, made.rgb_max_abs_dev)
    s_made, s_given = made.stats(1), given.stats(1)
    assert s_given.pop("metamer_from_disk") is True
    assert {k: s_made[k] for k in s_given} == s_given and s_made["rgb_rel_dev"] > 1e-3   # clip: not exact
    assert s_made["dn_max_abs_diff"] == int(made.dn_max_abs_diff()[1])


def test_manifest_store_refuses_other_settings_and_keeps_same(tmp_path):
    from hsi.metamer_data import ManifestStore, MetamerDataError
    store = ManifestStore(tmp_path / "v", {"alpha": 0.0})
    assert store.scenes == {}
    store.scenes["s1"] = {"x": 1}
    (tmp_path / "v").mkdir()
    written = store.write({"settings": {"alpha": 0.0}, "complete": True}, ["s0", "s1"])
    assert written["scenes"] == {"s1": {"x": 1}} and (tmp_path / "v" / "manifest.json").is_file()
    assert ManifestStore(tmp_path / "v", {"alpha": 0.0}).scenes == {"s1": {"x": 1}}
    with pytest.raises(MetamerDataError, match="alpha: 0.0 there, 0.5 now"):
        ManifestStore(tmp_path / "v", {"alpha": 0.5})
    assert ManifestStore(tmp_path / "v", {"alpha": 0.5}, overwrite=True).scenes == {}


def test_async_writer_bounds_pending_and_reports_failures(tmp_path):
    import threading
    from hsi.metamer_data import AsyncWriter
    gate, done = threading.Event(), []
    writer = AsyncWriter(workers=1, max_pending=2)
    for i in range(4):
        writer.submit(lambda i=i: (gate.wait(5), done.append(i)))
    gate.set()
    writer.drain()                                  # at most 2 pending afterwards: the first 2 finished
    assert done[:2] == [0, 1]
    writer.drain(0)
    assert done == [0, 1, 2, 3] and writer.seconds > 0

    def fail():
        raise OSError("disk full")
    writer.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        writer.drain(0)
    writer.submit(fail)
    writer.close()                                  # lets started writes end; a failure does not mask another


def test_onthefly_renderer_and_scene_stats_take_a_system(srf):
    from hsi.train.onthefly import OnTheFlyRenderer, scene_stats
    cfg = RenderConfig(npe=200, quantize="round")
    psf = torch.from_numpy(_psf())
    system = ImagingSystem.from_arrays(srf, psf, cfg)
    g = torch.Generator().manual_seed(1)
    batch = {"cube": torch.rand(2, 31, 22, 22, generator=g), "gain": torch.tensor([1.1, 0.9], dtype=torch.float64),
             "dn_min": torch.tensor([3.0, 0.0]), "dn_max": torch.tensor([200.0, 180.0])}
    new = OnTheFlyRenderer(system, metamer_mode="clip", alpha_range=(-1.0, 2.0), margin=3, seed=4)
    old = OnTheFlyRenderer(torch.from_numpy(srf), psf, cfg, "clip", (-1.0, 2.0), 3, 4, "cpu")
    assert new.config == old.config and new.config.psf_boundary == "periodic" and system.config.psf_boundary == "circular"
    for a, b in zip(new(batch), old(batch)):
        assert torch.equal(a, b)
    assert new.psf is system.psf() and OnTheFlyRenderer(system, margin=2).config.psf_boundary == "linear"

    class _Pair:
        key, cube_path = "s", "s.mat"

    class _Cache:
        def cube(self, path):
            return np.random.default_rng(0).random((31, 30, 28)).astype(np.float32)
    st_new = scene_stats([_Pair()], _Cache(), system)["s"]
    st_old = scene_stats([_Pair()], _Cache(), srf, psf, cfg, torch.device("cpu"))["s"]
    assert st_new == st_old and 0 <= st_new.dn_min < st_new.dn_max <= 255
    from hsi.train.cli import scene_stats as cli_scene_stats            # the version before the redesign
    assert cli_scene_stats([_Pair()], _Cache(), srf, psf, cfg, torch.device("cpu"))["s"] == st_new
    whole = render_rgb(torch.from_numpy(_Cache().cube(None))[None], srf, psf,
                       RenderConfig(npe=0, quantize="round", psf_boundary="linear"))
    assert st_new.gain == float(whole.gain[0]) and st_new.dn_max == float(whole.dn.max())
