"""The tracker's tests: ``tracking_world`` and ``collector`` come from ``tests/conftest.py``.

Nothing here is autouse: ``tests/telemetry_collector/`` belongs to the collector's own suite.
"""

from __future__ import annotations

import os


def pytest_collection_modifyitems(config, items):
    """Every test of the tracker (not of the collector) is a delivery test: `.ci/run` runs them
    on each other Python it finds (3.12 cannot start threads in atexit handlers, for one)."""
    here = os.path.dirname(os.path.abspath(__file__))
    collector = os.path.join(here, "collector")
    for item in items:
        path = str(item.path)
        if path.startswith(here + os.sep) and not path.startswith(collector + os.sep):
            item.add_marker("delivery")
