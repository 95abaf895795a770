"""Part 1 of the demo: paired noise for the metamer, independent exposures for the noise floor."""
import torch

from hsi.demo import colorchecker_scene, detectability, format_table, run_metamer_demo


def test_noise_floor_and_detectability():
    cube = colorchecker_scene(patch=6)
    rows = {(r.mode, r.setting): r for r in run_metamer_demo(alphas=(0.0,), npe=1000.0, cube=cube)}
    exact_clean, exact_noise = rows[("exact", "clean")], rows[("exact", "noise")]
    assert exact_clean.max_rgb_diff_dn == 0 and exact_noise.max_rgb_diff_dn == 0   # paired noise: same stream
    assert exact_noise.noise_floor_max_dn > 0 and exact_noise.noise_floor_mean_dn > 0   # two exposures differ
    assert exact_noise.detectability_max < 1e-3                    # an exact metamer without PSF: invisible
    psf = rows[("exact", "psf+noise")]
    assert psf.detectability_max > 0 and psf.noise_floor_max_dn > 0
    assert exact_clean.detectability_max is None and exact_clean.noise_floor_max_dn == 0
    table = format_table(list(rows.values()))
    assert "noise floor" in table and "paired noise" in table and "exact mode replaces them" in table


def test_detectability_is_the_ratio_to_the_poisson_std():
    v = torch.tensor([0.25, 0.01])
    ratio = detectability(v, v + 0.005, npe=1000.0)
    assert torch.allclose(ratio, torch.tensor([0.005 / (0.25 / 1000) ** 0.5, 0.005 / (0.01 / 1000) ** 0.5],
                                              dtype=torch.float64))
