"""Shared fixtures: one real, isolated world for every suite (``tests/support/world.py``).

``world`` is a temp machine (HOME, XDG dirs, system policy dirs, a project) that this process
lives in for the test; ``tracking_world`` is the same world with the ``testapp`` profile and a
real collector on 127.0.0.1 (``collector``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tracking import make_profile
from tests.support.world import World, make_world

# Hypothesis caches beside the code by default; tests leave the working tree as they found it.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY",
    os.path.join(tempfile.gettempdir(), "telemetry-consent-hypothesis"),
)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return make_world(tmp_path / "world", monkeypatch)


@pytest.fixture
def collector() -> Iterator[object]:
    """A real collector on 127.0.0.1, validating against the Iglu schemas."""
    from tracking.collector import Collector

    with Collector() as running:
        yield running


@pytest.fixture
def tracking_world(world: World, collector) -> World:
    """The isolated ``world`` with the ``testapp`` profile and a live collector."""
    world.collector_url = collector.url
    world.profile = make_profile(collector.url)
    return world
