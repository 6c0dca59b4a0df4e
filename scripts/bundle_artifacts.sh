#!/usr/bin/env bash
# Regenerate the ready-made artifacts shipped with the bundled models (package data
# trm_edge/checkpoints/<name>/artifacts/): looped ONNX (init + step; no loop.onnx, to stay small) and
# TFLite, fp32 + int8, exported by `trm-edge export` (the same code path as any export). They let a
# torch-free install run `trm-edge solve PUZZLE` and `trm-edge web` with the bundled models;
# tests/export/test_bundled_artifacts.py checks they come from the committed weights and replay the golden
# vectors. Needs the [onnx,tflite] extras. Run from the repo root after retraining a bundled model:
#   bash scripts/bundle_artifacts.sh [CHECKPOINT...]      # default: sudoku6 sudoku9
set -euo pipefail
cd "$(dirname "$0")/.."
TRM=${TRM_EDGE:-trm-edge}
RECIPES=$(mktemp -d)
trap 'rm -rf "$RECIPES"' EXIT
printf 'target = "onnx"\nmode = "looped"\nin_graph_loop = false\n' > "$RECIPES/onnx-looped-bundled.toml"
CKPTS=("$@"); [ $# -eq 0 ] && CKPTS=(sudoku6 sudoku9)
for ckpt in "${CKPTS[@]}"; do
  out=trm_edge/checkpoints/$ckpt/artifacts
  rm -rf "$out.new" && mkdir -p "$out.new"
  for p in fp32 int8; do
    "$TRM" export --checkpoint "$ckpt" --recipe "$RECIPES/onnx-looped-bundled.toml" --precision "$p" --out "$out.new"
    "$TRM" export --checkpoint "$ckpt" --recipe tflite-fp32-looped --precision "$p" --out "$out.new"
  done
  rm -rf "$out" && mv "$out.new" "$out"
  du -sh "$out"
done
