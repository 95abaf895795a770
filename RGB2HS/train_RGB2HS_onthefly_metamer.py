"""Train with on-the-fly metamers: every patch gets a random alpha (uniform in [-1, 2) by default), its
metamer is rendered through the same image formation as the on-disk data (PSF, noise, exposure,
quantisation) inside the training step, on the GPU when there is one; the target is the metamer cube.
Validation uses the on-disk originals and alpha = 0 metamers (``--data_join both``).

Run folder: ``<result_root>/OnTheFly_metamer_<loss>_<noise><npe>_<psf>_<method>_<dataset>``.
"""
from hsi.metamer import METAMER_MODES
from hsi.cli_types import allow_bare_bool, camera_help, finite_float, optional_positive_int
from hsi.errors import run_main
from hsi.train.cli import rgb2hs_parser, str2bool, train_main


def _train(argv: list[str]) -> int:
    ap = rgb2hs_parser(__doc__, "onthefly")
    ap.add_argument("--srf_path", default="./resources/A2a5320-23ucBAS_gain.npz",
                    help=camera_help("camera response (the paper's default path means the shipped Basler camera)"))
    ap.add_argument("--psf_path", default="./PSFs", help="folder of the PSF files")
    ap.add_argument("--on_the_fly", type=str2bool, default=True, help="False: train on the on-disk originals")
    ap.add_argument("--data_join", default="both", choices=["standard", "metamer", "both"],
                    help="validation set (training always renders metamers of the originals)")
    ap.add_argument("--metamer_mode", default="clip", choices=list(METAMER_MODES),
                    help="clip = the paper's max(m, 0); exact = nearest valid metamer with identical camera RGB; "
                         "exact_optics = the same through the PSF")
    ap.add_argument("--exact_iterations", type=optional_positive_int, default=None,
                    help="exact: None iterates each pixel to convergence (checked on the host); N runs exactly N "
                         "damped Newton steps with no host synchronisation (faster on a GPU; 12 converge on SYNTH)")
    ap.add_argument("--alpha_min", type=finite_float, default=-1.0, help="alpha is uniform in [alpha_min, alpha_max)")
    ap.add_argument("--alpha_max", type=finite_float, default=2.0, help="above --alpha_min")
    ap.add_argument("--quantize", default="truncate", choices=["truncate", "round", "none"],
                    help="as the on-disk data was generated")
    train_main(allow_bare_bool(ap).parse_args(argv), "onthefly")
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_train, argv)


if __name__ == "__main__":
    raise SystemExit(main())
