"""Benchmark metamer-data generation on ARAD_1K-size scenes (482 x 512 x 31), CPU and (if present) GPU.

    python ./bench/bench_generate_metamers.py                       # 4 scenes, clip and exact, CPU (+ GPU)
    python ./bench/bench_generate_metamers.py --scenes 8 --npe 1000 --psf_name double_gauss_50mm_F1.8

Builds ARAD-size SYNTH scenes in a temporary folder, runs hsi.metamer_data.generate_metamer_dataset
(the code behind metamer/generate_metamers.py: load, metamer, render original and metamer, write) per
device and metamer mode after a one-scene warm-up, and prints seconds per scene, scenes/s and the time
per stage (load / metamer / render / write; load and write run in background threads, so the stages
overlap and their sum can exceed the wall time). --threads sets torch's CPU threads (default 2).
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from hsi.cli_types import HelpFormatter, int_range, non_negative_float, positive_int, psf_help
from hsi.errors import run_main
from hsi.metamer_data import GenerateOptions, generate_metamer_dataset
from hsi.synthetic import SynthConfig, build_synth_dataset


def _bench(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    ap.add_argument("--scenes", type=positive_int, default=4, help="scenes per run")
    ap.add_argument("--size", type=int_range(8, 1 << 16), nargs=2, default=[482, 512], metavar=("H", "W"),
                    help="scene size")
    ap.add_argument("--modes", nargs="+", default=["clip", "exact"], choices=["clip", "exact"], help="metamer modes")
    ap.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when available")
    ap.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads")
    ap.add_argument("--npe", type=non_negative_float, default=0, help="photo-electrons at signal 1.0 (0: noiseless)")
    ap.add_argument("--psf_name", default="None", help=psf_help())
    ap.add_argument("--psf_path", default="./PSFs", help="folder of the PSF files")
    ap.add_argument("--rgb_format", default="png", choices=["png", "jpg", "all"], help="RGB files written")
    ap.add_argument("--workdir", default=None, help="folder for the data (default: a temporary folder)")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    tmp = tempfile.TemporaryDirectory(prefix="hsi-bench-") if args.workdir is None else None
    root = Path(args.workdir or tmp.name)
    t0 = time.perf_counter()
    build_synth_dataset(root / "SYNTH", SynthConfig(num_scenes=max(2, args.scenes + 1), size=tuple(args.size)),
                        progress=False)
    print(f"[bench] {args.scenes} SYNTH scenes of {args.size[0]} x {args.size[1]} x 31 built in "
          f"{time.perf_counter() - t0:.1f} s in {root}; torch threads {torch.get_num_threads()}")
    if torch.cuda.is_available():
        print(f"[bench] GPU: {torch.cuda.get_device_name(0)}")
    rows = []
    print("| device | mode | npe | PSF | s/scene | scenes/s | load | metamer | render | write |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for device in devices:
        for mode in args.modes:
            common = dict(dataset_path=str(root), dataset_name="SYNTH", psf_name=args.psf_name, psf_path=args.psf_path,
                          npe=args.npe, rgb_format=args.rgb_format, metamer_mode=mode, device=device, overwrite=True)
            generate_metamer_dataset(GenerateOptions(**common, out_name=f"warmup_{device}_{mode}", limit=1),
                                     progress=False, log=lambda m: None)
            m = generate_metamer_dataset(GenerateOptions(**common, out_name=f"bench_{device}_{mode}", limit=args.scenes),
                                         progress=False, log=lambda m: None)
            n = m["generated"]
            st = {k: v / n for k, v in m["stage_seconds"].items()}
            row = {"device": device, "mode": mode, "npe": args.npe, "psf": args.psf_name, "scenes": n,
                   "seconds_per_scene": m["seconds"] / n, "scenes_per_s": m["scenes_per_s"], "stage_per_scene": st}
            rows.append(row)
            print(f"| {device} | {mode} | {args.npe:g} | {args.psf_name} | {row['seconds_per_scene']:.3f} | "
                  f"{row['scenes_per_s']:.2f} | {st['load']:.3f} | {st['metamer']:.3f} | {st['render']:.3f} | "
                  f"{st['write']:.3f} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n")
    if tmp is not None:
        tmp.cleanup()
    return 0


def main(argv=None) -> int:
    """The script (``argv`` default ``sys.argv[1:]``); a user error prints ``error: ...`` and returns 2."""
    return run_main(_bench, argv)


if __name__ == "__main__":
    raise SystemExit(main())
