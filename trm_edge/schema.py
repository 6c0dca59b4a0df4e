"""Typed schemas of the files trm-edge reads, in one place (standard library only: no torch, no pydantic).

Every reader of a file format goes through this module, so a bad file is one SchemaError naming
the file, the field and what is allowed, and every number has a range:

    config.json        model_config(cfg)        the TRMConfig (trm_edge.model; checked on construction)
    training.json      training_info(d, where)  train_config {n_train, data_seed, ...}
    state.json         train_state(d, where)    trm_edge.train.state
    manifest.json      trm_edge.artifact.validate_manifest (its own module: the runtime-only reader),
                       with the ranges below (MAX_BATCH, MAX_N_SUP, MAX_DEPTH) and `field_check`
    vectors *.json     vectors(d, where)        golden vectors (trm_edge.validate.vectors)
    recipe *.toml      recipe(d, known, where)  export recipes (trm_edge.export.Recipe)
    train_log.jsonl    log_line(d, where)       trm_edge.train.curve
    bench result quiet bench_quiet(d, where)    the `quiet` block of a trm-edge-bench/1 result (trm_edge.bench.report)
    bench result       bench_result(d, where)   a whole trm-edge-bench/1 result (`report bench-summary`)
    manifest task      manifest_task(d, ...)    the manifest's task block (tokens, board: what the apps read)
    all_config.yaml    authors_arch(d, where)   the `arch:` section of an authors' run (trm_edge.checkpoint.authors)
    dataset.json       authors_dataset(d, where) an authors' built data set's metadata (import, eval --data)
    *.npy              read_npy(path, ...)      shape and dtype from the header, checked before any allocation
    devices.toml       device_profile(d, where) bench device profiles (trm_edge.bench.devices)

Every JSON file is read by `read_json` / `loads`: its size (MAX_JSON_BYTES) and nesting depth
(MAX_JSON_DEPTH, counted on the text before parsing) are bounded, so no file makes the parser
recurse or allocate without limit; text files by `read_text` (size-bounded, UTF-8 or one error).

A spec is a small object with `check(value, where, field) -> value`; new optional fields are one
line in a spec dict (TRMConfig fields without an entry are checked against their default's type).
The spec objects, the shared ranges and the bounded readers live in trm_edge/spec.py (below the
tasks layer, which reads dataset.json and .npy through them) and are re-exported here.
"""
from __future__ import annotations

import functools
import math
from dataclasses import fields as dc_fields

from .spec import (  # noqa: F401  (re-exported: `from trm_edge.schema import Int` etc.)
    AUTHORS_DATASET, MAX_BATCH, MAX_DEPTH, MAX_EXAMPLES, MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_N_SUP, MAX_PUZZLES,
    MAX_OPT_STEPS, MAX_N_TRAIN, MAX_TEXT_BYTES, Bool, DictOf, Either, Fields, Int, ListOf, Num, Opt, SchemaError, Str, Type, _show,
    authors_dataset, check_all, check_fields, fail, json_depth, loads, obj, read_bytes, read_json, read_npy,
    read_text, versioned)


# ---- tasks ---------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=64)
def task_shape(name: str) -> tuple[int, int] | str:
    """(vocab_size, seq_len) of a task name, or why the name is not a task."""
    from .tasks import get_task

    try:
        t = get_task(name)
    except ValueError as e:
        return str(e)
    return t.vocab_size, t.seq_len


def _task_name(v: str) -> str | None:
    shape = task_shape(v)
    return shape if isinstance(shape, str) else None


TASK = Str(check=_task_name)

# ---- config.json (TRMConfig) ---------------------------------------------------------------------
CONFIG = {
    "task": TASK,
    "vocab_size": Int(2, 65536),
    "seq_len": Int(1, 65536),
    "d_model": Int(1, 16384),
    "n_layers": Int(1, 64),
    "n_layers_H": Int(0, 64),          # HRM's separate answer network (0: TRM, one network)
    "expansion": Num(0, 64, lo_open=True),
    "hidden_multiple": Int(1, 4096),
    "mixer": Str(("mlp", "attention")),
    "n_heads": Int(1, 1024),
    "pos": Str(("rope", "learned", "none")),
    "rope_base": Num(0, 1e9, lo_open=True),
    "n_latent": Int(1, 64),
    "T": Int(1, 64),
    "n_sup": Int(1, MAX_N_SUP),
    "puzzle_emb_len": Int(0, 4096),
    "n_puzzle_ids": Int(1, 10_000_000),
    "halt_threshold": Num(),
    "norm_eps": Num(0, 1, lo_open=True),
    "arch_version": Int(1, 2),
}


def model_config(cfg, where: str = "model config") -> None:
    """Check a TRMConfig (a dataclass instance): every field's type and range, then the rules
    between fields. Fields without a CONFIG entry are checked against their default's type."""
    d = {f.name: getattr(cfg, f.name) for f in dc_fields(cfg)}
    spec = {}
    for f in dc_fields(cfg):
        if f.name in CONFIG:
            spec[f.name] = CONFIG[f.name]
        elif f.default is not None and not callable(f.default):
            t = type(f.default)
            spec[f.name] = Opt(Type(int, float) if t is float else Type(t))
    check_fields(d, spec, where, unknown=True)
    vocab, seq_len = task_shape(d["task"])
    if d["seq_len"] != seq_len:
        fail(where, "seq_len", f"must be {seq_len} for task {d['task']!r}, got {d['seq_len']}")
    if d["vocab_size"] < vocab:
        fail(where, "vocab_size", f"must be >= {vocab} for task {d['task']!r} (its tokens), got {d['vocab_size']}")
    if d["mixer"] == "attention":
        if d["d_model"] % d["n_heads"]:
            fail(where, "n_heads", f"must divide d_model={d['d_model']}, got {d['n_heads']}")
        if d["pos"] == "rope" and (d["d_model"] // d["n_heads"]) % 2:
            fail(where, "n_heads", f"rope needs an even head dim (d_model / n_heads), got "
                                   f"{d['d_model']} / {d['n_heads']}")


def config_dict(d, where: str, known) -> dict:
    """config.json's object: a dict whose names are all TRMConfig fields (`known`)."""
    obj(d, where)
    extra = sorted(set(d) - set(known))
    if extra:
        raise SchemaError(f"{where}: unknown field(s) {extra} (known: {', '.join(known)})")
    return d


# ---- training.json / state.json ------------------------------------------------------------------
TRAIN_CONFIG = {"n_train": Int(1, MAX_N_TRAIN), "data_seed": Int(0, 2**63 - 1), "steps": Int(1, MAX_OPT_STEPS),
                "batch_size": Int(1, 1_000_000), "preset": Str(), "model": Type(dict)}


def training_info(d, where: str) -> dict:
    obj(d, where)
    tc = d.get("train_config", {})
    obj(tc, where, "field 'train_config'")
    check_fields(tc, TRAIN_CONFIG, f"{where} train_config", unknown=True)
    return d


def train_state(d, where: str, version: int) -> dict:
    check_fields(d, {"version": Int(), "step": Int(0, MAX_OPT_STEPS), "elapsed": Num(0), "world": Int(1, 65536),
                     "train_config": Type(dict), "ranks": Type(list)}, where,
                 required=("version",), unknown=True)
    if d["version"] != version:
        fail(where, "version", f"must be {version} (this trm-edge's training state), got {d['version']}")
    training_info({"train_config": d.get("train_config", {})}, where)
    return d


# ---- golden vectors ------------------------------------------------------------------------------
def _ints(v, n: int, lo: int, hi: int) -> bool:
    return isinstance(v, list) and len(v) == n and all(
        isinstance(t, int) and not isinstance(t, bool) and lo <= t <= hi for t in v)


def vectors(d, where: str, fmt: str) -> dict:
    """A golden vectors file (trm_edge.validate.vectors): per case the tokens and, per step, logits + q_halt."""
    if obj(d, where).get("format") != fmt:
        raise SchemaError(f"{where} is not a {fmt} file (format={_show(d.get('format'))})")
    check_fields(d, {"format": Str((fmt,)), "task": TASK, "vocab_size": Int(2, 65536), "seq_len": Int(1, 65536),
                     "max_steps": Int(1, MAX_N_SUP), "halt_threshold": Num(), "tolerance": Type(dict),
                     "cases": Type(list)},
                 where, required=("format", "task", "vocab_size", "seq_len", "max_steps", "halt_threshold",
                                  "tolerance", "cases"), unknown=True)
    check_fields(d["tolerance"], {"logit_atol": Num(0, 1e6), "q_atol": Num(0, 1e6)}, f"{where} tolerance",
                 required=("logit_atol", "q_atol"), unknown=True)
    if not d["cases"] or len(d["cases"]) > 4096:
        fail(where, "cases", f"must list 1..4096 cases, got {len(d['cases'])}")
    L, V, K = d["seq_len"], d["vocab_size"], d["max_steps"]
    if task_shape(d["task"])[1] != L:
        fail(where, "seq_len", f"must be {task_shape(d['task'])[1]} for task {d['task']!r}, got {L}")
    for i, c in enumerate(d["cases"]):
        w = f"{where} cases[{i}]"
        check_fields(c, {"name": Str(), "tokens": Type(list), "halted_at": Int(1, K), "steps": Type(list)}, w,
                     required=("name", "tokens", "halted_at", "steps"), unknown=True)
        if not _ints(c["tokens"], L, 0, V - 1):
            fail(w, "tokens", f"must be {L} integers in [0, {V - 1}]")
        if len(c["steps"]) != K:
            fail(w, "steps", f"must hold {K} steps (max_steps), got {len(c['steps'])}")
        for s, st in enumerate(c["steps"]):
            ws = f"{w} steps[{s}]"
            check_fields(st, {"q_halt": Num(), "logits": Type(list), "preds": Type(list)}, ws,
                         required=("q_halt", "logits", "preds"), unknown=True)
            if not _ints(st["preds"], L, 0, V - 1):
                fail(ws, "preds", f"must be {L} integers in [0, {V - 1}]")
            rows = st["logits"]
            if len(rows) != L or not all(isinstance(r, list) and len(r) == V and all(
                    isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in r)
                    for r in rows):
                fail(ws, "logits", f"must be {L} x {V} finite numbers")
    return d


# ---- export recipe TOML --------------------------------------------------------------------------
def recipe(d, where: str, targets, modes, precisions, graphs) -> dict:
    return check_fields(d, {"target": Str(targets), "mode": Str(modes), "precision": Str(precisions),
                            "graph": Str(graphs),
                            "depth": Opt(Int(1, MAX_DEPTH)), "batch": Int(1, MAX_BATCH),
                            "in_graph_loop": Bool(), "opset": Int(17, 23), "options": Type(dict), "name": Str()},
                        where)


# ---- train_log.jsonl -----------------------------------------------------------------------------
def log_line(d, where: str) -> dict:
    return check_fields(d, {"step": Int(0, MAX_OPT_STEPS), "loss": Num(), "acc": Num(0, 1)}, where,
                        required=("step", "loss", "acc"), unknown=True)


# ---- bench result: the quiet-machine block (trm_edge.bench.quiet) --------------------------------
PCT = Num(0, 1e7)   # % of one core: a many-core machine goes far above 100
_PROC = {"pid": Int(0, 2**32), "name": Str(), "cpu_pct": PCT}
_SYS_CPU = {"busy_pct": Num(0, 100), "iowait_pct": Num(0, 100), "steal_pct": Num(0, 100)}
_LIMITS = {"load_per_cpu": Num(0, 1e6), "others_cpu_pct": PCT, "window_s": Num(0, 1e7)}


def _reading(v, where, field):
    w = f"{where} {field}"
    check_fields(v, {"time": Str(), "load_avg": Opt(ListOf(Num(0, 1e6), length=3)), "cpu_count": Int(1, 2**20),
                     "load_per_cpu": Opt(Num(0, 1e6)), "window_s": Num(0, 1e7), "others_cpu_pct": Opt(PCT),
                     "top": ListOf(lambda p, wh, f: check_fields(p, _PROC, f"{wh} {f}", required=tuple(_PROC)), 64),
                     "system_cpu": Opt(Type(dict)), "governor": Opt(Str()), "source": Str()},
                 w, required=("load_avg", "cpu_count", "window_s", "others_cpu_pct", "top"), unknown=True)
    if v.get("system_cpu") is not None:
        check_fields(v["system_cpu"], _SYS_CPU, f"{w} system_cpu", unknown=True)


def bench_quiet(d, where: str) -> dict:
    """`quiet` of a trm-edge-bench/1 result: the idle check before measuring and over the run."""
    check_fields(d, {"required_wait_s": Opt(Num(0, 86400)), "limits": Type(dict), "start": Type(dict),
                     "idle_at_start": Bool(), "busy_reasons": ListOf(Str(max_len=2000), 16),
                     "waited_s": Num(0, 1e7), "during_run": Opt(Type(dict)), "idle_during_run": Opt(Bool())},
                 where, required=("limits", "start", "idle_at_start", "busy_reasons"), unknown=True)
    check_fields(d["limits"], _LIMITS, f"{where} limits", required=tuple(_LIMITS), unknown=True)
    _reading(d["start"], where, "start")
    if d.get("during_run") is not None:
        _reading(d["during_run"], where, "during_run")
    return d


# ---- a whole bench result (trm-edge-bench/1; trm_edge.bench.report) ------------------------------
MS = Num(0, 1e9, lo_open=True)   # a latency in ms: positive (ratios divide by it)
_STATS = Fields({"median": MS, "p90": MS, "min": MS}, required=("median", "p90", "min"))
_ACC = Opt(Num(0, 1))
_DEPTH = {"depth": Int(1, MAX_N_SUP), "step_ms": Opt(_STATS), "solve_ms": Opt(_STATS), "exact_acc": _ACC,
          "cell_acc": _ACC, "speedup_vs_eager": Opt(Num(0)), "roofline_pct": Opt(Num(0)),
          "int8_roofline_pct": Opt(Num(0))}
_HALTING = {k: Opt(Num()) for k in ("threshold", "mean_steps", "exact_acc", "full_depth_exact_acc", "acc_loss_pt",
                                    "ms_per_puzzle", "full_depth_ms_per_puzzle", "ms_per_solved",
                                    "speedup_vs_full_depth")}
_RUNTIME = {"name": Str(max_len=400), "target": Str(), "precision": Str(), "mode": Str(), "error": Opt(Str(max_len=4000)),
            "size_bytes": Opt(Int(0, 2**50)), "load_ms": Opt(Num(0)), "first_call_ms": Opt(Num(0)),
            "peak_rss_mb": Opt(Num(0)), "baseline_rss_mb": Opt(Num(0)),
            "depths": Opt(ListOf(Fields(_DEPTH, required=("depth", "step_ms", "solve_ms", "exact_acc", "cell_acc")),
                                 MAX_N_SUP)),
            "halting": Opt(Fields(_HALTING, required=("threshold", "mean_steps", "exact_acc", "full_depth_exact_acc",
                                                      "acc_loss_pt", "ms_per_puzzle", "full_depth_ms_per_puzzle",
                                                      "speedup_vs_full_depth")))}
_SETTINGS = {"batch": Opt(Int(1, MAX_BATCH)), "threads": Opt(Int(0, 4096)), "runs": Opt(Int(1, 10**6)),
             "warmup": Opt(Int(0, 10**6)), "n_puzzles": Opt(Int(1, MAX_PUZZLES)), "depths": Opt(ListOf(Int(1, MAX_N_SUP)))}
_DEVICE = {"name": Opt(Str()), "platform": Opt(Str()), "cores": Opt(Int(0, 2**20)),
           "load_avg": Opt(ListOf(Num(0, 1e6), 3)), "browser": Opt(Type(dict))}


def bench_result(d, where: str, fmt: str) -> dict:
    """A trm-edge-bench/1 result: every field the report, the summary and the plots read, typed."""
    versioned(d, where, "schema", fmt)
    check_fields(d, {"schema": Str((fmt,)), "created": Str(), "command": Str(max_len=20000), "fixture": Opt(Bool()),
                     "device": Fields(_DEVICE), "model": Fields({"task": Opt(Str()), "n_sup": Opt(Int(1, MAX_N_SUP))}),
                     "settings": Fields(_SETTINGS), "notes": Opt(ListOf(Str(max_len=4000), 256)),
                     "roofline": Opt(Fields({"flops_per_step": Opt(Num(0)), "peak_gflops": Opt(Num(0)),
                                             "peak_method": Opt(Str(max_len=1000)), "int8_peak_gops": Opt(Num(0)),
                                             "int8_peak_method": Opt(Str(max_len=1000))})),
                     "quiet": Opt(Type(dict)),
                     "runtimes": ListOf(Fields(_RUNTIME, required=("name", "target", "precision", "mode")), 1024)},
                 where, required=("schema", "created", "command", "device", "model", "settings", "runtimes"),
                 unknown=True)
    if not d["runtimes"]:
        fail(where, "runtimes", "is empty")
    for i, rt in enumerate(d["runtimes"]):
        if not rt.get("error") and rt.get("depths") is None:
            fail(where, f"runtimes[{i}].depths", "is missing (a runtime without an error has depths)")
    if d.get("quiet") is not None:   # added to trm-edge-bench/1 later: older files have none
        bench_quiet(d["quiet"], f"{where}: quiet")
    return d


# ---- the manifest's task block (trm_edge.artifact; the apps read tokens and board) -----------------
def manifest_task(t, where: str, seq_len: int, vocab: int) -> dict:
    """name a task with the model's cells; vocab_size / seq_len the model's; tokens in [0, vocab);
    board a shape of seq_len cells."""
    tok = Int(0, vocab - 1)
    check_fields(t, {"name": TASK, "vocab_size": Int(vocab, vocab), "seq_len": Int(seq_len, seq_len),
                     "board": ListOf(Int(1, 65536), 3), "box": ListOf(Int(1, 65536), 2, length=2),
                     "tokens": Fields({"pad": tok, "blank": tok,
                                       "symbols": DictOf(Str(max_len=8), tok, 4096), "rule": Str(max_len=1000)})},
                 where, required=("name",), unknown=True)
    if "board" in t:
        cells = math.prod(t["board"])
        if not t["board"] or cells != seq_len:
            fail(where, "board", f"must be a shape of the model's {seq_len} cells, got {_show(t['board'])}")
    return t


# ---- the authors' run config and built data set (trm_edge.checkpoint.authors, tasks.generic) -------
_COUNT = Int(1, 4096)
AUTHORS_ARCH = {"name": Str(), "hidden_size": Int(1, 16384), "L_layers": Int(1, 64), "H_layers": Int(0, 64),
                "L_cycles": Int(1, 64), "H_cycles": Int(1, 64), "num_heads": _COUNT, "num_key_value_heads": _COUNT,
                "expansion": Num(0, 64, lo_open=True), "puzzle_emb_ndim": Int(0, 16384), "puzzle_emb_len": Int(0, 4096),
                "halt_max_steps": Int(1, MAX_N_SUP), "rope_theta": Num(0, 1e9, lo_open=True),
                "rms_norm_eps": Num(0, 1, lo_open=True), "pos_encodings": Str(), "mlp_t": Bool(),
                "no_ACT_continue": Bool()}


def authors_arch(d, where: str) -> dict:
    """all_config.yaml's `arch:` section: every field the importer maps, typed and ranged (num_heads
    4.5 is refused, never truncated), all problems in one line."""
    return check_all(d, AUTHORS_ARCH, where, required=("hidden_size", "L_layers", "L_cycles", "H_cycles"))


# ---- bench device profiles (trm_edge.bench.devices) ----------------------------------------------
PLATFORMS = ("local", "linux", "macos", "windows", "android", "ios")
REACH = ("local", "adb", "devicectl", "browser")


def device_profile(d, where: str, targets) -> dict:
    """One [profile] of devices.toml: every field typed, every number ranged."""
    return check_fields(d, {"platform": Str(PLATFORMS), "reach": Str(REACH), "description": Str(max_len=1000),
                            "serial": Str(), "cores": Either(Int(1, 4096), Str(("auto",)), what='an integer in '
                                                             '[1, 4096] or "auto"'),
                            "machine": Str(), "threads": Int(0, 1024), "targets": ListOf(Str(targets), 16),
                            "delegates": DictOf(Str(targets), Str(max_len=1000), 16), "emulate_cpu": Str(),
                            "webgpu": Str(("", "swiftshader"))},
                        where, required=("platform", "reach"), unknown=True)
