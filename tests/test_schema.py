"""trm_edge.schema and every reader that goes through it (issue 32): the bounded JSON / text / .npy
readers, and a property-based fuzz over every file format trm-edge reads.

For each reader, hypothesis generates bad documents: a valid sample with one value replaced (wrong
type, huge number, NaN, deep nesting, odd text), the sample truncated, odd bytes, JSON nested deeper
than any format. Each must end in the project's error type (TRMEdgeError, or PuzzleError for puzzle
text), never another exception. Derandomized and bounded (`fuzz(n)`), part of the default run;
`-s` prints the case count and the run time.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import fuzz, summary_fixture
from hypothesis import given, strategies as st

from trm_edge import schema
from trm_edge.errors import TRMEdgeError
from trm_edge.schema import SchemaError
from trm_edge.tasks.base import PuzzleError

ROOT = Path(__file__).resolve().parents[1]
AUTHORS = ROOT / "tests" / "fixtures" / "official-trm" / "maze-att-tiny"
SEEN = {"cases": 0}


# how many bad documents this module fed to the readers, and in how long (the closing notes' numbers)
_count = summary_fixture(lambda s: [f"reader fuzz: {SEEN['cases']} bad documents in {s:.1f} s, each a TRMEdgeError "
                                    "(or accepted), no other exception"])


# ---- the bounded readers ------------------------------------------------------------------------
def test_deep_json_is_refused_before_parsing(tmp_path):
    f = tmp_path / "deep.json"
    f.write_text("[" * 100_000)
    with pytest.raises(SchemaError, match="nested deeper than 64"):
        schema.read_json(f)
    f.write_text('{"a": "' + "[" * 1000 + '"}')   # brackets inside a string do not count
    assert schema.read_json(f) == {"a": "[" * 1000}
    assert schema.json_depth('[{"x": [1, "]]]"]}]') == 3


def test_json_size_and_kind_of_file_are_bounded(tmp_path):
    f = tmp_path / "big.json"
    f.write_text(json.dumps(list(range(1000))))
    with pytest.raises(SchemaError, match="more than a file may be"):
        schema.read_json(f, max_bytes=100)
    with pytest.raises(SchemaError, match="not a regular file"):
        schema.read_json("/dev/zero")
    with pytest.raises(SchemaError, match="is a folder"):
        schema.read_json(tmp_path)
    (tmp_path / "bom.yaml").write_bytes(b"\xff\xfearch: 1\n")
    with pytest.raises(SchemaError, match="not UTF-8"):
        schema.read_text(tmp_path / "bom.yaml")


def _npy_header(path: Path, shape, dtype="<i8", body: bytes = b""):
    from numpy.lib import format as npf

    with open(path, "wb") as f:
        npf.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": shape})
        f.write(body)


def test_npy_header_is_checked_before_any_allocation(tmp_path):
    f = tmp_path / "x.npy"
    _npy_header(f, (10**11, 64))   # 23 TiB claimed, 0 bytes present
    with pytest.raises(SchemaError, match="more than 10000000 rows"):
        schema.read_npy(f, "inputs")
    _npy_header(f, (1000, 64))     # in bounds, but the data is not there
    with pytest.raises(SchemaError, match="truncated"):
        schema.read_npy(f, "inputs")
    np.save(f, np.zeros((3, 4), np.int32))
    with pytest.raises(SchemaError, match="expected 1-D"):
        schema.read_npy(f, "ids", ndims=(1,))
    np.save(f, np.zeros(3, np.float32))
    with pytest.raises(SchemaError, match="holds float32, not integers"):
        schema.read_npy(f, "ids")
    np.save(f, np.array([1, "a"], object), allow_pickle=True)
    with pytest.raises(SchemaError, match="holds object"):
        schema.read_npy(f, "ids")
    np.save(f, np.arange(5, dtype=np.int64))
    assert schema.read_npy(f, "ids", ndims=(1,)).tolist() == [0, 1, 2, 3, 4]


# ---- the fuzz: every reader, bad documents ------------------------------------------------------
HUGE = st.sampled_from([10**12, -(10**12), 2**63, 10**400, 1e308, -1e308])
ODD = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), HUGE, st.floats(allow_nan=True, allow_infinity=True),
                 ODD, st.sampled_from(["", "٦٤", "1e999", "NaN", "../../x", "\x00"]))
JUNK = st.recursive(LEAF, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(ODD, c, max_size=3)),
                    max_leaves=8)


def _paths(doc, prefix=()):
    """Every path (tuple of keys / indices) into a JSON document, the root included."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:4]):
            yield from _paths(v, prefix + (i,))


def _replace(doc, path, value):
    if not path:
        return value
    doc = json.loads(json.dumps(doc))
    m = doc
    for k in path[:-1]:
        m = m[k]
    m[path[-1]] = value
    return doc


def _dumps(v) -> bytes:
    return json.dumps(v, allow_nan=True).encode() if not isinstance(v, bytes) else v


@st.composite
def bad_json(draw, sample: dict) -> bytes:
    """A JSON sample with one value replaced, truncated, nested too deep, or odd bytes."""
    kind = draw(st.sampled_from(["replace", "replace", "replace", "truncate", "deep", "bytes", "other"]))
    if kind == "replace":
        paths = list(_paths(sample))
        path = paths[draw(st.integers(0, len(paths) - 1))]
        return _dumps(_replace(sample, path, draw(JUNK)))
    text = _dumps(sample)
    if kind == "truncate":
        return text[:draw(st.integers(0, len(text) - 1))]
    if kind == "deep":
        n = draw(st.sampled_from([65, 1000, 100_000]))
        return b"[" * n + b"]" * draw(st.sampled_from([0, n]))
    if kind == "bytes":
        return draw(st.binary(max_size=64)) + text[:draw(st.integers(0, 64))]
    return _dumps(draw(JUNK))


def _reads_cleanly(read, data: bytes, path: Path):
    """`read(path)` on `data`: returns, or raises the project's error type, never another exception."""
    path.write_bytes(data)
    SEEN["cases"] += 1
    try:
        read(path)
    except (TRMEdgeError, PuzzleError) as e:
        assert str(e) and "\n" not in str(e).strip(), repr(e)


def _sample(path: Path) -> dict:
    return json.loads(path.read_text())


BENCH = _sample(ROOT / "tests" / "fixtures" / "bench" / "android_app_result.fixture.json")
MANIFEST = _sample(next((ROOT / "trm_edge" / "checkpoints" / "sudoku6" / "artifacts").glob("onnx-*/manifest.json")))
DATASET = _sample(AUTHORS / "dataset.json")


def _manifest_reader(path: Path):
    from trm_edge.artifact import read_manifest

    d = path.parent / "art"
    d.mkdir(exist_ok=True)
    shutil.copy(path, d / "manifest.json")
    read_manifest(d)


def _bench_summary_reader(path: Path):
    from trm_edge.bench.report import update_summary

    update_summary(path, path.with_suffix(".md"))


def _dataset_reader(path: Path):
    from trm_edge.checkpoint.authors import _read_dataset

    _read_dataset(path)


def _ids_reader(path: Path):
    from trm_edge.export.puzzles import puzzle_ids_from

    puzzle_ids_from(str(path))


@pytest.mark.parametrize("name,sample,read", [
    ("manifest.json", MANIFEST, _manifest_reader),
    ("bench result", BENCH, _bench_summary_reader),
    ("dataset.json", DATASET, _dataset_reader),
    ("puzzle ids .json", [3, 17, 42], _ids_reader),
    ("any JSON", {"a": [1, 2]}, schema.read_json),
])
@fuzz(40)
@given(data=st.data())
def test_bad_json_documents_end_in_the_projects_error(name, sample, read, data, tmp_path_factory):
    d = tmp_path_factory.mktemp("doc")
    _reads_cleanly(read, data.draw(bad_json(sample), label=name), d / ("ids.json" if read is _ids_reader else "f.json"))


def _yaml_of(arch_edit) -> bytes:
    import yaml

    cfg = yaml.safe_load((AUTHORS / "all_config.yaml").read_text())
    return yaml.safe_dump(arch_edit(cfg)).encode()


@st.composite
def bad_yaml(draw) -> bytes:
    import yaml

    from trm_edge.schema import AUTHORS_ARCH

    kind = draw(st.sampled_from(["field", "field", "truncate", "bytes", "deep"]))
    if kind == "field":
        key = draw(st.sampled_from(sorted(AUTHORS_ARCH)))
        value = draw(JUNK.filter(lambda v: not (isinstance(v, float) and math.isnan(v))))
        return _yaml_of(lambda c: {**c, "arch": {**c["arch"], key: value}})
    text = (AUTHORS / "all_config.yaml").read_bytes()
    if kind == "truncate":
        return text[:draw(st.integers(0, len(text) - 1))]
    if kind == "bytes":
        return draw(st.sampled_from([b"\xff\xfe", b"\x00", b"\xef\xbb\xbf", b"!!python/object:os.system\n"])) + text
    return ("arch: " + "[" * draw(st.sampled_from([70, 5000]))).encode() + yaml.safe_dump({"x": 1}).encode()


@fuzz(40)
@given(doc=bad_yaml())
def test_bad_all_config_yaml_ends_in_the_projects_error(doc, tmp_path_factory):
    from trm_edge.checkpoint.authors import _read_yaml

    _reads_cleanly(_read_yaml, doc, tmp_path_factory.mktemp("yaml") / "all_config.yaml")


@st.composite
def bad_npy(draw) -> bytes:
    import io

    from numpy.lib import format as npf

    kind = draw(st.sampled_from(["header", "header", "truncate", "bytes"]))
    buf = io.BytesIO()
    if kind == "header":   # a header that lies: huge, negative-free but absurd, or another dtype
        shape = draw(st.one_of(st.tuples(st.sampled_from([10**11, 2**40, 0, 1, 3])),
                               st.tuples(st.sampled_from([1, 2, 10**11]), st.sampled_from([0, 4, 10**9])),
                               st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))))
        descr = draw(st.sampled_from(["<i8", "<f4", "|b1", "<c8", "|O", "<U3", "|V4"]))
        npf.write_array_header_1_0(buf, {"descr": descr, "fortran_order": draw(st.booleans()), "shape": shape})
        buf.write(draw(st.binary(max_size=48)))
        return buf.getvalue()
    np.save(buf, np.arange(6, dtype=np.int64))
    raw = buf.getvalue()
    if kind == "truncate":
        return raw[:draw(st.integers(0, len(raw) - 1))]
    return raw[:draw(st.integers(0, 10))] + draw(st.binary(max_size=64))


@fuzz(40)
@given(doc=bad_npy(), reader=st.sampled_from(["ids", "inputs"]))
def test_bad_npy_ends_in_the_projects_error(doc, reader, tmp_path_factory):
    d = tmp_path_factory.mktemp("npy")
    if reader == "ids":
        _reads_cleanly(_ids_reader, doc, d / "ids.npy")
        return
    from trm_edge.tasks.generic import read_built

    (d / "dataset.json").write_text(json.dumps(DATASET))
    np.save(d / "all__labels.npy", np.zeros((2, 64), np.int32))
    _reads_cleanly(lambda p: read_built(d), doc, d / "all__inputs.npy")


PROFILE = {"platform": '"linux"', "reach": '"local"', "cores": "4", "threads": "2", "targets": '["onnx"]',
           "delegates": '{ onnx = "CPUExecutionProvider" }', "webgpu": '""'}
TOML_JUNK = st.sampled_from(["-1", "-4", "0", "5", "1e400", "nan", "inf", '"auto"', '"x"', "true", "[1, 2]", "{}",
                             '"\u0664"', "99999999999999999999", '["nope"]', "{ onnx = 3 }", "[" * 3000])


@fuzz(40)
@given(key=st.sampled_from(sorted(PROFILE)), value=TOML_JUNK, truncate=st.integers(0, 400))
def test_bad_device_profiles_end_in_the_projects_error(key, value, truncate, tmp_path_factory):
    from trm_edge.bench.devices import load_profiles

    lines = "\n".join(f"{k} = {value if k == key else v}" for k, v in PROFILE.items())
    doc = f"[dev]\n{lines}\n".encode()
    f = tmp_path_factory.mktemp("toml") / "devices.toml"
    _reads_cleanly(load_profiles, doc, f)
    _reads_cleanly(load_profiles, doc[:truncate], f)


@pytest.mark.parametrize("field,value,msg", [
    ("threads", "-1", r"'threads' must be an integer in \[0, 1024\], got -1"),
    ("cores", "-4", r"'cores' must be an integer in \[1, 4096\] or \"auto\", got -4"),
    ("platform", "5", "'platform' must be a string, got 5"),
    ("platform", '"beos"', "'platform' must be one of local, linux"),
])
def test_device_profile_numbers_and_platform_are_ranged(field, value, msg, tmp_path):
    from trm_edge.bench.devices import load_profiles
    from trm_edge.errors import DeviceError

    f = tmp_path / "devices.toml"
    f.write_text("[dev]\n" + "\n".join(f"{k} = {value if k == field else v}" for k, v in PROFILE.items()) + "\n")
    with pytest.raises(DeviceError, match=msg):
        load_profiles(f)
    f.write_text("[dev]\n" + "\n".join(f"{k} = {v}" for k, v in PROFILE.items()) + "\n")
    assert load_profiles(f)["dev"].threads == 2
