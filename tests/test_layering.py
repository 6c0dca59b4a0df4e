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

# lower number = lower layer; a module may import only its own layer or below
LAYERS = [
    (0, ("trm_edge", "trm_edge.errors", "trm_edge.package_data", "trm_edge.tasks", "trm_edge.data", "trm_edge.artifact")),
    (0, ("trm_edge.safe_io", "trm_edge.schema")),   # safe writes, the typed file schemas
    (1, ("trm_edge.model", "trm_edge.checkpoint", "trm_edge.train_state")),
    (2, ("trm_edge.runtime",)),
    (3, ("trm_edge.export",)),
    (2, ("trm_edge.import_authors",)),   # the authors' checkpoints -> a trm-edge checkpoint
    (4, ("trm_edge.evaluate", "trm_edge.vectors", "trm_edge.validate")),
    (5, ("trm_edge.train", "trm_edge.train_device", "trm_edge.arc_train", "trm_edge.arc_eval", "trm_edge.demo", "trm_edge.bench",
         "trm_edge.apps", "trm_edge.report_quant", "trm_edge.arm64", "trm_edge.validate_arm",
         "trm_edge.sudoku_extreme", "trm_edge.web", "trm_edge.report_curve")),
    (6, ("trm_edge.cli",)),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    src = ".".join(base + ([node.module] if node.module else []))
                else:
                    src = node.module or ""
                targets = [f"{src}.{a.name}" if f"{src}.{a.name}" in files else src for a in node.names]
            for t in targets:
                while t and t not in files:   # import a.b.c of a module a.b's attribute
                    t = t.rpartition(".")[0]
                if t.startswith("trm_edge") and t != mod:
                    graph[mod].add(t)
    return graph


def layer(mod: str) -> int:
    best = None
    for n, prefixes in LAYERS:
        for p in prefixes:
            # the bare package name matches itself only: a new module must be placed in a layer
            if (mod == p or (p != "trm_edge" and mod.startswith(p + "."))) and (best is None or len(p) > best[1]):
                best = (n, len(p))
    assert best is not None, f"{mod} is in no layer: add it to LAYERS"
    return best[0]


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
    assert len(graph) > 40 and graph["trm_edge.cli"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_import_points_up_the_layers():
    up = [f"{a} -> {b}" for a, bs in import_graph().items() for b in sorted(bs) if layer(b) > layer(a)]
    assert not up, up


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
