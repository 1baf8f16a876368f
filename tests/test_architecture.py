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


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of the four packages it imports at import time (``TYPE_CHECKING`` blocks excluded)."""
    files = [path for package in ("pdd_core", "systems", "schemes", "solvers") for path in (ROOT / package).rglob("*.py")]
    known = {module_name(path) for path in files}
    graph = {}
    for path in files:
        edges = set()
        for node in ast.parse(path.read_text()).body:  # module level only: a function-level import runs later
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module and not inner.level:
                    targets = [f"{inner.module}.{alias.name}" for alias in inner.names]
                    edges |= {target for target in targets if target in known} or ({inner.module} & known)
                elif isinstance(inner, ast.Import):
                    edges |= {alias.name for alias in inner.names} & known
        graph[module_name(path)] = edges - {module_name(path)}
    return graph


def test_no_import_cycles_outside_the_package_faces():
    """Modules import each other in one direction; only package ``__init__`` faces may gather from below."""
    graph = import_graph()
    faces = {name for name in graph if (ROOT / name.replace(".", "/") / "__init__.py").exists()}
    modules = {name: edges - faces for name, edges in graph.items() if name not in faces}
    cycles, state = [], {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = "open"
        for target in sorted(modules.get(name, ())):
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target] if target in stack else [name, target])
            elif target not in state:
                visit(target, [*stack, target])
        state[name] = "done"

    for name in sorted(modules):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles
