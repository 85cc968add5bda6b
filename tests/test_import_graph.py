"""The packages' import graph: no module imports, at load time, one that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("relay_server", "gateway_agent", "zimsend_common")


def module_names() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def load_time_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports when it is loaded (not inside functions or TYPE_CHECKING)."""
    is_package = path.name == "__init__.py"
    own = ".".join(path.relative_to(ROOT).with_suffix("").parts[: -1 if is_package else None])
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = own.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in modules:
                    found.add(target)
                elif base in modules:
                    found.add(base)
    found.discard(own)
    return found


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    trail: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        trail.append(name)
        for nxt in sorted(graph.get(name, ())):
            if state.get(nxt) == 1:
                return [*trail[trail.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        trail.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_no_module_imports_itself_back_through_others():
    modules = module_names()
    graph = {name: load_time_imports(path, modules) for name, path in modules.items()}

    assert cycle(graph) is None


def test_the_graph_check_finds_a_circle_when_there_is_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_nothing_outside_the_store_imports_sqlalchemy(package):
    outside = [
        path.relative_to(ROOT)
        for path in (ROOT / package).rglob("*.py")
        if "relay_server/store" not in path.as_posix()
        and any(line.startswith(("import sqlalchemy", "from sqlalchemy")) for line in path.read_text().splitlines())
    ]

    assert outside == []
