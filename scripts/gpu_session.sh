#!/usr/bin/env bash
# The paper's Sudoku-hard run on your CUDA machine (docs/gpu_training.md): checks, then one training
# chunk. Run it again to continue the same run (--resume), on this machine or another one.
#
#   bash scripts/gpu_session.sh                 # checks + a chunk of CHUNK_SECONDS of the paper schedule
#   NPROC=4 bash scripts/gpu_session.sh         # the same on 4 GPUs of this machine (torchrun, DDP)
#   TRAIN_SECONDS=600 bash scripts/gpu_session.sh   # a short trial: a schedule sized to fit 600 s
#
# 1. scripts/gpu_checks.py (at most CHECK_SECONDS): versions, CUDA-vs-CPU parity, throughput of the
#    model at batch BATCH eager and compiled -> OUT/gpu_checks.json. Skipped when it exists (CHECKS=1
#    runs them again), so a continued run goes straight to training.
# 2. scripts/train_sudoku_mlp_gpu.sh: the paper's schedule (65,104 optimizer steps), CHUNK_SECONDS of
#    it per call (default 3600); with TRAIN_SECONDS instead a short schedule that fits those seconds at
#    the measured step time (5 % warm-up, then constant lr, EMA horizon steps/20). Then the halting
#    calibration on 1000 validation puzzles at the end of the run (--val-n); with PACK_DIR, the run
#    packed to move elsewhere.
#
# Environment: DEVICE (cuda), NPROC (1), D_MODEL (512), BATCH (768), CHUNK_SECONDS (3600),
# TRAIN_SECONDS (unset: the paper schedule), CHECK_SECONDS (150), COMPILE_STEPS (20; 0 skips compiling),
# EXTRA (more `trm-edge train` options: a CPU dry run passes a tiny model here), PYTHON (python3),
# OUT (out/gpu-session), RUN (out/sudoku-mlp-hard-gpu), PACK_DIR, STATE_FROM (see train_sudoku_mlp_gpu.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu-session}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
RUN=${RUN:-out/sudoku-mlp-hard-gpu}
read -r -a EXTRA <<< "${EXTRA:-}"
export TRM_EDGE_CACHE=${TRM_EDGE_CACHE:-$PWD/out/cache} PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 DEVICE PYTHON="$PY"
mkdir -p "$OUT"

child=
on_signal() {  # the trainer's script saves (and packs) on the same signal: wait for it
  trap '' TERM INT
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; wait "$child" || true; fi
  exit 143
}
trap on_signal TERM INT

MODEL_ARGS=(--model "d_model=${D_MODEL:-512}")
for ((i = 0; i < ${#EXTRA[@]}; i++)); do  # the checks build the same model as the run
  [ "${EXTRA[$i]}" = --model ] && MODEL_ARGS+=(--model "${EXTRA[$((i + 1))]}")
done
if [ ! -f "$OUT/gpu_checks.json" ] || [ "${CHECKS:-0}" = 1 ] || [ -n "${TRAIN_SECONDS:-}" ]; then
  timeout "${CHECK_SECONDS:-150}" "$PY" scripts/gpu_checks.py --device "$DEVICE" --out "$OUT/gpu_checks.json" \
    --batch "${BATCH:-768}" --compile-steps "${COMPILE_STEPS:-20}" --train-seconds "${TRAIN_SECONDS:-330}" \
    "${MODEL_ARGS[@]}" &
  child=$!
  wait "$child" || echo "gpu_checks: exit $? (what it measured is in gpu_checks.json)" >&2
  child=
fi

SCHEDULE=()
if [ -n "${TRAIN_SECONDS:-}" ]; then   # a short trial: the schedule that fits TRAIN_SECONDS
  read -r -a SCHEDULE <<< "$("$PY" - "$OUT/gpu_checks.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])).get("schedule")
if not s:
    sys.exit("no schedule: the throughput measurement failed (gpu_checks.json says why)")
print(f"--steps {s['steps']} --warmup {s['warmup']} --lr-min-ratio {s['lr_min_ratio']} --ema {s['ema']}"
      + (" --compile" if s["compile"] else ""))
PY
)"
  CHUNK=$((TRAIN_SECONDS + 30))   # the time budget is the safety net for a slower step than measured
else                               # the paper schedule, in chunks; --compile when the checks found it faster
  CHUNK=${CHUNK_SECONDS:-3600}
  if [ -f "$OUT/gpu_checks.json" ] && "$PY" -c "import json, sys
sys.exit(0 if (json.load(open(sys.argv[1])).get('schedule') or {}).get('compile') else 1)" "$OUT/gpu_checks.json"; then
    SCHEDULE=(--compile)
  fi
fi
echo "schedule: ${SCHEDULE[*]:-the preset sudoku-mlp} (${CHUNK}s this chunk, ${NPROC:-1} process(es))" >&2

bash scripts/train_sudoku_mlp_gpu.sh "$RUN" "$CHUNK" "${SCHEDULE[@]}" \
  --batch-size "${BATCH:-768}" --model "d_model=${D_MODEL:-512}" --log-every 50 "${EXTRA[@]}" &
child=$!
wait "$child"
child=
cat "$RUN/summary.json"
