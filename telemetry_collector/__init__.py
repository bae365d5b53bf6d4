"""A local Snowplow collector for tests, benchmarks and tool authors: its own package, which
the library (``tracking``) never imports; it imports ``tracking``'s schemas and their checks
(:mod:`tracking.schema_check`).

It receives what a Snowplow tracker sends (``POST /com.snowplowanalytics.snowplow/tp2``,
``GET /i``), validates every event and every self-describing JSON in it
against Iglu schemas on disk, and exposes the verdicts through Snowplow
Micro's REST API and shapes (and a page, ``/micro/ui``), counting duplicate
event ids, so a tool's telemetry can be checked end to end without a
network or a JVM.  Run it with ``python -m telemetry_collector`` or ``telemetry collector``.

Names are imported lazily: importing this package costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracking.endpoint import TP2_PATH
    from tracking.schema_check import (
        SchemaError,
        SchemaKey,
        SchemaNotFound,
        SchemaRegistry,
        default_schema_roots,
    )

    from ._net import bind_problem
    from ._runtime import StopSignals
    from .server import PIXEL_PATH, Collector, serve_forever
    from .store import DEFAULT_MAX_EVENTS

__all__ = [
    "DEFAULT_MAX_EVENTS",
    "PIXEL_PATH",
    "TP2_PATH",
    "Collector",
    "SchemaError",
    "SchemaKey",
    "SchemaNotFound",
    "SchemaRegistry",
    "StopSignals",
    "bind_problem",
    "default_schema_roots",
    "serve_forever",
]

_HOMES = {
    "Collector": "server",
    "serve_forever": "server",
    "TP2_PATH": "tracking.endpoint",
    "PIXEL_PATH": "server",
    "SchemaRegistry": "tracking.schema_check",
    "SchemaKey": "tracking.schema_check",
    "SchemaError": "tracking.schema_check",
    "SchemaNotFound": "tracking.schema_check",
    "default_schema_roots": "tracking.schema_check",
    "DEFAULT_MAX_EVENTS": "store",
    "StopSignals": "_runtime",
    "bind_problem": "_net",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = home if "." in home else f"{__name__}.{home}"
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
