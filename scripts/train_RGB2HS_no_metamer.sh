#!/usr/bin/env bash
# Train without metamers (baseline) (the paper's train_RGB2HS_no_metamer.sh).
# Needs the data of generate_metamers.sh for the same DATASET_NAME / NOISE_TYPE / NPE / PSF_NAME. Variables
# (environment): RESULT_ROOT, LOSS_FUNC below; PSF_NAME, DATASET_NAME, METHOD, NOISE_TYPE, NPE, RGB_FORMAT,
# INIT_LR, SEED, TRAIN_ARGS: see run_rgb2hs_trainer in lib.sh.
RESULT_ROOT="${RESULT_ROOT:-./RGB2HS/train_exp_no_metamer}"
LOSS_FUNC="${LOSS_FUNC:-mrae}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run_rgb2hs_trainer train_RGB2HS_no_metamer.py
