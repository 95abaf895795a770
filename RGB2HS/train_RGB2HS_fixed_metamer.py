"""Train with fixed metamers: originals and their alpha = 0 metamers from disk, for training and
validation (the paper's "fixed metamer" setting, Tables VI/VII).

Data: ``<dataset_path>/<NAME>/<noise><npe>_<psf>/`` as written by ``metamer/generate_metamers.py``.
Run folder: ``<result_root>/Fixed_metamer_<loss>_<fmt>_<noise><npe>_<psf>_<method>_<dataset>``.
"""
import argparse

from hsi.train.cli import add_rgb2hs_args, train_main


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_rgb2hs_args(ap, "fixed")
    train_main(ap.parse_args(argv), "fixed")


if __name__ == "__main__":
    main()
