#!/usr/bin/env bash
# Re-train the bundled 6x6 model with the authors' block (arch_version 2) and re-bundle it.
#
#   scripts/retrain_sudoku6.sh [RUN_DIR]        (default /tmp/sudoku6-v2; run from the repo root)
#
# Same recipe as trm_edge/checkpoints/sudoku6/README.md, with a fixed step count equal to the
# original run's (its --time-budget 870 stopped it at step 5669), so a slower machine trains the
# same number of steps. On a quiet 2-core CPU that is ~15 min. Use --threads 1 on a loaded machine:
# with 2 threads on 2 busy cores the OpenMP workers wait for each other (0.11 steps/s measured at
# load 13, against 0.36 with 1 thread and ~6.5 quiet).
# Then: calibrate on the validation split, evaluate on 1000 test puzzles, replace the bundled
# checkpoint, regenerate the golden vectors. The tables (docs/bundled-models.md) are updated by hand from eval.json.
set -euo pipefail
RUN=${1:-/tmp/sudoku6-v2}
THREADS=${THREADS:-2}
export TRM_EDGE_CACHE=${TRM_EDGE_CACHE:-/tmp/trmcache}
start=$(date +%s)
trm-edge train --preset sudoku6-small --no-halt --steps 5669 --checkpoint-every 1000 --log-every 500 \
    --val-n 1000 --threads "$THREADS" --quiet --out "$RUN"
echo "train wall: $(( $(date +%s) - start )) s"
trm-edge calibrate --checkpoint "$RUN/model" --n 1000
trm-edge eval --checkpoint "$RUN/model" --n 1000 --json "$RUN/model/eval.json"
cp "$RUN/train_log.jsonl" "$RUN/summary.json" "$RUN/model/"
DEST=trm_edge/checkpoints/sudoku6
cp "$RUN"/model/{model.safetensors,config.json,calibration.json,training.json,train_log.jsonl,summary.json,eval.json} "$DEST/"
trm-edge vectors                                   # -> trm_edge/golden_vectors/sudoku6.json (format unchanged)
bash scripts/bundle_artifacts.sh sudoku6               # -> trm_edge/checkpoints/sudoku6/artifacts/ (ready-made ONNX + TFLite)
echo "now update $DEST/README.md and docs/bundled-models.md's per-depth table from $DEST/eval.json"
