#!/usr/bin/env bash
# The README's main job: set up, then run the demo (until the training framework lands:
# renders a mesh from the 24 dataset views with SoftRas, silhouette and colour, to PNGs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec .venv/bin/renderers-demo --out outputs/demo "$@"
