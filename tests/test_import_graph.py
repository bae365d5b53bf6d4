"""Upper layers import lower ones, never the reverse: read from the source, every import counted.

``consent`` decides and writes choices, ``tracking`` sends, ``telemetry_cli`` is the command line
on top of both. An import anywhere in a module counts: at its top, inside a function, under
``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: package -> the packages it must never import.
FORBIDDEN = {
    "consent": ("tracking", "telemetry_cli", "telemetry_collector"),
    # The collector is a development and test server of its own: the library never needs it.
    "tracking": ("telemetry_cli", "telemetry_collector"),
    "telemetry_collector": ("telemetry_cli",),
}


def imported_modules(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in the file at ``path``."""
    package = ".".join(path.relative_to(root).with_suffix("").parts)
    if path.name == "__init__.py":
        package += ".__init__"
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def violations(package: str, forbidden: tuple[str, ...], root: Path = REPO) -> list[str]:
    found = []
    for path in sorted((root / package).rglob("*.py")):
        for line, module in imported_modules(path, root):
            if module.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("package", FORBIDDEN)
def test_no_import_runs_back_up(package):
    assert (REPO / package / "__init__.py").is_file()
    assert violations(package, FORBIDDEN[package]) == []


def test_the_check_sees_every_kind_of_import(tmp_path):
    """The reading is real: absolute, relative and function-level imports are all found."""
    fake = tmp_path / "consent"
    (fake / "sub").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "sub" / "__init__.py").write_text("")
    (fake / "sub" / "mod.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "import tracking.spool\n"
        "from .. import values\n"
        "if TYPE_CHECKING:\n    from telemetry_cli import run\n"
        "def f():\n    from tracking import Tracker\n"
    )
    found = violations("consent", FORBIDDEN["consent"], tmp_path)
    modules = imported_modules(fake / "sub" / "mod.py", tmp_path)
    assert found == [
        "consent/sub/mod.py:2 imports tracking.spool",
        "consent/sub/mod.py:5 imports telemetry_cli",
        "consent/sub/mod.py:7 imports tracking",
    ]
    assert (3, "consent") in modules  # `from .. import values`, resolved from consent/sub/mod.py
