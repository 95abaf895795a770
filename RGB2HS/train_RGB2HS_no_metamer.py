"""Train an RGB-to-hyperspectral network without metamers (the paper's baseline, Tables VI/VII).

Data: ``<dataset_path>/<NAME>/<noise><npe>_<psf>/Train_Metamer_RGB/<scene>_original.<fmt>`` with
``<NAME>/Train_Spec/<scene>.mat`` (``--data_join standard``; ``metamer``/``both`` use the metamers too),
made by ``metamer/generate_metamers.py``. Run folder:
``<result_root>/No_metamer_<loss>_<fmt>_<noise><npe>_<psf>_<method>_<dataset>``.
"""
from hsi.train.cli import rgb2hs_parser, train_main


def main(argv=None):
    train_main(rgb2hs_parser(__doc__, "no_metamer").parse_args(argv), "no_metamer")


if __name__ == "__main__":
    from hsi.errors import run_main
    raise SystemExit(run_main(main))
