#!/usr/bin/env bash
# Train the bundled 9x9 model on a CPU in resumable, time-budgeted chunks, evaluating the saved
# checkpoint between chunks (RUN/evals/step-N.json: the learning curve), then calibrate, evaluate and
# plot. Bundling is a separate step (scripts/bundle_sudoku9.sh) so a run can be inspected first.
#
#   scripts/train_sudoku9.sh [RUN_DIR]      (default /tmp/sudoku9; run from the repo root)
#
# Environment: CHUNKS (default 4) x CHUNK_S (default 1200 s of training each), THREADS (default 2;
# use 1 on a loaded machine), FINALIZE (default 1: calibrate, evaluate and plot after the chunks; 0
# to run more chunks later), and the hyper-parameters below (chosen by the sweep in
# trm_edge/checkpoints/sudoku9/README.md). INIT=CHECKPOINT starts the run from that model's weights
# (e.g. INIT=sudoku9: continue the bundled model with a fresh optimizer); STEPS and LR_MIN_RATIO
# give the run a cosine lr decay that ends at step STEPS (the chunks stop there); N_TRAIN (default
# 10000) sets the generated training puzzles (stage 4 of the bundled model used 30000). A kill loses at
# most --checkpoint-every steps: re-running the script resumes from RUN/train_state.
set -euo pipefail
RUN=${1:-/tmp/sudoku9}
CHUNKS=${CHUNKS:-4}
CHUNK_S=${CHUNK_S:-1200}
THREADS=${THREADS:-2}
TASK=${TASK:-sudoku9-30-36}   # the bundled model's range (the sweep compared 24-36)
LR=${LR:-2e-3}
D=${D:-64}
N_TRAIN=${N_TRAIN:-10000}   # generated training puzzles (augmented on the fly)
STEPS=${STEPS:-100000}
LR_MIN_RATIO=${LR_MIN_RATIO:-1}   # 1: constant lr after the warm-up
init=()
[[ -n "${INIT:-}" ]] && init=(--init "$INIT")
export TRM_EDGE_CACHE=${TRM_EDGE_CACHE:-/tmp/trmcache}
mkdir -p "$RUN/evals"
for ((c = 1; c <= CHUNKS; c++)); do
    start=(--preset sudoku9-small --task "$TASK" --model d_model="$D" --model n_latent=2 --no-halt --lr "$LR"
           --n-train "$N_TRAIN" --lr-min-ratio "$LR_MIN_RATIO" "${init[@]}")
    [[ -f "$RUN/train_state/state.json" ]] && start=(--resume)   # the run keeps its own settings
    trm-edge train "${start[@]}" --steps "$STEPS" --time-budget "$CHUNK_S" \
        --checkpoint-every 500 --log-every 48 --val-n 0 --threads "$THREADS" --quiet --out "$RUN"
    read -r step stopped < <(python -c "import json,sys; s=json.load(open(sys.argv[1])); print(s['step'], s['stopped_by'].replace(' ', '_'))" "$RUN/summary.json")
    trm-edge eval --checkpoint "$RUN/model" --n 300 --givens 30-36 --threshold 1e6 \
        --json "$RUN/evals/step-$step.json"
    [[ "$stopped" == steps ]] && break
done
[[ "${FINALIZE:-1}" == 1 ]] || exit 0
trm-edge calibrate --checkpoint "$RUN/model" --n 1000                  # q_halt threshold on the val split
trm-edge eval --checkpoint "$RUN/model" --n 1000 --givens 30-36 --json "$RUN/model/eval-30-36.json"
trm-edge eval --checkpoint "$RUN/model" --n 1000 --json "$RUN/model/eval.json"
trm-edge eval --checkpoint "$RUN/model" --n 1000 --givens 22-30 --json "$RUN/model/eval-22-30.json"
trm-edge report curve "$RUN" --out "$RUN/model/learning_curve.png" --title "sudoku9: $TASK, D=$D, lr $LR"
cp "$RUN/train_log.jsonl" "$RUN/summary.json" "$RUN/model/"
