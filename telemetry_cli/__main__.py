"""``python -m telemetry_cli``: the ``telemetry`` command."""

from .app import main

main()
