"""Train an RGB-to-hyperspectral network without metamers (the paper's baseline, Tables VI/VII).

Data: ``<dataset_path>/<NAME>/<noise><npe>_<psf>/Train_Metamer_RGB/<scene>_original.<fmt>`` with
``<NAME>/Train_Spec/<scene>.mat`` (``--data_join standard``; ``metamer``/``both`` use the metamers too),
made by ``metamer/generate_metamers.py``. Run folder:
``<result_root>/No_metamer_<loss>_<fmt>_<noise><npe>_<psf>_<method>_<dataset>``.
"""
from hsi.errors import run_main
from hsi.train.cli import rgb2hs_parser, train_main


def _train(argv: list[str]) -> int:
    train_main(rgb2hs_parser(__doc__, "no_metamer").parse_args(argv), "no_metamer")
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_train, argv)


if __name__ == "__main__":
    raise SystemExit(main())
