"""`trm-edge bench` end to end: choose runtimes, clip depths, pick puzzles, measure on the chosen
device (host / adb / devicectl / browser), assemble the `trm-edge-bench/1` result, derive the ratios.

Default runtimes: eager PyTorch fp32 (the reference) plus a looped artifact for every export target
available on this machine and the device, in fp32 and int8, exported once from the checkpoint into
a cache ($TRM_EDGE_CACHE/bench/<weights hash>-b<batch>/: trm_edge.export.cache). The result files
(JSON, Markdown, PNG): BenchOutputs.
"""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

from .host import BenchSettings, RuntimeSpec
from .quiet import IdleLimits
from ..errors import ArtifactError, DeviceError, TRMEdgeError


@dataclass
class BenchRequest:
    artifacts: list[str] = field(default_factory=list)  # artifact dirs; empty = defaults
    all_targets: bool = False       # every available target (also when artifacts are given)
    checkpoint: str | None = None   # eager reference + source of default exports (None: bundled)
    preset: str | None = None       # instead: random weights of a TRMConfig preset (timing only)
    device: str = "host"            # profile in trm_edge/bench/devices.toml ($TRM_EDGE_DEVICES)
    precisions: tuple[str, ...] = ("fp32", "int8")
    eager: bool = True              # include eager PyTorch fp32 (the reference)
    isolate: bool = True            # one fresh process per runtime (honest peak RSS)
    progress: bool = True
    runner: str | None = None       # android: a benchmark_model / executor_runner binary instead of the app
    command: str = ""               # the exact command line, recorded in the result
    require_idle: float | None = None  # wait up to this many s for an idle machine, else stop (None: record only)
    idle: IdleLimits = field(default_factory=IdleLimits)


def clip_depths(requested: list[int], n_sup: int) -> tuple[list[int], list[str]]:
    """Depths above the model's n_sup are clipped to n_sup (with a note); duplicates dropped."""
    if not requested or any(d < 1 for d in requested):
        raise TRMEdgeError(f"depths must be positive integers, got {requested}")
    clipped = sorted({min(d, n_sup) for d in requested})
    over = [d for d in requested if d > n_sup]
    notes = [f"depth(s) {', '.join(map(str, over))} > n_sup {n_sup}: clipped to {n_sup}"] if over else []
    return clipped, notes


def spec_from_artifact(path: str | Path) -> RuntimeSpec:
    from .. import artifact

    p = Path(path)
    if not artifact.is_artifact(p):
        raise ArtifactError(f"{p} is not an artifact directory (no manifest.json); export one with `trm-edge export`")
    man = artifact.read(p).manifest
    return RuntimeSpec(name=man["name"], target=man["target"], precision=man["precision"],
                       mode=man["mode"], path=str(p), delegate=man.get("delegate"))


def random_checkpoint(preset: str) -> Path:
    """A checkpoint of `preset` with seed-0 random weights, saved once in the cache."""
    import torch

    from ..checkpoint import save_model
    from ..data import cache_dir
    from ..model import TRMConfig, build_model

    try:
        cfg = TRMConfig.preset(preset)
    except ValueError as e:
        raise TRMEdgeError(str(e)) from None
    path = cache_dir() / "bench" / f"random-{preset}"
    if not (path / "model.safetensors").exists():
        torch.manual_seed(0)
        save_model(build_model(cfg), path)
    return path


def run_bench(req: BenchRequest, settings: BenchSettings) -> dict:
    from .. import artifact
    from . import devices as devmod
    from .report import SCHEMA, add_derived
    from ..evaluate import held_out_puzzles
    from .roofline import flops_per_step

    profile = devmod.get_profile(req.device)
    reachable, why = devmod.reachability(profile)  # fail fast, before any export or measurement
    if not reachable:
        raise DeviceError(f"device {profile.name}: {why}")
    if profile.reach == "browser":   # the page's npm runtimes (the `npm ci` of `trm-edge web`), before any work
        from ..apps.web import install_runtimes
        install_runtimes(log=(lambda m: print(m, file=sys.stderr, flush=True)) if req.progress else None)
    if req.require_idle is not None and profile.reach not in ("local", "browser"):
        raise DeviceError(f"--require-idle checks this machine's load; device {profile.name} measures on its own CPU")
    if req.require_idle is not None:   # a busy machine stops here, before any export or model load prints a line
        from . import quiet

        quiet.gate(req.idle, req.require_idle)
    notes: list[str] = []
    if req.preset:
        ckpt = random_checkpoint(req.preset)
        notes.append(f"random weights of preset {req.preset!r} (seed 0): timing only, accuracy is meaningless")
    eager = req.eager
    if eager and req.artifacts and not (req.all_targets or req.preset) and importlib.util.find_spec("torch") is None:
        eager = False   # a runtime-only install benches the given artifacts alone
        notes.append("no eager PyTorch reference: torch is not installed (pip install 'trm-edge[torch]')")
    if eager or req.all_targets or not req.artifacts or req.preset:
        from ..checkpoint import load_model
        from ..model import count_params

        model, ckpt_dir = load_model(ckpt if req.preset else req.checkpoint)
        block = artifact.model_block(model.cfg, params=count_params(model))
    else:  # given artifacts only, no eager: the model block comes from a manifest, no PyTorch needed
        man = artifact.read_manifest(Path(req.artifacts[0]))
        model, ckpt_dir = None, man["source"].get("checkpoint")
        block = man["model"]
    config, params = block["config"], block.get("params")
    cfg = SimpleNamespace(**block["config"], total_len=block["total_len"])   # the manifest's model block
    requested = list(settings.depths)
    depths, clip_notes = clip_depths(requested, cfg.n_sup)
    notes += clip_notes
    settings.depths = depths
    if settings.threads is None and profile.threads:
        settings.threads = profile.threads
    specs = [spec_from_artifact(a) for a in req.artifacts]
    if req.all_targets or not req.artifacts:
        from ..export.cache import cached_exports   # exports import torch: only here
        targets = [t for t in artifact.TARGETS if t in profile.targets]
        if "coreml" in targets and ((profile.reach == "local" and sys.platform != "darwin")
                                    or profile.platform == "android"):
            targets.remove("coreml")
            notes.append("coreml: Core ML artifacts run only on macOS / iOS; not benchmarked on this device")
        specs += [spec_from_artifact(p) for p in cached_exports(model, ckpt_dir, targets, req.precisions,
                                                                settings.batch, notes, req.progress,
                                                                web=profile.reach == "browser")]
    for s in specs:
        m = artifact.read_manifest(Path(s.path))
        if (m.get("model") or {}).get("config", config) != config:
            notes.append(f"{s.name}: exported from a different model config than {ckpt_dir}")
    # the same puzzles for every runtime, held out from the model's training puzzles
    inputs, labels, _, _ = held_out_puzzles(cfg.task, settings.n_puzzles, settings.seed, ckpt_dir)

    result = {
        "schema": SCHEMA, "fixture": False,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": req.command or "trm_edge.bench.run_bench(...)",
        "device": None,
        "model": {"checkpoint": str(ckpt_dir), "task": cfg.task, "n_sup": cfg.n_sup,
                  "params": params, "config": config},
        "settings": {**asdict(settings), "requested_depths": requested,
                     "halt_threshold": cfg.halt_threshold if settings.halt_threshold is None else settings.halt_threshold},
        "notes": notes, "roofline": None, "quiet": None, "runtimes": [],
    }
    if profile.reach in ("local", "browser"):
        from . import quiet
        from .host import bench_host, host_device_info

        result["device"] = host_device_info(profile.name)
        # after the exports (their load is over or waited out), right before the first timed call
        result["quiet"] = quiet.gate(req.idle, req.require_idle,
                                     log=(lambda m: print(m, file=sys.stderr, flush=True)) if req.progress else None)
        result["device"]["load_avg"] = result["quiet"]["start"]["load_avg"]
        watch = quiet.Watch()
        browser_specs = list(specs)
        if eager:
            specs.insert(0, RuntimeSpec("eager-fp32", "eager", "fp32", "looped", str(ckpt_dir)))
        entries, peak = bench_host(specs, settings, inputs, labels, cfg.task, req.isolate, req.progress)
        result["runtimes"] = entries
        result["roofline"] = {"flops_per_step": flops_per_step(cfg, 1), **peak}
        if profile.reach == "browser":  # the same artifacts in headless Chromium, after the native runs
            from .chromium import bench_browser

            entries, result["device"]["browser"] = bench_browser(browser_specs, settings, inputs, labels, req.progress,
                                                                 webgpu=profile.webgpu)
            result["runtimes"] += entries
            result["device"]["load_avg_end"] = host_device_info(profile.name)["load_avg"]
        quiet.finish(result["quiet"], watch)
        notes += quiet.notes(result["quiet"])
    elif profile.reach == "adb":
        result.update(_android(profile, specs, settings, inputs, labels, cfg.task, req.runner))
    else:
        result.update(_ios(profile, specs, settings))
    if not result["runtimes"]:
        raise TRMEdgeError("nothing to benchmark: no artifact given and no export target available "
                           f"({'; '.join(notes) or 'see trm-edge export'})")
    return add_derived(result)


def _ios(profile, specs, settings) -> dict:
    """The ios_demo benchmark mode over devicectl, one launch per artifact bundled in the app."""
    from . import ios

    udid = ios.pick_udid(profile.serial)
    entries, device = [], None
    for spec in specs:
        res = ios.run_app_bench(udid, Path(spec.path).name, depths=settings.depths, runs=settings.runs,
                                warmup=settings.warmup, threads=settings.threads or 0, batch=settings.batch,
                                n_puzzles=settings.n_puzzles, halt=settings.halt)
        device = device or {**res["device"], "name": profile.name}
        entries += res["runtimes"]
    return {"device": device, "runtimes": entries}


def _android(profile, specs, settings, inputs, labels, task_name, runner) -> dict:
    """Run every artifact through the android_demo benchmark activity; merge into one result."""
    import tempfile

    from . import android

    adb = android.Adb(profile.serial)
    device = adb.device_info(profile.name)
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        puzzles = Path(tmp) / "puzzles.json"
        puzzles.write_text(json.dumps({"task": task_name, "inputs": inputs.tolist(), "labels": labels.tolist()}))
        for spec in specs:
            if runner:
                entries.append(android.run_runner_bench(adb, spec.path, runner, settings.threads or 0,
                                                        settings.runs, settings.warmup, spec.name))
                continue
            args = android.AppBenchArgs(android.remote_artifact_dir(spec.path), settings.depths, settings.runs,
                                        settings.warmup, settings.threads or 0, settings.batch, len(inputs), settings.halt)
            res = android.run_app_bench(adb, spec.path, args, puzzles)
            entries += res["runtimes"]
    return {"device": device, "runtimes": entries}


@dataclass
class BenchOutputs:
    """Where a bench result goes: the JSON, its Markdown table and its PNG plots."""
    json: Path
    markdown: Path
    plot: Path

    @classmethod
    def choose(cls, device: str, json_out=None, md_out=None, plot_out=None, force: bool = False) -> "BenchOutputs":
        """The paths (default: benchmarks/results/<device>-<date>.json, the others beside it), checked
        before any work by report.output_paths (an existing file the user did not name: refused
        unless force)."""
        from .report import output_paths

        return cls(*output_paths(device, json_out, md_out, plot_out, force))

    def write(self, result: dict) -> tuple[str, str]:
        """Write the result -> (its Markdown table, a line saying what was written)."""
        from ..errors import MissingExtraError
        from ..safe_io import write_text
        from .report import plot, to_markdown, write_json

        md = to_markdown(result)
        write_json(result, self.json)
        write_text(self.markdown, md)
        try:
            png = plot(result, self.plot)
        except MissingExtraError as e:   # the measurements are written; only the picture needs matplotlib
            png = f"no plot ({e})"
        return md, f"wrote {self.json}, {self.markdown}, {png}"
