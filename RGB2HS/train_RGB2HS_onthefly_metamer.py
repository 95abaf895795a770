"""Train with on-the-fly metamers: every patch gets a random alpha (uniform in [-1, 2) by default), its
metamer is rendered through the same image formation as the on-disk data (PSF, noise, exposure,
quantisation) inside the training step, on the GPU when there is one; the target is the metamer cube.
Validation uses the on-disk originals and alpha = 0 metamers (``--data_join both``).

Run folder: ``<result_root>/OnTheFly_metamer_<loss>_<noise><npe>_<psf>_<method>_<dataset>``.
"""
from hsi.train.cli import rgb2hs_parser, str2bool, train_main


def main(argv=None):
    ap = rgb2hs_parser(__doc__, "onthefly")
    ap.add_argument("--srf_path", default="./resources/A2a5320-23ucBAS_gain.npz",
                    help="camera response (.npz in the paper's format, .csv, or a camera name); the paper's "
                         "default path means the shipped Basler camera")
    ap.add_argument("--psf_path", default="./PSFs", help="folder of the PSF files")
    ap.add_argument("--on_the_fly", type=str2bool, default=True, help="False: train on the on-disk originals")
    ap.add_argument("--data_join", default="both", choices=["standard", "metamer", "both"],
                    help="validation set (training always renders metamers of the originals)")
    ap.add_argument("--metamer_mode", default="clip", choices=["clip", "exact"])
    ap.add_argument("--alpha_min", type=float, default=-1.0)
    ap.add_argument("--alpha_max", type=float, default=2.0)
    ap.add_argument("--quantize", default="truncate", choices=["truncate", "round", "none"],
                    help="as the on-disk data was generated")
    train_main(ap.parse_args(argv), "onthefly")


if __name__ == "__main__":
    from hsi.errors import run_main
    raise SystemExit(run_main(main))
