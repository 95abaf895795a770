"""Co-design: train a learnable DOE (free-form height map or radial profile) jointly with the network on
on-the-fly metamers. Every step renders the metamers of the cube patches through the CURRENT PSF (noise,
exposure, quantisation; straight-through gradient through noise and quantisation) and updates the network
and the optics with separate Adam learning rates and cosine schedules. Validation renders the held-out
scenes (originals and alpha = 0 metamers) through the current PSF. Every checkpoint exports the PSF:
<run>/psf_last.npz and <run>/psf_best.npz (+ .json with the height map), usable as
``generate_metamers.py --psf_name <run>/psf_best.npz``. See docs/learned_optics.md.

Run folder: ``<result_root>/Codesign_<optics>_<loss>_<noise><npe>_<method>_<dataset>``.
"""
from hsi.errors import run_main
from hsi.train.cli import rgb2hs_parser


def main(argv=None):
    from hsi.train.codesign import add_codesign_args, codesign_options_from_args, codesign_run_dir, run_codesign
    ap = rgb2hs_parser(__doc__, "onthefly")
    add_codesign_args(ap)
    args = ap.parse_args(argv)
    opts = codesign_options_from_args(args)
    if args.print_run_dir:
        print(codesign_run_dir(opts))
        return None
    run_codesign(opts)
    return None


if __name__ == "__main__":
    raise SystemExit(run_main(main))
