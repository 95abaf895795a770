#!/usr/bin/env bash
# GPU checks in one go (a CUDA machine with torch already installed; nothing is installed here):
#   the CUDA-marked tests, a fixed/on-the-fly training-throughput benchmark on ARAD-size synthetic scenes,
#   and a short on-the-fly CUDA training run with the double Gauss PSF and noise.
# Usage: bench/gpu_check.sh [OUT_DIR]   (default results/gpu_check). Run from the repository root.
set -uo pipefail
out="${1:-results/gpu_check}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"
data="${GPU_CHECK_DATA:-/tmp/hsi_gpu_check}"
nvidia-smi -L | tee "$out/gpu.txt"
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/gpu.txt"

echo "== CUDA tests"
"$py" -m pytest -m cuda -q -rs tests/test_render.py tests/test_metamer.py tests/test_selective_scan.py 2>&1 | tail -n 25 | tee "$out/pytest_cuda.log"

echo "== data: 24 train + 2 valid scenes of 482 x 512 (synthetic smooth spectra)"
"$py" - "$data" <<'PY'
import sys, time
from pathlib import Path
sys.path.insert(0, "tests")
from _tiny_data import make_tiny_dataset
t = time.time()
if not (Path(sys.argv[1]) / "SYNTH" / "split_txt").exists():
    make_tiny_dataset(Path(sys.argv[1]), n_train=24, n_valid=2, size=482)
print(f"data ready in {time.time() - t:.1f} s")
PY

echo "== throughput (MST++, batch 20, crop 128)"
"$py" bench/train_throughput.py --dataset_path "$data" --dataset_name SYNTH --psf_name double_gauss_50mm_F1.8 \
  --methods mst_plus_plus --modes fp32 amp+compile --num_workers 12 --batches 30 --loop_iterations 100 \
  --out "$out/train_throughput.json" 2>&1 | grep -v "^20[0-9][0-9]-" | tee "$out/bench.log"

echo "== short on-the-fly CUDA training (exact metamers, bf16)"
"$py" RGB2HS/train_RGB2HS_onthefly_metamer.py --dataset_path "$data" --dataset_name SYNTH \
  --psf_name None --result_root "$out/runs" --num_epochs 1 --per_epoch_iteration 300 \
  --valid_freq 100 --save_freq 100 --log_freq 50 --amp True --metamer_mode exact --num_workers 12 --data_join standard \
  2>&1 | tail -n 12 | tee "$out/train.log"
