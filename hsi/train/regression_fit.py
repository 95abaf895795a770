"""Closed-form fit of the regression baselines (``hsi.models.regression``) by ridge regression.

The training pixels come from the same data path as the networks' batches: a ``PatchDataset`` with
its ``ResumableBatchSampler`` (fixed RGB/cube pairs: originals, fixed metamers) or the on-the-fly
renderer (``OnTheFlyRenderer``: the fit sees rendered metamer pixels and their metamer targets), so
the input normalisation is the networks' (per-image min-max). Per batch, the features ``F (P, f)`` (float64) and
targets ``Y (P, 31)`` of its ``P`` pixels are added to the normal equations ``F^T F`` and ``F^T Y``,
kept in factored form (``NormalEquations``: a running QR, float64, memory one batch plus two small
matrices). The solution for each regulariser ``lambda`` of a
small grid is

    W = (F^T F + lambda * trace(F^T F) / f * I)^-1 F^T Y            (lambda = 0: least squares)

and the one with the lowest validation MRAE (``hsi.metrics``, as the engine validates) is kept.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from hsi.metrics import compute_metrics, summarise
from hsi.models.regression import RootPolynomialRegression, build_regression

LOG = logging.getLogger("hsi.train")

DEFAULT_LAMBDAS = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
"""Ridge regularisers, relative to ``trace(F^T F) / n_features``."""


@dataclass(frozen=True)
class FitOptions:
    """Settings of the closed-form fit.

    Attributes:
        lambdas: relative ridge regularisers to try (chosen on the validation scenes).
        max_pixels: stop streaming batches once this many training pixels were added.
        max_batches: and after at most this many batches (None: no limit besides the stream's end).
        border: pixels cropped from each side of the validation images for the metrics.
    """

    lambdas: tuple[float, ...] = DEFAULT_LAMBDAS
    max_pixels: int = 2 ** 23
    max_batches: int | None = None
    border: int = 0

    def __post_init__(self):
        if not self.lambdas or any(not math.isfinite(l) or l < 0 for l in self.lambdas):
            raise ValueError(f"lambdas must be a non-empty list of finite values >= 0, got {self.lambdas}")
        if self.max_pixels <= 0:
            raise ValueError(f"max_pixels must be positive, got {self.max_pixels}")


class NormalEquations:
    """The normal equations ``F^T F = R^T R``, ``F^T Y = R^T Z`` of all pixels added, held in factored form.

    A running QR of the feature matrix: each batch's ``F_b = Q_b R_b`` (``Z_b = Q_b^T Y_b``) is merged into
    ``(R, Z)`` by a small QR of the stacked ``[R; R_b]``, so memory is one batch plus ``(f, f)`` and
    ``(f, bands)`` float64 matrices. Solving from ``R`` is as accurate as a least-squares solve on the
    whole ``F`` (forming ``F^T F`` squares the condition number; rpr3's nearly collinear terms would
    lose about 4 more digits).
    """

    def __init__(self, n_features: int, bands: int, device: torch.device | str = "cpu"):
        self.r = torch.zeros(n_features, n_features, dtype=torch.float64, device=device)
        self.z = torch.zeros(n_features, bands, dtype=torch.float64, device=device)
        self.pixels = 0

    @torch.no_grad()
    def add(self, feats: torch.Tensor, target: torch.Tensor) -> None:
        """Add the pixels of ``feats (N, f, H, W)`` and ``target (N, bands, H, W)``."""
        dev = self.r.device
        f = feats.to(dev, torch.float64).permute(0, 2, 3, 1).reshape(-1, feats.shape[1])
        y = target.to(dev, torch.float64).permute(0, 2, 3, 1).reshape(-1, target.shape[1])
        if f.shape[0] != y.shape[0]:
            raise ValueError(f"features {tuple(feats.shape)} and targets {tuple(target.shape)} differ in pixels")
        q_b, r_b = torch.linalg.qr(f)
        q, self.r = torch.linalg.qr(torch.cat([self.r, r_b]))
        self.z = q.T @ torch.cat([self.z, q_b.T @ y])
        self.pixels += f.shape[0]

    @property
    def ftf(self) -> torch.Tensor:
        """``F^T F (f, f)``."""
        return self.r.T @ self.r

    @property
    def fty(self) -> torch.Tensor:
        """``F^T Y (f, bands)``."""
        return self.r.T @ self.z


def solve_ridge(r: np.ndarray, z: np.ndarray, lam: float) -> np.ndarray:
    """``(f, bands)`` float64 minimiser of ``|F W - Y|^2 + lam * trace(F^T F)/f * |W|^2`` from the factors
    ``R``, ``Z`` of :class:`NormalEquations` (``lam`` 0: least squares; the minimum-norm solution where
    ``F`` is rank deficient, e.g. a feature that is zero on every training pixel)."""
    r, z = np.asarray(r, dtype=np.float64), np.asarray(z, dtype=np.float64)
    n = r.shape[1]
    if lam > 0:
        scale = np.sqrt(lam * np.sum(r * r) / n)
        r = np.vstack([r, scale * np.eye(n)])
        z = np.vstack([z, np.zeros((n, z.shape[1]))])
    return np.linalg.lstsq(r, z, rcond=None)[0]


def training_pairs(batches: Iterable[dict], renderer=None, device: torch.device | str = "cpu"
                   ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """``(rgb (N, 3, h, w), cube (N, 31, h, w))`` on ``device`` from the engine's batches: the batch's own
    ``rgb``/``cube`` (fixed data), or ``renderer(batch)`` (on-the-fly metamers)."""
    for batch in batches:
        if renderer is not None:
            yield renderer(batch)
        else:
            yield batch["rgb"].to(device), batch["cube"].to(device)


@dataclass
class FitResult:
    """The fitted model (best regulariser loaded), the validation summary of each regulariser and of the
    chosen one, and what the fit saw."""

    model: RootPolynomialRegression
    lam: float
    valid: dict | None
    per_lambda: list[dict] = field(default_factory=list)
    pixels: int = 0
    batches: int = 0
    seconds: float = 0.0


@torch.no_grad()
def validate_solutions(model: RootPolynomialRegression, solutions: list[np.ndarray], valid_set: Iterable[dict],
                       device: torch.device, border: int = 0, loss_fn=None) -> list[dict]:
    """Mean validation metrics (``hsi.metrics``) of each solution, on full images as the engine validates."""
    rows: list[list[dict]] = [[] for _ in solutions]
    for item in valid_set:
        rgb, cube = item["rgb"], item["cube"]
        if rgb.ndim == 3:
            rgb, cube = rgb.unsqueeze(0), cube.unsqueeze(0)
        rgb, cube = rgb.to(device), cube.to(device)
        for k, w in enumerate(solutions):
            model.set_solution(w)
            pred = model(rgb).float()
            m = compute_metrics(pred, cube, border=border)
            row = {k2: float(v[0]) for k2, v in m.items()}
            if loss_fn is not None:
                row["loss"] = float(loss_fn(pred, cube))
            rows[k].append(row)
    out = []
    for r in rows:
        s = summarise(r)
        if loss_fn is not None and r:
            s["loss"] = sum(x["loss"] for x in r) / len(r)
        out.append(s)
    return out


def fit_regression(model: RootPolynomialRegression, pairs: Iterable[tuple[torch.Tensor, torch.Tensor]],
                   valid_set: Iterable[dict] | None, device: torch.device | str = "cpu",
                   options: FitOptions = FitOptions(), loss_fn=None) -> FitResult:
    """Fit ``model`` in closed form on the training ``pairs`` and choose the regulariser on ``valid_set``.

    Args:
        model: a ``RootPolynomialRegression`` (its solution is overwritten).
        pairs: ``(rgb (N, 3, h, w), cube (N, 31, h, w))`` batches (``training_pairs``), read until
            ``options.max_pixels`` pixels or ``options.max_batches`` batches.
        valid_set: full validation images ``{"rgb", "cube", "name"}`` (``FullImageDataset``); ``None``:
            the smallest regulariser of the grid is kept.
        loss_fn: also report this loss on the validation images (as the engine does).

    Returns:
        ``FitResult`` with the model (on ``device``, eval mode, best solution loaded).
    """
    device = torch.device(device)
    model = model.to(device).eval()
    t0 = time.time()
    eq = NormalEquations(model.n_features, model.proj.out_channels, device)
    batches = 0
    for rgb, cube in pairs:
        eq.add(model.features(rgb.to(device, torch.float64)), cube.to(device))
        batches += 1
        if eq.pixels >= options.max_pixels or (options.max_batches is not None and batches >= options.max_batches):
            break
    if eq.pixels == 0:
        raise ValueError("no training pixels: the batch stream was empty")
    r, z = eq.r.cpu().numpy(), eq.z.cpu().numpy()
    lambdas = sorted(set(float(l) for l in options.lambdas))
    solutions = [solve_ridge(r, z, lam) for lam in lambdas]
    per_lambda: list[dict] = []
    best = 0
    if valid_set is not None:
        summaries = validate_solutions(model, solutions, valid_set, device, options.border, loss_fn)
        per_lambda = [{"lambda": lam, **s} for lam, s in zip(lambdas, summaries)]
        mrae = [s["MRAE"] if math.isfinite(s["MRAE"]) else math.inf for s in summaries]
        best = int(np.argmin(mrae))
    model.set_solution(solutions[best])
    valid = {k: v for k, v in per_lambda[best].items() if k != "lambda"} if per_lambda else None
    return FitResult(model=model, lam=lambdas[best], valid=valid,
                     per_lambda=per_lambda, pixels=eq.pixels, batches=batches, seconds=time.time() - t0)


def train_closed_form(cfg, train_set, valid_set=None, renderer=None, options: FitOptions | None = None) -> dict:
    """The engine's ``train`` for a closed-form baseline: same inputs, same run folder, same summary.

    Streams the batches the engine would train on (``ResumableBatchSampler`` over ``train_set``, rendered
    by ``renderer`` when given), fits, and writes ``config.json``, ``best.pth`` and ``last.pth`` (the
    usual checkpoint: ``{"state_dict", "method", "iteration", "valid", "fit"}``; they are identical,
    there is no optimiser) and ``summary.json`` with the engine's keys plus ``fit``.

    Args:
        cfg: ``hsi.train.engine.TrainConfig`` (uses method, out_dir, batch_size, seed, device,
            num_workers, loss, valid_border, extra).
        options: fit settings; default ``FitOptions(border=cfg.valid_border)``.
    """
    from torch.utils.data import DataLoader

    from hsi.data import ResumableBatchSampler
    from hsi.device import resolve_device
    from hsi.io import atomic_write_json, provenance
    from hsi.models import count_parameters, save_checkpoint
    from hsi.train.engine import setup_logging
    from hsi.train.losses import get_loss

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    setup_logging(out, True)
    device = resolve_device(cfg.device)
    options = options or FitOptions(border=cfg.valid_border)
    torch.manual_seed(cfg.seed)
    model = build_regression(cfg.method)
    sampler = ResumableBatchSampler(len(train_set), cfg.batch_size, seed=cfg.seed)
    loader = DataLoader(train_set, batch_sampler=sampler, num_workers=cfg.num_workers,
                        generator=torch.Generator().manual_seed(cfg.seed))
    run_config = {"method": cfg.method, "out_dir": str(out), "batch_size": cfg.batch_size, "seed": cfg.seed,
                  "device": str(device), "closed_form": True, "fit_options": asdict(options),
                  "parameters": count_parameters(model), "train_patches": len(train_set), **cfg.extra}
    atomic_write_json(out / "config.json", provenance(config=run_config))
    LOG.info("%s: closed-form ridge fit on up to %d training pixels (batches of %d), %d regularisers, device %s",
             cfg.method, options.max_pixels, cfg.batch_size, len(options.lambdas), device)
    loss_fn = get_loss(cfg.loss)
    res = fit_regression(model, training_pairs(loader, renderer, device), valid_set, device, options, loss_fn)
    del loader
    for row in res.per_lambda:
        LOG.info("lambda %.0e: validation MRAE %.4f RMSE %.4f PSNR %.2f SAM %.4f", row["lambda"], row["MRAE"],
                 row["RMSE"], row["PSNR"], row["SAM"])
    fit = {"lambda": res.lam, "pixels": res.pixels, "batches": res.batches, "per_lambda": res.per_lambda,
           "seconds": res.seconds}
    extra = {"method": cfg.method, "iteration": res.batches, "valid": res.valid, "fit": fit}
    for name in ("camera", "rgb_normalisation"):
        if cfg.extra.get(name) is not None:
            extra[name] = cfg.extra[name]
    for name in ("best.pth", "last.pth"):
        save_checkpoint(out / name, res.model.cpu(), **extra)
    result = {"method": cfg.method, "iterations": res.batches, "finished": True,
              "best_valid_mrae": res.valid["MRAE"] if res.valid else math.nan, "final_valid": res.valid,
              "seconds": res.seconds, "samples_per_s": res.batches * cfg.batch_size / max(res.seconds, 1e-9),
              "fit": fit}
    atomic_write_json(out / "summary.json", provenance(**result))
    LOG.info("fitted %s on %d pixels (%d batches) in %.1f s; lambda %.0e; validation MRAE %s; run folder %s",
             cfg.method, res.pixels, res.batches, res.seconds, res.lam,
             f"{res.valid['MRAE']:.4f}" if res.valid else "n/a", out)
    return result
