"""Fixtures for the tracker's tests (helpers live in tracking_world.py).

Nothing here is autouse: ``tests/tracking/collector/`` belongs to the collector's own suite.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # the helpers next to this file, in any import mode

from tracking_world import TrackingWorld  # noqa: E402


@pytest.fixture
def collector():
    from tracking.collector import Collector

    with Collector() as running:
        yield running


@pytest.fixture
def tracking_world(world, monkeypatch, collector) -> TrackingWorld:
    for name in list(os.environ):
        if name.startswith(("TESTAPP_", "HOST_")):
            monkeypatch.delenv(name)
    world.env = {k: v for k, v in world.env.items() if not k.startswith(("TESTAPP_", "HOST_"))}
    # The host subprocess must import this checkout, whatever the venv's install says.
    repo = str(Path(__file__).resolve().parents[2])
    world.env["PYTHONPATH"] = os.pathsep.join(
        p for p in (repo, world.env.get("PYTHONPATH")) if p)
    return TrackingWorld(world, collector.url)
