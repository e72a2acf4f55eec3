"""The package's module-level import graph has no cycle (every top-level ``import``/``from ... import`` between
gsoc_helpers modules, read with ast; imports inside functions are deliberate lazy imports and not counted)."""

from __future__ import annotations

import ast
from pathlib import Path

import gsoc_helpers

ROOT = Path(gsoc_helpers.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(name: str, path: Path, modules: set[str]) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.parse(path.read_text()).body:  # top level only
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else [])) if node.level else str(node.module)
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]  # `from pkg import submodule`
        else:
            continue
        for t in targets:
            parts = t.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
                dep = ".".join(parts[:i])
                if dep in modules and dep != name and not name.startswith(dep + "."):
                    out.add(dep)
    return out


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    return {name: _imports(name, path, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(u: str) -> list[str] | None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                return stack[stack.index(v) :] + [v]
            if not state.get(v) and (found := visit(v)):
                return found
        stack.pop()
        state[u] = 2
        return None

    for m in sorted(graph):
        if not state.get(m) and (found := visit(m)):
            return found
    return None


def test_the_graph_sees_real_edges():
    graph = import_graph()
    assert "gsoc_helpers.pixels" in graph["gsoc_helpers.sampling"]
    assert "gsoc_helpers.calibration.fractals" in graph["gsoc_helpers.calibration"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_between_package_modules():
    assert find_cycle(import_graph()) is None


# Lower layer -> the packages above it that it must never import, not even lazily inside a function: the losses
# are configured by their own weights (losses.weights), not by the trainers; the OpenVINO layer converts and runs
# models, and quantization (which uses it) writes the INT8 IRs.
LAYERS = {
    "gsoc_helpers.losses": ("gsoc_helpers.training",),
    "gsoc_helpers.openvino": ("gsoc_helpers.quantization",),
}


def _all_imports(name: str, path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code (absolute names)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = str(node.module)
            out |= {mod} | {f"{mod}.{a.name}" for a in node.names}
    return out


def test_lower_layers_never_import_the_layers_above():
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    upward = [
        f"{name} imports {target}"
        for name, path in files.items()
        for lower, above in LAYERS.items()
        if name == lower or name.startswith(lower + ".")
        for target in _all_imports(name, path)
        if any(target == a or target.startswith(a + ".") for a in above)
    ]
    assert not upward, upward
