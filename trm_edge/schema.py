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

A spec is a small object with `check(value, where, field) -> value`; new optional fields are one
line in a spec dict (TRMConfig fields without an entry are checked against their default's type).
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import fields as dc_fields
from pathlib import Path

from .errors import ArtifactError

# ranges shared by the formats (and by the CLI's options)
MAX_N_SUP = 1024          # supervision steps a model may declare
MAX_DEPTH = 64            # unrolled export depth: K copies of the step in one graph
MAX_BATCH = 4096          # static batch of an artifact's entry points
MAX_PUZZLES = 1_000_000   # puzzles one command generates / scores
MAX_OPT_STEPS = 10_000_000    # optimizer steps (training); not supervision steps (MAX_N_SUP)
MAX_N_TRAIN = 100_000_000    # generated training puzzles


class SchemaError(ArtifactError):
    """A file whose field has the wrong type, range or value (the CLI prints it as one line)."""


def fail(where: str, field: str, msg: str):
    raise SchemaError(f"{where}: field {field!r} {msg}")


def _show(v) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."


class Int:
    def __init__(self, lo: int | None = None, hi: int | None = None):
        self.lo, self.hi = lo, hi

    def check(self, v, where, field):
        if isinstance(v, bool) or not isinstance(v, int) or (self.lo is not None and v < self.lo) \
                or (self.hi is not None and v > self.hi):
            fail(where, field, f"must be an integer in [{self.lo}, {self.hi}], got {_show(v)}")
        return v


class Num:
    def __init__(self, lo: float | None = None, hi: float | None = None, lo_open: bool = False):
        self.lo, self.hi, self.lo_open = lo, hi, lo_open

    def check(self, v, where, field):
        ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        ok = ok and (self.lo is None or (v > self.lo if self.lo_open else v >= self.lo))
        ok = ok and (self.hi is None or v <= self.hi)
        if not ok:
            lo = "-inf" if self.lo is None else self.lo
            fail(where, field, f"must be a finite number in {'(' if self.lo_open else '['}{lo}, "
                               f"{'inf' if self.hi is None else self.hi}], got {_show(v)}")
        return v


class Str:
    def __init__(self, choices=None, check=None, max_len: int = 200):
        self.choices, self.fn, self.max_len = choices, check, max_len

    def check(self, v, where, field):
        if not isinstance(v, str) or len(v) > self.max_len:
            fail(where, field, f"must be a string, got {_show(v)}")
        if self.choices is not None and v not in self.choices:
            fail(where, field, f"must be one of {', '.join(map(str, self.choices))}; got {_show(v)}")
        if self.fn is not None:
            why = self.fn(v)
            if why:
                fail(where, field, why)
        return v


class Bool:
    def check(self, v, where, field):
        if not isinstance(v, bool):
            fail(where, field, f"must be true or false, got {_show(v)}")
        return v


class Type:
    def __init__(self, *types):
        self.types = types

    def check(self, v, where, field):
        if isinstance(v, bool) and bool not in self.types or not isinstance(v, self.types):
            fail(where, field, f"must be a {' or '.join(t.__name__ for t in self.types)}, got {_show(v)}")
        return v


class Opt:
    def __init__(self, spec):
        self.spec = spec

    def check(self, v, where, field):
        return None if v is None else self.spec.check(v, where, field)


class ListOf:
    """A list of at most max_len items, each checked by `item` (a spec, or a callable(v, where, field))."""

    def __init__(self, item, max_len: int = 1024, length: int | None = None):
        self.item, self.max_len, self.length = item, max_len, length

    def check(self, v, where, field):
        if not isinstance(v, list) or len(v) > self.max_len or (self.length is not None and len(v) != self.length):
            n = self.length if self.length is not None else f"at most {self.max_len}"
            fail(where, field, f"must be a list of {n} items, got {_show(v)}")
        for i, x in enumerate(v):
            (self.item.check if hasattr(self.item, "check") else self.item)(x, where, f"{field}[{i}]")
        return v


def obj(d, where: str, what: str = "the file") -> dict:
    if not isinstance(d, dict):
        raise SchemaError(f"{where}: {what} must be a JSON object, got {type(d).__name__}")
    return d


def versioned(d, where: str, key: str, expected: str) -> dict:
    """A JSON object whose `key` names the one format version this trm-edge reads."""
    obj(d, where)
    if d.get(key) != expected:
        raise SchemaError(f"{where}: unsupported {key} {d.get(key)!r} (this trm-edge reads {expected})")
    return d


def check_fields(d, spec: dict, where: str, required=(), unknown: bool = False) -> dict:
    """Check d's fields against spec (name -> spec); `required` must be present; unknown names are
    refused unless unknown=True."""
    obj(d, where)
    if not unknown:
        extra = sorted(set(d) - set(spec))
        if extra:
            raise SchemaError(f"{where}: unknown field(s) {extra} (known: {', '.join(spec)})")
    for name in required:
        if name not in d:
            raise SchemaError(f"{where}: field {name!r} is missing")
    for name, s in spec.items():
        if name in d:
            s.check(d[name], where, name)
    return d


def read_json(path, what: str = "file"):
    """A JSON file -> its value, or one SchemaError (missing, unreadable, not UTF-8, not JSON)."""
    p = Path(path)
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise SchemaError(f"no {what} at {p}") from None
    except IsADirectoryError:
        raise SchemaError(f"{p} is a folder, not a {what}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise SchemaError(f"{p} is not valid JSON ({str(e).splitlines()[0][:80]})") from None
    except OSError as e:
        raise SchemaError(f"cannot read {p}: {e.strerror or e}") from None


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
