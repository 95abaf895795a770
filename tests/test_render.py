"""hsi.render: PSF convolution, projection, noise, exposure, quantisation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hsi.render import (RenderConfig, add_noise, convolve_psf, expose_and_quantise, exposure_gain,
                        make_generators, project, render_rgb, scene_seed)


def _delta(bands, h, w):
    d = torch.zeros(bands, h, w, dtype=torch.float64)
    d[:, h // 2, w // 2] = 1
    return d


def _paper_image_formation_psf(cube_hwc: np.ndarray, psf_hwc: np.ndarray) -> np.ndarray:
    """Literal numpy transcription of the paper's PSF step (upstream.md 3.2) as an oracle."""
    H, W, _ = cube_hwc.shape
    h, w, _ = psf_hwc.shape
    out = np.zeros((H, W, psf_hwc.shape[2]))
    # crop_or_pad_np
    if h >= H:
        psf = psf_hwc[(h - H) // 2:(h - H) // 2 + H]
    else:
        psf = np.zeros((H, w, psf_hwc.shape[2]))
        psf[(H - h) // 2:(H - h) // 2 + h] = psf_hwc
    if w >= W:
        psf = psf[:, (w - W) // 2:(w - W) // 2 + W]
    else:
        tmp = np.zeros((H, W, psf.shape[2]))
        tmp[:, (W - w) // 2:(W - w) // 2 + w] = psf
        psf = tmp
    img = cube_hwc.transpose(2, 0, 1)[None]
    k = psf.transpose(2, 0, 1)[None]
    k = k / k.sum(axis=(2, 3), keepdims=True)
    res = np.real(np.fft.ifftshift(np.fft.ifft2(np.fft.fft2(np.fft.fftshift(img)) * np.fft.fft2(np.fft.fftshift(k)))))
    out[:] = res[0].transpose(1, 2, 0)
    return out


@pytest.mark.parametrize("boundary", ["periodic", "linear"])
@pytest.mark.parametrize("image", [(8, 10), (9, 11), (9, 10)])
@pytest.mark.parametrize("psf_size", [(5, 5), (4, 6), (3, 4), (15, 17)])
def test_delta_psf_is_identity(boundary, image, psf_size):
    x = torch.rand(2, 3, *image, dtype=torch.float64)
    out = convolve_psf(x, _delta(3, *psf_size), boundary)
    torch.testing.assert_close(out, x, atol=1e-12, rtol=0)


@pytest.mark.parametrize("image, psf_size, shift", [
    ((8, 10), (4, 6), (0, 0)),      # even image, even PSF: identity
    ((8, 10), (5, 5), (-1, -1)),    # odd PSF padded into an even image: the paper's one-pixel shift
    ((9, 11), (4, 6), (-1, -1)),    # odd image: rolled by -1 along each odd axis
])
def test_circular_reproduces_the_papers_centring(image, psf_size, shift):
    x = torch.rand(1, 3, *image, dtype=torch.float64)
    out = convolve_psf(x, _delta(3, *psf_size), "circular")
    torch.testing.assert_close(out, torch.roll(x, shift, dims=(-2, -1)), atol=1e-12, rtol=0)


@pytest.mark.parametrize("image, psf_size", [((12, 10), (5, 7)), ((11, 13), (6, 4)), ((7, 9), (15, 12))])
def test_circular_equals_the_papers_numpy_formula(image, psf_size, rng):
    cube = rng.random((*image, 4))
    psf = rng.random((*psf_size, 4))
    expected = _paper_image_formation_psf(cube, psf)
    ours = convolve_psf(torch.from_numpy(cube.transpose(2, 0, 1))[None], torch.from_numpy(psf.transpose(2, 0, 1)),
                        "circular")[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(ours, expected, atol=1e-12)


@pytest.mark.parametrize("boundary", ["circular", "periodic"])
def test_unit_sum_psf_preserves_energy(boundary, rng):
    x = torch.rand(2, 4, 16, 18, dtype=torch.float64)
    psf = torch.from_numpy(rng.random((4, 7, 9)))
    out = convolve_psf(x, psf, boundary)
    torch.testing.assert_close(out.sum(dim=(-2, -1)), x.sum(dim=(-2, -1)), rtol=1e-12, atol=0)


def test_linear_preserves_energy_away_from_borders_and_never_wraps(rng):
    x = torch.zeros(1, 2, 30, 30, dtype=torch.float64)
    x[..., 10:20, 10:20] = torch.rand(1, 2, 10, 10, dtype=torch.float64)
    psf = torch.from_numpy(rng.random((2, 7, 7)))
    out = convolve_psf(x, psf, "linear")
    torch.testing.assert_close(out.sum(dim=(-2, -1)), x.sum(dim=(-2, -1)), rtol=1e-12, atol=0)
    edge = torch.zeros(1, 1, 20, 20, dtype=torch.float64)
    edge[..., :, 0] = 1.0                                   # a bright left column
    blur = torch.ones(1, 5, 5, dtype=torch.float64)
    assert convolve_psf(edge, blur, "linear")[..., :, -3:].abs().max() < 1e-12
    assert convolve_psf(edge, blur, "circular")[..., :, -3:].max() > 0.1  # the paper's wraps around


def test_psf_bands_are_normalised_and_cropped():
    x = torch.ones(1, 2, 6, 6, dtype=torch.float64)
    psf = torch.ones(2, 31, 31, dtype=torch.float64) * torch.tensor([1.0, 50.0]).view(2, 1, 1)
    for boundary in ("circular", "periodic", "linear"):
        out = convolve_psf(x, psf, boundary)
        torch.testing.assert_close(out[..., 2:4, 2:4], torch.ones_like(out[..., 2:4, 2:4]),
                                   atol=1e-12, rtol=0) if boundary != "linear" else None
        assert torch.isfinite(out).all()


def test_projection_is_the_srf_product_and_clips_negatives(basler_srf):
    cube = torch.rand(1, 31, 3, 4)
    rgb = project(cube, basler_srf)
    torch.testing.assert_close(rgb[0, :, 1, 2], basler_srf.T @ cube[0, :, 1, 2])
    assert project(-cube, basler_srf).max() == 0


@pytest.mark.parametrize("npe", [50, 1000])
def test_poisson_noise_mean_and_variance(npe):
    signal = torch.full((1, 3, 200, 200), 0.3, dtype=torch.float64)
    noisy = add_noise(signal, npe, "poisson", generator=torch.Generator().manual_seed(1))
    assert noisy.mean().item() == pytest.approx(0.3, rel=0.01)
    assert noisy.var().item() == pytest.approx(0.3 / npe, rel=0.03)
    assert torch.allclose(noisy * npe, torch.round(noisy * npe), atol=1e-9)  # integer photo-electron counts


def test_gaussian_noise_has_the_papers_standard_deviation():
    signal = torch.full((1, 3, 200, 200), 5.0, dtype=torch.float64)
    noisy = add_noise(signal, 0.5, "gaussian", generator=torch.Generator().manual_seed(2))
    assert noisy.std().item() == pytest.approx(0.5, rel=0.02)


def test_no_noise_at_npe_zero():
    x = torch.rand(1, 3, 4, 4)
    assert add_noise(x, 0) is x


def test_noise_streams_are_reproducible_and_independent_per_image():
    signal = torch.full((2, 3, 32, 32), 0.5)
    a = add_noise(signal, 100, generator=make_generators([scene_seed(0, "s1"), scene_seed(0, "s2")]))
    b = add_noise(signal, 100, generator=make_generators([scene_seed(0, "s1"), scene_seed(0, "s2")]))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a[0], a[1])                              # not the same restarted stream
    assert scene_seed(0, "s1", "original") != scene_seed(0, "s1", "metamer")


def test_auto_exposure_hits_its_target():
    rgb = torch.rand(2, 3, 16, 16) * torch.tensor([0.01, 3.0]).view(2, 1, 1, 1)
    cfg = RenderConfig(exposure_target=0.18, quantize="none")
    dn, gain = expose_and_quantise(rgb, cfg)
    torch.testing.assert_close(dn.mean(dim=(1, 2, 3)), torch.full((2,), 0.18 * 255), rtol=1e-5, atol=0)
    torch.testing.assert_close(gain, exposure_gain(rgb, 0.18))
    black, g0 = expose_and_quantise(torch.zeros(1, 3, 4, 4), cfg)
    assert torch.all(black == 0) and g0.item() == 0


def test_quantisation_modes():
    rgb = torch.full((1, 3, 2, 2), 1.0)
    for mode, value in (("truncate", 45.0), ("round", 46.0), ("none", 0.18 * 255)):
        dn, _ = expose_and_quantise(rgb, RenderConfig(quantize=mode))
        assert dn.flatten()[0].item() == pytest.approx(value, rel=1e-6)
    dn16, _ = expose_and_quantise(rgb, RenderConfig(bit_depth=16, quantize="round"))
    assert dn16.flatten()[0].item() == round(0.18 * 65535)


def test_render_rgb_pipeline_and_uint_output(smooth_cube, basler_srf):
    res = render_rgb(smooth_cube, basler_srf, psf=_delta(31, 5, 5).float(),
                     config=RenderConfig(psf_boundary="linear", npe=1000, quantize="round"),
                     generator=make_generators([1, 2]))
    out = res.to_uint()
    assert out.dtype == np.uint8 and out.shape == (2, 3, 24, 20)
    assert abs(out.mean() - 0.18 * 255) < 2
    x = res.normalised()
    assert torch.allclose(x.amin(dim=(1, 2, 3)), torch.zeros(2)) and torch.allclose(x.amax(dim=(1, 2, 3)), torch.ones(2))


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="psf_boundary"):
        RenderConfig(psf_boundary="reflect")
    with pytest.raises(ValueError, match="quantize"):
        RenderConfig(quantize="floor")


@pytest.mark.cuda
def test_cuda_matches_cpu(smooth_cube, basler_srf):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    psf = torch.rand(31, 9, 9)
    cfg = RenderConfig(psf_boundary="linear", quantize="none")
    cpu = render_rgb(smooth_cube, basler_srf, psf, cfg).dn
    gpu = render_rgb(smooth_cube.cuda(), basler_srf.cuda(), psf.cuda(), cfg).dn.cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-3)
