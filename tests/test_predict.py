"""Prediction on a user's photos: the script's files, tiling, 16-bit and EXIF-rotated inputs, the one-liner."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from hsi.io import read_mat_cube, read_rgb_raw, write_rgb
from hsi.models import build_model, save_checkpoint
from hsi.predict import (TILE_ALIGN, apply_orientation, choose_pixels, cube_to_srgb, normalise_input, read_photo,
                         reconstruct, reconstruct_tiled, tile_spans, tile_weight)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "RGB2HS" / "predict_RGB2HS.py"


def _run(*args):
    """The script in a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)


def _main(capsys, *args) -> tuple[int, str]:
    """The script's ``main`` in this process (the heavy imports are paid once): ``(exit code, stderr)``."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("predict_RGB2HS", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.main([str(a) for a in args])
    return code, capsys.readouterr().err


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """``(3, h, w)`` uint8: smooth colour gradients plus a few blocks (not symmetric, so rotations show)."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.2 + 0.6 * xx, 0.3 + 0.5 * yy, 0.6 - 0.4 * xx * yy])
    g = np.random.default_rng(seed)
    for _ in range(4):
        y, x = g.integers(0, h - 8), g.integers(0, w - 8)
        img[:, y:y + 8, x:x + 8] = g.random((3, 1, 1))
    img[:, :4, :4] = [[[1.0]], [[0.0]], [[0.0]]]          # a red corner marks the top left
    return np.round(img * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "mst_plus_plus.pth"
    return save_checkpoint(path, build_model("mst_plus_plus"), method="mst_plus_plus", iteration=1)


def _exif(orientation: int) -> bytes:
    from PIL import Image
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


# ------------------------------------------------------------------------------------ the script
def test_script_writes_the_documented_files_and_equals_the_one_liner(weights, tmp_path, capsys):
    photos = tmp_path / "photos"
    img = _photo(40, 56)
    write_rgb(photos / "scene.png", img)
    write_rgb(photos / "deep.png", img.astype(np.uint16) * 257)               # the same photo in 16 bit
    from PIL import Image
    Image.fromarray(img.transpose(1, 2, 0)).save(photos / "turned.jpg", quality=95, exif=_exif(6))
    out = tmp_path / "out"
    code, err = _main(capsys, "--rgb_path", photos, "--pretrained_root", weights, "--out_dir", out, "--tile", 0,
                      "--no_progress")
    assert code == 0, err
    for stem in ("scene", "deep", "turned"):
        for suffix in (".mat", "_preview.png", "_spectra.png", ".json"):
            assert (out / f"{stem}{suffix}").is_file(), f"{stem}{suffix} missing"
        assert cv2.imread(str(out / f"{stem}_preview.png")) is not None
    cube = read_mat_cube(out / "scene.mat").cube
    assert cube.shape == (31, 40, 56) and cube.min() >= 0 and cube.max() <= 1
    record = json.loads((out / "scene.json").read_text())
    assert record["method"] == "mst_plus_plus" and record["camera"] == "unknown"
    assert record["normalisation"] == "minmax" and len(record["pixels"]) == 4 and record["size_hw"] == [40, 56]
    assert "versions" in record and record["bit_depth"] == 8
    # the one-liner on the same photo gives the same cube
    one = reconstruct(img.transpose(1, 2, 0), method="mst_plus_plus", weights=weights, device="cpu")
    assert one.shape == (31, 40, 56) and one.dtype == np.float32
    np.testing.assert_allclose(one, cube, atol=1e-6)
    # 16-bit: read as 16 bit, same cube after the per-image min-max normalisation
    assert json.loads((out / "deep.json").read_text())["bit_depth"] == 16
    np.testing.assert_allclose(read_mat_cube(out / "deep.mat").cube, cube, atol=1e-5)
    # EXIF orientation 6 (rotate 90 degrees clockwise to display): the cube is upright, H and W swapped
    turned = read_mat_cube(out / "turned.mat").cube
    assert turned.shape == (31, 56, 40)
    assert json.loads((out / "turned.json").read_text())["exif_orientation"] == 6


def test_script_honours_pixels_and_tiles(weights, tmp_path, capsys):
    write_rgb(tmp_path / "a.png", _photo(70, 80))
    code, err = _main(capsys, "--rgb_path", tmp_path / "a.png", "--pretrained_root", weights, "--out_dir",
                      tmp_path / "o", "--tile", 64, "--tile_overlap", 16, "--pixels", "3,4", "60,70", "--no_progress")
    assert code == 0, err
    rec = json.loads((tmp_path / "o" / "a.json").read_text())
    cube = read_mat_cube(tmp_path / "o" / "a.mat").cube
    assert rec["pixels"] == [[3, 4], [60, 70]] and rec["tile"] == 64
    np.testing.assert_allclose(rec["spectra_at_pixels"]["60,70"], cube[:, 60, 70], atol=1e-6)


def test_bad_path_exits_with_code_2_and_an_error_line(weights, tmp_path):
    res = _run("--rgb_path", tmp_path / "missing.png", "--pretrained_root", weights, "--out_dir", tmp_path / "o")
    assert res.returncode == 2 and res.stderr.startswith("error:") and "no such file or folder" in res.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("args, message", [
    (["--rgb_path", "{tmp}/a.png", "--pixels", "500,1"], "outside"),
    (["--rgb_path", "{tmp}/a.png", "--pixels", "1;2"], "y,x pairs"),
    (["--rgb_path", "{tmp}/a.png", "--method", "nonet"], "unknown method"),
    (["--rgb_path", "{tmp}/a.png", "--method", "hdnet"], "does not fit"),
    (["--rgb_path", "{tmp}/a.png", "--tile", "64", "--tile_overlap", "40"], "at most half"),
    (["--rgb_path", "{tmp}/bad.png"], "not a readable image"),
])
def test_bad_input_exits_with_code_2_and_an_error_line(weights, tmp_path, capsys, args, message):
    write_rgb(tmp_path / "a.png", _photo(20, 24))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    code, err = _main(capsys, *[a.format(tmp=tmp_path) for a in args], "--pretrained_root", weights,
                      "--out_dir", tmp_path / "o", "--no_progress")
    assert code == 2, err
    assert err.startswith("error:") and message in err, err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").glob("*.mat"))


# ------------------------------------------------------------------------------------ tiling
@pytest.mark.parametrize("length, tile, overlap", [(100, 64, 16), (150, 64, 32), (257, 96, 24), (64, 64, 16),
                                                   (500, 256, 64), (40, 0, 0)])
def test_tile_spans_cover_the_axis_aligned_with_overlap(length, tile, overlap):
    spans = tile_spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(s % TILE_ALIGN == 0 and e - s <= max(tile, length if not tile else tile) for s, e in spans)
    for (s0, e0), (s1, e1) in zip(spans, spans[1:]):
        assert s0 < s1 and e0 - s1 >= overlap
    weights = np.zeros(length)
    for span in spans:
        weights[span[0]:span[1]] += tile_weight(span, length, overlap)
    assert np.all(weights > 0)


def _small_edsr():
    torch.manual_seed(1)
    return build_model("edsr", n_resblocks=2, n_feats=16).eval()    # receptive field: 7 pixels each side


@pytest.mark.parametrize("tile, overlap, h, w", [(64, 32, 100, 150), (128, 48, 150, 230)])
def test_tiled_equals_untiled_for_a_convolutional_network(tile, overlap, h, w):
    model = _small_edsr()
    rgb = normalise_input(np.transpose(_photo(h, w), (1, 2, 0)))
    with torch.no_grad():
        fn = model
        whole = reconstruct_tiled(fn, rgb, 0)
        tiled = reconstruct_tiled(fn, rgb, tile, overlap)
        direct = model(rgb)[0].clamp(0, 1).numpy()
    assert len(tile_spans(h, tile, overlap)) > 1 and len(tile_spans(w, tile, overlap)) > 1
    np.testing.assert_allclose(whole, direct, atol=1e-6)
    assert np.abs(tiled - whole).max() < 1e-4


def test_tiled_equals_untiled_for_a_regression_baseline():
    from hsi.models.regression import build_regression
    model = build_regression("rpr2")
    model.set_solution(torch.rand(6, 31) * 0.3)
    rgb = normalise_input(_photo(90, 130))
    with torch.no_grad():
        np.testing.assert_allclose(reconstruct_tiled(model, rgb, 64, 16), reconstruct_tiled(model, rgb, 0), atol=1e-6)


def test_the_output_is_written_without_a_second_copy():
    cube = reconstruct_tiled(lambda x: x.repeat(1, 11, 1, 1)[:, :31], normalise_input(_photo(20, 30)), 0)
    assert cube.shape == (31, 20, 30) and np.ascontiguousarray(cube.transpose(0, 2, 1)) is not None
    assert cube.transpose(0, 2, 1).flags["C_CONTIGUOUS"]     # write_mat_cube's layout, no copy needed


# ------------------------------------------------------------------------------------ photos
@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow(tmp_path, orientation):
    from PIL import Image, ImageOps
    img = _photo(12, 20).transpose(1, 2, 0)
    path = tmp_path / f"o{orientation}.png"
    Image.fromarray(img).save(path, exif=_exif(orientation))
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB")).transpose(2, 0, 1)
    np.testing.assert_array_equal(read_photo(path), expected)


def test_exif_rotated_jpeg_is_upright(tmp_path):
    from PIL import Image
    img = _photo(24, 40)
    path = tmp_path / "r.jpg"
    Image.fromarray(img.transpose(1, 2, 0)).save(path, quality=95, exif=_exif(8))
    got = read_photo(path)
    stored = read_rgb_raw(path)                           # OpenCV with IMREAD_UNCHANGED ignores the tag
    assert stored.shape == (3, 24, 40) and got.shape == (3, 40, 24)
    np.testing.assert_array_equal(got, np.rot90(stored, 1, axes=(1, 2)))
    # OpenCV's own EXIF handling (IMREAD_COLOR, 8-bit only) agrees
    np.testing.assert_array_equal(got, cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1].transpose(2, 0, 1))
    assert got[0, -3, 1] > 200 and got[1, -3, 1] < 60      # the red top-left corner is now bottom left


def test_16_bit_png_keeps_its_depth(tmp_path):
    img = (_photo(10, 12).astype(np.uint16) * 257 + 3).astype(np.uint16)
    write_rgb(tmp_path / "d.png", img)
    got = read_photo(tmp_path / "d.png")
    assert got.dtype == np.uint16
    np.testing.assert_array_equal(got, img)


def test_apply_orientation_inverts_to_the_stored_image():
    x = np.arange(2 * 3 * 5).reshape(2, 3, 5)
    assert apply_orientation(x, 6).shape == (2, 5, 3)
    np.testing.assert_array_equal(apply_orientation(apply_orientation(x, 6), 8), x)
    np.testing.assert_array_equal(apply_orientation(apply_orientation(x, 5), 5), x)


# ------------------------------------------------------------------------------------ one-liner and figures
def test_one_liner_inputs_and_lazy_exports(weights):
    import hsi
    img = _photo(24, 32)
    a = hsi.reconstruct(img.transpose(1, 2, 0), method="mst_plus_plus", weights=weights, device="cpu")
    b = hsi.reconstruct(torch.from_numpy(img), weights=weights, device="cpu")           # method from the checkpoint
    c = hsi.reconstruct(torch.from_numpy(img.astype(np.float32) / 255)[None].repeat(2, 1, 1, 1), weights=weights,
                        device="cpu")
    assert a.shape == (31, 24, 32) and c.shape == (2, 31, 24, 32)
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(c[1], a, atol=1e-5)
    from hsi.camera import load_srf
    from hsi.metamer import make_metamer
    from hsi.render import render_rgb
    assert hsi.render_rgb is render_rgb and hsi.make_metamer is make_metamer and hsi.load_srf is load_srf
    assert hsi.read_photo is read_photo
    assert {"build_model", "load_psf", "read_mat_cube", "write_mat_cube"} <= set(dir(hsi))
    with pytest.raises(AttributeError):
        hsi.no_such_function


def test_import_hsi_is_cheap():
    code = "import sys, hsi; print(sorted(m for m in ('torch', 'numpy', 'cv2', 'matplotlib') if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert res.stdout.strip() == "[]", res.stdout + res.stderr


@pytest.mark.parametrize("peak_nm, channel", [(450, 2), (540, 1), (640, 0)])
def test_srgb_preview_has_the_colour_of_the_spectrum(peak_nm, channel):
    wl = np.arange(400, 701, 10.0)
    cube = np.broadcast_to(np.exp(-((wl - peak_nm) / 25.0) ** 2)[:, None, None], (31, 4, 5)).astype(np.float32)
    srgb = cube_to_srgb(cube)
    assert srgb.shape == (4, 5, 3) and srgb.min() >= 0 and srgb.max() <= 1
    assert int(np.argmax(srgb[0, 0])) == channel


def test_chosen_pixels_have_distinct_colours():
    srgb = np.zeros((40, 40, 3))
    srgb[:20, :20] = [1, 0, 0]
    srgb[:20, 20:] = [0, 1, 0]
    srgb[20:, :20] = [0, 0, 1]
    picks = choose_pixels(srgb, stride=3, k=4)
    colours = {tuple(srgb[y // 3, x // 3]) for y, x in picks}
    assert len(picks) == 4 and len(colours) == 4 and all(y % 3 == 0 and x % 3 == 0 for y, x in picks)


def test_the_documented_example_runs(tmp_path):
    text = (ROOT / "docs" / "predict.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0].replace("/tmp/", f"{tmp_path}/")
    assert len(code.strip().splitlines()) <= 10
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["(31,", "120,", "160)", "float32", "True", "True"]
    assert read_mat_cube(tmp_path / "photo.mat").cube.shape == (31, 120, 160)


def test_photo_input_is_normalised_as_the_validation_data(weights, tmp_path):
    """A validation image through the one-liner equals the network on the validation data path's input."""
    from hsi.data import FullImageDataset, ScenePair
    from hsi.io import write_mat_cube
    from hsi.models import load_checkpoint
    rgb_path = write_rgb(tmp_path / "scene_original.png", (_photo(40, 48) // 2 + 30).astype(np.uint8))
    cube_path = write_mat_cube(tmp_path / "scene.mat", np.full((31, 40, 48), 0.5, dtype=np.float32))
    item = FullImageDataset([ScenePair("scene", cube_path, rgb_path)])[0]
    model = build_model("mst_plus_plus").eval()
    model.load_state_dict(load_checkpoint(weights)["state_dict"])
    with torch.no_grad():
        expected = model(item["rgb"][None])[0].clamp(0, 1).numpy()
    got = reconstruct(read_photo(rgb_path), weights=weights, device="cpu")
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_the_training_camera_is_read_from_the_checkpoint_or_its_run(weights, tmp_path):
    from hsi.io import atomic_write_json
    from hsi.models import load_checkpoint
    from hsi.predict import load_network
    state = build_model("mst_plus_plus").state_dict()
    cases = {
        "recorded": ({"camera": "nikon_5100"}, None, "nikon_5100"),
        "onthefly": ({}, {"mode": "onthefly", "args": {"on_the_fly": True, "srf_name": None,
                                                      "srf_path": "./resources/A2a5320-23ucBAS_gain.npz"}},
                     "basler_a2A5320-23ucBAS (rendered on the fly)"),
        "fixed": ({}, {"mode": "fixed", "args": {}, "data_dir": str(tmp_path / "gen")}, "sigma_sdmerill (data in"),
        "bare": ({}, None, "unknown"),
    }
    atomic_write_json(tmp_path / "gen" / "manifest.json", {"settings": {"camera": "sigma_sdmerill"}})
    for name, (extra, config, expected) in cases.items():
        run = tmp_path / name
        path = save_checkpoint(run / "best.pth", build_model("mst_plus_plus"), method="mst_plus_plus", **extra)
        if config is not None:
            atomic_write_json(run / "config.json", {"config": config})
        net = load_network(None, path, "cpu")
        assert net.camera.startswith(expected), (name, net.camera)
        assert net.normalisation == "minmax" and "not recorded" in net.normalisation_source
    assert set(load_checkpoint(weights)["state_dict"]) == set(state)
