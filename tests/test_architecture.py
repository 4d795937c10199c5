"""The house rules no import contract states: every module says what it is, stays
readable in size, and uses no other module's private names (docs/architecture.md).

The floors themselves (no upward import, no circle) are checked by ``lint-imports``
against the contracts in ``pyproject.toml``; this test runs it too when the tool is
installed, so that a broken contract fails ``pytest`` as well as CI.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sim"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 1000


def _name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def test_the_package_has_modules_to_check():
    assert len(MODULES) > 50


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_every_module_opens_with_a_docstring(path):
    assert ast.get_docstring(ast.parse(path.read_text())), f"{_name(path)} has no docstring"


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_is_over_a_thousand_lines(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{_name(path)}: {lines} lines; split it by concept"


def _private_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sim"):
            found += [f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
    return found


def test_the_private_import_check_sees_a_private_import():
    assert _private_imports("from sim.pipeline.figures import _save, draw_figures\n") == [
        "sim.pipeline.figures._save"
    ]
    assert _private_imports("from sim.version import __version__\n") == ["sim.version.__version__"]


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_imports_another_modules_private_names(path):
    # __version__ is the one dunder the package shares on purpose.
    private = [n for n in _private_imports(path.read_text()) if not n.endswith(".__version__")]
    assert not private, f"{_name(path)} imports private names: {private}; make them public"


# Beside this interpreter first: pytest run from a venv that was never activated.
LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
    "lint-imports"
)


def test_the_page_the_app_command_serves_exists():
    from sim.commands.app import PAGE

    assert PAGE.is_file(), PAGE


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter (the dev extra) not installed")
def test_the_import_contracts_hold():
    done = subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
