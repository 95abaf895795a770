"""The MST++ toolbox's training recipe (Table II: training with less data).

ARAD_1K layout under ``--data_root``: ``Train_Spec/<scene>.mat``, the official ``Train_RGB/<scene>.jpg``
and ``split_txt/``; MRAE loss; Adam with a cosine schedule over ``--end_epoch`` x 1000 iterations;
``--percent p``: exactly round(N p / 100) training scenes chosen reproducibly from ``--seed`` (the list is
written to the run folder). Run folder: ``--outf`` (``_<p>percent`` appended with ``--percent``).
"""
import argparse

from hsi.cli_types import HelpFormatter, allow_bare_bool, method_help, percent
from hsi.errors import run_main
from hsi.train.cli import add_engine_args, add_print_run_dir_arg, add_schedule_args, mstpp_main, str2bool


def build_parser() -> argparse.ArgumentParser:
    """The recipe's flags (also read by ``hsi.sweep_cost`` to plan a run without starting it)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--method", default="mst_plus_plus", help=method_help())
    ap.add_argument("--pretrained_model_path", default=None, help="checkpoint to start from (None: random init)")
    ap.add_argument("--percent", type=percent, default=None, help="percentage, in (0, 100], of the training scenes")
    add_schedule_args(ap, epochs=("--end_epoch", 300, "--iterations_per_epoch"), crop="--patch_size", valid_freq=1000)
    ap.add_argument("--outf", default="./MST_plus_plus_code/train_exp/", help="run folder")
    ap.add_argument("--data_root", default="./datasets/ARAD_1K/", help="ARAD_1K-style dataset folder")
    ap.add_argument("--gpu_id", default=None, help="GPU index")
    ap.add_argument("--wandb", type=str2bool, default=False, help="log to Weights & Biases")
    ap.add_argument("--seed", type=int, default=0, help="seed of the run")
    add_engine_args(ap)
    add_print_run_dir_arg(ap)
    return allow_bare_bool(ap)


def _train(argv: list[str]) -> int:
    mstpp_main(build_parser().parse_args(argv))
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_train, argv)


if __name__ == "__main__":
    raise SystemExit(main())
