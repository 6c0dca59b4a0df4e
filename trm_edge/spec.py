"""The primitives of trm_edge.schema, below the tasks layer: the spec objects (`Int(lo, hi)`,
`Num`, `Str`, `Bool`, `Type`, `Opt`, `ListOf`, `DictOf`, `Either`, `Fields`), `check_fields` /
`check_all`, the shared ranges, and the bounded readers every file goes through:

    read_bytes / read_text   a regular file, size-bounded (checked on stat before reading), UTF-8
    loads / read_json        JSON whose nesting is bounded (counted on the text) before json.loads
    read_npy                 an .npy array whose header (shape, dtype, file length) is checked first
    authors_dataset          an authors' dataset.json (trm_edge.tasks.generic reads it, so it lives here)

Standard library only (numpy imported inside read_npy); trm_edge.schema re-exports all of it and
adds the formats that name tasks (this module imports no task: tasks.generic can use it).
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

from .errors import ArtifactError

# ranges shared by the formats (and by the CLI's options)
MAX_N_SUP = 1024          # supervision steps a model may declare
MAX_DEPTH = 64            # unrolled export depth: K copies of the step in one graph
MAX_BATCH = 4096          # static batch of an artifact's entry points
MAX_PUZZLES = 1_000_000   # puzzles one command generates / scores
MAX_OPT_STEPS = 10_000_000    # optimizer steps (training); not supervision steps (MAX_N_SUP)
MAX_N_TRAIN = 100_000_000    # generated training puzzles
MAX_EXAMPLES = 10_000_000  # rows of an authors' built data set array (ARC: ~10^6 augmented examples)
MAX_JSON_BYTES = 256 << 20   # the largest JSON file trm-edge reads (golden vectors of a big model: MBs)
MAX_JSON_DEPTH = 64          # nesting of JSON arrays / objects (trm-edge's own formats use < 10)
MAX_TEXT_BYTES = 16 << 20    # YAML / TOML / puzzle text files


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


def read_bytes(path, what: str = "file", max_bytes: int = MAX_JSON_BYTES) -> bytes:
    """A regular file's bytes, at most max_bytes (checked before reading), or one SchemaError."""
    p = Path(path)
    try:
        st = p.stat()
        if p.is_dir():
            raise SchemaError(f"{p} is a folder, not a {what}")
        if not p.is_file():
            raise SchemaError(f"{p} is not a regular file (a device, pipe or socket), not a {what}")
        if st.st_size > max_bytes:
            raise SchemaError(f"{p} is {st.st_size} bytes: more than a {what} may be ({max_bytes})")
        with open(p, "rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise SchemaError(f"no {what} at {p}") from None
    except OSError as e:
        raise SchemaError(f"cannot read {p}: {e.strerror or e}") from None
    if len(data) > max_bytes:   # grew while being read
        raise SchemaError(f"{p} is more than {max_bytes} bytes: too large for a {what}")
    return data


def read_text(path, what: str = "file", max_bytes: int = MAX_TEXT_BYTES) -> str:
    """A UTF-8 text file (size-bounded), or one SchemaError."""
    data = read_bytes(path, what, max_bytes)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SchemaError(f"{path} is not UTF-8 text (byte {e.start}: {data[e.start:e.start + 1]!r}), "
                          f"not a {what}") from None


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_depth(text: str) -> int:
    """The deepest nesting of arrays / objects in JSON text, counted on the text (brackets inside
    strings skipped) without parsing: what `loads` checks before json.loads may recurse."""
    depth = deepest = 0
    for m in _JSON_TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def loads(text: str, where: str, max_depth: int = MAX_JSON_DEPTH):
    """JSON text -> its value, with the nesting bounded before parsing; else one SchemaError."""
    if len(text) > MAX_JSON_BYTES:
        raise SchemaError(f"{where} is more than {MAX_JSON_BYTES} bytes of JSON")
    if json_depth(text) > max_depth:
        raise SchemaError(f"{where}: JSON nested deeper than {max_depth} levels (not a trm-edge file)")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as e:
        raise SchemaError(f"{where} is not valid JSON ({str(e).splitlines()[0][:80]})") from None


def read_json(path, what: str = "file", max_bytes: int = MAX_JSON_BYTES):
    """A JSON file -> its value, or one SchemaError (missing, not a regular file, too large, too
    deeply nested, not UTF-8, not JSON). The one JSON reader of every trm-edge format."""
    return loads(read_text(path, what, max_bytes), str(path))



def check_all(d, spec: dict, where: str, required=()) -> dict:
    """check_fields over every field (unknown names allowed), all problems in one SchemaError line."""
    obj(d, where)
    problems = [f"field {name!r} is missing" for name in required if name not in d]
    for name, s in spec.items():
        if name in d:
            try:
                s.check(d[name], where, name)
            except SchemaError as e:
                problems.append(str(e)[len(where) + 2:] if str(e).startswith(where + ": ") else str(e))
    if problems:
        raise SchemaError(f"{where}: " + "; ".join(problems))
    return d


class DictOf:
    """A JSON object of at most max_len entries: names checked by `key` (a Str), values by `value`."""

    def __init__(self, key, value, max_len: int = 1024):
        self.key, self.value, self.max_len = key, value, max_len

    def check(self, v, where, field):
        if not isinstance(v, dict) or len(v) > self.max_len:
            fail(where, field, f"must be an object of at most {self.max_len} entries, got {_show(v)}")
        for k, x in v.items():
            self.key.check(k, where, f"{field} key")
            self.value.check(x, where, f"{field}[{k!r}]")
        return v


class Either:
    """The first of several specs that accepts the value (e.g. an integer or "auto")."""

    def __init__(self, *specs, what: str):
        self.specs, self.what = specs, what

    def check(self, v, where, field):
        for s in self.specs:
            try:
                return s.check(v, where, field)
            except SchemaError:
                pass
        fail(where, field, f"must be {self.what}, got {_show(v)}")


class Fields:
    """A nested JSON object checked by check_fields (unknown names allowed)."""

    def __init__(self, spec: dict, required=()):
        self.spec, self.required = spec, tuple(required)

    def check(self, v, where, field):
        if not isinstance(v, dict):
            fail(where, field, f"must be an object, got {_show(v)}")
        check_fields(v, self.spec, f"{where} {field}", required=self.required, unknown=True)
        return v


AUTHORS_DATASET = {"seq_len": Int(1, 65536), "vocab_size": Int(2, 65536), "num_puzzle_identifiers": Int(1, 10_000_000),
                   "ignore_label_id": Opt(Int(-100, 65536)), "pad_id": Opt(Int(0, 65536)),
                   "blank_identifier_id": Opt(Int(0, 10_000_000)), "total_groups": Opt(Int(0, MAX_EXAMPLES)),
                   "mean_puzzle_examples": Opt(Num(0)), "total_puzzles": Opt(Int(0, MAX_EXAMPLES)),
                   "sets": ListOf(Str(check=lambda s: None if re.fullmatch(r"\w+", s, re.ASCII) else
                                      "must be a plain name ([A-Za-z0-9_]+)"), 64)}


def authors_dataset(d, where: str) -> dict:
    """An authors' built data set's dataset.json, all problems in one line."""
    check_all(d, AUTHORS_DATASET, where)
    if "sets" in d and not d["sets"]:
        fail(where, "sets", "must name at least one set")
    return d


# ---- .npy arrays: the header checked before the data is read -------------------------------------
def read_npy(path, what: str, ndims=(1, 2), max_rows: int = MAX_EXAMPLES, max_cols: int = 65536, kinds: str = "iu"):
    """An .npy array whose header (read first, with numpy.lib.format) says a shape of `ndims`
    dimensions within (max_rows, max_cols) and a dtype of `kinds` (numpy kind codes; default
    integers), and whose file holds that many bytes; only then is it loaded. Else one SchemaError."""
    import numpy as np
    from numpy.lib import format as npf

    p = Path(path)
    if not p.is_file():
        raise SchemaError(f"no {what} at {p}" if not p.exists() else f"{p} is not a regular file ({what})")
    try:
        with open(p, "rb") as f:
            version = npf.read_magic(f)
            read = {(1, 0): npf.read_array_header_1_0, (2, 0): npf.read_array_header_2_0}.get(version)
            if read is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, fortran, dtype = read(f, max_header_size=10_000)
            offset = f.tell()
    except (OSError, ValueError, SyntaxError, TypeError) as e:
        raise SchemaError(f"{p} is not an .npy array ({what}): {str(e).splitlines()[0][:100] if str(e) else type(e).__name__}") \
            from None
    if dtype.hasobject or dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        raise SchemaError(f"{p} ({what}) holds {dtype}, not {'integers' if kinds == 'iu' else kinds}")
    if len(shape) not in ndims:
        raise SchemaError(f"{p} ({what}) has shape {shape}: expected {' or '.join(f'{n}-D' for n in ndims)}")
    if shape[0] > max_rows or (len(shape) > 1 and any(n > max_cols for n in shape[1:])):
        raise SchemaError(f"{p} ({what}) has shape {shape}: more than {max_rows} rows or {max_cols} columns")
    nbytes = math.prod(shape) * dtype.itemsize
    if p.stat().st_size < offset + nbytes:
        raise SchemaError(f"{p} ({what}) is truncated: its header says {shape} {dtype} ({nbytes} bytes), the file "
                          f"holds {p.stat().st_size - offset}")
    try:
        return np.load(p, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise SchemaError(f"cannot read {p} ({what}): {str(e).splitlines()[0][:100]}") from None
