"""Turn a tracker request into good and bad events.

Mirrors what Snowplow's pipeline checks, so a tool that passes here will not
produce bad rows in production:

* a POST body must be a self-describing ``payload_data`` JSON; if the batch
  violates it, every event in it is bad (as in Snowplow), each with its own
  reasons where it has some;
* the body must be sent as JSON (``Content-Type: application/json``, as Snowplow's Tp2 adapter
  insists), and parameters in the query string of a POST apply to every event in it;
* a GET pixel's query string is one event, checked against the same schema;
* ``ue_pr`` / ``ue_px`` (JSON / base64url JSON) must be an ``unstruct_event``
  wrapper around a self-describing event, and ``co`` / ``cx`` a ``contexts``
  wrapper around self-describing entities; every one of those is validated
  against its Iglu schema, and an unknown schema makes the event bad;
* every atomic field is converted as Enrich converts it (:mod:`.canonical`): an unknown event
  code or platform, an ``eid`` that is not a UUID, a timestamp that is not milliseconds... make
  the event bad, with a reason naming the parameter and the field.

All reasons are collected, not just the first, so one run shows everything
a tool gets wrong.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from tracking.schema_check import SchemaError, SchemaKey, SchemaRegistry

from .canonical import SNOWPLOW, new_event_id, parse_atomic
from .model import BadEvent, GoodEvent, Outcome, RequestInfo
from .sizes import SHARED_FLOOR, fit_shared, request_bytes
from .strictjson import loads as _loads

__all__ = [
    "JSON_CONTENT_TYPES",
    "PAYLOAD_DATA_URI",
    "RAW_LIMIT",
    "SNOWPLOW",
    "EventChecker",
    "decode_base64url",
]

PAYLOAD_DATA_URI = f"iglu:{SNOWPLOW}/payload_data/jsonschema/1-0-4"
RAW_LIMIT = 64 * 1024  # characters of an unusable body kept on its bad event
_B64_ALPHABET = str.maketrans({"+": "-", "/": "_", " ": "-"})
#: The content types Snowplow's Tp2 adapter accepts for a body (exactly these spellings).
JSON_CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=UTF-8",
)


#: Validated contexts (``cx`` / ``co``) remembered by their raw text: a tracker sends the same
#: contexts with every event of an invocation, so decoding and validating them once is enough.
#: Only contexts without any error are remembered (a schema added while the collector runs must
#: still turn a "schema not found" into good), and the cache is bounded.
_CONTEXTS_CACHE_SIZE = 256


def _clip(text: str) -> str:
    return text if len(text) <= RAW_LIMIT else text[:RAW_LIMIT] + "...[truncated]"


def decode_base64url(value: str) -> bytes:
    """Base64url with or without padding (standard alphabet tolerated, as Snowplow does)."""
    text = value.strip()
    if "+" in text or "/" in text or " " in text:  # translate() costs µs even when a no-op
        text = text.translate(_B64_ALPHABET)
    text = text.rstrip("=")
    text += "=" * (-len(text) % 4)
    return base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _query_params(query: str) -> dict[str, str] | None:
    """The query string's parameters (the first of a repeated name), or None if it has none."""
    pairs = parse_qsl(query, keep_blank_values=True)
    if not pairs:
        return None
    params: dict[str, str] = {}
    for name, value in pairs:
        params.setdefault(name, value)
    return params


class EventChecker:
    """Validates requests against the schemas of a :class:`SchemaRegistry`."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self._contexts_cache: dict[tuple[str, str], tuple[Any, tuple[Any, ...]]] = {}

    # -- requests -------------------------------------------------------------

    def check_post_body(self, body: bytes, info: RequestInfo) -> list[Outcome]:
        """A ``POST /com.snowplowanalytics.snowplow/tp2`` body -> one outcome per event."""
        checked_ms = _now_ms()
        sent_query = info.query
        query = _query_params(sent_query)
        if not body.strip():
            if query is not None:
                return self.check_query(info.query, info)
            reason = "empty request body and no parameters in the query string"
            return [BadEvent(errors=(reason,), info=info)]
        try:
            decoded, problem = body.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            decoded = body.decode("utf-8", errors="replace")
            problem = f"request body is not UTF-8: {exc}"
        text = _clip(decoded)

        def whole(reason: str) -> list[Outcome]:
            return [BadEvent(errors=(reason,), info=info, body=text)]

        if info.content_type not in JSON_CONTENT_TYPES:
            shown = "missing" if info.content_type is None else repr(info.content_type)
            return whole(f"contentType: {shown}, expected one of {', '.join(JSON_CONTENT_TYPES)}")
        if problem is not None:
            return whole(problem)
        try:
            document = _loads(decoded)
        except ValueError as exc:
            return whole(f"request body is not valid JSON: {exc}")
        if not isinstance(document, dict) or set(document) != {"schema", "data"}:
            return whole("request body is not a self-describing JSON {schema, data}")
        try:
            key = SchemaKey.parse(document["schema"])
        except SchemaError as exc:
            return whole(str(exc))
        items = document["data"]
        size = request_bytes(info, len(body))
        if isinstance(items, list) and len(items) > 1:  # the request's parts, shared by each
            info, text = fit_shared(info, text, len(items), size)
        if not key.is_a(SNOWPLOW, "payload_data"):
            reason = f"request body schema is {key.uri}, expected {PAYLOAD_DATA_URI}"
            if isinstance(items, list) and items and all(isinstance(i, dict) for i in items):
                return [BadEvent(errors=(reason,), info=info, params=i, body=text) for i in items]
            return whole(reason)
        batch_errors = self.registry.errors(key.uri, items)
        if not batch_errors:
            sent = len(sent_query)
            if query is not None and 3 * sent * len(items) > max(SHARED_FLOOR, size):
                return whole(
                    f"a query string of {sent} characters on a POST of {len(items)} "
                    "events: it would be repeated on each; send its parameters in the events"
                )
            # Parameters on the query string of a POST apply to every event, and win (Tp2).
            merged = items if query is None else [{**item, **query} for item in items]
            return [
                self.check_event(item, info, body=text, checked_ms=checked_ms) for item in merged
            ]
        if not isinstance(items, list) or not items:
            return whole("; ".join(batch_errors))
        outcomes: list[Outcome] = []
        for item in items:
            own = self.registry.errors(key.uri, [item])
            reasons = own or [
                "rejected with its batch: another event in the request violates payload_data"
            ]
            params = item if isinstance(item, dict) else None
            outcomes.append(BadEvent(errors=tuple(reasons), info=info, params=params, body=text))
        return outcomes

    def check_query(self, query: str, info: RequestInfo) -> list[Outcome]:
        """A ``GET /i?...`` pixel request (or tp2 over GET) -> exactly one outcome."""
        pairs = parse_qsl(query, keep_blank_values=True)
        if not pairs:
            return [BadEvent(errors=("no tracker parameters in the query string",), info=info)]
        params: dict[str, str] = {}
        repeated: list[str] = []
        for name, value in pairs:
            if name in params:
                repeated.append(f"parameter repeated: {name}")
                continue
            params[name] = value
        errors = repeated + self.registry.errors(PAYLOAD_DATA_URI, [params])
        if errors:
            return [BadEvent(errors=tuple(errors), info=info, params=params)]
        return [self.check_event(params, info)]

    # -- one event ------------------------------------------------------------

    def check_event(
        self,
        params: Mapping[str, Any],
        info: RequestInfo,
        *,
        body: str | None = None,
        checked_ms: int | None = None,
    ) -> Outcome:
        """Convert the atomic fields and validate the self-describing parts of one event."""
        fields, errors = parse_atomic(params)
        unstruct = self._decoded(params, "ue_pr", "ue_px", errors)
        known = self._known_contexts(params)
        contexts_doc = self._decoded(params, "co", "cx", errors) if known is None else known[0]
        is_ue = params.get("e") == "ue"

        if unstruct is not None:
            if not is_ue:
                errors.append(f"ue_pr/ue_px present on an e={params.get('e')} event")
            errors.extend(self._check_wrapper(unstruct, "unstruct_event", "ue"))
            inner = unstruct.get("data") if isinstance(unstruct, dict) else None
            if isinstance(inner, dict):
                errors.extend(self._check_self_describing(inner))
        elif is_ue and not any(f"ue_p{x}" in params for x in "rx"):
            errors.append("e=ue event has neither ue_pr nor ue_px")

        entities: Any = []
        if known is not None:
            entities = known[1]
        elif contexts_doc is not None:
            before = len(errors)
            errors.extend(self._check_wrapper(contexts_doc, "contexts", "co/cx"))
            data = contexts_doc.get("data") if isinstance(contexts_doc, dict) else None
            if isinstance(data, list):
                entities = data
                for entity in entities:
                    if isinstance(entity, dict):
                        errors.extend(self._check_self_describing(entity))
            if len(errors) == before:
                self._remember_contexts(params, contexts_doc, tuple(entities))

        if errors:
            return BadEvent(errors=tuple(errors), info=info, params=params, body=body)
        return GoodEvent(
            params=params,
            info=info,
            fields=fields,
            event_id=fields.get("event_id") or new_event_id(),
            checked_ms=_now_ms() if checked_ms is None else checked_ms,
            unstruct_event=unstruct,
            contexts=tuple(entities),
        )

    # -- helpers --------------------------------------------------------------

    @staticmethod
    def _contexts_key(params: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(field, raw text)`` when exactly one of ``cx`` / ``co`` is set, as a string."""
        if "cx" in params:
            if "co" in params:
                return None  # an error to report each time
            raw, field = params["cx"], "cx"
        elif "co" in params:
            raw, field = params["co"], "co"
        else:
            return None
        return (field, raw) if type(raw) is str else None

    def _known_contexts(self, params: Mapping[str, Any]) -> tuple[Any, tuple[Any, ...]] | None:
        """The decoded contexts and their entities, if these exact ones validated before."""
        key = self._contexts_key(params)
        return None if key is None else self._contexts_cache.get(key)

    def _remember_contexts(
        self, params: Mapping[str, Any], doc: Any, entities: tuple[Any, ...]
    ) -> None:
        """Called only for contexts that decoded and validated without a single error."""
        key = self._contexts_key(params)
        if key is None:
            return
        cache = self._contexts_cache
        if len(cache) >= _CONTEXTS_CACHE_SIZE:
            cache.clear()
        cache[key] = (doc, entities)

    @staticmethod
    def _decoded(params: Mapping[str, Any], plain: str, encoded: str, errors: list[str]) -> Any:
        """The JSON in ``plain`` (JSON text) or ``encoded`` (base64url JSON), or None."""
        if plain in params and encoded in params:
            errors.append(f"both {plain} and {encoded} are set")
        if encoded in params:
            try:
                return _loads(decode_base64url(str(params[encoded])).decode("utf-8"))
            except (binascii.Error, UnicodeError) as exc:
                errors.append(f"{encoded}: not valid base64url: {exc}")
            except ValueError as exc:
                errors.append(f"{encoded}: decoded value is not valid JSON: {exc}")
            return None
        if plain in params:
            try:
                return _loads(str(params[plain]))
            except ValueError as exc:
                errors.append(f"{plain}: not valid JSON: {exc}")
        return None

    def _check_wrapper(self, doc: Any, name: str, field: str) -> list[str]:
        """The outer ``unstruct_event`` / ``contexts`` self-describing wrapper."""
        if not isinstance(doc, dict) or set(doc) != {"schema", "data"}:
            return [f"{field}: not a self-describing JSON {{schema, data}}"]
        try:
            key = SchemaKey.parse(doc["schema"])
        except SchemaError as exc:
            return [f"{field}: {exc}"]
        if not key.is_a(SNOWPLOW, name):
            expected = f"iglu:{SNOWPLOW}/{name}/jsonschema/1-0-x"
            return [f"{field}: wrapper schema is {key.uri}, expected {expected}"]
        return self.registry.errors(key.uri, doc["data"])

    def _check_self_describing(self, doc: Mapping[str, Any]) -> list[str]:
        """An inner ``{schema, data}``: its data against its own schema."""
        schema = doc.get("schema")
        if "data" not in doc:
            return [f"self-describing JSON for {schema} has no data"]
        try:
            key = SchemaKey.parse(schema)
        except SchemaError as exc:
            return [str(exc)]
        return self.registry.errors(key.uri, doc["data"])
