"""Time one PSF forward + backward of a learnable DOE (what a co-design step adds to a fixed-PSF step).

    OMP_NUM_THREADS=1 python -m hsi.optics.learned.timing                     # defaults
    OMP_NUM_THREADS=2 python -m hsi.optics.learned.timing --oversample 3 --psf_shape 41 41 --grid 160
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch

__all__ = ["forward_backward_seconds", "main"]


def forward_backward_seconds(module, repeats: int = 5) -> list[float]:
    """Wall-clock seconds of ``repeats`` steps ``psf = module(); loss(psf).backward()`` after one warm-up
    (the loss is a weighted sum of the PSF, so every band and pixel gets a gradient)."""
    with torch.no_grad():
        weights = torch.rand_like(module())

    def step():
        module.zero_grad(set_to_none=True)
        (module() * weights).sum().backward()
        if weights.is_cuda:
            torch.cuda.synchronize()

    step()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> int:
    from .elements import DOEOptions, HeightMapDOE, PhaseSamplingError, RadialDOE

    ap = argparse.ArgumentParser(description="time one forward+backward of a learnable DOE's PSF")
    ap.add_argument("--kind", choices=("doe", "radial_doe"), default="doe")
    ap.add_argument("--grid", type=int, default=DOEOptions.grid)
    ap.add_argument("--psf_shape", type=int, nargs=2, default=list(DOEOptions.psf_shape))
    ap.add_argument("--oversample", type=int, default=None, help="sub-samples per pixel (default: Nyquist)")
    ap.add_argument("--levels", type=int, default=None)
    ap.add_argument("--psf_method", choices=("otf", "direct"), default=DOEOptions.psf_method)
    ap.add_argument("--per_band_oversample", action="store_true", help="each band at its own Nyquist")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    try:
        opts = DOEOptions(grid=args.grid, psf_shape=tuple(args.psf_shape), oversample=args.oversample, levels=args.levels,
                          psf_method=args.psf_method, per_band_oversample=args.per_band_oversample)
        cls = HeightMapDOE if args.kind == "doe" else RadialDOE
        module = cls(opts, init="random", device=args.device)
    except (ValueError, PhaseSamplingError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ts = forward_backward_seconds(module, args.repeats)
    print(f"{cls.__name__} grid {opts.grid}, psf {opts.psf_shape[0]}x{opts.psf_shape[1]}, oversample {'per band' if opts.per_band_oversample else opts.subsamples}, "
          f"{opts.psf_method}, {len(opts.wavelengths_nm)} bands, {args.device}, {torch.get_num_threads()} threads: forward+backward "
          f"median {1e3 * statistics.median(ts):.0f} ms (min {1e3 * min(ts):.0f}, {len(ts)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
