#!/usr/bin/env bash
# CI: the runtime half of trm-edge without PyTorch (docs/runtime.md, "Run artifacts without PyTorch").
# 1. exports the bundled model (ONNX and TFLite, looped fp32) with the full venv built by .ci/run;
# 2. builds .venv-torchfree WITHOUT torch: `pip install -e .[onnxruntime,tflite-runtime,bench]` on
#    Python 3.11 (tflite-runtime 2.14 has wheels up to 3.11 and needs numpy < 2), so .tflite runs
#    on the classic tflite_runtime interpreter (ai_edge_litert is not installed there);
# 3. runs trm_edge.runtime.load + Session.solve, `trm-edge solve --artifact`, `eval --artifact`,
#    `validate --vectors` (golden vectors) and `bench --device host` on both artifacts, and checks that
#    torch is not importable and that a command needing it names the extra in one line.
# Idempotent: the venv is reused when present; pip's cache keeps reinstalls cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${TRM_TORCHFREE_PYTHON:-python3.11}
VENV=.venv-torchfree
ART=${TMPDIR:-/tmp}/trm-torchfree-artifacts
VEC=trm_edge/golden_vectors/sudoku6.json

rm -rf "$ART"
.venv/bin/trm-edge export --recipe onnx-fp32-looped --out "$ART"
.venv/bin/trm-edge export --recipe tflite-fp32-looped --out "$ART"

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[onnxruntime,tflite-runtime,bench]"
T="$VENV/bin/trm-edge"

"$VENV/bin/python" - "$ART" "$VEC" <<'PY'
import importlib.util, json, sys
import numpy as np
assert importlib.util.find_spec("torch") is None, "torch is installed in the torch-free venv"
assert importlib.util.find_spec("ai_edge_litert") is None and importlib.util.find_spec("tflite_runtime")
import trm_edge.runtime as rt
art, vec = sys.argv[1], json.load(open(sys.argv[2]))
tokens = np.asarray([c["tokens"] for c in vec["cases"]], np.int32)
for name, backend in (("onnx-fp32-looped", "onnxruntime"), ("tflite-fp32-looped", "tflite-runtime")):
    sess = rt.load(f"{art}/{name}")
    res = sess.solve(tokens)
    assert sess.backend == backend, sess.backend
    assert res.halted_at.tolist() == [c["halted_at"] for c in vec["cases"]], name
    assert (res.final == np.asarray([c["final_preds"] for c in vec["cases"]])).all(), name
    print(f"{name} on {backend}: golden answers and halting steps {res.halted_at.tolist()}")
assert not [m for m in sys.modules if m == "torch" or m.startswith("torch.")]
PY

PUZZLE=$("$VENV/bin/python" -c "import json; print(json.load(open('$VEC'))['cases'][0]['puzzle'])")
for a in onnx-fp32-looped tflite-fp32-looped; do
  "$T" solve --artifact "$ART/$a" "$PUZZLE" | tail -1
  "$T" eval --artifact "$ART/$a" --n 100 | tail -3
  "$T" validate "$ART/$a" --vectors "$VEC" | tail -1 | grep -q PASS
  echo "$a: validate --vectors PASS"
done
"$T" bench "$ART/onnx-fp32-looped" "$ART/tflite-fp32-looped" --device host --depths 1,4 \
  --runs 3 --warmup 1 --n-puzzles 20 --json "$ART/bench.json" > /dev/null
"$VENV/bin/python" -c "import json; r = json.load(open('$ART/bench.json')); assert [x['name'] for x in r['runtimes']] == ['onnx-fp32-looped', 'tflite-fp32-looped'] and not any(x['error'] for x in r['runtimes']), r['runtimes']; print('bench --device host: ok')"
set +e
out=$("$T" eval 2>&1); rc=$?
set -e
[ "$rc" = 2 ] && echo "$out" | grep -q "pip install 'trm-edge\[torch\]'" && [ "$(echo "$out" | wc -l)" = 1 ] \
  || { echo "expected a one-line error naming the torch extra, got rc=$rc: $out"; exit 1; }
echo "torch-free runtime: ok"
