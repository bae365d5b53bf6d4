"""Fixtures for the tracker's tests (they live in tracking_world.py, shared with tests/reliability).

Nothing here is autouse: ``tests/tracking/collector/`` belongs to the collector's own suite.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the helpers next to this file, in any import mode

from tracking_world import collector, tracking_world  # noqa: E402,F401 - fixtures


def pytest_collection_modifyitems(config, items):
    """Every test of the tracker (not of the collector) is a delivery test: `.ci/run` runs them
    on each other Python it finds (3.12 cannot start threads in atexit handlers, for one)."""
    here = os.path.dirname(os.path.abspath(__file__))
    collector = os.path.join(here, "collector")
    for item in items:
        path = str(item.path)
        if path.startswith(here + os.sep) and not path.startswith(collector + os.sep):
            item.add_marker("delivery")
