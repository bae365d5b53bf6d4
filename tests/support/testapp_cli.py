"""``telemetry`` for the ``testapp`` profile, as its own process (a host's mount of the CLI).

    python -m tests.support.testapp_cli ENDPOINT ARGS...

``ENDPOINT`` is the profile's collector (``none`` for none); ``ARGS`` are the command's.
"""

from __future__ import annotations

import sys

from telemetry_cli import run
from tests.support.tracking import make_profile

#: The module to run with ``python -m`` (``World.env`` carries the PYTHONPATH it needs).
MODULE = "tests.support.testapp_cli"

if __name__ == "__main__":
    endpoint = None if sys.argv[1] == "none" else sys.argv[1]
    sys.exit(run(sys.argv[2:], profile=make_profile(endpoint)))
