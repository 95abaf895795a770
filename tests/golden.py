"""Before/after check of the architecture redesign: fingerprints of what the scripts produce.

Runs the paper's command lines (subprocesses, so the check does not depend on the library's internal
API) on a small embedded dataset: SYNTH generation, metamer generation in two settings (clip / no noise
/ no PSF / PNG, and exact / Poisson 1000 / double Gauss / PNG + JPEG), two 30-iteration CPU trainings
(fixed metamers; on-the-fly metamers through the PSF with noise) and validations on originals and
metamers. The fingerprint holds SHA-256 digests of every cube's values, every image file's bytes and
every checkpoint's weights, the manifests' statistics (timings removed) and the validation metrics.

    python tests/golden.py --write tests/data/golden_before_redesign.json   # record (the code before)
    python tests/golden.py --compare tests/data/golden_before_redesign.json # check (the code after)

``tests/test_golden.py`` runs the comparison (marked slow: about two minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
KEPT = {  # the keys compared per JSON file (provenance, paths and timings differ from run to run)
    "manifest.json": ("complete", "scenes_total", "settings", "scenes"),
    "summary.json": ("method", "dataset", "metamer", "summary", "images", "iterations", "finished",
                     "best_valid_mrae", "final_valid"),
}
DROPPED_SCENE_KEYS = ("seconds",)


def _run(*args: str, cwd: Path = ROOT) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    res = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")


def _digest(arr: np.ndarray) -> str:
    arr = np.ascontiguousarray(arr)
    return hashlib.sha256(str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes()).hexdigest()[:20]


def _cube_digest(path: Path) -> str:
    with h5py.File(path, "r") as f:
        key = "cube" if "cube" in f else sorted(f.keys())[0]
        return _digest(np.asarray(f[key]))


def _weights_digest(path: Path) -> str:
    state = torch.load(path, map_location="cpu", weights_only=True)
    sd = state.get("state_dict", state)
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(sd[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


def _rounded(obj):
    """Floats to 9 significant digits (JSON round trips), timings dropped, recursively."""
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in sorted(obj.items()) if k not in DROPPED_SCENE_KEYS}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    if isinstance(obj, float):
        return float(f"{obj:.9g}")
    return obj


def _json_digest(path: Path) -> dict:
    rec = json.loads(path.read_text())
    return _rounded({k: rec[k] for k in KEPT[path.name] if k in rec})


def produce(work: Path) -> None:
    """Run the pipeline into ``work`` (datasets/, results/)."""
    ds, res = work / "datasets", work / "results"
    _run("dataset_tools/make_synthetic.py", "--dest_root", str(ds / "SYNTH"), "--num_scenes", "5",
         "--size", "48", "--seed", "0", "--valid_fraction", "0.4", "--no_progress")
    gen = ["metamer/generate_metamers.py", "--dataset_path", str(ds), "--dataset_name", "SYNTH", "--alpha", "0"]
    _run(*gen, "--psf_name", "None", "--npe", "0", "--rgb_format", "png", "--metamer_mode", "clip")
    _run(*gen, "--psf_name", "double_gauss_50mm_F1.8", "--npe", "1000", "--rgb_format", "all",
         "--metamer_mode", "exact")
    common = ["--dataset_path", str(ds), "--dataset_name", "SYNTH", "--method", "mst_plus_plus",
              "--num_epochs", "1", "--per_epoch_iteration", "30", "--batch_size", "2", "--crop_size", "32",
              "--stride", "16", "--valid_freq", "15", "--save_freq", "15", "--log_freq", "10",
              "--device", "cpu", "--num_workers", "0", "--seed", "0", "--deterministic", "True"]
    _run("RGB2HS/train_RGB2HS_fixed_metamer.py", *common, "--psf_name", "None", "--npe", "0",
         "--rgb_format", "png", "--result_root", str(res / "fixed"))
    _run("RGB2HS/train_RGB2HS_onthefly_metamer.py", *common, "--psf_name", "double_gauss_50mm_F1.8",
         "--npe", "1000", "--rgb_format", "png", "--metamer_mode", "exact", "--result_root", str(res / "otf"))
    ckpt = next((res / "fixed").rglob("last.pth"))
    for metamer in ("False", "True"):
        _run("RGB2HS/validate_RGB2HS.py", "--dataset_path", str(ds), "--dataset_name", "SYNTH",
             "--method", "mst_plus_plus", "--pretrained_root", str(ckpt), "--psf_name", "None", "--npe", "0",
             "--rgb_format", "png", "--metamer", metamer, "--device", "cpu", "--result_root", str(res / "valid"))


def fingerprint(work: Path) -> dict:
    """Digests of everything ``produce`` wrote, keyed by path relative to ``work``."""
    out: dict[str, object] = {}
    for p in sorted(work.rglob("*")):
        rel = p.relative_to(work).as_posix()
        if not p.is_file() or "/cache/" in rel or "tensorboard" in rel or "events.out" in p.name:
            continue
        if p.suffix == ".mat":
            out[rel] = _cube_digest(p)
        elif p.suffix in (".png", ".jpg"):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()[:20]
        elif p.suffix == ".pth":
            out[rel] = _weights_digest(p)
        elif p.name in KEPT:
            out[rel] = _json_digest(p)
        elif p.name == "per_image.csv":
            out[rel] = p.read_text()
    return out


def _restricted(after, before):
    """``after`` reduced to what ``before`` has: keys a later feature added to a JSON record or columns
    it added to a CSV table are new outputs, not changed behaviour (every recorded value must still match)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return {k: _restricted(after[k], v) for k, v in before.items() if k in after}
    if isinstance(before, str) and isinstance(after, str) and "," in before.partition("\n")[0]:
        cols = before.partition("\n")[0].split(",")
        rows = list(csv.DictReader(io.StringIO(after)))
        if rows and set(cols) <= set(rows[0]):
            return ",".join(cols) + "\n" + "".join(",".join(r[c] for c in cols) + "\n" for r in rows)
    return after


def compare(before: dict, after: dict) -> list[str]:
    """Human-readable differences (empty: identical in everything ``before`` recorded)."""
    diffs = [f"missing after: {k}" for k in before if k not in after]
    diffs += [f"new after: {k}" for k in after if k not in before]
    diffs += [f"differs: {k}\n  before {before[k]}\n  after  {after[k]}" for k in before
              if k in after and _restricted(after[k], before[k]) != before[k]]
    return diffs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", type=Path, help="record the fingerprint to this JSON file")
    g.add_argument("--compare", type=Path, help="compare with this recorded fingerprint")
    ap.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        produce(work)
        fp = fingerprint(work)
    if args.write:
        args.write.write_text(json.dumps(fp, indent=1, sort_keys=True) + "\n")
        print(f"wrote {len(fp)} fingerprints to {args.write}")
        return 0
    diffs = compare(json.loads(args.compare.read_text()), fp)
    print("\n".join(diffs) if diffs else f"identical: {len(fp)} fingerprints")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
