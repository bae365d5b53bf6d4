"""Send a host tool's anonymous usage statistics through Snowplow, only when consent allows it.

The public API is what ``__all__`` lists. Names are loaded on first use (PEP 562), so
``import tracking`` costs nothing. A host only records (the standard library and our own code:
never pydantic, snowplow_tracker or requests); a detached uploader delivers (docs/delivery.md).
With consent off there is no file, no thread, no process and no socket::

    from tracking import TrackedProfile, Tracker

    PROFILE = TrackedProfile(name="mytool", env_prefix="MYTOOL_",
                             project_files=("mytool_project.yml",),
                             collector_endpoint="https://collector.example.com")
    tracker = Tracker(PROFILE)                  # decides consent; does nothing else when off
    with tracker.invocation("run") as inv:      # start now; end (success, duration) on exit
        inv.model_run(contents=sql, status="success", execution_time_s=0.12,
                      materialization="table")
        inv.count("model")
    tracker.flush(10)                           # optional: wait for delivery (atexit hands over)

``tracking`` imports ``consent`` (to decide), never the command line on top of both.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .catalog import (
        DEFAULT_CATALOG,
        Catalog,
        ContextSpec,
        EventSpec,
        load_catalog,
    )
    from .endpoint import endpoint_for
    from .errors import (
        AnswerBroken,
        CatalogError,
        ConnectFailed,
        EventInvalid,
        StateError,
        TimedOut,
        TrackingError,
        TransportError,
    )
    from .events import (
        InvocationContext,
        InvocationEnd,
        InvocationStart,
        ModelRun,
        PlatformContext,
    )
    from .ids import keyed_hash
    from .profile import DBT_PROFILE, TrackedProfile, tracked
    from .tracker import Invocation, Tracker, TrackerStats

__all__ = [
    "DBT_PROFILE",
    "DEFAULT_CATALOG",
    "AnswerBroken",
    "Catalog",
    "CatalogError",
    "ConnectFailed",
    "ContextSpec",
    "EventInvalid",
    "EventSpec",
    "Invocation",
    "InvocationContext",
    "InvocationEnd",
    "InvocationStart",
    "ModelRun",
    "PlatformContext",
    "StateError",
    "TimedOut",
    "TrackedProfile",
    "Tracker",
    "TrackerStats",
    "TrackingError",
    "TransportError",
    "endpoint_for",
    "keyed_hash",
    "load_catalog",
    "tracked",
]

#: Public name -> the submodule that defines it (every name of ``__all__``).
_HOMES = {
    "DBT_PROFILE": "profile",
    "DEFAULT_CATALOG": "catalog",
    "AnswerBroken": "errors",
    "Catalog": "catalog",
    "CatalogError": "errors",
    "ConnectFailed": "errors",
    "ContextSpec": "catalog",
    "EventInvalid": "errors",
    "EventSpec": "catalog",
    "Invocation": "tracker",
    "InvocationContext": "events",
    "InvocationEnd": "events",
    "InvocationStart": "events",
    "ModelRun": "events",
    "PlatformContext": "events",
    "StateError": "errors",
    "TimedOut": "errors",
    "TrackedProfile": "profile",
    "Tracker": "tracker",
    "TrackerStats": "tracker",
    "TrackingError": "errors",
    "TransportError": "errors",
    "endpoint_for": "endpoint",
    "keyed_hash": "ids",
    "load_catalog": "catalog",
    "tracked": "profile",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'tracking' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
