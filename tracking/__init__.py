"""Send a host tool's anonymous usage statistics through Snowplow, only when consent allows it.

The public API is what ``__all__`` lists. Names are loaded on first use (PEP 562), so
``import tracking`` costs nothing. A host only records (the standard library and our own code:
never pydantic, snowplow_tracker or requests); a detached uploader delivers (docs/delivery.md).
With consent off there is no file, no thread, no process and no socket::

    from tracking import Tracker

    tracker = Tracker(profile)                  # decides consent; does nothing else when off
    with tracker.invocation("run") as inv:      # start now; end (success, duration) on exit
        inv.model_run(contents=sql, status="success", execution_time_s=0.12,
                      materialization="table")
        inv.count("model")
    tracker.flush(10)                           # optional: wait for delivery (atexit hands over)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .catalog import (
        DEFAULT_CATALOG,
        Catalog,
        CatalogError,
        ContextSpec,
        EventInvalid,
        EventSpec,
        load_catalog,
    )
    from .endpoint import endpoint_for
    from .events import (
        InvocationContext,
        InvocationEnd,
        InvocationStart,
        ModelRun,
        PlatformContext,
    )
    from .ids import keyed_hash
    from .tracker import Invocation, Tracker, TrackerStats

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "Tracker": "tracker",
    "Invocation": "tracker",
    "TrackerStats": "tracker",
    "Catalog": "catalog",
    "EventSpec": "catalog",
    "ContextSpec": "catalog",
    "CatalogError": "catalog",
    "EventInvalid": "catalog",
    "DEFAULT_CATALOG": "catalog",
    "load_catalog": "catalog",
    "InvocationStart": "events",
    "InvocationEnd": "events",
    "ModelRun": "events",
    "PlatformContext": "events",
    "InvocationContext": "events",
    "endpoint_for": "endpoint",
    "keyed_hash": "ids",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tracking' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
