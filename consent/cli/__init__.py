"""The ``telemetry`` command: it parses and renders; every decision is made in ``consent``.

Hosts mount the same commands under their own CLI with :func:`telemetry_group` (click) or
:func:`run` (any parser), bound to their profile.
"""

from .app import main, run, telemetry_group

__all__ = ["main", "run", "telemetry_group"]
