"""CPU thread policies for the demo's training step, on an idle machine and beside a competing process.

The demo's MST++ step (batch 8, crop 64, fp32, L1 loss, Adam; random tensors, so no data path) is timed
with torch's intra-op threads set by each policy: ``1``, ``2`` (or any count) and ``auto``
(``hsi.device.cpu_thread_count``, evaluated after the competitor has started). Each policy runs alone
and beside a competing process that keeps ``--competitor_threads`` torch threads busy with matrix
products (another user's job). Prints a Markdown table and writes the records as JSON::

    python bench/cpu_threads.py                           # policies 1, 2, auto; idle and competing
    python bench/cpu_threads.py --policies 1 auto --seconds 20

Run it on an otherwise idle machine: the idle rows are only idle when nothing else runs (the script
prints the 1-minute load average before it starts).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from hsi.cli_types import HelpFormatter, positive_int
from hsi.errors import OptionError, run_main
from hsi.io import atomic_write_json, provenance

COMPETITOR = """
import torch, time
torch.set_num_threads({threads})
a = torch.randn(512, 512)
while True:
    a = torch.tanh(a @ a) * 0.5
"""


def step_rate(threads: int, seconds: float, batch: int = 8, crop: int = 64, method: str = "mst_plus_plus") -> dict:
    """Samples/s of the training step with ``threads`` torch threads: 2 warm-up steps, then steps until
    ``seconds`` have passed (at least 3)."""
    from hsi.models import build_model
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = build_model(method)
    opt = torch.optim.Adam(net.parameters(), lr=4e-4)
    rgb, cube = torch.rand(batch, 3, crop, crop), torch.rand(batch, 31, crop, crop)

    def step():
        loss = (net(rgb) - cube).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    t0, steps = time.perf_counter(), 0
    while steps < 3 or time.perf_counter() - t0 < seconds:
        step()
        steps += 1
    elapsed = time.perf_counter() - t0
    return {"threads": threads, "steps": steps, "seconds": elapsed, "samples_per_s": steps * batch / elapsed}


def _threads_of(policy: str) -> int:
    from hsi.device import cpu_thread_count
    if policy == "auto":
        return cpu_thread_count({})            # the policy without OMP_NUM_THREADS
    if not policy.isdigit() or int(policy) < 1:
        raise OptionError(f"--policies: {policy!r} is neither a thread count nor 'auto'")
    return int(policy)


def measure(policies: list[str], seconds: float, competitor_threads: int) -> list[dict]:
    """One record per (condition, policy): idle first, then beside the competitor."""
    records = []
    for condition in ("idle", "competing"):
        proc = None
        if condition == "competing":
            proc = subprocess.Popen([sys.executable, "-c", COMPETITOR.format(threads=competitor_threads)],
                                    env={**os.environ, "OMP_NUM_THREADS": str(competitor_threads)})
            time.sleep(2.0)                    # let it occupy its cores before the policy looks
        try:
            for policy in policies:
                threads = _threads_of(policy)
                rec = step_rate(threads, seconds)
                records.append({"condition": condition, "policy": policy, **rec})
                print(f"[threads] {condition:9s} policy {policy:4s} -> {threads} thread(s): "
                      f"{rec['samples_per_s']:.2f} samples/s ({rec['steps']} steps)", flush=True)
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()
    return records


def _main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--policies", nargs="+", default=["1", "2", "auto"], help="thread counts or 'auto'")
    ap.add_argument("--seconds", type=float, default=15.0, help="timed seconds per measurement (after warm-up)")
    ap.add_argument("--competitor_threads", type=positive_int, default=2, help="threads of the competing process")
    ap.add_argument("--out", default="results/bench/cpu_threads.json", help="JSON records written")
    args = ap.parse_args(argv)
    for p in args.policies:
        _threads_of(p)                         # a bad policy fails before any measurement
    print(f"[threads] {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the run", flush=True)
    records = measure(args.policies, args.seconds, args.competitor_threads)
    print("| condition | policy | threads | samples/s |\n|---|---|---:|---:|")
    for r in records:
        print(f"| {r['condition']} | {r['policy']} | {r['threads']} | {r['samples_per_s']:.2f} |")
    atomic_write_json(Path(args.out), provenance(args=vars(args), records=records))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_main(_main))
