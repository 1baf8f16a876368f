"""Issue 14: dependencies point one way (DESIGN.md): the core imports nothing from the applications
(``pdd_core.apps``) nor the package face; systems, schemes and solvers import only the core."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORE = [path for path in (ROOT / "pdd_core").rglob("*.py") if "apps" not in path.relative_to(ROOT / "pdd_core").parts and path != ROOT / "pdd_core" / "__init__.py"]
PARTS = [path for package in ("systems", "schemes", "solvers") for path in (ROOT / package).rglob("*.py")]


def imported_modules(path: pathlib.Path) -> list[tuple[int, str]]:
    """Every module an import statement of ``path`` names, with its line (relative imports resolved)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                package = path.relative_to(ROOT).with_suffix("").parts[: -node.level]
                module = ".".join([*package, module]).strip(".")
            names.append((node.lineno, module))
            if module == "pdd_core":  # `from pdd_core import apps` names a sub-package
                names += [(node.lineno, f"pdd_core.{alias.name}") for alias in node.names if alias.name == "apps"]
    return names


def upward(path: pathlib.Path) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line} imports {module}" for line, module in imported_modules(path) if module == "pdd_core" or module.startswith("pdd_core.apps")]


@pytest.mark.parametrize("group, files", [("core", CORE), ("systems, schemes, solvers", PARTS)])
def test_dependencies_point_down(group, files):
    assert len(files) > 10
    violations = [line for path in files for line in upward(path)]
    assert not violations, f"{group} must import neither the applications nor the package face:\n" + "\n".join(violations)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The guard itself: an import of the applications or of the face is reported."""
    module = ROOT / "pdd_core" / "_probe_for_the_architecture_test.py"
    module.write_text("from pdd_core.apps.inference import load_run\nimport pdd_core\nfrom pdd_core import Grid\nfrom pdd_core.grid import Grid\n")
    try:
        assert [line.split(" imports ")[1] for line in upward(module)] == ["pdd_core.apps.inference", "pdd_core", "pdd_core"]
    finally:
        module.unlink()


def test_no_core_module_is_over_the_size_limit():
    """Small files with one job each: no core module over ~400 lines (DESIGN's style, issue 14)."""
    sizes = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in CORE}
    assert not {name: size for name, size in sizes.items() if size > 420}
