#!/usr/bin/env bash
# CI: the product is the installed wheel. Builds the sdist and, from it, the wheel of this checkout
# (`python -m build`), installs the wheel (not editable) into fresh venvs in an empty temporary folder
# outside the checkout, and runs every command that needs no phone, Mac or GPU from there:
#   full venv   (wheel[onnx,import,bench]: torch 2.13 from pip's local wheels/cache):
#               --version, devices, bench --device pixel8 (clean adb error, exit 2), export --target
#               onnx, validate --vectors, bench --device host, solve, eval, import, web (+ runtimes)
#   torch-free  (wheel[onnxruntime] only): solve / validate --vectors / eval / bench with the bundled
#               model's ready-made artifacts, and the one-line error of a command that needs torch.
# Prints each command with its exit code and the wheel's size. Needs python3 (3.10+) and npm
# (`trm-edge web` installs the page's pinned runtimes into the user cache on first use).
# Run from anywhere: bash .ci/wheel.sh   (the lead calls it from .ci/run)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${TRM_WHEEL_PYTHON:-python3}
W=$(mktemp -d "${TMPDIR:-/tmp}/trm-wheel-ci.XXXXXX")
WEB_PID=""
cleanup() { [ -n "$WEB_PID" ] && kill "$WEB_PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
SUMMARY=$W/summary.txt
t0=$(date +%s)
log() { echo "wheel: $* (+$(( $(date +%s) - t0 )) s)"; }

# ---- build: sdist, then the wheel from the sdist (python -m build's default) ---------------------
"$PY" -m venv "$W/build-venv"
"$W/build-venv/bin/python" -m pip install --quiet "build>=1.2"
"$W/build-venv/bin/python" -m build --outdir "$W/dist" "$REPO" > "$W/build.log" 2>&1 \
  || { tail -30 "$W/build.log"; exit 1; }
WHEEL=$(ls "$W"/dist/trm_edge-*.whl)
SDIST=$(ls "$W"/dist/trm_edge-*.tar.gz)
log "built $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KiB) and $(basename "$SDIST") ($(du -k "$SDIST" | cut -f1) KiB)"
"$W/build-venv/bin/python" - "$WHEEL" "$SDIST" <<'PY'
# what the commands read must be in the wheel; what the tool installs or writes must not be
import sys, tarfile, zipfile
whl = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["trm_edge/bench/devices.toml", "trm_edge/golden_vectors/sudoku6.json", "trm_edge/golden_vectors/sudoku9.json",
        "trm_edge/web_demo/index.html", "trm_edge/web_demo/js/app.js", "trm_edge/web_demo/package-lock.json",
        "trm_edge/recipes/onnx-fp32-looped.toml", "trm_edge/checkpoints/sudoku6/model.safetensors",
        "trm_edge/cli/__main__.py",
        "trm_edge/checkpoints/sudoku6/artifacts/onnx-fp32-looped/manifest.json",
        "trm_edge/checkpoints/sudoku6/artifacts/tflite-int8-looped/manifest.json"]
missing = [n for n in need if n not in whl]
assert not missing, f"missing from the wheel: {missing}"
bad = [n for n in whl if "node_modules/" in n or "web_demo/assets/" in n or "__pycache__" in n]
assert not bad, f"in the wheel but must not be: {bad[:5]}"
meta = next(n for n in whl if n.endswith(".dist-info/METADATA"))
text = zipfile.ZipFile(sys.argv[1]).read(meta).decode()
for field in ("License-Expression: Apache-2.0", "Project-URL: ", "Classifier: ", "Description-Content-Type: text/markdown"):
    assert field in text, f"METADATA lacks {field!r}"
sdist = tarfile.open(sys.argv[2]).getnames()
assert not [n for n in sdist if "node_modules/" in n], "node_modules in the sdist"
print(f"wheel: {len(whl)} files, package data and metadata ok; sdist: {len(sdist)} files")
PY

# ---- fresh venvs outside the checkout --------------------------------------------------------------
mkdir -p "$W/run" "$W/fixture"
cp -r "$REPO/tests/fixtures/official-trm/sudoku-mlp-tiny" "$W/fixture/"
cd "$W/run"   # an empty folder: nothing is read from the checkout or the current directory
"$PY" -m venv "$W/full"
"$W/full/bin/python" -m pip install --quiet "$WHEEL[onnx,import,bench]"
log "full venv installed (torch $("$W/full/bin/python" -c 'import torch; print(torch.__version__)'))"
"$PY" -m venv "$W/torchfree"
"$W/torchfree/bin/python" -m pip install --quiet "$WHEEL[onnxruntime]"
"$W/torchfree/bin/python" -c "import importlib.util as u; assert u.find_spec('torch') is None, 'torch in the torch-free venv'"
log "torch-free venv installed"
T=$W/full/bin/trm-edge
F=$W/torchfree/bin/trm-edge

# run NAME EXPECTED_RC CMD...: output in $W/NAME.out, the exit code in the summary
run() {
  local name=$1 want=$2; shift 2
  local s0; s0=$(date +%s)
  set +e; "$@" > "$W/$name.out" 2>&1; local rc=$?; set -e
  local cmd="$*"; cmd=${cmd//$W\//}
  printf '%-30s exit %s %4s s  %s\n' "$name" "$rc" "$(( $(date +%s) - s0 ))" "${cmd:0:150}" >> "$SUMMARY"
  if [ "$rc" != "$want" ]; then
    echo "wheel: $name exited $rc, expected $want:"; tail -20 "$W/$name.out"; exit 1
  fi
}
PUZZLE=$("$W/full/bin/python" -c "import json, trm_edge.validate.vectors as V; print(V.load('sudoku6')['cases'][0]['puzzle'])")

run version 0 "$T" --version
run devices 0 "$T" devices --no-check
for p in host pixel8 iphone15pro chromium $("$W/full/bin/python" -c "from trm_edge.bench.devices import load_profiles; print(*load_profiles())"); do
  grep -q "^$p " "$W/devices.out" || { echo "wheel: devices does not list $p"; cat "$W/devices.out"; exit 1; }
done
mkdir -p "$W/no-adb"   # a PATH without adb, as on a machine without Android tools
run bench-pixel8 2 env PATH="$W/no-adb" "$T" bench --device pixel8 --depths 1 --runs 1
[ "$(wc -l < "$W/bench-pixel8.out")" = 1 ] && grep -q "adb not found" "$W/bench-pixel8.out" \
  || { echo "wheel: bench --device pixel8 must say 'adb not found' in one line:"; cat "$W/bench-pixel8.out"; exit 1; }
run export-onnx 0 "$T" export --target onnx --out arts
run validate-vectors 0 "$T" validate arts/onnx-fp32-looped --vectors sudoku6
run bench-host 0 "$T" bench arts/onnx-fp32-looped --device host --depths 1,2 --runs 2 --warmup 1 --n-puzzles 10 --no-halt --json bench/host.json
run solve 0 "$T" solve "$PUZZLE"
PUZZLE9=$("$W/full/bin/python" -c "import trm_edge.validate.vectors as V; print(V.load('sudoku9')['cases'][0]['puzzle'])")
run solve-sudoku9 0 "$T" solve --checkpoint sudoku9 "$PUZZLE9"
run eval 0 "$T" eval --n 20 --max-steps 2 --device cpu
run demo 0 "$T" demo --n 30 --puzzles 1 --seed 1   # the README's main job, from the wheel (exports + runs ONNX)
run import 0 "$T" import "$W/fixture/sudoku-mlp-tiny" --dataset "$W/fixture/sudoku-mlp-tiny" --out imported
# the fixture has the authors' initial (untrained) weights: the imported model runs, its answer is wrong (exit 1)
run solve-imported 1 "$T" solve --checkpoint imported "$PUZZLE9"
grep -q "NOT solved after" "$W/solve-imported.out"
run export-for-app-needs-dir 2 "$T" export --for-app web --out arts2
grep -q "give --app-dir" "$W/export-for-app-needs-dir.out"
run export-for-app-web 0 "$T" export --for-app web --app-dir webapp arts/onnx-fp32-looped

# web: start it, fetch the page, a runtime file and the artifacts index over HTTP, stop it
PYTHONUNBUFFERED=1 "$T" web --port 0 --app-dir webapp > "$W/web.out" 2>&1 &
WEB_PID=$!
for _ in $(seq 300); do grep -qs "http://" "$W/web.out" && break; kill -0 "$WEB_PID" 2>/dev/null || break; sleep 1; done
URL=$(grep -o "http://[^ ]*index.html" "$W/web.out" || true)
[ -n "$URL" ] || { echo "wheel: trm-edge web did not start:"; cat "$W/web.out"; exit 1; }
run web-fetch 0 "$W/full/bin/python" - "$URL" <<'PY'
import json, sys, urllib.request
page = sys.argv[1]
base = page.rsplit("/", 1)[0]
with urllib.request.urlopen(page) as r:
    assert r.status == 200 and b"<html" in r.read().lower() and r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
for pkg in ("onnxruntime-web", "@litertjs/core"):
    with urllib.request.urlopen(f"{base}/node_modules/{pkg}/package.json") as r:
        print(pkg, json.load(r)["version"])
with urllib.request.urlopen(f"{base}/assets/trm/index.json") as r:
    print("artifacts:", [a["name"] for a in json.load(r)["artifacts"]])
PY
kill "$WEB_PID"; wait "$WEB_PID" 2>/dev/null || true; WEB_PID=""
printf '%-30s exit 0    - s  %s\n' "web (served, then stopped)" "trm-edge web --port 0 --app-dir webapp: $URL" >> "$SUMMARY"

# ---- torch-free: the bundled model's ready-made artifacts ------------------------------------------
BUNDLED=$("$W/torchfree/bin/python" -c "from trm_edge.checkpoint import bundled_artifacts; print(next(a for a in bundled_artifacts() if a.name == 'onnx-fp32-looped'))")
run torchfree-solve 0 "$F" solve "$PUZZLE"
grep -q "bundled onnx-fp32-looped artifact on onnxruntime" "$W/torchfree-solve.out"
run torchfree-solve-readme 0 "$F" solve "...2.4..53.6..16..3.4......5.1.5...."   # README's first lines
run torchfree-devices 0 "$F" devices --no-check
run torchfree-validate-vectors 0 "$F" validate "$BUNDLED" --vectors sudoku6
run torchfree-eval 0 "$F" eval --artifact "$BUNDLED" --n 20
run torchfree-bench-host 0 "$F" bench "$BUNDLED" --device host --depths 1,2 --runs 2 --warmup 1 --n-puzzles 10 --no-halt --json bench/tf.json
"$W/torchfree/bin/python" - bench/host.json bench/tf.json <<'PY'
import json, sys   # both benches measured their artifact without an error (tf: no eager row, no torch)
for f in sys.argv[1:]:
    rts = json.load(open(f))["runtimes"]
    assert rts and not any(r["error"] for r in rts), (f, rts)
    print(f, [r["name"] for r in rts])
PY
# web without --app-dir: the page with the bundled model's ready-made artifacts (no torch)
PYTHONUNBUFFERED=1 "$F" web --port 0 > "$W/web2.out" 2>&1 &
WEB_PID=$!
for _ in $(seq 120); do grep -qs "http://" "$W/web2.out" && break; kill -0 "$WEB_PID" 2>/dev/null || break; sleep 1; done
URL=$(grep -o "http://[^ ]*index.html" "$W/web2.out" || true)
[ -n "$URL" ] || { echo "wheel: trm-edge web did not start:"; cat "$W/web2.out"; exit 1; }
run torchfree-web-fetch 0 "$W/torchfree/bin/python" -c "import json, urllib.request as u; i = json.load(u.urlopen('${URL%index.html}assets/trm/index.json')); assert i['default'] == 'onnx-fp32-looped', i; print([a['name'] for a in i['artifacts']])"
kill "$WEB_PID"; wait "$WEB_PID" 2>/dev/null || true; WEB_PID=""
printf '%-30s exit 0    - s  %s\n' "torchfree-web (served, stopped)" "trm-edge web --port 0 (bundled artifacts): $URL" >> "$SUMMARY"
run torchfree-export-needs-torch 2 "$F" export --target onnx --out arts3
[ "$(wc -l < "$W/torchfree-export-needs-torch.out")" = 1 ] && grep -q "pip install 'trm-edge\[" "$W/torchfree-export-needs-torch.out"

echo "wheel: $(basename "$WHEEL") $(du -k "$WHEEL" | cut -f1) KiB, sdist $(du -k "$SDIST" | cut -f1) KiB; commands run from $W/run:"
cat "$SUMMARY"
log "ok"
