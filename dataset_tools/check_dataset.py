"""Validate a dataset folder and print a summary.

    python ./dataset_tools/check_dataset.py ./datasets/ARAD_1K
    python ./dataset_tools/check_dataset.py ./datasets/SYNTH --pca        # + spectral diversity

Checks shapes (the dataset's size from hsi.datasets), value ranges ([0, 1]), the split lists (present,
valid, disjoint, every listed scene has its file), missing or corrupt files, Train_RGB images and
generated metamer folders (whole files, no NaN or all-zero cube or image, the manifest complete and its
sources unchanged). Exit status 1 when errors were found; 2 for a usage error (``error: ...``, --debug
for the traceback). The logic is in hsi.convert.
"""
import argparse

from hsi.cli_types import HelpFormatter, positive_int
from hsi.convert import check_dataset
from hsi.errors import run_main
from hsi.io import atomic_write_json, provenance


def _check(argv: list[str]) -> int:
    from hsi.datasets import DATASETS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("path", help="dataset folder, e.g. ./datasets/CAVE")
    ap.add_argument("--dataset_name", default=None,
                    help=f"one of {', '.join(DATASETS)} (None: the folder's name, if it is one)")
    ap.add_argument("--quick", action="store_true", help="read only the file headers (shapes), not the data")
    ap.add_argument("--pca", action="store_true", help="estimate spectral diversity (PCA components for 99%% variance)")
    ap.add_argument("--pca_pixels", type=positive_int, default=2000, help="random pixels per scene for --pca")
    ap.add_argument("--json", default=None, help="also write the report as JSON to this file")
    ap.add_argument("--no_progress", action="store_true")
    args = ap.parse_args(argv)
    rep = check_dataset(args.path, args.dataset_name, quick=args.quick, pca=args.pca,
                        pca_pixels=args.pca_pixels, progress=not args.no_progress)
    print(rep.summary())
    if args.json:
        fields = {k: v for k, v in vars(rep).items() if k != "path"}
        atomic_write_json(args.json, provenance(kind="dataset check", path=str(rep.path), ok=rep.ok, **fields))
    return 0 if rep.ok else 1


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_check, argv)


if __name__ == "__main__":
    raise SystemExit(main())
