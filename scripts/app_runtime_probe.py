"""Run one looped artifact's `init` + `step` entry points under whatever runtime this Python has.

    python scripts/app_runtime_probe.py ARTIFACT_DIR TOKENS.npy STEPS OUT.npz

Needs only numpy and the artifact's runtime (executorch.runtime for a .pte, ai_edge_litert for a
.tflite): no trm_edge, so it runs in the pinned-runtime venvs that scripts/check_app_runtimes.py
makes (the releases the Android app pins) as well as in the project's own venv. For every row of
TOKENS (N x seq_len, int32) it calls init once and step STEPS times, carrying y and z as the apps'
host loop does, and saves each step's outputs stacked as OUT.npz (name -> [N, STEPS, ...]). It prints
one JSON line: {"runtime": "<package> <version>", "error": null | "<what failed>"}; a program the
runtime cannot load or run is an "error" (exit 0), which is the finding the caller reports.
"""
from __future__ import annotations

import json
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np


def executorch_runner(path: Path, manifest: dict):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="This API is experimental")
        from executorch.runtime import Runtime
    import torch

    program = Runtime.get().load_program(path)
    methods = {e: program.load_method(s.get("method", e)) for e, s in manifest["entry_points"].items()}

    def call(entry, arrays):
        out = methods[entry].execute([torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
        return [o.numpy() for o in out]
    return call


def litert_runner(path: Path, manifest: dict):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    runners = {e: (interp.get_signature_runner(s.get("method", e)), s) for e, s in manifest["entry_points"].items()}

    def call(entry, arrays):
        runner, spec = runners[entry]
        ins = {t.get("runtime_name", t["name"]): np.ascontiguousarray(a) for t, a in zip(spec["inputs"], arrays)}
        out = runner(**ins)
        return [np.asarray(out[t.get("runtime_name", t["name"])]) for t in spec["outputs"]]
    return call


RUNNERS = {"executorch": executorch_runner, "tflite": litert_runner}
PACKAGES = {"executorch": "executorch", "tflite": "ai-edge-litert"}   # target -> the runtime's pip package


def probe(art: Path, tokens: np.ndarray, steps: int) -> dict[str, np.ndarray]:
    manifest = json.loads((art / "manifest.json").read_text())
    if manifest["mode"] != "looped":
        raise ValueError(f"{art}: mode {manifest['mode']!r}, the probe runs looped artifacts")
    path = art / manifest["entry_points"]["step"]["file"]
    call = RUNNERS[manifest["target"]](path, manifest)
    names = [t["name"] for t in manifest["entry_points"]["step"]["outputs"]]
    rows: dict[str, list] = {n: [] for n in names}
    for tok in tokens:
        x, y, z = call("init", [tok[None].astype(np.int32)])
        per_step = {n: [] for n in names}
        for _ in range(steps):
            out = dict(zip(names, call("step", [x, y, z])))
            y, z = out["y_next"], out["z_next"]
            for n in names:
                per_step[n].append(out[n])
        for n in names:
            rows[n].append(np.stack(per_step[n]))
    return {n: np.stack(v) for n, v in rows.items()}


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    art, tokens, steps, out = Path(argv[0]), np.load(argv[1]), int(argv[2]), Path(argv[3])
    package = PACKAGES[json.loads((art / "manifest.json").read_text())["target"]]
    runtime = f"{package} {version(package)}"
    try:
        np.savez(out, **probe(art, tokens, steps))
        error = None
    except Exception as e:   # noqa: BLE001 -- the runtime's refusal is the measurement
        error = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    print(json.dumps({"runtime": runtime, "error": error}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
