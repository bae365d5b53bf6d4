"""The Snowplow Micro REST API (``/micro/...``) over an :class:`EventStore`.

Kept apart from the HTTP plumbing so the routes can be read (and tested) as
plain functions: ``(method, path, query, body) -> (status, JSON value)``.

* ``GET /micro/all`` -> ``{"total", "good", "bad"}``
* ``GET|POST /micro/good`` -> list of good events; filters ``schema``,
  ``event_type``, ``contexts`` (all required), ``limit`` as query parameters
  or, for POST, a JSON object body (as Micro accepts them)
* ``GET|POST /micro/bad`` -> list of bad events; filter ``limit``
* ``GET|POST /micro/reset`` -> clears, answers the (zero) totals
* ``GET /micro/iglu/<vendor>/<name>/<format>/<version>`` -> the schema
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from .iglu import SchemaError, SchemaNotFound, SchemaRegistry
from .store import EventStore

Response = tuple[int, Any]


class _BadQuery(ValueError):
    pass


def handle(
    method: str,
    path: str,
    query: str,
    body: bytes,
    store: EventStore,
    registry: SchemaRegistry,
) -> Response | None:
    """Answer a ``/micro/...`` request, or None when *path* is not one."""
    if not path.startswith("/micro/"):
        return None
    route = path.rstrip("/")
    try:
        if route == "/micro/all" and method == "GET":
            return 200, store.totals()
        if route == "/micro/reset" and method in ("GET", "POST"):
            return 200, store.reset()
        if route in ("/micro/good", "/micro/bad") and method in ("GET", "POST"):
            filters = _filters(method, query, body)
            if route == "/micro/bad":
                return 200, store.bad(limit=_limit(filters))
            return 200, store.good(
                schema=_text(filters, "schema"),
                event_type=_text(filters, "event_type"),
                contexts=_contexts(filters),
                limit=_limit(filters),
            )
        if route.startswith("/micro/iglu/") and method == "GET":
            return _schema(route.removeprefix("/micro/iglu/"), registry)
    except _BadQuery as exc:
        return 400, {"error": str(exc)}
    return 404, {"error": f"no route for {method} {path}"}


def _filters(method: str, query: str, body: bytes) -> dict[str, Any]:
    filters: dict[str, Any] = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(query).items()}
    if method == "POST" and body.strip():
        try:
            posted = json.loads(body)
        except ValueError as exc:
            raise _BadQuery(f"filter body is not JSON: {exc}") from exc
        if not isinstance(posted, dict):
            raise _BadQuery("filter body must be a JSON object")
        filters.update(posted)
    return filters


def _text(filters: dict[str, Any], name: str) -> str | None:
    value = filters.get(name)
    if value is None or isinstance(value, str):
        return value
    raise _BadQuery(f"{name} must be a string")


def _contexts(filters: dict[str, Any]) -> list[str]:
    value = filters.get("contexts", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _BadQuery("contexts must be a list of schema URIs")
    return value


def _limit(filters: dict[str, Any]) -> int | None:
    value = filters.get("limit")
    if value is None:
        return None
    try:
        limit = int(value)
    except (TypeError, ValueError) as exc:
        raise _BadQuery("limit must be an integer") from exc
    if limit < 0:
        raise _BadQuery("limit must not be negative")
    return limit


def _schema(rest: str, registry: SchemaRegistry) -> Response:
    try:
        return 200, registry.schema("iglu:" + rest)
    except SchemaNotFound as exc:
        return 404, {"error": str(exc)}
    except SchemaError as exc:
        return 400, {"error": str(exc)}
