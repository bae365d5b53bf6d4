"""``telemetry`` mounted in a host bound to the strict test profile, as its own process.

    python -m tests.support.strict_cli [--cloud] ARGS...

The built-in dbt profile only mirrors dbt, which never reads our user config or system policy;
tests of those layers' generic rules run for :data:`~tests.support.world.STRICT_PROFILE`
instead (dbt's file names and variables, the strict reading, every layer read). ``--cloud``: the
host's code passes the cloud edition, as a cloud build would.
"""

from __future__ import annotations

import sys

from telemetry_cli import run
from tests.support.world import STRICT_PROFILE

#: The module to run with ``python -m`` (``World.env`` carries the PYTHONPATH it needs).
MODULE = "tests.support.strict_cli"

if __name__ == "__main__":
    args = sys.argv[1:]
    cloud = args[:1] == ["--cloud"]
    edition = "cloud" if cloud else None
    sys.exit(run(args[1:] if cloud else args, profile=STRICT_PROFILE, edition=edition))
