#!/usr/bin/env bash
# GPU checks in one go (a CUDA machine with torch already installed; nothing is installed here), most
# important first, each step time-boxed so that one hang cannot take the rest:
#   1. the step alone: the MST++ toolbox's (fp32, eager, multi-tensor Adam: the baseline on this card),
#      bf16 + torch.compile, and bf16 + torch.compile reduce-overhead (CUDA graphs);
#   2. the whole engine loop, scenes held on the GPU, fixed and on-the-fly data (double Gauss PSF, npe 1000);
#   3. the CUDA-marked tests;
#   4. the data paths alone (DataLoader workers vs scenes on the GPU);
#   5. the loop with DataLoader workers (the RAM-bounded path) and in fp32;
#   6. a short on-the-fly training run through the paper's script (CUDA graphs, validation, checkpoints).
# Usage: bench/gpu_check.sh [OUT_DIR]   (default results/gpu_check; four logs). Run from the repository root.
set -uo pipefail
out="${1:-results/gpu_check}"
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"
data="${GPU_CHECK_DATA:-/tmp/hsi_gpu_check}"
work="${GPU_CHECK_WORK:-/tmp/hsi_gpu_check_work}"   # JSON records and run folders (the logs go to OUT_DIR)
mkdir -p "$work"
nvidia-smi -L | tee "$out/gpu.txt"
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$out/gpu.txt"

echo "== data: 24 train + 2 valid scenes of 482 x 482 (synthetic smooth spectra)"
"$py" - "$data" <<'PY'
import sys, time
from pathlib import Path
sys.path.insert(0, "tests")
from _tiny_data import make_tiny_dataset
from hsi import layout
t = time.time()
if not layout.dataset_folder(Path(sys.argv[1]) / "SYNTH", "split").exists():
    make_tiny_dataset(Path(sys.argv[1]), n_train=24, n_valid=2, size=482)
print(f"data ready in {time.time() - t:.1f} s")
PY

bench() {  # bench <json name> <timeout s> <flags...>
    local name=$1 limit=$2; shift 2
    timeout "$limit" "$py" bench/train_throughput.py --dataset_path "$data" --dataset_name SYNTH \
        --psf_name double_gauss_50mm_F1.8 --methods mst_plus_plus --num_workers 12 --batches 30 \
        --loop_iterations 150 --out "$work/$name.json" "$@" 2>&1 | grep -v "^20[0-9][0-9]-\|scenes to device" | tee -a "$out/bench.log"
}
echo "== 1. step alone (MST++, batch 20, crop 128)"
bench step 200 --parts step --modes toolbox amp+compile amp+compile-ro
echo "== 2. loop, scenes on the GPU, bf16 + compile reduce-overhead"
bench loop_gpu 150 --parts loop --modes amp+compile-ro --data_on_device on

echo "== 3. CUDA tests"
timeout 120 "$py" -m pytest -m cuda -q -rs -p no:cacheprovider tests/test_render.py tests/test_metamer.py \
    tests/test_selective_scan.py 2>&1 | tail -n 25 | tee "$out/pytest_cuda.log"

echo "== 4. data path alone"
bench data 90 --parts data --data_on_device off on
echo "== 5. loop: DataLoader workers (bf16 + compile reduce-overhead), scenes on the GPU in fp32"
bench loop_workers 150 --parts loop --modes amp+compile-ro --data_on_device off
bench loop_fp32 90 --parts loop --modes fp32 --data_on_device on

echo "== 6. short on-the-fly training through the script (bf16, CUDA graphs, exact metamers)"
timeout 150 "$py" RGB2HS/train_RGB2HS_onthefly_metamer.py --dataset_path "$data" --dataset_name SYNTH \
  --psf_name None --result_root "$work/runs" --num_epochs 1 --per_epoch_iteration 300 \
  --valid_freq 100 --save_freq 100 --log_freq 50 --amp True --compile True --compile_mode reduce-overhead \
  --metamer_mode exact --data_join standard 2>&1 | grep -v "scenes to device" | tail -n 14 | tee "$out/train.log"
