"""Peak host RAM of a training run, all of its processes together (main process and loader workers).

Starts the command given after ``--`` and samples every process of its tree from ``/proc`` every
``--interval`` seconds. Proportional set sizes (``/proc/<pid>/smaps_rollup``) are summed, so pages that
several processes share (the DataLoader's shared-memory batches, the libraries) count once:

* ``anon_shmem_gib``: anonymous + shared memory, what the run itself needs;
* ``file_gib``: file-backed pages mapped (the memory-mapped scene cache and the libraries), page cache
  that the kernel reclaims under memory pressure.

Prints one JSON record with the peaks and writes it to ``--out``. Example (fixed-metamer training at the
paper's batch, crop and 8 workers)::

    python bench/train_ram.py --out results/bench/ram.json -- python RGB2HS/train_RGB2HS_fixed_metamer.py \\
        --dataset_path ./datasets --dataset_name ARAD_1K --num_workers 8 --device cpu \\
        --num_epochs 1 --per_epoch_iteration 3 --valid_freq 0
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

from hsi.cli_types import HelpFormatter, positive_float
from hsi.errors import ToolkitError, run_main
from hsi.io import atomic_write_json, provenance

_FIELDS = {"Pss_Anon": "anon", "Pss_Shmem": "shmem", "Pss_File": "file"}


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux ``/proc``)."""
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo += _children(p)
    return tree


def tree_memory(pid: int) -> dict[str, int]:
    """Summed proportional ``anon``, ``shmem`` and ``file`` bytes of the process tree of ``pid``."""
    total = dict.fromkeys(_FIELDS.values(), 0)
    for p in process_tree(pid):
        try:
            lines = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except OSError:  # the process ended meanwhile
            continue
        for line in lines:
            key, _, rest = line.partition(":")
            if key in _FIELDS:
                total[_FIELDS[key]] += int(rest.split()[0]) * 1024
    return total


def _measure(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--interval", type=positive_float, default=0.2, help="seconds between samples")
    ap.add_argument("--out", default="results/bench/train_ram.json", help="JSON record written")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- then the training command")
    args = ap.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("give the training command after --")
    if not Path("/proc/self/smaps_rollup").exists():
        raise ToolkitError("needs Linux /proc/<pid>/smaps_rollup (run it on Linux)")
    t0 = time.time()
    child = subprocess.Popen(command)
    peak = {"anon_shmem": 0, "file": 0, "processes": 0}
    while child.poll() is None:
        mem = tree_memory(child.pid)
        peak["anon_shmem"] = max(peak["anon_shmem"], mem["anon"] + mem["shmem"])
        peak["file"] = max(peak["file"], mem["file"])
        peak["processes"] = max(peak["processes"], len(process_tree(child.pid)))
        time.sleep(args.interval)
    record = {"training_command": command, "returncode": child.returncode, "seconds": round(time.time() - t0, 1),
              "peak_anon_shmem_gib": round(peak["anon_shmem"] / 2 ** 30, 3),
              "peak_file_gib": round(peak["file"] / 2 ** 30, 3), "peak_processes": peak["processes"]}
    print(json.dumps(record), flush=True)
    atomic_write_json(args.out, provenance(**record))
    return child.returncode


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_measure, argv)


if __name__ == "__main__":
    raise SystemExit(main())
