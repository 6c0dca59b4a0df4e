"""The import graph of trm_edge has no cycle and no import points up the layers.

The graph is read with `ast` from the source (no import runs): an edge A -> B for every
`import` / `from ... import` of a trm_edge module anywhere in A, module level or inside a function
(a lazy import is still a dependency). `from pkg import name` counts as an import of the submodule
pkg.name when that is a module, else of pkg. A package's own __init__ is not counted as imported by
its submodules (it only re-exports them).
"""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "trm_edge"

# One line per package (or top-level module): lower number = lower layer. A module may import
# only its own layer or below; every module of trm_edge/ must sit in a package named here.
LAYERS = {
    "errors": 0, "package_data": 0, "safe_io": 0, "schema": 0,   # errors, data files, safe writes, file schemas
    "spec": 0,                                                    # schema's primitives + bounded readers (no tasks)
    "tasks": 0, "data": 0, "artifact": 0, "targets": 0,           # puzzles, data sets, the artifact on disk, targets
    "model": 1, "checkpoint": 1,                                  # the network; checkpoints (+ authors' importers)
    "runtime": 2,                                                 # Session over every artifact, host loop (torch-free)
    "export": 3,                                                  # one module per target, int8
    "evaluate": 4, "validate": 4,                                 # accuracy per depth; parity, vectors, ARM64
    "train": 5, "bench": 5, "apps": 5,                            # training; benchmarks; apps, web, demo
    "cli": 6,                                                     # parses and calls
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_from(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    """The absolute name a `from ... import` in module `mod` (a package's __init__: is_pkg) reads from."""
    if not node.level:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def import_graph() -> dict[str, set[str]]:
    files = modules()
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                src = imported_from(mod, is_pkg, node)
                targets = [f"{src}.{a.name}" if f"{src}.{a.name}" in files else src for a in node.names]
            for t in targets:
                while t and t not in files:   # import a.b.c of a module a.b's attribute
                    t = t.rpartition(".")[0]
                if t.startswith("trm_edge") and t != mod:
                    graph[mod].add(t)
    return graph


def layer(mod: str) -> int:
    if mod == "trm_edge":
        return 0
    top = mod.split(".")[1]
    assert top in LAYERS, f"{mod} is in no layer: add its package to LAYERS"
    return LAYERS[top]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        color[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if color.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in color and (c := visit(n)):
                return c
        stack.pop()
        color[m] = 2
        return None

    for m in sorted(graph):
        if m not in color and (c := visit(m)):
            return c
    return None


def test_import_graph_has_no_cycle():
    graph = import_graph()
    cli = {m for m in graph if m == "trm_edge.cli" or m.startswith("trm_edge.cli.")}   # one module a verb family
    assert len(graph) > 40 and len(cli) > 3 and all(graph[m] for m in cli)
    # the package imports every module of its verbs (so their commands register on the group)
    assert {m for m in graph["trm_edge.cli"] if m in cli} == cli - {"trm_edge.cli", "trm_edge.cli.__main__"}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_import_points_up_the_layers():
    up = [f"{a} -> {b}" for a, bs in import_graph().items() for b in sorted(bs) if layer(b) > layer(a)]
    assert not up, up


def test_every_import_of_trm_edge_names_a_module():
    """A relative import one level off (`from .x` for `from ..x`, say after a module moved into a package) names
    no module; the graph above would drop it silently, and a lazy import fails only when its command runs."""
    files = modules()
    missing = []
    for mod, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [imported_from(mod, path.name == "__init__.py", node)]
            else:
                continue
            missing += [f"{mod}: {n}" for n in names if n.startswith("trm_edge") and n not in files]
    assert not missing, missing


def test_every_module_sits_in_a_named_package():
    for mod in import_graph():
        layer(mod)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_library_imports_itself_relatively():
    """Inside trm_edge/ every import of trm_edge is relative (`from ..schema import x`), as each layer's
    modules are written: an absolute `from trm_edge.x` in one module is how bench/ drifted before."""
    absolute = [f"{mod}:{node.lineno}" for mod, path in modules().items()
                for node in ast.walk(ast.parse(path.read_text()))
                if (isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("trm_edge"))
                or (isinstance(node, ast.Import) and any(a.name.startswith("trm_edge") for a in node.names))]
    assert not absolute, absolute
