#!/usr/bin/env bash
# README command 1: set up .venv if needed and run the toolkit's main job on the embedded default data.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$HSI_ROOT"
exec "$HSI_PY" scripts/demo.py "$@"
