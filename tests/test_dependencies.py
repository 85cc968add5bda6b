"""What the gateway imports is what installing it brings: every package its code imports is one
of its dependencies, not a test tool that happens to be in the test environment."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("relay_server", "gateway_agent", "zimsend_common")
OPTIONAL: dict[str, str | None] = {"gammu": "gammu"}  # imported by the backend named after the extra that installs it


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=~!; ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _imported_top_levels(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_every_package_the_gateway_imports_is_a_dependency_of_it():
    project = _project()
    runtime = _requirement_names(project["dependencies"])
    extras = project["optional-dependencies"]
    # A package's own dependencies come with it (psycopg's psycopg_binary, say).
    installed = {extra: _installed_with(runtime | _requirement_names(extras[extra])) for extra in OPTIONAL.values()}
    installed[None] = _installed_with(runtime)
    distributions = metadata.packages_distributions()
    missing = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for top_level in _imported_top_levels(path) - set(sys.stdlib_module_names) - set(PACKAGES):
                provided_by = {name.lower() for name in distributions.get(top_level, [])}
                if not provided_by & installed[OPTIONAL.get(top_level)]:
                    missing.setdefault(top_level, []).append(str(path.relative_to(ROOT)))
    assert missing == {}


def _installed_with(names: set[str]) -> set[str]:
    """The distributions ``names`` bring, their own dependencies included."""
    found, todo = set(), list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in found:
            continue
        found.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [req for req in _requirement_names([r for r in requires if "extra ==" not in r])]
    return found | {name.replace("-", "_") for name in found}
