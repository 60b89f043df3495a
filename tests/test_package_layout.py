"""The package's modules form no import cycle (docs/architecture.rst, "The layers of the package").

The graph is read from the source with :mod:`ast`, so it counts every import of a module of the
package: at module level, under ``TYPE_CHECKING`` and inside functions (a lazy import that only
hides a cycle is still a cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import fallback_storage

PACKAGE = Path(fallback_storage.__file__).parent


def module_names() -> dict[str, Path]:
    names: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            for alias in node.names:
                # `from fallback_storage import lookup` imports the module lookup.
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return {module for module in found if module in modules and module != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first search meets, each as the modules on it."""
    met: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                met.append([*path[path.index(imported) :], imported])
            elif imported not in state:
                visit(imported, path)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return met


def test_the_graph_is_read_from_the_source() -> None:
    modules = module_names()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    # A few edges the architecture page draws, so an empty graph cannot pass.
    assert "fallback_storage.lookup" in graph["fallback_storage.storage"]
    assert "fallback_storage.walk" in graph["fallback_storage.lookup"]
    assert "fallback_storage.layers" in graph["fallback_storage.walk"]
    assert "fallback_storage.storage" in graph["fallback_storage"]


def test_no_module_imports_one_that_imports_it_back() -> None:
    modules = module_names()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert cycles(graph) == []


def test_a_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
