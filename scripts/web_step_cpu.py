"""CPU time per `step.onnx` run on onnxruntime-web inside headless Chromium and on native onnxruntime.

The bench's wall-clock step times swing with whatever else runs on a shared machine; this A/B
measures the browser's own CPU time (utime + stime of every Chromium process of the run, from
/proc) per session.run of each model, with the runs of the models interleaved in rounds, so two
graph shapes (or two onnxruntime-web bundles) can be compared on a busy 2-core box. The same models
on native onnxruntime (this process's CPU time, the same number of threads) give the browser/native
ratio at equal threads. docs/web.md quotes its output.

    PYTHONPATH=. .venv/bin/python scripts/web_step_cpu.py --bundles ort.all.min.mjs,ort.wasm.min.mjs \
        A/onnx-fp32-looped/step.onnx A/onnx-fp32-looped-web/step.onnx

Needs what `trm-edge bench --device chromium` needs (Debian chromium + chromedriver, the page's npm
runtimes: `trm-edge web` once). Inputs are random floats of the model's input shapes.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from trm_edge.bench.chromium import Browser
from trm_edge.apps.web import serving

OPEN = r"""
const [bundle, url, threads] = args;
const o = await import(`/node_modules/onnxruntime-web/dist/${bundle}`);
o.env.wasm.wasmPaths = new URL("/node_modules/onnxruntime-web/dist/", location.href).href;
o.env.wasm.numThreads = threads;
const s = await o.InferenceSession.create(url, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
const feeds = {};
for (const m of s.inputMetadata) {
  const n = m.shape.reduce((a, c) => a * c, 1);
  feeds[m.name] = new o.Tensor("float32", Float32Array.from({length: n}, () => Math.random() * 2 - 1), m.shape);
}
for (let i = 0; i < 20; i++) await s.run(feeds);
(window.ab ||= []).push([s, feeds]);
return window.ab.length - 1;
"""
RUN = r"""
const [k, n] = args; const [s, feeds] = window.ab[k];
const t = [];
for (let i = 0; i < n; i++) { const t0 = performance.now(); await s.run(feeds); t.push(performance.now() - t0); }
t.sort((a, b) => a - b);
return [t[0], t[t.length >> 1]];
"""


def browser_cpu_seconds(profile_dir: str) -> float:
    """utime + stime of every process whose command line names this run's Chromium profile."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if profile_dir.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:   # the process ended meanwhile
            pass
    return total / os.sysconf("SC_CLK_TCK")


def native_cpu_ms(model: Path, threads: int, runs: int, rounds: int) -> float:
    """This process's CPU ms per run of `model` on native onnxruntime (best round)."""
    import time

    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    s = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {i.name: rng.uniform(-1, 1, i.shape).astype(np.float32) for i in s.get_inputs()}
    for _ in range(20):
        s.run(None, feeds)
    best = float("inf")
    for _ in range(rounds):
        c0 = time.process_time()
        for _ in range(runs):
            s.run(None, feeds)
        best = min(best, 1000 * (time.process_time() - c0) / runs)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path, help=".onnx files (e.g. an artifact's step.onnx)")
    ap.add_argument("--bundles", default="ort.all.min.mjs", help="onnxruntime-web dist bundles, comma-separated")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime-web wasm threads")
    ap.add_argument("--runs", type=int, default=200, help="session.run calls per model per round")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    mounts = {f"/models/m{i}": p.resolve().parent for i, p in enumerate(a.models)}
    with serving(mounts=mounts) as url, Browser(url) as b:
        rows = [(f"{bundle} {p.resolve().parent.parent.name}/{p.resolve().parent.name}/{p.name}",
                 b.call(OPEN, bundle, f"/models/m{i}/{p.name}", a.threads))
                for bundle in a.bundles.split(",") for i, p in enumerate(a.models)]
        res: dict[str, list] = {name: [] for name, _ in rows}
        for _ in range(a.rounds):
            for name, k in rows:
                c0 = browser_cpu_seconds(b.profile)
                fastest, median = b.call(RUN, k, a.runs)
                res[name].append((1000 * (browser_cpu_seconds(b.profile) - c0) / a.runs, fastest, median))
    print(f"load average {os.getloadavg()}; threads {a.threads}; {a.runs} runs x {a.rounds} rounds")
    for name, v in res.items():
        print(f"{name:70s} cpu ms/run {min(x[0] for x in v):6.2f}   wall ms min {min(x[1] for x in v):6.2f}  "
              f"median {sorted(x[2] for x in v)[len(v) // 2]:6.2f}")
    for p in a.models:
        name = f"native onnxruntime {p.resolve().parent.parent.name}/{p.resolve().parent.name}/{p.name}"
        print(f"{name:70s} cpu ms/run {native_cpu_ms(p, a.threads, a.runs, a.rounds):6.2f}")


if __name__ == "__main__":
    main()
