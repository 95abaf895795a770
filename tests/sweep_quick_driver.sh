#!/usr/bin/env bash
# A real quick-scale driver in stages (used by tests/test_sweep.py, slow): generate the SYNTH renderings,
# train MST++ with two seeds, validate both checkpoints; LAUNCHER=local|parallel|slurm as the drivers.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
source "$HSI_ROOT/scripts/lib_sweep.sh"
ds=SYNTH m=mst_plus_plus loss=l1
ensure_dataset "$ds"
variant="$DATASET_PATH/$ds/$("$PY" -m hsi.layout variant --npe 0 --psf_name None)"
run_name="$("$PY" -m hsi.layout train_run --mode no_metamer --loss "$loss" --method "$m" --dataset_name "$ds")"

stage_begin generation
stage_add "gen_${ds}" "$variant/manifest.json" 0 -- \
  env DATASET_NAME="$ds" PSF_NAME=None NPE=0 RGB_FORMAT=png "$HSI_ROOT/scripts/generate_metamers.sh"
stage_end

stage_begin training
for seed in 0 1; do
  stage_add "train_${m}_seed$seed" "$RESULTS/train_seed$seed/$run_name/summary.json" 1 -- \
    env DATASET_NAME="$ds" METHOD="$m" PSF_NAME=None NPE=0 RGB_FORMAT=png LOSS_FUNC="$loss" SEED="$seed" \
    RESULT_ROOT="$RESULTS/train_seed$seed" TRAIN_ARGS="--data_join standard" "$HSI_ROOT/scripts/train_RGB2HS_no_metamer.sh"
done
stage_end

stage_begin validation      # no done file: validate_RGB2HS.sh skips a checkpoint it has validated (--skip_existing)
for seed in 0 1; do
  stage_add "valid_${m}_seed$seed" - 0 -- \
    env DATASET_NAME="$ds" METHOD="$m" PSF_NAME=None NPE=0 RGB_FORMAT=png METAMER=False TAG="sweep/seed$seed" \
    PRETRAINED_ROOT="@ckpt:$RESULTS/train_seed$seed/$run_name" RESULT_ROOT="$RESULTS/valid_seed$seed" \
    "$HSI_ROOT/scripts/validate_RGB2HS.sh"
done
stage_end
