#!/usr/bin/env bash
# The one command of a GPU session (issue 23; the plan: docs/gpu_training.md). Prepared on the CPU:
#   TRM_EDGE_CACHE=out/cache trm-edge train --out out/sudoku-mlp-hard --preset sudoku-mlp \
#       --task sudoku9-hard --prepare-data          # 1000 train + 1000 val hard puzzles, 0.3 MB
# then, through the device tool (it sets $OUT):
#   run(command="bash scripts/gpu_session.sh", carry=["out/cache"], timeout_s=540)
#
# 1. scripts/gpu_checks.py (at most CHECK_SECONDS): versions, CUDA-vs-CPU parity, throughput of the
#    model at batch BATCH eager and compiled, and the schedule that fits TRAIN_SECONDS -> gpu_checks.json
# 2. scripts/train_sudoku_mlp_gpu.sh with that schedule (steps, 5 % warm-up, then constant lr, EMA horizon
#    steps/20; the paper's lr 1e-4 and batch 768), then the halting calibration on the 1000 val puzzles
# Brought back in $OUT: gpu_checks.json, model.tar (EMA weights, train_log.jsonl, summary.json),
# train_state.tar.xz.part-* (to continue the run). A timeout's SIGTERM still saves and packs.
#
# Environment: DEVICE (cuda), D_MODEL (512), BATCH (768), TRAIN_SECONDS (330), CHECK_SECONDS (150),
# COMPILE_STEPS (20; 0 skips compiling), EXTRA (more `trm-edge train` options: a CPU dry run passes
# a tiny model here), PYTHON (python3), RUN (out/sudoku-mlp-hard-gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu-session}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
RUN=${RUN:-out/sudoku-mlp-hard-gpu}
TRAIN_SECONDS=${TRAIN_SECONDS:-330}
read -r -a EXTRA <<< "${EXTRA:-}"
export TRM_EDGE_CACHE=${TRM_EDGE_CACHE:-$PWD/out/cache} PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 DEVICE PYTHON="$PY"
mkdir -p "$OUT"

child=
on_signal() {  # the trainer's script saves and packs on the same signal: wait for it
  trap '' TERM INT
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; wait "$child" || true; fi
  exit 143
}
trap on_signal TERM INT

MODEL_ARGS=(--model "d_model=${D_MODEL:-512}")
for ((i = 0; i < ${#EXTRA[@]}; i++)); do  # the checks build the same model as the run
  [ "${EXTRA[$i]}" = --model ] && MODEL_ARGS+=(--model "${EXTRA[$((i + 1))]}")
done
timeout "${CHECK_SECONDS:-150}" "$PY" scripts/gpu_checks.py --device "$DEVICE" --out "$OUT/gpu_checks.json" \
  --batch "${BATCH:-768}" --compile-steps "${COMPILE_STEPS:-20}" --train-seconds "$TRAIN_SECONDS" "${MODEL_ARGS[@]}" &
child=$!
wait "$child" || echo "gpu_checks: exit $? (what it measured is in gpu_checks.json)" >&2
child=

read -r -a SCHEDULE <<< "$("$PY" - "$OUT/gpu_checks.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])).get("schedule")
if not s:
    sys.exit("no schedule: the throughput measurement failed (gpu_checks.json says why)")
print(f"--steps {s['steps']} --warmup {s['warmup']} --lr-min-ratio {s['lr_min_ratio']} --ema {s['ema']}"
      + (" --compile" if s["compile"] else ""))
PY
)"
echo "schedule: ${SCHEDULE[*]}" >&2

# the time budget is the safety net (a slower step than measured): save, pack, bring back
PACK_DIR="$OUT" bash scripts/train_sudoku_mlp_gpu.sh "$RUN" "$((TRAIN_SECONDS + 30))" "${SCHEDULE[@]}" \
  --batch-size "${BATCH:-768}" --model "d_model=${D_MODEL:-512}" --log-every 50 "${EXTRA[@]}" &
child=$!
wait "$child"
child=
cat "$RUN/summary.json"
