"""Metameric black: spectra that differ from a cube's but give (nearly) the same camera RGB.

For a camera response ``C (bands, 3)`` the projector onto the camera's fundamental subspace is
``R = C (C^T C)^-1 C^T`` (``bands x bands``, rank 3). A spectrum ``s`` splits into its fundamental
metamer ``R s`` and its metameric black ``(I - R) s`` (``C^T (I - R) s = 0``); the alpha-metamer is
``m = R s + alpha (I - R) s``: alpha = 1 returns ``s``, alpha = 0 the fundamental metamer, alpha < 0 or
> 1 inverts or exaggerates the black. ``m`` can be negative, which no radiance is. Two modes:

* ``clip`` (the paper's): ``max(m, 0)``. This breaks exact metamerism; ``MetamerResult`` reports the
  largest RGB deviation from the original and the fraction of clipped values.
* ``exact`` (new): the nearest spectrum to ``m`` that is physically valid (``0 <= x <= upper``, upper
  = the original cube's maximum) and has exactly the original's camera response ``C^T x = C^T s``.
  The set is never empty (``s`` is in it). Solved per pixel as a small quadratic programme by a
  vectorised semi-smooth Newton method on its 3-variable dual (projected-gradient free set, backtracking
  line search), batched over all pixels on CPU or GPU.
* ``exact_optics`` (new): the nearest spectrum cube to ``m`` within ``exact``'s bounds whose camera
  signal *through the PSF* equals the original's, ``C^T (PSF * x) = C^T (PSF * s)`` (periodic boundary:
  ``circular``, the paper's, or ``periodic``); ``hsi.ambiguity.metamer_through_optics``. Pixel-wise
  ``exact`` metamers are not invisible through a PSF; these are. Without a PSF it is ``exact``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

METAMER_MODES = ("clip", "exact", "exact_optics")
"""Metamer modes of ``make_metamer`` (and of every ``--metamer_mode`` flag)."""
DEFAULT_ALPHA_RANGE = (-1.0, 2.0)


def projector(srf: torch.Tensor) -> torch.Tensor:
    """``R = C (C^T C)^-1 C^T`` for ``srf = C (bands, 3)``; computed in float64, returned as such."""
    c = torch.as_tensor(srf).to(torch.float64)
    if c.ndim != 2 or c.shape[0] < c.shape[1]:
        raise ValueError(f"srf must be (bands, channels) with bands >= channels, got {tuple(c.shape)}")
    # solve_ex: no host sync on a GPU (a singular C^T C, i.e. a degenerate camera, is reported on CPU)
    solution, info = torch.linalg.solve_ex(c.T @ c, c.T)
    if c.device.type == "cpu" and int(info) != 0:
        raise ValueError("the camera response is degenerate: C^T C is singular")
    return c @ solution


@dataclass
class MetamerResult:
    """A metamer batch and how metameric it really is.

    Attributes:
        cube: ``(N, bands, H, W)`` metamer, dtype of the input.
        rgb_max_abs_dev: ``(N,)`` largest ``|C^T x - C^T s|`` over pixels and channels (camera units).
        rgb_rel_dev: ``(N,)`` the same divided by the largest original camera value of the image.
        clipped_fraction: ``(N,)`` fraction of the unclipped metamer's values outside the valid range
            (below 0 for ``clip``; below 0 or above ``upper`` for ``exact``).
        alpha: ``(N,)`` the coefficients used.
        iterations: Newton iterations of ``exact`` (0 for ``clip``).
    """

    cube: torch.Tensor
    rgb_max_abs_dev: torch.Tensor
    rgb_rel_dev: torch.Tensor
    clipped_fraction: torch.Tensor
    alpha: torch.Tensor
    iterations: int = 0

    def stats(self, index: int = 0) -> dict:
        """Per-image statistics as plain floats (for manifests)."""
        return {"alpha": float(self.alpha[index]), "rgb_max_abs_dev": float(self.rgb_max_abs_dev[index]),
                "rgb_rel_dev": float(self.rgb_rel_dev[index]), "clipped_fraction": float(self.clipped_fraction[index])}


def _alpha_tensor(alpha, n: int, device) -> torch.Tensor:
    a = torch.as_tensor(alpha, dtype=torch.float64, device=device).reshape(-1)
    if a.numel() == 1:
        a = a.expand(n)
    if a.numel() != n:
        raise ValueError(f"alpha must be a scalar or have one value per image ({n}), got {a.numel()}")
    return a


def random_alpha(n: int, low: float = DEFAULT_ALPHA_RANGE[0], high: float = DEFAULT_ALPHA_RANGE[1],
                 generator: torch.Generator | None = None, device: torch.device | str = "cpu") -> torch.Tensor:
    """``(n,)`` coefficients drawn uniformly from ``[low, high)`` (default [-1, 2), the paper's range)."""
    if not high >= low:
        raise ValueError(f"alpha range must have high >= low, got [{low}, {high}]")
    u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
    return low + (high - low) * u


def alpha_metamer(cube: torch.Tensor, srf: torch.Tensor, alpha) -> torch.Tensor:
    """Unclipped ``R s + alpha (I - R) s`` in float64; ``cube (N, bands, H, W)``, alpha scalar or ``(N,)``."""
    r = projector(srf).to(cube.device)
    s = cube.to(torch.float64)
    fundamental = torch.einsum("ij,njhw->nihw", r, s)
    a = _alpha_tensor(alpha, s.shape[0], s.device).view(-1, 1, 1, 1)
    return fundamental + a * (s - fundamental)


def _camera(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return torch.einsum("nbhw,bk->nkhw", x, c)


def camera_deviation(cube: torch.Tensor, metamer: torch.Tensor, srf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """How metameric ``metamer`` is to ``cube`` (both ``(N, bands, H, W)``) for the camera ``srf (bands, 3)``.

    Returns:
        ``(max_abs, rel)``, each ``(N,)`` float64: the largest ``|C^T x - C^T s|`` over pixels and
        channels, and the same divided by the largest original camera value of the image.
    """
    c = srf.to(dtype=torch.float64, device=cube.device)
    rgb0 = _camera(cube.to(torch.float64), c)
    dev = (_camera(metamer.to(torch.float64), c) - rgb0).abs().amax(dim=(1, 2, 3))
    peak = rgb0.abs().amax(dim=(1, 2, 3)).clamp_min(1e-30)
    return dev, dev / peak


def _finish(cube, srf, out64, a, clipped, iterations) -> MetamerResult:
    out = out64.to(cube.dtype)
    dev, rel = camera_deviation(cube, out, srf)
    return MetamerResult(cube=out, rgb_max_abs_dev=dev, rgb_rel_dev=rel, clipped_fraction=clipped,
                         alpha=a, iterations=iterations)


def metamer_clip(cube: torch.Tensor, srf: torch.Tensor, alpha) -> MetamerResult:
    """The paper's metamer: ``max(R s + alpha (I - R) s, 0)`` (see module docstring)."""
    srf = torch.as_tensor(srf)
    m = alpha_metamer(cube, srf, alpha)
    clipped = (m < 0).to(torch.float64).mean(dim=(1, 2, 3))
    a = _alpha_tensor(alpha, cube.shape[0], cube.device)
    return _finish(cube, srf, m.clamp_min(0), a, clipped, 0)


def _solve_small(a: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Solve batched ``a (P, k, k) x = rhs (P, k)``; closed form (Cramer's rule) for k = 3, which is
    much faster than a batched LAPACK call on millions of tiny systems."""
    if a.shape[-1] != 3:
        return torch.linalg.solve(a, rhs.unsqueeze(-1)).squeeze(-1)
    c0, c1, c2 = a[..., 0], a[..., 1], a[..., 2]         # columns
    x12 = torch.linalg.cross(c1, c2)
    det = (c0 * x12).sum(-1, keepdim=True)
    x0 = (rhs * x12).sum(-1, keepdim=True)
    x1 = (c0 * torch.linalg.cross(rhs, c2)).sum(-1, keepdim=True)
    x2 = (c0 * torch.linalg.cross(c1, rhs)).sum(-1, keepdim=True)
    return torch.cat([x0, x1, x2], dim=-1) / det


def _dual_point(lmb: torch.Tensor, m: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, target: torch.Tensor,
                c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The per-pixel dual at ``lmb (P, 3)``: ``z = m + C lmb``, the primal ``x = clip(z, lo, hi)`` and the
    dual value ``|x - m|^2 / 2 - lmb . (C^T x - target)`` (rows ``(P, bands)``, ``(P,)``)."""
    z = m + lmb @ c.T
    x = torch.minimum(torch.maximum(z, lo), hi)
    return z, x, 0.5 * ((x - m) ** 2).sum(1) - (lmb * (x @ c - target)).sum(1)


def _armijo_fails(value: torch.Tensor, start: torch.Tensor, t: torch.Tensor, slope: torch.Tensor) -> torch.Tensor:
    """``(P,)`` True where the step of length ``t`` does not raise the concave dual from ``start`` enough."""
    return value < start + 1e-4 * t * slope - 1e-15 * start.abs()


def _newton_direction(z: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, grad: torch.Tensor, cc: torch.Tensor,
                      damping: torch.Tensor) -> torch.Tensor:
    """``(P, 3)`` step ``(C^T D C + damping)^-1 grad`` with ``D`` the free values (``lo < z < hi``) and
    ``cc (bands, 3, 3)`` the outer products of ``C``'s rows; ``damping`` ``(3, 3)`` or ``(P, 3, 3)``."""
    free = ((z > lo) & (z < hi)).to(torch.float64)
    return _solve_small(torch.einsum("pb,bij->pij", free, cc) + damping, grad)


def _newton_dual(m_r: torch.Tensor, lo_r: torch.Tensor, hi_r: torch.Tensor, target_r: torch.Tensor,
                 thresh_r: torch.Tensor, c: torch.Tensor, max_iter: int) -> tuple[torch.Tensor, int]:
    """The per-pixel solve of ``metamer_exact`` on pixel rows ``(P, bands)``: semi-smooth Newton on the
    3-variable dual with a backtracking line search; only unconverged pixels are iterated.
    Returns ``(x (P, bands), iterations)``."""
    x = torch.minimum(torch.maximum(m_r, lo_r), hi_r)                    # lam = 0
    cc = torch.einsum("bi,bj->bij", c, c)                                # (bands, 3, 3)
    eye = torch.eye(c.shape[1], dtype=torch.float64, device=c.device)
    reg = 1e-12 * torch.trace(c.T @ c)

    idx = torch.nonzero((target_r - x @ c).abs().amax(1) > thresh_r).squeeze(1)
    lam = torch.zeros(idx.numel(), c.shape[1], dtype=torch.float64, device=c.device)
    m_a, lo_a, hi_a, t_a, th_a = m_r[idx], lo_r[idx], hi_r[idx], target_r[idx], thresh_r[idx]
    z, xa, val = _dual_point(lam, m_a, lo_a, hi_a, t_a, c)
    it = 0
    while idx.numel() and it < max_iter:
        it += 1
        grad = t_a - xa @ c                                # ascent direction of the concave dual
        step = _newton_direction(z, lo_a, hi_a, grad, cc, reg * eye)
        slope = (grad * step).sum(1)
        t = torch.ones_like(slope)
        cand = lam + step
        zc, xc, vc = _dual_point(cand, m_a, lo_a, hi_a, t_a, c)
        for _ in range(40):  # backtracking (Armijo) only on the pixels whose full step fails
            bad = torch.nonzero(_armijo_fails(vc, val, t, slope)).squeeze(1)
            if not bad.numel():
                break
            t[bad] *= 0.5
            cand[bad] = lam[bad] + t[bad, None] * step[bad]
            zc[bad], xc[bad], vc[bad] = _dual_point(cand[bad], m_a[bad], lo_a[bad], hi_a[bad], t_a[bad], c)
        lam, z, xa, val = cand, zc, xc, vc
        done = (t_a - xa @ c).abs().amax(1) <= th_a
        if bool(done.any()):
            x[idx[done]] = xa[done]
            keep = ~done
            idx, lam, z, xa, val = idx[keep], lam[keep], z[keep], xa[keep], val[keep]
            m_a, lo_a, hi_a, t_a, th_a = m_a[keep], lo_a[keep], hi_a[keep], t_a[keep], th_a[keep]
    if idx.numel():
        x[idx] = xa
    return x, it


LINE_SEARCH_HALVINGS = 3
"""Step halvings tried per Newton iteration by the fixed-iteration solver (``_newton_dual_fixed``)."""


def _newton_dual_fixed(m_r: torch.Tensor, lo_r: torch.Tensor, hi_r: torch.Tensor, target_r: torch.Tensor,
                       thresh_r: torch.Tensor, c: torch.Tensor, iterations: int,
                       halvings: int = LINE_SEARCH_HALVINGS) -> torch.Tensor:
    """``_newton_dual``'s solve without host synchronisation (nothing is read back to the host): every pixel
    row is carried through exactly ``iterations`` steps; a pixel whose residual is below its threshold keeps
    its solution (masked, not removed). Steps are Levenberg-Marquardt damped Newton steps on the concave
    dual with a per-pixel damping ``mu`` (x 1/10 after an accepted step, x 100 after a rejected one) and
    ``halvings`` Armijo halvings on all pixels at once; a rejected pixel does not move. Same optimum as
    ``_newton_dual`` (the primal is strictly convex) once the iterations suffice. Returns ``x (P, bands)``."""
    cc = torch.einsum("bi,bj->bij", c, c)
    eye = torch.eye(c.shape[1], dtype=torch.float64, device=c.device)
    base = 1e-12 * torch.trace(c.T @ c)

    def evaluate(lmb):
        return _dual_point(lmb, m_r, lo_r, hi_r, target_r, c)

    lam = torch.zeros(m_r.shape[0], c.shape[1], dtype=torch.float64, device=c.device)
    z, x, val = evaluate(lam)
    mu = torch.ones_like(val) * base               # a tensor throughout: no host read-back
    for _ in range(iterations):
        grad = target_r - x @ c
        active = grad.abs().amax(1) > thresh_r
        step = _newton_direction(z, lo_r, hi_r, grad, cc, mu[:, None, None] * eye)
        slope = (grad * step).sum(1)
        t = torch.ones_like(slope)
        zc, xc, vc = evaluate(lam + step)
        for _ in range(halvings):
            bad = _armijo_fails(vc, val, t, slope)
            t = torch.where(bad, 0.5 * t, t)
            zn, xn, vn = evaluate(lam + t[:, None] * step)
            zc, xc, vc = (torch.where(bad[:, None], zn, zc), torch.where(bad[:, None], xn, xc),
                          torch.where(bad, vn, vc))
        move = active & ~_armijo_fails(vc, val, t, slope)
        mu = torch.where(move, torch.maximum(0.1 * mu, base), 100.0 * mu)
        lam = torch.where(move[:, None], lam + t[:, None] * step, lam)
        z, x, val = torch.where(move[:, None], zc, z), torch.where(move[:, None], xc, x), torch.where(move, vc, val)
    return x


def exact_bounds(cube64: torch.Tensor, upper=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-value bounds of the ``exact`` modes: ``lo = min(s, 0)``, ``hi = max(s, upper)`` with
    ``upper`` per image (scalar or ``(N,)``; default the image's maximum), so ``s`` itself is feasible.
    ``cube64``: ``(N, bands, H, W)`` float64; returns two tensors of its shape."""
    n = cube64.shape[0]
    if upper is None:
        up = cube64.amax(dim=(1, 2, 3))
    else:
        up = torch.as_tensor(upper, dtype=torch.float64, device=cube64.device).reshape(-1).expand(n)
    lo = torch.minimum(cube64, torch.zeros((), dtype=cube64.dtype, device=cube64.device))
    return lo, torch.maximum(cube64, up.view(-1, 1, 1, 1))


def metamer_exact(cube: torch.Tensor, srf: torch.Tensor, alpha, upper: torch.Tensor | float | None = None,
                  max_iter: int = 100, tol: float = 1e-8, iterations: int | None = None) -> MetamerResult:
    """Nearest valid exact metamer: ``argmin ||x - m||`` s.t. ``C^T x = C^T s`` and ``lo <= x <= hi``.

    Bounds per value: ``lo = min(s, 0)``, ``hi = max(s, upper)`` with ``upper`` the original image's
    maximum by default (so the original is always feasible, even if it has small negative values).

    Method: the dual of the per-pixel problem has 3 variables ``lam``; ``x(lam) = clip(m + C lam, lo, hi)``
    and the dual gradient is ``C^T s - C^T x(lam)``. Newton steps with the generalised Hessian
    ``C^T D C`` (``D`` = free values), regularised, with a backtracking line search on the concave dual,
    converge in a few iterations; all pixels are solved at once (float64).

    Args:
        cube: ``(N, bands, H, W)`` original spectra.
        srf: ``(bands, 3)`` camera response.
        alpha: scalar or ``(N,)``.
        upper: upper bound per image (scalar or ``(N,)``); default the image's maximum.
        max_iter: Newton iterations at most.
        tol: stop when ``max |C^T x - C^T s|`` is below ``tol`` times the image's largest camera value.
        iterations: None (default) iterates each pixel until ``tol`` (at most ``max_iter``), testing
            convergence on the host; a number runs exactly that many damped Newton steps on every pixel
            without any host synchronisation (``_newton_dual_fixed``, for a GPU training loop); the result's
            ``rgb_rel_dev`` says how close it got and ``iterations`` is that number.
    """
    n, b, h, w = cube.shape
    srf = torch.as_tensor(srf)
    c = srf.to(dtype=torch.float64, device=cube.device)
    s = cube.to(torch.float64)
    m = alpha_metamer(cube, srf, alpha)
    lo, hi = exact_bounds(s, upper)
    clipped = ((m < lo) | (m > hi)).to(torch.float64).mean(dim=(1, 2, 3))

    # pixels as rows: (P, bands); only unconverged pixels are carried through the iterations
    def rows(t):
        return t.permute(0, 2, 3, 1).reshape(-1, b)
    m_r, lo_r, hi_r = rows(m), rows(lo), rows(hi)
    target_r = rows(s) @ c                                               # (P, 3)
    peak = _camera(s, c).abs().amax(dim=(1, 2, 3)).clamp_min(1e-30)     # (N,)
    thresh_r = (tol * peak).repeat_interleave(h * w)                     # (P,)
    if iterations is None:
        x, it = _newton_dual(m_r, lo_r, hi_r, target_r, thresh_r, c, max_iter)
    else:
        x, it = _newton_dual_fixed(m_r, lo_r, hi_r, target_r, thresh_r, c, int(iterations)), int(iterations)
    out = x.reshape(n, h, w, b).permute(0, 3, 1, 2)
    a = _alpha_tensor(alpha, n, cube.device)
    return _finish(cube, srf, out, a, clipped, it)


_OPTICS_ONLY_KWARGS = ("check_every", "accelerate", "rank_rtol")


def make_metamer(cube: torch.Tensor, srf, alpha, mode: str = "clip", psf: torch.Tensor | None = None,
                 boundary: str = "circular", **kwargs) -> MetamerResult:
    """Metamers of ``cube (N, bands, H, W)`` (or ``(bands, H, W)``) for the camera ``srf (bands, 3)``.

    Args:
        mode: ``"clip"`` (the paper's), ``"exact"`` or ``"exact_optics"`` (see module docstring).
        alpha: scalar or one value per image.
        psf: ``(bands, h, w)`` PSF, used by ``exact_optics`` only (``clip`` and ``exact`` are per pixel).
            ``exact_optics`` without a PSF (``None``) returns ``exact``'s result: with no blur the two
            problems are the same (``result.iterations`` are then Newton iterations).
        boundary: ``exact_optics``' convolution convention, ``"circular"`` (the paper's) or
            ``"periodic"``; ``"linear"`` is refused (``ValueError``: it is not a per-frequency system).
        kwargs: ``exact``: ``upper``, ``max_iter``, ``tol``, ``iterations`` (``metamer_exact``); ``exact_optics``: also
            ``check_every``, ``accelerate``, ``rank_rtol`` (``hsi.ambiguity.metamer_through_optics``;
            ``tol`` there is the relative camera-signal residual, default 5e-7).

    Returns:
        ``MetamerResult`` (``exact_optics`` with a PSF: ``hsi.ambiguity.OpticsMetamerResult``, whose
        ``rgb_*`` deviations are measured through the PSF).
    """
    if mode not in METAMER_MODES:
        raise ValueError(f"metamer mode must be one of {METAMER_MODES}, got {mode!r}")
    if cube.ndim == 3:
        cube = cube.unsqueeze(0)
    srf = torch.as_tensor(srf, device=cube.device)
    if srf.ndim != 2 or srf.shape[0] != cube.shape[1]:
        raise ValueError(f"srf must be (bands={cube.shape[1]}, channels), got {tuple(srf.shape)}")
    if mode == "clip":
        return metamer_clip(cube, srf, alpha)
    if mode == "exact_optics" and psf is not None:
        from hsi.ambiguity import metamer_through_optics     # hsi.ambiguity imports this module
        kernel = torch.as_tensor(psf).detach().to(cube.device)
        return metamer_through_optics(cube, srf, kernel, alpha, boundary=boundary, **kwargs)
    kwargs = {k: v for k, v in kwargs.items() if k not in _OPTICS_ONLY_KWARGS}
    return metamer_exact(cube, srf, alpha, **kwargs)
