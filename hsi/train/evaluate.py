"""Full-image evaluation: the network on each validation image, the paper's metrics per image."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterable

import torch
from tqdm import tqdm

from hsi.metrics import image_metrics, summarise_rows
from hsi.models.adapter import ZooModule, run_model
from hsi.models.ensemble import self_ensemble


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA (and CPU) when ``enabled``; a no-op context otherwise."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.no_grad()
def predict(model: torch.nn.Module, method: str, rgb: torch.Tensor, srf=None, amp: bool = False,
            ensemble: bool = False) -> torch.Tensor:
    """``(N, 31, H, W)`` float32 reconstruction of ``rgb (N, 3, H, W)`` (optionally 8-way self-ensemble).

    ``model``: a module of ``build_model`` (called as ``model(rgb)``; ``srf`` given here replaces its own
    camera) or any network of the zoo's calling convention (``hsi.models.adapter.run_model``).
    """
    def fn(x):
        with autocast(x.device, amp):
            if isinstance(model, ZooModule) and srf is None:
                return model(x).float()
            return run_model(model, method, x, srf).float()
    return self_ensemble(fn, rgb) if ensemble else fn(rgb)


@torch.no_grad()
def evaluate(model: torch.nn.Module, method: str, samples: Iterable[dict], device: torch.device, srf=None,
             amp: bool = False, border: int = 0, ensemble: bool = False, loss_fn: Callable | None = None,
             on_prediction: Callable[[str, torch.Tensor], None] | None = None, progress: bool = False
             ) -> tuple[list[dict], dict]:
    """Evaluate on full images (batch 1).

    Args:
        samples: items ``{"rgb": (3, H, W), "cube": (31, H, W), "name": str}`` (or batched with N=1).
        border: pixels cropped from every side before the metrics (MST++ protocol: 128).
        loss_fn: also report the training loss on each image (``"loss"``).
        on_prediction: called with ``(name, prediction (31, H, W))``, e.g. to save reconstructions.

    Returns:
        ``(rows, summary)``: one dict per image (name, MRAE, RMSE, PSNR, SAM[, loss]) and their means.
        MRAE and RMSE use the unclipped prediction; PSNR and SAM clamp to [0, 1] (the paper's formulas).
    """
    was_training = model.training
    model.eval()
    rows = []
    try:
        for item in tqdm(samples, desc="validate", disable=not progress, leave=False):
            rgb, cube = item["rgb"], item["cube"]
            name = item["name"] if isinstance(item["name"], str) else item["name"][0]
            if rgb.ndim == 3:
                rgb, cube = rgb.unsqueeze(0), cube.unsqueeze(0)
            rgb, cube = rgb.to(device), cube.to(device)
            pred = predict(model, method, rgb, srf, amp, ensemble)
            row = {"name": name, **image_metrics(pred, cube, border=border)}
            if loss_fn is not None:
                row["loss"] = float(loss_fn(pred, cube))
            rows.append(row)
            if on_prediction is not None:
                on_prediction(name, pred[0])
    finally:
        model.train(was_training)
    summary = summarise_rows(rows)
    if loss_fn is not None and rows:
        summary["loss"] = sum(r["loss"] for r in rows) / len(rows)
    return rows, summary
