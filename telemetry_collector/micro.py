"""The Snowplow Micro REST API (``/micro/...``) over an :class:`EventStore`.

Kept apart from the HTTP plumbing so the routes can be read (and tested) as plain functions:
``(method, path, query, body) -> Reply``.  Micro 3.x's routes and shapes, with a few extensions
(marked *ext*; the README's compatibility table lists them):

* ``GET|POST /micro/all`` -> ``{"total", "good", "bad"}``, and *ext* ``"duplicates"`` (good
  events whose ``eid`` was already seen) and ``"evicted"`` (events pushed out by the bound)
* ``POST /micro/reset`` (``Content-Type: application/json``) -> clears everything, answers the
  (zero) counts; GET (an ``<img>`` on any page) and form posts are refused by the server
* ``GET /micro/good`` -> every good event, newest first; ``POST`` with a JSON body
  ``{"event_type", "schema", "contexts": [...], "limit"}`` filters (all listed contexts must be
  attached); *ext* ``"duplicates": true|false``, and the same filters as query parameters on GET
* ``GET /micro/bad`` -> every bad event, newest first; ``POST`` ``{"vendor", "version", "limit"}``
* ``GET /micro/iglu/<vendor>/<name>/jsonschema/<version>`` -> a schema the collector knows
* ``GET /micro/ui`` -> the page to look at the events (:file:`ui.html`, self-contained)

An unknown filter is refused (400, naming it) rather than ignored: a typo must not make a test
pass by matching everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from tracking.schema_check import InvalidSchemaUri, SchemaError, SchemaNotFound, SchemaRegistry

from . import strictjson
from .store import EventStore

__all__ = ["BAD_FILTERS", "GOOD_FILTERS", "ROUTES", "Reply", "handle", "json_reply", "ui_page"]

ROUTES = ("/all", "/good", "/bad", "/reset", "/iglu", "/ui")
GOOD_FILTERS = ("event_type", "schema", "contexts", "limit", "duplicates")
BAD_FILTERS = ("vendor", "version", "limit")
#: Micro reads ``limit`` as a Scala ``Int``.
_MAX_LIMIT = 2**31 - 1
_IGLU_FORMAT = "iglu/{vendor}/{schemaName}/jsonschema/{model}-{revision}-{addition}"
#: The page loads nothing from anywhere but the collector itself.
_UI_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, payload: Any) -> Reply:
    """*payload* as JSON. A lone surrogate (``"\\ud800"`` in a tracker's JSON decodes to one)
    cannot be UTF-8: it is written as the same escape, so one such event cannot make every
    listing fail."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return Reply(status, text.encode("utf-8", "backslashreplace"))


class _BadQuery(ValueError):
    pass


def handle(
    method: str,
    path: str,
    query: str,
    body: bytes,
    store: EventStore,
    registry: SchemaRegistry,
) -> Reply | None:
    """Answer a ``/micro/...`` request, or None when *path* is not one."""
    if path != "/micro" and not path.startswith("/micro/"):
        return None
    route = path.removeprefix("/micro").rstrip("/")
    try:
        if route == "/all" and method in ("GET", "POST"):
            return json_reply(200, store.totals())
        if route == "/reset" and method in ("GET", "POST"):
            return json_reply(200, store.reset())
        if route == "/good" and method in ("GET", "POST"):
            filters = _filters(method, query, body, GOOD_FILTERS, route)
            return json_reply(
                200,
                store.good(
                    schema=_text(filters, "schema"),
                    event_type=_text(filters, "event_type"),
                    contexts=_contexts(filters),
                    duplicates=_flag(filters, "duplicates"),
                    limit=_limit(filters),
                ),
            )
        if route == "/bad" and method in ("GET", "POST"):
            filters = _filters(method, query, body, BAD_FILTERS, route)
            return json_reply(
                200,
                store.bad(
                    vendor=_text(filters, "vendor"),
                    version=_text(filters, "version"),
                    limit=_limit(filters),
                ),
            )
        if (route == "/iglu" or route.startswith("/iglu/")) and method == "GET":
            return _schema(route.removeprefix("/iglu").strip("/"), registry)
        if route == "/ui" and method == "GET":
            return Reply(
                200,
                ui_page(),
                "text/html; charset=utf-8",
                {"Content-Security-Policy": _UI_POLICY, "Cache-Control": "no-store"},
            )
    except _BadQuery as exc:
        return json_reply(400, {"error": str(exc)})
    known = " ".join(ROUTES)
    return json_reply(
        404, {"error": f"no route for {method} {path}; Path for micro has to be one of: {known}"}
    )


@cache
def ui_page() -> bytes:
    """The page, read once from the package."""
    return resources.files(__package__).joinpath("ui.html").read_bytes()


def _filters(
    method: str, query: str, body: bytes, known: tuple[str, ...], route: str
) -> dict[str, Any]:
    filters: dict[str, Any] = {
        k: v if len(v) > 1 or k == "contexts" else v[0]
        for k, v in parse_qs(query, keep_blank_values=True).items()
    }
    if method == "POST" and body.strip():
        try:
            posted = strictjson.loads(body)
        except ValueError as exc:
            raise _BadQuery(f"filter body is not JSON: {exc}") from exc
        if not isinstance(posted, dict):
            raise _BadQuery("filter body must be a JSON object")
        filters.update(posted)
    unknown = sorted(set(filters) - set(known))
    if unknown:
        raise _BadQuery(
            f"unknown filter {unknown[0]!r} for /micro{route}; the filters are: {', '.join(known)}"
        )
    return filters


def _text(filters: dict[str, Any], name: str) -> str | None:
    value = filters.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _BadQuery(f"{name} must be a string")


def _contexts(filters: dict[str, Any]) -> list[str]:
    value = filters.get("contexts")
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _BadQuery("contexts must be a list of schema URIs")
    return value


def _flag(filters: dict[str, Any], name: str) -> bool | None:
    value = filters.get(name)
    if value is None or isinstance(value, bool):
        return value
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise _BadQuery(f"{name} must be true or false")


def _limit(filters: dict[str, Any]) -> int | None:
    value = filters.get("limit")
    if value is None:
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise _BadQuery("limit must be an integer")
    if isinstance(value, str) and not (value.strip().isascii() and len(value) <= 20):
        raise _BadQuery("limit must be an integer")
    try:
        limit = int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _BadQuery("limit must be an integer") from exc
    if limit < 0:
        raise _BadQuery("limit must not be negative")
    if limit > _MAX_LIMIT:
        raise _BadQuery(f"limit must be at most {_MAX_LIMIT}")
    return limit


def _schema(rest: str, registry: SchemaRegistry) -> Reply:
    wrong_format = json_reply(404, {"error": f"Schema lookup should be in format {_IGLU_FORMAT}"})
    parts = rest.split("/")
    if len(parts) != 4 or parts[2] != "jsonschema":
        return wrong_format
    try:
        return json_reply(200, registry.schema("iglu:" + rest))
    except InvalidSchemaUri:
        return wrong_format
    except SchemaNotFound as exc:
        return json_reply(404, {"error": str(exc)})
    except SchemaError as exc:
        return json_reply(400, {"error": str(exc)})
