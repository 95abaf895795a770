"""Build SYNTH, the embedded default dataset: hyperspectral scenes from real measured spectra.

    python ./dataset_tools/make_synthetic.py                      # default set: 40 scenes of 256 x 256
    python ./dataset_tools/make_synthetic.py --num_scenes 200 --size 482 512 --seed 1 --dest_root ./datasets/SYNTH_big

Writes the ARAD_1K layout: Train_Spec/<scene>.mat (31 x H x W radiance in [0, 1]), Train_RGB/<scene>.jpg
(rendered through the paper's camera, JPEG quality 65 as ARAD_1K's official RGB), split_txt/ (the last
10% of the scenes are the validation split) and synth_manifest.json (provenance). Deterministic for a
given --seed; scenes already built are skipped. User errors print "error: ..." and exit with code 2
(--debug shows the traceback). How the scenes are made: hsi.synthetic.
"""
import argparse
import time

from hsi.cli_types import HelpFormatter, finite_float, int_range
from hsi.errors import run_main
from hsi.synthetic import SynthConfig, SynthSettingsError, build_synth_dataset


def _build(argv: list[str]) -> int:
    d = SynthConfig()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--dest_root", default="./datasets/SYNTH", help="output folder (created if missing)")
    ap.add_argument("--num_scenes", type=int, default=d.num_scenes, help="number of scenes")
    ap.add_argument("--size", type=int_range(8, 1 << 16), nargs="+", default=list(d.size), metavar="N",
                    help="scene size: one number (square) or H W")
    ap.add_argument("--seed", type=int, default=d.seed, help="dataset seed")
    ap.add_argument("--valid_fraction", type=finite_float, default=d.valid_fraction, help="share of validation scenes")
    ap.add_argument("--camera", default=d.camera, help="camera of Train_RGB (name or .npz/.csv file)")
    ap.add_argument("--jpeg_quality", type=int_range(1, 100), default=d.jpeg_quality, help="JPEG quality of Train_RGB")
    ap.add_argument("--overwrite", action="store_true", help="rebuild scenes that exist / other settings")
    ap.add_argument("--no_progress", action="store_true")
    args = ap.parse_args(argv)
    if len(args.size) not in (1, 2):
        ap.error("--size takes one number (square) or two (H W)")
    size = (args.size[0], args.size[-1])
    try:
        cfg = SynthConfig(num_scenes=args.num_scenes, size=size, seed=args.seed, valid_fraction=args.valid_fraction,
                          camera=args.camera, jpeg_quality=args.jpeg_quality)
    except ValueError as exc:             # the settings' own checks (SynthConfig.__post_init__)
        raise SynthSettingsError(str(exc)) from None
    t0 = time.perf_counter()
    m = build_synth_dataset(args.dest_root, cfg, overwrite=args.overwrite, progress=not args.no_progress)
    print(f"[SYNTH] {m['built']} scene(s) built, {m['skipped']} already there, {size[0]} x {size[1]}, "
          f"splits {m['splits']}, in {time.perf_counter() - t0:.1f} s -> {args.dest_root}")
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_build, argv)


if __name__ == "__main__":
    raise SystemExit(main())
