"""Imports point down: no module of the package takes part in an import cycle, and no
capability imports a composition root (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import ledgerbridge

PACKAGE = Path(ledgerbridge.__file__).parent
ROOTS = {"ledgerbridge.app", "ledgerbridge.runtime", "ledgerbridge.cli", "ledgerbridge.demo"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "migrations" in parts:
            continue  # Alembic's entry point and revisions, run by Alembic
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's imports of other modules of the package (lazy ones included)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                wanted = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                wanted = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for target in wanted:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    targets.add(target)
                    break
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph[node]):
            if found := visit(target):
                return found
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        if found := visit(node):
            return found
    return None


def test_no_module_takes_part_in_an_import_cycle() -> None:
    graph = _imports(_modules())
    assert len(graph) > 100
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_composition_roots_are_imported_only_from_above() -> None:
    graph = _imports(_modules())
    above = {"ledgerbridge.__main__", *ROOTS}
    wrong = {
        (name, root)
        for name, targets in graph.items()
        for root in targets & ROOTS
        if name not in above
    }
    assert wrong == set()


def test_the_anti_corruption_layer_knows_no_table() -> None:
    graph = _imports(_modules())
    providers = {n: t for n, t in graph.items() if n.startswith("ledgerbridge.providers")}
    allowed = ("ledgerbridge.providers", "ledgerbridge.settings", "ledgerbridge.unified")
    wrong = {
        (n, t) for n, targets in providers.items() for t in targets if not t.startswith(allowed)
    }
    assert wrong == set()
