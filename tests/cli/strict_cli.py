"""``telemetry`` mounted in a host bound to the strict test profile, as its own process.

    python tests/cli/strict_cli.py [--cloud] ARGS...

The built-in dbt profile only mirrors dbt, which never reads our user config or system policy;
the tests of those layers' generic rules run against this profile instead: dbt's file names and
variables, the strict reading, every layer read. ``--cloud``: the host's code passes the cloud
edition (as a cloud build would).
"""

from __future__ import annotations

import sys
from dataclasses import replace

from consent import DEFAULT_PROFILE

#: dbt's files and variables, read strictly, under a name of its own (its own config dir).
STRICT_PROFILE = replace(DEFAULT_PROFILE, name="strictapp", reading="strict")
STRICT_APP = STRICT_PROFILE.name

if __name__ == "__main__":
    from telemetry_cli import run

    args = sys.argv[1:]
    cloud = args[:1] == ["--cloud"]
    sys.exit(
        run(args[1:] if cloud else args, profile=STRICT_PROFILE, edition="cloud" if cloud else None)
    )
