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
run_rgb2hs_trainer train_RGB2HS_fixed_metamer.py
