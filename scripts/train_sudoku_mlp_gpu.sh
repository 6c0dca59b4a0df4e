#!/usr/bin/env bash
# One chunk of the paper's Sudoku-hard run (TRM-MLP, ~5M params) on a CUDA machine; run it again to
# continue, on the same or another machine (docs/gpu_training.md). It trains on DEVICE or stops at
# once, and whatever ends it (the end of the chunk, an error, SIGTERM/SIGINT to its process group),
# the run is saved and, with PACK_DIR, packed to move elsewhere.
#
#   scripts/train_sudoku_mlp_gpu.sh [RUN_DIR] [CHUNK_SECONDS] [extra `trm-edge train` options...]
#       RUN_DIR        default out/sudoku-mlp-hard (ignored by git)
#       CHUNK_SECONDS  training seconds in this chunk (`--time-budget`), default 3600; the run saves and
#                      stops after it, and the next call continues it (`--resume`)
#   environment:
#       DEVICE=cuda    passed explicitly (--device): no CUDA = one error line, never a silent CPU run
#       NPROC=N        train on N GPUs of this machine (torchrun --standalone --nproc_per_node N; DDP)
#       PACK_DIR=DIR   on exit, pack the run there (see "Pack")
#       PACK_PART=SIZE split the packed state into parts of SIZE (split -b, e.g. 1G) for a size-limited copy
#       TRM_EDGE_CACHE the puzzle cache. The script first runs `trm-edge train --prepare-data`: a no-op
#                      when the cache holds the puzzles (pre-generate them on any machine and copy
#                      the folder), an error without numba otherwise (pure Python: ~1 h)
#       PYTHON         default python3
#       STATE_FROM=DIR a previous chunk's pack (model.tar + train_state.tar.xz*): unpacked into RUN
#                      first when RUN has no train_state yet
#
# Pack (PACK_DIR):
#   model.tar                     model/ (the bf16 EMA weights), train_log.jsonl, summary.json
#   train_state.tar.xz            train_state/, xz-compressed (the paper model: ~50 MB raw); with
#                                 PACK_PART: train_state.tar.xz.part-aa, -ab, ...
#   unpack: mkdir -p RUN && tar -xf model.tar -C RUN && cat train_state.tar.xz* | xz -d | tar -xf - -C RUN
# Moving a run needs only that pack (or RUN/train_state + RUN/train_log.jsonl) and the cache folder:
# that is all --resume reads.
#
# The recipe (trm_edge.train.config.TRAIN_PRESETS["sudoku-mlp"]) is "portable": fp32 weights + bf16 EMA
# and AdamW moments, no ACT carry. `--time-budget` counts the training seconds of this chunk (a
# resumed run gets a fresh budget). The package pins torch 2.13; on a GPU image with its own torch,
# run from the checkout (PYTHONPATH) instead of `pip install -e .`.
set -euo pipefail
RUN=${1:-out/sudoku-mlp-hard}
CHUNK=${2:-3600}
shift $(( $# < 2 ? $# : 2 ))
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
TRAIN=(-m trm_edge.cli train --out "$RUN" --preset sudoku-mlp --task sudoku9-hard)
LAUNCH=("$PY")   # one process; NPROC=N: torchrun (one process per GPU, DDP)
[ "${NPROC:-1}" -gt 1 ] && LAUNCH=("$PY" -m torch.distributed.run --standalone --nproc_per_node "$NPROC")

xzc() {   # xz, or Python's lzma where the image has no xz binary
  if command -v xz >/dev/null; then xz -T0 -6 "$@"; else
    "$PY" -c "import lzma, shutil, sys; d = '-d' in sys.argv
f = lzma.open(sys.stdin.buffer) if d else lzma.open(sys.stdout.buffer, 'wb', preset=6)
shutil.copyfileobj(f if d else sys.stdin.buffer, sys.stdout.buffer if d else f); f.close()" "$@"; fi
}
packed=0
pack() {  # idempotent; a second signal must not cut it short
  trap '' TERM INT
  [ -n "${PACK_DIR:-}" ] && [ "$packed" = 0 ] || return 0
  packed=1
  mkdir -p "$PACK_DIR"
  [ -d "$RUN" ] || { echo "pack: no run directory $RUN" >&2; return 0; }
  local small=()
  for f in model train_log.jsonl summary.json; do [ -e "$RUN/$f" ] && small+=("$f"); done
  [ ${#small[@]} -gt 0 ] && tar -cf "$PACK_DIR/model.tar" -C "$RUN" "${small[@]}"
  if [ -d "$RUN/train_state" ]; then
    if [ -n "${PACK_PART:-}" ]; then
      tar -cf - -C "$RUN" train_state | xzc | split -b "$PACK_PART" - "$PACK_DIR/train_state.tar.xz.part-"
    else
      tar -cf - -C "$RUN" train_state | xzc > "$PACK_DIR/train_state.tar.xz"
    fi
  fi
  ls -l "$PACK_DIR" >&2
}
child=
on_signal() {  # forward to the trainer (it saves its state, then exits) and wait for it
  trap '' TERM INT
  echo "signal: stopping the trainer (it saves first)" >&2
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; wait "$child" || true; fi
  exit 143
}
trap pack EXIT
trap on_signal TERM INT

if [ -n "${STATE_FROM:-}" ] && [ ! -d "$RUN/train_state" ]; then   # a carried pack: unpack, then resume
  mkdir -p "$RUN"
  [ -f "$STATE_FROM/model.tar" ] && tar -xf "$STATE_FROM/model.tar" -C "$RUN"
  cat "$STATE_FROM"/train_state.tar.xz* | xzc -d | tar -xf - -C "$RUN"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
$PY "${TRAIN[@]}" --prepare-data "$@"

RESUME=()
DONE=0
if [ -f "$RUN/train_state/state.json" ]; then
  RESUME=(--resume)
  DONE=$($PY -c "import json, sys; print(json.load(open(sys.argv[1]))['elapsed'])" "$RUN/train_state/state.json")
fi
echo "run $RUN: ${DONE}s trained so far, this chunk trains ${CHUNK}s more on $DEVICE" >&2

START=$(date +%s)
# in the background, so that a signal to this script alone still reaches the trainer (on_signal)
"${LAUNCH[@]}" "${TRAIN[@]}" --device "$DEVICE" --time-budget "$CHUNK" "${RESUME[@]}" --quiet "$@" &
child=$!
wait "$child"
child=
echo "chunk wall time: $(( $(date +%s) - START ))s" >&2
tail -n 3 "$RUN/train_log.jsonl" 2>/dev/null || true
