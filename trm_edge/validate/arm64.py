"""Run artifacts on ARM64 (aarch64) CPUs under user-mode emulation, from an x86 machine.

Phones, Raspberry Pis and Apple laptops run the aarch64 builds of onnxruntime and LiteRT (NEON and
dot-product kernels) that x86 never executes. This module builds, once and cached, what it takes to
run trm_edge's own runtime (`trm_edge.runtime`: Session + host loop, no torch) on an emulated ARM
core:

- a root filesystem with Debian's arm64 python3.11 and its libraries: a private apt configuration
  (`APT::Architecture "arm64"`, its own lists / cache / status) downloads the packages
  (`--download-only`) and `dpkg-deb -x` unpacks them; the host's dpkg is never touched and nothing
  runs as a foreign binary during setup;
- an ARM-format `/proc/cpuinfo` for the chosen core inside the rootfs (qemu's `-L` serves it):
  onnxruntime's aarch64 build parses it at import and fails on the host's x86 one;
- the aarch64 wheels (numpy, onnxruntime, ai-edge-litert, pinned to the x86 venv's versions),
  installed by the host's pip with `--only-binary=:all: --platform manylinux_..._aarch64 --target`
  (pip never runs under qemu).

Then `run(args, cpu=...)` calls `qemu-aarch64-static -cpu MODEL -L ROOTFS ROOTFS/usr/bin/python3.11`
directly (binfmt_misc is not needed). The CPU model is always pinned: qemu's default `-cpu max`
(SVE/SME and every optional extension) gave wrong int8 results in LiteRT. Timings under emulation
say nothing about a real core and are never reported.

    python -m trm_edge.validate.arm64 setup        # build the cache (~/.cache/trm-edge/arm64 or $TRM_EDGE_ARM64_CACHE)
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import TRMEdgeError

QEMU = "qemu-aarch64-static"
SUITE = "bookworm"   # Debian release of the arm64 userland (python3.11 = the x86 venv's minor version)
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# + their Depends closure (libpython3.11-stdlib, libc6, libssl3, ...); the wheels need libstdc++ / libgomp.
# The suite pins the versions (bookworm + its security updates); ready.json records the .debs used.
PACKAGES = ["python3.11", "libstdc++6", "libgomp1"]

# aarch64 wheels, pinned to the versions of the x86 venv the exports are validated with: the default
# site/ directory, plus optional ones (site-<name>/, built on first use) for other runtimes.
WHEELS = {"numpy==2.4.6", "onnxruntime==1.32.0", "ai-edge-litert==2.3.0"}
EXTRA_SITES = {
    # the classic LiteRT package on Raspberry Pi / Coral installs (last release 2.14, needs numpy < 2)
    "tflite-runtime": ["tflite-runtime==2.14.0", "numpy==1.26.4"],
    # ExecuTorch's runtime imports torch; torch's aarch64 wheel on PyPI is a CUDA build (~2.6 GB)
    "executorch": ["executorch==1.5.1", "torch==2.13.0", "numpy==2.4.6"],
}
PLATFORMS = [f"manylinux_2_{v}_aarch64" for v in (17, 27, 28, 31, 34, 35, 36)]   # glibc <= 2.36 (bookworm)

# CPU models qemu 7.2 emulates, with what they stand for and the features their cpuinfo advertises.
CPUS = {
    "cortex-a72": dict(part="0xd08", variant="0x0", revision="3", bogo="108.00",
                       features="fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid",
                       stands_for="Raspberry Pi 4 (Armv8.0-A, NEON, no dot-product)"),
    "cortex-a76": dict(part="0xd0b", variant="0x4", revision="1", bogo="108.00",
                       features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                                "asimdrdm lrcpc dcpop asimddp",
                       stands_for="Raspberry Pi 5, phone big cores (Armv8.2-A, dot-product, fp16)"),
    "neoverse-n1": dict(part="0xd0c", variant="0x3", revision="1", bogo="50.00",
                        features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                                 "asimdrdm lrcpc dcpop asimddp ssbs",
                        stands_for="phone-class Armv8.2-A core with dot-product (A76 family)"),
}
DEFAULT_CPU = "cortex-a76"


def emulated_cpu(name: str, profiles: dict[str, str] | None = None) -> str:
    """A qemu CPU model, or a device profile's name -> its `emulate_cpu` (`profiles`, from
    trm_edge.bench.devices.emulate_cpus(); passed in so this layer does not read bench's profiles)."""
    if name in CPUS:
        return name
    if (profiles or {}).get(name):
        return profiles[name]
    raise TRMEdgeError(f"unknown ARM CPU model {name!r}; emulated models: {', '.join(CPUS)}, or a device profile "
                       "with emulate_cpu (-cpu max is refused: its int8 results are wrong in LiteRT)")


def cache_dir() -> Path:
    return Path(os.environ.get("TRM_EDGE_ARM64_CACHE", Path.home() / ".cache" / "trm-edge" / "arm64"))


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def _run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise TRMEdgeError(f"arm64 setup: {' '.join(map(str, cmd[:4]))} ... failed:\n{r.stderr[-2000:]}")
    return r.stdout


def _need(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise TRMEdgeError(f"{tool} not found: {hint}")
    return path


# ---- the rootfs ----------------------------------------------------------------------------------
def _apt_conf(d: Path) -> Path:
    """A private apt configuration: arm64 only, own lists / cache / status; the host's dpkg untouched."""
    for sub in ("lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/preferences.d"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "status").touch()   # an empty dpkg status: every dependency is downloaded
    src = [f"deb [arch=arm64 signed-by={KEYRING}] {MIRROR} {SUITE} main",
           f"deb [arch=arm64 signed-by={KEYRING}] {MIRROR} {SUITE}-updates main",
           f"deb [arch=arm64 signed-by={KEYRING}] {SECURITY} {SUITE}-security main"]
    (d / "sources.list").write_text("\n".join(src) + "\n")
    conf = d / "apt.conf"
    conf.write_text("\n".join([
        'APT::Architecture "arm64";', 'APT::Architectures { "arm64"; };',
        f'Dir::State "{d}";', f'Dir::State::Lists "{d}/lists";', f'Dir::State::status "{d}/status";',
        f'Dir::Cache "{d}/cache";', f'Dir::Etc::SourceList "{d}/sources.list";',
        f'Dir::Etc::SourceParts "{d}/etc/none";', f'Dir::Etc::Parts "{d}/etc/apt.conf.d";',
        f'Dir::Etc::PreferencesParts "{d}/etc/preferences.d";',
        'Acquire::Languages "none";', 'APT::Install-Recommends "false";', 'Debug::NoLocking "true";',
        'APT::Sandbox::User "root";', "",
    ]))
    return conf


def build_rootfs(work: Path) -> tuple[Path, list[str]]:
    """Download python3.11 (arm64) + dependencies and unpack them into work/rootfs."""
    _need("apt-get", "the ARM64 rootfs is built from Debian arm64 packages (Debian/Ubuntu host)")
    _need("dpkg-deb", "needed to unpack the arm64 packages")
    apt = work / "apt"
    env = dict(os.environ, APT_CONFIG=str(_apt_conf(apt)))
    _run(["apt-get", "-q", "update"], env=env)
    _run(["apt-get", "-q", "-y", "--download-only", "install", *PACKAGES], env=env)
    debs = sorted((apt / "cache" / "archives").glob("*_arm64.deb")) + \
        sorted((apt / "cache" / "archives").glob("*_all.deb"))
    if not any(p.name.startswith("python3.11-minimal_") for p in debs):
        raise TRMEdgeError(f"arm64 setup: apt downloaded no python3.11 ({len(debs)} packages)")
    root = work / "rootfs"
    for deb in debs:
        _run(["dpkg-deb", "-x", str(deb), str(root)])
    # Debian ships libc's loader under /usr/lib (merged /usr): make /lib point there as a system does
    for link, target in (("lib", "usr/lib"), ("bin", "usr/bin"), ("sbin", "usr/sbin")):
        if not (root / link).exists():
            (root / link).symlink_to(target)
    (root / "proc").mkdir(exist_ok=True)
    return root, [p.name for p in debs]


def cpuinfo(cpu: str, n: int = 4) -> str:
    """/proc/cpuinfo as an aarch64 Linux kernel writes it for `n` cores of model `cpu`."""
    c = CPUS[cpu]
    block = (f"BogoMIPS\t: {c['bogo']}\nFeatures\t: {c['features']}\nCPU implementer\t: 0x41\n"
             f"CPU architecture: 8\nCPU variant\t: {c['variant']}\nCPU part\t: {c['part']}\n"
             f"CPU revision\t: {c['revision']}\n")
    return "".join(f"processor\t: {i}\n{block}\n" for i in range(n))


def cpu_root(env_dir: Path, cpu: str) -> Path:
    """env_dir/roots/<cpu>: the shared rootfs seen through symlinks, plus that core's /proc/cpuinfo
    (qemu -L looks paths up there first), so runs on different models never share a cpuinfo."""
    if cpu not in CPUS:
        raise TRMEdgeError(f"unknown ARM CPU model {cpu!r}; emulated models: {', '.join(CPUS)} "
                           "(-cpu max is refused: its int8 results are wrong in LiteRT)")
    root = env_dir / "roots" / cpu
    if not (root / "proc" / "cpuinfo").is_file():
        (root / "proc").mkdir(parents=True, exist_ok=True)
        for entry in (env_dir / "rootfs").iterdir():
            if entry.name != "proc" and not (root / entry.name).is_symlink():
                (root / entry.name).symlink_to(Path("..", "..", "rootfs", entry.name))
        (root / "proc" / "cpuinfo").write_text(cpuinfo(cpu))
    return root


# ---- the wheels ----------------------------------------------------------------------------------
def build_wheels(dest: Path, reqs) -> list[str]:
    reqs = sorted(reqs)
    plat = [a for p in PLATFORMS for a in ("--platform", p)]
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", *plat,
          "--target", str(dest), *reqs])
    return reqs


# ---- setup ---------------------------------------------------------------------------------------
def setup(cache: Path | None = None, force: bool = False, log=print) -> Path:
    """Build (or reuse) rootfs + wheels under cache/<key>; -> that directory. Idempotent: a finished
    build is marked by ready.json and reused; a half-built one is discarded."""
    _need(QEMU, "install qemu-user-static (Debian/Ubuntu: apt-get install qemu-user-static)")
    cache = Path(cache or cache_dir())
    env_dir = cache / f"py311-{SUITE}-{_key(PACKAGES, sorted(WHEELS), PLATFORMS, sorted(CPUS))}"
    ready = env_dir / "ready.json"
    if ready.is_file() and not force:
        return env_dir
    t0 = time.perf_counter()
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    try:
        log(f"arm64: building the rootfs and wheels in {env_dir} ...")
        root, debs = build_rootfs(work)
        wheels = build_wheels(work / "site", WHEELS)
        shutil.rmtree(work / "apt")   # the .debs are unpacked; keep only what runs
        if env_dir.exists():
            shutil.rmtree(env_dir)
        work.rename(env_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    for cpu in CPUS:
        cpu_root(env_dir, cpu)
    for old in cache.glob(f"py311-{SUITE}-*"):   # builds of older pins
        if old != env_dir:
            shutil.rmtree(old, ignore_errors=True)
    ready.write_text(json.dumps({"debs": debs, "wheels": wheels, "suite": SUITE,
                                 "seconds": round(time.perf_counter() - t0, 1)}, indent=1))
    log(f"arm64: ready in {time.perf_counter() - t0:.0f} s ({len(debs)} arm64 packages, {', '.join(wheels)})")
    return env_dir


def extra_site(env_dir: Path, name: str, log=print) -> Path:
    """env_dir/site-<name>: the aarch64 wheels of EXTRA_SITES[name], installed on first use."""
    if name not in EXTRA_SITES:
        raise TRMEdgeError(f"unknown aarch64 site {name!r}; known: {', '.join(EXTRA_SITES)}")
    dest = env_dir / f"site-{name}-{_key(EXTRA_SITES[name])}"
    if not (dest / ".ready").is_file():
        t0 = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=".site-", dir=env_dir))
        try:
            build_wheels(tmp, EXTRA_SITES[name])
            shutil.rmtree(dest, ignore_errors=True)
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        (dest / ".ready").touch()
        log(f"arm64: {name} wheels ready in {time.perf_counter() - t0:.0f} s")
    return dest


# ---- running under emulation ---------------------------------------------------------------------
REPO = Path(__file__).resolve().parents[2]   # the trm_edge package's parent, put on the worker's path


def python_cmd(env_dir: Path, cpu: str) -> list[str]:
    """The aarch64 python3.11 on one pinned CPU model: qemu-aarch64-static called directly."""
    root = cpu_root(env_dir, cpu)
    return [QEMU, "-cpu", cpu, "-L", str(root), str(root / "usr" / "bin" / "python3.11")]


def run_worker(job: dict, cpu: str, env_dir: Path | None = None, timeout: float = 1800,
               site: str | None = None) -> dict:
    """Run `job` (see `worker`) in trm_edge's runtime on the emulated `cpu`; -> {"results": [...]},
    each result's arrays loaded from the worker's .npz files. job["arrays"]: numpy inputs, named
    a<i>_tokens (N, L) and optionally a<i>_pid (N,) for artifact i. `site`: an EXTRA_SITES name to
    use instead of the default wheels."""
    import numpy as np

    env_dir = env_dir or setup()
    wheels = extra_site(env_dir, site) if site else env_dir / "site"
    with tempfile.TemporaryDirectory(prefix="trm-arm64-") as tmp:
        tmp = Path(tmp)
        arrays = job.pop("arrays", {})
        np.savez(tmp / "inputs.npz", **arrays)
        (tmp / "job.json").write_text(json.dumps(job))
        env = {"PYTHONPATH": f"{wheels}:{REPO}", "PYTHONNOUSERSITE": "1", "PYTHONHASHSEED": "0",
               "HOME": str(tmp), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        cmd = [*python_cmd(env_dir, cpu), "-m", "trm_edge.validate.arm64", "worker", str(tmp)]
        try:
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TRMEdgeError(f"the emulated aarch64 run on {cpu} took over {timeout:.0f} s") from None
        if r.returncode != 0:
            how = (f"was killed by signal {-r.returncode}" if r.returncode < 0 else f"exited with {r.returncode}")
            raise TRMEdgeError(f"the emulated aarch64 runtime on {cpu} {how}: {r.stderr.strip()[-1500:]}")
        out = json.loads((tmp / "result.json").read_text())
        for i, res in enumerate(out["results"]):
            if "error" in res:
                raise TRMEdgeError(f"on aarch64 ({cpu}): {res['error']}")
            with np.load(tmp / f"result-{i}.npz") as z:
                res["arrays"] = {k: z[k] for k in z.files}
    return out


def worker(tmp: Path) -> None:
    """Runs INSIDE the emulated aarch64 python (numpy + the runtimes' aarch64 wheels, no torch).

    For each artifact of job.json: trm_edge's runtime Session + host loop (halting on, so the loop
    stops when every puzzle halted) on the job's puzzles, recording every step's StepOutput; ONNX
    artifacts with loop.onnx also run the in-graph loop. The host compares the recordings."""
    import platform

    import numpy as np

    from ..runtime import host_loop, load

    job = json.loads((tmp / "job.json").read_text())
    inputs = np.load(tmp / "inputs.npz")
    results = []
    for i, a in enumerate(job["artifacts"]):
        tokens = inputs[f"a{i}_tokens"]
        pid = inputs[f"a{i}_pid"] if f"a{i}_pid" in inputs.files else None
        try:
            sess = load(a["path"], threads=job.get("threads", 1))   # manifest schema + sha256, then the backend
        except TRMEdgeError as e:   # e.g. a runtime that refuses this artifact: the host reports it
            results.append({"error": str(e)})
            continue
        manifest = sess.manifest
        steps = []

        def step(state):
            state, out = sess.step_full(state)
            steps.append(out)
            return state, out.preds, out.q_halt

        res = host_loop(lambda t: sess.init(t, pid), step, tokens, a["max_steps"], True, sess.halt_threshold)
        arrays = {"final": res.final, "halted_at": res.halted_at}
        for k in ("y", "z", "logits", "preds", "q_halt"):
            arrays[k] = np.stack([getattr(o, k) for o in steps])   # (steps run, N, ...)
        if "loop" in manifest["entry_points"] and a.get("loop_rows"):
            g = sess.solve_in_graph(tokens[:a["loop_rows"]], max_steps=a["max_steps"], halt=True)
            arrays.update(loop_final=g["preds"], loop_halted_at=g["halted_at"])
        np.savez(tmp / f"result-{i}.npz", **arrays)
        results.append({"name": manifest["name"], "machine": platform.machine(), "backend": sess.backend})
    (tmp / "result.json").write_text(json.dumps({"results": results}))


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(prog="python -m trm_edge.validate.arm64", description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["setup", "worker"])
    ap.add_argument("dir", nargs="?", help="worker: the job directory (internal)")
    ap.add_argument("--force", action="store_true", help="setup: rebuild even if the cache is ready")
    a = ap.parse_args()
    try:
        if a.command == "worker":
            worker(Path(a.dir))
        else:
            print(setup(force=a.force))
    except TRMEdgeError as e:
        sys.exit(f"error: {e}")
