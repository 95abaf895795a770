"""The MST++ toolbox's training recipe (Table II: training with less data).

ARAD_1K layout under ``--data_root``: ``Train_Spec/<scene>.mat``, the official ``Train_RGB/<scene>.jpg``
and ``split_txt/``; MRAE loss; Adam with a cosine schedule over ``--end_epoch`` x 1000 iterations;
``--percent p``: exactly round(N p / 100) training scenes chosen reproducibly from ``--seed`` (the list is
written to the run folder). Run folder: ``--outf`` (``_<p>percent`` appended with ``--percent``).
"""
import argparse

from hsi.train.cli import add_engine_args, add_print_run_dir_arg, mstpp_main, str2bool


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", default="mst_plus_plus")
    ap.add_argument("--pretrained_model_path", default=None, help="checkpoint to start from (none: random init)")
    ap.add_argument("--percent", type=float, default=None, help="percentage of the training scenes")
    ap.add_argument("--batch_size", type=int, default=20)
    ap.add_argument("--end_epoch", type=int, default=300, help="epochs of 1000 iterations")
    ap.add_argument("--iterations_per_epoch", type=int, default=1000)
    ap.add_argument("--init_lr", type=float, default=None, help="default: the method's (MST++ README table)")
    ap.add_argument("--outf", default="./MST_plus_plus_code/train_exp/")
    ap.add_argument("--data_root", default="./datasets/ARAD_1K/")
    ap.add_argument("--patch_size", type=int, default=128)
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--gpu_id", default=None)
    ap.add_argument("--wandb", type=str2bool, default=False)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--valid_freq", type=int, default=1000)
    ap.add_argument("--save_freq", type=int, default=1000)
    ap.add_argument("--log_freq", type=int, default=20)
    add_engine_args(ap)
    add_print_run_dir_arg(ap)
    mstpp_main(ap.parse_args(argv))


if __name__ == "__main__":
    from hsi.errors import run_main
    raise SystemExit(run_main(main))
