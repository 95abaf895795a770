"""Reconstruct hyperspectral cubes from your own RGB photos with a trained network.

    python ./RGB2HS/predict_RGB2HS.py --rgb_path ./my_photos --method mst_plus_plus \
        --pretrained_root ./RGB2HS/model_zoo/mst_plus_plus.pth --out_dir ./RGB2HS/predict_exp

For each 8- or 16-bit PNG, JPEG or TIFF (EXIF orientation applied), writes under --out_dir:
<stem>.mat (the 31 x H x W cube, 400-700 nm, values in [0, 1], the toolkit's .mat convention),
<stem>_preview.png (the photo beside the cube rendered to sRGB, with the camera and normalisation the
network was trained for), <stem>_spectra.png (spectra at a few pixels, or at --pixels) and <stem>.json
(provenance). Large photos run in blended tiles (--tile, --tile_overlap) in bounded memory.
See docs/predict.md for the Python one-liner and where weights come from.
"""
import argparse

from hsi.cli_types import HelpFormatter, bool_flag, method_help, non_negative_int
from hsi.errors import run_main
from hsi.predict import PredictOptions, parse_pixels, predict_photos


def _predict(argv: list[str]) -> int:
    d = PredictOptions(rgb_path="", weights="", out_dir="")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--rgb_path", required=True, help="an image file or a folder of images")
    ap.add_argument("--method", default=None, help=method_help() + " (None: the one recorded in the checkpoint)")
    ap.add_argument("--pretrained_root", required=True, help="checkpoint file (.pth), loaded with strict=True")
    ap.add_argument("--out_dir", default="./RGB2HS/predict_exp", help="output folder")
    bool_flag(ap, "--self_ensemble", d.self_ensemble, help="8-way flip/transpose test-time ensemble (8x slower)")
    ap.add_argument("--device", default=d.device, help="auto, cpu, cuda or cuda:k")
    ap.add_argument("--tile", type=non_negative_int, default=d.tile, help="tile side in pixels (0: whole image at once)")
    ap.add_argument("--tile_overlap", type=non_negative_int, default=d.tile_overlap,
                    help="pixels shared by neighbouring tiles")
    ap.add_argument("--pixels", nargs="+", default=None, metavar="Y,X",
                    help="pixels of the spectra panel (row,column of the upright image); default: chosen automatically")
    ap.add_argument("--normalisation", default=None, choices=["minmax", "fixed"],
                    help="RGB normalisation (default: the checkpoint's, else the training data's per-image min-max)")
    ap.add_argument("--no_progress", action="store_true")
    args = ap.parse_args(argv)
    opts = PredictOptions(rgb_path=args.rgb_path, weights=args.pretrained_root, out_dir=args.out_dir,
                          method=args.method, tile=args.tile, tile_overlap=args.tile_overlap,
                          self_ensemble=args.self_ensemble, device=args.device, pixels=parse_pixels(args.pixels),
                          normalisation=args.normalisation)
    predict_photos(opts, progress=not args.no_progress)
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_predict, argv)


if __name__ == "__main__":
    raise SystemExit(main())
