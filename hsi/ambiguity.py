"""Ambiguity as a number: bounds that no RGB-only method can beat, computed without a network.

Three facts (see ``docs/ambiguity.md``):

1. **Paired bound** (``pair_distance``). An original ``s`` and its exact metamer ``m`` give identical RGB,
   so any RGB-only method returns one prediction ``y`` for both; for a metric obeying the triangle
   inequality ``err(y, s) + err(y, m) >= d(s, m)``, hence ``max(err(y, s), err(y, m)) >= d(s, m) / 2``.
2. **Metamer set of a pixel** (``band_ranges``). The spectra a pixel could have are
   ``M(y) = {x : C^T x = y, 0 <= x <= u}``; the smallest and largest value of each band over it are two
   linear programmes. Half the widest band range lower-bounds the worst-case error at that pixel.
3. **Metamers through the optics** (``metamer_through_optics``). A shift-invariant per-band PSF leaves a
   28-dimensional null space per spatial frequency: the nearest bounded cube to a target that renders
   to the original's camera signal through the PSF is found by a dual method solved per frequency.

Everything is torch, batched, float64 inside, on the device of the inputs.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch

from hsi.metamer import MetamerResult, _alpha_tensor, alpha_metamer, exact_bounds
from hsi.metrics import EPSILON, crop_border
from hsi.render import PSF_BOUNDARIES, convolve_psf

FEASIBILITY_TOL = 1e-7
"""Default tolerance of ``band_ranges``' feasibility test, relative to ``upper * sum_b |C_b|``."""


# ------------------------------------------------------------------------ 2. metamer set of a pixel
def _subset_normals(c: torch.Tensor) -> tuple[torch.Tensor, list[tuple[int, ...]]]:
    """Unit normals of the hyperplanes spanned by every ``k - 1`` linearly independent rows of ``c (B, k)``.

    Returns ``(normals (S, k), subsets)``; degenerate subsets (rank < k - 1) are left out.
    """
    b, k = c.shape
    subsets = list(itertools.combinations(range(b), k - 1))
    rows = c[torch.tensor(subsets, device=c.device)]                     # (S, k-1, k)
    _, sv, vh = torch.linalg.svd(rows, full_matrices=True)
    scale = c.norm(dim=1).max()
    keep = sv[:, -1] > 1e-9 * scale                                      # rank k-1
    keep_idx = torch.nonzero(keep).squeeze(1).tolist()
    return vh[keep, -1, :], [subsets[i] for i in keep_idx]


def _dual_vertex_table(c: torch.Tensor) -> torch.Tensor:
    """``(2, B, K, k + 1)``: for every band ``b`` the dual vertices of ``max x_b`` (index 0) and of
    ``max -x_b`` (index 1) over ``{C^T x = y, 0 <= x <= u}``.

    Row ``[lam, h]`` gives the dual value ``lam . y + u h`` with ``h = sum_i max(0, +-e_b,i - c_i . lam)``.
    The dual is convex piecewise linear with kinks on ``c_i . lam = e_b,i``; an optimal vertex solves
    three of them with independent ``c_i``: ``lam = 0`` or ``c_b . lam = +-1`` with ``c_i . lam = 0`` on
    ``k - 1`` other bands, i.e. ``lam = +-n / (c_b . n)`` for a subset normal ``n``. Bands without a
    vertex are padded with copies of ``lam = 0``.
    """
    b, k = c.shape
    normals, subsets = _subset_normals(c)
    member = torch.zeros(len(subsets), b, dtype=torch.bool, device=c.device)
    for j, sub in enumerate(subsets):
        member[j, list(sub)] = True
    dots = normals @ c.T                                                  # (S, B): c_b . n
    usable = (~member) & (dots.abs() > 1e-9 * c.norm(dim=1).clamp_min(1e-300))
    k_max = int(usable.sum(0).max()) + 1
    table = torch.zeros(2, b, k_max, k + 1, dtype=c.dtype, device=c.device)
    eye = torch.eye(b, dtype=c.dtype, device=c.device)
    for band in range(b):
        idx = torch.nonzero(usable[:, band]).squeeze(1)
        lam = torch.cat([torch.zeros(1, k, dtype=c.dtype, device=c.device),
                         normals[idx] / dots[idx, band:band + 1]])        # (K_b, k), c_b . lam = 1
        for sign, slot in ((1.0, 0), (-1.0, 1)):
            lam_s = sign * lam
            h = (sign * eye[band] - lam_s @ c.T).clamp_min(0).sum(1)
            table[slot, band, :lam.shape[0], :k] = lam_s
            table[slot, band, :lam.shape[0], k] = h
            table[slot, band, lam.shape[0]:, k] = 1.0 if sign > 0 else 0.0   # padding: lam = 0
    return table


def feasibility_violation(signal: torch.Tensor, srf: torch.Tensor, upper) -> torch.Tensor:
    """``(P,)`` how far each signal lies outside the zonotope ``{C^T x : 0 <= x <= u}`` (camera units;
    <= 0 inside). Exact: the zonotope's facet normals are the normals of ``k - 1`` response rows."""
    c = torch.as_tensor(srf, dtype=torch.float64, device=signal.device)
    y = signal.to(torch.float64)
    u = _upper_rows(upper, y)
    normals, _ = _subset_normals(c)
    n = torch.cat([normals, -normals])                                    # (2S, k)
    support = (n @ c.T).clamp_min(0).sum(1)                               # (2S,) per unit of u
    return (y @ n.T - u[:, None] * support[None]).amax(1)


def _upper_rows(upper, y: torch.Tensor) -> torch.Tensor:
    u = torch.as_tensor(upper, dtype=torch.float64, device=y.device).reshape(-1)
    if u.numel() == 1:
        u = u.expand(y.shape[0])
    if u.numel() != y.shape[0]:
        raise ValueError(f"upper must be a scalar or have one value per pixel ({y.shape[0]}), got {u.numel()}")
    if bool((u <= 0).any()):
        raise ValueError("upper must be > 0")
    return u


@dataclass
class BandRanges:
    """Output of ``band_ranges``.

    Attributes:
        lo, hi: ``(P, bands)`` float64 smallest / largest value of each band over the pixel's metamer set
            (same units as ``upper``); NaN where the signal is infeasible.
        feasible: ``(P,)`` bool: some spectrum in ``[0, upper]`` gives the signal (to the tolerance).
        violation: ``(P,)`` distance outside the set of possible signals (camera units, <= 0 inside).
    """

    lo: torch.Tensor
    hi: torch.Tensor
    feasible: torch.Tensor
    violation: torch.Tensor

    def __iter__(self):                      # ``lo, hi = band_ranges(...)`` works
        return iter((self.lo, self.hi))

    @property
    def width(self) -> torch.Tensor:
        """``(P, bands)`` ``hi - lo``."""
        return self.hi - self.lo


def band_ranges(signal: torch.Tensor, srf: torch.Tensor, upper, chunk: int | None = None,
                feasibility_tol: float = FEASIBILITY_TOL, strict: bool = False) -> BandRanges:
    """Exact range of each band over the metamer set ``{x : C^T x = signal, 0 <= x <= upper}``.

    Each bound is the optimum of a 31-variable LP; by LP duality it is the smallest dual value over the
    dual's vertices, which depend on ``srf`` only (``_dual_vertex_table``): one small matrix product per
    pixel chunk and a minimum, exact up to float64 rounding.

    Args:
        signal: ``(P, k)`` linear camera signals ``C^T s`` (before noise and exposure); pass float64 for
            exactness: float32 rounding (~1e-7 relative) is amplified up to ~1e-5 for spectra on the
            boundary of the set (e.g. many bands at 0 or ``upper``).
        srf: ``(bands, k)`` camera response ``C`` (rank k).
        upper: the bound ``u`` on every band, scalar or ``(P,)`` (> 0).
        chunk: pixels per matrix product (memory: ``chunk * 2 * bands * 436 * 8`` bytes for 31x3);
            default 256 on CPU (cache-friendly), 8192 on a GPU.
        feasibility_tol: a signal outside the set of possible signals by more than this, relative to
            ``upper * sum_b |C_b|``, is infeasible.
        strict: raise ``ValueError`` on an infeasible signal instead of reporting it.

    Returns:
        ``BandRanges`` (``lo``, ``hi``, ``feasible``, ``violation``); unpacks as ``lo, hi``.
    """
    if signal.ndim != 2 or srf.ndim != 2 or signal.shape[1] != srf.shape[1]:
        raise ValueError(f"expected signal (P, k) and srf (bands, k), got {tuple(signal.shape)}, {tuple(srf.shape)}")
    c = torch.as_tensor(srf, dtype=torch.float64, device=signal.device)
    if int(torch.linalg.matrix_rank(c)) < c.shape[1]:
        raise ValueError("the camera response is degenerate (rank < channels)")
    y = signal.to(torch.float64)
    u = _upper_rows(upper, y)
    if chunk is None:
        chunk = 256 if y.device.type == "cpu" else 8192
    violation = feasibility_violation(y, c, u)
    feasible = violation <= feasibility_tol * u * c.norm(dim=1).sum()
    if strict and not bool(feasible.all()):
        bad = torch.nonzero(~feasible).squeeze(1)
        raise ValueError(f"{bad.numel()} signal(s) no spectrum in [0, upper] can give, e.g. pixel {int(bad[0])}: "
                         f"{y[bad[0]].tolist()} (outside by {float(violation[bad[0]]):.3g})")
    table = _dual_vertex_table(c)                                         # (2, B, K, k+1)
    two, b, kv, k1 = table.shape
    flat = table.reshape(-1, k1).T.contiguous()                           # (k+1, 2 B K)
    lo = torch.empty(y.shape[0], b, dtype=torch.float64, device=y.device)
    hi = torch.empty_like(lo)
    for start in range(0, y.shape[0], chunk):
        sl = slice(start, start + chunk)
        aug = torch.cat([y[sl], u[sl, None]], dim=1)                      # (p, k+1)
        best = (aug @ flat).view(-1, two, b, kv).amin(-1)                 # (p, 2, B)
        hi[sl], lo[sl] = best[:, 0], -best[:, 1]
    nan = torch.full_like(lo, float("nan"))
    lo = torch.where(feasible[:, None], lo, nan)
    hi = torch.where(feasible[:, None], hi, nan)
    return BandRanges(lo=lo, hi=hi, feasible=feasible, violation=violation)


# ---------------------------------------------------------------------------------- 1. paired bound
@dataclass
class PairBound:
    """Paired lower bounds per image (``(N,)`` float64 each) for an original and its exact metamer.

    ``rmse``, ``sam`` (radians), ``mrae``: half the paired distance ``d(s, m)`` in that metric as
    ``hsi.metrics`` computes it: for every prediction ``y`` made from the (identical) RGB,
    ``err(y, s) + err(y, m) >= 2 * bound``, so ``max(err(y, s), err(y, m)) >= bound``; the same holds for
    means over images. The midpoint ``(s + m) / 2`` attains the RMSE bound.
    """

    rmse: torch.Tensor
    sam: torch.Tensor
    mrae: torch.Tensor

    def as_dict(self, index: int | None = None) -> dict:
        """``{"RMSE": ..., "SAM": ..., "MRAE": ...}``: floats for image ``index``, else lists."""
        items = {"RMSE": self.rmse, "SAM": self.sam, "MRAE": self.mrae}
        if index is None:
            return {k: [float(v) for v in t] for k, t in items.items()}
        return {k: float(t[index]) for k, t in items.items()}

    def distance(self) -> dict:
        """The full paired distances ``d(s, m) = 2 * bound`` (the line ``x + y = d`` of the report)."""
        return {"RMSE": 2 * self.rmse, "SAM": 2 * self.sam, "MRAE": 2 * self.mrae}


def _pixel_angle_sum_bound(s: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``(N, H, W)`` smallest ``SAM_px(y, s) + SAM_px(y, m)`` over ``y`` (hsi.metrics' SAM: clamped to
    [0, 1], angle with ``eps`` in the denominator, which only enlarges angles of non-negative vectors).
    Both non-zero: the angle between them (stable half-angle form); a zero vector has angle pi/2 to
    everything in that metric, so each zero vector contributes pi/2."""
    s, m = s.clamp(0, 1), m.clamp(0, 1)
    ns, nm = s.norm(dim=1), m.norm(dim=1)
    both = (ns > 0) & (nm > 0)
    us = s / ns.clamp_min(1e-300).unsqueeze(1)
    um = m / nm.clamp_min(1e-300).unsqueeze(1)
    angle = 2 * torch.atan2((us - um).norm(dim=1), (us + um).norm(dim=1))
    zeros = (ns == 0).to(s.dtype) + (nm == 0).to(s.dtype)
    return torch.where(both, angle, zeros * (torch.pi / 2))


def pair_distance(original: torch.Tensor, metamer: torch.Tensor, eps: float = EPSILON, border: int = 0) -> PairBound:
    """The paired bounds of ``original`` and ``metamer`` ``(N, bands, H, W)`` (or ``(bands, H, W)``).

    RMSE: ``RMSE(s, m) / 2`` (triangle inequality of the scaled Euclidean norm, per image).
    SAM: mean over pixels of the angle between ``s`` and ``m``, / 2 (the angle is a metric on the sphere).
    MRAE: mean over voxels of ``|s - m| / (max(s, m) + eps)``, / 2 (the smallest weighted sum
    ``|y - s| / (s + eps) + |y - m| / (m + eps)``; valid for ``s, m > -eps``).

    Args:
        eps: the MRAE epsilon of ``hsi.metrics`` (1e-6, the paper's).
        border: pixels cropped from each side first, as ``hsi.metrics.compute_metrics``.
    """
    if original.shape != metamer.shape:
        raise ValueError(f"original {tuple(original.shape)} and metamer {tuple(metamer.shape)} differ in shape")
    if original.ndim == 3:
        original, metamer = original.unsqueeze(0), metamer.unsqueeze(0)
    s = crop_border(original.to(torch.float64), border)
    m = crop_border(metamer.to(torch.float64), border)
    rmse = ((s - m) ** 2).mean(dim=(1, 2, 3)).sqrt()
    sam = _pixel_angle_sum_bound(s, m).mean(dim=(1, 2))
    mrae = ((s - m).abs() / (torch.maximum(s, m) + eps)).mean(dim=(1, 2, 3))
    return PairBound(rmse=rmse / 2, sam=sam / 2, mrae=mrae / 2)


# ------------------------------------------------------------------------- 3. metamers through optics
def psf_transfer(psf: torch.Tensor, size: tuple[int, int], boundary: str = "circular") -> torch.Tensor:
    """``(bands, H, W//2+1)`` complex128 transfer function of ``hsi.render.convolve_psf`` at image
    ``size``: the ``rfft2`` of its response to a unit impulse at pixel (0, 0). Exact for the periodic
    conventions (``circular``: the paper's centring, a phase per frequency; ``periodic``), which are
    circular convolutions; ``linear`` is not one and is refused."""
    if boundary not in PSF_BOUNDARIES or boundary == "linear":
        raise ValueError(f"metamers through the optics need a periodic boundary ('circular' or 'periodic'), "
                         f"got {boundary!r}")
    psf = torch.as_tensor(psf)
    delta = torch.zeros(1, psf.shape[0], *size, dtype=torch.float64, device=psf.device)
    delta[..., 0, 0] = 1.0
    return torch.fft.rfft2(convolve_psf(delta, psf.to(torch.float64), boundary))[0]


def optics_signal(cube: torch.Tensor, srf: torch.Tensor, psf: torch.Tensor | None,
                  boundary: str = "circular") -> torch.Tensor:
    """Linear camera signal through the optics ``C^T (PSF * x)`` ``(N, k, H, W)`` float64 (no clipping,
    unlike ``hsi.render.project``); ``psf=None``: no blur."""
    x = cube.to(torch.float64)
    if psf is not None:
        x = convolve_psf(x, torch.as_tensor(psf).to(device=x.device, dtype=torch.float64), boundary)
    c = torch.as_tensor(srf, dtype=torch.float64, device=x.device)
    return torch.einsum("nbhw,bk->nkhw", x, c)


@dataclass
class OpticsMetamerResult(MetamerResult):
    """``hsi.metamer.MetamerResult`` of ``metamer_through_optics``; its ``rgb_*`` deviations are measured
    through the optics (``optics_signal``), plus:

    Attributes:
        residual: ``(N,)`` the stopping criterion of the iterate (float64): largest
            ``|C^T(PSF * x) - C^T(PSF * s)|`` over pixels and channels / the largest ``|C^T(PSF * s)|``.
        converged: every image reached ``residual <= tol``.
    """

    residual: torch.Tensor | None = None
    converged: bool = False


def _gram_pinv(p: torch.Tensor, c: torch.Tensor, rtol: float) -> torch.Tensor:
    """``(H, Wf, k, k)`` pseudo-inverse of ``A A^H = C^T diag(|P(f)|^2) C`` (real symmetric) per frequency;
    eigenvalues below ``rtol`` times the largest of all frequencies count as zero (rank loss)."""
    gram = torch.einsum("bk,bl,bhf->hfkl", c, c, p.abs() ** 2)
    evals, evecs = torch.linalg.eigh(gram)
    inv = torch.where(evals > rtol * evals.max(), 1.0 / evals.clamp_min(1e-300), torch.zeros_like(evals))
    return torch.einsum("hfkj,hfj,hflj->hfkl", evecs, inv, evecs).to(torch.complex128)


@dataclass
class _OpticsProblem:
    """The ``exact_optics`` problem in one precision: target ``m``, bounds, transfer ``p (bands, H, Wf)``,
    camera ``c (bands, k)`` (complex), ``(A A^*)^+`` per frequency, and the target signal ``b_hat``."""

    m: torch.Tensor
    lo: torch.Tensor
    hi: torch.Tensor
    p: torch.Tensor
    c: torch.Tensor
    g_pinv: torch.Tensor
    b_hat: torch.Tensor
    peak: torch.Tensor

    def to(self, real: torch.dtype) -> "_OpticsProblem":
        cplx = torch.complex64 if real == torch.float32 else torch.complex128
        return _OpticsProblem(*(v.to(real) if not v.is_complex() else v.to(cplx) for v in
                                (self.m, self.lo, self.hi, self.p, self.c, self.g_pinv, self.b_hat)),
                              peak=self.peak)

    def forward(self, x_hat: torch.Tensor) -> torch.Tensor:      # (N, bands, H, Wf) -> (N, k, H, Wf)
        return torch.einsum("bk,nbhf->nkhf", self.c, self.p * x_hat)

    def primal(self, lam_hat: torch.Tensor) -> torch.Tensor:     # x(lam) = clip(m + A^* lam, lo, hi)
        size = self.m.shape[-2:]
        back = torch.fft.irfft2(self.p.conj() * torch.einsum("bk,nkhf->nbhf", self.c, lam_hat), s=size)
        return torch.clamp(self.m + back, self.lo, self.hi)

    def residual(self, r_hat: torch.Tensor) -> torch.Tensor:     # (N,) max |signal residual| / peak
        return torch.fft.irfft2(r_hat, s=self.m.shape[-2:]).abs().amax(dim=(1, 2, 3)).double() / self.peak


def _dual_ascent(prob: _OpticsProblem, lam: torch.Tensor, tol: float, max_iter: int, check_every: int,
                 accelerate: bool):
    """Preconditioned dual ascent (with Nesterov momentum and gradient restart when ``accelerate``) from
    ``lam``; returns ``(x, lam, iterations, residual)`` when every image's residual is <= ``tol``."""
    mu, t = lam, 1.0
    it = 0
    while True:
        it += 1
        x = prob.primal(mu)
        r_hat = prob.b_hat - prob.forward(torch.fft.rfft2(x))
        if it == 1 or it % check_every == 0 or it >= max_iter:
            residual = prob.residual(r_hat)
            if bool((residual <= tol).all()) or it >= max_iter:
                return x, mu, it, residual
        lam_new = mu + torch.einsum("hfkl,nlhf->nkhf", prob.g_pinv, r_hat)
        if accelerate:
            if float((r_hat.conj() * (lam_new - lam)).real.sum()) < 0:   # momentum points downhill
                t = 1.0
            t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
            mu = lam_new + ((t - 1) / t_new) * (lam_new - lam)
            t = t_new
        else:
            mu = lam_new
        lam = lam_new


FLOAT32_RESIDUAL = 3e-6
"""``metamer_through_optics`` iterates in float32 down to this residual (its floor is ~1e-7 to ~1e-6), then in float64."""


def metamer_through_optics(cube: torch.Tensor, srf: torch.Tensor, psf: torch.Tensor, alpha=0.0, upper=None,
                           boundary: str = "circular", tol: float = 5e-7, max_iter: int = 3000,
                           check_every: int = 5, accelerate: bool = True, rank_rtol: float = 1e-12
                           ) -> OpticsMetamerResult:
    """``exact_optics`` metamer: ``argmin ||x - m||`` s.t. ``C^T(PSF * x) = C^T(PSF * s)``, ``lo <= x <= hi``.

    ``m`` is the alpha-metamer target (``hsi.metamer.alpha_metamer``), ``lo, hi`` the bounds of ``exact``
    mode (``exact_bounds``), the convolution ``hsi.render.convolve_psf``'s with a periodic ``boundary``.
    Method: ascent on the dual of the affine constraint, whose variable is a camera-signal image; the
    primal point ``x(lam) = clip(m + A^* lam, lo, hi)`` always satisfies the bounds exactly, the dual
    gradient is the signal residual, and the step is preconditioned by ``(A A^*)^+``, a 3x3 solve per
    spatial frequency (rfft2; ``A(f) = C^T diag(P(f))``, pseudo-inverse where it loses rank). Without
    ``accelerate`` this is Dykstra's alternating projection between the affine set and the box; with it,
    Nesterov momentum with adaptive restart. The iterations run in float32 down to ``FLOAT32_RESIDUAL``,
    then in float64 down to ``tol``. With a delta PSF it solves ``metamer_exact``'s problem.

    Args:
        cube: ``(N, bands, H, W)`` originals (or ``(bands, H, W)``).
        srf: ``(bands, k)`` camera response.
        psf: ``(bands, h, w)`` PSF (any scale: ``convolve_psf`` normalises each band).
        alpha: scalar or ``(N,)``; upper: scalar or ``(N,)`` (default each image's maximum).
        boundary: ``"circular"`` (the paper's) or ``"periodic"``.
        tol: stop when every image's ``residual`` (see ``OpticsMetamerResult``) is <= ``tol``.
        max_iter: iterations at most (both phases); check_every: residual check interval (iterations).
        rank_rtol: relative eigenvalue threshold of the per-frequency pseudo-inverse.
    """
    if psf is None:
        raise ValueError("metamer_through_optics needs a PSF; without one use hsi.metamer's exact mode")
    if cube.ndim == 3:
        cube = cube.unsqueeze(0)
    n, b, h, w = cube.shape
    s = cube.to(torch.float64)
    c = torch.as_tensor(srf, dtype=torch.float64, device=cube.device)
    m = alpha_metamer(cube, c, alpha)
    lo, hi = exact_bounds(s, upper)
    clipped = ((m < lo) | (m > hi)).to(torch.float64).mean(dim=(1, 2, 3))
    p = psf_transfer(torch.as_tensor(psf).to(cube.device), (h, w), boundary)    # (bands, H, Wf)
    cz = c.to(torch.complex128)
    target = torch.einsum("bk,nbhf->nkhf", cz, p * torch.fft.rfft2(s))
    peak = torch.fft.irfft2(target, s=(h, w)).abs().amax(dim=(1, 2, 3)).clamp_min(1e-300)
    prob = _OpticsProblem(m, lo, hi, p, cz, _gram_pinv(p, c, rank_rtol), target, peak)
    lam = torch.zeros_like(target)
    iterations = 0
    if tol < FLOAT32_RESIDUAL:
        _, lam32, iterations, _ = _dual_ascent(prob.to(torch.float32), lam.to(torch.complex64), FLOAT32_RESIDUAL,
                                               max_iter, check_every, accelerate)
        lam = lam32.to(torch.complex128)
    x, _, it, residual = _dual_ascent(prob, lam, tol, max(1, max_iter - iterations), check_every, accelerate)
    return _optics_result(cube, c, p, x, target, peak, alpha, clipped, iterations + it, residual, tol)


def _optics_result(cube, c, p, x64, target, peak, alpha, clipped, iterations, residual, tol) -> OpticsMetamerResult:
    n, _, h, w = cube.shape
    out = x64.to(cube.dtype)
    sig = torch.einsum("bk,nbhf->nkhf", c.to(torch.complex128), p * torch.fft.rfft2(out.to(torch.float64)))
    dev = torch.fft.irfft2(sig - target, s=(h, w)).abs().amax(dim=(1, 2, 3))
    return OpticsMetamerResult(cube=out, rgb_max_abs_dev=dev, rgb_rel_dev=dev / peak, clipped_fraction=clipped,
                               alpha=_alpha_tensor(alpha, n, cube.device), iterations=iterations,
                               residual=residual, converged=bool((residual <= tol).all()))
