"""hsi.metrics on hand-computed examples."""
from __future__ import annotations

import math

import pytest
import torch

from hsi.metrics import compute_metrics, crop_border, mrae_per_image, psnr_per_image, rmse_per_image, sam_per_image, summarise


def test_hand_computed_values():
    g = torch.full((1, 2, 2, 2), 0.5, dtype=torch.float64)
    p = g.clone()
    p[0, 0] = 0.6                                   # band 0 off by 0.1 everywhere, band 1 exact
    assert mrae_per_image(p, g, eps=0).item() == pytest.approx(0.5 * 0.1 / 0.5)
    assert rmse_per_image(p, g).item() == pytest.approx(math.sqrt(0.5 * 0.01))
    # PSNR band 0: mse = (0.1*255)^2 -> 20 dB; band 1: inf -> mean inf (the paper's formula)
    assert math.isinf(psnr_per_image(p, g).item())
    assert psnr_per_image(p, g, mode="cube").item() == pytest.approx(10 * math.log10(1 / (0.5 * 0.01)))
    p[0, 1] = 0.4
    assert psnr_per_image(p, g).item() == pytest.approx(20.0)
    # SAM: every pixel p = (0.6, 0.4), g = (0.5, 0.5): angle 45deg - atan(0.4/0.6)
    expected = math.acos((0.6 * 0.5 + 0.4 * 0.5) / (math.hypot(0.6, 0.4) * math.hypot(0.5, 0.5) + 1e-6))
    assert sam_per_image(p, g).item() == pytest.approx(expected, rel=1e-9)


def test_mrae_epsilon_of_the_paper():
    g = torch.zeros(1, 1, 1, 1)
    p = torch.full((1, 1, 1, 1), 1e-6)
    assert mrae_per_image(p, g).item() == pytest.approx(1.0)


def test_sam_is_scale_invariant_and_zero_for_parallel_spectra():
    g = torch.rand(2, 31, 4, 4) * 0.5 + 0.1
    assert sam_per_image(g * 1.5, g).abs().max() < 1e-3


def test_border_crop_and_summary():
    g = torch.rand(3, 31, 20, 20) * 0.5 + 0.25
    p = g.clone()
    p[..., :3, :] += 0.2                            # error only in the top border
    m = compute_metrics(p, g, border=3)
    assert torch.all(m["RMSE"] == 0)
    assert crop_border(g, 3).shape[-2:] == (14, 14)
    with pytest.raises(ValueError):
        crop_border(g, 10)
    rows = [{k: float(v[i]) for k, v in compute_metrics(p, g).items()} for i in range(3)]
    s = summarise(rows)
    assert s["RMSE"] == pytest.approx(sum(r["RMSE"] for r in rows) / 3)


def test_one_mrae_for_metric_loss_and_maps():
    import numpy as np
    from hsi.metrics import METRIC_NAMES, MRAE_EPS, mrae_loss, mrae_map
    from hsi.train.losses import get_loss
    g = torch.rand(2, 31, 6, 5, dtype=torch.float64) * 0.5
    p = g + 0.1 * torch.randn(2, 31, 6, 5, dtype=torch.float64)
    per_image = mrae_per_image(p, g)
    assert torch.allclose(mrae_loss(p, g), per_image.mean()) and get_loss("mrae") is mrae_loss
    maps = [mrae_map(p[i].float().numpy(), g[i].float().numpy()) for i in range(2)]
    assert maps[0].shape == (6, 5) and maps[0].dtype == np.float64
    # the per-pixel map averages to the per-image MRAE; hand-computed pixel
    np.testing.assert_allclose([m.mean() for m in maps], mrae_per_image(p.float(), g.float()).numpy(), rtol=1e-12)
    pf, gf = p[0, :, 2, 3].float().double(), g[0, :, 2, 3].float().double()
    assert maps[0][2, 3] == pytest.approx(float(((pf - gf).abs() / (gf + 1e-6)).mean()), rel=1e-12)
    assert MRAE_EPS == 1e-6 and tuple(compute_metrics(p, g)) == METRIC_NAMES == tuple(summarise([]))


def test_centre_crop():
    import numpy as np
    from hsi.metrics import centre_crop
    x = np.arange(7 * 9).reshape(1, 7, 9)
    assert centre_crop(x, 3, 5).tolist() == [[r[2:7] for r in x[0, 2:5].tolist()]]
    assert centre_crop(torch.from_numpy(x), 4).shape == (1, 4, 4)           # square by default, tensors too
    assert centre_crop(x, 8, 5) is x                                          # smaller than the crop: unchanged
