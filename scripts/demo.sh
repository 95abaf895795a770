#!/usr/bin/env bash
# README command 1: set up .venv if needed, then the toolkit's main job on the embedded data:
#   1. metamers of a measured-spectra scene through the camera, with and without PSF and noise (seconds);
#   2. Table V in small: build the embedded SYNTH dataset, generate its metamer data, train MST++ briefly
#      on the CPU, validate it on the originals and on the alpha = 0 metamers (a few minutes on 2 cores);
#   3. the report (tables and figures) and the resulting table.
# Re-running skips what is done. Arguments go to part 1 (scripts/demo.py --help).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$HSI_ROOT"
"$HSI_PY" scripts/demo.py "$@"
echo
echo "[demo] part 2: Table V on the embedded dataset (SCALE=quick: SYNTH, MST++, 200 iterations on the CPU)"
PY="$HSI_PY" SCALE=quick RESULTS=./results/quick ./scripts/table5_metamer_validation.sh
echo
echo "[demo] part 3: the report"
"$HSI_PY" scripts/report.py --results results/quick --out results/quick/report
echo
sed -n '1,/^\*\*RMSE/p' results/quick/report/table5.md | sed '$d'
echo "[demo] done. Report: results/quick/report/index.md (tables as Markdown, LaTeX, CSV; figures)."
