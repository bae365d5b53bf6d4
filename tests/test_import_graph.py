"""Upper layers import lower ones, never the reverse: read from the source, every import counted.

``consent`` decides and writes choices, ``tracking`` sends, ``telemetry_cli`` is the command line
on top of both. An import anywhere in a module counts: at its top, inside a function, under
``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
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


def _imports(path: Path, root: Path) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """``(line, absolute module name, names imported from it)`` of every import in the file at
    ``path`` (``import a.b`` imports no names)."""
    # ``pkg/__init__.py`` is ``pkg.__init__`` here, so that ``.`` strips one part to ``pkg``.
    package = ".".join(path.relative_to(root).with_suffix("").parts)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: -node.level]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name, tuple(alias.name for alias in node.names)


def imported_modules(path: Path, root: Path = REPO) -> list[tuple[int, str]]:
    """``(line, absolute module name)`` of every import in the file at ``path``."""
    return [(line, name) for line, name, _ in _imports(path, root)]


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


# -- inside consent: imports run one way ---------------------------------------------------------
def module_names(package: str, root: Path = REPO) -> dict[str, Path]:
    """Every module of ``package`` by its dotted name (a package by its own name)."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        found[".".join(parts[:-1] if path.name == "__init__.py" else parts)] = path
    return found


def internal_imports(path: Path, modules: dict[str, Path], root: Path = REPO) -> set[str]:
    """The modules of the same package that the file at ``path`` imports, wherever the import is.

    ``from .x import y`` names the module ``x.y`` when that is a module, else ``x``. A package's
    own ``__init__`` is not counted for its submodules: that is Python's doing, not the code's."""
    out: set[str] = set()
    for _, name, names in _imports(path, root):
        submodules = [f"{name}.{alias}" for alias in names if f"{name}.{alias}" in modules]
        out.update(submodules or [name])
    return {name for name in out if name in modules}


def import_graph(package: str, root: Path = REPO) -> dict[str, set[str]]:
    """``module -> the modules of package it imports`` (itself excluded)."""
    modules = module_names(package, root)
    return {name: internal_imports(path, modules, root) - {name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other round a circle (Tarjan's strongly connected
    components of more than one module), each as its sorted modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def test_the_cycle_check_finds_a_planted_circle(tmp_path):
    """A circle through a function-level and a TYPE_CHECKING import, and a package's
    ``__init__``, is found; a one-way chain beside it is not."""
    fake = tmp_path / "pkg"
    (fake / "sub").mkdir(parents=True)
    (fake / "__init__.py").write_text("from .sub import low\n")
    (fake / "sub" / "__init__.py").write_text("from .low import thing\n")
    (fake / "model.py").write_text("X = 1\n")
    (fake / "top.py").write_text("from .model import X\nfrom . import helper\n")
    (fake / "helper.py").write_text("import pkg.model\n")
    (fake / "sub" / "low.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..top import X\n"
        "def thing():\n    pass\n"
    )
    (fake / "back.py").write_text("def f():\n    from .sub import thing\n")
    (fake / "sub" / "mid.py").write_text("def g():\n    from ..back import f\n")
    graph = import_graph("pkg", tmp_path)
    assert graph["pkg.top"] == {"pkg.model", "pkg.helper"}
    assert graph["pkg.helper"] == {"pkg.model"}
    assert cycles(graph) == []

    (fake / "sub" / "low.py").write_text("def thing():\n    from ..sub.mid import g\n")
    assert cycles(import_graph("pkg", tmp_path)) == [
        ["pkg.back", "pkg.sub", "pkg.sub.low", "pkg.sub.mid"]
    ]


def test_consent_has_no_import_circle():
    """Issue 19: layers → readings → helpers → model, and nothing back up. A circle here held
    only by function-level imports is still a circle: each end has to know the other."""
    assert cycles(import_graph("consent")) == []


def test_the_model_imports_nothing_of_consent():
    """Everything may import the model, so it imports nothing of consent itself."""
    assert import_graph("consent")["consent._model"] == set()


def test_readings_import_no_layer():
    """The layers ask the profile's reading; a reading never asks a layer."""
    graph = import_graph("consent")
    assert {
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module.startswith("consent.readings")
        for target in targets
        if target == "consent.layers" or target.startswith("consent.layers.")
    } == set()
