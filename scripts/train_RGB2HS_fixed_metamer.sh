#!/usr/bin/env bash
# Train with fixed metamers (originals + alpha 0 metamers on disk) (the paper's train_RGB2HS_fixed_metamer.sh).
# Needs the data of generate_metamers.sh for the same DATASET_NAME / NOISE_TYPE / NPE / PSF_NAME.
PSF_NAME="${PSF_NAME:-None}"
DATASET_NAME="${DATASET_NAME:-ARAD_1K}"
METHOD="${METHOD:-mst_plus_plus}"
RESULT_ROOT="${RESULT_ROOT:-./RGB2HS/train_exp_fixed_metamer}"
NOISE_TYPE="${NOISE_TYPE:-poisson}"
NPE="${NPE:-0}"
RGB_FORMAT="${RGB_FORMAT:-png}"
LOSS_FUNC="${LOSS_FUNC:-l1}"
INIT_LR="${INIT_LR:-}"                  # empty: the method's learning rate
SEED="${SEED:-0}"
TRAIN_ARGS="${TRAIN_ARGS:-}"            # more flags of train_RGB2HS_fixed_metamer.py
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
args=(--psf_name "$PSF_NAME" --dataset_path "$DATASET_PATH" --dataset_name "$DATASET_NAME" --method "$METHOD"
      --result_root "$RESULT_ROOT" --noise_type "$NOISE_TYPE" --npe "$NPE" --rgb_format "$RGB_FORMAT"
      --loss_func "$LOSS_FUNC" --num_epochs "$NUM_EPOCHS" --per_epoch_iteration "$PER_EPOCH_ITERATION"
      --batch_size "$BATCH_SIZE" --crop_size "$CROP_SIZE" --stride "$STRIDE" --valid_freq "$VALID_FREQ"
      --save_freq "$SAVE_FREQ" --log_freq "$LOG_FREQ" --seed "$SEED")
[ -n "$INIT_LR" ] && args+=(--init_lr "$INIT_LR")
$LAUNCH ./RGB2HS/train_RGB2HS_fixed_metamer.py "${args[@]}" $ENGINE_ARGS $TRAIN_ARGS
