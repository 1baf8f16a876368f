"""The README's Python example runs and its two set-up commands stay as documented."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_python_example_runs(capsys):
    example = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    assert len(example.strip().splitlines()) <= 16
    exec(compile(example, "README.md", "exec"), {})
    assert "torch.Size([8, 64, 2, 128])" in capsys.readouterr().out


def test_readme_has_exactly_two_setup_commands_that_pin_the_cpu_torch():
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    assert len(commands) == 2
    assert all("pip install torch==2.13.0" in command for command in commands)
    assert "pdd" in commands[0].split("&&")[-1] and "pytest" in commands[1].split("&&")[-1]


def test_ci_runs_the_readme_test_command():
    assert "ci:test-command" in (ROOT / ".ci" / "run").read_text()


def test_every_test_the_guarantees_page_cites_exists():
    """docs/guarantees.md backs each promise with a test: a renamed or deleted test must not leave a dangling claim."""
    import pathlib
    import re

    root = pathlib.Path(__file__).parent
    cited = set(re.findall(r"`(test_\w+)`", (root.parent / "docs" / "guarantees.md").read_text()))
    defined = set(re.findall(r"^def (test_\w+)", "\n".join(path.read_text() for path in root.rglob("test_*.py")), re.MULTILINE))
    assert len(cited) >= 15 and cited <= defined, sorted(cited - defined)


# A source path the docs name (``pdd_core/apps/inference/runs.py``, ``pdd_core/apps/cli/rg_flow/``); a name with a
# placeholder (``systems/NAME.py``) or a glob (``tests/parts/test_phi4*.py``) describes a family of files and is skipped.
SOURCE_PATH = re.compile(r"\b((?:pdd_core|systems|schemes|solvers|benchmarks|tests)/[\w./-]*\w/?)(?![\w*])")
DOTTED_NAME = re.compile(r"\b(pdd_core(?:\.\w+)+)")


def dotted_name_resolves(name: str) -> bool:
    """Whether ``name`` is a module of pdd_core, or an attribute reached from the longest such module it starts with."""
    import importlib

    parts = name.split(".")
    for length in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:length]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[length:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def dangling_references(text: str) -> list[str]:
    """The source paths and ``pdd_core`` dotted names in ``text`` that name no file, module or attribute of the project."""
    paths = [path for path in SOURCE_PATH.findall(text) if not re.search(r"[A-Z]{3}", path) and not (ROOT / path).exists()]
    return paths + [name for name in DOTTED_NAME.findall(text) if not dotted_name_resolves(name)]


def test_every_module_path_the_docs_name_exists():
    """Moving or renaming a module must take the README's and the docs' references with it."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    dangling = {page.name: found for page in pages if (found := dangling_references(page.read_text()))}
    assert not dangling, dangling


def test_the_docs_check_sees_a_moved_module_and_a_missing_attribute():
    text = "`pdd_core/apps/runs.py`, `pdd_core.apps.inference.runs.no_such_name`, `pdd_core/apps/inference/runs.py`, `systems/NAME.py`, `tests/test_phi4*.py`"
    assert dangling_references(text) == ["pdd_core/apps/runs.py", "pdd_core.apps.inference.runs.no_such_name"]
