"""Ambiguity as a number: the bounds no RGB-only method can beat, for a dataset, a camera and a PSF.

    python ./metamer/ambiguity.py --dataset_name SYNTH --psf_name None
    python ./metamer/ambiguity.py --dataset_name SYNTH --psf_name double_gauss_50mm_F1.8 --figure_scenes 2

writes <out_dir>/ambiguity.json (per scene and mean paired bound RMSE/SAM/MRAE of the alpha = 0 metamers,
exact without a PSF and exact_optics with one; widest band range of each sampled pixel's metamer set:
mean, 95th percentile and half of it, the worst-case error bound; provenance), ambiguity.md (the table
row) and figures/<scene>.png. The logic is in hsi.ambiguity_report (numbers: hsi.ambiguity).
"""
import argparse
import sys

from hsi.ambiguity_report import AmbiguityOptions, run_ambiguity
from hsi.cli_types import HelpFormatter, camera_help, dataset_help, non_negative_int, positive_float, positive_int, \
    psf_help
from hsi.errors import ToolkitError, run_main


def _ambiguity(argv: list[str]) -> int:
    d = AmbiguityOptions()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--dataset_path", default=d.dataset_path, help="datasets root")
    ap.add_argument("--dataset_name", default=d.dataset_name, help=dataset_help())
    ap.add_argument("--srf_path", default=d.srf_path, help=camera_help("camera (None: the paper's Basler camera)"))
    ap.add_argument("--psf_name", default="None", help=psf_help() + "; None = exact metamers")
    ap.add_argument("--psf_path", default=d.psf_path, help="folder of PSF .npz files")
    ap.add_argument("--psf_boundary", default=d.psf_boundary, choices=["circular", "periodic"],
                    help="circular = the paper's FFT convolution; periodic = the same, exactly centred")
    ap.add_argument("--split", default=d.split, choices=["valid", "train"], help="scenes of this split list")
    ap.add_argument("--max_scenes", type=positive_int, default=None, help="only the first N scenes (sorted)")
    ap.add_argument("--pixels_per_scene", type=int, default=d.pixels_per_scene,  # >= 1: checked by the options
                    help="pixels sampled per scene for the band ranges")
    ap.add_argument("--seed", type=int, default=d.seed, help="seed of the pixel sampling")
    ap.add_argument("--figure_scenes", type=non_negative_int, default=d.figure_scenes,
                    help="figures for the first N scenes")
    ap.add_argument("--border", type=non_negative_int, default=d.border, help="pixels cropped per side for the paired bound")
    ap.add_argument("--tol", type=positive_float, default=d.tol, help="exact_optics: relative camera-signal residual")
    ap.add_argument("--max_iter", type=positive_int, default=d.max_iter, help="exact_optics: iterations at most")
    ap.add_argument("--out_dir", default=None, help="output folder (default results/ambiguity/<dataset>_<camera>_<psf>)")
    ap.add_argument("--device", default=d.device, help="auto (CUDA when available), cpu, cuda, ...")
    args = ap.parse_args(argv)
    opts = AmbiguityOptions(
        dataset_path=args.dataset_path, dataset_name=args.dataset_name, srf_path=args.srf_path,
        psf_name=args.psf_name, psf_path=args.psf_path, psf_boundary=args.psf_boundary, split=args.split,
        max_scenes=args.max_scenes, pixels_per_scene=args.pixels_per_scene, seed=args.seed,
        figure_scenes=args.figure_scenes, border=args.border, tol=args.tol, max_iter=args.max_iter,
        out_dir=args.out_dir, device=args.device)
    try:
        record = run_ambiguity(opts, log=lambda msg: print(msg, file=sys.stderr))
    except FileNotFoundError as exc:                     # a missing input file (the message names it)
        raise ToolkitError(str(exc)) from exc
    print(f"wrote {', '.join(record['files'])} to {record['out_dir']} in {record['seconds']:.1f} s")
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_ambiguity, argv)


if __name__ == "__main__":
    raise SystemExit(main())
