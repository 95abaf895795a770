"""hsi.models.adapter: SLIC labels as the paper computes them, the SSRNet SRF, extra inputs per method."""
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage import segmentation

from hsi.camera import DATA_DIR
from hsi.models import build_model
from hsi.models.adapter import extra_inputs, run_model, slic_labels, ssrnet_srf


def _smooth_rgb(n=2, h=40, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(n, 3, 5, 6, generator=g), size=(h, w), mode="bilinear", align_corners=False)


def test_slic_labels_are_the_paper_loaders_labels():
    rgb = _smooth_rgb()
    labels = slic_labels(rgb)
    assert labels.shape == (2, 4, 40, 48) and labels.dtype == torch.int64 and int(labels.min()) == 1
    for i in range(2):  # hsi_dataset.py: np.uint8(bgr * 255.0), CHW -> HWC, slic(start_label=1, n_segments=s)
        img = np.transpose(np.uint8(rgb[i].numpy() * 255.0), (1, 2, 0))
        for j, s in enumerate((8, 12, 16, 20)):
            np.testing.assert_array_equal(labels[i, j].numpy(), segmentation.slic(img, start_label=1, n_segments=s))
    assert torch.equal(slic_labels(rgb[0]), labels[0])  # unbatched, for a dataset's __getitem__


def test_ssrnet_srf_rows_sum_to_one_and_default_is_the_paper_camera():
    csv = np.loadtxt(Path(DATA_DIR) / "basler_a2A5320-23ucBAS_srf.csv", delimiter=",", skiprows=1)
    expected = torch.from_numpy(csv[:, 1:].T.astype(np.float32))
    expected = expected / expected.sum(-1, keepdim=True)
    torch.testing.assert_close(ssrnet_srf(), expected)
    torch.testing.assert_close(ssrnet_srf(csv[:, 1:]), expected)
    torch.testing.assert_close(ssrnet_srf(torch.from_numpy(csv[:, 1:])), expected)
    with pytest.raises(ValueError):
        ssrnet_srf(csv[:, 1:].T)


def test_extra_inputs_per_method():
    rgb = _smooth_rgb(1, 16, 16)
    assert extra_inputs("mst_plus_plus", rgb) == ()
    (lab,) = extra_inputs("HPRN", rgb)
    assert lab.shape == (1, 4, 16, 16)
    (srf,) = extra_inputs("ssrnet", rgb.double())
    assert srf.shape == (3, 31) and srf.dtype == torch.float64


def test_run_model_with_precomputed_extra_equals_computed():
    torch.manual_seed(0)
    model = build_model("ssrnet").eval()
    rgb = _smooth_rgb(1, 24, 24)
    srf = np.random.default_rng(0).random((31, 3))
    with torch.no_grad():
        a = run_model(model, "ssrnet", rgb, srf)
        b = run_model(model, "ssrnet", rgb, extra=extra_inputs("ssrnet", rgb, srf))
        c = model(ssrnet_srf(srf), rgb)  # the public argument order works too
    assert torch.equal(a, b) and torch.equal(a, c)


def test_run_model_rejects_bad_input():
    model = build_model("edsr")
    with pytest.raises(ValueError):
        run_model(model, "edsr", torch.rand(3, 8, 8))
