"""Android over adb: push artifacts, run the android_demo benchmark activity (or a runner binary),
pull the result JSON. The protocol (package, activity, intent extras, result path) is written down
in benchmarks/README.md; the app implements the other side.

Commands are built by small pure functions (tested without a phone) and run by `Adb.run`.
`adb shell` hands its words to the device's shell as one line, so every word is quoted
(`shell_cmd`, shlex.quote) and every name pushed to the phone is a plain name ([A-Za-z0-9._-]+):
a folder or manifest file name never becomes a command or a path outside REMOTE_ROOT.
Every failure a user can fix (no adb, no device, unauthorized, several devices, app missing,
timeout) is a DeviceError with one line saying which and how to fix it.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import DeviceError
from ..safe_io import safe_name

PACKAGE = "dev.trmedge.demo"
ACTIVITY = f"{PACKAGE}/.BenchmarkActivity"
REMOTE_ROOT = "/data/local/tmp/trm-edge"
RESULT_DIR = f"/sdcard/Android/data/{PACKAGE}/files"
RESULT_NAME = "bench_result.json"


def adb_binary() -> str:
    adb = shutil.which("adb")
    if adb is None:
        raise DeviceError("adb not found: install it (Debian/Ubuntu: sudo apt-get install adb; "
                          "or Android platform-tools) and put it on PATH")
    return adb


# ---- devices ---------------------------------------------------------------------------------
def parse_devices(text: str) -> list[tuple[str, str]]:
    """`adb devices` output -> [(serial, state)] with state device / unauthorized / offline / ..."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("List of devices", "*")):
            continue
        parts = line.split()
        if len(parts) >= 2:
            out.append((parts[0], parts[1]))
    return out


def pick_serial(serial: str = "", devices: list[tuple[str, str]] | None = None) -> str:
    """The serial to use, or a DeviceError saying exactly what is wrong and how to fix it."""
    serial = serial or os.environ.get("ANDROID_SERIAL", "")
    if devices is None:
        proc = subprocess.run([adb_binary(), "devices"], capture_output=True, text=True, timeout=30)
        devices = parse_devices(proc.stdout)
    fix_auth = "unlock the phone and accept the 'Allow USB debugging?' prompt, then retry"
    if serial:
        state = dict(devices).get(serial)
        if state is None:
            raise DeviceError(f"adb device {serial} is not attached (attached: "
                              f"{', '.join(s for s, _ in devices) or 'none'}); check the cable / `adb connect`")
        if state == "unauthorized":
            raise DeviceError(f"adb device {serial} is unauthorized: {fix_auth}")
        if state != "device":
            raise DeviceError(f"adb device {serial} is {state}: reconnect it (or `adb kill-server`) and retry")
        return serial
    ready = [s for s, st in devices if st == "device"]
    if not devices:
        raise DeviceError("no Android device attached: connect one with USB debugging on "
                          "(Settings > Developer options), then check `adb devices`")
    if not ready:
        s, st = devices[0]
        if st == "unauthorized":
            raise DeviceError(f"adb device {s} is unauthorized: {fix_auth}")
        raise DeviceError(f"adb device {s} is {st}: reconnect it (or `adb kill-server`) and retry")
    if len(ready) > 1:
        raise DeviceError(f"several adb devices attached ({', '.join(ready)}): set `serial` in "
                          "a profile file given as $TRM_EDGE_DEVICES (a copy of trm_edge/bench/devices.toml), or ANDROID_SERIAL")
    return ready[0]


# ---- command construction (pure) ------------------------------------------------------------
@dataclass
class AppBenchArgs:
    artifact_dir: str        # on the device, holds manifest.json
    depths: list[int]
    runs: int
    warmup: int
    threads: int             # 0 = runtime default
    batch: int
    n_puzzles: int
    halt: bool
    puzzles: str = f"{REMOTE_ROOT}/puzzles.json"
    out: str = RESULT_NAME


def shell_cmd(adb: str, serial: str, *words) -> list[str]:
    """`adb shell` with every word quoted for the device's shell (adb joins them into one line)."""
    return [adb, "-s", serial, "shell", " ".join(shlex.quote(str(w)) for w in words)]


def remote_artifact_dir(local: str | os.PathLike) -> str:
    return f"{REMOTE_ROOT}/{safe_name(Path(local).name, 'artifact folder name')}"


def push_cmds(adb: str, serial: str, artifact: str | os.PathLike, puzzles_json: str | os.PathLike) -> list[list[str]]:
    remote = remote_artifact_dir(artifact)
    return [shell_cmd(adb, serial, "mkdir", "-p", REMOTE_ROOT),
            shell_cmd(adb, serial, "rm", "-rf", remote),
            [adb, "-s", serial, "push", str(artifact), remote],
            [adb, "-s", serial, "push", str(puzzles_json), f"{REMOTE_ROOT}/puzzles.json"]]


def launch_cmd(adb: str, serial: str, a: AppBenchArgs) -> list[str]:
    """`am start` of the benchmark activity with the documented intent extras."""
    return shell_cmd(adb, serial, "am", "start", "-W", "-S", "-n", ACTIVITY,
                     "--es", "artifact_dir", a.artifact_dir, "--es", "puzzles", a.puzzles,
                     "--es", "depths", ",".join(str(d) for d in a.depths),
                     "--ei", "runs", a.runs, "--ei", "warmup", a.warmup, "--ei", "threads", a.threads,
                     "--ei", "batch", a.batch, "--ei", "n_puzzles", a.n_puzzles,
                     "--ez", "halt", "true" if a.halt else "false", "--es", "out", a.out)


def runner_cmd(adb: str, serial: str, runner: str, artifact_remote: str, model_file: str,
               threads: int, runs: int, warmup: int) -> list[str]:
    """A user-supplied runner on the device: LiteRT benchmark_model or ExecuTorch executor_runner."""
    exe = f"{REMOTE_ROOT}/bin/{safe_name(Path(runner).name, 'runner file name')}"
    model = f"{artifact_remote}/{safe_name(model_file, 'model file name')}"
    if "benchmark_model" in Path(runner).name:  # the looped artifact's `step` signature
        args = [f"--graph={model}", "--signature_to_run_for=step", f"--num_runs={runs}",
                f"--warmup_runs={warmup}", f"--num_threads={threads or 4}", "--report_peak_memory_footprint=true"]
    else:  # executor_runner runs the program's default method (an unrolled artifact's forward)
        args = [f"--model_path={model}", f"--num_executions={runs}"]
    return shell_cmd(adb, serial, exe, *args)


# ---- runner output parsing --------------------------------------------------------------------
def parse_runner_output(text: str) -> dict:
    """Timing of benchmark_model / executor_runner stdout -> {init_ms, first_ms, avg_ms, peak_mb}."""
    out = {"init_ms": None, "first_ms": None, "avg_ms": None, "peak_mb": None}
    m = re.search(r"Inference timings in us: Init: ([\d.]+), First inference: ([\d.]+), "
                  r"Warmup \(avg\): ([\d.e+]+), Inference \(avg\): ([\d.e+]+)", text)
    if m:
        out.update(init_ms=float(m[1]) / 1e3, first_ms=float(m[2]) / 1e3, avg_ms=float(m[4]) / 1e3)
    # "Peak memory footprint (MB): init=X overall=Y" (older) or "... via periodic monitoring: Y" (newer)
    m = re.search(r"peak memory footprint \(MB\)[^:]*:\s*(?:init=[\d.]+ overall=)?([\d.]+)", text, re.I)
    if m:
        out["peak_mb"] = float(m[1])
    m = re.search(r"executed successfully (\d+) time\(s\) in ([\d.]+) ms", text)
    if m:
        out["avg_ms"] = float(m[2]) / int(m[1])
    if out["avg_ms"] is None:
        raise DeviceError("could not find timings in the runner output (expected benchmark_model's "
                          "'Inference timings in us' or executor_runner's 'executed successfully')")
    return out


# ---- running ---------------------------------------------------------------------------------
class Adb:
    def __init__(self, serial: str = ""):
        self.adb = adb_binary()
        self.serial = pick_serial(serial)

    def run(self, cmd: list[str], timeout: float = 300) -> str:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            msg = (proc.stderr or proc.stdout).strip().splitlines()
            raise DeviceError(f"`{' '.join(cmd[3:6])}` failed on {self.serial}: {msg[-1] if msg else proc.returncode}")
        return proc.stdout

    def shell(self, *args, timeout: float = 60) -> str:
        return self.run(shell_cmd(self.adb, self.serial, *args), timeout)

    def check_app(self) -> None:
        if PACKAGE not in self.shell("pm", "path", PACKAGE):
            raise DeviceError(f"the android_demo app ({PACKAGE}) is not installed on {self.serial}: "
                              "cd android_demo && ./gradlew installRelease")

    def device_info(self, name: str) -> dict:
        prop = lambda k: self.shell("getprop", k).strip() or None  # noqa: E731
        cores = self.shell("nproc").strip()
        return {"name": name, "platform": "android", "os": f"Android {prop('ro.build.version.release')} "
                f"(API {prop('ro.build.version.sdk')})", "model": prop("ro.product.model"),
                "cpu": prop("ro.soc.model") or prop("ro.board.platform"),
                "cores": int(cores) if cores.isascii() and cores.isdigit() else None, "load_avg": None}


def run_app_bench(adb: Adb, artifact: str | os.PathLike, args: AppBenchArgs, puzzles_json: str | os.PathLike,
                  timeout: float = 600, poll_s: float = 2.0) -> dict:
    """Push one artifact, launch the benchmark activity, wait for and pull its result JSON."""
    from .report import load_result

    adb.check_app()
    for cmd in push_cmds(adb.adb, adb.serial, artifact, puzzles_json):
        adb.run(cmd)
    remote = f"{RESULT_DIR}/{args.out}"
    adb.shell("rm", "-f", remote)
    adb.run(launch_cmd(adb.adb, adb.serial, args))
    deadline = time.monotonic() + timeout
    while remote not in adb.run([adb.adb, "-s", adb.serial, "shell", f"ls {shlex.quote(remote)} 2>/dev/null || true"]):
        if time.monotonic() > deadline:
            raise DeviceError(f"no {args.out} from {PACKAGE} after {timeout:.0f}s: check `adb logcat -s TrmBench`")
        time.sleep(poll_s)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / args.out
        adb.run([adb.adb, "-s", adb.serial, "pull", remote, str(local)])
        return load_result(local)


def run_runner_bench(adb: Adb, artifact: str | os.PathLike, runner: str, threads: int, runs: int,
                     warmup: int, name: str) -> dict:
    """Push a runner binary + one artifact, run it on the `step` (benchmark_model) or default
    method (executor_runner), and turn its timing lines into a `runtimes[]` entry.

    These tools time one entry point only: no host loop, so no accuracy and one "depth" of 1 step.
    They report a mean, not a distribution: `median`/`p90`/`min` stay null and `mean` is filled.
    """
    from .. import artifact as artifact_mod

    man = artifact_mod.read(artifact).manifest
    eps = man["entry_points"]
    ep = eps.get("step") or eps.get("forward") or next(iter(eps.values()), {})
    if not ep.get("file"):
        raise DeviceError(f"{artifact}/manifest.json names no model file for the runner")
    remote = remote_artifact_dir(artifact)
    for cmd in push_cmds(adb.adb, adb.serial, artifact, Path(artifact) / "manifest.json")[:3]:
        adb.run(cmd)
    exe = f"{REMOTE_ROOT}/bin/{safe_name(Path(runner).name, 'runner file name')}"
    adb.shell("mkdir", "-p", f"{REMOTE_ROOT}/bin")
    adb.run([adb.adb, "-s", adb.serial, "push", str(runner), exe])
    adb.shell("chmod", "755", exe)
    out = adb.run(runner_cmd(adb.adb, adb.serial, runner, remote, ep["file"], threads, runs, warmup), timeout=1800)
    t = parse_runner_output(out)
    per_step = t["avg_ms"] / (man.get("depth") or 1)
    return {"name": f"{name}-{Path(runner).name}", "target": "runner", "precision": man.get("precision"),
            "mode": man.get("mode"), "delegate": None, "artifact": remote,
            "size_bytes": artifact_mod.files_bytes(man),
            "load_ms": t["init_ms"], "first_call_ms": t["first_ms"], "peak_rss_mb": t["peak_mb"],
            "baseline_rss_mb": None, "rss_scope": "app", "error": None, "halting": None,
            "depths": [{"depth": man.get("depth") or 1,
                        "step_ms": {"median": None, "p90": None, "min": None, "mean": per_step, "n": runs},
                        "solve_ms": None, "exact_acc": None, "cell_acc": None,
                        "speedup_vs_eager": None, "roofline_pct": None}]}
