"""What the collector records about each event, and its JSON shape: Snowplow Micro's.

``GET /micro/good`` entries are Micro 3.x's ``GoodEvent``
``{rawEvent, eventType, schema, contexts, event, incomplete}`` and ``GET /micro/bad`` entries its
``BadEvent`` ``{collectorPayload, rawEvent, errors}``.  ``rawEvent`` is Enrich's ``RawEvent`` (the
event's tracker parameters as received, and where they came from), ``collectorPayload`` is the
whole request, and ``event`` is the canonical event (:mod:`.canonical`).  Entries are built when
they are read, so the store keeps only what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Any
from urllib.parse import parse_qsl

from .canonical import SNOWPLOW, canonical_event, event_schema, iso

__all__ = [
    "PIXEL_PATHS",
    "SNOWPLOW",
    "BadEvent",
    "GoodEvent",
    "Outcome",
    "RequestInfo",
    "source_name",
]

#: Legacy pixel paths that Snowplow's collector files under the ``tp1`` API.
PIXEL_PATHS = ("/i", "/ice.png")


@cache
def source_name() -> str:
    """The collector's name and version, as Snowplow's collector reports its own (``source.name``,
    and so the canonical ``v_collector`` and ``v_etl``)."""
    try:
        version = metadata.version("telemetry-consent")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"telemetry-consent-collector-{version}"


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """Where an event came from; shared by every event of one request."""

    method: str
    path: str
    #: Header names in lower case -> value, for look-ups.
    headers: Mapping[str, str]
    received_ms: int
    #: The headers as received (``Name: value``), for ``rawEvent.context.headers``.
    header_lines: tuple[str, ...] = ()
    #: The query string, undecoded.
    query: str = ""
    ip_address: str | None = None
    #: The host the client addressed (the ``Host`` header without its port).
    hostname: str | None = None
    #: The ``sp`` cookie when it holds a UUID (a browser's network user id), else None.
    network_userid: str | None = None

    @property
    def api(self) -> dict[str, str]:
        """``{vendor, version}`` from the path, as Snowplow's collector reads it."""
        if self.path in PIXEL_PATHS:
            return {"vendor": SNOWPLOW, "version": "tp1"}
        vendor, _, version = self.path.strip("/").partition("/")
        return {"vendor": vendor, "version": version}

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    def source(self) -> dict[str, Any]:
        return {"name": source_name(), "encoding": "UTF-8", "hostname": self.hostname}

    def context(self) -> dict[str, Any]:
        return {
            "timestamp": iso(self.received_ms),
            "ipAddress": self.ip_address,
            "useragent": self.headers.get("user-agent"),
            "refererUri": self.headers.get("referer"),
            "headers": list(self.header_lines),
            "userId": self.network_userid,
        }

    def raw_event(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Enrich's ``RawEvent`` for one event of this request."""
        return {
            "api": self.api,
            "parameters": {k: v if isinstance(v, str) else _json(v) for k, v in params.items()},
            "contentType": self.content_type,
            "source": self.source(),
            "context": self.context(),
        }


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class GoodEvent:
    """An event whose payload, atomic fields and every self-describing part validated."""

    params: Mapping[str, Any]
    info: RequestInfo
    #: The atomic fields its parameters set (:func:`.canonical.parse_atomic`).
    fields: Mapping[str, Any]
    #: ``eid`` as sent (lower case), or the one given to an event that came without.
    event_id: str
    #: When the collector checked it (the canonical ``etl_tstamp``).
    checked_ms: int
    unstruct_event: Mapping[str, Any] | None = None
    contexts: tuple[Mapping[str, Any], ...] = ()

    @property
    def event_type(self) -> str | None:
        """The canonical event type (``unstruct``, ``struct``, ``page_view``...)."""
        value = self.fields.get("event")
        return value if isinstance(value, str) else None

    @property
    def schema(self) -> str | None:
        """The event's schema: a self-describing event's own, or a built-in event's."""
        return event_schema(self.event_type, self.unstruct_event)

    def context_schemas(self) -> list[str]:
        return [c["schema"] for c in self.contexts]

    def to_json(self) -> dict[str, Any]:
        info = self.info
        return {
            "rawEvent": info.raw_event(self.params),
            "eventType": self.event_type,
            "schema": self.schema,
            "contexts": self.context_schemas(),
            "event": canonical_event(
                self.fields,
                event_id=self.event_id,
                collector_ms=info.received_ms,
                etl_ms=self.checked_ms,
                source_name=source_name(),
                ip_address=info.ip_address,
                useragent=info.headers.get("user-agent"),
                network_userid=info.network_userid,
                unstruct=self.unstruct_event,
                contexts=list(self.contexts),
            ),
            "incomplete": False,
        }


@dataclass(frozen=True, slots=True)
class BadEvent:
    """An event (or a whole request) that failed; ``errors`` is never empty.

    ``params`` holds the event's tracker parameters when they could be read (then the entry has
    a ``rawEvent``); ``body`` holds the request body (clipped), shared by the request's events.
    """

    errors: tuple[str, ...]
    info: RequestInfo
    params: Mapping[str, Any] | None = None
    body: str | None = None

    def to_json(self) -> dict[str, Any]:
        info = self.info
        return {
            "collectorPayload": {
                "api": info.api,
                "querystring": _name_value_pairs(info.query),
                "contentType": info.content_type,
                "body": self.body,
                "source": info.source(),
                "context": info.context(),
            },
            "rawEvent": info.raw_event(self.params) if self.params is not None else None,
            "errors": list(self.errors),
        }


def _name_value_pairs(query: str) -> list[str]:
    """``name=value`` strings, decoded, as Micro prints a collector payload's query string."""
    return [f"{name}={value}" for name, value in parse_qsl(query, keep_blank_values=True)]


Outcome = GoodEvent | BadEvent
