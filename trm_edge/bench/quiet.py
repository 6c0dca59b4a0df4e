"""Is this machine quiet enough to measure? Load average, other processes' CPU, the CPU governor.

`trm-edge bench` takes one reading right before it measures (after its exports, so their work is
over) and one summary over the whole measurement, and records both in the result's `quiet` block
(benchmarks/README.md). With `--require-idle SECONDS` it re-reads every few seconds until a reading
is within the limits, and stops with one error line (exit 2) when none came within SECONDS
(0: check once). Without it the readings are only recorded, and a note says when it was busy.

Idle means both (`busy_reasons`):
- the 1-minute load average per logical CPU is at most `load_per_cpu` (runnable + uninterruptible
  tasks; inside a container the kernel usually reports the whole host's), and
- all *other* processes together used at most `others_cpu_pct` % of one core over `window_s`
  seconds. "Other" is everything outside this process and its descendants: the bench's own
  workers and its browser are not load.

Per-process CPU times come from psutil (the `bench` extra, already used for memory): it reads
/proc/<pid>/stat on Linux and the equivalent on macOS / Windows, so no hand-written /proc parser.
Only process *names* are recorded, never command lines (they can hold paths or tokens, and result
files get committed). A process that starts and ends between two snapshots is not seen; over a
short window that is rare, over a whole run the system-wide CPU figures (which do include such
processes, and the bench itself) are recorded next to it.

The decision (`busy_reasons`, `cpu_pct_by_process`, `system_cpu`, `wait_for_idle`) is pure over
plain-dict readings, so tests inject readings and clocks; `Watch` / `read_machine` do the reading.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..errors import DeviceError, require

POLL_S = 5.0        # --require-idle: seconds between the end of one reading and the next
TOP_N = 5           # busiest other processes recorded
TOP_MIN_PCT = 0.5   # ... if they used at least this % of one core


@dataclass
class IdleLimits:
    load_per_cpu: float = 0.3      # 1-min load average / logical CPUs, at most
    others_cpu_pct: float = 10.0   # all other processes together, % of one core, at most
    window_s: float = 2.0          # seconds over which other processes' CPU is measured


# ---- pure: readings -> figures -> verdict ------------------------------------------------------
def cpu_pct_by_process(before: dict, after: dict, seconds: float) -> list[dict]:
    """Per-process CPU % of one core between two snapshots, busiest first.

    A snapshot maps (pid, create_time) -> (name, cpu_seconds); a key only in `after` is a process
    started in between (all its time is inside the window). A key only in `before` ended: unseen.
    """
    out = []
    for key, (name, cpu_s) in after.items():
        used = cpu_s - before[key][1] if key in before else cpu_s
        out.append({"pid": key[0], "name": name, "cpu_pct": max(0.0, 100.0 * used / seconds)})
    return sorted(out, key=lambda p: -p["cpu_pct"])


def system_cpu(before: dict, after: dict) -> dict | None:
    """Whole-machine busy / iowait / steal as % of ALL CPUs, from two cumulative cpu_times dicts."""
    delta = {k: after[k] - before.get(k, 0.0) for k in after if k not in ("guest", "guest_nice")}  # guest is in user
    total = sum(delta.values())
    if total <= 0:
        return None
    idle = delta.get("idle", 0.0) + delta.get("iowait", 0.0)
    return {"busy_pct": round(100 * (total - idle) / total, 1),
            "iowait_pct": round(100 * delta.get("iowait", 0.0) / total, 1),
            "steal_pct": round(100 * delta.get("steal", 0.0) / total, 1)}


def summarize(load_avg, cpu_count: int, seconds: float, procs: list[dict] | None, sys_cpu: dict | None,
              governor: str | None, source: str) -> dict:
    """One reading (the `quiet.start` / `quiet.during_run` JSON objects)."""
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_avg": [round(x, 2) for x in load_avg] if load_avg else None,
        "cpu_count": cpu_count,
        "load_per_cpu": round(load_avg[0] / cpu_count, 3) if load_avg else None,
        "window_s": round(seconds, 2),
        "others_cpu_pct": round(sum(p["cpu_pct"] for p in procs), 1) if procs is not None else None,
        "top": [{**p, "cpu_pct": round(p["cpu_pct"], 1)} for p in (procs or [])[:TOP_N] if p["cpu_pct"] >= TOP_MIN_PCT],
        "system_cpu": sys_cpu,
        "governor": governor,
        "source": source,
    }


def busy_reasons(reading: dict, limits: IdleLimits) -> list[str]:
    """Why `reading` is not idle under `limits` ([] = idle). A figure that could not be read is
    not a reason (the reading's `source` says what was read)."""
    out = []
    lpc = reading.get("load_per_cpu")
    if lpc is not None and lpc > limits.load_per_cpu:
        out.append(f"1-min load average {reading['load_avg'][0]:.2f} on {reading['cpu_count']} CPUs is "
                   f"{lpc:.2f} per CPU (limit {limits.load_per_cpu:g})")
    others = reading.get("others_cpu_pct")
    if others is not None and others > limits.others_cpu_pct:
        top = ", ".join(f"{p['name']} pid {p['pid']} {p['cpu_pct']:.0f}%" for p in reading.get("top", [])[:3])
        out.append(f"other processes used {others:.0f}% of one core over {reading['window_s']:g} s "
                   f"(limit {limits.others_cpu_pct:g}%; busiest: {top or 'many small ones'})")
    return out


def describe(reading: dict, load_when: str = "") -> str:
    """A reading in one line (markdown header, notes); load_when qualifies the load average."""
    load = reading.get("load_avg")
    parts = [f"load average{load_when} {'/'.join(f'{x:.2f}' for x in load)} on {reading['cpu_count']} CPUs" if load
             else f"no load average, {reading['cpu_count']} CPUs"]
    if reading.get("others_cpu_pct") is not None:
        top = ", ".join(f"{p['name']} {p['cpu_pct']:.1f}%" for p in reading.get("top", [])[:3])
        parts.append(f"other processes {reading['others_cpu_pct']:.1f}% of one core over {reading['window_s']:g} s"
                     + (f" (busiest: {top})" if top else ""))
    sc = reading.get("system_cpu")
    if sc:
        parts.append(f"whole machine {sc['busy_pct']:.1f}% busy, steal {sc['steal_pct']:.1f}%")
    parts.append(f"governor {reading.get('governor') or 'unknown'}")
    return "; ".join(parts)


def wait_for_idle(read: Callable[[], dict], limits: IdleLimits, wait_s: float | None,
                  clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                  log: Callable[[str], None] | None = None) -> tuple[dict, list[str], float]:
    """Read until idle. Returns (last reading, its busy reasons, seconds waited).

    wait_s None: read once and return whatever it says (record only). Otherwise re-read every
    POLL_S until idle; when wait_s has passed and the machine is still busy, DeviceError (one line).
    """
    t0, first = clock(), None
    while True:
        reading = read()
        reasons = busy_reasons(reading, limits)
        waited = clock() - t0
        if not reasons or wait_s is None:
            if log and first:   # said once it is over: a wait that ends in the error is that one line
                log(f"waited {waited:.0f} s for an idle machine (at first: {'; '.join(first)})")
            return reading, reasons, waited
        if waited >= wait_s:
            raise DeviceError(f"machine not idle after {waited:.0f} s (--require-idle {wait_s:g}): "
                              + "; ".join(reasons))
        first = first or reasons
        sleep(min(POLL_S, wait_s - waited))


# ---- reading this machine --------------------------------------------------------------------
def governor() -> str | None:
    """cpufreq scaling governor(s) of the CPUs ("performance", "powersave,performance"); None
    where not readable (no cpufreq in most VMs and containers, macOS, Windows)."""
    found = set()
    for p in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpufreq/scaling_governor"):
        try:
            found.add(p.read_text().strip())
        except OSError:
            pass
    return ",".join(sorted(found)) or None


def _load_avg() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except (AttributeError, OSError):   # Windows: none
        return None


class Watch:
    """CPU use of other processes (and of the whole machine) between begin() and end()."""

    def __init__(self):
        try:
            import psutil
        except ImportError:
            psutil = None
        self.psutil = psutil
        self.t0 = time.monotonic()
        self.procs0 = self._snapshot()
        self.sys0 = psutil.cpu_times()._asdict() if psutil else None

    def _own_tree(self) -> set[int]:
        me = self.psutil.Process()
        try:
            return {me.pid} | {c.pid for c in me.children(recursive=True)}
        except self.psutil.Error:
            return {me.pid}

    def _snapshot(self) -> dict | None:
        if self.psutil is None:
            return None
        own, snap = self._own_tree(), {}
        for p in self.psutil.process_iter(["name", "cpu_times", "create_time"]):
            info = p.info   # fields psutil may not read (another user's process) come back None
            if p.pid in own or info["cpu_times"] is None:
                continue
            snap[(p.pid, info["create_time"])] = (info["name"] or "?", info["cpu_times"].user + info["cpu_times"].system)
        return snap

    def end(self) -> dict:
        seconds = max(time.monotonic() - self.t0, 1e-3)
        if self.psutil is None:
            return summarize(_load_avg(), os.cpu_count() or 1, seconds, None, None, governor(),
                             "load average only (psutil missing: pip install 'trm-edge[bench]')")
        self.procs = procs = cpu_pct_by_process(self.procs0, self._snapshot(), seconds)   # all, busiest first
        sys_cpu = system_cpu(self.sys0, self.psutil.cpu_times()._asdict())
        return summarize(_load_avg(), os.cpu_count() or 1, seconds, procs, sys_cpu, governor(),
                         f"psutil {self.psutil.__version__} on {sys.platform}")


def read_machine(window_s: float) -> dict:
    """One reading: load average now, other processes' CPU over the next window_s seconds."""
    w = Watch()
    time.sleep(window_s)
    return w.end()


# ---- what bench calls ------------------------------------------------------------------------
def gate(limits: IdleLimits, wait_s: float | None, log: Callable[[str], None] | None = None) -> dict:
    """The reading before measuring, waiting for idle when wait_s is given. Returns the `quiet`
    block with `start` filled; `finish` adds `during_run`."""
    if wait_s is not None:
        require("psutil", "bench")   # refusing on load alone would miss the processes that make it
    reading, reasons, waited = wait_for_idle(lambda: read_machine(limits.window_s), limits, wait_s, log=log)
    return {"required_wait_s": wait_s, "limits": asdict(limits), "start": reading,
            "idle_at_start": not reasons, "busy_reasons": reasons, "waited_s": round(waited, 1),
            "during_run": None, "idle_during_run": None}


def finish(quiet: dict, watch: Watch) -> dict:
    """Fill `during_run` (other processes over the whole measurement) and its verdict (others only:
    the load average then counts the bench itself)."""
    run = watch.end()
    quiet["during_run"] = run
    if run["others_cpu_pct"] is not None:
        quiet["idle_during_run"] = run["others_cpu_pct"] <= quiet["limits"]["others_cpu_pct"]
    return quiet


def notes(quiet: dict) -> list[str]:
    """Result notes when the machine was busy (the markdown also shows the readings)."""
    out = []
    if not quiet["idle_at_start"]:
        out.append("machine NOT idle when measuring started: " + "; ".join(quiet["busy_reasons"]))
    if quiet["idle_during_run"] is False:
        run = quiet["during_run"]
        out.append(f"other processes used {run['others_cpu_pct']:.0f}% of one core on average during the "
                   f"measurement (limit {quiet['limits']['others_cpu_pct']:g}%)")
    return out
