"""Fixtures of the reliability, security and privacy suite (issue #6).

Every test here is marked ``reliability`` (``pytest -m reliability`` runs this suite alone).
Worlds are the shared ones (``world``, ``tracking_world``: ``tests/support/world.py``); the
figures the tests measure are printed at the end of the session and written to
``<pytest basetemp>/reliability-figures.{json,md}`` (also to ``$RELIABILITY_FIGURES`` if set).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.reliability import reliability_kit as kit


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
