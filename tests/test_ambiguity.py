"""hsi.ambiguity: band ranges of the metamer set (vs linprog), the paired bound, metamers through the
optics, and the metamer/ambiguity.py script on a tiny dataset."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hsi.ambiguity import (band_ranges, feasibility_violation, metamer_through_optics, optics_signal,
                           pair_distance)
from hsi.metamer import alpha_metamer, make_metamer
from hsi.metrics import mrae_per_image, rmse_per_image, sam_per_image
from hsi.optics import load_psf

PSF_NAME = "double_gauss_50mm_F1.8"
PSF_DIR = Path(__file__).resolve().parents[1] / "PSFs"


def _linprog_range(srf: np.ndarray, y: np.ndarray, u: float, band: int) -> tuple[float, float]:
    from scipy.optimize import linprog
    out = []
    for sign in (1.0, -1.0):
        cost = np.zeros(srf.shape[0])
        cost[band] = sign
        res = linprog(cost, A_eq=srf.T, b_eq=y, bounds=[(0, u)] * srf.shape[0], method="highs")
        assert res.status == 0, res.message
        out.append(sign * res.fun)
    return out[0], out[1]


def _test_spectra(n: int, gen: torch.Generator) -> torch.Tensor:
    """``(n, 31)`` in [0, 1]: smooth, sparse, binary (box vertices: on the set's boundary) and black."""
    x = torch.rand(n, 31, generator=gen, dtype=torch.float64) ** 3
    x[: n // 4] = (torch.rand(n // 4, 31, generator=gen) > 0.6).double()
    x[n // 4] = 0.0
    x[n // 4 + 1] = 1.0
    return x


def test_band_ranges_match_linprog(basler_srf):
    gen = torch.Generator().manual_seed(1)
    c = basler_srf.double()
    x = _test_spectra(12, gen)
    upper = 0.5 + torch.rand(12, generator=gen, dtype=torch.float64)
    upper[0] = 1.0
    x = torch.minimum(x * upper[:, None], upper[:, None])
    res = band_ranges(x @ c, c, upper)
    assert res.feasible.all()
    for p in range(x.shape[0]):
        for band in range(0, 31, 3):
            lo, hi = _linprog_range(c.numpy(), (x[p] @ c).numpy(), float(upper[p]), band)
            assert abs(float(res.lo[p, band]) - lo) <= 1e-6 * float(upper[p])
            assert abs(float(res.hi[p, band]) - hi) <= 1e-6 * float(upper[p])


def test_band_ranges_contain_the_spectrum(basler_srf):
    gen = torch.Generator().manual_seed(2)
    c = basler_srf.double()
    x = _test_spectra(200, gen)
    lo, hi = band_ranges(x @ c, basler_srf, 1.0, chunk=64)
    assert lo.shape == hi.shape == (200, 31) and lo.dtype == torch.float64
    assert (lo <= x + 1e-9).all() and (x <= hi + 1e-9).all()
    # a float32 signal is rounded (~1e-7 relative); the LP can amplify that on the set's boundary
    lo32, hi32 = band_ranges((x @ c).float(), basler_srf, 1.0, chunk=64)
    assert (lo32 - lo).abs().max() < 1e-4 and (hi32 - hi).abs().max() < 1e-4
    assert (lo >= -1e-9).all() and (hi <= 1 + 1e-9).all()
    widest = (hi - lo).amax(1)
    assert widest[50:52].abs().max() < 1e-9               # black and white (box corners) are unique
    assert torch.cat([widest[:50], widest[52:]]).min() > 0.05   # a 3-channel camera leaves ambiguity


def test_infeasible_signal_is_reported(basler_srf):
    from scipy.optimize import linprog
    c = basler_srf.double()
    gen = torch.Generator().manual_seed(3)
    y = torch.rand(40, 3, generator=gen, dtype=torch.float64) * (torch.ones(31, dtype=torch.float64) @ c)
    y[0] = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)     # blue without any red or green
    y[1] = -y[2]                                                  # negative signal
    res = band_ranges(y, c, 1.0)
    for p in range(y.shape[0]):
        lp = linprog(np.zeros(31), A_eq=c.numpy().T, b_eq=y[p].numpy(), bounds=[(0, 1)] * 31, method="highs")
        assert bool(res.feasible[p]) == (lp.status == 0), p
    assert not res.feasible[:2].any() and res.feasible.any()
    assert torch.isnan(res.lo[~res.feasible]).all() and torch.isnan(res.hi[~res.feasible]).all()
    assert not torch.isnan(res.lo[res.feasible]).any()
    assert (feasibility_violation(y[:2], c, 1.0) > 0).all()
    with pytest.raises(ValueError, match="no spectrum"):
        band_ranges(y, c, 1.0, strict=True)


# -------------------------------------------------------------------------------------- paired bound
def _errors(y, s, m):
    return {"RMSE": (rmse_per_image(y, s), rmse_per_image(y, m)),
            "SAM": (sam_per_image(y, s), sam_per_image(y, m)),
            "MRAE": (mrae_per_image(y, s), mrae_per_image(y, m))}


def _adversary(s, m, metric: str, steps: int = 60) -> torch.Tensor:
    """A prediction optimised by gradient descent to minimise max(err(y, s), err(y, m))."""
    fn = {"RMSE": rmse_per_image, "SAM": sam_per_image, "MRAE": mrae_per_image}[metric]
    y = ((s + m) / 2 + 0.01).clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=5e-3)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.maximum(fn(y, s), fn(y, m)).sum()
        loss.backward()
        opt.step()
    return y.detach()


@pytest.fixture
def metamer_pair(smooth_cube, basler_srf):
    s = smooth_cube.double()
    m = make_metamer(smooth_cube, basler_srf, 0.0, mode="exact").cube.double()
    return s, m


def test_pair_bound_holds_for_every_predictor(metamer_pair):
    s, m = metamer_pair
    bound = pair_distance(s, m).as_dict()
    assert all(min(v) > 0 for v in bound.values())
    gen = torch.Generator().manual_seed(4)
    predictors = {"s": s, "m": m, "midpoint": (s + m) / 2, "min": torch.minimum(s, m),
                  "random": torch.rand(s.shape, generator=gen, dtype=torch.float64),
                  "noisy midpoint": (s + m) / 2 + 0.02 * torch.randn(s.shape, generator=gen, dtype=torch.float64)}
    for metric in ("RMSE", "SAM", "MRAE"):
        predictors[f"adversary {metric}"] = _adversary(s, m, metric)
    for name, y in predictors.items():
        for metric, (err_s, err_m) in _errors(y, s, m).items():
            b = torch.tensor(bound[metric], dtype=torch.float64)
            assert (torch.maximum(err_s, err_m) >= b - 1e-9).all(), (name, metric)
            assert (err_s + err_m >= 2 * b - 1e-9).all(), (name, metric)
            assert err_s.mean() + err_m.mean() >= 2 * b.mean() - 1e-9      # reported means too


def test_pair_bound_is_attained(metamer_pair):
    s, m = metamer_pair
    bound = pair_distance(s, m)
    mid = (s + m) / 2
    torch.testing.assert_close(rmse_per_image(mid, s), bound.rmse, rtol=1e-12, atol=0)
    torch.testing.assert_close(rmse_per_image(mid, m), bound.rmse, rtol=1e-12, atol=0)
    y = torch.minimum(s, m)                 # the larger MRAE weight sits on the smaller value
    torch.testing.assert_close(mrae_per_image(y, s) + mrae_per_image(y, m), 2 * bound.mrae, rtol=1e-12, atol=0)
    torch.testing.assert_close(bound.distance()["RMSE"], rmse_per_image(s, m))
    # identical cubes: no ambiguity; border crop as hsi.metrics
    same = pair_distance(s, s)
    assert same.rmse.abs().max() == 0 and same.mrae.abs().max() == 0 and same.sam.max() < 1e-7
    cropped = pair_distance(s, m, border=3)
    torch.testing.assert_close(cropped.rmse, rmse_per_image(s[..., 3:-3, 3:-3], m[..., 3:-3, 3:-3]) / 2)


def test_pair_bound_zero_pixels():
    s = torch.zeros(1, 31, 2, 2, dtype=torch.float64)
    m = s.clone()
    m[0, :, 0, 0] = 0.5                     # one pixel black in s only
    y = torch.rand(1, 31, 2, 2, dtype=torch.float64)
    b = pair_distance(s, m).sam
    assert (sam_per_image(y, s) + sam_per_image(y, m) >= 2 * b - 1e-12).all()
    torch.testing.assert_close(b, torch.tensor([(torch.pi / 2 + 3 * torch.pi) / 4 / 2], dtype=torch.float64))


# ------------------------------------------------------------------------- metamers through optics
@pytest.fixture(scope="module")
def double_gauss():
    return torch.from_numpy(load_psf(PSF_NAME, PSF_DIR).kernel)


@pytest.mark.parametrize("boundary", ["circular", "periodic"])
def test_exact_optics_renders_the_same_through_the_psf(smooth_cube, basler_srf, double_gauss, boundary):
    res = metamer_through_optics(smooth_cube, basler_srf, double_gauss, alpha=0.0, boundary=boundary, tol=1e-7)
    assert res.converged and res.iterations > 1
    sig0 = optics_signal(smooth_cube, basler_srf, double_gauss, boundary)
    sig1 = optics_signal(res.cube, basler_srf, double_gauss, boundary)
    rel = (sig1 - sig0).abs().amax(dim=(1, 2, 3)) / sig0.abs().amax(dim=(1, 2, 3))
    assert (rel <= 1e-6).all()
    torch.testing.assert_close(res.rgb_rel_dev, rel, rtol=1e-3, atol=1e-12)
    # the paper's 8-bit rendering (one exposure gain for both): at most a rare 1-DN truncation flip
    from hsi.render import RenderConfig, render_rgb
    cfg = RenderConfig(psf_boundary=boundary)
    dn0 = render_rgb(smooth_cube, basler_srf, double_gauss, cfg)
    dn1 = render_rgb(res.cube, basler_srf, double_gauss, cfg, gain=dn0.gain)
    diff = (dn1.dn - dn0.dn).abs()
    assert diff.max() <= 1 and (diff > 0).double().mean() < 1e-3
    up = smooth_cube.amax(dim=(1, 2, 3)).view(-1, 1, 1, 1)
    assert res.cube.dtype == smooth_cube.dtype
    assert (res.cube >= 0).all() and (res.cube <= up).all()          # bounds exact, no tolerance
    target = alpha_metamer(smooth_cube, basler_srf, 0.0)
    d_res = (res.cube.double() - target).flatten(1).norm(dim=1)
    assert (d_res <= (smooth_cube.double() - target).flatten(1).norm(dim=1)).all()    # s is feasible too
    # it is a different cube from the pixel-wise exact metamer, which is NOT invisible through the PSF
    pixelwise = make_metamer(smooth_cube, basler_srf, 0.0, mode="exact").cube
    sig_px = optics_signal(pixelwise, basler_srf, double_gauss, boundary)
    assert ((sig_px - sig0).abs().amax() / sig0.abs().amax()) > 1e-3


@pytest.mark.parametrize("boundary,size", [("circular", (24, 20)), ("periodic", (24, 20)), ("circular", (23, 21))])
def test_exact_optics_with_a_delta_psf_is_exact_mode(basler_srf, boundary, size):
    gen = torch.Generator().manual_seed(5)
    cube = torch.rand(2, 31, *size, generator=gen) ** 2
    delta = torch.zeros(31, 5, 5)
    delta[:, 2, 2] = 1.0
    alpha = torch.tensor([0.0, 1.7])
    ref = make_metamer(cube, basler_srf, alpha, mode="exact", tol=1e-12, max_iter=200).cube
    res = metamer_through_optics(cube, basler_srf, delta, alpha=alpha, boundary=boundary, tol=1e-11)
    assert res.converged
    torch.testing.assert_close(res.cube, ref, rtol=0, atol=1e-6)


def test_exact_optics_refuses_linear_boundary(smooth_cube, basler_srf, double_gauss):
    with pytest.raises(ValueError, match="periodic boundary"):
        metamer_through_optics(smooth_cube, basler_srf, double_gauss, boundary="linear")


# ------------------------------------------------------------------------------------------ the script
def _script_main(argv):
    import importlib.util
    path = Path(__file__).resolve().parents[1] / "metamer" / "ambiguity.py"
    spec = importlib.util.spec_from_file_location("ambiguity_script", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main(argv)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    from _tiny_data import make_tiny_dataset
    return make_tiny_dataset(tmp_path_factory.mktemp("amb_data"), n_train=1, n_valid=2, size=32)


@pytest.mark.parametrize("psf_name", ["None", PSF_NAME])
def test_script_writes_json_table_and_figure(tiny_root, tmp_path, psf_name):
    out = tmp_path / "out"
    argv = ["--dataset_path", str(tiny_root), "--dataset_name", "SYNTH", "--psf_name", psf_name,
            "--psf_path", str(PSF_DIR), "--pixels_per_scene", "40", "--figure_scenes", "1", "--out_dir", str(out),
            "--device", "cpu"]
    assert _script_main(argv) == 0
    rec = json.loads((out / "ambiguity.json").read_text())
    assert rec["metamer_mode"] == ("exact" if psf_name == "None" else "exact_optics")
    assert rec["scenes_total"] == 2 and set(rec["scenes"]) == {"scene_01", "scene_02"}
    assert rec["options"]["pixels_per_scene"] == 40 and "versions" in rec and "command" in rec
    for name in ("RMSE", "SAM", "MRAE"):
        per = [rec["scenes"][s]["pair_bound"][name] for s in rec["scenes"]]
        assert rec["pair_bound"][name] == pytest.approx(np.mean(per)) and min(per) > 0
    br = rec["band_range"]
    assert br["pixels"] == 80 and br["infeasible_pixels"] == 0
    assert 0 < br["widest_mean"] <= br["widest_p95"] + 1e-12 <= 1 + 1e-9
    assert br["worst_case_error_mean"] == pytest.approx(br["widest_mean"] / 2)
    assert 0 < br["band_mean_range_mean"] <= br["widest_mean"] and len(br["range_per_band_mean"]) == 31
    for s in rec["scenes"].values():
        assert s["metamer"]["rgb_rel_dev"] <= 1e-6
    table = (out / "ambiguity.md").read_text()
    assert table.startswith("| dataset |") and f"| {psf_name} |" in table and f"{rec['pair_bound']['RMSE']:.4f}" in table
    assert rec["figures"] == ["figures/scene_01.png"]
    assert (out / "figures" / "scene_01.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if psf_name != "None":
        return
    # same seed, same pixels: the sampled statistics are reproducible
    assert _script_main(argv[:-4] + ["--figure_scenes", "0", "--out_dir", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "ambiguity.json").read_text())
    assert again["band_range"] == br


def test_script_errors(tiny_root, tmp_path, capsys):
    base = ["--dataset_path", str(tiny_root), "--out_dir", str(tmp_path / "x"), "--device", "cpu"]
    assert _script_main(base + ["--dataset_name", "NOPE"]) == 2
    assert "error: unknown dataset" in capsys.readouterr().err
    assert _script_main(base + ["--dataset_name", "SYNTH", "--psf_name", "no_such_psf", "--psf_path", str(PSF_DIR)]) == 2
    assert "error:" in capsys.readouterr().err
    assert _script_main(base + ["--dataset_name", "SYNTH", "--pixels_per_scene", "0"]) == 2
    assert "error: pixels_per_scene" in capsys.readouterr().err
    assert _script_main(["--dataset_path", str(tmp_path), "--dataset_name", "SYNTH"]) == 2
    assert "Train_Spec" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
