"""bench/train_ram.py: the peak RAM of a process tree (children included) is measured."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="needs Linux /proc/<pid>/smaps_rollup")
def test_train_ram_counts_the_memory_of_child_processes(tmp_path):
    # the parent holds ~20 MB, a child process ~300 MB: the peak must include the child's
    child = "import numpy as np, time; a = np.ones(300 * 2**20 // 8); time.sleep(1.5)"
    parent = (f"import numpy as np, subprocess, sys; a = np.ones(20 * 2**20 // 8); "
              f"subprocess.run([sys.executable, '-c', {child!r}], check=True)")
    out = tmp_path / "ram.json"
    res = subprocess.run([sys.executable, str(ROOT / "bench/train_ram.py"), "--interval", "0.05", "--out", str(out),
                          "--", sys.executable, "-c", parent], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    record = json.loads(out.read_text())
    assert record["returncode"] == 0 and record["peak_processes"] >= 2
    assert 0.30 < record["peak_anon_shmem_gib"] < 1.5, record
