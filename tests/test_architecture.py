"""The layering rules of docs/architecture.md, checked on the source: the import graph,
counting imports inside functions, has no cycle, and the library layers never reach
Lightning or the training package."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "brainseg"
# Layers that must work without Lightning (prediction, the service, data tools).
LIGHTNING_FREE = (
    "brainseg.models",
    "brainseg.data",
    "brainseg.io",
    "brainseg.preprocessing",
    "brainseg.metrics",
    "brainseg.losses",
    "brainseg.postprocess",
    "brainseg.inference",
    "brainseg.service",
    "brainseg.evaluation",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in modules or not name.startswith("brainseg")}


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(files)
    return {name: _imports(path, modules) for name, path in files.items()}


def test_no_relative_imports_hide_from_the_check():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        assert not any(isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(tree)), path


def test_import_graph_has_no_cycle():
    graph = _graph()
    internal = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(internal[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for module in sorted(internal):
        if module not in state:
            visit(module)


def test_library_layers_never_reach_lightning_or_training():
    graph = _graph()

    def reach(module: str, seen: set[str]) -> set[str]:
        for dep in graph.get(module, ()):
            if dep not in seen:
                seen.add(dep)
                reach(dep, seen)
        return seen

    for module in graph:
        if not module.startswith(LIGHTNING_FREE):
            continue
        reached = reach(module, set())
        bad = {d for d in reached if d.split(".")[0] in ("lightning", "pytorch_lightning")}
        bad |= {d for d in reached if d.startswith("brainseg.training")}
        assert not bad, f"{module} reaches {sorted(bad)}"
