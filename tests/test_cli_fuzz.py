"""CLI fuzz (hypothesis): bad input to every command ends in exit code 2 and exactly one `error:` line
on stderr, never a traceback, writes and removes nothing, and ends within a time bound.

Inputs a careless or hostile user gives: numbers out of range (negative, zero, huge, NaN, text),
names that are not there (unicode, path-like), files that are truncated, binary, or valid JSON with a
field of the wrong type or range (config.json, training.json, state.json, manifest.json, golden
vectors, recipe TOML, train_log.jsonl), puzzles with foreign characters, outputs naming a folder.
Each file field's bad values are drawn from its schema (trm_edge.schema specs: outside the range,
another type, not in the enum). Examples are bounded and derandomized so CI runs the same cases.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import fuzz, run_main, summary_fixture
from hypothesis import given, strategies as st

from trm_edge import schema
from trm_edge.schema import Bool, Int, Num, Opt, Str, Type

TIME_BOUND_S = 20.0   # one bad invocation; they all fail before any real work
SEEN = {"cases": 0}
ISSUE32 = {"cases": 0, "s": 0.0}   # the issue-32 tests' share (bad documents per command, the sweep's cases)
FIXTURES = Path(__file__).parent / "fixtures" / "official-trm"


# how many bad invocations this module ran, and in how long (the closing notes' numbers)
_count = summary_fixture(lambda s: [
    f"CLI fuzz: {SEEN['cases']} bad invocations in {s:.0f} s, each exit 2 with one error line, no traceback, "
    "no file touched",
    *([f"CLI fuzz, issue 32 (bad documents per command + the sweep's cases): {ISSUE32['cases']} of them in "
       f"{ISSUE32['s']:.1f} s"] if ISSUE32["cases"] else [])])


# ---- bad values from a schema spec -------------------------------------------------------------
JUNK = st.one_of(st.none(), st.lists(st.text(max_size=3), min_size=1, max_size=2),
                 st.dictionaries(st.text(max_size=3), st.integers(), min_size=1, max_size=2))
ODD_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


def bad_value(spec) -> st.SearchStrategy:
    """Values the spec refuses: another type, outside the range, not in the enum."""
    if isinstance(spec, Opt):
        spec = spec.spec
    if isinstance(spec, Int):
        outs = [st.booleans(), ODD_TEXT, st.floats(allow_nan=True).filter(lambda f: not float(f).is_integer())]
        if spec.lo is not None:
            outs.append(st.integers(max_value=spec.lo - 1))
        if spec.hi is not None:
            outs.append(st.integers(min_value=spec.hi + 1))
        return st.one_of(JUNK, *outs)
    if isinstance(spec, Num):
        outs = [st.booleans(), ODD_TEXT, st.sampled_from([math.nan, math.inf, -math.inf])]
        if spec.lo is not None:
            outs.append(st.floats(max_value=spec.lo, exclude_max=not spec.lo_open, allow_nan=False))
        if spec.hi is not None:
            outs.append(st.floats(min_value=spec.hi, exclude_min=True, allow_nan=False))
        return st.one_of(JUNK, *outs)
    if isinstance(spec, Str):
        text = ODD_TEXT
        if spec.choices is not None:
            text = text.filter(lambda s: s not in spec.choices)
        elif spec.fn is not None:
            text = text.filter(lambda s: spec.fn(s) is not None)
        else:
            text = st.nothing()
        return st.one_of(JUNK, st.integers(), text)
    if isinstance(spec, Bool):
        return st.one_of(JUNK, st.integers(), ODD_TEXT)
    if isinstance(spec, Type):
        return st.one_of(st.none(), st.integers(), ODD_TEXT) if dict in spec.types or list in spec.types \
            else JUNK
    raise TypeError(spec)


def field_and_bad_value(specs: dict) -> st.SearchStrategy:
    return st.sampled_from(sorted(specs)).flatmap(lambda k: st.tuples(st.just(k), bad_value(specs[k])))


# ---- the sandbox: every file a command may read, and the check around each call -----------------
@pytest.fixture(scope="module")
def box(tiny_ckpt, _trained_tiny, tmp_path_factory):
    from trm_edge.export import Recipe, export, load_source
    from trm_edge.validate.vectors import VectorsConfig, generate, write

    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(tiny_ckpt, root / "ck")
    shutil.copytree(_trained_tiny.parent, root / "run")
    art = export(load_source(root / "ck"), Recipe(target="onnx"), root / "arts").path
    write(generate(VectorsConfig(checkpoint=str(root / "ck"), n_puzzles=2, seed=5)), root / "vec.json")
    from trm_edge.tasks import get_task

    inputs, _ = get_task("sudoku4").generate(1, seed=3)
    (root / "foreign" / "onnx-fp32-looped").mkdir(parents=True)   # a user's folders, not trm-edge's
    (root / "foreign" / "onnx-fp32-looped" / "keep.txt").write_text("mine")
    (root / "foreign" / "keep.txt").write_text("mine")
    return {"root": root, "ck": root / "ck", "run": root / "run", "art": art, "vec": root / "vec.json",
            "puzzle": get_task("sudoku4").to_text(inputs[0])}


def tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if not p.is_symlink()}


def case_dir(box) -> Path:
    d = box["root"] / "case"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir()
    return d


def check_bad(box, args) -> str:
    """Run `trm-edge ARGS` in-process: exit 2, one `error:` line, no traceback, no file touched, in time."""
    root = box["root"]
    before = tree(root)
    cwd = os.getcwd()
    os.chdir(root)   # relative default outputs (bench results, vectors) would land here
    try:
        t0 = time.monotonic()
        code, out, err = run_main([str(a) for a in args])
        dt = time.monotonic() - t0
    finally:
        os.chdir(cwd)
    SEEN["cases"] += 1
    shown = f"{args}: exit {code}\nstdout: {out[-400:]}\nstderr: {err[-800:]}"
    assert "Traceback" not in out + err, shown
    assert code == 2, shown
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), shown
    assert tree(root) == before, f"{args} wrote or removed files"
    assert dt < TIME_BOUND_S, f"{args} took {dt:.1f} s"
    return lines[0]


# ---- numbers ------------------------------------------------------------------------------------
# a value the generator wrongly thought bad would start a run: keep any such run tiny
TRAIN = ["train", "--preset", "sudoku4-tiny", "--n-train", "16", "--batch-size", "4", "--val-n", "0", "--quiet",
         "--device", "cpu"]


def numbers(box):
    P, ck, art, new = box["puzzle"], box["ck"], box["art"], box["root"] / "new"
    return [  # (argv before the option, option, spec of its allowed values)
        (["solve", P, "--checkpoint", ck], "--max-steps", Int(1, 4)),   # tiny model: n_sup 4
        (["solve", P, "--checkpoint", ck], "--threshold", Num(-1e6, 1e6)),
        (["eval", "--checkpoint", ck], "--n", Int(1, schema.MAX_PUZZLES)),
        (["eval", "--checkpoint", ck], "--batch-size", Int(1, 65536)),
        (["eval", "--checkpoint", ck], "--max-steps", Int(1, 4)),
        (["calibrate", "--checkpoint", ck], "--max-drop", Num(0, 1)),
        (TRAIN + ["--out", new], "--steps", Int(1, schema.MAX_OPT_STEPS)),
        (TRAIN + ["--out", new, "--steps", "1"], "--lr", Num(0, 10, lo_open=True)),
        (TRAIN + ["--out", new, "--steps", "1"], "--ema", Num(0, 1)),   # [0, 1): 1 itself is refused too
        (TRAIN + ["--out", new, "--steps", "1"], "--time-budget", Num(0, 1e12, lo_open=True)),
        (["export", "--checkpoint", ck, "--out", new, "--mode", "unrolled"], "--depth", Int(1, schema.MAX_DEPTH)),
        (["export", "--checkpoint", ck, "--out", new], "--batch", Int(1, schema.MAX_BATCH)),
        (["vectors", "--checkpoint", ck, "--out", new / "v.json"], "--n-puzzles", Int(1, 256)),
        (["bench", art, "--no-eager", "--json", new / "b.json"], "--runs", Int(1, 100_000)),
        (["bench", art, "--no-eager", "--json", new / "b.json"], "--depths", Int(1, schema.MAX_N_SUP)),
        (["bench", art, "--no-eager", "--json", new / "b.json"], "--require-idle", Int(0, 86400)),
        (["bench", art, "--no-eager", "--json", new / "b.json"], "--idle-load", Num(0, 1024)),
        (["bench", art, "--no-eager", "--json", new / "b.json"], "--idle-cpu", Num(0, 1e6)),
        (["bench", art, "--no-eager", "--json", new / "b.json"], "--idle-window", Num(0.1, 600)),
        (["validate", art, "--checkpoint", ck], "--max-steps", Int(1, 4)),
        (["demo", "--checkpoint", ck, "--export", "none"], "--n", Int(1, schema.MAX_PUZZLES)),
        (["report", "quant", "--checkpoint", ck, "--out", new], "--n", Int(1, schema.MAX_PUZZLES)),
        (["web"], "--port", Int(0, 65535)),
    ]


def as_arg(v) -> str:
    return json.dumps(v) if not isinstance(v, str) else v


@fuzz(60)
@given(data=st.data())
def test_bad_numbers(box, data):
    argv, opt, spec = data.draw(st.sampled_from(numbers(box)))
    v = data.draw(bad_value(spec).filter(lambda v: not isinstance(v, (dict, type(None)))), label=opt)
    check_bad(box, argv + [opt, as_arg(v)])


# ---- names --------------------------------------------------------------------------------------
NAME = st.one_of(ODD_TEXT, st.sampled_from(["../../etc/passwd", "/nonexistent/x", "nosuch", "ckpt\u00e9", "..\\x",
                                            "~", "sudoku7", "CON", "a" * 300]))


def _free(s: str) -> bool:
    from trm_edge.checkpoint import BUNDLED_DIR

    try:
        return bool(s.strip()) and not Path(s).exists() and not (BUNDLED_DIR / s).exists() and not s.startswith("-")
    except (OSError, ValueError):
        return False


@fuzz(40)
@given(data=st.data())
def test_unknown_names(box, data):
    P, ck, new = box["puzzle"], box["ck"], box["root"] / "new"

    def not_valid(allowed):
        return lambda s: s not in allowed and s.strip() == s and s and not s.startswith("-")

    cases = [
        (lambda x: ["solve", P, "--checkpoint", x], _free),
        (lambda x: ["eval", "--n", "4", "--checkpoint", x], _free),
        (lambda x: ["export", "--out", new, "--checkpoint", x], _free),
        (lambda x: ["export", "--out", new, "--checkpoint", ck, "--recipe", x],
         lambda s: _free(s) and s.lower() not in [r.lower() for r in __import__("trm_edge.export").export.recipe_names()]),
        (lambda x: ["export", "--out", new, "--checkpoint", ck, "--target", x],
         not_valid({"onnx", "executorch", "coreml", "tflite", "all"})),
        (lambda x: ["export", "--out", new, "--checkpoint", ck, "--precision", x],
         not_valid({"fp32", "fp16", "int8", "int8-dynamic"})),
        (lambda x: ["eval", "--n", "4", "--checkpoint", ck, "--device", x], not_valid({"auto", "cpu"})),
        (lambda x: ["train", "--out", new, "--preset", x], not_valid({"sudoku4-tiny", "sudoku6-small", "sudoku9-small",
                                                                  "maze-tiny", "sudoku-mlp", "sudoku-att", "maze-att",
                                                                  "arc-att"})),
        (lambda x: ["train", "--out", new, "--task", x], lambda s: schema._task_name(s) is not None and s != ""),
        (lambda x: ["report", "quant", "--checkpoint", ck, "--out", new, "--targets", x],
         lambda s: not set(p.strip() for p in s.split(",")) <= {"onnx", "executorch", "coreml", "tflite"}),
    ]
    make, ok = data.draw(st.sampled_from(cases))
    name = data.draw(NAME.filter(ok), label="name")
    check_bad(box, make(name))


# ---- files --------------------------------------------------------------------------------------
def _copy(src: Path, dst: Path) -> Path:
    return Path(shutil.copytree(src, dst, copy_function=os.link))


def _rewrite_json(path: Path, edit) -> None:
    d = json.loads(path.read_text())
    edit(d)
    path.unlink()   # the copy is hard-linked: never write through to the original
    path.write_text(json.dumps(d))


@fuzz(40)
@given(fv=field_and_bad_value(schema.CONFIG))
def test_bad_config_json(box, fv):
    field, v = fv
    ck = _copy(box["ck"], case_dir(box) / "ck")
    _rewrite_json(ck / "config.json", lambda d: d.update({field: v}))
    check_bad(box, ["solve", box["puzzle"], "--checkpoint", ck])


@fuzz(15)
@given(fv=field_and_bad_value(schema.TRAIN_CONFIG))
def test_bad_training_json(box, fv):
    field, v = fv
    ck = _copy(box["ck"], case_dir(box) / "ck")
    _rewrite_json(ck / "training.json", lambda d: d["train_config"].update({field: v}))
    check_bad(box, ["eval", "--n", "4", "--checkpoint", ck])


STATE = {"version": Int(1, 1), "step": Int(0, schema.MAX_OPT_STEPS), "elapsed": Num(0), "train_config": Type(dict)}


@fuzz(10)
@given(fv=field_and_bad_value(STATE))
def test_bad_train_state(box, fv):
    field, v = fv
    run = _copy(box["run"], case_dir(box) / "run")
    _rewrite_json(run / "train_state" / "state.json", lambda d: d.update({field: v}))
    check_bad(box, ["train", "--out", run, "--resume", "--steps", "20", "--quiet"])


MANIFEST = {  # (path in the manifest) -> spec; trm_edge.artifact.validate_manifest
    ("name",): Str(check=lambda s: None if s and all(c.isascii() and (c.isalnum() or c in "._-") for c in s)
                   and s not in (".", "..") else "not plain"),
    ("target",): Str(("onnx", "executorch", "coreml", "tflite")), ("mode",): Str(("looped", "unrolled")),
    ("precision",): Str(("fp32", "fp16", "int8", "int8-dynamic")), ("batch",): Int(1, schema.MAX_BATCH),
    ("task", "name"): Str(check=lambda s: None if s == "sudoku4" or s.startswith("sudoku4-") else "other board"),
    ("model", "n_sup"): Int(1, schema.MAX_N_SUP), ("model", "seq_len"): Int(16, 16),
    ("model", "vocab_size"): Int(2, 65536), ("model", "halt_threshold"): Num(),
    ("model", "puzzle_emb_len"): Int(0, 4096), ("model", "n_puzzle_ids"): Int(1, 10_000_000),
    ("entry_points", "step", "inputs", 0, "dtype"): Str(("float32", "float16", "int32", "int64", "int8", "uint8",
                                                         "bool")),
    ("entry_points", "step", "inputs", 0, "shape"): Type(list),
    ("entry_points", "init", "file"): Str(("init.onnx",)),
    # the task block (issue 32): what the apps read, typed and consistent with the model
    ("task", "seq_len"): Int(16, 16), ("task", "vocab_size"): Int(6, 6), ("task", "tokens", "pad"): Int(0, 5),
    ("task", "tokens", "symbols", "1"): Int(0, 5), ("task", "tokens", "symbols"): Type(dict),
    ("task", "board"): Type(list),
}


@fuzz(40)
@given(fv=field_and_bad_value(MANIFEST))
def test_bad_manifest_with_valid_hashes(box, fv):
    path, v = fv
    art = _copy(box["art"], case_dir(box) / "art")

    def edit(m):
        for k in path[:-1]:
            m = m[k]
        m[path[-1]] = v
    _rewrite_json(art / "manifest.json", edit)
    check_bad(box, ["solve", box["puzzle"], "--artifact", art])


VECTORS = {("task",): Str(check=lambda s: None if s == "sudoku4" or s.startswith("sudoku4-") else "other board"),
           ("max_steps",): Int(4, 4), ("seq_len",): Int(16, 16), ("vocab_size",): Int(6, 6),
           ("halt_threshold",): Num(), ("tolerance", "logit_atol"): Num(0, 1e6), ("cases",): Type(list),
           ("cases", 0, "tokens"): Type(dict), ("cases", 0, "halted_at"): Int(1, 4),
           ("cases", 0, "steps", 0, "q_halt"): Num(), ("cases", 0, "steps", 0, "preds"): Type(dict),
           ("cases", 0, "steps", 1, "logits"): Type(dict)}


@fuzz(25)
@given(fv=field_and_bad_value(VECTORS))
def test_bad_golden_vectors(box, fv):
    path, v = fv
    f = case_dir(box) / "v.json"
    d = json.loads(box["vec"].read_text())
    m = d
    for k in path[:-1]:
        m = m[k]
    m[path[-1]] = v
    f.write_text(json.dumps(d))
    check_bad(box, ["validate", box["art"], "--vectors", f])


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, str)):
        return json.dumps(v)
    if isinstance(v, float):
        return {math.inf: "inf", -math.inf: "-inf"}.get(v, "nan" if v != v else repr(v))
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


RECIPE = {"target": Str(("onnx", "executorch", "coreml", "tflite")), "mode": Str(("looped", "unrolled")),
          "precision": Str(("fp32", "fp16", "int8", "int8-dynamic")), "depth": Int(1, schema.MAX_DEPTH),
          "batch": Int(1, schema.MAX_BATCH), "in_graph_loop": Bool(), "opset": Int(17, 23)}


@fuzz(20)
@given(fv=field_and_bad_value(RECIPE))
def test_bad_recipe_toml(box, fv):
    field, v = fv
    if v is None:   # TOML has no null: a key without a value is a syntax error, also a bad file
        line = f"{field} ="
    else:
        line = f"{field} = {_toml(v)}"
    f = case_dir(box) / "r.toml"
    f.write_text(f'target = "onnx"\nmode = "unrolled"\n{line}\n' if field not in ("target", "mode") else line + "\n")
    check_bad(box, ["export", "--checkpoint", box["ck"], "--out", box["root"] / "new", "--recipe", f])


@fuzz(15)
@given(cut=st.floats(0, 0.999), junk=st.binary(max_size=64))
def test_truncated_weights(box, cut, junk):
    ck = _copy(box["ck"], case_dir(box) / "ck")
    w = ck / "model.safetensors"
    data = w.read_bytes()
    w.unlink()
    w.write_bytes(data[:int(cut * len(data))] + junk)
    check_bad(box, ["solve", box["puzzle"], "--checkpoint", ck])


@fuzz(15)
@given(text=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_bad_train_log(box, text):
    run = case_dir(box) / "run"
    run.mkdir()
    (run / "train_log.jsonl").write_bytes(text)
    check_bad(box, ["report", "curve", run, "--out", box["root"] / "new" / "c.png"])


DIGIT_LIKE = st.sampled_from(list("²٣𝟑５Ⅳ௫") + ["\u0663", "\U0001d7d9"])


@fuzz(25)
@given(data=st.data())
def test_bad_puzzles(box, data):
    P = box["puzzle"]
    kind = data.draw(st.sampled_from(["foreign digit", "length", "file"]))
    if kind == "foreign digit":   # a Unicode digit where a cell is
        i = data.draw(st.integers(0, len(P) - 1))
        text = P[:i] + data.draw(DIGIT_LIKE) + P[i + 1:]
    elif kind == "length":
        text = data.draw(st.text(st.sampled_from(".01234"), max_size=40).filter(lambda s: len(s) != 16))
    else:
        f = case_dir(box) / "p.txt"
        f.write_bytes(data.draw(st.binary(min_size=1, max_size=100).filter(lambda b: b.strip(b" \t\n|-+") != b"")))
        text = str(f)
    if text.startswith("-"):
        text = " " + text
    check_bad(box, ["solve", text, "--checkpoint", box["ck"]])


# ---- outputs that cannot be written ---------------------------------------------------------------
def test_outputs_naming_a_folder(box):
    ck, art, folder = box["ck"], box["art"], box["root"] / "ck"
    for args in (["eval", "--n", "4", "--checkpoint", ck, "--json", folder],
                 ["validate", art, "--vectors", box["vec"], "--json", folder],
                 ["vectors", "--checkpoint", ck, "--out", folder],
                 ["report", "curve", box["run"], "--out", folder],
                 ["import", FIXTURES / "sudoku-mlp-tiny", "--out", folder / "config.json"],
                 ["import", FIXTURES / "sudoku-mlp-tiny", "--out", box["root"] / "foreign"],   # not a checkpoint
                 ["calibrate", "--n", "4", "--device", "cpu"],                     # the bundled model
                 ["train", "--out", box["run"], "--steps", "20", "--quiet"],      # an existing run
                 ["export", "--checkpoint", ck, "--out", box["root"] / "foreign", "--target", "onnx"]):
        check_bad(box, args)


def test_symlinked_artifact_file_is_refused(box, tmp_path):
    art = Path(shutil.copytree(box["art"], tmp_path / "art"))
    (tmp_path / "outside.onnx").write_bytes((art / "step.onnx").read_bytes())
    (art / "step.onnx").unlink()
    (art / "step.onnx").symlink_to(tmp_path / "outside.onnx")
    assert "step.onnx" in check_bad(box, ["solve", box["puzzle"], "--artifact", art])


# ---- issue 32: every reader's bad documents, through every command that reads them ---------------
from test_schema import BENCH, DATASET, bad_json, bad_npy, bad_yaml   # noqa: E402  (the reader fuzz's generators)

AUTHORS = FIXTURES / "maze-att-tiny"


def _rejects(read, path: Path) -> bool:
    """Whether the library's reader refuses the file (a generated document may happen to be valid)."""
    from trm_edge.errors import TRMEdgeError

    try:
        read(path)
    except TRMEdgeError:
        return True
    return False


def _doc_cases(box):
    """(name, file the document goes to, the reader, argv) per command that reads it."""
    from trm_edge.artifact import read_manifest
    from trm_edge.bench.report import load_result
    from trm_edge.checkpoint.authors import _read_dataset, _read_yaml
    from trm_edge.export.puzzles import puzzle_ids_from
    from trm_edge.tasks.generic import read_built

    c, ck, P, new = box["root"] / "case", box["ck"], box["puzzle"], box["root"] / "new"
    art = c / "art"
    return {
        "manifest/solve": (art / "manifest.json", lambda f: read_manifest(f.parent),
                           ["solve", P, "--artifact", art]),
        "manifest/validate": (art / "manifest.json", lambda f: read_manifest(f.parent),
                              ["validate", art, "--vectors", box["vec"]]),
        "manifest/bench": (art / "manifest.json", lambda f: read_manifest(f.parent),
                           ["bench", art, "--no-eager", "--json", new / "b.json"]),
        "manifest/eval": (art / "manifest.json", lambda f: read_manifest(f.parent), ["eval", "--artifact", art]),
        "bench result/report bench-summary": (c / "r.json", load_result,
                                              ["report", "bench-summary", c / "r.json", "--out", new / "S.md"]),
        "all_config.yaml/import": (c / "run" / "all_config.yaml", _read_yaml,
                                   ["import", c / "run", "--dataset", c / "run", "--out", new / "m"]),
        "dataset.json/import": (c / "run" / "dataset.json", _read_dataset,
                                ["import", c / "run", "--dataset", c / "run", "--out", new / "m"]),
        "dataset.json/eval --data": (c / "data" / "test" / "dataset.json", lambda f: read_built(f.parent, 16, 6),
                                     ["eval", "--checkpoint", ck, "--data", c / "data", "--device", "cpu"]),
        "inputs .npy/eval --data": (c / "data" / "test" / "all__inputs.npy", lambda f: read_built(f.parent, 16, 6),
                                    ["eval", "--checkpoint", ck, "--data", c / "data", "--device", "cpu"]),
        "ids .json/export --puzzles": (c / "ids.json", lambda f: puzzle_ids_from(str(f)),
                                       ["export", "--checkpoint", ck, "--out", new, "--puzzles", c / "ids.json"]),
        "ids .npy/export --puzzles": (c / "ids.npy", lambda f: puzzle_ids_from(str(f)),
                                      ["export", "--checkpoint", ck, "--out", new, "--puzzles", c / "ids.npy"]),
    }


def _fill_case(box, c: Path) -> None:
    """The valid files around the one document under test."""
    import numpy as np

    _copy(box["art"], c / "art")
    (c / "art" / "manifest.json").unlink()   # hard-linked: the document replaces it, never writes through
    shutil.copytree(AUTHORS, c / "run", ignore=shutil.ignore_patterns("reference.safetensors"))
    (c / "data" / "test").mkdir(parents=True)
    meta = {**DATASET, "seq_len": 16, "vocab_size": 6, "num_puzzle_identifiers": 1}
    (c / "data" / "test" / "dataset.json").write_text(json.dumps(meta))
    np.save(c / "data" / "test" / "all__inputs.npy", np.ones((2, 16), np.int32))
    np.save(c / "data" / "test" / "all__labels.npy", np.full((2, 16), 2, np.int32))


@fuzz(60)
@given(data=st.data())
def test_every_command_on_bad_documents(box, data):
    """A generated bad document (test_schema's generators) in the file a command reads: exit 2, one
    error line, nothing written, for every command that reads that format."""
    from hypothesis import assume

    cases = _doc_cases(box)
    name = data.draw(st.sampled_from(sorted(cases)), label="case")
    target, read, argv = cases[name]
    c = case_dir(box)
    _fill_case(box, c)
    if target.name == "manifest.json":
        doc = data.draw(bad_json(json.loads((box["art"] / "manifest.json").read_text())))
    elif target.suffix == ".json" and "dataset" in target.name:
        doc = data.draw(bad_json(json.loads(target.read_text())))
    elif target.suffix == ".json":
        doc = data.draw(bad_json(BENCH if target.name == "r.json" else [0]))
    elif target.suffix == ".yaml":
        doc = data.draw(bad_yaml())
    else:
        doc = data.draw(bad_npy())
    target.unlink(missing_ok=True)   # never write through a hard link
    target.write_bytes(doc)
    assume(_rejects(read, target))
    t0 = time.monotonic()
    check_bad(box, argv)
    ISSUE32["cases"] += 1
    ISSUE32["s"] += time.monotonic() - t0


def _profile(box, **over) -> Path:
    f = box["root"] / "devices" / ("-".join(f"{k}{v}" for k, v in over.items()) + ".toml")
    f.parent.mkdir(exist_ok=True)
    fields = {"platform": '"linux"', "reach": '"local"', "cores": "4", "threads": "2", "targets": '["eager", "onnx"]',
              **over}
    f.write_text("[dev]\n" + "\n".join(f"{k} = {v}" for k, v in fields.items()) + "\n")
    return f


def test_issue_32_cases_are_one_line(box, monkeypatch):
    """The sweep's cases (2026-12-06), each now exit 2 with one error line, nothing written."""
    t0, n0 = time.monotonic(), SEEN["cases"]
    ck, art, P, root, new = box["ck"], box["art"], box["puzzle"], box["root"], box["root"] / "new"
    c = case_dir(box)
    deep = c / "deep"
    _copy(art, deep)
    (deep / "manifest.json").unlink()
    (deep / "manifest.json").write_text("[" * 100_000)
    linked = c / "linked"
    _copy(art, linked)
    (c / "outside.json").write_text((art / "manifest.json").read_text())
    (linked / "manifest.json").unlink()
    (linked / "manifest.json").symlink_to(c / "outside.json")
    task_block = {}
    for key, value in (("seq_len", "36"), ("seq_len", 10**12), ("board", [0, 0]), ("tokens", {"symbols": {"1": 999}})):
        a = _copy(art, c / f"task-{key}-{len(task_block)}")
        _rewrite_json(a / "manifest.json", lambda m: m["task"].update({key: value}))
        task_block[f"{key}={value!r}"] = a
    res = c / "res"
    res.mkdir()
    data = json.loads((Path(__file__).parent / "fixtures" / "bench" / "android_app_result.fixture.json").read_text())
    (res / "null.json").write_text(json.dumps({**data, "settings": None}))
    (res / "other.json").write_text(json.dumps({"rows": []}))
    swapped = c / "S.md"
    from trm_edge.bench.report import SUMMARY_BEGIN, SUMMARY_END
    swapped.write_text(f"{SUMMARY_END}\n{SUMMARY_BEGIN}\n")
    (res / "ok.json").write_text(json.dumps(data))
    npy = c / "data" / "test"
    npy.mkdir(parents=True)
    (npy / "dataset.json").write_text(json.dumps({"seq_len": 16, "vocab_size": 6, "sets": ["all"]}))
    from numpy.lib import format as npf
    with open(npy / "all__inputs.npy", "wb") as f:   # the header claims 23 TiB
        npf.write_array_header_1_0(f, {"descr": "<i4", "fortran_order": False, "shape": (10**11, 64)})
    quant = c / "quant"
    quant.mkdir()
    (quant / "quant_report.md").write_text("the user's own report")
    bout = c / "bout"
    bout.mkdir()
    (bout / "res.md").write_text("the user's own notes")
    app = c / "app"
    app.mkdir()
    cases = [
        ["solve", P, "--artifact", deep], ["validate", deep, "--vectors", box["vec"]],
        ["bench", deep, "--no-eager", "--json", new / "b.json"],
        ["solve", P, "--artifact", linked], ["validate", linked, "--vectors", box["vec"]],
        *[["solve", P, "--artifact", a] for a in task_block.values()],
        *[["validate", a, "--vectors", box["vec"]] for a in task_block.values()],
        ["report", "bench-summary", res / "null.json", "--out", new / "S.md"],
        ["report", "bench-summary", res / "other.json", "--out", new / "S.md"],
        ["report", "bench-summary", res / "ok.json", "--out", swapped],
        ["eval", "--checkpoint", ck, "--data", c / "data", "--device", "cpu"],
        ["solve", "/dev/zero", "--checkpoint", ck],
        ["export", "--checkpoint", ck, "--out", new, "--puzzles", ""],
        ["export", "--checkpoint", ck, "--out", new, "--puzzles", "0,0"],
        ["import", AUTHORS, "--dataset", AUTHORS, "--task", "generic-\u0666\u0664-6", "--out", new / "m"],
        ["train", "--out", new, "--task", "sudoku\u0664"],
        ["report", "quant", "--checkpoint", ck, "--option", "bogus=1", "--out", new],
        ["report", "quant", "--checkpoint", ck, "--option", "ops=$(id)", "--out", new],
        ["report", "quant", "--checkpoint", ck, "--out", quant],     # its quant_report.md is the user's
        ["bench", art, "--no-eager", "--json", bout / "res.json"],  # res.md beside it is the user's
        ["export", "--for-app", "web", "--app-dir", app, art, art],  # the same artifact twice: no assets/ left
    ]
    said = {tuple(map(str, args)): check_bad(box, args) for args in cases}
    for args, words in (
            (["solve", P, "--artifact", deep], "nested deeper than 64"), (["solve", P, "--artifact", linked], "symlink"),
            (["solve", "/dev/zero", "--checkpoint", ck], "is not a regular file"),
            (["export", "--checkpoint", ck, "--out", new, "--puzzles", ""], "empty SPEC"),
            (["export", "--checkpoint", ck, "--out", new, "--puzzles", "0,0"], "listed more than once"),
            (["report", "quant", "--checkpoint", ck, "--option", "bogus=1", "--out", new], "unknown quantization option"),
            (["report", "quant", "--checkpoint", ck, "--out", quant], "quant_report.md exists and was not named"),
            (["bench", art, "--no-eager", "--json", bout / "res.json"], "res.md exists and was not named"),
            (["export", "--for-app", "web", "--app-dir", app, art, art], "given more than once"),
            (["eval", "--checkpoint", ck, "--data", c / "data", "--device", "cpu"], "more than 10000000 rows")):
        assert words in said[tuple(map(str, args))], said[tuple(map(str, args))]
    assert "no such puzzle file" not in said[("solve", "/dev/zero", "--checkpoint", str(ck))]
    assert not (app / "assets").exists()
    for over in ({"threads": "-1"}, {"cores": "-4"}, {"platform": "5"}):
        monkeypatch.setenv("TRM_EDGE_DEVICES", str(_profile(box, **over)))
        for args in (["devices", "--no-check"], ["bench", art, "--no-eager", "--device", "dev", "--json", new / "b.json"]):
            check_bad(box, args)
    monkeypatch.delenv("TRM_EDGE_DEVICES")
    ISSUE32["cases"] += SEEN["cases"] - n0
    ISSUE32["s"] += time.monotonic() - t0
