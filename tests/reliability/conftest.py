"""Fixtures of the reliability, security and privacy suite (issue #6).

Every test here is marked ``reliability`` (``pytest -m reliability`` runs this suite alone).
Worlds are built by the other suites' helpers, imported from their directories; the figures the
tests measure are printed at the end of the session and written to
``<pytest basetemp>/reliability-figures.{json,md}`` (also to ``$RELIABILITY_FIGURES`` if set).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parents[1]
for _helpers in (_TESTS / "reliability", _TESTS / "tracking", _TESTS / "cli"):
    if str(_helpers) not in sys.path:
        sys.path.insert(0, str(_helpers))

import reliability_kit as kit
from cli_world import World as CliWorld
from tracking_world import TrackingWorld, collector, tracking_world  # noqa: F401 - fixtures


@pytest.fixture
def cli_world(tmp_path: Path) -> CliWorld:
    """tests/cli/cli_world.py's world: a HOME with a project, the CLI run as a user runs it."""
    return CliWorld(tmp_path / "cli")


@pytest.fixture(scope="session", autouse=True)
def _figures_file(tmp_path_factory):
    yield
    if not kit.FIGURES:
        return
    base = tmp_path_factory.getbasetemp()
    (base / "reliability-figures.json").write_text(kit.figures_json())
    (base / "reliability-figures.md").write_text(kit.figures_table() + "\n")
    extra = os.environ.get("RELIABILITY_FIGURES")
    if extra:
        Path(extra).write_text(kit.figures_json())


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not kit.FIGURES:
        return
    terminalreporter.section("reliability figures (measured on this machine)")
    for line in kit.figures_table().splitlines():
        terminalreporter.write_line(line)
