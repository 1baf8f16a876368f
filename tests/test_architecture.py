"""Dependencies point one way (docs/guide.md, "Architecture"): the core imports nothing from the
applications (``pdd_core.apps``), the package face or the concrete parts (systems, schemes,
solvers); systems, schemes and solvers import only the core. Checked in the source and at run time."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORE = [path for path in (ROOT / "pdd_core").rglob("*.py") if "apps" not in path.relative_to(ROOT / "pdd_core").parts and path != ROOT / "pdd_core" / "__init__.py"]
PARTS_PACKAGES = ("systems", "schemes", "solvers")
PARTS = [path for package in PARTS_PACKAGES for path in (ROOT / package).rglob("*.py")]


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


def is_part(module: str) -> bool:
    """Whether ``module`` belongs to one of the concrete-part packages (systems, schemes, solvers)."""
    return module.split(".")[0] in PARTS_PACKAGES


def upward(path: pathlib.Path) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line} imports {module}" for line, module in imported_modules(path) if module == "pdd_core" or module.startswith("pdd_core.apps")]


def core_to_parts(path: pathlib.Path) -> list[str]:
    """The imports of a concrete part in ``path`` (the core reaches parts through the registries only)."""
    return [f"{path.relative_to(ROOT)}:{line} imports {module}" for line, module in imported_modules(path) if is_part(module)]


@pytest.mark.parametrize("group, files", [("core", CORE), ("systems, schemes, solvers", PARTS)])
def test_dependencies_point_down(group, files):
    assert len(files) > 10
    violations = [line for path in files for line in upward(path)]
    assert not violations, f"{group} must import neither the applications nor the package face:\n" + "\n".join(violations)


def test_the_core_imports_no_concrete_part():
    """Function-level imports count too: the core names no system, scheme or solver anywhere."""
    violations = [line for path in CORE + [ROOT / "pdd_core" / "__init__.py"] for line in core_to_parts(path)]
    assert not violations, "the core must reach systems, schemes and solvers through the registries only:\n" + "\n".join(violations)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The guard itself: an import of the applications or of the face is reported."""
    module = ROOT / "pdd_core" / "_probe_for_the_architecture_test.py"
    module.write_text("from pdd_core.apps.inference.runs import load_run\nimport pdd_core\nfrom pdd_core import Grid\nfrom pdd_core.grid import Grid\n")
    try:
        assert [line.split(" imports ")[1] for line in upward(module)] == ["pdd_core.apps.inference.runs", "pdd_core", "pdd_core"]
    finally:
        module.unlink()


def test_the_check_sees_an_import_of_a_part():
    module = ROOT / "pdd_core" / "_probe_for_the_parts_check.py"
    module.write_text("import numpy\nfrom schemes import Carosso\nimport solvers.etd\n\ndef later():\n    from systems.lorenz96 import Lorenz96\n")
    try:
        assert [line.split(" imports ")[1] for line in core_to_parts(module)] == ["schemes", "solvers.etd", "systems.lorenz96"]
    finally:
        module.unlink()


REGISTRIES = ("SYSTEMS", "SCHEMES", "SAMPLERS", "INTEGRATORS", "METRICS")


def lookups_by_name(path: pathlib.Path) -> list[str]:
    """Calls like ``SCHEMES.get("carosso")`` in ``path``: a part named by a string literal."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            owner = node.func.value
            named = node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            if isinstance(owner, ast.Name) and owner.id in REGISTRIES and named:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    return found


def test_the_core_looks_up_no_part_by_name():
    """The core's defaults are objects or absent, never a registry lookup by a literal name (which needs the part installed or imported first)."""
    violations = [line for path in CORE for line in lookups_by_name(path)]
    assert not violations, "\n".join(violations)


# Imports every core module in turn in a fresh interpreter and names the first one after which an
# application or part module is loaded. One interpreter suffices: while nothing forbidden is
# loaded, each import starts from a state in which a forbidden module would be loaded anew.
RUNTIME_PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("systems", "schemes", "solvers") or m.startswith("pdd_core.apps"))
    if loaded:
        print(f"importing {name} loads {loaded}")
        sys.exit(1)
"""


def core_module_names() -> list[str]:
    """The package face first, then every core module (``pdd_core`` outside ``pdd_core.apps``)."""
    return ["pdd_core", *sorted(module_name(path) for path in CORE)]


def loads_at_import(modules: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", RUNTIME_PROBE, *modules], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_importing_the_core_loads_no_application_and_no_part():
    """The layers hold at run time: ``import pdd_core`` or any core module loads no ``pdd_core.apps``, systems, schemes or solvers module."""
    modules = core_module_names()
    assert len(modules) > 40
    result = loads_at_import(modules)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_runtime_probe_sees_a_module_that_loads_a_part():
    """The guard itself: a module that imports a part (here ``schemes``) is named."""
    result = loads_at_import(["pdd_core.grid", "schemes"])
    assert result.returncode == 1 and "importing schemes loads" in result.stdout


def test_no_core_module_is_over_the_size_limit():
    """Small files with one job each: no core module over ~400 lines (docs/guide.md, "Architecture")."""
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


def top_level_names(package: pathlib.Path) -> set[str]:
    """The modules and sub-packages directly in ``package`` (``grid`` for grid.py, ``training`` for training/)."""
    modules = {path.stem for path in package.glob("*.py") if path.name != "__init__.py"}
    return modules | {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}


def test_no_application_folder_takes_the_name_of_a_core_package():
    """Names do not clash across layers (docs/guide.md, "Architecture"): ``pdd_core.apps.X`` never repeats a core ``pdd_core.X``,
    so ``training`` (the core's configs and objectives) and ``trainer`` (the application that runs them) cannot be confused."""
    core = top_level_names(ROOT / "pdd_core") - {"apps"}
    applications = top_level_names(ROOT / "pdd_core" / "apps")
    assert {"inference", "evaluation", "trainer", "datasets"} <= applications
    assert not core & applications, sorted(core & applications)
