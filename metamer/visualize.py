"""Figures of generated metamer data: one PNG per scene.

    python ./metamer/visualize.py --dataset_name SYNTH --npe 0 --psf_name None --num_scenes 4
    python ./metamer/visualize.py --dataset_name ARAD_1K --scenes ARAD_1K_0901 --pixels 100,200 300,40

Each figure shows the RGB rendered from the original and from the metamer side by side, their
difference in digital numbers, and at a few pixels (picked where the spectra differ most, or --pixels)
the spectra of the original, the metamer and the fundamental metamer, with the camera's spectral
response underneath: the two spectra differ while the colours match. The data come from
metamer/generate_metamers.py (same --dataset_path/--dataset_name/--noise_type/--npe/--psf_name or
--out_name). The logic is in hsi.metamer_viz.
"""
import argparse
from pathlib import Path

from hsi.cli_types import HelpFormatter, camera_help, dataset_help, non_negative_float, positive_int, psf_help
from hsi.datasets import dataset_dir, read_splits
from hsi.errors import ToolkitError, run_main
from hsi.io import atomic_write_json, provenance
from hsi.layout import variant_dir_name
from hsi.metamer_viz import visualize_scene


def _pixel(text: str) -> tuple[int, int]:
    try:
        y, x = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"pixels are given as y,x (e.g. 120,64), got {text!r}") from None
    return y, x


def _visualize(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--dataset_path", default="./datasets", help="datasets root")
    ap.add_argument("--dataset_name", default="ARAD_1K", help=dataset_help())
    ap.add_argument("--noise_type", default="poisson", choices=["poisson", "gaussian"], help="noise of the data folder")
    ap.add_argument("--npe", type=non_negative_float, default=0, help="photo-electrons of the data folder")
    ap.add_argument("--psf_name", default="None", help=psf_help())
    ap.add_argument("--out_name", default=None, help="generated folder name (default <noise_type><npe>_<psf_name>)")
    ap.add_argument("--scenes", nargs="+", default=None, help="scene names (default: the first --num_scenes of the valid list)")
    ap.add_argument("--num_scenes", type=positive_int, default=4, help="scenes when --scenes is not given")
    ap.add_argument("--pixels", type=_pixel, nargs="+", default=None, help="pixels y,x to plot (default: picked)")
    ap.add_argument("--n_pixels", type=positive_int, default=3, help="pixels to pick when --pixels is not given")
    ap.add_argument("--rgb_format", default="png", choices=["png", "jpg"], help="RGB files to show (if both exist)")
    ap.add_argument("--srf_path", default=None, help=camera_help("camera (None: the one recorded in the folder's manifest)"))
    ap.add_argument("--fig_dir", default=None,
                    help="output folder (default results/metamer_figures/<NAME>/<generated folder>)")
    args = ap.parse_args(argv)
    try:
        ddir = dataset_dir(args.dataset_path, args.dataset_name)
        out_name = args.out_name or variant_dir_name(args.noise_type, args.npe, args.psf_name)
        if not (ddir / out_name).is_dir():
            raise ToolkitError(f"{ddir / out_name}: no generated data; run metamer/generate_metamers.py first")
        scenes = args.scenes or read_splits(ddir)["valid"][: args.num_scenes]
        fig_dir = Path(args.fig_dir or Path("results") / "metamer_figures" / ddir.name / out_name)
        written = [str(visualize_scene(ddir, out_name, s, fig_dir / f"{s}.png", args.srf_path, args.pixels,
                                       args.n_pixels, args.rgb_format)) for s in scenes]
    except FileNotFoundError as exc:                     # a missing generated file (the message names it)
        raise ToolkitError(str(exc)) from exc
    atomic_write_json(fig_dir / "figures.json", provenance(kind="metamer figures", args=vars(args), figures=written))
    for w in written:
        print(w)
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_visualize, argv)


if __name__ == "__main__":
    raise SystemExit(main())
