#!/usr/bin/env bash
# Sets up the environment (scripts/setup_env.sh) and runs the default test suite.
# Extra arguments go to pytest, e.g. `bash scripts/run_tests.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export WANDB_MODE=${WANDB_MODE:-disabled}
exec .venv/bin/python -m pytest "$@"
