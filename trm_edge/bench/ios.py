"""iOS over `xcrun devicectl` (macOS + Xcode 15+): launch the ios_demo benchmark mode, copy back
its result JSON. The launch arguments mirror the Android intent extras (benchmarks/README.md).
On Linux or Windows every entry point raises one DeviceError saying it needs macOS.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import DeviceError

BUNDLE_ID = "dev.trmedge.demo"
RESULT_NAME = "bench_result.json"


def xcrun() -> str:
    if sys.platform != "darwin":
        raise DeviceError(f"iOS benchmarking needs macOS with Xcode 15+ (xcrun devicectl); this host is {sys.platform}")
    exe = shutil.which("xcrun")
    if exe is None:
        raise DeviceError("xcrun not found: install Xcode (or its command line tools) and run `xcode-select -s`")
    return exe


def parse_devices(data: dict) -> list[tuple[str, str, str]]:
    """`devicectl list devices --json-output` -> [(udid, name, pairing/state)]."""
    out = []
    for d in (data.get("result") or {}).get("devices", []):
        props = d.get("hardwareProperties") or {}
        conn = d.get("connectionProperties") or {}
        out.append((props.get("udid") or d.get("identifier", "?"), (d.get("deviceProperties") or {}).get("name", "?"),
                    conn.get("pairingState", "unknown")))
    return out


def pick_udid(udid: str = "") -> str:
    exe = xcrun()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "devices.json"
        subprocess.run([exe, "devicectl", "list", "devices", "--json-output", str(out)],
                       capture_output=True, text=True, timeout=60)
        devices = parse_devices(json.loads(out.read_text())) if out.exists() else []
    paired = [u for u, _, state in devices if state == "paired"]
    if udid:
        if udid not in {u for u, _, _ in devices}:
            raise DeviceError(f"iOS device {udid} not found by devicectl; connect it and trust this Mac")
        return udid
    if not paired:
        raise DeviceError("no paired iOS device: connect it, unlock it, tap 'Trust', enable Developer Mode")
    if len(paired) > 1:
        raise DeviceError(f"several iOS devices ({', '.join(paired)}): set `serial` (the UDID) in devices.toml")
    return paired[0]


def launch_cmd(exe: str, udid: str, artifact_name: str, depths: list[int], runs: int, warmup: int,
               threads: int, batch: int, n_puzzles: int, halt: bool) -> list[str]:
    return [exe, "devicectl", "device", "process", "launch", "--device", udid, "--terminate-existing",
            BUNDLE_ID, "--trm-bench", "--artifact_dir", artifact_name, "--depths", ",".join(map(str, depths)),
            "--runs", str(runs), "--warmup", str(warmup), "--threads", str(threads), "--batch", str(batch),
            "--n_puzzles", str(n_puzzles), "--halt", "1" if halt else "0", "--out", RESULT_NAME]


def copy_cmd(exe: str, udid: str, dest: str) -> list[str]:
    return [exe, "devicectl", "device", "copy", "from", "--device", udid, "--domain-type", "appDataContainer",
            "--domain-identifier", BUNDLE_ID, "--source", f"Documents/{RESULT_NAME}", "--destination", dest]


def run_app_bench(udid: str, artifact_name: str, timeout: float = 600, **kw) -> dict:
    """Launch the app's benchmark mode (artifact bundled in the app) and fetch the result."""
    from .report import load_result

    exe = xcrun()
    subprocess.run(launch_cmd(exe, udid, artifact_name, **kw), check=False, capture_output=True, timeout=120)
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / RESULT_NAME
        while time.monotonic() < deadline:
            proc = subprocess.run(copy_cmd(exe, udid, str(dest)), capture_output=True, text=True, timeout=120)
            if proc.returncode == 0 and dest.exists():
                return load_result(dest)
            time.sleep(3)
    raise DeviceError(f"no {RESULT_NAME} from {BUNDLE_ID} on {udid} after {timeout:.0f}s (see the device console)")
