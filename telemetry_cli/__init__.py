"""The ``telemetry`` command: the command line on top of ``consent`` and ``tracking``.

It is the only package that imports both: ``consent`` decides and writes the user's choices,
``tracking`` records and delivers events, and this package parses and renders. Hosts mount the
same commands under their own CLI with :func:`telemetry_group` (click) or :func:`run` (any
parser), bound to their profile. Commands, options, exit codes and the JSON contract:
docs/cli.md.
"""

from .app import main, run, telemetry_group

__all__ = ["main", "run", "telemetry_group"]
