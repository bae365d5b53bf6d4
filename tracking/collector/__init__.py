"""A local Snowplow collector for tests, benchmarks and tool authors.

It receives what a Snowplow tracker sends (``POST /com.snowplowanalytics.snowplow/tp2``,
``GET /i``), validates every event and every self-describing JSON in it
against Iglu schemas on disk, and exposes the verdicts through Snowplow
Micro's REST API and shapes (and a page, ``/micro/ui``), counting duplicate
event ids, so a tool's telemetry can be checked end to end without a
network or a JVM.  :mod:`tracking.collector.faults` adds servers that fail on
purpose (refused, black hole, 5xx, slow, broken responses, not TLS).

Names are imported lazily: importing this package costs nothing, and
``python -m tracking.collector.faults`` runs without a double import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..endpoint import TP2_PATH
    from ._net import bind_problem
    from ._runtime import StopSignals
    from .faults import FAULT_KINDS, FaultServer
    from .iglu import (
        SchemaError,
        SchemaKey,
        SchemaNotFound,
        SchemaRegistry,
        default_schema_roots,
    )
    from .server import PIXEL_PATH, Collector, serve_forever
    from .store import DEFAULT_MAX_EVENTS

__all__ = [
    "DEFAULT_MAX_EVENTS",
    "FAULT_KINDS",
    "PIXEL_PATH",
    "TP2_PATH",
    "Collector",
    "FaultServer",
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
    "TP2_PATH": "server",
    "PIXEL_PATH": "server",
    "FaultServer": "faults",
    "FAULT_KINDS": "faults",
    "SchemaRegistry": "iglu",
    "SchemaKey": "iglu",
    "SchemaError": "iglu",
    "SchemaNotFound": "iglu",
    "default_schema_roots": "iglu",
    "DEFAULT_MAX_EVENTS": "store",
    "StopSignals": "_runtime",
    "bind_problem": "_net",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
