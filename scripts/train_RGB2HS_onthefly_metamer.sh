#!/usr/bin/env bash
# Train with on-the-fly metamers (random alpha per patch, rendered in the training step) (the paper's train_RGB2HS_onthefly_metamer.sh).
# Needs the data of generate_metamers.sh for the same DATASET_NAME / NOISE_TYPE / NPE / PSF_NAME. Variables
# (environment): RESULT_ROOT, LOSS_FUNC below; PSF_NAME, DATASET_NAME, METHOD, NOISE_TYPE, NPE, RGB_FORMAT,
# INIT_LR, SEED, TRAIN_ARGS: see run_rgb2hs_trainer in lib.sh.
RESULT_ROOT="${RESULT_ROOT:-./RGB2HS/train_exp_onthefly_metamer}"
LOSS_FUNC="${LOSS_FUNC:-l1}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
run_rgb2hs_trainer train_RGB2HS_onthefly_metamer.py
