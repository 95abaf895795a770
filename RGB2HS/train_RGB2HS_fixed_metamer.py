"""Train with fixed metamers: originals and their alpha = 0 metamers from disk, for training and
validation (the paper's "fixed metamer" setting, Tables VI/VII).

Data: ``<dataset_path>/<NAME>/<noise><npe>_<psf>/`` as written by ``metamer/generate_metamers.py``.
Run folder: ``<result_root>/Fixed_metamer_<loss>_<fmt>_<noise><npe>_<psf>_<method>_<dataset>``.
"""
from hsi.train.cli import rgb2hs_parser, train_main


def main(argv=None):
    train_main(rgb2hs_parser(__doc__, "fixed").parse_args(argv), "fixed")


if __name__ == "__main__":
    from hsi.errors import run_main
    raise SystemExit(run_main(main))
