#!/usr/bin/env bash
# The README's main job: set up, then (until the training framework lands) generate the
# built-in synthetic data set and render a test mesh from the 24 dataset views to PNGs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/recon-synth --out datasets/synthetic --seed 0
exec .venv/bin/renderers-demo --out outputs/demo "$@"
