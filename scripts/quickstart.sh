#!/usr/bin/env bash
# The README's main job, on a fresh machine: set up, generate the built-in synthetic data,
# train the `quickstart` experiment on the CPU, evaluate it (IoU tables beside the sphere
# baselines), and export meshes and previews for a few test objects.
# Extra arguments go to the training command, e.g. `bash scripts/quickstart.sh trainer.max_steps=300`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
BIN=.venv/bin
RUN=logs/quickstart/$(date +%Y-%m-%d_%H-%M-%S)
start=$(date +%s)

"$BIN/recon-synth" --out datasets/synthetic --seed 0
"$BIN/recon-train" experiment=quickstart test=false extras.print_config=false "hydra.run.dir=$RUN/train" "$@"
# The final model, as SoftRas and NMR evaluate theirs (the best-val checkpoint would make the
# val numbers selection-biased).
ckpt="$RUN/train/checkpoints/last.ckpt"
"$BIN/recon-eval" "ckpt_path=$ckpt" data=synthetic extras.print_config=false "hydra.run.dir=$RUN/eval"
"$BIN/recon-export" "ckpt_path=$ckpt" data=synthetic split=test "objects=[0,8,16,24,32,40]" "views=[0]" \
  extras.print_config=false "hydra.run.dir=$RUN/export"

cat <<MSG

Quickstart finished in $(( $(date +%s) - start )) s (after setup).
  checkpoint (the final model):   $ckpt
  IoU tables:                      $RUN/eval/iou_val.csv, iou_test.csv, iou.json
  exported meshes and previews:    $RUN/export/
  training logs and previews:      $RUN/train/ (wandb offline runs in $RUN/train/wandb; upload with \`wandb sync\`)
MSG
