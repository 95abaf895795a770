"""The cost of the paper: GPU-hours and wall time of each paper table's training runs, with the
toolkit's loop and with the paper's code, from measured samples/s (``bench/train_throughput.py``).

The runs are the drivers' own (``scripts/table*.sh``, ``finding3_*.sh`` under ``LAUNCHER=plan``, with the
variables of the environment: ``SCALE`` default ``paper``, ``METHODS``, ``DATASETS``, ``ENGINE_ARGS``...;
``ENGINE_ARGS`` chooses the measured mode: add ``--amp True --compile True`` for bf16 + CUDA graphs)::

    ENGINE_ARGS="--resume True --num_workers 8 --amp True --compile True" \\
      python bench/paper_cost.py --records results/bench/train_throughput.json --out docs/benchmarks/paper_cost.md

A method without a measured rate is "not measured" and the totals say how many runs that leaves out.
See ``hsi.sweep_cost`` for the rates and the packing assumption.
"""
from __future__ import annotations

import argparse
import os
import sys

from hsi.cli_types import HelpFormatter, positive_int, str2bool
from hsi.errors import run_main
from hsi.io import atomic_write_json, atomic_write_text, provenance
from hsi.sweep_cost import PAPER_TABLES, PaperCostOptions, paper_cost, planning_command


def _main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--records", nargs="+", default=["docs/benchmarks/train_throughput_h200_2026-11-26.jsonl"],
                    help="bench/train_throughput.py outputs (its --out JSON, or JSON lines)")
    ap.add_argument("--device", default=None, help="part of the GPU name whose records to use (None: the only one)")
    ap.add_argument("--drivers", nargs="+", default=[], choices=[t.driver for t in PAPER_TABLES], metavar="DRIVER",
                    help="tables to plan (default: all)")
    ap.add_argument("--gpus", nargs="+", type=positive_int, default=[1, 8, 64], help="GPU counts of the wall times")
    ap.add_argument("--data_on_device", type=str2bool, default=True,
                    help="rate of --data_on_device auto runs: scenes on the GPU (True) or DataLoader workers")
    ap.add_argument("--anchors", type=str2bool, default=True,
                    help="toolbox anchors (H200) where the records hold no toolbox step of a method")
    ap.add_argument("--workers", type=positive_int, default=2, help="trainer command lines printed at once")
    ap.add_argument("--out", default="results/bench/paper_cost.md", help="Markdown written (+ .json beside it)")
    args = ap.parse_args(argv)
    opts = PaperCostOptions(tuple(args.records), args.device, tuple(args.drivers), tuple(args.gpus),
                            args.data_on_device, args.anchors, args.workers)
    text, record = paper_cost(opts, command=planning_command(os.environ, argv))
    atomic_write_text(args.out, text)
    atomic_write_json(args.out.rsplit(".", 1)[0] + ".json", provenance(args=vars(args), **record))
    sys.stdout.write(text)
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
