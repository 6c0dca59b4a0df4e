"""Device profiles (trm_edge/bench/devices.toml, package data) and whether each one is reachable right now.

A profile says how to reach a device: `local` (this machine: host, a Mac, a Raspberry Pi you are
logged into), `adb` (Android, Debian's `adb` / platform-tools), `devicectl` (iOS, `xcrun devicectl`
on macOS with Xcode 15+) or `browser` (headless Chromium on this machine running web_demo/). Reachability is checked with the official tools, never guessed.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import package_data
from ..errors import DeviceError

DEVICES_FILE = ("bench", "devices.toml")   # package data: trm_edge/bench/devices.toml


@dataclass
class DeviceProfile:
    name: str
    platform: str                 # local | linux | macos | android | ios
    reach: str                    # local | adb | devicectl | browser
    description: str = ""
    serial: str = ""              # adb serial / devicectl UDID ("" = the only one attached)
    cores: int | str = "auto"
    machine: str = ""             # local profiles: CPU architecture it is (platform.machine()), "" = any
    threads: int = 0              # default benchmark threads (0 = runtime default)
    targets: list[str] = field(default_factory=list)
    delegates: dict[str, str] = field(default_factory=dict)
    emulate_cpu: str = ""         # ARM profiles: qemu -cpu model for `validate --arch aarch64 --cpu NAME`
    webgpu: str = ""              # browser profiles: "" no GPU, "swiftshader" a software WebGPU adapter

    @property
    def n_cores(self) -> int | None:
        return os.cpu_count() if self.cores == "auto" and self.reach == "local" else (
            self.cores if isinstance(self.cores, int) else None)


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib
        return tomllib
    import tomli
    return tomli


def load_profiles(path: str | os.PathLike | None = None) -> dict[str, DeviceProfile]:
    """Profiles from `path`, $TRM_EDGE_DEVICES, or the packaged trm_edge/bench/devices.toml."""
    p = Path(path or os.environ.get("TRM_EDGE_DEVICES") or package_data.path(*DEVICES_FILE))
    if not p.is_file():
        raise DeviceError(f"no device profiles at {p}")
    from ..artifact import TARGETS
    from ..schema import SchemaError, device_profile, read_text

    try:
        raw = _toml().loads(read_text(p, "device profiles file"))
    except SchemaError as e:
        raise DeviceError(str(e)) from None
    except Exception as e:  # tomllib.TOMLDecodeError; keep one line
        raise DeviceError(f"cannot parse device profiles {p}: {str(e).splitlines()[0][:200]}") from None
    out = {}
    for name, d in raw.items():
        if not isinstance(d, dict):
            raise DeviceError(f"{p}: [{name}] must be a table of profile fields, got {type(d).__name__}")
        try:   # every field typed, every number ranged (threads >= 0, cores >= 1, platform from the list)
            device_profile(d, f"device profile {name!r} in {p}", ("eager", *TARGETS))
        except SchemaError as e:
            raise DeviceError(str(e)) from None
        known = {k: v for k, v in d.items() if k in DeviceProfile.__dataclass_fields__ and k != "name"}
        out[name] = DeviceProfile(name=name, **known)
    return out


def emulate_cpus() -> dict[str, str]:
    """Profile name -> its qemu CPU model, for `validate --arch aarch64 --cpu PROFILE` (none if unreadable)."""
    try:
        return {n: p.emulate_cpu for n, p in load_profiles().items() if p.emulate_cpu}
    except DeviceError:
        return {}


def get_profile(name: str, path=None) -> DeviceProfile:
    profiles = load_profiles(path)
    if name not in profiles:
        raise DeviceError(f"unknown device {name!r}; profiles: {', '.join(profiles)} (see `trm-edge devices`)")
    return profiles[name]


def reachability(profile: DeviceProfile) -> tuple[bool, str]:
    """(reachable now, one-line status) using adb / devicectl for remote devices."""
    if profile.reach == "local":
        import platform

        want = {"macos": "darwin", "linux": "linux"}.get(profile.platform)
        here = f"{sys.platform} {platform.machine()}"
        if (want and not sys.platform.startswith(want)) or (profile.machine and profile.machine != platform.machine()):
            return False, f"run it on the {profile.platform} {profile.machine or ''} machine itself (this host is {here})"
        return True, f"this machine ({os.cpu_count()} cores)"
    if profile.reach == "browser":  # headless Chromium on this machine (trm_edge/bench/chromium.py)
        from . import chromium
        return chromium.reachability()
    if profile.reach == "adb":
        from . import android
        try:
            serial = android.pick_serial(profile.serial)
        except DeviceError as e:
            return False, str(e)
        return True, f"adb device {serial}"
    from . import ios
    try:
        udid = ios.pick_udid(profile.serial)
    except DeviceError as e:
        return False, str(e)
    return True, f"devicectl device {udid}"


def table(profiles: dict[str, DeviceProfile], check: bool = True) -> list[dict]:
    """Rows for `trm-edge devices`: name, platform, reach, cores, targets, reachable, status."""
    rows = []
    for p in profiles.values():
        ok, status = reachability(p) if check else (None, "not checked")
        rows.append({"name": p.name, "platform": p.platform, "reach": p.reach, "cores": p.n_cores or p.cores,
                     "targets": ",".join(p.targets), "reachable": ok, "status": status,
                     "description": p.description})
    return rows


def format_table(rows: list[dict]) -> str:
    """`trm-edge devices` as a text table (rows: `table`)."""
    lines = [f"{'name':<14} {'platform':<8} {'reach':<9} {'cores':<5} {'targets':<34} status"]
    for r in rows:
        mark = {True: "yes", False: "no", None: "?"}[r["reachable"]]
        lines.append(f"{r['name']:<14} {r['platform']:<8} {r['reach']:<9} {str(r['cores']):<5} {r['targets']:<34} "
                     f"{mark}: {r['status']}")
    return "\n".join(lines)
