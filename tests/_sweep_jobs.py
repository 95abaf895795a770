"""Tiny jobs for the sweep tests (python tests/_sweep_jobs.py KIND ...); no torch, a fraction of a second.

Every job appends ``start <name> <gpu>`` / ``end <name>`` to an events file (O_APPEND lines), so a test
can replay the order in which jobs ran without looking at the clock.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def event(path: str | None, text: str) -> None:
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (text + "\n").encode())
        finally:
            os.close(fd)


def write_json(path: str, record: dict) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, out)


def wait_for(predicate, what: str, limit_s: float = 60.0) -> None:
    """Poll ``predicate`` until true; fail loudly after ``limit_s`` (a guard, never a timing assumption)."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.02)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=("compute", "fail", "wait", "train", "validate"))
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", required=True, help="the job's output (JSON)")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--events", default=None)
    ap.add_argument("--pair", default=None, help="a name: wait until that job has started too")
    ap.add_argument("--marker", default=None, help="wait: written (with the pid) once the job runs")
    ap.add_argument("--release", default=None, help="wait: the job finishes once this file exists")
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--resume", default="False")
    a = ap.parse_args()
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "-")
    event(a.events, f"start {a.name} {gpu}")
    print(f"job {a.name} starts (resume {a.resume})", flush=True)
    if a.pair:      # both jobs of a pair must run at the same time, or this one never ends
        wait_for(lambda: f"start {a.pair} " in Path(a.events).read_text(), f"job {a.pair} to start")
    if a.kind == "fail":
        event(a.events, f"end {a.name}")
        raise ValueError(f"job {a.name} broke on purpose")
    if a.kind == "wait":
        attempts = Path(a.marker).read_text().count("\n") if Path(a.marker).exists() else 0
        with open(a.marker, "a") as f:
            f.write(f"{os.getpid()} {os.getppid()} resume={a.resume}\n")
        if attempts == 0:   # first attempt: wait for the release (or to be killed)
            wait_for(lambda: Path(a.release).exists(), "the release file")
    record = {"name": a.name, "value": sum(k * k for k in range(a.n)), "cuda": gpu, "resume": a.resume,
              "gpus": os.environ.get("GPUS")}
    if a.kind == "train":
        run = Path(a.out)
        run.mkdir(parents=True, exist_ok=True)
        (run / "last.pth").write_text(a.name)
        write_json(str(run / "summary.json"), {"method": a.name, "finished": True, "iterations": a.n})
    elif a.kind == "validate":
        write_json(a.out, {**record, "checkpoint": a.ckpt, "weights": Path(a.ckpt).read_text()})
    else:
        write_json(a.out, record)
    event(a.events, f"end {a.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
