#!/usr/bin/env bash
# Bundle a finished scripts/train_sudoku9.sh run as trm_edge/checkpoints/sudoku9 and regenerate its
# golden vectors (trm_edge/golden_vectors/sudoku9.json). Run from the repo root:
#
#   scripts/bundle_sudoku9.sh [RUN_DIR]        (default /tmp/sudoku9)
#
# The README tables (trm_edge/checkpoints/sudoku9/README.md, docs/bundled-models.md) are updated by hand from the
# eval*.json files this copies.
set -euo pipefail
RUN=${1:-/tmp/sudoku9}
DEST=trm_edge/checkpoints/sudoku9
mkdir -p "$DEST"
for f in model.safetensors config.json calibration.json training.json train_log.jsonl summary.json \
         eval.json eval-30-36.json eval-22-30.json learning_curve.png; do
    cp "$RUN/model/$f" "$DEST/"
done
mkdir -p "$DEST/evals" && cp "$RUN"/evals/step-*.json "$DEST/evals/"   # the curve's points
trm-edge vectors --checkpoint sudoku9 --seed 5   # -> trm_edge/golden_vectors/sudoku9.json
bash scripts/bundle_artifacts.sh sudoku9               # -> trm_edge/checkpoints/sudoku9/artifacts/ (ready-made ONNX + TFLite)
