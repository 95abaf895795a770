#!/usr/bin/env bash
# README command 2: set up .venv if needed and run the test suite (slow and CUDA tests are skipped;
# run them with `./scripts/test.sh -m slow` or `./scripts/test.sh -m cuda`). Extra args go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"
cd "$HSI_ROOT"
exec "$HSI_PY" -m pytest "$@"
