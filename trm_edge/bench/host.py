"""Host measurement: latency, memory and accuracy per recursion depth, one runtime at a time.

For each runtime (eager PyTorch, the reference, and every exported artifact) `measure_runtime`
records, in this order: load time, first call (init + one step), then for every depth W untimed and
R timed solves (each `step` call timed on its own), one accuracy pass over the puzzles with halting
off up to the largest depth (also timed: the fixed-depth latency per puzzle), and one pass with
adaptive halting (mean steps, latency per puzzle and per solved puzzle). Field meanings are
documented in benchmarks/README.md (schema `trm-edge-bench/1`).

Peak RSS is only honest per runtime if nothing else ran in the process, so `bench_host` runs each
runtime in a fresh `python -m trm_edge.bench.host` subprocess by default (`isolate=False` measures
in-process, faster, with `rss_scope: "process"`). The recursion itself is the shared host loop
(`trm_edge.runtime.loop.host_loop`), with the session's `step` wrapped in a timer.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import TRMEdgeError
from ..runtime.loop import host_loop
from ..runtime.session import padded_chunks   # the static-batch padding (one rule)

PROGRESS = "trm-edge-progress"  # stderr line prefix a worker uses to tick the parent's progress bar


@dataclass
class BenchSettings:
    depths: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16])  # supervision steps
    batch: int = 1              # puzzles per init/step call
    threads: int | None = None  # intra-op threads for every runtime (None: runtime default)
    runs: int = 20              # R timed solves per depth
    warmup: int = 3             # W untimed solves before them
    n_puzzles: int = 100        # puzzles scored for accuracy / halting (same for every runtime)
    halt: bool = True           # also measure adaptive halting
    halt_threshold: float | None = None  # halt when q_halt > this (None: the model's calibrated value)
    seed: int = 20251006        # puzzle generation seed (kept away from training seeds)


@dataclass
class RuntimeSpec:
    name: str                   # unique label, e.g. "onnx-fp32-looped"
    target: str                 # eager | onnx | executorch | tflite | coreml
    precision: str              # fp32 | int8 | ...
    mode: str                   # looped | unrolled
    path: str                   # artifact dir (manifest.json) or checkpoint dir for eager
    delegate: str | None = None


# ---- sessions ------------------------------------------------------------------------------
def open_session(spec: RuntimeSpec, threads: int | None):
    """The project's one Session API: an artifact dir or (eager) a checkpoint dir."""
    from ..runtime import load

    return load(spec.path, threads=threads)


def session_info(session, spec: RuntimeSpec) -> dict:
    """Threshold, mode and fixed depth of a session (manifest first, then attributes)."""
    man = getattr(session, "manifest", None) or {}
    thr = getattr(session, "halt_threshold", None)
    if thr is None:
        thr = (man.get("model") or {}).get("halt_threshold", 0.0)
    mode = getattr(session, "mode", None) or man.get("mode") or spec.mode
    depth = getattr(session, "depth", None) or man.get("depth")
    return {"threshold": float(thr), "mode": mode, "depth": int(depth) if depth else None}


# ---- measurement ---------------------------------------------------------------------------
def _stats(ms: list[float]) -> dict:
    a = np.asarray(ms, dtype=np.float64)
    return {"median": float(np.median(a)), "p90": float(np.percentile(a, 90)), "min": float(a.min()), "n": int(a.size)}


def _rss_mb() -> float | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float | None:
    # Linux: VmHWM is the high-water mark of this address space. ru_maxrss is NOT usable in an
    # isolated worker there: it starts at the parent's RSS after fork and survives exec, so every
    # worker of a large parent would report the parent's peak.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB -> MiB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        try:
            import psutil
            return psutil.Process().memory_info().peak_wset / 2**20
        except (ImportError, AttributeError):
            return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def dir_size(path: str | os.PathLike) -> int:
    """Bytes of a runtime's weights: a file, a checkpoint's model.safetensors or an artifact's files."""
    from ..artifact import MANIFEST, files_bytes, read_manifest

    p = Path(path)
    if p.is_file():
        return p.stat().st_size
    if (p / MANIFEST).exists():
        return files_bytes(read_manifest(p))
    return (p / "model.safetensors").stat().st_size


class _Timed:
    """Wraps a session's `step` so every call is timed (ms) without touching the host loop."""

    def __init__(self, step):
        self.step, self.ms = step, []

    def __call__(self, state):
        t0 = time.perf_counter()
        out = self.step(state)
        self.ms.append((time.perf_counter() - t0) * 1e3)
        return out


def measure_runtime(spec: RuntimeSpec, settings: BenchSettings, inputs: np.ndarray, labels: np.ndarray,
                    task, tick=lambda label: None) -> dict:
    """Measure one runtime in this process. Returns its `runtimes[]` entry (schema trm-edge-bench/1)."""
    from ..runtime.loop import SolveResult

    if settings.threads:
        try:
            import torch
            torch.set_num_threads(settings.threads)
        except ImportError:
            pass
    out = {"name": spec.name, "target": spec.target, "precision": spec.precision, "mode": spec.mode,
           "delegate": spec.delegate, "artifact": str(spec.path), "size_bytes": dir_size(spec.path),
           "load_ms": None, "first_call_ms": None, "peak_rss_mb": None, "baseline_rss_mb": _rss_mb(),
           "rss_scope": "process", "error": None, "depths": [], "halting": None}
    B = settings.batch
    tokens = inputs[:B] if len(inputs) >= B else np.resize(inputs, (B, inputs.shape[1]))

    t0 = time.perf_counter()
    session = open_session(spec, settings.threads)
    out["load_ms"] = (time.perf_counter() - t0) * 1e3
    info = session_info(session, spec)
    thr = info["threshold"] if settings.halt_threshold is None else float(settings.halt_threshold)
    unrolled = info["mode"] == "unrolled"
    out["mode"] = info["mode"]
    tick("load")

    t0 = time.perf_counter()
    if unrolled:
        session.solve(tokens)
    else:
        session.step(session.init(tokens))
    out["first_call_ms"] = (time.perf_counter() - t0) * 1e3

    depths = [info["depth"]] if unrolled else settings.depths
    for d in depths:
        step_ms, solve_ms = [], []
        for r in range(settings.warmup + settings.runs):
            timed = _Timed(session.step) if not unrolled else None
            t0 = time.perf_counter()
            if unrolled:
                session.solve(tokens)
            else:
                host_loop(session.init, timed, tokens, d, halt=False, threshold=thr)
            dt = (time.perf_counter() - t0) * 1e3
            if r >= settings.warmup:
                solve_ms.append(dt)
                step_ms.extend(timed.ms if timed else [dt / d])
        out["depths"].append({"depth": int(d), "step_ms": _stats(step_ms), "solve_ms": _stats(solve_ms),
                              "exact_acc": None, "cell_acc": None, "speedup_vs_eager": None, "roofline_pct": None})
        tick(f"depth {d}")

    # accuracy at every depth (halting off), timed per puzzle = the fixed full-depth latency
    max_d = max(depths)
    preds, full_ms = [], []
    for chunk, real in padded_chunks(inputs, B):
        t0 = time.perf_counter()
        res: SolveResult = session.solve(chunk, max_d, False) if not unrolled else session.solve(chunk)
        full_ms.append((time.perf_counter() - t0) * 1e3 / B)
        p = np.asarray(res.preds)
        preds.append(p[:, :real] if p.ndim == 3 else p[None, :real])
    preds = np.concatenate(preds, axis=1)  # (S, N, L)
    exact_by_depth = {}
    for entry in out["depths"]:
        d = entry["depth"]
        p = preds[min(d, preds.shape[0]) - 1]
        exact_by_depth[d] = float(task.verify(inputs, p).mean())
        entry["exact_acc"], entry["cell_acc"] = exact_by_depth[d], float((p == labels).mean())
    tick("accuracy")

    if settings.halt and not unrolled:
        halt_ms, steps, finals = [], [], []
        for chunk, real in padded_chunks(inputs, B):
            t0 = time.perf_counter()
            res = session.solve(chunk, max_d, True, threshold=thr)
            halt_ms.append((time.perf_counter() - t0) * 1e3 / B)
            steps.extend(np.asarray(res.halted_at)[:real].tolist())
            finals.append(np.asarray(res.final)[:real])
        finals = np.concatenate(finals)
        solved = task.verify(inputs, finals)
        acc, full_acc = float(solved.mean()), exact_by_depth[max_d]
        mean_ms, full = float(np.mean(halt_ms)), float(np.mean(full_ms))
        out["halting"] = {
            "max_steps": int(max_d), "threshold": thr, "mean_steps": float(np.mean(steps)),
            "exact_acc": acc, "cell_acc": float((finals == labels).mean()), "full_depth_exact_acc": full_acc,
            "acc_loss_pt": 100 * (full_acc - acc), "ms_per_puzzle": mean_ms, "full_depth_ms_per_puzzle": full,
            "ms_per_solved": float(np.sum(halt_ms)) / solved.sum() if solved.any() else None,
            "speedup_vs_full_depth": full / mean_ms}
        tick("halting")
    out["peak_rss_mb"] = _peak_rss_mb()
    return out


# ---- a whole host run -------------------------------------------------------------------------
def host_device_info(name: str = "host") -> dict:
    import platform

    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or None
    plat = {"darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return {"name": name, "platform": plat, "os": f"{platform.system()} {platform.release()}",
            "model": platform.machine(), "cpu": cpu, "cores": os.cpu_count(), "load_avg": load}


def bench_host(specs: list[RuntimeSpec], settings: BenchSettings, inputs: np.ndarray, labels: np.ndarray,
               task_name: str, isolate: bool = True, progress: bool = True) -> tuple[list[dict], dict]:
    """Measure every runtime (each in a fresh process when `isolate`) and the matmul peak.

    Returns (runtimes entries, roofline peak dict). The peak is measured before and after the
    runtimes and the better of the two kept, so a burst of load from elsewhere lowers it less.
    """
    from tqdm.auto import tqdm

    from .roofline import measure_peak_gflops
    from ..tasks import get_task

    task = get_task(task_name)
    per_runtime = 2 + len(settings.depths) + (1 if settings.halt else 0)  # load, depths, accuracy, halting
    peaks = [measure_peak_gflops(settings.threads)]
    int8_peaks = [_int8_peak(settings.threads)]
    entries = []
    with tempfile.TemporaryDirectory(prefix="trm-bench-") as tmp, \
            tqdm(total=per_runtime * len(specs), desc="bench", unit="stage", disable=not progress) as bar:
        puzzles_file = str(Path(tmp) / "puzzles.npz")
        np.savez(puzzles_file, inputs=inputs, labels=labels)
        for spec in specs:
            bar.set_postfix_str(spec.name)
            done = [0]

            def tick(label, done=done):
                done[0] += 1
                bar.update(1)

            if isolate:
                entry = run_isolated(spec, settings, puzzles_file, task_name, tick)
            else:
                try:
                    entry = measure_runtime(spec, settings, inputs, labels, task, tick)
                except TRMEdgeError as e:
                    entry = {**_empty_entry(spec), "error": str(e)}
            bar.update(max(0, per_runtime - done[0]))
            entries.append(entry)
    peaks.append(measure_peak_gflops(settings.threads))
    int8_peaks.append(_int8_peak(settings.threads))
    best = max(peaks, key=lambda p: p.gflops)
    roof = {"peak_gflops": best.gflops, "peak_method": best.method + " (better of before/after the runtimes)"}
    int8 = [p for p in int8_peaks if p is not None]
    if int8:
        best8 = max(int8, key=lambda p: p.gflops)
        roof.update(int8_peak_gops=best8.gflops, int8_peak_method=best8.method + " (better of before/after the runtimes)")
    return entries, roof


def _int8_peak(threads):
    """The integer-GEMM peak (trm_edge.bench.roofline), or None where no library here has one."""
    from .roofline import measure_peak_gflops

    try:
        return measure_peak_gflops(threads, dtype="int8")
    except RuntimeError:
        return None


# ---- one fresh process per runtime ----------------------------------------------------------
def _job_puzzles(job: dict):
    from ..tasks import get_task

    data = np.load(job["puzzles"])
    return data["inputs"], data["labels"], get_task(job["task"])


def worker_main(argv: list[str]) -> int:
    """`python -m trm_edge.bench.host JOB.json OUT.json`: measure one runtime, write its entry."""
    job = json.loads(Path(argv[0]).read_text())
    inputs, labels, task = _job_puzzles(job)
    spec, settings = RuntimeSpec(**job["spec"]), BenchSettings(**job["settings"])

    def tick(label):
        print(f"{PROGRESS}\t{label}", file=sys.stderr, flush=True)

    try:
        entry = measure_runtime(spec, settings, inputs, labels, task, tick)
        entry["rss_scope"] = "subprocess"
    except TRMEdgeError as e:
        entry = {"name": spec.name, "error": str(e)}
    Path(argv[1]).write_text(json.dumps(entry))
    return 0


def run_isolated(spec: RuntimeSpec, settings: BenchSettings, puzzles_file: str, task_name: str,
                 tick=lambda label: None, timeout: float = 3600) -> dict:
    """Measure `spec` in a fresh Python process (honest peak RSS); failures become `error`."""
    with tempfile.TemporaryDirectory(prefix="trm-bench-") as tmp:
        job_file, out_file = Path(tmp) / "job.json", Path(tmp) / "out.json"
        job_file.write_text(json.dumps({"spec": asdict(spec), "settings": asdict(settings),
                                        "puzzles": puzzles_file, "task": task_name}))
        env = dict(os.environ)
        if settings.threads:  # OpenMP/MKL pools read these at import time
            env.update(OMP_NUM_THREADS=str(settings.threads), MKL_NUM_THREADS=str(settings.threads))
        proc = subprocess.Popen([sys.executable, "-m", "trm_edge.bench.host", str(job_file), str(out_file)],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        tail: list[str] = []
        deadline = time.monotonic() + timeout
        for line in proc.stderr:
            if line.startswith(PROGRESS):
                tick(line.rstrip("\n").split("\t", 1)[-1])
            else:
                tail = (tail + [line.rstrip()])[-20:]
            if time.monotonic() > deadline:
                proc.kill()
                break
        rc = proc.wait()
        if rc != 0 or not out_file.exists():
            last = next((ln for ln in reversed(tail) if ln.strip()), f"exit code {rc}")
            return {**_empty_entry(spec), "error": f"worker failed: {last.strip()[:300]}"}
        entry = json.loads(out_file.read_text())
        return entry if "depths" in entry else {**_empty_entry(spec), **entry}


def _empty_entry(spec: RuntimeSpec) -> dict:
    return {"name": spec.name, "target": spec.target, "precision": spec.precision, "mode": spec.mode,
            "delegate": spec.delegate, "artifact": str(spec.path), "size_bytes": None, "load_ms": None,
            "first_call_ms": None, "peak_rss_mb": None, "baseline_rss_mb": None, "rss_scope": None,
            "error": None, "depths": [], "halting": None}


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
