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
from tests.support.world import STRICT_PROFILE, World, make_world

# Hypothesis caches beside the code by default; tests leave the working tree as they found it.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY",
    os.path.join(tempfile.gettempdir(), "telemetry-consent-hypothesis"),
)


#: The apps the tests decide for. Their policy at the platform's fixed location is read whatever
#: the environment says (docs/decision.md), so a real one on this machine would decide for them.
_TEST_APPS = ("dbt", STRICT_PROFILE.name, "testapp", "fakeapp", "mytool", "jaffle")


def pytest_sessionstart(session: pytest.Session) -> None:
    from consent.system_location import fixed_config_dir

    for app in _TEST_APPS:
        where = fixed_config_dir(app)
        policy = os.path.join(where, "telemetry-policy.toml") if where else None
        if policy and os.path.lexists(policy):
            pytest.exit(
                f"{policy} exists on this machine: an administrator's policy at the fixed "
                "location decides for every run, tests included. Run the suite where it does "
                "not exist (a container), or move it away while the tests run",
                returncode=4,
            )


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return make_world(tmp_path / "world", monkeypatch)


@pytest.fixture
def strict_world(world: World) -> World:
    """The same world, for :data:`~tests.support.world.STRICT_PROFILE` (which reads every
    layer): dbt never reads our user config or system policy, so the built-in profile only shows
    them."""
    world.profile = STRICT_PROFILE
    return world


@pytest.fixture
def collector() -> Iterator[object]:
    """A real collector on 127.0.0.1, validating against the Iglu schemas."""
    from telemetry_collector import Collector

    with Collector() as running:
        yield running


@pytest.fixture
def tracking_world(world: World, collector) -> World:
    """The isolated ``world`` with the ``testapp`` profile and a live collector."""
    world.collector_url = collector.url
    world.profile = make_profile(collector.url)
    return world
