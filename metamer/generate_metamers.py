"""Generate metamer data: metamer cubes and RGB rendered from originals and metamers (the paper's layout).

    python ./metamer/generate_metamers.py --psf_name None --dataset_name ARAD_1K --npe 0 --alpha 0.0 --rgb_format png
    python ./metamer/generate_metamers.py --psf_name double_gauss_50mm_F1.8 --dataset_name SYNTH --npe 1000

writes <dataset_path>/<NAME>/<noise_type><npe>_<psf_name>/Train_Metamer_Spec/<scene>_metamer.mat and
Train_Metamer_RGB/<scene>_{original,metamer}.{png,jpg} for the train and valid scenes, and manifest.json
(flags, camera, PSF, versions, per-scene statistics and source fingerprints, scenes/s). Nothing is
deleted: complete scenes are skipped, scenes whose source cube changed or whose files are damaged are
regenerated, --overwrite regenerates all. One process at a time per folder (a second one stops at once,
naming the first); a killed run resumes. The paper's flags keep their meaning and defaults;
--metamer_mode (clip, exact, exact_optics), --psf_boundary, --quantize, --jpeg_quality, --exposure_target,
--cube_values, --paired_noise, --overwrite, --out_name, --device and --limit are the toolkit's. User errors print "error: ..." and exit
with code 2 (--debug shows the traceback). The logic is in hsi.metamer_data.
The manifest records per scene the paired bound (pair_distance: RMSE, SAM, MRAE) and whether the two
images are byte-identical (rgb_identical, per format), and the dataset's pair_bound summary:

    python ./metamer/generate_metamers.py --psf_name double_gauss_50mm_F1.8 --dataset_name SYNTH \
        --metamer_mode exact_optics --npe 1000 --paired_noise True
"""
import argparse
from pathlib import Path

from hsi.cli_types import (HelpFormatter, bool_flag, camera_help, dataset_help, finite_float, int_range, non_negative_float,
                           positive_float, positive_int, psf_help, unit_interval)
from hsi.errors import run_main
from hsi.metamer import METAMER_MODES
from hsi.metamer_data import CUBE_VALUE_POLICIES, RGB_FORMAT_CHOICES, GenerateOptions, generate_metamer_dataset

SHIPPED_PSFS = Path(__file__).resolve().parents[1] / "PSFs"


def _npe(text: str) -> float:
    value = non_negative_float(text)
    return int(value) if value.is_integer() else value


def _add_ambiguity_flags(group, d: GenerateOptions) -> None:
    """Flags of the paired bound (issue 13); --metamer_mode exact_optics is among --metamer_mode's choices."""
    bool_flag(group, "--paired_noise", d.paired_noise,
              help="True: each metamer gets its original's noise realisation (exact metamers stay byte-identical "
                   "under noise, the manifest's pair_bound stays strict); False: independent streams")


def _generate(argv: list[str]) -> int:
    d = GenerateOptions()
    ap = argparse.ArgumentParser(prog=Path(__file__).name, description=__doc__, formatter_class=HelpFormatter)
    paper = ap.add_argument_group("the paper's flags")
    paper.add_argument("--srf_path", default=d.srf_path, help=camera_help())
    paper.add_argument("--psf_path", default=d.psf_path, help="folder of PSF .npz files")
    paper.add_argument("--psf_name", default="None", help=psf_help(SHIPPED_PSFS))
    paper.add_argument("--dataset_path", default=d.dataset_path, help="datasets root")
    paper.add_argument("--dataset_name", default=d.dataset_name, help=dataset_help())
    paper.add_argument("--noise_type", default=d.noise_type, choices=["poisson", "gaussian"], help="noise model")
    paper.add_argument("--npe", type=_npe, default=0, help="photo-electrons at signal 1.0 (>= 0); 0 = noiseless")
    paper.add_argument("--divFactorTo_1PE", type=positive_float, default=1,
                       help="divisor (> 0) converting signal to photo-electrons")
    paper.add_argument("--noise_seed", type=int, default=d.noise_seed,
                       help="run seed; each image gets its own stream from (seed, scene, original|metamer)")
    paper.add_argument("--alpha", type=finite_float, default=d.alpha,
                       help="metameric-black coefficient, a finite number (0 = fundamental metamer)")
    paper.add_argument("--rgb_format", default=d.rgb_format, choices=RGB_FORMAT_CHOICES,
                       help="png (lossless), jpg or all (both)")
    new = ap.add_argument_group("the toolkit's flags")
    new.add_argument("--metamer_mode", default=d.metamer_mode, choices=list(METAMER_MODES),
                     help="clip = the paper's max(m, 0); exact = nearest valid metamer with identical camera RGB; "
                          "exact_optics = identical camera RGB through the PSF (periodic --psf_boundary)")
    new.add_argument("--psf_boundary", default=d.psf_boundary, choices=["circular", "periodic", "linear"],
                     help="circular = the paper's FFT convolution; linear = zero padding, nothing wraps")
    new.add_argument("--quantize", default=d.quantize, choices=["truncate", "round"],
                     help="8-bit conversion: truncate (paper) or round")
    new.add_argument("--jpeg_quality", type=int_range(1, 100), default=d.jpeg_quality,
                     help="JPEG quality in [1, 100] for --rgb_format jpg/all")
    new.add_argument("--exposure_target", type=unit_interval, default=None,
                     help="auto-exposure target mean in (0, 1] (None: the dataset's, e.g. ARAD_1K 0.18)")
    new.add_argument("--cube_values", default=d.cube_values, choices=CUBE_VALUE_POLICIES,
                     help="source cubes with NaN/Inf, negative values, values above 1 or only zeros: refuse "
                          "(naming the file and the fix) or warn and use them as the paper's code does")
    bool_flag(new, "--overwrite", False, help="regenerate every scene (bare --overwrite = True)")
    new.add_argument("--out_name", default=None, help="output folder name (None: <noise_type><npe>_<psf_name>)")
    new.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    new.add_argument("--limit", type=positive_int, default=None, help="only the first N scenes (train list first)")
    new.add_argument("--no_progress", action="store_true", help="no progress bar")
    _add_ambiguity_flags(new, d)
    args = ap.parse_args(argv)
    opts = GenerateOptions(
        dataset_path=args.dataset_path, dataset_name=args.dataset_name, psf_name=args.psf_name,
        psf_path=args.psf_path, srf_path=args.srf_path, noise_type=args.noise_type, npe=args.npe,
        div_factor_to_1pe=args.divFactorTo_1PE, noise_seed=args.noise_seed, alpha=args.alpha,
        rgb_format=args.rgb_format, metamer_mode=args.metamer_mode, psf_boundary=args.psf_boundary,
        quantize=args.quantize, jpeg_quality=args.jpeg_quality, overwrite=args.overwrite, device=args.device,
        out_name=args.out_name, limit=args.limit, exposure_target=args.exposure_target,
        cube_values=args.cube_values, paired_noise=args.paired_noise)
    generate_metamer_dataset(opts, progress=not args.no_progress)
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_generate, argv)


if __name__ == "__main__":
    raise SystemExit(main())
