"""The code's shape: no import circle between the project's modules, no product file
over 400 lines, at most 15 modules flat at the top of an app."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "chatsite", "conversations", "providers")


def product_files() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The project modules a module imports, at load or inside a function: a circle
    closed by an import in a function body is still a circle."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names}
            # `from package import module` needs the module, not the package's rest.
            found.update(submodules & known or {node.module})
    return {module for module in found if module in known and module != module_name(path)}


def test_no_import_circle():
    files = product_files()
    known = {module_name(path) for path in files}
    graph = {module_name(path): imports_of(path, known) for path in files}
    done: set[str] = set()

    def walk(module: str, stack: list[str]) -> None:
        if module in stack:
            circle = stack[stack.index(module) :] + [module]
            raise AssertionError("import circle: " + " -> ".join(circle))
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            walk(imported, [*stack, module])
        done.add(module)

    for module in sorted(graph):
        walk(module, [])


def test_no_product_file_over_400_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in product_files()
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert long == {}


def test_apps_keep_at_most_15_modules_flat():
    for app in ("accounts", "conversations", "providers"):
        flat = sorted(path.name for path in (ROOT / app).glob("*.py"))
        assert len(flat) <= 15, (app, flat)
