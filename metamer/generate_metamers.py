"""Generate metamer data: metamer cubes and RGB rendered from originals and metamers (the paper's layout).

    python ./metamer/generate_metamers.py --psf_name None --dataset_name ARAD_1K --npe 0 --alpha 0.0 --rgb_format png
    python ./metamer/generate_metamers.py --psf_name double_gauss_50mm_F1.8 --dataset_name SYNTH --npe 1000

writes <dataset_path>/<NAME>/<noise_type><npe>_<psf_name>/Train_Metamer_Spec/<scene>_metamer.mat and
Train_Metamer_RGB/<scene>_{original,metamer}.{png,jpg} for the train and valid scenes, and manifest.json
(flags, camera, PSF, versions, per-scene statistics, scenes/s). Nothing is deleted: complete scenes are
skipped, --overwrite regenerates. The paper's flags keep their meaning and defaults; --metamer_mode,
--psf_boundary, --quantize, --jpeg_quality, --device, --out_name, --limit and --paired_noise are the
toolkit's. The manifest records per scene the paired bound (pair_distance: RMSE, SAM, MRAE) and whether
the two images are byte-identical (rgb_identical, per format), and the dataset's pair_bound summary:

    python ./metamer/generate_metamers.py --psf_name double_gauss_50mm_F1.8 --dataset_name SYNTH \
        --metamer_mode exact_optics --npe 1000 --paired_noise True
The logic is in hsi.metamer_data.
"""
import argparse
import sys

from hsi.metamer import METAMER_MODES
from hsi.metamer_data import GenerateOptions, MetamerDataError, generate_metamer_dataset


def _npe(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"npe must be >= 0, got {text}")
    return int(value) if value.is_integer() else value


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def _add_ambiguity_flags(group, d: GenerateOptions) -> None:
    """Flags of the paired bound (issue 13); --metamer_mode exact_optics is among --metamer_mode's choices."""
    group.add_argument("--paired_noise", type=_bool, default=d.paired_noise,
                       help="True: each metamer gets its original's noise realisation (exact metamers stay "
                            "byte-identical under noise, the manifest's pair_bound stays strict); "
                            "False (default): independent streams")


def main(argv=None) -> int:
    d = GenerateOptions()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    paper = ap.add_argument_group("the paper's flags")
    paper.add_argument("--srf_path", default=d.srf_path,
                       help="camera: a name (basler_a2A5320-23ucBAS, nikon_5100, sigma_sdmerill, cie1931_2deg) or a "
                            ".npz (paper format: wavelengths, R, G, B) / .csv file (default: the paper's Basler camera)")
    paper.add_argument("--psf_path", default=d.psf_path, help="folder of PSF .npz files")
    paper.add_argument("--psf_name", default="None", help="PSF file stem in --psf_path; None = no PSF")
    paper.add_argument("--dataset_path", default=d.dataset_path, help="datasets root")
    paper.add_argument("--dataset_name", default=d.dataset_name,
                       help="ARAD_1K, CAVE, ICVL, KAUST or SYNTH (case-insensitive)")
    paper.add_argument("--noise_type", default=d.noise_type, choices=["poisson", "gaussian"])
    paper.add_argument("--npe", type=_npe, default=0, help="photo-electrons at signal 1.0; 0 = noiseless")
    paper.add_argument("--divFactorTo_1PE", type=float, default=1, help="divisor converting signal to photo-electrons")
    paper.add_argument("--noise_seed", type=int, default=d.noise_seed,
                       help="run seed; each image gets its own stream from (seed, scene, original|metamer)")
    paper.add_argument("--alpha", type=float, default=d.alpha, help="metameric-black coefficient (0 = fundamental metamer)")
    paper.add_argument("--rgb_format", default=d.rgb_format, choices=["png", "jpg", "all"],
                       help="png (lossless), jpg or all (both)")
    new = ap.add_argument_group("the toolkit's flags")
    new.add_argument("--metamer_mode", default=d.metamer_mode, choices=list(METAMER_MODES),
                     help="clip = the paper's max(m, 0); exact = nearest valid metamer with identical camera RGB; "
                          "exact_optics = identical camera RGB through the PSF (periodic --psf_boundary)")
    new.add_argument("--psf_boundary", default=d.psf_boundary, choices=["circular", "periodic", "linear"],
                     help="circular = the paper's FFT convolution; linear = zero padding, nothing wraps")
    new.add_argument("--quantize", default=d.quantize, choices=["truncate", "round"],
                     help="8-bit conversion: truncate (paper) or round")
    new.add_argument("--jpeg_quality", type=int, default=d.jpeg_quality, help="JPEG quality for --rgb_format jpg/all")
    new.add_argument("--exposure_target", type=float, default=None,
                     help="auto-exposure target mean (default: the dataset's, e.g. ARAD_1K 0.18)")
    new.add_argument("--overwrite", action="store_true", help="regenerate scenes whose outputs exist")
    new.add_argument("--out_name", default=None, help="output folder name (default <noise_type><npe>_<psf_name>)")
    new.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")
    new.add_argument("--limit", type=int, default=None, help="only the first N scenes (train list first)")
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
        paired_noise=args.paired_noise)
    try:
        generate_metamer_dataset(opts, progress=not args.no_progress)
    except (MetamerDataError, ValueError, FileNotFoundError) as exc:
        # unknown dataset / camera, missing split list or PSF (the message lists the available ones), bad files
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
