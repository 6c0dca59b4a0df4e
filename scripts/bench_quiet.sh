#!/usr/bin/env bash
# Issue 25, part 1: the host and browser bench sweep, measured only on an idle machine, then
# benchmarks/SUMMARY.md regenerated from the result files.
#
#   scripts/bench_quiet.sh            (run from the repo root, with the project's trm-edge on PATH)
#   DRY=1 scripts/bench_quiet.sh      (print the commands only)
#
# Host: both bundled models x batch 1 and 8 x 1 and 2 threads; each run is eager PyTorch fp32 (the
# reference) + every target runnable here (onnx, executorch, tflite; Core ML needs macOS) in fp32
# and int8, looped, depths 1,2,4,8 (both models have n_sup 8), with halting. Browser: both models
# with --device chromium (the native runs, then onnxruntime-web on the plain and the web-shaped ONNX graph,
# and LiteRT.js, in headless Chromium),
# batch 1, 1 thread (the page runs one wasm thread: the same on both sides). Optional (SUDOKU_MLP=1): the paper-size sudoku-mlp preset, random weights,
# timing and roofline only (the old host-sudoku-mlp-2026-11-24.* run).
#
# Every run passes --require-idle: before measuring it waits up to IDLE_WAIT seconds for the 1-min
# load average per CPU and the other processes' CPU to fall within bench's limits (--idle-load,
# --idle-cpu: see `trm-edge bench --help`; IDLE_LOAD / IDLE_CPU override them), else it stops with
# one error line (exit 2) and so does this script (set -e): nothing is measured on a busy machine.
# The first run of each model x batch exports its artifacts into the cache first; that load, and
# each previous run's, must decay before the next one starts (the 1-min load average has a 1-min
# time constant: from 2.0 to 0.6 takes 60 s x ln(2/0.6) = 72 s). Each result's `quiet` block
# records what was seen, before and during the run.
#
# Output: benchmarks/results/host-<model>-b<batch>-t<threads>-<date>.{json,md,png},
# chromium-<model>-<date>.*, and the generated block of benchmarks/SUMMARY.md. The exact command
# of each file is inside it ("command") and in the summary. A result file that already exists is
# kept and its run skipped (re-running after a stop resumes the sweep; REDO=1 measures it again).
#
# Settings (environment): MODELS, BATCHES, THREADS, PRECISIONS, DEPTHS, RUNS, WARMUP, N_PUZZLES,
# IDLE_WAIT (s), IDLE_LOAD (per CPU), IDLE_CPU (% of one core), CHROMIUM (0/1), SUDOKU_MLP (0/1),
# OUT, SUMMARY, DATE (UTC day in the file names), REDO, DRY; defaults below.
set -euo pipefail

MODELS=${MODELS:-"sudoku6 sudoku9"}
BATCHES=${BATCHES:-"1 8"}
THREADS=${THREADS:-"1 2"}
PRECISIONS=${PRECISIONS:-fp32,int8}
DEPTHS=${DEPTHS:-1,2,4,8}
RUNS=${RUNS:-20}
WARMUP=${WARMUP:-3}
N_PUZZLES=${N_PUZZLES:-100}
IDLE_WAIT=${IDLE_WAIT:-900}
CHROMIUM=${CHROMIUM:-1}
SUDOKU_MLP=${SUDOKU_MLP:-0}
OUT=${OUT:-benchmarks/results}
SUMMARY=${SUMMARY:-benchmarks/SUMMARY.md}
DATE=${DATE:-$(date -u +%Y-%m-%d)}
DRY=${DRY:-0}
REDO=${REDO:-0}

run() {   # run ONE command, timed; DRY=1 prints it instead
    echo "+ $*" >&2
    [ "$DRY" = 1 ] && return 0
    local t0=$SECONDS
    "$@"
    echo "  wall $((SECONDS - t0)) s" >&2
}

todo() {   # should the run writing result file $1 happen?
    if [ -e "$1" ] && [ "$REDO" != 1 ]; then echo "skip: $1 exists (REDO=1 to measure it again)" >&2; return 1; fi
}

idle=(--require-idle "$IDLE_WAIT")   # the limits themselves live once, in trm_edge/bench/quiet.py
if [ -n "${IDLE_LOAD:-}" ]; then idle+=(--idle-load "$IDLE_LOAD"); fi
if [ -n "${IDLE_CPU:-}" ]; then idle+=(--idle-cpu "$IDLE_CPU"); fi
common=(--depths "$DEPTHS" --runs "$RUNS" --warmup "$WARMUP" --n-puzzles "$N_PUZZLES" "${idle[@]}")
start=$SECONDS
for model in $MODELS; do
    for batch in $BATCHES; do
        for threads in $THREADS; do
            json=$OUT/host-$model-b$batch-t$threads-$DATE.json
            todo "$json" || continue
            run trm-edge bench --checkpoint "$model" --device host --batch "$batch" --threads "$threads" \
                --precisions "$PRECISIONS" "${common[@]}" --json "$json" >/dev/null
        done
    done
    json=$OUT/chromium-$model-$DATE.json
    if [ "$CHROMIUM" = 1 ] && todo "$json"; then
        run trm-edge bench --checkpoint "$model" --device chromium --batch 1 --threads 1 \
            --precisions "$PRECISIONS" "${common[@]}" --json "$json" >/dev/null
    fi
done
json=$OUT/host-sudoku-mlp-$DATE.json
if [ "$SUDOKU_MLP" = 1 ] && todo "$json"; then
    run trm-edge bench --preset sudoku-mlp --all-targets --precisions fp32 --depths 1 --no-halt --runs 10 \
        --warmup 2 --n-puzzles 10 --threads 2 "${idle[@]}" --json "$json" >/dev/null
fi
run trm-edge report bench-summary "$OUT" --out "$SUMMARY"
echo "sweep wall: $((SECONDS - start)) s" >&2
