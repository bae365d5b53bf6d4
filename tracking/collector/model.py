"""What the collector records about each event, and its JSON shape.

The JSON shapes follow Snowplow Micro's REST API closely enough for tests
written against Micro, while always carrying the *raw* tracker parameters,
because the point of this collector is to check exactly what a tool sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Tracker-protocol ``e`` codes -> the event names Micro reports as ``eventType``.
EVENT_TYPES: Mapping[str, str] = {
    "ue": "unstruct",
    "se": "struct",
    "pv": "page_view",
    "pp": "page_ping",
    "tr": "transaction",
    "ti": "transaction_item",
    "ad": "ad_impression",
}


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where an event came from; shared by every event of one request."""

    method: str
    path: str
    headers: Mapping[str, str]
    received_ms: int


@dataclass(frozen=True, slots=True)
class GoodEvent:
    """An event whose payload and every self-describing part validated."""

    params: Mapping[str, Any]
    info: RequestInfo
    unstruct_event: Mapping[str, Any] | None = None
    contexts: tuple[Mapping[str, Any], ...] = ()

    @property
    def schema(self) -> str | None:
        """The inner event schema URI of a self-describing (``e=ue``) event."""
        if self.unstruct_event is None:
            return None
        inner = self.unstruct_event.get("data")
        return inner.get("schema") if isinstance(inner, Mapping) else None

    @property
    def event_type(self) -> str | None:
        code = self.params.get("e")
        return EVENT_TYPES.get(code, code) if isinstance(code, str) else None

    def context_schemas(self) -> list[str]:
        return [c["schema"] for c in self.contexts]

    def to_json(self) -> dict[str, Any]:
        return {
            "event": dict(self.params),
            "eventType": self.event_type,
            "schema": self.schema,
            "unstruct_event": self.unstruct_event,
            "contexts": list(self.contexts),
            "collector_tstamp": self.info.received_ms,
            "method": self.info.method,
            "headers": dict(self.info.headers),
        }


@dataclass(frozen=True, slots=True)
class BadEvent:
    """An event (or a whole request) that failed; ``errors`` is never empty.

    ``params`` holds the raw tracker parameters when they could be read;
    ``raw`` holds the raw body / query string when the request itself was
    unusable (not JSON, not payload_data, too large...).
    """

    errors: tuple[str, ...]
    info: RequestInfo
    params: Mapping[str, Any] | None = None
    raw: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "event": dict(self.params) if self.params is not None else None,
            "raw": self.raw,
            "errors": list(self.errors),
            "collector_tstamp": self.info.received_ms,
            "method": self.info.method,
            "headers": dict(self.info.headers),
        }


Outcome = GoodEvent | BadEvent
