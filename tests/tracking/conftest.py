"""Fixtures for the tracker's tests (they live in tracking_world.py, shared with tests/reliability).

Nothing here is autouse: ``tests/tracking/collector/`` belongs to the collector's own suite.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))  # the helpers next to this file, in any import mode

from tracking_world import collector, tracking_world  # noqa: E402,F401 - fixtures
