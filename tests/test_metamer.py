"""hsi.metamer: projector, clip (paper) and exact metamers, random alpha."""
from __future__ import annotations

import pytest
import torch

from hsi.camera import load_srf
from hsi.metamer import alpha_metamer, make_metamer, projector, random_alpha
from hsi.render import RenderConfig, render_rgb


def _rgb(cube, srf):
    return torch.einsum("nbhw,bk->nkhw", cube.double(), srf.double())


def test_projector_properties(basler_srf):
    r = projector(basler_srf)
    c = basler_srf.double()
    torch.testing.assert_close(r @ r, r)                       # idempotent
    torch.testing.assert_close(r, r.T)                         # orthogonal projector
    torch.testing.assert_close(c.T @ r, c.T)                   # C^T R = C^T: the black is invisible
    assert torch.linalg.matrix_rank(r).item() == 3


@pytest.mark.parametrize("alpha", [-1.0, 0.0, 0.5, 2.0])
def test_unclipped_metamer_has_the_same_rgb(smooth_cube, basler_srf, alpha):
    m = alpha_metamer(smooth_cube, basler_srf, alpha)
    torch.testing.assert_close(_rgb(m, basler_srf), _rgb(smooth_cube, basler_srf), rtol=0, atol=1e-10)


def test_clip_matches_the_closed_form(smooth_cube, basler_srf):
    c = basler_srf.double()
    r = c @ torch.linalg.inv(c.T @ c) @ c.T
    s = smooth_cube.double()
    expected = torch.einsum("ij,njhw->nihw", r, s)
    expected = (expected + 0.5 * (s - expected)).clamp_min(0)
    res = make_metamer(smooth_cube, basler_srf, 0.5, mode="clip")
    torch.testing.assert_close(res.cube, expected.float(), rtol=0, atol=1e-6)
    assert res.cube.dtype == torch.float32 and res.cube.min() >= 0
    frac = (alpha_metamer(smooth_cube, basler_srf, 0.5) < 0).double().mean(dim=(1, 2, 3))
    torch.testing.assert_close(res.clipped_fraction, frac)
    dev = (_rgb(res.cube, basler_srf) - _rgb(smooth_cube, basler_srf)).abs().amax(dim=(1, 2, 3))
    torch.testing.assert_close(res.rgb_max_abs_dev, dev)


@pytest.mark.parametrize("mode", ["clip", "exact"])
def test_alpha_one_returns_the_input(smooth_cube, basler_srf, mode):
    res = make_metamer(smooth_cube, basler_srf, 1.0, mode=mode)
    torch.testing.assert_close(res.cube, smooth_cube, rtol=0, atol=1e-6)
    assert torch.all(res.clipped_fraction == 0)


@pytest.mark.parametrize("alpha", [-1.0, 0.0, 0.5, 2.0])
def test_exact_metamer_keeps_rgb_and_bounds(smooth_cube, basler_srf, alpha):
    res = make_metamer(smooth_cube, basler_srf, alpha, mode="exact")
    rgb0, rgb1 = _rgb(smooth_cube, basler_srf), _rgb(res.cube, basler_srf)
    rel = (rgb1 - rgb0).abs().amax(dim=(1, 2, 3)) / rgb0.abs().amax(dim=(1, 2, 3))
    assert rel.max().item() < 1e-5
    assert res.rgb_rel_dev.max().item() < 1e-5
    upper = smooth_cube.amax(dim=(1, 2, 3)).view(-1, 1, 1, 1)
    assert res.cube.min() >= 0 and torch.all(res.cube <= upper + 1e-7)
    if alpha != 1.0:
        assert (res.cube - smooth_cube).abs().max() > 0.05     # a different spectrum ...
    clip = make_metamer(smooth_cube, basler_srf, alpha, mode="clip")
    if alpha in (-1.0, 2.0):                                   # ... where clipping visibly breaks metamerism
        assert clip.rgb_rel_dev.max() > 10 * res.rgb_rel_dev.max() + 1e-3


def test_exact_is_the_nearest_valid_metamer(basler_srf):
    """Optimality: moving the solution along any metameric-black direction (which keeps the RGB) that
    stays within bounds never brings it closer to the unclipped alpha-metamer m."""
    g = torch.Generator().manual_seed(3)
    s = torch.rand(1, 31, 1, 1, generator=g, dtype=torch.float64) * 0.5 + 0.1
    res = make_metamer(s.float(), basler_srf, -1.0, mode="exact")
    x = res.cube.double().view(31)
    m = alpha_metamer(s, basler_srf, -1.0).view(31)
    r = projector(basler_srf)
    base = ((x - m) ** 2).sum()
    for _ in range(200):
        d = (torch.eye(31, dtype=torch.float64) - r) @ torch.randn(31, generator=g, dtype=torch.float64)
        y = x + 1e-3 * d / d.norm()
        if y.min() >= 0 and y.max() <= s.max():
            assert ((y - m) ** 2).sum() >= base - 1e-9


def test_exact_renders_to_the_same_8bit_image(smooth_cube, basler_srf):
    cfg = RenderConfig(quantize="round")
    res = make_metamer(smooth_cube, basler_srf, 0.0, mode="exact")
    a = render_rgb(smooth_cube, basler_srf, config=cfg).to_uint().astype(int)
    b = render_rgb(res.cube, basler_srf, config=cfg).to_uint().astype(int)
    assert abs(a - b).max() <= 1


def test_per_image_alpha_and_other_cameras(smooth_cube):
    srf = torch.from_numpy(load_srf("nikon_5100"))
    res = make_metamer(smooth_cube, srf, torch.tensor([0.0, 2.0]), mode="exact")
    assert res.alpha.tolist() == [0.0, 2.0] and res.rgb_rel_dev.max() < 1e-5


def test_random_alpha_range_and_reproducibility():
    a = random_alpha(10000, generator=torch.Generator().manual_seed(0))
    assert a.min() >= -1 and a.max() < 2 and abs(a.mean().item() - 0.5) < 0.05
    torch.testing.assert_close(a, random_alpha(10000, generator=torch.Generator().manual_seed(0)))
    b = random_alpha(100, 0.0, 0.0)
    assert torch.all(b == 0)


def test_bad_arguments(smooth_cube, basler_srf):
    with pytest.raises(ValueError, match="mode"):
        make_metamer(smooth_cube, basler_srf, 0.0, mode="soft")
    with pytest.raises(ValueError, match="srf"):
        make_metamer(smooth_cube, basler_srf[:30], 0.0)
    with pytest.raises(ValueError, match="alpha"):
        make_metamer(smooth_cube, basler_srf, [0.0, 1.0, 2.0])


@pytest.mark.cuda
def test_exact_on_cuda_matches_cpu(smooth_cube, basler_srf):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu = make_metamer(smooth_cube, basler_srf, -1.0, mode="exact").cube
    gpu = make_metamer(smooth_cube.cuda(), basler_srf.cuda(), -1.0, mode="exact").cube.cpu()
    torch.testing.assert_close(gpu, cpu, rtol=0, atol=1e-5)


def test_projector_refuses_a_degenerate_camera():
    srf = torch.ones(31, 3, dtype=torch.float64)          # three identical channels: C^T C is singular
    with pytest.raises(ValueError, match="degenerate"):
        projector(srf)


def _hard_cubes():
    """Random sparse spectra: at alpha = 2 a few pixels keep only a couple of free bands (near-singular
    Newton systems that need many step halvings)."""
    g = torch.Generator().manual_seed(0)
    return torch.rand(4, 31, 32, 32, generator=g) ** 3


@pytest.mark.parametrize("alpha", [-1.0, 0.0, 2.0])
def test_fixed_iteration_exact_solver_reaches_the_converged_metamer(basler_srf, alpha):
    cube = _hard_cubes()
    ref = make_metamer(cube, basler_srf, alpha, mode="exact")
    fixed = make_metamer(cube, basler_srf, alpha, mode="exact", iterations=12)
    assert fixed.iterations == 12
    torch.testing.assert_close(fixed.cube, ref.cube, rtol=0, atol=1e-6)
    assert float(fixed.rgb_rel_dev.max()) < 1e-7
    # too few iterations leave the hard pixels unconverged: the iteration count is really what runs
    if alpha == 2.0:
        assert float(make_metamer(cube, basler_srf, alpha, mode="exact", iterations=2).rgb_rel_dev.max()) > 1e-4


def test_fixed_iteration_exact_solver_never_reads_back_to_the_host(basler_srf, monkeypatch):
    import hsi.metamer as metamer
    cube = _hard_cubes()
    alpha = torch.linspace(-1, 2, 4, dtype=torch.float64)
    m = metamer.alpha_metamer(cube, basler_srf, alpha)
    s = cube.to(torch.float64)
    lo, hi = metamer.exact_bounds(s)
    c = torch.as_tensor(basler_srf, dtype=torch.float64)
    rows = [t.permute(0, 2, 3, 1).reshape(-1, 31) for t in (m, lo, hi)]
    target = s.permute(0, 2, 3, 1).reshape(-1, 31) @ c
    thresh = torch.full((rows[0].shape[0],), 1e-9, dtype=torch.float64)

    def refuse(*_a, **_k):
        raise AssertionError("host synchronisation")
    for name in ("item", "tolist", "__bool__", "__int__", "__float__", "nonzero"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    monkeypatch.setattr(torch, "nonzero", refuse)
    x = metamer._newton_dual_fixed(*rows, target, thresh, c, 12)
    monkeypatch.undo()
    assert torch.isfinite(x).all() and x.shape == rows[0].shape
