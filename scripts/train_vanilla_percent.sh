#!/usr/bin/env bash
# The MST++ toolbox recipe with less data (the paper's train_vanilla_percent.sh): ARAD-style folder with
# Train_Spec/, the official Train_RGB/ JPEGs and split_txt/. PERCENT=100 uses every training scene.
METHOD="${METHOD:-mst_plus_plus}"
PERCENT="${PERCENT:-50}"                # 100, 50, 20 in the paper
DATA_ROOT="${DATA_ROOT:-./datasets/ARAD_1K/}"
OUTF="${OUTF:-./MST_plus_plus_code/train_exp/${METHOD}}"
INIT_LR="${INIT_LR:-}"                  # empty: the method's learning rate (README table)
END_EPOCH="${END_EPOCH:-}"              # epochs of PER_EPOCH_ITERATION iterations (default: NUM_EPOCHS of SCALE)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
args=(--method "$METHOD" --data_root "$DATA_ROOT" --outf "$OUTF" --batch_size "$BATCH_SIZE"
      --end_epoch "${END_EPOCH:-$NUM_EPOCHS}" --iterations_per_epoch "$PER_EPOCH_ITERATION"
      --patch_size "$CROP_SIZE" --stride "$STRIDE" --valid_freq "$VALID_FREQ" --save_freq "$SAVE_FREQ" --log_freq "$LOG_FREQ")
[ "$PERCENT" != 100 ] && args+=(--percent "$PERCENT")
[ -n "$INIT_LR" ] && args+=(--init_lr "$INIT_LR")
if [ "${PRINT_RUN_DIR:-False}" = True ]; then  # print the run folder only (lib.sh: run_dir_of)
  "$PY" ./MST_plus_plus_code/train_code/train.py "${args[@]}" $ENGINE_ARGS --print_run_dir True
elif [ "${PRINT_COMMAND:-False}" = True ]; then  # the command line only (lib.sh: print_command)
  print_command "$PY" ./MST_plus_plus_code/train_code/train.py "${args[@]}" $ENGINE_ARGS
elif [ "$LAUNCHER" = plan ]; then
  plan_refuses train.py
else
  $LAUNCH ./MST_plus_plus_code/train_code/train.py "${args[@]}" $ENGINE_ARGS
fi
