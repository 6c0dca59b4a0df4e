#!/usr/bin/env bash
# One chunk of the paper's Sudoku-hard run (TRM-MLP, ~5M params) on a CUDA machine; run it again to
# continue, on the same or another machine.
#
#   scripts/train_sudoku_mlp_gpu.sh [RUN_DIR] [CHUNK_SECONDS] [extra `trm-edge train` options...]
#       RUN_DIR        default out/sudoku-mlp-hard (ignored by git)
#       CHUNK_SECONDS  training seconds in this chunk, default 450: start-up, data generation and
#                      saving fit in the rest of a 10-minute slot
#   PACK_DIR=$OUT scripts/train_sudoku_mlp_gpu.sh ...   also leaves the whole run directory in PACK_DIR
#                      as run.tar.part-aa, -ab, ... (each 15 MiB; the paper run is ~58 MiB, 4 parts);
#                      unpack with: mkdir -p RUN_DIR && cat run.tar.part-* | tar -xf - -C RUN_DIR
#
# The first chunk starts the run; later ones pass --resume (RUN_DIR/train_state exists). The recipe
# (trm_edge.train.RECIPES["sudoku-mlp"]) is "portable": fp32 weights + bf16 EMA and AdamW moments,
# no ACT carry, every file <= 16 MiB. `--time-budget` counts the training seconds of this session
# (a resumed run gets a fresh budget), so each chunk passes CHUNK_SECONDS as it is.
# The package pins torch 2.13; on a GPU image with its own torch, run from the checkout (PYTHONPATH)
# instead of `pip install -e .`. numba (extra "data") makes the Sudoku-hard generation fast.
set -euo pipefail
RUN=${1:-out/sudoku-mlp-hard}
CHUNK=${2:-450}
shift $(( $# < 2 ? $# : 2 ))
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

$PY -c "import numba" 2>/dev/null || echo "warning: numba is not installed: Sudoku-hard generation will be slow" >&2
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

RESUME=()
DONE=0
if [ -f "$RUN/train_state/state.json" ]; then
  RESUME=(--resume)
  DONE=$($PY -c "import json, sys; print(json.load(open(sys.argv[1]))['elapsed'])" "$RUN/train_state/state.json")
fi
BUDGET=$CHUNK
echo "run $RUN: ${DONE}s trained so far, this chunk trains ${BUDGET}s more" >&2

START=$(date +%s)
$PY -m trm_edge.cli train --out "$RUN" --preset sudoku-mlp --task sudoku9-hard \
    --time-budget "$BUDGET" "${RESUME[@]}" --quiet "$@"
echo "chunk wall time: $(( $(date +%s) - START ))s" >&2
tail -n 3 "$RUN/train_log.jsonl" 2>/dev/null || true

if [ -n "${PACK_DIR:-}" ]; then
  mkdir -p "$PACK_DIR"
  tar -cf - -C "$RUN" . | split -b 15M - "$PACK_DIR/run.tar.part-"
  ls -l "$PACK_DIR"
fi
